//! CRM routes: customers, contacts, transfers, deal stages, leads and deals. Sales roles only
//! (admin, head, rep); what each sees is decided in `crm::visibility`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal};
use crate::crm::contacts::{self, Contact, ContactFilter, ContactPatch, NewContact};
use crate::crm::customers::{
    self, Customer, CustomerFilter, CustomerPatch, CustomerTransfer, NewCustomer, TransferRequest,
    TransferResult,
};
use crate::crm::deals::{self, Deal, DealFilter, DealPatch, NewDeal};
use crate::crm::leads::{self, ConvertLead, Converted, Lead, LeadFilter, LeadPatch, NewLead};
use crate::crm::stages::{self, DealStage, NewDealStage};
use crate::crm::visibility::Viewer;

/// The calling sales user (admin, head or rep); anyone else gets 403.
fn sales(principal: &Principal) -> ApiResult<Viewer> {
    Ok(Viewer::from(principal.user_in(Access::SALES)?))
}

/// Create a customer, with its addresses and contacts.
#[utoipa::path(post, path = "/v1/customers", tag = "crm", request_body = NewCustomer,
    responses((status = 201, body = Customer), ErrorResponses), security(("bearer" = [])))]
async fn create_customer(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewCustomer>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let viewer = sales(&principal)?;
    Ok((
        StatusCode::CREATED,
        Json(customers::create(&state.db, viewer, body).await?),
    ))
}

/// Customers the caller can see: their own (a head: their team's), and public ones.
#[utoipa::path(get, path = "/v1/customers", tag = "crm", params(ListParams, CustomerFilter),
    responses((status = 200, body = Listing<Customer>), ErrorResponses), security(("bearer" = [])))]
async fn list_customers(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<CustomerFilter>,
) -> ApiResult<Json<Listing<Customer>>> {
    let viewer = sales(&principal)?;
    Ok(Json(
        customers::list(&state.db, viewer, &filter, page)
            .await?
            .into(),
    ))
}

/// One customer with its addresses and contacts.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "crm", params(("id" = i64, Path)),
    responses((status = 200, body = Customer), ErrorResponses), security(("bearer" = [])))]
async fn get_customer(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Customer>> {
    let viewer = sales(&principal)?;
    Ok(Json(customers::get(&state.db, viewer, id).await?))
}

/// Change a customer (its owner, or their managers). `addresses` replaces the addresses;
/// `owner_id` transfers it (head or admin).
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "crm", params(("id" = i64, Path)),
    request_body = CustomerPatch, responses((status = 200, body = Customer), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_customer(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    let viewer = sales(&principal)?;
    Ok(Json(customers::update(&state.db, viewer, id, body).await?))
}

/// Move customers, and their open deals, to another owner (admin; a head within their team).
#[utoipa::path(post, path = "/v1/customers/transfer", tag = "crm", request_body = TransferRequest,
    responses((status = 200, body = TransferResult), ErrorResponses), security(("bearer" = [])))]
async fn transfer_customers(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<TransferRequest>,
) -> ApiResult<Json<TransferResult>> {
    principal.check(Access::MANAGERS)?;
    let viewer = sales(&principal)?;
    Ok(Json(customers::transfer(&state.db, viewer, body).await?))
}

/// A customer's ownership history, oldest first.
#[utoipa::path(get, path = "/v1/customers/{id}/transfers", tag = "crm",
    params(("id" = i64, Path), ListParams),
    responses((status = 200, body = Listing<CustomerTransfer>), ErrorResponses),
    security(("bearer" = [])))]
async fn list_customer_transfers(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    Paging(page): Paging,
) -> ApiResult<Json<Listing<CustomerTransfer>>> {
    let viewer = sales(&principal)?;
    Ok(Json(
        customers::transfers(&state.db, viewer, id, page)
            .await?
            .into(),
    ))
}

/// Add a contact to a customer. The first contact is primary; `is_primary` moves it.
#[utoipa::path(post, path = "/v1/contacts", tag = "crm", request_body = NewContact,
    responses((status = 201, body = Contact), ErrorResponses), security(("bearer" = [])))]
async fn create_contact(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewContact>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let viewer = sales(&principal)?;
    Ok((
        StatusCode::CREATED,
        Json(contacts::create(&state.db, viewer, body).await?),
    ))
}

/// Contacts of the customers the caller can see.
#[utoipa::path(get, path = "/v1/contacts", tag = "crm", params(ListParams, ContactFilter),
    responses((status = 200, body = Listing<Contact>), ErrorResponses), security(("bearer" = [])))]
async fn list_contacts(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<ContactFilter>,
) -> ApiResult<Json<Listing<Contact>>> {
    let viewer = sales(&principal)?;
    Ok(Json(
        contacts::list(&state.db, viewer, &filter, page)
            .await?
            .into(),
    ))
}

/// One contact.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "crm", params(("id" = i64, Path)),
    responses((status = 200, body = Contact), ErrorResponses), security(("bearer" = [])))]
async fn get_contact(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Contact>> {
    let viewer = sales(&principal)?;
    Ok(Json(contacts::get(&state.db, viewer, id).await?))
}

/// Change a contact.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "crm", params(("id" = i64, Path)),
    request_body = ContactPatch, responses((status = 200, body = Contact), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_contact(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let viewer = sales(&principal)?;
    Ok(Json(contacts::update(&state.db, viewer, id, body).await?))
}

/// Deal stages in order (any user).
#[utoipa::path(get, path = "/v1/deal-stages", tag = "crm",
    responses((status = 200, body = Listing<DealStage>), ErrorResponses), security(("bearer" = [])))]
async fn list_stages(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Listing<DealStage>>> {
    principal.check(Access::ANY_USER)?;
    Ok(Json(Listing {
        items: stages::list(&state.db).await?,
        next_cursor: None,
    }))
}

/// Add a deal stage (admin).
#[utoipa::path(post, path = "/v1/deal-stages", tag = "crm", request_body = NewDealStage,
    responses((status = 201, body = DealStage), ErrorResponses), security(("bearer" = [])))]
async fn create_stage(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewDealStage>,
) -> ApiResult<(StatusCode, Json<DealStage>)> {
    principal.check(Access::ADMIN)?;
    Ok((
        StatusCode::CREATED,
        Json(stages::create(&state.db, body).await?),
    ))
}

/// Record a lead. A known phone number or e-mail attaches it to that customer.
#[utoipa::path(post, path = "/v1/leads", tag = "crm", request_body = NewLead,
    responses((status = 201, body = Lead), ErrorResponses), security(("bearer" = [])))]
async fn create_lead(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewLead>,
) -> ApiResult<(StatusCode, Json<Lead>)> {
    let viewer = sales(&principal)?;
    Ok((
        StatusCode::CREATED,
        Json(leads::create(&state.db, viewer, body).await?),
    ))
}

/// Leads the caller can see: assigned to them (a head: to their team, or to nobody).
#[utoipa::path(get, path = "/v1/leads", tag = "crm", params(ListParams, LeadFilter),
    responses((status = 200, body = Listing<Lead>), ErrorResponses), security(("bearer" = [])))]
async fn list_leads(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<LeadFilter>,
) -> ApiResult<Json<Listing<Lead>>> {
    let viewer = sales(&principal)?;
    Ok(Json(
        leads::list(&state.db, viewer, &filter, page).await?.into(),
    ))
}

/// One lead.
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "crm", params(("id" = i64, Path)),
    responses((status = 200, body = Lead), ErrorResponses), security(("bearer" = [])))]
async fn get_lead(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Lead>> {
    let viewer = sales(&principal)?;
    Ok(Json(leads::get(&state.db, viewer, id).await?))
}

/// Change a lead; `assigned_to` assigns it (head or admin).
#[utoipa::path(patch, path = "/v1/leads/{id}", tag = "crm", params(("id" = i64, Path)),
    request_body = LeadPatch, responses((status = 200, body = Lead), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_lead(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<LeadPatch>,
) -> ApiResult<Json<Lead>> {
    let viewer = sales(&principal)?;
    Ok(Json(leads::update(&state.db, viewer, id, body).await?))
}

/// Convert a lead into a deal (and a customer, unless it came from a known one). The body is
/// optional. A lead converts once: again → 409.
#[utoipa::path(post, path = "/v1/leads/{id}/convert", tag = "crm", params(("id" = i64, Path)),
    request_body(content = Option<ConvertLead>, description = "optional"),
    responses((status = 201, body = Converted), ErrorResponses), security(("bearer" = [])))]
async fn convert_lead(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<ConvertLead>,
) -> ApiResult<(StatusCode, Json<Converted>)> {
    let viewer = sales(&principal)?;
    Ok((
        StatusCode::CREATED,
        Json(leads::convert(&state.db, viewer, id, body).await?),
    ))
}

/// Create a deal for a customer the caller can see.
#[utoipa::path(post, path = "/v1/deals", tag = "crm", request_body = NewDeal,
    responses((status = 201, body = Deal), ErrorResponses), security(("bearer" = [])))]
async fn create_deal(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewDeal>,
) -> ApiResult<(StatusCode, Json<Deal>)> {
    let viewer = sales(&principal)?;
    Ok((
        StatusCode::CREATED,
        Json(deals::create(&state.db, viewer, body).await?),
    ))
}

/// Deals the caller can see: their own (a head: their team's; an admin: all).
#[utoipa::path(get, path = "/v1/deals", tag = "crm", params(ListParams, DealFilter),
    responses((status = 200, body = Listing<Deal>), ErrorResponses), security(("bearer" = [])))]
async fn list_deals(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<DealFilter>,
) -> ApiResult<Json<Listing<Deal>>> {
    let viewer = sales(&principal)?;
    Ok(Json(
        deals::list(&state.db, viewer, &filter, page).await?.into(),
    ))
}

/// One deal with its lines.
#[utoipa::path(get, path = "/v1/deals/{id}", tag = "crm", params(("id" = i64, Path)),
    responses((status = 200, body = Deal), ErrorResponses), security(("bearer" = [])))]
async fn get_deal(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Deal>> {
    let viewer = sales(&principal)?;
    Ok(Json(deals::get(&state.db, viewer, id).await?))
}

/// Change a deal: stage, status (lost needs `lost_reason`), lines (while open), owner.
#[utoipa::path(patch, path = "/v1/deals/{id}", tag = "crm", params(("id" = i64, Path)),
    request_body = DealPatch, responses((status = 200, body = Deal), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_deal(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<DealPatch>,
) -> ApiResult<Json<Deal>> {
    let viewer = sales(&principal)?;
    let deal = crate::fulfilment::planning::update_deal(&state.db, viewer, id, body).await?;
    Ok(Json(deal))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, patch_customer))
        .routes(routes!(transfer_customers))
        .routes(routes!(list_customer_transfers))
        .routes(routes!(create_contact, list_contacts))
        .routes(routes!(get_contact, patch_contact))
        .routes(routes!(list_stages, create_stage))
        .routes(routes!(create_lead, list_leads))
        .routes(routes!(get_lead, patch_lead))
        .routes(routes!(convert_lead))
        .routes(routes!(create_deal, list_deals))
        .routes(routes!(get_deal, patch_deal))
}
