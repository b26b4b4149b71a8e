//! Device profiles (`devices/*.toml`): how a scanner delivers data, so a scan can be restored to
//! what the barcode holds before it is interpreted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The profiles shipped with Depot: the files in `devices/`, built in.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "generic-wedge",
        include_str!("../../devices/generic-wedge.toml"),
    ),
    (
        "generic-wedge-capslock",
        include_str!("../../devices/generic-wedge-capslock.toml"),
    ),
    (
        "zebra-datawedge-keystroke",
        include_str!("../../devices/zebra-datawedge-keystroke.toml"),
    ),
    (
        "zebra-datawedge-intent",
        include_str!("../../devices/zebra-datawedge-intent.toml"),
    ),
    ("honeywell", include_str!("../../devices/honeywell.toml")),
    (
        "phone-camera",
        include_str!("../../devices/phone-camera.toml"),
    ),
];

/// The profile used when neither the request nor the device names one.
pub const DEFAULT_PROFILE: &str = "generic-wedge";

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ScanSettings {
    pub strip_prefix: String,
    pub strip_suffix: Vec<String>,
    pub gs_substitutes: Vec<String>,
    pub aim_ids: bool,
    pub caps_lock_flip: bool,
    /// Barcode formats to look for in photos from this device (empty: all supported).
    pub formats: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    /// `scanner` or `printer`.
    pub kind: String,
    /// Present on scanner profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSettings>,
    /// Printer settings (labels and printing), kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub printer: Option<toml::Table>,
}

const GS: char = '\u{1d}';

/// Spaces, tabs, CR and LF: what keyboard-wedge setups put before and after a scan.
const WEDGE_WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

impl ScanSettings {
    /// Restores what the barcode holds from what the scanner typed: drops surrounding
    /// whitespace, terminators and a prefix, undoes a Caps Lock flip, and turns GS stand-ins
    /// back into GS.
    pub fn normalize(&self, raw: &str) -> String {
        // Wedge setups add spaces, tabs, CR and LF around a scan whatever the profile says;
        // no barcode Depot reads starts or ends with them.
        let mut data = raw.trim_matches(WEDGE_WHITESPACE);
        // Terminators can stack ("\r\n" then a tab); strip until none matches.
        loop {
            data = data.trim_end_matches(WEDGE_WHITESPACE);
            let before = data.len();
            for suffix in self.strip_suffix.iter().filter(|s| !s.is_empty()) {
                if let Some(rest) = data.strip_suffix(suffix.as_str()) {
                    data = rest;
                }
            }
            if data.len() == before {
                break;
            }
        }
        if !self.strip_prefix.is_empty() {
            data = data
                .strip_prefix(self.strip_prefix.as_str())
                .unwrap_or(data)
                .trim_start_matches(WEDGE_WHITESPACE);
        }
        let mut out = if self.caps_lock_flip {
            data.chars().map(flip_case).collect()
        } else {
            data.to_string()
        };
        for substitute in self.gs_substitutes.iter().filter(|s| !s.is_empty()) {
            if out.contains(substitute.as_str()) {
                out = out.replace(substitute.as_str(), &GS.to_string());
            }
        }
        out
    }
}

fn flip_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else if c.is_ascii_uppercase() {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// All known profiles by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_name: BTreeMap<String, Profile>,
}

impl Profiles {
    /// The built-in profiles, then every `*.toml` in `dir` (adding or overriding by name).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Profiles> {
        let mut profiles = Profiles::default();
        for (name, text) in BUILT_IN {
            profiles.insert(name, text)?;
        }
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let name = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    let text = std::fs::read_to_string(&path)?;
                    profiles.insert(&name, &text)?;
                }
            }
        }
        Ok(profiles)
    }

    fn insert(&mut self, name: &str, text: &str) -> anyhow::Result<()> {
        let mut profile: Profile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("device profile {name}: {e}"))?;
        profile.name = name.to_string();
        if profile.kind == "scanner" && profile.scan.is_none() {
            profile.scan = Some(ScanSettings::default());
        }
        self.by_name.insert(name.to_string(), profile);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.by_name.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Profile> {
        self.by_name.values()
    }

    /// Scan settings of a scanner profile.
    pub fn scanner(&self, name: &str) -> Option<&ScanSettings> {
        self.get(name).and_then(|p| p.scan.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles() -> Profiles {
        Profiles::load(None).unwrap()
    }

    #[test]
    fn every_built_in_profile_loads_and_names_known_formats() {
        let p = profiles();
        for name in [
            "generic-wedge",
            "zebra-datawedge-keystroke",
            "zebra-datawedge-intent",
            "honeywell",
            "phone-camera",
        ] {
            let settings = p.scanner(name).unwrap_or_else(|| panic!("{name} missing"));
            for f in &settings.formats {
                assert!(
                    f.parse::<crate::barcode::decode::Format>().is_ok(),
                    "{name}: unknown format {f}"
                );
            }
        }
    }

    #[test]
    fn a_keystroke_scanner_gets_its_gs_and_terminator_undone() {
        let p = profiles();
        let zebra = p.scanner("zebra-datawedge-keystroke").unwrap();
        assert_eq!(
            zebra.normalize("]C10109506000134352|17201225|10ABC\n"),
            "]C10109506000134352\u{1d}17201225\u{1d}10ABC"
        );
        let honeywell = p.scanner("honeywell").unwrap();
        assert_eq!(
            honeywell.normalize("]d2010950600013435210ABC{GS}21X1\r\n"),
            "]d2010950600013435210ABC\u{1d}21X1"
        );
    }

    #[test]
    fn surrounding_whitespace_is_dropped_whatever_the_profile() {
        let p = profiles();
        for name in ["generic-wedge", "honeywell", "phone-camera"] {
            let s = p.scanner(name).unwrap();
            assert_eq!(
                s.normalize("  ]E0012345678905 \r\n"),
                "]E0012345678905",
                "{name}"
            );
            assert_eq!(s.normalize("\t01234565\n\r "), "01234565", "{name}");
            assert_eq!(s.normalize(" \r\n "), "", "{name}");
        }
        // A GS is data, not whitespace.
        let s = p.scanner("generic-wedge").unwrap();
        assert_eq!(s.normalize(" \u{1d}10ABC\n"), "\u{1d}10ABC");
    }

    #[test]
    fn caps_lock_is_undone_before_substitutes_are_matched() {
        let settings = ScanSettings {
            caps_lock_flip: true,
            gs_substitutes: vec!["{GS}".into()],
            strip_suffix: vec!["\n".into()],
            ..ScanSettings::default()
        };
        // With Caps Lock on, "]C1...10abc{GS}21X" arrives as "]c1...10ABC{gs}21x".
        assert_eq!(
            settings.normalize("]c1010950600013435210ABC{gs}21x\n"),
            "]C1010950600013435210abc\u{1d}21X"
        );
    }

    #[test]
    fn a_directory_adds_and_overrides_profiles() {
        let dir = std::env::temp_dir().join(format!("depot-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("tilde.toml"),
            "kind = \"scanner\"\n[scan]\ngs_substitutes = [\"~\"]\n",
        )
        .unwrap();
        let p = Profiles::load(Some(&dir)).unwrap();
        assert_eq!(
            p.scanner("tilde").unwrap().normalize("10A~21B"),
            "10A\u{1d}21B"
        );
        assert!(p.get("generic-wedge").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
