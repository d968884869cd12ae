//! Push devices and their pairings: the push methods found by device id, the pending requests
//! of a device, the history that MFA fatigue reads, and the single-use activation codes.

use sqlx::FromRow;

use super::approvals::{ApprovalRow, COLUMNS};
use super::methods::{METHOD_COLUMNS, MethodRow};
use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::mfa::Method;
use domain::mfa::approvals::Approval;
use domain::mfa::pairing::{Pairing, PairingRecords};
use domain::mfa::push::PushRecords;

#[derive(FromRow)]
struct PairingRow {
    id: String,
    account_id: String,
    session_hash: String,
    code_hash: String,
    status: String,
    device_id: Option<String>,
    device_name: Option<String>,
    credential: Option<String>,
    secret: Option<Vec<u8>>,
    approval_id: Option<String>,
    method_id: Option<String>,
    expires_at: i64,
    created_at: i64,
}

impl From<PairingRow> for Pairing {
    fn from(r: PairingRow) -> Self {
        Pairing {
            id: r.id,
            account_id: r.account_id,
            session_hash: r.session_hash,
            code_hash: r.code_hash,
            status: r.status,
            device_id: r.device_id,
            device_name: r.device_name,
            credential: r.credential,
            secret: r.secret,
            approval_id: r.approval_id,
            method_id: r.method_id,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

const PAIRING_COLUMNS: &str = "id, account_id, session_hash, code_hash, status, device_id, \
     device_name, credential, secret, approval_id, method_id, expires_at, created_at";

impl Store {
    async fn pairing_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<Pairing>, StorageError> {
        let sql = format!(
            "SELECT {PAIRING_COLUMNS} FROM push_pairings WHERE {column} = $1 \
             ORDER BY created_at DESC LIMIT 1"
        );
        let row: Option<PairingRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(row.map(Pairing::from))
    }

    async fn approvals_where(
        &self,
        clause: &str,
        key: &str,
        at: UnixTime,
    ) -> Result<Vec<Approval>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE {clause} ORDER BY created_at");
        let rows: Vec<ApprovalRow> = sqlx::query_as(&sql)
            .bind(key)
            .bind(at)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(Approval::from).collect())
    }
}

impl PushRecords for Store {
    async fn push_method(&self, device_id: &str) -> Result<Option<Method>, StorageError> {
        let row: Option<MethodRow> = sqlx::query_as(&format!(
            "SELECT {METHOD_COLUMNS} FROM mfa_methods \
                 WHERE credential_id = $1 AND kind = 'push'"
        ))
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        row.map(Method::try_from).transpose()
    }

    async fn push_requests(
        &self,
        device_id: &str,
        now: UnixTime,
    ) -> Result<Vec<Approval>, StorageError> {
        self.approvals_where(
            "device_id = $1 AND status = 'pending' AND expires_at > $2 AND channel = 'push'",
            device_id,
            now,
        )
        .await
    }

    async fn push_history(
        &self,
        account_id: &str,
        since: UnixTime,
    ) -> Result<Vec<Approval>, StorageError> {
        self.approvals_where(
            "account_id = $1 AND created_at >= $2 AND channel = 'push'",
            account_id,
            since,
        )
        .await
    }

    async fn pending_pushes(&self, now: UnixTime) -> Result<Vec<(String, String)>, StorageError> {
        sqlx::query_as(
            "SELECT id, device_id FROM approvals \
             WHERE channel = 'push' AND status = 'pending' AND expires_at > $1 \
             AND device_id IS NOT NULL ORDER BY id DESC LIMIT 5000",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)
    }
}

impl PairingRecords for Store {
    async fn start_pairing(&self, p: &Pairing) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        sqlx::query("DELETE FROM push_pairings WHERE session_hash = $1 AND status <> 'done'")
            .bind(&p.session_hash)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        sqlx::query(
            "INSERT INTO push_pairings (id, account_id, session_hash, code_hash, status, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.account_id)
        .bind(&p.session_hash)
        .bind(&p.code_hash)
        .bind(&p.status)
        .bind(p.expires_at)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)
    }

    async fn claim_pairing(
        &self,
        code_hash: &str,
        claimed: &Pairing,
        now: UnixTime,
    ) -> Result<Option<Pairing>, StorageError> {
        let done = sqlx::query(
            "UPDATE push_pairings SET status = 'claimed', device_id = $1, device_name = $2, \
             credential = $3, secret = $4 \
             WHERE code_hash = $5 AND status = 'waiting' AND expires_at > $6",
        )
        .bind(&claimed.device_id)
        .bind(&claimed.device_name)
        .bind(&claimed.credential)
        .bind(&claimed.secret)
        .bind(code_hash)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        self.pairing_where("code_hash", code_hash).await
    }

    async fn set_pairing_approval(
        &self,
        pairing_id: &str,
        approval_id: &str,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE push_pairings SET approval_id = $1 WHERE id = $2")
            .bind(approval_id)
            .bind(pairing_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn pairing_of_session(
        &self,
        session_hash: &str,
    ) -> Result<Option<Pairing>, StorageError> {
        self.pairing_where("session_hash", session_hash).await
    }

    async fn pairing_by_device(&self, device_id: &str) -> Result<Option<Pairing>, StorageError> {
        self.pairing_where("device_id", device_id).await
    }

    async fn finish_pairing(
        &self,
        pairing_id: &str,
        method_id: &str,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE push_pairings SET status = 'done', method_id = $1, secret = NULL \
             WHERE id = $2 AND status = 'claimed'",
        )
        .bind(method_id)
        .bind(pairing_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
