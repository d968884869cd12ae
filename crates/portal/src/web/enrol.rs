//! Self-enrolment: Self-Service › "Self-enroll for MFA" › choose a method › set it up.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::extract::{CsrfForm, SignedIn};
use super::flow::Flow;
use super::pages::{
    Chrome, EnrolChoicePage, EnrolTotpPage, FieldError, MessagePage, MethodOption, render,
};
use super::second_step::{ask_for_fresh_factor, needs_fresh_factor};
use super::{AppError, AppState};
use crate::domain::audit::Requester;
use crate::domain::mfa::totp::{TotpSecret, qr_data_url};
use crate::domain::mfa::{self, MethodKind, MfaError, PendingTotp};

const CHOICE: &str = "/profile/self-service/enrol";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(CHOICE, get(choose))
        .route(
            "/profile/self-service/enrol/authenticator-app",
            get(totp_page).post(totp_verify),
        )
        .route("/profile/self-service/enrol/{slug}", get(not_yet))
}

fn chrome(app: &AppState, signed_in: &SignedIn) -> Chrome {
    Chrome {
        signed_in: Some(signed_in.0.account.display_name.clone()),
        csrf_token: signed_in.csrf_token(app),
    }
}

/// Adding a method to an account that has one needs a fresh second factor (LC-1).
async fn fresh_factor_check(
    app: &AppState,
    signed_in: &SignedIn,
    back_to: &str,
) -> Result<Option<Response>, AppError> {
    let has_methods = !mfa::methods_of(&app.store, &signed_in.0.account.id)
        .await?
        .is_empty();
    if needs_fresh_factor(&signed_in.0, has_methods, app.now()) {
        return Ok(Some(
            ask_for_fresh_factor(app, &signed_in.0, back_to).await?,
        ));
    }
    Ok(None)
}

#[derive(Deserialize)]
struct ChoiceQuery {
    method: Option<String>,
}

async fn choose(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<ChoiceQuery>,
) -> Result<Response, AppError> {
    if let Some(kind) = query.method.as_deref().and_then(MethodKind::parse) {
        return Ok(Redirect::to(&format!("{CHOICE}/{}", kind.slug())).into_response());
    }
    let error = query
        .method
        .is_some()
        .then(|| "Select how you want to prove it is you".to_string());
    let page = EnrolChoicePage {
        chrome: chrome(&app, &signed_in),
        errors: error
            .iter()
            .map(|m| FieldError {
                field: "method-totp",
                message: m.clone(),
            })
            .collect(),
        method_error: error.clone(),
        options: MethodKind::ALL
            .iter()
            .map(|k| MethodOption {
                value: k.as_str(),
                label: k.label(),
                hint: match k {
                    MethodKind::Totp => "Recommended. Microsoft Authenticator, Google Authenticator or any standard app shows a new 6-digit code every 30 seconds.",
                    MethodKind::Sms => "We text a 6-digit code to your mobile phone each time you sign in.",
                    MethodKind::Voice => "We call your phone; you press # to approve the sign-in.",
                    MethodKind::Fido2 => "A hardware security key that you plug in or tap.",
                },
            })
            .collect(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(status, &page))
}

fn totp_form(
    app: &AppState,
    signed_in: &SignedIn,
    secret: &TotpSecret,
    name: &str,
    status: StatusCode,
    error: Option<(&'static str, String)>,
) -> Response {
    let uri = secret.otpauth_uri(&signed_in.0.account.email);
    let page = EnrolTotpPage {
        chrome: chrome(app, signed_in),
        qr: qr_data_url(&uri),
        key: secret.base32_grouped(),
        name: name.to_string(),
        errors: error
            .iter()
            .map(|(field, message)| FieldError {
                field,
                message: message.clone(),
            })
            .collect(),
        code_error: error
            .as_ref()
            .filter(|(f, _)| *f == "code")
            .map(|(_, m)| m.clone()),
        name_error: error
            .as_ref()
            .filter(|(f, _)| *f == "name")
            .map(|(_, m)| m.clone()),
    };
    render(status, &page)
}

async fn totp_page(State(app): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    if let Some(redirect) = fresh_factor_check(
        &app,
        &signed_in,
        "/profile/self-service/enrol/authenticator-app",
    )
    .await?
    {
        return Ok(redirect);
    }
    // A new key each time the page is shown; the one shown last is the one a code must match.
    let secret = TotpSecret::generate();
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    flow.pending_totp = Some(PendingTotp::seal(&app.secrets, &secret, &key));
    flow.save(&app, &key).await?;
    Ok(totp_form(
        &app,
        &signed_in,
        &secret,
        "",
        StatusCode::OK,
        None,
    ))
}

#[derive(Deserialize)]
struct TotpForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

async fn totp_verify(
    State(app): State<AppState>,
    requester: Requester,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<TotpForm>,
) -> Result<Response, AppError> {
    if let Some(redirect) = fresh_factor_check(
        &app,
        &signed_in,
        "/profile/self-service/enrol/authenticator-app",
    )
    .await?
    {
        return Ok(redirect);
    }
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    let Some(pending) = flow.pending_totp.clone() else {
        // No key shown in this session (expired, or another tab finished): start again.
        return Ok(Redirect::to("/profile/self-service/enrol/authenticator-app").into_response());
    };
    let secret = pending
        .open(&app.secrets, &key)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let ctx = app.mfa(&requester);
    match mfa::finish_totp_enrolment(
        &app.store,
        &signed_in.0.account,
        &secret,
        &form.code,
        &form.name,
        &ctx,
    )
    .await
    {
        Ok(_) => {
            flow.pending_totp = None;
            flow.save(&app, &key).await?;
            Ok(Redirect::to("/profile/self-service?added=1").into_response())
        }
        Err(MfaError::Locked { until }) => Err(AppError::TooManyRequests {
            retry_after: until - ctx.now,
            message: format!(
                "There have been too many wrong codes. Try again after {}.",
                crate::clock::human(until)
            ),
        }),
        Err(e @ (MfaError::WrongCode | MfaError::CodeMissing)) => Ok(totp_form(
            &app,
            &signed_in,
            &secret,
            &form.name,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(("code", e.to_string())),
        )),
        Err(e @ (MfaError::BadName | MfaError::TooManyApps)) => Ok(totp_form(
            &app,
            &signed_in,
            &secret,
            &form.name,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(("name", e.to_string())),
        )),
        Err(MfaError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

async fn not_yet(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let kind = MethodKind::from_slug(&slug).ok_or(AppError::NotFound)?;
    let page = MessagePage {
        chrome: chrome(&app, &signed_in),
        heading: format!("Set up {}", kind.label().to_lowercase()),
        paragraphs: vec![format!(
            "Setting up a {} is not available yet. Choose an authenticator app for now.",
            kind.label().to_lowercase()
        )],
        link: Some((CHOICE.into(), "Choose another method".into())),
    };
    Ok(render(StatusCode::OK, &page))
}
