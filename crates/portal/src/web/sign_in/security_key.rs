//! The security key at the second step: the WebAuthn options for the browser, and its signed
//! answer checked. JSON in and out, for the page's script.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{AnySession, CsrfForm};
use crate::web::sign_in::complete::complete;
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::reset_step::{self, ResetStep, step_of};
use crate::web::sign_in::second_step::{VerifyForm, choose_first, mfa_context, offered_methods};
use crate::web::{AppError, AppState};
use domain::mfa::{self, MethodKind, MfaError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/sign-in/verify/security-key/options",
            axum::routing::post(key_options),
        )
        .route(
            "/sign-in/verify/security-key/finish",
            axum::routing::post(key_finish),
        )
}

async fn key_options(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let reset = match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Choose => return Ok(choose_first()),
        ResetStep::Phantom(step) => return Ok(reset_step::phantom_key_options(&app, step.tag())),
        // A reset that chose another kind answers as a phantom security key would.
        ResetStep::Real(kind) if kind != MethodKind::Fido2 => {
            let tag = reset_step::tag_of(&app, session.as_ref());
            return Ok(reset_step::phantom_key_options(&app, &tag));
        }
        ResetStep::Real(kind) => Some(kind),
        ResetStep::NotReset => None,
    };
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let methods = offered_methods(&app, &session).await?;
    let (options, state) = match app.security_keys.start_authentication(&methods) {
        Ok(x) => x,
        Err(MfaError::NoSuchMethod) => {
            return Ok(json_error(
                StatusCode::NOT_FOUND,
                "No security key is registered",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut flow = Flow::of(&session.0);
    flow.key_authentication = Some(state);
    flow.method = Some(form.method);
    flow.save(&app, &session.0.token.storage_key()).await?;
    let mut options = serde_json::to_value(options)?;
    // A passkey was registered with user verification required, and webauthn-rs holds it to
    // that at every use; where every key offered is a passkey, the browser is told so, rather
    // than "preferred", which an authenticator may take as leave to skip it. (Not in a reset,
    // whose options must look the same whatever the account has.)
    let keys = methods.iter().filter(|m| m.kind == MethodKind::Fido2);
    if reset.is_none() && keys.clone().count() > 0 && keys.clone().all(|m| m.passkey.is_some()) {
        options["publicKey"]["userVerification"] = "required".into();
    }
    if reset.is_some() {
        // A real key's transports would set it apart from a reset's made-up one
        // (`reset_step::phantom_key_options`); browsers try every transport without them.
        if let Some(list) = options["publicKey"]["allowCredentials"].as_array_mut() {
            for credential in list {
                if let Some(c) = credential.as_object_mut() {
                    c.remove("transports");
                }
            }
        }
    }
    Ok(axum::Json(options).into_response())
}

#[derive(Deserialize)]
struct KeyAnswer {
    #[serde(default)]
    credential: String,
}

async fn key_finish(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<KeyAnswer>,
) -> Result<Response, AppError> {
    let reset = match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Choose => return Ok(choose_first()),
        ResetStep::Phantom(step) => {
            return reset_step::phantom_key_finish(&app, step.tag(), &requester).await;
        }
        ResetStep::Real(kind) => Some(kind),
        ResetStep::NotReset => None,
    };
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let mut flow = Flow::of(&session.0);
    let state = match (flow.key_authentication.take(), reset) {
        (Some(state), None | Some(MethodKind::Fido2)) => state,
        // In a reset, an answer without a key asked for first is a guess like a phantom's.
        (_, Some(_)) => {
            let tag = reset_step::tag_of(&app, Some(&session));
            return reset_step::phantom_key_finish(&app, &tag, &requester).await;
        }
        (None, None) => {
            return Ok(json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Start again: select Use security key",
            ));
        }
    };
    // The challenge is used once, whatever the answer.
    flow.save(&app, &session.0.token.storage_key()).await?;
    let ctx = mfa_context(&app, &requester, &session);
    let result = mfa::security_key::verify_security_key(
        &app.store,
        &app.security_keys,
        &session.0.account,
        &state,
        &form.credential,
        &ctx,
    )
    .await;
    metrics::counter!("nhsmal_sign_ins_total", "step" => "second_factor", "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
    match result {
        Ok(_) => {
            let response = complete(&app, &session, MethodKind::Fido2, &requester, jar).await?;
            let target = response
                .headers()
                .get(axum::http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("/profile")
                .to_string();
            // The script follows the redirect itself; the new session cookie rides along.
            let (mut parts, _) = response.into_parts();
            parts.status = StatusCode::OK;
            parts.headers.remove(axum::http::header::LOCATION);
            let body =
                axum::body::Body::from(serde_json::json!({ "redirect": target }).to_string());
            parts.headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            Ok(Response::from_parts(parts, body))
        }
        Err(MfaError::Locked { until }) => Ok(json_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "There have been too many failed attempts. Try again after {}.",
                domain::clock::human(until)
            ),
        )),
        Err(e @ MfaError::KeyRefused) => {
            Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
