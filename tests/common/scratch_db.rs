//! A scratch database for one test: a SQLite file in a temp folder, or a PostgreSQL database
//! created on the server at `DEPOT_TEST_POSTGRES_URL` (default: the local `test` database).
//! Dropping it removes the folder or drops the database.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where the PostgreSQL tests connect to create and drop their own databases.
pub fn postgres_admin_url() -> String {
    std::env::var("DEPOT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "depot_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    )
}

pub async fn connect_pg(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    match sqlx::PgConnection::connect(url).await {
        Ok(c) => c,
        Err(e) => {
            panic!("PostgreSQL tests need a server at {url} (set DEPOT_TEST_POSTGRES_URL): {e}")
        }
    }
}

enum Kind {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

pub struct ScratchDb {
    /// Database URL to give Depot.
    pub url: String,
    kind: Kind,
}

impl ScratchDb {
    pub fn sqlite() -> ScratchDb {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDb {
            url: format!("sqlite://{}", dir.join("depot.db").display()),
            kind: Kind::Sqlite(dir),
        }
    }

    pub async fn postgres() -> ScratchDb {
        let admin = postgres_admin_url();
        let name = unique_name();
        let mut conn = connect_pg(&admin).await;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("DEPOT_TEST_POSTGRES_URL needs a database path"),
        };
        ScratchDb {
            url,
            kind: Kind::Postgres(name),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Kind::Postgres(name) => {
                let name = name.clone();
                let url = postgres_admin_url();
                // Drop runs inside the test's runtime; do the async clean-up on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let mut conn = connect_pg(&url).await;
                        let _ =
                            sqlx::query(&format!("drop database if exists {name} with (force)"))
                                .execute(&mut conn)
                                .await;
                    });
                })
                .join();
            }
        }
    }
}
