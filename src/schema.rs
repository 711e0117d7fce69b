//! An engine-neutral model of the tables that migrations created, as introspected from the
//! database. Seeding reads only this model, so one generator serves every engine.

use crate::sqltext::CheckRule;

/// All user tables of a database, in a stable order (by name).
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn table_names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.name.as_str()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Primary key columns, in key order (empty when the table has none).
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes other than the primary key.
    pub uniques: Vec<Vec<String>>,
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints dbenv could not turn into rules; generated rows may violate them.
    pub unsupported_checks: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Every key whose values must not repeat: the primary key first, then unique constraints.
    pub fn unique_keys(&self) -> Vec<&[String]> {
        let pk = (!self.primary_key.is_empty()).then_some(self.primary_key.as_slice());
        pk.into_iter()
            .chain(self.uniques.iter().map(Vec::as_slice))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The type as the database declares it (`VARCHAR(80)`), for messages.
    pub declared: String,
    pub ty: ColumnType,
    pub nullable: bool,
    pub has_default: bool,
    /// Filled by the database when omitted (SQLite rowid alias, identity, serial, AUTO_INCREMENT).
    pub generated_key: bool,
    /// Computed by the database (generated columns); never written.
    pub computed: bool,
    pub checks: Vec<CheckRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    Integer {
        bytes: u8,
    },
    Float,
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Text {
        max_len: Option<u32>,
    },
    Boolean,
    Date,
    Time,
    Timestamp,
    Uuid,
    Json,
    Blob,
    /// A closed set of values (PostgreSQL/MySQL enums).
    Enum(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

impl ColumnType {
    /// Classify a declared SQL type name the way the engines' affinity rules would.
    ///
    /// ```
    /// use dbenv::schema::ColumnType;
    /// assert_eq!(ColumnType::from_declared("VARCHAR(80)"), ColumnType::Text { max_len: Some(80) });
    /// assert_eq!(ColumnType::from_declared("bigint"), ColumnType::Integer { bytes: 8 });
    /// ```
    pub fn from_declared(declared: &str) -> ColumnType {
        let upper = declared.trim().to_ascii_uppercase();
        let (base, args) = split_type_args(&upper);
        let base = base.trim();
        let word = |w: &str| {
            base.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|p| p == w)
        };
        match base {
            "BOOL" | "BOOLEAN" => return ColumnType::Boolean,
            "TINYINT" if args.first() == Some(&1) => return ColumnType::Boolean,
            "DATE" => return ColumnType::Date,
            "UUID" | "UNIQUEIDENTIFIER" => return ColumnType::Uuid,
            "JSON" | "JSONB" => return ColumnType::Json,
            _ => {}
        }
        if base.starts_with("TIMESTAMP") || base.starts_with("DATETIME") {
            return ColumnType::Timestamp;
        }
        if base.starts_with("TIME") {
            return ColumnType::Time;
        }
        if let Some(bytes) = integer_bytes(base) {
            return ColumnType::Integer { bytes };
        }
        if base.contains("CHAR") || base.contains("TEXT") || base.contains("CLOB") {
            let max_len = args.first().map(|n| *n as u32);
            return ColumnType::Text { max_len };
        }
        if base.contains("BLOB") || base.contains("BINARY") || base == "BYTEA" {
            return ColumnType::Blob;
        }
        if word("REAL") || base.contains("FLOA") || base.contains("DOUB") {
            return ColumnType::Float;
        }
        if base.starts_with("DECIMAL") || base.starts_with("NUMERIC") || base == "MONEY" {
            let precision = args.first().map(|n| *n as u32);
            let scale = args.get(1).map(|n| *n as u32);
            return ColumnType::Decimal { precision, scale };
        }
        // SQLite gives an untyped column BLOB affinity; text is the friendliest value for it.
        ColumnType::Text { max_len: None }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, ColumnType::Integer { .. })
    }
}

fn integer_bytes(base: &str) -> Option<u8> {
    let first = base.split_whitespace().next().unwrap_or("");
    Some(match first {
        "TINYINT" => 1,
        "SMALLINT" | "INT2" | "SMALLSERIAL" => 2,
        "MEDIUMINT" => 3,
        "INT" | "INTEGER" | "INT4" | "SERIAL" => 4,
        "BIGINT" | "INT8" | "BIGSERIAL" => 8,
        _ if first.ends_with("INT") && !first.ends_with("POINT") => 8,
        _ => return None,
    })
}

/// `VARCHAR(80)` → ("VARCHAR", [80]); `DECIMAL(10, 2) UNSIGNED` → ("DECIMAL UNSIGNED", [10, 2]).
fn split_type_args(upper: &str) -> (String, Vec<u64>) {
    let Some(open) = upper.find('(') else {
        return (upper.to_string(), Vec::new());
    };
    let close = upper[open..]
        .find(')')
        .map(|i| open + i)
        .unwrap_or(upper.len());
    let args = upper[open + 1..close]
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let rest = upper.get(close + 1..).unwrap_or("");
    (format!("{}{}", &upper[..open], rest), args)
}

#[cfg(test)]
mod tests {
    use super::ColumnType::*;
    use super::*;

    #[test]
    fn classifies_the_types_of_every_engine() {
        let cases = [
            ("INTEGER", Integer { bytes: 4 }),
            ("int unsigned", Integer { bytes: 4 }),
            ("BIGINT", Integer { bytes: 8 }),
            ("smallint", Integer { bytes: 2 }),
            ("tinyint(1)", Boolean),
            ("tinyint(4)", Integer { bytes: 1 }),
            ("BOOLEAN", Boolean),
            ("VARCHAR(120)", Text { max_len: Some(120) }),
            ("character varying(12)", Text { max_len: Some(12) }),
            ("TEXT", Text { max_len: None }),
            (
                "DECIMAL(10,2)",
                Decimal {
                    precision: Some(10),
                    scale: Some(2),
                },
            ),
            (
                "numeric",
                Decimal {
                    precision: None,
                    scale: None,
                },
            ),
            ("REAL", Float),
            ("double precision", Float),
            ("TIMESTAMP", Timestamp),
            ("timestamp with time zone", Timestamp),
            ("DATETIME", Timestamp),
            ("DATE", Date),
            ("time", Time),
            ("uuid", Uuid),
            ("jsonb", Json),
            ("BLOB", Blob),
            ("bytea", Blob),
            ("", Text { max_len: None }),
            ("POINT", Text { max_len: None }),
        ];
        for (declared, want) in cases {
            assert_eq!(ColumnType::from_declared(declared), want, "{declared}");
        }
    }
}
