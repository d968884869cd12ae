use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::methods::PasskeyFacts;
use domain::mfa::{Method, MethodKind, MethodRecords};

/// The columns a `MethodRow` reads, in its order.
pub(super) const METHOD_COLUMNS: &str = "id, account_id, kind, name, phone, secret, credential, \
     credential_id, last_totp_step, passkey, aaguid, is_default, created_at, last_used_at";

#[derive(FromRow)]
pub(super) struct MethodRow {
    id: String,
    account_id: String,
    kind: String,
    name: String,
    phone: Option<String>,
    secret: Option<Vec<u8>>,
    credential: Option<String>,
    credential_id: Option<String>,
    last_totp_step: Option<i64>,
    passkey: i64,
    aaguid: Option<String>,
    is_default: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<MethodRow> for Method {
    type Error = StorageError;
    fn try_from(r: MethodRow) -> Result<Self, StorageError> {
        Ok(Method {
            kind: MethodKind::parse(&r.kind)
                .ok_or_else(|| StorageError::Other(format!("method {}: bad kind", r.id)))?,
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            phone: r.phone,
            secret: r.secret,
            credential: r.credential,
            credential_id: r.credential_id,
            last_totp_step: r.last_totp_step,
            passkey: (r.passkey != 0).then_some(PasskeyFacts { aaguid: r.aaguid }),
            is_default: r.is_default != 0,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

impl MethodRecords for Store {
    async fn methods_of(&self, account_id: &str) -> Result<Vec<Method>, StorageError> {
        let rows: Vec<MethodRow> = sqlx::query_as(&format!(
            "SELECT {METHOD_COLUMNS} FROM mfa_methods WHERE account_id = $1"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter().map(Method::try_from).collect()
    }

    async fn insert_method(&self, m: &Method) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO mfa_methods (id, account_id, kind, name, phone, secret, credential, \
             credential_id, last_totp_step, passkey, aaguid, is_default, created_at, \
             last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&m.id)
        .bind(&m.account_id)
        .bind(m.kind.as_str())
        .bind(&m.name)
        .bind(&m.phone)
        .bind(&m.secret)
        .bind(&m.credential)
        .bind(&m.credential_id)
        .bind(m.last_totp_step)
        .bind(i64::from(m.passkey.is_some()))
        .bind(m.passkey.as_ref().and_then(|p| p.aaguid.as_deref()))
        .bind(i64::from(m.is_default))
        .bind(m.created_at)
        .bind(m.last_used_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn advance_totp_step(
        &self,
        method_id: &str,
        step: i64,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        // One conditional update, so two nodes given the same code cannot both accept it.
        let done = sqlx::query(
            "UPDATE mfa_methods SET last_totp_step = $1, last_used_at = $2 \
             WHERE id = $3 AND (last_totp_step IS NULL OR last_totp_step < $1)",
        )
        .bind(step)
        .bind(now)
        .bind(method_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_method_used(&self, method_id: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE mfa_methods SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(method_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn rename_method(&self, method_id: &str, name: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE mfa_methods SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(method_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn set_method_phone(
        &self,
        method_id: &str,
        phone: &str,
        name: &str,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE mfa_methods SET phone = $1, name = $2 WHERE id = $3")
            .bind(phone)
            .bind(name)
            .bind(method_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn make_default_method(
        &self,
        account_id: &str,
        method_id: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE mfa_methods SET is_default = CASE WHEN id = $1 THEN 1 ELSE 0 END \
             WHERE account_id = $2",
        )
        .bind(method_id)
        .bind(account_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn update_credential(
        &self,
        method_id: &str,
        credential: &str,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE mfa_methods SET credential = $1 WHERE id = $2")
            .bind(credential)
            .bind(method_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn delete_method(&self, method_id: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM mfa_methods WHERE id = $1")
            .bind(method_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
