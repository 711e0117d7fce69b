//! Mistakes in scenario files: exit code 2, `file:line:column`, a suggestion, and the
//! database (and the template cache) untouched, by `reset` and by `seed` alike.

mod common;

use common::*;

/// A project with a demo database, and `seeds/bad.toml` holding `scenario`.
fn with_bad(scenario: &str) -> Project {
    let p = Project::new();
    p.ok(&["up"]);
    p.write("seeds/bad.toml", scenario);
    p
}

/// `reset --scenario bad` and `seed --scenario bad` both fail with exit 2 and `fragments`
/// on stderr, and change nothing (database bytes, templates, state).
#[track_caller]
fn refused(p: &Project, fragments: &[&str]) {
    let db = p.db("dev");
    let before = p.snapshot();
    let rows = counts(&db);
    for args in [
        &["reset", "--scenario", "bad"][..],
        &["reset", "--scenario", "bad", "--no-template"],
        &["seed", "--scenario", "bad"],
    ] {
        let run = p.run(args);
        run.code(2);
        for f in fragments {
            run.err_has(f);
        }
        assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    }
    p.assert_unchanged(&before);
    assert_eq!(counts(&db), rows);
    assert_healthy(&db);
}

#[test]
fn unknown_scenario_lists_the_scenarios() {
    let p = Project::new();
    p.ok(&["up"]);
    let before = p.snapshot();
    let seeds = p.file("seeds").display().to_string();
    for args in [
        &["reset", "--scenario", "demp"][..],
        &["seed", "--scenario", "demp"],
    ] {
        p.run(args)
            .code(2)
            .err_has("unknown scenario \"demp\" (did you mean \"demo\"?")
            .err_has(&format!("scenarios in {seeds}: demo, empty"));
    }
    p.run(&["reset", "--scenario", "zzzzzz"])
        .code(2)
        .err_has("unknown scenario \"zzzzzz\" (scenarios in");
    p.assert_unchanged(&before);
    // `up` of a new env with an unknown scenario creates nothing either.
    p.run(&["down", "--purge"]).code(0);
    let before = p.snapshot();
    p.run(&["up", "--scenario", "demp"])
        .code(2)
        .err_has("did you mean \"demo\"");
    assert!(!p.db("dev").exists());
    p.assert_unchanged(&before);
}

#[test]
fn table_the_migrations_do_not_create() {
    let p = with_bad("[tables.organisation]\nrows = 3\n");
    let file = p.file("seeds/bad.toml").display().to_string();
    refused(
        &p,
        &[
            &format!(
                "{file}:1:9: scenario bad names table \"organisation\", which the migrations do not create"
            ),
            "(did you mean \"organisations\"?",
        ],
    );
}

#[test]
fn missing_column() {
    let p = with_bad("[tables.users]\nrows = 3\ncolumns.emial = { fake = \"email\" }\n");
    refused(
        &p,
        &[
            "bad.toml:3:9: table users has no column \"emial\"",
            "did you mean \"email\"?",
            "columns: id, email, name, timezone, is_admin, created_at, deleted_at",
        ],
    );
}

#[test]
fn value_violating_a_check_constraint() {
    let p = with_bad("[tables.memberships]\ncolumns.role = { one_of = [\"boss\"] }\n");
    refused(
        &p,
        &[
            "bad.toml:2:9: value \"boss\" violates the CHECK constraint on memberships.role",
            "\"owner\", \"admin\", \"member\", \"guest\"",
        ],
    );
}

#[test]
fn impossible_uniqueness_is_refused_before_writing() {
    let p =
        with_bad("[tables.organisations]\nrows = 10\ncolumns.slug = { one_of = [\"a\", \"b\"] }\n");
    let templates = p.templates();
    refused(
        &p,
        &[
            "impossible scenario: table organisations needs",
            "(slug) must be unique and only 2 distinct value(s) are possible",
        ],
    );
    assert_eq!(p.templates(), templates, "a template was built");
    // The same on a database that does not exist yet: `up` creates no file.
    p.ok(&["down", "--purge"]);
    p.run(&["up", "--scenario", "bad"])
        .code(2)
        .err_has("impossible scenario");
    assert!(!p.db("dev").exists());
}

#[test]
fn negative_row_count() {
    let p = with_bad("[tables.users]\nrows = -5\n");
    refused(&p, &["bad.toml:2:8: rows must be 0 or more, found -5"]);
}

#[test]
fn unknown_key_in_a_column_spec() {
    let p = with_bad(
        "[tables.users]\nrows = 5\ncolumns.email = { fake = \"email\", null_ratoi = 0.1 }\n",
    );
    refused(
        &p,
        &["bad.toml:3:35: unknown key \"null_ratoi\" (did you mean \"null_ratio\"?)"],
    );
}

#[test]
fn extends_loop() {
    let p = with_bad("extends = \"bad2\"\n");
    p.write("seeds/bad2.toml", "extends = \"bad\"\n");
    refused(
        &p,
        &[
            "`extends` makes a loop: bad → bad2 → bad",
            "remove one of the `extends`",
        ],
    );
}

#[test]
fn extends_an_unknown_scenario() {
    let p = with_bad("extends = \"demmo\"\n");
    refused(
        &p,
        &["unknown scenario \"demmo\"", "did you mean \"demo\"?"],
    );
}

#[test]
fn malformed_scenario_toml() {
    let p = with_bad("[tables.users]\nrows = 5\nrows = 6\n");
    refused(&p, &["bad.toml:3:1"]);
}

/// A scenario's SQL file runs inside the seed's transaction: when it fails, the rows
/// generated before it are rolled back too.
#[test]
fn failing_scenario_sql_rolls_the_whole_seed_back() {
    let p = Project::new();
    p.ok(&["up"]);
    p.write(
        "seeds/withsql.toml",
        "rows = 0\n\n[tables.users]\nrows = 5\n",
    );
    p.write(
        "seeds/withsql.sql",
        "INSERT INTO organisations (name, slug) VALUES ('A', 'a-unique-slug');\n\nINSERT INTO nowhere VALUES (1);\n",
    );
    let db = p.db("dev");
    let before = p.snapshot();
    let rows = counts(&db);
    let sql = p.file("seeds/withsql.sql").display().to_string();
    for args in [
        &["seed", "--scenario", "withsql"][..],
        &["reset", "--scenario", "withsql"],
    ] {
        p.run(args)
            .code(1)
            .err_has(&format!("{sql}:3: no such table: nowhere"))
            .err_has("statement: INSERT INTO nowhere VALUES (1)");
    }
    p.assert_unchanged(&before);
    assert_eq!(counts(&db), rows);

    // Fixed, it works, and adds both the generated rows and the SQL file's.
    p.write(
        "seeds/withsql.sql",
        "INSERT INTO organisations (name, slug) VALUES ('A', 'a-unique-slug');\n",
    );
    p.ok(&["seed", "--scenario", "withsql"]);
    let after = counts(&db);
    assert_eq!(after["users"], rows["users"] + 5);
    assert_eq!(after["organisations"], rows["organisations"] + 1);
    assert_healthy(&db);
}
