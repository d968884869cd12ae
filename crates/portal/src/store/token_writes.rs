//! Group commit for the refresh tokens of code exchanges and refreshes: the token endpoint's
//! only write (access tokens are sealed, not stored).
//!
//! Each exchange inserts one row; written one exchange at a time, each is a commit of its own
//! on SQLite's one writer (or a WAL flush on PostgreSQL), and every exchange queues behind the
//! one before. One task takes every token waiting at the moment and inserts them with a single
//! statement, so a busy endpoint makes one commit for many exchanges (BENCHMARKS.md, "OpenID
//! Connect token endpoint"). A lone exchange waits for nothing: the task writes whatever is
//! there as soon as it is free.
//!
//! Each token spends the code or refresh token it was issued from (the unique index on
//! `issued_from, kind`). `ON CONFLICT … DO NOTHING RETURNING` tells, row by row, which tokens
//! were inserted, so one reuse refuses that exchange alone, even when two exchanges of the
//! same code arrive in the same batch. If the statement fails as a whole (a grant deleted
//! under an exchange breaks its foreign key), each token of the batch is written on its own, so
//! the error reaches only the exchange it belongs to.

use std::collections::HashSet;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::connections::Connections;
use super::storage_error;
use domain::StorageError;
use domain::oidc::flows::StoredToken;

/// At most this many tokens in one statement (6 parameters a row: far below either database's
/// limit on parameters).
const MOST_TOKENS_A_BATCH: usize = 64;

/// Where the store sends tokens to be written.
#[derive(Clone, Debug)]
pub(crate) struct TokenWrites {
    sender: mpsc::UnboundedSender<Pending>,
}

#[derive(Debug)]
struct Pending {
    token: StoredToken,
    written: oneshot::Sender<Result<(), StorageError>>,
}

impl TokenWrites {
    /// Starts the task that writes them on `writer`, with at most `at_once` statements at a
    /// time (one on SQLite, whose writer is one connection; several on PostgreSQL, where one
    /// batch's wait for its WAL flush need not hold up the next); it ends when every
    /// `TokenWrites` has gone.
    pub(crate) fn start(writer: Connections, at_once: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(writer, receiver, at_once));
        Self { sender }
    }

    /// Inserts one token. `Conflict` when a token was already issued from the same code or
    /// refresh token.
    pub(crate) async fn insert(&self, token: StoredToken) -> Result<(), StorageError> {
        let (written, outcome) = oneshot::channel();
        self.sender
            .send(Pending { token, written })
            .map_err(|_| StorageError::Unavailable("the store is closed".into()))?;
        outcome
            .await
            .map_err(|_| StorageError::Unavailable("the token writer stopped".into()))?
    }
}

async fn write_batches(
    writer: Connections,
    mut receiver: mpsc::UnboundedReceiver<Pending>,
    at_once: usize,
) {
    let room = Arc::new(Semaphore::new(at_once.max(1)));
    while let Some((permit, mut batch)) =
        super::next_batch(&room, &mut receiver, MOST_TOKENS_A_BATCH).await
    {
        // In order of what each token spends (a stable sort: of two tokens from one code, the
        // first queued still wins). On PostgreSQL, batches run side by side, and two that hold the same
        // two codes in opposite orders would each wait for the other's row, a deadlock that
        // PostgreSQL ends only after a second.
        batch.sort_by(|a, b| spends(a).cmp(&spends(b)));
        let writer = writer.clone();
        tokio::spawn(async move {
            write_batch(&writer, batch).await;
            drop(permit);
        });
    }
}

async fn write_batch(writer: &Connections, batch: Vec<Pending>) {
    match insert(writer, &batch).await {
        Ok(inserted) => {
            for pending in batch {
                let outcome = written_or_refused(&pending, &inserted);
                let _ = pending.written.send(outcome);
            }
        }
        Err(e) if batch.len() == 1 => {
            for pending in batch {
                let _ = pending.written.send(Err(e.clone()));
            }
        }
        Err(_) => {
            for pending in batch {
                let one = std::slice::from_ref(&pending);
                let outcome = insert(writer, one)
                    .await
                    .and_then(|inserted| written_or_refused(&pending, &inserted));
                let _ = pending.written.send(outcome);
            }
        }
    }
}

/// The code or refresh token a token was issued from.
fn spends(pending: &Pending) -> Option<&str> {
    pending.token.issued_from.as_deref()
}

/// A token not inserted met the unique index on what it spends: a reuse.
fn written_or_refused(pending: &Pending, inserted: &HashSet<String>) -> Result<(), StorageError> {
    if inserted.contains(&pending.token.token_hash) {
        Ok(())
    } else {
        Err(StorageError::Conflict)
    }
}

/// One INSERT for every row of `batch`; returns the hashes of the rows inserted.
async fn insert(writer: &Connections, batch: &[Pending]) -> Result<HashSet<String>, StorageError> {
    let sql = format!(
        "INSERT INTO oidc_tokens (token_hash, kind, grant_id, expires_at, created_at, \
         issued_from) VALUES {} ON CONFLICT (issued_from, kind) DO NOTHING RETURNING token_hash",
        super::placeholders(batch.len(), 6)
    );
    let mut query = sqlx::query_as::<_, (String,)>(&sql);
    for t in batch.iter().map(|p| &p.token) {
        query = query
            .bind(&t.token_hash)
            .bind(&t.kind)
            .bind(&t.grant_id)
            .bind(t.expires_at)
            .bind(t.created_at)
            .bind(t.issued_from.as_deref());
    }
    let inserted = query.fetch_all(writer).await.map_err(storage_error)?;
    Ok(inserted.into_iter().map(|(hash,)| hash).collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::any::AnyConnectOptions;

    use super::*;

    /// The two tables the writes touch, as the migrations make them (foreign key included).
    async fn token_tables(dir: &std::path::Path) -> Connections {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.join("tokens.db").display());
        let options: AnyConnectOptions = url.parse().expect("a SQLite URL");
        let writer = Connections::new(
            options,
            "PRAGMA foreign_keys = ON;".into(),
            1,
            Duration::from_secs(5),
        );
        for sql in [
            "CREATE TABLE oidc_grants (id TEXT PRIMARY KEY)",
            "CREATE TABLE oidc_tokens (token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, \
             grant_id TEXT NOT NULL REFERENCES oidc_grants(id), expires_at INTEGER NOT NULL, \
             used_at INTEGER, created_at INTEGER NOT NULL, issued_from TEXT)",
            "CREATE UNIQUE INDEX oidc_tokens_issued_from ON oidc_tokens(issued_from, kind)",
            "INSERT INTO oidc_grants (id) VALUES ('grant')",
        ] {
            sqlx::query(sql).execute(&writer).await.expect("set up");
        }
        writer
    }

    fn token(name: &str, grant: &str, issued_from: &str) -> StoredToken {
        StoredToken {
            token_hash: name.into(),
            kind: "refresh".into(),
            grant_id: grant.into(),
            expires_at: 100,
            used_at: None,
            created_at: 1,
            issued_from: Some(issued_from.into()),
        }
    }

    async fn rows(writer: &Connections) -> Vec<String> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT token_hash FROM oidc_tokens ORDER BY token_hash")
                .fetch_all(writer)
                .await
                .expect("read");
        rows.into_iter().map(|(h,)| h).collect()
    }

    #[tokio::test]
    async fn two_tokens_from_one_code_in_one_batch_write_the_first_and_refuse_the_second() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = token_tables(dir.path()).await;
        let writes = TokenWrites::start(writer.clone(), 1);
        // All three are queued before the writing task runs: one batch.
        let (a, b, c) = tokio::join!(
            writes.insert(token("a", "grant", "code-1")),
            writes.insert(token("b", "grant", "code-1")),
            writes.insert(token("c", "grant", "code-2")),
        );
        assert_eq!(a, Ok(()));
        assert_eq!(b, Err(StorageError::Conflict));
        assert_eq!(c, Ok(()));
        assert_eq!(rows(&writer).await, ["a", "c"]);
    }

    #[tokio::test]
    async fn a_token_issued_again_later_is_refused_and_not_written() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = token_tables(dir.path()).await;
        let writes = TokenWrites::start(writer.clone(), 1);
        assert_eq!(writes.insert(token("a", "grant", "code-1")).await, Ok(()));
        assert_eq!(
            writes.insert(token("b", "grant", "code-1")).await,
            Err(StorageError::Conflict)
        );
        assert_eq!(rows(&writer).await, ["a"]);
    }

    #[tokio::test]
    async fn a_token_that_breaks_a_foreign_key_fails_alone_and_its_batch_is_written() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = token_tables(dir.path()).await;
        let writes = TokenWrites::start(writer.clone(), 1);
        let (a, gone, c) = tokio::join!(
            writes.insert(token("a", "grant", "code-1")),
            writes.insert(token("b", "no-such-grant", "code-2")),
            writes.insert(token("c", "grant", "code-3")),
        );
        assert_eq!(a, Ok(()));
        assert!(
            matches!(gone, Err(StorageError::Other(_))),
            "the foreign key error reaches its own exchange: {gone:?}"
        );
        assert_eq!(c, Ok(()));
        assert_eq!(rows(&writer).await, ["a", "c"]);
    }

    #[tokio::test]
    async fn writes_after_the_store_closed_are_reported_not_lost_silently() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = token_tables(dir.path()).await;
        let writes = TokenWrites::start(writer.clone(), 1);
        writer.close().await;
        let refused = writes.insert(token("a", "grant", "code-1")).await;
        assert!(
            matches!(refused, Err(StorageError::Unavailable(_))),
            "{refused:?}"
        );
    }
}
