//! Every error message, exactly as the user sees it.

use std::path::Path;

use super::*;

const F: &str = "/proj/dbenv.toml";

fn err(text: &str) -> String {
    match Config::from_str(text, Path::new(F)) {
        Ok(c) => panic!("expected an error, got {c:#?}"),
        Err(e) => {
            assert!(e.is_usage());
            e.to_string().replace(F, "dbenv.toml")
        }
    }
}

fn ok(text: &str) -> Config {
    Config::from_str(text, Path::new(F)).unwrap()
}

#[test]
fn malformed_toml() {
    assert_eq!(
        err("[project]\nmigrations = \"m\"\nseeds = \n"),
        "dbenv.toml:3:9: invalid TOML: string values must be quoted, expected literal string"
    );
    assert_eq!(
        err("[env.dev]\nengine = \"sqlite\"\nengine = \"postgres\"\n"),
        "dbenv.toml:3:1: invalid TOML: duplicate key"
    );
}

#[test]
fn unknown_keys_everywhere() {
    assert_eq!(
        err("[env.dev]\nenigne = \"sqlite\"\n"),
        "dbenv.toml:2:1: unknown key \"enigne\" in [env.dev] (did you mean \"engine\"?)"
    );
    assert_eq!(
        err("[project]\nmigrashuns = \"m\"\n"),
        "dbenv.toml:2:1: unknown key \"migrashuns\" in [project] (did you mean \"migrations\"?)"
    );
    assert_eq!(
        err("[project]\nzzz = 1\n"),
        "dbenv.toml:2:1: unknown key \"zzz\" in [project] (valid keys: migrations, seeds, default_env)"
    );
    assert_eq!(
        err("[env.p]\nengine = \"postgres\"\n[env.p.replication]\nwarn_lagg = \"1s\"\n"),
        "dbenv.toml:4:1: unknown key \"warn_lagg\" in [env.p.replication] (did you mean \"warn_lag\"?)"
    );
    assert_eq!(
        err("[env.p.backup]\ndir = \"b\"\ncompresion = \"zstd\"\n"),
        "dbenv.toml:3:1: unknown key \"compresion\" in [env.p.backup] (did you mean \"compression\"?)"
    );
    assert_eq!(
        err("[env.p.backup]\ndir = \"b\"\nkeep = { last = 1, dayly = 2 }\n"),
        "dbenv.toml:3:20: unknown key \"dayly\" in [env.p.backup.keep] (did you mean \"daily\"?)"
    );
    assert_eq!(
        err("[enviroment.dev]\n"),
        "dbenv.toml:1:2: unknown section \"enviroment\" (did you mean \"env\"?)"
    );
    assert_eq!(
        err("[zzz]\n"),
        "dbenv.toml:1:2: unknown section \"zzz\" (valid sections: project, env)"
    );
    assert_eq!(
        err("engine = \"sqlite\"\n"),
        "dbenv.toml:1:1: key \"engine\" belongs in an [env.<name>] table, not at the top level"
    );
    assert_eq!(
        err("seeds = \"s\"\n"),
        "dbenv.toml:1:1: key \"seeds\" belongs in [project], not at the top level"
    );
}

#[test]
fn bad_enum_values() {
    assert_eq!(
        err("\n\n\n[env.dev]\nengine = \"sqlit\"\n"),
        "dbenv.toml:5:10: invalid engine \"sqlit\" in [env.dev] (expected one of sqlite, postgres, mysql, mariadb; did you mean \"sqlite\"?)"
    );
    assert_eq!(
        err("[env.dev]\nengine = \"oracle\"\n"),
        "dbenv.toml:2:10: invalid engine \"oracle\" in [env.dev] (expected one of sqlite, postgres, mysql, mariadb)"
    );
    assert_eq!(
        err("[env.dev]\nkind = \"prod\"\n"),
        "dbenv.toml:2:8: invalid kind \"prod\" in [env.dev] (expected one of development, production; did you mean \"production\"?)"
    );
    assert_eq!(
        err("[env.x]\nengine = \"postgres\"\nprovider = \"containr\"\n"),
        "dbenv.toml:3:12: invalid provider \"containr\" in [env.x] (expected one of file, container, native, external; did you mean \"container\"?)"
    );
    assert_eq!(
        err("[env.x]\nengine = \"postgres\"\npull = \"allways\"\n"),
        "dbenv.toml:3:8: invalid pull \"allways\" in [env.x] (expected one of missing, always, never; did you mean \"always\"?)"
    );
    assert_eq!(
        err("[env.x.backup]\ndir = \"b\"\ncompression = \"gzip\"\n"),
        "dbenv.toml:3:15: invalid compression \"gzip\" in [env.x.backup] (expected one of zstd, none)"
    );
    assert_eq!(
        err("[env.x.backup]\ndir = \"b\"\ncompression_level = 22\n"),
        "dbenv.toml:3:21: compression_level in [env.x.backup] must be an integer between -10 and 19, found 22"
    );
    assert_eq!(
        err("[env.x]\nengine = 5\n"),
        "dbenv.toml:2:10: engine in [env.x] must be a string (one of sqlite, postgres, mysql, mariadb), found 5"
    );
}

#[test]
fn bad_numbers() {
    let pg = "[env.dev]\nengine = \"postgres\"\n";
    assert_eq!(
        err(&format!("{pg}port = \"abc\"\n")),
        "dbenv.toml:3:8: port in [env.dev] must be an integer between 0 and 65535, found \"abc\""
    );
    assert_eq!(
        err(&format!("{pg}port = -1\n")),
        "dbenv.toml:3:8: port in [env.dev] must be an integer between 0 and 65535, found -1"
    );
    assert_eq!(
        err(&format!("{pg}port = 70_000\n")),
        "dbenv.toml:3:8: port in [env.dev] must be an integer between 0 and 65535, found 70_000"
    );
    assert_eq!(
        err("[env.dev]\nseed = -3\n"),
        "dbenv.toml:2:8: seed in [env.dev] must be a non-negative integer, found -3"
    );
    assert_eq!(
        err("[env.x.backup]\ndir = \"b\"\nkeep = { weekly = -1 }\n"),
        "dbenv.toml:3:19: weekly in [env.x.backup.keep] must be an integer between 0 and 4294967295, found -1"
    );
    assert_eq!(
        err("[env.x.backup]\ndir = \"b\"\nverify = \"yes\"\n"),
        "dbenv.toml:3:10: verify in [env.x.backup] must be true or false, found \"yes\""
    );
}

#[test]
fn bad_durations_and_sizes() {
    assert_eq!(
        err("[env.prod]\nlock_timeout = \"10 parsecs\"\n"),
        "dbenv.toml:2:16: invalid duration \"10 parsecs\" for lock_timeout in [env.prod] (accepted forms: 500ms, 10s, 5min, 2h, 1d)"
    );
    assert_eq!(
        err("[env.prod]\nstatement_timeout = 10\n"),
        "dbenv.toml:2:21: invalid duration 10 for statement_timeout in [env.prod] (accepted forms: 500ms, 10s, 5min, 2h, 1d)"
    );
    let repl = "[env.p]\nengine = \"postgres\"\n[env.p.replication]\n";
    assert_eq!(
        err(&format!("{repl}warn_bytes = \"16 megs\"\n")),
        "dbenv.toml:4:14: invalid byte size \"16 megs\" for warn_bytes in [env.p.replication] (accepted forms: 123, \"512kB\", \"16MB\", \"1GiB\")"
    );
    assert_eq!(
        err(&format!("{repl}warn_lag = \"1min\"\ncrit_lag = \"10s\"\n")),
        "dbenv.toml:4:12: warn_lag in [env.p.replication] must not be greater than crit_lag (warnings come before critical alerts)"
    );
}

#[test]
fn sqlite_only_and_server_only_keys() {
    assert_eq!(
        err("[env.pg]\nengine = \"postgres\"\npath = \"x.db\"\n"),
        "dbenv.toml:3:1: path in [env.pg] is only for sqlite, but engine is \"postgres\" (remove it; server engines use a provider or url)"
    );
    for key in [
        "image = \"postgres:16\"",
        "pull = \"always\"",
        "port = 5432",
    ] {
        let name = key.split(' ').next().unwrap();
        assert_eq!(
            err(&format!("[env.dev]\n{key}\n")),
            format!(
                "dbenv.toml:2:1: {name} in [env.dev] is only for server engines, but engine is \"sqlite\" (remove it, or set engine to postgres, mysql or mariadb)"
            )
        );
    }
    assert_eq!(
        err("[env.dev]\nurl = \"sqlite://x\"\n"),
        "dbenv.toml:2:1: url in [env.dev] is only for server engines, but engine is \"sqlite\" (use path = \"…\" for the database file)"
    );
    assert_eq!(
        err("[env.dev]\nprovider = \"container\"\n"),
        "dbenv.toml:2:12: provider \"container\" in [env.dev] is not available for sqlite (sqlite envs use provider \"file\"; set engine to use a server)"
    );
}

#[test]
fn provider_combinations() {
    let pg = "[env.x]\nengine = \"postgres\"\n";
    assert_eq!(
        err(&format!("{pg}provider = \"file\"\n")),
        "dbenv.toml:3:12: provider \"file\" in [env.x] is only for sqlite (use container, native or external for postgres)"
    );
    assert_eq!(
        err(&format!(
            "{pg}provider = \"container\"\nurl = \"postgres://h/db\"\n"
        )),
        "dbenv.toml:4:1: url in [env.x] cannot be used with provider \"container\", which starts its own server (remove url, or set provider = \"external\")"
    );
    assert_eq!(
        err(&format!(
            "{pg}provider = \"native\"\nurl = \"postgres://h/db\"\n"
        )),
        "dbenv.toml:4:1: url in [env.x] cannot be used with provider \"native\", which starts its own server (remove url, or set provider = \"external\")"
    );
    assert_eq!(
        err(&format!("{pg}provider = \"external\"\n")),
        "dbenv.toml:3:12: provider \"external\" in [env.x] needs a url (for example url = \"${DATABASE_URL}\")"
    );
    assert_eq!(
        err(&format!("{pg}url = \"postgres://h/db\"\nport = 5\n")),
        "dbenv.toml:4:1: port in [env.x] does not apply to provider \"external\" (put the port in url)"
    );
    assert_eq!(
        err(&format!(
            "{pg}provider = \"native\"\nimage = \"postgres:16\"\n"
        )),
        "dbenv.toml:4:1: image in [env.x] only applies to provider \"container\", but provider is \"native\""
    );
    assert_eq!(
        err(&format!("{pg}bin_dir = \"/usr/bin\"\n")),
        "dbenv.toml:3:1: bin_dir in [env.x] only applies to provider \"native\", but provider is \"container\""
    );
}

#[test]
fn env_names_and_default_env() {
    assert_eq!(
        err("[env.\"dev x\"]\n"),
        "dbenv.toml:1:6: invalid env name \"dev x\" (use only letters, digits, \"-\" and \"_\")"
    );
    assert_eq!(
        err("[env]\ndev = \"sqlite\"\n"),
        "dbenv.toml:2:1: env \"dev\" must be a table (write [env.dev] and put its keys below)"
    );
    assert_eq!(
        err("[project]\ndefault_env = \"dvv\"\n[env.dev]\n[env.prod]\n"),
        "dbenv.toml:2:15: default_env \"dvv\" in [project] is not an env of this file (did you mean \"dev\"?)"
    );
    assert_eq!(
        err("[project]\ndefault_env = \"qa\"\n[env.dev]\n[env.prod]\n"),
        "dbenv.toml:2:15: default_env \"qa\" in [project] is not an env of this file (envs: dev, prod)"
    );
    assert_eq!(
        err("env = 3\n"),
        "dbenv.toml:1:7: env in dbenv.toml must be a table ([env]), found 3"
    );
}

#[test]
fn unknown_env_lookup() {
    let c = ok("[env.dev]\n[env.staging]\n[env.prod]\n");
    assert_eq!(
        c.env(Some("stagin")).unwrap_err().to_string(),
        "unknown env \"stagin\" (did you mean \"staging\"? envs in dbenv.toml: dev, staging, prod)"
    );
    assert_eq!(
        c.env(Some("qa")).unwrap_err().to_string(),
        "unknown env \"qa\" (envs in dbenv.toml: dev, staging, prod)"
    );
    let c = ok("[env.prod]\n");
    assert_eq!(
        c.env(None).unwrap_err().to_string(),
        "no env given and the default env \"dev\" is not in dbenv.toml (envs in dbenv.toml: prod; pass an env name or set default_env in [project])"
    );
    let c = ok("[env]\n");
    assert_eq!(
        c.env(Some("dev")).unwrap_err().to_string(),
        "unknown env \"dev\" (dbenv.toml defines no envs)"
    );
}

#[test]
fn folders_must_stay_inside_root() {
    assert_eq!(
        err("[project]\nmigrations = \"../shared/migrations\"\n"),
        "dbenv.toml:2:14: migrations in [project] must be a folder inside the project root, found \"../shared/migrations\" (use a relative path such as \"migrations\")"
    );
    assert_eq!(
        err("[project]\nseeds = \"/etc/seeds\"\n"),
        "dbenv.toml:2:9: seeds in [project] must be a folder inside the project root, found \"/etc/seeds\" (use a relative path such as \"seeds\")"
    );
    let c = ok("[project]\nmigrations = \"db/../db/migrations\"\n");
    assert_eq!(c.project.migrations, Path::new("/proj/db/migrations"));
    // An env's own migrations folder follows the same rule.
    assert_eq!(
        err("[env.pg]\nengine = \"postgres\"\nmigrations = \"../pg\"\n"),
        "dbenv.toml:3:14: migrations in [env.pg] must be a folder inside the project root, found \"../pg\" (use a relative path such as \"migrations/postgres\")"
    );
    let c = ok("[env.pg]\nengine = \"postgres\"\nmigrations = \"migrations/postgres\"\n");
    assert_eq!(
        c.envs["pg"].migrations.as_deref(),
        Some(Path::new("/proj/migrations/postgres"))
    );
}

#[test]
fn variable_syntax_checked_at_load() {
    let prod = "[env.prod]\nengine = \"postgres\"\n";
    assert_eq!(
        err(&format!("{prod}url = \"${{DATABASE_URL\"\n")),
        "dbenv.toml:3:7: url in [env.prod] has a malformed variable reference: unclosed \"${\" (write ${NAME} or ${NAME:-default}, and $$ for a literal $)"
    );
    assert_eq!(
        err(&format!("{prod}url = \"${{}}\"\n")),
        "dbenv.toml:3:7: url in [env.prod] has a malformed variable reference: empty variable name in \"${}\" (write ${NAME} or ${NAME:-default}, and $$ for a literal $)"
    );
    assert_eq!(
        err(&format!(
            "{prod}url = \"x\"\nreplicas = [\"ok\", \"${{1BAD}}\"]\n"
        )),
        "dbenv.toml:4:19: replicas[1] in [env.prod] has a malformed variable reference: invalid variable name (use letters, digits and _, not starting with a digit) (write ${NAME} or ${NAME:-default}, and $$ for a literal $)"
    );
}

#[test]
fn secrets_never_echoed() {
    let prod = "[env.prod]\nengine = \"postgres\"\n";
    let e = err(&format!("{prod}password = 12345678\n"));
    assert_eq!(
        e,
        "dbenv.toml:3:12: password in [env.prod] must be a string, found an integer"
    );
    let e = err(&format!("{prod}password = \"hunter2${{oops\"\n"));
    assert!(!e.contains("hunter2"), "{e}");
    let e = err(&format!("{prod}url = [\"postgres://u:hunter2@h\"]\n"));
    assert_eq!(
        e,
        "dbenv.toml:3:7: url in [env.prod] must be a string, found an array"
    );
    let c = ok(&format!(
        "{prod}url = \"postgres://u:${{DBENV_T_NEVER_SET_1}}@h\"\npassword = \"hunter2\"\n"
    ));
    let env = c.env(Some("prod")).unwrap();
    let debug = format!("{env:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("postgres://"),
        "{debug}"
    );
    let e = env.url.as_ref().unwrap().resolve().unwrap_err().to_string();
    assert_eq!(
        e,
        "/proj/dbenv.toml:3:7: url in [env.prod] uses ${DBENV_T_NEVER_SET_1}, which is not set (set it in the environment or in .env, or give a default: ${DBENV_T_NEVER_SET_1:-…})"
    );
}

#[test]
fn backup_needs_dir() {
    assert_eq!(
        err("[env.prod]\n\n[env.prod.backup]\nschedule = \"0 3 * * *\"\n"),
        "dbenv.toml:3:1: [env.prod.backup] needs dir = \"…\" (a folder, or an object-store URL like s3://bucket/prefix)"
    );
}

#[test]
fn not_found() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    let e = Config::discover(&nested).unwrap_err();
    // Only assert when no dbenv.toml exists above the temp dir (normally true).
    if matches!(e, ConfigError::NotFound { .. }) {
        assert_eq!(
            e.to_string(),
            format!(
                "no dbenv.toml in {} or any parent folder (run `dbenv init` to create one, or pass --config PATH)",
                nested.display()
            )
        );
    }
}
