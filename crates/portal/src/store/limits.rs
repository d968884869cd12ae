//! Limit counters (sign-in, second factor, resets, feedback): one row a key, counted and
//! checked in single statements or one short transaction, so that every node agrees.

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::limits::{LimitState, SignInLimitRecords};

#[derive(FromRow)]
struct LimitRow {
    failures: i64,
    window_start: i64,
    blocked_until: i64,
}

#[derive(FromRow)]
struct KeyedLimitRow {
    limit_key: String,
    failures: i64,
    window_start: i64,
    blocked_until: i64,
}

impl From<LimitRow> for LimitState {
    fn from(r: LimitRow) -> Self {
        LimitState {
            failures: r.failures,
            window_start: r.window_start,
            blocked_until: r.blocked_until,
        }
    }
}

/// The indexes of `keys` in the order their rows are locked.
fn key_order(keys: &[&str]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    order
}

/// Locks the limit rows of `keys` for the rest of `tx`, creating absent ones empty, and returns
/// their states in the order of `keys`.
///
/// Each row is created and locked by one statement: on PostgreSQL an upsert's DO UPDATE takes
/// the row lock until commit, so a second transaction for the key waits there and then reads
/// what the first wrote; on SQLite the first write of a transaction takes the database's write
/// lock (and this store has one writer). Rows are locked in the order of their keys, so two
/// transactions over the same keys cannot deadlock.
pub(super) async fn lock_limits(
    tx: &mut super::connections::WriteTransaction,
    keys: &[&str],
) -> Result<Vec<LimitState>, StorageError> {
    let mut states = vec![
        LimitState {
            failures: 0,
            window_start: 0,
            blocked_until: 0
        };
        keys.len()
    ];
    for i in key_order(keys) {
        let row: LimitRow = sqlx::query_as(
            "INSERT INTO sign_in_limits (limit_key, failures, window_start, blocked_until) \
             VALUES ($1, 0, 0, 0) \
             ON CONFLICT (limit_key) DO UPDATE SET failures = sign_in_limits.failures \
             RETURNING failures, window_start, blocked_until",
        )
        .bind(keys[i])
        .fetch_one(&mut **tx)
        .await
        .map_err(storage_error)?;
        states[i] = row.into();
    }
    Ok(states)
}

pub(super) const CLEAR_LIMIT: &str = "DELETE FROM sign_in_limits WHERE limit_key = $1";
/// substr and length rather than LIKE: an address may hold LIKE's wildcards.
pub(super) const CLEAR_LIMITS_LIKE: &str = "DELETE FROM sign_in_limits \
     WHERE limit_key = $1 OR substr(limit_key, 1, length($2)) = $2";

impl SignInLimitRecords for Store {
    async fn limit_state(&self, key: &str) -> Result<Option<LimitState>, StorageError> {
        let row: Option<LimitRow> = sqlx::query_as(
            "SELECT failures, window_start, blocked_until FROM sign_in_limits WHERE limit_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(LimitState::from))
    }

    async fn limit_states(
        &self,
        email_key: &str,
        ip_key: &str,
    ) -> Result<(Option<LimitState>, Option<LimitState>), StorageError> {
        let rows: Vec<KeyedLimitRow> = sqlx::query_as(
            "SELECT limit_key, failures, window_start, blocked_until FROM sign_in_limits \
             WHERE limit_key IN ($1, $2)",
        )
        .bind(email_key)
        .bind(ip_key)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        let find = |key: &str| {
            rows.iter()
                .find(|r| r.limit_key == key)
                .map(|r| LimitState {
                    failures: r.failures,
                    window_start: r.window_start,
                    blocked_until: r.blocked_until,
                })
        };
        Ok((find(email_key), find(ip_key)))
    }

    async fn count_failure(
        &self,
        key: &str,
        now: UnixTime,
        window_floor: UnixTime,
    ) -> Result<LimitState, StorageError> {
        // One statement, so that nodes counting at the same moment never lose a failure.
        let row: LimitRow = sqlx::query_as(
            "INSERT INTO sign_in_limits (limit_key, failures, window_start, blocked_until) \
             VALUES ($1, 1, $2, 0) \
             ON CONFLICT (limit_key) DO UPDATE SET \
               failures = CASE WHEN sign_in_limits.window_start < $3 THEN 1 \
                               ELSE sign_in_limits.failures + 1 END, \
               window_start = CASE WHEN sign_in_limits.window_start < $3 THEN $2 \
                                   ELSE sign_in_limits.window_start END \
             RETURNING failures, window_start, blocked_until",
        )
        .bind(key)
        .bind(now)
        .bind(window_floor)
        .fetch_one(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(row.into())
    }

    async fn uncount_failure(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE sign_in_limits SET failures = failures - 1 \
             WHERE limit_key = $1 AND failures > 0",
        )
        .bind(key)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn reserve<T, F>(&self, keys: &[&str], decide: F) -> Result<T, StorageError>
    where
        T: Send,
        F: FnOnce(&mut [LimitState]) -> T + Send,
    {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let mut states = lock_limits(&mut tx, keys).await?;
        let before = states.clone();
        let verdict = decide(&mut states);
        for i in key_order(keys) {
            if states[i] == before[i] {
                continue;
            }
            sqlx::query(
                "UPDATE sign_in_limits SET failures = $1, window_start = $2, blocked_until = $3 \
                 WHERE limit_key = $4",
            )
            .bind(states[i].failures)
            .bind(states[i].window_start)
            .bind(states[i].blocked_until)
            .bind(keys[i])
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        Ok(verdict)
    }

    async fn block_until(&self, key: &str, until: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE sign_in_limits SET blocked_until = $1 WHERE limit_key = $2")
            .bind(until)
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn clear_limit(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query(CLEAR_LIMIT)
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
