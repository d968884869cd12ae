//! Self-Service › add a passkey (issue 23): the page, the WebAuthn options asking for a
//! discoverable credential with user verification, and the browser's answer checked and saved.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{CsrfForm, Enrolling, FromClient};
use crate::web::http::pages::{Chrome, render};
use crate::web::profile::enrol::{after_enrolment, allowed_check, fresh_factor_check};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::step_up::needs_fresh_factor;
use crate::web::{AppError, AppState};
use domain::StorageError;
use domain::mfa::{self, MethodKind, MfaError};

pub(crate) const PASSKEY_PAGE: &str = "/profile/self-service/enrol/passkey";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PASSKEY_PAGE, get(passkey_page))
        .route("/profile/self-service/enrol/passkey/options", post(options))
        .route("/profile/self-service/enrol/passkey/finish", post(finish))
}

async fn passkey_page(
    State(app): State<AppState>,
    signed_in: Enrolling,
) -> Result<Response, AppError> {
    if let Some(redirect) =
        fresh_factor_check(&app, &signed_in, MethodKind::Fido2, PASSKEY_PAGE).await?
    {
        return Ok(redirect);
    }
    Ok(render(
        StatusCode::OK,
        &crate::web::profile::pages::EnrolPasskeyPage {
            chrome: Chrome::signed_in(&app, &signed_in.0),
        },
    ))
}

#[derive(Deserialize)]
struct Empty {}

async fn options(
    State(app): State<AppState>,
    signed_in: Enrolling,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    allowed_check(&app, &signed_in, MethodKind::Fido2).await?;
    let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
    if needs_fresh_factor(&signed_in.0, !methods.is_empty(), app.now()) {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "Reload the page and prove it is you again",
        ));
    }
    let (options, state) = app
        .security_keys
        .start_passkey_registration(&signed_in.0.account, &methods)?;
    let mut flow = Flow::of(&signed_in.0);
    flow.key_registration = Some(state);
    flow.save(&app, &signed_in.0.token.storage_key()).await?;
    Ok(axum::Json(options).into_response())
}

#[derive(Deserialize)]
struct Finish {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

async fn finish(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    CsrfForm(form): CsrfForm<Finish>,
) -> Result<Response, AppError> {
    allowed_check(&app, &signed_in, MethodKind::Fido2).await?;
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    // The state is used once, whatever happens next.
    let Some(state) = flow.key_registration.take() else {
        return Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Start again: select Create a passkey",
        ));
    };
    flow.save(&app, &key).await?;
    let refused = |e: MfaError| Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()));
    let registered = match app
        .security_keys
        .finish_passkey_registration(&state, &form.credential)
    {
        Ok(p) => p,
        Err(e @ (MfaError::KeyRefused | MfaError::NotDiscoverable)) => return refused(e),
        Err(e) => return Err(e.into()),
    };
    let ctx = app.mfa(&requester);
    match mfa::passkey::add_passkey(
        &app.store,
        &signed_in.0.account,
        &registered,
        &form.name,
        &ctx,
    )
    .await
    {
        Ok(_) => {
            let mut flow = Flow::of(&signed_in.0);
            let target = after_enrolment(&mut flow);
            flow.save(&app, &key).await?;
            Ok(axum::Json(serde_json::json!({ "redirect": target })).into_response())
        }
        Err(e @ (MfaError::BadName | MfaError::KeyNotAllowed(_))) => refused(e),
        Err(MfaError::Storage(StorageError::Conflict)) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That passkey is already registered",
        )),
        Err(e) => Err(e.into()),
    }
}
