//! Bearer authentication for people (JWT) and devices (random token), and the client's
//! address (behind trusted proxies).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::api::problem::ApiError;
use crate::api::state::AppState;
use crate::auth::tokens::DEVICE_TOKEN_PREFIX;
use crate::auth::{Principal, devices, users};
use crate::error::{Error, Result};

/// Resolves the `Authorization: Bearer …` header to a principal.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("missing Authorization: Bearer token".into()))?;
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("Authorization header is not text".into()))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(Error::Unauthenticated(
                "Authorization must use the Bearer scheme".into(),
            ));
        }
    };
    if token.starts_with(DEVICE_TOKEN_PREFIX) {
        Ok(Principal::Device(
            devices::authenticate(&state.db, token).await?,
        ))
    } else {
        let subject = state.jwt.verify(token)?;
        Ok(Principal::User(
            users::session(&state.db, subject.user_id, subject.generation).await?,
        ))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = authenticate(state, &parts.headers).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// The client's address: the socket peer or, when the peer is one of `trusted_proxies`, the
/// nearest address in `X-Forwarded-For` that is not a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// Walks `X-Forwarded-For` from the right (the entries nearest to us, which our proxies wrote)
/// and stops at the first address that is not a trusted proxy; entries further left are
/// whatever the client claimed. Without a peer (a router served without connect info) every
/// client is `0.0.0.0`.
fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let Some(peer) = peer.map(|p| p.to_canonical()) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for entry in text.rsplit(',') {
            let entry = entry.trim();
            let parsed = entry
                .parse::<IpAddr>()
                .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()));
            match parsed {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !trusted.contains(&client) {
                        return client;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let h = forwarded(&["6.6.6.6, 203.0.113.7, 10.0.0.2"]);
        // An untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(Some(ip("198.51.100.1")), &h, &trusted),
            ip("198.51.100.1")
        );
        // Through two trusted proxies: the first untrusted entry from the right.
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            ip("203.0.113.7")
        );
        // Several header lines read as one list; ports and mapped IPv4 are understood.
        let h = forwarded(&["6.6.6.6", "203.0.113.7:4711"]);
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &h, &trusted),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last address we could trust.
        let h = forwarded(&["203.0.113.7, garbage"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(client_ip(None, &h, &trusted), ip("0.0.0.0"));
    }
}
