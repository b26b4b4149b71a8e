//! Helpers for PATCH bodies, where "absent" (leave alone) differs from `null` (clear).

use serde::{Deserialize, Deserializer};

/// Use with `#[serde(default, deserialize_with = "crate::patch::nullable")]` on an
/// `Option<Option<T>>`: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Trims and turns blank text into `None`.
pub fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::nullable")]
        manager_id: Option<Option<i64>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let absent: Body = serde_json::from_str("{}").unwrap();
        let null: Body = serde_json::from_str(r#"{"manager_id":null}"#).unwrap();
        let value: Body = serde_json::from_str(r#"{"manager_id":4}"#).unwrap();
        assert_eq!(absent.manager_id, None);
        assert_eq!(null.manager_id, Some(None));
        assert_eq!(value.manager_id, Some(Some(4)));
    }
}
