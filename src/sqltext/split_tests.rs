use super::Dialect::{self, Mysql, Postgres, Sqlite};
use super::{SplitError, Statement, split_statements};

fn sqls(sql: &str, d: Dialect) -> Vec<String> {
    split_statements(sql, d)
        .unwrap()
        .into_iter()
        .map(|s| s.sql)
        .collect()
}

fn lines(sql: &str, d: Dialect) -> Vec<usize> {
    split_statements(sql, d)
        .unwrap()
        .into_iter()
        .map(|s| s.line)
        .collect()
}

fn err(sql: &str, d: Dialect) -> SplitError {
    split_statements(sql, d).unwrap_err()
}

const ALL: [Dialect; 3] = [Sqlite, Postgres, Mysql];

#[test]
fn basic_split_and_final_statement_without_semicolon() {
    for d in ALL {
        assert_eq!(
            sqls("SELECT 1; SELECT 2;\nSELECT 3", d),
            ["SELECT 1", "SELECT 2", "SELECT 3"]
        );
        assert_eq!(sqls("  \n ;; ; \n", d), Vec::<String>::new());
        assert_eq!(sqls("", d), Vec::<String>::new());
    }
}

#[test]
fn statement_positions() {
    let src = "\n\n  -- leading\n  CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);";
    let st = split_statements(src, Sqlite).unwrap();
    assert_eq!(
        st[0],
        Statement {
            sql: "CREATE TABLE t (id int)".into(),
            line: 4,
            offset: src.find("CREATE").unwrap()
        }
    );
    assert_eq!(st[1].line, 5);
    assert_eq!(st[1].offset, src.find("INSERT").unwrap());
}

#[test]
fn semicolon_in_strings() {
    for d in ALL {
        assert_eq!(
            sqls("INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT 1", d),
            ["INSERT INTO t VALUES ('a;b', 'it''s;')", "SELECT 1"]
        );
    }
    // MySQL backslash escapes
    assert_eq!(
        sqls(r"SELECT 'a\';b'; SELECT 2", Mysql),
        [r"SELECT 'a\';b'", "SELECT 2"]
    );
    assert_eq!(
        sqls(r#"SELECT "a\";b"; SELECT 2"#, Mysql),
        [r#"SELECT "a\";b""#, "SELECT 2"]
    );
    // standard strings: backslash is literal in SQLite / PG
    assert_eq!(
        sqls(r"SELECT 'a\'; SELECT 2", Sqlite),
        [r"SELECT 'a\'", "SELECT 2"]
    );
    assert_eq!(
        sqls(r"SELECT 'a\'; SELECT 2", Postgres),
        [r"SELECT 'a\'", "SELECT 2"]
    );
    // PG E'' strings
    assert_eq!(
        sqls(r"SELECT E'a\';b', e'\\'; SELECT 2", Postgres),
        [r"SELECT E'a\';b', e'\\'", "SELECT 2"]
    );
    // a column named e followed by a string is not an E string elsewhere
    assert_eq!(
        sqls(r"SELECT e'\'; SELECT 2", Sqlite),
        [r"SELECT e'\'", "SELECT 2"]
    );
}

#[test]
fn semicolon_in_identifiers() {
    for d in ALL {
        assert_eq!(
            sqls(r#"CREATE TABLE "a;b" ("c;""d" int); SELECT 1"#, d).len(),
            2
        );
    }
    assert_eq!(
        sqls("CREATE TABLE `a;b` (`c;``d` int); SELECT 1", Mysql)[0],
        "CREATE TABLE `a;b` (`c;``d` int)"
    );
    assert_eq!(
        sqls("CREATE TABLE `a;b` (x int); SELECT 1", Sqlite).len(),
        2
    );
    assert_eq!(
        sqls("CREATE TABLE [a;b] ([c;d] int); SELECT 1", Sqlite),
        ["CREATE TABLE [a;b] ([c;d] int)", "SELECT 1"]
    );
    // brackets are array syntax in PG, backticks are nothing special there
    assert_eq!(sqls("SELECT a[1]; SELECT 2", Postgres).len(), 2);
}

#[test]
fn semicolon_in_comments() {
    let src = "SELECT 1 -- not; here\n; /* a; b */ SELECT 2 /* ; */;";
    for d in ALL {
        assert_eq!(sqls(src, d), ["SELECT 1 -- not; here", "SELECT 2 /* ; */"]);
    }
    assert_eq!(
        sqls("SELECT 1 # x; y\n; SELECT 2", Mysql),
        ["SELECT 1 # x; y", "SELECT 2"]
    );
    // '#' is not a comment outside MySQL (PG operator)
    assert_eq!(
        sqls("SELECT 1 # 2; SELECT 3", Postgres),
        ["SELECT 1 # 2", "SELECT 3"]
    );
    // MySQL "--" needs whitespace after it
    assert_eq!(
        sqls("SELECT 5--1; SELECT 2", Mysql),
        ["SELECT 5--1", "SELECT 2"]
    );
    assert_eq!(
        sqls("SELECT 5 --\tx;\n; SELECT 2", Mysql),
        ["SELECT 5 --\tx;", "SELECT 2"]
    );
    assert_eq!(
        sqls("SELECT 5--1; SELECT 2", Sqlite),
        ["SELECT 5--1; SELECT 2"]
    );
}

#[test]
fn comment_only_pieces_and_leading_comments_dropped() {
    let src = "-- header\n/* block */\n;\n-- only a comment;\n/* lead */ SELECT 1; -- trailing\n";
    for d in ALL {
        assert_eq!(sqls(src, d), ["SELECT 1"]);
    }
}

#[test]
fn nested_block_comments_only_in_postgres() {
    let src = "/* a /* b */ c; */ SELECT 1; SELECT 2";
    assert_eq!(sqls(src, Postgres), ["SELECT 1", "SELECT 2"]);
    // elsewhere the comment ends at the first */
    assert_eq!(sqls(src, Sqlite), ["c", "*/ SELECT 1", "SELECT 2"]);
    assert_eq!(sqls(src, Mysql), ["c", "*/ SELECT 1", "SELECT 2"]);
}

#[test]
fn dollar_quotes() {
    let f = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql";
    assert_eq!(sqls(&format!("{f};\nSELECT 1;"), Postgres), [f, "SELECT 1"]);
    let g = "CREATE FUNCTION g() RETURNS text AS $body$ SELECT '$$;'; $body$ LANGUAGE sql";
    assert_eq!(sqls(&format!("{g}; SELECT 2"), Postgres), [g, "SELECT 2"]);
    // $1 parameters are not dollar quotes
    assert_eq!(
        sqls("PREPARE p AS SELECT $1; SELECT $2;", Postgres),
        ["PREPARE p AS SELECT $1", "SELECT $2"]
    );
    // identifiers containing $
    assert_eq!(
        sqls("SELECT a$b$ FROM t; SELECT 2", Postgres),
        ["SELECT a$b$ FROM t", "SELECT 2"]
    );
    assert_eq!(
        err("SELECT 1;\nSELECT $x$ abc;", Postgres).message,
        "unterminated dollar-quoted string opened at line 2"
    );
    // not special outside PG
    assert_eq!(sqls("SELECT $$; SELECT $$", Sqlite).len(), 2);
}

#[test]
fn sqlite_trigger_with_case() {
    let t = "CREATE TEMP TRIGGER IF NOT EXISTS trg AFTER INSERT ON t\nWHEN (CASE WHEN new.a > 0 THEN 1 ELSE 0 END)\nBEGIN\n  UPDATE t SET b = CASE WHEN new.a > 1 THEN 'x;' ELSE 'y' END WHERE id = new.id;\n  INSERT INTO log VALUES (new.id);\nEND";
    let src = format!("CREATE TABLE t (a int);\n{t};\nSELECT 1;");
    assert_eq!(
        sqls(&src, Sqlite),
        ["CREATE TABLE t (a int)", t, "SELECT 1"]
    );
    assert_eq!(lines(&src, Sqlite), [1, 2, 8]);
    // BEGIN/END outside a trigger do not nest
    assert_eq!(
        sqls("BEGIN; SELECT 1; END;", Sqlite),
        ["BEGIN", "SELECT 1", "END"]
    );
    assert_eq!(
        sqls("SELECT CASE WHEN 1 THEN 2 END; SELECT 3", Sqlite).len(),
        2
    );
}

#[test]
fn mysql_routines_without_delimiter() {
    let p = "CREATE DEFINER=`root`@`localhost` PROCEDURE p(IN x INT)\nBEGIN\n  DECLARE y INT DEFAULT 0;\n  IF x > 0 THEN SET y = 1; END IF;\n  WHILE y < 3 DO SET y = y + 1; END WHILE;\n  CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;\n  SELECT CASE WHEN y > 1 THEN 'a' END;\n  lbl: LOOP LEAVE lbl; END LOOP lbl;\nEND";
    assert_eq!(sqls(&format!("{p};\nSELECT 1;"), Mysql), [p, "SELECT 1"]);
    let t = "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END";
    assert_eq!(sqls(&format!("{t}; SELECT 1"), Mysql), [t, "SELECT 1"]);
    let e = "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; DELETE FROM u; END";
    assert_eq!(sqls(&format!("{e}; SELECT 1"), Mysql), [e, "SELECT 1"]);
    let f = "CREATE DEFINER = root@localhost FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END";
    assert_eq!(sqls(&format!("{f}; SELECT 1"), Mysql), [f, "SELECT 1"]);
    // single-statement trigger body without BEGIN
    let s = "CREATE TRIGGER t2 BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1";
    assert_eq!(sqls(&format!("{s}; SELECT 1"), Mysql), [s, "SELECT 1"]);
    // tables named like routines are plain statements
    assert_eq!(
        sqls("CREATE TABLE event (begin_at int); SELECT 1", Mysql).len(),
        2
    );
}

#[test]
fn mysql_delimiter() {
    let src = "DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND //\nDELIMITER ;\nSELECT 3;\ndelimiter $$\nSELECT 4$$\nSELECT ';$$'$$";
    let st = split_statements(src, Mysql).unwrap();
    let texts: Vec<_> = st.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        texts,
        [
            "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND",
            "SELECT 3",
            "SELECT 4",
            "SELECT ';$$'"
        ]
    );
    assert_eq!(
        st.iter().map(|s| s.line).collect::<Vec<_>>(),
        [2, 8, 10, 11]
    );
    // mysqldump style with version comments
    let dump = "DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a=1; END */;;\nDELIMITER ;\n/*!40101 SET NAMES utf8 */;";
    let got = sqls(dump, Mysql);
    assert_eq!(got.len(), 2);
    assert!(got[0].starts_with("/*!50003 CREATE*/") && got[0].ends_with("END */"));
    assert_eq!(got[1], "/*!40101 SET NAMES utf8 */");
    assert_eq!(err("DELIMITER \nSELECT 1", Mysql).line, 1);
    // DELIMITER is only a client command in MySQL
    assert_eq!(
        sqls("DELIMITER //\nSELECT 1//", Sqlite),
        ["DELIMITER //\nSELECT 1//"]
    );
}

#[test]
fn postgres_begin_atomic() {
    let f = "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO t VALUES (a);\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\nEND";
    assert_eq!(sqls(&format!("{f};\nSELECT 1;"), Postgres), [f, "SELECT 1"]);
    let p = "CREATE PROCEDURE p() BEGIN ATOMIC DELETE FROM t; END";
    assert_eq!(sqls(&format!("{p}; SELECT 1"), Postgres), [p, "SELECT 1"]);
    // transaction BEGIN is untouched
    assert_eq!(
        sqls("BEGIN; SELECT 1; COMMIT;", Postgres),
        ["BEGIN", "SELECT 1", "COMMIT"]
    );
}

#[test]
fn line_numbers_after_multiline_strings_and_comments() {
    let src = "INSERT INTO t VALUES ('a\nb\nc');\n/* x\ny */\nSELECT 1;\n\n  SELECT\n2;";
    for d in ALL {
        assert_eq!(lines(src, d), [1, 6, 8]);
    }
}

#[test]
fn crlf_input() {
    let src = "CREATE TABLE t (a int);\r\n-- c\r\nINSERT INTO t VALUES ('x\r\ny');\r\nSELECT 1\r\n";
    for d in ALL {
        let st = split_statements(src, d).unwrap();
        assert_eq!(
            st.iter().map(|s| s.sql.as_str()).collect::<Vec<_>>(),
            [
                "CREATE TABLE t (a int)",
                "INSERT INTO t VALUES ('x\r\ny')",
                "SELECT 1"
            ]
        );
        assert_eq!(st.iter().map(|s| s.line).collect::<Vec<_>>(), [1, 3, 5]);
    }
}

#[test]
fn unicode_and_bom() {
    let src = "\u{feff}CREATE TABLE café (naïve text, \"名前\" text);\nINSERT INTO café VALUES ('🎉;🎉', 'ü');\nSELECT 'é'";
    for d in ALL {
        let st = split_statements(src, d).unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st[0].offset, 3);
        assert_eq!(st[1].sql, "INSERT INTO café VALUES ('🎉;🎉', 'ü')");
        assert_eq!(st[2].sql, "SELECT 'é'");
        assert_eq!(&src[st[1].offset..st[1].offset + 6], "INSERT");
    }
    assert_eq!(sqls("SELECT ÉBEGIN; SELECT 1", Sqlite).len(), 2);
}

#[test]
fn unterminated_errors() {
    for d in ALL {
        let e = err("SELECT 1;\n\nSELECT 'abc;\nmore", d);
        assert_eq!(
            e,
            SplitError {
                line: 3,
                message: "unterminated string literal opened at line 3".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "line 3: unterminated string literal opened at line 3"
        );
        assert_eq!(
            err("SELECT 1; /* never\nclosed", d).message,
            "unterminated block comment opened at line 1"
        );
    }
    assert_eq!(
        err("\nSELECT \"abc", Sqlite).message,
        "unterminated quoted identifier opened at line 2"
    );
    assert_eq!(
        err("SELECT `abc", Mysql).message,
        "unterminated quoted identifier opened at line 1"
    );
    assert_eq!(
        err("SELECT [abc", Sqlite).message,
        "unterminated bracketed identifier opened at line 1"
    );
    assert_eq!(err("SELECT E'abc\\'", Postgres).line, 1);
    assert_eq!(err("SELECT 'abc\\'", Mysql).line, 1);
    assert_eq!(err("/* a /* b */", Postgres).line, 1);
    let _: &dyn std::error::Error = &err("'", Sqlite);
}

#[test]
fn never_panics_and_offsets_match_on_truncated_input() {
    let script = "DELIMITER //\nCREATE TRIGGER t BEGIN SELECT 'é;' ; END//\nDELIMITER ;\n/* a /* b */ */ SELECT $x$ 🎉; $x$, E'\\'', [c;], `d;` # e;\n-- f\r\nSELECT \"名;\" ;";
    for d in ALL {
        for (k, _) in script.char_indices() {
            if let Ok(st) = split_statements(&script[..k], d) {
                for s in st {
                    assert!(script[s.offset..].starts_with(&s.sql), "{d:?} {k}: {s:?}");
                }
            }
        }
    }
}
