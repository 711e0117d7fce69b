//! Reading the schema from pg_catalog: four queries for the whole schema (columns, the types
//! they use, constraints, unique indexes), whatever the number of tables.
//!
//! Types: domains are resolved to their base type, and their NOT NULL, DEFAULT and CHECK
//! constraints apply to the column; enums become [`ColumnType::Enum`] with their labels in
//! sort order. Arrays, ranges, intervals, network, geometric and bit-string types have no
//! generator: they are classified as text and reported in `unsupported_checks`, so the
//! seed plan warns and the scenario can give such columns explicit values.

use std::collections::HashMap;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Row};

use crate::schema::{Column, ColumnType, ForeignKey, Schema, Table};
use crate::sqltext::{self, CheckRule};

/// The user tables of the current schema; sqlx's and dbenv's bookkeeping tables and
/// partitions (written through their parent) left out.
const TABLES: &str = r#"tables AS (
    SELECT c.oid, c.relname, c.relnamespace FROM pg_class c
    WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
      AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND c.relname <> '_sqlx_migrations' AND c.relname NOT LIKE '\_dbenv%'
)"#;

const COLUMNS: &str = r#"
SELECT t.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.atttypid::int8, a.attnotnull, a.atthasdef, a.attidentity::text, a.attgenerated::text,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
FROM tables t
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
ORDER BY t.relname, a.attnum
"#;

/// Every type the columns use, and the base types of the domains among them.
const TYPES: &str = r#",
used(oid) AS (
    SELECT a.atttypid FROM tables t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT ty.typbasetype FROM used JOIN pg_type ty ON ty.oid = used.oid WHERE ty.typtype = 'd'
)
SELECT ty.oid::int8, ty.typname::text, ty.typtype::text, ty.typcategory::text,
       ty.typbasetype::int8, format_type(ty.typbasetype, ty.typtypmod), ty.typnotnull,
       ty.typdefaultbin IS NOT NULL,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = ty.oid ORDER BY e.enumsortorder),
       ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
             WHERE c.contypid = ty.oid AND c.contype = 'c' ORDER BY c.oid)
FROM used JOIN pg_type ty ON ty.oid = used.oid
"#;

/// Primary keys, foreign keys and CHECK constraints, columns in constraint order.
const CONSTRAINTS: &str = r#"
SELECT t.relname::text, con.contype::text,
       CASE WHEN rf.relnamespace = t.relnamespace THEN rf.relname::text
            ELSE format('%s.%s', rn.nspname, rf.relname) END,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
       pg_get_constraintdef(con.oid)
FROM tables t
JOIN pg_constraint con ON con.conrelid = t.oid AND con.contype IN ('p', 'f', 'c')
LEFT JOIN pg_class rf ON rf.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rf.relnamespace
ORDER BY t.relname, con.oid
"#;

/// Unique constraints and unique indexes; partial and expression indexes say nothing about
/// plain column values, and INCLUDE columns are not part of the key.
const UNIQUE_INDEXES: &str = r#"
SELECT t.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
             WHERE k.o <= i.indnkeyatts ORDER BY k.o)
FROM tables t
JOIN pg_index i ON i.indrelid = t.oid
WHERE i.indisunique AND NOT i.indisprimary AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY t.relname, i.indexrelid
"#;

/// A type the columns use, as pg_type describes it.
struct PgType {
    name: String,
    kind: String,
    category: String,
    /// The type a domain is over (0 for other types), and its declaration.
    base: i64,
    base_declared: String,
    not_null: bool,
    has_default: bool,
    labels: Vec<String>,
    checks: Vec<String>,
}

/// The tables of the current schema, sorted by name.
pub(super) async fn read_schema(conn: &mut PgConnection) -> Result<Schema, sqlx::Error> {
    let types: HashMap<i64, PgType> = fetch(conn, &format!("WITH RECURSIVE {TABLES}{TYPES}"))
        .await?
        .iter()
        .map(pg_type)
        .collect::<Result<_, _>>()?;
    let mut tables: Vec<Table> = Vec::new();
    for row in fetch(conn, &format!("WITH {TABLES}{COLUMNS}")).await? {
        let table: String = row.try_get(0)?;
        if tables.last().is_none_or(|t| t.name != table) {
            tables.push(empty_table(table));
        }
        let t = tables.last_mut().expect("pushed above");
        let column = column(&row, &types, &mut t.unsupported_checks)?;
        t.columns.push(column);
    }
    for row in fetch(conn, &format!("WITH {TABLES}{CONSTRAINTS}")).await? {
        if let Some(t) = find(&mut tables, &row.try_get::<String, _>(0)?) {
            constraint(t, &row)?;
        }
    }
    for row in fetch(conn, &format!("WITH {TABLES}{UNIQUE_INDEXES}")).await? {
        let columns: Vec<String> = row.try_get(1)?;
        if let Some(t) = find(&mut tables, &row.try_get::<String, _>(0)?)
            && !columns.is_empty()
            && columns != t.primary_key
            && !t.uniques.contains(&columns)
        {
            t.uniques.push(columns);
        }
    }
    // Byte order, as SQLite sorts: the same schema lists its tables alike on every engine.
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Schema { tables })
}

async fn fetch(conn: &mut PgConnection, sql: &str) -> Result<Vec<PgRow>, sqlx::Error> {
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .fetch_all(conn)
        .await
}

fn find<'t>(tables: &'t mut [Table], name: &str) -> Option<&'t mut Table> {
    tables.iter_mut().find(|t| t.name == name)
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

fn pg_type(row: &PgRow) -> Result<(i64, PgType), sqlx::Error> {
    Ok((
        row.try_get(0)?,
        PgType {
            name: row.try_get(1)?,
            kind: row.try_get(2)?,
            category: row.try_get(3)?,
            base: row.try_get(4)?,
            base_declared: row.try_get(5)?,
            not_null: row.try_get(6)?,
            has_default: row.try_get(7)?,
            labels: row.try_get(8)?,
            checks: row.try_get(9)?,
        },
    ))
}

fn column(
    row: &PgRow,
    types: &HashMap<i64, PgType>,
    notes: &mut Vec<String>,
) -> Result<Column, sqlx::Error> {
    let name: String = row.try_get(1)?;
    let declared: String = row.try_get(2)?;
    let identity: String = row.try_get(6)?;
    let generated: String = row.try_get(7)?;
    let default: String = row.try_get(8)?;
    let mut column = Column {
        ty: ColumnType::Text { max_len: None },
        declared: declared.clone(),
        nullable: !row.try_get::<bool, _>(4)?,
        has_default: row.try_get::<bool, _>(5)? || !identity.is_empty(),
        generated_key: !identity.is_empty() || default.starts_with("nextval("),
        computed: !generated.is_empty(),
        checks: Vec::new(),
        name,
    };
    // Walk down the domains (a domain may be over another domain) to the base type.
    let mut oid: i64 = row.try_get(3)?;
    let mut base_declared = declared;
    while let Some(ty) = types.get(&oid).filter(|t| t.kind == "d") {
        column.nullable &= !ty.not_null;
        column.has_default |= ty.has_default;
        for def in &ty.checks {
            attach_domain_check(&mut column, &ty.name, def, notes);
        }
        base_declared = ty.base_declared.clone();
        oid = ty.base;
    }
    column.ty = match types.get(&oid) {
        Some(ty) if ty.kind == "e" => ColumnType::Enum(ty.labels.clone()),
        Some(ty) if ["A", "G", "I", "R", "T", "V"].contains(&ty.category.as_str()) => {
            notes.push(format!(
                "column {} is {}, for which dbenv has no generator (values are made as text); give it values in the scenario (one_of) or `default = true`",
                column.name, column.declared
            ));
            ColumnType::Text { max_len: None }
        }
        _ => ColumnType::from_declared(&base_declared),
    };
    Ok(column)
}

/// A domain's CHECK speaks of `VALUE`: its rules belong to the column of that domain type.
fn attach_domain_check(column: &mut Column, domain: &str, def: &str, notes: &mut Vec<String>) {
    let parsed = sqltext::parse_check(def);
    for rule in parsed.rules {
        if rule.column.eq_ignore_ascii_case("value") {
            column.checks.push(rule.rule);
        } else {
            notes.push(format!("{def} (domain {domain} of column {})", column.name));
        }
    }
    for body in parsed.unsupported {
        notes.push(format!(
            "{body} (domain {domain} of column {})",
            column.name
        ));
    }
}

fn constraint(table: &mut Table, row: &PgRow) -> Result<(), sqlx::Error> {
    let kind: String = row.try_get(1)?;
    let columns: Vec<String> = row.try_get(3)?;
    match kind.as_str() {
        "p" => table.primary_key = columns,
        "f" => table.foreign_keys.push(ForeignKey {
            columns,
            ref_table: row.try_get(2)?,
            ref_columns: row.try_get(4)?,
        }),
        _ => attach_check(table, &row.try_get::<String, _>(5)?),
    }
    Ok(())
}

/// Single-column rules of a CHECK constraint go to their column; the rest is reported.
fn attach_check(table: &mut Table, def: &str) {
    let parsed = sqltext::parse_check(def);
    for rule in parsed.rules {
        let target = table.columns.iter_mut().find(|c| c.name == rule.column);
        match target {
            Some(column) => push_rule(column, rule.rule),
            None => table.unsupported_checks.push(def.to_string()),
        }
    }
    table.unsupported_checks.extend(parsed.unsupported);
}

fn push_rule(column: &mut Column, rule: CheckRule) {
    if !column.checks.contains(&rule) {
        column.checks.push(rule);
    }
}
