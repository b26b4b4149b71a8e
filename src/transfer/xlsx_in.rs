//! XLSX workbooks as spreadsheets save them: the first worksheet is the table, its first row
//! the header. Cells are read one at a time (calamine's cell reader), so a workbook that
//! unpacks to far more than it weighs stops at [`MAX_CELLS`] instead of filling memory.
//!
//! Cells become the text a CSV export of the sheet would hold: whole numbers without a decimal
//! point (a GTIN typed as a number stays its digits), dates as `YYYY-MM-DD`, booleans as
//! `true`/`false`.

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use super::csv_in::Table;
use crate::error::{Error, Result};

/// Cells read at most: a hundred thousand rows of twenty columns, five times over.
pub const MAX_CELLS: usize = 10_000_000;

/// Whether `bytes` is a zip archive (an XLSX file is one).
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

pub fn read(bytes: &[u8]) -> Result<Table> {
    let unreadable = |e: calamine::XlsxError| {
        Error::invalid("file", format!("not a readable XLSX workbook: {e}"))
    };
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let Some(sheet) = book.sheet_names().into_iter().next() else {
        return Err(Error::invalid("file", "the workbook has no worksheet"));
    };
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(unreadable)?;
    // (row, column) → text, rows in the order the sheet stores them (ascending).
    let mut grid: Vec<(u32, Vec<String>)> = Vec::new();
    let mut count = 0usize;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        count += 1;
        if count > MAX_CELLS {
            return Err(Error::invalid(
                "file",
                format!("the worksheet has more than {MAX_CELLS} cells"),
            ));
        }
        let (row, column) = cell.get_position();
        let value = text(cell.get_value());
        if value.is_empty() {
            continue;
        }
        if grid.last().map(|(r, _)| *r) != Some(row) {
            grid.push((row, Vec::new()));
        }
        let values = &mut grid.last_mut().expect("pushed above").1;
        let column = column as usize;
        if values.len() <= column {
            values.resize(column + 1, String::new());
        }
        values[column] = value;
    }
    let mut rows = grid.into_iter();
    let Some((_, headers)) = rows.next() else {
        return Err(Error::invalid(
            "file",
            "the worksheet is empty: a header row is needed",
        ));
    };
    let headers: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let width = headers.len();
    let rows = rows
        .filter(|(_, values)| values.iter().any(|v| !v.is_empty()))
        .map(|(row, mut values)| {
            values.resize(width.max(values.len()), String::new());
            // The reader counts rows from 0, spreadsheets from 1.
            (row as usize + 1, values)
        })
        .collect();
    Ok(Table { headers, rows })
}

/// A cell as the text CSV would carry.
fn text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Empty | DataRef::Error(_) => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            s.trim().to_string()
        }
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")
            }
        }
        DataRef::DateTime(dt) => number(dt.as_f64()),
    }
}

/// Whole numbers without a fraction (Excel keeps every number as a float).
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_csv_export_writes_them() {
        assert_eq!(number(9506000134352.0), "9506000134352");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.5), "0.5");
        assert!(!is_xlsx(b"code,name\n"));
        assert!(read(b"PK\x03\x04 not really").is_err());
    }
}
