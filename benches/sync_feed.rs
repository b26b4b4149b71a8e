//! Reading the whole change feed (`GET /v1/sync/changes`) against paging the online item list
//! (`GET /v1/items`) through the same catalog, in one run; and what the feed's triggers add to a
//! write.
//!
//!     cargo bench --bench sync_feed                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench sync_feed
//!     DEPOT_BENCH_ITEMS=20000 DEPOT_BENCH_ROUNDS=5 cargo bench --bench sync_feed
//!
//! Starts Depot on 127.0.0.1 (port 0) on a scratch SQLite file (or a scratch PostgreSQL database
//! created and dropped here) and inserts `DEPOT_BENCH_ITEMS` items (default 100,000) with one
//! GTIN each straight into the database, 500 rows per statement (the feed's triggers record two
//! changes per item: the item and its GTIN). Then one client reads, one request after another as
//! a device does:
//!
//! - the feed from `since=0` until `more` is false, the first time (its first request gives
//!   every change its position: the sequencer's one-off cost after a bulk load);
//! - the feed again from `since=0`, at `limit=1000` and at `limit=500`;
//! - `GET /v1/items?limit=500` from the first page until `next_cursor` is null;
//!
//! each `DEPOT_BENCH_ROUNDS` times (default 3), alternating, and prints the median time, items
//! per second, bytes and the ratio to the online route. Every read must hold every item. Then
//! the same two reads through the domain functions the handlers call (`sync::changes::read`,
//! `catalog::items::list`), without HTTP and JSON.
//!
//! Then the trigger cost: `DEPOT_BENCH_WRITES` (default 2,000) single-row `update items`
//! transactions with the triggers, the same after dropping the item triggers in the scratch
//! database, and the same again with them (two rounds each, alternating).
//! Only talks to loopback; does nothing unless argv contains `--bench`.

#[path = "common/scratch.rs"]
mod scratch;

use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::db::{Db, Kind};
use serde_json::{Value, json};

fn gtin14(i: u64) -> String {
    let body = format!("{:012}", 400_000_000_000u64 + i);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("0{body}{}", depot::catalog::gtin::check_digit(&digits))
}

/// Inserts `count` items with one GTIN each, 500 per statement, 20 statements per transaction.
async fn seed(db: &Db, count: u64) -> anyhow::Result<()> {
    let at = depot::db::now();
    let mut start = 0;
    while start < count {
        let end = (start + 10_000).min(count);
        depot::in_tx!(db, tx => {
            let mut from = start;
            while from < end {
                let to = (from + 500).min(end);
                let items: Vec<String> = (from..to)
                    .map(|i| format!("('FEED-{i}', 'Feed item {i}', 'pcs', 'none', 'purchased', false, $1, $1)"))
                    .collect();
                let gtins: Vec<String> = (from..to)
                    .map(|i| format!("('{}', (select id from items where code = 'FEED-{i}'), 1)", gtin14(i)))
                    .collect();
                sqlx::query(&format!(
                    "insert into items (code, name, unit, tracking, source, requires_certificate, created_at, updated_at) values {}",
                    items.join(",")
                ))
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "insert into item_gtins (gtin, item_id, quantity) values {}",
                    gtins.join(",")
                ))
                .execute(&mut *tx)
                .await?;
                from = to;
            }
        });
        start = end;
    }
    Ok(())
}

struct Read {
    took: Duration,
    requests: usize,
    bytes: usize,
    items: usize,
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<(Value, usize)> {
    let response = client.get(url).bearer_auth(token).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let bytes = response.bytes().await?;
    Ok((serde_json::from_slice(&bytes)?, bytes.len()))
}

/// The whole feed from `since=0`, page by page.
async fn read_feed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    limit: u64,
) -> anyhow::Result<Read> {
    let started = Instant::now();
    let (mut cursor, mut requests, mut bytes) = ("0".to_string(), 0, 0);
    let mut items = std::collections::HashSet::new();
    loop {
        let (page, size) = get(
            client,
            &format!("{base}/v1/sync/changes?since={cursor}&limit={limit}"),
            token,
        )
        .await?;
        requests += 1;
        bytes += size;
        for change in page["changes"].as_array().into_iter().flatten() {
            if change["entity"] == "item" && change["op"] == "upsert" {
                items.insert(change["id"].as_i64().unwrap_or_default());
            }
        }
        cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
        if page["more"] != json!(true) {
            break;
        }
    }
    Ok(Read {
        took: started.elapsed(),
        requests,
        bytes,
        items: items.len(),
    })
}

/// Every item through `GET /v1/items`, page by page.
async fn read_items(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Read> {
    let started = Instant::now();
    let (mut cursor, mut requests, mut bytes, mut items) = (String::new(), 0, 0, 0);
    loop {
        let (page, size) = get(
            client,
            &format!("{base}/v1/items?limit=500&cursor={cursor}"),
            token,
        )
        .await?;
        requests += 1;
        bytes += size;
        items += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    Ok(Read {
        took: started.elapsed(),
        requests,
        bytes,
        items,
    })
}

/// The whole feed and the whole item list through the domain functions the handlers call (no
/// HTTP, no JSON): (feed, list).
async fn read_domain(db: &Db, count: u64) -> anyhow::Result<(Duration, Duration)> {
    use depot::sync::changes::{self, Read, Reader};
    let reader = Reader {
        user_id: Some(1),
        picks: true,
    };
    let started = Instant::now();
    let (mut since, mut items) = (0, 0);
    loop {
        let Read::Page(page) = changes::read(db, reader, since, 1000).await? else {
            anyhow::bail!("the feed answered 'ahead'");
        };
        items += page.changes.len();
        since = page.next_cursor.parse()?;
        if !page.more {
            break;
        }
    }
    let feed = started.elapsed();
    anyhow::ensure!(items as u64 >= count, "the feed held {items} changes");
    let started = Instant::now();
    let mut page = depot::db::Page::first(500);
    let filter = depot::catalog::items::ItemFilter::default();
    loop {
        let listed = depot::catalog::items::list(db, &filter, page).await?;
        match listed.next_after {
            Some(after) => page.after = after,
            None => break,
        }
    }
    Ok((feed, started.elapsed()))
}

/// `count` single-row item updates, each its own transaction; the time per write.
async fn writes(db: &Db, count: u64, items: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for i in 0..count {
        let id = (i * 7919) % items + 1;
        depot::in_tx!(db, tx => {
            sqlx::query("update items set name = $1, updated_at = $2 where id = $3")
                .bind(format!("Renamed {i}"))
                .bind(depot::db::now())
                .bind(id as i64)
                .execute(&mut *tx)
                .await?;
        });
    }
    Ok(started.elapsed() / count as u32)
}

/// Drops (or creates again) the triggers that record item updates, in the scratch database.
async fn item_update_trigger(db: &Db, on: bool) -> anyhow::Result<()> {
    let sql = match (db.kind(), on) {
        (Kind::Sqlite, false) => "drop trigger items_sync_update".to_string(),
        (Kind::Sqlite, true) => "create trigger items_sync_update after update on items begin
             insert into sync_changes (entity, entity_id, created_at)
             values ('item', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
         end"
        .to_string(),
        (Kind::Postgres, false) => "drop trigger items_sync on items".to_string(),
        (Kind::Postgres, true) => {
            "create trigger items_sync after insert or update or delete on items
             for each row execute function sync_item_changed()"
                .to_string()
        }
    };
    depot::in_tx!(db, tx => {
        sqlx::query(&sql).execute(&mut *tx).await?;
    });
    Ok(())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn bench(state: AppState, backend: &str) -> anyhow::Result<()> {
    let count = scratch::env_u64("DEPOT_BENCH_ITEMS", 100_000).max(1);
    let rounds = scratch::env_u64("DEPOT_BENCH_ROUNDS", 3).max(1);
    let write_count = scratch::env_u64("DEPOT_BENCH_WRITES", 2_000).max(1);
    let db = state.db.clone();
    let seeded = Instant::now();
    seed(&db, count).await?;
    println!(
        "seeded {count} items (and their changes) in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let first = read_feed(&client, &base, &token, 1000).await?;
    anyhow::ensure!(
        first.items as u64 == count,
        "the first read held {} items",
        first.items
    );
    let mut runs: Vec<(&str, Vec<Read>)> = vec![
        ("GET /v1/items?limit=500 (online)", Vec::new()),
        ("GET /v1/sync/changes?limit=1000", Vec::new()),
        ("GET /v1/sync/changes?limit=500", Vec::new()),
    ];
    for _ in 0..rounds {
        let online = read_items(&client, &base, &token).await?;
        let feed = read_feed(&client, &base, &token, 1000).await?;
        let feed_500 = read_feed(&client, &base, &token, 500).await?;
        for (read, (_, into)) in [online, feed, feed_500].into_iter().zip(runs.iter_mut()) {
            anyhow::ensure!(
                read.items as u64 == count,
                "a read held {} items",
                read.items
            );
            into.push(read);
        }
    }
    let online = median(runs[0].1.iter().map(|r| r.took).collect());
    println!("\nbackend: {backend}   items: {count}   rounds: {rounds} (median)");
    println!(
        "{:<40} {:>9} {:>10} {:>9} {:>11} {:>9}",
        "read", "seconds", "items/s", "requests", "MB", "÷ online"
    );
    let line = |name: &str, took: Duration, r: &Read| {
        println!(
            "{:<40} {:>9.2} {:>10.0} {:>9} {:>11.1} {:>8.2}×",
            name,
            took.as_secs_f64(),
            count as f64 / took.as_secs_f64(),
            r.requests,
            r.bytes as f64 / 1e6,
            took.as_secs_f64() / online.as_secs_f64()
        );
    };
    line(
        "first feed read (sequences every change)",
        first.took,
        &first,
    );
    for (name, reads) in &runs {
        line(
            name,
            median(reads.iter().map(|r| r.took).collect()),
            &reads[0],
        );
    }

    let mut domain = Vec::new();
    for _ in 0..rounds {
        domain.push(read_domain(&db, count).await?);
    }
    let feed = median(domain.iter().map(|d| d.0).collect());
    let list = median(domain.iter().map(|d| d.1).collect());
    println!(
        "domain functions only (no HTTP, no JSON): feed (limit 1000) {:.2} s, item list (limit 500) {:.2} s, {:.2}×",
        feed.as_secs_f64(),
        list.as_secs_f64(),
        feed.as_secs_f64() / list.as_secs_f64()
    );

    // What the triggers add to a write: the same updates with and without the item triggers.
    let mut with = Vec::new();
    let mut without = Vec::new();
    for _ in 0..2 {
        with.push(writes(&db, write_count, count).await?);
        item_update_trigger(&db, false).await?;
        without.push(writes(&db, write_count, count).await?);
        item_update_trigger(&db, true).await?;
    }
    let (with, without) = (median(with), median(without));
    println!(
        "\nsingle-row update transactions ({write_count} per run, 2 runs each): with the trigger {:.0} µs, without {:.0} µs, the trigger adds {:.0} µs ({:+.0} %)",
        with.as_secs_f64() * 1e6,
        without.as_secs_f64() * 1e6,
        (with.as_secs_f64() - without.as_secs_f64()) * 1e6,
        100.0 * (with.as_secs_f64() / without.as_secs_f64() - 1.0)
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs bench targets without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let scratch = scratch::Scratch::create("sync_feed").await?;
    let backend = scratch.backend;
    let config = Config {
        database_url: scratch.url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        ..Config::default()
    };
    let result = match AppState::start(config).await {
        Ok(state) => bench(state, backend).await,
        Err(e) => Err(e),
    };
    scratch.remove().await?;
    result
}
