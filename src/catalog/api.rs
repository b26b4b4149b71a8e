//! HTTP handlers for the catalog: reads for every user and device, writes for admins.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::catalog::items::{
    self, BarcodeAlias, Bom, GtinInput, Item, ItemFilter, ItemPatch, NewItem,
};
use crate::catalog::suppliers::{self, NewSupplier, Supplier, SupplierPatch};
use crate::catalog::warehouses::{
    self, Location, LocationFilter, LocationPatch, NewLocation, NewWarehouse, Warehouse,
    WarehousePatch,
};

type Created<T> = ApiResult<(StatusCode, Json<T>)>;

fn created<T>(value: T) -> Created<T> {
    Ok((StatusCode::CREATED, Json(value)))
}

/// Create an item with its GTINs (admin).
#[utoipa::path(post, path = "/v1/items", tag = "catalog", request_body = NewItem,
    responses((status = 201, body = Item), ErrorResponses), security(("bearer" = [])))]
async fn create_item(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewItem>,
) -> Created<Item> {
    p.check(Access::ADMIN)?;
    created(items::create(&s.db, body).await?)
}

/// List items; filter by text, code, any GTIN, source, tracking or supplier.
#[utoipa::path(get, path = "/v1/items", tag = "catalog", params(ListParams, ItemFilter),
    responses((status = 200, body = Listing<Item>), ErrorResponses), security(("bearer" = [])))]
async fn list_items(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<ItemFilter>,
) -> ApiResult<Json<Listing<Item>>> {
    p.check(Access::ANYONE)?;
    Ok(Json(items::list(&s.db, &filter, page).await?.into()))
}

/// One item with its GTINs.
#[utoipa::path(get, path = "/v1/items/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = Item), ErrorResponses), security(("bearer" = [])))]
async fn get_item(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Item>> {
    p.check(Access::ANYONE)?;
    Ok(Json(items::get(&s.db, id).await?))
}

/// Change an item (admin); `gtins`, when given, replaces all of them; `active: false` takes it
/// out of use.
#[utoipa::path(patch, path = "/v1/items/{id}", tag = "catalog", params(("id" = i64, Path)),
    request_body = ItemPatch, responses((status = 200, body = Item), ErrorResponses), security(("bearer" = [])))]
async fn patch_item(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<ItemPatch>,
) -> ApiResult<Json<Item>> {
    p.check(Access::ADMIN)?;
    Ok(Json(items::update(&s.db, id, body).await?))
}

/// Add a GTIN (one packaging level) to an item (admin).
#[utoipa::path(post, path = "/v1/items/{id}/gtins", tag = "catalog", params(("id" = i64, Path)),
    request_body = GtinInput, responses((status = 201, body = Item), ErrorResponses), security(("bearer" = [])))]
async fn add_gtin(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<GtinInput>,
) -> Created<Item> {
    p.check(Access::ADMIN)?;
    created(items::add_gtin(&s.db, id, body).await?)
}

/// Remove a GTIN from an item (admin).
#[utoipa::path(delete, path = "/v1/items/{id}/gtins/{gtin}", tag = "catalog",
    params(("id" = i64, Path), ("gtin" = String, Path)),
    responses((status = 200, body = Item), ErrorResponses), security(("bearer" = [])))]
async fn remove_gtin(
    State(s): State<AppState>,
    p: Principal,
    Path((id, gtin)): Path<(String, String)>,
) -> ApiResult<Json<Item>> {
    p.check(Access::ADMIN)?;
    let id = id
        .parse()
        .map_err(|_| crate::error::Error::not_found("item", &id))?;
    Ok(Json(items::remove_gtin(&s.db, id, &gtin).await?))
}

/// Link a non-GTIN barcode (an old label, a supplier's code, an unknown code from the scan
/// log) to an item (admin, warehouse).
#[utoipa::path(post, path = "/v1/items/{id}/aliases", tag = "catalog", params(("id" = i64, Path)),
    request_body = BarcodeAlias, responses((status = 201, body = BarcodeAlias), ErrorResponses), security(("bearer" = [])))]
async fn add_alias(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<BarcodeAlias>,
) -> Created<BarcodeAlias> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    created(items::add_alias(&s.db, id, &body.code, body.quantity).await?)
}

/// The barcode aliases of an item.
#[utoipa::path(get, path = "/v1/items/{id}/aliases", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = Listing<BarcodeAlias>), ErrorResponses), security(("bearer" = [])))]
async fn list_aliases(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Listing<BarcodeAlias>>> {
    p.check(Access::ANYONE)?;
    Ok(Json(Listing {
        items: items::aliases(&s.db, id).await?,
        next_cursor: None,
    }))
}

/// Unlink a barcode alias from an item (admin, warehouse); answers the item's aliases left.
/// A code with `/` or other reserved characters is sent percent-encoded.
#[utoipa::path(delete, path = "/v1/items/{id}/aliases/{code}", tag = "catalog",
    params(("id" = i64, Path), ("code" = String, Path)),
    responses((status = 200, body = Listing<BarcodeAlias>), ErrorResponses), security(("bearer" = [])))]
async fn remove_alias(
    State(s): State<AppState>,
    p: Principal,
    Path((id, code)): Path<(String, String)>,
) -> ApiResult<Json<Listing<BarcodeAlias>>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    let id = id
        .parse()
        .map_err(|_| crate::error::Error::not_found("item", &id))?;
    Ok(Json(Listing {
        items: items::remove_alias(&s.db, id, &code).await?,
        next_cursor: None,
    }))
}

/// The bill of materials of a manufactured item.
#[utoipa::path(get, path = "/v1/items/{id}/bom", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = Bom), ErrorResponses), security(("bearer" = [])))]
async fn get_bom(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Bom>> {
    p.check(Access::ANYONE)?;
    Ok(Json(items::bom(&s.db, id).await?))
}

/// Replace the bill of materials of a manufactured item (admin).
#[utoipa::path(put, path = "/v1/items/{id}/bom", tag = "catalog", params(("id" = i64, Path)),
    request_body = Bom, responses((status = 200, body = Bom), ErrorResponses), security(("bearer" = [])))]
async fn put_bom(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<Bom>,
) -> ApiResult<Json<Bom>> {
    p.check(Access::ADMIN)?;
    Ok(Json(items::set_bom(&s.db, id, body.lines).await?))
}

/// Create a supplier (admin).
#[utoipa::path(post, path = "/v1/suppliers", tag = "catalog", request_body = NewSupplier,
    responses((status = 201, body = Supplier), ErrorResponses), security(("bearer" = [])))]
async fn create_supplier(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewSupplier>,
) -> Created<Supplier> {
    p.check(Access::ADMIN)?;
    created(suppliers::create(&s.db, body).await?)
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TextFilter {
    /// Substring of code or name, case-insensitive.
    q: Option<String>,
}

/// List suppliers.
#[utoipa::path(get, path = "/v1/suppliers", tag = "catalog", params(ListParams, TextFilter),
    responses((status = 200, body = Listing<Supplier>), ErrorResponses), security(("bearer" = [])))]
async fn list_suppliers(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<TextFilter>,
) -> ApiResult<Json<Listing<Supplier>>> {
    p.check(Access::ANY_USER)?;
    Ok(Json(
        suppliers::list(&s.db, filter.q.as_deref(), page)
            .await?
            .into(),
    ))
}

/// One supplier.
#[utoipa::path(get, path = "/v1/suppliers/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = Supplier), ErrorResponses), security(("bearer" = [])))]
async fn get_supplier(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Supplier>> {
    p.check(Access::ANY_USER)?;
    Ok(Json(suppliers::get(&s.db, id).await?))
}

/// Change a supplier (admin).
#[utoipa::path(patch, path = "/v1/suppliers/{id}", tag = "catalog", params(("id" = i64, Path)),
    request_body = SupplierPatch, responses((status = 200, body = Supplier), ErrorResponses), security(("bearer" = [])))]
async fn patch_supplier(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<SupplierPatch>,
) -> ApiResult<Json<Supplier>> {
    p.check(Access::ADMIN)?;
    Ok(Json(suppliers::update(&s.db, id, body).await?))
}

/// Create a warehouse (admin), optionally with the printers dispatch prints to
/// (`label_printer_id`, `document_printer_id`: devices of kind `printer`, not revoked).
#[utoipa::path(post, path = "/v1/warehouses", tag = "warehouses", request_body = NewWarehouse,
    responses((status = 201, body = Warehouse), ErrorResponses), security(("bearer" = [])))]
async fn create_warehouse(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewWarehouse>,
) -> Created<Warehouse> {
    p.check(Access::ADMIN)?;
    created(warehouses::create(&s.db, body).await?)
}

/// List warehouses.
#[utoipa::path(get, path = "/v1/warehouses", tag = "warehouses", params(ListParams),
    responses((status = 200, body = Listing<Warehouse>), ErrorResponses), security(("bearer" = [])))]
async fn list_warehouses(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
) -> ApiResult<Json<Listing<Warehouse>>> {
    p.check(Access::ANYONE)?;
    Ok(Json(warehouses::list(&s.db, page).await?.into()))
}

/// One warehouse.
#[utoipa::path(get, path = "/v1/warehouses/{id}", tag = "warehouses", params(("id" = i64, Path)),
    responses((status = 200, body = Warehouse), ErrorResponses), security(("bearer" = [])))]
async fn get_warehouse(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Warehouse>> {
    p.check(Access::ANYONE)?;
    Ok(Json(warehouses::get(&s.db, id).await?))
}

/// Change a warehouse (admin); `label_printer_id` / `document_printer_id` set its dispatch
/// printers, `null` clears them.
#[utoipa::path(patch, path = "/v1/warehouses/{id}", tag = "warehouses", params(("id" = i64, Path)),
    request_body = WarehousePatch, responses((status = 200, body = Warehouse), ErrorResponses), security(("bearer" = [])))]
async fn patch_warehouse(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<WarehousePatch>,
) -> ApiResult<Json<Warehouse>> {
    p.check(Access::ADMIN)?;
    Ok(Json(warehouses::update(&s.db, id, body).await?))
}

/// Add a location (bin) to a warehouse (admin).
#[utoipa::path(post, path = "/v1/warehouses/{id}/locations", tag = "warehouses", params(("id" = i64, Path)),
    request_body = NewLocation, responses((status = 201, body = Location), ErrorResponses), security(("bearer" = [])))]
async fn create_location(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<NewLocation>,
) -> Created<Location> {
    p.check(Access::ADMIN)?;
    created(warehouses::create_location(&s.db, id, body).await?)
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BarcodeFilter {
    barcode: Option<String>,
    code: Option<String>,
}

/// The locations of one warehouse.
#[utoipa::path(get, path = "/v1/warehouses/{id}/locations", tag = "warehouses",
    params(("id" = i64, Path), ListParams, BarcodeFilter),
    responses((status = 200, body = Listing<Location>), ErrorResponses), security(("bearer" = [])))]
async fn list_warehouse_locations(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Paging(page): Paging,
    Query(f): Query<BarcodeFilter>,
) -> ApiResult<Json<Listing<Location>>> {
    p.check(Access::ANYONE)?;
    warehouses::get(&s.db, id).await?;
    let filter = LocationFilter {
        warehouse_id: Some(id),
        barcode: f.barcode,
        code: f.code,
    };
    Ok(Json(
        warehouses::list_locations(&s.db, &filter, page)
            .await?
            .into(),
    ))
}

/// Locations across warehouses; look a bin up by its barcode.
#[utoipa::path(get, path = "/v1/locations", tag = "warehouses", params(ListParams, LocationFilter),
    responses((status = 200, body = Listing<Location>), ErrorResponses), security(("bearer" = [])))]
async fn list_locations(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<LocationFilter>,
) -> ApiResult<Json<Listing<Location>>> {
    p.check(Access::ANYONE)?;
    Ok(Json(
        warehouses::list_locations(&s.db, &filter, page)
            .await?
            .into(),
    ))
}

/// One location.
#[utoipa::path(get, path = "/v1/locations/{id}", tag = "warehouses", params(("id" = i64, Path)),
    responses((status = 200, body = Location), ErrorResponses), security(("bearer" = [])))]
async fn get_location(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Location>> {
    p.check(Access::ANYONE)?;
    Ok(Json(warehouses::location(&s.db, id).await?))
}

/// Change a location's barcode or pick-route position (admin).
#[utoipa::path(patch, path = "/v1/locations/{id}", tag = "warehouses", params(("id" = i64, Path)),
    request_body = LocationPatch, responses((status = 200, body = Location), ErrorResponses), security(("bearer" = [])))]
async fn patch_location(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<LocationPatch>,
) -> ApiResult<Json<Location>> {
    p.check(Access::ADMIN)?;
    Ok(Json(warehouses::update_location(&s.db, id, body).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_item, list_items))
        .routes(routes!(get_item, patch_item))
        .routes(routes!(add_gtin))
        .routes(routes!(remove_gtin))
        .routes(routes!(get_bom, put_bom))
        .routes(routes!(add_alias, list_aliases))
        .routes(routes!(remove_alias))
        .routes(routes!(create_supplier, list_suppliers))
        .routes(routes!(get_supplier, patch_supplier))
        .routes(routes!(create_warehouse, list_warehouses))
        .routes(routes!(get_warehouse, patch_warehouse))
        .routes(routes!(create_location, list_warehouse_locations))
        .routes(routes!(list_locations))
        .routes(routes!(get_location, patch_location))
}
