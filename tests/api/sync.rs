//! The change feed (`GET /v1/sync/changes`): a device that reads from `since=0` until `more` is
//! false and then polls holds every item, alias, location, batch, printer and pick list of its
//! user as they are now; deletions and deactivations arrive as `delete`; nothing is skipped,
//! whatever order concurrent writers commit in.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

/// What a device holds: (entity, id) → data.
type View = BTreeMap<(String, String), Value>;

fn key(change: &Value) -> (String, String) {
    let id = match &change["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (change["entity"].as_str().unwrap().to_string(), id)
}

/// Applies one answer to `view`; returns (next_cursor, more, the changes).
fn apply(view: &mut View, body: &Value) -> (String, bool, Vec<Value>) {
    let changes = body["changes"].as_array().expect("changes").clone();
    for change in &changes {
        match change["op"].as_str() {
            Some("upsert") => {
                assert!(change["data"].is_object(), "{change}");
                view.insert(key(change), change["data"].clone());
            }
            Some("delete") => {
                assert!(change["data"].is_null(), "{change}");
                view.remove(&key(change));
            }
            other => panic!("op {other:?}: {change}"),
        }
    }
    (
        body["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_string(),
        body["more"].as_bool().expect("more"),
        changes,
    )
}

/// Reads from `since` until `more` is false; returns the cursor to poll with and every change
/// read on the way.
async fn read_on(
    app: &TestApp,
    token: &str,
    view: &mut View,
    since: &str,
    limit: Option<i64>,
) -> (String, Vec<Value>) {
    let mut cursor = since.to_string();
    let mut all = Vec::new();
    loop {
        let path = match limit {
            Some(l) => format!("/v1/sync/changes?since={cursor}&limit={l}"),
            None => format!("/v1/sync/changes?since={cursor}"),
        };
        let (status, body) = app.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (next, more, changes) = apply(view, &body);
        if let Some(l) = limit {
            assert!(changes.len() as i64 <= l, "{body}");
        }
        assert!(
            next.parse::<i64>().unwrap() >= cursor.parse::<i64>().unwrap(),
            "the cursor went back: {cursor} → {next}"
        );
        all.extend(changes);
        cursor = next;
        if !more {
            return (cursor, all);
        }
    }
}

async fn full_view(app: &TestApp, token: &str) -> (View, String) {
    let mut view = View::new();
    let (cursor, _) = read_on(app, token, &mut view, "0", None).await;
    (view, cursor)
}

fn has<'a>(view: &'a View, entity: &str, id: impl ToString) -> Option<&'a Value> {
    view.get(&(entity.to_string(), id.to_string()))
}

/// The changes of one entity in a list of changes.
fn of<'a>(changes: &'a [Value], entity: &str, id: impl ToString) -> Vec<&'a Value> {
    let id = id.to_string();
    changes
        .iter()
        .filter(|c| key(c) == (entity.to_string(), id.clone()))
        .collect()
}

struct Floor {
    item: i64,
    warehouse: i64,
    bin: i64,
    packing: i64,
}

/// An item with two pack levels and an alias, a warehouse with a bin and a packing location,
/// a batch of 30 received into the bin.
async fn floor(app: &TestApp) -> Floor {
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "MILK", "name": "Milk", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1},
                             {"gtin": "4006381333931", "quantity": 12}]}),
        )
        .await;
    app.create(
        &format!("/v1/items/{item}/aliases"),
        json!({"code": "OLD-MILK", "quantity": 6}),
    )
    .await;
    let (warehouse, bins) = app.warehouse("FD", &[("A", 1), ("PACK", 9)]).await;
    app.receive(
        warehouse,
        bins[0],
        json!([{"item_id": item, "quantity": 30, "batch": "L1", "expiry": date_in(60)}]),
        false,
    )
    .await;
    Floor {
        item,
        warehouse,
        bin: bins[0],
        packing: bins[1],
    }
}

/// A pick list of one reserved unit for `assigned_to` (or for anyone).
async fn pick_list_for(app: &TestApp, f: &Floor, title: &str, assigned_to: Option<i64>) -> i64 {
    let deal = app
        .reserved_deal(&format!("{title} Ltd"), title, f.item, 1, f.warehouse)
        .await;
    let (status, list) = app
        .post(
            "/v1/pick-lists",
            &app.admin_token,
            json!({"deal_ids": [deal], "warehouse_id": f.warehouse,
                   "packing_location_id": f.packing, "assigned_to": assigned_to}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    assert_eq!(list["assigned_to"], json!(assigned_to));
    list["id"].as_i64().unwrap()
}

async fn a_full_read_holds_every_kind_of_entity(app: TestApp) {
    let f = floor(&app).await;
    let (picker_id, picker) = app.user("picker", "warehouse", None).await;
    let (other_id, _) = app.user("other", "warehouse", None).await;
    let (_, rep) = app.user("rep", "rep", None).await;
    let printer = app
        .create(
            "/v1/devices",
            json!({"name": "Dock printer", "kind": "printer", "profile": "pdf-file",
                   "address": "192.0.2.7:9100"}),
        )
        .await;
    let scanner = app
        .create(
            "/v1/devices",
            json!({"name": "Scanner 1", "kind": "scanner", "profile": "generic-wedge"}),
        )
        .await;
    let mine = pick_list_for(&app, &f, "Mine", Some(picker_id)).await;
    let theirs = pick_list_for(&app, &f, "Theirs", Some(other_id)).await;
    let anyones = pick_list_for(&app, &f, "Anyone's", None).await;

    let (view, _) = full_view(&app, &picker).await;
    let item = has(&view, "item", f.item).expect("the item");
    assert_eq!(item["code"], "MILK");
    assert_eq!(item["active"], true);
    let mut packs: Vec<(String, i64)> = item["gtins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["gtin"].as_str().unwrap().to_string(),
                g["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    packs.sort();
    assert_eq!(
        packs,
        [
            ("04006381333931".to_string(), 12),
            ("09506000134352".to_string(), 1)
        ]
    );
    let alias = has(&view, "alias", "OLD-MILK").expect("the alias");
    assert_eq!(
        (alias["item_id"].as_i64(), alias["quantity"].as_i64()),
        (Some(f.item), Some(6))
    );
    let bin = has(&view, "location", f.bin).expect("the bin");
    assert_eq!(bin["barcode"], "FD-A");
    assert!(has(&view, "location", f.packing).is_some());
    let batch = view
        .iter()
        .find(|((e, _), b)| e == "batch" && b["code"] == "L1")
        .expect("the batch")
        .1;
    assert_eq!(
        (batch["item_id"].as_i64(), batch["status"].as_str()),
        (Some(f.item), Some("available"))
    );
    let feed_printer = has(&view, "printer", &printer["id"]).expect("the printer");
    assert_eq!(
        *feed_printer,
        json!({"id": printer["id"], "name": "Dock printer", "profile": "pdf-file"}),
        "a printer without its address"
    );
    assert!(
        has(&view, "printer", &scanner["id"]).is_none(),
        "scanners are no printers"
    );
    let list = has(&view, "pick_list", mine).expect("the picker's own list");
    assert_eq!(list["lines"][0]["item_id"].as_i64(), Some(f.item));
    assert_eq!(list["assigned_to"].as_i64(), Some(picker_id));
    assert!(
        has(&view, "pick_list", anyones).is_some(),
        "a list for anyone"
    );
    assert!(
        has(&view, "pick_list", theirs).is_none(),
        "another picker's list"
    );

    // A scanner's token names no user: the lists for anyone. A rep picks nothing: no lists,
    // but the same master data.
    let (status, device) = app
        .post(
            &format!("/v1/devices/{}/revoke", printer["id"]),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    let (by_scanner, _) = full_view(&app, scanner["token"].as_str().unwrap()).await;
    let lists: Vec<&String> = by_scanner
        .keys()
        .filter(|(e, _)| e == "pick_list")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(lists, [&anyones.to_string()]);
    assert!(
        has(&by_scanner, "printer", &printer["id"]).is_none(),
        "a revoked printer"
    );
    let (by_rep, _) = full_view(&app, &rep).await;
    assert!(
        by_rep.keys().all(|(e, _)| e != "pick_list"),
        "a rep picks nothing"
    );
    assert!(has(&by_rep, "item", f.item).is_some() && has(&by_rep, "alias", "OLD-MILK").is_some());
}

async fn deletions_and_deactivations_show_up(app: TestApp) {
    let admin = app.admin_token.clone();
    let f = floor(&app).await;
    let (_, batches) = app
        .get(&format!("/v1/batches?item_id={}", f.item), &admin)
        .await;
    let batch = batches["items"][0]["id"].as_i64().unwrap();
    let (mut view, cursor) = full_view(&app, &admin).await;

    // A GTIN removed: the item again, with the GTIN gone.
    let (status, body) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/items/{}/gtins/4006381333931", f.item),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (cursor, changes) = read_on(&app, &admin, &mut view, &cursor, None).await;
    assert_eq!(of(&changes, "item", f.item)[0]["op"], "upsert");
    assert_eq!(
        has(&view, "item", f.item).unwrap()["gtins"],
        json!([{"gtin": "09506000134352", "quantity": 1}])
    );

    // An alias unlinked, a batch recalled, a bin's barcode changed.
    let (status, body) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/items/{}/aliases/OLD-MILK", f.item),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (status, body["items"].clone()),
        (StatusCode::OK, json!([])),
        "{body}"
    );
    let (status, body) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/items/{}/aliases/OLD-MILK", f.item),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .patch(
            &format!("/v1/batches/{batch}"),
            &admin,
            json!({"status": "recalled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(
            &format!("/v1/locations/{}", f.bin),
            &admin,
            json!({"barcode": "BIN-A-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (cursor, changes) = read_on(&app, &admin, &mut view, &cursor, None).await;
    let alias = of(&changes, "alias", "OLD-MILK");
    assert_eq!((alias.len(), alias[0]["op"].as_str()), (1, Some("delete")));
    assert!(has(&view, "alias", "OLD-MILK").is_none());
    assert_eq!(has(&view, "batch", batch).unwrap()["status"], "recalled");
    assert_eq!(has(&view, "location", f.bin).unwrap()["barcode"], "BIN-A-2");
    assert!(of(&changes, "item", f.item).is_empty(), "{changes:?}");

    // An item deactivated is deleted; put back, it comes back.
    let (status, body) = app
        .patch(
            &format!("/v1/items/{}", f.item),
            &admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(
        (status, body["active"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{body}"
    );
    let (cursor, changes) = read_on(&app, &admin, &mut view, &cursor, None).await;
    let item = of(&changes, "item", f.item);
    assert_eq!((item.len(), item[0]["op"].as_str()), (1, Some("delete")));
    assert!(has(&view, "item", f.item).is_none());
    app.patch(
        &format!("/v1/items/{}", f.item),
        &admin,
        json!({"active": true}),
    )
    .await;
    let (cursor, _) = read_on(&app, &admin, &mut view, &cursor, None).await;
    assert_eq!(has(&view, "item", f.item).unwrap()["active"], true);

    // Polling with nothing new: no changes, the same cursor.
    let (again, changes) = read_on(&app, &admin, &mut view, &cursor, None).await;
    assert_eq!((again, changes.len()), (cursor, 0));
    // And the view is what a fresh read holds.
    assert_eq!(view, full_view(&app, &admin).await.0);
}

async fn small_pages_reach_everything(app: TestApp) {
    let admin = app.admin_token.clone();
    let f = floor(&app).await;
    for i in 0..9 {
        let id = app
            .create_id(
                "/v1/items",
                json!({"code": format!("P{i}"), "name": format!("Page {i}")}),
            )
            .await;
        if i % 3 == 0 {
            app.patch(
                &format!("/v1/items/{id}"),
                &admin,
                json!({"name": format!("Renamed {i}")}),
            )
            .await;
        }
    }
    let (whole, head) = full_view(&app, &admin).await;
    for limit in [1, 2, 7] {
        let mut view = View::new();
        let (cursor, changes) = read_on(&app, &admin, &mut view, "0", Some(limit)).await;
        assert_eq!(view, whole, "limit {limit}");
        assert_eq!(cursor, head, "limit {limit}");
        assert!(changes.len() >= whole.len());
    }
    // An entity appears once per answer, however often it changed.
    let (status, body) = app.get("/v1/sync/changes?since=0&limit=1000", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = HashMap::new();
    for c in body["changes"].as_array().unwrap() {
        assert!(
            seen.insert(key(c), ()).is_none(),
            "twice in one answer: {c}"
        );
    }
    assert!(has(&whole, "item", f.item).is_some());
    assert_eq!(
        whole.keys().filter(|(e, _)| e == "item").count(),
        10,
        "{whole:?}"
    );
}

async fn reassigned_and_closed_pick_lists_are_deleted(app: TestApp) {
    let admin = app.admin_token.clone();
    let f = floor(&app).await;
    let (picker_id, picker) = app.user("picker", "warehouse", None).await;
    let (other_id, other) = app.user("other", "warehouse", None).await;
    let (rep_id, _) = app.user("rep", "rep", None).await;
    let list = pick_list_for(&app, &f, "Reassigned", Some(picker_id)).await;
    let (mut mine, my_cursor) = full_view(&app, &picker).await;
    let (mut theirs, their_cursor) = full_view(&app, &other).await;
    assert!(has(&mine, "pick_list", list).is_some());
    assert!(has(&theirs, "pick_list", list).is_none());

    // Only pickers are assigned, and only open lists are reassigned.
    let path = format!("/v1/pick-lists/{list}");
    let (status, body) = app
        .patch(&path, &admin, json!({"assigned_to": rep_id}))
        .await;
    assert_problem(status, &body, 422, Some("assigned_to"));
    let (status, body) = app
        .patch(&path, &admin, json!({"assigned_to": other_id}))
        .await;
    assert_eq!(
        (status, body["assigned_to"].as_i64()),
        (StatusCode::OK, Some(other_id)),
        "{body}"
    );
    let (my_cursor, changes) = read_on(&app, &picker, &mut mine, &my_cursor, None).await;
    assert_eq!(
        of(&changes, "pick_list", list)[0]["op"],
        "delete",
        "{changes:?}"
    );
    assert!(has(&mine, "pick_list", list).is_none());
    let (their_cursor, _) = read_on(&app, &other, &mut theirs, &their_cursor, None).await;
    assert_eq!(
        has(&theirs, "pick_list", list).unwrap()["assigned_to"].as_i64(),
        Some(other_id)
    );

    // To nobody: everyone's again. Picked to the end: closed, gone for everyone.
    let (status, body) = app.patch(&path, &admin, json!({"assigned_to": null})).await;
    assert_eq!(
        (status, body["assigned_to"].clone()),
        (StatusCode::OK, Value::Null),
        "{body}"
    );
    let (my_cursor, _) = read_on(&app, &picker, &mut mine, &my_cursor, None).await;
    assert!(has(&mine, "pick_list", list).is_some());
    let scans = format!("/v1/pick-lists/{list}/scans");
    let (status, body) = app
        .post(&scans, &picker, json!({"location_id": f.bin}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &scans,
            &picker,
            json!({"item_id": f.item, "batch": "L1", "quantity": 1}),
        )
        .await;
    assert_eq!(
        (status, body["list_remaining"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
    let (_, changes) = read_on(&app, &picker, &mut mine, &my_cursor, None).await;
    assert_eq!(of(&changes, "pick_list", list)[0]["op"], "delete");
    read_on(&app, &other, &mut theirs, &their_cursor, None).await;
    assert!(has(&mine, "pick_list", list).is_none() && has(&theirs, "pick_list", list).is_none());
    let (status, body) = app
        .patch(&path, &admin, json!({"assigned_to": picker_id}))
        .await;
    assert_problem(status, &body, 409, Some("status"));
}

async fn bad_cursors_and_limits_are_refused(app: TestApp) {
    let admin = app.admin_token.clone();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("since=+3", "since"),
        ("since=99999999", "since"),
    ] {
        let (status, body) = app.get(&format!("/v1/sync/changes?{query}"), &admin).await;
        assert_problem(status, &body, 400, Some(field));
    }
    let (status, body) = app.get("/v1/sync/changes?limit=1000", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .send(reqwest::Method::GET, "/v1/sync/changes", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// An item written straight into the database, as a transaction of some other code path would.
const INSERT_ITEM: &str = "insert into items (code, name, unit, tracking, source,
         requires_certificate, created_at, updated_at)
     values ($1, $2, 'pcs', 'none', 'purchased', false, $3, $3) returning id";

/// PostgreSQL: a change numbered before another commits after it, and after a reader read past
/// the later one. The reader still gets it. (SQLite has one writer: changes commit in order.)
async fn a_change_that_commits_late_is_not_skipped(app: TestApp) {
    let admin = app.admin_token.clone();
    let db = app.state.db.clone();
    let (mut view, cursor) = full_view(&app, &admin).await;
    let postgres = db.kind() == depot::db::Kind::Postgres;
    let mut late = db.begin().await.unwrap();
    let late_id = depot::on_tx!(&mut late, conn => {
        sqlx::query_scalar::<_, i64>(INSERT_ITEM)
            .bind("LATE")
            .bind("Late")
            .bind(depot::db::now())
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    });
    let mut late = Some(late);
    if !postgres && let Some(tx) = late.take() {
        tx.commit().await.unwrap();
    }
    let early = app
        .create_id("/v1/items", json!({"code": "EARLY", "name": "Early"}))
        .await;
    let (cursor, _) = read_on(&app, &admin, &mut view, &cursor, None).await;
    assert!(has(&view, "item", early).is_some());
    if let Some(mut tx) = late.take() {
        assert!(has(&view, "item", late_id).is_none(), "not committed yet");
        // Numbered first, not yet in the feed, while the later one is.
        let numbers = depot::on_tx!(&mut tx, conn => {
            sqlx::query_as::<_, (i64, Option<i64>)>(
                "select id, position from sync_changes where entity = 'item' and entity_id in ($1, $2) order by id",
            )
            .bind(late_id)
            .bind(early)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
        });
        assert_eq!(numbers.len(), 2, "{numbers:?}");
        assert!(
            numbers[0].1.is_none() && numbers[1].1.is_some(),
            "{numbers:?}"
        );
        tx.commit().await.unwrap();
    }
    let (_, changes) = read_on(&app, &admin, &mut view, &cursor, None).await;
    if postgres {
        assert_eq!(of(&changes, "item", late_id).len(), 1, "{changes:?}");
    }
    assert_eq!(has(&view, "item", late_id).unwrap()["code"], "LATE");
}

/// The property: writers create, rename and deactivate items and create and move locations
/// through the API, 16 at a time, and slow writers hold their transaction open a while after
/// their change was numbered (so that on PostgreSQL changes commit out of order), while a
/// reader polls the feed from `since=0` with small pages. Once the writers are done and the
/// reader has read to the end, it holds exactly what the database holds: every entity written,
/// as it is now.
async fn concurrent_writers_never_lose_a_change(app: TestApp) {
    const WRITERS: usize = 16;
    const SLOW: usize = 8;
    const ITEMS: usize = 5;
    let admin = app.admin_token.clone();
    let (warehouse, _) = app.warehouse("CW", &[]).await;
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let done = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = app.client.clone();
        let base = app.base.clone();
        let token = admin.clone();
        let done = done.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ w as u64);
            let send = |method: reqwest::Method, path: String, body: Value| {
                let request = client
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&body);
                async move {
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap();
                    assert!(status.is_success(), "{status}: {body}");
                    body
                }
            };
            // (item id → expected name, or None when deactivated); location ids.
            let mut items: Vec<(i64, Option<String>)> = Vec::new();
            let mut locations = Vec::new();
            for i in 0..ITEMS {
                let name = format!("W{w} item {i}");
                let item = send(
                    reqwest::Method::POST,
                    "/v1/items".into(),
                    json!({"code": format!("W{w}-{i}"), "name": name}),
                )
                .await;
                items.push((item["id"].as_i64().unwrap(), Some(name)));
                if rng.gen_bool(0.5) {
                    let location = send(
                        reqwest::Method::POST,
                        format!("/v1/warehouses/{warehouse}/locations"),
                        json!({"code": format!("W{w}-{i}")}),
                    )
                    .await;
                    locations.push(location["id"].as_i64().unwrap());
                }
                // Now and then, change something written before.
                let (id, expected) = items[rng.gen_range(0..items.len())].clone();
                match rng.gen_range(0..4) {
                    0 if expected.is_some() => {
                        let name = format!("W{w} renamed {i}");
                        send(
                            reqwest::Method::PATCH,
                            format!("/v1/items/{id}"),
                            json!({"name": name}),
                        )
                        .await;
                        items.iter_mut().find(|(x, _)| *x == id).unwrap().1 = Some(name);
                    }
                    1 => {
                        send(
                            reqwest::Method::PATCH,
                            format!("/v1/items/{id}"),
                            json!({"active": false}),
                        )
                        .await;
                        items.iter_mut().find(|(x, _)| *x == id).unwrap().1 = None;
                    }
                    2 if !locations.is_empty() => {
                        let location = locations[rng.gen_range(0..locations.len())];
                        send(
                            reqwest::Method::PATCH,
                            format!("/v1/locations/{location}"),
                            json!({"pick_sequence": rng.gen_range(1..1000)}),
                        )
                        .await;
                    }
                    _ => {}
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
            (items, locations)
        }));
    }
    // Slow writers write until the others are done.
    for w in 0..SLOW {
        let db = app.state.db.clone();
        let done = done.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (1000 + w) as u64);
            let mut items = Vec::new();
            for i in 0.. {
                if i >= ITEMS && done.load(Ordering::SeqCst) >= WRITERS {
                    break;
                }
                let name = format!("Slow {w} item {i}");
                let mut tx = db.begin().await.unwrap();
                let id = depot::on_tx!(&mut tx, conn => {
                    sqlx::query_scalar::<_, i64>(INSERT_ITEM)
                        .bind(format!("S{w}-{i}"))
                        .bind(&name)
                        .bind(depot::db::now())
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap()
                });
                let pause = rng.gen_range(5..40);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                tx.commit().await.unwrap();
                items.push((id, Some(name)));
            }
            done.fetch_add(1, Ordering::SeqCst);
            (items, Vec::new())
        }));
    }
    // The reader polls while they write, with small pages; after the last writer is done it
    // reads once more to the end.
    let mut view = View::new();
    let mut cursor = "0".to_string();
    let mut polls = 0;
    loop {
        let finished = done.load(Ordering::SeqCst) == WRITERS + SLOW;
        let (next, _) = read_on(&app, &admin, &mut view, &cursor, Some(7)).await;
        cursor = next;
        polls += 1;
        if finished {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(polls > 1, "the reader read only after the writers");
    let mut written_items = 0;
    let mut written_locations = 0;
    for writer in writers {
        let (items, locations) = writer.await.unwrap();
        for (id, expected) in items {
            written_items += 1;
            match expected {
                Some(name) => {
                    let held = has(&view, "item", id)
                        .unwrap_or_else(|| panic!("item {id} missed (seed {seed})"));
                    assert_eq!(held["name"].as_str(), Some(name.as_str()), "seed {seed}");
                }
                None => assert!(
                    has(&view, "item", id).is_none(),
                    "item {id} deactivated (seed {seed})"
                ),
            }
        }
        for id in locations {
            written_locations += 1;
            let held = has(&view, "location", id)
                .unwrap_or_else(|| panic!("location {id} missed (seed {seed})"));
            let (_, now) = app.get(&format!("/v1/locations/{id}"), &admin).await;
            assert_eq!(held, &now, "seed {seed}");
        }
    }
    assert!(written_items >= (WRITERS + SLOW) * ITEMS);
    assert!(written_locations > 0);
    assert_eq!(view, full_view(&app, &admin).await.0, "seed {seed}");
}

crate::on_both!(
    a_full_read_holds_every_kind_of_entity,
    deletions_and_deactivations_show_up,
    small_pages_reach_everything,
    reassigned_and_closed_pick_lists_are_deleted,
    bad_cursors_and_limits_are_refused,
    a_change_that_commits_late_is_not_skipped,
    concurrent_writers_never_lose_a_change,
);
