//! The PostgreSQL engine against a real server: introspection, COPY, batched updates, the
//! migrations table as sqlx writes it (seeding: `seed_postgres.rs`; database admin:
//! `admin_postgres.rs`).
//!
//! Needs `DBENV_TEST_PG_URL` (an administrator on a PostgreSQL server, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without it every test prints a SKIP line
//! and passes, unless `DBENV_TEST_REQUIRE=all`, which makes a missing server a failure.
//! Each test works in its own database, dropped at the end (kept when the test fails).
#![cfg(feature = "postgres")]

mod pg;

use dbenv::engine::Backend;
use dbenv::engine::postgres::{PgAdmin, PgBackend};
use dbenv::schema::ColumnType;
use dbenv::sqltext::{CheckRule, Literal};
use dbenv::value::Value;
use pg::{Scratch, cols, text};

const SCHEMA: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
CREATE DOMAIN percent AS smallint NOT NULL DEFAULT 0 CHECK (VALUE BETWEEN 0 AND 100);
CREATE DOMAIN short_code AS varchar(8) CHECK (char_length(VALUE) >= 2);
CREATE DOMAIN tiny_code AS short_code CHECK (VALUE <> 'xx');
CREATE TABLE accounts (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    legacy serial,
    email varchar(200) NOT NULL,
    handle text,
    status text NOT NULL CHECK (status IN ('active', 'closed')),
    score percent,
    code tiny_code,
    feeling mood,
    age int CHECK (age BETWEEN 18 AND 130),
    nick text CHECK (length(nick) <= 12),
    doubled int GENERATED ALWAYS AS (age * 2) STORED,
    tags text[],
    CHECK (age > 20 OR handle IS NOT NULL)
);
CREATE UNIQUE INDEX accounts_email ON accounts (email);
CREATE UNIQUE INDEX accounts_live_handle ON accounts (handle) WHERE status = 'active';
CREATE UNIQUE INDEX accounts_lower_email ON accounts (lower(email));
CREATE UNIQUE INDEX accounts_nick_incl ON accounts (nick) INCLUDE (age);
CREATE TABLE regions (
    country char(2), code text, name text NOT NULL,
    PRIMARY KEY (country, code), UNIQUE (name, country)
);
CREATE TABLE shops (
    id bigserial PRIMARY KEY,
    country char(2) NOT NULL,
    region text NOT NULL,
    parent_id bigint REFERENCES shops (id),
    price numeric(10, 2),
    FOREIGN KEY (country, region) REFERENCES regions (country, code)
);
CREATE TABLE _dbenv_state (x int);
"#;

#[tokio::test]
async fn introspection_reads_postgres_schema_features() {
    let Some(s) = Scratch::new("introspect").await else {
        return;
    };
    let mut db = s.db().await;
    db.execute(SCHEMA).await.unwrap();
    let schema = db.introspect().await.unwrap();
    assert_eq!(schema.table_names(), ["accounts", "regions", "shops"]);

    let a = schema.table("accounts").unwrap();
    let c = |name: &str| a.column(name).unwrap();
    assert_eq!(a.column_names()[..3], ["id", "legacy", "email"]);
    assert!(c("id").generated_key && c("id").has_default && !c("id").nullable);
    assert!(c("legacy").generated_key && c("legacy").has_default);
    assert!(!c("email").generated_key && !c("email").has_default);
    assert_eq!(c("email").ty, ColumnType::Text { max_len: Some(200) });
    assert_eq!(c("email").declared, "character varying(200)");
    assert!(c("doubled").computed && !c("age").computed);
    let labels = ["sad", "meh", "ok", "happy"].map(String::from).to_vec();
    assert_eq!(c("feeling").ty, ColumnType::Enum(labels));
    // Domains: base type, NOT NULL and DEFAULT of the domain, CHECKs of every level.
    let score = c("score");
    assert_eq!(
        (score.declared.as_str(), &score.ty),
        ("percent", &ColumnType::Integer { bytes: 2 })
    );
    assert!(!score.nullable && score.has_default);
    let range = CheckRule::Range {
        min: Some((Literal::Int(0), true)),
        max: Some((Literal::Int(100), true)),
    };
    assert_eq!(score.checks, [range]);
    let code = c("code");
    assert_eq!(code.ty, ColumnType::Text { max_len: Some(8) });
    assert!(code.checks.contains(&CheckRule::Length {
        min: Some(2),
        max: None
    }));
    assert!(code.checks.contains(&CheckRule::NotEqual(text_lit("xx"))));
    // Table CHECKs: IN list, BETWEEN, length; the two-column one is reported.
    assert_eq!(
        c("status").checks,
        [CheckRule::OneOf(vec![
            text_lit("active"),
            text_lit("closed")
        ])]
    );
    let adult = CheckRule::Range {
        min: Some((Literal::Int(18), true)),
        max: Some((Literal::Int(130), true)),
    };
    assert_eq!(c("age").checks, [adult]);
    assert_eq!(
        c("nick").checks,
        [CheckRule::Length {
            min: None,
            max: Some(12)
        }]
    );
    assert!(
        a.unsupported_checks
            .iter()
            .any(|s| s.contains("handle IS NOT NULL")),
        "{:?}",
        a.unsupported_checks
    );
    assert!(
        a.unsupported_checks
            .iter()
            .any(|s| s.contains("tags is text[]")),
        "{:?}",
        a.unsupported_checks
    );
    // Keys: unique index yes, partial and expression indexes no, INCLUDE columns left out.
    assert_eq!(a.primary_key, ["id"]);
    assert_eq!(a.uniques, [cols(&["email"]), cols(&["nick"])]);

    let r = schema.table("regions").unwrap();
    assert_eq!(r.primary_key, ["country", "code"]);
    assert_eq!(r.uniques, [cols(&["name", "country"])]);
    assert_eq!(
        r.column("country").unwrap().ty,
        ColumnType::Text { max_len: Some(2) }
    );

    let shops = schema.table("shops").unwrap();
    assert!(shops.column("id").unwrap().generated_key);
    assert_eq!(
        shops.column("price").unwrap().ty,
        ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2)
        }
    );
    let fks: Vec<_> = shops
        .foreign_keys
        .iter()
        .map(|f| {
            (
                f.columns.clone(),
                f.ref_table.as_str(),
                f.ref_columns.clone(),
            )
        })
        .collect();
    assert_eq!(
        fks,
        [
            (cols(&["parent_id"]), "shops", cols(&["id"])),
            (
                cols(&["country", "region"]),
                "regions",
                cols(&["country", "code"])
            )
        ]
    );
    db.close().await.unwrap();
    s.finish().await;
}

fn text_lit(s: &str) -> Literal {
    Literal::Text(s.into())
}

/// A row of the `odd` table: the values given, NULL for the remaining columns.
fn padded(mut values: Vec<Value>) -> Vec<Value> {
    values.resize(12, Value::Null);
    values
}

#[tokio::test]
async fn copy_round_trips_awkward_values() {
    let Some(s) = Scratch::new("copy").await else {
        return;
    };
    let mut db = s.db().await;
    db.execute(
        "CREATE TYPE mood AS ENUM ('sad', 'ok');
         CREATE TABLE odd (id int PRIMARY KEY, t text, b bytea, flag boolean, f float8, r real,
             d date, ts timestamp, n numeric(14, 4), u uuid, j jsonb, m mood)",
    )
    .await
    .unwrap();
    let awkward = "tab\there\nnew line\r\\back\\slash \\N é 名前 🎉 'quote' \"dq\" |";
    let rows = vec![
        vec![
            Value::Int(1),
            text(awkward),
            Value::Bytes((0..=255).collect()),
            Value::Bool(true),
            Value::Float(0.1 + 0.2),
            Value::Float(0.5),
            text("2024-02-29"),
            text("2024-02-29 23:59:59"),
            text("12345.6789"),
            text("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"),
            text(r#"{"a": 1, "b": [true, null]}"#),
            text("ok"),
        ],
        vec![
            Value::Int(2),
            text(""),
            Value::Bytes(vec![]),
            Value::Bool(false),
            Value::Float(1e300),
            Value::Float(-2.25),
            text("1999-12-31"),
            text("2000-01-01 00:00:00"),
            Value::Float(-0.5),
            Value::Null,
            Value::Null,
            Value::Null,
        ],
        padded(vec![
            Value::Int(3),
            text("\\N"),
            Value::Null,
            Value::Null,
            Value::Float(5e-324),
        ]),
        padded(vec![
            Value::Int(4),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Float(f64::INFINITY),
        ]),
    ];
    let columns = cols(&[
        "id", "t", "b", "flag", "f", "r", "d", "ts", "n", "u", "j", "m",
    ]);
    db.insert_rows("odd", &columns, &rows).await.unwrap();
    let back = db.select_values("odd", &columns).await.unwrap();
    let mut want = rows.clone();
    want[0][8] = Value::Float(12345.6789); // numeric reads back as a number
    assert_eq!(back, want);

    // Batches larger than one COPY chunk (1 MiB), and a bad value named with its place.
    let big: Vec<Vec<Value>> = (10..40_010)
        .map(|i| vec![Value::Int(i), text(&"x".repeat(100))])
        .collect();
    db.insert_rows("odd", &cols(&["id", "t"]), &big)
        .await
        .unwrap();
    assert_eq!(db.count_rows("odd").await.unwrap(), 40_004);
    let bad = vec![vec![Value::Int(99_999), text("not-a-date")]];
    let e = db
        .insert_rows("odd", &cols(&["id", "d"]), &bad)
        .await
        .unwrap_err();
    let message = dbenv::migrate::database_message(&e);
    assert!(
        message.contains("not-a-date") && message.contains("column d"),
        "{message}"
    );
    db.close().await.unwrap();
    s.finish().await;
}

#[tokio::test]
async fn batches_gathered_in_a_transaction_are_seen_and_their_errors_located() {
    let Some(s) = Scratch::new("gathered").await else {
        return;
    };
    let mut db = s.db().await;
    db.execute("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p, at date)")
        .await
        .unwrap();
    let ids = |from: i64, to: i64| -> Vec<Vec<Value>> {
        (from..to).map(|i| vec![Value::Int(i)]).collect()
    };
    db.begin().await.unwrap();
    db.insert_rows("p", &cols(&["id"]), &ids(0, 2000))
        .await
        .unwrap();
    db.insert_rows("p", &cols(&["id"]), &ids(2000, 4000))
        .await
        .unwrap();
    // The parents are sent before the children that reference them, and reads see both.
    let children: Vec<Vec<Value>> = (0..3000)
        .map(|i| vec![Value::Int(i), Value::Int(i), text("2024-01-01")])
        .collect();
    db.insert_rows("c", &cols(&["id", "p", "at"]), &children)
        .await
        .unwrap();
    assert_eq!(db.count_rows("p").await.unwrap(), 4000);
    assert_eq!(db.count_rows("c").await.unwrap(), 3000);
    // A bad value in a gathered batch fails the call that sends it, naming line and column.
    db.insert_rows(
        "c",
        &cols(&["id", "p", "at"]),
        &[vec![Value::Int(5000), Value::Int(1), text("2024-02-30")]],
    )
    .await
    .unwrap();
    let e = db.commit().await.unwrap_err();
    let message = dbenv::migrate::database_message(&e);
    assert!(
        message.contains("2024-02-30") && message.contains("COPY c, line 1, column at"),
        "{message}"
    );
    assert_eq!(
        db.count_rows("p").await.unwrap(),
        0,
        "the commit failed, so nothing stays"
    );
    db.close().await.unwrap();
    s.finish().await;
}

#[tokio::test]
async fn explicit_keys_move_sequences_and_defaults_fill_empty_rows() {
    let Some(s) = Scratch::new("sequences").await else {
        return;
    };
    let mut db = s.db().await;
    db.execute(
        "CREATE TABLE a (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n serial, note text);
         CREATE TABLE b (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .unwrap();
    db.begin().await.unwrap();
    let rows: Vec<Vec<Value>> = (1..=100)
        .map(|i| vec![Value::Int(i), Value::Int(i * 10)])
        .collect();
    db.insert_rows("a", &cols(&["id", "n"]), &rows)
        .await
        .unwrap();
    db.insert_rows("b", &[], &vec![vec![]; 3]).await.unwrap();
    // A seed's SQL file runs after the generated rows: the sequences have moved by then.
    db.execute("INSERT INTO a (note) VALUES ('by the application')")
        .await
        .unwrap();
    db.commit().await.unwrap();
    let last = db
        .select_values("a", &cols(&["id", "n"]))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last, [Value::Int(101), Value::Int(1001)]);
    assert_eq!(db.count_rows("b").await.unwrap(), 3);
    db.close().await.unwrap();
    s.finish().await;
}

#[tokio::test]
async fn update_column_casts_text_to_the_column_types() {
    let Some(s) = Scratch::new("update").await else {
        return;
    };
    let mut db = s.db().await;
    db.execute(
        "CREATE TABLE nodes (org int, code varchar(10), due date, cost numeric(8, 2), parent varchar(10),
             PRIMARY KEY (org, code))",
    )
    .await
    .unwrap();
    let rows: Vec<Vec<Value>> = (0..5000)
        .map(|i| vec![Value::Int(i % 7), text(&format!("n{i}"))])
        .collect();
    db.insert_rows("nodes", &cols(&["org", "code"]), &rows)
        .await
        .unwrap();
    let key = |i: i64| vec![Value::Int(i % 7), text(&format!("n{i}"))];
    let due: Vec<(Vec<Value>, Value)> = (0..5000)
        .map(|i| {
            (
                key(i),
                if i % 2 == 0 {
                    text(&format!("2025-01-{:02}", i % 28 + 1))
                } else {
                    Value::Null
                },
            )
        })
        .collect();
    db.update_column("nodes", &cols(&["org", "code"]), "due", &due)
        .await
        .unwrap();
    let cost: Vec<_> = (0..5000)
        .map(|i| (key(i), Value::Float(i as f64 / 4.0)))
        .collect();
    db.update_column("nodes", &cols(&["org", "code"]), "cost", &cost)
        .await
        .unwrap();
    let back = db
        .select_values("nodes", &cols(&["code", "due", "cost"]))
        .await
        .unwrap();
    assert_eq!(back.len(), 5000);
    for row in back {
        let Value::Text(code) = &row[0] else {
            panic!("{row:?}")
        };
        let i: i64 = code[1..].parse().unwrap();
        let want_due = if i % 2 == 0 {
            text(&format!("2025-01-{:02}", i % 28 + 1))
        } else {
            Value::Null
        };
        assert_eq!(row[1..], [want_due, Value::Float(i as f64 / 4.0)], "{code}");
    }
    // A value too long for varchar(10) is refused, not truncated by a cast.
    let long = vec![(key(1), text("a-value-far-too-long"))];
    assert!(
        db.update_column("nodes", &cols(&["org", "code"]), "parent", &long)
            .await
            .is_err()
    );
    db.close().await.unwrap();
    s.finish().await;
}

#[tokio::test]
async fn migrations_table_matches_what_sqlx_writes() {
    let Some(s) = Scratch::new("migrations").await else {
        return;
    };
    let theirs = Scratch::new("migrations_sqlx").await.unwrap();
    let dir = pg::repo().join("migrations");
    let migrator = sqlx::migrate::Migrator::new(dir.clone()).await.unwrap();
    let mut conn = theirs.sqlx().await;
    migrator.run(&mut conn).await.unwrap();

    let set = dbenv::migrate::MigrationSet::load(&dir).unwrap();
    let mut db = s.db().await;
    let applied = dbenv::migrate::apply(&mut db, &set, "test", &Default::default())
        .await
        .unwrap();
    assert_eq!(applied.len(), set.migrations.len());
    let mut ours = s.sqlx().await;
    assert_eq!(
        pg::migration_rows(&mut ours).await,
        pg::migration_rows(&mut conn).await
    );
    assert_eq!(
        pg::migrations_table_shape(&mut ours).await,
        pg::migrations_table_shape(&mut conn).await
    );
    // sqlx agrees with what we recorded (no checksum mismatch, nothing to apply) …
    migrator.run(&mut ours).await.unwrap();
    // … and we read what sqlx recorded.
    let mut on_theirs = theirs.db().await;
    let read = on_theirs.applied_migrations().await.unwrap();
    let versions: Vec<i64> = read.iter().map(|m| m.version).collect();
    assert_eq!(
        versions,
        set.migrations.iter().map(|m| m.version).collect::<Vec<_>>()
    );
    assert!(read.iter().all(|m| m.success && m.installed_on.len() == 19));
    assert!(
        dbenv::migrate::apply(&mut on_theirs, &set, "test", &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    // Forgetting a version deletes its row, as sqlx's revert does.
    db.forget_migration(3).await.unwrap();
    assert_eq!(
        db.applied_migrations().await.unwrap().len(),
        set.migrations.len() - 1
    );
    for conn in [ours, conn] {
        sqlx::Connection::close(conn).await.unwrap();
    }
    db.close().await.unwrap();
    on_theirs.close().await.unwrap();
    s.finish().await;
    theirs.finish().await;
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    let e = match PgBackend::connect("postgres://app:s3cret-pw@127.0.0.1:1/shop_dev").await {
        Ok(_) => panic!("nothing listens on port 1"),
        Err(e) => e,
    };
    let chain = format!("{e} / {:?}", std::error::Error::source(&e));
    assert!(chain.contains("shop_dev on 127.0.0.1:1 as app"), "{chain}");
    assert!(!chain.contains("s3cret"), "{chain}");
    let Err(e) = PgAdmin::connect("postgres://app:s3cret-pw@127.0.0.1:1/x").await else {
        panic!("nothing listens on port 1")
    };
    assert!(!format!("{e} {e:?}").contains("s3cret"));
}
