//! Migrations: failures located and rolled back, drift / order / duplicate / encoding
//! guards, reversible pairs, and interoperability with sqlx (library and CLI).

mod common;

use std::path::Path;

use common::*;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// A project whose dev database is up (3 migrations applied, demo data).
fn up() -> Project {
    let p = Project::new();
    p.ok(&["up"]);
    p
}

/// States of `migrate status --json`, as (version, state).
fn states(p: &Project) -> Vec<(i64, String)> {
    let run = p.run(&["migrate", "status", "--json"]);
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["version"].as_i64().unwrap(),
                l["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn st(list: &[(i64, &str)]) -> Vec<(i64, String)> {
    list.iter().map(|(v, s)| (*v, s.to_string())).collect()
}

/// Every row of `_sqlx_migrations`, as text.
fn migration_rows(db: &Path) -> Vec<String> {
    block_on(async {
        let mut conn = connect(db).await;
        let rows = sqlx::query_scalar(
            "SELECT version || '|' || description || '|' || installed_on || '|' || success || '|' \
             || hex(checksum) || '|' || execution_time FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        sqlx::Connection::close(conn).await.unwrap();
        rows
    })
}

#[test]
fn syntax_error_is_located_and_rolled_back() {
    let p = up();
    let db = p.db("dev");
    let hash = content_hash(&db);
    p.write(
        "migrations/0004_bad.sql",
        "CREATE TABLE ok_first (id INTEGER PRIMARY KEY);\n\n\
         INSERT INTO users (email, name) VALUES ('from-bad-migration@example.com', 'x');\n\n\
         CREATE TABLE x (id INTEGER PRIMARY KEY;\n",
    );
    let run = p.run(&["migrate"]);
    run.code(1)
        .err_has("migration 0004_bad.sql failed at line 5: ")
        .err_has("statement: CREATE TABLE x (id INTEGER PRIMARY KEY")
        .err_has("the database is left at version 3 (comments and labels) (this migration was rolled back)");
    // SQLite's own message. dbenv runs each statement without its `;`, so SQLite answers
    // "incomplete input" here where the sqlite3 CLI and sqlx say `near ";": syntax error`.
    assert!(
        run.stderr.contains("syntax error") || run.stderr.contains("incomplete input"),
        "{}",
        run.stderr
    );
    assert!(!has_table(&db, "x"));
    assert!(
        !has_table(&db, "ok_first"),
        "an earlier statement of the failed file stayed"
    );
    assert_eq!(
        content_hash(&db),
        hash,
        "the INSERT of the failed file stayed"
    );
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
    assert_eq!(
        states(&p),
        st(&[
            (1, "applied"),
            (2, "applied"),
            (3, "applied"),
            (4, "pending")
        ])
    );
    // `up` on the existing database fails the same way, and leaves it as it was.
    p.run(&["up"])
        .code(1)
        .err_has("0004_bad.sql failed at line 5");
    assert_eq!(content_hash(&db), hash);
    assert_healthy(&db);

    // Fixed, it applies.
    p.write(
        "migrations/0004_bad.sql",
        "CREATE TABLE ok_first (id INTEGER PRIMARY KEY);\nCREATE TABLE x (id INTEGER PRIMARY KEY);\n",
    );
    p.ok(&["migrate"]);
    assert!(has_table(&db, "x") && has_table(&db, "ok_first"));
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
}

#[test]
fn sqlite_syntax_error_message_is_shown() {
    let p = up();
    let db = p.db("dev");
    p.write(
        "migrations/0004_bad.sql",
        "-- a comment line\nCREATE TABLE good (id INTEGER PRIMARY KEY);\nCREATE TABLE x (id INTEGER PRIMARY KEY,);\n",
    );
    p.run(&["migrate"])
        .code(1)
        .err_has("migration 0004_bad.sql failed at line 3: near \")\": syntax error")
        .err_has("statement: CREATE TABLE x (id INTEGER PRIMARY KEY,)");
    assert!(!has_table(&db, "good"));
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
}

#[test]
fn edited_applied_migration_is_drift() {
    let p = up();
    let db = p.db("dev");
    let hash = content_hash(&db);
    let original = p.read("migrations/0002_projects_and_tasks.sql");
    let mut edited = original.clone();
    edited.extend_from_slice(b"-- an innocent-looking edit\n");
    p.write("migrations/0002_projects_and_tasks.sql", &edited);
    p.write(
        "migrations/0004_next.sql",
        "CREATE TABLE next_one (id INTEGER);\n",
    );
    let before = bytes(&db);
    for args in [&["migrate"][..], &["up"]] {
        p.run(args)
            .code(1)
            .err_has("migrations on dev have drifted from the migrations folder")
            .err_has(
                "0002_projects_and_tasks.sql (version 2) was changed after it was applied on dev",
            )
            .err_has("dbenv migrate new NAME");
    }
    assert!(
        !has_table(&db, "next_one"),
        "a migration was applied despite the drift"
    );
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
    assert_eq!(content_hash(&db), hash);
    assert_eq!(bytes(&db), before);
    assert_eq!(
        states(&p),
        st(&[
            (1, "applied"),
            (2, "changed"),
            (3, "applied"),
            (4, "pending")
        ])
    );
    p.run(&["migrate", "status"]).code(1).out_has("changed");
    assert_eq!(p.ok(&["status", "--json"]).json()["migrations"]["drift"], 1);

    // Restored, the pending one applies.
    p.write("migrations/0002_projects_and_tasks.sql", &original);
    p.ok(&["migrate"]);
    assert!(has_table(&db, "next_one"));
}

#[test]
fn line_ending_only_change_is_named() {
    let p = up();
    let db = p.db("dev");
    let original = String::from_utf8(p.read("migrations/0002_projects_and_tasks.sql")).unwrap();
    assert!(!original.contains('\r'));
    p.write(
        "migrations/0002_projects_and_tasks.sql",
        original.replace('\n', "\r\n"),
    );
    p.write(
        "migrations/0004_next.sql",
        "CREATE TABLE next_one (id INTEGER);\n",
    );
    let before = bytes(&db);
    p.run(&["migrate"])
        .code(1)
        .err_has("0002_projects_and_tasks.sql (version 2) was applied and then only its line endings changed (CRLF ↔ LF")
        .err_has(".gitattributes");
    assert_eq!(bytes(&db), before);
    assert!(!has_table(&db, "next_one"));
}

#[test]
fn applied_migration_missing_locally() {
    let p = up();
    let db = p.db("dev");
    p.remove("migrations/0003_comments_and_labels.sql");
    let before = bytes(&db);
    p.run(&["migrate"])
        .code(1)
        .err_has("version 3 (comments and labels) is applied on dev but no file in the migrations folder has that version");
    assert_eq!(bytes(&db), before);
    assert_eq!(
        states(&p),
        st(&[(1, "applied"), (2, "applied"), (3, "missing")])
    );
}

#[test]
fn out_of_order_migration_is_refused() {
    let p = up();
    let db = p.db("dev");
    p.write("migrations/0005_z5.sql", "CREATE TABLE z5 (id INTEGER);\n");
    p.ok(&["migrate"]);
    p.write("migrations/0004_z4.sql", "CREATE TABLE z4 (id INTEGER);\n");
    let before = bytes(&db);
    p.run(&["migrate"])
        .code(1)
        .err_has(
            "0004_z4.sql (version 4) is not applied but is older than the latest applied migration",
        )
        .err_has("give it a version above the latest one");
    assert_eq!(bytes(&db), before);
    assert!(!has_table(&db, "z4"));
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 5]);
    assert_eq!(
        states(&p),
        st(&[
            (1, "applied"),
            (2, "applied"),
            (3, "applied"),
            (4, "out-of-order"),
            (5, "applied")
        ])
    );
}

#[test]
fn duplicate_versions() {
    let p = up();
    let before = p.snapshot();
    p.write(
        "migrations/0003_another.sql",
        "CREATE TABLE another (id INTEGER);\n",
    );
    let before_db = bytes(&p.db("dev"));
    for args in [
        &["migrate"][..],
        &["migrate", "status"],
        &["up"],
        &["reset", "--scenario", "empty"],
    ] {
        p.run(args)
            .code(2)
            .err_has("two migrations have version 3: ")
            .err_has("0003_another.sql")
            .err_has("0003_comments_and_labels.sql")
            .err_has("give one of them a new version");
    }
    assert_eq!(bytes(&p.db("dev")), before_db);
    p.remove("migrations/0003_another.sql");
    p.assert_unchanged(&before);
}

#[test]
fn non_utf8_migration() {
    let p = up();
    let before = p.snapshot();
    p.write(
        "migrations/0004_latin1.sql",
        b"CREATE TABLE t (id INTEGER); -- caf\xe9\n".as_slice(),
    );
    for args in [&["migrate"][..], &["migrate", "status"]] {
        p.run(args).code(2).err_has(
            "migration 0004_latin1.sql is not valid UTF-8 (first bad byte at offset 35); save it as UTF-8",
        );
    }
    assert!(!has_table(&p.db("dev"), "t"));
    p.remove("migrations/0004_latin1.sql");
    p.assert_unchanged(&before);
}

#[test]
fn file_name_without_version() {
    let p = up();
    let before = p.snapshot();
    p.write(
        "migrations/add_stuff.sql",
        "CREATE TABLE stuff (id INTEGER);\n",
    );
    p.run(&["migrate"])
        .code(2)
        .err_has("migration file name \"add_stuff.sql\" does not start with a version");
    p.remove("migrations/add_stuff.sql");
    p.assert_unchanged(&before);
}

#[test]
fn reversible_pair_migrate_then_down() {
    let p = up();
    let db = p.db("dev");
    let created = p.ok(&["migrate", "new", "widgets", "-r"]);
    let up_file = p.file("migrations/0004_widgets.up.sql");
    let down_file = p.file("migrations/0004_widgets.down.sql");
    created
        .out_has(&up_file.display().to_string())
        .out_has(&down_file.display().to_string());
    p.write(
        "migrations/0004_widgets.up.sql",
        "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO widgets (name) VALUES ('first');\n",
    );
    p.write("migrations/0004_widgets.down.sql", "DROP TABLE widgets;\n");
    let hash = content_hash(&db);
    p.ok(&["migrate"]).out_has("applied 0004_widgets.up.sql");
    assert!(has_table(&db, "widgets"));
    assert_eq!(counts(&db)["widgets"], 1);
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
    let status = p.ok(&["migrate", "status", "--json"]).json();
    assert_eq!(status[3]["reversible"], true);

    p.ok(&["migrate", "down"])
        .out_has("reverted 0004_widgets.down.sql");
    assert!(!has_table(&db, "widgets"));
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
    assert_eq!(content_hash(&db), hash);
    assert_eq!(
        states(&p),
        st(&[
            (1, "applied"),
            (2, "applied"),
            (3, "applied"),
            (4, "pending")
        ])
    );

    // The latest applied one now has no down script: refused, nothing changes.
    let before = bytes(&db);
    p.run(&["migrate", "down"]).code(2).err_has(
        "cannot revert migration 3 (0003_comments_and_labels.sql): it has no down script (0003_comments_and_labels.down.sql)",
    );
    assert_eq!(bytes(&db), before);
    assert_eq!(applied_versions(&db), vec![1, 2, 3]);
}

#[test]
fn migrate_to_a_version_and_dry_run() {
    let p = up();
    let db = p.db("dev");
    p.write("migrations/0004_a.sql", "CREATE TABLE a4 (id INTEGER);\n");
    p.write("migrations/0005_b.sql", "CREATE TABLE b5 (id INTEGER);\n");
    let before = bytes(&db);
    let dry = p.ok(&["migrate", "--dry-run"]);
    dry.out_has("-- 0004_a.sql (version 4)")
        .out_has("CREATE TABLE b5 (id INTEGER);");
    assert_eq!(bytes(&db), before, "--dry-run changed the database");
    p.ok(&["migrate", "--to", "4"]);
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
    assert!(has_table(&db, "a4") && !has_table(&db, "b5"));
    p.run(&["migrate", "--to", "9"])
        .code(2)
        .err_has("no migration with version 9");
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4]);
    p.ok(&["migrate"]);
    assert_eq!(applied_versions(&db), vec![1, 2, 3, 4, 5]);
}

#[test]
fn orphan_down_script() {
    let p = up();
    let before = p.snapshot();
    p.write("migrations/0004_lonely.down.sql", "DROP TABLE nothing;\n");
    p.run(&["migrate"])
        .code(2)
        .err_has("0004_lonely.down.sql has no matching .up.sql");
    p.remove("migrations/0004_lonely.down.sql");
    p.assert_unchanged(&before);
}

/// dbenv records migrations exactly as sqlx does: sqlx's Migrator finds nothing to do.
#[test]
fn sqlx_migrator_after_dbenv() {
    let p = up();
    let db = p.db("dev");
    let rows = migration_rows(&db);
    assert_eq!(rows.len(), 3);
    let hash = content_hash(&db);
    let migrations = p.file("migrations");
    block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::new().filename(&db))
            .await
            .unwrap();
        let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
            .await
            .unwrap();
        assert_eq!(migrator.iter().count(), 3);
        migrator
            .run(&pool)
            .await
            .expect("sqlx's Migrator rejects dbenv's migration table");
        pool.close().await;
    });
    assert_eq!(
        migration_rows(&db),
        rows,
        "sqlx applied or rewrote migrations"
    );
    assert_eq!(content_hash(&db), hash);
}

/// The reverse: a database migrated by sqlx is up to date for dbenv.
#[test]
fn dbenv_after_sqlx_migrator() {
    let p = Project::new();
    let db = p.db("dev");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let migrations = p.file("migrations");
    block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&db)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
    });
    let rows = migration_rows(&db);
    let lines = p.ok(&["migrate", "status", "--json"]).json();
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for l in lines {
        assert_eq!(l["state"], "applied", "{l}");
    }
    p.ok(&["migrate"]).err_has("nothing to do");
    p.ok(&["up"]).err_has("database exists, up to date");
    assert_eq!(migration_rows(&db), rows);
    assert_eq!(
        p.ok(&["status", "--json"]).json()["migrations"]["applied"],
        3
    );
}

/// sqlx-cli, when installed, reports every version as installed.
#[test]
fn sqlx_cli_migrate_info() {
    if !have_tool("sqlx", &["--version"], false) {
        return;
    }
    let p = up();
    let url = format!("sqlite://{}", p.db("dev").display());
    let out = std::process::Command::new("sqlx")
        .current_dir(p.path())
        .args([
            "migrate",
            "info",
            "--source",
            "migrations",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for v in 1..=3 {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{v}/")))
            .unwrap_or_else(|| panic!("version {v} missing from:\n{stdout}"));
        assert!(line.contains("installed"), "{line}");
        assert!(!line.contains("pending"), "{line}");
    }
}
