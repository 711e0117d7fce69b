//! Error type for `dbenv.toml` loading, plus the "did you mean" helper.

use std::fmt;
use std::path::PathBuf;

/// A position in a file: 1-based line and column (column counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// Location of byte offset `offset` in `text`.
    pub(crate) fn at(file: &std::path::Path, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything that can go wrong while finding, reading and validating `dbenv.toml`.
///
/// Messages are lowercase, say where (`file:line:column`) and how to fix, and never
/// contain an expanded `${VAR}` value or a literal secret from the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no {} in {} or any parent folder (run `dbenv init` to create one, or pass --config PATH)",
        super::FILE_NAME,
        start.display()
    )]
    NotFound { start: PathBuf },

    /// The reason is part of the message (not a `source`, which `{:#}` would print again).
    #[error("cannot read {}: {}", path.display(), read_reason(error))]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{at}: not valid UTF-8 (save the file as UTF-8)")]
    NotUtf8 { at: Location },

    #[error("{at}: invalid .env line (expected NAME=value, optionally quoted)")]
    DotEnv { at: Location },

    #[error("{at}: invalid TOML: {message}")]
    Toml { at: Location, message: String },

    #[error("{at}: unknown key \"{key}\" in {section} ({hint})")]
    UnknownKey {
        at: Location,
        key: String,
        section: String,
        hint: String,
    },

    #[error("{at}: unknown section \"{key}\" ({hint})")]
    UnknownSection {
        at: Location,
        key: String,
        hint: String,
    },

    /// A bad value, a wrong type, or a combination of settings that makes no sense.
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },

    #[error(
        "{at}: {field} uses ${{{var}}}, which is not set (set it in the environment or in .env, or give a default: ${{{var}:-…}})"
    )]
    UnsetVar {
        at: Location,
        field: String,
        var: String,
    },

    #[error("unknown env \"{name}\" ({hint})")]
    UnknownEnv { name: String, hint: String },

    #[error(
        "no env given and the default env \"{name}\" is not in {} ({envs}; pass an env name or set default_env in [project])",
        super::FILE_NAME
    )]
    NoDefaultEnv { name: String, envs: String },
}

impl ConfigError {
    /// Config errors are the user's to fix: the CLI maps them to exit code 2.
    pub fn is_usage(&self) -> bool {
        true
    }

    pub(crate) fn invalid(at: Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at,
            message: message.into(),
        }
    }
}

/// A name taken from the user's file, shortened for a message: a hostile 100 kB key must
/// not become a 100 kB error.
pub(crate) fn shown(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}… ({} bytes)", &name[..at], name.len()),
        None => name.to_string(),
    }
}

fn read_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::IsADirectory => {
            "it is a folder, not a file (name the dbenv.toml file itself)".to_string()
        }
        _ => e.to_string(),
    }
}

/// The candidate closest to `input`, if any is close enough to be a plausible typo.
pub(crate) fn suggest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = input.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for &cand in candidates {
        let score = strsim::jaro_winkler(&lower, cand);
        let lev = strsim::levenshtein(&lower, cand);
        let max_lev = (cand.chars().count() / 3).clamp(1, 3);
        let prefix = cand.len() >= 3 && lower.starts_with(cand);
        if (score >= 0.85 || lev <= max_lev || prefix) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean "x"?` or `{list_label}: a, b, c`.
pub(crate) fn hint(input: &str, candidates: &[&str], list_label: &str) -> String {
    match suggest(input, candidates) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => format!("{list_label}: {}", candidates.join(", ")),
    }
}
