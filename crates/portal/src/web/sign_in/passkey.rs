//! "Sign in with a passkey" and passkey autofill (issue 23): the options for the browser with
//! a sealed, single-use ticket, and the passkey's answer signing the person in without a
//! password. JSON in and out, for the sign-in page's script.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{
    CsrfForm, FromClient, safe_next, session_cookie, session_token, visitor_id,
};
use crate::web::{AppError, AppState};
use domain::mfa::MfaError;
use domain::mfa::passkey::{self, PasskeyError};
use domain::monitoring::{self, Step};
use domain::risk::{HighRiskAction, Level};
use domain::sessions::{self, NewSession, SessionStage};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/passkey/options", post(options))
        .route("/sign-in/passkey/finish", post(finish))
}

#[derive(Deserialize)]
struct Empty {}

async fn options(
    State(app): State<AppState>,
    jar: CookieJar,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    // The form's CSRF check passed, so the browser has its visitor cookie.
    let Some(visitor) = visitor_id(&app, &jar) else {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "Reload the page and try again",
        ));
    };
    let (mut options, state) = app.security_keys.start_passkey_sign_in()?;
    options["ticket"] = passkey::issue_ticket(&app.secrets, &visitor, state, app.now())?.into();
    Ok(axum::Json(options).into_response())
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    next: String,
}

async fn finish(
    State(app): State<AppState>,
    FromClient(mut requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<Answer>,
) -> Result<Response, AppError> {
    let jar = crate::web::http::device_id::ensure(&app, jar, &mut requester);
    let now = app.now();
    let visitor = visitor_id(&app, &jar).unwrap_or_default();
    let Some(state) =
        passkey::redeem_ticket(&app.store, &app.secrets, &visitor, &form.ticket, now).await?
    else {
        return Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The passkey request has expired or was already used. Select “Sign in with a passkey” again",
        ));
    };
    let ctx = app.mfa(&requester);
    let result = passkey::sign_in_with_passkey(
        &app.store,
        &app.security_keys,
        &state,
        &form.credential,
        &ctx,
    )
    .await;
    metrics::counter!("nhsmal_sign_ins_total", "step" => "passkey", "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
    let signed_in = match result {
        Ok(s) => s,
        Err(PasskeyError::Mfa(MfaError::Locked { until })) => {
            return Ok(json_error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "There have been too many failed attempts. Try again after {}.",
                    domain::clock::human(until)
                ),
            ));
        }
        Err(PasskeyError::Mfa(e)) => return Err(e.into()),
        Err(PasskeyError::Storage(e)) => return Err(e.into()),
        Err(e @ (PasskeyError::Disabled | PasskeyError::ResetRequired)) => {
            return Ok(json_error(StatusCode::FORBIDDEN, &e.to_string()));
        }
        Err(e) => return Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())),
    };
    let account = &signed_in.account;
    let monitor = app.monitor(&requester);
    // A passkey is a strong method: a high-risk sign-in goes on with it unless the
    // configuration refuses high risk outright.
    if signed_in.assessment.level == Level::High
        && app.settings.risk.high_action == HighRiskAction::Refuse
    {
        monitoring::sign_in_blocked(
            &app.store,
            &monitor,
            account,
            &signed_in.assessment,
            "high_risk",
        )
        .await?;
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "This sign-in looked unusual, so we stopped it to protect the account. We have told the account's owner and their local administrator.",
        ));
    }
    // A new session id at every sign-in; any session this browser had ends (SE-2).
    if let Some(old) = session_token(&app, &jar) {
        sessions::end_session(&app.store, &old).await?;
    }
    let new = NewSession {
        stage: SessionStage::SignedIn,
        auth_methods: passkey::auth_methods(signed_in.synced),
        second_factor_at: Some(now),
    };
    let token = sessions::start_session(&app.store, account, new, &requester, now).await?;
    monitoring::signed_in(
        &app.store,
        &monitor,
        account,
        Step::SecondFactor,
        "passkey",
        &signed_in.assessment,
    )
    .await?;
    let jar = jar.add(session_cookie(&app, &token));
    let target = safe_next(Some(&form.next)).unwrap_or_else(|| "/profile".to_string());
    let target =
        crate::web::sign_in::rollout::after_sign_in(&app, account, &requester, target).await?;
    Ok((jar, axum::Json(serde_json::json!({ "redirect": target }))).into_response())
}
