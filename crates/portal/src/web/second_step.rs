//! The second step: after a correct password (stage `SecondFactor`), or when a signed-in
//! person must prove it is them again before changing their methods (a fresh factor, LC-1).
//! Success always replaces the session with a new one (new id: SE-2).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::extract::{AnySession, CsrfForm, session_cookie};
use super::flow::Flow;
use super::pages::{AnotherWayPage, Chrome, FieldError, MethodChoice, VerifyPage, render};
use super::{AppError, AppState};
use crate::domain::audit::Requester;
use crate::domain::mfa::{self, Method, MethodKind, MfaError};
use crate::domain::sessions::{self, NewSession, SessionStage, SignedInSession};

/// How long a proved second factor counts as fresh for changing methods.
pub const FRESH_FACTOR_SECONDS: i64 = 15 * 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/verify", get(verify_page).post(verify))
        .route("/sign-in/another-way", get(another_way))
}

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
    let mut flow = Flow::of(session);
    flow.next = Some(back_to.to_string());
    flow.method = None;
    flow.save(app, &session.token.storage_key()).await?;
    Ok(Redirect::to("/sign-in/verify").into_response())
}

fn chrome(app: &AppState, session: &AnySession) -> Chrome {
    let signed_in = session.0.record.stage == SessionStage::SignedIn;
    Chrome {
        signed_in: signed_in.then(|| session.0.account.display_name.clone()),
        csrf_token: session.csrf_token(app),
    }
}

#[derive(Deserialize)]
struct VerifyQuery {
    method: Option<String>,
}

async fn chosen_method(
    app: &AppState,
    session: &AnySession,
    wanted: Option<&str>,
) -> Result<(Vec<Method>, Method), AppError> {
    let methods = mfa::methods_of(&app.store, &session.0.account.id).await?;
    let flow = Flow::of(&session.0);
    let wanted = wanted.or(flow.method.as_deref());
    let method = wanted
        .and_then(|id| methods.iter().find(|m| m.id == id))
        .or_else(|| methods.first())
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok((methods, method))
}

fn verify_form(
    app: &AppState,
    session: &AnySession,
    method: &Method,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let page = VerifyPage {
        chrome: chrome(app, session),
        heading: match method.kind {
            MethodKind::Totp => "Enter the code from your authenticator app".into(),
            _ => format!("Use your {}", method.kind.label().to_lowercase()),
        },
        hint: match method.kind {
            MethodKind::Totp => format!(
                "Open the authenticator app you called \u{201c}{}\u{201d} and enter the 6-digit code it shows for NHSmal.",
                method.name
            ),
            _ => String::new(),
        },
        method_id: method.id.clone(),
        errors: error
            .iter()
            .map(|m| FieldError {
                field: "code",
                message: m.clone(),
            })
            .collect(),
        code_error: error,
        step_up: session.0.record.stage == SessionStage::SignedIn,
    };
    render(status, &page)
}

async fn verify_page(
    State(app): State<AppState>,
    session: AnySession,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, AppError> {
    let (_, method) = chosen_method(&app, &session, query.method.as_deref()).await?;
    if query.method.is_some() {
        let mut flow = Flow::of(&session.0);
        flow.method = Some(method.id.clone());
        flow.save(&app, &session.0.token.storage_key()).await?;
    }
    Ok(verify_form(&app, &session, &method, StatusCode::OK, None))
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

async fn verify(
    State(app): State<AppState>,
    requester: Requester,
    session: AnySession,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let (_, method) = chosen_method(&app, &session, Some(&form.method)).await?;
    let account = &session.0.account;
    let ctx = app.mfa(&requester);
    let result = match method.kind {
        MethodKind::Totp => mfa::verify_totp(&app.store, account, &method, &form.code, &ctx).await,
        _ => Err(MfaError::NoSuchMethod),
    };
    metrics::counter!("nhsmal_sign_ins_total", "step" => "second_factor", "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
    match result {
        Ok(()) => {
            let flow = Flow::of(&session.0);
            let mut amr: Vec<&str> = session.0.record.auth_methods.split(' ').collect();
            if !amr.contains(&method.kind.amr()) {
                amr.push(method.kind.amr());
            }
            if !amr.contains(&"mfa") {
                amr.push("mfa");
            }
            sessions::end_session(&app.store, &session.0.token).await?;
            let new = NewSession {
                stage: SessionStage::SignedIn,
                auth_methods: &amr.join(" "),
                second_factor_at: Some(ctx.now),
            };
            let token =
                sessions::start_session(&app.store, account, new, &requester, ctx.now).await?;
            let jar = jar.add(session_cookie(&app, &token));
            let target = flow.next.unwrap_or_else(|| "/profile".to_string());
            Ok((jar, Redirect::to(&target)).into_response())
        }
        Err(MfaError::Locked { until }) => Err(AppError::TooManyRequests {
            retry_after: until - ctx.now,
            message: format!(
                "There have been too many wrong codes, so your account is locked until {}. We have emailed you about it. If you did not try to sign in, contact your local administrator.",
                crate::clock::human(until)
            ),
        }),
        Err(e @ (MfaError::WrongCode | MfaError::CodeMissing)) => Ok(verify_form(
            &app,
            &session,
            &method,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(e.to_string()),
        )),
        Err(MfaError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

async fn another_way(
    State(app): State<AppState>,
    session: AnySession,
) -> Result<Response, AppError> {
    let methods = mfa::methods_of(&app.store, &session.0.account.id).await?;
    let page = AnotherWayPage {
        chrome: chrome(&app, &session),
        methods: methods
            .iter()
            .map(|m| MethodChoice {
                href: format!("/sign-in/verify?method={}", m.id),
                label: format!("{}: {}", m.kind.label(), m.name),
                detail: m.masked_detail(),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}
