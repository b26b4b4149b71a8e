//! A benchmark's scratch database: a SQLite file in a temporary directory, or, when
//! `DEPOT_BENCH_DATABASE_URL` names a PostgreSQL server (an admin URL), a fresh database on it,
//! dropped afterwards. Included by the benches with `#[path = "common/scratch.rs"]`.

use std::path::PathBuf;

use sqlx::Connection;

pub struct Scratch {
    /// What Depot connects to.
    pub url: String,
    /// `sqlite` or `postgres`, for the report.
    pub backend: &'static str,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

impl Scratch {
    /// Creates the database for bench `name` (unique per process).
    pub async fn create(name: &str) -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("depot-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(match std::env::var("DEPOT_BENCH_DATABASE_URL") {
            Ok(admin_url) => {
                let database = format!("depot_bench_{name}_{}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("create database {database}"))
                    .execute(&mut conn)
                    .await?;
                let base = &admin_url[..admin_url.rfind('/').unwrap_or(admin_url.len())];
                Scratch {
                    url: format!("{base}/{database}"),
                    backend: "postgres",
                    dir,
                    postgres: Some((admin_url, database)),
                }
            }
            Err(_) => Scratch {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                backend: "sqlite",
                dir,
                postgres: None,
            },
        })
    }

    /// Drops the PostgreSQL database and removes the directory.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((admin_url, database)) = &self.postgres {
            let mut conn = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::query(&format!("drop database if exists {database} with (force)"))
                .execute(&mut conn)
                .await?;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

/// A numeric setting from the environment, or `default`.
#[allow(dead_code)]
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
