use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use depot::app::{AppState, serve, shutdown_signal};
use depot::config::Config;
use tracing_subscriber::EnvFilter;

/// Depot: warehouse and fulfilment backend.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML config file (default: ./depot.toml when present). DEPOT_* variables override it.
    #[arg(long, env = "DEPOT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Load the demo data set before serving (only into an empty catalog).
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the demo data set (when the catalog is empty) and exit.
    Demo {
        /// Also write the barcode sheet (a PDF of every code to scan) to this file.
        #[arg(long, value_name = "FILE")]
        sheet: Option<std::path::PathBuf>,
    },
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Re-derive every stock balance from the ledger; exit 1 on any mismatch.
    Check,
    /// Write a consistent online backup of the SQLite database (which may be in use by a
    /// running Depot) to FILE, a new SQLite file to start Depot on. PostgreSQL: pg_dump.
    Backup {
        /// The backup file to create (never overwritten).
        file: PathBuf,
    },
    /// Copy everything (ids, ledger, idempotency records, settings, users) from a SQLite
    /// database into a new, empty PostgreSQL database, then check the copy.
    MigrateData {
        /// The SQLite database, e.g. sqlite://depot.db (read only; stop Depot first).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database, migrated or empty, never used.
        #[arg(long)]
        to: String,
    },
    /// Import a CSV or XLSX file as the API does (`POST /v1/imports/{kind}`), all rows or none,
    /// with a progress bar: items, boms, suppliers, customers, warehouses, locations or
    /// opening-stock. Exits 1 when rows are bad (each is listed; nothing is applied).
    Import {
        /// items, boms, suppliers, customers, warehouses, locations or opening-stock.
        kind: String,
        /// The file to import.
        file: PathBuf,
        /// Check every row and tell what would happen, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// The user the import is made as (whose customers it may change; who received the
        /// opening stock).
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Administration from the command line (recovery).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Set a user's password and reactivate them; their older tokens stop working. The new
    /// password is read from DEPOT_ADMIN_PASSWORD, or else as one line from stdin.
    ResetPassword {
        /// The user's username.
        username: String,
        /// Also make the user an admin.
        #[arg(long)]
        make_admin: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Hidden barcode-decode worker mode: with DEPOT_DECODE_WORKER=1 this process serves decode
    // requests on stdin/stdout and exits (see depot::barcode::decode). Must stay first.
    depot::barcode::decode::run_worker_if_requested();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    init_tracing(config.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", depot::app::openapi().to_pretty_json()?);
        }
        Command::Check => {
            let db = depot::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let mismatches = depot::stock::ledger::consistency(&db).await?;
            let reserved = depot::stock::ledger::reserved_consistency(&db).await?;
            if mismatches.is_empty() && reserved.is_empty() {
                println!(
                    "consistent: every balance equals the sum of its ledger, every reserved \
                     quantity the sum of its reservations"
                );
            } else {
                for m in &mismatches {
                    println!("{}", serde_json::to_string(m)?);
                }
                for m in &reserved {
                    println!("{}", serde_json::to_string(m)?);
                }
                eprintln!(
                    "{} balance(s) disagree with the ledger, {} with their reservations",
                    mismatches.len(),
                    reserved.len()
                );
                std::process::exit(1);
            }
        }
        Command::Admin {
            command:
                AdminCommand::ResetPassword {
                    username,
                    make_admin,
                },
        } => {
            let password = new_password(&username)?;
            let db = depot::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let result =
                depot::auth::users::reset_password(&db, &username, password, make_admin).await;
            db.close().await;
            let user = result?;
            println!(
                "user '{}' (id {}, role {}) is active with the new password; tokens issued \
                 before no longer work",
                user.username,
                user.id,
                user.role.as_str()
            );
        }
        Command::Backup { file } => {
            let started = std::time::Instant::now();
            let bytes = depot::db::backup_sqlite(&config.database_url, &file).await?;
            println!(
                "backup of {} written to {} ({bytes} bytes, {:.1} s)",
                config.redacted_database_url(),
                file.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::MigrateData { from, to } => {
            let started = std::time::Instant::now();
            let copied = depot::db::copy::sqlite_to_postgres(&from, &to).await?;
            let mut rows = 0;
            for (table, n) in &copied.tables {
                println!("{table}: {n} rows");
                rows += n;
            }
            let db = depot::db::Db::connect(&to).await?;
            let mismatches = depot::stock::ledger::consistency(&db).await?;
            let reserved = depot::stock::ledger::reserved_consistency(&db).await?;
            db.close().await;
            anyhow::ensure!(
                mismatches.is_empty() && reserved.is_empty(),
                "the copy is not consistent: {} balance(s) disagree with the ledger, {} with \
                 their reservations (run depot check on the source)",
                mismatches.len(),
                reserved.len()
            );
            println!(
                "copied {rows} rows in {} tables in {:.1} s; counts match table by table and \
                 every balance equals its ledger on the target",
                copied.tables.len(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Import {
            kind,
            file,
            dry_run,
            user,
        } => {
            let db = depot::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let result = import_file(&db, &kind, &file, dry_run, &user).await;
            db.close().await;
            if !result? {
                std::process::exit(1);
            }
        }
        Command::Migrate => {
            let db = depot::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            tracing::info!(database = %config.redacted_database_url(), "migrations applied");
        }
        Command::Demo { sheet } => {
            let state = AppState::start(config).await?;
            depot::demo::load(&state.db).await?;
            if let Some(path) = sheet {
                let pdf = depot::demo::sheet::pdf(&state.db, &state.labels).await?;
                std::fs::write(&path, pdf)
                    .with_context(|| format!("writing the barcode sheet to {}", path.display()))?;
                println!("barcode sheet written to {}", path.display());
            }
        }
        Command::Serve => {
            let listen = config.listen.clone();
            let database = config.redacted_database_url();
            let state = AppState::start(config).await?;
            if cli.demo {
                depot::demo::load(&state.db).await?;
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, %database, "depot listening; API docs at /docs");
            serve(listener, state, shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// From `DEPOT_ADMIN_PASSWORD`, else one line of stdin (prompted for on a terminal).
fn new_password(username: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if let Ok(p) = std::env::var("DEPOT_ADMIN_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("New password for '{username}' (shown as you type): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the new password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "no password given: set DEPOT_ADMIN_PASSWORD or write it on stdin"
    );
    Ok(password)
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_env("DEPOT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `depot import`: answers whether the file was applied (or, dry, would be) without bad rows.
async fn import_file(
    db: &depot::db::Db,
    kind: &str,
    file: &std::path::Path,
    dry_run: bool,
    username: &str,
) -> anyhow::Result<bool> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let kind = depot::transfer::imports::Kind::parse(kind)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let table = depot::transfer::csv_in::read(&bytes)?;
    let user = match depot::auth::users::by_username(db, username).await {
        Err(depot::error::Error::NotFound { .. }) => anyhow::bail!(
            "no user '{username}': name one with --user (Depot creates 'admin' when it first \
             starts)"
        ),
        other => other?,
    };
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(table.rows.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} rows, {per_sec}, {eta} left",
        )?
        .progress_chars("=> "),
    );
    bar.set_message(if dry_run { "checking" } else { "importing" });
    let progress = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed) as u64);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let outcome = depot::transfer::jobs::import_alone(
        db,
        kind,
        &table,
        dry_run,
        user.id,
        &progress,
        async |_, _| Ok(true),
    )
    .await;
    ticker.abort();
    bar.set_position(progress.load(Ordering::Relaxed) as u64);
    bar.finish_and_clear();
    let outcome = outcome?.context("the import was not kept")?;
    for e in &outcome.errors {
        eprintln!(
            "row {}, column {} ({:?}): {}",
            e.row, e.column, e.value, e.reason
        );
    }
    let verb = match (dry_run, outcome.errors.is_empty()) {
        (true, _) => "checked (dry run, nothing written)",
        (false, true) => "imported",
        (false, false) => "refused (nothing written)",
    };
    println!(
        "{} rows {verb} in {:.1} s: {} created, {} updated, {} unchanged, {} bad",
        outcome.rows,
        started.elapsed().as_secs_f64(),
        outcome.created,
        outcome.updated,
        outcome.unchanged,
        outcome.errors.len()
    );
    Ok(outcome.errors.is_empty())
}
