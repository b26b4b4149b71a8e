//! Day counts and date arithmetic that cannot overflow: every count of days Depot accepts is
//! bounded at input, and every date it computes is checked.

use time::Date;

/// The longest span Depot accepts for a count of days (shelf lives, horizons): a century.
pub const MAX_DAYS: i64 = 36_500;

/// The longest lead time Depot accepts for making or buying an item: ten years.
pub const MAX_LEAD_TIME_DAYS: i64 = 3_650;

/// `date` plus `days` (which may be negative); `None` when the result is outside the calendar
/// `time` can represent.
pub fn add(date: Date, days: i64) -> Option<Date> {
    let seconds = days.checked_mul(86_400)?;
    date.checked_add(time::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn adding_any_count_of_days_never_panics() {
        let d = date!(2026 - 12 - 02);
        assert_eq!(add(d, 30), Some(date!(2027 - 01 - 01)));
        assert_eq!(add(d, -2), Some(date!(2026 - 11 - 30)));
        assert_eq!(add(d, i64::MAX), None);
        assert_eq!(add(d, i64::MIN), None);
        assert_eq!(add(d, 100_000_000), None);
    }
}
