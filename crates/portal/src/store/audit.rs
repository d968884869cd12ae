use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::audit::{
    AuditCap, AuditEntry, AuditEvent, AuditRecord, AuditSearch, AuditTrail, MAX_TARGETS, RolledUp,
};
use domain::clock::UnixTime;

pub(super) const INSERT_EVENT: &str = "INSERT INTO audit_events (at, event, outcome, account_id, actor_id, \
     subject, ip, user_agent, reason, correlation_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

#[derive(FromRow)]
struct RollupRow {
    event: String,
    actor_id: String,
    window_start: i64,
    count: i64,
    first_at: i64,
    last_at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
}

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

/// Binds an event's columns to `INSERT_EVENT`.
pub(super) fn bind_event<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: &'q AuditEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
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
}

impl AuditTrail for Store {
    async fn append_capped(&self, e: &AuditEvent, cap: AuditCap) -> Result<(), StorageError> {
        let actor = e.actor_id.clone().unwrap_or_default();
        let key = format!("audit:{}:{actor}", e.event);
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        // The actor's count for the window, locked until commit (see `lock_limits`).
        let mut state = super::limits::lock_limits(&mut tx, &[&key]).await?[0];
        if state.window_start <= e.at - cap.window {
            state.failures = 0;
            state.window_start = e.at;
        }
        state.failures += 1;
        sqlx::query(
            "UPDATE sign_in_limits SET failures = $1, window_start = $2 WHERE limit_key = $3",
        )
        .bind(state.failures)
        .bind(state.window_start)
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        let written = state.failures <= cap.per_window;
        if written {
            bind_event(sqlx::query(INSERT_EVENT), e)
                .execute(&mut *tx)
                .await
                .map_err(storage_error)?;
        } else {
            sqlx::query(
                "INSERT INTO audit_rollups (event, actor_id, window_start, window_end, count, \
                 first_at, last_at, ip, user_agent) VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7) \
                 ON CONFLICT (event, actor_id, window_start) DO UPDATE SET \
                 count = audit_rollups.count + 1, last_at = $5, ip = $6, user_agent = $7",
            )
            .bind(e.event)
            .bind(&actor)
            .bind(state.window_start)
            .bind(state.window_start + cap.window)
            .bind(e.at)
            .bind(&e.requester.ip)
            .bind(&e.requester.user_agent)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
            let target = e
                .account_id
                .as_deref()
                .or(e.subject.as_deref())
                .or(e.reason.as_deref())
                .unwrap_or("");
            sqlx::query(
                "INSERT INTO audit_rollup_targets (event, actor_id, window_start, target) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(e.event)
            .bind(&actor)
            .bind(state.window_start)
            .bind(target)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        if written {
            self.forward_audit([e]);
        }
        Ok(())
    }

    async fn flush_rollups<F>(&self, now: UnixTime, describe: F) -> Result<u64, StorageError>
    where
        F: Fn(&RolledUp) -> String + Send + Sync,
    {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        // Claimed by deleting them: a node flushing at the same moment finds them gone.
        let rows: Vec<RollupRow> = sqlx::query_as(
            "DELETE FROM audit_rollups WHERE window_end <= $1 \
             RETURNING event, actor_id, window_start, count, first_at, last_at, ip, user_agent",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage_error)?;
        let mut written = vec![];
        for row in &rows {
            let targets: Vec<(String,)> = sqlx::query_as(
                "DELETE FROM audit_rollup_targets \
                 WHERE event = $1 AND actor_id = $2 AND window_start = $3 RETURNING target",
            )
            .bind(&row.event)
            .bind(&row.actor_id)
            .bind(row.window_start)
            .fetch_all(&mut *tx)
            .await
            .map_err(storage_error)?;
            let mut targets: Vec<String> = targets.into_iter().map(|(t,)| t).collect();
            targets.sort();
            let more = targets.len().saturating_sub(MAX_TARGETS) as i64;
            targets.truncate(MAX_TARGETS);
            let rolled = RolledUp {
                event: row.event.clone(),
                actor_id: row.actor_id.clone(),
                count: row.count,
                first_at: row.first_at,
                last_at: row.last_at,
                targets,
                more_targets: more,
            };
            let requester = domain::audit::Requester {
                ip: row.ip.clone().unwrap_or_default(),
                user_agent: row.user_agent.clone().unwrap_or_default(),
                correlation_id: String::new(),
                device: None,
                location: None,
            };
            let e = AuditEvent::new(
                domain::audit::static_name(&row.event),
                domain::audit::Outcome::Failure,
                &requester,
                row.last_at,
            )
            .actor(&row.actor_id)
            .reason(&describe(&rolled));
            bind_event(sqlx::query(INSERT_EVENT), &e)
                .execute(&mut *tx)
                .await
                .map_err(storage_error)?;
            written.push(e);
        }
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit(&written);
        Ok(written.len() as u64)
    }

    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StorageError> {
        bind_event(sqlx::query(INSERT_EVENT), e)
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
