//! The keypad of a phone call, and the approval status the waiting browser polls. The keypad
//! URL is what the outbox records and what a telephony provider's webhook calls; its token is
//! the only credential, so it is long, random, single use and expires with the approval.

use crate::web::http::extract::FromClient;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use crate::web::http::extract::AnySession;
use crate::web::sign_in::flow::Flow;
use crate::web::{AppError, AppState};
use domain::mfa::approvals::{self, ApprovalRecords, Keypress};

pub const KEYPAD_PATH: &str = "/telephony/keypad";

/// Routes outside the browser's CSRF checks: a provider posts here, not a browser form.
pub fn webhook_router() -> Router<AppState> {
    Router::new()
        .route("/telephony/keypad/{token}", post(keypad))
        .route("/telephony/twilio/keypad/{token}", post(twilio_keypad))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/approvals/current", get(current_status))
}

/// The keypad URL base for calls, from the configured public URL (never the Host header).
pub fn keypad_base(app: &AppState) -> String {
    format!(
        "{}{KEYPAD_PATH}",
        app.settings.public_url.as_str().trim_end_matches('/')
    )
}

#[derive(Deserialize)]
struct KeypadForm {
    #[serde(rename = "Digits", default)]
    digits: String,
}

async fn keypad(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    Path(token): Path<String>,
    Form(form): Form<KeypadForm>,
) -> Result<Response, AppError> {
    // The unsigned keypad is the outbox's; with a real provider only its signed callback counts.
    if app.settings.providers.voice != crate::notify::VoiceProvider::Outbox {
        return Err(AppError::NotFound);
    }
    let ctx = app.mfa(&requester);
    let outcome = approvals::keypress(&app.store, &ctx, &token, &form.digits).await?;
    let (status, text) = match outcome {
        Keypress::Approved => (
            StatusCode::OK,
            "Thank you. You can now continue on the NHSmal website.",
        ),
        Keypress::Reported => (
            StatusCode::OK,
            "Thank you. We have blocked the sign-in and will email you.",
        ),
        Keypress::NotUnderstood => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Press hash to approve, or zero then hash to report.",
        ),
        Keypress::TooLate => (StatusCode::GONE, "This call has ended."),
    };
    Ok((status, text).into_response())
}

/// Twilio's `<Gather>` callback: the signature is checked against the URL Twilio was given
/// (from the configured public URL) and every form field; a bad one is refused with 403.
/// The Gather has no finish key, so "#" and "0#" arrive as pressed.
async fn twilio_keypad(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let auth_token = &app.settings.providers.twilio_auth_token.0;
    if auth_token.is_empty() {
        return Err(AppError::NotFound);
    }
    let url = format!(
        "{}/telephony/twilio/keypad/{token}",
        app.settings.public_url.as_str().trim_end_matches('/')
    );
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::notify::twilio::signature_is_valid(auth_token, &url, &fields, signature) {
        tracing::warn!("Twilio callback with a bad signature refused");
        return Ok((StatusCode::FORBIDDEN, "bad signature").into_response());
    }
    // "#" and "0#" arrive as pressed; nothing pressed is never an approval.
    let digits = fields
        .iter()
        .find(|(k, _)| k == "Digits")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let ctx = app.mfa(&requester);
    let outcome = approvals::keypress(&app.store, &ctx, &token, digits).await?;
    let say = match outcome {
        Keypress::Approved => "Thank you. You can now continue on the NHSmal website. Goodbye.",
        Keypress::Reported => "Thank you. We have blocked the sign-in and will email you. Goodbye.",
        Keypress::NotUnderstood => "Sorry, that key was not recognised. Goodbye.",
        Keypress::TooLate => "This request has ended. Goodbye.",
    };
    let twiml = format!("<Response><Say language=\"en-GB\">{say}</Say><Hangup/></Response>");
    Ok(([(axum::http::header::CONTENT_TYPE, "text/xml")], twiml).into_response())
}

/// `{"status": "pending" | "approved" | "denied" | "expired"}` for this session's call.
async fn current_status(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: axum_extra::extract::cookie::CookieJar,
) -> Result<Response, AppError> {
    use crate::web::sign_in::reset_step::{ResetStep, step_of};
    match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Phantom(step) => {
            return Ok(crate::web::sign_in::reset_step::phantom_approval_status(
                &app, &step,
            ));
        }
        ResetStep::Choose => {
            return Ok(Json(serde_json::json!({ "status": "expired" })).into_response());
        }
        ResetStep::Real(_) | ResetStep::NotReset => {}
    }
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let flow = Flow::of(&session.0);
    if session.0.record.stage == domain::sessions::SessionStage::PasswordReset
        && let Some((status, left)) =
            crate::web::sign_in::reset_step::unplaced_call_status(&app, &flow)
    {
        return Ok(
            Json(serde_json::json!({ "status": status, "seconds_left": left })).into_response(),
        );
    }
    let id = flow
        .approval
        .or_else(|| flow.pending_phone.and_then(|p| p.approval))
        .unwrap_or_default();
    let now = app.now();
    let status =
        approvals::status_for_session(&app.store, &id, &session.0.token.storage_key(), now).await?;
    // How long the call rings on, so that the page can warn before it ends (WCAG 2.2.1).
    let left = match app.store.approval(&id).await? {
        Some(a) if a.session_hash == session.0.token.storage_key() => (a.expires_at - now).max(0),
        _ => 0,
    };
    Ok(
        Json(serde_json::json!({ "status": status.as_str(), "seconds_left": left }))
            .into_response(),
    )
}
