//! The store's database connections, handed out without sqlx's pool.
//!
//! sqlx 0.8's pool pings every connection as it goes back (`return_to_pool`), and that cannot be
//! turned off: one more round trip to SQLite's worker thread, or to PostgreSQL, after every
//! query, and on SQLite's one writer connection it is inside the critical section every write
//! waits for (BENCHMARKS.md, "OpenID Connect token endpoint"). The ping is there to catch a
//! connection left mid-query by a cancelled future; here a connection goes back only when its
//! query finished (a database error such as a unique violation counts as finished), and one
//! that was cancelled or failed at the transport is closed instead.
//!
//! Idle connections are kept without a time limit: PostgreSQL does not close idle sessions by
//! default, and one that has died fails its next query, which is reported as a storage error
//! and closes it, so the next request connects afresh.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{
    Any, AnyConnection, ConnectOptions, Connection, Database, Describe, Either, Execute, Executor,
    TransactionManager,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `size` connections to one database, opened when first needed.
#[derive(Clone)]
pub(crate) struct Connections(Arc<Shared>);

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("available", &self.0.permits.available_permits())
            .finish()
    }
}

struct Shared {
    options: AnyConnectOptions,
    /// Run on every new connection (SQLite's pragmas); empty for none.
    setup: String,
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
    closed: AtomicBool,
    acquire_timeout: Duration,
}

impl Connections {
    pub(crate) fn new(
        options: AnyConnectOptions,
        setup: String,
        size: u32,
        acquire_timeout: Duration,
    ) -> Self {
        Self(Arc::new(Shared {
            options,
            setup,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
            closed: AtomicBool::new(false),
            acquire_timeout,
        }))
    }

    /// A connection for this caller alone: waits (in order of arrival) while all are busy, up
    /// to the acquire timeout.
    pub(crate) async fn acquire(&self) -> Result<Held, sqlx::Error> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let permit = tokio::time::timeout(
            self.0.acquire_timeout,
            Arc::clone(&self.0.permits).acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.0.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        Ok(Held {
            connection: Some(connection),
            finished: false,
            home: Arc::clone(&self.0),
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut connection = self.0.options.connect().await?;
        if !self.0.setup.is_empty() {
            connection.execute(self.0.setup.as_str()).await?;
        }
        Ok(connection)
    }

    /// Opens one connection now, so that a wrong URL or an unreachable server is reported at
    /// start-up rather than at the first request.
    pub(crate) async fn check(&self) -> Result<(), sqlx::Error> {
        let mut held = self.acquire().await?;
        let result = held.ping().await;
        held.finished(&result);
        result
    }

    /// A transaction on a connection of its own: committed by `commit`, rolled back by
    /// `rollback` or when dropped.
    pub(crate) async fn begin(&self) -> Result<WriteTransaction, sqlx::Error> {
        let mut held = self.acquire().await?;
        let begun =
            <<Any as Database>::TransactionManager as TransactionManager>::begin(&mut held, None)
                .await;
        held.finished(&begun);
        begun?;
        Ok(WriteTransaction { held, open: true })
    }

    /// Refuses new work and closes the idle connections; busy ones close as they come back.
    pub(crate) async fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.permits.close();
        let idle = match self.0.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for connection in idle {
            let _ = connection.close().await;
        }
    }
}

/// Connections that stop being used when every `Connections` handle has gone.
pub(crate) struct WeakConnections(std::sync::Weak<Shared>);

impl Connections {
    pub(crate) fn downgrade(&self) -> WeakConnections {
        WeakConnections(Arc::downgrade(&self.0))
    }
}

/// Copies SQLite's WAL back into the database file every `period`, on the writer's connection
/// between writes (its automatic checkpoint is off). PASSIVE does not wait for readers. Run on
/// the writer, no frame is added while it copies, so the log is usually copied whole and the
/// next write starts it again from the beginning. Run beside the writer, it never caught up
/// under steady writes: the log grew all the time, and each frame written past its end cost
/// the file system a zeroed block (`__pi_memset`, 12 % of the CPU under token exchanges). Ends
/// when the store is closed or dropped.
pub(crate) async fn checkpoint_wal(connections: WeakConnections, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = connections.0.upgrade() else {
            return;
        };
        let connections = Connections(shared);
        if connections.0.closed.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&connections)
            .await
        {
            tracing::warn!(error = %e, "SQLite WAL checkpoint failed; trying again");
        }
    }
}

/// One connection lent out; it goes back when dropped if its last use finished cleanly.
pub(crate) struct Held {
    connection: Option<AnyConnection>,
    finished: bool,
    home: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Held {
    /// Records how the last use ended: a connection cancelled mid-query (never marked) or one
    /// whose transport failed is closed rather than lent again.
    pub(crate) fn finished<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.finished = match result {
            Ok(_) => true,
            Err(e) => still_usable(e),
        };
    }
}

/// Errors the database answered with leave the connection fine; the others may not.
fn still_usable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::RowNotFound
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_)
            | sqlx::Error::TypeNotFound { .. }
    )
}

impl std::ops::Deref for Held {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        // Present from construction until drop.
        self.connection.as_ref().expect("a held connection")
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.finished = false;
        self.connection.as_mut().expect("a held connection")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.finished
            && !self.home.closed.load(Ordering::Acquire)
            && let Ok(mut idle) = self.home.idle.lock()
        {
            idle.push(connection);
        }
        // Otherwise the connection is dropped: sqlx closes SQLite's worker thread, and
        // PostgreSQL ends the session (rolling back anything open) when the socket closes.
    }
}

/// A transaction holding its connection. Statements run on `&mut *tx`.
pub(crate) struct WriteTransaction {
    held: Held,
    open: bool,
}

impl WriteTransaction {
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let result =
            <<Any as Database>::TransactionManager as TransactionManager>::commit(&mut self.held)
                .await;
        self.held.finished(&result);
        self.open = false;
        result
    }

    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let result =
            <<Any as Database>::TransactionManager as TransactionManager>::rollback(&mut self.held)
                .await;
        self.held.finished(&result);
        self.open = false;
        result
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.held
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        // A statement that finishes is marked by the store's own error mapping, which does not
        // see this guard: a transaction's connection is judged at commit or rollback instead.
        self.held.connection.as_mut().expect("a held connection")
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        if self.open {
            // Neither committed nor rolled back (an early return on an error): the connection
            // is closed, which rolls the transaction back, rather than lent again mid-way.
            self.held.finished = false;
        }
    }
}

impl<'c> Executor<'c> for &'_ Connections {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let connections = self.clone();
        // Collected before they are handed on: the store reads bounded results only, and the
        // connection goes back as soon as the query is done.
        futures_util::stream::once(async move {
            let mut held = connections.acquire().await?;
            let results: Result<Vec<_>, sqlx::Error> =
                (&mut *held).fetch_many(query).try_collect().await;
            held.finished(&results);
            results
        })
        .map_ok(|results| futures_util::stream::iter(results.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let connections = self.clone();
        Box::pin(async move {
            let mut held = connections.acquire().await?;
            let result = (&mut *held).fetch_optional(query).await;
            held.finished(&result);
            result
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        let connections = self.clone();
        Box::pin(async move {
            let mut held = connections.acquire().await?;
            let result = (&mut *held).prepare_with(sql, parameters).await;
            held.finished(&result);
            result
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        let connections = self.clone();
        Box::pin(async move {
            let mut held = connections.acquire().await?;
            let result = (&mut *held).describe(sql).await;
            held.finished(&result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_connections(dir: &std::path::Path, size: u32) -> Connections {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
        let options: AnyConnectOptions = url.parse().expect("a SQLite URL");
        Connections::new(
            options,
            "PRAGMA journal_mode = WAL;".into(),
            size,
            Duration::from_millis(200),
        )
    }

    async fn run(connections: &Connections, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(connections).await.map(|_| ())
    }

    /// Rows in the TEMP table `mark`, which lives on one connection only: an answer means the
    /// same connection came back.
    async fn marks(connections: &Connections) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM temp.mark")
            .fetch_one(connections)
            .await?;
        Ok(n)
    }

    #[tokio::test]
    async fn a_finished_query_gives_its_connection_back_for_the_next_one() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 1);
        run(&connections, "CREATE TEMP TABLE mark (x INTEGER)")
            .await
            .expect("created");
        assert_eq!(marks(&connections).await.expect("the same connection"), 0);
    }

    #[tokio::test]
    async fn a_database_error_leaves_the_connection_usable_and_lent_again() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 1);
        run(
            &connections,
            "CREATE TEMP TABLE mark (x INTEGER PRIMARY KEY)",
        )
        .await
        .expect("created");
        run(&connections, "INSERT INTO mark VALUES (1)")
            .await
            .expect("inserted");
        let again = run(&connections, "INSERT INTO mark VALUES (1)").await;
        assert!(matches!(again, Err(sqlx::Error::Database(_))));
        assert_eq!(marks(&connections).await.expect("the same connection"), 1);
    }

    #[tokio::test]
    async fn a_query_cancelled_half_way_closes_its_connection_instead_of_lending_it() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 1);
        run(&connections, "CREATE TEMP TABLE mark (x INTEGER)")
            .await
            .expect("created");
        {
            let mut held = connections.acquire().await.expect("a connection");
            // Used but never marked finished: what a dropped request future leaves behind.
            let _ = (&mut *held).execute("SELECT 1").await;
        }
        assert!(
            marks(&connections).await.is_err(),
            "a fresh connection has no TEMP table"
        );
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_writes_nothing() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 1);
        run(&connections, "CREATE TABLE kept (x INTEGER)")
            .await
            .expect("created");
        {
            let mut tx = connections.begin().await.expect("begun");
            sqlx::query("INSERT INTO kept VALUES (1)")
                .execute(&mut *tx)
                .await
                .expect("inserted");
        }
        let mut tx = connections.begin().await.expect("begun again");
        sqlx::query("INSERT INTO kept VALUES (2)")
            .execute(&mut *tx)
            .await
            .expect("inserted");
        tx.commit().await.expect("committed");
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT x FROM kept")
            .fetch_all(&connections)
            .await
            .expect("read");
        assert_eq!(rows, vec![(2,)]);
    }

    #[tokio::test]
    async fn a_caller_waits_for_a_busy_connection_only_up_to_the_timeout() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 1);
        let held = connections.acquire().await.expect("a connection");
        let waited = connections.acquire().await;
        assert!(matches!(waited, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        assert!(connections.acquire().await.is_ok());
    }

    #[tokio::test]
    async fn closed_connections_refuse_new_work() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connections = sqlite_connections(dir.path(), 2);
        connections.check().await.expect("opened");
        connections.close().await;
        let refused = run(&connections, "SELECT 1").await;
        assert!(matches!(refused, Err(sqlx::Error::PoolClosed)));
    }
}
