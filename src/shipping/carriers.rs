//! Carriers behind one interface: booking a dispatched shipment returns its tracking number;
//! status updates come back through `POST /v1/carriers/{carrier}/webhook`. Depot ships with
//! its own fleet; a real carrier's API is another implementation of [`Carrier`] registered in
//! [`by_name`], and nothing else changes.

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;
use crate::shipping::Shipment;

pub type Booking<'a> = Pin<Box<dyn Future<Output = Result<String>> + Send + 'a>>;

pub trait Carrier: Send + Sync {
    /// The name shipments are created with (`"carrier": "own_fleet"`).
    fn name(&self) -> &'static str;
    /// Books the shipment with the carrier; answers the tracking number.
    fn book<'a>(&'a self, shipment: &'a Shipment) -> Booking<'a>;
}

/// The company's own vans: tracking numbers `OWN` + the shipment id (9 digits) + a mod-10
/// check digit, unique because shipment ids are.
pub struct OwnFleet;

impl Carrier for OwnFleet {
    fn name(&self) -> &'static str {
        "own_fleet"
    }

    fn book<'a>(&'a self, shipment: &'a Shipment) -> Booking<'a> {
        Box::pin(async move {
            let body = format!("{:09}", shipment.id);
            let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
            Ok(format!(
                "OWN{body}{}",
                crate::catalog::gtin::check_digit(&digits)
            ))
        })
    }
}

static OWN_FLEET: OwnFleet = OwnFleet;

/// The carrier registered under `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Carrier> {
    match name {
        "own_fleet" => Some(&OWN_FLEET),
        _ => None,
    }
}
