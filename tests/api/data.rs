//! Issue 18, data in and out: exports of whole record kinds as CSV, streamed; imports with a
//! dry run, all rows or none, matched by natural key; the caller's role checked.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

crate::on_both!(
    exports_stream_every_row_as_csv,
    exports_are_for_managers_and_the_floor,
    imports_check_every_row_and_apply_all_or_none,
    warehouses_and_locations_import_and_items_round_trip,
    opening_stock_and_suppliers_import_once,
    customers_import_with_their_address_and_contact,
    bills_of_materials_import_whole,
    xlsx_workbooks_import_like_csv_files,
    big_files_import_as_jobs,
    deals_and_shipments_export,
    the_documented_example_files_import,
);

/// The rows of a CSV body as header → value maps.
pub(crate) fn rows(csv_bytes: &[u8]) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

async fn exports_stream_every_row_as_csv(app: TestApp) {
    let admin = app.admin_token.clone();
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt, 500 g", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1},
                             {"gtin": "09506000134369", "quantity": 12}]}),
        )
        .await;
    let (wh, bins) = app.warehouse("EX", &[("A", 1)]).await;
    // 2,500 ledger rows: more than two pages of the stream.
    for n in 0..25 {
        let lines: Vec<_> = (0..100)
            .map(|i| json!({"item_id": item, "quantity": 1, "batch": format!("B{n}-{i}"), "expiry": date_in(60)}))
            .collect();
        app.receive(wh, bins[0], json!(lines), false).await;
    }
    let (status, content_type, body) = app.download("/v1/exports/ledger", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let ledger = rows(&body);
    assert_eq!(ledger.len(), 2500);
    let ids: Vec<i64> = ledger.iter().map(|r| r["id"].parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no row twice"
    );
    assert_eq!(ledger[0]["kind"], "receipt");
    assert_eq!(ledger[0]["quantity"], "1");
    assert!(ledger[0]["posted_at"].contains('T'), "{:?}", ledger[0]);
    // A date range that ends before the first movement: the header only.
    let (status, _, body) = app
        .download("/v1/exports/ledger?until=2000-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows(&body).is_empty());
    let (_, _, full) = app.download("/v1/exports/ledger", &admin).await;
    assert_eq!(header(&body), header(&full), "the header even without rows");
    assert!(
        header(&body).starts_with("id,item_id,batch_id,"),
        "{}",
        header(&body)
    );

    let (_, _, body) = app.download("/v1/exports/items", &admin).await;
    let items = rows(&body);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], "YOG");
    assert_eq!(
        items[0]["name"], "Yoghurt, 500 g",
        "a comma inside a quoted field"
    );
    assert_eq!(items[0]["gtins"], "09506000134352*1|09506000134369*12");
    assert_eq!(items[0]["tracking"], "batch");

    let (_, _, body) = app.download("/v1/exports/batches", &admin).await;
    let batches = rows(&body);
    assert_eq!(batches.len(), 2500);
    assert!(
        batches.iter().all(|b| b["code"].starts_with('B')
            && b["status"] == "available"
            && b["item_id"] == item.to_string()
            && b["expiry_date"] == date_in(60)),
        "{:?}",
        batches[0]
    );
    let (_, _, body) = app.download("/v1/exports/stock", &admin).await;
    let stock = rows(&body);
    assert_eq!(stock.len(), 2500);
    let on_hand: i64 = stock
        .iter()
        .map(|r| r["on_hand"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(on_hand, 2500);
    assert_eq!(stock[0]["location_code"], "A");
}

/// The first line of a CSV body.
pub(crate) fn header(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

async fn exports_are_for_managers_and_the_floor(app: TestApp) {
    let (_, rep) = app.user("rep", "rep", None).await;
    let (status, _, _) = app.download("/v1/exports/items", &rep).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    // Nothing in stock yet: each kind's header alone, naming the same columns as the header over
    // rows (which comes from the rows' own fields).
    let mut empty = Vec::new();
    for kind in ["items", "stock", "batches", "ledger"] {
        let (status, _, body) = app.download(&format!("/v1/exports/{kind}"), &keeper).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body.iter().filter(|b| **b == b'\n').count(),
            1,
            "{kind}: the header alone"
        );
        empty.push(header(&body));
    }
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "BOLT", "name": "Bolt", "tracking": "batch"}),
        )
        .await;
    let (wh, bins) = app.warehouse("HD", &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": 5, "batch": "H1", "expiry": date_in(9)}]),
        false,
    )
    .await;
    for (i, kind) in ["items", "stock", "batches", "ledger"].iter().enumerate() {
        let (_, _, body) = app.download(&format!("/v1/exports/{kind}"), &keeper).await;
        assert_eq!(rows(&body).len(), 1, "{kind}");
        assert_eq!(
            header(&body),
            empty[i],
            "{kind}: the same columns with and without rows"
        );
    }
    let (status, body) = app.get("/v1/exports/planets", &app.admin_token).await;
    assert_problem(status, &body, 422, Some("kind"));
    let (status, body) = app
        .get("/v1/exports/ledger?from=yesterday", &app.admin_token)
        .await;
    assert!(status.is_client_error(), "{status} {body}");
}

/// POSTs a file as `text/csv`.
async fn upload(
    app: &TestApp,
    path: &str,
    token: &str,
    file: &[u8],
) -> (StatusCode, serde_json::Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(file.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

async fn item_count(app: &TestApp) -> usize {
    let (_, list) = app.get("/v1/items?limit=500", &app.admin_token).await;
    list["items"].as_array().unwrap().len()
}

async fn imports_check_every_row_and_apply_all_or_none(app: TestApp) {
    let admin = app.admin_token.clone();
    // As Excel writes it in Germany: a byte-order mark would be UTF-8; this is Windows-1252
    // with semicolons, header names in any case, a quoted name with a line break.
    let good = b"Code;NAME;unit;Tracking;shelf_life_days;gtins\r\n\
        K\xC4SE-1;\"Bergk\xE4se\r\n200 g\";pcs;batch;90;4006381333931\r\n\
        YOG;Yoghurt;pcs;batch;28;09506000134352*1|09506000134369*12\r\n";
    let (status, dry) = upload(&app, "/v1/imports/items?dry_run=true", &admin, good).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        dry,
        json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "errors": []})
    );
    assert_eq!(item_count(&app).await, 0, "a dry run writes nothing");
    let (status, done) = upload(&app, "/v1/imports/items", &admin, good).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 2);
    let (_, list) = app.get("/v1/items?code=K%C3%84SE-1", &admin).await;
    assert_eq!(list["items"][0]["name"], "Bergk\u{e4}se\r\n200 g", "{list}");
    assert_eq!(list["items"][0]["shelf_life_days"], 90);
    let (_, yog) = app.get("/v1/items?code=YOG", &admin).await;
    assert_eq!(
        yog["items"][0]["gtins"].as_array().unwrap().len(),
        2,
        "{yog}"
    );
    // The same file again changes nothing; a changed cell updates its item only.
    let (_, again) = upload(&app, "/v1/imports/items", &admin, good).await;
    assert_eq!(
        again,
        json!({"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "errors": []})
    );
    let changed = b"code,name,shelf_life_days\nYOG,Yoghurt,21\n";
    let (_, changed) = upload(&app, "/v1/imports/items", &admin, changed).await;
    assert_eq!(changed["updated"], 1, "{changed}");
    let (_, yog) = app.get("/v1/items?code=YOG", &admin).await;
    assert_eq!(yog["items"][0]["shelf_life_days"], 21);
    assert_eq!(
        yog["items"][0]["gtins"].as_array().unwrap().len(),
        2,
        "no gtins column, GTINs kept"
    );

    // Every bad row at once, with its row (the header is row 1), column and value.
    let mixed = "code,name,tracking,shelf_life_days,gtins\n\
        NEW-1,Fine,none,,\n\
        NEW-2,Bad tracking,sometimes,,\n\
        NEW-3,Bad days,none,ten,\n\
        NEW-4,Bad GTIN,none,,4006381333932\n\
        ,No code,none,,\n\
        NEW-6,Taken GTIN,none,,4006381333931\n";
    let (status, dry) = upload(
        &app,
        "/v1/imports/items?dry_run=true",
        &admin,
        mixed.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["rows"], 6);
    let errors: Vec<(i64, String, String)> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        (3, "tracking", "sometimes"),
        (4, "shelf_life_days", "ten"),
        (5, "gtins", "4006381333932"),
        (6, "code", ""),
        (7, "gtins", "4006381333931"),
    ] {
        assert!(
            errors
                .iter()
                .any(|(r, c, v)| *r == want.0 && c == want.1 && v == want.2),
            "{want:?} missing from {dry}"
        );
    }
    assert!(
        errors.iter().all(|(r, _, _)| *r != 2),
        "the good row has no error: {dry}"
    );
    let before = item_count(&app).await;
    let (status, refused) = upload(&app, "/v1/imports/items", &admin, mixed.as_bytes()).await;
    assert_problem(status, &refused, 422, Some("rows[3].tracking"));
    assert_eq!(
        item_count(&app).await,
        before,
        "a refused import applies no row, not even the good one"
    );

    // Files that are not what they claim.
    let (status, body) = upload(&app, "/v1/imports/items", &admin, b"name\nNo code column\n").await;
    assert_problem(status, &body, 422, Some("rows[1].code"));
    let (status, body) = upload(&app, "/v1/imports/items", &admin, b"").await;
    assert_problem(status, &body, 422, Some("file"));
    let (status, body) = upload(&app, "/v1/imports/planets", &admin, b"code\nX\n").await;
    assert_problem(status, &body, 422, Some("kind"));
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let (status, _) = upload(&app, "/v1/imports/items", &keeper, good).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn warehouses_and_locations_import_and_items_round_trip(app: TestApp) {
    let admin = app.admin_token.clone();
    for kind in [
        "items",
        "suppliers",
        "warehouses",
        "locations",
        "opening-stock",
    ] {
        let (status, content_type, template) = app
            .download(&format!("/v1/imports/{kind}/template"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
        assert_eq!(
            rows(&template).len(),
            1,
            "{kind}: a header and one example row"
        );
        // The template's example imports as it is.
        let (status, dry) = upload(
            &app,
            &format!("/v1/imports/{kind}?dry_run=true"),
            &admin,
            &template,
        )
        .await;
        if kind == "locations" || kind == "opening-stock" {
            // What it refers to is not there yet.
            assert!(
                dry["errors"][0]["column"]
                    .as_str()
                    .unwrap()
                    .ends_with("_code"),
                "{dry}"
            );
        } else {
            assert_eq!(dry["errors"], json!([]), "{kind}: {dry}");
        }
        assert_eq!(status, StatusCode::OK);
    }
    let warehouses =
        b"code,name,address\nHH,Hamburg,\"Kaiweg 7\n20457 Hamburg\"\nMUC,M\xC3\xBCnchen,\n";
    let (status, done) = upload(&app, "/v1/imports/warehouses", &admin, warehouses).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 2);
    let locations = b"warehouse_code,code,barcode,pick_sequence\nHH,A-01,,10\nHH,A-02,HH-A-02-X,20\nMUC,A-01,,5\n";
    let (_, done) = upload(&app, "/v1/imports/locations", &admin, locations).await;
    assert_eq!(done["created"], 3, "{done}");
    let (_, again) = upload(&app, "/v1/imports/locations", &admin, locations).await;
    assert_eq!(again["unchanged"], 3, "{again}");
    let (status, found) = app
        .post("/v1/scans", &admin, json!({"data": "HH-A-02-X"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["matches"][0]["type"], "location", "{found}");

    // Exports of locations import back as they are: nothing changes.
    let (_, _, exported) = app.download("/v1/exports/locations", &admin).await;
    let exported_rows = rows(&exported);
    assert_eq!(exported_rows.len(), 3);
    assert!(
        exported_rows.iter().any(|r| r["warehouse_code"] == "HH"
            && r["code"] == "A-02"
            && r["barcode"] == "HH-A-02-X"
            && r["pick_sequence"] == "20"),
        "{exported_rows:?}"
    );
    let (_, back) = upload(&app, "/v1/imports/locations", &admin, &exported).await;
    assert_eq!(back["unchanged"], 3, "{back}");

    // An export of items imports back as it is: nothing changes.
    let items = b"code,name,tracking,gtins\nYOG,Yoghurt,batch,09506000134352*1|09506000134369*12\nBOLT,\"Bolt, M8\",none,4006381333931\n";
    let (_, done) = upload(&app, "/v1/imports/items", &admin, items).await;
    assert_eq!(done["created"], 2, "{done}");
    let (_, _, exported) = app.download("/v1/exports/items", &admin).await;
    let (status, back) = upload(&app, "/v1/imports/items", &admin, &exported).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(
        back,
        json!({"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "errors": []})
    );
}

async fn opening_stock_and_suppliers_import_once(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, done) = upload(
        &app,
        "/v1/imports/suppliers",
        &admin,
        b"code,name,email,lead_time_days\nACME,Acme Dairy,orders@acme.example,3\n",
    )
    .await;
    assert_eq!(done["created"], 1, "{done}");
    let (_, again) = upload(
        &app,
        "/v1/imports/suppliers",
        &admin,
        b"code,name,email,lead_time_days\nACME,Acme Dairy,orders@acme.example,3\n",
    )
    .await;
    assert_eq!(again["unchanged"], 1, "{again}");
    upload(
        &app,
        "/v1/imports/warehouses",
        &admin,
        b"code,name\nHH,Hamburg\n",
    )
    .await;
    upload(
        &app,
        "/v1/imports/locations",
        &admin,
        b"warehouse_code,code\nHH,A-01\nHH,B-01\n",
    )
    .await;
    upload(
        &app,
        "/v1/imports/items",
        &admin,
        b"code,name,tracking\nYOG,Yoghurt,batch\nBOLT,Bolt,none\n",
    )
    .await;
    let expiry = date_in(90);
    let file = format!(
        "item_code;warehouse_code;location_code;batch;expiry;quantity\n\
         YOG;HH;A-01;L1;{expiry};120\nYOG;HH;B-01;L2;{expiry};30\nBOLT;HH;A-01;;;500\n"
    );
    let (status, dry) = upload(
        &app,
        "/v1/imports/opening-stock?dry_run=true",
        &admin,
        file.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["created"], 3, "{dry}");
    let (_, stock) = app.get("/v1/stock", &admin).await;
    assert_eq!(
        stock["items"].as_array().unwrap().len(),
        0,
        "a dry run posts nothing: {stock}"
    );
    let (status, done) = upload(&app, "/v1/imports/opening-stock", &admin, file.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 3);
    let (_, stock) = app.get("/v1/stock", &admin).await;
    let on_hand: i64 = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["on_hand"].as_i64().unwrap())
        .sum();
    assert_eq!(on_hand, 650, "{stock}");
    // The same file again posts nothing; another quantity is refused (a count corrects stock).
    let (_, again) = upload(&app, "/v1/imports/opening-stock", &admin, file.as_bytes()).await;
    assert_eq!(
        again,
        json!({"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "errors": []})
    );
    let changed = file.replace(";500", ";499");
    let (status, refused) = upload(
        &app,
        "/v1/imports/opening-stock",
        &admin,
        changed.as_bytes(),
    )
    .await;
    assert_problem(status, &refused, 422, Some("rows[4].quantity"));
    // A batch item without its batch, a negative quantity, an unknown location: every one named.
    let bad = "item_code,warehouse_code,location_code,batch,quantity\nYOG,HH,A-01,,5\nBOLT,HH,A-01,,-3\nBOLT,HH,Z-99,,1\n";
    let (_, dry) = upload(
        &app,
        "/v1/imports/opening-stock?dry_run=true",
        &admin,
        bad.as_bytes(),
    )
    .await;
    let columns: Vec<(i64, &str)> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert!(columns.contains(&(2, "batch")), "{dry}");
    assert!(columns.contains(&(3, "quantity")), "{dry}");
    assert!(columns.contains(&(4, "location_code")), "{dry}");
    let (_, ledger) = app.get("/v1/stock/ledger?limit=500", &admin).await;
    assert!(
        ledger["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["note"] == "opening stock"),
        "{ledger}"
    );
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

async fn customers_import_with_their_address_and_contact(app: TestApp) {
    let admin = app.admin_token.clone();
    let file = "legal_name,tax_id,tags,email,address_line1,address_postal_code,address_city,address_country,contact_name,contact_email\n\
        Rudi's Deli GmbH,DE123456789,deli|north,einkauf@rudis.example,Marktplatz 5,20095,Hamburg,DE,Rudi Meier,rudi@rudis.example\n\
        Anna Privat,,,anna@example.org,,,,,,\n";
    let (status, done) = upload(&app, "/v1/imports/customers", &admin, file.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 2, "{done}");
    let (_, list) = app.get("/v1/customers?q=rudi", &admin).await;
    let rudi = &list["items"][0];
    assert_eq!(rudi["tax_id"], "DE123456789", "{list}");
    assert_eq!(rudi["tags"], json!(["deli", "north"]));
    assert_eq!(rudi["addresses"][0]["city"], "Hamburg", "{rudi}");
    assert_eq!(
        rudi["preferred_shipping_address_id"],
        rudi["addresses"][0]["id"]
    );
    assert_eq!(rudi["contacts"][0]["name"], "Rudi Meier");
    // Again: unchanged. Renamed with the same tax id: updated, not a second customer.
    let (_, again) = upload(&app, "/v1/imports/customers", &admin, file.as_bytes()).await;
    assert_eq!(again["unchanged"], 2, "{again}");
    let renamed = file.replace("Rudi's Deli GmbH", "Rudi's Feinkost GmbH");
    let (_, renamed) = upload(&app, "/v1/imports/customers", &admin, renamed.as_bytes()).await;
    assert_eq!(renamed["updated"], 1, "{renamed}");
    let (_, all) = app.get("/v1/customers", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    // The export, in the import's columns, imports back unchanged; a warehouse user may not
    // export customers.
    let (status, _, exported) = app.download("/v1/exports/customers", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let exported_rows = rows(&exported);
    assert_eq!(exported_rows.len(), 2);
    let rudi = exported_rows
        .iter()
        .find(|r| r["tax_id"] == "DE123456789")
        .unwrap();
    assert_eq!(rudi["address_city"], "Hamburg");
    assert_eq!(rudi["contact_name"], "Rudi Meier");
    assert_eq!(rudi["tags"], "deli|north");
    let (_, back) = upload(&app, "/v1/imports/customers", &admin, &exported).await;
    assert_eq!(back["unchanged"], 2, "{back}");
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let (status, _, _) = app.download("/v1/exports/customers", &keeper).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An address without its city names the cell.
    let bad = "legal_name,address_line1,address_country\nNo City Ltd,Somewhere 1,DE\n";
    let (_, dry) = upload(
        &app,
        "/v1/imports/customers?dry_run=true",
        &admin,
        bad.as_bytes(),
    )
    .await;
    assert_eq!(dry["errors"][0]["column"], "address_city", "{dry}");
    assert_eq!(dry["errors"][0]["row"], 2, "{dry}");
}

/// An item's bill of materials as `(component, quantity)`, sorted.
async fn bill_of(app: &TestApp, item: i64) -> Vec<(i64, i64)> {
    let (_, bom) = app
        .get(&format!("/v1/items/{item}/bom"), &app.admin_token)
        .await;
    sorted(
        bom["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["component_item_id"].as_i64().unwrap(),
                    l["quantity"].as_i64().unwrap(),
                )
            })
            .collect(),
    )
}

fn sorted(mut lines: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    lines.sort();
    lines
}

async fn bills_of_materials_import_whole(app: TestApp) {
    let admin = app.admin_token.clone();
    // Items naming their supplier by code.
    let (status, body) = upload(
        &app,
        "/v1/imports/suppliers",
        &admin,
        b"code,name\nMILL,Hafer Muehle\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = b"code,name,source,supplier_code\n\
        BAR,Muesli bar,manufactured,\n\
        OATS,Oats 1 kg,purchased,MILL\n\
        HONEY,Honey,purchased,\n\
        NUTS,Nuts,purchased,\n";
    let (status, body) = upload(&app, "/v1/imports/items", &admin, items).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, oats) = app.get("/v1/items?code=OATS", &admin).await;
    let (_, mills) = app.get("/v1/suppliers", &admin).await;
    assert_eq!(
        oats["items"][0]["supplier_id"], mills["items"][0]["id"],
        "{oats} {mills}"
    );
    let id_of = async |code: &str| -> i64 {
        let (_, list) = app.get(&format!("/v1/items?code={code}"), &admin).await;
        list["items"][0]["id"].as_i64().unwrap()
    };
    let (bar, oats, honey, nuts) = (
        id_of("BAR").await,
        id_of("OATS").await,
        id_of("HONEY").await,
        id_of("NUTS").await,
    );
    let bill = b"item_code,component_code,quantity\nBAR,OATS,2\nBAR,HONEY,1\n";
    let (status, dry) = upload(&app, "/v1/imports/boms?dry_run=true", &admin, bill).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        dry,
        json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "errors": []})
    );
    let (_, none) = app.get(&format!("/v1/items/{bar}/bom"), &admin).await;
    assert_eq!(none["lines"], json!([]), "a dry run writes nothing");
    let (status, done) = upload(&app, "/v1/imports/boms", &admin, bill).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        bill_of(&app, bar).await,
        sorted(vec![(oats, 2), (honey, 1)])
    );
    let (_, again) = upload(&app, "/v1/imports/boms", &admin, bill).await;
    assert_eq!(
        again,
        json!({"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "errors": []})
    );
    // The file is the whole bill: honey goes, nuts come, oats change.
    let next = b"item_code;component_code;quantity\nBAR;OATS;3\nBAR;NUTS;1\n";
    let (_, changed) = upload(&app, "/v1/imports/boms", &admin, next).await;
    assert_eq!(
        changed,
        json!({"rows": 2, "created": 1, "updated": 1, "unchanged": 0, "errors": []})
    );
    assert_eq!(bill_of(&app, bar).await, sorted(vec![(oats, 3), (nuts, 1)]));
    // Bad rows, each named: an unknown component, a quantity that is no number, a zero, a
    // purchased item with a bill, a component listed twice.
    let bad = "item_code,component_code,quantity\n\
        BAR,RAISINS,1\n\
        BAR,OATS,two\n\
        HONEY,OATS,1\n\
        NUTS,OATS,0\n";
    let (status, dry) = upload(
        &app,
        "/v1/imports/boms?dry_run=true",
        &admin,
        bad.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    let errors: Vec<(i64, String)> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        (2, "component_code"),
        (3, "quantity"),
        (4, "item_code"),
        (5, "quantity"),
    ] {
        assert!(
            errors.iter().any(|(r, c)| *r == want.0 && c == want.1),
            "{want:?} missing from {dry}"
        );
    }
    let (status, refused) = upload(&app, "/v1/imports/boms", &admin, bad.as_bytes()).await;
    assert_problem(status, &refused, 422, Some("rows[2].component_code"));
    // Bills and suppliers export in the import's columns and import back unchanged.
    let (status, _, bills) = app.download("/v1/exports/boms", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&bills),
        "item_code,component_code,quantity\nBAR,NUTS,1\nBAR,OATS,3\n"
    );
    let (_, back) = upload(&app, "/v1/imports/boms", &admin, &bills).await;
    assert_eq!(back["unchanged"], 2, "{back}");
    let (_, _, suppliers) = app.download("/v1/exports/suppliers", &admin).await;
    assert_eq!(rows(&suppliers)[0]["code"], "MILL");
    let (_, back) = upload(&app, "/v1/imports/suppliers", &admin, &suppliers).await;
    assert_eq!(back["unchanged"], 1, "{back}");
    let (_, _, template) = app.download("/v1/imports/boms/template", &admin).await;
    assert!(
        String::from_utf8_lossy(&template).starts_with("item_code,component_code,quantity"),
        "{}",
        String::from_utf8_lossy(&template)
    );
}

/// A workbook as a spreadsheet library writes it: GTINs typed as numbers (the leading zero
/// gone), an expiry typed as a date, a header row in any case.
async fn xlsx_workbooks_import_like_csv_files(app: TestApp) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let admin = app.admin_token.clone();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Code", "Name", "Tracking", "Shelf_Life_Days", "GTINs"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "YOG").unwrap();
    sheet.write_string(1, 1, "Yoghurt, 500 g").unwrap();
    sheet.write_string(1, 2, "batch").unwrap();
    sheet.write_number(1, 3, 28).unwrap();
    // 09506000134352 typed into a number cell: Excel keeps 9506000134352.
    sheet.write_number(1, 4, 9506000134352.0).unwrap();
    sheet.write_string(2, 0, "BOLT").unwrap();
    sheet.write_string(2, 1, "Bolt M8").unwrap();
    sheet.write_string(2, 2, "none").unwrap();
    let items = book.save_to_buffer().unwrap();
    let (status, dry) = upload(&app, "/v1/imports/items?dry_run=true", &admin, &items).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        dry,
        json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "errors": []})
    );
    // The same workbook as the multipart field `file`, as a browser form sends it.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(items.clone())
            .file_name("items.xlsx")
            .mime_str("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .unwrap(),
    );
    let response = app
        .client
        .post(app.url("/v1/imports/items"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let done: serde_json::Value = response.json().await.unwrap();
    assert_eq!(done["created"], 2, "{done}");
    let (_, yog) = app.get("/v1/items?code=YOG", &admin).await;
    assert_eq!(
        yog["items"][0]["gtins"][0]["gtin"], "09506000134352",
        "{yog}"
    );
    assert_eq!(yog["items"][0]["shelf_life_days"], 28);
    let (_, again) = upload(&app, "/v1/imports/items", &admin, &items).await;
    assert_eq!(again["unchanged"], 2, "{again}");

    // Opening stock with the expiry typed as a date.
    app.warehouse("XL", &[("A-1", 1)]).await;
    let (_, _, warehouses) = app.download("/v1/exports/warehouses", &admin).await;
    assert_eq!(rows(&warehouses)[0]["code"], "XL");
    let (_, back) = upload(&app, "/v1/imports/warehouses", &admin, &warehouses).await;
    assert_eq!(back["unchanged"], 1, "{back}");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in [
        "item_code",
        "warehouse_code",
        "location_code",
        "batch",
        "expiry",
        "quantity",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, (batch, quantity)) in [("L1", 12), ("L2", 30)].iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, "YOG").unwrap();
        sheet.write_string(r, 1, "XL").unwrap();
        sheet.write_string(r, 2, "A-1").unwrap();
        sheet.write_string(r, 3, *batch).unwrap();
        sheet
            .write_datetime_with_format(r, 4, ExcelDateTime::from_ymd(2031, 1, 31).unwrap(), &date)
            .unwrap();
        sheet.write_number(r, 5, *quantity).unwrap();
    }
    let stock = book.save_to_buffer().unwrap();
    let (status, done) = upload(&app, "/v1/imports/opening-stock", &admin, &stock).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["created"], 2, "{done}");
    let (_, _, batches) = app.download("/v1/exports/batches", &admin).await;
    let batches = rows(&batches);
    assert_eq!(batches.len(), 2);
    assert!(
        batches.iter().all(|b| b["expiry_date"] == "2031-01-31"),
        "{batches:?}"
    );
    // Not a workbook after all.
    let (status, body) = upload(&app, "/v1/imports/items", &admin, b"PK\x03\x04broken").await;
    assert_problem(status, &body, 422, Some("file"));
}

/// Follows an import job until it has ended (asserting it does within a minute).
async fn finished_job(app: &TestApp, location: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, job) = app.get(location, &app.admin_token).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not end: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Posts a file that becomes a job: asserts 202 with the job, and answers where it is.
async fn job_of(app: &TestApp, path: &str, file: &[u8]) -> String {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/csv")
        .body(file.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: serde_json::Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/imports/{}", job["id"]));
    assert!(
        job["status"] == "queued" || job["status"] == "running" || job["status"] == "done",
        "{job}"
    );
    assert_eq!(job["kind"], "items");
    location
}

async fn big_files_import_as_jobs(app: TestApp) {
    let rows_n = 1_200;
    let mut file = String::from("code,name\n");
    for i in 0..rows_n {
        file.push_str(&format!("BIG-{i:05},Item {i}\n"));
    }
    // A dry run as a job: the answer tells, nothing is kept.
    let location = job_of(&app, "/v1/imports/items?dry_run=true", file.as_bytes()).await;
    let job = finished_job(&app, &location).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["dry_run"], true);
    assert_eq!(
        (job["rows_total"].as_i64(), job["rows_done"].as_i64()),
        (Some(1200), Some(1200))
    );
    assert_eq!(
        job["result"],
        json!({"rows": 1200, "created": 1200, "updated": 0, "unchanged": 0, "errors": []})
    );
    assert_eq!(item_count(&app).await, 0, "a dry run writes nothing");
    // For real.
    let location = job_of(&app, "/v1/imports/items", file.as_bytes()).await;
    let job = finished_job(&app, &location).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["created"], 1200, "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
    let (_, last) = app.get("/v1/items?code=BIG-01199", &app.admin_token).await;
    assert_eq!(last["items"][0]["name"], "Item 1199");
    // A file with one bad row: the job fails naming it, and no row is applied.
    let mut bad = String::from("code,name,tracking\n");
    for i in 0..rows_n {
        let tracking = if i == 700 { "sometimes" } else { "none" };
        bad.push_str(&format!("NEXT-{i:05},Item {i},{tracking}\n"));
    }
    let location = job_of(&app, "/v1/imports/items", bad.as_bytes()).await;
    let job = finished_job(&app, &location).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(
        job["result"]["errors"],
        json!([{"row": 702, "column": "tracking", "value": "sometimes",
                "reason": job["result"]["errors"][0]["reason"]}])
    );
    let (_, none) = app.get("/v1/items?code=NEXT-00001", &app.admin_token).await;
    assert_eq!(none["items"], json!([]), "nothing of a failed job is kept");
    // Jobs are for importers; ids are numbers.
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let (status, _) = app.get(&location, &keeper).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.get("/v1/imports/987654", &app.admin_token).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app.get("/v1/imports/items", &app.admin_token).await;
    assert_problem(status, &body, 422, Some("id"));
}

async fn deals_and_shipments_export(app: TestApp) {
    let admin = app.admin_token.clone();
    let (rep_id, rep) = app.user("rep", "rep", None).await;
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let a = app
        .create_id("/v1/items", json!({"code": "A", "name": "A"}))
        .await;
    let b = app
        .create_id("/v1/items", json!({"code": "B", "name": "B"}))
        .await;
    let customer = app
        .create_id(
            "/v1/customers",
            json!({"legal_name": "Rudi's Deli", "addresses": [
                {"line1": "Marktplatz 5", "city": "Hamburg", "country": "DE",
                 "preferred_shipping": true}]}),
        )
        .await;
    let deal = app
        .create_id(
            "/v1/deals",
            json!({"customer_id": customer, "title": "Autumn order",
                   "lines": [{"item_id": a, "quantity": 3, "unit_price": 250},
                             {"item_id": b, "quantity": 1, "unit_price": 1000}]}),
        )
        .await;
    let (status, body) = app
        .post(
            "/v1/customers",
            &rep,
            json!({"legal_name": "Rep's own customer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, own) = app
        .post(
            "/v1/deals",
            &rep,
            json!({"customer_id": body["id"], "title": "Rep's deal"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");

    let (status, _, body) = app.download("/v1/exports/deals", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let deals = rows(&body);
    assert_eq!(
        deals.len(),
        3,
        "a row a line, a deal without lines one row: {deals:?}"
    );
    assert_eq!(deals[0]["deal_id"], deal.to_string());
    assert_eq!(deals[0]["line_no"], "1");
    assert_eq!(deals[0]["line_total"], "750");
    assert_eq!(deals[1]["item_id"], b.to_string());
    assert_eq!(deals[0]["amount"], "1750");
    assert_eq!(deals[2]["title"], "Rep's deal");
    assert_eq!(deals[2]["line_no"], "");
    let (status, _, body) = app.download("/v1/exports/deals", &rep).await;
    assert_eq!(status, StatusCode::OK);
    let mine = rows(&body);
    assert_eq!(mine.len(), 1, "a rep exports their own deals: {mine:?}");
    assert_eq!(mine[0]["owner_id"], rep_id.to_string());
    let (status, _, _) = app.download("/v1/exports/deals", &keeper).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Shipments: a draft for the deal.
    let (wh, _) = app.warehouse("SH", &[("A", 1)]).await;
    let (status, _, body) = app.download("/v1/exports/shipments", &keeper).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        header(&body).starts_with("id,deal_ids,warehouse_id,status,"),
        "{}",
        header(&body)
    );
    let empty_header = header(&body);
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_id": deal, "warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let (_, _, body) = app.download("/v1/exports/shipments", &keeper).await;
    assert_eq!(header(&body), empty_header);
    let shipments = rows(&body);
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0]["id"], shipment["id"].to_string());
    assert_eq!(shipments[0]["deal_ids"], deal.to_string());
    assert_eq!(shipments[0]["status"], "draft");
    assert_eq!(shipments[0]["parcels"], "0");
    assert_eq!(shipments[0]["ship_to_name"], "Rudi's Deli");
    assert_eq!(shipments[0]["dispatched_at"], "");
    let (status, _, _) = app.download("/v1/exports/shipments", &rep).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// docs/examples/*.csv, imported in the order docs/data.md gives: each clean, each unchanged the
/// second time.
async fn the_documented_example_files_import(app: TestApp) {
    let admin = app.admin_token.clone();
    for kind in [
        "warehouses",
        "locations",
        "suppliers",
        "items",
        "boms",
        "customers",
        "opening-stock",
    ] {
        let path = format!("{}/docs/examples/{kind}.csv", env!("CARGO_MANIFEST_DIR"));
        let file = std::fs::read(&path).unwrap();
        let (status, done) = upload(&app, &format!("/v1/imports/{kind}"), &admin, &file).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {done}");
        assert_eq!(done["errors"], json!([]), "{kind}: {done}");
        assert_eq!(done["created"], done["rows"], "{kind}: {done}");
        let (_, again) = upload(&app, &format!("/v1/imports/{kind}"), &admin, &file).await;
        assert_eq!(again["unchanged"], again["rows"], "{kind} again: {again}");
    }
    let (_, _, stock) = app.download("/v1/exports/stock", &admin).await;
    let on_hand: i64 = rows(&stock)
        .iter()
        .map(|r| r["on_hand"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(on_hand, 400 + 120 + 960 + 240);
}
