//! Device authorizations (RFC 8628): each decision and poll is one conditional write.

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::oidc::device_grant::{DeviceAuthorization, DeviceGrantRecords, DeviceStatus};
use domain::oidc::flows::Grant;

/// Expired authorizations are kept this long (the app may still poll and be told
/// `expired_token`), then deleted as new ones are made.
const KEPT_AFTER_EXPIRY: i64 = 24 * 3_600;

const COLUMNS: &str = "device_code_hash, user_code_hash, client_id, scope, requested_from, \
     created_at, expires_at, poll_interval, last_polled_at, status, grant_id";

#[derive(FromRow)]
struct Row {
    device_code_hash: String,
    user_code_hash: String,
    client_id: String,
    scope: String,
    requested_from: String,
    created_at: i64,
    expires_at: i64,
    poll_interval: i64,
    last_polled_at: Option<i64>,
    status: String,
    grant_id: Option<String>,
}

impl TryFrom<Row> for DeviceAuthorization {
    type Error = StorageError;

    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(DeviceAuthorization {
            status: DeviceStatus::parse(&r.status)
                .ok_or_else(|| StorageError::Other(format!("device status {:?}", r.status)))?,
            device_code_hash: r.device_code_hash,
            user_code_hash: r.user_code_hash,
            client_id: r.client_id,
            scope: r.scope,
            requested_from: r.requested_from,
            created_at: r.created_at,
            expires_at: r.expires_at,
            interval: r.poll_interval,
            last_polled_at: r.last_polled_at,
            grant_id: r.grant_id,
        })
    }
}

impl Store {
    async fn device_authorization_where(
        &self,
        column: &str,
        hash: &str,
    ) -> Result<Option<DeviceAuthorization>, StorageError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM device_authorizations WHERE {column} = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        row.map(DeviceAuthorization::try_from).transpose()
    }
}

impl DeviceGrantRecords for Store {
    async fn insert_device_authorization(
        &self,
        a: &DeviceAuthorization,
    ) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM device_authorizations WHERE expires_at < $1")
            .bind(a.created_at - KEPT_AFTER_EXPIRY)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        sqlx::query(&format!(
            "INSERT INTO device_authorizations ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&a.device_code_hash)
        .bind(&a.user_code_hash)
        .bind(&a.client_id)
        .bind(&a.scope)
        .bind(&a.requested_from)
        .bind(a.created_at)
        .bind(a.expires_at)
        .bind(a.interval)
        .bind(a.last_polled_at)
        .bind(a.status.as_str())
        .bind(a.grant_id.as_deref())
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> Result<Option<DeviceAuthorization>, StorageError> {
        self.device_authorization_where("user_code_hash", user_code_hash)
            .await
    }

    async fn device_authorization(
        &self,
        device_code_hash: &str,
    ) -> Result<Option<DeviceAuthorization>, StorageError> {
        self.device_authorization_where("device_code_hash", device_code_hash)
            .await
    }

    async fn allow_device_authorization(
        &self,
        user_code_hash: &str,
        g: &Grant,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        // The grant first: the authorization's grant_id refers to it.
        super::oidc_grants::insert_grant(&mut tx, g).await?;
        let moved = sqlx::query(
            "UPDATE device_authorizations SET status = 'allowed', grant_id = $1 \
             WHERE user_code_hash = $2 AND status = 'pending' AND expires_at > $3",
        )
        .bind(&g.id)
        .bind(user_code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?
        .rows_affected();
        if moved == 1 {
            tx.commit().await.map_err(storage_error)?;
            Ok(true)
        } else {
            // Decided by another request meanwhile: the grant goes too.
            tx.rollback().await.map_err(storage_error)?;
            Ok(false)
        }
    }

    async fn deny_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let moved = sqlx::query(
            "UPDATE device_authorizations SET status = 'denied' \
             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(user_code_hash)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?
        .rows_affected();
        Ok(moved == 1)
    }

    async fn record_device_poll(
        &self,
        device_code_hash: &str,
        now: UnixTime,
        slow_down: i64,
    ) -> Result<bool, StorageError> {
        let in_time = sqlx::query(
            "UPDATE device_authorizations SET last_polled_at = $1 \
             WHERE device_code_hash = $2 \
             AND (last_polled_at IS NULL OR last_polled_at <= $1 - poll_interval)",
        )
        .bind(now)
        .bind(device_code_hash)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?
        .rows_affected();
        if in_time == 1 {
            return Ok(true);
        }
        sqlx::query(
            "UPDATE device_authorizations SET poll_interval = poll_interval + $1, \
             last_polled_at = $2 WHERE device_code_hash = $3",
        )
        .bind(slow_down)
        .bind(now)
        .bind(device_code_hash)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(false)
    }
}
