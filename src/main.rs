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
            println!("{}", depot::api::openapi().to_pretty_json()?);
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
