use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::audit::AuditEvent;
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
        event: &AuditEvent,
    ) -> Result<bool, StorageError> {
        // The change and its audit event commit together, or neither does.
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let done = sqlx::query("UPDATE organisations SET admin_contact = $1 WHERE code = $2")
            .bind(contact)
            .bind(code)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::bind_event(sqlx::query(super::audit::INSERT_EVENT), event)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit([event]);
        Ok(true)
    }
}
