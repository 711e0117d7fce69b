//! Small SQL tokenizer shared by the CHECK helpers.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum T {
    Word(String),
    /// Quoted identifier; the bool is true for `"double quotes"`.
    QIdent(String, bool),
    Str(String),
    Num(String),
    Op(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tok {
    pub t: T,
    pub start: usize,
    pub end: usize,
}

fn word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn word_byte(b: u8) -> bool {
    word_start(b) || b.is_ascii_digit() || b == b'$'
}

/// Read a quoted run starting at the quote `i`; returns (content, end index).
fn read_quoted(s: &str, i: usize, close: u8, doubling: bool, bs: bool) -> (String, usize) {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut j = i + 1;
    while j < b.len() {
        let c = b[j];
        if bs && c == b'\\' && j + 1 < b.len() {
            out.push(match b[j + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                x => x,
            });
            j += 2;
        } else if c == close {
            if doubling && b.get(j + 1) == Some(&close) {
                out.push(close);
                j += 2;
            } else {
                return (String::from_utf8_lossy(&out).into_owned(), j + 1);
            }
        } else {
            out.push(c);
            j += 1;
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), b.len())
}

/// Tokenize an expression / CREATE TABLE statement, dropping comments.
pub(super) fn lex(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut toks: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let start = i;
        let t = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if next == Some(b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                continue;
            }
            b'/' if next == Some(b'*') => {
                i = s[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
                continue;
            }
            b'\'' => {
                let (v, e) = read_quoted(s, i, b'\'', true, false);
                i = e;
                T::Str(v)
            }
            b'"' | b'`' => {
                let (v, e) = read_quoted(s, i, c, true, false);
                i = e;
                T::QIdent(v, c == b'"')
            }
            b'[' => {
                let after_array = matches!(toks.last(), Some(Tok { t: T::Word(w), .. }) if w.eq_ignore_ascii_case("array"));
                if after_array
                    || next == Some(b']')
                    || matches!(toks.last(), Some(Tok { t: T::Op(o), .. }) if o == "]")
                {
                    i += 1;
                    T::Op("[".into())
                } else {
                    let (v, e) = read_quoted(s, i, b']', false, false);
                    i = e;
                    T::QIdent(v, false)
                }
            }
            c if c.is_ascii_digit() || (c == b'.' && next.is_some_and(|x| x.is_ascii_digit())) => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    let k = if matches!(b.get(j + 1), Some(b'+' | b'-')) {
                        j + 2
                    } else {
                        j + 1
                    };
                    if b.get(k).is_some_and(|x| x.is_ascii_digit()) {
                        j = k;
                        while j < b.len() && b[j].is_ascii_digit() {
                            j += 1;
                        }
                    }
                }
                i = j;
                T::Num(s[start..j].to_string())
            }
            c if word_start(c) => {
                let mut j = i;
                while j < b.len() && word_byte(b[j]) {
                    j += 1;
                }
                let w = &s[i..j];
                if b.get(j) == Some(&b'\'') {
                    // E'..', N'..', X'..', _utf8mb4'..' introducers
                    let bs = w.eq_ignore_ascii_case("e") || w.starts_with('_');
                    if bs || w.len() == 1 {
                        let (v, e) = read_quoted(s, j, b'\'', true, bs);
                        i = e;
                        toks.push(Tok {
                            t: T::Str(v),
                            start,
                            end: i,
                        });
                        continue;
                    }
                }
                i = j;
                T::Word(w.to_string())
            }
            _ => {
                let two = next.map(|n| [c, n]);
                let op2 = two
                    .filter(|p| matches!(p, b"<=" | b">=" | b"<>" | b"!=" | b"==" | b"::" | b"||"));
                if let Some(p) = op2 {
                    i += 2;
                    T::Op(String::from_utf8_lossy(&p).into_owned())
                } else {
                    i += 1;
                    T::Op((c as char).to_string())
                }
            }
        };
        toks.push(Tok { t, start, end: i });
    }
    toks
}

pub(super) fn is_op(t: Option<&Tok>, op: &str) -> bool {
    matches!(t, Some(Tok { t: T::Op(o), .. }) if o == op)
}

pub(super) fn is_word(t: Option<&Tok>, w: &str) -> bool {
    matches!(t, Some(Tok { t: T::Word(x), .. }) if x.eq_ignore_ascii_case(w))
}

/// Index of the `)` matching the `(` at `open`.
pub(super) fn matching(t: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, tok) in t.iter().enumerate().skip(open) {
        if is_op(Some(tok), "(") {
            depth += 1;
        } else if is_op(Some(tok), ")") {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// Split at top-level commas.
pub(super) fn split_commas(t: &[Tok]) -> Vec<&[Tok]> {
    let (mut out, mut depth, mut from) = (Vec::new(), 0i32, 0);
    for (k, tok) in t.iter().enumerate() {
        match &tok.t {
            T::Op(o) if o == "(" || o == "[" => depth += 1,
            T::Op(o) if o == ")" || o == "]" => depth -= 1,
            T::Op(o) if o == "," && depth == 0 => {
                out.push(&t[from..k]);
                from = k + 1;
            }
            _ => {}
        }
    }
    out.push(&t[from..]);
    out
}

/// Drop redundant outer parentheses.
pub(super) fn strip_parens(mut s: &[Tok]) -> &[Tok] {
    while s.len() >= 2 && is_op(s.first(), "(") && matching(s, 0) == Some(s.len() - 1) {
        s = &s[1..s.len() - 1];
    }
    s
}
