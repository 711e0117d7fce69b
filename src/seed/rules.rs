//! The generator of one column: from the scenario's rule, else from the column's CHECK
//! constraints, name and type. Values a scenario asks for are checked against the
//! constraints here, so a bad `one_of` is refused before anything is written.

use chrono::NaiveDate;

use super::fakes::{self, FakeKind, Locale, Shape};
use super::scenario::{ColumnRule, as_f64, parse_when};
use super::values::{ValueGen, epoch_days};
use crate::schema::{Column, ColumnType};
use crate::sqltext::{CheckRule, Literal};
use crate::value::Value;

/// Generated dates are anchored on a fixed day, not on today: the same seed must give the
/// same data next year too.
fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).expect("valid date")
}

pub fn value_gen(
    table: &str,
    column: &Column,
    rule: &ColumnRule,
    locale: Locale,
) -> Result<ValueGen, String> {
    let generator = match rule {
        ColumnRule::Infer | ColumnRule::Default => infer(table, column, locale),
        ColumnRule::Fake {
            kind,
            words,
            sentences,
        } => {
            if !accepts_text(&column.ty) {
                return Err(format!(
                    "fake = \"{}\" makes text, but {table}.{} is {}",
                    kind.name(),
                    column.name,
                    column.declared
                ));
            }
            ValueGen::Fake {
                kind: *kind,
                shape: Shape {
                    words: *words,
                    sentences: *sentences,
                },
                locale,
            }
        }
        ColumnRule::OneOf { values, weights } => {
            for v in values {
                check_value(table, column, v)?;
            }
            let cumulative = weights.as_ref().map(|w| {
                w.iter()
                    .scan(0.0, |acc, x| {
                        *acc += x;
                        Some(*acc)
                    })
                    .collect()
            });
            ValueGen::OneOf {
                values: values.iter().map(|v| coerce(v, &column.ty)).collect(),
                cumulative,
            }
        }
        ColumnRule::Const(v) => {
            check_value(table, column, v)?;
            ValueGen::Const(coerce(v, &column.ty))
        }
        ColumnRule::Between(lo, hi) => between(table, column, lo, hi)?,
    };
    Ok(generator)
}

fn accepts_text(ty: &ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Text { .. } | ColumnType::Json | ColumnType::Uuid | ColumnType::Enum(_)
    )
}

/// Booleans written as 0/1 or true/false in a scenario become the column's kind of value.
fn coerce(v: &Value, ty: &ColumnType) -> Value {
    match (v, ty) {
        (Value::Int(i), ColumnType::Boolean) => Value::Bool(*i != 0),
        (Value::Int(i), ColumnType::Float | ColumnType::Decimal { .. }) => Value::Float(*i as f64),
        _ => v.clone(),
    }
}

/// A value the scenario gives must fit the column's type and its CHECK constraints.
fn check_value(table: &str, column: &Column, v: &Value) -> Result<(), String> {
    let type_ok = match (&column.ty, v) {
        (_, Value::Null) => column.nullable,
        (ColumnType::Integer { .. }, Value::Int(_)) => true,
        (ColumnType::Float | ColumnType::Decimal { .. }, Value::Int(_) | Value::Float(_)) => true,
        (ColumnType::Boolean, Value::Bool(_) | Value::Int(0 | 1)) => true,
        (ColumnType::Date | ColumnType::Timestamp, Value::Text(s)) => parse_when(s).is_some(),
        (ColumnType::Enum(values), Value::Text(s)) => values.contains(s),
        (ColumnType::Text { max_len: Some(n) }, Value::Text(s)) => s.chars().count() <= *n as usize,
        (
            ColumnType::Text { .. } | ColumnType::Json | ColumnType::Uuid | ColumnType::Time,
            Value::Text(_),
        ) => true,
        _ => false,
    };
    if !type_ok {
        return Err(format!(
            "value {v} does not fit {table}.{} ({}{})",
            column.name,
            column.declared,
            if column.nullable { "" } else { " NOT NULL" }
        ));
    }
    for rule in &column.checks {
        if !satisfies(v, rule) {
            return Err(format!(
                "value {v} violates the CHECK constraint on {table}.{} ({}); use a value the constraint allows",
                column.name,
                describe(rule)
            ));
        }
    }
    Ok(())
}

fn literal(l: &Literal) -> Value {
    match l {
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::Text(s) => Value::Text(s.clone()),
        Literal::Bool(b) => Value::Bool(*b),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Bool(x), Value::Int(y)) | (Value::Int(y), Value::Bool(x)) => i64::from(*x) == *y,
        _ => as_f64(a) == as_f64(b),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        _ => as_f64(a).partial_cmp(&as_f64(b)),
    }
}

pub fn satisfies(v: &Value, rule: &CheckRule) -> bool {
    use std::cmp::Ordering::*;
    if v.is_null() {
        return true; // CHECK passes on NULL
    }
    match rule {
        CheckRule::OneOf(allowed) => allowed.iter().any(|a| same(v, &literal(a))),
        CheckRule::NotEqual(x) => !same(v, &literal(x)),
        CheckRule::Range { min, max } => {
            let lo_ok = min.as_ref().is_none_or(|(m, inc)| {
                matches!(compare(v, &literal(m)), Some(Greater))
                    || (*inc && compare(v, &literal(m)) == Some(Equal))
            });
            let hi_ok = max.as_ref().is_none_or(|(m, inc)| {
                matches!(compare(v, &literal(m)), Some(Less))
                    || (*inc && compare(v, &literal(m)) == Some(Equal))
            });
            lo_ok && hi_ok
        }
        CheckRule::Length { min, max } => {
            let n = match v {
                Value::Text(s) => s.chars().count(),
                other => other.to_sql_literal().len(),
            };
            min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
        }
    }
}

fn describe(rule: &CheckRule) -> String {
    match rule {
        CheckRule::OneOf(v) => format!(
            "one of {}",
            v.iter()
                .map(|l| literal(l).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CheckRule::NotEqual(x) => format!("not {}", literal(x)),
        CheckRule::Range { min, max } => {
            let lo = min
                .as_ref()
                .map(|(m, inc)| format!("{} {}", if *inc { "≥" } else { ">" }, literal(m)));
            let hi = max
                .as_ref()
                .map(|(m, inc)| format!("{} {}", if *inc { "≤" } else { "<" }, literal(m)));
            [lo, hi]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and ")
        }
        CheckRule::Length { min, max } => format!(
            "length between {} and {}",
            min.unwrap_or(0),
            max.map_or("∞".into(), |m| m.to_string())
        ),
    }
}

fn between(table: &str, column: &Column, lo: &Value, hi: &Value) -> Result<ValueGen, String> {
    check_value(table, column, lo)?;
    check_value(table, column, hi)?;
    Ok(match (&column.ty, lo, hi) {
        (ColumnType::Integer { .. }, Value::Int(a), Value::Int(b)) => {
            ValueGen::IntRange { lo: *a, hi: *b }
        }
        (ColumnType::Float, _, _) => ValueGen::FloatRange {
            lo: as_f64(lo),
            hi: as_f64(hi),
            scale: None,
        },
        (ColumnType::Decimal { scale, .. }, _, _) => ValueGen::FloatRange {
            lo: as_f64(lo),
            hi: as_f64(hi),
            scale: Some(scale.unwrap_or(2)),
        },
        (ColumnType::Date, Value::Text(a), Value::Text(b)) => {
            let (a, b) = (
                parse_when(a).expect("checked"),
                parse_when(b).expect("checked"),
            );
            ValueGen::DateRange {
                lo: epoch_days(a.date()),
                hi: epoch_days(b.date()),
            }
        }
        (ColumnType::Timestamp | ColumnType::Text { .. }, Value::Text(a), Value::Text(b))
            if parse_when(a).is_some() && parse_when(b).is_some() =>
        {
            let (a, b) = (
                parse_when(a).expect("checked"),
                parse_when(b).expect("checked"),
            );
            ValueGen::TimestampRange {
                lo: a.and_utc().timestamp(),
                hi: b.and_utc().timestamp(),
            }
        }
        _ => {
            return Err(format!(
                "between = [{lo}, {hi}] does not suit {table}.{} ({})",
                column.name, column.declared
            ));
        }
    })
}

/// No rule in the scenario: CHECK constraints first, then the name, then the type.
fn infer(table: &str, column: &Column, locale: Locale) -> ValueGen {
    for rule in &column.checks {
        if let CheckRule::OneOf(values) = rule {
            let values = values
                .iter()
                .map(|l| coerce(&literal(l), &column.ty))
                .collect();
            return ValueGen::OneOf {
                values,
                cumulative: None,
            };
        }
    }
    if let ColumnType::Enum(values) = &column.ty {
        return ValueGen::OneOf {
            values: values.iter().cloned().map(Value::Text).collect(),
            cumulative: None,
        };
    }
    let name = column.name.to_ascii_lowercase();
    let range = check_range(column);
    match &column.ty {
        ColumnType::Boolean => ValueGen::Bool,
        ColumnType::Integer { bytes } => {
            let (lo, hi) = integer_range(&name, *bytes);
            let (lo, hi) = clamp(lo as f64, hi as f64, range);
            ValueGen::IntRange {
                lo: lo.ceil() as i64,
                hi: hi.floor() as i64,
            }
        }
        ColumnType::Float | ColumnType::Decimal { .. } => {
            let scale = match column.ty {
                ColumnType::Decimal { scale, .. } => Some(scale.unwrap_or(2)),
                _ => None,
            };
            let (lo, hi) = if name.contains("lat") {
                (-90.0, 90.0)
            } else if name.contains("lon") || name.contains("lng") {
                (-180.0, 180.0)
            } else {
                (1.0, 1000.0)
            };
            let (lo, hi) = clamp(lo, hi, range);
            ValueGen::FloatRange { lo, hi, scale }
        }
        ColumnType::Date => {
            let (from, to) = if name.contains("birth") || name == "dob" {
                ((1950, 1, 1), (2006, 12, 31))
            } else {
                ((2020, 1, 1), (2026, 12, 31))
            };
            let d = |(y, m, day)| epoch_days(NaiveDate::from_ymd_opt(y, m, day).expect("valid"));
            ValueGen::DateRange {
                lo: d(from),
                hi: d(to),
            }
        }
        ColumnType::Timestamp => timestamp_range(&name),
        ColumnType::Time => ValueGen::Time,
        ColumnType::Uuid => ValueGen::Fake {
            kind: FakeKind::Uuid,
            shape: Shape::default(),
            locale,
        },
        ColumnType::Json => ValueGen::Json { locale },
        ColumnType::Blob => ValueGen::Blob,
        ColumnType::Enum(_) => unreachable!("handled above"),
        ColumnType::Text { max_len } => {
            let kind =
                fakes::infer(table, &column.name).unwrap_or(if max_len.is_some_and(|n| n < 12) {
                    FakeKind::Word
                } else {
                    FakeKind::Words
                });
            ValueGen::Fake {
                kind,
                shape: Shape::default(),
                locale,
            }
        }
    }
}

fn integer_range(name: &str, bytes: u8) -> (i64, i64) {
    let has = |w: &str| {
        name == w || name.ends_with(&format!("_{w}")) || name.starts_with(&format!("{w}_"))
    };
    let by_name = match () {
        _ if has("age") => (18, 90),
        _ if has("rating") || has("stars") || has("score") => (1, 5),
        _ if has("priority") || has("level") => (0, 5),
        _ if has("year") => (1990, 2030),
        _ if has("quantity") || has("qty") || has("count") => (1, 100),
        _ if has("position") || has("rank") || has("order") || has("sort") => (0, 1000),
        _ if has("price") || has("amount") || has("cents") || has("cost") || has("total") => {
            (100, 100_000)
        }
        _ => (1, 10_000),
    };
    let max = match bytes {
        1 => 127,
        2 => 32_767,
        3 => 8_388_607,
        _ => i64::MAX,
    };
    (by_name.0.min(max), by_name.1.min(max))
}

/// A numeric bound and whether it is inclusive.
type Bound = Option<(f64, bool)>;

fn check_range(column: &Column) -> Option<(Bound, Bound)> {
    column.checks.iter().find_map(|c| match c {
        CheckRule::Range { min, max } => {
            let num = |b: &Option<(Literal, bool)>| {
                b.as_ref().and_then(|(l, inc)| {
                    Some((as_f64(&literal(l)), *inc)).filter(|(x, _)| x.is_finite())
                })
            };
            Some((num(min), num(max)))
        }
        _ => None,
    })
}

/// Narrow (lo, hi) to a CHECK range; if they do not overlap, the constraint wins.
fn clamp(lo: f64, hi: f64, range: Option<(Bound, Bound)>) -> (f64, f64) {
    let Some((min, max)) = range else {
        return (lo, hi);
    };
    let step = |inc: bool| if inc { 0.0 } else { 1.0 };
    let cmin = min.map(|(m, inc)| m + step(inc));
    let cmax = max.map(|(m, inc)| m - step(inc));
    let nlo = cmin.map_or(lo, |m| lo.max(m));
    let nhi = cmax.map_or(hi, |m| hi.min(m));
    if nlo <= nhi {
        (nlo, nhi)
    } else {
        let a = cmin.unwrap_or(cmax.unwrap_or(0.0) - 100.0);
        let b = cmax.unwrap_or(a + 100.0);
        (a, b)
    }
}

fn timestamp_range(name: &str) -> ValueGen {
    let end = anchor()
        .and_hms_opt(23, 59, 59)
        .expect("valid")
        .and_utc()
        .timestamp();
    let day = 86_400;
    let (lo, hi) = if name.contains("due")
        || name.contains("expires")
        || name.contains("scheduled")
        || name.contains("starts")
    {
        (end - 30 * day, end + 180 * day)
    } else if name.contains("birth") {
        (end - 70 * 365 * day, end - 18 * 365 * day)
    } else {
        (end - 2 * 365 * day, end)
    };
    ValueGen::TimestampRange { lo, hi }
}
