//! Grouped reads for the token endpoint: the code or refresh token each request presents,
//! looked up with its grant and account.
//!
//! Each lookup on its own is one query: on SQLite a hand-off to a reader connection's worker
//! thread and back, on PostgreSQL a round trip and an executor start, and a busy token endpoint
//! makes thousands a second. One task takes every lookup waiting at the moment and answers them
//! all with one `… WHERE key IN (…)` query: the read-side twin of `token_writes`
//! (BENCHMARKS.md, "OpenID Connect token endpoint"). A lone lookup waits for nothing: the task
//! reads it as soon as it is free.

use std::collections::HashMap;
use std::future::Future;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use domain::StorageError;

/// At most this many keys in one query (far below either database's limit on parameters).
const MOST_KEYS_A_BATCH: usize = 64;

/// Where the store sends keys to be looked up; `V` is what one key finds.
pub(crate) struct KeyedReads<V> {
    sender: mpsc::UnboundedSender<Wanted<V>>,
}

impl<V> Clone for KeyedReads<V> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<V> std::fmt::Debug for KeyedReads<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedReads").finish_non_exhaustive()
    }
}

struct Wanted<V> {
    key: String,
    found: oneshot::Sender<Result<Option<V>, StorageError>>,
}

impl<V: Clone + Send + 'static> KeyedReads<V> {
    /// Starts the task that answers lookups with `read`, at most `at_once` reads at a time;
    /// `read` is given distinct keys and returns what it found, each with its key. The task
    /// ends when every handle has gone.
    pub(crate) fn start<R, F>(read: R, at_once: usize) -> Self
    where
        R: Fn(Vec<String>) -> F + Send + 'static,
        F: Future<Output = Result<Vec<(String, V)>, StorageError>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(read_batches(read, receiver, at_once));
        Self { sender }
    }

    /// What `key` finds, if anything.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<V>, StorageError> {
        let (found, answer) = oneshot::channel();
        self.sender
            .send(Wanted {
                key: key.to_owned(),
                found,
            })
            .map_err(|_| StorageError::Unavailable("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StorageError::Unavailable("the token reader stopped".into()))?
    }
}

async fn read_batches<V, R, F>(
    read: R,
    mut receiver: mpsc::UnboundedReceiver<Wanted<V>>,
    at_once: usize,
) where
    V: Clone + Send + 'static,
    R: Fn(Vec<String>) -> F,
    F: Future<Output = Result<Vec<(String, V)>, StorageError>> + Send + 'static,
{
    let room = Arc::new(Semaphore::new(at_once.max(1)));
    while let Some((permit, batch)) =
        super::next_batch(&room, &mut receiver, MOST_KEYS_A_BATCH).await
    {
        let mut keys: Vec<String> = batch.iter().map(|w| w.key.clone()).collect();
        keys.sort_unstable();
        keys.dedup();
        let reading = read(keys);
        tokio::spawn(async move {
            answer(batch, reading.await);
            drop(permit);
        });
    }
}

fn answer<V: Clone>(batch: Vec<Wanted<V>>, read: Result<Vec<(String, V)>, StorageError>) {
    match read {
        Ok(rows) => {
            let found: HashMap<String, V> = rows.into_iter().collect();
            for wanted in batch {
                let _ = wanted.found.send(Ok(found.get(&wanted.key).cloned()));
            }
        }
        Err(e) => {
            for wanted in batch {
                let _ = wanted.found.send(Err(e.clone()));
            }
        }
    }
}

/// "($1, $2, …)" for `keys` keys, rounded up to a power of two so that a connection prepares a
/// handful of statements rather than one for every batch size; `padded` repeats the first key
/// to fill the list (a key listed twice finds the same row once).
pub(crate) fn padded(mut keys: Vec<String>) -> (String, Vec<String>) {
    let size = keys.len().max(1).next_power_of_two();
    let first = keys.first().cloned().unwrap_or_default();
    keys.resize(size, first);
    (super::placeholders(1, size), keys)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The keys of each read, in order.
    type Batches = Arc<Mutex<Vec<Vec<String>>>>;

    /// A reader over a fixed map that records the keys of each batch it was given.
    fn recording(rows: &[(&str, u32)]) -> (KeyedReads<u32>, Batches) {
        let rows: HashMap<String, u32> = rows.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        let batches = Arc::new(Mutex::new(vec![]));
        let seen = Arc::clone(&batches);
        let reads = KeyedReads::start(
            move |keys: Vec<String>| {
                seen.lock().expect("not poisoned").push(keys.clone());
                let found = keys
                    .into_iter()
                    .filter_map(|k| rows.get(&k).map(|v| (k, *v)))
                    .collect();
                async move { Ok(found) }
            },
            1,
        );
        (reads, batches)
    }

    #[tokio::test]
    async fn lookups_waiting_at_the_same_moment_are_answered_by_one_read() {
        let (reads, batches) = recording(&[("a", 1), ("b", 2)]);
        let (a, b, missing, a_again) = tokio::join!(
            reads.get("a"),
            reads.get("b"),
            reads.get("c"),
            reads.get("a"),
        );
        assert_eq!(
            (a, b, missing, a_again),
            (Ok(Some(1)), Ok(Some(2)), Ok(None), Ok(Some(1)))
        );
        assert_eq!(
            *batches.lock().expect("not poisoned"),
            [["a", "b", "c"]],
            "one read, each key once"
        );
    }

    #[tokio::test]
    async fn a_failed_read_reaches_every_lookup_of_its_batch() {
        let reads: KeyedReads<u32> = KeyedReads::start(
            |_keys: Vec<String>| async { Err(StorageError::Unavailable("down".into())) },
            1,
        );
        let (a, b) = tokio::join!(reads.get("a"), reads.get("b"));
        assert_eq!(a, Err(StorageError::Unavailable("down".into())));
        assert_eq!(b, Err(StorageError::Unavailable("down".into())));
    }

    #[test]
    fn a_key_list_is_padded_to_a_power_of_two_with_its_first_key() {
        let (list, keys) = padded(vec!["x".into(), "y".into(), "z".into()]);
        assert_eq!(list, "($1, $2, $3, $4)");
        assert_eq!(keys, ["x", "y", "z", "x"]);
        assert_eq!(padded(vec!["x".into()]).0, "($1)");
    }
}
