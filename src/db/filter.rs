//! Dynamically built SQL: `and`-ed filters with numbered placeholders, and the values to bind.
//! Building the WHERE clause from the filters actually given (rather than
//! `($1 is null or col = $1)`) lets both databases use the matching index.

use time::{Date, OffsetDateTime};

/// A value bound to a dynamically built statement.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Time(OffsetDateTime),
    OptTime(Option<OffsetDateTime>),
    Date(Date),
}

/// `and`-ed conditions with `$n` placeholders numbered as they are added.
#[derive(Debug, Default)]
pub struct Where {
    pub clauses: Vec<String>,
    pub args: Vec<Arg>,
}

impl Where {
    /// Adds a condition whose `$?` is the next placeholder.
    pub fn add(&mut self, sql: &str, arg: Arg) {
        self.args.push(arg);
        self.clauses
            .push(sql.replace("$?", &format!("${}", self.args.len())));
    }

    pub fn int(&mut self, sql: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.add(sql, Arg::Int(v));
        }
    }

    pub fn text(&mut self, sql: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.add(sql, Arg::Text(v.to_string()));
        }
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "true".into()
        } else {
            self.clauses.join(" and ")
        }
    }

    /// The number of the next placeholder (for a `limit` after the conditions).
    pub fn next(&self) -> usize {
        self.args.len() + 1
    }
}

/// Binds every [`Arg`] of a slice to a sqlx query, in order.
#[macro_export]
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::db::Arg::Int(v) => q.bind(*v),
                $crate::db::Arg::OptInt(v) => q.bind(*v),
                $crate::db::Arg::Text(v) => q.bind(v.clone()),
                $crate::db::Arg::OptText(v) => q.bind(v.clone()),
                $crate::db::Arg::Time(v) => q.bind(*v),
                $crate::db::Arg::OptTime(v) => q.bind(*v),
                $crate::db::Arg::Date(v) => q.bind(*v),
            };
        }
        q
    }};
}
