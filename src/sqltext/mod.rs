//! Pure SQL text helpers: statement splitting, identifier quoting and
//! CHECK-constraint extraction/parsing. No I/O, std only.

mod check;
mod check_expr;
mod lex;
mod operand;
mod split;

#[cfg(test)]
mod check_engine_tests;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod split_tests;

pub use check::{CheckRule, ColumnCheck, Literal, ParsedCheck, extract_checks, parse_check};
pub use split::{SplitError, Statement, split_statements};

/// SQL dialect understood by the helpers in this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

/// Quote an identifier for `dialect`: `"x"` (with `""` doubling) for SQLite and
/// PostgreSQL, `` `x` `` (with ` `` ` doubling) for MySQL/MariaDB.
pub fn quote_ident(name: &str, dialect: Dialect) -> String {
    let q = match dialect {
        Dialect::Sqlite | Dialect::Postgres => '"',
        Dialect::Mysql => '`',
    };
    let mut out = String::with_capacity(name.len() + 2);
    out.push(q);
    for ch in name.chars() {
        if ch == q {
            out.push(q);
        }
        out.push(ch);
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_all_dialects() {
        assert_eq!(quote_ident("users", Dialect::Sqlite), "\"users\"");
        assert_eq!(quote_ident("we\"ird", Dialect::Postgres), "\"we\"\"ird\"");
        assert_eq!(quote_ident("we`ird", Dialect::Mysql), "`we``ird`");
        assert_eq!(quote_ident("naïve 名前", Dialect::Mysql), "`naïve 名前`");
        assert_eq!(quote_ident("", Dialect::Sqlite), "\"\"");
    }
}
