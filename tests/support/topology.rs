//! PgBouncer (transaction mode) and a hot standby in front of / behind the test PostgreSQL
//! (`TEST_PGBOUNCER_URL`, `TEST_STANDBY_URL`; `.ci/run` starts both). A test database is
//! created through `TEST_POSTGRES_URL` as usual and then reached through them by name.

use super::db::with_database;
use super::TestDb;

fn url_of(var: &str, db: &TestDb) -> String {
    let base = std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set (see Testing in README.md)"));
    with_database(&base, db.name())
}

/// The PostgreSQL test database `db`, through the pooler (`?pgbouncer=true` kept).
pub fn pooled_url(db: &TestDb) -> String {
    url_of("TEST_PGBOUNCER_URL", db)
}

/// The PostgreSQL test database `db`, on the standby, once it has replayed everything
/// the primary committed so far.
pub async fn standby_url(db: &TestDb) -> String {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Lsn {
        #[diesel(sql_type = diesel::sql_types::Text)]
        lsn: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Caught {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        caught: bool,
    }
    let mut primary = AsyncPgConnection::establish(&db.direct_url)
        .await
        .expect("primary");
    let target = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
        .get_result::<Lsn>(&mut primary)
        .await
        .expect("primary LSN")
        .lsn;
    let standby = url_of("TEST_STANDBY_URL", db);
    let admin = std::env::var("TEST_STANDBY_URL").expect("TEST_STANDBY_URL");
    let mut conn = AsyncPgConnection::establish(&admin).await.expect("standby");
    for _ in 0..300 {
        let caught = diesel::sql_query(
            "SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS caught",
        )
        .bind::<diesel::sql_types::Text, _>(&target)
        .get_result::<Caught>(&mut conn)
        .await
        .expect("standby LSN");
        if caught.caught {
            return standby;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the standby did not replay up to {target} within 30 s");
}
