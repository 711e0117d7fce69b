//! Table and column names that need quoting (reserved words, spaces, quotes, non-ASCII)
//! migrate, seed and reset like any other (SQLite; the server engines are still to do).

mod common;

use common::*;

const SCHEMA: &str = r#"CREATE TABLE "order" (
    id INTEGER PRIMARY KEY,
    "select" VARCHAR(40) NOT NULL,
    "naïve col" TEXT
);
CREATE TABLE "my table" (
    id INTEGER PRIMARY KEY,
    "order id" INTEGER NOT NULL REFERENCES "order" (id),
    "it's" VARCHAR(20) NOT NULL UNIQUE,
    "group" INTEGER CHECK ("group" BETWEEN 1 AND 5)
);
"#;

#[test]
fn quoted_names_migrate_seed_and_reset_on_sqlite() {
    let p = Project::bare();
    p.write(
        "dbenv.toml",
        "[env.dev]\nengine = \"sqlite\"\nscenario = \"q\"\n",
    );
    p.write("migrations/0001_quoted.sql", SCHEMA);
    p.write(
        "seeds/q.toml",
        "rows = 7\n[tables.\"order\"]\ncolumns.\"naïve col\" = { null_ratio = 0.5 }\n[tables.\"my table\"]\nrows = 9\n",
    );
    let up = p.run(&["up"]);
    up.code(0);
    let db = p.db("dev");
    let rows = counts(&db);
    assert_eq!(rows["order"], 7, "{rows:?}");
    assert_eq!(rows["my table"], 9, "{rows:?}");
    assert_healthy(&db);
    let hash = content_hash(&db);
    p.ok(&["reset"]);
    assert_eq!(content_hash(&db), hash, "reset gave other data");
    p.ok(&["seed", "--scenario", "q"]);
    assert_eq!(counts(&db)["my table"], 18);
    assert_healthy(&db);
}
