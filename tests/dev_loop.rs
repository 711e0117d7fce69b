//! The development loop, end to end, in fresh temporary projects: `up`, `status`, `url`,
//! `reset` (with and without templates), `seed`, `migrate new` + `migrate`, `down --purge`,
//! `init`.

mod common;

use common::*;

const TABLES: [&str; 8] = [
    "comments",
    "labels",
    "memberships",
    "organisations",
    "projects",
    "task_labels",
    "tasks",
    "users",
];

#[test]
fn the_whole_dev_loop() {
    let p = Project::new();
    let db = p.db("dev");
    assert!(!db.exists());

    // up: the URL on stdout (and nothing else), the file on disk.
    let up = p.ok(&["up"]);
    let url = up.stdout.trim();
    assert_eq!(up.stdout.lines().count(), 1, "stdout: {:?}", up.stdout);
    assert!(url.starts_with("sqlite://"), "{url}");
    assert_eq!(sqlite_path_of_url(url), db);
    assert!(db.is_file());
    assert_eq!(&bytes(&db)[..16], b"SQLite format 3\0");
    up.err_has("dev: ready with scenario demo, seed 42");
    let demo_counts = counts(&db);
    assert_eq!(
        demo_counts.keys().map(String::as_str).collect::<Vec<_>>(),
        TABLES
    );
    assert!(demo_counts.values().all(|n| *n > 0), "{demo_counts:?}");
    assert_eq!(demo_counts["users"], 60);
    assert_eq!(demo_counts["organisations"], 6);
    assert_healthy(&db);

    // status, human and JSON.
    let status = p.ok(&["status"]);
    status
        .out_has("env        dev (development, sqlite via file)")
        .out_has("health     ok")
        .out_has("migrations 3 applied (latest 3), 0 pending")
        .out_has("data       scenario demo, seed 42");
    let json = p.ok(&["status", "--json"]).json();
    assert_eq!(json["env"], "dev");
    assert_eq!(json["health"], "ok");
    assert_eq!(json["exists"], true);
    assert_eq!(json["url"], url);
    assert_eq!(json["migrations"]["applied"], 3);
    assert_eq!(json["migrations"]["pending"], 0);
    assert_eq!(json["migrations"]["drift"], 0);
    assert_eq!(json["migrations"]["latest_applied"], 3);
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(tables.len(), TABLES.len());
    for t in tables {
        let name = t["table"].as_str().unwrap();
        let rows = t["rows"].as_i64().unwrap();
        assert!(rows > 0, "{name} has no rows");
        assert_eq!(rows, demo_counts[name], "{name}");
    }
    // Global flag placed before the command works too.
    assert_eq!(p.ok(&["--json", "status"]).json()["env"], "dev");

    // url.
    assert_eq!(p.ok(&["url"]).stdout, format!("{url}\n"));
    assert_eq!(
        p.ok(&["url", "--export"]).stdout,
        format!("export DATABASE_URL='{url}'\n")
    );
    let url_json = p.ok(&["url", "--json"]).json();
    assert_eq!(url_json["url"], url);
    assert_eq!(url_json["engine"], "sqlite");

    // reset to empty: every table, no rows.
    let empty = p.ok(&["reset", "--scenario", "empty"]);
    assert_eq!(empty.stdout.trim(), url);
    let c = counts(&db);
    assert_eq!(c.keys().map(String::as_str).collect::<Vec<_>>(), TABLES);
    assert!(c.values().all(|n| *n == 0), "{c:?}");
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);

    // Deterministic: same seed, same data; another seed, other data.
    p.ok(&["reset", "--scenario", "demo", "--seed", "7"]);
    let h7 = content_hash(&db);
    p.ok(&["reset", "--scenario", "demo", "--seed", "7"])
        .err_has("from cached template");
    assert_eq!(content_hash(&db), h7, "same seed gave different data");
    p.ok(&["reset", "--scenario", "demo", "--seed", "8"]);
    let h8 = content_hash(&db);
    assert_ne!(h7, h8, "seeds 7 and 8 gave the same data");

    // Without the template: the same data as with it.
    p.ok(&[
        "reset",
        "--scenario",
        "demo",
        "--seed",
        "7",
        "--no-template",
    ])
    .err_has("built without template");
    assert_eq!(
        content_hash(&db),
        h7,
        "--no-template differs from the template"
    );
    assert_healthy(&db);

    // seed on top of an empty database adds the scenario's rows, FKs intact.
    p.ok(&["reset", "--scenario", "empty"]);
    let seeded = p.ok(&["seed", "--scenario", "demo"]);
    seeded.out_has("users\t60").out_has("organisations\t6");
    let after_seed = counts(&db);
    for t in TABLES {
        assert!(after_seed[t] > 0, "seed added no rows to {t}");
    }
    assert_healthy(&db);
    let state = &p.ok(&["status", "--json"]).json()["state"];
    assert_eq!(state["seeded_on_top"], serde_json::json!(["demo"]));

    // A new migration: created, edited, applied.
    let created = p.ok(&["migrate", "new", "add_labels"]);
    let file = p.file("migrations/0004_add_labels.sql");
    assert!(file.is_file(), "{}", created.stdout);
    assert_eq!(created.stdout.trim(), file.display().to_string());
    p.write(
        "migrations/0004_add_labels.sql",
        "ALTER TABLE labels ADD COLUMN description TEXT;\n",
    );
    let before_migrate = counts(&db);
    p.ok(&["migrate"]).err_has("0004_add_labels.sql");
    assert!(table_columns(&db, "labels").contains(&"description".to_string()));
    assert_eq!(counts(&db), before_migrate, "migrate changed the data");
    let lines = p.ok(&["migrate", "status", "--json"]).json();
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["state"] == "applied"), "{lines:?}");
    assert_eq!(lines[3]["file"], "0004_add_labels.sql");
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
    // migrate again: nothing to do.
    p.ok(&["migrate"]);
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);

    // down without --purge keeps the data; --purge deletes it.
    p.ok(&["down"]).err_has("nothing to stop");
    assert!(db.is_file());
    p.ok(&["down", "--purge"]).err_has("deleted");
    assert!(!db.exists());
    assert!(!p.file(".dbenv/state/dev.json").exists());
    p.ok(&["status"]).out_has("not created");
}

#[test]
fn up_twice_is_idempotent() {
    let p = Project::new();
    let db = p.db("dev");
    let first = p.ok(&["up", "--seed", "3"]);
    let hash = content_hash(&db);
    let counts_before = counts(&db);
    let second = p.ok(&["up", "--seed", "5"]);
    second.err_has("dev: database exists, up to date");
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(content_hash(&db), hash, "the second `up` changed the data");
    assert_eq!(counts(&db), counts_before);
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
    // The state still says what built the data.
    assert_eq!(p.ok(&["status", "--json"]).json()["state"]["seed"], 3);
}

#[test]
fn up_applies_new_migrations_but_keeps_the_data() {
    let p = Project::new();
    let db = p.db("dev");
    p.ok(&["up"]);
    let hash = content_hash(&db);
    p.write(
        "migrations/0004_widgets.sql",
        "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    );
    p.ok(&["up"]).err_has("1 migration(s) applied");
    assert!(has_table(&db, "widgets"));
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
    // Only the new (empty) table differs.
    assert_eq!(counts(&db)["widgets"], 0);
    assert_ne!(content_hash(&db), hash); // the schema line of `widgets` is new
    p.remove("migrations/0004_widgets.sql");
}

#[test]
fn init_in_an_empty_folder_then_up() {
    let p = Project::bare();
    let init = p.ok(&["init"]);
    for f in [
        "dbenv.toml",
        "migrations/0001_initial.sql",
        "seeds/demo.toml",
    ] {
        assert!(p.file(f).is_file(), "init did not create {f}");
        init.out_has(&p.file(f).display().to_string());
    }
    assert!(
        String::from_utf8(p.read(".gitignore"))
            .unwrap()
            .contains(".dbenv/")
    );
    let up = p.ok(&["up"]);
    let db = sqlite_path_of_url(&up.stdout);
    assert_eq!(db, p.db("dev"));
    let c = counts(&db);
    assert_eq!(c["authors"], 10);
    assert!(c["posts"] > 0);
    assert_healthy(&db);

    // A second init keeps everything that exists.
    let config = p.read("dbenv.toml");
    p.ok(&["init"]).err_has("kept existing dbenv.toml");
    assert_eq!(p.read("dbenv.toml"), config);
    let gitignore = String::from_utf8(p.read(".gitignore")).unwrap();
    assert_eq!(gitignore.matches(".dbenv/").count(), 1, "{gitignore}");
}

#[test]
fn the_real_sqlite3_cli_reads_the_database() {
    if !have_tool("sqlite3", &["-version"], true) {
        return;
    }
    let p = Project::new();
    p.ok(&["up"]);
    let db = p.db("dev");
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA foreign_key_check; SELECT count(*) FROM users; PRAGMA integrity_check;")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No foreign key violation lines, then the count, then "ok".
    assert_eq!(String::from_utf8_lossy(&out.stdout), "60\nok\n");
    // And the versions sqlx-style tooling would read.
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT group_concat(version) FROM _sqlx_migrations WHERE success")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1,2,3\n");
}

/// `seed --scenario demo` on top of the demo data should add a second helping of rows.
///
/// Ignored: it currently fails with exit 2, "impossible scenario: could not find a unique
/// (organisation_id, name) for row 31 of labels": `rows = { per = "organisations" }` also
/// generates labels for the organisations that already have labels (src/seed/generate.rs,
/// `Generator::table`, groups over every parent in the key store, existing ones included),
/// while only 8 label names exist; and `check_unique_capacity` does not count the tuples
/// already taken per parent, so this is not refused before the transaction starts.
#[test]
fn seed_on_top_of_demo_data_adds_rows() {
    let p = Project::new();
    let db = p.db("dev");
    p.ok(&["up"]);
    let before = counts(&db);
    p.ok(&["seed", "--scenario", "demo"]);
    let after = counts(&db);
    assert!(after["users"] > before["users"]);
    assert!(after["organisations"] > before["organisations"]);
    assert!(after["tasks"] > before["tasks"]);
    assert_healthy(&db);
}

/// Until the bug above is fixed: the failed seed on top changes nothing.
#[test]
fn failing_seed_on_top_of_demo_data_changes_nothing() {
    let p = Project::new();
    let db = p.db("dev");
    p.ok(&["up"]);
    let hash = content_hash(&db);
    let before = counts(&db);
    let run = p.run(&["seed", "--scenario", "demo"]);
    if run.status.success() {
        // Fixed: then it must have added rows, consistently.
        assert!(counts(&db)["users"] > before["users"]);
    } else {
        run.code(2).err_has("labels");
        assert_eq!(counts(&db), before);
        assert_eq!(content_hash(&db), hash);
    }
    assert_healthy(&db);
}
