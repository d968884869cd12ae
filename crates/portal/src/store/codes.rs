use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::mfa::phone::{CodeRecords, VerificationCode};

#[derive(FromRow)]
struct CodeRow {
    id: String,
    account_id: String,
    session_hash: String,
    purpose: String,
    phone: String,
    code_hash: String,
    attempts: i64,
    expires_at: i64,
    used_at: Option<i64>,
    created_at: i64,
}

impl From<CodeRow> for VerificationCode {
    fn from(r: CodeRow) -> Self {
        VerificationCode {
            id: r.id,
            account_id: r.account_id,
            session_hash: r.session_hash,
            purpose: r.purpose,
            phone: r.phone,
            code_hash: r.code_hash,
            attempts: r.attempts,
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        }
    }
}

impl CodeRecords for Store {
    async fn insert_code(&self, c: &VerificationCode) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO verification_codes (id, account_id, session_hash, purpose, phone, \
             code_hash, attempts, expires_at, used_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.id)
        .bind(&c.account_id)
        .bind(&c.session_hash)
        .bind(&c.purpose)
        .bind(&c.phone)
        .bind(&c.code_hash)
        .bind(c.attempts)
        .bind(c.expires_at)
        .bind(c.used_at)
        .bind(c.created_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn latest_code(
        &self,
        session_hash: &str,
        purpose: &str,
    ) -> Result<Option<VerificationCode>, StorageError> {
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT id, account_id, session_hash, purpose, phone, code_hash, attempts, expires_at, \
             used_at, created_at FROM verification_codes WHERE session_hash = $1 AND purpose = $2 \
             ORDER BY created_at DESC, id LIMIT 1",
        )
        .bind(session_hash)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(VerificationCode::from))
    }

    async fn count_code_attempt(&self, id: &str, limit: i64) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE verification_codes SET attempts = attempts + 1 \
             WHERE id = $1 AND attempts < $2 AND used_at IS NULL",
        )
        .bind(id)
        .bind(limit)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_code(&self, id: &str, now: UnixTime) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE verification_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_codes(&self, session_hash: &str, purpose: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM verification_codes WHERE session_hash = $1 AND purpose = $2")
            .bind(session_hash)
            .bind(purpose)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn reserve_sends(
        &self,
        keys: &[&str],
        since: UnixTime,
        limit: i64,
        now: UnixTime,
    ) -> Result<Option<String>, StorageError> {
        let lock_keys: Vec<String> = keys.iter().map(|k| format!("sends:{k}")).collect();
        let lock_keys: Vec<&str> = lock_keys.iter().map(String::as_str).collect();
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        // The keys' rows serialise every reservation for the same person or number; the count
        // below then sees every send committed before it.
        super::limits::lock_limits(&mut tx, &lock_keys).await?;
        for key in keys {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM message_sends WHERE send_key = $1 AND at > $2",
            )
            .bind(*key)
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(storage_error)?;
            if n >= limit {
                tx.rollback().await.map_err(storage_error)?;
                return Ok(None);
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        for key in keys {
            sqlx::query("INSERT INTO message_sends (send_key, at, id) VALUES ($1, $2, $3)")
                .bind(*key)
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        Ok(Some(id))
    }

    async fn release_sends(&self, id: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM message_sends WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
