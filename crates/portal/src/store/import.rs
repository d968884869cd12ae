use std::collections::HashSet;

use sqlx::FromRow;

use super::{Store, placeholders, storage_error};
use domain::StorageError;
use domain::audit::AuditEvent;
use domain::import::{ExistingAccount, ImportRecords, InvitedAccount};

/// Rows per multi-row INSERT: one statement (one hand-off to SQLite's worker thread, one round
/// trip to PostgreSQL) per hundred rows, far below either database's limit on parameters.
const ROWS_PER_STATEMENT: usize = 20;

#[derive(FromRow)]
struct ExistingRow {
    email_normalized: String,
    display_name: String,
    org_code: String,
    role: String,
}

/// `$1, $2, …, $n`
fn list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_audit_events(
    tx: &mut super::connections::WriteTransaction,
    events: &[AuditEvent],
) -> Result<(), StorageError> {
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO audit_events (at, event, outcome, account_id, actor_id, subject, ip, \
             user_agent, reason, correlation_id) VALUES {}",
            placeholders(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(e.at)
                .bind(e.event)
                .bind(e.outcome.as_str())
                .bind(&e.account_id)
                .bind(&e.actor_id)
                .bind(&e.subject)
                .bind(&e.requester.ip)
                .bind(&e.requester.user_agent)
                .bind(&e.reason)
                .bind(&e.requester.correlation_id);
        }
        query.execute(&mut **tx).await.map_err(storage_error)?;
    }
    Ok(())
}

impl ImportRecords for Store {
    async fn existing_organisations(
        &self,
        codes: &[String],
    ) -> Result<HashSet<String>, StorageError> {
        let mut found = HashSet::new();
        for chunk in codes.chunks(1_000) {
            let sql = format!(
                "SELECT code FROM organisations WHERE code IN ({})",
                list(chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for code in chunk {
                query = query.bind(code);
            }
            found.extend(query.fetch_all(&self.pool).await.map_err(storage_error)?);
        }
        Ok(found)
    }

    async fn existing_accounts(
        &self,
        normalized_emails: &[String],
    ) -> Result<Vec<ExistingAccount>, StorageError> {
        if normalized_emails.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT email_normalized, display_name, org_code, role FROM accounts \
             WHERE email_normalized IN ({})",
            list(normalized_emails.len())
        );
        let mut query = sqlx::query_as::<_, ExistingRow>(&sql);
        for email in normalized_emails {
            query = query.bind(email);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| ExistingAccount {
                email_normalized: r.email_normalized,
                display_name: r.display_name,
                org_code: r.org_code,
                role: r.role,
            })
            .collect())
    }

    async fn add_invited_accounts(
        &self,
        batch: &[InvitedAccount],
    ) -> Result<HashSet<String>, StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let mut added = HashSet::new();
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            // An email taken since the file was checked is left alone, like any existing one.
            let sql = format!(
                "INSERT INTO accounts (id, email, email_normalized, display_name, org_code, role, \
                 state, created_at, updated_at) VALUES {} \
                 ON CONFLICT (email_normalized) DO NOTHING RETURNING id",
                placeholders(chunk.len(), 9)
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for invited in chunk {
                let a = &invited.account;
                query = query
                    .bind(&a.id)
                    .bind(a.email.as_str())
                    .bind(a.email.normalized())
                    .bind(&a.display_name)
                    .bind(&a.org_code)
                    .bind(a.role.as_str())
                    .bind("active")
                    .bind(a.now)
                    .bind(a.now);
            }
            added.extend(query.fetch_all(&mut *tx).await.map_err(storage_error)?);
        }
        let kept: Vec<&InvitedAccount> = batch
            .iter()
            .filter(|i| added.contains(&i.account.id))
            .collect();
        for chunk in kept.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO invitations (token_hash, account_id, expires_at, created_by, created_at) \
                 VALUES {}",
                placeholders(chunk.len(), 5)
            );
            let mut query = sqlx::query(&sql);
            for invited in chunk {
                let i = &invited.invitation;
                query = query
                    .bind(&i.token_hash)
                    .bind(&i.account_id)
                    .bind(i.expires_at)
                    .bind(&i.created_by)
                    .bind(i.created_at);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        let events: Vec<AuditEvent> = kept.iter().flat_map(|i| i.events.clone()).collect();
        insert_audit_events(&mut tx, &events).await?;
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit(&events);
        Ok(added)
    }

    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        insert_audit_events(&mut tx, events).await?;
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit(events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_numbers_every_value() {
        assert_eq!(super::list(3), "$1, $2, $3");
    }
}
