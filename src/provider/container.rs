//! TEMPORARY stub: replaced by the Docker provider (being written on branch h-ctr).
#![allow(dead_code, unused_variables)]
use std::collections::BTreeMap;

use crate::config::PullPolicy;
use crate::error::Error;

pub const LABEL_PROJECT: &str = "dbenv.project";
pub const LABEL_ENV: &str = "dbenv.env";

pub struct Docker;
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub pull: PullPolicy,
    pub labels: BTreeMap<String, String>,
    pub env: Vec<(String, String)>,
    pub container_port: u16,
    pub host_port: u16,
    pub volume: String,
    pub volume_target: String,
    pub args: Vec<String>,
}
pub struct Running {
    pub id: String,
    pub host_port: u16,
    pub created: bool,
    pub started: bool,
}
pub enum Health {
    Running { id: String, host_port: u16 },
    Stopped { id: String },
    Missing,
}
pub struct Listed {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
}
pub struct ListedVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}
impl Docker {
    pub async fn connect() -> Result<Docker, Error> {
        unimplemented!()
    }
    pub async fn ensure_running(&self, spec: &ContainerSpec) -> Result<Running, Error> {
        unimplemented!()
    }
    pub async fn health(&self, name: &str) -> Result<Health, Error> {
        unimplemented!()
    }
    pub async fn stop(&self, name: &str) -> Result<bool, Error> {
        unimplemented!()
    }
    pub async fn remove(&self, name: &str, volume: Option<&str>) -> Result<bool, Error> {
        unimplemented!()
    }
    pub async fn list(&self, label_filter: &[(&str, &str)]) -> Result<Vec<Listed>, Error> {
        unimplemented!()
    }
    pub async fn list_volumes(
        &self,
        label_filter: &[(&str, &str)],
    ) -> Result<Vec<ListedVolume>, Error> {
        unimplemented!()
    }
    pub async fn logs_tail(&self, name: &str, lines: usize) -> Result<String, Error> {
        unimplemented!()
    }
}
