//! Extraction and parsing of simple CHECK constraints (SQLite, PostgreSQL
//! `pg_get_constraintdef`, MySQL/MariaDB `CHECK_CLAUSE` forms).

use super::lex::{T, is_op, is_word, lex, matching, split_commas};
use std::cmp::Ordering;

/// A constant value appearing in a CHECK constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

/// One understood restriction on a column.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckRule {
    /// `col IN (…)` / `col = ANY (ARRAY[…])` / `col = 'x' OR col = 'y'` …
    OneOf(Vec<Literal>),
    /// Numeric or text (dates as text) bounds; the bool is "inclusive".
    Range {
        min: Option<(Literal, bool)>,
        max: Option<(Literal, bool)>,
    },
    /// `length(col)` / `char_length(col)` / `LENGTH(TRIM(col))` comparisons.
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// `col <> 'x'` / `col != 'x'`
    NotEqual(Literal),
}

/// A rule attached to a column (name unquoted).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnCheck {
    pub column: String,
    pub rule: CheckRule,
}

/// Result of [`parse_check`]: understood rules plus the text of every
/// conjunct that was not understood.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedCheck {
    pub rules: Vec<ColumnCheck>,
    pub unsupported: Vec<String>,
}

/// The bodies (without the outer `CHECK( )`) of every CHECK constraint in a
/// CREATE TABLE statement, in order, with the column for column constraints.
pub fn extract_checks(create_table_sql: &str) -> Vec<(Option<String>, String)> {
    let toks = lex(create_table_sql);
    let mut out = Vec::new();
    let Some(open) = toks.iter().position(|t| is_op(Some(t), "(")) else {
        return out;
    };
    if toks[..open].iter().any(|t| is_word(Some(t), "as")) {
        return out;
    }
    let close = matching(&toks, open).unwrap_or(toks.len());
    for item in split_commas(&toks[open + 1..close]) {
        let column = match item.first().map(|t| &t.t) {
            Some(T::Word(w))
                if ["constraint", "check"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                None
            }
            Some(T::Word(w)) | Some(T::QIdent(w, _)) => Some(w.clone()),
            _ => None,
        };
        let mut k = 0;
        while k < item.len() {
            if is_word(item.get(k), "check") && is_op(item.get(k + 1), "(") {
                let Some(c) = matching(item, k + 1) else {
                    break;
                };
                let body = &create_table_sql[item[k + 1].end..item[c].start];
                out.push((column.clone(), body.trim().to_string()));
                k = c + 1;
            } else {
                k += 1;
            }
        }
    }
    out
}

/// Parse one CHECK body (with or without the leading `CHECK`) into per-column rules.
pub fn parse_check(body: &str) -> ParsedCheck {
    let toks = lex(body);
    let mut s = &toks[..];
    if is_word(s.first(), "constraint") && s.len() > 2 {
        s = &s[2..];
    }
    if is_word(s.first(), "check") {
        s = &s[1..];
        if let Some(c) = is_op(s.first(), "(").then(|| matching(s, 0)).flatten() {
            s = &s[..=c];
        }
    }
    let mut conjuncts = Vec::new();
    super::check_expr::flatten_and(s, &mut conjuncts);
    let mut out = ParsedCheck::default();
    for c in conjuncts {
        match super::check_expr::parse_conjunct(c) {
            Some(rules) => rules.into_iter().for_each(|r| merge(&mut out.rules, r)),
            None => out
                .unsupported
                .push(body[c[0].start..c[c.len() - 1].end].trim().to_string()),
        }
    }
    out
}

fn cmp_lit(a: &Literal, b: &Literal) -> Option<Ordering> {
    use Literal::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Text(x), Text(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Keep the stricter of two bounds; `want` is the ordering that makes `new` stricter.
fn tighter(
    old: Option<(Literal, bool)>,
    new: Option<(Literal, bool)>,
    want: Ordering,
) -> Option<(Literal, bool)> {
    match (old, new) {
        (Some(o), Some(n)) => match cmp_lit(&n.0, &o.0) {
            Some(ord) if ord == want => Some(n),
            Some(Ordering::Equal) => Some((o.0, o.1 && n.1)),
            _ => Some(o),
        },
        (o, n) => o.or(n),
    }
}

pub(super) fn merge(rules: &mut Vec<ColumnCheck>, new: ColumnCheck) {
    let same = |r: &&mut ColumnCheck| r.column.eq_ignore_ascii_case(&new.column);
    for r in rules.iter_mut().filter(|r| same(r)) {
        match (&mut r.rule, &new.rule) {
            (
                CheckRule::Range { min, max },
                CheckRule::Range {
                    min: nmin,
                    max: nmax,
                },
            ) => {
                *min = tighter(min.take(), nmin.clone(), Ordering::Greater);
                *max = tighter(max.take(), nmax.clone(), Ordering::Less);
                return;
            }
            (
                CheckRule::Length { min, max },
                CheckRule::Length {
                    min: nmin,
                    max: nmax,
                },
            ) => {
                *min = (*min).max(*nmin);
                *max = match (*max, *nmax) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                return;
            }
            _ => {}
        }
    }
    rules.push(new);
}
