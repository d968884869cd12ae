//! The database: one set of portable SQL for SQLite (embedded default) and PostgreSQL
//! (production, many nodes), through sqlx's `Any` driver. Times are integer seconds, ids text.
//! This is the only module with SQL.

mod account_changes;
mod accounts;
mod admin;
mod approvals;
mod audit;
mod codes;
mod connections;
mod device_grants;
mod devices;
mod email_queue;
mod exceptions;
mod feedback;
pub mod files;
mod grant_reads;
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
mod push;
mod recovery;
mod report;
mod secrets;
/// Bulk writes of generated data and the product's queries to EXPLAIN, for `nhsmal-dev`
/// alone: compiled only with the `seeding` feature, which the product build never has.
#[cfg(feature = "seeding")]
pub mod seed;
mod sessions;
mod signed_in;
mod token_writes;

use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::any::AnyConnectOptions;

use connections::Connections;

use domain::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database behind every aggregate's records trait.
#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, everything).
    pool: Connections,
    /// Writes. SQLite has one writer at a time: with one connection for writes, writers queue
    /// here, in async code, instead of sleeping in SQLite's busy handler (which gives long tails
    /// under load). On PostgreSQL this is the same pool as `pool`.
    writer: Connections,
    /// Clients read in the last second (every token request reads its client).
    recent_clients: std::sync::Arc<oidc_clients::RecentClients>,
    /// The token endpoint's writes, committed in groups on `writer`.
    token_writes: token_writes::TokenWrites,
    /// The token endpoint's reads of the code or refresh token presented, in groups.
    code_reads: grant_reads::KeyedReads<oidc_grants::HeldCode>,
    token_reads: grant_reads::KeyedReads<oidc_grants::HeldToken>,
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

/// "($1, $2, …), ($n+1, …), …" for `rows` rows of `columns` values: the VALUES of a
/// multi-row INSERT (bulk import, seeding, token writes).
fn placeholders(rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for c in 0..columns {
            if c > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(r * columns + c + 1).to_string());
        }
        text.push(')');
    }
    text
}

/// The next batch of the token endpoint's grouped reads or writes: waits until fewer batches
/// than `room`'s permits are running, then takes the first request to arrive and every other
/// one waiting at that moment (those that came while the batches before were running), at most
/// `most`. `None` once every sender has gone.
async fn next_batch<T>(
    room: &std::sync::Arc<tokio::sync::Semaphore>,
    receiver: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    most: usize,
) -> Option<(tokio::sync::OwnedSemaphorePermit, Vec<T>)> {
    let permit = std::sync::Arc::clone(room).acquire_owned().await.ok()?;
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < most {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some((permit, batch))
}

/// The token endpoint's grouped reads (`grant_reads`) in flight at once: while one waits for
/// the database, the next group gathers and goes.
const READS_AT_ONCE: usize = 2;
/// The token endpoint's grouped writes in flight at once on PostgreSQL (on SQLite one: it has
/// one writer): each waits for its WAL flush, and the next need not wait behind it.
const POSTGRES_WRITES_AT_ONCE: usize = 4;

/// How often the SQLite writer copies the WAL back to the database file.
const WAL_CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

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
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        // The data folder holds the outbox (and the master key) on either store.
        files::make_private(data_dir, files::sqlite_path(url).as_deref())?;
        let options: AnyConnectOptions = url
            .parse::<AnyConnectOptions>()
            .map_err(|e| StorageError::Unavailable(format!("bad database URL: {e}")))?
            .disable_statement_logging();
        // WAL lets readers run beside the one writer; foreign keys are off in SQLite unless
        // asked for; wait for a busy writer rather than fail. The wait is set first: even
        // `journal_mode` takes a lock, and a command run beside the server (`nhsmal policy
        // set`) got "database is locked" at once when it came second.
        let sqlite_setup = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                            PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                            PRAGMA journal_size_limit = 67108864;";
        let setup = |extra: &str| match backend {
            Backend::Sqlite => format!("{sqlite_setup} {extra}"),
            // No JIT: every query here is a short lookup or write, and PostgreSQL compiles one
            // whose estimated cost passes `jit_above_cost`, which a grouped lookup of many keys
            // on tables not yet analysed does, at a cost of milliseconds each time
            // (BENCHMARKS.md, "OpenID Connect token endpoint").
            Backend::Postgres => "SET jit = off".to_string(),
        };
        let acquire_timeout = Duration::from_secs(5);
        let pool = Connections::new(options.clone(), setup(""), max_connections, acquire_timeout);
        pool.check().await.map_err(storage_error)?;
        let writer = match backend {
            // The one writer keeps its statement journals in memory, and SQLite's default page
            // cache (2 MiB). A 64 MiB cache saved a bulk import about 8 % of its time, but every
            // commit walked the whole cache (`pcache1TruncateUnsafe`, 7–8 % of the CPU under
            // token exchanges); BENCHMARKS.md, "OpenID Connect token endpoint".
            //
            // It does not checkpoint the WAL inside a commit: SQLite's automatic checkpoint
            // (every 1,000 pages) copies pages to the database file and syncs it inside the
            // commit that crosses the mark. `checkpoint_wal` does it on the writer once a second,
            // between writes instead.
            Backend::Sqlite => Connections::new(
                options,
                setup(
                    "PRAGMA temp_store = MEMORY; \
                     PRAGMA wal_autocheckpoint = 0;",
                ),
                1,
                acquire_timeout,
            ),
            Backend::Postgres => pool.clone(),
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        {
            let mut connection = writer.acquire().await.map_err(storage_error)?;
            let migrated = migrator.run(&mut *connection).await;
            if migrated.is_ok() {
                connection.finished(&Ok::<(), sqlx::Error>(()));
            }
            migrated.map_err(|e| StorageError::Other(format!("migrations failed: {e}")))?;
        }
        if backend == Backend::Sqlite {
            tokio::spawn(connections::checkpoint_wal(
                writer.downgrade(),
                WAL_CHECKPOINT_PERIOD,
            ));
        }
        Ok(Self {
            code_reads: grant_reads::KeyedReads::start(
                {
                    let pool = pool.clone();
                    move |keys| oidc_grants::codes(pool.clone(), keys)
                },
                READS_AT_ONCE,
            ),
            token_reads: grant_reads::KeyedReads::start(
                {
                    let pool = pool.clone();
                    move |keys| oidc_grants::tokens(pool.clone(), keys)
                },
                READS_AT_ONCE,
            ),
            pool,
            recent_clients: Default::default(),
            token_writes: token_writes::TokenWrites::start(
                writer.clone(),
                match backend {
                    Backend::Sqlite => 1,
                    Backend::Postgres => POSTGRES_WRITES_AT_ONCE,
                },
            ),
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
        events: impl IntoIterator<Item = &'a domain::audit::AuditEvent>,
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
        sqlx::Error::Database(db) if is_out_of_room(db.code().as_deref()) => {
            StorageError::Unavailable(e.to_string())
        }
        _ => StorageError::Other(e.to_string()),
    }
}

/// The disk is full or read-only, or failed: PostgreSQL's class 53 (insufficient resources,
/// such as 53100 disk full) and 25006 (read-only transaction); SQLite's FULL (13), READONLY (8)
/// and IOERR (10) with their extended codes. The person gets the "try again later" page (503)
/// rather than an internal error, and the operator the log line.
fn is_out_of_room(code: Option<&str>) -> bool {
    match code {
        // SQLSTATEs are five characters; SQLite's codes are numbers of at most four digits.
        Some(c) if c.len() == 5 => c.starts_with("53") || c == "25006",
        Some(c) => c
            .parse::<i32>()
            .is_ok_and(|n| matches!(n & 0xff, 8 | 10 | 13)),
        None => false,
    }
}

/// PostgreSQL class 08 (connection exception) and 57P0x (server shutting down).
fn is_connection_failure(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P0"))
}

#[cfg(test)]
mod out_of_room_tests {
    #[test]
    fn a_full_or_read_only_disk_is_unavailability_not_a_bug() {
        for code in ["13", "8", "264", "10", "1034", "53100", "53200", "25006"] {
            assert!(super::is_out_of_room(Some(code)), "{code}");
        }
        for code in ["19", "2067", "23505", "42P01", "22008", "5"] {
            assert!(!super::is_out_of_room(Some(code)), "{code}");
        }
    }
}

#[cfg(test)]
mod placeholder_tests {
    #[test]
    fn placeholders_number_every_value_across_rows() {
        assert_eq!(super::placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholders(1, 1), "($1)");
    }
}
