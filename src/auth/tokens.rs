//! Access tokens: short-lived HS256 JWTs for people, long-lived random tokens for devices.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{Role, UserPrincipal};

/// What a valid token says about its user; `users::session` checks it against the database.
#[derive(Debug, Clone)]
pub struct TokenSubject {
    pub user_id: i64,
    pub username: String,
    pub generation: i64,
}
use crate::error::{Error, Result};

/// Prefix that tells a device token from a JWT at a glance (and to secret scanners).
pub const DEVICE_TOKEN_PREFIX: &str = "dpt_";
const ISSUER: &str = "depot";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// For clients to read; the server uses the role in the database, not this one.
    role: Role,
    name: String,
    /// The user's token generation at issue. Tokens from before the claim existed count as 0.
    #[serde(default)]
    tgen: i64,
    iss: String,
    iat: i64,
    exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub ttl_secs: u64,
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> JwtKeys {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    pub fn issue(&self, user: &UserPrincipal) -> Result<IssuedToken> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role,
            name: user.username.clone(),
            tgen: user.generation,
            iss: ISSUER.into(),
            iat: now,
            exp: now + self.ttl_secs as i64,
        };
        let access_token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
                .map_err(|e| Error::Internal(anyhow::anyhow!("signing token: {e}")))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl_secs,
        })
    }

    /// Checks signature, issuer and expiry; whether the token still stands for its user is
    /// `users::session`'s question.
    pub fn verify(&self, token: &str) -> Result<TokenSubject> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired; log in again or refresh",
                    ErrorKind::InvalidSignature => "token signature is invalid",
                    _ => "token is malformed or invalid",
                };
                Error::Unauthenticated(reason.into())
            })?;
        let id = data
            .claims
            .sub
            .parse()
            .map_err(|_| Error::Unauthenticated("token subject is invalid".into()))?;
        Ok(TokenSubject {
            user_id: id,
            username: data.claims.name,
            generation: data.claims.tgen,
        })
    }
}

/// A new random secret, base64url, for signing JWTs.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new device token: shown once to the admin, stored only as its hash.
pub fn generate_device_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{DEVICE_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Device tokens carry 256 random bits, so a fast hash is enough (no KDF needed).
pub fn hash_device_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserPrincipal {
        UserPrincipal {
            id: 7,
            role: Role::Rep,
            username: "alice".into(),
            generation: 3,
        }
    }

    #[test]
    fn an_issued_token_verifies_and_carries_the_user() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let token = keys.issue(&alice()).unwrap();
        let subject = keys.verify(&token.access_token).unwrap();
        assert_eq!(subject.user_id, 7);
        assert_eq!(subject.username, "alice");
        assert_eq!(subject.generation, 3);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let other = JwtKeys::new(b"fedcba9876543210fedcba9876543210", 60);
        let token = other.issue(&alice()).unwrap();
        assert!(matches!(
            keys.verify(&token.access_token),
            Err(Error::Unauthenticated(_))
        ));
        assert!(keys.verify("not.a.jwt").is_err());
    }

    #[test]
    fn device_tokens_are_random_and_hash_stably() {
        let a = generate_device_token();
        let b = generate_device_token();
        assert_ne!(a, b);
        assert!(a.starts_with(DEVICE_TOKEN_PREFIX));
        assert_eq!(hash_device_token(&a), hash_device_token(&a));
        assert_eq!(hash_device_token(&a).len(), 64);
    }
}
