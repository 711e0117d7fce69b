//! MySQL/MariaDB have no `RENAME DATABASE`: swapping a restored database in moves its tables,
//! views and triggers, but stored procedures, functions and events stay with their schema.
//! They are read here before the swap and created again under the new name after it.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, Executor, Row};

use crate::error::Error;

/// `CREATE` statements of a schema's routines and events.
pub struct Routines(Vec<String>);

fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn err(what: String, e: sqlx::Error) -> Error {
    Error::db(what, e)
}

/// Read the routines and events of `schema` (connected through `admin_url`).
pub async fn read(admin_url: &str, schema: &str) -> Result<Routines, Error> {
    let mut conn = MySqlConnection::connect(admin_url)
        .await
        .map_err(|e| err("connecting to read routines".into(), e))?;
    let mut found: Vec<(String, String, usize)> = Vec::new();
    let routines = sqlx::query(
        "SELECT CAST(routine_type AS CHAR), CAST(routine_name AS CHAR) FROM information_schema.routines WHERE routine_schema = ?",
    )
    .bind(schema)
    .fetch_all(&mut conn)
    .await
    .map_err(|e| err(format!("listing the routines of {schema}"), e))?;
    for row in routines {
        found.push((row.get(0), row.get(1), 2));
    }
    let events = sqlx::query(
        "SELECT CAST(event_name AS CHAR) FROM information_schema.events WHERE event_schema = ?",
    )
    .bind(schema)
    .fetch_all(&mut conn)
    .await
    .map_err(|e| err(format!("listing the events of {schema}"), e))?;
    for row in events {
        found.push(("EVENT".into(), row.get(0), 3));
    }
    let mut statements = Vec::new();
    for (kind, name, column) in found {
        let sql = format!("SHOW CREATE {kind} {}.{}", q(schema), q(&name));
        let row = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| err(format!("reading {kind} {schema}.{name}"), e))?;
        let text: Option<String> = row
            .try_get::<Option<String>, _>(column)
            .or_else(|_| {
                row.try_get::<Option<Vec<u8>>, _>(column)
                    .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
            })
            .map_err(|e| err(format!("reading {kind} {schema}.{name}"), e))?;
        if let Some(text) = text {
            statements.push(text);
        }
    }
    let _ = conn.close().await;
    Ok(Routines(statements))
}

impl Routines {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Create them in `schema`.
    pub async fn create_in(&self, admin_url: &str, schema: &str) -> Result<(), Error> {
        let mut conn = MySqlConnection::connect(admin_url)
            .await
            .map_err(|e| err("connecting to create routines".into(), e))?;
        conn.execute(AssertSqlSafe(format!("USE {}", q(schema))))
            .await
            .map_err(|e| err(format!("using {schema}"), e))?;
        for statement in &self.0 {
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .map_err(|e| err(format!("creating a routine in {schema}"), e))?;
        }
        let _ = conn.close().await;
        Ok(())
    }
}
