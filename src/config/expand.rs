//! `ConfigStr`: a string from `dbenv.toml` holding `${VAR}` / `${VAR:-default}` references,
//! checked for syntax at load time and expanded only when used.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::errors::{ConfigError, Location};

/// A string from `dbenv.toml` that may contain `${VAR}` / `${VAR:-default}` (`$$` is a literal
/// `$`). It is expanded only by [`ConfigStr::resolve`], so an env whose variables are unset
/// does not stop other envs from working. `Debug` never prints the text.
#[derive(Clone)]
pub struct ConfigStr {
    raw: String,
    file: PathBuf,
    line: usize,
    column: usize,
    /// What the string is, for messages: `url in [env.prod]`.
    field: String,
    /// Variables read from `.env` next to `dbenv.toml`; the process environment wins.
    dotenv: Arc<BTreeMap<String, String>>,
}

impl fmt::Debug for ConfigStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ConfigStr {{ at: {}:{}:{} }}",
            self.file.display(),
            self.line,
            self.column
        )
    }
}

enum Piece<'a> {
    Text(&'a str),
    Var {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Split a template into pieces; `Err` holds the reason it is malformed (never the text).
fn pieces(raw: &str) -> Result<Vec<Piece<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push(Piece::Text(&rest[..i]));
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push(Piece::Text("$"));
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or("unclosed \"${\"")?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() {
                return Err("empty variable name in \"${}\"");
            }
            let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(
                    "invalid variable name (use letters, digits and _, not starting with a digit)",
                );
            }
            out.push(Piece::Var { name, default });
            rest = &body[end + 1..];
        } else {
            // A lone `$` (e.g. inside a literal password) stays as it is.
            out.push(Piece::Text("$"));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

impl ConfigStr {
    /// Check the syntax of `raw`; errors point at `at`.
    pub(crate) fn new(
        raw: String,
        at: Location,
        field: String,
        dotenv: Arc<BTreeMap<String, String>>,
    ) -> Result<ConfigStr, ConfigError> {
        if let Err(reason) = pieces(&raw) {
            return Err(ConfigError::invalid(
                at,
                format!(
                    "{field} has a malformed variable reference: {reason} (write ${{NAME}} or ${{NAME:-default}}, and $$ for a literal $)"
                ),
            ));
        }
        Ok(ConfigStr {
            raw,
            file: at.file,
            line: at.line,
            column: at.column,
            field,
            dotenv,
        })
    }

    /// A string that did not come from `dbenv.toml` (an environment variable read by the
    /// fixture library): taken as is, `$` included. `what` names it in messages.
    pub fn literal(text: &str, what: &str) -> ConfigStr {
        ConfigStr {
            raw: text.replace('$', "$$"),
            file: PathBuf::from(what),
            line: 0,
            column: 0,
            field: what.to_string(),
            dotenv: Arc::default(),
        }
    }

    /// The text as written in `dbenv.toml`, before expansion.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Where the string is in `dbenv.toml`.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match std::env::var_os(name) {
            Some(v) => Some(v.to_string_lossy().into_owned()),
            None => self.dotenv.get(name).cloned(),
        }
    }

    /// Expand `${VAR}` (process environment first, then `.env`), `${VAR:-default}` (default
    /// when unset or empty) and `$$`.
    pub fn resolve(&self) -> Result<String, ConfigError> {
        let pieces = pieces(&self.raw).map_err(|reason| {
            ConfigError::invalid(
                self.location(),
                format!("{} is malformed: {reason}", self.field),
            )
        })?;
        let mut out = String::with_capacity(self.raw.len());
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var { name, default } => match (self.lookup(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(ConfigError::UnsetVar {
                            at: self.location(),
                            field: self.field.clone(),
                            var: name.to_string(),
                        });
                    }
                },
            }
        }
        Ok(out)
    }

    /// [`ConfigStr::resolve`], refusing a value that is empty once expanded (a path, a URL, a
    /// folder: empty is never what the user meant), with the variables that expanded to
    /// nothing named.
    pub fn resolve_nonempty(&self) -> Result<String, ConfigError> {
        let value = self.resolve()?;
        if !value.trim().is_empty() {
            return Ok(value);
        }
        let vars: Vec<&str> = pieces(&self.raw)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Var { name, .. } => Some(name),
                Piece::Text(_) => None,
            })
            .collect();
        let message = match vars.first() {
            Some(var) => format!(
                "{} is empty: ${{{var}}} expanded to nothing (set {var} to a value, or give a default: ${{{var}:-…}})",
                self.field
            ),
            None => format!("{} is empty (write a value between the quotes)", self.field),
        };
        Err(ConfigError::invalid(self.location(), message))
    }

    /// An error about this value at its place in `dbenv.toml`: `{at}: {field} {what}`.
    /// `what` must not contain the expanded value (it may hold a secret).
    pub fn invalid(&self, what: &str) -> ConfigError {
        ConfigError::invalid(self.location(), format!("{} {what}", self.field))
    }
}
