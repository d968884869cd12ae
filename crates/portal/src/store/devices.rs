use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::devices::{DeviceRecords, RememberedDevice};

#[derive(FromRow)]
struct DeviceRow {
    id: String,
    account_id: String,
    token_hash: String,
    user_agent: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
}

impl From<DeviceRow> for RememberedDevice {
    fn from(r: DeviceRow) -> Self {
        RememberedDevice {
            id: r.id,
            account_id: r.account_id,
            token_hash: r.token_hash,
            user_agent: r.user_agent,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        }
    }
}

const COLUMNS: &str =
    "id, account_id, token_hash, user_agent, created_at, expires_at, last_used_at";

/// One device of the account ($2), or all of them ($2 empty).
pub(super) const FORGET_DEVICES: &str =
    "DELETE FROM remembered_devices WHERE account_id = $1 AND ($2 = '' OR id = $2)";

impl DeviceRecords for Store {
    async fn insert_device(&self, d: &RememberedDevice) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO remembered_devices (id, account_id, token_hash, user_agent, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&d.id)
        .bind(&d.account_id)
        .bind(&d.token_hash)
        .bind(&d.user_agent)
        .bind(d.created_at)
        .bind(d.expires_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn device(&self, id: &str) -> Result<Option<RememberedDevice>, StorageError> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM remembered_devices WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(Into::into))
    }

    async fn devices_of(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> Result<Vec<RememberedDevice>, StorageError> {
        let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM remembered_devices WHERE account_id = $1 AND expires_at > $2 \
             ORDER BY created_at DESC"
        ))
        .bind(account_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn touch_device(&self, id: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE remembered_devices SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn forget_devices(
        &self,
        account_id: &str,
        id: Option<&str>,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(FORGET_DEVICES)
            .bind(account_id)
            .bind(id.unwrap_or(""))
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected())
    }
}
