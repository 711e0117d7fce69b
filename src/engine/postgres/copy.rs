//! Bulk insert through `COPY … FROM STDIN` in PostgreSQL's text format: one COPY per batch,
//! the payload built in a buffer the backend keeps and sent in chunks of about 1 MiB.
//!
//! The text format: columns separated by tabs, rows ended by a newline, `\N` for NULL, and
//! backslash escapes for backslash, tab, newline and carriage return inside values.

use std::io::Write as _;

use super::PgBackend;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;

/// Send the payload once it grows past this many bytes.
const CHUNK: usize = 1 << 20;

impl PgBackend {
    pub(super) async fn copy_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        let info = self.table_info(table).await?;
        let statement = copy_statement(table, columns);
        let PgBackend { conn, copy_buf, .. } = self;
        let mut copy = conn
            .copy_in_raw(&statement)
            .await
            .map_err(super::with_details)?;
        copy_buf.clear();
        for row in rows {
            encode_row(copy_buf, row);
            if copy_buf.len() >= CHUNK {
                copy.send(&copy_buf[..]).await?;
                copy_buf.clear();
            }
        }
        if !copy_buf.is_empty() {
            copy.send(&copy_buf[..]).await?;
        }
        copy.finish().await.map_err(super::with_details)?;
        if copy_buf.capacity() > 4 * CHUNK {
            *copy_buf = Vec::new(); // one huge row must not pin its memory for the session
        }
        self.note_sequences(&info, columns, rows);
        Ok(())
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
