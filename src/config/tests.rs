//! Valid configurations, defaults, variable expansion, `.env` and discovery.

use std::path::Path;
use std::time::Duration;

use super::*;

const FULL: &str = r#"
[project]
migrations = "migrations"
seeds = "seeds"
default_env = "dev"

[env.dev]
engine = "sqlite"
path = ".dbenv/dev.sqlite"
scenario = "demo"
seed = 42

[env.dev-pg]
engine = "postgres"
provider = "container"
image = "postgres:16-alpine"
pull = "missing"
port = 0
database = "app"
user = "app"
password = "${PG_PASSWORD:-dev}"

[env.test]
engine = "postgres"
provider = "native"
bin_dir = "/usr/lib/postgresql/16/bin"

[env.prod]
kind = "production"
engine = "postgres"
url = "${DATABASE_URL}"
replicas = ["${REPLICA_URL}"]
lock_timeout = "10s"
statement_timeout = "5min"
[env.prod.replication]
warn_lag = "10s"
crit_lag = "60s"
warn_bytes = "16MB"
crit_bytes = "1GB"
heartbeat = true
migrate_guard = "wait"
[env.prod.backup]
dir = "/var/backups/app"
schedule = "0 3 * * *"
tz = "Europe/Paris"
keep = { last = 3, daily = 7, weekly = 4, monthly = 6 }
compression = "zstd"
compression_level = -3
verify = true
prune = true
"#;

fn parse(text: &str) -> Config {
    Config::from_str(text, Path::new("/proj/dbenv.toml")).unwrap()
}

#[test]
fn full_example() {
    let c = parse(FULL);
    assert_eq!(c.file, Path::new("/proj/dbenv.toml"));
    assert_eq!(c.root, Path::new("/proj"));
    assert_eq!(c.project.migrations, Path::new("/proj/migrations"));
    assert_eq!(c.project.seeds, Path::new("/proj/seeds"));
    assert_eq!(c.env_names(), ["dev", "dev-pg", "test", "prod"]);

    let dev = c.env(None).unwrap();
    assert_eq!(
        (dev.name.as_str(), dev.kind, dev.engine),
        ("dev", EnvKind::Development, EngineKind::Sqlite)
    );
    assert_eq!(dev.provider, ProviderKind::File);
    assert_eq!(dev.scenario.as_deref(), Some("demo"));
    assert_eq!(dev.seed, Some(42));
    assert_eq!(
        dev.sqlite_path(&c.root).unwrap(),
        Path::new("/proj/.dbenv/dev.sqlite")
    );

    let pg = c.env(Some("dev-pg")).unwrap();
    assert_eq!(pg.provider, ProviderKind::Container);
    assert_eq!(pg.image.as_deref(), Some("postgres:16-alpine"));
    assert_eq!((pg.pull, pg.port), (PullPolicy::Missing, 0));
    assert_eq!(pg.database.as_deref(), Some("app"));
    assert_eq!(pg.user.as_deref(), Some("app"));
    assert_eq!(pg.password.as_ref().unwrap().raw(), "${PG_PASSWORD:-dev}");

    let test = c.env(Some("test")).unwrap();
    assert_eq!(test.provider, ProviderKind::Native);
    assert_eq!(
        test.bin_dir.as_deref(),
        Some(Path::new("/usr/lib/postgresql/16/bin"))
    );

    let prod = c.env(Some("prod")).unwrap();
    assert_eq!(prod.kind, EnvKind::Production);
    assert_eq!(prod.provider, ProviderKind::External);
    assert_eq!(prod.url.as_ref().unwrap().raw(), "${DATABASE_URL}");
    assert_eq!(prod.replicas.len(), 1);
    assert_eq!(prod.lock_timeout, Some(Duration::from_secs(10)));
    assert_eq!(prod.statement_timeout, Some(Duration::from_secs(300)));
    let r = prod.replication.as_ref().unwrap();
    assert_eq!(
        *r,
        ReplicationConfig {
            warn_lag: Some(Duration::from_secs(10)),
            crit_lag: Some(Duration::from_secs(60)),
            warn_bytes: Some(16_000_000),
            crit_bytes: Some(1_000_000_000),
            heartbeat: true,
            migrate_guard: MigrateGuard::Wait,
        }
    );
    let b = prod.backup.as_ref().unwrap();
    assert_eq!(b.dir.raw(), "/var/backups/app");
    assert_eq!(b.schedule.as_deref(), Some("0 3 * * *"));
    assert_eq!(b.tz.as_deref(), Some("Europe/Paris"));
    assert_eq!(
        b.keep,
        Keep {
            last: 3,
            daily: 7,
            weekly: 4,
            monthly: 6
        }
    );
    assert_eq!(b.compression, Compression::Zstd);
    assert_eq!(b.compression_level, -3);
    assert!(b.verify && b.prune);
}

#[test]
fn implicit_dev_env_and_defaults() {
    let c = parse("[project]\nmigrations = \"db/migrations\"\n");
    assert_eq!(c.env_names(), ["dev"]);
    let dev = c.env(None).unwrap();
    assert_eq!(
        (dev.engine, dev.provider, dev.kind),
        (EngineKind::Sqlite, ProviderKind::File, EnvKind::Development)
    );
    assert_eq!(
        dev.sqlite_path(&c.root).unwrap(),
        Path::new("/proj/.dbenv/dev.sqlite")
    );
    assert_eq!(c.project.migrations, Path::new("/proj/db/migrations"));
    assert_eq!(c.project.seeds, Path::new("/proj/seeds"));

    let empty = parse("");
    assert_eq!(empty.env_names(), ["dev"]);
    assert_eq!(empty.project.default_env, "dev");

    // An explicit but empty [env] defines no envs.
    assert!(parse("[env]\n").envs.is_empty());
}

#[test]
fn kind_and_provider_defaults() {
    let c = parse(
        "[env.prod]\n[env.production]\n[env.preprod]\n[env.pg]\nengine = \"mysql\"\n[env.ext]\nengine = \"mariadb\"\nurl = \"mysql://h/db\"\n",
    );
    assert_eq!(c.envs["prod"].kind, EnvKind::Production);
    assert_eq!(c.envs["production"].kind, EnvKind::Production);
    assert_eq!(c.envs["preprod"].kind, EnvKind::Development);
    assert_eq!(c.envs["pg"].provider, ProviderKind::Container);
    assert_eq!(c.envs["ext"].provider, ProviderKind::External);
    let c = parse("[env.prod]\nkind = \"development\"\n");
    assert_eq!(c.envs["prod"].kind, EnvKind::Development);
}

#[test]
fn backup_defaults_and_sizes() {
    let c = parse(
        "[env.prod]\nengine = \"postgres\"\nurl = \"u\"\n[env.prod.backup]\ndir = \"s3://b/p\"\nkeep = { daily = 2 }\n[env.prod.replication]\nwarn_bytes = 512\ncrit_bytes = \"1GiB\"\n",
    );
    let b = c.envs["prod"].backup.as_ref().unwrap();
    assert_eq!(
        b.keep,
        Keep {
            last: 3,
            daily: 2,
            weekly: 0,
            monthly: 0
        }
    );
    assert_eq!(
        (b.compression, b.verify, b.prune),
        (Compression::Zstd, true, true)
    );
    let r = c.envs["prod"].replication.as_ref().unwrap();
    assert_eq!(
        (r.warn_bytes, r.crit_bytes, r.heartbeat),
        (Some(512), Some(1 << 30), false)
    );
}

#[test]
fn units() {
    use super::reader::{parse_bytes, parse_duration};
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
    assert_eq!(parse_duration("1.5 min"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("10"), None);
    assert_eq!(parse_duration("s"), None);
    assert_eq!(parse_bytes("512kB"), Some(512_000));
    assert_eq!(parse_bytes("16MB"), Some(16_000_000));
    assert_eq!(parse_bytes("1GiB"), Some(1 << 30));
    assert_eq!(parse_bytes("123"), Some(123));
    assert_eq!(parse_bytes("1 parsec"), None);
}

#[test]
fn enums_display() {
    assert_eq!(EnvKind::Production.to_string(), "production");
    assert_eq!(EngineKind::Mariadb.to_string(), "mariadb");
    assert!(EngineKind::Postgres.is_server() && !EngineKind::Sqlite.is_server());
    assert_eq!(ProviderKind::External.to_string(), "external");
    assert_eq!(PullPolicy::Never.to_string(), "never");
    assert_eq!(Compression::None.to_string(), "none");
}

#[test]
fn expansion_defaults_and_dollars() {
    let c = parse(
        "[env.dev]\nengine = \"postgres\"\npassword = \"${DBENV_T_UNSET_2:-dev}\"\nuser = \"x\"\n\
         [env.ext]\nengine = \"postgres\"\nurl = \"pa$$word$x-${DBENV_T_UNSET_2:-}\"\n",
    );
    assert_eq!(
        c.envs["dev"].password.as_ref().unwrap().resolve().unwrap(),
        "dev"
    );
    assert_eq!(
        c.envs["ext"].url.as_ref().unwrap().resolve().unwrap(),
        "pa$word$x-"
    );
    // An unset variable in prod does not stop dev from loading or resolving.
    let c = parse("[env.dev]\n[env.prod]\nengine = \"postgres\"\nurl = \"${DBENV_T_UNSET_3}\"\n");
    assert!(c.envs["prod"].url.as_ref().unwrap().resolve().is_err());
    assert!(c.env(Some("dev")).unwrap().sqlite_path(&c.root).is_ok());
}

#[test]
fn sqlite_path_relative_absolute_and_templated() {
    let c = parse(
        "[env.a]\npath = \"data/a.db\"\n[env.b]\npath = \"/tmp/b.db\"\n[env.c]\npath = \"../c.db\"\n[env.d]\npath = \"${DBENV_T_UNSET_4:-d}.db\"\n",
    );
    assert_eq!(
        c.envs["a"].sqlite_path(&c.root).unwrap(),
        Path::new("/proj/data/a.db")
    );
    assert_eq!(
        c.envs["b"].sqlite_path(&c.root).unwrap(),
        Path::new("/tmp/b.db")
    );
    assert_eq!(
        c.envs["c"].sqlite_path(&c.root).unwrap(),
        Path::new("/proj/../c.db")
    );
    assert_eq!(
        c.envs["d"].sqlite_path(&c.root).unwrap(),
        Path::new("/proj/d.db")
    );
}

#[test]
#[allow(unsafe_code)] // set_var is unsafe in edition 2024; the crate denies unsafe_code
fn dotenv_and_process_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        "[env.prod]\nengine = \"postgres\"\nurl = \"${DBENV_T_URL_5}\"\npassword = \"${DBENV_T_PW_5}\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# comment\nDBENV_T_URL_5=postgres://from-dotenv\nDBENV_T_PW_5='dotenv-pw'\n",
    )
    .unwrap();
    // SAFETY: the variable name is unique to this test; std serialises env access.
    unsafe { std::env::set_var("DBENV_T_PW_5", "process-pw") };
    let c = Config::load(&dir.path().join(FILE_NAME)).unwrap();
    let prod = c.env(Some("prod")).unwrap();
    assert_eq!(
        prod.url.as_ref().unwrap().resolve().unwrap(),
        "postgres://from-dotenv"
    );
    assert_eq!(
        prod.password.as_ref().unwrap().resolve().unwrap(),
        "process-pw"
    );
    // .env is not copied into the process environment.
    assert!(std::env::var_os("DBENV_T_URL_5").is_none());
}

#[test]
fn bad_dotenv_line_is_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
    std::fs::write(dir.path().join(".env"), "A=1\n\nB C D secret\n").unwrap();
    let e = Config::load(&dir.path().join(FILE_NAME))
        .unwrap_err()
        .to_string();
    let env_path = dir.path().join(".env");
    assert_eq!(
        e,
        format!(
            "{}:3:1: invalid .env line (expected NAME=value, optionally quoted)",
            env_path.display()
        )
    );
}

#[test]
fn discover_walks_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        "[env.dev]\nscenario = \"demo\"\n",
    )
    .unwrap();
    let nested = dir.path().join("src/deep/er");
    std::fs::create_dir_all(&nested).unwrap();
    let c = Config::discover(&nested).unwrap();
    assert_eq!(c.file, dir.path().join(FILE_NAME));
    assert_eq!(c.root, dir.path());
    assert_eq!(c.env(None).unwrap().scenario.as_deref(), Some("demo"));
}

#[test]
fn load_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(e.to_string().starts_with(&format!(
        "cannot read {}",
        dir.path().join("nope.toml").display()
    )));
}

#[test]
fn config_str_debug_hides_text() {
    let c = parse("[env.x]\nengine = \"postgres\"\npassword = \"hunter2\"\n");
    let p = c.envs["x"].password.as_ref().unwrap();
    assert_eq!(format!("{p:?}"), "ConfigStr { at: /proj/dbenv.toml:3:12 }");
    assert_eq!(p.location().line, 3);
}
