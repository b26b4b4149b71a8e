//! SSCCs (Serial Shipping Container Codes, AI 00): extension digit + GS1 Company Prefix +
//! serial reference, 17 digits, then the mod-10 check digit. The serial comes from a counter in
//! the database (one atomic upsert per SSCC), so an SSCC is never handed out twice, by any
//! instance.

use crate::catalog::gtin;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::on_tx;

/// Checks a configured company prefix: 7 to 10 digits (GS1 allocates 6 to 12; a U.P.C.
/// prefix is written with its leading zero).
pub fn check_prefix(prefix: &str) -> std::result::Result<(), String> {
    if !(6..=12).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "GS1 company prefix '{prefix}' must be 6 to 12 digits"
        ));
    }
    Ok(())
}

/// The SSCC for a serial: 18 digits with the check digit.
pub fn compose(extension: u8, prefix: &str, serial: u64) -> std::result::Result<String, String> {
    check_prefix(prefix)?;
    if extension > 9 {
        return Err("the extension digit must be 0-9".into());
    }
    let width = 16 - prefix.len();
    let body = format!("{extension}{prefix}{serial:0width$}");
    if body.len() != 17 {
        return Err(format!(
            "serial {serial} does not fit the {width} digits a {}-digit company prefix leaves",
            prefix.len()
        ));
    }
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    Ok(format!("{body}{}", gtin::check_digit(&digits)))
}

/// Takes the next SSCC.
pub async fn next(db: &Db, prefix: Option<&str>, extension: u8) -> Result<String> {
    let mut tx = db.begin().await?;
    let sscc = next_in(&mut tx, prefix, extension).await?;
    tx.commit().await?;
    Ok(sscc)
}

/// [`next`] in the caller's transaction: the serial is taken with the parcel that carries it
/// (concurrent takers of one prefix wait for the counter's row until the transaction ends).
pub async fn next_in(tx: &mut Tx, prefix: Option<&str>, extension: u8) -> Result<String> {
    let prefix = prefix.ok_or_else(|| {
        Error::conflict(
            "gs1_company_prefix",
            "no GS1 company prefix is configured (DEPOT_GS1_COMPANY_PREFIX): SSCCs cannot be made",
        )
    })?;
    check_prefix(prefix).map_err(|e| Error::conflict("gs1_company_prefix", e))?;
    let serial: i64 = on_tx!(tx, tx => {
        sqlx::query_scalar(
            "insert into sscc_counters (company_prefix, extension_digit, last_serial)
             values ($1, $2, 1)
             on conflict (company_prefix, extension_digit)
             do update set last_serial = sscc_counters.last_serial + 1
             returning last_serial",
        )
        .bind(prefix)
        .bind(i64::from(extension))
        .fetch_one(&mut *tx)
        .await?
    });
    compose(extension, prefix, serial as u64).map_err(|e| Error::conflict("sscc", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_with_the_check_digit() {
        // GS1 General Specifications example: 0 0614141 123456789 + check digit 0.
        assert_eq!(
            compose(0, "0614141", 123456789).unwrap(),
            "006141411234567890"
        );
        assert!(compose(0, "0614141", 1_000_000_000).is_err());
        assert!(compose(0, "06141", 1).is_err());
        assert!(
            crate::barcode::gs1::interpret(&format!("(00){}", compose(3, "4012345", 7).unwrap()))
                .is_ok()
        );
    }
}
