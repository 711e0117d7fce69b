//! Host ports: choosing a free one, checking one before Docker binds it, reading back the one
//! a container got.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};

use bollard::models::{ContainerInspectResponse, PortBinding, PortMap};

use super::ContainerSpec;
use crate::error::Error;

/// The only address containers are published on: a dev database is not for the network.
pub(super) const HOST_IP: &str = "127.0.0.1";

/// A port that is free on 127.0.0.1 right now (the system's choice for port 0).
pub(super) fn free_port(spec: &ContainerSpec) -> Result<u16, Error> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| {
            Error::Server(format!(
                "cannot find a free port on {HOST_IP} for container {}: {e}",
                spec.name
            ))
        })
}

/// Fail at once, with the error [`in_use`] gives, when `port` cannot be bound on 127.0.0.1,
/// rather than after Docker has tried.
pub(super) fn check_free(spec: &ContainerSpec, port: u16) -> Result<(), Error> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AddrInUse => Err(in_use(spec, port)),
        Err(e) => Err(Error::Server(format!(
            "cannot use port {port} on {HOST_IP} for container {}: {e}; set port = 0 (any \
             free port) or another port in [env.{}] of dbenv.toml",
            spec.name,
            spec.env_name()
        ))),
    }
}

/// The error for a host port some other process holds.
///
/// With `port = 0` in the spec the port is the one the existing container was given when it
/// was created: only another explicit port moves it (the container is then recreated).
pub(super) fn in_use(spec: &ContainerSpec, port: u16) -> Error {
    let choice = if spec.host_port == 0 {
        "set port = <another port> in [env.{env}] of dbenv.toml (the container is then \
         recreated on it, keeping its data)"
    } else {
        "set port = 0 (any free port) or another port in [env.{env}] of dbenv.toml"
    };
    Error::Server(format!(
        "port {port} on {HOST_IP} is already in use (container {} publishes its server \
         there); free it or {}",
        spec.name,
        choice.replace("{env}", spec.env_name())
    ))
}

/// True when Docker's message says the host port is taken.
pub(super) fn is_port_taken(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("port is already allocated") || m.contains("address already in use")
}

/// The bindings to create a container with: `127.0.0.1:host_port → container_port/tcp`.
pub(super) fn bindings(spec: &ContainerSpec, host_port: u16) -> PortMap {
    let binding = PortBinding {
        host_ip: Some(HOST_IP.to_string()),
        host_port: Some(host_port.to_string()),
    };
    PortMap::from([(tcp_key(spec), Some(vec![binding]))])
}

/// `5432/tcp`: how Docker names the container's port.
pub(super) fn tcp_key(spec: &ContainerSpec) -> String {
    format!("{}/tcp", spec.container_port)
}

/// The host port the container publishes `container_port` on while it runs
/// (`NetworkSettings.Ports`).
pub(super) fn published(c: &ContainerInspectResponse, spec: &ContainerSpec) -> Option<u16> {
    let ports = c.network_settings.as_ref()?.ports.as_ref()?;
    first_port(ports, &tcp_key(spec))
}

/// The host port the container was created to publish `container_port` on
/// (`HostConfig.PortBindings`), known whether it runs or not.
pub(super) fn configured(c: &ContainerInspectResponse, spec: &ContainerSpec) -> Option<u16> {
    let ports = c.host_config.as_ref()?.port_bindings.as_ref()?;
    first_port(ports, &tcp_key(spec))
}

fn first_port(ports: &PortMap, key: &str) -> Option<u16> {
    let bindings = ports.get(key)?.as_ref()?;
    let pick = bindings
        .iter()
        .find(|b| b.host_ip.as_deref() == Some(HOST_IP))
        .or_else(|| bindings.first())?;
    pick.host_port.as_deref()?.parse().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_port_messages_are_recognised() {
        assert!(is_port_taken(
            "driver failed programming external connectivity on endpoint x: Bind for \
             127.0.0.1:5432 failed: port is already allocated"
        ));
        assert!(is_port_taken(
            "Error starting userland proxy: listen tcp4 127.0.0.1:5432: bind: address already in use"
        ));
        assert!(!is_port_taken("No such image: postgres:16"));
    }

    #[test]
    fn the_loopback_binding_is_preferred() {
        let ports = PortMap::from([(
            "5432/tcp".to_string(),
            Some(vec![
                PortBinding {
                    host_ip: Some("0.0.0.0".into()),
                    host_port: Some("1111".into()),
                },
                PortBinding {
                    host_ip: Some(HOST_IP.into()),
                    host_port: Some("2222".into()),
                },
            ]),
        )]);
        assert_eq!(first_port(&ports, "5432/tcp"), Some(2222));
        assert_eq!(first_port(&ports, "3306/tcp"), None);
    }
}
