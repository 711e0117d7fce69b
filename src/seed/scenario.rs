//! Scenario files (`seeds/<name>.toml`, DESIGN.md §4): parsing, `extends`, validation.
//!
//! Everything is checked here, against the file alone, with file:line:column positions;
//! checks that need the schema (tables, columns, CHECK constraints) happen in `plan`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::SeedError;
use super::fakes::{FakeKind, Locale};
use crate::util::{line_col, suggest};
use crate::value::Value;

/// The scenario that means "migrations only".
pub const EMPTY: &str = "empty";
/// Row count for tables a scenario does not list, unless it sets `rows`.
pub const DEFAULT_ROWS: u64 = 10;
/// Above this, a row count is a typo rather than a wish (and would fill the disk).
pub const MAX_ROWS: u64 = 100_000_000;
const DEFAULT_SEED: u64 = 42;

/// A place in a scenario file, shown as `seeds/demo.toml:12:5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A fully resolved scenario: `extends` merged, values checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub locale: Locale,
    pub default_rows: u64,
    pub tables: BTreeMap<String, TableSpec>,
    /// `seeds/<name>.sql` files of the chain, base first, run after generation.
    pub sql_files: Vec<PathBuf>,
    /// A digest of every file of the chain: the scenario part of a template key.
    pub fingerprint: String,
}

#[derive(Debug, Clone)]
pub struct TableSpec {
    pub at: Location,
    pub rows: Option<RowsSpec>,
    pub columns: BTreeMap<String, ColumnSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowsSpec {
    Count(u64),
    /// `{ per = "orgs", min = 1, max = 5 }`; `via` picks the foreign key column when the
    /// child references that parent more than once (`per = "users.assignee_id"`).
    Per {
        parent: String,
        via: Option<String>,
        min: u64,
        max: u64,
    },
}

#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub at: Location,
    pub rule: ColumnRule,
    pub null_ratio: Option<f64>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnRule {
    /// Chosen from the column's name and type.
    Infer,
    Fake {
        kind: FakeKind,
        words: Option<(u32, u32)>,
        sentences: Option<(u32, u32)>,
    },
    OneOf {
        values: Vec<Value>,
        weights: Option<Vec<f64>>,
    },
    Between(Value, Value),
    Const(Value),
    /// Leave the column out of the INSERT: the database's default applies.
    Default,
}

impl Scenario {
    /// The built-in `empty` scenario: every table exists, none has rows.
    pub fn empty() -> Scenario {
        Scenario {
            name: EMPTY.into(),
            description: Some("migrations only, no rows".into()),
            seed: DEFAULT_SEED,
            locale: Locale::En,
            default_rows: 0,
            tables: BTreeMap::new(),
            sql_files: Vec::new(),
            fingerprint: hex::encode(Sha256::digest(b"dbenv:empty")),
        }
    }

    /// Load `name` from `seeds_dir`, following `extends`.
    pub fn load(seeds_dir: &Path, name: &str) -> Result<Scenario, SeedError> {
        if name == EMPTY {
            return Ok(Scenario::empty());
        }
        let mut chain: Vec<(String, PathBuf, String, ScenarioFile)> = Vec::new();
        let mut next = Some(name.to_string());
        while let Some(current) = next.take() {
            if chain.iter().any(|(n, ..)| *n == current) {
                let names: Vec<&str> = chain.iter().map(|(n, ..)| n.as_str()).collect();
                return Err(SeedError::Invalid {
                    at: chain
                        .last()
                        .map(|c| c.1.display().to_string())
                        .unwrap_or_default(),
                    message: format!(
                        "`extends` makes a loop: {} → {current}; remove one of the `extends`",
                        names.join(" → ")
                    ),
                });
            }
            let path = scenario_path(seeds_dir, &current)?;
            let text = read_scenario(&path)?;
            let file = parse_file(&text, &path)?;
            next = file.extends.as_ref().map(|e| e.get_ref().clone());
            if next.as_deref() == Some(EMPTY) {
                next = None;
            }
            chain.push((current, path, text, file));
        }
        chain.reverse(); // base first
        build(name, chain)
    }

    /// Parse one scenario file's `text` as if read from `path`, without following its
    /// `extends`: what [`Scenario::load`] does for each file of the chain. For the fuzz
    /// targets (`fuzz/`) and tools that hold a scenario in memory.
    #[doc(hidden)]
    pub fn parse_str(name: &str, text: &str, path: &Path) -> Result<Scenario, SeedError> {
        let file = parse_file(text, path)?;
        let chain = vec![(name.to_string(), path.to_path_buf(), text.to_string(), file)];
        build(name, chain)
    }

    /// Names of the scenarios available in `seeds_dir` (always including `empty`).
    pub fn available(seeds_dir: &Path) -> Vec<String> {
        let mut names = vec![EMPTY.to_string()];
        if let Ok(entries) = std::fs::read_dir(seeds_dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = file.strip_suffix(".toml") {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

fn scenario_path(seeds_dir: &Path, name: &str) -> Result<PathBuf, SeedError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let path = seeds_dir.join(format!("{name}.toml"));
    if valid && path.is_file() {
        return Ok(path);
    }
    let available = Scenario::available(seeds_dir);
    let hint = suggest(name, available.iter().map(String::as_str))
        .map(|s| format!("did you mean \"{s}\"? "))
        .unwrap_or_default();
    Err(SeedError::UnknownScenario {
        name: name.to_string(),
        hint,
        available: available.join(", "),
        dir: seeds_dir.display().to_string(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    description: Option<String>,
    extends: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    locale: Option<Spanned<String>>,
    rows: Option<Spanned<i64>>,
    #[serde(default)]
    tables: BTreeMap<Spanned<String>, TableFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    rows: Option<Spanned<toml::Value>>,
    #[serde(default)]
    columns: BTreeMap<Spanned<String>, Spanned<ColumnFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    fake: Option<Spanned<String>>,
    words: Option<Spanned<Vec<i64>>>,
    sentences: Option<Spanned<Vec<i64>>>,
    one_of: Option<Spanned<Vec<toml::Value>>>,
    weights: Option<Spanned<Vec<f64>>>,
    between: Option<Spanned<Vec<toml::Value>>>,
    null_ratio: Option<Spanned<f64>>,
    unique: Option<bool>,
    value: Option<Spanned<toml::Value>>,
    default: Option<bool>,
}

const TOP_KEYS: &[&str] = &["description", "extends", "seed", "locale", "rows", "tables"];
const TABLE_KEYS: &[&str] = &["rows", "columns"];
const COLUMN_KEYS: &[&str] = &[
    "fake",
    "words",
    "sentences",
    "one_of",
    "weights",
    "between",
    "null_ratio",
    "unique",
    "value",
    "default",
];

fn parse_file(text: &str, path: &Path) -> Result<ScenarioFile, SeedError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        let at = Location {
            file: path.to_path_buf(),
            line,
            column,
        }
        .to_string();
        SeedError::Invalid {
            at,
            message: explain_toml_error(e.message()),
        }
    })
}

/// Rephrase serde's "unknown field `x`, expected one of …" with a suggestion.
fn explain_toml_error(message: &str) -> String {
    let message = message.trim();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return format!("invalid scenario: {message}");
    };
    let wrong = rest.split('`').next().unwrap_or("");
    let keys: &[&str] = if COLUMN_KEYS
        .iter()
        .any(|k| message.contains(&format!("`{k}`")))
        && message.contains("`null_ratio`")
    {
        COLUMN_KEYS
    } else if message.contains("`columns`") {
        TABLE_KEYS
    } else {
        TOP_KEYS
    };
    match suggest(wrong, keys.iter().copied()) {
        Some(s) => format!("unknown key \"{wrong}\" (did you mean \"{s}\"?)"),
        None => format!("unknown key \"{wrong}\" (valid keys: {})", keys.join(", ")),
    }
}

/// Merge the chain (base first) into one scenario.
fn build(
    name: &str,
    chain: Vec<(String, PathBuf, String, ScenarioFile)>,
) -> Result<Scenario, SeedError> {
    let mut scenario = Scenario {
        name: name.to_string(),
        ..Scenario::empty()
    };
    scenario.default_rows = DEFAULT_ROWS;
    let mut digest = Sha256::new();
    for (_, path, text, file) in chain {
        digest.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        digest.update(text.as_bytes());
        let at = |span: std::ops::Range<usize>| {
            let (line, column) = line_col(&text, span.start);
            Location {
                file: path.clone(),
                line,
                column,
            }
        };
        if file.description.is_some() {
            scenario.description = file.description;
        }
        if let Some(seed) = &file.seed {
            scenario.seed = u64::try_from(*seed.get_ref())
                .map_err(|_| invalid(at(seed.span()), "seed must be a non-negative integer"))?;
        }
        if let Some(locale) = &file.locale {
            scenario.locale =
                Locale::parse(locale.get_ref()).map_err(|m| invalid(at(locale.span()), &m))?;
        }
        if let Some(rows) = &file.rows {
            scenario.default_rows =
                row_count(*rows.get_ref()).map_err(|m| invalid(at(rows.span()), &m))?;
        }
        for (table, spec) in file.tables {
            let table_at = at(table.span());
            let entry = scenario
                .tables
                .entry(table.into_inner())
                .or_insert_with(|| TableSpec {
                    at: table_at.clone(),
                    rows: None,
                    columns: BTreeMap::new(),
                });
            entry.at = table_at;
            if let Some(rows) = &spec.rows {
                entry.rows =
                    Some(rows_spec(rows.get_ref()).map_err(|m| invalid(at(rows.span()), &m))?);
            }
            for (column, col) in spec.columns {
                let col_at = at(column.span());
                let parsed = column_spec(col.into_inner(), col_at, &at)?;
                entry.columns.insert(column.into_inner(), parsed);
            }
        }
        let sql = path.with_extension("sql");
        if sql.is_file() {
            digest.update(std::fs::read(&sql).unwrap_or_default());
            scenario.sql_files.push(sql);
        }
    }
    scenario.fingerprint = hex::encode(digest.finalize());
    Ok(scenario)
}

fn invalid(at: Location, message: &str) -> SeedError {
    SeedError::Invalid {
        at: at.to_string(),
        message: message.to_string(),
    }
}

fn row_count(n: i64) -> Result<u64, String> {
    match u64::try_from(n) {
        Err(_) => Err(format!("rows must be 0 or more, found {n}")),
        Ok(n) if n > MAX_ROWS => Err(format!(
            "rows = {n} is more than dbenv generates ({MAX_ROWS}); split the data or lower the count"
        )),
        Ok(n) => Ok(n),
    }
}

fn rows_spec(value: &toml::Value) -> Result<RowsSpec, String> {
    match value {
        toml::Value::Integer(n) => Ok(RowsSpec::Count(row_count(*n)?)),
        toml::Value::Table(t) => {
            for key in t.keys() {
                if !["per", "min", "max"].contains(&key.as_str()) {
                    let hint = suggest(key, ["per", "min", "max"])
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown key \"{key}\" in rows{hint}; write rows = {{ per = \"parent_table\", min = 1, max = 5 }}"
                    ));
                }
            }
            let per = t
                .get("per")
                .and_then(toml::Value::as_str)
                .ok_or("rows = { … } needs per = \"parent_table\"")?;
            let bound = |k: &str, default: i64| {
                t.get(k).map_or(Ok(default), |v| {
                    v.as_integer().ok_or(format!("rows.{k} must be an integer"))
                })
            };
            let min = row_count(bound("min", 1)?)?;
            let max = row_count(bound("max", min.max(1) as i64)?)?;
            if min > max {
                return Err(format!("rows.min ({min}) is larger than rows.max ({max})"));
            }
            let (parent, via) = match per.split_once('.') {
                Some((p, c)) => (p.to_string(), Some(c.to_string())),
                None => (per.to_string(), None),
            };
            Ok(RowsSpec::Per {
                parent,
                via,
                min,
                max,
            })
        }
        other => Err(format!(
            "rows must be a count (rows = 100) or a per-parent range (rows = {{ per = \"orgs\", min = 1, max = 5 }}), found {}",
            other.type_str()
        )),
    }
}

fn column_spec(
    col: ColumnFile,
    at: Location,
    pos: &dyn Fn(std::ops::Range<usize>) -> Location,
) -> Result<ColumnSpec, SeedError> {
    let chosen: Vec<&str> = [
        col.fake.as_ref().map(|_| "fake"),
        col.one_of.as_ref().map(|_| "one_of"),
        col.between.as_ref().map(|_| "between"),
        col.value.as_ref().map(|_| "value"),
        col.default.filter(|d| *d).map(|_| "default"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if chosen.len() > 1 {
        return Err(invalid(
            at,
            &format!(
                "a column takes one of fake, one_of, between, value, default; this one has {}",
                chosen.join(" and ")
            ),
        ));
    }
    let range =
        |v: &Option<Spanned<Vec<i64>>>, what: &str| -> Result<Option<(u32, u32)>, SeedError> {
            let Some(v) = v else { return Ok(None) };
            match v.get_ref().as_slice() {
                [a, b] if 1 <= *a && a <= b && *b <= 10_000 => Ok(Some((*a as u32, *b as u32))),
                _ => Err(invalid(
                    pos(v.span()),
                    &format!(
                        "{what} must be [min, max] with 1 ≤ min ≤ max ≤ 10000, e.g. {what} = [3, 8]"
                    ),
                )),
            }
        };
    let words = range(&col.words, "words")?;
    let sentences = range(&col.sentences, "sentences")?;
    if (words.is_some() || sentences.is_some()) && col.fake.is_none() {
        return Err(invalid(
            at,
            "words/sentences shape a `fake` text generator: add fake = \"sentence\" or fake = \"paragraph\"",
        ));
    }
    let rule = if let Some(fake) = &col.fake {
        let kind = FakeKind::parse(fake.get_ref()).map_err(|m| invalid(pos(fake.span()), &m))?;
        ColumnRule::Fake {
            kind,
            words,
            sentences,
        }
    } else if let Some(one_of) = &col.one_of {
        one_of_rule(one_of, col.weights.as_ref(), pos)?
    } else if let Some(between) = &col.between {
        between_rule(between).map_err(|m| invalid(pos(between.span()), &m))?
    } else if let Some(value) = &col.value {
        ColumnRule::Const(toml_value(value.get_ref()).map_err(|m| invalid(pos(value.span()), &m))?)
    } else if col.default == Some(true) {
        ColumnRule::Default
    } else {
        ColumnRule::Infer
    };
    if col.weights.is_some() && col.one_of.is_none() {
        return Err(invalid(at, "weights go with one_of: one weight per value"));
    }
    let null_ratio = match &col.null_ratio {
        Some(r) if !(0.0..=1.0).contains(r.get_ref()) => {
            return Err(invalid(
                pos(r.span()),
                &format!("null_ratio must be between 0 and 1, found {}", r.get_ref()),
            ));
        }
        r => r.as_ref().map(|r| *r.get_ref()),
    };
    Ok(ColumnSpec {
        at,
        rule,
        null_ratio,
        unique: col.unique.unwrap_or(false),
    })
}

fn one_of_rule(
    one_of: &Spanned<Vec<toml::Value>>,
    weights: Option<&Spanned<Vec<f64>>>,
    pos: &dyn Fn(std::ops::Range<usize>) -> Location,
) -> Result<ColumnRule, SeedError> {
    if one_of.get_ref().is_empty() {
        return Err(invalid(
            pos(one_of.span()),
            "one_of needs at least one value",
        ));
    }
    let values = one_of
        .get_ref()
        .iter()
        .map(toml_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid(pos(one_of.span()), &m))?;
    if let Some(w) = weights {
        let ws = w.get_ref();
        if ws.len() != values.len() {
            return Err(invalid(
                pos(w.span()),
                &format!(
                    "weights has {} numbers but one_of has {} values; give one weight per value",
                    ws.len(),
                    values.len()
                ),
            ));
        }
        if ws.iter().any(|x| !x.is_finite() || *x < 0.0) || ws.iter().sum::<f64>() <= 0.0 {
            return Err(invalid(
                pos(w.span()),
                "weights must be 0 or more, and not all 0",
            ));
        }
    }
    Ok(ColumnRule::OneOf {
        values,
        weights: weights.map(|w| w.get_ref().clone()),
    })
}

fn between_rule(between: &Spanned<Vec<toml::Value>>) -> Result<ColumnRule, String> {
    let [lo, hi] = between.get_ref().as_slice() else {
        return Err("between must be [low, high], e.g. between = [\"2024-01-01\", \"2025-12-31\"] or [1, 100]".into());
    };
    let (lo, hi) = (toml_value(lo)?, toml_value(hi)?);
    let ordered = match (&lo, &hi) {
        (Value::Int(a), Value::Int(b)) => a <= b,
        (Value::Float(_) | Value::Int(_), Value::Float(_) | Value::Int(_)) => {
            as_f64(&lo) <= as_f64(&hi)
        }
        (Value::Text(a), Value::Text(b)) => {
            let (Some(a), Some(b)) = (parse_when(a), parse_when(b)) else {
                return Err(format!(
                    "between takes two numbers or two dates (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS), found {lo} and {hi}"
                ));
            };
            a <= b
        }
        _ => {
            return Err(format!(
                "between takes two numbers or two dates of the same kind, found {lo} and {hi}"
            ));
        }
    };
    if !ordered {
        return Err(format!(
            "between = [{lo}, {hi}] is empty: the first bound must not be above the second"
        ));
    }
    Ok(ColumnRule::Between(lo, hi))
}

pub(crate) fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// A date or timestamp written in a scenario.
pub(crate) fn parse_when(s: &str) -> Option<chrono::NaiveDateTime> {
    use chrono::{NaiveDate, NaiveDateTime};
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

fn toml_value(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Text(d.to_string().replace('T', " ")),
        other => {
            return Err(format!(
                "values must be strings, numbers, booleans or dates, found {}",
                other.type_str()
            ));
        }
    })
}

/// The text of a scenario file; not UTF-8 is reported at the first bad byte.
fn read_scenario(path: &Path) -> Result<String, SeedError> {
    let bytes = std::fs::read(path).map_err(|e| SeedError::Invalid {
        at: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = String::from_utf8_lossy(valid);
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        SeedError::Invalid {
            at: format!("{}:{line}:{column}", path.display()),
            message: "not valid UTF-8 (save the file as UTF-8)".into(),
        }
    })
}
