//! The bodies of the fuzz targets in `fuzz/` (cargo fuzz), kept in the library so the
//! regression inputs in `fuzz/regressions/` replay as ordinary tests
//! (`tests/fuzz_regressions.rs`) on the stable toolchain. Not part of the public API.
//!
//! Each function takes arbitrary bytes and panics only on a bug: parse errors are fine,
//! but an error must render, and what parses must behave (resolve, plan, generate the same
//! data twice).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use crate::config::Config;
use crate::seed::Scenario;

/// `dbenv.toml` text: parse, then use every env as a command would.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let root = Path::new("/fuzz/project");
    let config = match Config::from_str(text, &root.join("dbenv.toml")) {
        Ok(c) => c,
        Err(e) => return render(&e),
    };
    for name in config.env_names() {
        let env = config.env(Some(name)).expect("a listed env exists");
        if let Err(e) = env.sqlite_path(root) {
            render(&e);
        }
    }
    if let Err(e) = config.env(None) {
        render(&e);
    }
    if let Err(e) = config.env(Some("no-such-env")) {
        render(&e);
    }
}

/// A scenario file: parse it, then plan it against the example application's schema.
pub fn scenario(data: &[u8]) {
    let Some(scenario) = parse_scenario(data) else {
        return;
    };
    #[cfg(feature = "sqlite")]
    if let Err(e) = crate::seed::plan::plan(&scenario, example_schema()) {
        render(&e);
    }
    #[cfg(not(feature = "sqlite"))]
    let _ = scenario;
}

/// A scenario file that plans: generate its rows twice with its seed; the data must be
/// identical, every row as wide as its columns.
#[cfg(feature = "sqlite")]
pub fn generate(data: &[u8]) {
    use std::sync::Arc;
    let Some(scenario) = parse_scenario(data) else {
        return;
    };
    let Ok(plan) = crate::seed::plan::plan(&scenario, example_schema()) else {
        return;
    };
    if too_big(&plan) {
        return;
    }
    let plan = Arc::new(plan);
    let first = generate_hash(&plan, scenario.seed);
    let second = generate_hash(&plan, scenario.seed);
    assert_eq!(first, second, "same scenario and seed, different data");
}

fn parse_scenario(data: &[u8]) -> Option<Scenario> {
    let text = std::str::from_utf8(data).ok()?;
    match Scenario::parse_str("fuzz", text, Path::new("/fuzz/project/seeds/fuzz.toml")) {
        Ok(s) => Some(s),
        Err(e) => {
            render(&e);
            None
        }
    }
}

/// Errors must render (positions, suggestions) without panicking.
fn render(e: &dyn std::error::Error) {
    let mut h = DefaultHasher::new();
    e.to_string().hash(&mut h);
    let mut source = e.source();
    while let Some(s) = source {
        s.to_string().hash(&mut h);
        source = s.source();
    }
    std::hint::black_box(h.finish());
}

/// Rows emitted before generation is stopped (an input asking for millions is not a bug).
#[cfg(feature = "sqlite")]
const MAX_ROWS: u64 = 20_000;

/// Plans whose fixed counts alone exceed what one fuzz execution should write.
#[cfg(feature = "sqlite")]
fn too_big(plan: &crate::seed::plan::Plan) -> bool {
    use crate::seed::plan::RowCount;
    plan.tables.iter().any(|t| match t.count {
        RowCount::Fixed(n) => n > 2_000,
        RowCount::Per { max, .. } => max > 50,
    })
}

/// Generate, checking each batch's shape; a hash of everything emitted.
#[cfg(feature = "sqlite")]
fn generate_hash(plan: &std::sync::Arc<crate::seed::plan::Plan>, seed: u64) -> Option<u64> {
    use crate::seed::generate::{Existing, Generator, Work};
    let mut generator = Generator::new(plan.clone(), seed, Existing::default()).ok()?;
    let mut h = DefaultHasher::new();
    let mut rows = 0u64;
    let mut per_table: BTreeMap<String, u64> = BTreeMap::new();
    let result = generator.run(&mut |work| {
        match &work {
            Work::Rows {
                table,
                columns,
                rows: batch,
            } => {
                for row in batch {
                    assert_eq!(
                        row.len(),
                        columns.len(),
                        "a row of {table} has the wrong width"
                    );
                }
                rows += batch.len() as u64;
                *per_table.entry(table.clone()).or_default() += batch.len() as u64;
            }
            Work::Update { rows: batch, .. } => rows += batch.len() as u64,
        }
        format!("{work:?}").hash(&mut h);
        rows < MAX_ROWS
    });
    if let Err(e) = result {
        render(&e);
        return None;
    }
    per_table.hash(&mut h);
    Some(h.finish())
}

/// The example application's schema (`migrations/`), introspected once from an in-memory
/// SQLite database.
#[cfg(feature = "sqlite")]
fn example_schema() -> &'static crate::schema::Schema {
    use std::sync::OnceLock;
    static SCHEMA: OnceLock<crate::schema::Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(introspect_example())
    })
}

#[cfg(feature = "sqlite")]
async fn introspect_example() -> crate::schema::Schema {
    use crate::engine::Backend;
    use crate::engine::sqlite::{OpenMode, SqliteBackend};
    const MIGRATIONS: &[&str] = &[
        include_str!("../migrations/0001_organisations_and_users.sql"),
        include_str!("../migrations/0002_projects_and_tasks.sql"),
        include_str!("../migrations/0003_comments_and_labels.sql"),
    ];
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("schema.sqlite");
    let mut db = SqliteBackend::open(&path, OpenMode::Scratch)
        .await
        .expect("open");
    for sql in MIGRATIONS {
        db.execute(sql).await.expect("the example migrations apply");
    }
    let schema = db.introspect().await.expect("introspect");
    db.close().await.expect("close");
    schema
}
