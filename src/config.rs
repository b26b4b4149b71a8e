//! Configuration: defaults, then an optional TOML file, then `DEPOT_*` environment variables.

use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A string that never shows up in logs or `Debug` output.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// `sqlite://depot.db` (created if missing) or `postgres://user@host/db`.
    pub database_url: String,
    pub listen: String,
    /// HS256 signing secret; generated once and kept in the database when unset.
    pub jwt_secret: Option<Secret>,
    /// Password for the `admin` user created on an empty database.
    pub admin_password: Option<Secret>,
    /// Lifetime of a user's access token.
    pub access_token_ttl_secs: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// A request taking longer than this is answered 408/503 and abandoned.
    pub request_timeout_secs: u64,
    /// Log as JSON lines (production) instead of human-readable text.
    pub log_json: bool,
    /// Extra device profiles (`*.toml`), added to or overriding the built-in ones.
    pub devices_dir: Option<std::path::PathBuf>,
    /// Largest accepted photo for `POST /v1/scans/decode`.
    pub image_limit_bytes: usize,
    /// Barcode decodes running at once (each in its own worker process).
    pub decode_workers: usize,
    /// Time one photo may take to decode before its worker is killed.
    pub decode_budget_ms: u64,
    /// Executable hosting decode workers; default: this binary.
    pub decode_worker_exe: Option<std::path::PathBuf>,
    /// Raise an alert for batches with stock that expire within this many days.
    pub expiry_alert_days: i64,
    /// Run scheduled jobs (expiry) in this instance; they take a database lease, so several
    /// instances may all leave this on.
    pub jobs: bool,
    /// Extra label templates (`*.toml`), added to or overriding the built-in ones.
    pub labels_dir: Option<std::path::PathBuf>,
    /// The GS1 Company Prefix SSCCs are made from (7 to 10 digits); SSCCs are refused without.
    pub gs1_company_prefix: Option<String>,
    /// The SSCC extension digit (0-9).
    pub sscc_extension_digit: u8,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` is believed when they are the
    /// socket peer; comma-separated in `DEPOT_TRUSTED_PROXIES`. Empty: the peer is the client.
    #[serde(deserialize_with = "ip_list")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// On SIGTERM or Ctrl-C, seconds `/readyz` answers 503 ("draining") while requests are
    /// still served, before the listener closes: longer than a load balancer needs to see the
    /// instance down (docs/operations.md). 0: close at once.
    pub shutdown_drain_secs: u64,
    /// Largest accepted import file (`POST /v1/imports/{kind}`, CSV or XLSX).
    pub import_limit_bytes: usize,
    /// An import job whose worker has not reported for this long (a crashed instance) is
    /// taken over by another worker and run again from the start.
    pub import_stale_secs: u64,
}

/// A list of IP addresses, as a TOML array or one comma-separated string (environment).
fn ip_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<std::net::IpAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let items = match Raw::deserialize(d)? {
        Raw::List(l) => l,
        Raw::Text(t) => t.split(',').map(str::to_string).collect(),
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an IP address")))
        })
        .collect()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://depot.db".into(),
            listen: "127.0.0.1:8080".into(),
            jwt_secret: None,
            admin_password: None,
            access_token_ttl_secs: 900,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            log_json: false,
            devices_dir: None,
            image_limit_bytes: 10 * 1024 * 1024,
            decode_workers: 2,
            decode_budget_ms: 3000,
            decode_worker_exe: None,
            expiry_alert_days: 14,
            jobs: true,
            labels_dir: None,
            gs1_company_prefix: None,
            sscc_extension_digit: 0,
            trusted_proxies: Vec::new(),
            shutdown_drain_secs: 0,
            import_limit_bytes: 64 * 1024 * 1024,
            import_stale_secs: 120,
        }
    }
}

impl Config {
    /// Loads the layers; `file` is read when given, else `depot.toml` when present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} not found", path.display());
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("depot.toml")),
        }
        let config: Config = figment.merge(environment()).extract_lossy()?;
        Ok(config)
    }

    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// `DEPOT_*` variables exactly as written. figment's `Env` provider parses values, which turns a
/// company prefix `0614141` into the number 614141 (refused by a string setting, and its leading
/// zero lost) and an all-digit password into a number; here every value stays a string, and
/// `extract_lossy` reads one as a number or a boolean only where the setting is one.
fn environment() -> Serialized<figment::value::Dict> {
    let vars = Env::prefixed("DEPOT_")
        .ignore(&["config"])
        .iter()
        .map(|(key, value)| (key.to_string(), figment::value::Value::from(value)))
        .collect();
    Serialized::defaults(vars)
}

/// Hides the password part of a database URL for logging.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
// figment's Jail closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            redact_url("postgres://depot:s3cret@db:5432/depot"),
            "postgres://depot:***@db:5432/depot"
        );
        assert_eq!(redact_url("sqlite://depot.db"), "sqlite://depot.db");
        assert_eq!(
            redact_url("postgres://depot@db/depot"),
            "postgres://depot@db/depot"
        );
    }

    #[test]
    fn settings_that_are_strings_stay_strings_whatever_they_look_like() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DEPOT_GS1_COMPANY_PREFIX", "0614141");
            jail.set_env("DEPOT_ADMIN_PASSWORD", "0012345678");
            jail.set_env("DEPOT_JWT_SECRET", "12345678901234567890123456789012");
            jail.set_env("DEPOT_LISTEN", "8080");
            jail.set_env("DEPOT_EXPIRY_ALERT_DAYS", "30");
            jail.set_env("DEPOT_JOBS", "false");
            jail.set_env("DEPOT_SSCC_EXTENSION_DIGIT", "7");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.gs1_company_prefix.as_deref(), Some("0614141"));
            assert_eq!(
                config.admin_password.as_ref().map(Secret::expose),
                Some("0012345678")
            );
            assert_eq!(
                config.jwt_secret.as_ref().map(Secret::expose),
                Some("12345678901234567890123456789012")
            );
            assert_eq!(config.listen, "8080");
            assert_eq!(config.expiry_alert_days, 30);
            assert!(!config.jobs);
            assert_eq!(config.sscc_extension_digit, 7);
            Ok(())
        });
    }

    #[test]
    fn a_setting_of_the_wrong_type_names_itself() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DEPOT_EXPIRY_ALERT_DAYS", "soon");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("expiry_alert_days"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_a_comma_separated_string_or_a_list() {
        let load = |toml: &str| {
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(toml))
                .extract::<Config>()
                .map(|c| c.trusted_proxies)
                .ok()
        };
        let both: Vec<std::net::IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        // DEPOT_TRUSTED_PROXIES arrives as one string.
        assert_eq!(load("trusted_proxies = \"10.0.0.1, ::1\"").unwrap(), both);
        assert_eq!(
            load("trusted_proxies = [\"10.0.0.1\", \"::1\"]").unwrap(),
            both
        );
        assert!(load("trusted_proxies = \"\"").unwrap().is_empty());
        assert!(load("").unwrap().is_empty());
        assert!(load("trusted_proxies = \"proxy.local\"").is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("abc")), "[redacted]");
    }
}
