//! The bad-input corpus: broken and hostile `dbenv.toml` files, scenarios, migrations and
//! backup ids, each with the exact error it must produce, and proof that nothing changed.
//!
//! The cases live in `tests/bad_input/<family>.toml`, one `[[case]]` each (see
//! `tests/bad_input/README.md` for the fields). For every case the runner builds a temporary
//! project, runs the case's set-up commands, snapshots every file of the project and the
//! content of every SQLite database in it, runs the command, and checks the exit code, the
//! error's fragments, that nothing panicked, and that the snapshot is unchanged. Every
//! failing case is reported at once. `BAD_INPUT_SHOW=1` prints each case's stderr;
//! `BAD_INPUT_ONLY=name` runs the cases whose name contains `name`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use serde::Deserialize;

/// Longest a case's command may run before it counts as hanging.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Family {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Unique within the corpus: what is wrong.
    name: String,
    /// `repo` (default): the repository's migrations and demo scenario; `bare`: an empty folder.
    #[serde(default)]
    bare: bool,
    /// The dbenv.toml (default: common's DEFAULT_CONFIG; none at all for a bare project).
    config: Option<String>,
    /// Files written before the set-up (path relative to the project => text).
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Commands that must succeed before the snapshot (e.g. `["up"]`).
    #[serde(default)]
    setup: Vec<Vec<String>>,
    /// Files written after the set-up, before the snapshot.
    #[serde(default)]
    then: BTreeMap<String, String>,
    /// Files written after the set-up as bytes, given in hex (non-UTF-8 content).
    #[serde(default)]
    then_hex: BTreeMap<String, String>,
    /// Files removed after the set-up.
    #[serde(default)]
    remove: Vec<String>,
    /// Environment variables of the command (and of the set-up).
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The command line, without `dbenv`.
    args: Vec<String>,
    /// The exit code it must end with.
    code: i32,
    /// Fragments stderr must hold; `{root}` is the project folder.
    stderr: Vec<String>,
    /// Fragments stderr must not hold.
    #[serde(default)]
    not_stderr: Vec<String>,
    /// The longest stderr may be, in bytes (hostile inputs must not be echoed whole).
    max_stderr: Option<usize>,
}

/// Text of `files`, with `{repeat:N:TEXT}` expanded (for huge values) and `\r` kept.
fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{repeat:") {
        out.push_str(&rest[..at]);
        let spec = &rest[at + 8..];
        let close = spec.find('}').expect("{repeat:N:TEXT} is closed");
        let (n, what) = spec[..close].split_once(':').expect("{repeat:N:TEXT}");
        out.push_str(&what.repeat(n.parse().expect("N in {repeat:N:TEXT}")));
        rest = &spec[close + 1..];
    }
    out.push_str(rest);
    out
}

fn load(family: &str) -> Vec<Case> {
    let path = repo()
        .join("tests/bad_input")
        .join(format!("{family}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let family: Family =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    family.case
}

/// The SQLite databases of the project, with the hash of their content.
fn databases(p: &Project) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "sqlite") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(p.path(), &mut files);
    files
        .into_iter()
        .map(|f| (f.clone(), content_hash(&f)))
        .collect()
}

fn build(case: &Case) -> Project {
    let p = if case.bare {
        let p = Project::bare();
        if let Some(c) = &case.config {
            p.write("dbenv.toml", expand(c));
        }
        p
    } else {
        Project::with_config(&expand(case.config.as_deref().unwrap_or(DEFAULT_CONFIG)))
    };
    for (rel, text) in &case.files {
        p.write(rel, expand(text));
    }
    p
}

/// Run `args` in `p` with the case's variables, killed after [`CASE_TIMEOUT`].
fn run(p: &Project, case: &Case, args: &[String]) -> Result<Run, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = p.std_cmd(&args);
    cmd.env("NO_COLOR", "1")
        .envs(&case.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).ok();
            buf
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CASE_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            return Err(format!(
                "`dbenv {}` still ran after {CASE_TIMEOUT:?}: killed",
                args.join(" ")
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    Ok(Run::new(&args, output))
}

/// Run one case; the list of what went wrong (empty: it passed).
fn check(case: &Case) -> Vec<String> {
    let p = build(case);
    for args in &case.setup {
        match run(&p, case, args) {
            Ok(r) if r.status.code() == Some(0) => {}
            Ok(r) => return vec![format!("set-up `{}` failed:\n{}", r.args, r.stderr)],
            Err(e) => return vec![format!("set-up: {e}")],
        }
    }
    for (rel, text) in &case.then {
        // `{crlf:FILE}`: FILE of the project as it is now, with CRLF line endings.
        match text
            .strip_prefix("{crlf:")
            .and_then(|t| t.strip_suffix('}'))
        {
            Some(src) => {
                let text = String::from_utf8(p.read(src)).unwrap();
                p.write(rel, text.replace('\n', "\r\n"));
            }
            None => p.write(rel, expand(text)),
        }
    }
    for (rel, hex) in &case.then_hex {
        p.write(rel, hex::decode(hex.replace([' ', '\n'], "")).unwrap());
    }
    for rel in &case.remove {
        p.remove(rel);
    }
    let (files, dbs) = (p.snapshot(), databases(&p));
    let run = match run(&p, case, &case.args) {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let root = p.path().display().to_string();
    let mut problems = judge(case, &run, &root);
    problems.extend(changes(&p, &files, &dbs));
    if std::env::var_os("BAD_INPUT_SHOW").is_some() || !problems.is_empty() {
        problems.push(format!(
            "--- exit {:?}, stdout:\n{}--- stderr:\n{}",
            run.status.code(),
            run.stdout,
            shorten(&run.stderr.replace(&root, "{root}"))
        ));
    }
    problems
}

/// At most 4 kB of `text` (a failing hostile case may print a lot).
fn shorten(text: &str) -> String {
    match text.char_indices().nth(4000) {
        Some((at, _)) => format!("{}… ({} bytes)\n", &text[..at], text.len()),
        None => text.to_string(),
    }
}

/// What is wrong with the run's exit code and output.
fn judge(case: &Case, run: &Run, root: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if run.status.code() != Some(case.code) {
        problems.push(format!(
            "exit code {:?}, expected {}",
            run.status.code(),
            case.code
        ));
    }
    for f in &case.stderr {
        let f = f.replace("{root}", root);
        if !run.stderr.contains(&f) {
            problems.push(format!("stderr lacks {f:?}"));
        }
    }
    for f in &case.not_stderr {
        if run.stderr.contains(f.as_str()) {
            problems.push(format!("stderr holds {f:?}"));
        }
    }
    if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
        problems.push("it panicked".into());
    }
    if let Some(max) = case.max_stderr
        && run.stderr.len() > max
    {
        problems.push(format!(
            "stderr is {} bytes, more than {max}",
            run.stderr.len()
        ));
    }
    problems
}

/// What changed on disk or in a database since the snapshot.
fn changes(
    p: &Project,
    files: &BTreeMap<PathBuf, Vec<u8>>,
    dbs: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let now = p.snapshot();
    for path in files.keys().filter(|k| !now.contains_key(*k)) {
        problems.push(format!("{} was removed", path.display()));
    }
    for (path, bytes) in &now {
        match files.get(path) {
            None => problems.push(format!("{} was created", path.display())),
            Some(old) if old != bytes => problems.push(format!("{} changed", path.display())),
            Some(_) => {}
        }
    }
    for (db, hash) in dbs {
        if db.exists() && content_hash(db) != *hash {
            problems.push(format!("the content of {} changed", db.display()));
        }
    }
    problems
}

/// Run every case of `family` (several at a time); panic with the list of failures.
fn run_family(family: &str) {
    let only = std::env::var("BAD_INPUT_ONLY").ok();
    let cases: Vec<Case> = load(family)
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
        .collect();
    let next = Mutex::new(cases.iter());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while let Some(case) = {
                    let mut it = next.lock().unwrap();
                    it.next()
                } {
                    let problems = check(case);
                    if !problems.is_empty() {
                        failures.lock().unwrap().push((case.name.clone(), problems));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    eprintln!("bad input, {family}: {} case(s) run", cases.len());
    let failed: Vec<_> = failures
        .iter()
        .filter(|(_, p)| p.len() > 1 || !p[0].starts_with("--- exit"))
        .collect();
    for (name, problems) in &failures {
        eprintln!("== {family}/{name}\n{}", problems.join("\n"));
    }
    assert!(
        failed.is_empty(),
        "{} of {} {family} case(s) failed: {}",
        failed.len(),
        cases.len(),
        failed
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

const FAMILIES: &[&str] = &["config", "scenario", "migration", "backup"];

#[test]
fn corpus_is_large_and_names_are_unique() {
    let mut names = std::collections::HashSet::new();
    let mut total = 0;
    for family in FAMILIES {
        for case in load(family) {
            assert!(
                names.insert(case.name.clone()),
                "two cases named {}",
                case.name
            );
            assert!(!case.stderr.is_empty(), "{}: no expected error", case.name);
            total += 1;
        }
    }
    eprintln!("bad input: {total} case(s) in the corpus");
    assert!(total >= 60, "only {total} cases");
}

#[test]
fn config() {
    run_family("config");
}

#[test]
fn scenario() {
    run_family("scenario");
}

#[test]
fn migration() {
    run_family("migration");
}

#[test]
fn backup() {
    run_family("backup");
}
