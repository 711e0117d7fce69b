//! How fast the PostgreSQL engine loads the example project's `load` scenario (1,157,041
//! rows), with foreign keys checked per row and set aside, and the write path alone.
//!
//! `DBENV_TEST_PG_URL=postgres://… cargo test --release --test bench_postgres -- --ignored --nocapture`
#![cfg(feature = "postgres")]

mod pg;

use std::time::{Duration, Instant};

use dbenv::engine::Backend;
use dbenv::engine::postgres::PgBackend;
use pg::Scratch;

/// The seeder's batch size.
const BATCH: usize = 2000;

fn rate(rows: u64, elapsed: Duration) -> String {
    format!(
        "{rows} rows in {:.2} s ({:.0} rows/s)",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    )
}

#[tokio::test]
#[ignore = "benchmark: run explicitly, in release mode"]
async fn load_scenario() {
    let Some(per_row) = Scratch::new("bench_fk_per_row").await else {
        return;
    };
    let mut db = per_row.db().await;
    let start = Instant::now();
    let report = pg::migrate_and_seed(&mut db, "load", None).await;
    eprintln!(
        "seed load, foreign keys checked per row: {}",
        rate(report.total_rows(), start.elapsed())
    );
    db.close().await.unwrap();
    per_row.finish().await;

    let aside = Scratch::new("bench_fk_aside").await.unwrap();
    let mut db = aside.db().await;
    pg::migrate(&mut db).await;
    db.set_foreign_keys(false).await.unwrap();
    let start = Instant::now();
    let report = pg::migrate_and_seed(&mut db, "load", None).await;
    eprintln!(
        "seed load, foreign keys validated at commit: {}",
        rate(report.total_rows(), start.elapsed())
    );
    let check = Instant::now();
    pg::assert_sound(&mut db, &report.rows).await;
    eprintln!(
        "soundness checks (every foreign key and unique key): {:.2} s",
        check.elapsed().as_secs_f64()
    );

    let copy = Scratch::new("bench_write_only").await.unwrap();
    let mut target = copy.db().await;
    pg::migrate(&mut target).await;
    target.set_foreign_keys(false).await.unwrap();
    let written = write_only(&mut db, &mut target).await;
    eprintln!("write path alone (rows already in memory, foreign keys at commit): {written}");
    for (mut db, scratch) in [(db, aside), (target, copy)] {
        Backend::rollback(&mut db).await.ok();
        db.close().await.unwrap();
        scratch.finish().await;
    }
}

/// Copy every table of `from` into `to` in batches, timing only the inserts and the commit.
async fn write_only(from: &mut PgBackend, to: &mut PgBackend) -> String {
    let schema = from.introspect().await.unwrap();
    let mut spent = Duration::ZERO;
    let mut rows = 0;
    to.begin().await.unwrap();
    for table in &schema.tables {
        let columns: Vec<String> = table.column_names().iter().map(|c| c.to_string()).collect();
        let values = from.select_values(&table.name, &columns).await.unwrap();
        let start = Instant::now();
        for batch in values.chunks(BATCH) {
            to.insert_rows(&table.name, &columns, batch).await.unwrap();
        }
        spent += start.elapsed();
        rows += values.len() as u64;
    }
    let start = Instant::now();
    to.commit().await.unwrap();
    spent += start.elapsed();
    rate(rows, spent)
}
