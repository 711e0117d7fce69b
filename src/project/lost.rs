//! A server that went away in the middle of a command (stopped, crashed, restarted): the
//! error names the env's server and says what to do, instead of a bare "connection closed".

use super::Project;
use crate::config::ProviderKind;
use crate::error::Error;

impl Project {
    /// When `error` shows that the connection to the server of `env` (default: the default
    /// env) was lost while doing `what`, say so: which server, that nothing half-done was
    /// kept, and how to go on. Any other error is returned unchanged.
    ///
    /// ```no_run
    /// # async fn demo(project: &dbenv::project::Project) -> Result<(), dbenv::Error> {
    /// dbenv::backup::backup(project, Some("prod"))
    ///     .await
    ///     .map_err(|e| project.naming_lost_server(Some("prod"), "taking a backup", e))?;
    /// # Ok(()) }
    /// ```
    pub fn naming_lost_server(&self, env: Option<&str>, what: &str, error: Error) -> Error {
        let Ok(env) = self.env(env) else {
            return error;
        };
        if !env.engine.is_server() || !error.is_connection_lost() {
            return error;
        }
        let name = &env.name;
        let next = match env.provider {
            ProviderKind::External => format!(
                "check that the server is running and reachable (`dbenv status {name}`), then run the command again"
            ),
            _ => format!(
                "`dbenv status {name}` shows whether it runs; `dbenv up {name}` starts it again (every command on the env does), then run the command again"
            ),
        };
        Error::ServerLost {
            message: format!(
                "lost the connection to the {} server of env {name} ({}) while {what}: the server stopped, crashed or restarted; nothing half-done is kept (its transaction was rolled back, a partial backup is never listed, a half-built database is dropped by the next run); {next}",
                env.engine,
                location(self, env),
            ),
            source: Box::new(error),
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn location(project: &Project, env: &crate::config::EnvConfig) -> String {
    let location = super::server::location(project, env);
    match env.provider {
        ProviderKind::Native => format!(
            "{location}; its log: {}",
            super::server::native_dir(project, env)
                .join("server.log")
                .display()
        ),
        _ => location,
    }
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
fn location(_: &Project, env: &crate::config::EnvConfig) -> String {
    format!("engine {}", env.engine)
}
