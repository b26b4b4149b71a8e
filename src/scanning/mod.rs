//! Scanning: restore what a scanner sent (device profiles), read it (GS1, GTIN, SSCC, Digital
//! Link, Depot's own codes), find what it refers to, and log every scan.

pub mod api;
pub mod images;
pub mod log;
pub mod profiles;
pub mod resolve;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{Error, Result};
use log::{NewScan, ScanLog};
use profiles::{DEFAULT_PROFILE, Profiles};
use resolve::{Gs1View, Match, Reading, ScanKind};

/// Longest scan accepted: more than any 2D symbol holds (QR tops out at 7,089 digits).
pub const MAX_SCAN_CHARS: usize = 8_000;

/// Scanning's shared parts, held in the application state.
#[derive(Clone)]
pub struct Scanning {
    pub profiles: Arc<Profiles>,
    pub log: ScanLog,
}

/// Who sent a scan.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    /// The profile the device was registered with.
    pub device_profile: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ScanRequest {
    /// Exactly what the scanner delivered (GS as U+001D, or the profile's stand-in).
    pub data: String,
    /// A profile in `devices/` to normalise with; defaults to the device's own profile.
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanResult {
    /// Id of this scan in the scan log.
    pub id: i64,
    /// The profile used to normalise the data.
    pub profile: String,
    /// The data after normalisation (GS as U+001D).
    pub data: String,
    /// AIM symbology identifier, when the scanner sent one.
    pub symbology: Option<String>,
    pub kind: ScanKind,
    pub gs1: Option<Gs1View>,
    /// What the scan refers to in Depot; empty when nothing.
    pub matches: Vec<Match>,
}

impl Scanning {
    pub fn new(db: &Db, profiles: Profiles) -> Scanning {
        Scanning {
            profiles: Arc::new(profiles),
            log: ScanLog::start(db.clone()),
        }
    }

    /// Restores raw scanner output with the caller's device profile (generic otherwise), for
    /// endpoints that take a scan inside another request (receipts, picks).
    pub fn normalize_for(&self, caller: &Caller, raw: &str) -> String {
        caller
            .device_profile
            .as_deref()
            .and_then(|p| self.profiles.scanner(p))
            .or_else(|| self.profiles.scanner(DEFAULT_PROFILE))
            .map(|settings| settings.normalize(raw))
            .unwrap_or_else(|| raw.to_string())
    }

    /// Resolves one scan and logs it. Invalid GS1 data is logged as refused and answered with
    /// an error naming the AI and position.
    pub async fn scan(&self, db: &Db, caller: &Caller, request: ScanRequest) -> Result<ScanResult> {
        if request.data.is_empty() {
            return Err(Error::invalid("data", "must not be empty"));
        }
        if request.data.chars().count() > MAX_SCAN_CHARS {
            return Err(Error::invalid(
                "data",
                format!("must be at most {MAX_SCAN_CHARS} characters"),
            ));
        }
        let profile_name = match &request.profile {
            Some(name) => {
                if self.profiles.scanner(name).is_none() {
                    return Err(Error::invalid(
                        "profile",
                        format!("no scanner profile named '{name}'"),
                    ));
                }
                name.clone()
            }
            None => caller
                .device_profile
                .clone()
                .filter(|p| self.profiles.scanner(p).is_some())
                .unwrap_or_else(|| DEFAULT_PROFILE.to_string()),
        };
        let settings = self
            .profiles
            .scanner(&profile_name)
            .cloned()
            .unwrap_or_default();
        let data = settings.normalize(&request.data);
        if data.is_empty() {
            return Err(Error::invalid(
                "data",
                "nothing left after removing the scanner's prefix and suffix",
            ));
        }
        self.resolve(db, caller, &request.data, data, profile_name)
            .await
    }

    /// Reads normalised data, finds what it refers to, and logs the scan under `profile_name`.
    pub async fn resolve(
        &self,
        db: &Db,
        caller: &Caller,
        raw: &str,
        data: String,
        profile_name: String,
    ) -> Result<ScanResult> {
        let symbology = resolve::symbology_of(&data);
        let entry =
            |kind: &'static str, accepted: bool, error: Option<String>, matches: String| NewScan {
                user_id: caller.user_id,
                device_id: caller.device_id,
                profile: Some(profile_name.clone()),
                raw: raw.to_string(),
                data: data.clone(),
                kind,
                symbology: symbology.clone(),
                accepted,
                error,
                matches,
            };
        let reading = match resolve::read(&data) {
            Ok(r) => r,
            Err(e) => {
                self.log
                    .record(entry("gs1", false, Some(e.message.clone()), "[]".into()))
                    .await?;
                return Err(Error::InvalidBarcode {
                    field: "data".into(),
                    ai: e.ai,
                    position: e.position,
                    message: e.message,
                });
            }
        };
        let matches = resolve::matches(db, &data, &reading).await?;
        let kind = match (&reading, matches.is_empty()) {
            (Reading::Other, false) => ScanKind::Internal,
            (r, _) => resolve::kind_of(r),
        };
        let gs1 = match &reading {
            Reading::Gs1 { interpretation, .. } => Some(resolve::gs1_view(interpretation)),
            _ => None,
        };
        let symbology = match &reading {
            Reading::Gs1 { interpretation, .. } => interpretation
                .symbology
                .clone()
                .or_else(|| symbology.clone()),
            _ => symbology.clone(),
        };
        let matches_json = serde_json::to_string(&matches).unwrap_or_else(|_| "[]".into());
        let id = self
            .log
            .record(NewScan {
                symbology: symbology.clone(),
                ..entry(kind.as_str(), true, None, matches_json)
            })
            .await?;
        Ok(ScanResult {
            id,
            profile: profile_name,
            data,
            symbology,
            kind,
            gs1,
            matches,
        })
    }
}

/// What a scan carried inside another request (a count, a pick) points at: a location, or
/// goods with what the barcode says about them.
#[derive(Debug, Clone)]
pub enum Target {
    Location(i64),
    Goods {
        item_id: i64,
        /// Base units in one scanned pack (AI 30/37 when the barcode carries it).
        per_pack: i64,
        /// From the barcode, else the request's own `batch`.
        batch: Option<String>,
        expiry: Option<time::Date>,
        production_date: Option<time::Date>,
    },
}

fn iso_date(value: Option<&str>) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    value.and_then(|v| time::Date::parse(v, &format).ok())
}

impl ScanResult {
    /// The location or goods this scan points at; anything else is a 422 on `scan` that says
    /// what it was (`action`: what the caller is doing, e.g. "counted").
    pub fn target(&self, batch: Option<String>, action: &str) -> Result<Target> {
        if let Some(location) = self.matches.iter().find(|m| m.kind == "location") {
            return Ok(Target::Location(location.id));
        }
        if let Some(item) = self.matches.iter().find(|m| m.kind == "item") {
            let gs1 = self.gs1.as_ref();
            return Ok(Target::Goods {
                item_id: item.id,
                per_pack: gs1.and_then(|g| g.count).or(item.quantity).unwrap_or(1),
                batch: gs1.and_then(|g| g.batch.clone()).or(batch),
                expiry: iso_date(gs1.and_then(|g| g.expiry.as_deref())),
                production_date: iso_date(gs1.and_then(|g| g.production_date.as_deref())),
            });
        }
        Err(match self.matches.first() {
            Some(other) => Error::invalid(
                "scan",
                format!(
                    "a {} barcode cannot be {action}: scan a location or goods",
                    other.kind
                ),
            ),
            None => Error::invalid("scan", "no location or item in Depot has this barcode"),
        })
    }
}

impl Scanning {
    /// [`Scanning::scan`] for a scan carried in another request's `scan` field: errors name
    /// that field instead of `data`.
    pub async fn scan_field(
        &self,
        db: &Db,
        caller: &Caller,
        data: String,
        profile: Option<String>,
    ) -> Result<ScanResult> {
        self.scan(db, caller, ScanRequest { data, profile })
            .await
            .map_err(|e| match e {
                Error::Validation(mut v) => {
                    for f in &mut v {
                        if f.field == "data" {
                            f.field = "scan".into();
                        }
                    }
                    Error::Validation(v)
                }
                Error::InvalidBarcode {
                    ai,
                    position,
                    message,
                    ..
                } => Error::InvalidBarcode {
                    field: "scan".into(),
                    ai,
                    position,
                    message,
                },
                other => other,
            })
    }
}
