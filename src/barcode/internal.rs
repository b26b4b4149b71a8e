//! Depot's own barcodes for documents: `DPT-<KIND>-<ID>`, e.g. `DPT-DEAL-42`.
//!
//! They start with letters, so they can never be read as a GS1 element string (AIs are digits),
//! a bracketed string, a Digital Link URI or a GTIN; and they use only upper-case letters,
//! digits and `-`, so Code 39, Code 128 and QR all carry them, and a Caps Lock flip is undone.

use std::fmt;

pub const PREFIX: &str = "DPT-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Deal,
    PickList,
    ProductionOrder,
    PurchaseOrder,
    Shipment,
    Return,
    /// A parcel without an SSCC (no GS1 Company Prefix configured).
    Parcel,
}

impl DocumentKind {
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::Deal => "DEAL",
            DocumentKind::PickList => "PICK",
            DocumentKind::ProductionOrder => "MO",
            DocumentKind::PurchaseOrder => "PO",
            DocumentKind::Shipment => "SHIP",
            DocumentKind::Return => "RET",
            DocumentKind::Parcel => "PARCEL",
        }
    }

    /// The `type` used for this document in scan matches.
    pub fn match_type(self) -> &'static str {
        match self {
            DocumentKind::Deal => "deal",
            DocumentKind::PickList => "pick_list",
            DocumentKind::ProductionOrder => "production_order",
            DocumentKind::PurchaseOrder => "purchase_order",
            DocumentKind::Shipment => "shipment",
            DocumentKind::Return => "return",
            DocumentKind::Parcel => "parcel",
        }
    }

    fn from_code(code: &str) -> Option<DocumentKind> {
        [
            DocumentKind::Deal,
            DocumentKind::PickList,
            DocumentKind::ProductionOrder,
            DocumentKind::PurchaseOrder,
            DocumentKind::Shipment,
            DocumentKind::Return,
            DocumentKind::Parcel,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// A reference to one of Depot's documents, as printed on its barcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentCode {
    pub kind: DocumentKind,
    pub id: i64,
}

impl fmt::Display for DocumentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}-{}", self.kind.code(), self.id)
    }
}

/// Reads a `DPT-<KIND>-<ID>` code; case-insensitive, because keyboard wedges flip case.
pub fn parse(data: &str) -> Option<DocumentCode> {
    let upper = data.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix(PREFIX)?;
    let (kind, id) = rest.split_once('-')?;
    let kind = DocumentKind::from_code(kind)?;
    let id = id.parse::<i64>().ok().filter(|id| *id > 0)?;
    Some(DocumentCode { kind, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_survive_a_case_flip() {
        let code = DocumentCode {
            kind: DocumentKind::PickList,
            id: 7,
        };
        assert_eq!(code.to_string(), "DPT-PICK-7");
        assert_eq!(parse("DPT-PICK-7"), Some(code));
        assert_eq!(parse("dpt-pick-7"), Some(code));
        assert_eq!(parse("DPT-PICK-0"), None);
        assert_eq!(parse("DPT-NOPE-7"), None);
        assert_eq!(parse("0109506000134352"), None);
    }

    #[test]
    fn internal_codes_are_never_gs1() {
        for kind in ["DEAL", "PICK", "MO", "PO", "SHIP", "RET"] {
            let code = format!("DPT-{kind}-123");
            assert!(crate::barcode::gs1::interpret(&code).is_err(), "{code}");
            assert!(!crate::barcode::gs1::claims_gs1(&code), "{code}");
        }
    }
}
