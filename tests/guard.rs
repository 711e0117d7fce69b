//! The production guard: destructive commands on a production env exit 3 unless given
//! `--force --confirm ENV`, and refusals leave the data untouched.

mod common;

use common::*;

const CONFIG: &str = r#"[project]
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"

[env.live]
kind = "production"
engine = "sqlite"
path = "data/live.sqlite"
scenario = "demo"

# No kind: an env called prod is production.
[env.prod]
engine = "sqlite"
scenario = "demo"
"#;

fn project() -> Project {
    let p = Project::with_config(CONFIG);
    p.write(
        "migrations/0004_widgets.up.sql",
        "CREATE TABLE widgets (id INTEGER PRIMARY KEY);\n",
    );
    p.write("migrations/0004_widgets.down.sql", "DROP TABLE widgets;\n");
    p.write("seeds/extra.toml", "rows = 0\n\n[tables.users]\nrows = 5\n");
    p
}

/// The destructive commands, with the words of their refusal.
fn destructive(env: &str) -> Vec<(Vec<String>, &'static str)> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["reset", env, "--scenario", "empty"]), "reset"),
        (v(&["seed", env, "--scenario", "extra"]), "seed"),
        (v(&["down", env, "--purge"]), "purge the data"),
        (v(&["migrate", "down", env]), "revert migrations"),
    ]
}

fn refusals_change_nothing(p: &Project, env: &str, db: &std::path::Path) {
    let before = p.snapshot();
    let hash = content_hash(db);
    for (args, action) in destructive(env) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let with = |extra: &[&'static str]| -> Vec<String> {
            args.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        p.run(&args).code(3).err_has(&format!(
            "refusing to {action} on {env}: it is a production env; if you really mean it, add --force --confirm {env}"
        ));
        let run = |a: Vec<String>| p.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        run(with(&["--force"])).code(3).err_has(&format!(
            "refusing to {action} on {env}: confirm with --confirm {env}"
        ));
        run(with(&["--force", "--confirm", "dev"])).code(3).err_has(&format!(
            "refusing to {action} on {env}: the confirmation \"dev\" does not match the env name"
        ));
        let mut confirm_only = with(&["--confirm"]);
        confirm_only.push(env.to_string());
        run(confirm_only).code(3).err_has("production env");
        let mut upper = with(&["--force", "--confirm"]);
        upper.push(env.to_uppercase());
        run(upper).code(3).err_has("does not match");
    }
    p.assert_unchanged(&before);
    assert_eq!(content_hash(db), hash);
    assert_eq!(applied_versions(db), vec![1, 2, 3, 4]);
}

fn forced_operations_work(p: &Project, env: &str, db: &std::path::Path) {
    let confirm = ["--force", "--confirm", env];
    let users = counts(db)["users"];

    p.ok(&[&["migrate", "down", env][..], &confirm].concat())
        .out_has("reverted 0004_widgets.down.sql");
    assert!(!has_table(db, "widgets"));
    assert_eq!(applied_versions(db), vec![1, 2, 3]);
    // Applying migrations shows the plan and asks first: without a terminal, --yes.
    p.run(&["migrate", env])
        .code(3)
        .err_has("0004_widgets.up.sql (version 4")
        .err_has("pass --yes");
    assert!(!has_table(db, "widgets"));
    p.ok(&["migrate", env, "--yes"]);
    assert!(has_table(db, "widgets"));

    p.ok(&[&["seed", env, "--scenario", "extra"][..], &confirm].concat());
    assert_eq!(counts(db)["users"], users + 5);

    p.ok(&[&["reset", env, "--scenario", "empty"][..], &confirm].concat());
    assert_eq!(total_rows(db), 0);

    p.ok(&[&["down", env, "--purge"][..], &confirm].concat());
    assert!(!db.exists());
}

#[test]
fn production_kind_env() {
    let p = project();
    // `up` is not destructive: allowed.
    let up = p.ok(&["up", "live"]);
    let db = p.file("data/live.sqlite");
    assert_eq!(sqlite_path_of_url(&up.stdout), db);
    assert!(counts(&db)["users"] > 0);
    assert_eq!(
        p.ok(&["status", "live", "--json"]).json()["kind"],
        "production"
    );
    refusals_change_nothing(&p, "live", &db);
    forced_operations_work(&p, "live", &db);
}

#[test]
fn env_named_prod_is_production() {
    let p = project();
    p.ok(&["up", "prod"]);
    let db = p.db("prod");
    assert_eq!(
        p.ok(&["status", "prod", "--json"]).json()["kind"],
        "production"
    );
    refusals_change_nothing(&p, "prod", &db);
    forced_operations_work(&p, "prod", &db);
}

#[test]
fn development_env_needs_no_confirmation() {
    let p = project();
    p.ok(&["up"]);
    let db = p.db("dev");
    p.ok(&["migrate", "down"]);
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
    p.ok(&["reset", "--scenario", "empty"]);
    assert_eq!(total_rows(&db), 0);
    p.ok(&["seed", "--scenario", "extra"]);
    assert_eq!(counts(&db)["users"], 5);
    p.ok(&["down", "--purge"]);
    assert!(!db.exists());
}

#[test]
fn guard_refuses_before_checking_anything_else() {
    // No database yet: still exit 3 (not "run dbenv up first"), and nothing is created.
    let p = project();
    let before = p.snapshot();
    p.run(&["reset", "live", "--scenario", "empty"]).code(3);
    p.run(&["seed", "prod", "--scenario", "nope"]).code(3);
    p.run(&["migrate", "down", "live"]).code(3);
    p.assert_unchanged(&before);
    assert!(!p.file("data/live.sqlite").exists());
    assert!(!p.db("prod").exists());
}

#[test]
fn up_never_applies_migrations_to_an_existing_production_database() {
    let p = project();
    p.ok(&["up", "live"]);
    p.ok(&["up", "dev"]);
    let (live, dev) = (p.file("data/live.sqlite"), p.db("dev"));
    assert_eq!(applied_versions(&live), vec![1, 2, 3, 4]);
    // Nothing pending: `up` is idempotent on production too.
    p.ok(&["up", "live"]);

    p.write(
        "migrations/0005_gadgets.up.sql",
        "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);\n",
    );
    let hash = content_hash(&live);
    p.run(&["up", "live"])
        .code(3)
        .err_has("env live is a production env with 1 pending migration(s) (0005_gadgets.up.sql)")
        .err_has("`up` does not apply migrations to a production env")
        .err_has("dbenv migrate live");
    assert_eq!(
        content_hash(&live),
        hash,
        "the refused `up` changed the database"
    );

    // A development env's `up` still applies them, and `migrate --yes` does on production.
    p.ok(&["up", "dev"]);
    assert_eq!(applied_versions(&dev), vec![1, 2, 3, 4, 5]);
    p.ok(&["migrate", "live", "--yes"]);
    assert_eq!(applied_versions(&live), vec![1, 2, 3, 4, 5]);
    p.ok(&["up", "live"]);
}
