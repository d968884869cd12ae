use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;

impl Store {
    /// The server-wide secret called `name`: the one already stored, or `candidate` if this
    /// node is the first to ask. Every node ends up with the same value.
    pub async fn server_secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: UnixTime,
    ) -> Result<Vec<u8>, StorageError> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        let (value,): (Vec<u8>,) =
            sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await
                .map_err(storage_error)?;
        Ok(value)
    }
}
