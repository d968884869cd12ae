//! Rollout exceptions (see `domain::exceptions`): granted, renewed and ended each in one
//! transaction with its audit event, and the lists the national administrator reads.

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::audit::AuditEvent;
use domain::clock::UnixTime;
use domain::exceptions::{Exception, ExceptionRecords, ListedException, Reason};

const COLUMNS: &str = "x.id, x.account_id, x.reason, x.note, x.granted_by, x.starts_at, \
     x.ends_at, x.ended_at";

/// Ends the account's live exceptions ($1 now, $2 account).
const END_LIVE: &str = "UPDATE mfa_exceptions SET ended_at = $1 \
     WHERE account_id = $2 AND ended_at IS NULL AND ends_at > $1";

#[derive(FromRow)]
struct ExceptionRow {
    id: String,
    account_id: String,
    reason: String,
    note: String,
    granted_by: Option<String>,
    starts_at: i64,
    ends_at: i64,
    ended_at: Option<i64>,
}

impl TryFrom<ExceptionRow> for Exception {
    type Error = StorageError;
    fn try_from(r: ExceptionRow) -> Result<Self, StorageError> {
        Ok(Exception {
            reason: Reason::parse(&r.reason)
                .ok_or_else(|| StorageError::Other(format!("exception {}: bad reason", r.id)))?,
            id: r.id,
            account_id: r.account_id,
            note: r.note,
            granted_by: r.granted_by,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            ended_at: r.ended_at,
        })
    }
}

#[derive(FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    exception: ExceptionRow,
    email: String,
    org_code: String,
    grants: i64,
}

impl TryFrom<ListedRow> for ListedException {
    type Error = StorageError;
    fn try_from(r: ListedRow) -> Result<Self, StorageError> {
        Ok(ListedException {
            exception: r.exception.try_into()?,
            email: r.email,
            org_code: r.org_code,
            grants: r.grants,
        })
    }
}

impl ExceptionRecords for Store {
    async fn grant_exception(
        &self,
        new: &Exception,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        sqlx::query(END_LIVE)
            .bind(new.starts_at)
            .bind(&new.account_id)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        sqlx::query(
            "INSERT INTO mfa_exceptions (id, account_id, reason, note, granted_by, starts_at, \
             ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(&new.account_id)
        .bind(new.reason.as_str())
        .bind(&new.note)
        .bind(&new.granted_by)
        .bind(new.starts_at)
        .bind(new.ends_at)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        super::audit::bind_event(sqlx::query(super::audit::INSERT_EVENT), audit)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit([audit]);
        Ok(())
    }

    async fn end_exceptions(
        &self,
        account_id: &str,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> Result<u64, StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let ended = sqlx::query(END_LIVE)
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?
            .rows_affected();
        if ended > 0 {
            super::audit::bind_event(sqlx::query(super::audit::INSERT_EVENT), audit)
                .execute(&mut *tx)
                .await
                .map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        if ended > 0 {
            self.forward_audit([audit]);
        }
        Ok(ended)
    }

    async fn held_at_high_risk(&self, account_id: &str) -> Result<bool, StorageError> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT account_id FROM risky_accounts WHERE account_id = $1 AND level = 'high' \
             AND state <> 'dismissed'",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(found.is_some())
    }

    async fn exceptions_of(&self, account_id: &str) -> Result<Vec<Exception>, StorageError> {
        let rows: Vec<ExceptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM mfa_exceptions x WHERE x.account_id = $1 \
             ORDER BY x.starts_at DESC, x.id DESC LIMIT 100"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter().map(Exception::try_from).collect()
    }

    async fn exceptions_ending(
        &self,
        now: UnixTime,
        before: UnixTime,
        limit: i64,
    ) -> Result<Vec<ListedException>, StorageError> {
        let rows: Vec<ListedRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, a.email, a.org_code, \
             (SELECT COUNT(*) FROM mfa_exceptions g WHERE g.account_id = x.account_id) AS grants \
             FROM mfa_exceptions x JOIN accounts a ON a.id = x.account_id \
             WHERE x.ended_at IS NULL AND x.ends_at > $1 AND x.ends_at <= $2 \
             ORDER BY x.ends_at, x.id LIMIT $3"
        ))
        .bind(now)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter().map(ListedException::try_from).collect()
    }

    async fn exceptions_renewed(
        &self,
        grants: i64,
        limit: i64,
    ) -> Result<Vec<ListedException>, StorageError> {
        let rows: Vec<ListedRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, a.email, a.org_code, c.grants \
             FROM (SELECT account_id, COUNT(*) AS grants \
                   FROM mfa_exceptions GROUP BY account_id HAVING COUNT(*) > $1) c \
             JOIN mfa_exceptions x ON x.id = (SELECT y.id FROM mfa_exceptions y \
                 WHERE y.account_id = c.account_id ORDER BY y.starts_at DESC, y.id DESC LIMIT 1) \
             JOIN accounts a ON a.id = x.account_id \
             ORDER BY c.grants DESC, a.email LIMIT $2"
        ))
        .bind(grants)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter().map(ListedException::try_from).collect()
    }

    async fn exceptions_by_organisation(
        &self,
        now: UnixTime,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        sqlx::query_as(
            "SELECT a.org_code, COUNT(*) FROM mfa_exceptions x \
             JOIN accounts a ON a.id = x.account_id \
             WHERE x.ended_at IS NULL AND x.starts_at <= $1 AND x.ends_at > $1 \
             GROUP BY a.org_code ORDER BY a.org_code",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)
    }
}
