//! CSV files as people have them: UTF-8 with or without a byte-order mark, or Windows-1252;
//! `,`, `;` (what Excel writes where the decimal mark is a comma) or tab, found from the header
//! line; quoted fields with line breaks; header names matched case-insensitively.

use crate::error::{Error, Result};

/// A file's header (lower-cased, trimmed) and its rows, each with its spreadsheet row number
/// (the header is row 1).
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// The column's position, by its (lower-case) name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

/// A CSV file, or an XLSX workbook (told by its zip signature).
pub fn read(bytes: &[u8]) -> Result<Table> {
    if super::xlsx_in::is_xlsx(bytes) {
        return super::xlsx_in::read(bytes);
    }
    let text = decode(bytes);
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("file", format!("unreadable header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(Error::invalid(
            "file",
            "the file is empty: a header line is needed",
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| Error::invalid("file", format!("row {}: unreadable CSV: {e}", i + 2)))?;
        let values: Vec<String> = record.iter().map(|v| v.trim().to_string()).collect();
        // Spreadsheets leave empty lines (and lines of empty cells) at the end.
        if values.iter().all(String::is_empty) {
            continue;
        }
        rows.push((i + 2, values));
    }
    Ok(Table { headers, rows })
}

/// UTF-8 (a byte-order mark dropped), else Windows-1252, which decodes any byte.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_as_spreadsheets_write_them() {
        // Excel in Germany: semicolons, Windows-1252, a quoted field with a line break.
        let file = b"Code;Name;Unit\r\nK\xC4SE;\"K\xE4se\r\nalt\";kg\r\n;;\r\n";
        let t = read(file).unwrap();
        assert_eq!(t.headers, ["code", "name", "unit"]);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].0, 2);
        assert_eq!(t.rows[0].1, ["K\u{c4}SE", "K\u{e4}se\r\nalt", "kg"]);
        let bom = "\u{feff}code,name\nA,\"x, y\"\n".as_bytes();
        let t = read(bom).unwrap();
        assert_eq!(t.headers, ["code", "name"]);
        assert_eq!(t.rows[0].1, ["A", "x, y"]);
        assert!(read(b"").is_err());
    }
}
