//! Bulk insert through `COPY … FROM STDIN` in PostgreSQL's text format.
//!
//! Inside a transaction, consecutive batches for the same table and columns are gathered in
//! one buffer and sent as one COPY when the buffer reaches [`FLUSH_AT`], when another table
//! is written, or before any other statement on the connection (so the connection's reads
//! always see every row given to it). Outside a transaction each call is one COPY, so its
//! rows are committed when it returns. The buffer is sent in chunks of about 1 MiB.
//!
//! Why gather: every COPY ends with a tiny `CopyDone` message written right after the data,
//! which TCP's Nagle algorithm (sqlx leaves it on) holds back until the server acknowledges
//! the data, and servers delay that acknowledgement by up to 40 ms. One COPY per seeder batch
//! of 2000 rows spent more time waiting on that than writing: writing the 1.16 million rows
//! of the `load` scenario over TCP took 16.4 s that way, 6.4 s gathered (tests/bench_postgres.rs).
//! A failed COPY is reported by the call that sends it, possibly a later one; PostgreSQL's
//! message names the table, line and column.
//!
//! The text format: columns separated by tabs, rows ended by a newline, `\N` for NULL, and
//! backslash escapes for backslash, tab, newline and carriage return inside values.

use std::io::Write as _;

use super::PgBackend;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;

/// Size of each `CopyData` message sent.
const CHUNK: usize = 1 << 20;
/// Send the gathered rows once the buffer holds this many bytes.
pub(super) const FLUSH_AT: usize = 8 << 20;

/// Rows encoded in the backend's buffer, not sent yet.
#[derive(Debug)]
pub(super) struct PendingCopy {
    table: String,
    columns: Vec<String>,
}

impl PgBackend {
    /// Encode `rows` after the pending ones (sending those first if they go elsewhere).
    pub(super) async fn copy_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        if self
            .pending_copy
            .as_ref()
            .is_some_and(|p| p.table != table || p.columns != columns)
        {
            self.flush_copy().await?;
        }
        let info = self.table_info(table).await?;
        for row in rows {
            encode_row(&mut self.copy_buf, row);
        }
        self.note_sequences(&info, columns, rows);
        if self.pending_copy.is_none() {
            self.pending_copy = Some(PendingCopy {
                table: table.to_string(),
                columns: columns.to_vec(),
            });
        }
        if !self.in_transaction || self.copy_buf.len() >= FLUSH_AT {
            self.flush_copy().await?;
        }
        Ok(())
    }

    /// Send the pending rows as one COPY and wait for the server to take them.
    pub(super) async fn flush_copy(&mut self) -> Result<(), sqlx::Error> {
        let Some(pending) = self.pending_copy.take() else {
            return Ok(());
        };
        let result = self.send_copy(&pending).await;
        self.discard_copy();
        result
    }

    async fn send_copy(&mut self, pending: &PendingCopy) -> Result<(), sqlx::Error> {
        let statement = copy_statement(&pending.table, &pending.columns);
        let mut copy = self
            .conn
            .copy_in_raw(&statement)
            .await
            .map_err(super::with_details)?;
        for chunk in self.copy_buf.chunks(CHUNK) {
            copy.send(chunk).await?;
        }
        copy.finish().await.map_err(super::with_details)?;
        Ok(())
    }

    /// Forget the pending rows (the transaction they belong to is rolled back).
    pub(super) fn discard_copy(&mut self) {
        self.pending_copy = None;
        self.copy_buf.clear();
        if self.copy_buf.capacity() > 2 * FLUSH_AT {
            self.copy_buf = Vec::new(); // a huge batch must not pin its memory for the session
        }
    }

    /// Rows of a table whose every column is left to the database.
    pub(super) async fn insert_defaults(
        &mut self,
        table: &str,
        n: usize,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {} SELECT FROM generate_series(1, $1)",
            quote_ident(table, Dialect::Postgres)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(n as i64)
            .execute(&mut self.conn)
            .await
            .map_err(super::with_details)?;
        Ok(())
    }
}

fn copy_statement(table: &str, columns: &[String]) -> String {
    let q = |c: &str| quote_ident(c, Dialect::Postgres);
    let list: Vec<String> = columns.iter().map(|c| q(c)).collect();
    format!("COPY {} ({}) FROM STDIN", q(table), list.join(", "))
}

/// Append one row in COPY text format.
pub(super) fn encode_row(out: &mut Vec<u8>, row: &[Value]) {
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value {
            Value::Null => out.extend_from_slice(b"\\N"),
            Value::Text(s) => push_escaped(out, s.as_bytes()),
            // bytea's text input is `\x…`, whose backslash COPY wants doubled.
            Value::Bytes(b) => {
                out.extend_from_slice(b"\\\\x");
                push_hex(out, b);
            }
            other => push_plain(out, other),
        }
    }
    out.push(b'\n');
}

/// Numbers and booleans: nothing to escape. Floats keep every digit (shortest form that
/// reads back to the same `f64`).
pub(super) fn push_plain(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.extend_from_slice(b"NaN"),
        Value::Float(f) if f.is_infinite() => {
            out.extend_from_slice(if *f > 0.0 { b"Infinity" } else { b"-Infinity" })
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Null | Value::Text(_) | Value::Bytes(_) => unreachable!("not a plain value"),
    }
}

pub(super) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

/// Copy `s`, escaping the four bytes COPY gives a meaning to. Runs of ordinary bytes are
/// copied whole (UTF-8 continuation bytes are never special).
fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Value]) -> String {
        let mut out = Vec::new();
        encode_row(&mut out, values);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_what_copy_gives_a_meaning_to() {
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            row(&[
                text("a\tb"),
                text("l1\nl2\r"),
                text("back\\slash"),
                text("\\N")
            ]),
            "a\\tb\tl1\\nl2\\r\tback\\\\slash\t\\\\N\n"
        );
        assert_eq!(
            row(&[text(""), Value::Null, text("naïve 名前 🎉")]),
            "\t\\N\tnaïve 名前 🎉\n"
        );
    }

    #[test]
    fn numbers_booleans_and_bytes_in_text_form() {
        assert_eq!(
            row(&[
                Value::Int(-42),
                Value::Bool(true),
                Value::Bool(false),
                Value::Bytes(vec![0, 0xab, 0x5c]),
            ]),
            "-42\tt\tf\t\\\\x00ab5c\n"
        );
        let floats = [
            0.1 + 0.2,
            1e300,
            5e-324,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let values: Vec<Value> = floats.iter().map(|f| Value::Float(*f)).collect();
        assert_eq!(
            row(&values),
            "0.30000000000000004\t1e300\t5e-324\t-0.0\tInfinity\t-Infinity\tNaN\n"
        );
    }
}
