//! One tracing subscriber, on stderr; its level comes from -v/-q and RUST_LOG.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::{Color, GlobalArgs};

/// Install the subscriber; `json` for one JSON object per line.
pub fn install(global: &GlobalArgs, json: bool) {
    let level = match global.verbose as i8 - global.quiet as i8 {
        i8::MIN..=-1 => "error",
        0 => "warn,dbenv=info",
        1 => "info,dbenv=debug",
        _ => "debug,dbenv=trace",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = match global.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time();
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(ansi).init();
    }
}
