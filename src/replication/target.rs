//! The servers a check talks to: the env's primary and its configured replicas. A target
//! keeps its URL to itself: output only ever shows `host:port/database`.

use std::fmt;

use crate::config::{ConfigStr, EngineKind, EnvConfig};
use crate::error::Error;
use crate::project::Project;

/// A server to check, and where it is in words that hold no secret.
pub(crate) struct Target {
    /// The connection URL, password included: never printed.
    pub url: String,
    /// `host:port/database`.
    pub label: String,
    pub database: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// The env's own server: its external `url`, or the server `dbenv up` provided.
pub(crate) fn primary(project: &Project, env: &EnvConfig) -> Result<Target, Error> {
    let Some(server) = crate::project::server::known(project, env)? else {
        return Err(Error::State(format!(
            "env {name} has no server yet; run `dbenv up {name}` first, or set url = \"${{DATABASE_URL}}\" in [env.{name}]",
            name = env.name
        )));
    };
    let e = &server.endpoint;
    Ok(Target {
        url: server.url(),
        label: format!("{}:{}/{}", e.host, e.port, server.database),
        database: server.database.clone(),
    })
}

/// Replica number `index` of `env`: its URL from `replicas`, on the primary's database when
/// the URL names none.
pub(crate) fn replica(
    env: &EnvConfig,
    index: usize,
    text: &ConfigStr,
    primary_database: &str,
) -> Result<Target, Error> {
    let text = text.resolve()?;
    let which = format!("replica {} of env {}", index + 1, env.name);
    // The URL may hold a password: errors name the replica, never the text.
    let mut url = url::Url::parse(&text).map_err(|e| {
        Error::Unsupported(format!(
            "{which} is not a valid URL ({e}); expected {}://user:password@host:port/database in replicas = [...] of [env.{}]",
            scheme(env.engine),
            env.name
        ))
    })?;
    let expected = scheme(env.engine);
    let fits = match env.engine {
        EngineKind::Postgres => matches!(url.scheme(), "postgres" | "postgresql"),
        _ => matches!(url.scheme(), "mysql" | "mariadb"),
    };
    if !fits {
        return Err(Error::Unsupported(format!(
            "{which} has scheme \"{}\" but env {} uses {}; replica URLs start with {expected}://",
            url.scheme(),
            env.name,
            env.engine
        )));
    }
    if url.scheme() == "mariadb" {
        // sqlx knows MariaDB servers by the mysql scheme.
        url = url::Url::parse(&text.replacen("mariadb://", "mysql://", 1)).expect("same URL");
    }
    let path = url.path().trim_start_matches('/').to_string();
    let database = if path.is_empty() {
        url.set_path(primary_database);
        primary_database.to_string()
    } else {
        percent_encoding::percent_decode_str(&path)
            .decode_utf8_lossy()
            .into_owned()
    };
    let port = url.port().unwrap_or(match env.engine {
        EngineKind::Postgres => 5432,
        _ => 3306,
    });
    Ok(Target {
        label: format!(
            "{}:{port}/{database}",
            url.host_str().unwrap_or("localhost")
        ),
        url: url.to_string(),
        database,
    })
}

fn scheme(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Postgres => "postgres",
        _ => "mysql",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env_with(replicas: &str, engine: &str) -> EnvConfig {
        let text = format!(
            "[env.prod]\nengine = \"{engine}\"\nurl = \"{engine}://u:p@db:1/app\"\nreplicas = [{replicas}]\n"
        );
        let config = crate::config::Config::from_str(&text, Path::new("/p/dbenv.toml")).unwrap();
        config.envs["prod"].clone()
    }

    #[test]
    fn labels_hold_no_credentials_and_default_to_the_primary_database() {
        let env = env_with(r#""postgres://app:s3cret@replica-1:5433""#, "postgres");
        let t = replica(&env, 0, &env.replicas[0], "app").unwrap();
        assert_eq!(t.label, "replica-1:5433/app");
        assert_eq!(t.database, "app");
        assert!(t.url.ends_with("@replica-1:5433/app"), "{}", t.url);
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn a_replica_of_another_engine_or_a_bad_url_is_refused_without_echoing_it() {
        let env = env_with(r#""mysql://app:s3cret@r:3306/app", "::s3cret""#, "postgres");
        let e = replica(&env, 0, &env.replicas[0], "app")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("replica 1 of env prod") && e.contains("postgres://"),
            "{e}"
        );
        let e = replica(&env, 1, &env.replicas[1], "app")
            .unwrap_err()
            .to_string();
        assert!(e.contains("replica 2") && !e.contains("s3cret"), "{e}");
        let m = env_with(r#""mariadb://app:pw@r/other""#, "mariadb");
        let t = replica(&m, 0, &m.replicas[0], "app").unwrap();
        assert_eq!(
            (t.label.as_str(), t.database.as_str()),
            ("r:3306/other", "other")
        );
        assert!(t.url.starts_with("mysql://"));
    }
}
