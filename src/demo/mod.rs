//! A small, realistic data set for trying Depot out: `depot demo` or `depot --demo`.
//! Loaded through the same domain functions the API uses, so it obeys every rule. [`sheet`]
//! prints the barcodes to scan with it.

pub mod api;
pub mod sheet;

use anyhow::Context;

use crate::auth::Role;
use crate::auth::users::{self, NewUser};
use crate::catalog::items::{self, BomLine, GtinInput, NewItem, Source, Tracking};
use crate::catalog::suppliers::{self, NewSupplier};
use crate::catalog::warehouses::{self, NewLocation, NewWarehouse};
use crate::db::{Db, Page};

/// Password of every demo user (head `hedda`, reps `ron` and `rita`, warehouse `wanda`).
pub const DEMO_PASSWORD: &str = "demo-password";

fn level(gtin: &str, quantity: i64) -> GtinInput {
    GtinInput::Level {
        gtin: gtin.into(),
        quantity,
    }
}

/// Loads the demo set unless the catalog already has items.
pub async fn load(db: &Db) -> anyhow::Result<()> {
    if !items::list(db, &Default::default(), Page::first(1))
        .await?
        .items
        .is_empty()
    {
        tracing::info!("catalog is not empty; demo data not loaded");
        return Ok(());
    }
    let user = |username: &str, role: Role, full_name: &str, manager_id: Option<i64>| NewUser {
        username: username.into(),
        password: DEMO_PASSWORD.into(),
        role,
        full_name: Some(full_name.into()),
        email: Some(format!("{username}@depot.example")),
        manager_id,
    };
    let head = users::create(db, user("hedda", Role::Head, "Hedda Head", None)).await?;
    let ron = users::create(db, user("ron", Role::Rep, "Ron Rep", Some(head.id))).await?;
    let rita = users::create(db, user("rita", Role::Rep, "Rita Rep", Some(head.id))).await?;
    let wanda = users::create(db, user("wanda", Role::Warehouse, "Wanda Warehouse", None)).await?;

    // (warehouse code) -> warehouse id; (warehouse code, bin code) -> location id.
    let mut warehouse_ids = std::collections::HashMap::new();
    let mut bin_ids = std::collections::HashMap::new();
    for (code, name, address, bins) in [
        (
            "BER",
            "Berlin central",
            "Lagerstrasse 1, 10115 Berlin, DE",
            6,
        ),
        ("HAM", "Hamburg port", "Kaiweg 7, 20457 Hamburg, DE", 4),
    ] {
        let wh = warehouses::create(
            db,
            NewWarehouse {
                code: code.into(),
                name: name.into(),
                address: address.into(),
                responsible_user_id: Some(wanda.id),
                label_printer_id: None,
                document_printer_id: None,
            },
        )
        .await?;
        warehouse_ids.insert(code, wh.id);
        for aisle in ["A", "B"] {
            for bin in 1..=bins / 2 {
                let location = warehouses::create_location(
                    db,
                    wh.id,
                    NewLocation {
                        code: format!("{aisle}-{bin:02}"),
                        barcode: None,
                        pick_sequence: if aisle == "A" {
                            bin * 10
                        } else {
                            100 + bin * 10
                        },
                    },
                )
                .await?;
                bin_ids.insert((code, location.code), location.id);
            }
        }
    }

    let dairy = suppliers::create(
        db,
        NewSupplier {
            code: "NORDMILCH".into(),
            name: "Nordmilch Dairy GmbH".into(),
            email: Some("orders@nordmilch.example".into()),
            phone: Some("+49 40 555 0100".into()),
            lead_time_days: Some(3),
        },
    )
    .await?;
    let parts = suppliers::create(
        db,
        NewSupplier {
            code: "STEELCO".into(),
            name: "SteelCo Components".into(),
            email: Some("sales@steelco.example".into()),
            phone: None,
            lead_time_days: Some(10),
        },
    )
    .await?;

    let item = |code: &str,
                name: &str,
                tracking: Tracking,
                shelf: Option<i64>,
                source: Source,
                supplier: Option<i64>,
                gtins: Vec<GtinInput>| NewItem {
        code: code.into(),
        name: name.into(),
        unit: "pcs".into(),
        tracking,
        shelf_life_days: shelf,
        min_remaining_shelf_life_days: shelf.map(|d| d / 3),
        source,
        supplier_id: supplier,
        requires_certificate: false,
        lead_time_days: None,
        gtins,
    };
    items::create(
        db,
        item(
            "YOG-500",
            "Yoghurt 500 g",
            Tracking::Batch,
            Some(21),
            Source::Purchased,
            Some(dairy.id),
            vec![
                level("4006381333931", 1),
                level("14006381333938", 12),
                level("24006381333935", 480),
            ],
        ),
    )
    .await?;
    items::create(
        db,
        item(
            "MILK-1L",
            "Milk 1 l",
            Tracking::Batch,
            Some(10),
            Source::Purchased,
            Some(dairy.id),
            vec![level("96385074", 1), level("10614141000415", 6)],
        ),
    )
    .await?;
    let frame = items::create(
        db,
        item(
            "FRAME-S",
            "Steel frame",
            Tracking::None,
            None,
            Source::Purchased,
            Some(parts.id),
            vec![level("09506000134352", 1)],
        ),
    )
    .await?;
    let bolt = items::create(
        db,
        item(
            "BOLT-M8",
            "Bolt M8",
            Tracking::None,
            None,
            Source::Purchased,
            Some(parts.id),
            vec![],
        ),
    )
    .await?;
    let mut rack = item(
        "RACK-200",
        "Shelving rack 200 cm",
        Tracking::Serial,
        None,
        Source::Manufactured,
        None,
        vec![level("4000000000006", 1)],
    );
    rack.requires_certificate = true;
    rack.lead_time_days = Some(5);
    let rack = items::create(db, rack).await?;
    items::set_bom(
        db,
        rack.id,
        vec![
            BomLine {
                component_item_id: frame.id,
                quantity: 2,
            },
            BomLine {
                component_item_id: bolt.id,
                quantity: 16,
            },
        ],
    )
    .await?;

    let deals = crate::crm::demo::load(db, head.id, ron.id, rita.id)
        .await
        .context("loading demo CRM data")?;
    let bin = |warehouse: &'static str, code: &str| bin_ids[&(warehouse, code.to_string())];
    stock_and_orders(db, warehouse_ids["BER"], &bin, wanda.id, &deals)
        .await
        .context("loading demo stock")?;
    tracing::info!(
        "demo data loaded: users hedda (head), ron and rita (reps), wanda (warehouse); see README"
    );
    Ok(())
}

/// Stock in batches (one close to expiry, one expired in quarantine), a printer that writes
/// PDFs, and the deals fulfilled as far as stock allows: one won and reserved with a pick list
/// ready to walk, one waiting for a purchase, one waiting for production.
async fn stock_and_orders(
    db: &Db,
    berlin: i64,
    bin: &impl Fn(&'static str, &str) -> i64,
    wanda: i64,
    deals: &crate::crm::demo::DemoDeals,
) -> anyhow::Result<()> {
    use crate::stock::receipts::{self, NewReceipt, ReceiptLine};
    let today = crate::db::now().date();
    let day = |days: i64| crate::days::add(today, days);
    let item = |code: &'static str| async move {
        let filter = items::ItemFilter {
            code: Some(code.into()),
            ..Default::default()
        };
        items::list(db, &filter, Page::first(1))
            .await?
            .items
            .first()
            .map(|i| i.id)
            .with_context(|| format!("demo item {code}"))
    };
    let (yoghurt, milk, frame, bolt) = (
        item("YOG-500").await?,
        item("MILK-1L").await?,
        item("FRAME-S").await?,
        item("BOLT-M8").await?,
    );
    let batch = |item_id: i64, quantity: i64, code: &str, expires_in: i64| ReceiptLine {
        item_id: Some(item_id),
        quantity: Some(quantity),
        batch: Some(code.into()),
        expiry: day(expires_in),
        ..Default::default()
    };
    let plain = |item_id: i64, quantity: i64| ReceiptLine {
        item_id: Some(item_id),
        quantity: Some(quantity),
        ..Default::default()
    };
    for (location, quarantine, lines, note) in [
        (
            bin("BER", "A-01"),
            false,
            vec![batch(yoghurt, 36, "Y-SOON", 5)],
            "close to expiry: too short-dated for customers, flagged by the expiry job",
        ),
        (
            bin("BER", "A-02"),
            false,
            vec![
                batch(yoghurt, 120, "Y-FRESH", 18),
                batch(milk, 30, "M-0107", 8),
            ],
            "weekly delivery from Nordmilch",
        ),
        (
            bin("BER", "B-03"),
            true,
            vec![batch(yoghurt, 24, "Y-OLD", -2)],
            "returned past its date: in quarantine, never picked",
        ),
        (
            bin("BER", "B-01"),
            false,
            vec![plain(frame, 40), plain(bolt, 100)],
            "rack components",
        ),
        (
            bin("HAM", "A-01"),
            false,
            vec![batch(yoghurt, 48, "Y-HAM", 12)],
            "port stock",
        ),
    ] {
        let warehouse_id = warehouses::location(db, location).await?.warehouse_id;
        receipts::receive(
            db,
            NewReceipt {
                warehouse_id,
                location_id: location,
                lines,
                quarantine,
                purchase_order_id: None,
                production_order_id: None,
                deal_id: None,
                note: Some(note.into()),
            },
            Some(wanda),
            None,
        )
        .await?;
    }
    // The expiry job marks the expired batch and raises alerts for what expires soon.
    crate::jobs::expiry::run(db, today, 14).await?;

    // A printer that writes PDFs (kept for download), the Berlin warehouse's label and
    // document printer.
    let printer = crate::auth::devices::register(
        db,
        crate::auth::devices::NewDevice {
            name: "Office PDF printer".into(),
            kind: crate::auth::DeviceKind::Printer,
            profile: "pdf-file".into(),
            address: None,
        },
        &["pdf-file"],
        None,
    )
    .await?;
    warehouses::update(
        db,
        berlin,
        warehouses::WarehousePatch {
            label_printer_id: Some(Some(printer.device.id)),
            document_printer_id: Some(Some(printer.device.id)),
            ..Default::default()
        },
    )
    .await?;

    // Reserved from stock: the canteen's yoghurt (whole), the weekly dairy's yoghurt and the
    // milk there is (the rest ordered from Nordmilch), the racks to be made (components held,
    // missing bolts ordered from SteelCo).
    for deal in [deals.canteen, deals.weekly, deals.shelving] {
        crate::fulfilment::reserve_deal(
            db,
            deal,
            crate::fulfilment::ReserveOptions {
                warehouse_id: Some(berlin),
                expires_at: None,
            },
        )
        .await?;
    }
    crate::fulfilment::picking::create(
        db,
        crate::fulfilment::picking::NewPickList {
            deal_ids: Some(vec![deals.canteen]),
            warehouse_id: Some(berlin),
            packing_location_id: None,
            assigned_to: None,
        },
        Some(wanda),
    )
    .await?;
    Ok(())
}
