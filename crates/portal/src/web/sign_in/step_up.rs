//! Step-up: a signed-in person proves a second factor again before changing their security
//! info or entering the admin area (a fresh factor, LC-1).

use axum::response::{IntoResponse, Redirect, Response};

use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::second_step::VERIFY;
use crate::web::{AppError, AppState};
use domain::sessions::SignedInSession;

/// How long a proved second factor counts as fresh for changing methods.
pub const FRESH_FACTOR_SECONDS: i64 = 15 * 60;

/// True when this session must prove a second factor again before changing security info.
pub fn needs_fresh_factor(session: &SignedInSession, has_methods: bool, now: i64) -> bool {
    has_methods
        && session
            .record
            .second_factor_at
            .is_none_or(|at| now - at > FRESH_FACTOR_SECONDS)
}

/// Sends a signed-in person to prove a second factor, coming back to `back_to` afterwards.
pub async fn ask_for_fresh_factor(
    app: &AppState,
    session: &SignedInSession,
    back_to: &str,
) -> Result<Response, AppError> {
    prepare_fresh_factor(app, session, back_to).await?;
    Ok(Redirect::to(VERIFY).into_response())
}

/// Records where to come back to after the second step; the caller sends the person to
/// [`VERIFY`].
/// As `prepare_fresh_factor`, for a step only a security key can pass (a phishing-resistant
/// level asked for by an app or by the policy for the admin area).
pub async fn prepare_security_key_step(
    app: &AppState,
    session: &SignedInSession,
    back_to: &str,
) -> Result<(), AppError> {
    let mut flow = Flow::of(session);
    flow.next = Some(back_to.to_string());
    flow.method = None;
    flow.security_key_only = true;
    flow.save(app, &session.token.storage_key()).await
}

pub async fn prepare_fresh_factor(
    app: &AppState,
    session: &SignedInSession,
    back_to: &str,
) -> Result<(), AppError> {
    let mut flow = Flow::of(session);
    flow.next = Some(back_to.to_string());
    flow.method = None;
    flow.save(app, &session.token.storage_key()).await
}
