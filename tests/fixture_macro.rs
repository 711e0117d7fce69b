//! `#[dbenv::test]` as users write it, on the repository's own project (dbenv.toml at the
//! crate root): the pool type picks the engine, arguments pick env, scenario and fixtures.
//! scripts/test.sh also runs this file under `cargo nextest` (one process per test, one
//! server for all of them).

use sqlx::{MySqlPool, PgPool, SqlitePool};

async fn users<'a, E>(pool: E) -> i64
where
    E: sqlx::Executor<'a>,
    i64: sqlx::Type<E::Database> + for<'r> sqlx::Decode<'r, E::Database>,
    for<'q> <E::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<E::Database>,
    (i64,): for<'r> sqlx::FromRow<'r, <E::Database as sqlx::Database>::Row>,
{
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
        .unwrap();
    n
}

#[dbenv::test]
async fn sqlite_follows_the_default_env(pool: SqlitePool) {
    assert_eq!(users(&pool).await, 60, "dev's demo scenario");
}

#[dbenv::test(scenario = "empty")]
async fn sqlite_with_another_scenario(pool: SqlitePool) {
    assert_eq!(users(&pool).await, 0);
}

#[dbenv::test(fixtures("tests/fixtures/acme.sql"))]
async fn postgres_from_the_test_env_with_fixtures(pool: PgPool) -> Result<(), sqlx::Error> {
    let label: String = sqlx::query_scalar(
        "SELECT l.name FROM labels l JOIN organisations o ON o.id = l.organisation_id WHERE o.slug = 'acme'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(label, "urgent");
    assert_eq!(users(&pool).await, 60);
    Ok(())
}

#[dbenv::test(env = "test", seed = 7)]
async fn postgres_writes_stay_in_the_test(pool: PgPool) {
    sqlx::query("DELETE FROM comments")
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[dbenv::test(env = "test")]
async fn postgres_sees_untouched_data(pool: PgPool) {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(n > 0, "another test's DELETE is not visible here");
}

#[dbenv::test(engine = "mariadb", scenario = "demo")]
async fn mariadb_by_engine(pool: MySqlPool) {
    assert_eq!(users(&pool).await, 60);
}

#[dbenv::test(env = "dev")]
async fn the_test_db_itself(db: dbenv::TestDb) {
    assert_eq!(db.engine(), dbenv::config::EngineKind::Sqlite);
    assert!(db.path().is_some_and(|p| p.exists()));
    let pool: SqlitePool = db.pool();
    assert_eq!(users(&pool).await, 60);
}

#[dbenv::test]
#[should_panic(expected = "deliberately")]
async fn a_panicking_test_still_fails(pool: SqlitePool) {
    assert_eq!(users(&pool).await, 60);
    panic!("deliberately");
}
