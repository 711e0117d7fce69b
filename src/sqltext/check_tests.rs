use super::CheckRule::{self, Length, NotEqual, OneOf, Range};
use super::Literal::{self, Bool, Float, Int, Text};
use super::{ColumnCheck, ParsedCheck, extract_checks, parse_check};

pub(super) fn t(s: &str) -> Literal {
    Text(s.to_string())
}

pub(super) fn cc(column: &str, rule: CheckRule) -> ColumnCheck {
    ColumnCheck {
        column: column.to_string(),
        rule,
    }
}

pub(super) fn range(min: Option<(Literal, bool)>, max: Option<(Literal, bool)>) -> CheckRule {
    Range { min, max }
}

/// Parse and expect exactly these rules and nothing unsupported.
pub(super) fn ok(body: &str, rules: Vec<ColumnCheck>) {
    assert_eq!(
        parse_check(body),
        ParsedCheck {
            rules,
            unsupported: vec![]
        },
        "body: {body}"
    );
}

pub(super) fn one(body: &str, column: &str, rule: CheckRule) {
    ok(body, vec![cc(column, rule)]);
}

pub(super) fn unsupported(body: &str, expected: &[&str]) -> Vec<ColumnCheck> {
    let p = parse_check(body);
    assert_eq!(p.unsupported, expected, "body: {body}");
    p.rules
}

#[test]
fn extract_from_create_table() {
    let sql = r#"CREATE TABLE IF NOT EXISTS "tasks" (
        id INTEGER PRIMARY KEY, -- CHECK (fake) in a comment
        status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'done')),
        "weird col" INT CONSTRAINT pos CHECK ("weird col" > 0) CHECK ("weird col" < 100),
        [br col] INT CHECK ([br col] < 10),
        `bt` INT CHECK (`bt` >= 0),
        note TEXT DEFAULT 'CHECK (no)',
        title TEXT CHECK (length(title) <= 80 AND (title <> '')),
        CONSTRAINT prio CHECK (priority BETWEEN 0 AND 5),
        CHECK (a < b),
        UNIQUE (title)
    )"#;
    let got = extract_checks(sql);
    let want: Vec<(Option<String>, String)> = vec![
        (
            Some("status".into()),
            "status IN ('todo', 'doing', 'done')".into(),
        ),
        (Some("weird col".into()), "\"weird col\" > 0".into()),
        (Some("weird col".into()), "\"weird col\" < 100".into()),
        (Some("br col".into()), "[br col] < 10".into()),
        (Some("bt".into()), "`bt` >= 0".into()),
        (
            Some("title".into()),
            "length(title) <= 80 AND (title <> '')".into(),
        ),
        (None, "priority BETWEEN 0 AND 5".into()),
        (None, "a < b".into()),
    ];
    assert_eq!(got, want);
}

#[test]
fn extract_edge_cases() {
    assert!(extract_checks("CREATE TABLE t AS SELECT 1 AS x").is_empty());
    assert!(extract_checks("CREATE TABLE t (id int)").is_empty());
    assert!(extract_checks("").is_empty());
    let pg = "CREATE TABLE t (n numeric(10,2) CHECK (n >= (0)::numeric), s text[] CHECK (cardinality(s) > 0))";
    let got = extract_checks(pg);
    assert_eq!(got[0], (Some("n".into()), "n >= (0)::numeric".into()));
    assert_eq!(got[1], (Some("s".into()), "cardinality(s) > 0".into()));
    let my = "CREATE TABLE `t` (`é名` varchar(10), CONSTRAINT `t_chk_1` CHECK ((`é名` in (_utf8mb4'a',_utf8mb4'b')))) ENGINE=InnoDB";
    assert_eq!(
        extract_checks(my),
        vec![(None, "(`é名` in (_utf8mb4'a',_utf8mb4'b'))".into())]
    );
}

#[test]
fn sqlite_hand_written_forms() {
    one(
        "status IN ('todo', 'doing', 'done')",
        "status",
        OneOf(vec![t("todo"), t("doing"), t("done")]),
    );
    one(
        "priority BETWEEN 0 AND 5",
        "priority",
        range(Some((Int(0), true)), Some((Int(5), true))),
    );
    one(
        "priority >= 0 AND priority <= 5",
        "priority",
        range(Some((Int(0), true)), Some((Int(5), true))),
    );
    one(
        "\"weird col\" > 0",
        "weird col",
        range(Some((Int(0), false)), None),
    );
    one("[col] < 10", "col", range(None, Some((Int(10), false))));
    one(
        "length(name) <= 80",
        "name",
        Length {
            min: None,
            max: Some(80),
        },
    );
    one("name <> ''", "name", NotEqual(t("")));
    one("name != 'x'", "name", NotEqual(t("x")));
    one(
        "rating IN (1,2,3)",
        "rating",
        OneOf(vec![Int(1), Int(2), Int(3)]),
    );
    one(
        "amount >= 0.5",
        "amount",
        range(Some((Float(0.5), true)), None),
    );
    one(
        "due_at >= '2024-01-01'",
        "due_at",
        range(Some((t("2024-01-01"), true)), None),
    );
    one(
        "status IS NULL OR status IN ('a', 'b')",
        "status",
        OneOf(vec![t("a"), t("b")]),
    );
    one(
        "status = 'x' OR status = 'y' OR status IS NULL",
        "status",
        OneOf(vec![t("x"), t("y")]),
    );
    one("kind = 'a'", "kind", OneOf(vec![t("a")]));
    one(
        "LENGTH(TRIM(name)) > 0",
        "name",
        Length {
            min: Some(1),
            max: None,
        },
    );
    one(
        "length(code) = 3",
        "code",
        Length {
            min: Some(3),
            max: Some(3),
        },
    );
    one(
        "length(code) BETWEEN 2 AND 8",
        "code",
        Length {
            min: Some(2),
            max: Some(8),
        },
    );
    one(
        "length(code) >= 2 AND length(code) < 9",
        "code",
        Length {
            min: Some(2),
            max: Some(8),
        },
    );
    one("0 <= score", "score", range(Some((Int(0), true)), None));
    one(
        "temp > -10.5 and temp < 1e2",
        "temp",
        range(Some((Float(-10.5), false)), Some((Float(100.0), false))),
    );
    one(
        "flag IN (TRUE, false)",
        "flag",
        OneOf(vec![Bool(true), Bool(false)]),
    );
    one("code NOT IN ('x')", "code", NotEqual(t("x")));
    one(
        "t.qty > 0 /* positive */",
        "qty",
        range(Some((Int(0), false)), None),
    );
    one(
        "CHECK (status IN ('it''s', 'naïve 🎉'))",
        "status",
        OneOf(vec![t("it's"), t("naïve 🎉")]),
    );
    // double-quoted value (SQLite/MySQL string fallback)
    one(
        "status IN (\"a\", \"b\")",
        "status",
        OneOf(vec![t("a"), t("b")]),
    );
    one(
        "STATUS in ('A') or status IS null",
        "STATUS",
        OneOf(vec![t("A")]),
    );
}

#[test]
fn merges_bounds_and_keeps_separate_columns() {
    ok(
        "a > 0 AND b < 3 AND a <= 10 AND a >= 1 AND a < 20",
        vec![
            cc("a", range(Some((Int(1), true)), Some((Int(10), true)))),
            cc("b", range(None, Some((Int(3), false)))),
        ],
    );
    ok(
        "x >= 5 AND x > 5",
        vec![cc("x", range(Some((Int(5), false)), None))],
    );
    ok(
        "name <> '' AND length(name) <= 80 AND kind IN ('a')",
        vec![
            cc("name", NotEqual(t(""))),
            cc(
                "name",
                Length {
                    min: None,
                    max: Some(80),
                },
            ),
            cc("kind", OneOf(vec![t("a")])),
        ],
    );
}
