//! Depot Floor (`/floor`): the web app for handheld scanners and phones, served from files
//! built into the binary (`src/floor/assets/`). Plain HTML, CSS and JavaScript modules: building
//! Depot needs no JavaScript toolchain, and the app fetches nothing from anywhere but Depot.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script or style, nothing
//! from another origin) and an `ETag`; everything is `no-cache` (revalidated, answered 304 when
//! unchanged), so a new build reaches devices at once. The service worker keeps its own copy of
//! the shell for offline starts, versioned by a hash of every asset.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The policy every Floor answer carries: only this origin, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     worker-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const fn asset(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type,
        body,
    }
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the app; `index.html` is also served at `/floor/`.
static FILES: &[Asset] = &[
    asset(
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("assets/index.html"),
    ),
    asset(
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    asset("app.js", JS, include_bytes!("assets/app.js")),
    asset("store.js", JS, include_bytes!("assets/store.js")),
    asset("sync.js", JS, include_bytes!("assets/sync.js")),
    asset("scan.js", JS, include_bytes!("assets/scan.js")),
    asset("feedback.js", JS, include_bytes!("assets/feedback.js")),
    asset("qr.js", JS, include_bytes!("assets/qr.js")),
    asset("sw.js", JS, include_bytes!("assets/sw.js")),
    asset(
        "manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("assets/manifest.webmanifest"),
    ),
    asset(
        "icon.svg",
        "image/svg+xml",
        include_bytes!("assets/icon.svg"),
    ),
    asset(
        "icon-192.png",
        "image/png",
        include_bytes!("assets/icon-192.png"),
    ),
    asset(
        "icon-512.png",
        "image/png",
        include_bytes!("assets/icon-512.png"),
    ),
];

/// A hash of every asset: the service worker's cache name and every answer's `ETag`, so any
/// change to any file makes devices fetch the shell again.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for file in FILES {
        hash.update(file.name.as_bytes());
        hash.update((file.body.len() as u64).to_le_bytes());
        hash.update(file.body);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The service worker with its cache version filled in.
static SERVICE_WORKER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let text = String::from_utf8_lossy(include_bytes!("assets/sw.js"));
    text.replace("__FLOOR_VERSION__", &VERSION).into_bytes()
});

/// The build's asset version (the service worker's cache name ends with it).
pub fn version() -> &'static str {
    &VERSION
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = FILES.iter().find(|f| f.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-{}\"", *VERSION, file.name);
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, file.content_type);
    // Revalidated on every load (a 304 when unchanged); the service worker answers offline.
    set(header::CACHE_CONTROL, "no-cache");
    set(header::ETAG, &etag);
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::HeaderName::from_static("permissions-policy"),
        "camera=(self), microphone=(), geolocation=()",
    );
    if file.name == "sw.js" {
        // Never kept by HTTP caches (browsers cap a worker's max-age at 24 h anyway).
        set_no_store(&mut headers);
    }
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let body: Vec<u8> = if file.name == "sw.js" {
        SERVICE_WORKER.clone()
    } else {
        file.body.to_vec()
    };
    (StatusCode::OK, headers, body).into_response()
}

fn set_no_store(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0"),
    );
}

async fn index(request: HeaderMap) -> Response {
    serve("index.html", &request)
}

async fn file(Path(name): Path<String>, request: HeaderMap) -> Response {
    serve(&name, &request)
}

/// `/floor` and its files. Public: the app holds no data; it signs in against the API.
pub fn router() -> Router {
    Router::new()
        .route("/floor", get(|| async { Redirect::permanent("/floor/") }))
        .route("/floor/", get(index))
        .route("/floor/{name}", get(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_content_type_and_the_worker_its_version() {
        for f in FILES {
            assert!(!f.body.is_empty(), "{} is empty", f.name);
        }
        let sw = String::from_utf8(SERVICE_WORKER.clone()).unwrap();
        assert!(sw.contains(version()) && !sw.contains("__FLOOR_VERSION__"));
    }

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        let html = String::from_utf8_lossy(include_bytes!("assets/index.html"));
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..html[i..].find('>').map_or(html.len(), |e| i + e)];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
        assert!(!html.contains("<style") && !html.contains(" style="));
        let handler = html.split(char::is_whitespace).find(|word| {
            word.strip_prefix("on")
                .and_then(|rest| rest.split_once('='))
                .is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase())
                })
        });
        assert_eq!(handler, None, "inline event handler");
    }
}
