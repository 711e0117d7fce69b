//! A generated value, independent of the engine it will be written to.

use std::fmt::Write as _;

/// One cell of a generated row. Dates and times travel as ISO-8601 text, which every engine
/// accepts for its date types; decimals as text so that no precision is lost on the way.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Append a canonical, engine-independent encoding of the value, used for hashing and for
    /// uniqueness checks (so `1` and `'1'` stay distinct).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(0),
            Value::Int(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(f) => {
                out.push(2);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[3, u8::from(*b)]),
            Value::Text(s) => {
                out.push(4);
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(5);
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                out.extend_from_slice(b);
            }
        }
    }

    /// The value as an SQL literal, for messages and `--dry-run` output.
    pub fn to_sql_literal(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Bytes(b) => {
                let mut s = String::from("X'");
                for byte in b {
                    let _ = write!(s, "{byte:02X}");
                }
                s + "'"
            }
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(s) => write!(f, "\"{s}\""),
            other => f.write_str(&other.to_sql_literal()),
        }
    }
}
