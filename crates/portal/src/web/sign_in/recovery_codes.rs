//! Recovery codes: made on Self-Service (after a fresh second factor), shown once with download
//! and print, and used at the second step through "Use a recovery code".

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{AnySession, CsrfForm, SignedIn, safe_next};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::sign_in::complete::reset_progress;
use crate::web::sign_in::flow::{Flow, ResetProof};
use crate::web::sign_in::pages::{RecoveryCodeUsedPage, RecoveryCodesPage, UseRecoveryCodePage};
use crate::web::sign_in::second_step::{locked_by_wrong_codes, mfa_context, recovery_code_offered};
use crate::web::sign_in::step_up::{ask_for_fresh_factor, needs_fresh_factor};
use crate::web::{AppError, AppState};
use domain::mfa::{self, MfaError};
use domain::recovery::{self, RecoveryCodeRecords};
use domain::sessions::SessionStage;

const PAGE: &str = "/profile/self-service/recovery-codes";
const USE: &str = "/sign-in/recovery-code";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(codes_page).post(create))
        .route(USE, get(use_page).post(use_code))
        .route("/sign-in/recovery-code/used", get(used_page))
}

async fn codes_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, AppError> {
    let account = &signed_in.0.account;
    let left = app.store.unused_recovery_codes(&account.id).await?.len();
    let has_methods = !mfa::methods_of(&app.store, &account.id).await?.is_empty();
    let page = RecoveryCodesPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        left,
        has_methods,
        codes: vec![],
        download: String::new(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct Empty {}

async fn create(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let account = &signed_in.0.account;
    if mfa::methods_of(&app.store, &account.id).await?.is_empty() {
        return Err(AppError::Forbidden(
            "Set up a multi-factor authentication method first: recovery codes back it up.".into(),
        ));
    }
    if needs_fresh_factor(&signed_in.0, true, app.now()) {
        return ask_for_fresh_factor(&app, &signed_in.0, PAGE).await;
    }
    let codes =
        recovery::create_recovery_codes(&app.store, &app.secrets, account, &requester, app.now())
            .await?;
    let shown: Vec<String> = codes.iter().map(|c| c.display()).collect();
    let text = format!(
        "NHSmal recovery codes for {}\r\nEach code works once. Keep them somewhere safe.\r\n\r\n{}\r\n",
        account.email,
        shown.join("\r\n")
    );
    let page = RecoveryCodesPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        left: shown.len(),
        has_methods: true,
        download: format!(
            "data:text/plain;charset=utf-8,{}",
            url::form_urlencoded::byte_serialize(text.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        ),
        codes: shown,
    };
    Ok(render(StatusCode::OK, &page))
}

fn use_form(
    app: &AppState,
    session: &AnySession,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let page = UseRecoveryCodePage {
        chrome: Chrome {
            signed_in: (session.0.record.stage == SessionStage::SignedIn)
                .then(|| session.0.account.display_name.clone()),
            csrf_token: session.csrf_token(app),
            admin: false,
            time_left: None,
        },
        errors: FieldError::on("recovery_code", &error),
        code_error: error,
    };
    render(status, &page)
}

async fn use_page(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return crate::web::sign_in::reset_step::decoy_recovery_code(&app, &jar, None).await;
    };
    if !recovery_code_offered(&app, &session).await? {
        return Err(AppError::NotFound);
    }
    Ok(use_form(&app, &session, StatusCode::OK, None))
}

#[derive(Deserialize)]
struct UseForm {
    #[serde(default)]
    recovery_code: String,
}

async fn use_code(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<UseForm>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return crate::web::sign_in::reset_step::decoy_recovery_code(
            &app,
            &jar,
            Some((&form.recovery_code, &requester)),
        )
        .await;
    };
    // At sign-in and step-up always; in a password reset where the policy allows, once.
    if !recovery_code_offered(&app, &session).await? {
        return Err(AppError::NotFound);
    }
    // In a reset, wrong codes lock the reset from this source, not the account.
    let ctx = mfa_context(&app, &requester, &session);
    match recovery::use_recovery_code(&app.store, &session.0.account, &form.recovery_code, &ctx)
        .await
    {
        Ok(_) if session.0.record.stage == SessionStage::PasswordReset => {
            let flow = Flow::of(&session.0);
            reset_progress(
                &app,
                &session,
                flow,
                ResetProof::RecoveryCode,
                &requester,
                jar,
            )
            .await
        }
        Ok(_left) => {
            let next = Flow::of(&session.0)
                .next
                .unwrap_or_else(|| "/profile".to_string());
            let account = &session.0.account;
            let counts = domain::policy::policy_for(&app.store, &account.org_code)
                .await?
                .recovery_code_counts(account.role);
            let response = crate::web::sign_in::complete::complete_with(
                &app, &session, "otp", counts, &requester, jar,
            )
            .await?;
            // Say how many are left before going on.
            let (mut parts, body) = response.into_parts();
            if parts.status.is_redirection() {
                let target = format!(
                    "/sign-in/recovery-code/used?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("next", &next)
                        .finish()
                );
                if let Ok(v) = axum::http::HeaderValue::from_str(&target) {
                    parts.headers.insert(axum::http::header::LOCATION, v);
                }
            }
            Ok(Response::from_parts(parts, body))
        }
        Err(MfaError::Locked { until }) => Err(locked_by_wrong_codes(until, ctx.now)),
        Err(MfaError::CodeMissing) => Ok(use_form(
            &app,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter a recovery code".into()),
        )),
        Err(MfaError::WrongCode { tries_left }) => Ok(use_form(
            &app,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(wrong_recovery_code(tries_left)),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct UsedQuery {
    next: Option<String>,
}

async fn used_page(
    State(app): State<AppState>,
    signed_in: crate::web::http::extract::MaybeSignedIn,
    Query(query): Query<UsedQuery>,
) -> Result<Response, AppError> {
    let Some(session) = signed_in.0 else {
        return Ok(Redirect::to("/sign-in").into_response());
    };
    let next = safe_next(query.next.as_deref()).unwrap_or_else(|| "/profile".into());
    // The count on the page is the one in the database, not the one in the address.
    let left = app
        .store
        .unused_recovery_codes(&session.account.id)
        .await?
        .len();
    let page = RecoveryCodeUsedPage {
        chrome: Chrome::signed_in(&app, &session),
        left,
        next,
    };
    Ok(render(StatusCode::OK, &page))
}

/// What a wrong (or spent) recovery code is told, with the warning before the lock.
pub(crate) fn wrong_recovery_code(tries_left: Option<i64>) -> String {
    format!(
        "The recovery code is not correct, or it has been used. Check it and try again{}",
        domain::mfa::tries_warning(tries_left)
    )
}
