//! TEMPORARY stub: replaced by the MySQL/MariaDB engine (being written on branch h-my).
#![allow(dead_code, unused_variables)]
use super::mysql_stub_impl;
mysql_stub_impl!(MySqlBackend, MySqlAdmin, Mysql, Dialect::Mysql);
impl MySqlBackend {
    pub async fn connect(url: &str, engine: EngineKind) -> Result<Self, Error> {
        unimplemented!()
    }
}
