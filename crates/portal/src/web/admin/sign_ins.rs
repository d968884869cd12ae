//! The sign-in log as administrators see it (issue 6): every attempt at every step, with its
//! risk and the signals behind it, filtered by person, organisation, outcome, risk and time.
//! Local administrators see their organisation's rows only; the export as JSON lines follows
//! the same scope.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::{AdminSignInRow, AdminSignInsPage};
use crate::web::http::pages::{Choice, FieldError, error_for, render};
use crate::web::{AppError, AppState};
use domain::accounts::normalize_email;
use domain::audit::{AuditEvent, AuditTrail, Outcome};
use domain::monitoring::{SignInFilter, SignInLog, SignInRecord};
use domain::notices::describe_device;
use domain::organisations::OrgCode;
use domain::policy::parse_date;
use domain::risk::{Level, parse_names};

const PAGE_SIZE: i64 = 50;
const EXPORT_BATCH: i64 = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sign-ins", get(log))
        .route("/admin/sign-ins/export", get(export))
}

#[derive(Deserialize, Default)]
pub(crate) struct SignInQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    risk: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl SignInQuery {
    /// The query again (for paging and the export link), `before` set as given.
    fn link(&self, path: &str, before: Option<i64>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("email", &self.email)
            .append_pair("org", &self.org)
            .append_pair("outcome", &self.outcome)
            .append_pair("risk", &self.risk)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to);
        if let Some(before) = before {
            query.append_pair("before", &before.to_string());
        }
        format!("{path}?{}", query.finish())
    }
}

/// The organisation filter a query asks for, within what this administrator may see: a local
/// administrator's own organisation whatever they leave out; another one refused (403,
/// audited as `action`). A national administrator's code must look like one.
pub(crate) async fn org_filter(
    app: &AppState,
    admin: &AdminSession,
    org: &str,
    action: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<String>, AppError> {
    let org = org.trim().to_uppercase();
    if org.is_empty() {
        return Ok(admin.scope.org_filter().map(str::to_string));
    }
    if !admin.scope.is_national() {
        admin
            .admin()
            .authorize_org(&app.store, &org, action)
            .await?;
        return Ok(Some(org));
    }
    match OrgCode::parse(&org) {
        Ok(code) => Ok(Some(code.as_str().to_string())),
        Err(_) => {
            errors.push(FieldError {
                field: "org",
                message: "Enter an organisation code of 3 to 10 letters and numbers, like FA123"
                    .into(),
            });
            Ok(None)
        }
    }
}

/// The filter the query asks for, within what this administrator may see; or field errors.
async fn to_filter(
    app: &AppState,
    admin: &AdminSession,
    query: &SignInQuery,
    limit: i64,
    action: &str,
) -> Result<Result<SignInFilter, Vec<FieldError>>, AppError> {
    let mut errors = vec![];
    // The scope first: a look at another organisation is refused whatever else is wrong.
    let org_code = org_filter(app, admin, &query.org, action, &mut errors).await?;

    let email = normalize_email(&query.email);
    if !email.is_empty() && (!email.contains('@') || email.chars().count() > 320) {
        errors.push(FieldError {
            field: "email",
            message: "Enter the full email address, like name@example.nhs.uk".into(),
        });
    }
    let outcome = query.outcome.trim();
    if !outcome.is_empty() && outcome_label(outcome).is_none() {
        errors.push(FieldError {
            field: "outcome",
            message: "Choose an outcome from the list".into(),
        });
    }
    let risk = query.risk.trim();
    if !risk.is_empty() && Level::parse(risk).is_none() {
        errors.push(FieldError {
            field: "risk",
            message: "Choose a risk level from the list".into(),
        });
    }
    let mut date = |text: &str, field: &'static str| -> Option<i64> {
        if text.trim().is_empty() {
            return None;
        }
        match parse_date(text) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.push(FieldError {
                    field,
                    message: "Enter a real date, for example 06/12/2026".into(),
                });
                None
            }
        }
    };
    // Days as people in the UK mean them (the log shows UK times); "to" includes the whole day.
    let from = date(&query.from, "from").map(domain::clock::uk_day_start);
    let to = date(&query.to, "to").map(|t| domain::clock::uk_day_start(t + 86_400));
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        errors.push(FieldError {
            field: "to",
            message: "The to date must be the same as or after the from date".into(),
        });
    }
    let before_id = match query.before.trim() {
        "" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| AppError::BadRequest("before must be a number".into()))?,
        ),
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
    Ok(Ok(SignInFilter {
        org_code,
        email: some(&email),
        outcome: some(outcome),
        risk: some(risk),
        from,
        to,
        before_id,
        limit,
    }))
}

fn step_label(step: &str) -> String {
    match step {
        "password" => "Password".into(),
        "second_factor" => "Second step".into(),
        "reset" => "Password reset".into(),
        "single_sign_on" => "Single sign-on".into(),
        other => other.into(),
    }
}

/// The method as stored (a method kind, its RFC 8176 value, or a word for what stood in).
fn method_label(method: Option<&str>) -> String {
    match method.unwrap_or("") {
        "" => String::new(),
        "password" | "pwd" => "Password".into(),
        "totp" | "otp" => "Authenticator app".into(),
        "push" | "swk" => "Authenticator app (push)".into(),
        "sms" => "Text message".into(),
        "voice" | "tel" => "Phone call".into(),
        "fido2" | "hwk" => "FIDO2 token".into(),
        "device" => "Remembered device".into(),
        "recovery_code" => "Recovery code".into(),
        "temporary_access_pass" | "tap" | "pass" => "Temporary access pass".into(),
        other => other.into(),
    }
}

fn row(r: SignInRecord) -> AdminSignInRow {
    AdminSignInRow {
        at: domain::clock::human(r.at),
        org: r.org_code.unwrap_or_default(),
        step: step_label(&r.step),
        method: method_label(r.method.as_deref()),
        outcome: outcome_label(&r.outcome)
            .map(str::to_string)
            .unwrap_or(r.outcome),
        reason: super::event_words::detail(&r.reason.unwrap_or_default()),
        risk: Level::parse(&r.risk)
            .map(|l| l.label().to_string())
            .unwrap_or(r.risk),
        signals: parse_names(&r.signals)
            .into_iter()
            .map(|s| s.describe())
            .collect(),
        reported: r.reported_at.is_some(),
        place: r.place.unwrap_or_default(),
        device: describe_device(&r.user_agent),
        ip: r.ip,
        email: r.email,
    }
}

async fn log(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let (records, errors, status) =
        match to_filter(&app, &admin, &query, PAGE_SIZE + 1, "sign_ins.view").await? {
            Ok(filter) => (app.store.sign_ins(&filter).await?, vec![], StatusCode::OK),
            Err(errors) => (vec![], errors, StatusCode::UNPROCESSABLE_ENTITY),
        };
    let has_next = records.len() as i64 > PAGE_SIZE;
    let records: Vec<SignInRecord> = records.into_iter().take(PAGE_SIZE as usize).collect();
    let next = match (has_next, records.last()) {
        (true, Some(last)) => Some(query.link("/admin/sign-ins", Some(last.id))),
        _ => None,
    };
    let page = AdminSignInsPage {
        chrome: admin.chrome(&app),
        national: admin.scope.is_national(),
        email_error: error_for(&errors, "email"),
        org_error: error_for(&errors, "org"),
        outcome_error: error_for(&errors, "outcome"),
        risk_error: error_for(&errors, "risk"),
        from_error: error_for(&errors, "from"),
        to_error: error_for(&errors, "to"),
        errors,
        email: query.email.clone(),
        org: query.org.clone(),
        outcome: query.outcome.clone(),
        risk: query.risk.clone(),
        from: query.from.clone(),
        to: query.to.clone(),
        outcomes: Choice::list(&OUTCOMES, query.outcome.trim()),
        risks: Choice::list(
            &Level::ALL.map(|l| (l.as_str(), l.label())),
            query.risk.trim(),
        ),
        no_geo: app.geo.is_none(),
        export: query.link("/admin/sign-ins/export", None),
        rows: records.into_iter().map(row).collect(),
        next,
    };
    Ok(render(status, &page))
}

/// One JSON object per line, newest first, streamed in batches so a large export does not sit
/// in memory. Local administrators export their organisation's rows only (the page's scope).
async fn export(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let filter = match to_filter(&app, &admin, &query, EXPORT_BATCH, "sign_ins.export").await? {
        Ok(f) => f,
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
    // Who took a copy of the log, and of what, is audited.
    let described = format!(
        "email={} org={} outcome={} risk={} from={} to={}",
        filter.email.as_deref().unwrap_or(""),
        filter.org_code.as_deref().unwrap_or(""),
        filter.outcome.as_deref().unwrap_or(""),
        filter.risk.as_deref().unwrap_or(""),
        query.from.trim(),
        query.to.trim(),
    );
    let event = AuditEvent::new(
        "sign_ins.exported",
        Outcome::Success,
        &admin.requester,
        admin.now,
    )
    .actor(&admin.session.account.id)
    .reason(&described);
    app.store.append_audit(&event).await?;
    let store = app.store.clone();
    Ok(super::export::json_lines(
        "nhsmal-sign-ins.jsonl",
        "sign-in log",
        filter,
        move |mut filter| {
            let store = store.clone();
            async move {
                let batch = store.sign_ins(&filter).await?;
                let lines: String = batch.iter().map(|r| json_line(r) + "\n").collect();
                let full = batch.len() as i64 == filter.limit;
                let after = match batch.last() {
                    Some(last) if full => {
                        filter.before_id = Some(last.id);
                        Some(filter)
                    }
                    _ => None,
                };
                Ok((lines, after))
            }
        },
    ))
}

/// A row for the export. The device column (a keyed hash of the browser's device cookie) is
/// left out: it is a long-lived identifier of someone's browser, of no use outside the portal.
fn json_line(r: &SignInRecord) -> String {
    let signals: Vec<&str> = parse_names(&r.signals).iter().map(|s| s.as_str()).collect();
    serde_json::json!({
        "id": r.id,
        "at": domain::clock::rfc3339(r.at),
        "account_id": r.account_id,
        "email": r.email,
        "org_code": r.org_code,
        "ip": r.ip,
        "country": r.country,
        "place": r.place,
        "user_agent": r.user_agent,
        "step": r.step,
        "method": r.method,
        "outcome": r.outcome,
        "reason": r.reason,
        "risk": r.risk,
        "signals": signals,
        "reported_at": r.reported_at.map(domain::clock::rfc3339),
        "correlation_id": r.correlation_id,
    })
    .to_string()
}

/// The outcomes a sign-in log row can have, with the words the admin pages use for them.
pub const OUTCOMES: [(&str, &str); 8] = [
    ("success", "Signed in"),
    ("passed", "Step passed"),
    ("failure", "Failed"),
    ("blocked", "Blocked"),
    ("reported", "Reported as not them"),
    ("text_sent", "Text sent"),
    ("call_placed", "Call placed"),
    ("call_answered", "Call answered"),
];

/// Words for a stored outcome; `None` for one this version does not know.
pub fn outcome_label(outcome: &str) -> Option<&'static str> {
    OUTCOMES
        .iter()
        .find(|(value, _)| *value == outcome)
        .map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_read_as_the_portal_names_them() {
        assert_eq!(method_label(Some("otp")), "Authenticator app");
        assert_eq!(method_label(Some("tel")), "Phone call");
        assert_eq!(method_label(Some("device")), "Remembered device");
        assert_eq!(method_label(Some("pass")), "Temporary access pass");
        assert_eq!(method_label(Some("something new")), "something new");
        assert_eq!(method_label(None), "");
    }
}
