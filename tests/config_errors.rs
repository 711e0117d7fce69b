//! Mistakes in dbenv.toml: exit code 2, a message saying where (file:line:column) and how
//! to fix, secrets never echoed, and nothing created or changed on disk.

mod common;

use common::*;

const ENVS: &str = r#"[project]
migrations = "migrations"
seeds = "seeds"
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"

[env.staging]
engine = "sqlite"
"#;

/// A project with a working dev database, then `config` as its dbenv.toml.
fn broken(config: &str) -> Project {
    let p = Project::with_config(ENVS);
    p.ok(&["up"]);
    p.write("dbenv.toml", config);
    p
}

#[test]
fn malformed_toml_is_located() {
    let p = broken("[project]\nmigrations = \"migrations\"\n\n[env.dev]\nengine = \"sqlite\n");
    let before = p.snapshot();
    for args in [
        &["status"][..],
        &["up"],
        &["reset", "--scenario", "empty"],
        &["migrate"],
    ] {
        p.run(args)
            .code(2)
            .err_has("dbenv.toml:5:17: invalid TOML")
            .err_has(&p.file("dbenv.toml").display().to_string());
    }
    p.assert_unchanged(&before);
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let p = broken("[project]\nmigrations = \"migrations\"\n\n[env.dev]\nenigne = \"sqlite\"\n");
    let before = p.snapshot();
    p.run(&["up"])
        .code(2)
        .err_has("dbenv.toml:5:1: unknown key \"enigne\" in [env.dev] (did you mean \"engine\"?)");
    p.run(&["url"]).code(2).err_has("did you mean \"engine\"");
    p.assert_unchanged(&before);
}

#[test]
fn unknown_section_is_located() {
    let p = broken("[projet]\nmigrations = \"migrations\"\n\n[env.dev]\nengine = \"sqlite\"\n");
    let before = p.snapshot();
    p.run(&["status"])
        .code(2)
        .err_has("dbenv.toml:1:")
        .err_has("unknown section \"projet\"")
        .err_has("\"project\"");
    p.assert_unchanged(&before);
}

#[test]
fn unknown_env_lists_the_envs() {
    let p = Project::with_config(ENVS);
    p.ok(&["up"]);
    let before = p.snapshot();
    p.run(&["status", "stagin"])
        .code(2)
        .err_has("unknown env \"stagin\"")
        .err_has("did you mean \"staging\"?")
        .err_has("envs in dbenv.toml: dev, staging");
    p.run(&["up", "zzz"])
        .code(2)
        .err_has("unknown env \"zzz\" (envs in dbenv.toml: dev, staging)");
    p.run(&["reset", "stagin", "--scenario", "empty"]).code(2);
    p.run(&["down", "stagin", "--purge"]).code(2);
    p.run(&["migrate", "stagin"]).code(2);
    p.run(&["url", "stagin"]).code(2).err_has("staging");
    assert!(!p.db("stagin").exists());
    p.assert_unchanged(&before);
}

#[test]
fn default_env_that_does_not_exist() {
    let p = broken(&ENVS.replace("default_env = \"dev\"", "default_env = \"local\""));
    let before = p.snapshot();
    // Checked when the file is loaded, whatever the command names.
    for args in [&["up"][..], &["status", "dev"]] {
        p.run(args).code(2).err_has(
            "dbenv.toml:4:15: default_env \"local\" in [project] is not an env of this file (envs: dev, staging)",
        );
    }
    p.assert_unchanged(&before);
}

#[test]
fn bad_engine_value_lists_the_engines() {
    let p = broken("[project]\nmigrations = \"migrations\"\n\n[env.dev]\nengine = \"oracle\"\n");
    let before = p.snapshot();
    p.run(&["up"])
        .code(2)
        .err_has("dbenv.toml:5:10: invalid engine \"oracle\" in [env.dev]")
        .err_has("sqlite, postgres, mysql, mariadb");
    p.assert_unchanged(&before);
}

#[test]
fn bad_kind_value() {
    let p = broken("[env.dev]\nengine = \"sqlite\"\nkind = \"prod\"\n");
    let before = p.snapshot();
    p.run(&["up"])
        .code(2)
        .err_has("dbenv.toml:3:8")
        .err_has("\"prod\"")
        .err_has("production");
    p.assert_unchanged(&before);
}

const SECRET_USER: &str = "s3cr3t-user-value";
const LITERAL_PASSWORD: &str = "literal-hunter2-password";

fn with_prod_vars() -> Project {
    Project::with_config(&format!(
        r#"[project]
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"

[env.prod]
engine = "postgres"
url = "postgres://${{DBENV_IT_USER}}:${{DBENV_IT_UNSET_PW}}@db.example.com/app"
password = "{LITERAL_PASSWORD}"

[env.archive]
engine = "sqlite"
path = "${{DBENV_IT_UNSET_DIR}}/archive.sqlite"
"#
    ))
}

#[test]
fn unset_variable_of_another_env_does_not_break_dev() {
    let p = with_prod_vars();
    let vars = [("DBENV_IT_USER", SECRET_USER)];
    let up = p.run_with(&["up", "dev"], &vars);
    up.code(0);
    assert!(p.db("dev").is_file());
    p.run_with(&["status", "dev"], &vars).code(0);
    p.run_with(&["url"], &vars).code(0).out_has("sqlite://");
}

#[test]
fn unset_variable_breaks_its_env_without_leaking_secrets() {
    let p = with_prod_vars();
    let vars = [("DBENV_IT_USER", SECRET_USER)];
    p.ok(&["up", "dev"]);
    let before = p.snapshot();
    let url = p.run_with(&["url", "prod"], &vars);
    url.code(2)
        .err_has("dbenv.toml:10:7: url in [env.prod] uses ${DBENV_IT_UNSET_PW}, which is not set")
        .err_has("set it in the environment or in .env");
    assert!(url.stdout.is_empty(), "stdout: {}", url.stdout);
    for run in [
        url,
        p.run_with(&["url", "prod", "--json"], &vars),
        p.run_with(&["url", "prod", "--export"], &vars),
        p.run_with(&["-vv", "status", "prod"], &vars),
    ] {
        run.never_says(SECRET_USER).never_says(LITERAL_PASSWORD);
        assert_ne!(run.status.code(), Some(0), "{}", run.args);
    }
    // The sqlite env whose path uses an unset variable: refused, nothing created.
    p.run(&["up", "archive"])
        .code(2)
        .err_has("path in [env.archive] uses ${DBENV_IT_UNSET_DIR}, which is not set");
    p.assert_unchanged(&before);

    // Once the variable is set, the URL expands (the positive control).
    let full = [("DBENV_IT_USER", SECRET_USER), ("DBENV_IT_UNSET_PW", "pw")];
    p.run_with(&["url", "prod", "--show-password"], &full)
        .code(0)
        .out_has(&format!("postgres://{SECRET_USER}:pw@db.example.com/app"));
    // Without --show-password, a production env's URL hides the password.
    p.run_with(&["url", "prod"], &full)
        .code(0)
        .out_has(&format!("postgres://{SECRET_USER}:***@db.example.com/app"))
        .err_has("--show-password");
}

#[test]
fn variables_from_dot_env() {
    let p = with_prod_vars();
    p.write(".env", "DBENV_IT_USER=app\nDBENV_IT_UNSET_PW=from-dotenv\n");
    p.ok(&["url", "prod", "--show-password"])
        .out_has("postgres://app:from-dotenv@db.example.com/app");
    // The process environment wins over .env.
    p.run_with(
        &["url", "prod", "--show-password"],
        &[("DBENV_IT_USER", "other")],
    )
    .code(0)
    .out_has("postgres://other:from-dotenv@");
}

#[test]
fn no_config_file() {
    let p = Project::bare();
    for args in [&["status"][..], &["up"], &["migrate"], &["url"]] {
        p.run(args)
            .code(2)
            .err_has("no dbenv.toml in")
            .err_has("run `dbenv init`");
    }
    assert!(p.snapshot().is_empty(), "{:?}", p.snapshot().keys());
    assert!(!p.file(".dbenv").exists());
}

#[test]
fn explicit_config_path() {
    let p = Project::new();
    let sub = p.file("somewhere/else");
    std::fs::create_dir_all(&sub).unwrap();
    let config = p.file("dbenv.toml");
    let mut cmd = p.cmd();
    cmd.current_dir(&sub)
        .args(["--config", config.to_str().unwrap(), "url"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("sqlite://{}", p.db("dev").display())
    );
    // A --config that does not exist: exit 2, the path in the message.
    p.run(&["--config", "nope.toml", "status"])
        .code(2)
        .err_has("nope.toml");
    // Discovery from a subfolder finds the project's dbenv.toml.
    let mut cmd = p.cmd();
    cmd.current_dir(&sub).arg("url");
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&p.db("dev").display().to_string()));
}

#[test]
fn bad_command_line_is_exit_2() {
    let p = Project::new();
    p.run(&["frobnicate"]).code(2);
    p.run(&["reset", "--seed", "not-a-number"]).code(2);
    p.run(&["--lock-timeout", "soon", "status"]).code(2);
    assert!(!p.file(".dbenv").exists());
}
