//! Generators of single values, and the size of the set they draw from (for refusing
//! impossible uniqueness before anything is written).

use chrono::{DateTime, NaiveDate};
use rand::RngExt;

use super::fakes::{self, FakeKind, Locale, Shape};
use crate::value::Value;

#[derive(Debug, Clone)]
pub enum ValueGen {
    Fake {
        kind: FakeKind,
        shape: Shape,
        locale: Locale,
    },
    OneOf {
        values: Vec<Value>,
        cumulative: Option<Vec<f64>>,
    },
    IntRange {
        lo: i64,
        hi: i64,
    },
    FloatRange {
        lo: f64,
        hi: f64,
        scale: Option<u32>,
    },
    Bool,
    /// Days since 1970-01-01, inclusive.
    DateRange {
        lo: i64,
        hi: i64,
    },
    /// Seconds since the epoch, inclusive.
    TimestampRange {
        lo: i64,
        hi: i64,
    },
    Time,
    Json {
        locale: Locale,
    },
    Blob,
    Const(Value),
}

impl ValueGen {
    pub fn next<R: RngExt>(&self, rng: &mut R) -> Value {
        match self {
            ValueGen::Fake {
                kind,
                shape,
                locale,
            } => Value::Text(fakes::generate(*kind, *locale, *shape, rng)),
            ValueGen::OneOf { values, cumulative } => {
                let i = match cumulative {
                    Some(c) => {
                        let x = rng.random::<f64>() * c.last().copied().unwrap_or(1.0);
                        c.partition_point(|w| *w <= x).min(values.len() - 1)
                    }
                    None => rng.random_range(0..values.len()),
                };
                values[i].clone()
            }
            ValueGen::IntRange { lo, hi } => Value::Int(rng.random_range(*lo..=*hi)),
            ValueGen::FloatRange { lo, hi, scale } => {
                let x = if lo < hi {
                    rng.random_range(*lo..=*hi)
                } else {
                    *lo
                };
                Value::Float(match scale {
                    Some(s) => round_to(x, *s).clamp(*lo, *hi),
                    None => x,
                })
            }
            ValueGen::Bool => Value::Bool(rng.random_bool(0.5)),
            ValueGen::DateRange { lo, hi } => {
                let day = rng.random_range(*lo..=*hi);
                let date = NaiveDate::from_num_days_from_ce_opt(day as i32 + EPOCH_CE_DAYS)
                    .unwrap_or_default();
                Value::Text(date.format("%Y-%m-%d").to_string())
            }
            ValueGen::TimestampRange { lo, hi } => {
                let secs = rng.random_range(*lo..=*hi);
                let at = DateTime::from_timestamp(secs, 0).unwrap_or_default();
                Value::Text(at.format("%Y-%m-%d %H:%M:%S").to_string())
            }
            ValueGen::Time => {
                let s = rng.random_range(0..86_400u32);
                Value::Text(format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60))
            }
            ValueGen::Json { locale } => {
                let word = fakes::generate(FakeKind::Word, *locale, Shape::default(), rng);
                Value::Text(format!(
                    "{{\"tag\": \"{}\", \"score\": {}}}",
                    word.replace('"', ""),
                    rng.random_range(0..100)
                ))
            }
            ValueGen::Blob => Value::Bytes(rng.random::<[u8; 16]>().to_vec()),
            ValueGen::Const(v) => v.clone(),
        }
    }

    /// How many distinct values this generator can produce, when that is small enough to
    /// matter; `None` means "practically unlimited" (or unlimited through suffixes).
    pub fn domain_size(&self) -> Option<u128> {
        match self {
            ValueGen::OneOf { values, .. } => {
                let mut distinct: Vec<&Value> = Vec::new();
                for v in values {
                    if !distinct.contains(&v) {
                        distinct.push(v);
                    }
                }
                Some(distinct.len() as u128)
            }
            ValueGen::IntRange { lo, hi } => Some((*hi as i128 - *lo as i128 + 1) as u128),
            ValueGen::FloatRange {
                lo,
                hi,
                scale: Some(s),
            } => Some(((hi - lo) * 10f64.powi(*s as i32)).floor() as u128 + 1),
            ValueGen::Bool => Some(2),
            ValueGen::DateRange { lo, hi } => Some((hi - lo + 1) as u128),
            ValueGen::TimestampRange { lo, hi } => Some((hi - lo + 1) as u128),
            ValueGen::Time => Some(86_400),
            ValueGen::Const(_) => Some(1),
            _ => None,
        }
    }

    /// Text generators can be made unique by appending a counter when values repeat.
    pub fn can_suffix(&self) -> bool {
        matches!(self, ValueGen::Fake { .. } | ValueGen::Json { .. })
    }
}

/// Days between 0001-01-01 (chrono's day 1) and 1970-01-01.
const EPOCH_CE_DAYS: i32 = 719_163;

/// Days since the epoch of a date.
pub fn epoch_days(date: NaiveDate) -> i64 {
    use chrono::Datelike;
    (date.num_days_from_ce() - EPOCH_CE_DAYS) as i64
}

fn round_to(x: f64, scale: u32) -> f64 {
    let f = 10f64.powi(scale as i32);
    (x * f).round() / f
}

/// Make `value` unique by appending `-n` (before the `@` of an email), within `max_len`.
pub fn with_suffix(value: &Value, n: u64, max_len: Option<usize>) -> Value {
    let Value::Text(s) = value else {
        return value.clone();
    };
    let suffix = format!("{n}");
    let (head, tail) = match s.find('@') {
        Some(at) => (&s[..at], &s[at..]),
        None => (s.as_str(), ""),
    };
    let joiner = if tail.is_empty() { "-" } else { "." };
    let mut head = head.to_string();
    if let Some(max) = max_len {
        let room = max.saturating_sub(suffix.len() + joiner.len() + tail.chars().count());
        head = head.chars().take(room).collect();
    }
    Value::Text(format!("{head}{joiner}{suffix}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weights_are_respected() {
        let values = vec![Value::Text("admin".into()), Value::Text("member".into())];
        let generator = ValueGen::OneOf {
            values,
            cumulative: Some(vec![1.0, 10.0]),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let admins = (0..10_000)
            .filter(|_| generator.next(&mut rng) == Value::Text("admin".into()))
            .count();
        assert!(
            (800..1200).contains(&admins),
            "{admins} admins of 10000 with weights 1:9"
        );
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let d = ValueGen::DateRange {
            lo: epoch_days(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            hi: epoch_days(NaiveDate::from_ymd_opt(2024, 1, 3).unwrap()),
        };
        for _ in 0..100 {
            let Value::Text(s) = d.next(&mut rng) else {
                panic!()
            };
            assert!(
                ["2024-01-01", "2024-01-02", "2024-01-03"].contains(&s.as_str()),
                "{s}"
            );
        }
        let f = ValueGen::FloatRange {
            lo: 0.5,
            hi: 1.0,
            scale: Some(2),
        };
        for _ in 0..100 {
            let Value::Float(x) = f.next(&mut rng) else {
                panic!()
            };
            assert!((0.5..=1.0).contains(&x) && (x * 100.0 - (x * 100.0).round()).abs() < 1e-9);
        }
        assert_eq!(d.domain_size(), Some(3));
        assert_eq!(ValueGen::IntRange { lo: -2, hi: 2 }.domain_size(), Some(5));
    }

    #[test]
    fn suffixes_keep_emails_valid_and_fit_max_length() {
        assert_eq!(
            with_suffix(&Value::Text("ann@example.com".into()), 7, None),
            Value::Text("ann.7@example.com".into())
        );
        assert_eq!(
            with_suffix(&Value::Text("abcdef".into()), 12, Some(5)),
            Value::Text("ab-12".into())
        );
    }
}
