//! A small, realistic data set for trying Depot out: `depot demo` or `depot --demo`.
//! Loaded through the same domain functions the API uses, so it obeys every rule.

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
        for aisle in ["A", "B"] {
            for bin in 1..=bins / 2 {
                warehouses::create_location(
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

    crate::crm::demo::load(db, head.id, ron.id, rita.id)
        .await
        .context("loading demo CRM data")?;
    tracing::info!(
        "demo data loaded: users hedda (head), ron and rita (reps), wanda (warehouse); see README"
    );
    Ok(())
}
