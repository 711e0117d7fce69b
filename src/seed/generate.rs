//! Row generation: deterministic streams of rows for a plan, with foreign keys pointing at
//! rows that exist and unique keys that never collide.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::SeedError;
use super::plan::{ColGen, Plan, RowCount, TablePlan};
use super::values::with_suffix;
use crate::value::Value;

/// Rows handed to the writer at a time.
pub const BATCH_ROWS: usize = 2_000;
const RETRIES: usize = 64;

/// A unit of work for the writer.
#[derive(Debug)]
pub enum Work {
    Rows {
        table: String,
        columns: Vec<String>,
        rows: Vec<Vec<Value>>,
    },
    Update {
        table: String,
        key: Vec<String>,
        column: String,
        rows: Vec<(Vec<Value>, Value)>,
    },
}

/// What is already in the database and matters for generation (seeding on top of data, or
/// rows that migrations inserted).
#[derive(Debug, Default, Clone)]
pub struct Existing {
    /// Largest value of each table's integer key, to count on from.
    pub max_key: BTreeMap<String, i64>,
    /// Existing tuples of column sets: referenced keys and unique keys.
    pub tuples: BTreeMap<(String, Vec<String>), Vec<Vec<Value>>>,
}

/// Keys of a table that children can reference: ranges for sequences, tuples otherwise.
#[derive(Debug, Default, Clone)]
struct KeyStore {
    ranges: Vec<(i64, u64)>,
    rows: Vec<Vec<Value>>,
}

impl KeyStore {
    fn len(&self) -> u64 {
        self.ranges.iter().map(|r| r.1).sum::<u64>() + self.rows.len() as u64
    }

    fn get(&self, mut i: u64) -> Vec<Value> {
        for (start, len) in &self.ranges {
            if i < *len {
                return vec![Value::Int(start + i as i64)];
            }
            i -= len;
        }
        self.rows[i as usize].clone()
    }
}

pub struct Generator {
    plan: Arc<Plan>,
    seed: u64,
    existing: Existing,
    stores: BTreeMap<(String, Vec<String>), KeyStore>,
    pub rows_written: BTreeMap<String, u64>,
}

/// An independent, reproducible random stream for one purpose.
fn stream(seed: u64, parts: &[&str]) -> ChaCha8Rng {
    let mut h = DefaultHasher::new();
    seed.hash(&mut h);
    parts.hash(&mut h);
    ChaCha8Rng::seed_from_u64(h.finish())
}

fn tuple_hash(values: &[&Value]) -> u64 {
    let mut buf = Vec::with_capacity(32);
    for v in values {
        v.encode_into(&mut buf);
    }
    let mut h = DefaultHasher::new();
    buf.hash(&mut h);
    h.finish()
}

impl Generator {
    /// Prepare generation and refuse impossible requests (before anything is written).
    pub fn new(plan: Arc<Plan>, seed: u64, existing: Existing) -> Result<Self, SeedError> {
        let mut generator = Generator {
            plan: Arc::clone(&plan),
            seed,
            existing,
            stores: BTreeMap::new(),
            rows_written: BTreeMap::new(),
        };
        for ((table, cols), tuples) in &generator.existing.tuples {
            let referenced = plan
                .table(table)
                .is_some_and(|t| t.referenced.contains(cols) || &t.primary_key == cols);
            if referenced {
                generator
                    .stores
                    .entry((table.clone(), cols.clone()))
                    .or_default()
                    .rows = tuples.clone();
            }
        }
        generator.check_feasible()?;
        Ok(generator)
    }

    /// Upper and lower bounds of the rows each table will get.
    fn planned(&self) -> BTreeMap<&str, (u64, u64)> {
        let mut out: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for t in &self.plan.tables {
            let bounds = match &t.count {
                RowCount::Fixed(n) => (*n, *n),
                RowCount::Per { fk, min, max } => {
                    let p = &t.fks[*fk];
                    let (lo, hi) = out.get(p.parent.as_str()).copied().unwrap_or((0, 0));
                    let existing = self.existing_count(&p.parent, &p.parent_columns);
                    ((lo + existing) * min, (hi + existing) * max)
                }
            };
            out.insert(&t.name, bounds);
        }
        out
    }

    fn existing_count(&self, table: &str, cols: &[String]) -> u64 {
        self.existing
            .tuples
            .get(&(table.to_string(), cols.to_vec()))
            .map_or(0, |t| t.len() as u64)
    }

    fn check_feasible(&self) -> Result<(), SeedError> {
        let planned = self.planned();
        for t in &self.plan.tables {
            let (_, max_rows) = planned[t.name.as_str()];
            if max_rows == 0 {
                continue;
            }
            for fk in &t.fks {
                let parents = planned.get(fk.parent.as_str()).map_or(0, |p| p.1)
                    + self.existing_count(&fk.parent, &fk.parent_columns);
                let nullable = fk.null_ratio > 0.0 || fk.columns.is_empty();
                if parents == 0 && !nullable && !fk.self_ref {
                    return Err(SeedError::Impossible(format!(
                        "{} gets rows, but each must reference a row of {}, which gets none and has none; give {} some rows in the scenario",
                        t.name, fk.parent, fk.parent
                    )));
                }
            }
            self.check_unique_capacity(t, &planned)?;
        }
        Ok(())
    }

    fn check_unique_capacity(
        &self,
        t: &TablePlan,
        planned: &BTreeMap<&str, (u64, u64)>,
    ) -> Result<(), SeedError> {
        let per_fk = match &t.count {
            RowCount::Per { fk, .. } => Some(*fk),
            _ => None,
        };
        for key in &t.unique_keys {
            let mut capacity: Option<u128> = Some(1);
            let mut grouped = false;
            for &c in key {
                let domain = match &t.gens[c] {
                    ColGen::Fk { fk, .. } if Some(*fk) == per_fk => {
                        grouped = true;
                        Some(1)
                    }
                    ColGen::Fk { fk, .. } => {
                        let p = &t.fks[*fk];
                        Some(
                            (planned.get(p.parent.as_str()).map_or(0, |x| x.1)
                                + self.existing_count(&p.parent, &p.parent_columns))
                                as u128,
                        )
                    }
                    ColGen::Value(g) if t.null_ratio[c] == 0.0 => g.domain_size(),
                    _ => None,
                };
                capacity = match (capacity, domain) {
                    (Some(a), Some(b)) => Some(a.saturating_mul(b)),
                    _ => None,
                };
            }
            let Some(capacity) = capacity else { continue };
            let cols: Vec<&str> = key.iter().map(|c| t.columns[*c].as_str()).collect();
            let (need, scope) = match (&t.count, grouped) {
                (RowCount::Per { fk, max, .. }, true) => {
                    let busiest = self.busiest_group(t, key, &t.fks[*fk].columns);
                    (
                        *max as u128 + busiest,
                        format!(" per {} row", t.fks[*fk].parent),
                    )
                }
                _ => {
                    let taken = self.existing_count(
                        &t.name,
                        &cols.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    ) as u128;
                    (planned[t.name.as_str()].0 as u128 + taken, String::new())
                }
            };
            if need > capacity {
                return Err(SeedError::Impossible(format!(
                    "table {} needs {need} rows{scope} but ({}) must be unique and only {capacity} distinct value(s) are possible; lower the row count or widen the values",
                    t.name,
                    cols.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The most existing rows any one parent already has under a grouped unique key
    /// (seeding on top: those values are taken for that parent).
    fn busiest_group(&self, t: &TablePlan, key: &[usize], group_columns: &[usize]) -> u128 {
        let names: Vec<String> = key.iter().map(|c| t.columns[*c].clone()).collect();
        let Some(tuples) = self.existing.tuples.get(&(t.name.clone(), names)) else {
            return 0;
        };
        let positions: Vec<usize> = group_columns
            .iter()
            .filter_map(|g| key.iter().position(|k| k == g))
            .collect();
        let mut counts: BTreeMap<Vec<u8>, u128> = BTreeMap::new();
        for tuple in tuples {
            let mut group = Vec::new();
            for p in &positions {
                tuple[*p].encode_into(&mut group);
            }
            *counts.entry(group).or_default() += 1;
        }
        counts.into_values().max().unwrap_or(0)
    }

    /// Generate everything, handing work to `emit`; stops early (returning Ok) when `emit`
    /// returns false (the writer went away).
    pub fn run(&mut self, emit: &mut dyn FnMut(Work) -> bool) -> Result<(), SeedError> {
        let plan = Arc::clone(&self.plan);
        for t in &plan.tables {
            if !self.table(t, emit)? {
                return Ok(());
            }
        }
        for d in &plan.deferred {
            let children = self
                .stores
                .get(&(d.table.clone(), d.key.clone()))
                .cloned()
                .unwrap_or_default();
            let parents = self
                .stores
                .get(&(d.parent.clone(), vec![d.parent_column.clone()]))
                .cloned()
                .unwrap_or_default();
            let mut rng = stream(self.seed, &["deferred", &d.table, &d.column]);
            let mut batch = Vec::new();
            for i in 0..children.len() {
                if parents.len() == 0 || rng.random_bool(d.null_ratio) {
                    continue;
                }
                let parent = parents.get(rng.random_range(0..parents.len()));
                batch.push((children.get(i), parent[0].clone()));
            }
            if !batch.is_empty()
                && !emit(Work::Update {
                    table: d.table.clone(),
                    key: d.key.clone(),
                    column: d.column.clone(),
                    rows: batch,
                })
            {
                return Ok(());
            }
        }
        Ok(())
    }

    fn table(
        &mut self,
        t: &TablePlan,
        emit: &mut dyn FnMut(Work) -> bool,
    ) -> Result<bool, SeedError> {
        let mut state = TableState::new(self, t);
        let parents = |fk: usize, stores: &BTreeMap<(String, Vec<String>), KeyStore>| {
            let p = &t.fks[fk];
            stores
                .get(&(p.parent.clone(), p.parent_columns.clone()))
                .cloned()
                .unwrap_or_default()
        };
        let groups: Vec<(Option<Vec<Value>>, u64)> = match &t.count {
            RowCount::Fixed(n) => vec![(None, *n)],
            RowCount::Per { fk, min, max } => {
                let store = parents(*fk, &self.stores);
                let mut rng = stream(self.seed, &[&t.name, "#rows"]);
                (0..store.len())
                    .map(|i| (Some(store.get(i)), rng.random_range(*min..=*max)))
                    .collect()
            }
        };
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        for (fixed, count) in groups {
            for _ in 0..count {
                let row = state.row(self, t, fixed.as_ref())?;
                batch.push(row);
                if batch.len() == BATCH_ROWS {
                    let rows = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                    if !emit(Work::Rows {
                        table: t.name.clone(),
                        columns: t.columns.clone(),
                        rows,
                    }) {
                        return Ok(false);
                    }
                }
            }
        }
        let total = state.generated;
        if !batch.is_empty()
            && !emit(Work::Rows {
                table: t.name.clone(),
                columns: t.columns.clone(),
                rows: batch,
            })
        {
            return Ok(false);
        }
        state.finish(self, t);
        self.rows_written.insert(t.name.clone(), total);
        Ok(true)
    }
}

/// A referenced column set: its names, its indexes in the row, the tuples generated so far.
type Kept = (Vec<String>, Vec<usize>, Vec<Vec<Value>>);

/// The per-table state while its rows are generated.
struct TableState {
    col_rngs: Vec<ChaCha8Rng>,
    null_rngs: Vec<ChaCha8Rng>,
    fk_rngs: Vec<ChaCha8Rng>,
    next_key: i64,
    first_key: i64,
    generated: u64,
    seen: Vec<HashSet<u64>>,
    suffix: u64,
    /// Tuples of referenced column sets that are not plain sequences.
    kept: Vec<Kept>,
}

impl TableState {
    fn new(generator: &Generator, t: &TablePlan) -> TableState {
        let first_key = generator
            .existing
            .max_key
            .get(&t.name)
            .copied()
            .unwrap_or(0)
            + 1;
        let seen = t
            .unique_keys
            .iter()
            .map(|key| {
                let cols: Vec<String> = key.iter().map(|c| t.columns[*c].clone()).collect();
                let existing = generator.existing.tuples.get(&(t.name.clone(), cols));
                existing
                    .map(|rows| {
                        rows.iter()
                            .map(|r| tuple_hash(&r.iter().collect::<Vec<_>>()))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let mut sets = t.referenced.clone();
        if !t.primary_key.is_empty() && !sets.contains(&t.primary_key) {
            sets.push(t.primary_key.clone());
        }
        let kept = sets
            .into_iter()
            .filter(|cols| !is_sequence(t, cols))
            .filter_map(|cols| {
                Some((
                    cols.clone(),
                    cols.iter()
                        .map(|c| t.columns.iter().position(|x| x == c))
                        .collect::<Option<Vec<_>>>()?,
                    Vec::new(),
                ))
            })
            .collect();
        TableState {
            col_rngs: t
                .columns
                .iter()
                .map(|c| stream(generator.seed, &[&t.name, c]))
                .collect(),
            null_rngs: t
                .columns
                .iter()
                .map(|c| stream(generator.seed, &[&t.name, c, "#null"]))
                .collect(),
            fk_rngs: (0..t.fks.len())
                .map(|i| stream(generator.seed, &[&t.name, &format!("#fk{i}")]))
                .collect(),
            next_key: first_key,
            first_key,
            generated: 0,
            seen,
            suffix: 0,
            kept,
        }
    }

    fn row(
        &mut self,
        generator: &Generator,
        t: &TablePlan,
        fixed: Option<&Vec<Value>>,
    ) -> Result<Vec<Value>, SeedError> {
        let mut row = vec![Value::Null; t.columns.len()];
        let key = self.next_key;
        for (i, g) in t.gens.iter().enumerate() {
            if let ColGen::Sequence = g {
                row[i] = Value::Int(key);
            }
        }
        for fk in 0..t.fks.len() {
            let per = matches!(t.count, RowCount::Per { fk: f, .. } if f == fk);
            match (per, fixed) {
                (true, Some(values)) => set_fk(&mut row, t, fk, Some(values.clone())),
                _ => {
                    let v = self.pick_parent(generator, t, fk, key);
                    set_fk(&mut row, t, fk, v)
                }
            }
        }
        for i in 0..t.gens.len() {
            self.fill_value(t, &mut row, i);
        }
        self.make_unique(generator, t, &mut row, key)?;
        for (_, idx, tuples) in &mut self.kept {
            tuples.push(idx.iter().map(|i| row[*i].clone()).collect());
        }
        self.next_key += 1;
        self.generated += 1;
        Ok(row)
    }

    fn fill_value(&mut self, t: &TablePlan, row: &mut [Value], i: usize) {
        let ColGen::Value(g) = &t.gens[i] else { return };
        if t.null_ratio[i] > 0.0 && self.null_rngs[i].random_bool(t.null_ratio[i]) {
            row[i] = Value::Null;
            return;
        }
        row[i] = g.next(&mut self.col_rngs[i]);
        if let (Some(max), Value::Text(s)) = (t.max_len[i], &mut row[i])
            && s.chars().count() > max
        {
            *s = s
                .chars()
                .take(max)
                .collect::<String>()
                .trim_end()
                .to_string();
        }
    }

    /// A parent key for foreign key `fk`, or None for NULL.
    fn pick_parent(
        &mut self,
        generator: &Generator,
        t: &TablePlan,
        fk: usize,
        key: i64,
    ) -> Option<Vec<Value>> {
        let p = &t.fks[fk];
        let rng = &mut self.fk_rngs[fk];
        if p.null_ratio > 0.0 && rng.random_bool(p.null_ratio) {
            return None;
        }
        if p.self_ref {
            // Only rows already written: the tree grows downwards, never in a loop.
            let existing = generator
                .stores
                .get(&(t.name.clone(), p.parent_columns.clone()))
                .map_or(0, KeyStore::len);
            let earlier = (key - self.first_key) as u64;
            let total = existing + earlier;
            if total == 0 {
                return (!p
                    .columns
                    .iter()
                    .all(|c| t.null_ratio[*c] > 0.0 || p.null_ratio > 0.0))
                .then(|| vec![Value::Int(key)]);
            }
            let i = rng.random_range(0..total);
            if i < existing {
                return generator
                    .stores
                    .get(&(t.name.clone(), p.parent_columns.clone()))
                    .map(|s| s.get(i));
            }
            let own = is_sequence(t, &p.parent_columns);
            return Some(if own {
                vec![Value::Int(self.first_key + (i - existing) as i64)]
            } else {
                self.kept_tuple(&p.parent_columns, (i - existing) as usize)
            });
        }
        let store = generator
            .stores
            .get(&(p.parent.clone(), p.parent_columns.clone()))?;
        if store.len() == 0 {
            return None;
        }
        Some(store.get(rng.random_range(0..store.len())))
    }

    fn kept_tuple(&self, cols: &[String], i: usize) -> Vec<Value> {
        self.kept
            .iter()
            .find(|(c, ..)| c == cols)
            .map(|(.., rows)| rows[i].clone())
            .unwrap_or_default()
    }

    fn make_unique(
        &mut self,
        generator: &Generator,
        t: &TablePlan,
        row: &mut [Value],
        key: i64,
    ) -> Result<(), SeedError> {
        for (k, cols) in t.unique_keys.iter().enumerate() {
            let mut attempt = 0;
            loop {
                let values: Vec<&Value> = cols.iter().map(|c| &row[*c]).collect();
                if values.iter().any(|v| v.is_null()) {
                    break;
                }
                let h = tuple_hash(&values);
                if self.seen[k].insert(h) {
                    break;
                }
                attempt += 1;
                if attempt <= RETRIES {
                    self.regenerate(generator, t, row, cols, key);
                } else if !self.suffix_or_null(t, row, cols) {
                    let names: Vec<&str> = cols.iter().map(|c| t.columns[*c].as_str()).collect();
                    return Err(SeedError::Impossible(format!(
                        "could not find a unique ({}) for row {} of {} after {RETRIES} tries: the possible values are nearly used up; lower the row count or widen the values",
                        names.join(", "),
                        self.generated + 1,
                        t.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Draw new values for the parts of a colliding key that are free to change.
    fn regenerate(
        &mut self,
        generator: &Generator,
        t: &TablePlan,
        row: &mut [Value],
        cols: &[usize],
        key: i64,
    ) {
        for &c in cols {
            match &t.gens[c] {
                ColGen::Value(_) => self.fill_value(t, row, c),
                ColGen::Fk { fk, .. } if !matches!(t.count, RowCount::Per { fk: f, .. } if f == *fk) =>
                {
                    let v = self.pick_parent(generator, t, *fk, key);
                    set_fk(row, t, *fk, v);
                }
                _ => {}
            }
        }
    }

    fn suffix_or_null(&mut self, t: &TablePlan, row: &mut [Value], cols: &[usize]) -> bool {
        for &c in cols {
            if let ColGen::Value(g) = &t.gens[c]
                && g.can_suffix()
            {
                self.suffix += 1;
                row[c] = with_suffix(&row[c], self.suffix, t.max_len[c]);
                return true;
            }
        }
        // NULLs never collide; a nullable column may take one rather than fail.
        match cols.iter().find(|c| t.null_ratio[**c] > 0.0) {
            Some(c) => {
                row[*c] = Value::Null;
                true
            }
            None => false,
        }
    }

    fn finish(self, generator: &mut Generator, t: &TablePlan) {
        let mut sets = t.referenced.clone();
        if !t.primary_key.is_empty() && !sets.contains(&t.primary_key) {
            sets.push(t.primary_key.clone());
        }
        for cols in sets {
            let store = generator
                .stores
                .entry((t.name.clone(), cols.clone()))
                .or_default();
            if is_sequence(t, &cols) {
                store.ranges.push((self.first_key, self.generated));
            } else if let Some((.., rows)) = self.kept.iter().find(|(c, ..)| *c == cols) {
                store.rows.extend(rows.iter().cloned());
            }
        }
    }
}

fn is_sequence(t: &TablePlan, cols: &[String]) -> bool {
    matches!(cols, [only] if t.columns.iter().position(|c| c == only).is_some_and(|i| matches!(t.gens[i], ColGen::Sequence)))
}

fn set_fk(row: &mut [Value], t: &TablePlan, fk: usize, values: Option<Vec<Value>>) {
    let cols = &t.fks[fk].columns;
    for (component, &c) in cols.iter().enumerate() {
        if matches!(t.gens[c], ColGen::Fk { fk: f, .. } if f == fk) {
            row[c] = values.as_ref().map_or(Value::Null, |v| {
                v.get(component).cloned().unwrap_or(Value::Null)
            });
        }
    }
}
