//! Starting: the port, the launch, the wait for a first successful query, and what a
//! failure means (a port conflict, a crash with the log's last lines, refused credentials).

use std::time::Instant;

use rustix::process::Signal;
use tracing::{debug, info, warn};

use super::process;
use super::ready::{NotReady, wait_ready};
use super::server::stop_locked;
use super::{Ctx, Family, NativeServer, NativeSpec, SERVER_TIMEOUT, Started, mariadb, postgres};
use crate::error::Error;

/// The server already runs: check it answers. When the configured port changed, restart it
/// on the new one.
pub(super) async fn adopt(
    ctx: &Ctx<'_>,
    pid: u32,
    previous: Option<&NativeServer>,
) -> Result<(u32, u16), Error> {
    let l = ctx.layout;
    let running = match l.family {
        Family::Postgres => postgres::port(l),
        Family::Mysql => mariadb::port(pid),
    }
    .or(previous.map(|p| p.port))
    .unwrap_or(0);
    let wanted = ctx.spec.port;
    if running == 0 || (wanted != 0 && wanted != running) {
        match running {
            0 => info!(
                "restarting the server in {}: its port is unknown",
                l.dir.display()
            ),
            _ => info!(
                "the server in {} runs on port {running}; restarting it on {wanted}",
                l.dir.display()
            ),
        }
        stop_locked(&ctx.server(running, Some(pid)), l).await?;
        let choice = port_to_start_on(ctx.spec, previous, ctx.env)?;
        return start(ctx, choice).await;
    }
    let ep = ctx.endpoint(running);
    match wait_ready(&ep, SERVER_TIMEOUT, || !process::serves(pid, &l.data)).await {
        Ok(()) => {
            debug!("the server in {} already runs (pid {pid})", l.dir.display());
            Ok((pid, running))
        }
        Err(why) => Err(not_ready(ctx, running, 0, why)),
    }
}

/// The port to start on, and whether dbenv may pick another when it turns out taken.
#[derive(Debug, Clone, Copy)]
pub(super) struct PortChoice {
    port: u16,
    movable: bool,
}

/// The configured port, else the one remembered from last time, else a free one. A port
/// someone else holds is an error when configured; a remembered one is replaced.
pub(super) fn port_to_start_on(
    spec: &NativeSpec<'_>,
    previous: Option<&NativeServer>,
    env: &str,
) -> Result<PortChoice, Error> {
    if spec.port != 0 {
        return match process::port_is_free(spec.port) {
            true => Ok(PortChoice {
                port: spec.port,
                movable: false,
            }),
            false => Err(process::port_taken(spec.port, env)),
        };
    }
    let port = match previous.map(|p| p.port).filter(|p| *p != 0) {
        Some(port) if process::port_is_free(port) => port,
        Some(port) => {
            let new = process::free_port()?;
            warn!(
                "port {port}, remembered for env {env}, is taken by another process; using {new}"
            );
            new
        }
        None => process::free_port()?,
    };
    Ok(PortChoice {
        port,
        movable: true,
    })
}

/// Why a launch failed.
enum Failure {
    /// The server could not bind its TCP port (someone took it since the check).
    PortTaken(u16),
    Other(Error),
}

/// Start the server and wait until a query succeeds; returns its pid and port. A port dbenv
/// chose that another process grabbed in the meantime is replaced once.
pub(super) async fn start(ctx: &Ctx<'_>, choice: PortChoice) -> Result<(u32, u16), Error> {
    let mut port = choice.port;
    let mut outcome = launch(ctx, port).await;
    if choice.movable && matches!(outcome, Err(Failure::PortTaken(_))) {
        let new = process::free_port()?;
        warn!("port {port} was taken while the server started; trying {new}");
        port = new;
        outcome = launch(ctx, port).await;
    }
    match outcome {
        Ok(pid) => Ok((pid, port)),
        Err(Failure::PortTaken(port)) => Err(process::port_taken(port, ctx.env)),
        Err(Failure::Other(e)) => Err(e),
    }
}

/// One attempt: launch on `port`, wait for a first successful query.
async fn launch(ctx: &Ctx<'_>, port: u16) -> Result<u32, Failure> {
    let began = Instant::now();
    let offset = process::log_len(&ctx.layout.log);
    let launched = match ctx.layout.family {
        Family::Postgres => postgres::start(ctx, port).await,
        Family::Mysql => mariadb::start(ctx, port).await,
    };
    let Started { pid, mut child } = match launched {
        Ok(started) => started,
        Err(e) => return Err(start_failed(ctx, port, offset, &e.to_string())),
    };
    let ep = ctx.endpoint(port);
    let died = || match child.as_mut() {
        Some(c) => !matches!(c.try_wait(), Ok(None)),
        None => !process::alive(pid),
    };
    if let Err(why) = wait_ready(&ep, SERVER_TIMEOUT, died).await {
        if matches!(why, NotReady::TimedOut(_)) {
            let _ = process::signal(pid, Signal::TERM);
        }
        return Err(match why {
            NotReady::Died => start_failed(ctx, port, offset, "the server exited"),
            why => Failure::Other(not_ready(ctx, port, offset, why)),
        });
    }
    info!(
        "{} {} started on 127.0.0.1:{port} in {} ms",
        ctx.bins.flavor,
        ctx.bins.version,
        began.elapsed().as_millis()
    );
    Ok(pid)
}

fn not_ready(ctx: &Ctx<'_>, port: u16, offset: u64, why: NotReady) -> Error {
    let l = ctx.layout;
    match why {
        NotReady::Died => Error::Server(format!(
            "the {} server in {} exited; {}",
            ctx.bins.flavor,
            l.data.display(),
            process::log_excerpt(&l.log, offset)
        )),
        NotReady::Rejected(reason) => Error::Server(format!(
            "the {} server in {} runs on 127.0.0.1:{port} but refused user `{}`: {reason}; its \
             data was created with other credentials: set the `user` and `password` it was \
             created with in [env.{}] of dbenv.toml, or start over with `dbenv down --purge {}`",
            ctx.bins.flavor,
            l.data.display(),
            ctx.spec.user,
            ctx.env,
            ctx.env
        )),
        NotReady::TimedOut(last) => Error::Server(format!(
            "the {} server in {} did not answer on 127.0.0.1:{port} within {} s (last error: \
             {last}); {}",
            ctx.bins.flavor,
            l.data.display(),
            SERVER_TIMEOUT.as_secs(),
            process::log_excerpt(&l.log, offset)
        )),
    }
}

/// A start that failed: a port conflict when the log says so, else the log's last lines.
fn start_failed(ctx: &Ctx<'_>, port: u16, offset: u64, detail: &str) -> Failure {
    if bind_failed(&process::log_since(&ctx.layout.log, offset)) {
        return Failure::PortTaken(port);
    }
    Failure::Other(Error::Server(format!(
        "the {} server in {} did not start ({}); {}",
        ctx.bins.flavor,
        ctx.layout.data.display(),
        detail.trim(),
        process::log_excerpt(&ctx.layout.log, offset)
    )))
}

/// True when a server log says the TCP port was taken (PostgreSQL: `could not bind IPv4
/// address "127.0.0.1": Address already in use`; MariaDB/MySQL: `Can't start server: Bind on
/// TCP/IP port. Got error: 98: Address already in use`).
fn bind_failed(log: &str) -> bool {
    log.lines().any(|l| {
        l.contains("Address already in use") && (l.contains("IPv4") || l.contains("TCP/IP"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_conflicts_are_recognised_in_both_servers_logs() {
        let pg = "2026-11-24 14:30:00.000 UTC [1] LOG:  could not bind IPv4 address \"127.0.0.1\": \
                  Address already in use\n";
        let maria = "2026-11-24 14:30:00 0 [ERROR] Can't start server: Bind on TCP/IP port. Got \
                     error: 98: Address already in use\n";
        assert!(bind_failed(pg) && bind_failed(maria));
        let socket =
            "LOG:  could not bind Unix address \"/x/.s.PGSQL.5432\": Address already in use";
        assert!(!bind_failed(socket) && !bind_failed("FATAL: lock file exists"));
    }
}
