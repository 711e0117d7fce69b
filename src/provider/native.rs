//! TEMPORARY stub: replaced by the native provider (being written on branch h-native).
#![allow(dead_code, unused_variables)]
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Endpoint;
use crate::config::EngineKind;
use crate::error::Error;

pub struct NativeSpec<'a> {
    pub engine: EngineKind,
    pub dir: &'a Path,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
    pub bin_dir: Option<&'a Path>,
}
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NativeServer {
    pub engine: EngineKind,
    pub dir: PathBuf,
    pub port: u16,
    pub pid: Option<u32>,
    pub bin_dir: PathBuf,
    pub version: String,
    pub run_as: Option<String>,
}
pub enum Health {
    Running { pid: u32 },
    Stopped,
    DataMissing,
}
pub async fn ensure_running(
    spec: &NativeSpec<'_>,
    previous: Option<&NativeServer>,
) -> Result<NativeServer, Error> {
    unimplemented!()
}
pub fn health(server: &NativeServer) -> Health {
    unimplemented!()
}
pub async fn stop(server: &NativeServer) -> Result<(), Error> {
    unimplemented!()
}
pub async fn purge(server: &NativeServer) -> Result<(), Error> {
    unimplemented!()
}
pub fn endpoint(server: &NativeServer, user: &str, password: &str) -> Endpoint {
    unimplemented!()
}
