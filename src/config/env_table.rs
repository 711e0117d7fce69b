//! One `[env.<name>]` table, with its `replication` and `backup` sub-tables.

use std::path::Path;

use super::errors::ConfigError;
use super::reader::Tbl;
use super::*;

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) const ENV_KEYS: &[&str] = &[
    "kind",
    "engine",
    "provider",
    "path",
    "url",
    "scenario",
    "seed",
    "image",
    "pull",
    "port",
    "database",
    "user",
    "password",
    "bin_dir",
    "migrations",
    "replicas",
    "lock_timeout",
    "statement_timeout",
    "replication",
    "backup",
];
const REPLICATION_KEYS: &[&str] = &[
    "warn_lag",
    "crit_lag",
    "warn_bytes",
    "crit_bytes",
    "heartbeat",
    "migrate_guard",
];
const BACKUP_KEYS: &[&str] = &[
    "dir",
    "schedule",
    "drill",
    "tz",
    "catch_up",
    "keep",
    "compression",
    "compression_level",
    "verify",
    "prune",
];
const KEEP_KEYS: &[&str] = &["last", "daily", "weekly", "monthly"];
/// Keys that only make sense for server engines.
const SERVER_KEYS: &[&str] = &[
    "url",
    "image",
    "pull",
    "port",
    "database",
    "user",
    "password",
    "bin_dir",
    "replicas",
    "replication",
];

fn default_kind(name: &str) -> EnvKind {
    if name == "prod" || name == "production" {
        EnvKind::Production
    } else {
        EnvKind::Development
    }
}

pub(super) fn implicit_env(name: &str) -> EnvConfig {
    EnvConfig {
        name: name.to_string(),
        kind: default_kind(name),
        engine: EngineKind::Sqlite,
        provider: ProviderKind::File,
        path: None,
        url: None,
        scenario: None,
        seed: None,
        image: None,
        pull: PullPolicy::Missing,
        port: 0,
        database: None,
        user: None,
        password: None,
        bin_dir: None,
        migrations: None,
        replicas: Vec::new(),
        lock_timeout: None,
        statement_timeout: None,
        replication: None,
        backup: None,
    }
}

pub(super) fn parse_env(name: &str, t: &Tbl) -> Result<EnvConfig> {
    t.check_keys(ENV_KEYS)?;
    let sec = &t.name;
    let kind = t.choice::<EnvKind>("kind")?.unwrap_or(default_kind(name));
    let engine = t
        .choice::<EngineKind>("engine")?
        .unwrap_or(EngineKind::Sqlite);
    let provider_set = t.choice::<ProviderKind>("provider")?;
    let mut env = implicit_env(name);
    env.kind = kind;
    env.engine = engine;
    env.path = t.config_str("path")?;
    env.url = t.config_str("url")?;
    env.scenario = t.string("scenario")?;
    env.seed = t.uint("seed", u64::MAX)?;
    env.image = t.string("image")?;
    env.pull = t
        .choice::<PullPolicy>("pull")?
        .unwrap_or(PullPolicy::Missing);
    env.port = t.uint("port", u16::MAX.into())?.unwrap_or(0) as u16;
    env.database = t.string("database")?;
    env.user = t.string("user")?;
    env.password = t.config_str("password")?;
    env.bin_dir = t
        .string("bin_dir")?
        .map(|s| t.cx.file.parent().unwrap_or(Path::new("/")).join(s));
    if let Some(dir) = t.string("migrations")? {
        let root = t.cx.file.parent().unwrap_or(Path::new("/"));
        env.migrations = Some(super::parse::inside_root(root, &dir).ok_or_else(|| {
            ConfigError::invalid(
                t.value_loc("migrations"),
                format!("migrations in {sec} must be a folder inside the project root, found \"{dir}\" (use a relative path such as \"migrations/postgres\")"),
            )
        })?);
    }
    env.replicas = t.config_str_list("replicas")?;
    env.lock_timeout = t.duration("lock_timeout")?;
    env.statement_timeout = t.duration("statement_timeout")?;

    let present = |k: &str| t.get(k).is_some();
    if !engine.is_server() {
        if let Some(p) = provider_set.filter(|p| *p != ProviderKind::File) {
            return Err(ConfigError::invalid(
                t.value_loc("provider"),
                format!(
                    "provider \"{p}\" in {sec} is not available for sqlite (sqlite envs use provider \"file\"; set engine to use a server)"
                ),
            ));
        }
        if let Some(k) = SERVER_KEYS.iter().find(|k| present(k)) {
            let fix = if *k == "url" {
                "use path = \"…\" for the database file"
            } else {
                "remove it, or set engine to postgres, mysql or mariadb"
            };
            return Err(ConfigError::invalid(
                t.key_loc(k),
                format!(
                    "{k} in {sec} is only for server engines, but engine is \"sqlite\" ({fix})"
                ),
            ));
        }
        env.provider = ProviderKind::File;
    } else {
        if present("path") {
            return Err(ConfigError::invalid(
                t.key_loc("path"),
                format!(
                    "path in {sec} is only for sqlite, but engine is \"{engine}\" (remove it; server engines use a provider or url)"
                ),
            ));
        }
        let provider = provider_set.unwrap_or(if present("url") {
            ProviderKind::External
        } else {
            ProviderKind::Container
        });
        env.provider = provider;
        let only = |key: &str, wanted: ProviderKind| -> Result<()> {
            if present(key) && provider != wanted {
                return Err(ConfigError::invalid(
                    t.key_loc(key),
                    format!(
                        "{key} in {sec} only applies to provider \"{wanted}\", but provider is \"{provider}\""
                    ),
                ));
            }
            Ok(())
        };
        match provider {
            ProviderKind::File => {
                return Err(ConfigError::invalid(
                    t.value_loc("provider"),
                    format!(
                        "provider \"file\" in {sec} is only for sqlite (use container, native or external for {engine})"
                    ),
                ));
            }
            ProviderKind::Container | ProviderKind::Native if present("url") => {
                return Err(ConfigError::invalid(
                    t.key_loc("url"),
                    format!(
                        "url in {sec} cannot be used with provider \"{provider}\", which starts its own server (remove url, or set provider = \"external\")"
                    ),
                ));
            }
            ProviderKind::External if !present("url") => {
                return Err(ConfigError::invalid(
                    t.value_loc("provider"),
                    format!(
                        "provider \"external\" in {sec} needs a url (for example url = \"${{DATABASE_URL}}\")"
                    ),
                ));
            }
            ProviderKind::External if present("port") => {
                return Err(ConfigError::invalid(
                    t.key_loc("port"),
                    format!(
                        "port in {sec} does not apply to provider \"external\" (put the port in url)"
                    ),
                ));
            }
            _ => {}
        }
        only("image", ProviderKind::Container)?;
        only("pull", ProviderKind::Container)?;
        only("bin_dir", ProviderKind::Native)?;
    }

    if let Some(r) = t.table("replication", format!("[env.{name}.replication]"))? {
        env.replication = Some(parse_replication(&r)?);
    }
    if let Some(b) = t.table("backup", format!("[env.{name}.backup]"))? {
        env.backup = Some(parse_backup(name, &b)?);
    }
    Ok(env)
}

fn parse_replication(t: &Tbl) -> Result<ReplicationConfig> {
    t.check_keys(REPLICATION_KEYS)?;
    let r = ReplicationConfig {
        warn_lag: t.duration("warn_lag")?,
        crit_lag: t.duration("crit_lag")?,
        warn_bytes: t.bytes("warn_bytes")?,
        crit_bytes: t.bytes("crit_bytes")?,
        heartbeat: t.bool("heartbeat")?.unwrap_or(false),
        migrate_guard: t
            .choice::<MigrateGuard>("migrate_guard")?
            .unwrap_or(MigrateGuard::Off),
    };
    let order_err = |warn: &str, crit: &str| {
        ConfigError::invalid(
            t.value_loc(warn),
            format!(
                "{warn} in {} must not be greater than {crit} (warnings come before critical alerts)",
                t.name
            ),
        )
    };
    if matches!((r.warn_lag, r.crit_lag), (Some(w), Some(c)) if w > c) {
        return Err(order_err("warn_lag", "crit_lag"));
    }
    if matches!((r.warn_bytes, r.crit_bytes), (Some(w), Some(c)) if w > c) {
        return Err(order_err("warn_bytes", "crit_bytes"));
    }
    Ok(r)
}

fn parse_backup(name: &str, t: &Tbl) -> Result<BackupConfig> {
    t.check_keys(BACKUP_KEYS)?;
    let dir = t.config_str("dir")?.ok_or_else(|| {
        ConfigError::invalid(
            t.cx.loc(t.span.clone()),
            format!(
                "{} needs dir = \"…\" (a folder, or an object-store URL like s3://bucket/prefix)",
                t.name
            ),
        )
    })?;
    let mut keep = Keep::default();
    if let Some(k) = t.table("keep", format!("[env.{name}.backup.keep]"))? {
        k.check_keys(KEEP_KEYS)?;
        let max = u32::MAX.into();
        for (field, slot) in [
            ("last", &mut keep.last),
            ("daily", &mut keep.daily),
            ("weekly", &mut keep.weekly),
            ("monthly", &mut keep.monthly),
        ] {
            if let Some(n) = k.uint(field, max)? {
                *slot = n as u32;
            }
        }
    }
    Ok(BackupConfig {
        dir,
        schedule: cron(t, "schedule")?,
        drill: cron(t, "drill")?,
        tz: time_zone(t)?,
        catch_up: t.bool("catch_up")?.unwrap_or(false),
        keep,
        compression: t
            .choice::<Compression>("compression")?
            .unwrap_or(Compression::Zstd),
        compression_level: t
            .int_in("compression_level", -10, 19)?
            .map_or(crate::backup::pipe::DEFAULT_LEVEL, |n| n as i32),
        verify: t.bool("verify")?.unwrap_or(true),
        prune: t.bool("prune")?.unwrap_or(true),
    })
}

/// A cron expression, checked by the parser `dbenv schedule` uses.
fn cron(t: &Tbl, key: &str) -> Result<Option<String>> {
    let Some(text) = t.string(key)? else {
        return Ok(None);
    };
    crate::schedule::plan::parse_cron(&text).map_err(|e| {
        ConfigError::invalid(
            t.value_loc(key),
            format!(
                "invalid cron expression \"{text}\" for {key} in {}: {e} (examples: \"0 3 * * *\" daily at 03:00, \"*/15 * * * *\" every 15 minutes, \"0 5 * * 0\" Sundays at 05:00)",
                t.name
            ),
        )
    })?;
    Ok(Some(text))
}

fn time_zone(t: &Tbl) -> Result<Option<String>> {
    let Some(name) = t.string("tz")? else {
        return Ok(None);
    };
    crate::schedule::plan::parse_tz(&name).map_err(|e| {
        ConfigError::invalid(
            t.value_loc("tz"),
            format!("invalid tz \"{name}\" in {}: {e}", t.name),
        )
    })?;
    Ok(Some(name))
}
