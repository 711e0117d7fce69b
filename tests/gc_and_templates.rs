//! Templates (migrated + seeded databases kept for instant resets) and `dbenv gc`.

mod common;

use common::*;

/// `demo-42-<16 hex digits>.sqlite`
fn assert_template_name(name: &str, scenario: &str, seed: u64) {
    let prefix = format!("{scenario}-{seed}-");
    let hash = name
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix(".sqlite"))
        .unwrap_or_else(|| panic!("unexpected template name {name}"));
    assert_eq!(hash.len(), 16, "{name}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
}

fn template_path(p: &Project, name: &str) -> std::path::PathBuf {
    p.file(&format!(".dbenv/templates/sqlite/{name}"))
}

#[test]
fn reset_builds_then_reuses_a_template() {
    let p = Project::new();
    let db = p.db("dev");
    assert!(p.templates().is_empty());
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("template built");
    let templates = p.templates();
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_template_name(&templates[0], "demo", 42);
    let template = template_path(&p, &templates[0]);
    assert!(
        template.with_extension("json").is_file(),
        "no info file beside the template"
    );
    // The env's data is a copy of the template's.
    assert_eq!(content_hash(&template), content_hash(&db));
    assert_eq!(applied_versions(&template), vec![1, 2, 3]);
    let info: serde_json::Value =
        serde_json::from_slice(&bytes(&template.with_extension("json"))).unwrap();
    assert_eq!(info["rows"].as_i64().unwrap(), total_rows(&db));

    // Reset again: the template is reused, not rebuilt.
    let template_bytes = bytes(&template);
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("from cached template");
    assert_eq!(p.templates(), templates);
    assert_eq!(bytes(&template), template_bytes);
    let status = p.ok(&["status", "--json"]).json();
    assert_eq!(status["state"]["template"], template.display().to_string());

    // Another seed is another template; --no-template builds none.
    p.ok(&["reset", "--scenario", "demo", "--seed", "9"]);
    assert_eq!(p.templates().len(), 2);
    assert!(p.templates().iter().any(|t| t.starts_with("demo-9-")));
    p.ok(&[
        "reset",
        "--scenario",
        "demo",
        "--seed",
        "10",
        "--no-template",
    ]);
    assert_eq!(p.templates().len(), 2);
    assert!(p.ok(&["status", "--json"]).json()["state"]["template"].is_null());
}

#[test]
fn new_migration_means_new_template_and_gc_removes_the_stale_one() {
    let p = Project::new();
    let db = p.db("dev");
    p.ok(&["reset", "--scenario", "demo"]);
    let old = p.templates();
    assert_eq!(old.len(), 1);

    p.write(
        "migrations/0004_widgets.sql",
        "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    );
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("template built");
    let both = p.templates();
    assert_eq!(both.len(), 2, "{both:?}");
    let new: Vec<_> = both.iter().filter(|t| !old.contains(t)).cloned().collect();
    assert_eq!(new.len(), 1);
    assert_template_name(&new[0], "demo", 42);
    assert!(has_table(&db, "widgets"));
    assert!(has_table(&template_path(&p, &new[0]), "widgets"));
    assert!(!has_table(&template_path(&p, &old[0]), "widgets"));

    // Dry run: lists the stale template and its info file, removes nothing.
    let before = p.snapshot();
    let dry = p.ok(&["gc", "--dry-run"]);
    let stale = template_path(&p, &old[0]);
    dry.out_has(&stale.display().to_string())
        .out_has(&stale.with_extension("json").display().to_string())
        .err_has("would remove 2 file(s)")
        .err_has("kept 1 current template(s)");
    assert!(!dry.stdout.contains(&new[0]), "{}", dry.stdout);
    p.assert_unchanged(&before);
    let json = p.ok(&["--json", "gc", "--dry-run"]).json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["kept_templates"], 1);
    assert_eq!(json["removed"].as_array().unwrap().len(), 2);
    assert!(json["freed_bytes"].as_u64().unwrap() > 0);
    p.assert_unchanged(&before);

    // gc: the stale one goes, the current one and the env's database stay.
    let hash = content_hash(&db);
    let gc = p.ok(&["gc"]);
    gc.out_has(&stale.display().to_string())
        .err_has("removed 2 file(s)");
    assert_eq!(p.templates(), new);
    assert!(!stale.exists() && !stale.with_extension("json").exists());
    assert!(template_path(&p, &new[0]).with_extension("json").is_file());
    assert_eq!(content_hash(&db), hash);
    // Nothing more to collect; the current template still serves resets.
    p.ok(&["gc"]).err_has("removed 0 file(s)");
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("from cached template");
}

#[test]
fn editing_the_scenario_changes_the_template_key() {
    let p = Project::new();
    let db = p.db("dev");
    p.ok(&["reset", "--scenario", "demo"]);
    let first = p.templates();
    let hash = content_hash(&db);

    // Even a comment makes a new key (the key digests the file).
    let mut demo = p.read("seeds/demo.toml");
    demo.extend_from_slice(b"\n# a comment\n");
    p.write("seeds/demo.toml", &demo);
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("template built");
    let second = p.templates();
    assert_eq!(second.len(), 2, "{second:?}");
    assert_eq!(content_hash(&db), hash, "a comment changed the data");

    // A real change: other data.
    let text = String::from_utf8(demo)
        .unwrap()
        .replace("rows = 60", "rows = 61");
    p.write("seeds/demo.toml", &text);
    p.ok(&["reset", "--scenario", "demo"])
        .err_has("template built");
    assert_eq!(p.templates().len(), 3);
    assert_eq!(counts(&db)["users"], 61);

    p.ok(&["gc"]).err_has("removed 4 file(s)");
    let kept = p.templates();
    assert_eq!(kept.len(), 1);
    assert!(!second.contains(&kept[0]), "gc kept a stale template");
    assert!(second.contains(&first[0]));
    assert_eq!(counts(&template_path(&p, &kept[0]))["users"], 61);
}

#[test]
fn gc_removes_what_no_env_owns() {
    let p = Project::new();
    let config = String::from_utf8(p.read("dbenv.toml")).unwrap();
    p.write(
        "dbenv.toml",
        format!("{config}\n[env.feature]\nengine = \"sqlite\"\nscenario = \"demo\"\n"),
    );
    p.ok(&["up"]);
    p.ok(&["up", "feature"]);
    let feature = p.db("feature");
    assert!(feature.is_file());
    assert!(p.file(".dbenv/state/feature.json").is_file());

    // A temporary file of a dead dbenv, and one of a live process (this test).
    let dead = p.file(".dbenv/dev.sqlite.dbenv-tmp.999999999");
    let live = p.file(&format!(
        ".dbenv/dev.sqlite.dbenv-tmp.{}",
        std::process::id()
    ));
    std::fs::write(&dead, "half-built").unwrap();
    std::fs::write(&live, "being built").unwrap();

    // Schedule state (last runs) of both envs.
    for env in ["dev", "feature"] {
        p.write(
            &format!(".dbenv/schedule/{env}/backup.json"),
            r#"{"scheduled":"2026-11-24T03:00:00Z"}"#,
        );
    }

    // While feature is in dbenv.toml, gc keeps its database and schedule state.
    p.ok(&["gc"]);
    assert!(feature.is_file());
    assert!(p.file(".dbenv/schedule/feature/backup.json").is_file());
    assert!(!dead.exists(), "the dead process's temporary file stayed");
    assert!(
        live.exists(),
        "gc removed the temporary file of a running process"
    );

    // Gone from dbenv.toml: its database and state go, dev's stay.
    p.write("dbenv.toml", &config);
    let dev_hash = content_hash(&p.db("dev"));
    let before = p.snapshot();
    p.ok(&["gc", "--dry-run"])
        .out_has(&feature.display().to_string());
    p.assert_unchanged(&before);
    p.ok(&["gc"])
        .out_has(&feature.display().to_string())
        .out_has("feature.json")
        .out_has("schedule/feature/backup.json");
    assert!(!feature.exists());
    assert!(!p.file(".dbenv/schedule/feature").exists());
    assert!(p.file(".dbenv/schedule/dev/backup.json").is_file());
    assert!(!p.file(".dbenv/state/feature.json").exists());
    assert_eq!(content_hash(&p.db("dev")), dev_hash);
    assert!(p.file(".dbenv/state/dev.json").is_file());
    assert_eq!(p.templates().len(), 1, "the shared template is current");
}
