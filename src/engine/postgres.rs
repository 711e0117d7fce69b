//! TEMPORARY stub: replaced by the PostgreSQL engine (being written on branch h-pg).
#![allow(dead_code, unused_variables)]
use super::mysql_stub_impl;
mysql_stub_impl!(PgBackend, PgAdmin, Postgres, Dialect::Postgres);
impl PgBackend {
    pub async fn connect(url: &str) -> Result<Self, Error> {
        unimplemented!()
    }
}
