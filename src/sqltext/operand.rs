//! Operands of CHECK comparisons: columns, length(col), literals, arrays, casts.

use super::check::Literal;
use super::lex::{T, Tok, is_op, is_word, matching, split_commas, strip_parens};

/// An operand of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Opd {
    /// Column reference; the bool is true for a `"double-quoted"` name, which
    /// may also be a string literal in SQLite/MySQL.
    Col(String, bool),
    Len(String),
    Lit(Literal),
    List(Vec<Literal>),
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "null", "between", "any", "some", "all", "case", "when",
    "then", "else", "end", "like", "ilike", "glob", "regexp", "rlike", "escape", "exists",
    "select", "collate", "similar",
];

pub(super) fn push_unique(v: &mut Vec<Literal>, x: Literal) {
    if !v.contains(&x) {
        v.push(x);
    }
}

pub(super) fn as_value(o: Opd) -> Option<Literal> {
    match o {
        Opd::Lit(l) => Some(l),
        Opd::Col(s, true) => Some(Literal::Text(s)),
        _ => None,
    }
}

pub(super) fn literal_list(t: &[Tok]) -> Option<Vec<Literal>> {
    let mut vals = Vec::new();
    for item in split_commas(t) {
        let mut i = 0;
        let v = as_value(operand(item, &mut i)?)?;
        if i != item.len() {
            return None;
        }
        push_unique(&mut vals, v);
    }
    (!vals.is_empty()).then_some(vals)
}

fn number(s: &str) -> Option<Literal> {
    let s = s.trim();
    match s.parse::<i64>() {
        Ok(n) => Some(Literal::Int(n)),
        Err(_) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Literal::Float),
    }
}

pub(super) fn operand(t: &[Tok], i: &mut usize) -> Option<Opd> {
    let tok = t.get(*i)?;
    let mut v = match &tok.t {
        T::Op(o) if o == "(" => {
            let close = matching(t, *i)?;
            let inner = &t[*i + 1..close];
            let mut j = 0;
            let v = operand(inner, &mut j)?;
            if j != inner.len() {
                return None;
            }
            *i = close + 1;
            v
        }
        T::Op(o) if o == "-" || o == "+" => {
            let neg = o == "-";
            *i += 1;
            match operand(t, i)? {
                Opd::Lit(Literal::Int(n)) if neg => Opd::Lit(Literal::Int(n.checked_neg()?)),
                Opd::Lit(Literal::Float(f)) if neg => Opd::Lit(Literal::Float(-f)),
                v @ Opd::Lit(Literal::Int(_) | Literal::Float(_)) => v,
                _ => return None,
            }
        }
        T::Num(s) => {
            *i += 1;
            Opd::Lit(number(s)?)
        }
        T::Str(s) => {
            *i += 1;
            Opd::Lit(Literal::Text(s.clone()))
        }
        T::QIdent(s, dq) => {
            *i += 1;
            Opd::Col(s.clone(), *dq)
        }
        T::Word(w) => word_operand(t, i, &w.to_ascii_lowercase())?,
        T::Op(_) => return None,
    };
    loop {
        if is_op(t.get(*i), "::") {
            *i += 1;
            let ty = cast_type(t, i)?;
            v = apply_cast(v, &ty);
        } else if is_word(t.get(*i), "collate") && t.get(*i + 1).is_some() {
            *i += 2;
        } else {
            return Some(v);
        }
    }
}

fn word_operand(t: &[Tok], i: &mut usize, w: &str) -> Option<Opd> {
    let call = is_op(t.get(*i + 1), "(");
    match w {
        "true" | "false" => {
            *i += 1;
            Some(Opd::Lit(Literal::Bool(w == "true")))
        }
        "array" if is_op(t.get(*i + 1), "[") => {
            let close = (*i + 2..t.len()).find(|&k| is_op(t.get(k), "]"))?;
            let vals = literal_list(&t[*i + 2..close])?;
            *i = close + 1;
            Some(Opd::List(vals))
        }
        "length" | "char_length" | "character_length" | "len" if call => {
            let close = matching(t, *i + 1)?;
            let mut inner = strip_parens(&t[*i + 2..close]);
            let trim = ["trim", "btrim", "ltrim", "rtrim"]
                .into_iter()
                .any(|f| is_word(inner.first(), f));
            if trim && is_op(inner.get(1), "(") && matching(inner, 1) == Some(inner.len() - 1) {
                inner = &inner[2..inner.len() - 1];
            }
            let mut j = 0;
            let Some(Opd::Col(col, _)) = operand(inner, &mut j) else {
                return None;
            };
            if j != inner.len() {
                return None;
            }
            *i = close + 1;
            Some(Opd::Len(col))
        }
        _ if call || KEYWORDS.contains(&w) => None,
        _ => {
            let mut name = match &t[*i].t {
                T::Word(x) => x.clone(),
                _ => return None,
            };
            *i += 1;
            // qualified name: keep the last part
            while is_op(t.get(*i), ".") {
                match t.get(*i + 1).map(|x| &x.t) {
                    Some(T::Word(x) | T::QIdent(x, _)) => name = x.clone(),
                    _ => return None,
                }
                *i += 2;
            }
            Some(Opd::Col(name, false))
        }
    }
}

/// Parse a cast target such as `text`, `character varying(20)`, `text[]`.
fn cast_type(t: &[Tok], i: &mut usize) -> Option<String> {
    let ty = match &t.get(*i)?.t {
        T::Word(w) | T::QIdent(w, _) => w.to_ascii_lowercase(),
        _ => return None,
    };
    *i += 1;
    while ["varying", "precision", "with", "without", "time", "zone"]
        .into_iter()
        .any(|w| is_word(t.get(*i), w))
    {
        *i += 1;
    }
    if is_op(t.get(*i), "(") {
        *i = matching(t, *i)? + 1;
    }
    while is_op(t.get(*i), "[") && is_op(t.get(*i + 1), "]") {
        *i += 2;
    }
    Some(ty)
}

fn apply_cast(v: Opd, ty: &str) -> Opd {
    const NUMERIC: &[&str] = &[
        "integer", "int", "int2", "int4", "int8", "smallint", "bigint", "numeric", "decimal",
        "real", "double", "float", "float4", "float8",
    ];
    match v {
        Opd::Lit(Literal::Text(s)) if NUMERIC.contains(&ty) => match number(&s) {
            Some(n) => Opd::Lit(n),
            None => Opd::Lit(Literal::Text(s)),
        },
        Opd::Lit(Literal::Text(s)) if ty == "boolean" || ty == "bool" => {
            match s.to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" | "on" | "1" => Opd::Lit(Literal::Bool(true)),
                "f" | "false" | "n" | "no" | "off" | "0" => Opd::Lit(Literal::Bool(false)),
                _ => Opd::Lit(Literal::Text(s)),
            }
        }
        v => v,
    }
}
