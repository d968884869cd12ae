use sqlx::FromRow;

use super::{Store, storage_error};
use crate::clock::UnixTime;
use crate::domain::StorageError;
use crate::domain::signin::{LimitState, SignInLimitRecords};

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
        sqlx::query("DELETE FROM sign_in_limits WHERE limit_key = $1")
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
