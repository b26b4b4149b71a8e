//! Issue 20, drill 2: Depot through PgBouncer. Two instances reach one PostgreSQL database only
//! through PgBouncer (Debian's package, started by the test on 127.0.0.1 as the `postgres`
//! user, since it refuses to run as root); 64 clients race to reserve 40 units, one each, and
//! exactly 40 get them; the ledger stays consistent.
//!
//! The one setting Depot needs: `ignore_startup_parameters = extra_float_digits` (sqlx sends it
//! at connect; PgBouncer refuses unknown startup parameters otherwise).
//! Pool mode `session`: sqlx prepares named statements on its connections, which PgBouncer 1.18
//! (Debian 12's) does not track across server connections, so `transaction` mode needs
//! PgBouncer 1.21+ with `max_prepared_statements` (docs/operations.md).

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use std::process::{Child, Command, Stdio};

use binary::{
    Depot, create, free_port, is_root, login, post, run, sbin, wait_for_port, warehouse_bin_item,
};
use scratch_db::ScratchDb;
use serde_json::{Value, json};

const RACERS: usize = 64;
const STOCK: i64 = 40;

struct Pgbouncer(Child);

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// PgBouncer on `port` in front of the database of `url`, in `mode`.
fn pgbouncer(work: &std::path::Path, port: u16, url: &str, mode: &str) -> Pgbouncer {
    let database = url.rsplit('/').next().unwrap();
    let dir = work.join("pgbouncer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    std::fs::write(
        dir.join("pgbouncer.ini"),
        format!(
            "[databases]
{database} = host=127.0.0.1 port=5432 dbname={database}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = {mode}
ignore_startup_parameters = extra_float_digits
max_client_conn = 500
default_pool_size = 60
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
",
            dir = dir.display()
        ),
    )
    .unwrap();
    // PgBouncer refuses to run as root: as root, run it as the postgres user.
    let exe = sbin("pgbouncer");
    let ini = dir.join("pgbouncer.ini");
    let mut command = if is_root() {
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &exe]).arg(&ini);
        c
    } else {
        let mut c = Command::new(exe);
        c.arg(&ini);
        c
    };
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbouncer is needed (Debian package pgbouncer; tests/run installs it)");
    Pgbouncer(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_race_through_pgbouncer() {
    let scratch = ScratchDb::postgres().await;
    let work = std::env::temp_dir().join(format!("depot-pgbouncer-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    // The folder must be reachable by the postgres user PgBouncer runs as.
    let _ = Command::new("chmod").args(["755"]).arg(&work).status();
    let port = free_port();
    let _bouncer = pgbouncer(&work, port, &scratch.url, "session");
    let database = scratch.url.rsplit('/').next().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{database}");
    wait_for_port(port, "pgbouncer");
    let client = reqwest::Client::new();
    let a = Depot::start(&url, &work, &[]);
    a.ready(&client).await;
    let b = Depot::start(&url, &work, &[]);
    b.ready(&client).await;
    let token = login(&client, &a.base).await;
    let base = a.base.clone();
    let (warehouse, bin, item) = warehouse_bin_item(
        &client,
        &base,
        &token,
        "PB",
        json!({"code": "BOLT", "name": "Bolt"}),
    )
    .await;
    let customer = create(
        &client,
        &base,
        &token,
        "/v1/customers",
        json!({"legal_name": "Race Ltd"}),
    )
    .await;
    post(
        &client,
        &base,
        &token,
        "/v1/receipts",
        json!({"warehouse_id": warehouse, "location_id": bin,
        "lines": [{"item_id": item, "quantity": STOCK}]}),
    )
    .await;
    let mut deals = Vec::new();
    for n in 0..RACERS {
        deals.push(
            create(
                &client,
                &base,
                &token,
                "/v1/deals",
                json!({"customer_id": customer,
            "title": format!("race {n}"), "lines": [{"item_id": item, "quantity": 1}]}),
            )
            .await,
        );
    }
    // Half the racers through each instance, all at once.
    let racers: Vec<_> = deals
        .iter()
        .enumerate()
        .map(|(n, deal)| {
            let base = if n % 2 == 0 {
                a.base.clone()
            } else {
                b.base.clone()
            };
            let (client, token, deal) = (client.clone(), token.clone(), *deal);
            tokio::spawn(async move {
                let answer = post(
                    &client,
                    &base,
                    &token,
                    &format!("/v1/deals/{deal}/reserve"),
                    json!({"warehouse_id": warehouse}),
                )
                .await;
                answer.to_string()
            })
        })
        .collect();
    for r in racers {
        r.await.unwrap();
    }
    let stock = client
        .get(format!("{}/v1/stock?item_id={item}", b.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let reserved: i64 = stock["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{stock}"))
        .iter()
        .map(|row| row["reserved"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        reserved, STOCK,
        "exactly the stock on hand is reserved: {stock}"
    );
    let (ok, out) = run(&url, &["check"]);
    assert!(ok, "depot check through pgbouncer: {out}");
    println!(
        "pgbouncer (session mode): {RACERS} racers on 2 instances, {reserved} of {STOCK} reserved"
    );
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&work);
}
