//! The production guard (DESIGN.md §6): destructive operations on a production env need
//! `--force` and the env's name, typed or given with `--confirm`.

use crate::config::{EnvConfig, EnvKind};
use crate::error::Error;

/// How the user confirmed a destructive operation.
#[derive(Debug, Clone, Default)]
pub struct Confirmation {
    pub force: bool,
    /// The env name given with `--confirm` (or typed at the prompt by the CLI).
    pub confirm: Option<String>,
}

/// Refuse `action` on a production env unless it is forced and confirmed by name.
pub fn guard(env: &EnvConfig, action: &str, confirmation: &Confirmation) -> Result<(), Error> {
    if env.kind != EnvKind::Production {
        return Ok(());
    }
    let name = &env.name;
    if !confirmation.force {
        return Err(Error::Refused(format!(
            "refusing to {action} on {name}: it is a production env; if you really mean it, add --force --confirm {name}"
        )));
    }
    match confirmation.confirm.as_deref() {
        Some(c) if c == name => Ok(()),
        Some(other) => Err(Error::Refused(format!(
            "refusing to {action} on {name}: the confirmation \"{other}\" does not match the env name"
        ))),
        None => Err(Error::Refused(format!(
            "refusing to {action} on {name}: confirm with --confirm {name}"
        ))),
    }
}
