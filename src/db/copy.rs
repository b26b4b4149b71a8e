//! `depot migrate-data`: everything in a SQLite database copied into an empty PostgreSQL one,
//! with its ids, so a business that started on the embedded default moves without re-entering
//! anything. Tables and columns are read from the schemas themselves (both migrated to the same
//! version), so a new table is copied without code here; every value goes over as text and is
//! cast to the target column's type by PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, TypeInfo, ValueRef};

/// Rows per insert statement (PostgreSQL takes at most 65,535 bound values in one).
const BATCH_VALUES: usize = 30_000;

/// What was copied: rows per table, in the order the tables were filled.
#[derive(Debug)]
pub struct Copied {
    pub tables: Vec<(String, i64)>,
}

/// Copies every table of the SQLite database at `from` into the PostgreSQL database at `to`,
/// in one PostgreSQL transaction: all or nothing. Both are migrated first; the target must
/// hold no data yet. Identity sequences continue after the copied ids. Row counts are compared
/// table by table before the commit.
pub async fn sqlite_to_postgres(from: &str, to: &str) -> anyhow::Result<Copied> {
    anyhow::ensure!(
        from.starts_with("sqlite:"),
        "--from must be a sqlite:// URL"
    );
    anyhow::ensure!(
        to.starts_with("postgres://") || to.starts_with("postgresql://"),
        "--to must be a postgres:// URL"
    );
    // Same schema version on both sides, so the tables and columns correspond.
    for url in [from, to] {
        let db = super::Db::connect(url).await?;
        db.migrate().await?;
        db.close().await;
    }
    let mut source = SqliteConnectOptions::from_str(from)?
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("cannot open {from}"))?;
    let mut target = PgConnectOptions::from_str(to)?
        .connect()
        .await
        .context("cannot connect to the target PostgreSQL")?;

    let source_tables: BTreeSet<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table'
         and name not like 'sqlite_%' and name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut source)
    .await?
    .into_iter()
    .collect();
    let columns = target_columns(&mut target).await?;
    let target_tables: BTreeSet<String> = columns.keys().cloned().collect();
    anyhow::ensure!(
        source_tables == target_tables,
        "the schemas differ: only in SQLite {:?}, only in PostgreSQL {:?}",
        source_tables.difference(&target_tables).collect::<Vec<_>>(),
        target_tables.difference(&source_tables).collect::<Vec<_>>()
    );
    let order = fill_order(&mut target, &target_tables).await?;

    let mut tx = target.begin().await?;
    // A target that ever served has users (the first start creates the admin): refused. What a
    // bare migration put there (deal stages, counters) is replaced by the source's rows.
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut *tx)
        .await?;
    anyhow::ensure!(
        users == 0,
        "the target database holds {users} users: migrate-data fills a database only migrated, never used"
    );
    for table in order.iter().rev() {
        sqlx::query(&format!("delete from {table}"))
            .execute(&mut *tx)
            .await?;
    }
    // The change feed's triggers would log every copied row again: the feed is copied as it is.
    for table in &order {
        sqlx::query(&format!("alter table {table} disable trigger user"))
            .execute(&mut *tx)
            .await?;
    }
    let mut copied = Vec::new();
    for table in &order {
        let cols = &columns[table];
        let n = copy_table(&mut source, &mut tx, table, cols).await?;
        let landed: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut *tx)
            .await?;
        anyhow::ensure!(
            landed == n,
            "table {table}: {n} rows read, {landed} written"
        );
        if cols.iter().any(|(c, _)| c == "id") {
            // Identity columns go on after the highest copied id.
            sqlx::query(&format!(
                "select setval(s::regclass, coalesce((select max(id) from {table}), 0) + 1, false)
                 from pg_get_serial_sequence('{table}', 'id') s where s is not null"
            ))
            .execute(&mut *tx)
            .await?;
        }
        copied.push((table.clone(), n));
    }
    for table in &order {
        sqlx::query(&format!("alter table {table} enable trigger user"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    source.close().await.ok();
    target.close().await.ok();
    Ok(Copied { tables: copied })
}

/// Every table of the target's schema with its columns and their types, in column order.
async fn target_columns(
    pg: &mut sqlx::PgConnection,
) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select c.table_name::text, c.column_name::text, format_type(a.atttypid, a.atttypmod)
         from information_schema.columns c
         join pg_attribute a on a.attrelid = (quote_ident(c.table_schema) || '.' ||
              quote_ident(c.table_name))::regclass and a.attname = c.column_name
         join information_schema.tables t on t.table_schema = c.table_schema
              and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
         where c.table_schema = current_schema() and c.table_name <> '_sqlx_migrations'
           and c.is_generated = 'NEVER'
         order by c.table_name, c.ordinal_position",
    )
    .fetch_all(&mut *pg)
    .await?;
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (table, column, ty) in rows {
        out.entry(table).or_default().push((column, ty));
    }
    Ok(out)
}

/// Tables ordered so that every table comes after those its foreign keys point to.
async fn fill_order(
    pg: &mut sqlx::PgConnection,
    tables: &BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "select c.conrelid::regclass::text, c.confrelid::regclass::text
         from pg_constraint c join pg_namespace n on n.oid = c.connamespace
         where c.contype = 'f' and n.nspname = current_schema()",
    )
    .fetch_all(&mut *pg)
    .await?;
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (child, parent) in &edges {
        if child != parent
            && let Some(set) = needs.get_mut(child.as_str())
        {
            set.insert(parent.as_str());
        }
    }
    let mut order: Vec<String> = Vec::new();
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, parents)| parents.iter().all(|p| !needs.contains_key(p)))
            .map(|(t, _)| *t)
            .collect();
        anyhow::ensure!(
            !ready.is_empty(),
            "foreign keys form a cycle among {:?}",
            needs.keys().collect::<Vec<_>>()
        );
        for t in ready {
            needs.remove(t);
            order.push(t.to_string());
        }
    }
    Ok(order)
}

/// One table's rows, in insertion order (a row referring to an earlier row of its own table,
/// a reversal or a parent parcel, comes after it), as text cast to each column's type.
async fn copy_table(
    source: &mut sqlx::SqliteConnection,
    target: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, String)],
) -> anyhow::Result<i64> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let list = names.join(", ");
    let rows = sqlx::query(&format!("select {list} from {table} order by rowid"))
        .fetch_all(&mut *source)
        .await
        .with_context(|| format!("reading {table}"))?;
    let per_batch = (BATCH_VALUES / columns.len().max(1)).max(1);
    for chunk in rows.chunks(per_batch) {
        let mut sql = format!("insert into {table} ({list}) values ");
        let mut n = 0;
        for (r, _) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for (c, (_, ty)) in columns.iter().enumerate() {
                if c > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("cast(${n} as {ty})"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for (c, (column, _)) in columns.iter().enumerate() {
                q = q.bind(
                    as_text(row, c)
                        .with_context(|| format!("{table}.{column}: unreadable value"))?,
                );
            }
        }
        q.execute(&mut *target)
            .await
            .with_context(|| format!("writing {table}"))?;
    }
    Ok(rows.len() as i64)
}

/// A SQLite value as PostgreSQL reads it from text: integers and reals as numbers (0/1 are
/// booleans too), text as it is (timestamps, dates, JSON), blobs as `\x` hex.
fn as_text(row: &sqlx::sqlite::SqliteRow, i: usize) -> anyhow::Result<Option<String>> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let storage = raw.type_info().name().to_ascii_uppercase();
    Ok(Some(match storage.as_str() {
        "INTEGER" | "BOOLEAN" => row.try_get_unchecked::<i64, _>(i)?.to_string(),
        "REAL" => row.try_get_unchecked::<f64, _>(i)?.to_string(),
        "BLOB" => {
            let bytes: Vec<u8> = row.try_get_unchecked(i)?;
            let mut hex = String::from("\\x");
            for b in bytes {
                hex.push_str(&format!("{b:02x}"));
            }
            hex
        }
        _ => row.try_get_unchecked::<String, _>(i)?,
    }))
}
