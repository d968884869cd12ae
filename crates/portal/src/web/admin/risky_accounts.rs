//! Risky accounts (issue 6): the accounts the monitoring flagged, for administrators to
//! dismiss (a false alarm) or confirm compromised. Scoped like the rest of the admin area; the
//! rules of both actions live in `domain::monitoring`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use super::sign_ins::org_filter;
use crate::web::admin::pages::{AdminRiskyAccountsPage, AdminRiskyRow};
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{Choice, FieldError, error_for, render};
use crate::web::{AppError, AppState};
use domain::accounts::AccountRecords;
use domain::monitoring::RiskRecords;
use domain::risk_review::{self};

/// Rows shown at most; flagged accounts are few, and the newest come first.
const LIST_SIZE: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/risky-accounts", get(list))
        .route("/admin/risky-accounts/{id}/dismiss", post(dismiss))
        .route(
            "/admin/risky-accounts/{id}/confirm-compromised",
            post(confirm_compromised),
        )
}

#[derive(Deserialize, Default)]
struct RiskyQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    done: String,
}

async fn list(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<RiskyQuery>,
) -> Result<Response, AppError> {
    let mut errors = vec![];
    let org = org_filter(&app, &admin, &query.org, "risk.view", &mut errors).await?;
    let state = match query.state.trim() {
        "" => Some("at_risk"),
        "all" => None,
        s if risk_state_label(s).is_some() => Some(s),
        _ => {
            errors.push(FieldError {
                field: "state",
                message: "Choose a state from the list".into(),
            });
            None
        }
    };
    let (flagged, status) = if errors.is_empty() {
        let flagged = app
            .store
            .risky_accounts(org.as_deref(), state, LIST_SIZE + 1)
            .await?;
        (flagged, StatusCode::OK)
    } else {
        (vec![], StatusCode::UNPROCESSABLE_ENTITY)
    };
    let more = flagged.len() as i64 > LIST_SIZE;
    let own = &admin.session.account.id;
    let rows = flagged
        .into_iter()
        .take(LIST_SIZE as usize)
        .map(|r| {
            // Buttons only where the action would be allowed; the server checks again.
            let may = admin.scope.manages(&r.org_code, r.role) && &r.account_id != own;
            AdminRiskyRow {
                sign_ins: format!(
                    "/admin/sign-ins?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("email", &r.email)
                        .finish()
                ),
                can_dismiss: may && r.state == "at_risk",
                can_confirm: may && r.state != "compromised",
                id: r.account_id,
                name: r.display_name,
                email: r.email,
                org: r.org_code,
                level: r.level.label(),
                signals: r.signals.iter().map(|s| s.describe()).collect(),
                first: domain::clock::human(r.first_at),
                last: domain::clock::human(r.last_at),
                state: risk_state_label(&r.state).unwrap_or("Unknown"),
            }
        })
        .collect();
    let notice = match query.done.as_str() {
        "dismissed" => Some("The risk was dismissed."),
        "compromised" => Some(
            "The account was confirmed compromised: it was signed out everywhere, its password no longer works until they reset it, and they have been emailed.",
        ),
        _ => None,
    };
    let mut states = RISK_STATES.to_vec();
    states.push(("all", "Any state"));
    let chosen = match query.state.trim() {
        "" => "at_risk",
        s => s,
    };
    let page = AdminRiskyAccountsPage {
        chrome: admin.chrome(&app),
        national: admin.scope.is_national(),
        state_error: error_for(&errors, "state"),
        org_error: error_for(&errors, "org"),
        errors,
        org: query.org.clone(),
        states: Choice::list(&states, chosen),
        notice,
        rows,
        more,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct Empty {}

async fn dismiss(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = app
        .store
        .account_by_id(&id)
        .await?
        .ok_or(AppError::NotFound)?;
    risk_review::dismiss_risk(&app.store, &admin.admin(), &target).await?;
    Ok(Redirect::to("/admin/risky-accounts?done=dismissed").into_response())
}

async fn confirm_compromised(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = app
        .store
        .account_by_id(&id)
        .await?
        .ok_or(AppError::NotFound)?;
    risk_review::confirm_compromised(&app.store, &admin.admin(), app.notifier.as_ref(), &target)
        .await?;
    Ok(Redirect::to("/admin/risky-accounts?done=compromised").into_response())
}

/// The states of a flagged account, with their words.
pub const RISK_STATES: [(&str, &str); 3] = [
    ("at_risk", "At risk"),
    ("dismissed", "Dismissed"),
    ("compromised", "Confirmed compromised"),
];

pub fn risk_state_label(state: &str) -> Option<&'static str> {
    RISK_STATES
        .iter()
        .find(|(value, _)| *value == state)
        .map(|(_, label)| *label)
}
