//! The schema side of the routers. One component per Rust type: utoipa names a schema after
//! its Rust type without the module path and keeps one schema per name, so two types called
//! `Status` would silently share one component (the last registered wins). Every router
//! registers its handlers with this module's [`routes!`], which also shows their schemas to
//! [`collisions`] (a test).

/// Raw bytes: a PDF, PNG or ZPL document, or an uploaded photo.
// In the document `type: string, format: binary`, which generated clients treat as a file.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

/// `utoipa_axum::routes!`, and the schemas the handlers bring are also shown to
/// [`collisions`] (every router uses this one).
macro_rules! routes {
    ($($handlers:tt)*) => {
        $crate::api::schemas::record(utoipa_axum::routes!($($handlers)*))
    };
}
pub(crate) use routes;

/// The paths and the `(name, schema)` pairs the handlers contributed.
type Contributed = (
    Vec<String>,
    Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
);

thread_local! {
    /// While [`collisions`] builds the routes: every `(name, schema)` the handlers
    /// contribute, before the router merges them by name (where the last one silently wins).
    static CONTRIBUTED: std::cell::RefCell<Option<Contributed>> = const { std::cell::RefCell::new(None) };
}

#[doc(hidden)]
pub fn record<S>(
    routes: utoipa_axum::router::UtoipaMethodRouter<S>,
) -> utoipa_axum::router::UtoipaMethodRouter<S> {
    CONTRIBUTED.with_borrow_mut(|seen| {
        if let Some((paths, schemas)) = seen {
            paths.extend(routes.1.paths.keys().cloned());
            schemas.extend(routes.0.iter().cloned());
        }
    });
    routes
}

/// Component names that two different schemas were registered under (two Rust types with the
/// same name, say two `Status` enums), with the schemas' JSON: utoipa keeps only one of them,
/// so the document would describe one type with the other's schema. Empty when none collide;
/// an error names a documented path whose handlers were not routed with [`routes!`] (their
/// schemas could not be checked).
/// `route` builds the routes (`app::openapi`) while the schemas they contribute are watched.
pub fn collisions(
    route: impl FnOnce() -> utoipa::openapi::OpenApi,
) -> Result<Vec<(String, Vec<serde_json::Value>)>, String> {
    CONTRIBUTED.set(Some(Default::default()));
    let openapi = route();
    let (paths, contributed) = CONTRIBUTED.take().unwrap_or_default();
    if let Some(path) = openapi.paths.paths.keys().find(|p| !paths.contains(p)) {
        return Err(format!(
            "{path} is routed without crate::api::routes!, so its schemas are not checked"
        ));
    }
    let mut by_name: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    for (name, schema) in contributed {
        let schema = serde_json::to_value(&schema).unwrap_or_default();
        let schemas = by_name.entry(name).or_default();
        if !schemas.contains(&schema) {
            schemas.push(schema);
        }
    }
    Ok(by_name.into_iter().filter(|(_, s)| s.len() > 1).collect())
}
