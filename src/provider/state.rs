//! What dbenv remembers about the server of an env, between commands.

use serde::{Deserialize, Serialize};

/// How the server of an env was provided, and how to find it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ServerState {
    Container {
        name: String,
        volume: String,
        image: String,
        /// The host port, chosen once and reused by every later `up`.
        port: u16,
    },
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    Native {
        server: super::native::NativeServer,
    },
    External,
}

impl ServerState {
    /// The remembered host port, when dbenv chose one.
    pub fn port(&self) -> Option<u16> {
        match self {
            ServerState::Container { port, .. } => Some(*port),
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            ServerState::Native { server } => Some(server.port),
            ServerState::External => None,
        }
    }
}
