//! The schema of the current database, from information_schema.
//!
//! One query per kind of object for the whole schema (not per table): information_schema
//! is slow on MariaDB, which opens every table it reports on. Works on MariaDB 10.2+ and
//! MySQL 8.0.16+; the differences handled here:
//! - CHECK constraints: MariaDB's `CHECK_CONSTRAINTS` has `TABLE_NAME` (and lists
//!   column-level checks, named after their column, so names repeat across tables);
//!   MySQL's lacks it and is joined to `TABLE_CONSTRAINTS` (names are unique per schema).
//! - JSON: MariaDB's `JSON` is `LONGTEXT` plus a `json_valid(col)` check, which marks the
//!   column as JSON here instead of becoming a rule.
//! - Defaults: MariaDB reports `DEFAULT NULL` as the text `NULL` and quotes literals;
//!   MySQL reports NULL for both "no default" and `DEFAULT NULL`.
//! - Generated columns: `EXTRA` says `VIRTUAL GENERATED` / `STORED GENERATED`; MySQL also
//!   says `DEFAULT_GENERATED` for expression defaults, which are plain defaults.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Executor, MySqlConnection, Row};

use crate::engine::MIGRATIONS_TABLE;
use crate::schema::{Column, ColumnType, ForeignKey, Schema, Table};
use crate::sqltext::{self, CheckRule, Literal};

/// Rows of a text-protocol query, every cell as text (`None` for NULL).
pub(crate) async fn text_rows(
    conn: &mut MySqlConnection,
    sql: String,
) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    let rows = conn.fetch_all(AssertSqlSafe(sql)).await?;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    let raw: Option<&[u8]> = row.try_get_unchecked(i)?;
                    Ok(raw.map(|b| String::from_utf8_lossy(b).into_owned()))
                })
                .collect()
        })
        .collect()
}

fn cell(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// Tables dbenv and sqlx keep for themselves, never seeded nor reported.
pub(crate) fn is_bookkeeping(table: &str) -> bool {
    table == MIGRATIONS_TABLE || table.starts_with("_dbenv")
}

/// Introspect the database the connection uses (`DATABASE()`).
pub(crate) async fn schema(
    conn: &mut MySqlConnection,
    mariadb: bool,
) -> Result<Schema, sqlx::Error> {
    let names = text_rows(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')".into(),
    )
    .await?;
    let mut tables: BTreeMap<String, Table> = names
        .iter()
        .map(|r| cell(r, 0))
        .filter(|name| !is_bookkeeping(name))
        .map(|name| (name.clone(), empty_table(name)))
        .collect();
    load_columns(conn, &mut tables).await?;
    load_keys(conn, &mut tables).await?;
    load_foreign_keys(conn, &mut tables).await?;
    load_checks(conn, &mut tables, mariadb).await?;
    // BTreeMap: sorted by name, byte-wise (as SQLite's BINARY collation sorts).
    Ok(Schema {
        tables: tables.into_values().collect(),
    })
}

fn empty_table(name: String) -> Table {
    Table {
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        uniques: Vec::new(),
        foreign_keys: Vec::new(),
        unsupported_checks: Vec::new(),
    }
}

async fn load_columns(
    conn: &mut MySqlConnection,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), sqlx::Error> {
    let rows = text_rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION".into(),
    )
    .await?;
    for row in rows {
        if let Some(table) = tables.get_mut(&cell(&row, 0)) {
            table.columns.push(column(&row));
        }
    }
    Ok(())
}

fn column(row: &[Option<String>]) -> Column {
    let declared = cell(row, 2);
    let data_type = cell(row, 3).to_ascii_lowercase();
    let extra = cell(row, 6).to_ascii_uppercase();
    let default = row.get(5).cloned().flatten();
    let mut checks = Vec::new();
    if declared.to_ascii_lowercase().contains("unsigned") {
        checks.push(CheckRule::Range {
            min: Some((Literal::Int(0), true)),
            max: None,
        });
    }
    let ty = match data_type.as_str() {
        // A SET accepts any one of its members, so it generates like an enum.
        "enum" | "set" => ColumnType::Enum(enum_values(&declared)),
        "bit" if declared.eq_ignore_ascii_case("bit(1)") => ColumnType::Boolean,
        "year" => {
            checks.push(CheckRule::Range {
                min: Some((Literal::Int(1901), true)),
                max: Some((Literal::Int(2155), true)),
            });
            ColumnType::Integer { bytes: 2 }
        }
        _ => ColumnType::from_declared(&declared),
    };
    let generated = (extra.contains("VIRTUAL GENERATED")
        || extra.contains("STORED GENERATED")
        || extra.contains("PERSISTENT GENERATED"))
        && !extra.contains("DEFAULT_GENERATED");
    Column {
        name: cell(row, 1),
        declared,
        ty,
        nullable: cell(row, 4) == "YES",
        // MariaDB writes `DEFAULT NULL` as the text NULL (a literal 'NULL' comes quoted).
        has_default: default.is_some_and(|d| !d.eq_ignore_ascii_case("NULL")),
        generated_key: extra.contains("AUTO_INCREMENT"),
        computed: generated,
        checks,
    }
}

/// The members of `enum('a','it''s','b\\c')` / `set(…)`, unquoted.
pub(crate) fn enum_values(declared: &str) -> Vec<String> {
    let body = match (declared.find('('), declared.rfind(')')) {
        (Some(open), Some(close)) if open < close => &declared[open + 1..close],
        _ => return Vec::new(),
    };
    let mut values = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('0') => value.push('\0'),
                    Some('Z') => value.push('\x1a'),
                    Some(other) => value.push(other),
                    None => {}
                },
                other => value.push(other),
            }
        }
        values.push(value);
    }
    values
}

/// A unique index as information_schema lists it; `columns` is None when a key part is an
/// expression.
struct UniqueIndex {
    table: String,
    name: String,
    columns: Option<Vec<String>>,
}

async fn load_keys(
    conn: &mut MySqlConnection,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), sqlx::Error> {
    // MySQL 8 functional key parts have a NULL COLUMN_NAME: not a uniqueness rule on
    // columns, so such indexes are skipped whole.
    let rows = text_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX".into(),
    )
    .await?;
    let mut indexes: Vec<UniqueIndex> = Vec::new();
    for row in rows {
        let (table, name) = (cell(&row, 0), cell(&row, 1));
        if indexes
            .last()
            .is_none_or(|last| last.table != table || last.name != name)
        {
            let columns = Some(Vec::new());
            indexes.push(UniqueIndex {
                table,
                name,
                columns,
            });
        }
        let columns = &mut indexes.last_mut().expect("pushed above").columns;
        match (row.get(2).cloned().flatten(), columns.as_mut()) {
            (Some(name), Some(list)) => list.push(name),
            _ => *columns = None,
        }
    }
    for index in indexes {
        let (Some(t), Some(columns)) = (tables.get_mut(&index.table), index.columns) else {
            continue;
        };
        if index.name == "PRIMARY" {
            t.primary_key = columns;
        } else if !t.uniques.contains(&columns) {
            t.uniques.push(columns);
        }
    }
    Ok(())
}

async fn load_foreign_keys(
    conn: &mut MySqlConnection,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), sqlx::Error> {
    let rows = text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION".into(),
    )
    .await?;
    let mut fks: BTreeMap<String, Vec<(String, ForeignKey)>> = BTreeMap::new();
    for row in rows {
        let list = fks.entry(cell(&row, 0)).or_default();
        let name = cell(&row, 1);
        if list.last().is_none_or(|(last, _)| *last != name) {
            let fk = ForeignKey {
                columns: Vec::new(),
                ref_table: cell(&row, 3),
                ref_columns: Vec::new(),
            };
            list.push((name, fk));
        }
        let fk = &mut list.last_mut().expect("pushed above").1;
        fk.columns.push(cell(&row, 2));
        fk.ref_columns.push(cell(&row, 4));
    }
    for (table, mut list) in fks {
        // Unnamed constraints are `<table>_ibfk_<n>` in declaration order: keep that order.
        list.sort_by_key(|(name, _)| natural_key(name));
        if let Some(t) = tables.get_mut(&table) {
            t.foreign_keys = list.into_iter().map(|(_, fk)| fk).collect();
        }
    }
    Ok(())
}

/// `tasks_ibfk_10` sorts after `tasks_ibfk_9`.
fn natural_key(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = name.split_at(name.len() - digits);
    (head.to_string(), tail.parse().unwrap_or(0))
}

async fn load_checks(
    conn: &mut MySqlConnection,
    tables: &mut BTreeMap<String, Table>,
    mariadb: bool,
) -> Result<(), sqlx::Error> {
    let sql = if mariadb {
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME"
    } else {
        "SELECT tc.TABLE_NAME, cc.CHECK_CLAUSE FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME"
    };
    for row in text_rows(conn, sql.into()).await? {
        if let Some(table) = tables.get_mut(&cell(&row, 0)) {
            attach_check(table, &cell(&row, 1));
        }
    }
    Ok(())
}

/// Turn one CHECK clause into column rules; what is not understood is kept as text.
fn attach_check(table: &mut Table, clause: &str) {
    if let Some(column) = json_valid_column(clause) {
        if let Some(c) = table.columns.iter_mut().find(|c| c.name == column) {
            c.ty = ColumnType::Json;
        }
        return;
    }
    let parsed = sqltext::parse_check(clause);
    for rule in parsed.rules {
        let target = table
            .columns
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(&rule.column));
        match target {
            Some(column) => column.checks.push(rule.rule),
            None => table.unsupported_checks.push(clause.to_string()),
        }
    }
    table.unsupported_checks.extend(parsed.unsupported);
}

/// The column of MariaDB's implicit `json_valid(`col`)` check on a JSON column.
fn json_valid_column(clause: &str) -> Option<String> {
    let inner = clause.trim().trim_start_matches('(').trim_end_matches(')');
    let lower = inner.to_ascii_lowercase();
    let rest = lower.strip_prefix("json_valid(")?;
    let name = inner[inner.len() - rest.len()..].trim();
    let name = name.strip_prefix('`')?.strip_suffix('`')?;
    // Inside a quoted name every backtick is doubled; a lone one means more text follows.
    (!name.replace("``", "").contains('`')).then(|| name.replace("``", "`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_members_are_unquoted() {
        assert_eq!(
            enum_values(r"enum('x','it''s','b\\c','a,b')"),
            ["x", "it's", r"b\c", "a,b"]
        );
        assert_eq!(enum_values("set('p','q')"), ["p", "q"]);
        assert!(enum_values("enum").is_empty());
    }

    #[test]
    fn json_valid_checks_name_their_column() {
        assert_eq!(json_valid_column("json_valid(`j`)").as_deref(), Some("j"));
        assert_eq!(
            json_valid_column("(JSON_VALID(`we``ird`))").as_deref(),
            Some("we`ird")
        );
        assert_eq!(json_valid_column("json_valid(`a`) and `a` > 0"), None);
        assert_eq!(json_valid_column("`a` > 0"), None);
        assert_eq!(
            json_valid_column("json_valid(`a`) and json_valid(`b`)"),
            None
        );
    }

    #[test]
    fn constraint_names_sort_naturally() {
        let mut names = vec!["t_ibfk_10", "t_ibfk_2", "t_ibfk_1", "fk_a"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["fk_a", "t_ibfk_1", "t_ibfk_2", "t_ibfk_10"]);
    }
}
