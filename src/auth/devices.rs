//! Scanners and printers: registered by an admin, authenticated by a revocable random token.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::tokens::{generate_device_token, hash_device_token};
use crate::auth::{DeviceKind, DevicePrincipal};
use crate::db::{Db, Keys, Page, Paged, now, rows_for_keys};
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Device {
    pub id: i64,
    pub name: String,
    pub kind: DeviceKind,
    /// Name of a profile file in `devices/` (scanner normalisation or printer geometry).
    pub profile: String,
    /// Network address of a printer (`host:port`, raw TCP).
    pub address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: i64,
    name: String,
    kind: String,
    profile: String,
    address: Option<String>,
    created_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Device {
        Device {
            id: r.id,
            name: r.name,
            kind: DeviceKind::parse(&r.kind).unwrap_or(DeviceKind::Scanner),
            profile: r.profile,
            address: r.address,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

const COLUMNS: &str = "id, name, kind, profile, address, created_at, revoked_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDevice {
    pub name: String,
    pub kind: DeviceKind,
    pub profile: String,
    #[serde(default)]
    pub address: Option<String>,
}

/// A device together with its token, which is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredDevice {
    #[serde(flatten)]
    pub device: Device,
    pub token: String,
}

fn check_profile(profile: &str, checks: &mut Checks) {
    let ok = !profile.is_empty()
        && profile.len() <= 64
        && profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !profile.starts_with('.');
    checks.check(
        ok,
        "profile",
        "must name a profile: 1-64 characters of a-z, 0-9, '-', '_', '.'",
    );
}

/// Registers a device whose profile is one of `known_profiles` (the profiles of its kind this
/// server has loaded): a device with a profile nobody knows would fail only at its first job.
pub async fn register(
    db: &Db,
    new: NewDevice,
    known_profiles: &[&str],
    by_user: Option<i64>,
) -> Result<RegisteredDevice> {
    let mut checks = Checks::new();
    checks.text("name", &new.name, 100);
    check_profile(&new.profile, &mut checks);
    if !new.profile.is_empty() && !known_profiles.contains(&new.profile.as_str()) {
        checks.fail(
            "profile",
            format!(
                "no {} profile '{}' is known; known {} profiles: {}",
                new.kind.as_str(),
                new.profile,
                new.kind.as_str(),
                known_profiles.join(", ")
            ),
        );
    }
    checks.opt_text("address", new.address.as_deref(), 255);
    checks.finish()?;
    let token = generate_device_token();
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, DeviceRow>(&format!(
            "insert into devices (name, kind, profile, address, token_hash, created_by, created_at)
             values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
        ))
        .bind(new.name.trim())
        .bind(new.kind.as_str())
        .bind(&new.profile)
        .bind(new.address)
        .bind(hash_device_token(&token))
        .bind(by_user)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
    });
    Ok(RegisteredDevice {
        device: row.into(),
        token,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Device> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, DeviceRow>(&format!("select {COLUMNS} from devices where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(Device::from)
        .ok_or_else(|| Error::not_found("device", id))
}

pub async fn list(db: &Db, kind: Option<DeviceKind>, page: Page) -> Result<Paged<Device>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, DeviceRow>(&format!(
            "select {COLUMNS} from devices where id > $1 and ($2 is null or kind = $2)
             order by id limit $3"
        ))
        .bind(page.after)
        .bind(kind.map(DeviceKind::as_str))
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(Device::from))
}

/// The devices of the ids `keys`, in id order; an id that names no device is left out.
pub async fn by_ids(db: &Db, keys: &Keys) -> Result<Vec<Device>> {
    let rows: Vec<DeviceRow> = rows_for_keys(
        db,
        &format!("select {COLUMNS} from devices where {{keys}} order by id"),
        "id",
        keys,
    )
    .await?;
    Ok(rows.into_iter().map(Device::from).collect())
}

/// Revokes a device's token at once; revoking twice is harmless.
pub async fn revoke(db: &Db, id: i64) -> Result<Device> {
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, DeviceRow>(&format!(
            "update devices set revoked_at = coalesce(revoked_at, $2) where id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?
    });
    row.map(Device::from)
        .ok_or_else(|| Error::not_found("device", id))
}

/// Resolves a device token to its device, if it is known and not revoked.
pub async fn authenticate(db: &Db, token: &str) -> Result<DevicePrincipal> {
    let found = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, String, String)>(
            "select id, kind, profile from devices where token_hash = $1 and revoked_at is null",
        )
        .bind(hash_device_token(token))
        .fetch_optional(pool)
        .await?
    });
    match found {
        Some((id, kind, profile)) => Ok(DevicePrincipal {
            id,
            kind: DeviceKind::parse(&kind).unwrap_or(DeviceKind::Scanner),
            profile,
        }),
        None => Err(Error::Unauthenticated(
            "unknown or revoked device token".into(),
        )),
    }
}

/// Refuses, naming `field`, anything but a device of kind `printer` that is not revoked.
pub async fn check_printer(db: &Db, field: &str, id: i64) -> Result<Device> {
    let device = match get(db, id).await {
        Ok(d) => d,
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(field, format!("no device with id {id}")));
        }
        Err(e) => return Err(e),
    };
    if device.kind != DeviceKind::Printer {
        return Err(Error::invalid(
            field,
            format!("device {id} is a {}, not a printer", device.kind.as_str()),
        ));
    }
    if device.revoked_at.is_some() {
        return Err(Error::invalid(field, format!("printer {id} is revoked")));
    }
    Ok(device)
}
