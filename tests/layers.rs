//! The architecture holds: every import points down the layer table of docs/architecture.md,
//! and every table is written only by the module that owns it (the ownership table of the same
//! page). The tables are read from the page, so the page and the code cannot drift apart.
//!
//! Imports are read from the source text: `crate::module` paths (in `use` and inline) outside
//! comments and `#[cfg(test)]` modules. Writes are `insert into`, `update` and `delete from` a
//! table the migrations create.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Macros exported at the crate root, by the module that defines them.
const ROOT_MACROS: &[(&str, &str)] = &[
    ("on_read", "db"),
    ("on_tx", "db"),
    ("in_tx", "db"),
    ("text_enum", "db"),
    ("bind_args", "db"),
];

struct Architecture {
    /// Module (`stock`, `stock::api` for a domain's handlers) → its layer; 1 is the top.
    layer_of: BTreeMap<String, usize>,
    /// Table → the module that writes it.
    owner_of: BTreeMap<String, String>,
}

/// The rows of the markdown table that follows `heading`, as cells.
fn table_after(page: &str, heading: &str) -> Vec<Vec<String>> {
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("docs/architecture.md has no '{heading}'"));
    page[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The names in backticks in a cell.
fn names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.trim_end_matches("/").to_string())
        .collect()
}

fn architecture() -> Architecture {
    let page = fs::read_to_string("docs/architecture.md").unwrap();
    let mut layer_of = BTreeMap::new();
    for row in table_after(&page, "## Layers") {
        let layer: usize = row[0].parse().expect("a layer number");
        for module in names(&row[1]) {
            assert!(
                layer_of.insert(module.clone(), layer).is_none(),
                "{module} is in two layers"
            );
        }
    }
    let mut owner_of = BTreeMap::new();
    for row in table_after(&page, "### Who writes which table") {
        let module = names(&row[0]).pop().expect("a module");
        for table in names(&row[1]) {
            assert!(
                owner_of.insert(table.clone(), module.clone()).is_none(),
                "table {table} has two owners"
            );
        }
    }
    Architecture { layer_of, owner_of }
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: its top folder (or file) under `src`, and `<top>::api` for a
/// domain's HTTP handlers; `app.rs` and `main.rs` are the application.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").unwrap();
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts[0].as_str() {
        "lib" => None,
        "main" | "app" => Some("app".into()),
        "api" => Some("api".into()),
        top if parts.len() > 1 && parts[1] == "api" => Some(format!("{top}::api")),
        top => Some(top.to_string()),
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => without_comments(&text[..i]),
        None => without_comments(&text),
    }
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // `//` inside a string (a URL) is kept; a comment starts the line or follows code.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file's code names through `crate::` (with `::api` when it names handlers).
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before == Some('$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the names at the group's top level.
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(path_module(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || ch != '{' {
                    item.push(ch);
                }
            }
            if !item.trim().is_empty() {
                out.insert(path_module(item.trim()));
            }
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.insert(path_module(&path));
        }
    }
    out.remove("");
    out
}

/// `stock::api::actor` → `stock::api`; `stock::ledger` → `stock`; a root macro → its module.
fn path_module(path: &str) -> String {
    let mut parts = path.split("::").map(str::trim);
    let top = parts.next().unwrap_or("").trim_end_matches('!').to_string();
    if let Some((_, owner)) = ROOT_MACROS.iter().find(|(m, _)| *m == top) {
        return owner.to_string();
    }
    match parts.next() {
        Some("api") if top != "api" => format!("{top}::api"),
        _ => top,
    }
}

/// The tables the migrations create.
fn tables() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut files = Vec::new();
    for entry in fs::read_dir("migrations/postgres").unwrap() {
        files.push(entry.unwrap().path());
    }
    for file in files {
        let sql = fs::read_to_string(file).unwrap().to_lowercase();
        for part in sql.split("create table ").skip(1) {
            let name = part
                .trim_start_matches("if not exists ")
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("");
            if !name.ends_with("_new") {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The known tables a file's code writes.
fn writes(code: &str, tables: &BTreeSet<String>) -> BTreeSet<String> {
    let lower = code.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = BTreeSet::new();
    for (i, pair) in words.windows(2).enumerate() {
        let target = match pair {
            ["insert", "into"] | ["delete", "from"] => words.get(i + 2),
            ["update", t] => Some(t),
            _ => None,
        };
        if let Some(t) = target
            && tables.contains(*t)
        {
            out.insert(t.to_string());
        }
    }
    out
}

#[test]
fn every_import_points_down_the_layer_table() {
    let arch = architecture();
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let layer = *arch
            .layer_of
            .get(&module)
            .or_else(|| {
                module
                    .ends_with("::api")
                    .then(|| arch.layer_of.get("*::api"))?
            })
            .unwrap_or_else(|| panic!("{module} ({}) is in no layer", file.display()));
        for import in imports(&code(file)) {
            if import == module || import == module.trim_end_matches("::api") {
                continue;
            }
            let target = arch
                .layer_of
                .get(&import)
                .or_else(|| {
                    import
                        .ends_with("::api")
                        .then(|| arch.layer_of.get("*::api"))?
                })
                .copied()
                .unwrap_or_else(|| {
                    panic!(
                        "{} names crate::{import}, which is in no layer",
                        file.display()
                    )
                });
            if target <= layer {
                wrong.push(format!(
                    "{} ({module}, layer {layer}) uses {import} (layer {target})",
                    file.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_table_is_written_only_by_its_owner() {
    let arch = architecture();
    let tables = tables();
    let unowned: Vec<&String> = tables
        .iter()
        .filter(|t| !arch.owner_of.contains_key(*t))
        .collect();
    assert!(unowned.is_empty(), "tables without an owner: {unowned:?}");
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let module = module.trim_end_matches("::api");
        for table in writes(&code(file), &tables) {
            let owner = &arch.owner_of[&table];
            if owner != module {
                wrong.push(format!(
                    "{} ({module}) writes {table}, which {owner} owns",
                    file.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_finds_imports_and_writes() {
    let code = "use crate::db::{Db, Tx};\nuse crate::{on_read, stock::api::actor, crm::{deals, customers}};\n\
                let x = crate::fulfilment::planning::reserve(); // crate::app in a comment\n\
                sqlx::query(\"update stock_balances set on_hand = 1\"); \"insert into deals\"";
    let expected: BTreeSet<String> = ["db", "stock::api", "crm", "fulfilment"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(imports(&without_comments(code)), expected);
    let tables: BTreeSet<String> = ["stock_balances", "deals", "items"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        writes(code, &tables),
        ["deals", "stock_balances"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
