//! Backups, end to end through the `dbenv` binary: SQLite, PostgreSQL and MariaDB round
//! trips (backup → list → verify → restore, data identical), a damaged backup, a backup
//! killed mid-way, retention over a synthetic year, the production guard on restore,
//! secrets kept out of every output and command line, bad ids, and an S3 store (moto).

mod common;
#[path = "shared_server.rs"]
mod shared_server;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Project, assert_healthy, block_on, content_hash, counts};
use serde_json::Value as Json;

const SENTINEL: &str = "S3ntinel-pw-x9";

const SQLITE_CONFIG: &str = r#"[project]
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"
[env.dev.backup]
dir = "backups"

[env.prod]
kind = "production"
engine = "sqlite"
path = ".dbenv/prod.sqlite"
scenario = "demo"
"#;

/// `dbenv backup ENV`, returning the new id (the one line on stdout).
fn take(p: &Project, env: &str) -> String {
    let run = p.ok(&["backup", env]);
    let id = run.stdout.trim().to_string();
    assert_eq!(id.len(), 21, "not an id: {id:?}");
    id
}

fn list(p: &Project, env: &str, vars: &[(&str, &str)]) -> Vec<Json> {
    let run = p.run_with(&["--json", "backup", "list", env], vars);
    run.code(0);
    run.json().as_array().unwrap().clone()
}

fn manifest(p: &Project, dir: &str, id: &str) -> Json {
    serde_json::from_slice(&p.read(&format!("{dir}/{id}.manifest.json"))).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Files in `dir` whose name carries the temporary marker.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(dbenv::state::TEMP_MARKER))
        .collect()
}

#[test]
fn sqlite_round_trip_restores_identical_data() {
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    let db = p.db("dev");
    let before = content_hash(&db);
    let rows = counts(&db);
    let id = take(&p, "dev");

    // The manifest and the data: private files, checksum and counts as the database had.
    let m = manifest(&p, "backups", &id);
    let data = p.file(&format!("backups/{}", m["file"].as_str().unwrap()));
    assert!(data.to_string_lossy().ends_with(".sqlite.zst"));
    assert_eq!(mode(&data), 0o600);
    assert_eq!(mode(&p.file("backups")), 0o700);
    assert_eq!(mode(&p.file(&format!("backups/{id}.manifest.json"))), 0o600);
    let bytes = std::fs::read(&data).unwrap();
    assert_eq!(
        m["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    assert_eq!(m["stored_bytes"], bytes.len() as u64);
    assert_eq!(m["migration_version"], 3);
    assert_eq!(m["engine"], "sqlite");
    for (table, n) in &rows {
        assert_eq!(m["tables"][table], *n, "{table}");
    }
    assert!(
        m["raw_bytes"].as_u64().unwrap() > bytes.len() as u64,
        "compressed"
    );

    let listed = list(&p, "dev", &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    p.ok(&["backup", "list", "dev"]).out_has(&id);

    let verify = p.ok(&["backup", "verify", &id]);
    verify
        .out_has("checksum")
        .out_has("row counts")
        .out_has("verified");
    assert_eq!(list(&p, "dev", &[])[0]["verification"]["ok"], true);

    // Change the data, then restore: the backup's data is back, sound.
    p.ok(&["reset", "dev", "--scenario", "empty"]);
    assert_ne!(content_hash(&db), before);
    p.ok(&["backup", "restore", &id]).out_has("dev.sqlite");
    assert_eq!(content_hash(&db), before);
    assert_healthy(&db);
    assert!(temps(&p.file(".dbenv")).is_empty());

    // compression = "none" is honoured.
    let plain = SQLITE_CONFIG.replace(
        "dir = \"backups\"",
        "dir = \"backups\"\ncompression = \"none\"",
    );
    p.write("dbenv.toml", plain);
    let id2 = take(&p, "dev");
    let m2 = manifest(&p, "backups", &id2);
    assert_eq!(m2["compression"], "none");
    assert_eq!(m2["raw_bytes"], m2["stored_bytes"]);
    assert!(p.file(&format!("backups/{id2}.sqlite")).exists());
    p.ok(&["backup", "verify", &id2]);
}

#[test]
fn a_wal_database_is_copied_with_the_online_backup_api() {
    // In WAL mode committed pages may sit in the -wal file: the file alone is not the
    // database. A row written last (still in the WAL) must be in the backup.
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    let db = p.db("dev");
    let conn = block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        conn.execute("PRAGMA journal_mode = WAL").await.unwrap();
        conn.execute("PRAGMA wal_autocheckpoint = 0").await.unwrap();
        conn.execute("CREATE TABLE late (note TEXT)").await.unwrap();
        conn.execute("INSERT INTO late VALUES ('only in the WAL')")
            .await
            .unwrap();
        conn
    });
    assert!(p.file(".dbenv/dev.sqlite-wal").exists());
    let before = content_hash(&db);
    let id = take(&p, "dev");
    assert_eq!(manifest(&p, "backups", &id)["tables"]["late"], 1);
    p.ok(&["backup", "verify", &id]);
    block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = conn;
        conn.execute("DELETE FROM late").await.unwrap();
        conn.close().await.unwrap();
    });
    p.ok(&["backup", "restore", &id]);
    assert_eq!(content_hash(&db), before);
    assert!(
        !p.file(".dbenv/dev.sqlite-wal").exists()
            || std::fs::metadata(p.file(".dbenv/dev.sqlite-wal"))
                .unwrap()
                .len()
                == 0
    );
}

#[test]
fn a_flipped_byte_fails_verify_and_restore() {
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    let id = take(&p, "dev");
    let m = manifest(&p, "backups", &id);
    let data = p.file(&format!("backups/{}", m["file"].as_str().unwrap()));
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();

    let run = p.run(&["backup", "verify", &id]);
    run.code(1)
        .err_has(&format!("backup {id} failed verification"))
        .err_has("checksum failed")
        .out_has("FAIL");
    let listed = list(&p, "dev", &[]);
    assert_eq!(listed[0]["verification"]["ok"], false);
    p.ok(&["backup", "list", "dev"]).out_has("FAILED");

    // A damaged backup is never restored: the database stays as it was.
    let db = p.db("dev");
    let before = common::bytes(&db);
    p.run(&["backup", "restore", &id])
        .code(1)
        .err_has("checksum failed");
    assert_eq!(common::bytes(&db), before);
}

#[test]
fn a_damaged_backup_with_a_matching_checksum_fails_the_restore_checks() {
    // The checksum proves the bytes are those stored; the restore proves they are a
    // database. A manifest that lies about the rows is caught by the row counts.
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    let id = take(&p, "dev");
    let path = p.file(&format!("backups/{id}.manifest.json"));
    let mut m: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["tables"]["users"] = Json::from(999_999);
    m["migration_version"] = Json::from(7);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    p.run(&["backup", "verify", &id])
        .code(1)
        .err_has("row counts: users:")
        .err_has("manifest says 999999")
        .err_has("migration version: restored copy is at 3, manifest says 7");
}

#[test]
fn a_killed_backup_is_never_listed_and_the_next_one_cleans_up() {
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    // About 400 MB of incompressible rows: the backup takes more than a second.
    common::add_ballast(&p.db("dev"), 400);
    // What a backup killed between its data and its manifest would leave.
    p.write("backups/20200101T000000Z-abcd.sqlite.zst", b"orphan data");

    let backups = p.file("backups");
    let mut child = p.std_cmd(&["backup", "dev"]).spawn().unwrap();
    let start = Instant::now();
    loop {
        let partial = temps(&backups)
            .iter()
            .any(|t| std::fs::metadata(backups.join(t)).is_ok_and(|m| m.len() > 1_000_000));
        if partial {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no partial backup appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert!(
        !temps(&backups).is_empty(),
        "the killed backup left its partial file"
    );

    assert!(
        list(&p, "dev", &[]).is_empty(),
        "a partial backup is listed"
    );
    let id = take(&p, "dev");
    assert!(
        temps(&backups).is_empty(),
        "leftovers: {:?}",
        temps(&backups)
    );
    assert!(temps(&p.file(".dbenv")).is_empty(), "leftovers in .dbenv");
    assert!(!p.file("backups/20200101T000000Z-abcd.sqlite.zst").exists());
    let listed = list(&p, "dev", &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["tables"]["ballast"], 400);
}

#[test]
fn restore_into_production_needs_force_and_confirm() {
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    p.ok(&["up", "prod"]);
    p.ok(&["reset", "dev", "--scenario", "empty"]);
    let id = take(&p, "dev");
    let prod = p.db("prod");
    let before = p.snapshot();
    p.run(&["backup", "restore", &id, "--to", "prod"])
        .code(3)
        .err_has("refusing to restore a backup on prod")
        .err_has("--force --confirm prod");
    p.run(&["backup", "restore", &id, "--to", "prod", "--force"])
        .code(3);
    p.run(&[
        "backup",
        "restore",
        &id,
        "--to",
        "prod",
        "--force",
        "--confirm",
        "dev",
    ])
    .code(3)
    .err_has("does not match");
    p.assert_unchanged(&before);
    assert!(common::total_rows(&prod) > 0);

    p.ok(&[
        "backup",
        "restore",
        &id,
        "--to",
        "prod",
        "--force",
        "--confirm",
        "prod",
    ]);
    assert_eq!(common::total_rows(&prod), 0);
    assert_eq!(content_hash(&prod), content_hash(&p.db("dev")));
}

#[test]
fn bad_ids_and_envs_get_clear_errors() {
    let p = Project::with_config(SQLITE_CONFIG);
    p.ok(&["up", "dev"]);
    for bad in [
        "../etc",
        "x/y",
        "../../backups/x",
        "20261124T031500Z-a1b2/../../x",
    ] {
        for cmd in ["verify", "restore"] {
            p.run(&["backup", cmd, bad])
                .code(2)
                .err_has("invalid backup id")
                .err_has("may not contain a path");
        }
    }
    p.run(&["backup", "verify", "not-an-id"])
        .code(2)
        .err_has("invalid backup id");
    p.run(&["backup", "verify", "20261124T031500Z-a1b2"])
        .code(2)
        .err_has("no backup 20261124T031500Z-a1b2 in")
        .err_has("dbenv backup list dev");
    p.run(&["backup", "prod"])
        .code(2)
        .err_has("env prod has no backups configured")
        .err_has("[env.prod.backup]");
    p.run(&["backup", "nope"]).code(2).err_has("nope");
}

#[test]
fn prune_shows_then_deletes_what_the_policy_does_not_keep() {
    let p = Project::with_config(&SQLITE_CONFIG.replace(
        "dir = \"backups\"",
        "dir = \"backups\"\nkeep = { last = 2 }",
    ));
    p.ok(&["up", "dev"]);
    let ids: Vec<String> = (0..4).map(|_| take(&p, "dev")).collect();
    // Verify the oldest: it survives as the only verified backup.
    p.ok(&["backup", "verify", &ids[0]]);
    let dry = p.ok(&["backup", "prune", "dev"]);
    dry.out_has(&format!("would delete {}", ids[1]))
        .err_has("--yes");
    assert_eq!(list(&p, "dev", &[]).len(), 4);
    let report = p.ok(&["--json", "backup", "prune", "dev", "--yes"]).json();
    // last = 2 keeps the two newest; the verified oldest stays as well.
    assert_eq!(report["deleted"], serde_json::json!([ids[1]]));
    let left: Vec<String> = list(&p, "dev", &[])
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, [ids[0].clone(), ids[2].clone(), ids[3].clone()]);
    let files: Vec<String> = std::fs::read_dir(p.file("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.starts_with(&ids[1])), "{files:?}");
    assert_eq!(files.len(), 3 * 2 + 1, "{files:?}");
}

// ---------------------------------------------------------------------------------------
// Retention, as a pure function over a synthetic year.

mod retention {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use dbenv::backup::BackupId;
    use dbenv::backup::retention::{Candidate, decide};
    use dbenv::config::Keep;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// One backup a day at 03:15 through 2026, three more on Dec 31, one dated in 2027.
    fn year() -> Vec<Candidate> {
        let mut times: Vec<DateTime<Utc>> = (0..365)
            .map(|d| Utc.with_ymd_and_hms(2026, 1, 1, 3, 15, 0).unwrap() + Duration::days(d))
            .collect();
        times.extend(
            [
                "2026-12-31T09:00:00Z",
                "2026-12-31T12:00:00Z",
                "2026-12-31T18:00:00Z",
            ]
            .map(at),
        );
        times.push(at("2027-01-05T00:00:00Z"));
        times
            .into_iter()
            .map(|t| Candidate {
                id: BackupId::parse(&format!("{}-0000", t.format("%Y%m%dT%H%M%SZ"))).unwrap(),
                time: t,
                verified: false,
            })
            .collect()
    }

    fn kept(backups: &[Candidate], keep: Keep) -> Vec<String> {
        let now = at("2027-01-01T00:00:00Z");
        let mut kept: Vec<String> = decide(backups, &keep, now)
            .unwrap()
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| format!("{} {}", &d.id[..15], d.reasons.join(",")))
            .collect();
        kept.sort();
        kept
    }

    const POLICY: Keep = Keep {
        last: 3,
        daily: 7,
        weekly: 4,
        monthly: 6,
    };

    #[test]
    fn a_year_of_daily_backups_keeps_exactly_the_policy() {
        // 2026-12-31 is a Thursday of ISO week 53 (Dec 28 – Jan 3).
        let expected = [
            "20260731T031500 monthly",
            "20260831T031500 monthly",
            "20260930T031500 monthly",
            "20261031T031500 monthly",
            "20261130T031500 monthly",
            "20261213T031500 weekly",
            "20261220T031500 weekly",
            "20261225T031500 daily",
            "20261226T031500 daily",
            "20261227T031500 daily,weekly",
            "20261228T031500 daily",
            "20261229T031500 daily",
            "20261230T031500 daily",
            "20261231T090000 last",
            "20261231T120000 last",
            "20261231T180000 last,daily,weekly,monthly",
            "20270105T000000 future",
        ];
        assert_eq!(kept(&year(), POLICY), expected);
    }

    #[test]
    fn the_newest_verified_backup_is_always_kept() {
        let mut backups = year();
        for b in backups.iter_mut() {
            let day = b.time.format("%m%d").to_string();
            b.verified = day == "0315" || day == "0101";
        }
        let kept = kept(&backups, POLICY);
        assert_eq!(kept.len(), 18);
        assert!(
            kept.contains(&"20260315T031500 verified".to_string()),
            "{kept:?}"
        );
        // Once a kept backup is verified, no older one is kept for that reason.
        backups
            .iter_mut()
            .find(|b| b.time == at("2026-12-29T03:15:00Z"))
            .unwrap()
            .verified = true;
        let kept = self::kept(&backups, POLICY);
        assert_eq!(kept.len(), 17);
        assert!(!kept.iter().any(|k| k.ends_with("verified")));
    }

    #[test]
    fn monthly_only_and_an_empty_policy() {
        let only = Keep {
            last: 0,
            daily: 0,
            weekly: 0,
            monthly: 12,
        };
        let kept = kept(&year(), only);
        assert_eq!(kept.len(), 13); // 12 month-ends + the future one
        assert_eq!(kept[0], "20260131T031500 monthly");
        assert_eq!(kept[11], "20261231T180000 monthly");
        let none = Keep {
            last: 0,
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let e = decide(&year(), &none, Utc::now()).unwrap_err();
        assert!(e.to_string().contains("keeps nothing"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// Server engines, on the shared native test servers.

/// A folder of wrappers that log their arguments to `args.log`, then run the real tool:
/// proof of what dbenv put on the tools' command lines.
fn arg_spies(dir: &Path, tools: &[&str]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("args.log");
    for tool in tools {
        let real = which(tool).unwrap_or_else(|| panic!("{tool} is not on PATH"));
        let script = format!(
            "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        );
        let path = dir.join(tool);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn replace_database(admin_url: &str, user: &str, database: &str) -> String {
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_username(user).unwrap();
    url.set_password(Some(SENTINEL)).unwrap();
    url.set_path(database);
    url.to_string()
}

/// The story on one server engine, as a production env whose URL carries the sentinel
/// password: up, backup, list, verify, damage the data, restore (forced), data identical;
/// the sentinel never printed, stored or passed on a command line.
fn server_story(engine: &str, admin_url: &str, tools: &[&str]) {
    let database = format!("dbenv_bk_{engine}_{}", std::process::id());
    let url = replace_database(admin_url, "dbenv_bk", &database);
    let p = Project::with_config(&format!(
        "[project]\ndefault_env = \"prod\"\n\n[env.prod]\nkind = \"production\"\nengine = \"{engine}\"\nurl = \"${{APP_URL}}\"\nscenario = \"demo\"\n[env.prod.backup]\ndir = \"backups\"\n"
    ));
    let spies = p.file("spies");
    let path = arg_spies(&spies, tools);
    let vars = [("APP_URL", url.as_str()), ("PATH", path.as_str())];
    let run = |args: &[&str]| {
        let r = p.run_with(args, &vars);
        r.never_says(SENTINEL);
        r
    };
    run(&["up", "prod"]).code(0);
    let app = replace_database(admin_url, "dbenv_bk", &database);
    if engine == "mariadb" {
        // Routines and events travel with the backup and survive the restore's swap.
        mysql_exec(
            &app,
            &[
                // Its body is dumped between DELIMITER lines: not rows of the backup.
                "CREATE PROCEDURE bk_proc()\nINSERT INTO `bk_audit` VALUES (1),(2)",
                "CREATE FUNCTION bk_fn(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
                "CREATE EVENT bk_event ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1",
            ],
        );
    }
    let rows = status_counts(&p, &vars);
    assert!(rows.values().sum::<u64>() > 100, "{rows:?}");

    let id = run(&["backup", "prod"]).code(0).stdout.trim().to_string();
    let m = manifest(&p, "backups", &id);
    assert!(
        !String::from_utf8_lossy(&p.read(&format!("backups/{id}.manifest.json")))
            .contains(SENTINEL)
    );
    assert_eq!(m["migration_version"], 3);
    assert_eq!(m["database"], database.as_str());
    assert!(m["server_version"].as_str().is_some_and(|v| !v.is_empty()));
    for (table, n) in &rows {
        assert_eq!(m["tables"][table], *n, "{table} in {m}");
    }
    for table in m["tables"].as_object().unwrap().keys() {
        assert!(
            rows.contains_key(table) || table.starts_with("_sqlx_") || table.starts_with("_dbenv_"),
            "{table} is in the manifest only: {m}"
        );
    }
    assert_eq!(m["counts_exact"], true);
    let listed = list(&p, "prod", &vars);
    assert_eq!(listed.len(), 1);
    // Scratch databases left by killed verifications (their process is gone) are dropped
    // by the next verification and by gc; one whose process still runs is left alone.
    let ident = id.to_ascii_lowercase().replace('-', "_");
    // `<id>_<machine>_<pid>`, the machine being the first 3 bytes of SHA-256(machine-id).
    let machine = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap();
    let host = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(machine.trim())[..3]);
    let dead = format!("dbenv_verify_{ident}_{host}_4194305"); // above Linux's pid_max
    let running = format!("dbenv_verify_{ident}_{host}_{}", std::process::id());
    // Another machine's: its process may well be running there.
    let elsewhere = format!(
        "dbenv_verify_{ident}_{}_4194305",
        if host == "000000" { "ffffff" } else { "000000" }
    );
    server_sql(engine, admin_url, &format!("CREATE DATABASE {dead}"));
    server_sql(engine, admin_url, &format!("CREATE DATABASE {running}"));
    server_sql(engine, admin_url, &format!("CREATE DATABASE {elsewhere}"));
    let mut left = [elsewhere.as_str(), running.as_str()];
    left.sort();
    run(&["backup", "verify", &id]).code(0).out_has("verified");
    assert_eq!(scratches(engine, admin_url, &ident), left);
    server_sql(engine, admin_url, &format!("CREATE DATABASE {dead}"));
    run(&["gc"]).code(0);
    assert_eq!(scratches(engine, admin_url, &ident), left);
    for db in left {
        server_sql(engine, admin_url, &format!("DROP DATABASE {db}"));
    }

    // Damage the data, restore, and find it back.
    p.run_with(
        &[
            "reset",
            "prod",
            "--scenario",
            "empty",
            "--force",
            "--confirm",
            "prod",
        ],
        &vars,
    )
    .code(0);
    assert_eq!(status_counts(&p, &vars).values().sum::<u64>(), 0);
    run(&["backup", "restore", &id]).code(3).err_has("refusing");
    run(&["backup", "restore", &id, "--force", "--confirm", "prod"]).code(0);
    assert_eq!(status_counts(&p, &vars), rows);
    if engine == "mariadb" {
        assert_eq!(
            mysql_names(
                &app,
                "SELECT CAST(routine_name AS CHAR) FROM information_schema.routines WHERE routine_schema = DATABASE() ORDER BY 1"
            ),
            ["bk_fn", "bk_proc"]
        );
        assert_eq!(
            mysql_names(
                &app,
                "SELECT CAST(event_name AS CHAR) FROM information_schema.events WHERE event_schema = DATABASE()"
            ),
            ["bk_event"]
        );
    }

    let args = std::fs::read_to_string(spies.join("args.log")).unwrap();
    assert!(
        !args.contains(SENTINEL),
        "a tool saw the password on its command line:\n{args}"
    );
    for tool in tools {
        let ran = args.lines().any(|l| l.starts_with(&format!("{tool} ")));
        assert!(ran, "{tool} did not run:\n{args}");
    }
    assert!(
        args.contains("--snapshot=") || args.contains("--defaults-extra-file="),
        "{args}"
    );
    let manifests = std::fs::read_dir(p.file("backups")).unwrap().flatten();
    for f in manifests.filter(|f| f.file_name().to_string_lossy().ends_with(".json")) {
        assert!(
            !std::fs::read_to_string(f.path())
                .unwrap()
                .contains(SENTINEL)
        );
    }
    p.run_with(
        &["down", "prod", "--purge", "--force", "--confirm", "prod"],
        &vars,
    )
    .code(0);
}

/// The admin URL of a server: `var` when set, else the shared native test server; `None`
/// (after a SKIP line) when neither can be had, a failure under `DBENV_TEST_REQUIRE=all`.
fn admin_url(engine: dbenv::engine::EngineKind, var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var)
        && !url.is_empty()
    {
        return Some(url);
    }
    if let Some(url) = shared_server::native_server_url(engine) {
        return Some(url);
    }
    if std::env::var("DBENV_TEST_REQUIRE").as_deref() == Ok("all") {
        panic!(
            "DBENV_TEST_REQUIRE=all but no {engine} server: install it (scripts/test.sh does), or set {var}"
        );
    }
    eprintln!(
        "**** SKIP: no {engine} server binaries and no {var}: the {engine} backup test did not run ****"
    );
    None
}

#[cfg(feature = "mysql")]
fn mysql_exec(url: &str, statements: &[&str]) {
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection};
        let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::raw_sql(AssertSqlSafe(s.to_string()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    })
}

#[cfg(feature = "mysql")]
fn mysql_names(url: &str, sql: &str) -> Vec<String> {
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection};
        let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
        let names = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        names
    })
}

/// Run one statement as the server's administrator.
fn server_sql(engine: &str, admin_url: &str, sql: &str) {
    let (admin_url, sql) = (admin_url.to_string(), sql.to_string());
    block_on(async move {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        if engine == "postgres" {
            let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
            conn.close().await.unwrap();
        } else {
            let mut conn = sqlx::MySqlConnection::connect(&admin_url).await.unwrap();
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
            conn.close().await.unwrap();
        }
    })
}

/// The verification scratch databases of backup `ident` on the server.
fn scratches(engine: &str, admin_url: &str, ident: &str) -> Vec<String> {
    let (admin_url, pattern) = (admin_url.to_string(), format!("dbenv_verify_{ident}_%"));
    block_on(async move {
        use sqlx::Connection;
        if engine == "postgres" {
            let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            let names = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
            )
            .bind(&pattern)
            .fetch_all(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
            names
        } else {
            let mut conn = sqlx::MySqlConnection::connect(&admin_url).await.unwrap();
            let names = sqlx::query_scalar(
                "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY 1",
            )
            .bind(&pattern)
            .fetch_all(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
            names
        }
    })
}

fn status_counts(p: &Project, vars: &[(&str, &str)]) -> BTreeMap<String, u64> {
    let run = p.run_with(&["--json", "status", "prod"], vars);
    run.code(0);
    run.json()["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_round_trip_without_leaking_the_password() {
    let Some(admin) = admin_url(dbenv::engine::EngineKind::Postgres, "DBENV_TEST_PG_URL") else {
        return;
    };
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let create = format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dbenv_bk') THEN \
             CREATE ROLE dbenv_bk LOGIN SUPERUSER PASSWORD '{SENTINEL}'; END IF; END $$"
        );
        conn.execute(AssertSqlSafe(create)).await.unwrap();
        conn.close().await.unwrap();
    });
    server_story("postgres", &admin, &["pg_dump", "pg_restore"]);
}

#[cfg(feature = "mysql")]
#[test]
fn mariadb_round_trip_without_leaking_the_password() {
    let Some(admin) = admin_url(dbenv::engine::EngineKind::Mariadb, "DBENV_TEST_MYSQL_URL") else {
        return;
    };
    if !common::have_tool("mariadb-dump", &["--version"], true) {
        return;
    }
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
        for sql in [
            format!("CREATE USER IF NOT EXISTS 'dbenv_bk'@'%' IDENTIFIED BY '{SENTINEL}'"),
            "GRANT ALL PRIVILEGES ON *.* TO 'dbenv_bk'@'%' WITH GRANT OPTION".to_string(),
        ] {
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        conn.close().await.unwrap();
    });
    server_story("mariadb", &admin, &["mariadb-dump", "mariadb"]);
}

// ---------------------------------------------------------------------------------------
// S3, against moto's server.

/// A moto S3 server on a free port, stopped on drop.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Option<Moto> {
    if !common::have_tool("moto_server", &["--help"], true) {
        eprintln!(
            "**** SKIP: install it with `pip install 'moto[server]'` (scripts/test.sh does it) ****"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// Create a bucket with a bare HTTP request (moto accepts unsigned requests).
fn create_bucket(port: u16, bucket: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn s3_round_trip_against_a_local_s3_server() {
    let Some(moto) = moto() else { return };
    create_bucket(moto.port, "dbenv-test");
    let p = Project::with_config(&SQLITE_CONFIG.replace(
        "dir = \"backups\"",
        "dir = \"s3://dbenv-test/team/dev\"\nkeep = { last = 1 }",
    ));
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let vars = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    p.ok(&["up", "dev"]);
    let db = p.db("dev");
    let before = content_hash(&db);
    let first = p.run_with(&["backup", "dev"], &vars);
    first.code(0);
    let id = first.stdout.trim().to_string();
    assert!(!p.file("backups").exists());
    let listed = list(&p, "dev", &vars);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    p.run_with(&["backup", "verify", &id], &vars)
        .code(0)
        .out_has("verified");
    p.ok(&["reset", "dev", "--scenario", "empty"]);
    p.run_with(&["backup", "restore", &id], &vars).code(0);
    assert_eq!(content_hash(&db), before);

    let second = p.run_with(&["backup", "dev"], &vars);
    second.code(0);
    // keep last = 1, but the verified first backup stays too; the second goes after a third.
    let third = p.run_with(&["backup", "dev"], &vars);
    third.code(0);
    let pruned = p.run_with(&["--json", "backup", "prune", "dev", "--yes"], &vars);
    pruned.code(0);
    assert_eq!(
        pruned.json()["deleted"],
        serde_json::json!([second.stdout.trim()])
    );
    let left: Vec<String> = list(&p, "dev", &vars)
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, [id, third.stdout.trim().to_string()]);

    // A store that does not answer: a clear error, exit 1.
    let dead = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        vars[1],
        vars[2],
        vars[3],
    ];
    p.run_with(&["backup", "list", "dev"], &dead)
        .code(1)
        .err_has("s3://dbenv-test/team/dev");
}
