//! CSV layouts: Purview audit-search exports and Sentinel (Log Analytics) table exports.
//!
//! Purview writes the whole UAL record as JSON in its `AuditData` column, in two header layouts
//! (classic `CreationDate,UserIds,Operations,AuditData`; current
//! `RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,…`): the
//! record is that JSON. Any other CSV becomes one object a row, keyed by header, as Sentinel's
//! exports are read: ` [UTC]` is dropped from column names, empty cells are absent, `TRUE` and
//! `FALSE` become booleans, and cells holding JSON objects or arrays are parsed.

use super::{Framed, Layout};
use crate::event::Position;
use serde_json::{Map, Value};
use std::io::{self, BufRead};

pub fn read_csv(reader: &mut dyn BufRead, emit: &mut dyn FnMut(Framed)) -> io::Result<Layout> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let headers: Vec<String> = match csv.read_byte_record(&mut record) {
        Ok(false) => return Ok(Layout::Csv),
        Ok(true) => record
            .iter()
            .map(|h| clean_header(&String::from_utf8_lossy(h)))
            .collect(),
        Err(e) => return csv_fatal(e, emit, 1).map(|()| Layout::Csv),
    };
    let audit_data = headers.iter().position(|h| h == "AuditData");
    let purview = audit_data.is_some()
        && headers.iter().any(|h| h == "CreationDate")
        && headers
            .iter()
            .any(|h| h == "Operations" || h == "Operation");
    let mut n = 0u64;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                n += 1;
                let at = Position::Record(n);
                if record.len() == 1 && record.get(0).is_some_and(|c| c.is_empty()) {
                    n -= 1; // a blank line, not a record
                    continue;
                }
                if record.len() != headers.len() {
                    let reason = format!(
                        "CSV row has {} fields, the header has {}",
                        record.len(),
                        headers.len()
                    );
                    emit(Framed::Bad(at, reason));
                    continue;
                }
                let framed = match (purview, audit_data) {
                    (true, Some(col)) => purview_row(&record, col, at),
                    _ => table_row(&headers, &record, at),
                };
                emit(framed);
            }
            Err(e) => {
                n += 1;
                if let Some(err) = csv_row_error(&e) {
                    emit(Framed::Bad(Position::Record(n), err));
                    continue;
                }
                return csv_fatal(e, emit, n).map(|()| Layout::Csv);
            }
        }
    }
    Ok(if purview {
        Layout::PurviewCsv
    } else {
        Layout::Csv
    })
}

/// Column names as Sentinel means them: `TimeGenerated [UTC]` is `TimeGenerated`.
fn clean_header(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    h.strip_suffix(" [UTC]").unwrap_or(h).to_string()
}

fn purview_row(record: &csv::ByteRecord, col: usize, at: Position) -> Framed {
    let cell = record.get(col).unwrap_or_default();
    match serde_json::from_slice::<Value>(cell) {
        Ok(v @ Value::Object(_)) => Framed::Record(v, at),
        Ok(_) => Framed::Bad(at, "AuditData is not a JSON object".into()),
        Err(e) => Framed::Bad(at, format!("AuditData is not valid JSON: {e}")),
    }
}

fn table_row(headers: &[String], record: &csv::ByteRecord, at: Position) -> Framed {
    let mut row = Map::new();
    for (name, cell) in headers.iter().zip(record.iter()) {
        let text = match std::str::from_utf8(cell) {
            Ok(t) => t,
            Err(e) => {
                return Framed::Bad(at, format!("column {name}: not UTF-8 text ({e})"));
            }
        };
        if text.is_empty() || name.is_empty() {
            continue;
        }
        row.insert(name.clone(), cell_value(text));
    }
    Framed::Record(Value::Object(row), at)
}

/// A CSV cell as a JSON value: JSON objects/arrays parsed, TRUE/FALSE as booleans, else text.
pub fn cell_value(text: &str) -> Value {
    let t = text.trim();
    if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return v;
        }
    }
    if t.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    Value::String(text.to_string())
}

/// Errors that spoil one row but leave the reader able to go on.
fn csv_row_error(e: &csv::Error) -> Option<String> {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => Some(format!("not UTF-8 text: {err}")),
        csv::ErrorKind::UnequalLengths { .. } => Some(e.to_string()),
        _ => None,
    }
}

/// An I/O error ends the input; a parse error that is not one row's is reported and ends it.
fn csv_fatal(e: csv::Error, emit: &mut dyn FnMut(Framed), n: u64) -> io::Result<()> {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(_) = e.kind() {
            return Err(match e.into_kind() {
                csv::ErrorKind::Io(io) => io,
                _ => io::Error::other("CSV read failed"),
            });
        }
    }
    emit(Framed::Bad(Position::Record(n), format!("bad CSV: {e}")));
    Ok(())
}
