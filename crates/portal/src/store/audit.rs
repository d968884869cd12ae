use sqlx::FromRow;

use super::{Store, storage_error};
use crate::domain::StorageError;
use crate::domain::audit::{AuditEvent, AuditRecord, AuditTrail};

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    event: String,
    outcome: String,
    account_id: Option<String>,
    actor_id: Option<String>,
    subject: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    reason: Option<String>,
    correlation_id: Option<String>,
}

impl AuditTrail for Store {
    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO audit_events (at, event, outcome, account_id, actor_id, subject, ip, \
             user_agent, reason, correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.at)
        .bind(e.event)
        .bind(e.outcome.as_str())
        .bind(&e.account_id)
        .bind(&e.actor_id)
        .bind(&e.subject)
        .bind(&e.requester.ip)
        .bind(&e.requester.user_agent)
        .bind(&e.reason)
        .bind(&e.requester.correlation_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn audit_events(&self, limit: i64) -> Result<Vec<AuditRecord>, StorageError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, event, outcome, account_id, actor_id, subject, ip, user_agent, \
             reason, correlation_id FROM audit_events ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                at: r.at,
                event: r.event,
                outcome: r.outcome,
                account_id: r.account_id,
                actor_id: r.actor_id,
                subject: r.subject,
                ip: r.ip,
                user_agent: r.user_agent,
                reason: r.reason,
                correlation_id: r.correlation_id,
            })
            .collect())
    }
}
