use super::CheckRule::{Length, NotEqual, OneOf};
use super::Literal::{Bool, Float, Int};
use super::check_tests::{cc, ok, one, range, t, unsupported};
use super::{ParsedCheck, extract_checks, parse_check};

#[test]
fn postgres_constraintdef_forms() {
    let abc = OneOf(vec![t("todo"), t("doing"), t("done")]);
    one(
        "CHECK ((status = ANY (ARRAY['todo'::text, 'doing'::text, 'done'::text])))",
        "status",
        abc.clone(),
    );
    one(
        "(status = ANY (ARRAY['todo'::text, 'doing'::text, 'done'::text]))",
        "status",
        abc,
    );
    one(
        "CHECK (((priority >= 0) AND (priority <= 5)))",
        "priority",
        range(Some((Int(0), true)), Some((Int(5), true))),
    );
    one(
        "CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))",
        "status",
        OneOf(vec![t("a"), t("b")]),
    );
    one(
        "CHECK ((length(name) <= 80))",
        "name",
        Length {
            min: None,
            max: Some(80),
        },
    );
    one(
        "CHECK ((amount >= (0)::numeric))",
        "amount",
        range(Some((Int(0), true)), None),
    );
    one(
        "CHECK ((amount > 0.5))",
        "amount",
        range(Some((Float(0.5), false)), None),
    );
    one("CHECK ((status <> ''::text))", "status", NotEqual(t("")));
    one(
        "CHECK ((x >= '-1'::integer))",
        "x",
        range(Some((Int(-1), true)), None),
    );
    one(
        "CHECK ((due_at >= '2024-01-01'::date))",
        "due_at",
        range(Some((t("2024-01-01"), true)), None),
    );
    one(
        "CHECK ((\"Weird\" > 0)) NOT VALID",
        "Weird",
        range(Some((Int(0), false)), None),
    );
    one(
        "CHECK (((status IS NULL) OR ((status)::text = ANY ((ARRAY['a'::character varying])::text[]))))",
        "status",
        OneOf(vec![t("a")]),
    );
    one(
        "CHECK ((char_length((name)::text) >= 2))",
        "name",
        Length {
            min: Some(2),
            max: None,
        },
    );
    ok(
        "CHECK ((code <> ALL (ARRAY['x'::text, 'y'::text])))",
        vec![cc("code", NotEqual(t("x"))), cc("code", NotEqual(t("y")))],
    );
    one("CHECK ((active = true))", "active", OneOf(vec![Bool(true)]));
    one(
        "CHECK ((t >= '2024-01-01 00:00:00'::timestamp without time zone))",
        "t",
        range(Some((t("2024-01-01 00:00:00"), true)), None),
    );
}

#[test]
fn mysql_and_mariadb_check_clause_forms() {
    one(
        "(`status` in (_utf8mb4'todo',_utf8mb4'doing',_utf8mb4'done'))",
        "status",
        OneOf(vec![t("todo"), t("doing"), t("done")]),
    );
    one(
        "`priority` between 0 and 5",
        "priority",
        range(Some((Int(0), true)), Some((Int(5), true))),
    );
    one(
        "`priority` >= 0 and `priority` <= 5",
        "priority",
        range(Some((Int(0), true)), Some((Int(5), true))),
    );
    one(
        "char_length(`name`) <= 80",
        "name",
        Length {
            min: None,
            max: Some(80),
        },
    );
    one(
        "(`amount` >= 0.50)",
        "amount",
        range(Some((Float(0.5), true)), None),
    );
    one(
        "(`due_at` >= _utf8mb4'2024-01-01')",
        "due_at",
        range(Some((t("2024-01-01"), true)), None),
    );
    one("(`name` <> _utf8mb4'')", "name", NotEqual(t("")));
    one(
        "(`s` in (_utf8mb4'it\\'s',_latin1'b'))",
        "s",
        OneOf(vec![t("it's"), t("b")]),
    );
    one(
        "CONSTRAINT `c1` CHECK ((`x` > 0))",
        "x",
        range(Some((Int(0), false)), None),
    );
    one(
        "(`s` = _utf8mb4'a' collate utf8mb4_bin)",
        "s",
        OneOf(vec![t("a")]),
    );
    one(
        "((`s` is null) or (`s` in (_utf8mb4'a')))",
        "s",
        OneOf(vec![t("a")]),
    );
}

#[test]
fn unsupported_conjuncts_are_reported() {
    assert!(unsupported("a < b", &["a < b"]).is_empty());
    assert!(unsupported("a = 1 OR b = 2", &["a = 1 OR b = 2"]).is_empty());
    assert!(unsupported("price * qty < 100", &["price * qty < 100"]).is_empty());
    assert!(unsupported("lower(email) = email", &["lower(email) = email"]).is_empty());
    assert!(unsupported("upper(code) IN ('A')", &["upper(code) IN ('A')"]).is_empty());
    assert!(unsupported("email LIKE '%@%'", &["email LIKE '%@%'"]).is_empty());
    assert!(unsupported("x NOT BETWEEN 1 AND 2", &["x NOT BETWEEN 1 AND 2"]).is_empty());
    assert!(unsupported("x IS NOT NULL", &["x IS NOT NULL"]).is_empty());
    assert!(unsupported("x IS NULL", &["x IS NULL"]).is_empty());
    assert!(unsupported("x IN (SELECT id FROM t)", &["x IN (SELECT id FROM t)"]).is_empty());
    assert!(unsupported("length(name) <> 3", &["length(name) <> 3"]).is_empty());
    assert!(unsupported("length(name) < 0", &["length(name) < 0"]).is_empty());
    assert!(
        unsupported(
            "CASE WHEN a THEN 1 END = 1",
            &["CASE WHEN a THEN 1 END = 1"]
        )
        .is_empty()
    );
    assert!(unsupported("NOT (x = 1)", &["NOT (x = 1)"]).is_empty());
    assert!(unsupported("x > 0 OR (x IS NULL)", &["x > 0 OR (x IS NULL)"]).is_empty());
    // understood conjuncts survive next to unsupported ones
    let rules = unsupported(
        "CHECK (((priority >= 0) AND (start_at < end_at) AND (priority <= 5)))",
        &["start_at < end_at"],
    );
    assert_eq!(
        rules,
        vec![cc(
            "priority",
            range(Some((Int(0), true)), Some((Int(5), true)))
        )]
    );
    let rules = unsupported("`a` > 0 and (`a` + `b`) < 10", &["(`a` + `b`) < 10"]);
    assert_eq!(rules, vec![cc("a", range(Some((Int(0), false)), None))]);
    // empty / degenerate bodies
    assert_eq!(parse_check(""), ParsedCheck::default());
    assert_eq!(parse_check("CHECK ()"), ParsedCheck::default());
    assert!(!parse_check("x >").unsupported.is_empty());
    assert!(
        !parse_check("x > 99999999999999999999999999")
            .rules
            .is_empty()
    );
}

#[test]
fn never_panics_on_truncated_input() {
    let bodies = [
        "CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'é'::character varying])::text[])))",
        "(`s` in (_utf8mb4'it\\'s',_latin1'b')) and char_length(`名`) between 1 and 5",
        "CREATE TABLE [t] (\"x\" int CHECK (x IN (1, -2.5e3)), CHECK (length(trim(y)) > 0) /* c */ -- d",
    ];
    for body in bodies {
        for (k, _) in body.char_indices() {
            let _ = parse_check(&body[..k]);
            let _ = extract_checks(&body[..k]);
        }
    }
}
