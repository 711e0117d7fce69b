//! Seeding on PostgreSQL with the crate's generic migrate and seed code: the example
//! project's data is sound (every foreign key resolves, no key repeats), the same as on
//! SQLite, and foreign keys set aside for a bulk load are validated before the commit.
//!
//! Needs `DBENV_TEST_PG_URL`, like `engine_postgres.rs` (SKIP without it, failure with
//! `DBENV_TEST_REQUIRE=all`).
#![cfg(feature = "postgres")]

mod pg;

use dbenv::engine::Backend;
use dbenv::engine::postgres::PgBackend;
use dbenv::seed::SeedReport;
use dbenv::value::Value;
use pg::{Scratch, cols, text};

#[tokio::test]
async fn seeds_the_example_project_soundly() {
    let Some(s) = Scratch::new("seed_demo").await else {
        return;
    };
    let mut db = s.db().await;
    let first = pg::migrate_and_seed(&mut db, "demo", None).await;
    assert!(first.total_rows() > 500, "{:?}", first.rows);
    pg::assert_sound(&mut db, &first.rows).await;
    #[cfg(feature = "sqlite")]
    same_rows_as_sqlite(&mut db, &first).await;
    // A second seed goes on top: new keys after the existing ones, references to both.
    let second = pg::migrate_and_seed(&mut db, "demo", Some(7)).await;
    let mut total = first.rows.clone();
    for (table, n) in &second.rows {
        *total.entry(table.clone()).or_default() += n;
    }
    pg::assert_sound(&mut db, &total).await;
    db.close().await.unwrap();
    s.finish().await;
}

/// Same scenario, seed and migrations: the same data as on SQLite (booleans compared as
/// the 0/1 SQLite stores, whole decimals as integers).
#[cfg(feature = "sqlite")]
async fn same_rows_as_sqlite(db: &mut PgBackend, report: &SeedReport) {
    use dbenv::engine::sqlite::{OpenMode, SqliteBackend};
    let dir = tempfile::tempdir().unwrap();
    let mut lite = SqliteBackend::open(&dir.path().join("demo.sqlite"), OpenMode::Scratch)
        .await
        .unwrap();
    let lite_report = pg::migrate_and_seed(&mut lite, "demo", None).await;
    assert_eq!(lite_report.rows, report.rows);
    let normal = |rows: Vec<Vec<Value>>| -> Vec<Vec<Value>> {
        let cell = |v: Value| match v {
            Value::Bool(b) => Value::Int(i64::from(b)),
            // SQLite's NUMERIC affinity stores a whole DECIMAL value as an integer.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::Int(f as i64),
            other => other,
        };
        rows.into_iter()
            .map(|r| r.into_iter().map(cell).collect())
            .collect()
    };
    for table in db.introspect().await.unwrap().tables {
        let columns: Vec<String> = table.column_names().iter().map(|c| c.to_string()).collect();
        let theirs = normal(lite.select_values(&table.name, &columns).await.unwrap());
        let ours = normal(db.select_values(&table.name, &columns).await.unwrap());
        assert_eq!(ours.len(), theirs.len(), "{}", table.name);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(
                a, b,
                "a row of {} differs between PostgreSQL and SQLite",
                table.name
            );
        }
    }
    lite.close().await.unwrap();
}

#[tokio::test]
async fn foreign_keys_set_aside_are_validated_before_commit() {
    let Some(s) = Scratch::new("fk_aside").await else {
        return;
    };
    let mut db = s.db().await;
    pg::migrate(&mut db).await;
    let fks_before = db
        .introspect()
        .await
        .unwrap()
        .tables
        .iter()
        .map(|t| t.foreign_keys.len())
        .sum::<usize>();
    let orphan = vec![vec![
        Value::Int(1),
        Value::Int(42),
        text("bug"),
        text("#ff0000"),
    ]];
    let columns = cols(&["id", "organisation_id", "name", "color"]);
    let refused = |e: sqlx::Error| {
        let message = dbenv::migrate::database_message(&e);
        assert!(
            message.contains("labels_organisation_id_fkey")
                && message.contains("(organisation_id)=(42)"),
            "{message}"
        );
    };
    // Set aside from the next begin: an orphan goes in unchecked, the commit refuses it.
    db.set_foreign_keys(false).await.unwrap();
    db.begin().await.unwrap();
    db.insert_rows("labels", &columns, &orphan).await.unwrap();
    refused(db.commit().await.unwrap_err());
    assert_eq!(db.count_rows("labels").await.unwrap(), 0);
    // Inside a transaction, at once: checks back on validate what was written meanwhile.
    db.set_foreign_keys(true).await.unwrap();
    db.begin().await.unwrap();
    db.set_foreign_keys(false).await.unwrap();
    db.insert_rows("labels", &columns, &orphan).await.unwrap();
    refused(db.set_foreign_keys(true).await.unwrap_err());
    db.rollback().await.unwrap();
    assert_eq!(db.count_rows("labels").await.unwrap(), 0);
    db.set_foreign_keys(false).await.unwrap();
    // Sound data commits, and the foreign keys are back.
    let report = pg::migrate_and_seed(&mut db, "demo", None).await;
    pg::assert_sound(&mut db, &report.rows).await;
    let fks_after = db
        .introspect()
        .await
        .unwrap()
        .tables
        .iter()
        .map(|t| t.foreign_keys.len())
        .sum::<usize>();
    assert_eq!((fks_before, fks_after), (11, 11));
    db.close().await.unwrap();
    s.finish().await;
}
