//! Storage on SQLite (embedded default) or PostgreSQL, chosen by URL at start.
//!
//! Domain code writes each query once, in portable SQL, and runs it through [`on_read!`] or
//! [`in_tx!`], which expand the same code for whichever pool is live. That keeps one codebase
//! without making every function generic over `sqlx::Database`. See docs/architecture.md.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod copy;
mod filter;
pub use filter::{Arg, Where};
mod lane;
mod settings;
pub use settings::{get_setting, put_setting_once, take_turn};
pub mod request;
mod text_enum;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub enum Backend {
    /// SQLite has one writer at a time, so writes go through a one-connection pool and queue in
    /// the process instead of failing with SQLITE_BUSY, and commit in groups ([`lane`]); reads
    /// use their own pool (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        lane: Arc<lane::Lane>,
        /// Runs WAL checkpoints in the background.
        checkpoint: SqlitePool,
    },
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Db {
    backend: Arc<Backend>,
    /// PostgreSQL: write transactions open at once, fewer than the pool's connections. A
    /// writer may read through the pool while it holds its transaction's connection (master
    /// data beside a write); were every connection held by such a writer, each would wait for
    /// a second one that never comes, until the acquire timeout. The connections left over
    /// always serve those reads.
    writers: Option<Arc<tokio::sync::Semaphore>>,
}

/// PostgreSQL pool size, and how many of its connections write transactions may hold at once.
const PG_CONNECTIONS: u32 = 16;
const PG_WRITERS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(PG_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            Backend::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("invalid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("journal_size_limit", "67108864");
            // Checkpoints would otherwise run inside whichever commit crosses the threshold,
            // stalling every write queued behind it; a background task runs them instead.
            // An embedded database's connection cannot have gone away: no ping before each use
            // (a round trip to the connection's thread on every request that writes).
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            let checkpoint = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            tokio::spawn(checkpoint_loop(checkpoint.clone()));
            let read = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                // Not memory-mapped (mmap_size): a file that grows with every commit is
                // unmapped and mapped again by each reader, and the unmapping's TLB shootdowns
                // across cores cost more than the reads they save (docs/performance.md).
                .connect_with(options.read_only(true))
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            Backend::Sqlite {
                read,
                lane: lane::Lane::start(write.clone()),
                write,
                checkpoint,
            }
        } else {
            anyhow::bail!("unsupported database URL (use sqlite://... or postgres://...)");
        };
        let writers = matches!(backend, Backend::Postgres(_))
            .then(|| Arc::new(tokio::sync::Semaphore::new(PG_WRITERS)));
        Ok(Db {
            backend: Arc::new(backend),
            writers,
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn kind(&self) -> Kind {
        match *self.backend {
            Backend::Sqlite { .. } => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &*self.backend {
            Backend::Sqlite { write, .. } => migrate_sqlite(write).await,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .context("applying migrations")
    }

    /// Each pool's connections: (pool, open, idle), for `/metrics`.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        match &*self.backend {
            Backend::Sqlite { read, write, .. } => vec![
                ("sqlite_read", read.size(), read.num_idle()),
                ("sqlite_write", write.size(), write.num_idle()),
            ],
            Backend::Postgres(pool) => vec![("postgres", pool.size(), pool.num_idle())],
        }
    }

    /// PostgreSQL: each streaming replica's replay lag in seconds, as the primary sees it
    /// (`pg_stat_replication`; empty without replicas, on SQLite, or without the right to read
    /// it: `pg_monitor`).
    pub async fn replica_lag(&self) -> Vec<(String, f64)> {
        let Backend::Postgres(pool) = &*self.backend else {
            return Vec::new();
        };
        sqlx::query_as::<_, (String, f64)>(
            "select coalesce(application_name, client_addr::text, 'replica'),
                    coalesce(extract(epoch from replay_lag), 0)::float8
             from pg_stat_replication",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default()
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> crate::error::Result<()> {
        crate::on_read!(self, pool => {
            sqlx::query("select 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(writers) = &self.writers {
            writers.close();
        }
        match &*self.backend {
            Backend::Sqlite {
                read,
                write,
                lane,
                checkpoint,
            } => {
                lane.close().await;
                read.close().await;
                write.close().await;
                checkpoint.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// Applies the SQLite migrations. sqlx 0.8 runs every SQLite migration inside a transaction,
/// even one marked `-- no-transaction`; but rebuilding a table (SQLite's way to drop a NOT NULL)
/// needs foreign keys switched off, which SQLite ignores inside a transaction. So each migration
/// marked `-- no-transaction` is applied here on its own, after every migration before it, and
/// recorded as sqlx records one; sqlx then applies the rest and checks every checksum.
async fn migrate_sqlite(write: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::Executor;
    use sqlx::migrate::{Migrate, Migrator};
    let mut conn = write.acquire().await?;
    for own in SQLITE_MIGRATIONS.iter().filter(|m| m.no_tx) {
        let before = Migrator {
            migrations: std::borrow::Cow::Owned(
                SQLITE_MIGRATIONS
                    .iter()
                    .filter(|m| m.version < own.version)
                    .cloned()
                    .collect(),
            ),
            // Later versions may be applied already.
            ignore_missing: true,
            ..Migrator::DEFAULT
        };
        before.run_direct(&mut *conn).await?;
        let applied = conn
            .list_applied_migrations()
            .await?
            .iter()
            .any(|m| m.version == own.version);
        if !applied {
            // The script opens and commits its own transaction, and is safe to run again.
            conn.execute(&*own.sql)
                .await
                .map_err(|e| sqlx::migrate::MigrateError::ExecuteMigration(e, own.version))?;
            sqlx::query(
                "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
                 values ($1, $2, true, $3, -1)",
            )
            .bind(own.version)
            .bind(&*own.description)
            .bind(&*own.checksum)
            .execute(&mut *conn)
            .await?;
        }
    }
    SQLITE_MIGRATIONS.run_direct(&mut *conn).await
}

/// Moves the SQLite write-ahead log into the database once a second without blocking writers.
/// Ends when the database is closed.
async fn checkpoint_loop(pool: SqlitePool) {
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every_second.tick().await;
        if pool.is_closed() {
            break;
        }
        // PASSIVE never waits for or blocks the writer; once it catches up, SQLite restarts the
        // log from its beginning and `journal_size_limit` trims the file.
        match sqlx::query("pragma wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => {}
            Err(e) if pool.is_closed() => {
                tracing::debug!(error = %e, "checkpointer stopping");
                break;
            }
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed"),
        }
    }
}

/// A write transaction on whichever backend is live: a value that domain functions take as
/// `&mut Tx`, so several modules' work commits together or not at all. Statements run on it
/// through [`on_tx!`]. Dropped without [`Tx::commit`], it rolls back.
///
/// Inside a request (see [`request`]) a transaction is a part of the request's one transaction:
/// a savepoint in it, released by `commit` and rolled back when dropped; the request's
/// transaction itself commits once, with the request's idempotency record, after the handler.
pub struct Tx(Inner);

enum Inner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A writer's turn in SQLite's group transaction.
    Lane(lane::Turn),
    /// With its place among the writers (none for a read-only snapshot).
    Postgres(
        sqlx::Transaction<'static, sqlx::Postgres>,
        Option<tokio::sync::OwnedSemaphorePermit>,
    ),
    Part(request::Part),
}

/// The connection a transaction or a read runs its statements on.
pub enum Conn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl Db {
    /// Begins a write transaction (on SQLite, on the one write connection); inside a request,
    /// a part of the request's transaction.
    pub async fn begin(&self) -> crate::error::Result<Tx> {
        if let Some(part) = request::part(self, request::Want::Write).await? {
            return Ok(Tx(Inner::Part(part)));
        }
        self.begin_own().await
    }

    /// A transaction of its own, whatever request is running.
    pub(crate) async fn begin_own(&self) -> crate::error::Result<Tx> {
        Ok(Tx(match &*self.backend {
            Backend::Sqlite { lane, .. } => Inner::Lane(lane.enter().await?),
            Backend::Postgres(pool) => {
                let permit = match &self.writers {
                    Some(writers) => Some(writers.clone().acquire_owned().await.map_err(|_| {
                        crate::error::Error::Internal(anyhow::anyhow!("the database is closed"))
                    })?),
                    None => None,
                };
                Inner::Postgres(pool.begin().await?, permit)
            }
        }))
    }

    /// A read-only transaction on the read pool: one consistent view for a read of several
    /// statements, through the same functions (taking `&mut Tx`) that writes use. Never
    /// committed: dropping it ends it. Inside a request that has written, it reads through the
    /// request's transaction, so it sees what the request wrote.
    pub async fn snapshot(&self) -> crate::error::Result<Tx> {
        if let Some(part) = request::part(self, request::Want::Read).await? {
            return Ok(Tx(Inner::Part(part)));
        }
        Ok(Tx(match &*self.backend {
            Backend::Sqlite { read, .. } => Inner::Sqlite(read.begin().await?),
            Backend::Postgres(pool) => Inner::Postgres(pool.begin().await?, None),
        }))
    }

    /// A connection for one read: the request's transaction once the request has written
    /// (it sees the request's own writes), otherwise one from the read pool. Used by
    /// [`on_read!`].
    pub async fn reader(&self) -> crate::error::Result<Reader> {
        if let Some(slot) = request::reading_slot(self).await? {
            return Ok(Reader::Request(slot));
        }
        Ok(match &*self.backend {
            Backend::Sqlite { read, .. } => Reader::Sqlite(read.acquire().await?),
            Backend::Postgres(pool) => Reader::Postgres(pool.acquire().await?),
        })
    }
}

/// See [`Db::reader`].
pub enum Reader {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Request(request::SlotGuard),
}

impl Reader {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Reader::Sqlite(c) => Conn::Sqlite(&mut *c),
            Reader::Postgres(c) => Conn::Postgres(&mut *c),
            Reader::Request(slot) => slot.conn(),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> crate::error::Result<()> {
        match self.0 {
            Inner::Sqlite(tx) => tx.commit().await?,
            Inner::Lane(turn) => turn.commit().await?,
            Inner::Postgres(tx, _writer) => tx.commit().await?,
            Inner::Part(part) => part.release().await?,
        }
        Ok(())
    }

    /// The connection this transaction's statements run on.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.0 {
            Inner::Sqlite(tx) => Conn::Sqlite(&mut *tx),
            Inner::Lane(turn) => Conn::Sqlite(turn.conn()),
            Inner::Postgres(tx, _) => Conn::Postgres(&mut *tx),
            Inner::Part(part) => part.conn(),
        }
    }

    /// Runs `attempt` inside a savepoint of this transaction: when it fails, what it did is
    /// undone and the transaction carries on (on PostgreSQL, a failed statement would otherwise
    /// abort the whole transaction). Answers the attempt's result.
    pub async fn attempt<T>(
        &mut self,
        attempt: impl AsyncFnOnce(&mut Tx) -> crate::error::Result<T>,
    ) -> crate::error::Result<crate::error::Result<T>> {
        self.execute("savepoint attempt").await?;
        match attempt(self).await {
            Ok(value) => {
                self.execute("release savepoint attempt").await?;
                Ok(Ok(value))
            }
            Err(e) => {
                self.execute("rollback to savepoint attempt").await?;
                self.execute("release savepoint attempt").await?;
                Ok(Err(e))
            }
        }
    }

    pub(crate) async fn execute(&mut self, sql: &str) -> crate::error::Result<()> {
        crate::on_tx!(self, conn => {
            sqlx::query(sql).execute(&mut *conn).await?;
        });
        Ok(())
    }
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` (a `&mut Tx`), on
/// whichever backend it holds: the body is typed once per backend, as with [`on_read!`].
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $crate::db::Tx::conn($tx) {
            $crate::db::Conn::Sqlite(connection) => {
                #[allow(unused_mut)]
                let mut $conn: &mut sqlx::SqliteConnection = connection;
                $body
            }
            $crate::db::Conn::Postgres(connection) => {
                #[allow(unused_mut)]
                let mut $conn: &mut sqlx::PgConnection = connection;
                $body
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to a connection to read on (see [`Db::reader`]), on
/// whichever backend is live. A body that runs several statements passes `&mut *pool`.
#[macro_export]
macro_rules! on_read {
    ($db:expr, $pool:ident => $body:expr) => {{
        let mut reader = $crate::db::Db::reader(&$db).await?;
        match reader.conn() {
            $crate::db::Conn::Sqlite(connection) => {
                #[allow(unused_mut)]
                let mut $pool: &mut sqlx::SqliteConnection = connection;
                $body
            }
            $crate::db::Conn::Postgres(connection) => {
                #[allow(unused_mut)]
                let mut $pool: &mut sqlx::PgConnection = connection;
                $body
            }
        }
    }};
}

/// Runs `$body` on the connection of a new write transaction ([`Tx`]) bound to `$tx`; commits
/// when the body finishes, rolls back when it returns early with `?`. The body evaluates to the
/// value, not a Result. Sugar for a transaction of one module's statements; work that spans
/// modules begins a [`Tx`] and passes `&mut Tx` to their functions.
#[macro_export]
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:expr) => {{
        let mut transaction = $db.begin().await?;
        let out = $crate::on_tx!(&mut transaction, $tx => $body);
        transaction.commit().await?;
        out
    }};
}

/// A consistent online backup of the SQLite database at `url` into the new file `to`: SQLite's
/// `VACUUM INTO` copies one read snapshot (every transaction committed before it began, none
/// after) through a read-only connection of its own, so a running Depot keeps writing
/// meanwhile. The copy is written beside `to`, synced, then renamed into place, so `to` is
/// either absent or whole. Answers the backup's size in bytes. PostgreSQL is backed up with
/// its own tools (docs/operations.md).
pub async fn backup_sqlite(url: &str, to: &std::path::Path) -> anyhow::Result<u64> {
    use sqlx::{ConnectOptions, Connection};
    anyhow::ensure!(
        url.starts_with("sqlite:"),
        "depot backup copies a SQLite database; back PostgreSQL up with pg_dump or \
         pg_basebackup (docs/operations.md)"
    );
    anyhow::ensure!(
        !to.exists(),
        "{} exists already: a backup never overwrites a file",
        to.display()
    );
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let mut conn = SqliteConnectOptions::from_str(url)
        .context("invalid SQLite URL")?
        .read_only(true)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))?;
    let target = partial
        .to_str()
        .context("the backup's path is not UTF-8")?
        .to_string();
    let copied = sqlx::query("vacuum into $1")
        .bind(&target)
        .execute(&mut conn)
        .await;
    conn.close().await.ok();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e).context("VACUUM INTO failed");
    }
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .context("syncing the backup")?;
    std::fs::rename(&partial, to).context("moving the backup into place")?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable only once the folder is synced.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(std::fs::metadata(to)?.len())
}

/// The current time, truncated to microseconds so that both backends store the same value.
pub fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

/// `"a", "b"` → `$start, $start+1, ...`: placeholders for an `in (...)` list of `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A set of keys to read the records of at once (a page of the change feed), as a condition on
/// the key column. Ids that run in sequence, as a bulk load gives them, become a few ranges that
/// both databases read as index range scans (several times faster than the same ids listed,
/// which PostgreSQL plans anew at every call); scattered ids and codes are listed.
#[derive(Debug, Clone)]
pub enum Keys {
    Ids(Vec<i64>),
    Codes(Vec<String>),
}

impl Keys {
    /// Most ranges a condition is made of; beyond, the ids are listed.
    const RANGES: usize = 16;

    fn none(&self) -> bool {
        match self {
            Keys::Ids(ids) => ids.is_empty(),
            Keys::Codes(codes) => codes.is_empty(),
        }
    }

    /// The condition on `column` and the values it binds, numbered from `$1`.
    fn condition(&self, column: &str) -> (String, Vec<Arg>) {
        match self {
            Keys::Codes(codes) => (
                format!("{column} in ({})", placeholders(1, codes.len())),
                codes.iter().map(|c| Arg::Text(c.clone())).collect(),
            ),
            Keys::Ids(ids) => {
                let mut sorted = ids.clone();
                sorted.sort_unstable();
                sorted.dedup();
                let mut runs: Vec<(i64, i64)> = Vec::new();
                for id in sorted.iter().copied() {
                    match runs.last_mut() {
                        Some((_, last)) if *last + 1 == id => *last = id,
                        _ => runs.push((id, id)),
                    }
                }
                if runs.len() > Keys::RANGES {
                    return (
                        format!("{column} in ({})", placeholders(1, sorted.len())),
                        sorted.into_iter().map(Arg::Int).collect(),
                    );
                }
                let ranges: Vec<String> = (0..runs.len())
                    .map(|i| format!("{column} between ${} and ${}", 2 * i + 1, 2 * i + 2))
                    .collect();
                let args = runs
                    .into_iter()
                    .flat_map(|(first, last)| [Arg::Int(first), Arg::Int(last)])
                    .collect();
                (format!("({})", ranges.join(" or ")), args)
            }
        }
    }
}

/// The rows of `sql` on the read pool, where `{keys}` in `sql` stands for "`column` is one of
/// `keys`" (`select … from items where {keys} order by id`): the records of a set of keys in
/// one read. No keys, no read.
pub async fn rows_for_keys<T>(
    db: &Db,
    sql: &str,
    column: &str,
    keys: &Keys,
) -> crate::error::Result<Vec<T>>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    if keys.none() {
        return Ok(Vec::new());
    }
    let (condition, args) = keys.condition(column);
    let sql = sql.replace("{keys}", &condition);
    Ok(crate::on_read!(db, pool => {
        crate::bind_args!(sqlx::query_as::<_, T>(&sql), &args)
            .fetch_all(pool)
            .await?
    }))
}

/// Keyset pagination: rows after `after` (an id), at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub after: i64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 500;

    pub fn first(limit: i64) -> Self {
        Page { limit, after: 0 }
    }

    /// Fetch one row more than asked, to know whether there is a next page.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

/// One page of a list and where the next one starts.
#[derive(Debug)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

impl<T> Paged<T> {
    /// Trims the extra row fetched by [`Page::fetch_limit`], keeping its cursor.
    pub fn from_rows(mut rows: Vec<T>, page: Page, id_of: impl Fn(&T) -> i64) -> Self {
        let next_after = if rows.len() as i64 > page.limit {
            rows.truncate(page.limit as usize);
            rows.last().map(&id_of)
        } else {
            None
        };
        Paged {
            items: rows,
            next_after,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next_after: self.next_after,
        }
    }
}

/// One page of the ids of `table`'s rows matching `w` (its conditions and arguments), in id
/// order after `page.after`: for lists whose items are then read whole.
pub async fn page_ids(
    db: &Db,
    table: &str,
    mut w: Where,
    page: Page,
) -> crate::error::Result<Paged<i64>> {
    w.add("id > $?", Arg::Int(page.after));
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select id from {table} where {} order by id limit ${limit}",
        w.sql()
    );
    let ids: Vec<i64> = crate::on_read!(db, pool => {
        crate::bind_args!(sqlx::query_scalar::<_, i64>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    Ok(Paged::from_rows(ids, page, |id| *id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(args: &[Arg]) -> Vec<i64> {
        args.iter()
            .map(|a| match a {
                Arg::Int(v) => *v,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn ids_in_sequence_become_ranges_and_scattered_ones_a_list() {
        let (sql, args) = Keys::Ids(vec![7, 3, 4, 5, 9, 8, 4, 20]).condition("id");
        assert_eq!(
            sql,
            "(id between $1 and $2 or id between $3 and $4 or id between $5 and $6)"
        );
        assert_eq!(ints(&args), [3, 5, 7, 9, 20, 20]);
        let scattered: Vec<i64> = (0..40).map(|i| i * 10).collect();
        let (sql, args) = Keys::Ids(scattered.clone()).condition("item_id");
        assert!(sql.starts_with("item_id in ($1, $2,"), "{sql}");
        assert_eq!(ints(&args), scattered);
        let (sql, args) = Keys::Codes(vec!["A".into()]).condition("code");
        assert_eq!((sql.as_str(), args.len()), ("code in ($1)", 1));
    }
}
