//! The fuzz targets' regression inputs (`fuzz/regressions/<target>/`: the seed inputs and
//! every input that once crashed a target) replayed through the same functions the fuzz
//! targets call, so CI guards them on the stable toolchain without cargo fuzz.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
}

/// Run `f` on every input of `target`, naming the input that panics.
fn replay(target: &str, f: fn(&[u8])) {
    for path in inputs(target) {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| f(&data));
        assert!(outcome.is_ok(), "fuzz input {} panics", path.display());
    }
}

#[test]
fn config_regressions() {
    replay("config", dbenv::fuzzing::config);
}

#[test]
fn scenario_regressions() {
    replay("scenario", dbenv::fuzzing::scenario);
}

#[cfg(feature = "sqlite")]
#[test]
fn generate_regressions() {
    replay("generate", dbenv::fuzzing::generate);
}
