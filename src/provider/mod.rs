//! Providers: how a database server comes to exist for an env.
//!
//! - `file`: SQLite, a file in the project (no server);
//! - `container`: a Docker container that outlives the command, found again by its labels;
//! - `native`: a server process from the machine's own binaries, data under `.dbenv/<env>/`;
//! - `external`: a server that already runs, given by `url`; dbenv only creates and drops the
//!   databases it owns there.
//!
//! Every provider ends with an [`Endpoint`]: where the server listens and how to log in.

#[cfg(feature = "container")]
pub mod container;
#[cfg(all(unix, any(feature = "postgres", feature = "mysql")))]
pub mod native;
mod state;

pub use state::ServerState;

use crate::config::EngineKind;

/// Where a running server listens and the account dbenv uses on it (an administrator of the
/// server for container and native providers, the URL's user for external servers).
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub engine: EngineKind,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Connection parameters of an external URL (`sslmode=require`…), kept on every URL.
    pub query: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl Endpoint {
    /// A connection URL for `database` on this server, password included (dev use, `url`).
    pub fn url(&self, database: &str) -> String {
        let url = format!(
            "{}://{}:{}@{}:{}/{}",
            self.scheme(),
            encode(&self.user),
            encode(&self.password),
            self.host,
            self.port,
            encode(database)
        );
        self.with_query(url)
    }

    /// The same URL with the password replaced by `***`, for logs and production output.
    pub fn redacted_url(&self, database: &str) -> String {
        let url = format!(
            "{}://{}:***@{}:{}/{}",
            self.scheme(),
            encode(&self.user),
            self.host,
            self.port,
            encode(database)
        );
        self.with_query(url)
    }

    fn with_query(&self, url: String) -> String {
        match &self.query {
            Some(q) => format!("{url}?{q}"),
            None => url,
        }
    }

    /// The server's maintenance database, used for CREATE/DROP DATABASE.
    pub fn admin_database(&self) -> &'static str {
        match self.engine {
            EngineKind::Postgres => "postgres",
            _ => "mysql",
        }
    }

    fn scheme(&self) -> &'static str {
        match self.engine {
            EngineKind::Postgres => "postgres",
            EngineKind::Sqlite => "sqlite",
            EngineKind::Mysql | EngineKind::Mariadb => "mysql",
        }
    }
}

/// Percent-encode a URL user, password or path segment (RFC 3986 unreserved kept as is).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_credentials_and_redact_the_password() {
        let e = Endpoint {
            engine: EngineKind::Postgres,
            host: "127.0.0.1".into(),
            port: 5433,
            user: "app".into(),
            password: "p@ss/w:rd".into(),
            query: None,
        };
        assert_eq!(
            e.url("dev_pg"),
            "postgres://app:p%40ss%2Fw%3Ard@127.0.0.1:5433/dev_pg"
        );
        assert_eq!(
            e.redacted_url("dev_pg"),
            "postgres://app:***@127.0.0.1:5433/dev_pg"
        );
        let m = Endpoint {
            engine: EngineKind::Mariadb,
            ..e
        };
        assert!(m.url("x").starts_with("mysql://"));
    }
}
