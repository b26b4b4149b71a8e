//! Leads: requests arriving by phone, e-mail or the website. A request from a known phone number
//! or e-mail address is attached to the existing customer's history instead of standing alone; a
//! qualified lead is converted into a deal (and, when it is new, a customer).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::crm::contacts::NestedContact;
use crate::crm::customers::{self, Customer, CustomerType, CustomerValues, NewCustomer};
use crate::crm::deals::{self, Deal, DealInput, DealValues, NewDealLine};
use crate::crm::visibility::{SCOPE, Viewer, check_assignee};
use crate::crm::{
    NAME_MAX, NOTE_MAX, check_email, check_phone, clean_patch, normalize_email, normalize_phone,
};
use crate::db::{Db, Page, Paged, now};
use crate::error::{Checks, Error, Result};
use crate::patch::clean;
use crate::{in_tx, on_read, on_tx};

crate::text_enum!(
    /// Where a lead stands: `new` (nobody known sent it), `attached` (it came from a known
    /// customer or contact: `customer_id` is set) or `converted` (it became a deal: `deal_id` is
    /// set).
    pub LeadStatus {
        New = "new",
        Attached = "attached",
        Converted = "converted",
    }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lead {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
    /// The responsible rep.
    pub assigned_to: Option<i64>,
    /// The known customer this lead came from, or the one it was converted into.
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub status: LeadStatus,
    pub deal_id: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: i64,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    source: Option<String>,
    note: Option<String>,
    assigned_to: Option<i64>,
    customer_id: Option<i64>,
    contact_id: Option<i64>,
    status: LeadStatus,
    deal_id: Option<i64>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<LeadRow> for Lead {
    fn from(r: LeadRow) -> Lead {
        Lead {
            id: r.id,
            name: r.name,
            phone: r.phone,
            email: r.email,
            source: r.source,
            note: r.note,
            assigned_to: r.assigned_to,
            customer_id: r.customer_id,
            contact_id: r.contact_id,
            status: r.status,
            deal_id: r.deal_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "l.id, l.name, l.phone, l.email, l.source, l.note, l.assigned_to, l.customer_id, \
    l.contact_id, l.status, l.deal_id, l.created_at, l.updated_at";

/// Leads a viewer sees: assigned within their scope; a head also sees unassigned ones.
const VISIBLE: &str =
    "($3 or l.assigned_to in (select id from scope) or ($2 and l.assigned_to is null))";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLead {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Where it came from: `phone`, `email`, `website`, ...
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// The responsible rep (a head or admin assigns). Without it, a lead from a known customer
    /// goes to the customer's owner, and a rep's own lead to the rep.
    #[serde(default)]
    pub assigned_to: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LeadPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
    /// Assigns the lead (head or admin); `null` un-assigns it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub assigned_to: Option<Option<i64>>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    pub assigned_to: Option<i64>,
    pub customer_id: Option<i64>,
}

/// What a conversion may say; everything has a default.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConvertLead {
    /// For a new customer; default the lead's name.
    #[serde(default)]
    pub legal_name: Option<String>,
    /// For a new customer; default `company`.
    #[serde(default, rename = "type")]
    pub kind: Option<CustomerType>,
    /// Default "Deal: <lead name>".
    #[serde(default)]
    pub title: Option<String>,
    /// Default `selection`.
    #[serde(default)]
    pub stage: Option<String>,
    /// Default `EUR`.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<NewDealLine>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Converted {
    pub lead: Lead,
    pub customer: Customer,
    pub deal: Deal,
}

/// A known customer (and maybe contact) with the same phone number or e-mail address.
struct Match {
    customer_id: i64,
    contact_id: Option<i64>,
    owner_id: Option<i64>,
}

/// Looks for a contact, then a customer, with the same normalised phone or e-mail, across all
/// customers: a request is attached to its sender's history whoever owns it.
async fn find_sender(
    db: &Db,
    phone_norm: Option<&str>,
    email_norm: Option<&str>,
) -> Result<Option<Match>> {
    if phone_norm.is_none() && email_norm.is_none() {
        return Ok(None);
    }
    let contact = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, Option<i64>)>(
            "select k.id, k.customer_id, c.owner_id from contacts k join customers c on c.id = k.customer_id
             where k.phone_norm = $1 or k.email_norm = $2 order by k.id limit 1",
        )
        .bind(phone_norm)
        .bind(email_norm)
        .fetch_optional(pool)
        .await?
    });
    if let Some((contact_id, customer_id, owner_id)) = contact {
        return Ok(Some(Match {
            customer_id,
            contact_id: Some(contact_id),
            owner_id,
        }));
    }
    let customer = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, Option<i64>)>(
            "select id, owner_id from customers where phone_norm = $1 or email_norm = $2
             order by id limit 1",
        )
        .bind(phone_norm)
        .bind(email_norm)
        .fetch_optional(pool)
        .await?
    });
    Ok(customer.map(|(customer_id, owner_id)| Match {
        customer_id,
        contact_id: None,
        owner_id,
    }))
}

struct LeadFields {
    name: String,
    phone: Option<String>,
    email: Option<String>,
    source: Option<String>,
    note: Option<String>,
}

impl LeadFields {
    fn check(&self) -> Result<()> {
        let mut checks = Checks::new();
        checks.text("name", &self.name, NAME_MAX);
        check_phone(&mut checks, "phone", self.phone.as_deref());
        check_email(&mut checks, "email", self.email.as_deref());
        checks.opt_text("source", self.source.as_deref(), NAME_MAX);
        checks.opt_text("note", self.note.as_deref(), NOTE_MAX);
        checks.finish()
    }

    fn phone_norm(&self) -> Option<String> {
        self.phone.as_deref().and_then(normalize_phone)
    }

    fn email_norm(&self) -> Option<String> {
        self.email.as_deref().and_then(normalize_email)
    }
}

pub async fn create(db: &Db, viewer: Viewer, new: NewLead) -> Result<Lead> {
    let fields = LeadFields {
        name: new.name.trim().to_string(),
        phone: clean(new.phone),
        email: clean(new.email),
        source: clean(new.source),
        note: clean(new.note),
    };
    fields.check()?;
    if let Some(user) = new.assigned_to {
        check_assignee(db, viewer, "assigned_to", user).await?;
    }
    let (phone_norm, email_norm) = (fields.phone_norm(), fields.email_norm());
    let sender = find_sender(db, phone_norm.as_deref(), email_norm.as_deref()).await?;
    let assigned_to = new
        .assigned_to
        .or_else(|| sender.as_ref().and_then(|m| m.owner_id))
        .or_else(|| (!viewer.assigns()).then_some(viewer.id));
    let status = if sender.is_some() {
        LeadStatus::Attached
    } else {
        LeadStatus::New
    };
    let at = now();
    let id = in_tx!(db, tx => {
        sqlx::query_scalar::<_, i64>(
            "insert into leads (name, phone, phone_norm, email, email_norm, source, note, assigned_to,
                 customer_id, contact_id, status, created_by, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) returning id",
        )
        .bind(&fields.name)
        .bind(&fields.phone)
        .bind(&phone_norm)
        .bind(&fields.email)
        .bind(&email_norm)
        .bind(&fields.source)
        .bind(&fields.note)
        .bind(assigned_to)
        .bind(sender.as_ref().map(|m| m.customer_id))
        .bind(sender.as_ref().and_then(|m| m.contact_id))
        .bind(status.as_str())
        .bind(viewer.id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
    });
    load(db, id).await
}

async fn load(db: &Db, id: i64) -> Result<Lead> {
    on_read!(db, pool => {
        sqlx::query_as::<_, LeadRow>(&format!("select {COLUMNS} from leads l where l.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .map(Lead::from)
    .ok_or_else(|| Error::not_found("lead", id))
}

pub async fn get(db: &Db, viewer: Viewer, id: i64) -> Result<Lead> {
    on_read!(db, pool => {
        sqlx::query_as::<_, LeadRow>(&format!(
            "{SCOPE} select {COLUMNS} from leads l where l.id = $4 and {VISIBLE}"
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .map(Lead::from)
    .ok_or_else(|| Error::not_found("lead", id))
}

pub async fn list(db: &Db, viewer: Viewer, filter: &LeadFilter, page: Page) -> Result<Paged<Lead>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, LeadRow>(&format!(
            "{SCOPE} select {COLUMNS} from leads l
             where l.id > $4 and {VISIBLE}
               and ($5 is null or l.status = $5)
               and ($6 is null or l.assigned_to = $6)
               and ($7 is null or l.customer_id = $7)
             order by l.id limit $8"
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(page.after)
        .bind(filter.status.map(LeadStatus::as_str))
        .bind(filter.assigned_to)
        .bind(filter.customer_id)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(Lead::from))
}

pub async fn update(db: &Db, viewer: Viewer, id: i64, patch: LeadPatch) -> Result<Lead> {
    let current = get(db, viewer, id).await?;
    let fields = LeadFields {
        name: patch
            .name
            .map(|n| n.trim().to_string())
            .unwrap_or(current.name),
        phone: clean_patch(patch.phone).unwrap_or(current.phone),
        email: clean_patch(patch.email).unwrap_or(current.email),
        source: clean_patch(patch.source).unwrap_or(current.source),
        note: clean_patch(patch.note).unwrap_or(current.note),
    };
    fields.check()?;
    let mut assigned_to = current.assigned_to;
    if let Some(target) = patch.assigned_to.filter(|a| *a != current.assigned_to) {
        if !viewer.assigns() {
            return Err(Error::forbidden("only a head or an admin assigns leads"));
        }
        if let Some(user) = target {
            check_assignee(db, viewer, "assigned_to", user).await?;
        }
        assigned_to = target;
    }
    let (phone_norm, email_norm) = (fields.phone_norm(), fields.email_norm());
    // A lead nobody was known for is looked up again: its phone or e-mail may have changed, or
    // its sender may have become a customer since.
    let (mut status, mut customer_id, mut contact_id) =
        (current.status, current.customer_id, current.contact_id);
    if status == LeadStatus::New
        && let Some(m) = find_sender(db, phone_norm.as_deref(), email_norm.as_deref()).await?
    {
        status = LeadStatus::Attached;
        customer_id = Some(m.customer_id);
        contact_id = m.contact_id;
        assigned_to = assigned_to.or(m.owner_id);
    }
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "update leads set name = $2, phone = $3, phone_norm = $4, email = $5, email_norm = $6,
                 source = $7, note = $8, assigned_to = $9, status = $10, customer_id = $11,
                 contact_id = $12, updated_at = $13
             where id = $1",
        )
        .bind(id)
        .bind(&fields.name)
        .bind(&fields.phone)
        .bind(&phone_norm)
        .bind(&fields.email)
        .bind(&email_norm)
        .bind(&fields.source)
        .bind(&fields.note)
        .bind(assigned_to)
        .bind(status.as_str())
        .bind(customer_id)
        .bind(contact_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    });
    load(db, id).await
}

/// The customer a converted lead's deal is for.
enum Target {
    /// The customer (and contact) the lead was attached to.
    Existing(i64, Option<i64>),
    New(CustomerValues),
}

/// Turns a lead into a deal: for the customer it came from, or for a new customer (with the
/// lead's sender as primary contact). All or nothing; a lead converts once.
pub async fn convert(db: &Db, viewer: Viewer, id: i64, input: ConvertLead) -> Result<Converted> {
    let lead = get(db, viewer, id).await?;
    if lead.status == LeadStatus::Converted {
        return Err(Error::conflict(
            "status",
            format!(
                "lead {id} is already converted (deal {})",
                lead.deal_id.unwrap_or(0)
            ),
        ));
    }
    let owner_id = lead.assigned_to.unwrap_or(viewer.id);
    let target = match lead.customer_id {
        Some(customer_id) => Target::Existing(customer_id, lead.contact_id),
        None => {
            let mut checks = Checks::new();
            if let Some(name) = &input.legal_name {
                checks.text("legal_name", name, NAME_MAX);
            }
            checks.finish()?;
            let contact = NestedContact {
                name: lead.name.clone(),
                position: None,
                phone: lead.phone.clone(),
                email: lead.email.clone(),
                is_primary: Some(true),
            };
            Target::New(CustomerValues::check(
                NewCustomer {
                    legal_name: input.legal_name.unwrap_or_else(|| lead.name.clone()),
                    tax_id: None,
                    kind: input.kind.unwrap_or_default(),
                    source: lead.source.clone(),
                    tags: Vec::new(),
                    owner_id: None,
                    public: false,
                    min_remaining_shelf_life_days: None,
                    phone: lead.phone.clone(),
                    email: lead.email.clone(),
                    addresses: Vec::new(),
                    contacts: vec![contact],
                },
                owner_id,
            )?)
        }
    };
    let deal_input = DealInput {
        title: input.title,
        stage: input.stage,
        status: None,
        lost_reason: None,
        currency: input.currency,
        lines: input.lines,
    };
    let mut deal = DealValues::check(deal_input, owner_id, format!("Deal: {}", lead.name))?;
    deal.lead_id = Some(id);
    deal.verify(db).await?;
    let at = now();
    let mut tx = db.begin().await?;
    let (customer_id, contact_id) = match &target {
        Target::New(values) => customers::insert(&mut tx, values, at).await?,
        Target::Existing(customer_id, contact_id) => (*customer_id, *contact_id),
    };
    deal.customer_id = customer_id;
    let deal_id = deals::insert(&mut tx, &deal, at).await?;
    let marked = on_tx!(&mut tx, tx => {
        sqlx::query(
            "update leads set status = 'converted', deal_id = $2, customer_id = $3, contact_id = $4,
                 assigned_to = $5, updated_at = $6
             where id = $1 and status <> 'converted'",
        )
        .bind(id)
        .bind(deal_id)
        .bind(customer_id)
        .bind(contact_id)
        .bind(owner_id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if marked == 0 {
        // Converted by someone else meanwhile: dropping the transaction undoes this one.
        return Err(Error::conflict(
            "status",
            format!("lead {id} is already converted"),
        ));
    }
    tx.commit().await?;
    Ok(Converted {
        lead: load(db, id).await?,
        customer: customers::load(db, customer_id).await?,
        deal: deals::load(db, deal_id).await?,
    })
}
