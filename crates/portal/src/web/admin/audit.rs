//! The audit log as administrators see it: local administrators only events about or by
//! accounts of their organisation; national administrators everything, and an export as JSON
//! lines.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::{AdminAuditPage, AdminAuditRow};
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::audit::{AuditEntry, AuditEvent, AuditSearch, AuditTrail, Outcome};
use domain::policy::parse_date;

const PAGE_SIZE: i64 = 100;
const EXPORT_BATCH: i64 = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(log))
        .route("/admin/audit.jsonl", get(export))
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    org: String,
    before: Option<i64>,
}

/// The search the query asks for, within what this administrator may see; or field errors.
async fn to_search(
    app: &AppState,
    admin: &AdminSession,
    query: &AuditQuery,
    limit: i64,
) -> Result<Result<AuditSearch, Vec<FieldError>>, AppError> {
    let mut errors = vec![];
    let mut date = |text: &str, field: &'static str, add: i64| -> i64 {
        if text.trim().is_empty() {
            return if add == 0 { 0 } else { i64::MAX };
        }
        // The day as people in the UK mean it (the log shows UK times).
        match parse_date(text) {
            Ok(t) => domain::clock::uk_day_start(t + add),
            Err(_) => {
                errors.push(FieldError {
                    field,
                    message: "Enter a real date, for example 06/12/2026".into(),
                });
                0
            }
        }
    };
    let from = date(&query.from, "from", 0);
    // "To" includes the whole day.
    let to = date(&query.to, "to", 86_400);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let org = query.org.trim().to_uppercase();
    let org = if org.is_empty() {
        admin.scope.org_filter().unwrap_or("").to_string()
    } else {
        admin
            .admin()
            .authorize_org(&app.store, &org, "audit.view")
            .await?;
        org
    };
    let outcome = match query.outcome.as_str() {
        "success" | "failure" => query.outcome.clone(),
        _ => String::new(),
    };
    Ok(Ok(AuditSearch {
        org,
        email: query.email.trim().chars().take(320).collect(),
        event: super::event_words::filter(&query.event)
            .chars()
            .take(100)
            .collect(),
        outcome,
        from,
        to,
        before_id: query.before.unwrap_or(i64::MAX),
        limit,
    }))
}

async fn log(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let (entries, errors, status) = match to_search(&app, &admin, &query, PAGE_SIZE + 1).await? {
        Ok(search) => (
            app.store.search_audit(&search).await?,
            vec![],
            StatusCode::OK,
        ),
        Err(errors) => (vec![], errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let has_next = entries.len() as i64 > PAGE_SIZE;
    let entries: Vec<AuditEntry> = entries.into_iter().take(PAGE_SIZE as usize).collect();
    let next = match (has_next, entries.last()) {
        (true, Some(last)) => Some(format!(
            "/admin/audit?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("email", &query.email)
                .append_pair("event", &query.event)
                .append_pair("outcome", &query.outcome)
                .append_pair("from", &query.from)
                .append_pair("to", &query.to)
                .append_pair("org", &query.org)
                .append_pair("before", &last.record.id.to_string())
                .finish()
        )),
        _ => None,
    };
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = AdminAuditPage {
        chrome: admin.chrome(&app),
        national: admin.scope.is_national(),
        from_error: error_for("from"),
        to_error: error_for("to"),
        errors,
        email: query.email.clone(),
        event: query.event.clone(),
        outcome: query.outcome.clone(),
        from: query.from.clone(),
        to: query.to.clone(),
        org: query.org.clone(),
        rows: entries
            .into_iter()
            .map(|e| AdminAuditRow {
                at: domain::clock::human(e.record.at),
                event: super::event_words::event(&e.record.event),
                outcome: super::event_words::outcome(&e.record.outcome),
                who: e.actor_email.unwrap_or_default(),
                about: e.account_email.or(e.record.subject).unwrap_or_default(),
                from: e.record.ip.unwrap_or_default(),
                detail: super::event_words::detail(&e.record.reason.unwrap_or_default()),
            })
            .collect(),
        next,
    };
    Ok(render(status, &page))
}

/// One JSON object per line, newest first, streamed in batches so a large export does not
/// sit in memory.
async fn export(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<AuditQuery>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "audit.export").await?;
    let search = match to_search(&app, &admin, &query, EXPORT_BATCH).await? {
        Ok(s) => s,
        Err(errors) => {
            return Err(AppError::BadRequest(
                errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
    };
    // Who took a copy of the trail, and of what, is itself audited.
    let filter = format!(
        "email={} event={} outcome={} from={} to={} org={}",
        query.email, query.event, query.outcome, query.from, query.to, search.org
    );
    let event = AuditEvent::new(
        "audit.exported",
        Outcome::Success,
        &admin.requester,
        admin.now,
    )
    .actor(&admin.session.account.id)
    .reason(&filter);
    app.store.append_audit(&event).await?;
    let store = app.store.clone();
    Ok(super::export::json_lines(
        "nhsmal-audit.jsonl",
        "audit",
        search,
        move |mut search| {
            let store = store.clone();
            async move {
                let batch = store.search_audit(&search).await?;
                let lines: String = batch.iter().map(|e| json_line(e) + "\n").collect();
                let full = batch.len() as i64 == search.limit;
                let after = match batch.last() {
                    Some(last) if full => {
                        search.before_id = last.record.id;
                        Some(search)
                    }
                    _ => None,
                };
                Ok((lines, after))
            }
        },
    ))
}

fn json_line(e: &AuditEntry) -> String {
    let r = &e.record;
    serde_json::json!({
        "id": r.id,
        "at": domain::clock::rfc3339(r.at),
        "event": r.event,
        "outcome": r.outcome,
        "account_id": r.account_id,
        "account_email": e.account_email,
        "actor_id": r.actor_id,
        "actor_email": e.actor_email,
        "subject": r.subject,
        "ip": r.ip,
        "user_agent": r.user_agent,
        "reason": r.reason,
        "correlation_id": r.correlation_id,
    })
    .to_string()
}
