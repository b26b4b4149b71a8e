//! A shipment's documents: every parcel's GS1 logistic label in one ZPL or PDF document, and
//! printing the labels and the delivery note to the warehouse's printers, on dispatch or again
//! on request.
//!
//! Printing goes through [`jobs::submit`], one job per parcel label and one for the delivery
//! note, so the print worker sends them (raw TCP, `~HS` first, retries with backoff). One job
//! per label rather than one job carrying all of them: a retry after a failed attempt (paper
//! out halfway through a pallet's worth) resends one label, not every label again, and each
//! job's data names its SSCC, so `GET /v1/print-jobs/{id}` shows which parcel it is.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::labels::{Format, Labels, Rendered};
use crate::on_read;
use crate::printing::Printing;
use crate::printing::jobs::{self, NewPrintJob, PrintJob, Submitter};
use crate::shipping::{Shipment, Status};
use crate::stock::Movement;

/// The template of a parcel's GS1 logistic label (parcels with an SSCC).
pub const LABEL_TEMPLATE: &str = "logistic-4x6";
/// The template of a parcel's shipping label without GS1: Depot's own parcel code
/// (`DPT-PARCEL-<id>`), addresses, service and tracking number. Parcels without an SSCC get it.
pub const PARCEL_TEMPLATE: &str = "parcel-4x6";
/// The template of the delivery note.
pub const DELIVERY_NOTE_TEMPLATE: &str = "delivery-note";
/// Resolution of the ZPL download when no label printer is known.
pub const DEFAULT_DPI: u32 = 203;

/// One parcel's label: the GS1 logistic label ([`LABEL_TEMPLATE`]) when the parcel has an SSCC,
/// else the shipping label ([`PARCEL_TEMPLATE`]); `data` serves both.
#[derive(Debug, Clone)]
pub struct ParcelLabel {
    pub parcel_id: i64,
    pub template: &'static str,
    pub data: Value,
}

/// The label data of every parcel of a shipment (pallets included), in parcel order, from
/// three queries whatever the number of parcels: ship-from (the warehouse), ship-to (the
/// shipment's), the parcel's code and SSCC, `parcel.number` (`2/5`), the weight, the shipment's
/// service and tracking number, and the content's GTIN, count and batch when the parcel holds
/// one item that has a base-unit GTIN.
pub async fn label_data(db: &Db, shipment_id: i64) -> Result<Vec<ParcelLabel>> {
    type Header = (
        i64,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let (deal_id, to_name, to_address, from_name, from_address, service, tracking, cod, currency) =
        on_read!(db, pool => {
            sqlx::query_as::<_, Header>(
                "select s.deal_id, s.ship_to_name, s.ship_to_address, w.name, w.address,
                        s.service_level, s.tracking_number, s.cod_amount, s.cod_currency
                 from shipments s join warehouses w on w.id = s.warehouse_id where s.id = $1",
            )
            .bind(shipment_id)
            .fetch_optional(pool)
            .await?
        })
        .ok_or_else(|| Error::not_found("shipment", shipment_id))?;
    let parcels = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, Option<String>, Option<i64>)>(
            "select id, sscc, weight_g from parcels where shipment_id = $1 order by id",
        )
        .bind(shipment_id)
        .fetch_all(pool)
        .await?
    });
    // (parcel, quantity, batch code, the item's base-unit GTIN)
    let contents = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, Option<String>, Option<String>)>(
            "select c.parcel_id, c.quantity, b.code,
                    (select min(g.gtin) from item_gtins g
                     where g.item_id = c.item_id and g.quantity = 1)
             from parcel_contents c
             join parcels p on p.id = c.parcel_id
             left join batches b on b.id = c.batch_id
             where p.shipment_id = $1 order by c.parcel_id, c.id",
        )
        .bind(shipment_id)
        .fetch_all(pool)
        .await?
    });
    let total = parcels.len();
    let cod = cod.map(|minor| {
        format!(
            "{}.{:02} {}",
            minor / 100,
            minor % 100,
            currency.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_string()
    });
    Ok(parcels
        .into_iter()
        .enumerate()
        .map(|(i, (parcel_id, sscc, weight_g))| {
            let mut mine = contents.iter().filter(|c| c.0 == parcel_id);
            let single = match (mine.next(), mine.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            };
            let gtin = single.and_then(|c| c.3.clone());
            let (count, batch) = match (single, &gtin) {
                (Some(c), Some(_)) => (Some(c.1), c.2.clone()),
                _ => (None, None),
            };
            let template = if sscc.is_some() {
                LABEL_TEMPLATE
            } else {
                PARCEL_TEMPLATE
            };
            let data = json!({
                "sscc": sscc,
                "ship_from": {"name": from_name, "address": from_address},
                "ship_to": {"name": to_name, "address": to_address},
                "content": {"gtin": gtin, "count": count, "batch": batch},
                "deal": {"reference": format!("DPT-DEAL-{deal_id}")},
                "shipment": {
                    "service": service,
                    "tracking_number": tracking,
                    "cod": cod,
                },
                "parcel": {
                    "code": super::parcel_code(parcel_id, sscc.as_deref()),
                    "number": format!("{}/{total}", i + 1),
                    "weight_kg": weight_g.map(|g| format!("{}", g as f64 / 1000.0)),
                },
            });
            ParcelLabel {
                parcel_id,
                template,
                data,
            }
        })
        .collect())
}

/// Renders parcel labels into one document: ZPL formats one after another (at `dpi`), or a PDF
/// with one page per label. CPU only; see [`labels`] for the async form.
pub fn render_labels(
    labels: &Labels,
    parcels: &[ParcelLabel],
    format: Format,
    dpi: u32,
) -> Result<Rendered> {
    if !matches!(dpi, 72..=1200) {
        return Err(Error::invalid("dpi", "must be between 72 and 1200"));
    }
    let mut pages = Vec::with_capacity(parcels.len());
    for parcel in parcels {
        let template = labels.get(parcel.template).ok_or_else(|| {
            Error::invalid(
                "template",
                format!("no label template named '{}'", parcel.template),
            )
        })?;
        pages.extend(template.lay_out_for(&parcel.data, format == Format::Zpl)?);
    }
    let bytes = match format {
        Format::Zpl => crate::labels::zpl::render(&pages, dpi).into_bytes(),
        Format::Pdf => crate::labels::pdf::render(&pages)?,
        Format::Png => return Err(png_refused()),
    };
    Ok(Rendered {
        content_type: format.content_type(),
        bytes,
    })
}

fn png_refused() -> Error {
    Error::invalid(
        "format",
        "all of a shipment's labels come as one zpl or pdf document",
    )
}

/// Every parcel label of shipment `id` (pallets included) in one document: ZPL, the labels one
/// after another at `dpi`, or PDF, one page per label. 409 when the shipment has no parcels.
pub async fn labels(
    db: &Db,
    labels: &Labels,
    id: i64,
    format: Format,
    dpi: u32,
) -> Result<Rendered> {
    if format == Format::Png {
        return Err(png_refused());
    }
    let data = label_data(db, id).await?;
    if data.is_empty() {
        return Err(Error::conflict(
            "parcels",
            format!("shipment {id} has no parcels"),
        ));
    }
    let labels = labels.clone();
    tokio::task::spawn_blocking(move || render_labels(&labels, &data, format, dpi))
        .await
        .map_err(|e| anyhow::anyhow!("rendering the labels of shipment {id}: {e}"))?
}

/// What to print, and where. The body of `POST /v1/shipments/{id}/print`; dispatch uses the
/// printers only.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PrintRequest {
    /// The parcels' logistic labels. `true`: required (409 without a label printer); `false`:
    /// skipped; left out: printed when a label printer is known.
    #[serde(default)]
    pub labels: Option<bool>,
    /// The delivery note, the same way as `labels` with the document printer.
    #[serde(default)]
    pub delivery_note: Option<bool>,
    /// Instead of the warehouse's label printer.
    #[serde(default)]
    pub label_printer_id: Option<i64>,
    /// Instead of the warehouse's document printer.
    #[serde(default)]
    pub document_printer_id: Option<i64>,
    /// Copies of each label and of the delivery note, 1–100 (default 1).
    #[serde(default)]
    pub copies: Option<i64>,
}

/// A label or delivery note that was not queued (the rest was).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrintError {
    /// `labels` or `delivery_note`.
    pub document: String,
    /// The parcel whose label was not queued.
    pub parcel_id: Option<i64>,
    pub printer_id: Option<i64>,
    /// The field the problem is about (`label_printer_id`, `data.ship_to.address` ...).
    pub field: Option<String>,
    pub detail: String,
}

/// Where a shipment's documents can be downloaded (paths on this server).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Documents {
    /// Every parcel label, one PDF page each.
    pub labels_pdf: String,
    /// Every parcel label as ZPL, at the label printer's resolution (203 dpi when none).
    pub labels_zpl: String,
    /// The delivery note (PDF, A4).
    pub delivery_note: String,
}

/// What was queued for printing, and what could not be.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Printed {
    pub print_jobs: Vec<PrintJob>,
    pub print_errors: Vec<PrintError>,
    pub documents: Documents,
}

/// Why the documents are printed, which decides what a missing or unusable printer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// Right after the dispatch committed: nothing may undo it, so every problem becomes a
    /// [`PrintError`], and no printer known means nothing to print.
    Dispatch,
    /// On request: problems with the printers are errors (422 for one given, 409 for the
    /// warehouse's or none known).
    Reprint,
}

pub use crate::printing::usable_printer;

struct Target {
    id: i64,
    dpi: u32,
}

/// The printer for one kind of document: the one given, else the warehouse's; `None` when
/// neither. An unusable warehouse printer is a 409 naming `field` (the request was fine).
async fn printer_for(
    db: &Db,
    printing: &Printing,
    field: &str,
    given: Option<i64>,
    configured: Option<i64>,
) -> Result<Option<Target>> {
    let (id, from_warehouse) = match (given, configured) {
        (Some(id), _) => (id, false),
        (None, Some(id)) => (id, true),
        (None, None) => return Ok(None),
    };
    match usable_printer(db, printing, field, id).await {
        Ok((_, profile)) => Ok(Some(Target {
            id,
            dpi: profile.printer.dpi,
        })),
        Err(Error::Validation(v)) if from_warehouse => Err(Error::conflict(
            field,
            format!(
                "the warehouse's {}: {}",
                field.trim_end_matches("_id").replace('_', " "),
                v.first().map(|f| f.reason.as_str()).unwrap_or("unusable")
            ),
        )),
        Err(e) => Err(e),
    }
}

fn print_error(
    document: &str,
    parcel_id: Option<i64>,
    printer_id: Option<i64>,
    e: Error,
) -> PrintError {
    let (field, detail) = match e {
        Error::Validation(v) => match v.first() {
            Some(f) => (Some(f.field.clone()), f.reason.clone()),
            None => (None, "invalid".into()),
        },
        Error::Conflict { field, detail } => (field, detail),
        e @ (Error::NotFound { .. } | Error::InvalidBarcode { .. } | Error::Forbidden(_)) => {
            (None, e.to_string())
        }
        e => {
            tracing::error!(error = ?e, document, parcel_id, "queueing a print job failed");
            (
                None,
                "internal error (logged); print it again with the shipment's print route".into(),
            )
        }
    };
    PrintError {
        document: document.into(),
        parcel_id,
        printer_id,
        field,
        detail,
    }
}

/// The download paths of shipment `id`'s documents, the ZPL at `dpi`.
pub fn documents(id: i64, dpi: u32) -> Documents {
    Documents {
        labels_pdf: format!("/v1/shipments/{id}/labels?format=pdf"),
        labels_zpl: format!("/v1/shipments/{id}/labels?format=zpl&dpi={dpi}"),
        delivery_note: format!("/v1/shipments/{id}/delivery-note?format=pdf"),
    }
}

/// Queues the shipment's parcel labels (one job per parcel, see [`ParcelLabel`]) on the
/// label printer and its delivery note ([`DELIVERY_NOTE_TEMPLATE`]) on the document printer:
/// the printers in `request`, else the warehouse's. See [`Occasion`] for what happens when a
/// printer is missing or unusable; a job that cannot be queued (bad data for the template, a
/// printer revoked meanwhile) is reported in `print_errors` and the others are still queued.
pub async fn print(
    db: &Db,
    printing: &Printing,
    shipment: &Shipment,
    request: &PrintRequest,
    occasion: Occasion,
    by: Submitter,
) -> Result<Printed> {
    let id = shipment.id;
    let copies = request.copies.unwrap_or(1);
    if !(1..=jobs::MAX_COPIES).contains(&copies) {
        return Err(Error::invalid("copies", "must be between 1 and 100"));
    }
    if shipment.status == Status::Draft {
        return Err(Error::conflict(
            "status",
            format!("shipment {id} is a draft: its documents print once it is packed"),
        ));
    }
    if request.labels == Some(false) && request.delivery_note == Some(false) {
        return Err(Error::invalid("labels", "nothing to print"));
    }
    let mut out = Printed {
        print_jobs: Vec::new(),
        print_errors: Vec::new(),
        documents: documents(id, DEFAULT_DPI),
    };
    let warehouse = crate::catalog::warehouses::get(db, shipment.warehouse_id).await?;
    let target = |document: &'static str,
                  field: &'static str,
                  wanted: Option<bool>,
                  given: Option<i64>,
                  configured: Option<i64>| {
        async move {
            if wanted == Some(false) {
                return Ok(None);
            }
            let found = printer_for(db, printing, field, given, configured).await?;
            if found.is_none() && wanted == Some(true) {
                return Err(Error::conflict(
                    field,
                    format!(
                        "no printer for the {}: give {field} or set the warehouse's",
                        document.replace('_', " ")
                    ),
                ));
            }
            Ok(found)
        }
    };
    let label_printer = target(
        "labels",
        "label_printer_id",
        request.labels,
        request.label_printer_id,
        warehouse.label_printer_id,
    )
    .await;
    let document_printer = target(
        "delivery_note",
        "document_printer_id",
        request.delivery_note,
        request.document_printer_id,
        warehouse.document_printer_id,
    )
    .await;
    let (label_printer, document_printer) = match occasion {
        Occasion::Reprint => {
            let (l, d) = (label_printer?, document_printer?);
            if l.is_none() && d.is_none() {
                return Err(Error::conflict(
                    "label_printer_id",
                    "no printer known: give label_printer_id or document_printer_id, or set the warehouse's",
                ));
            }
            (l, d)
        }
        Occasion::Dispatch => {
            let mut keep = |document: &str, found: Result<Option<Target>>| match found {
                Ok(t) => t,
                Err(e) => {
                    out.print_errors.push(print_error(document, None, None, e));
                    None
                }
            };
            (
                keep("labels", label_printer),
                keep("delivery_note", document_printer),
            )
        }
    };

    if let Some(printer) = label_printer {
        out.documents = documents(id, printer.dpi);
        match label_data(db, id).await {
            Ok(labels) => {
                for label in labels {
                    let job = NewPrintJob {
                        printer_id: printer.id,
                        template: Some(label.template.into()),
                        data: Some(label.data),
                        entity: None,
                        zpl: None,
                        copies: Some(copies),
                    };
                    match jobs::submit(db, printing, job, by).await {
                        Ok(job) => out.print_jobs.push(job),
                        Err(e) => out.print_errors.push(print_error(
                            "labels",
                            Some(label.parcel_id),
                            Some(printer.id),
                            e,
                        )),
                    }
                }
            }
            Err(e) => out
                .print_errors
                .push(print_error("labels", None, Some(printer.id), e)),
        }
    }
    if let Some(printer) = document_printer {
        let submitted = match super::delivery_note_data(db, id).await {
            Ok(data) => {
                let job = NewPrintJob {
                    printer_id: printer.id,
                    template: Some(DELIVERY_NOTE_TEMPLATE.into()),
                    data: Some(data),
                    entity: None,
                    zpl: None,
                    copies: Some(copies),
                };
                jobs::submit(db, printing, job, by).await
            }
            Err(e) => Err(e),
        };
        match submitted {
            Ok(job) => out.print_jobs.push(job),
            Err(e) => {
                out.print_errors
                    .push(print_error("delivery_note", None, Some(printer.id), e))
            }
        }
    }
    Ok(out)
}

/// [`print`] right after a dispatch committed: never fails, whatever went wrong is in
/// `print_errors` (the dispatch stands; `POST /v1/shipments/{id}/print` prints again).
pub async fn print_dispatched(
    db: &Db,
    printing: &Printing,
    shipment: &Shipment,
    request: &PrintRequest,
    by: Submitter,
) -> Printed {
    match print(db, printing, shipment, request, Occasion::Dispatch, by).await {
        Ok(printed) => printed,
        Err(e) => Printed {
            print_jobs: Vec::new(),
            print_errors: vec![print_error("labels", None, None, e)],
            documents: documents(shipment.id, DEFAULT_DPI),
        },
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DispatchRequest {
    /// Print the labels here instead of on the warehouse's label printer.
    #[serde(default)]
    pub label_printer_id: Option<i64>,
    /// Print the delivery note here instead of on the warehouse's document printer.
    #[serde(default)]
    pub document_printer_id: Option<i64>,
    /// Print the parcels' labels and the delivery note once dispatched (default `true`).
    #[serde(default)]
    pub print: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dispatched {
    pub shipment: Shipment,
    /// The `ship` movements: stock left the warehouse, reservations consumed.
    pub movements: Vec<Movement>,
    /// Queued: one per parcel label (label printer), then the delivery note (document printer).
    pub print_jobs: Vec<PrintJob>,
    /// What could not be queued; the dispatch stands, `POST /v1/shipments/{id}/print` prints
    /// again.
    pub print_errors: Vec<PrintError>,
    /// Where the labels and the delivery note can be downloaded.
    pub documents: Documents,
}

/// Dispatches a packed shipment ([`crate::shipping::dispatch`]), then, unless `print` is
/// `false`, prints its labels and delivery note ([`print_dispatched`]). A printer given is
/// checked before anything is dispatched.
pub async fn dispatch_and_print(
    db: &Db,
    printing: &Printing,
    id: i64,
    request: &DispatchRequest,
    actor: crate::stock::operations::Actor,
    by: Submitter,
) -> Result<Dispatched> {
    let print = request.print.unwrap_or(true);
    if print {
        for (field, given) in [
            ("label_printer_id", request.label_printer_id),
            ("document_printer_id", request.document_printer_id),
        ] {
            if let Some(printer) = given {
                usable_printer(db, printing, field, printer).await?;
            }
        }
    }
    let (shipment, movements) = crate::shipping::dispatch(db, id, actor).await?;
    let printed = if print {
        let request = PrintRequest {
            label_printer_id: request.label_printer_id,
            document_printer_id: request.document_printer_id,
            ..PrintRequest::default()
        };
        print_dispatched(db, printing, &shipment, &request, by).await
    } else {
        Printed {
            print_jobs: Vec::new(),
            print_errors: Vec::new(),
            documents: documents(id, DEFAULT_DPI),
        }
    };
    Ok(Dispatched {
        shipment,
        movements,
        print_jobs: printed.print_jobs,
        print_errors: printed.print_errors,
        documents: printed.documents,
    })
}
