use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::oidc::keys::{Alg, KeyRecords, StoredKey};

#[derive(FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    public_jwk: String,
    private_key: Vec<u8>,
    created_at: i64,
    retired_at: Option<i64>,
    publish_until: Option<i64>,
}

impl TryFrom<KeyRow> for StoredKey {
    type Error = StorageError;
    fn try_from(r: KeyRow) -> Result<Self, StorageError> {
        Ok(StoredKey {
            alg: Alg::parse(&r.alg)
                .map_err(|_| StorageError::Other(format!("unknown key algorithm {}", r.alg)))?,
            public_jwk: serde_json::from_str(&r.public_jwk)
                .map_err(|e| StorageError::Other(format!("bad public key of {}: {e}", r.kid)))?,
            kid: r.kid,
            sealed_private_key: r.private_key,
            created_at: r.created_at,
            retired_at: r.retired_at,
            publish_until: r.publish_until,
        })
    }
}

const INSERT: &str = "INSERT INTO oidc_signing_keys \
     (kid, alg, public_jwk, private_key, created_at, active_alg) VALUES ($1, $2, $3, $4, $5, $2)";

impl KeyRecords for Store {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StorageError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, alg, public_jwk, private_key, created_at, retired_at, publish_until \
             FROM oidc_signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter().map(StoredKey::try_from).collect()
    }

    async fn add_first_signing_key(&self, key: &StoredKey) -> Result<bool, StorageError> {
        // The UNIQUE active_alg makes a second node's insert a no-op.
        let done = sqlx::query(&format!("{INSERT} ON CONFLICT DO NOTHING"))
            .bind(&key.kid)
            .bind(key.alg.as_str())
            .bind(key.public_jwk.to_string())
            .bind(&key.sealed_private_key)
            .bind(key.created_at)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_signing_key(
        &self,
        key: &StoredKey,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> Result<Option<String>, StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let old: Option<(String,)> =
            sqlx::query_as("SELECT kid FROM oidc_signing_keys WHERE active_alg = $1")
                .bind(key.alg.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(storage_error)?;
        // A retired key signs no more: its private half is wiped, the public one stays.
        sqlx::query(
            "UPDATE oidc_signing_keys SET active_alg = NULL, retired_at = $1, \
             publish_until = $2, private_key = $3 WHERE active_alg = $4",
        )
        .bind(retired_at)
        .bind(publish_until)
        .bind(Vec::<u8>::new())
        .bind(key.alg.as_str())
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        sqlx::query(INSERT)
            .bind(&key.kid)
            .bind(key.alg.as_str())
            .bind(key.public_jwk.to_string())
            .bind(&key.sealed_private_key)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)?;
        Ok(old.map(|(kid,)| kid))
    }
}
