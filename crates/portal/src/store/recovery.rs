use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::recovery::{RecoveryCodeRecords, StoredRecoveryCode};

#[derive(FromRow)]
struct CodeRow {
    id: String,
    code_hash: String,
}

impl RecoveryCodeRecords for Store {
    async fn replace_recovery_codes(
        &self,
        account_id: &str,
        codes: &[StoredRecoveryCode],
        now: UnixTime,
    ) -> Result<(), StorageError> {
        // One transaction: never a moment with both sets, or with none after a failure.
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        for code in codes {
            sqlx::query(
                "INSERT INTO recovery_codes (id, account_id, code_hash, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&code.id)
            .bind(account_id)
            .bind(&code.code_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    async fn unused_recovery_codes(
        &self,
        account_id: &str,
    ) -> Result<Vec<StoredRecoveryCode>, StorageError> {
        let rows: Vec<CodeRow> = sqlx::query_as(
            "SELECT id, code_hash FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| StoredRecoveryCode {
                id: r.id,
                code_hash: r.code_hash,
            })
            .collect())
    }

    async fn spend_recovery_code(&self, id: &str, now: UnixTime) -> Result<bool, StorageError> {
        let done =
            sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
