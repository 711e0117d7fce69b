//! Exact, dialect-aware splitting of a SQL script into statements.

use super::Dialect;
use std::fmt;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Trimmed text without the terminating `;` (or custom MySQL delimiter).
    /// Inner comments are kept, leading comments are not.
    pub sql: String,
    /// 1-based line of the statement's first non-blank, non-comment character.
    pub line: usize,
    /// Byte offset of that character in the input.
    pub offset: usize,
}

/// A script that cannot be split (unterminated string, comment, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SplitError {}

/// Split `sql` into statements according to `dialect`'s lexical rules.
pub fn split_statements(sql: &str, dialect: Dialect) -> Result<Vec<Statement>, SplitError> {
    let mut s = Splitter::new(sql, dialect);
    s.run()?;
    Ok(s.out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Undecided,
    Plain,
    /// A routine/trigger whose body may contain `;` inside BEGIN … END.
    Block,
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_word_byte(b: u8) -> bool {
    is_word_start(b) || b == b'$'
}

struct Splitter<'a> {
    src: &'a str,
    b: &'a [u8],
    dialect: Dialect,
    line_starts: Vec<usize>,
    out: Vec<Statement>,
    delim: String,
    start: Option<usize>,
    kind: Kind,
    words: usize,
    depth: usize,
    last_word: String,
    last_sig: u8,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str, dialect: Dialect) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, c)| c == b'\n')
                .map(|(i, _)| i + 1),
        );
        Splitter {
            src,
            b: src.as_bytes(),
            dialect,
            line_starts,
            out: Vec::new(),
            delim: ";".to_string(),
            start: None,
            kind: Kind::Undecided,
            words: 0,
            depth: 0,
            last_word: String::new(),
            last_sig: 0,
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn err(&self, opened_at: usize, what: &str) -> SplitError {
        let line = self.line_of(opened_at);
        SplitError {
            line,
            message: format!("unterminated {what} opened at line {line}"),
        }
    }

    fn mark(&mut self, i: usize) {
        if self.start.is_none() {
            self.start = Some(i);
        }
    }

    fn finish(&mut self, end: usize) {
        if let Some(s) = self.start.take() {
            let sql = self.src[s..end].trim_end();
            if !sql.is_empty() {
                self.out.push(Statement {
                    sql: sql.to_string(),
                    line: self.line_of(s),
                    offset: s,
                });
            }
        }
        self.kind = Kind::Undecided;
        self.words = 0;
        self.depth = 0;
        self.last_word.clear();
        self.last_sig = 0;
    }

    fn run(&mut self) -> Result<(), SplitError> {
        let (b, n) = (self.b, self.b.len());
        let mysql = self.dialect == Dialect::Mysql;
        let pg = self.dialect == Dialect::Postgres;
        let mut i = if self.src.starts_with('\u{feff}') {
            3
        } else {
            0
        };
        while i < n {
            let c = b[i];
            if self.delim != ";" && b[i..].starts_with(self.delim.as_bytes()) {
                self.finish(i);
                i += self.delim.len();
                continue;
            }
            let next = b.get(i + 1).copied();
            match c {
                b';' if self.delim == ";" && self.depth == 0 => {
                    self.finish(i);
                    i += 1;
                }
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
                b'-' if next == Some(b'-')
                    && (!mysql || b.get(i + 2).is_none_or(|&x| x <= b' ')) =>
                {
                    i = self.line_end(i);
                }
                b'#' if mysql => i = self.line_end(i),
                b'/' if next == Some(b'*') => {
                    // MySQL executable comments / optimizer hints are code.
                    if mysql && matches!(b.get(i + 2), Some(b'!' | b'+')) {
                        self.mark(i);
                        self.last_sig = b'/';
                    }
                    i = self.skip_block_comment(i)?;
                }
                b'\'' => i = self.quoted(i, i, b'\'', mysql, "string literal")?,
                b'"' if mysql => i = self.quoted(i, i, b'"', true, "string literal")?,
                b'"' => i = self.quoted(i, i, b'"', false, "quoted identifier")?,
                b'`' if !pg => i = self.quoted(i, i, b'`', false, "quoted identifier")?,
                b'[' if self.dialect == Dialect::Sqlite => {
                    self.mark(i);
                    self.last_sig = c;
                    match b[i + 1..].iter().position(|&x| x == b']') {
                        Some(p) => i += p + 2,
                        None => return Err(self.err(i, "bracketed identifier")),
                    }
                }
                b'$' if pg && self.dollar_tag(i).is_some() => {
                    let tag_end = self.dollar_tag(i).unwrap_or(i + 1);
                    let tag = &self.src[i..tag_end];
                    self.mark(i);
                    self.last_sig = c;
                    match self.src[tag_end..].find(tag) {
                        Some(p) => i = tag_end + p + tag.len(),
                        None => return Err(self.err(i, "dollar-quoted string")),
                    }
                }
                c if is_word_start(c) => i = self.word(i)?,
                _ => {
                    self.mark(i);
                    self.last_sig = c;
                    i += 1;
                }
            }
        }
        self.finish(n);
        Ok(())
    }

    fn line_end(&self, i: usize) -> usize {
        self.b[i..]
            .iter()
            .position(|&x| x == b'\n')
            .map_or(self.b.len(), |p| i + p)
    }

    fn skip_block_comment(&self, i: usize) -> Result<usize, SplitError> {
        let (b, nest) = (self.b, self.dialect == Dialect::Postgres);
        let (mut depth, mut j) = (1usize, i + 2);
        while j + 1 < b.len() {
            if b[j] == b'*' && b[j + 1] == b'/' {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return Ok(j);
                }
            } else if nest && b[j] == b'/' && b[j + 1] == b'*' {
                depth += 1;
                j += 2;
            } else {
                j += 1;
            }
        }
        Err(self.err(i, "block comment"))
    }

    /// Skip a quoted token whose opening quote is at `q_at` (the token itself
    /// starts at `tok`, e.g. the `E` of `E'…'`). Returns the index after it.
    fn quoted(
        &mut self,
        tok: usize,
        q_at: usize,
        q: u8,
        bs: bool,
        what: &str,
    ) -> Result<usize, SplitError> {
        self.mark(tok);
        self.last_sig = q;
        let b = self.b;
        let mut j = q_at + 1;
        while j < b.len() {
            if bs && b[j] == b'\\' {
                j += 2;
            } else if b[j] == q {
                if b.get(j + 1) == Some(&q) {
                    j += 2;
                } else {
                    return Ok(j + 1);
                }
            } else {
                j += 1;
            }
        }
        Err(self.err(tok, what))
    }

    /// End index of a PostgreSQL dollar-quote tag starting at `i`, if any.
    fn dollar_tag(&self, i: usize) -> Option<usize> {
        let b = self.b;
        if i > 0 && is_word_byte(b[i - 1]) {
            return None;
        }
        let mut j = i + 1;
        if b.get(j)
            .is_some_and(|&c| is_word_start(c) && !c.is_ascii_digit())
        {
            while b.get(j).is_some_and(|&c| is_word_start(c)) {
                j += 1;
            }
        }
        (b.get(j) == Some(&b'$')).then_some(j + 1)
    }

    fn word_end(&self, i: usize) -> usize {
        let mut j = i;
        let custom = (self.delim != ";").then_some(self.delim.as_bytes());
        while j < self.b.len() && is_word_byte(self.b[j]) {
            if custom.is_some_and(|d| j > i && self.b[j..].starts_with(d)) {
                break;
            }
            j += 1;
        }
        j
    }

    fn peek_word(&self, mut i: usize) -> String {
        while i < self.b.len() && self.b[i].is_ascii_whitespace() {
            i += 1;
        }
        self.src[i..self.word_end(i)].to_ascii_uppercase()
    }

    fn word(&mut self, i: usize) -> Result<usize, SplitError> {
        let b = self.b;
        let j = self.word_end(i);
        let word = &self.src[i..j];
        let pg = self.dialect == Dialect::Postgres;
        if pg && word.eq_ignore_ascii_case("e") && b.get(j) == Some(&b'\'') {
            return self.quoted(i, j, b'\'', true, "string literal");
        }
        if self.dialect == Dialect::Mysql
            && self.start.is_none()
            && word.eq_ignore_ascii_case("delimiter")
            && matches!(b.get(j), Some(b' ' | b'\t'))
        {
            let end = self.line_end(j);
            match self.src[j..end].split_whitespace().next() {
                Some(d) => self.delim = d.to_string(),
                None => {
                    let line = self.line_of(i);
                    let message = "DELIMITER must be followed by a delimiter string".to_string();
                    return Err(SplitError { line, message });
                }
            }
            return Ok(end);
        }
        self.mark(i);
        let up = word.to_ascii_uppercase();
        if self.kind == Kind::Undecided {
            self.classify(&up);
        }
        if self.kind == Kind::Block {
            let mysql = self.dialect == Dialect::Mysql;
            match up.as_str() {
                "BEGIN" if !pg || self.peek_word(j) == "ATOMIC" => self.depth += 1,
                "CASE" if mysql && self.last_word == "END" => {
                    self.depth = self.depth.saturating_sub(1)
                }
                "CASE" => self.depth += 1,
                "END" => {
                    let closes_other = matches!(
                        self.peek_word(j).as_str(),
                        "IF" | "LOOP" | "WHILE" | "REPEAT" | "CASE"
                    );
                    if !(mysql && closes_other) {
                        self.depth = self.depth.saturating_sub(1);
                    }
                }
                _ => {}
            }
        }
        self.last_word = up;
        self.last_sig = b'a';
        Ok(j)
    }

    /// Decide from the leading words whether this statement has a BEGIN … END body.
    fn classify(&mut self, up: &str) {
        self.words += 1;
        if self.words == 1 {
            if up != "CREATE" {
                self.kind = Kind::Plain;
            }
            return;
        }
        const SKIP: &[&str] = &[
            "OR",
            "REPLACE",
            "TEMP",
            "TEMPORARY",
            "AGGREGATE",
            "DEFINER",
            "CURRENT_USER",
            "SQL",
            "SECURITY",
            "INVOKER",
            "ALGORITHM",
            "UNDEFINED",
            "MERGE",
            "TEMPTABLE",
            "NONEDITIONABLE",
            "EDITIONABLE",
        ];
        if SKIP.contains(&up) || matches!(self.last_sig, b'=' | b'@') {
            return;
        }
        let block = match self.dialect {
            Dialect::Sqlite => up == "TRIGGER",
            Dialect::Mysql => matches!(up, "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT"),
            Dialect::Postgres => matches!(up, "FUNCTION" | "PROCEDURE"),
        };
        self.kind = if block { Kind::Block } else { Kind::Plain };
    }
}
