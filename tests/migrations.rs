//! The SQLite and PostgreSQL migration folders advance in lockstep: same versions, same names,
//! and the same tables and columns.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

fn files(dir: &str) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// The schema after some migrations: table -> columns.
type Schema = BTreeMap<String, BTreeSet<String>>;

/// Applies one migration's DDL to `schema`: `create table` bodies, `alter table … add column`,
/// `alter table … drop column`, `alter table … rename to`, `drop table`. Enough to compare what the two backends end with
/// after every version, including SQLite's table rebuilds (create new, copy, drop, rename),
/// which PostgreSQL does with one `alter table`.
fn apply(schema: &mut Schema, sql: &str) {
    let mut table: Option<String> = None;
    for line in sql.lines().map(str::trim) {
        let lower = line.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("create table ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            schema.insert(name.clone(), BTreeSet::new());
            table = Some(name);
        } else if line.starts_with(");") {
            table = None;
        } else if let Some(t) = &table {
            let word = lower.split_whitespace().next().unwrap_or("");
            let keyword = [
                "primary",
                "unique",
                "check",
                "foreign",
                "constraint",
                "--",
                "",
            ]
            .contains(&word);
            if !keyword {
                schema.get_mut(t).unwrap().insert(word.to_string());
            }
        } else if let Some(rest) = lower.strip_prefix("drop table ") {
            let name = rest
                .trim_end_matches(';')
                .split_whitespace()
                .last()
                .unwrap_or("");
            schema.remove(name);
        } else if let Some(rest) = lower.strip_prefix("alter table ") {
            let words: Vec<&str> = rest.trim_end_matches(';').split_whitespace().collect();
            match words.as_slice() {
                [from, "rename", "to", to] => {
                    let columns = schema.remove(*from).unwrap_or_default();
                    schema.insert(to.to_string(), columns);
                }
                [t, "add", "column", column, ..] => {
                    schema
                        .entry(t.to_string())
                        .or_default()
                        .insert(column.to_string());
                }
                [t, "drop", "column", column, ..] => {
                    if let Some(columns) = schema.get_mut(*t) {
                        columns.remove(*column);
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn sqlite_and_postgres_migrations_match() {
    let sqlite = files("migrations/sqlite");
    let postgres = files("migrations/postgres");
    assert_eq!(sqlite, postgres, "migration files differ between backends");
    let (mut a, mut b) = (Schema::new(), Schema::new());
    for name in &sqlite {
        apply(
            &mut a,
            &fs::read_to_string(format!("migrations/sqlite/{name}")).unwrap(),
        );
        apply(
            &mut b,
            &fs::read_to_string(format!("migrations/postgres/{name}")).unwrap(),
        );
        assert_eq!(a, b, "after {name}: tables or columns differ");
    }
    assert!(a.contains_key("stock_movements") && a["deals"].contains("warehouse_id"));
    assert!(!a["deals"].contains("fulfilment_lease"));
}

#[path = "common/scratch_db.rs"]
mod scratch_db;

/// Both backends: parcels may be made without an SSCC after migration 15, on a database that
/// already held parcels (SQLite rebuilds the table): they keep their ids and SSCCs, and every
/// foreign key still holds and is still enforced.
async fn parcels_survive_the_nullable_sscc_migration(scratch: scratch_db::ScratchDb) {
    use depot::db::{Db, Kind};
    let db = Db::connect(&scratch.url).await.unwrap();
    db.migrate().await.unwrap();
    depot::demo::load(&db).await.unwrap();
    let mut view = db.snapshot().await.unwrap();
    let (deal, warehouse) = depot::on_tx!(&mut view, pool => {
        sqlx::query_as::<_, (i64, i64)>("select d.id, w.id from deals d, warehouses w order by d.id, w.id limit 1")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    let new = |prefix| {
        let db = db.clone();
        async move {
            depot::shipping::create_parcel(
                &db,
                serde_json::from_value(serde_json::json!({
                    "deal_id": deal, "warehouse_id": warehouse, "package_type": "box"
                }))
                .unwrap(),
                prefix,
                0,
            )
            .await
            .unwrap()
        }
    };
    let with_sscc = new(Some("0614141")).await;
    assert_eq!(with_sscc.sscc.as_deref().map(str::len), Some(18));
    if db.kind() == Kind::Sqlite {
        // The rebuild runs again on a table with rows (it is written to be safe to repeat).
        let rebuild =
            fs::read_to_string("migrations/sqlite/0015_parcels_without_sscc.sql").unwrap();
        if let depot::db::Backend::Sqlite { write, .. } = db.backend() {
            use sqlx::Executor;
            write
                .acquire()
                .await
                .unwrap()
                .execute(&*rebuild)
                .await
                .unwrap();
        }
        let mut view = db.snapshot().await.unwrap();
        let problems = depot::on_tx!(&mut view, pool => {
            sqlx::query("pragma foreign_key_check").fetch_all(pool).await.unwrap().len()
        });
        assert_eq!(problems, 0, "foreign keys broken by the rebuild");
    }
    let without = new(None).await;
    assert_eq!(without.sscc, None);
    assert_eq!(without.code, format!("DPT-PARCEL-{}", without.id));
    let again = depot::shipping::parcel(&db, with_sscc.id).await.unwrap();
    assert_eq!(again.sscc, with_sscc.sscc);
    // Contents still must name an existing parcel.
    let mut tx = db.begin().await.unwrap();
    let refused = depot::on_tx!(&mut tx, conn => {
        sqlx::query("insert into parcel_contents (parcel_id, item_id, batch_id, batch_key, quantity)
                     values (999999, 1, null, 0, 1)")
            .execute(&mut *conn)
            .await
            .map(|_| ())
    });
    drop(tx);
    assert!(
        refused.is_err(),
        "a content line of a parcel that does not exist was stored"
    );
    db.migrate().await.unwrap();
    db.close().await;
}

#[tokio::test]
async fn parcels_survive_the_nullable_sscc_migration_on_sqlite() {
    parcels_survive_the_nullable_sscc_migration(scratch_db::ScratchDb::sqlite()).await
}

#[tokio::test]
async fn parcels_survive_the_nullable_sscc_migration_on_postgres() {
    parcels_survive_the_nullable_sscc_migration(scratch_db::ScratchDb::postgres().await).await
}
