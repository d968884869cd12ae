//! Bulk inserts for `nhsmal dev seed` (generated data for benchmarks at NHSmal's size): one
//! transaction per call, multi-row INSERTs of `ROWS_PER_INSERT` rows.

use super::{Store, storage_error};
use crate::clock::UnixTime;
use crate::domain::StorageError;

/// Rows per INSERT statement: 500 accounts × 11 values stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
pub const ROWS_PER_INSERT: usize = 500;

pub struct SeedOrganisation {
    pub code: String,
    pub name: String,
}

pub struct SeedAccount {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub org_code: String,
}

pub struct SeedMethod {
    pub id: String,
    pub account_id: String,
    pub kind: &'static str,
    pub name: &'static str,
    pub phone: Option<String>,
    pub is_default: bool,
    pub created_at: UnixTime,
}

/// "($1, $2, …), ($n+1, …), …" for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for c in 0..columns {
            if c > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(r * columns + c + 1).to_string());
        }
        text.push(')');
    }
    text
}

impl Store {
    pub async fn seed_organisations(
        &self,
        orgs: &[SeedOrganisation],
        now: UnixTime,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in orgs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO organisations (code, name, created_at) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for o in chunk {
                query = query.bind(&o.code).bind(&o.name).bind(now);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Active users with the same password hash (computed once by the caller).
    pub async fn seed_accounts(
        &self,
        accounts: &[SeedAccount],
        password_hash: &str,
        created_at: UnixTime,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in accounts.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO accounts (id, email, email_normalized, display_name, org_code, role, \
                 state, password_hash, password_changed_at, created_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 11)
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query
                    .bind(&a.id)
                    .bind(&a.email)
                    .bind(a.email.to_lowercase())
                    .bind(&a.display_name)
                    .bind(&a.org_code)
                    .bind("user")
                    .bind("active")
                    .bind(password_hash)
                    .bind(created_at)
                    .bind(created_at)
                    .bind(created_at);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Methods without secrets: enough for reports and searches, not for signing in with them.
    pub async fn seed_methods(&self, methods: &[SeedMethod]) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in methods.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO mfa_methods (id, account_id, kind, name, phone, is_default, \
                 created_at) VALUES {}",
                placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                query = query
                    .bind(&m.id)
                    .bind(&m.account_id)
                    .bind(m.kind)
                    .bind(m.name)
                    .bind(&m.phone)
                    .bind(i64::from(m.is_default))
                    .bind(m.created_at);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Refreshes the planner's statistics after a bulk load (the same statement on both).
    pub async fn analyze(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE")
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(super::placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
