use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::mfa::approvals::{Approval, ApprovalRecords};

#[derive(FromRow)]
pub(super) struct ApprovalRow {
    id: String,
    account_id: String,
    session_hash: String,
    purpose: String,
    channel: String,
    phone: Option<String>,
    keypad_hash: String,
    status: String,
    expires_at: i64,
    created_at: i64,
    decided_at: Option<i64>,
    device_id: Option<String>,
    number: Option<String>,
    nonce: Option<String>,
    context: Option<String>,
    silent: i64,
}

impl From<ApprovalRow> for Approval {
    fn from(r: ApprovalRow) -> Self {
        Approval {
            id: r.id,
            account_id: r.account_id,
            session_hash: r.session_hash,
            purpose: r.purpose,
            channel: r.channel,
            phone: r.phone,
            keypad_hash: r.keypad_hash,
            status: r.status,
            expires_at: r.expires_at,
            created_at: r.created_at,
            decided_at: r.decided_at,
            device_id: r.device_id,
            number: r.number,
            nonce: r.nonce,
            context: r.context,
            silent: r.silent != 0,
        }
    }
}

pub(super) const COLUMNS: &str = "id, account_id, session_hash, purpose, channel, phone, \
     keypad_hash, status, expires_at, created_at, decided_at, device_id, number, nonce, context, \
     silent";

impl Store {
    async fn approval_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<Approval>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE {column} = $1");
        let row: Option<ApprovalRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(row.map(Approval::from))
    }
}

impl ApprovalRecords for Store {
    async fn insert_approval(&self, a: &Approval) -> Result<(), StorageError> {
        let sql = format!(
            "INSERT INTO approvals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        sqlx::query(&sql)
            .bind(&a.id)
            .bind(&a.account_id)
            .bind(&a.session_hash)
            .bind(&a.purpose)
            .bind(&a.channel)
            .bind(&a.phone)
            .bind(&a.keypad_hash)
            .bind(&a.status)
            .bind(a.expires_at)
            .bind(a.created_at)
            .bind(a.decided_at)
            .bind(&a.device_id)
            .bind(&a.number)
            .bind(&a.nonce)
            .bind(&a.context)
            .bind(i64::from(a.silent))
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StorageError> {
        self.approval_where("id", id).await
    }

    async fn approval_by_keypad(
        &self,
        keypad_hash: &str,
    ) -> Result<Option<Approval>, StorageError> {
        self.approval_where("keypad_hash", keypad_hash).await
    }

    async fn decide_approval(
        &self,
        id: &str,
        status: &str,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE approvals SET status = $1, decided_at = $2 \
             WHERE id = $3 AND status = 'pending' AND expires_at > $2",
        )
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_approval(&self, id: &str) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM approvals WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
