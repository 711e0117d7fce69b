//! From `dbenv.toml` text to a validated [`Config`].

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::env_table::{ENV_KEYS, implicit_env, parse_env};
use super::errors::{ConfigError, Location, hint, suggest};
use super::reader::{Cx, Tbl};
use super::*;

type Result<T> = std::result::Result<T, ConfigError>;

const SECTIONS: &[&str] = &["project", "env"];
const PROJECT_KEYS: &[&str] = &["migrations", "seeds", "default_env"];
pub(super) fn parse(
    text: &str,
    file: &Path,
    dotenv: Arc<BTreeMap<String, String>>,
) -> Result<Config> {
    let doc = DeTable::parse(text).map_err(|e| ConfigError::Toml {
        at: Location::at(file, text, e.span().map_or(0, |s| s.start)),
        message: e.message().lines().next().unwrap_or("").trim().to_string(),
    })?;
    let root = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let cx = Cx { text, file, dotenv };
    let top = Tbl {
        cx: &cx,
        table: doc.get_ref(),
        name: super::FILE_NAME.into(),
        span: 0..0,
    };

    for (k, _) in top.entries() {
        let key: &str = k.get_ref();
        if SECTIONS.contains(&key) {
            continue;
        }
        let at = cx.loc(k.span());
        let place = if PROJECT_KEYS.contains(&key) {
            "[project]"
        } else if ENV_KEYS.contains(&key) {
            "an [env.<name>] table"
        } else {
            let hint = hint(key, SECTIONS, "valid sections");
            return Err(ConfigError::UnknownSection {
                at,
                key: errors::shown(key),
                hint,
            });
        };
        return Err(ConfigError::invalid(
            at,
            format!("key \"{key}\" belongs in {place}, not at the top level"),
        ));
    }

    let project = top.table("project", "[project]".into())?;
    if let Some(p) = &project {
        p.check_keys(PROJECT_KEYS)?;
    }
    let folder = |key: &str, default: &str| -> Result<PathBuf> {
        let Some(p) = &project else {
            return Ok(root.join(default));
        };
        match p.string(key)? {
            None => Ok(root.join(default)),
            Some(s) => inside_root(&root, &s).ok_or_else(|| {
                ConfigError::invalid(
                    p.value_loc(key),
                    format!("{key} in [project] must be a folder inside the project root, found \"{s}\" (use a relative path such as \"{default}\")"),
                )
            }),
        }
    };
    let migrations = folder("migrations", "migrations")?;
    let seeds = folder("seeds", "seeds")?;

    let mut envs = BTreeMap::new();
    let mut order = Vec::new();
    match top.table("env", "[env]".into())? {
        None => {
            envs.insert("dev".to_string(), implicit_env("dev"));
            order.push("dev".to_string());
        }
        Some(env_tbl) => {
            for (k, v) in env_tbl.entries() {
                let name: &str = k.get_ref();
                let valid = name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if name.is_empty() || !valid {
                    return Err(ConfigError::invalid(
                        cx.loc(k.span()),
                        format!(
                            "invalid env name \"{name}\" (use only letters, digits, \"-\" and \"_\")"
                        ),
                    ));
                }
                let DeValue::Table(t) = v.get_ref() else {
                    return Err(ConfigError::invalid(
                        cx.loc(k.span()),
                        format!(
                            "env \"{name}\" must be a table (write [env.{name}] and put its keys below)"
                        ),
                    ));
                };
                let tbl = Tbl {
                    cx: &cx,
                    table: t,
                    name: format!("[env.{name}]"),
                    span: v.span(),
                };
                envs.insert(name.to_string(), parse_env(name, &tbl)?);
                order.push(name.to_string());
            }
        }
    }

    let mut default_env = "dev".to_string();
    let explicit = match &project {
        Some(p) => p.string("default_env")?.map(|d| (p, d)),
        None => None,
    };
    if let Some((p, d)) = explicit {
        if !envs.contains_key(&d) {
            let names: Vec<&str> = order.iter().map(String::as_str).collect();
            let fix = match suggest(&d, &names) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None if names.is_empty() => "this file defines no envs".to_string(),
                None => format!("envs: {}", names.join(", ")),
            };
            return Err(ConfigError::invalid(
                p.value_loc("default_env"),
                format!(
                    "default_env \"{}\" in [project] is not an env of this file ({fix})",
                    errors::shown(&d)
                ),
            ));
        }
        default_env = d;
    }

    Ok(Config {
        file: file.to_path_buf(),
        root,
        project: Project {
            migrations,
            seeds,
            default_env,
        },
        envs,
        order,
    })
}

/// `root/rel` when `rel` is relative and does not climb out of `root`.
pub(super) fn inside_root(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(s) => parts.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().fold(root.to_path_buf(), |p, s| p.join(s)))
}
