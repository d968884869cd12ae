use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::organisations::{Organisation, OrganisationRecords};

#[derive(FromRow)]
struct OrganisationRow {
    code: String,
    name: String,
    created_at: i64,
    admin_contact: Option<String>,
}

impl OrganisationRecords for Store {
    async fn insert_organisation(&self, org: &Organisation) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO organisations (code, name, created_at) VALUES ($1, $2, $3)")
            .bind(&org.code)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn organisation(&self, code: &str) -> Result<Option<Organisation>, StorageError> {
        let row: Option<OrganisationRow> = sqlx::query_as(
            "SELECT code, name, created_at, admin_contact FROM organisations WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(|r| Organisation {
            code: r.code,
            name: r.name,
            created_at: r.created_at,
            admin_contact: r.admin_contact,
        }))
    }

    async fn set_admin_contact(
        &self,
        code: &str,
        contact: Option<&str>,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE organisations SET admin_contact = $1 WHERE code = $2")
            .bind(contact)
            .bind(code)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
