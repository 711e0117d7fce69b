//! Expression-level parsing of one CHECK conjunct into column rules.

use super::check::{CheckRule, ColumnCheck, Literal, merge};
use super::lex::{T, Tok, is_op, is_word, matching, strip_parens};
use super::operand::{Opd, as_value, literal_list, operand, push_unique};

/// Split at a top-level keyword (`AND`/`OR`); the AND of `BETWEEN x AND y` is not a split point.
fn split_kw<'a>(s: &'a [Tok], kw: &str) -> Vec<&'a [Tok]> {
    let (mut out, mut depth, mut from, mut between) = (Vec::new(), 0i32, 0, false);
    for (k, tok) in s.iter().enumerate() {
        match &tok.t {
            T::Op(o) if o == "(" || o == "[" => depth += 1,
            T::Op(o) if o == ")" || o == "]" => depth -= 1,
            T::Word(w) if depth == 0 && w.eq_ignore_ascii_case("between") => between = true,
            T::Word(w) if depth == 0 && w.eq_ignore_ascii_case("and") && between => between = false,
            T::Word(w) if depth == 0 && w.eq_ignore_ascii_case(kw) => {
                out.push(&s[from..k]);
                from = k + 1;
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

/// Flatten nested top-level AND conjunctions (OR binds looser, so a top-level
/// OR makes the whole expression one conjunct).
pub(super) fn flatten_and<'a>(s: &'a [Tok], out: &mut Vec<&'a [Tok]>) {
    let s = strip_parens(s);
    if s.is_empty() {
        return;
    }
    let ands = split_kw(s, "and");
    if split_kw(s, "or").len() > 1 || ands.len() == 1 {
        out.push(s);
    } else {
        ands.into_iter().for_each(|p| flatten_and(p, out));
    }
}

/// Rules for one conjunct, or None when it is not understood.
pub(super) fn parse_conjunct(c: &[Tok]) -> Option<Vec<ColumnCheck>> {
    let c = strip_parens(c);
    let ors = split_kw(c, "or");
    if ors.len() > 1 {
        return disjunction(&ors);
    }
    let ands = split_kw(c, "and");
    if ands.len() > 1 {
        let mut rules = Vec::new();
        for a in ands {
            parse_conjunct(a)?
                .into_iter()
                .for_each(|r| merge(&mut rules, r));
        }
        return Some(rules);
    }
    comparison(c)
}

/// `col IS NULL OR col = 'a' OR col IN (…)` → OneOf on a single column.
fn disjunction(ors: &[&[Tok]]) -> Option<Vec<ColumnCheck>> {
    let mut column: Option<String> = None;
    let mut vals: Vec<Literal> = Vec::new();
    let mut same = |name: &str| match &column {
        Some(c) => c.eq_ignore_ascii_case(name),
        None => {
            column = Some(name.to_string());
            true
        }
    };
    for d in ors {
        let d = strip_parens(d);
        let mut i = 0;
        let null_test = match operand(d, &mut i) {
            Some(Opd::Col(name, _))
                if d.len() == i + 2 && is_word(d.get(i), "is") && is_word(d.get(i + 1), "null") =>
            {
                Some(name)
            }
            _ => None,
        };
        if let Some(name) = null_test {
            if !same(&name) {
                return None;
            }
            continue;
        }
        let rules = parse_conjunct(d)?;
        match rules.as_slice() {
            [
                ColumnCheck {
                    column: col,
                    rule: CheckRule::OneOf(v),
                },
            ] if same(col) => v.iter().for_each(|x| push_unique(&mut vals, x.clone())),
            _ => return None,
        }
    }
    let column = column?;
    (!vals.is_empty()).then(|| {
        vec![ColumnCheck {
            column,
            rule: CheckRule::OneOf(vals),
        }]
    })
}

fn rule(column: String, rule: CheckRule) -> Option<Vec<ColumnCheck>> {
    Some(vec![ColumnCheck { column, rule }])
}

/// A single comparison / BETWEEN / IN / = ANY(ARRAY[…]).
fn comparison(c: &[Tok]) -> Option<Vec<ColumnCheck>> {
    let mut i = 0;
    let lhs = operand(c, &mut i)?;
    let negated = is_word(c.get(i), "not");
    if negated {
        i += 1;
    }
    let op = match &c.get(i)?.t {
        T::Word(w) => w.to_ascii_lowercase(),
        T::Op(o) => o.clone(),
        _ => return None,
    };
    i += 1;
    match op.as_str() {
        "between" if !negated => {
            let lo = as_value(operand(c, &mut i)?)?;
            if !is_word(c.get(i), "and") {
                return None;
            }
            i += 1;
            let hi = as_value(operand(c, &mut i)?)?;
            if i != c.len() {
                return None;
            }
            match lhs {
                Opd::Col(col, _) => rule(
                    col,
                    CheckRule::Range {
                        min: Some((lo, true)),
                        max: Some((hi, true)),
                    },
                ),
                Opd::Len(col) => {
                    let (Literal::Int(lo), Literal::Int(hi)) = (lo, hi) else {
                        return None;
                    };
                    let max = usize::try_from(hi).ok()?;
                    rule(
                        col,
                        CheckRule::Length {
                            min: Some(lo.max(0) as usize),
                            max: Some(max),
                        },
                    )
                }
                _ => None,
            }
        }
        "in" => {
            let Opd::Col(col, _) = lhs else { return None };
            if !is_op(c.get(i), "(") || matching(c, i) != Some(c.len() - 1) {
                return None;
            }
            let vals = literal_list(&c[i + 1..c.len() - 1])?;
            if negated {
                Some(
                    vals.into_iter()
                        .map(|v| ColumnCheck {
                            column: col.clone(),
                            rule: CheckRule::NotEqual(v),
                        })
                        .collect(),
                )
            } else {
                rule(col, CheckRule::OneOf(vals))
            }
        }
        "=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">=" if !negated => {
            let quant = ["any", "some", "all"]
                .into_iter()
                .find(|q| is_word(c.get(i), q));
            if quant.is_some() {
                i += 1;
            }
            let rhs = operand(c, &mut i)?;
            if i != c.len() {
                return None;
            }
            match (quant, lhs, rhs) {
                (Some("all"), Opd::Col(col, _), Opd::List(vals))
                    if matches!(op.as_str(), "<>" | "!=") =>
                {
                    Some(
                        vals.into_iter()
                            .map(|v| ColumnCheck {
                                column: col.clone(),
                                rule: CheckRule::NotEqual(v),
                            })
                            .collect(),
                    )
                }
                (Some("any" | "some"), Opd::Col(col, _), Opd::List(vals))
                    if matches!(op.as_str(), "=" | "==") =>
                {
                    rule(col, CheckRule::OneOf(vals))
                }
                (Some(_), ..) => None,
                (None, l, r) => simple(l, &op, r),
            }
        }
        _ => None,
    }
}

fn flip(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        o => o,
    }
}

fn simple(lhs: Opd, op: &str, rhs: Opd) -> Option<Vec<ColumnCheck>> {
    let (target, op, value) = match (lhs, rhs) {
        (l @ (Opd::Col(..) | Opd::Len(_)), r @ (Opd::Lit(_) | Opd::Col(_, true))) => {
            (l, op, as_value(r)?)
        }
        (l @ (Opd::Lit(_) | Opd::Col(_, true)), r @ (Opd::Col(..) | Opd::Len(_))) => {
            (r, flip(op), as_value(l)?)
        }
        _ => return None,
    };
    match target {
        Opd::Col(col, _) => {
            let r = match op {
                "=" | "==" => CheckRule::OneOf(vec![value]),
                "<>" | "!=" => CheckRule::NotEqual(value),
                ">" | ">=" => CheckRule::Range {
                    min: Some((value, op == ">=")),
                    max: None,
                },
                _ => CheckRule::Range {
                    min: None,
                    max: Some((value, op == "<=")),
                },
            };
            rule(col, r)
        }
        Opd::Len(col) => {
            let Literal::Int(n) = value else { return None };
            let (min, max) = match op {
                ">=" => (Some(n.max(0)), None),
                ">" => (Some(n.saturating_add(1).max(0)), None),
                "<=" => (None, Some(n)),
                "<" => (None, Some(n.checked_sub(1)?)),
                "=" | "==" => (Some(n), Some(n)),
                _ => return None,
            };
            let conv = |v: Option<i64>| v.map(usize::try_from).transpose().ok();
            rule(
                col,
                CheckRule::Length {
                    min: conv(min)?,
                    max: conv(max)?,
                },
            )
        }
        _ => None,
    }
}
