//! The SQLite and PostgreSQL migration folders advance in lockstep: same versions, same names,
//! and the same tables and columns.

use std::collections::BTreeSet;
use std::fs;

fn files(dir: &str) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// `table.column` for every column declared in a migration (lines of `create table` bodies).
fn columns(sql: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut table: Option<String> = None;
    for line in sql.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("create table ") {
            table = rest.split_whitespace().next().map(str::to_string);
        } else if line.starts_with(");") {
            table = None;
        } else if let Some(t) = &table {
            let word = line.split_whitespace().next().unwrap_or("");
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
                out.insert(format!("{t}.{word}"));
            }
        }
    }
    out
}

#[test]
fn sqlite_and_postgres_migrations_match() {
    let sqlite = files("migrations/sqlite");
    let postgres = files("migrations/postgres");
    assert_eq!(sqlite, postgres, "migration files differ between backends");
    for name in &sqlite {
        let a = fs::read_to_string(format!("migrations/sqlite/{name}")).unwrap();
        let b = fs::read_to_string(format!("migrations/postgres/{name}")).unwrap();
        assert_eq!(columns(&a), columns(&b), "{name}: tables or columns differ");
    }
}
