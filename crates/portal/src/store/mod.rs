//! The database: one set of portable SQL for SQLite (embedded default) and PostgreSQL
//! (production, many nodes), through sqlx's `Any` driver. Times are integer seconds, ids text.
//! This is the only module with SQL.

mod accounts;
mod admin;
mod approvals;
mod audit;
mod codes;
mod devices;
mod email_queue;
mod feedback;
mod import;
mod invitations;
mod limits;
mod methods;
mod monitoring;
mod oidc_clients;
mod oidc_grants;
mod oidc_keys;
mod organisations;
mod policy;
mod recovery;
mod report;
mod secrets;
pub mod seed;
mod sessions;

pub use monitoring::{ACCOUNT_HISTORY_SQL, FAILED_EMAILS_SQL, FAMILIAR_SQL, PASSWORD_FAILURES_SQL};

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::domain::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database behind every aggregate's records trait.
#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, everything).
    pool: AnyPool,
    /// Writes. SQLite has one writer at a time: with one connection for writes, writers queue
    /// here, in async code, instead of sleeping in SQLite's busy handler (which gives long tails
    /// under load). On PostgreSQL this is the same pool as `pool`.
    writer: AnyPool,
    backend: Backend,
    /// Where audit events are copied after they are written (SIEM); none by default.
    siem: Option<crate::siem::Siem>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects and applies any migrations not yet applied.
    pub async fn open(
        url: &str,
        data_dir: &Path,
        max_connections: u32,
    ) -> Result<Self, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StorageError::Unavailable(format!(
                    "cannot create data folder {}: {e}",
                    data_dir.display()
                ))
            })?;
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options: AnyConnectOptions = url
            .parse::<AnyConnectOptions>()
            .map_err(|e| StorageError::Unavailable(format!("bad database URL: {e}")))?
            .disable_statement_logging();
        let pool_options = |connections: u32, pragmas: &'static str| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                // sqlx pings every connection before handing it out by default: one more round
                // trip to SQLite's worker thread or to PostgreSQL on every query (about 70 µs of
                // 250 here, BENCHMARKS.md "OpenID Connect token endpoint"). A connection that
                // has died fails its query instead, which is reported as a storage error, and
                // sqlx's ping as it goes back to the pool closes it.
                .test_before_acquire(false)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL lets readers run beside the one writer; foreign keys are off in
                            // SQLite unless asked for; wait for a busy writer rather than fail.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                            )
                            .await?;
                            conn.execute(pragmas).await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = pool_options(max_connections, "")
            .connect_with(options.clone())
            .await
            .map_err(storage_error)?;
        let writer = match backend {
            // The one writer keeps a 64 MiB page cache (SQLite's default is 2 MiB) and its
            // statement journals in memory: a bulk import inserts into several indexes at
            // random places, and with the defaults most of its time went on re-reading pages
            // and writing them to temporary files.
            Backend::Sqlite => {
                pool_options(1, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")
                    .connect_with(options)
                    .await
                    .map_err(storage_error)?
            }
            Backend::Postgres => pool.clone(),
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&writer)
            .await
            .map_err(|e| StorageError::Other(format!("migrations failed: {e}")))?;
        Ok(Self {
            pool,
            writer,
            backend,
            siem: None,
        })
    }

    /// This store, copying every audit event it writes to `siem` (a decorator: the SQL is
    /// unchanged, and a SIEM that is slow or down never fails or delays a write).
    pub fn with_siem(mut self, siem: Option<crate::siem::Siem>) -> Self {
        self.siem = siem;
        self
    }

    /// The SIEM events are copied to, if any: other event sources (the sign-in log) send
    /// through it too.
    pub fn siem(&self) -> Option<&crate::siem::Siem> {
        self.siem.as_ref()
    }

    /// Copies written audit events to the SIEM.
    pub(crate) fn forward_audit<'a>(
        &self,
        events: impl IntoIterator<Item = &'a crate::domain::audit::AuditEvent>,
    ) {
        if let Some(siem) = &self.siem {
            for event in events {
                siem.send(crate::siem::SiemEvent::from_audit(event));
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when the database answers a trivial query within two seconds.
    pub async fn is_reachable(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ping).await,
            Ok(Ok(_))
        )
    }

    /// Closes the pools, after giving the SIEM up to 3 seconds to write what it has queued.
    pub async fn close(&self) {
        if let Some(siem) = &self.siem
            && !siem.flush(Duration::from_secs(3)).await
        {
            tracing::warn!("some SIEM events were not delivered before stopping");
        }
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Sorts sqlx errors into what callers can act on.
pub(crate) fn storage_error(e: sqlx::Error) -> StorageError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StorageError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict,
        sqlx::Error::Database(db) if is_connection_failure(db.code().as_deref()) => {
            StorageError::Unavailable(e.to_string())
        }
        _ => StorageError::Other(e.to_string()),
    }
}

/// PostgreSQL class 08 (connection exception) and 57P0x (server shutting down).
fn is_connection_failure(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P0"))
}
