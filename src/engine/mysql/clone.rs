//! Cloning a template schema: DDL replayed from `SHOW CREATE TABLE`, rows copied with
//! `INSERT … SELECT` inside the server, then views and triggers (after the rows, so no
//! trigger fires on copied data).

use std::collections::BTreeMap;
use std::sync::Mutex;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::admin::MySqlAdmin;
use super::introspect::text_rows;
use super::literal::str_literal;
use super::{open, q};
use crate::error::Error;

/// MariaDB sequences of `{schema}`: created from their DDL, then set to the template's
/// next value.
/// Connections copying rows at the same time.
const COPY_WORKERS: usize = 4;

const SEQUENCES: &str = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_TYPE = 'SEQUENCE' ORDER BY TABLE_NAME";

/// Copy every object of `template` into the existing, empty `target`.
pub(super) async fn copy_schema(
    admin: &mut MySqlAdmin,
    template: &str,
    target: &str,
) -> Result<(), Error> {
    let tables = admin.tables(template).await?;
    let sequences = admin.names(template, SEQUENCES).await?;
    let extras = admin.extras(template, target).await?;
    let columns = copied_columns(admin, template).await?;
    // The rows come from a consistent template: checking them again is wasted work, and
    // tables are created in name order, before the tables their foreign keys name.
    admin
        .run(
            "SET SESSION foreign_key_checks = 0, unique_checks = 0".into(),
            || "switching off checks for the copy".into(),
        )
        .await?;
    admin
        .run(format!("USE {}", q(target)), || format!("using {target}"))
        .await?;
    for table in &tables {
        let ddl = admin.show_create("TABLE", template, table, 1).await?;
        admin
            .run(ddl, || format!("creating table {target}.{table}"))
            .await?;
    }
    let jobs: Vec<Job> = tables
        .iter()
        .filter(|t| !sequences.contains(t))
        .filter_map(|t| {
            let columns = columns.get(t)?.clone();
            let sql = format!(
                "INSERT INTO {}.{} ({columns}) SELECT {columns} FROM {}.{}",
                q(target),
                q(t),
                q(template),
                q(t)
            );
            Some(Job {
                table: t.clone(),
                sql,
            })
        })
        .collect();
    copy_rows(admin, template, jobs).await?;
    for sequence in &sequences {
        copy_sequence(admin, template, target, sequence).await?;
    }
    admin.replay(target, &extras.views).await?;
    admin.replay(target, &extras.triggers).await
}

/// Copying one table: `INSERT INTO target.t (…) SELECT … FROM template.t`.
struct Job {
    table: String,
    sql: String,
}

/// Run the copies on up to [`COPY_WORKERS`] connections at once, biggest tables first, so
/// a server with several cores copies several tables at a time.
async fn copy_rows(
    admin: &mut MySqlAdmin,
    template: &str,
    mut jobs: Vec<Job>,
) -> Result<(), Error> {
    let sizes = table_sizes(admin, template).await?;
    // Smallest first: workers pop from the end.
    jobs.sort_by_key(|j| sizes.get(&j.table).copied().unwrap_or(0));
    let workers = jobs.len().min(COPY_WORKERS);
    let queue = Mutex::new(jobs);
    let options = admin.options().clone();
    let target = admin.target().to_string();
    let runs = (0..workers).map(|_| copy_worker(&options, &target, &queue, template));
    futures_util::future::try_join_all(runs).await.map(drop)
}

async fn copy_worker(
    options: &MySqlConnectOptions,
    target: &str,
    queue: &Mutex<Vec<Job>>,
    template: &str,
) -> Result<(), Error> {
    let (mut conn, _) = open(options, target).await?;
    let fail = |table: &str, e| {
        Error::db(
            format!("copying the rows of {template}.{table} on {target}"),
            e,
        )
    };
    conn.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
        .await
        .map_err(|e| fail("(session)", e))?;
    loop {
        let job = queue.lock().expect("no panics while locked").pop();
        let Some(job) = job else {
            break;
        };
        conn.execute(AssertSqlSafe(job.sql))
            .await
            .map_err(|e| fail(&job.table, e))?;
    }
    conn.close().await.map_err(|e| fail("(closing)", e))
}

/// Bytes of data and indexes per table (estimates, good enough to order the work).
async fn table_sizes(admin: &mut MySqlAdmin, schema: &str) -> Result<BTreeMap<String, u64>, Error> {
    let sql = format!(
        "SELECT TABLE_NAME, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
        str_literal(schema)
    );
    let target = admin.target().to_string();
    let rows = text_rows(admin.conn(), sql).await.map_err(|e| {
        Error::db(
            format!("reading the table sizes of {schema} on {target}"),
            e,
        )
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let size = r.get(1).cloned().flatten().and_then(|s| s.parse().ok());
            Some((r.first().cloned().flatten()?, size.unwrap_or(0)))
        })
        .collect())
}

async fn copy_sequence(
    admin: &mut MySqlAdmin,
    template: &str,
    target: &str,
    sequence: &str,
) -> Result<(), Error> {
    let sql = format!(
        "SELECT SETVAL({}.{}, (SELECT next_not_cached_value FROM {}.{}), 0)",
        q(target),
        q(sequence),
        q(template),
        q(sequence)
    );
    admin
        .run(sql, || format!("setting sequence {target}.{sequence}"))
        .await
}

/// For each table of `schema`, the quoted list of the columns that hold data (generated
/// columns are computed again by the copy).
async fn copied_columns(
    admin: &mut MySqlAdmin,
    schema: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let sql = format!(
        "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME, ORDINAL_POSITION",
        str_literal(schema)
    );
    let target = admin.target().to_string();
    let rows = text_rows(admin.conn(), sql)
        .await
        .map_err(|e| Error::db(format!("reading the columns of {schema} on {target}"), e))?;
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let extra = cell(2).to_ascii_uppercase();
        let generated = extra.contains(" GENERATED") && !extra.contains("DEFAULT_GENERATED");
        if !generated {
            lists.entry(cell(0)).or_default().push(q(&cell(1)));
        }
    }
    Ok(lists
        .into_iter()
        .map(|(table, cols)| (table, cols.join(", ")))
        .collect())
}
