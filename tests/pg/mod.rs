//! Helpers for the PostgreSQL tests: the server `DBENV_TEST_PG_URL` names, and one scratch
//! database per test.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

#[path = "../shared_server.rs"]
mod shared_server;

use dbenv::engine::Backend;
use dbenv::engine::postgres::{PgAdmin, PgBackend};
use dbenv::migrate::MigrationSet;
use dbenv::seed::{Scenario, SeedOptions, SeedReport};
use dbenv::value::Value;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};

/// The repository this test suite belongs to.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The server to test against, or `None` (after saying so loudly) when none is configured.
pub fn server_url() -> Option<String> {
    if let Ok(url) = std::env::var("DBENV_TEST_PG_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    // Else a native server of our own, from the machine's PostgreSQL binaries.
    static SHARED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(url) =
        SHARED.get_or_init(|| shared_server::native_server_url(dbenv::engine::EngineKind::Postgres))
    {
        return Some(url.clone());
    }
    if std::env::var("DBENV_TEST_REQUIRE").as_deref() == Ok("all") {
        panic!(
            "DBENV_TEST_REQUIRE=all but no PostgreSQL server can be had: install postgresql \
             (`apt-get install postgresql`; scripts/test.sh does it), or set \
             DBENV_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: set DBENV_TEST_PG_URL=postgres://user@host:port/postgres (a PostgreSQL \
             server where the user may create databases) to run the PostgreSQL engine tests"
        );
    });
    None
}

/// A database of its own for one test, dropped by [`Scratch::finish`] (so a failing test
/// leaves it behind to look at).
pub struct Scratch {
    pub admin: PgAdmin,
    pub name: String,
}

impl Scratch {
    pub async fn new(test: &str) -> Option<Scratch> {
        let url = server_url()?;
        let mut admin = PgAdmin::connect(&url)
            .await
            .expect("the DBENV_TEST_PG_URL server");
        let name = format!("dbenv_t_{test}_{}", std::process::id());
        admin.drop_database(&name).await.unwrap();
        admin.create_database(&name).await.unwrap();
        Some(Scratch { admin, name })
    }

    pub async fn db(&self) -> PgBackend {
        self.admin.backend(&self.name).await.unwrap()
    }

    /// A plain sqlx connection to the same database.
    pub async fn sqlx(&self) -> PgConnection {
        PgConnection::connect_with(&self.admin.options_for(&self.name))
            .await
            .unwrap()
    }

    pub async fn finish(mut self) {
        self.admin.drop_database(&self.name).await.unwrap();
        self.admin.close().await.unwrap();
    }
}

pub fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// `_sqlx_migrations` without the times: version, description, success, checksum, and
/// whether an execution time was recorded.
pub async fn migration_rows(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query(
        "SELECT version, description, success, encode(checksum, 'hex'), execution_time > 0 \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "{}|{}|{}|{}|{}",
            r.get::<i64, _>(0),
            r.get::<String, _>(1),
            r.get::<bool, _>(2),
            r.get::<String, _>(3),
            r.get::<bool, _>(4)
        )
    })
    .collect()
}

/// The definition of `_sqlx_migrations`: columns, types, nullability, defaults, keys.
pub async fn migrations_table_shape(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull \
             || ' ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') \
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = '_sqlx_migrations'::regclass AND a.attnum > 0 \
         UNION ALL SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = '_sqlx_migrations'::regclass ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Migrations and a scenario of the example project, applied with the crate's generic code.
pub async fn migrate_and_seed<B: Backend>(
    db: &mut B,
    scenario: &str,
    seed: Option<u64>,
) -> SeedReport {
    migrate(db).await;
    let scenario = Scenario::load(&repo().join("seeds"), scenario).unwrap();
    let options = SeedOptions {
        seed,
        ..Default::default()
    };
    dbenv::seed::seed(db, &scenario, &options).await.unwrap()
}

/// The example project's migrations, applied with the crate's generic code.
pub async fn migrate<B: Backend>(db: &mut B) {
    let set = MigrationSet::load(&repo().join("migrations")).unwrap();
    dbenv::migrate::apply(db, &set, "test", &Default::default())
        .await
        .unwrap();
}

/// No foreign key points nowhere, no key repeats, and every table has the rows expected.
pub async fn assert_sound(db: &mut PgBackend, rows: &BTreeMap<String, u64>) {
    assert_eq!(
        db.foreign_key_violations().await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(db.duplicate_keys().await.unwrap(), Vec::<String>::new());
    for (table, n) in rows {
        assert_eq!(db.count_rows(table).await.unwrap(), *n, "rows of {table}");
    }
}
