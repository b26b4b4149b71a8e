//! The one error type of the domain layer. It carries no HTTP status: `api::problem` maps it.

use std::fmt;

/// One offending input field and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field, for example `lines[2].quantity`.
    pub field: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input was understood but is not acceptable.
    #[error("validation failed: {}", describe(.0))]
    Validation(Vec<FieldError>),
    /// A referenced or addressed record does not exist (or is not visible to the caller).
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    /// The request collides with existing state (duplicate code, wrong status, ...).
    #[error("{detail}")]
    Conflict {
        field: Option<String>,
        detail: String,
    },
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many failed logins from this client; it may try again after the wait.
    #[error("too many failed login attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Barcode data that claims to be GS1 and breaks its rules: which AI, where, what.
    #[error("{field}: {message}")]
    InvalidBarcode {
        field: String,
        ai: Option<String>,
        position: usize,
        message: String,
    },
    /// The database is momentarily unable to serve (pool exhausted, locked).
    #[error("database busy")]
    Busy,
    /// The database cannot be reached or cannot write now: a restart, a failover, a standby
    /// not yet promoted. Nothing was applied; the same request may be sent again.
    #[error("database unavailable")]
    Unavailable,
    #[error(transparent)]
    Database(sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }])
    }

    pub fn not_found(resource: &'static str, id: impl fmt::Display) -> Self {
        Error::NotFound {
            resource,
            id: id.to_string(),
        }
    }

    pub fn conflict(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Conflict {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// A record a request refers to does not exist: the caller's mistake on `field` (422). Any
    /// other failure (the database being down) stays what it is.
    pub fn missing_as_invalid(self, field: impl Into<String>, reason: impl Into<String>) -> Self {
        match self {
            Error::NotFound { .. } => Error::invalid(field, reason),
            other => other,
        }
    }

    /// A conditional change found the row changed meanwhile: a conflict on `field`. Any other
    /// failure stays what it is.
    pub fn changed_as_conflict(self, field: &str, detail: impl Into<String>) -> Self {
        match self {
            Error::Conflict { .. } => Error::conflict(field, detail),
            other => other,
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Error::Forbidden(detail.into())
    }

    /// Names the field behind a unique-constraint violation, which the database cannot tell us
    /// portably (SQLite reports no constraint name).
    pub fn on_unique(self, field: &str, detail: &str) -> Self {
        match self {
            Error::Conflict { field: None, .. } => Error::conflict(field, detail),
            other => other,
        }
    }

    /// Puts the fields of a validation or barcode error under `prefix` (`contents[2]` makes
    /// `scan` into `contents[2].scan`), for input checked one element of a list at a time.
    pub fn within(self, prefix: &str) -> Self {
        let nest = |field: &str| {
            if field.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{field}")
            }
        };
        match self {
            Error::Validation(v) => Error::Validation(
                v.into_iter()
                    .map(|f| FieldError {
                        field: nest(&f.field),
                        reason: f.reason,
                    })
                    .collect(),
            ),
            Error::InvalidBarcode {
                field,
                ai,
                position,
                message,
            } => Error::InvalidBarcode {
                field: nest(&field),
                ai,
                position,
                message,
            },
            other => other,
        }
    }

    /// Names the field behind a foreign-key violation.
    pub fn on_reference(self, field: &str, reason: &str) -> Self {
        match self {
            Error::Validation(v) if v.len() == 1 && v[0].field.is_empty() => {
                Error::invalid(field, reason)
            }
            other => other,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::RowNotFound => Error::not_found("record", "?"),
            sqlx::Error::PoolTimedOut => Error::Busy,
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Error::Unavailable
            }
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => Error::Conflict {
                    field: None,
                    detail: "a record with the same unique value already exists".into(),
                },
                ErrorKind::ForeignKeyViolation => Error::Validation(vec![FieldError {
                    field: String::new(),
                    reason: "refers to a record that does not exist".into(),
                }]),
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    Error::Validation(vec![FieldError {
                        field: String::new(),
                        reason: db.message().to_string(),
                    }])
                }
                // SQLITE_BUSY / SQLITE_LOCKED, PostgreSQL serialization failure or deadlock.
                _ if matches!(db.code().as_deref(), Some("5" | "6" | "40001" | "40P01")) => {
                    Error::Busy
                }
                // PostgreSQL shutting down or starting (57P01-57P03), a lost connection (08…),
                // or a read-only standby asked to write (25006): during a failover.
                _ if db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "25006")
                }) =>
                {
                    Error::Unavailable
                }
                _ => Error::Database(err),
            },
            _ => Error::Database(err),
        }
    }
}

/// Collects field errors so a request reports every problem at once, not only the first.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub fn check(&mut self, ok: bool, field: &str, reason: &str) {
        if !ok {
            self.fail(field, reason);
        }
    }

    /// Text that must be present: not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else {
            self.max_len(field, value, max);
        }
    }

    pub fn max_len(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.max_len(field, v, max);
        }
    }

    pub fn positive(&mut self, field: &str, value: i64) {
        if value <= 0 {
            self.fail(field, "must be greater than zero");
        }
    }

    pub fn non_negative(&mut self, field: &str, value: Option<i64>) {
        if matches!(value, Some(v) if v < 0) {
            self.fail(field, "must not be negative");
        }
    }

    /// A count of days, when given: 0 to [`crate::days::MAX_DAYS`].
    pub fn days(&mut self, field: &str, value: Option<i64>) {
        self.days_up_to(field, value, crate::days::MAX_DAYS);
    }

    /// A count of days, when given: 0 to `max`.
    pub fn days_up_to(&mut self, field: &str, value: Option<i64>, max: i64) {
        match value {
            Some(v) if v < 0 => self.fail(field, "must not be negative"),
            Some(v) if v > max => self.fail(field, format!("must be at most {max} days")),
            _ => {}
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}
