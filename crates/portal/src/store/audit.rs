use sqlx::FromRow;

use super::{Store, storage_error};
use crate::domain::StorageError;
use crate::domain::audit::{AuditEntry, AuditEvent, AuditRecord, AuditSearch, AuditTrail};

const COLUMNS: &str = "e.id, e.at, e.event, e.outcome, e.account_id, e.actor_id, e.subject, \
     e.ip, e.user_agent, e.reason, e.correlation_id";

#[derive(FromRow)]
struct EntryRow {
    #[sqlx(flatten)]
    record: AuditRow,
    account_email: Option<String>,
    actor_email: Option<String>,
}

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
        self.forward_audit([e]);
        Ok(())
    }

    async fn audit_events(&self, limit: i64) -> Result<Vec<AuditRecord>, StorageError> {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_events e ORDER BY e.id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn audit_events_of_account(
        &self,
        account_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_events e WHERE e.account_id = $1 \
             ORDER BY e.at DESC, e.id DESC LIMIT $2"
        ))
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn count_events_by_actor(
        &self,
        event: &str,
        actor_id: &str,
        since: i64,
    ) -> Result<i64, StorageError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_events WHERE actor_id = $1 AND event = $2 AND at >= $3",
        )
        .bind(actor_id)
        .bind(event)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(count)
    }

    async fn search_audit(&self, q: &AuditSearch) -> Result<Vec<AuditEntry>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS}, t.email AS account_email, actor.email AS actor_email \
             FROM audit_events e \
             LEFT JOIN accounts t ON t.id = e.account_id \
             LEFT JOIN accounts actor ON actor.id = e.actor_id \
             WHERE ($1 = '' OR t.org_code = $1) \
             AND ($2 = '' OR t.email_normalized = $2 OR actor.email_normalized = $2 \
                  OR e.subject = $2) \
             AND ($3 = '' OR e.event = $3 OR e.event LIKE $4 ESCAPE '\\') \
             AND ($5 = '' OR e.outcome = $5) \
             AND e.at >= $6 AND e.at < $7 AND e.id < $8 \
             ORDER BY e.id DESC LIMIT $9"
        );
        let rows: Vec<EntryRow> = sqlx::query_as(&sql)
            .bind(&q.org)
            .bind(q.email.trim().to_lowercase())
            .bind(&q.event)
            // A prefix of dotted names: "sign_in" matches "sign_in.password".
            .bind(format!("{}.%", escape_like(&q.event)))
            .bind(&q.outcome)
            .bind(q.from)
            .bind(q.to)
            .bind(q.before_id)
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                record: r.record.into(),
                account_email: r.account_email,
                actor_email: r.actor_email,
            })
            .collect())
    }
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
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
        }
    }
}

/// LIKE's wildcards and escape character taken literally (with `ESCAPE '\\'`).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
