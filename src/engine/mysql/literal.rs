//! Values as MySQL/MariaDB SQL text, and back.
//!
//! Bulk writes send literal multi-row INSERTs (see `insert.rs`), so every [`Value`] must
//! become text the server reads back as exactly that value, whatever the session's
//! `sql_mode`. Single-quoted strings mean different things with and without
//! `NO_BACKSLASH_ESCAPES` only when they contain a backslash; such strings (and strings with
//! a NUL byte) are therefore sent as `_utf8mb4 X'…'`, which both modes read the same way.
//! Reads use the text protocol, where every cell arrives as text.

use std::fmt::Write as _;

use crate::value::Value;

/// Append `value` as an SQL literal. Fails only for NaN and infinities, which MySQL and
/// MariaDB cannot store.
pub(crate) fn push_literal(out: &mut String, value: &Value) -> Result<(), String> {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => push_float(out, *f)?,
        Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
        Value::Text(s) => push_str_literal(out, s),
        Value::Bytes(b) => push_hex(out, b),
    }
    Ok(())
}

/// A string literal, readable the same way with and without `NO_BACKSLASH_ESCAPES`.
pub(crate) fn push_str_literal(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'\\' || b == 0) {
        out.push_str("_utf8mb4 ");
        push_hex(out, s.as_bytes());
        return;
    }
    out.reserve(s.len() + 2);
    out.push('\'');
    if s.contains('\'') {
        for ch in s.chars() {
            if ch == '\'' {
                out.push('\'');
            }
            out.push(ch);
        }
    } else {
        out.push_str(s);
    }
    out.push('\'');
}

/// `s` as a string literal (for names in information_schema queries).
pub(crate) fn str_literal(s: &str) -> String {
    let mut out = String::new();
    push_str_literal(&mut out, s);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2 + 3);
    out.push_str("X'");
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out.push('\'');
}

/// The shortest text that reads back as exactly `f`. Rust prints the shortest round-trip
/// digits; long plain forms switch to exponent notation, which MySQL reads as a DOUBLE.
fn push_float(out: &mut String, f: f64) -> Result<(), String> {
    if !f.is_finite() {
        return Err(format!(
            "{f} cannot be stored in MySQL/MariaDB (no NaN or infinity); use NULL or a finite value"
        ));
    }
    let plain = f.to_string();
    if plain.len() <= 20 {
        out.push_str(&plain);
    } else {
        let _ = write!(out, "{f:e}");
    }
    Ok(())
}

/// How a column's text-protocol cells become [`Value`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    Int,
    Bool,
    Float,
    /// `BIT(n)`: big-endian bytes on the wire, an integer to us.
    Bit,
    Bytes,
    Text,
}

impl Decoded {
    /// Classify from information_schema `DATA_TYPE` and `COLUMN_TYPE`.
    pub(crate) fn of(data_type: &str, column_type: &str) -> Decoded {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" if column_type.to_ascii_lowercase().starts_with("tinyint(1)") => {
                Decoded::Bool
            }
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => {
                Decoded::Int
            }
            "float" | "double" | "real" => Decoded::Float,
            "bit" => Decoded::Bit,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                Decoded::Bytes
            }
            _ => Decoded::Text,
        }
    }

    /// Turn the raw text of one cell (`None` for NULL) into a value.
    pub(crate) fn decode(self, raw: Option<&[u8]>) -> Value {
        let Some(raw) = raw else {
            return Value::Null;
        };
        let text = || String::from_utf8_lossy(raw).into_owned();
        match self {
            Decoded::Int => std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .map_or_else(|| Value::Text(text()), Value::Int),
            Decoded::Bool => Value::Bool(raw != b"0"),
            Decoded::Float => std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .map_or_else(|| Value::Text(text()), Value::Float),
            Decoded::Bit if raw.len() <= 8 => {
                Value::Int(raw.iter().fold(0i64, |n, b| (n << 8) | i64::from(*b)))
            }
            Decoded::Bit | Decoded::Bytes => Value::Bytes(raw.to_vec()),
            Decoded::Text => Value::Text(text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> String {
        let mut s = String::new();
        push_literal(&mut s, &v).unwrap();
        s
    }

    #[test]
    fn literals_do_not_depend_on_backslash_escapes() {
        assert_eq!(lit(Value::Text("it's".into())), "'it''s'");
        assert_eq!(lit(Value::Text("a\\b".into())), "_utf8mb4 X'615C62'");
        assert_eq!(lit(Value::Text("nul\0".into())), "_utf8mb4 X'6E756C00'");
        assert_eq!(lit(Value::Text("é😀".into())), "'é😀'");
        assert_eq!(lit(Value::Bytes(vec![0, 255])), "X'00FF'");
        assert_eq!(lit(Value::Bytes(vec![])), "X''");
        assert_eq!(lit(Value::Null), "NULL");
        assert_eq!(lit(Value::Bool(true)), "1");
        assert_eq!(lit(Value::Int(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn floats_keep_every_digit() {
        for f in [
            0.1,
            -2.5,
            1e300,
            5e-324,
            123_456_789.123_456_79,
            f64::MAX,
            -0.0,
        ] {
            let s = lit(Value::Float(f));
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{s}");
        }
        assert!(push_literal(&mut String::new(), &Value::Float(f64::NAN)).is_err());
    }

    #[test]
    fn cells_decode_by_column_type() {
        assert_eq!(Decoded::of("tinyint", "tinyint(1)"), Decoded::Bool);
        assert_eq!(Decoded::of("tinyint", "tinyint(4)"), Decoded::Int);
        assert_eq!(Decoded::of("longtext", "longtext"), Decoded::Text);
        assert_eq!(Decoded::Int.decode(Some(b"-7")), Value::Int(-7));
        assert_eq!(
            Decoded::Int.decode(Some(b"18446744073709551615")),
            Value::Text("18446744073709551615".into())
        );
        assert_eq!(Decoded::Bit.decode(Some(&[1, 2])), Value::Int(258));
        assert_eq!(Decoded::Bool.decode(Some(b"0")), Value::Bool(false));
        assert_eq!(Decoded::Text.decode(None), Value::Null);
    }
}
