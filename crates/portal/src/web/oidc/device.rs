//! `/device`: where a signed-in person types the code a mail app or device shows (RFC 8628
//! §3.3), sees which app asks for what, and allows or denies it.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, FromClient, SignedIn};
use crate::web::http::pages::{Chrome, FieldError, MessagePage, render};
use crate::web::{AppError, AppState};
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::monitoring;
use domain::oidc::clients::{Client, ClientRecords};
use domain::oidc::device_grant::{self, DeviceAuthorization, UserCodeError};
use domain::oidc::flows::Authentication;
use domain::sessions::SignedInSession;

pub const DEVICE_PAGE: &str = "/device";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DEVICE_PAGE, get(show).post(enter))
        .route("/device/decision", post(decide))
}

/// What the confirmation shows.
pub struct Asking {
    pub app_name: String,
    pub user_code: String,
    pub asked_at: String,
    pub asked_from: String,
    pub scopes: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub typed: String,
    pub asking: Option<Asking>,
}

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    user_code: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    user_code: String,
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    decision: String,
}

fn form_page(
    app: &AppState,
    session: &SignedInSession,
    typed: &str,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = DevicePage {
        chrome: Chrome::signed_in(app, session),
        errors: error
            .into_iter()
            .map(|message| FieldError {
                field: "user_code",
                message,
            })
            .collect(),
        // Only what a code can hold is shown again.
        typed: typed
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(12)
            .collect(),
        asking: None,
    };
    render(status, &page)
}

/// The form, with the code filled in when the app's link carried it (`verification_uri_complete`):
/// the person still presses Continue and then Allow, so a link alone decides nothing.
async fn show(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<CodeQuery>,
) -> Result<Response, AppError> {
    Ok(form_page(&app, &signed_in.0, &q.user_code, None))
}

/// A refusal of a typed code, as the form shows it; storage failures stay errors.
fn refusal(e: UserCodeError) -> Result<String, AppError> {
    match e {
        UserCodeError::Storage(e) => Err(e.into()),
        other => Ok(other.to_string()),
    }
}

/// The pending authorization of a typed user code, and its (enabled) app; Err: what the form says.
async fn find(
    app: &AppState,
    requester: &Requester,
    session: &SignedInSession,
    typed: &str,
) -> Result<Result<(DeviceAuthorization, Client), String>, AppError> {
    match device_grant::find_for_person(
        &app.store,
        typed,
        &requester.ip,
        &session.account.id,
        app.now(),
    )
    .await
    {
        // A disabled (or since removed) app's code is as good as unknown.
        Ok(found) => Ok(app
            .store
            .client_with_secret(&found.client_id)
            .await?
            .filter(|(c, _)| !c.disabled)
            .map(|(client, _)| (found, client))
            .ok_or_else(|| UserCodeError::NotFound.to_string())),
        Err(e) => {
            if matches!(e, UserCodeError::TooManyGuesses) {
                app.store
                    .append_audit(
                        &AuditEvent::new(
                            "oidc.device_code_guesses",
                            Outcome::Failure,
                            requester,
                            app.now(),
                        )
                        .account(&session.account.id),
                    )
                    .await?;
            }
            Ok(Err(refusal(e)?))
        }
    }
}

async fn enter(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let session = &signed_in.0;
    let (authorization, client) = match find(&app, &requester, session, &form.user_code).await? {
        Ok(found) => found,
        Err(message) => return Ok(form_page(&app, session, &form.user_code, Some(message))),
    };
    let page = DevicePage {
        chrome: Chrome::signed_in(&app, session),
        errors: vec![],
        typed: String::new(),
        asking: Some(Asking {
            app_name: client.name,
            user_code: form.user_code.trim().to_uppercase(),
            asked_at: domain::clock::human(authorization.created_at),
            asked_from: authorization.requested_from,
            scopes: super::pages::scope_words(&authorization.scope),
        }),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn decide(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, AppError> {
    let session = &signed_in.0;
    let (authorization, client) = match find(&app, &requester, session, &form.user_code).await? {
        Ok(found) => found,
        Err(message) => return Ok(form_page(&app, session, &form.user_code, Some(message))),
    };
    let now = app.now();
    let allow = form.decision == "allow";
    let decided = if allow {
        let who = Authentication {
            account: &session.account,
            auth_methods: &session.record.auth_methods,
            auth_time: session.record.created_at,
        };
        device_grant::allow(&app.store, &authorization, &client, &who, now).await?
    } else {
        device_grant::deny(&app.store, &authorization, now).await?
    };
    if !decided {
        // Decided in another tab a moment ago, or it expired meanwhile.
        return Ok(form_page(
            &app,
            session,
            &form.user_code,
            Some(UserCodeError::NotFound.to_string()),
        ));
    }
    app.store
        .append_audit(
            &AuditEvent::new(
                if allow {
                    "oidc.device_allowed"
                } else {
                    "oidc.device_denied"
                },
                Outcome::Success,
                &requester,
                now,
            )
            .account(&session.account.id)
            .subject(&client.id)
            .reason(&format!("{}: {}", client.name, authorization.scope)),
        )
        .await?;
    if allow {
        let monitor = app.monitor(&requester);
        monitoring::single_sign_on(&app.store, &monitor, &session.account, &client.name).await?;
    }
    let (heading, paragraph) = if allow {
        (
            format!("{} is connected", client.name),
            format!(
                "Go back to {}: it signs in by itself within a few seconds. You can remove its access from My Profile, under \u{201c}Where you\u{2019}re signed in\u{201d}.",
                client.name
            ),
        )
    } else {
        (
            format!("{} was not allowed", client.name),
            "The app or device cannot use your account. If you did not start this, someone may know your password: change it.".to_string(),
        )
    };
    let page = MessagePage {
        chrome: Chrome::signed_in(&app, session),
        heading,
        paragraphs: vec![paragraph],
        link: Some(("/profile".into(), "Go to My Profile".into())),
        help: None,
    };
    Ok(render(StatusCode::OK, &page))
}
