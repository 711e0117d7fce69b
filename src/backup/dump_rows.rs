//! Rows per table of a `mariadb-dump`/`mysqldump` stream, counted as its bytes go by.
//!
//! Counting the dump itself, not the live tables, gives the manifest the exact rows a
//! restore will hold (the dump tool's snapshot cannot be shared with another session), and
//! spares the server a `count(*)` scan of every table while it is busy being dumped.
//!
//! Statements start lines: `CREATE TABLE \`t\` (` opens a table's definition, and each
//! `INSERT INTO \`t\` VALUES (…),(…);` holds rows, one parenthesised tuple each, up to
//! the `;` (mysqldump writes them on one line, mariadb-dump 10.11 one tuple per line).
//! Strings are in single quotes (backslash escapes, or doubled quotes under
//! `NO_BACKSLASH_ESCAPES`) and never hold a raw line break. Routines and triggers come
//! between `DELIMITER ;;` and `DELIMITER ;` and are skipped whole, so an `INSERT` in a
//! procedure's body is not taken for rows.

use std::collections::BTreeMap;
use std::io::{self, Read};

const INSERT: &[u8] = b"INSERT INTO `";
const CREATE: &[u8] = b"CREATE TABLE `";
const DELIMITER: &[u8] = b"DELIMITER ";
const VALUES: &[u8] = b" VALUES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Statement {
    Insert,
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line: `head` holds its first bytes.
    LineStart,
    /// Ignoring the rest of the line.
    Skip,
    /// Inside a backquoted table name.
    Name(Statement),
    /// A backquote inside a name: the end of it, or the first of a doubled one.
    NameTick(Statement),
    /// After an INSERT's table name, up to ` VALUES` and a space or line break: how much
    /// of it was seen.
    BeforeValues(usize),
    /// In the list of tuples, outside strings, at this parenthesis depth.
    Values(u32),
    /// Inside a string of a tuple at this depth.
    Quoted(u32),
    /// A backslash inside a string: the next byte is literal.
    Escaped(u32),
    /// A quote inside a string: its end, or the first of a doubled one.
    QuoteEnd(u32),
    /// The rest of a `DELIMITER` line: the delimiter.
    Delimiter,
}

/// A reader that counts the rows of the dump passing through it.
pub struct DumpRows<R> {
    inner: R,
    state: State,
    head: Vec<u8>,
    name: Vec<u8>,
    delimiter: Vec<u8>,
    /// Statements end with `;` (not inside routines).
    plain: bool,
    tables: BTreeMap<String, u64>,
    current: Option<String>,
}

impl<R> DumpRows<R> {
    pub fn new(inner: R) -> DumpRows<R> {
        DumpRows {
            inner,
            state: State::LineStart,
            head: Vec::with_capacity(16),
            name: Vec::new(),
            delimiter: Vec::new(),
            plain: true,
            tables: BTreeMap::new(),
            current: None,
        }
    }

    /// Rows per table seen so far: every table the dump creates, and the rows it inserts.
    pub fn tables(&self) -> &BTreeMap<String, u64> {
        &self.tables
    }

    fn scan(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.state {
                State::Skip => match memchr::memchr(b'\n', &bytes[i..]) {
                    Some(at) => {
                        i += at;
                        self.line_start();
                    }
                    None => return,
                },
                State::LineStart => {
                    if b == b'\n' {
                        self.line_start();
                    } else {
                        self.head.push(b);
                        self.state = self.after_head();
                    }
                }
                State::Name(s) => {
                    if b == b'`' {
                        self.state = State::NameTick(s);
                    } else {
                        self.name.push(b);
                    }
                }
                State::NameTick(s) => {
                    if b == b'`' {
                        self.name.push(b'`');
                        self.state = State::Name(s);
                    } else {
                        self.end_name(s);
                        continue; // this byte belongs to what follows the name
                    }
                }
                State::BeforeValues(seen) => {
                    self.state = if seen == VALUES.len() && matches!(b, b' ' | b'\n') {
                        State::Values(0)
                    } else if seen < VALUES.len() && b == VALUES[seen] {
                        State::BeforeValues(seen + 1)
                    } else if b == b'\n' {
                        self.line_start();
                        State::LineStart
                    } else {
                        State::BeforeValues(usize::from(b == VALUES[0]))
                    };
                }
                // Between tuples (depth 0) only a few bytes pass: `,`, a line break, `(`
                // or the closing `;`. Inside one, jump to the next byte that matters.
                State::Values(0) => match b {
                    b'(' => {
                        self.count_row();
                        self.state = State::Values(1);
                    }
                    b'\'' => self.state = State::Quoted(0),
                    b';' => self.state = State::Skip,
                    _ => {}
                },
                State::Values(depth) => match memchr::memchr3(b'(', b')', b'\'', &bytes[i..]) {
                    Some(at) => {
                        i += at;
                        self.state = match bytes[i] {
                            b'(' => State::Values(depth + 1),
                            b')' => State::Values(depth - 1),
                            _ => State::Quoted(depth),
                        };
                    }
                    None => return,
                },
                State::Quoted(depth) => match memchr::memchr2(b'\'', b'\\', &bytes[i..]) {
                    Some(at) => {
                        i += at;
                        self.state = if bytes[i] == b'\\' {
                            State::Escaped(depth)
                        } else {
                            State::QuoteEnd(depth)
                        };
                    }
                    None => return,
                },
                State::Escaped(depth) => self.state = State::Quoted(depth),
                State::QuoteEnd(depth) => {
                    if b == b'\'' {
                        self.state = State::Quoted(depth);
                    } else {
                        self.state = State::Values(depth);
                        continue;
                    }
                }
                State::Delimiter => {
                    if b == b'\n' {
                        let delimiter = std::mem::take(&mut self.delimiter);
                        self.plain = delimiter.trim_ascii() == b";";
                        self.line_start();
                    } else {
                        self.delimiter.push(b);
                    }
                }
            }
            i += 1;
        }
    }

    fn line_start(&mut self) {
        self.head.clear();
        self.state = State::LineStart;
    }

    /// What the first bytes of a line make of it.
    fn after_head(&mut self) -> State {
        let head = self.head.as_slice();
        if head == DELIMITER {
            self.delimiter.clear();
            return State::Delimiter;
        }
        if self.plain {
            if head == INSERT {
                self.name.clear();
                return State::Name(Statement::Insert);
            }
            if head == CREATE {
                self.name.clear();
                return State::Name(Statement::Create);
            }
        }
        let possible = [INSERT, CREATE, DELIMITER]
            .iter()
            .any(|prefix| prefix.starts_with(head));
        if possible {
            State::LineStart
        } else {
            State::Skip
        }
    }

    fn end_name(&mut self, statement: Statement) {
        let name = String::from_utf8_lossy(&self.name).into_owned();
        self.tables.entry(name.clone()).or_insert(0);
        match statement {
            Statement::Insert => {
                self.current = Some(name);
                self.state = State::BeforeValues(0);
            }
            Statement::Create => self.state = State::Skip,
        }
    }

    fn count_row(&mut self) {
        if let Some(n) = self
            .current
            .as_ref()
            .and_then(|table| self.tables.get_mut(table))
        {
            *n += 1;
        }
    }
}

impl<R: Read> Read for DumpRows<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dump: &str) -> BTreeMap<String, u64> {
        // Every split of the input into two reads gives the same answer.
        let bytes = dump.as_bytes();
        let whole = {
            let mut r = DumpRows::new(bytes);
            io::copy(&mut r, &mut io::sink()).unwrap();
            r.tables
        };
        for cut in 0..bytes.len() {
            let mut r = DumpRows::new(&b""[..]);
            r.scan(&bytes[..cut]);
            r.scan(&bytes[cut..]);
            assert_eq!(r.tables, whole, "split at {cut}");
        }
        whole
    }

    fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn counts_tuples_per_table_and_lists_empty_tables() {
        let dump = "-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n\
            DROP TABLE IF EXISTS `users`;\n\
            CREATE TABLE `users` (\n  `id` int NOT NULL,\n  `name` varchar(20)\n) ENGINE=InnoDB;\n\
            LOCK TABLES `users` WRITE;\n\
            INSERT INTO `users` VALUES (1,'a'),(2,'b'),(3,NULL);\n\
            INSERT INTO `users` VALUES (4,'d');\n\
            UNLOCK TABLES;\n\
            CREATE TABLE `empty` (\n  `id` int\n);\n";
        assert_eq!(count(dump), map(&[("users", 4), ("empty", 0)]));
    }

    #[test]
    fn mariadb_writes_one_tuple_per_line() {
        let dump = "LOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES\n(1,'a'),\n(2,'b;\\n(3)'),\n(3,NULL);\nUNLOCK TABLES;\n\
            INSERT INTO `u` VALUES\n(1);\n";
        assert_eq!(count(dump), map(&[("t", 3), ("u", 1)]));
    }

    #[test]
    fn strings_may_hold_anything_but_a_raw_line_break() {
        let dump = "CREATE TABLE `t` (\n  `s` text\n);\n\
            INSERT INTO `t` VALUES (1,'(not,a),(row);'),(2,'it\\'s \\\\'),(3,'x''y ('),(4,'\\n INSERT INTO `t` VALUES (9)'),(5,0x28293B);\n";
        assert_eq!(count(dump), map(&[("t", 5)]));
    }

    #[test]
    fn names_with_backquotes_and_nested_parentheses() {
        let dump = "CREATE TABLE `we``ird (t)` (\n  `p` point\n);\n\
            INSERT INTO `we``ird (t)` VALUES (1,ST_GeomFromText('POINT(1 2)')),(2,(3));\n";
        assert_eq!(count(dump), map(&[("we`ird (t)", 2)]));
    }

    #[test]
    fn routines_between_delimiters_are_not_rows() {
        let dump = "CREATE TABLE `log` (\n  `id` int\n);\n\
            INSERT INTO `log` VALUES (1);\n\
            DELIMITER ;;\n\
            CREATE PROCEDURE `p`()\nBEGIN\nINSERT INTO `log` VALUES (2),(3);\nEND ;;\n\
            DELIMITER ;\n\
            INSERT INTO `log` VALUES (4);\n";
        assert_eq!(count(dump), map(&[("log", 2)]));
    }

    #[test]
    fn other_statements_and_column_lists_are_understood() {
        let dump = "INSERT INTO `a` (`x`, `y`) VALUES (1,2),(3,4);\n\
            REPLACE INTO `b` VALUES (1);\nINSERTED nothing\n\
            /*!50001 CREATE VIEW `v` AS SELECT 1 */;\n";
        assert_eq!(count(dump), map(&[("a", 2)]));
    }
}
