//! PostgreSQL behind a transaction-mode pooler (PgBouncer's `pool_mode = transaction`,
//! managed poolers), and hot standbys.
//!
//! Such a pooler hands a server connection to a client for one transaction only. The
//! PostgreSQL driver prepares every query as a *named* statement (`s0`, `s1`, …, numbered
//! per process) in one round trip and runs it in the next: outside a transaction the two
//! may reach different server connections, where the name is missing or, worse, is another
//! client's statement. So with `?pgbouncer=true` botdb:
//! - turns the statement cache off, so no statement outlives the query that prepared it;
//! - runs every query in a transaction ([`begin`] / [`commit`], which `with_connection!`
//!   calls), so prepare, run and close reach the same server connection, and clears
//!   statements others left on it when the transaction starts. A body that
//!   returns early leaves the transaction open; the pool then discards the connection, and
//!   the server rolls the transaction back;
//! - checks pooled connections with a simple-protocol `SELECT 1`;
//! - takes the migration lock as a transaction-scoped advisory lock (see `db::lock`).
//!
//! On a direct connection none of this happens: statements stay cached, as before.

use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AnsiTransactionManager, AsyncConnection, AsyncPgConnection};
use diesel_async::{SimpleAsyncConnection, TransactionManager};
use futures_util::FutureExt;

use crate::config::DatabaseUrl;
use crate::error::{Doing, Error, Result};

/// The connection manager for a pooled URL: no statement cache, a simple-protocol check.
pub(crate) fn manager(url: &DatabaseUrl) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(|url| establish(url).boxed());
    config.recycling_method =
        RecyclingMethod::CustomFunction(Box::new(|conn| conn.batch_execute("SELECT 1").boxed()));
    AsyncDieselConnectionManager::new_with_config(url.connection_string(), config)
}

/// Connects as diesel-async does, but runs its set-up queries (prepared statements) in a
/// transaction too, after clearing statements others left on the server connection.
pub(crate) async fn establish(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    use diesel::ConnectionError;
    let bad = |e: tokio_postgres::Error| ConnectionError::BadConnection(e.to_string());
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(bad)?;
    tokio::select! {
        begun = client.batch_execute("BEGIN; DEALLOCATE ALL") => begun.map_err(bad)?,
        ended = &mut connection => {
            return Err(ConnectionError::BadConnection(match ended {
                Err(e) => e.to_string(),
                Ok(()) => "the server closed the connection".into(),
            }))
        }
    }
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    conn.batch_execute("COMMIT")
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
    Ok(conn)
}

/// Opens the transaction a pooled connection's queries run in. In the same round trip it
/// drops any prepared statement the server connection still holds: one another client of
/// the pooler (an older botdb, a tool without `?pgbouncer=true`) left there would clash
/// with this process's statement names (`prepared statement "s4" already exists`).
pub async fn begin(conn: &mut AsyncPgConnection) -> Result<()> {
    AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN; DEALLOCATE ALL")
        .await
        .map_err(|e| Error::query(Doing::PoolerTransaction, e))
}

/// Commits what [`begin`] opened.
///
/// After a failed query PostgreSQL has aborted the transaction, and it answers `COMMIT`
/// with `ROLLBACK`, not an error: a body that went on after a query failed (on a direct
/// connection each query is its own transaction, so that is ordinary there) would lose its
/// writes without a word. The `SELECT 1` sent with the `COMMIT`, in the same round trip,
/// fails in an aborted transaction instead ("current transaction is aborted"); the
/// transaction is then rolled back and that is the error.
pub async fn commit(conn: &mut AsyncPgConnection) -> Result<()> {
    use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
    match conn.batch_execute("SELECT 1; COMMIT").await {
        Ok(()) => {
            if let TransactionManagerStatus::Valid(status) =
                AnsiTransactionManager::transaction_manager_status_mut(conn)
            {
                status
                    .change_transaction_depth(TransactionDepthChange::DecreaseDepth)
                    .map_err(|e| Error::query(Doing::PoolerTransaction, e))?;
            }
            Ok(())
        }
        Err(e) => {
            // A COMMIT that failed (a deferred constraint) has ended the transaction
            // already; ROLLBACK then only warns.
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            Err(Error::query(
                Doing::PoolerTransaction,
                format!("{e}; the transaction was rolled back, so none of its writes were kept"),
            ))
        }
    }
}
