//! Typed, located access to toml's spanned document tree.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::{ConfigError, Location, hint};
use super::expand::ConfigStr;

type Result<T> = std::result::Result<T, ConfigError>;

/// An enum spelled as a lowercase string in `dbenv.toml`.
pub(crate) trait Choice: Sized + Copy + 'static {
    const WHAT: &'static str;
    const ALL: &'static [(&'static str, Self)];
}

/// The document being parsed.
pub(crate) struct Cx<'a> {
    pub text: &'a str,
    pub file: &'a Path,
    pub dotenv: Arc<BTreeMap<String, String>>,
}

impl Cx<'_> {
    pub fn loc(&self, span: Range<usize>) -> Location {
        Location::at(self.file, self.text, span.start)
    }
}

/// A table of the document, with its display name (`[env.dev]`).
pub(crate) struct Tbl<'a, 'i> {
    pub cx: &'a Cx<'a>,
    pub table: &'a DeTable<'i>,
    pub name: String,
    pub span: Range<usize>,
}

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

impl<'a, 'i> Tbl<'a, 'i> {
    /// Entries in the order they appear in the file.
    pub fn entries(&self) -> Vec<Entry<'a, 'i>> {
        let mut v: Vec<_> = self.table.iter().collect();
        v.sort_by_key(|(k, _)| k.span().start);
        v
    }

    /// Reject keys not in `allowed`, suggesting the nearest valid one.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in self.entries() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                return Err(ConfigError::UnknownKey {
                    at: self.cx.loc(k.span()),
                    key: super::errors::shown(k.get_ref()),
                    section: self.name.clone(),
                    hint: hint(k.get_ref(), allowed, "valid keys"),
                });
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// Location of `key` itself (not its value); the table header when absent.
    pub fn key_loc(&self, key: &str) -> Location {
        match self.table.get_key_value(key) {
            Some((k, _)) => self.cx.loc(k.span()),
            None => self.cx.loc(self.span.clone()),
        }
    }

    pub fn value_loc(&self, key: &str) -> Location {
        self.get(key)
            .map_or_else(|| self.key_loc(key), |v| self.cx.loc(v.span()))
    }

    fn type_error(
        &self,
        key: &str,
        v: &Spanned<DeValue>,
        expected: &str,
        secret: bool,
    ) -> ConfigError {
        let found = describe(self.cx.text, v, secret);
        ConfigError::invalid(
            self.cx.loc(v.span()),
            format!("{key} in {} must be {expected}, found {found}", self.name),
        )
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Ok(Some(s.to_string())),
                _ => Err(self.type_error(key, v, "a string", false)),
            },
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => Ok(Some(*b)),
                _ => Err(self.type_error(key, v, "true or false", false)),
            },
        }
    }

    fn make_str(&self, field: String, v: &Spanned<DeValue>) -> Result<ConfigStr> {
        match v.get_ref() {
            DeValue::String(s) => ConfigStr::new(
                s.to_string(),
                self.cx.loc(v.span()),
                field,
                self.cx.dotenv.clone(),
            ),
            _ => Err(ConfigError::invalid(
                self.cx.loc(v.span()),
                format!(
                    "{field} must be a string, found {}",
                    describe(self.cx.text, v, true)
                ),
            )),
        }
    }

    /// A string that may use `${VAR}`; its value is never echoed in errors.
    pub fn config_str(&self, key: &str) -> Result<Option<ConfigStr>> {
        self.get(key)
            .map(|v| self.make_str(format!("{key} in {}", self.name), v))
            .transpose()
    }

    pub fn config_str_list(&self, key: &str) -> Result<Vec<ConfigStr>> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Array(items) = v.get_ref() else {
            return Err(self.type_error(key, v, "an array of strings", true));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.make_str(format!("{key}[{i}] in {}", self.name), item))
            .collect()
    }

    pub fn choice<T: Choice>(&self, key: &str) -> Result<Option<T>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let names: Vec<&str> = T::ALL.iter().map(|(n, _)| *n).collect();
        let DeValue::String(s) = v.get_ref() else {
            let expected = format!("a string (one of {})", names.join(", "));
            return Err(self.type_error(key, v, &expected, false));
        };
        if let Some((_, val)) = T::ALL.iter().find(|(n, _)| *n == s.as_ref()) {
            return Ok(Some(*val));
        }
        let mut msg = format!(
            "invalid {} \"{s}\" in {} (expected one of {}",
            T::WHAT,
            self.name,
            names.join(", ")
        );
        if let Some(near) = super::errors::suggest(s, &names) {
            msg.push_str(&format!("; did you mean \"{near}\"?"));
        }
        msg.push(')');
        Err(ConfigError::invalid(self.cx.loc(v.span()), msg))
    }

    /// An integer in `0..=max`.
    pub fn uint(&self, key: &str, max: u64) -> Result<Option<u64>> {
        let expected = if max == u64::MAX {
            "a non-negative integer".to_string()
        } else {
            format!("an integer between 0 and {max}")
        };
        let n = self.integer_in(key, 0, i128::from(max), &expected)?;
        Ok(n.map(|n| n as u64))
    }

    /// An integer in `min..=max`.
    pub fn int_in(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>> {
        let expected = format!("an integer between {min} and {max}");
        let n = self.integer_in(key, i128::from(min), i128::from(max), &expected)?;
        Ok(n.map(|n| n as i64))
    }

    fn integer_in(&self, key: &str, min: i128, max: i128, expected: &str) -> Result<Option<i128>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = match v.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.type_error(key, v, expected, false)),
        }
    }

    pub fn duration(&self, key: &str) -> Result<Option<Duration>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let parsed = match v.get_ref() {
            DeValue::String(s) => parse_duration(s),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            let found = describe(self.cx.text, v, false);
            ConfigError::invalid(
                self.cx.loc(v.span()),
                format!(
                    "invalid duration {found} for {key} in {} (accepted forms: 500ms, 10s, 5min, 2h, 1d)",
                    self.name
                ),
            )
        })
    }

    pub fn bytes(&self, key: &str) -> Result<Option<u64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let parsed = match v.get_ref() {
            DeValue::String(s) => parse_bytes(s),
            DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            let found = describe(self.cx.text, v, false);
            ConfigError::invalid(
                self.cx.loc(v.span()),
                format!(
                    "invalid byte size {found} for {key} in {} (accepted forms: 123, \"512kB\", \"16MB\", \"1GiB\")",
                    self.name
                ),
            )
        })
    }

    /// A sub-table; `None` when absent.
    pub fn table(&self, key: &str, name: String) -> Result<Option<Tbl<'a, 'i>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::Table(t) => Ok(Some(Tbl {
                cx: self.cx,
                table: t,
                name,
                span: v.span(),
            })),
            _ => Err(self.type_error(key, v, &format!("a table ({name})"), false)),
        }
    }
}

/// How a value is shown after "found": its source text, or only its type when secret.
pub(crate) fn describe(text: &str, v: &Spanned<DeValue>, secret: bool) -> String {
    match v.get_ref() {
        DeValue::String(_) if secret => "a string".into(),
        DeValue::String(s) if s.chars().count() > 60 => "a long string".into(),
        DeValue::String(s) => format!("\"{s}\""),
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) if !secret => {
            text.get(v.span()).unwrap_or("?").trim().to_string()
        }
        DeValue::Integer(_) => "an integer".into(),
        DeValue::Float(_) => "a float".into(),
        DeValue::Boolean(_) => "a boolean".into(),
        DeValue::Datetime(_) => "a date/time".into(),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// Split `"16 MB"` into `(16.0, "MB")`.
fn number_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s[..end].parse().ok()?;
    Some((num, s[end..].trim_start()))
}

/// `500ms`, `10s`, `5min` (or `5m`), `2h`, `1d`; decimals allowed (`1.5h`).
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = number_unit(s)?;
    let secs = match unit {
        "ms" => 0.001,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(n * secs).ok()
}

/// `123`, `512kB`, `16MB`, `1GiB` (kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let (n, unit) = number_unit(s)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        _ => return None,
    };
    let bytes = (n * mult).round();
    (bytes < u64::MAX as f64).then_some(bytes as u64)
}
