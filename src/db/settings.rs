//! Key/value settings the service keeps for itself (for example its generated JWT secret).

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{in_tx, on_read, on_tx};

pub async fn get_setting(db: &Db, key: &str) -> Result<Option<String>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, String>("select value from settings where key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?
    }))
}

/// Stores `value` unless the key already has one, and returns the value that won; several
/// instances starting at once agree on one.
pub async fn put_setting_once(db: &Db, key: &str, value: &str) -> Result<String> {
    Ok(in_tx!(db, tx => {
        sqlx::query("insert into settings (key, value) values ($1, $2) on conflict (key) do nothing")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        sqlx::query_scalar::<_, String>("select value from settings where key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?
    }))
}

/// Takes the turn named `key` in the caller's transaction: a row lock on PostgreSQL (SQLite has
/// one writer anyway) that other takers of the same key wait for until the transaction ends.
/// For rules over several rows that conditional updates alone cannot hold (write skew).
pub async fn take_turn(tx: &mut Tx, key: &str) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "insert into settings (key, value) values ($1, '')
             on conflict (key) do update set value = excluded.value",
        )
        .bind(key)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}
