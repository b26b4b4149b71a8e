//! Demo CRM data (see `crate::demo`): customers of both reps and a public one, leads, and deals
//! for catalog items. Entered by the head, through the same functions the API uses.

use crate::auth::Role;
use crate::catalog::items::{self, ItemFilter};
use crate::crm::contacts::NestedContact;
use crate::crm::customers::{self, CustomerType, NewAddress, NewCustomer};
use crate::crm::deals::{self, DealPatch, DealStatus, NewDeal, NewDealLine};
use crate::crm::leads::{self, LeadPatch, NewLead};
use crate::crm::visibility::Viewer;
use crate::db::{Db, Page};
use crate::error::{Error, Result};

fn address(line1: &str, postal_code: &str, city: &str) -> NewAddress {
    NewAddress {
        id: None,
        label: Some("Main".into()),
        line1: line1.into(),
        line2: None,
        city: city.into(),
        postal_code: Some(postal_code.into()),
        region: None,
        country: "DE".into(),
        preferred_shipping: None,
        preferred_billing: None,
    }
}

fn contact(name: &str, position: &str, phone: &str, email: &str) -> NestedContact {
    NestedContact {
        name: name.into(),
        position: Some(position.into()),
        phone: Some(phone.into()),
        email: Some(email.into()),
        is_primary: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn customer(
    legal_name: &str,
    tax_id: Option<&str>,
    owner_id: i64,
    public: bool,
    tags: &[&str],
    phone: &str,
    addresses: Vec<NewAddress>,
    contacts: Vec<NestedContact>,
) -> NewCustomer {
    NewCustomer {
        legal_name: legal_name.into(),
        tax_id: tax_id.map(Into::into),
        kind: CustomerType::Company,
        source: Some("referral".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        owner_id: Some(owner_id),
        public,
        min_remaining_shelf_life_days: None,
        phone: Some(phone.into()),
        email: None,
        addresses,
        contacts,
    }
}

async fn item_id(db: &Db, code: &str) -> Result<i64> {
    let filter = ItemFilter {
        code: Some(code.into()),
        ..Default::default()
    };
    items::list(db, &filter, Page::first(1))
        .await?
        .items
        .first()
        .map(|i| i.id)
        .ok_or_else(|| Error::not_found("item", code))
}

fn line(item_id: i64, quantity: i64, unit_price: i64) -> NewDealLine {
    NewDealLine {
        id: None,
        item_id,
        quantity,
        unit_price,
    }
}

/// The demo deals the stock part of the demo fulfils.
pub struct DemoDeals {
    /// Open, in production: racks to be made.
    pub shelving: i64,
    /// Won: yoghurt and milk, more milk than there is.
    pub weekly: i64,
    /// Won: yoghurt from stock.
    pub canteen: i64,
}

pub async fn load(db: &Db, head_id: i64, ron_id: i64, rita_id: i64) -> Result<DemoDeals> {
    let head = Viewer {
        id: head_id,
        role: Role::Head,
    };
    let mueller = customers::create(
        db,
        head,
        customer(
            "Müller Bau GmbH",
            Some("DE123456789"),
            ron_id,
            false,
            &["construction", "key-account"],
            "+49 30 555 0101",
            vec![address("Baustrasse 5", "10115", "Berlin")],
            vec![
                contact(
                    "Anna Müller",
                    "Purchasing",
                    "+49 (30) 555-0102",
                    "anna@mueller-bau.example",
                ),
                contact(
                    "Jonas Weber",
                    "Site manager",
                    "+49 171 555 0103",
                    "jonas@mueller-bau.example",
                ),
            ],
        ),
    )
    .await?;
    let cafe = customers::create(
        db,
        head,
        customer(
            "Café Sonne",
            None,
            rita_id,
            false,
            &["horeca"],
            "+49 40 555 0201",
            vec![
                address("Elbchaussee 12", "22763", "Hamburg"),
                NewAddress {
                    label: Some("Invoices".into()),
                    preferred_billing: Some(true),
                    ..address("Postfach 1020", "22701", "Hamburg")
                },
            ],
            vec![contact(
                "Sophie Sonne",
                "Owner",
                "+49 40 555 0202",
                "sophie@cafe-sonne.example",
            )],
        ),
    )
    .await?;
    let stadtwerke = customers::create(
        db,
        head,
        customer(
            "Stadtwerke Nord",
            Some("DE987654321"),
            head_id,
            true,
            &["public-sector"],
            "+49 431 555 0301",
            vec![address("Werftstrasse 1", "24143", "Kiel")],
            vec![contact(
                "Peter Krause",
                "Procurement",
                "+49 431 555 0302",
                "einkauf@swn.example",
            )],
        ),
    )
    .await?;

    let rack = item_id(db, "RACK-200").await?;
    let yoghurt = item_id(db, "YOG-500").await?;
    let milk = item_id(db, "MILK-1L").await?;
    let shelving = deals::create(
        db,
        head,
        NewDeal {
            customer_id: mueller.id,
            owner_id: Some(ron_id),
            title: Some("Warehouse shelving, new site".into()),
            stage: Some("production".into()),
            status: None,
            lost_reason: None,
            currency: None,
            lines: vec![line(rack, 12, 18_900)],
            ship_to_address_id: None,
            customer_reference: None,
        },
    )
    .await?;
    let weekly = deals::create(
        db,
        head,
        NewDeal {
            customer_id: cafe.id,
            owner_id: Some(rita_id),
            title: Some("Weekly dairy".into()),
            stage: Some("sale_from_stock".into()),
            status: None,
            lost_reason: None,
            currency: None,
            lines: vec![line(yoghurt, 48, 129), line(milk, 60, 99)],
            ship_to_address_id: None,
            customer_reference: None,
        },
    )
    .await?;
    deals::create(
        db,
        head,
        NewDeal {
            customer_id: cafe.id,
            owner_id: Some(rita_id),
            title: Some("Espresso machine".into()),
            stage: None,
            status: Some(DealStatus::Lost),
            lost_reason: Some("bought elsewhere".into()),
            currency: None,
            lines: vec![],
            ship_to_address_id: None,
            customer_reference: None,
        },
    )
    .await?;
    let canteen = deals::create(
        db,
        head,
        NewDeal {
            customer_id: stadtwerke.id,
            owner_id: Some(ron_id),
            title: Some("Canteen yoghurt".into()),
            stage: Some("sale_from_stock".into()),
            status: None,
            lost_reason: None,
            currency: None,
            lines: vec![line(yoghurt, 24, 119)],
            ship_to_address_id: None,
            customer_reference: None,
        },
    )
    .await?;
    for won in [weekly.id, canteen.id] {
        deals::update(
            db,
            head,
            won,
            DealPatch {
                status: Some(DealStatus::Won),
                ..Default::default()
            },
        )
        .await?;
    }

    // A call from a known number (Anna Müller, written differently): attached to Müller Bau.
    leads::create(
        db,
        head,
        NewLead {
            name: "Anna Müller".into(),
            phone: Some("+4930 5550102".into()),
            email: None,
            source: Some("phone".into()),
            note: Some("Needs 4 more racks for the second hall".into()),
            assigned_to: None,
        },
    )
    .await?;
    // A website request from someone unknown, then assigned by the head.
    let lead = leads::create(
        db,
        head,
        NewLead {
            name: "Bäckerei Korn".into(),
            phone: None,
            email: Some("info@baeckerei-korn.example".into()),
            source: Some("website".into()),
            note: Some("Asks for a quote: daily milk delivery".into()),
            assigned_to: None,
        },
    )
    .await?;
    leads::update(
        db,
        head,
        lead.id,
        LeadPatch {
            assigned_to: Some(Some(rita_id)),
            ..Default::default()
        },
    )
    .await?;
    Ok(DemoDeals {
        shelving: shelving.id,
        weekly: weekly.id,
        canteen: canteen.id,
    })
}
