//! From a scenario and the introspected schema to a generation plan: which tables in which
//! order, how many rows, and where each column's values come from. Every mistake a
//! scenario can make against the schema is reported here, before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use super::SeedError;
use super::rules::value_gen;
use super::scenario::{ColumnRule, ColumnSpec, RowsSpec, Scenario, TableSpec};
use super::values::ValueGen;
use crate::schema::{Column, Schema, Table};
use crate::util::suggest;

#[derive(Debug, Clone)]
pub struct Plan {
    /// In generation order: every table after the tables it references (cycles broken at
    /// nullable foreign keys, which are then filled by `deferred`).
    pub tables: Vec<TablePlan>,
    pub deferred: Vec<Deferred>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TablePlan {
    pub name: String,
    pub count: RowCount,
    /// The columns written, in table order.
    pub columns: Vec<String>,
    pub gens: Vec<ColGen>,
    pub null_ratio: Vec<f64>,
    pub max_len: Vec<Option<usize>>,
    pub fks: Vec<FkPlan>,
    /// Column sets whose values must not repeat (indexes into `columns`); keys made unique
    /// by construction (a sequence column) are left out.
    pub unique_keys: Vec<Vec<usize>>,
    /// Column sets other tables reference: their values are kept for the children.
    pub referenced: Vec<Vec<String>>,
    /// The primary key, needed to fill deferred foreign keys afterwards.
    pub primary_key: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowCount {
    Fixed(u64),
    /// For each row of the parent referenced by `fks[fk]`, between min and max children.
    Per {
        fk: usize,
        min: u64,
        max: u64,
    },
}

#[derive(Debug, Clone)]
pub enum ColGen {
    /// An integer key counting up from one past the largest existing value.
    Sequence,
    /// Component `component` of foreign key `fk`.
    Fk {
        fk: usize,
        component: usize,
    },
    Value(ValueGen),
    /// NULL now, filled after the referenced table exists (a broken cycle).
    LaterFk,
}

#[derive(Debug, Clone)]
pub struct FkPlan {
    pub parent: String,
    pub parent_columns: Vec<String>,
    /// Indexes into the table's `columns`.
    pub columns: Vec<usize>,
    pub null_ratio: f64,
    pub self_ref: bool,
}

#[derive(Debug, Clone)]
pub struct Deferred {
    pub table: String,
    pub key: Vec<String>,
    pub column: String,
    pub parent: String,
    pub parent_column: String,
    pub null_ratio: f64,
}

impl Plan {
    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// Plan `scenario` against `schema`.
pub fn plan(scenario: &Scenario, schema: &Schema) -> Result<Plan, SeedError> {
    check_names(scenario, schema)?;
    // A scenario that fills no table (`empty`) needs no order: a schema with a cycle of NOT
    // NULL foreign keys can still be migrated and left empty.
    let fills_nothing = scenario.default_rows == 0
        && scenario
            .tables
            .values()
            .all(|t| matches!(t.rows, None | Some(RowsSpec::Count(0))));
    let (order, broken) = if fills_nothing {
        ((0..schema.tables.len()).collect(), Vec::new())
    } else {
        order(schema)?
    };
    let referenced = referenced_keys(schema);
    let mut plan = Plan {
        tables: Vec::new(),
        deferred: Vec::new(),
        warnings: Vec::new(),
    };
    for index in order {
        let table = &schema.tables[index];
        let spec = scenario.tables.get(&table.name);
        let later: BTreeSet<String> = broken
            .iter()
            .filter(|(t, _)| *t == index)
            .flat_map(|(_, fk)| table.foreign_keys[*fk].columns.clone())
            .collect();
        let tp = plan_table(scenario, schema, table, spec, &later, &referenced)?;
        if !table.unsupported_checks.is_empty() {
            plan.warnings.push(format!(
                "table {}: CHECK constraint(s) dbenv cannot read: {}; if rows are refused, give the columns explicit values in the scenario",
                table.name,
                table.unsupported_checks.join("; ")
            ));
        }
        plan.tables.push(tp);
    }
    for (index, fk) in broken {
        let table = &schema.tables[index];
        let fk = &table.foreign_keys[fk];
        let spec = scenario
            .tables
            .get(&table.name)
            .and_then(|s| s.columns.get(&fk.columns[0]));
        let column = table.column(&fk.columns[0]).expect("introspected");
        plan.deferred.push(Deferred {
            table: table.name.clone(),
            key: table.primary_key.clone(),
            column: fk.columns[0].clone(),
            parent: fk.ref_table.clone(),
            parent_column: fk.ref_columns[0].clone(),
            null_ratio: null_ratio(spec, column, false, true),
        });
    }
    Ok(plan)
}

/// Tables and columns the scenario names must exist.
fn check_names(scenario: &Scenario, schema: &Schema) -> Result<(), SeedError> {
    let tables = schema.table_names();
    for (name, spec) in &scenario.tables {
        let Some(table) = schema.table(name) else {
            let hint = suggest(name, tables.iter().copied())
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            return Err(SeedError::Invalid {
                at: spec.at.to_string(),
                message: format!(
                    "scenario {} names table \"{name}\", which the migrations do not create ({hint}tables: {})",
                    scenario.name,
                    tables.join(", ")
                ),
            });
        };
        for (column, col) in &spec.columns {
            if table.column(column).is_none() {
                let names = table.column_names();
                let hint = suggest(column, names.iter().copied())
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                return Err(SeedError::Invalid {
                    at: col.at.to_string(),
                    message: format!(
                        "table {name} has no column \"{column}\" ({hint}columns: {})",
                        names.join(", ")
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Table indexes in generation order, and the (table, foreign key) edges set aside.
type Order = (Vec<usize>, Vec<(usize, usize)>);

/// Topological order of the tables; when a cycle remains, a nullable foreign key of it is
/// set aside (returned as (table, fk) pairs) and filled after the fact.
fn order(schema: &Schema) -> Result<Order, SeedError> {
    let index_of = |name: &str| schema.tables.iter().position(|t| t.name == name);
    let mut done = vec![false; schema.tables.len()];
    let mut order = Vec::new();
    let mut broken = Vec::new();
    // Edges still to satisfy: (child, fk index, parent).
    let mut edges: Vec<(usize, usize, usize)> = Vec::new();
    for (ci, table) in schema.tables.iter().enumerate() {
        for (fi, fk) in table.foreign_keys.iter().enumerate() {
            if let Some(pi) = index_of(&fk.ref_table).filter(|pi| *pi != ci) {
                edges.push((ci, fi, pi));
            }
        }
    }
    while order.len() < schema.tables.len() {
        let blocked = |t: usize, edges: &[(usize, usize, usize)]| {
            edges.iter().any(|(c, _, p)| *c == t && !done[*p])
        };
        if let Some(next) = (0..done.len()).find(|t| !done[*t] && !blocked(*t, &edges)) {
            done[next] = true;
            order.push(next);
            continue;
        }
        // A cycle: break it at a table whose outstanding references are all nullable.
        let breakable = (0..done.len()).filter(|t| !done[*t]).find(|t| {
            edges
                .iter()
                .filter(|(c, _, p)| c == t && !done[*p])
                .all(|(c, f, _)| {
                    fk_nullable(&schema.tables[*c], *f)
                        && schema.tables[*c].foreign_keys[*f].columns.len() == 1
                        && !schema.tables[*c].primary_key.is_empty()
                })
        });
        let Some(t) = breakable else {
            let cycle: Vec<&str> = (0..done.len())
                .filter(|t| !done[*t])
                .map(|t| schema.tables[t].name.as_str())
                .collect();
            return Err(SeedError::Impossible(format!(
                "the foreign keys between {} form a cycle with no nullable single-column edge, so no table can be filled first; make one of those foreign key columns nullable",
                cycle.join(", ")
            )));
        };
        let (cut, kept): (Vec<_>, Vec<_>) = edges
            .into_iter()
            .partition(|(c, _, p)| *c == t && !done[*p]);
        broken.extend(cut.into_iter().map(|(c, f, _)| (c, f)));
        edges = kept;
    }
    Ok((order, broken))
}

fn fk_nullable(table: &Table, fk: usize) -> bool {
    table.foreign_keys[fk]
        .columns
        .iter()
        .all(|c| table.column(c).is_some_and(|c| c.nullable))
}

/// For each table, the column sets children reference.
fn referenced_keys(schema: &Schema) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for table in &schema.tables {
        for fk in &table.foreign_keys {
            let sets = out.entry(fk.ref_table.clone()).or_default();
            if !sets.contains(&fk.ref_columns) {
                sets.push(fk.ref_columns.clone());
            }
        }
    }
    out
}

fn plan_table(
    scenario: &Scenario,
    schema: &Schema,
    table: &Table,
    spec: Option<&TableSpec>,
    later: &BTreeSet<String>,
    referenced: &BTreeMap<String, Vec<Vec<String>>>,
) -> Result<TablePlan, SeedError> {
    let col_spec = |name: &str| spec.and_then(|s| s.columns.get(name));
    let mut tp = TablePlan {
        name: table.name.clone(),
        count: RowCount::Fixed(0),
        columns: Vec::new(),
        gens: Vec::new(),
        null_ratio: Vec::new(),
        max_len: Vec::new(),
        fks: Vec::new(),
        unique_keys: Vec::new(),
        referenced: referenced.get(&table.name).cloned().unwrap_or_default(),
        primary_key: table.primary_key.clone(),
    };
    let fk_of = |col: &str| {
        table
            .foreign_keys
            .iter()
            .position(|fk| fk.columns.iter().any(|c| c == col))
    };
    for column in &table.columns {
        let spec = col_spec(&column.name);
        if column.computed {
            continue;
        }
        if let Some(s) = spec.filter(|s| s.rule == ColumnRule::Default) {
            if !column.nullable && !column.has_default && !column.generated_key {
                return Err(SeedError::Invalid {
                    at: s.at.to_string(),
                    message: format!(
                        "{}.{} is NOT NULL and has no default, so it cannot be left to the database; give it a rule",
                        table.name, column.name
                    ),
                });
            }
            continue;
        }
        let fk = fk_of(&column.name);
        let generator = if later.contains(&column.name) {
            ColGen::LaterFk
        } else if let Some(fi) = fk {
            reject_rule_on_fk(spec, table, column)?;
            let fk = &table.foreign_keys[fi];
            let component = fk
                .columns
                .iter()
                .position(|c| *c == column.name)
                .expect("fk column");
            ColGen::Fk { fk: fi, component }
        } else if table.primary_key == [column.name.clone()]
            && column.ty.is_integer()
            && spec.is_none_or(|s| s.rule == ColumnRule::Infer)
        {
            ColGen::Sequence
        } else {
            let rule = spec.map(|s| &s.rule).unwrap_or(&ColumnRule::Infer);
            let at = spec
                .map(|s| s.at.to_string())
                .unwrap_or_else(|| format!("table {}", table.name));
            ColGen::Value(
                value_gen(&table.name, column, rule, scenario.locale)
                    .map_err(|m| SeedError::Invalid { at, message: m })?,
            )
        };
        let self_ref = fk.is_some_and(|fi| table.foreign_keys[fi].ref_table == table.name);
        let ratio = null_ratio(spec, column, self_ref, fk.is_some());
        if ratio > 0.0 && !column.nullable {
            let at = spec.map(|s| s.at.to_string()).unwrap_or_default();
            return Err(SeedError::Invalid {
                at,
                message: format!(
                    "{}.{} is NOT NULL, so null_ratio must be 0",
                    table.name, column.name
                ),
            });
        }
        tp.columns.push(column.name.clone());
        tp.gens.push(generator);
        tp.null_ratio.push(ratio);
        tp.max_len.push(max_len(column));
    }
    plan_fks(&mut tp, table, scenario, schema)?;
    tp.count = row_count(scenario, table, spec, &tp)?;
    plan_unique_keys(&mut tp, table, spec);
    Ok(tp)
}

fn reject_rule_on_fk(
    spec: Option<&ColumnSpec>,
    table: &Table,
    column: &Column,
) -> Result<(), SeedError> {
    match spec {
        Some(s) if s.rule != ColumnRule::Infer => Err(SeedError::Invalid {
            at: s.at.to_string(),
            message: format!(
                "{}.{} is a foreign key: dbenv fills it with keys of existing rows; remove its rule (null_ratio is allowed)",
                table.name, column.name
            ),
        }),
        _ => Ok(()),
    }
}

fn null_ratio(spec: Option<&ColumnSpec>, column: &Column, self_ref: bool, is_fk: bool) -> f64 {
    if let Some(r) = spec.and_then(|s| s.null_ratio) {
        return r;
    }
    if !column.nullable {
        return 0.0;
    }
    let name = column.name.to_ascii_lowercase();
    match () {
        _ if name.contains("deleted")
            || name.contains("archived")
            || name.contains("canceled")
            || name.contains("cancelled") =>
        {
            0.9
        }
        _ if self_ref => 0.5,
        _ if is_fk => 0.2,
        _ => 0.1,
    }
}

fn max_len(column: &Column) -> Option<usize> {
    use crate::schema::ColumnType;
    use crate::sqltext::CheckRule;
    let declared = match column.ty {
        ColumnType::Text { max_len } => max_len.map(|n| n as usize),
        _ => None,
    };
    let checked = column.checks.iter().find_map(|c| match c {
        CheckRule::Length { max, .. } => *max,
        _ => None,
    });
    match (declared, checked) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn plan_fks(
    tp: &mut TablePlan,
    table: &Table,
    scenario: &Scenario,
    schema: &Schema,
) -> Result<(), SeedError> {
    for fk in &table.foreign_keys {
        let columns: Vec<usize> = fk
            .columns
            .iter()
            .filter_map(|c| tp.columns.iter().position(|x| x == c))
            .collect();
        let spec = scenario
            .tables
            .get(&table.name)
            .and_then(|s| s.columns.get(&fk.columns[0]));
        let first = table.column(&fk.columns[0]).expect("introspected");
        let self_ref = fk.ref_table == table.name;
        if schema.table(&fk.ref_table).is_none() {
            return Err(SeedError::Impossible(format!(
                "{}.{} references table {}, which does not exist",
                table.name,
                fk.columns.join(","),
                fk.ref_table
            )));
        }
        tp.fks.push(FkPlan {
            parent: fk.ref_table.clone(),
            parent_columns: fk.ref_columns.clone(),
            columns,
            null_ratio: null_ratio(spec, first, self_ref, true),
            self_ref,
        });
    }
    Ok(())
}

fn row_count(
    scenario: &Scenario,
    table: &Table,
    spec: Option<&TableSpec>,
    tp: &TablePlan,
) -> Result<RowCount, SeedError> {
    match spec.and_then(|s| s.rows.clone()) {
        None => Ok(RowCount::Fixed(scenario.default_rows)),
        Some(RowsSpec::Count(n)) => Ok(RowCount::Fixed(n)),
        Some(RowsSpec::Per {
            parent,
            via,
            min,
            max,
        }) => {
            let at = spec.map(|s| s.at.to_string()).unwrap_or_default();
            let candidates: Vec<usize> = (0..tp.fks.len())
                .filter(|i| tp.fks[*i].parent == parent)
                .filter(|i| {
                    via.as_ref()
                        .is_none_or(|v| table.foreign_keys[*i].columns.contains(v))
                })
                .collect();
            match candidates.as_slice() {
                [fk] => Ok(RowCount::Per { fk: *fk, min, max }),
                [] => Err(SeedError::Invalid {
                    at,
                    message: format!(
                        "rows per \"{parent}{}\": table {} has no foreign key to {parent}; `per` needs the child to reference the parent",
                        via.map(|v| format!(".{v}")).unwrap_or_default(),
                        table.name
                    ),
                }),
                several => {
                    let cols: Vec<String> = several
                        .iter()
                        .map(|i| format!("{parent}.{}", table.foreign_keys[*i].columns[0]))
                        .collect();
                    Err(SeedError::Invalid {
                        at,
                        message: format!(
                            "table {} references {parent} through several columns; say which: per = \"{}\"",
                            table.name,
                            cols.join("\" or per = \"")
                        ),
                    })
                }
            }
        }
    }
}

fn plan_unique_keys(tp: &mut TablePlan, table: &Table, spec: Option<&TableSpec>) {
    let mut keys: Vec<Vec<String>> = table
        .unique_keys()
        .into_iter()
        .map(<[String]>::to_vec)
        .collect();
    if let Some(spec) = spec {
        for (name, col) in &spec.columns {
            if col.unique && !keys.contains(&vec![name.clone()]) {
                keys.push(vec![name.clone()]);
            }
        }
    }
    for key in keys {
        let Some(idx) = key
            .iter()
            .map(|c| tp.columns.iter().position(|x| x == c))
            .collect::<Option<Vec<usize>>>()
        else {
            continue; // a column left to the database: it keeps its own promises
        };
        if idx.iter().any(|i| matches!(tp.gens[*i], ColGen::Sequence)) {
            continue;
        }
        if !tp.unique_keys.contains(&idx) {
            tp.unique_keys.push(idx);
        }
    }
}
