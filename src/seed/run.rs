//! Seeding a connected database: plan, then generate on one thread while the writer
//! inserts on another, all inside one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::SeedError;
use super::generate::{Existing, Generator, Work};
use super::plan::{ColGen, Plan, RowCount, plan};
use super::scenario::Scenario;
use crate::engine::Backend;
use crate::sqltext;

/// Receives progress while rows are written (the CLI draws a bar with it).
pub trait Progress: Send + Sync {
    fn start(&self, estimated_rows: u64);
    fn advance(&self, table: &str, rows: u64);
    fn finish(&self);
}

#[derive(Clone, Default)]
pub struct SeedOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    pub progress: Option<Arc<dyn Progress>>,
}

/// What a seed did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub scenario: String,
    pub seed: u64,
    pub rows: BTreeMap<String, u64>,
    #[serde(with = "crate::util::duration_ms")]
    pub elapsed: Duration,
    pub warnings: Vec<String>,
}

impl SeedReport {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// Seed `db` with `scenario` in one transaction: all of it is written, or none.
pub async fn seed<B: Backend>(
    db: &mut B,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<SeedReport, crate::Error> {
    let start = Instant::now();
    let seed = options.seed.unwrap_or(scenario.seed);
    let schema = db.introspect().await?;
    let plan = Arc::new(plan(scenario, &schema)?);
    for w in &plan.warnings {
        warn!("{w}");
    }
    let existing = load_existing(db, &plan).await?;
    // Built here so impossible requests are refused before the transaction starts.
    let generator = Generator::new(Arc::clone(&plan), seed, existing)?;
    if let Some(p) = &options.progress {
        p.start(estimate(&plan));
    }
    db.begin().await.map_err(|e| SeedError::Database {
        context: "starting the seed transaction".into(),
        source: e,
    })?;
    let result = write_all(db, generator, scenario, options).await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            let _ = db.rollback().await;
            return Err(e);
        }
    };
    db.commit().await.map_err(|e| SeedError::Database {
        context: "committing the seed".into(),
        source: e,
    })?;
    if let Some(p) = &options.progress {
        p.finish();
    }
    let report = SeedReport {
        scenario: scenario.name.clone(),
        seed,
        rows,
        elapsed: start.elapsed(),
        warnings: plan.warnings.clone(),
    };
    info!(scenario = %report.scenario, seed, rows = report.total_rows(), ms = report.elapsed.as_millis() as u64, "seeded");
    Ok(report)
}

async fn write_all<B: Backend>(
    db: &mut B,
    mut generator: Generator,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<BTreeMap<String, u64>, crate::Error> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(4);
    // Generation is CPU work: keep it off the async threads, overlapped with writing.
    let handle = std::thread::spawn(move || {
        let result = generator.run(&mut |work| tx.blocking_send(work).is_ok());
        result.map(|()| generator.rows_written)
    });
    while let Some(work) = rx.recv().await {
        if let Err(e) = write(db, &work).await {
            drop(rx);
            let _ = handle.join();
            return Err(e.into());
        }
        if let (Some(p), Work::Rows { table, rows, .. }) = (&options.progress, &work) {
            p.advance(table, rows.len() as u64);
        }
    }
    let rows = handle
        .join()
        .map_err(|_| SeedError::Impossible("the generator thread panicked".into()))??;
    for file in &scenario.sql_files {
        run_sql_file(db, file).await?;
    }
    Ok(rows)
}

async fn write<B: Backend>(db: &mut B, work: &Work) -> Result<(), SeedError> {
    let (table, result) = match work {
        Work::Rows {
            table,
            columns,
            rows,
        } => (table, db.insert_rows(table, columns, rows).await),
        Work::Update {
            table,
            key,
            column,
            rows,
        } => (table, db.update_column(table, key, column, rows).await),
    };
    result.map_err(|e| {
        let message = crate::migrate::database_message(&e);
        let hint = if message.to_ascii_uppercase().contains("CHECK") {
            "; dbenv could not read this CHECK constraint: give the column explicit values (one_of, between) in the scenario".to_string()
        } else {
            String::new()
        };
        SeedError::Write { table: table.clone(), message, hint }
    })
}

async fn run_sql_file<B: Backend>(db: &mut B, file: &std::path::Path) -> Result<(), SeedError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| SeedError::SqlFile {
        file: name.clone(),
        line: 0,
        statement: String::new(),
        message: e.to_string(),
    })?;
    let statements =
        sqltext::split_statements(&text, db.dialect()).map_err(|e| SeedError::SqlFile {
            file: name.clone(),
            line: e.line,
            statement: String::new(),
            message: e.message.clone(),
        })?;
    for s in statements {
        if let Err(e) = db.execute(&s.sql).await {
            let statement: String = s.sql.chars().take(120).collect();
            return Err(SeedError::SqlFile {
                file: name,
                line: s.line,
                statement,
                message: crate::migrate::database_message(&e),
            });
        }
    }
    Ok(())
}

/// Read what generation must respect: existing keys to count on from and to reference,
/// and existing unique values not to repeat. Empty tables cost one COUNT each.
async fn load_existing<B: Backend>(db: &mut B, plan: &Plan) -> Result<Existing, SeedError> {
    let mut existing = Existing::default();
    fn ctx(table: &str) -> impl FnOnce(sqlx::Error) -> SeedError + '_ {
        move |e| SeedError::Database {
            context: format!("reading existing rows of {table}"),
            source: e,
        }
    }
    for t in &plan.tables {
        if db.count_rows(&t.name).await.map_err(ctx(&t.name))? == 0 {
            continue;
        }
        let mut sets: Vec<Vec<String>> = t.referenced.clone();
        sets.extend(
            t.unique_keys
                .iter()
                .map(|k| k.iter().map(|c| t.columns[*c].clone()).collect()),
        );
        if !t.primary_key.is_empty() {
            sets.push(t.primary_key.clone());
        }
        sets.sort();
        sets.dedup();
        for cols in sets {
            let rows = db
                .select_values(&t.name, &cols)
                .await
                .map_err(ctx(&t.name))?;
            existing.tuples.insert((t.name.clone(), cols), rows);
        }
        if let Some(seq) = t.gens.iter().position(|g| matches!(g, ColGen::Sequence)) {
            let key = existing
                .tuples
                .get(&(t.name.clone(), vec![t.columns[seq].clone()]))
                .and_then(|rows| {
                    rows.iter()
                        .filter_map(|r| match r[0] {
                            crate::value::Value::Int(i) => Some(i),
                            _ => None,
                        })
                        .max()
                });
            existing.max_key.insert(t.name.clone(), key.unwrap_or(0));
        }
    }
    Ok(existing)
}

fn estimate(plan: &Plan) -> u64 {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &plan.tables {
        let n = match &t.count {
            RowCount::Fixed(n) => *n,
            RowCount::Per { fk, min, max } => {
                totals.get(t.fks[*fk].parent.as_str()).copied().unwrap_or(0) * (min + max) / 2
            }
        };
        totals.insert(&t.name, n);
    }
    totals.values().sum()
}
