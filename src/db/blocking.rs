//! Lending a pooled connection to synchronous work, diesel's migration harness, on
//! tokio's blocking thread pool.
//!
//! The servers' connections are async: the work gets them in diesel-async's
//! `AsyncConnectionWrapper`, which drives each query with the runtime's handle. SQLite's
//! connection is synchronous underneath (`SyncConnectionWrapper`), so the work gets that
//! `SqliteConnection` itself, on the thread the wrapper lends it on: wrapping it again
//! would hand every statement from the harness's blocking thread to another one (a fresh
//! SQLite migrate made 108 futex calls that way, 16 this way).

use std::future::Future;

use ::bb8::ManageConnection;
use diesel::SqliteConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8::PooledConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::db::sqlite::SqliteAsync;
use crate::error::{Error, Result};

/// A connection out of one of botdb's pools.
pub type Pooled<C> = PooledConnection<'static, C>;

/// A pooled connection that synchronous work can borrow on a blocking thread.
pub trait Lend: Sized + Send + 'static {
    /// The synchronous diesel connection the work gets.
    type Sync;

    /// Runs `work` with this connection on tokio's blocking thread pool and hands the
    /// connection back with the outcome. `work` reports events through the function it
    /// is given; `on_event` gets each one on the caller's task as it happens.
    ///
    /// This works on any runtime flavour, the current-thread one of `#[tokio::test]`
    /// included (diesel_async issue #266). The blocking work cannot be stopped halfway:
    /// dropping the returned future only stops waiting for it.
    fn on_blocking_thread<E, T, W>(
        self,
        on_event: &mut (dyn FnMut(&E) + Send),
        work: W,
    ) -> impl Future<Output = Result<(Self, Result<T>)>> + Send
    where
        E: Clone + Send + 'static,
        T: Send + 'static,
        W: FnOnce(&mut Self::Sync, &mut dyn FnMut(&E)) -> Result<T> + Send + 'static;
}

/// Passes the events `job` sends on to `on_event` until `job`'s work, already started,
/// drops its sender, then waits for its outcome.
pub(crate) async fn relaying<E, R>(
    on_event: &mut (dyn FnMut(&E) + Send),
    job: impl FnOnce(UnboundedSender<E>) -> R,
) -> R::Output
where
    R: Future,
{
    let (events, mut received) = unbounded_channel::<E>();
    let outcome = job(events);
    while let Some(event) = received.recv().await {
        on_event(&event);
    }
    outcome.await
}

/// The work's `emit`: sends a copy of each event. The receiver lives until the work
/// ends, unless the caller stopped waiting; then nobody is listening.
pub(crate) fn sender<E: Clone + Send>(events: UnboundedSender<E>) -> impl FnMut(&E) + Send {
    move |event: &E| {
        let _ = events.send(event.clone());
    }
}

fn thread_failed(e: impl std::fmt::Display) -> Error {
    Error::Refused(format!(
        "the migration thread failed unexpectedly ({e}); the database was left as the failure left it: check `botdb status`"
    ))
}

/// The servers' connections, which diesel's harness reaches through
/// `AsyncConnectionWrapper`.
pub trait ServerConnection {}
impl ServerConnection for AsyncPgConnection {}
impl ServerConnection for AsyncMysqlConnection {}

/// The servers' way: the async connection in `AsyncConnectionWrapper`, moved to a
/// blocking thread and back.
impl<C> Lend for Pooled<C>
where
    C: ServerConnection + PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: ManageConnection,
    Self: AsyncConnection + Send,
{
    type Sync = AsyncConnectionWrapper<Self>;

    fn on_blocking_thread<E, T, W>(
        self,
        on_event: &mut (dyn FnMut(&E) + Send),
        work: W,
    ) -> impl Future<Output = Result<(Self, Result<T>)>> + Send
    where
        E: Clone + Send + 'static,
        T: Send + 'static,
        W: FnOnce(&mut Self::Sync, &mut dyn FnMut(&E)) -> Result<T> + Send + 'static,
    {
        through_wrapper(self, on_event, work)
    }
}

/// The servers' `on_blocking_thread`. A function of its own: written as an `async fn` in
/// the generic impl, rustc cannot show its future `Send` for every lifetime of the pooled
/// connection.
async fn through_wrapper<C, E, T, W>(
    conn: C,
    on_event: &mut (dyn FnMut(&E) + Send),
    work: W,
) -> Result<(C, Result<T>)>
where
    C: AsyncConnection + Send + 'static,
    E: Clone + Send + 'static,
    T: Send + 'static,
    W: FnOnce(&mut AsyncConnectionWrapper<C>, &mut dyn FnMut(&E)) -> Result<T> + Send + 'static,
{
    let mut wrapped = AsyncConnectionWrapper::<C>::from(conn);
    let joined = relaying(on_event, |events| {
        tokio::task::spawn_blocking(move || {
            let result = work(&mut wrapped, &mut sender(events));
            (wrapped, result)
        })
    })
    .await;
    let (wrapped, result) = joined.map_err(thread_failed)?;
    Ok((wrapped.into_inner(), result))
}

impl Lend for Pooled<SqliteAsync> {
    type Sync = SqliteConnection;

    async fn on_blocking_thread<E, T, W>(
        self,
        on_event: &mut (dyn FnMut(&E) + Send),
        work: W,
    ) -> Result<(Self, Result<T>)>
    where
        E: Clone + Send + 'static,
        T: Send + 'static,
        W: FnOnce(&mut Self::Sync, &mut dyn FnMut(&E)) -> Result<T> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::current();
        let joined = relaying(on_event, |events| {
            // The pooled connection waits on a blocking thread of its own while the work
            // holds the SqliteConnection inside it. Were it dropped on the runtime
            // instead (the caller stopped waiting, a signal shut the runtime down),
            // handing it back to the pool would lock that connection and so block the
            // runtime until the work was done.
            tokio::task::spawn_blocking(move || {
                let mut conn = self;
                let lent = conn.spawn_blocking(move |c| Ok(work(c, &mut sender(events))));
                let outcome = runtime.block_on(lent);
                (conn, outcome)
            })
        })
        .await;
        let (conn, outcome) = joined.map_err(thread_failed)?;
        Ok((conn, outcome.map_err(thread_failed)?))
    }
}
