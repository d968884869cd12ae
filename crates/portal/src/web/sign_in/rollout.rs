//! The MFA rollout as a person meets it: a reminder after sign-in before the date, with
//! "Set up now" and (while snoozes last) "Remind me later".

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, Enrolling, safe_next};
use crate::web::http::pages::{Chrome, render};
use crate::web::sign_in::pages::MfaReminderPage;
use crate::web::{AppError, AppState};
use domain::accounts::Account;
use domain::audit::Requester;
use domain::exceptions;
use domain::policy::{self, PolicyError, Standing};

const REMINDER: &str = "/mfa-reminder";

pub fn router() -> Router<AppState> {
    Router::new().route(REMINDER, get(reminder).post(remind_me_later))
}

/// Where to send a person who has just signed in: the reminder first when it is due, or when
/// their rollout exception ends within a few days; a sign-in that an exception let through is
/// audited.
pub async fn after_sign_in(
    app: &AppState,
    account: &Account,
    requester: &Requester,
    target: String,
) -> Result<String, AppError> {
    let now = app.now();
    let (_, standing) = policy::standing_of(&app.store, account, now).await?;
    let remind = || {
        format!(
            "{REMINDER}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &target)
                .finish()
        )
    };
    Ok(match standing {
        Standing::Remind { .. } => remind(),
        Standing::Excepted { until } => {
            if let Some(live) = exceptions::live_exception(&app.store, account, now).await? {
                exceptions::used(&app.store, account, &live, requester, now).await?;
            }
            if until - now <= exceptions::REMINDER_DAYS * 86_400 {
                remind()
            } else {
                target
            }
        }
        _ => target,
    })
}

#[derive(Deserialize)]
struct ReminderQuery {
    next: Option<String>,
}

async fn reminder(
    State(app): State<AppState>,
    signed_in: Enrolling,
    Query(query): Query<ReminderQuery>,
) -> Result<Response, AppError> {
    let next = safe_next(query.next.as_deref()).unwrap_or_else(|| "/profile".into());
    let (_, standing) = policy::standing_of(&app.store, &signed_in.0.account, app.now()).await?;
    let (by, snoozes_left, exception) = match standing {
        Standing::Remind { by, snoozes_left } => (by, snoozes_left, false),
        Standing::Excepted { until } => (until, 0, true),
        Standing::Required => {
            return Ok(Redirect::to("/profile/self-service/enrol").into_response());
        }
        Standing::Satisfied | Standing::NotYet => return Ok(Redirect::to(&next).into_response()),
    };
    let page = MfaReminderPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        by: domain::clock::human_date(by),
        snoozes_left,
        next,
        exception,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct LaterForm {
    #[serde(default)]
    next: String,
}

async fn remind_me_later(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    CsrfForm(form): CsrfForm<LaterForm>,
) -> Result<Response, AppError> {
    let next = safe_next(Some(&form.next)).unwrap_or_else(|| "/profile".into());
    match policy::snooze(&app.store, &signed_in.0.account, &requester, app.now()).await {
        Ok(_) => Ok(Redirect::to(&next).into_response()),
        // Used up (perhaps in another tab): enrolment is now required.
        Err(PolicyError::NoSnoozesLeft) => {
            Ok(Redirect::to("/profile/self-service/enrol").into_response())
        }
        Err(e) => Err(e.into()),
    }
}
