//! Server-level administration of PostgreSQL through `PgAdmin`: create, clone from a
//! template in use, rename, list and drop databases.
//!
//! Needs `DBENV_TEST_PG_URL`, like `engine_postgres.rs` (SKIP without it, failure with
//! `DBENV_TEST_REQUIRE=all`).
#![cfg(feature = "postgres")]

mod pg;

use dbenv::engine::Backend;
use dbenv::engine::postgres::PgAdmin;
use pg::Scratch;

#[tokio::test]
async fn admin_clones_renames_lists_and_drops_databases() {
    let Some(s) = Scratch::new("admin").await else {
        return;
    };
    let template = s.name.clone();
    let (copy, moved) = (format!("{template}_copy"), format!("{template}_moved"));
    let mut admin = PgAdmin::connect(&pg::server_url().unwrap()).await.unwrap();
    assert!(
        admin.server_version_num() >= 100_000,
        "{}",
        admin.server_version_num()
    );
    for name in [&copy, &moved] {
        admin.drop_database(name).await.unwrap();
    }
    let mut on_template = s.db().await;
    on_template
        .execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
        .await
        .unwrap();

    admin.clone_database(&template, &copy).await.unwrap();
    assert!(
        on_template.count_rows("t").await.is_err(),
        "the template's session was ended"
    );
    let mut on_copy = admin.backend(&copy).await.unwrap();
    assert_eq!(on_copy.count_rows("t").await.unwrap(), 2);

    admin.rename_database(&copy, &moved).await.unwrap();
    assert!(!admin.database_exists(&copy).await.unwrap());
    assert!(admin.database_exists(&moved).await.unwrap());
    assert_eq!(
        admin.list_databases(&template).await.unwrap(),
        [template.clone(), moved.clone()]
    );
    assert!(
        admin
            .list_databases("no_such_prefix_")
            .await
            .unwrap()
            .is_empty()
    );

    let mut on_moved = admin.backend(&moved).await.unwrap();
    assert_eq!(on_moved.count_rows("t").await.unwrap(), 2);
    admin.drop_database(&moved).await.unwrap(); // ends that session
    assert!(!admin.database_exists(&moved).await.unwrap());
    admin.drop_database(&moved).await.unwrap(); // IF EXISTS
    let e = admin.create_database(&template).await.unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("creating database {template}")),
        "{e}"
    );
    admin.close().await.unwrap();
    s.finish().await;
}
