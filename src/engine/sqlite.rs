//! SQLite: the embedded default. A database is a file; a template is a file copied into place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Connection, Executor, Row, TypeInfo, ValueRef};

use super::{AppliedMigration, Backend, EngineKind, MIGRATIONS_TABLE};
use crate::error::{Error, IoContext};
use crate::schema::{Column, ColumnType, ForeignKey, Schema, Table};
use crate::sqltext::{self, Dialect, quote_ident};
use crate::value::Value;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How a database file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing database that applications may be using: safe defaults.
    Existing,
    /// A fresh file being built (template or rebuild beside the real file): no journal, no
    /// fsync. A crash leaves only a temporary file, which is discarded.
    Scratch,
}

pub struct SqliteBackend {
    conn: SqliteConnection,
    path: PathBuf,
}

impl SqliteBackend {
    /// Open `path`. An existing file must be a SQLite database: anything else is refused
    /// untouched rather than overwritten.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<Self, Error> {
        if mode == OpenMode::Existing {
            ensure_sqlite_file(path)?;
        }
        let mut options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == OpenMode::Scratch)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if mode == OpenMode::Scratch {
            options = options
                .journal_mode(SqliteJournalMode::Off)
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-65536")
                .pragma("temp_store", "MEMORY");
        }
        let conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| Error::db(format!("cannot open {}", path.display()), e))?;
        Ok(SqliteBackend {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Close cleanly, switching a scratch file back to the default rollback journal so the
    /// copy made from it behaves like any SQLite file.
    pub async fn close(mut self) -> Result<(), Error> {
        let _ = self.conn.execute("PRAGMA journal_mode = DELETE").await;
        self.conn
            .close()
            .await
            .map_err(|e| Error::db(format!("closing {}", self.path.display()), e))
    }

    /// Foreign-key violations, as `PRAGMA foreign_key_check` reports them.
    pub async fn foreign_key_violations(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut self.conn)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let table: String = r.get(0);
                let parent: String = r.get(2);
                format!("{table} → {parent}")
            })
            .collect())
    }

    /// `PRAGMA foreign_keys`: off while bulk-loading a fresh file, checked afterwards.
    pub async fn set_foreign_keys(&mut self, on: bool) -> Result<(), sqlx::Error> {
        let sql = if on {
            "PRAGMA foreign_keys = ON"
        } else {
            "PRAGMA foreign_keys = OFF"
        };
        self.conn.execute(sql).await.map(drop)
    }

    pub async fn quick_check(&mut self) -> Result<String, sqlx::Error> {
        sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&mut self.conn)
            .await
    }

    async fn introspect_table(&mut self, name: &str, sql: &str) -> Result<Table, sqlx::Error> {
        let columns = sqlx::query("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid")
            .bind(name)
            .fetch_all(&mut self.conn)
            .await?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut cols = Vec::new();
        for row in &columns {
            let col_name: String = row.get(0);
            let declared: String = row.get(1);
            let position: i64 = row.get(4);
            if position > 0 {
                pk.push((position, col_name.clone()));
            }
            cols.push(Column {
                ty: ColumnType::from_declared(&declared),
                name: col_name,
                declared,
                nullable: row.get::<i64, _>(2) == 0,
                has_default: row.get::<Option<String>, _>(3).is_some(),
                generated_key: false,
                computed: row.get::<i64, _>(5) >= 2,
                checks: Vec::new(),
            });
        }
        pk.sort();
        let primary_key: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        // Only `INTEGER PRIMARY KEY` aliases the rowid; SQLite fills it when omitted.
        if let [only] = primary_key.as_slice()
            && let Some(col) = cols.iter_mut().find(|c| &c.name == only)
        {
            col.generated_key = col.declared.eq_ignore_ascii_case("INTEGER");
            // A rowid alias can never be NULL, whatever PRAGMA table_info says.
            col.nullable = false;
        }
        let uniques = self.unique_indexes(name).await?;
        let foreign_keys = self.foreign_keys(name).await?;
        let mut table = Table {
            name: name.to_string(),
            columns: cols,
            primary_key,
            uniques,
            foreign_keys,
            unsupported_checks: Vec::new(),
        };
        attach_checks(&mut table, sql);
        Ok(table)
    }

    async fn unique_indexes(&mut self, table: &str) -> Result<Vec<Vec<String>>, sqlx::Error> {
        let indexes = sqlx::query("SELECT name, origin FROM pragma_index_list(?) WHERE \"unique\" = 1 AND partial = 0 ORDER BY seq DESC")
            .bind(table)
            .fetch_all(&mut self.conn)
            .await?;
        let mut uniques = Vec::new();
        for index in indexes {
            let origin: String = index.get(1);
            if origin == "pk" {
                continue;
            }
            let index_name: String = index.get(0);
            let cols: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index_name)
                    .fetch_all(&mut self.conn)
                    .await?;
            // An index on an expression has NULL column names: not a column uniqueness rule.
            if let Some(cols) = cols.into_iter().collect::<Option<Vec<_>>>()
                && !uniques.contains(&cols)
            {
                uniques.push(cols);
            }
        }
        Ok(uniques)
    }

    async fn foreign_keys(&mut self, table: &str) -> Result<Vec<ForeignKey>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq")
            .bind(table)
            .fetch_all(&mut self.conn)
            .await?;
        let mut fks: Vec<(i64, ForeignKey)> = Vec::new();
        for row in rows {
            let id: i64 = row.get(0);
            let parent: String = row.get(1);
            let from: String = row.get(2);
            let to: Option<String> = row.get(3);
            if fks.last().map(|(last, _)| *last) != Some(id) {
                let fk = ForeignKey {
                    columns: vec![],
                    ref_table: parent,
                    ref_columns: vec![],
                };
                fks.push((id, fk));
            }
            let fk = &mut fks.last_mut().expect("pushed above").1;
            fk.columns.push(from);
            // `to` is NULL when the reference names only the parent table: its primary key.
            fk.ref_columns.push(to.unwrap_or_default());
        }
        let mut out: Vec<ForeignKey> = fks.into_iter().map(|(_, fk)| fk).collect();
        out.reverse(); // pragma lists them last-declared first
        for fk in &mut out {
            if fk.ref_columns.iter().any(String::is_empty) {
                fk.ref_columns = self.primary_key_columns(&fk.ref_table).await?;
            }
        }
        Ok(out)
    }

    async fn primary_key_columns(&mut self, table: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk")
            .bind(table)
            .fetch_all(&mut self.conn)
            .await
    }
}

/// Turn the CHECK constraints of a CREATE TABLE statement into per-column rules.
fn attach_checks(table: &mut Table, create_sql: &str) {
    for (_owner, body) in sqltext::extract_checks(create_sql) {
        let parsed = sqltext::parse_check(&body);
        for rule in parsed.rules {
            let target = table
                .columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&rule.column));
            match target {
                Some(column) => column.checks.push(rule.rule),
                None => table.unsupported_checks.push(body.clone()),
            }
        }
        table.unsupported_checks.extend(parsed.unsupported);
    }
}

/// Refuse to treat a file that is not SQLite as a database (and never overwrite it).
pub fn ensure_sqlite_file(path: &Path) -> Result<(), Error> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path).at(path)?;
    let read = file.read(&mut header).at(path)?;
    if read == 0 || &header == SQLITE_HEADER {
        return Ok(());
    }
    Err(Error::State(format!(
        "{} is not a SQLite database (its first bytes are not \"SQLite format 3\"); dbenv left it untouched: move it away, or point `path` in dbenv.toml at another file",
        path.display()
    )))
}

impl Backend for SqliteBackend {
    fn engine(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let done = self.conn.execute(AssertSqlSafe(sql.to_string())).await?;
        Ok(done.rows_affected())
    }

    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        // IMMEDIATE takes the write lock now, so a concurrent writer fails fast instead of
        // deadlocking half-way through a long seed.
        self.conn.execute("BEGIN IMMEDIATE").await.map(drop)
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.conn.execute("COMMIT").await.map(drop)
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.conn.execute("ROLLBACK").await.map(drop)
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ? ORDER BY name",
        )
        .bind(MIGRATIONS_TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| Error::db("reading the schema", e))?;
        let mut schema = Schema::default();
        for (name, sql) in tables {
            let table = self
                .introspect_table(&name, &sql)
                .await
                .map_err(|e| Error::db(format!("reading the schema of table {name}"), e))?;
            schema.tables.push(table);
        }
        Ok(schema)
    }

    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        let mut handle = self.conn.lock_handle().await?;
        let raw = handle.as_raw_handle();
        // SAFETY: the handle stays locked out of sqlx's worker thread for the whole call
        // (`handle` lives until the end of this function), and `from_handle` borrows it
        // without closing it; rusqlite finalizes its statements when `conn` drops, before
        // the lock is released. Same linked SQLite library for both (libsqlite3-sys 0.36).
        #[allow(unsafe_code)]
        let conn =
            unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }.map_err(rusqlite_error)?;
        bulk_insert(&conn, table, columns, rows).map_err(rusqlite_error)
    }

    async fn update_column(
        &mut self,
        table: &str,
        key_columns: &[String],
        set_column: &str,
        rows: &[(Vec<Value>, Value)],
    ) -> Result<(), sqlx::Error> {
        let q = |c: &str| quote_ident(c, Dialect::Sqlite);
        let filter: Vec<String> = key_columns
            .iter()
            .map(|c| format!("{} = ?", q(c)))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} = ? WHERE {}",
            q(table),
            q(set_column),
            filter.join(" AND ")
        );
        for (key, value) in rows {
            let mut args = SqliteArguments::default();
            bind(&mut args, value)?;
            for k in key {
                bind(&mut args, k)?;
            }
            sqlx::query_with(AssertSqlSafe(sql.clone()), args)
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }

    async fn select_values(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, sqlx::Error> {
        let q = |c: &str| quote_ident(c, Dialect::Sqlite);
        let list: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            list.join(", "),
            q(table),
            list.join(", ")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await?;
        rows.iter()
            .map(|r| (0..columns.len()).map(|i| decode(r, i)).collect())
            .collect()
    }

    async fn count_rows(&mut self, table: &str) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "SELECT COUNT(*) FROM {}",
            quote_ident(table, Dialect::Sqlite)
        );
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await?;
        Ok(n as u64)
    }

    async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error> {
        use sqlx::migrate::Migrate;
        self.conn
            .ensure_migrations_table(MIGRATIONS_TABLE)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => e,
                other => sqlx::Error::Migrate(Box::new(other)),
            })
    }

    async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error> {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
                .bind(MIGRATIONS_TABLE)
                .fetch_optional(&mut self.conn)
                .await?;
        if exists.is_none() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT version, description, success, checksum, CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut self.conn)
            .await?;
        rows.iter().map(applied_from_row).collect()
    }

    async fn record_migration(
        &mut self,
        version: i64,
        description: &str,
        checksum: &[u8],
        elapsed: Duration,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) VALUES ( ?1, ?2, TRUE, ?3, ?4 )")
            .bind(version)
            .bind(description)
            .bind(checksum)
            .bind(elapsed.as_nanos() as i64)
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    async fn forget_migration(&mut self, version: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?1")
            .bind(version)
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    async fn server_version(&mut self) -> Result<String, sqlx::Error> {
        let v: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(format!("SQLite {v}"))
    }
}

fn applied_from_row(row: &SqliteRow) -> Result<AppliedMigration, sqlx::Error> {
    Ok(AppliedMigration {
        version: row.try_get(0)?,
        description: row.try_get(1)?,
        success: row.try_get(2)?,
        checksum: row.try_get(3)?,
        installed_on: row.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
    })
}

/// Insert with one prepared statement, bound and stepped per row: SQLite's fastest path
/// (several times faster than sqlx's per-statement round trip to its worker thread).
fn bulk_insert(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> rusqlite::Result<()> {
    let sql = if columns.is_empty() {
        format!(
            "INSERT INTO {} DEFAULT VALUES",
            quote_ident(table, Dialect::Sqlite)
        )
    } else {
        insert_sql(table, columns, 1)
    };
    let mut statement = conn.prepare_cached(&sql)?;
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            statement.raw_bind_parameter(i + 1, Cell(value))?;
        }
        statement.raw_execute()?;
    }
    Ok(())
}

/// A generated value, bound without copying it first.
struct Cell<'a>(&'a Value);

impl rusqlite::ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as R};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => R::Null,
            Value::Int(i) => R::Integer(*i),
            Value::Float(f) => R::Real(*f),
            Value::Bool(b) => R::Integer(i64::from(*b)),
            Value::Text(s) => R::Text(s.as_bytes()),
            Value::Bytes(b) => R::Blob(b),
        }))
    }
}

fn rusqlite_error(e: rusqlite::Error) -> sqlx::Error {
    let message = match &e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    sqlx::Error::Protocol(message)
}

fn insert_sql(table: &str, columns: &[String], rows: usize) -> String {
    let q = |c: &str| quote_ident(c, Dialect::Sqlite);
    let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
    let tuple = format!("({})", vec!["?"; columns.len()].join(","));
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", q(table), cols.join(","));
    sql.reserve(rows * (tuple.len() + 1));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
    }
    sql
}

fn bind(args: &mut SqliteArguments, value: &Value) -> Result<(), sqlx::Error> {
    let result = match value {
        Value::Null => args.add(None::<i64>),
        Value::Int(i) => args.add(*i),
        Value::Float(f) => args.add(*f),
        Value::Bool(b) => args.add(*b),
        Value::Text(s) => args.add(s.clone()),
        Value::Bytes(b) => args.add(b.clone()),
    };
    result.map_err(sqlx::Error::Encode)
}

/// Decode a cell by the storage class of the value itself (SQLite is dynamically typed).
pub(crate) fn decode(row: &SqliteRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_ascii_uppercase();
    Ok(match kind.as_str() {
        "INTEGER" | "BOOLEAN" => Value::Int(row.try_get(index)?),
        "REAL" => Value::Float(row.try_get(index)?),
        "BLOB" => Value::Bytes(row.try_get(index)?),
        _ => Value::Text(row.try_get(index)?),
    })
}
