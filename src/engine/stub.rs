//! TEMPORARY: shared stub bodies until the server engines land.
#[macro_export]
#[doc(hidden)]
macro_rules! mysql_stub_impl {
    ($b:ident, $a:ident, $e:ident, $d:expr) => {
        use crate::engine::{AppliedMigration, Backend, EngineKind};
        use crate::error::Error;
        use crate::schema::Schema;
        use crate::sqltext::Dialect;
        use crate::value::Value;
        use std::time::Duration;
        pub struct $b;
        pub struct $a;
        impl $b {
            pub async fn close(self) -> Result<(), Error> {
                unimplemented!()
            }
            pub async fn foreign_key_violations(&mut self) -> Result<Vec<String>, sqlx::Error> {
                unimplemented!()
            }
        }
        impl $a {
            pub async fn connect(url: &str) -> Result<Self, Error> {
                unimplemented!()
            }
            pub async fn database_exists(&mut self, n: &str) -> Result<bool, Error> {
                unimplemented!()
            }
            pub async fn create_database(&mut self, n: &str) -> Result<(), Error> {
                unimplemented!()
            }
            pub async fn drop_database(&mut self, n: &str) -> Result<(), Error> {
                unimplemented!()
            }
            pub async fn clone_database(&mut self, t: &str, n: &str) -> Result<(), Error> {
                unimplemented!()
            }
            pub async fn rename_database(&mut self, t: &str, n: &str) -> Result<(), Error> {
                unimplemented!()
            }
            pub async fn list_databases(&mut self, n: &str) -> Result<Vec<String>, Error> {
                unimplemented!()
            }
        }
        impl Backend for $b {
            fn engine(&self) -> EngineKind {
                EngineKind::$e
            }
            fn dialect(&self) -> Dialect {
                $d
            }
            async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
                unimplemented!()
            }
            async fn begin(&mut self) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn commit(&mut self) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn rollback(&mut self) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn introspect(&mut self) -> Result<Schema, Error> {
                unimplemented!()
            }
            async fn insert_rows(
                &mut self,
                t: &str,
                c: &[String],
                r: &[Vec<Value>],
            ) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn update_column(
                &mut self,
                t: &str,
                k: &[String],
                s: &str,
                r: &[(Vec<Value>, Value)],
            ) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn select_values(
                &mut self,
                t: &str,
                c: &[String],
            ) -> Result<Vec<Vec<Value>>, sqlx::Error> {
                unimplemented!()
            }
            async fn count_rows(&mut self, t: &str) -> Result<u64, sqlx::Error> {
                unimplemented!()
            }
            async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error> {
                unimplemented!()
            }
            async fn record_migration(
                &mut self,
                v: i64,
                d: &str,
                c: &[u8],
                e: Duration,
            ) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn forget_migration(&mut self, v: i64) -> Result<(), sqlx::Error> {
                unimplemented!()
            }
            async fn server_version(&mut self) -> Result<String, sqlx::Error> {
                unimplemented!()
            }
        }
    };
}
