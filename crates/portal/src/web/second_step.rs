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
use super::flow::{Flow, ResetProof};
use super::pages::{AnotherWayPage, Chrome, FieldError, MethodChoice, VerifyPage, render};
use super::{AppError, AppState};
use crate::domain::audit::Requester;
use crate::domain::mfa::approvals::{self, ApprovalRecords, ApprovalStatus};
use crate::domain::mfa::phone::{self, E164, Purpose};
use crate::domain::mfa::{self, CallOutcome, Method, MethodKind, MfaError};
use crate::domain::policy;
use crate::domain::sessions::{self, NewSession, SessionStage, SignedInSession};

/// How long a proved second factor counts as fresh for changing methods.
pub const FRESH_FACTOR_SECONDS: i64 = 15 * 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/verify", get(verify_page).post(verify))
        .route("/sign-in/verify/resend", axum::routing::post(resend))
        .route(
            "/sign-in/verify/security-key/options",
            axum::routing::post(key_options),
        )
        .route(
            "/sign-in/verify/security-key/finish",
            axum::routing::post(key_finish),
        )
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
    prepare_fresh_factor(app, session, back_to).await?;
    Ok(Redirect::to(VERIFY).into_response())
}

/// Records where to come back to after the second step; the caller sends the person to
/// [`VERIFY`].
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

pub const VERIFY: &str = "/sign-in/verify";

/// The context for checking a factor in this session: during a reset, failures are counted
/// for the client source (see `MfaContext::reset_source`).
pub(super) fn mfa_context<'a>(
    app: &'a AppState,
    requester: &'a Requester,
    session: &AnySession,
) -> crate::domain::mfa::MfaContext<'a> {
    let mut ctx = app.mfa(requester);
    if session.0.record.stage == SessionStage::PasswordReset {
        ctx.reset_source = Some(crate::domain::signin::client_source(&requester.ip));
    }
    ctx
}

/// What texts and calls say they are for.
fn purpose_of(session: &AnySession) -> Purpose {
    if session.0.record.stage == SessionStage::PasswordReset {
        Purpose::PasswordReset
    } else {
        Purpose::SignIn
    }
}

/// What a password reset asks for at this step.
fn reset_note(flow: &Flow) -> Option<String> {
    let progress = flow.reset.as_ref()?;
    let proved = progress.proved.len() + usize::from(progress.recovery_code);
    Some(match (progress.needed, proved) {
        (1, _) => "To reset your password, prove it is you.".into(),
        (_, 0) => {
            "To reset your password, prove it is you with two different methods. This is the first."
                .into()
        }
        _ => "Now prove it is you with a second, different method.".into(),
    })
}

fn chrome(app: &AppState, session: &AnySession) -> Chrome {
    let signed_in = session.0.record.stage == SessionStage::SignedIn;
    Chrome {
        signed_in: signed_in.then(|| session.0.account.display_name.clone()),
        csrf_token: session.csrf_token(app),
        admin: false,
    }
}

/// Whether "Use a recovery code" is offered: always at sign-in and at a step-up; in a password
/// reset only where the policy lets a code prove one of its methods, and once.
pub(super) async fn recovery_code_offered(
    app: &AppState,
    session: &AnySession,
) -> Result<bool, AppError> {
    if session.0.record.stage != SessionStage::PasswordReset {
        return Ok(true);
    }
    let account = &session.0.account;
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    let used = Flow::of(&session.0).reset.is_some_and(|r| r.recovery_code);
    Ok(policy.recovery_codes_for_reset && !used)
}

#[derive(Deserialize)]
struct VerifyQuery {
    method: Option<String>,
}

/// The methods this person may use here: those the policy allows, or, when they have none of
/// those, their old ones (to prove who they are before enrolling an allowed one).
async fn offered_methods(app: &AppState, session: &AnySession) -> Result<Vec<Method>, AppError> {
    let account = &session.0.account;
    let methods = mfa::methods_of(&app.store, &account.id).await?;
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    // A reset needing two methods asks for a different kind the second time.
    if session.0.record.stage != SessionStage::PasswordReset {
        let mut offered = policy::methods_for_sign_in(&policy, account.role, methods);
        // A high-risk sign-in is finished only by an app or a security key; an app that asked
        // for a phishing-resistant sign-in, only by a key.
        let flow = Flow::of(&session.0);
        if flow.strong_only {
            offered.retain(|m| crate::domain::monitoring::is_strong(m.kind));
        }
        if flow.security_key_only {
            offered.retain(|m| m.kind == MethodKind::Fido2);
        }
        return Ok(offered);
    }
    let proved = Flow::of(&session.0)
        .reset
        .map(|r| r.proved)
        .unwrap_or_default();
    Ok(crate::domain::recovery::reset_methods(
        &policy,
        account.role,
        methods,
        &proved,
    ))
}

async fn chosen_method(
    app: &AppState,
    session: &AnySession,
    wanted: Option<&str>,
) -> Result<(Vec<Method>, Method), AppError> {
    let methods = offered_methods(app, session).await?;
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
    let phone = method
        .phone
        .clone()
        .map(E164)
        .map(|p| p.masked())
        .unwrap_or_default();
    let (mode, resend_label, heading, hint) = match method.kind {
        MethodKind::Totp => (
            "code",
            None,
            "Enter the code from your authenticator app".to_string(),
            format!(
                "Open the authenticator app you called \u{201c}{}\u{201d} and enter the 6-digit code it shows for NHSmal.",
                method.name
            ),
        ),
        MethodKind::Sms => (
            "code",
            Some("Send again"),
            "Enter the code we sent to your phone".to_string(),
            format!(
                "We have sent a 6-digit code by text message to your phone {phone}. It expires in 10 minutes."
            ),
        ),
        MethodKind::Voice => (
            "call",
            Some("Call again"),
            "Answer the call to your phone".to_string(),
            format!(
                "We are calling your phone {phone}. Answer it and press the hash key (#) to approve this sign-in. If this is not you, press 0 then #."
            ),
        ),
        MethodKind::Fido2 => (
            "key",
            None,
            "Use your security key".to_string(),
            format!(
                "Use the security key you called \u{201c}{}\u{201d}.",
                method.name
            ),
        ),
    };
    let page = VerifyPage {
        chrome: chrome(app, session),
        mode,
        resend_label,
        heading,
        hint,
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
        reset_note: reset_note(&Flow::of(&session.0)),
        remember_days: Flow::of(&session.0)
            .remember_days
            .filter(|_| session.0.record.stage == SessionStage::SecondFactor),
    };
    render(status, &page)
}

/// For a text message or a call, sends the code or places the call as the step opens (unless
/// one is still live for this session and number); `force` sends again.
async fn reach_phone(
    app: &AppState,
    requester: &Requester,
    session: &AnySession,
    method: &Method,
    force: bool,
) -> Result<Option<(StatusCode, String)>, AppError> {
    let Some(phone) = method.phone.clone().map(E164) else {
        return Ok(None);
    };
    let key = session.0.token.storage_key();
    let ctx = mfa_context(app, requester, session);
    let account = &session.0.account;
    let purpose = purpose_of(session);
    let result = match method.kind {
        MethodKind::Sms => {
            if !force && phone::has_live_code(&app.store, &key, purpose, &phone, ctx.now).await? {
                return Ok(None);
            }
            phone::send_code(&app.store, &ctx, account, &key, purpose, &phone).await
        }
        MethodKind::Voice => {
            let mut flow = Flow::of(&session.0);
            if !force
                && let Some(id) = &flow.approval
                && let Some(a) = app.store.approval(id).await?
                && a.phone.as_deref() == Some(phone.as_str())
                && matches!(
                    a.status_at(ctx.now),
                    ApprovalStatus::Pending | ApprovalStatus::Approved
                )
            {
                return Ok(None);
            }
            match approvals::place_call(
                &app.store,
                &ctx,
                account,
                &key,
                purpose,
                &phone,
                &super::telephony::keypad_base(app),
            )
            .await
            {
                Ok(id) => {
                    flow.approval = Some(id);
                    flow.save(app, &key).await?;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        _ => return Ok(None),
    };
    match result {
        Ok(()) => Ok(None),
        Err(
            e @ (MfaError::TooManySends { .. } | MfaError::Locked { .. } | MfaError::CallsStopped),
        ) => Ok(Some((StatusCode::TOO_MANY_REQUESTS, e.to_string()))),
        Err(e @ MfaError::ProviderFailed(_)) => {
            Ok(Some((StatusCode::SERVICE_UNAVAILABLE, e.to_string())))
        }
        Err(MfaError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

async fn verify_page(
    State(app): State<AppState>,
    requester: Requester,
    session: Option<AnySession>,
    jar: CookieJar,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::page(&app, &jar, StatusCode::OK, None);
    };
    let method = match chosen_method(&app, &session, query.method.as_deref()).await {
        Ok((_, method)) => method,
        // A reset whose remaining proof can only be a recovery code.
        Err(AppError::NotFound) if recovery_code_offered(&app, &session).await? => {
            return Ok(Redirect::to("/sign-in/recovery-code").into_response());
        }
        Err(e) => return Err(e),
    };
    if query.method.is_some() {
        let mut flow = Flow::of(&session.0);
        flow.method = Some(method.id.clone());
        flow.save(&app, &session.0.token.storage_key()).await?;
    }
    match reach_phone(&app, &requester, &session, &method, false).await? {
        None => Ok(verify_form(&app, &session, &method, StatusCode::OK, None)),
        Some((status, problem)) => Ok(verify_form(&app, &session, &method, status, Some(problem))),
    }
}

async fn resend(
    State(app): State<AppState>,
    requester: Requester,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::resend(&app, &jar);
    };
    let (_, method) = chosen_method(&app, &session, Some(&form.method)).await?;
    match reach_phone(&app, &requester, &session, &method, true).await? {
        None => Ok(Redirect::to(&format!("/sign-in/verify?method={}", method.id)).into_response()),
        Some((status, problem)) => Ok(verify_form(&app, &session, &method, status, Some(problem))),
    }
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
    /// "Don't ask again on this device".
    remember: Option<String>,
}

async fn verify(
    State(app): State<AppState>,
    requester: Requester,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::wrong_code(&app, &jar, &requester).await;
    };
    let (_, method) = chosen_method(&app, &session, Some(&form.method)).await?;
    let account = &session.0.account;
    let ctx = mfa_context(&app, &requester, &session);
    let key = session.0.token.storage_key();
    let result = match method.kind {
        MethodKind::Totp => mfa::verify_totp(&app.store, account, &method, &form.code, &ctx).await,
        MethodKind::Sms => {
            let purpose = purpose_of(&session);
            mfa::verify_sms(
                &app.store, account, &method, &key, purpose, &form.code, &ctx,
            )
            .await
        }
        MethodKind::Voice => {
            let approval = Flow::of(&session.0).approval.unwrap_or_default();
            let purpose = purpose_of(&session);
            match mfa::verify_call(&app.store, account, &method, &key, purpose, &approval, &ctx)
                .await
            {
                Ok(()) => Ok(()),
                Err(CallOutcome::Locked { until }) => Err(MfaError::Locked { until }),
                Err(CallOutcome::Storage(e)) => Err(MfaError::Storage(e)),
                Err(CallOutcome::Waiting(ApprovalStatus::Denied)) => {
                    // 0# on the call: this sign-in is over.
                    sessions::end_session(&app.store, &session.0.token).await?;
                    let page = super::pages::MessagePage {
                        chrome: Chrome::anonymous(),
                        heading: "Sign-in blocked".into(),
                        paragraphs: vec!["You reported on the call that this sign-in was not you, so we have blocked it and emailed you. If someone else knows your password, change it as soon as you can.".into()],
                        link: Some(("/sign-in".into(), "Back to sign in".into())),
                    };
                    return Ok(render(StatusCode::FORBIDDEN, &page));
                }
                Err(CallOutcome::Waiting(ApprovalStatus::Pending)) => {
                    return Ok(verify_form(
                        &app,
                        &session,
                        &method,
                        StatusCode::ACCEPTED,
                        Some("We are still waiting for you to answer the call and press #".into()),
                    ));
                }
                Err(CallOutcome::Waiting(_)) => {
                    return Ok(verify_form(
                        &app,
                        &session,
                        &method,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("The call has ended. Select Call again".into()),
                    ));
                }
            }
        }
        // A key answers through its own endpoints, never this form.
        MethodKind::Fido2 => Err(MfaError::KeyRefused),
    };
    metrics::counter!("nhsmal_sign_ins_total", "step" => "second_factor", "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
    match result {
        Ok(()) => {
            let days = Flow::of(&session.0).remember_days.unwrap_or(0);
            // Only a method the policy counts earns a remembered device.
            let counts = policy::policy_for(&app.store, &account.org_code)
                .await?
                .counts_as_mfa(account.role, method.kind);
            let jar = if form.remember.is_some()
                && days > 0
                && counts
                && session.0.record.stage == SessionStage::SecondFactor
            {
                let (token, expires_at) = crate::domain::devices::remember(
                    &app.store,
                    &session.0.account,
                    days,
                    &requester,
                    app.now(),
                )
                .await?;
                jar.add(super::extract::device_cookie(
                    &app,
                    token.0,
                    expires_at - app.now(),
                ))
            } else {
                jar
            };
            complete(&app, &session, method.kind, &requester, jar).await
        }
        Err(MfaError::Locked { until }) => Err(locked_by_wrong_codes(until, ctx.now)),
        Err(e @ (MfaError::WrongCode | MfaError::CodeMissing | MfaError::CodeExpired)) => {
            Ok(verify_form(
                &app,
                &session,
                &method,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.to_string()),
            ))
        }
        Err(MfaError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// The second factor is proved: a new session (new id), signed in, recording the methods
/// used (RFC 8176 `amr`) and when; then on to where the person was going.
async fn complete(
    app: &AppState,
    session: &AnySession,
    kind: MethodKind,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if session.0.record.stage == SessionStage::PasswordReset {
        let flow = Flow::of(&session.0);
        return reset_progress(app, session, flow, ResetProof::Method(kind), requester, jar).await;
    }
    // A method the policy no longer allows proves who the person is, but does not count as
    // MFA: without "mfa" the session is held to enrolling an allowed method when required.
    let account = &session.0.account;
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    let counts = policy.counts_as_mfa(account.role, kind);
    complete_with(app, session, kind.amr(), counts, requester, jar).await
}

/// The second factor (`amr_value`, RFC 8176) is proved: a new session (new id), signed in,
/// recording it and when; `counts` says whether it counts as MFA under the policy.
pub async fn complete_with(
    app: &AppState,
    session: &AnySession,
    amr_value: &str,
    counts: bool,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let now = app.now();
    let flow = Flow::of(&session.0);
    let account = &session.0.account;
    let mut amr: Vec<&str> = session.0.record.auth_methods.split(' ').collect();
    for value in [amr_value, "mfa"] {
        if !amr.contains(&value) && (value != "mfa" || counts) {
            amr.push(value);
        }
    }
    let new = NewSession {
        stage: SessionStage::SignedIn,
        auth_methods: &amr.join(" "),
        second_factor_at: Some(now),
    };
    // One write gives the session a new id (SE-2); of two requests racing, only one gets it.
    let Some(token) = sessions::rotate_session(
        &app.store,
        &session.0.token,
        &session.0.account,
        new,
        requester,
        now,
    )
    .await?
    else {
        return Err(AppError::SignInRequired { next: None });
    };
    let jar = jar.add(session_cookie(app, &token));
    // A sign-in (not a step-up of one already signed in) is logged with the risk its password
    // step found; an unusual one emails the person.
    if session.0.record.stage == SessionStage::SecondFactor {
        let monitor = app.monitor(requester);
        crate::domain::monitoring::signed_in(
            &app.store,
            &monitor,
            account,
            crate::domain::monitoring::Step::SecondFactor,
            amr_value,
            &flow.assessment(),
        )
        .await?;
    }
    let mut target = flow.next.unwrap_or_else(|| "/profile".to_string());
    if !counts {
        target = super::rollout::after_sign_in(app, account, target).await?;
    }
    Ok((jar, Redirect::to(&target)).into_response())
}

/// A method proved during a password reset: on to the next method, or to the new password.
/// Each step gets a new session id, as at sign-in.
pub(super) async fn reset_progress(
    app: &AppState,
    session: &AnySession,
    mut flow: Flow,
    proof: ResetProof,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let now = app.now();
    let Some(mut progress) = flow.reset.take() else {
        return Err(AppError::SignInRequired { next: None });
    };
    match proof {
        ResetProof::Method(kind) if !progress.proved.contains(&kind) => progress.proved.push(kind),
        ResetProof::Method(_) => {}
        ResetProof::RecoveryCode => progress.recovery_code = true,
    }
    let done = progress.done();
    let new = NewSession {
        stage: SessionStage::PasswordReset,
        auth_methods: "",
        second_factor_at: Some(now),
    };
    let Some(token) = sessions::rotate_session(
        &app.store,
        &session.0.token,
        &session.0.account,
        new,
        requester,
        now,
    )
    .await?
    else {
        return Err(AppError::SignInRequired { next: None });
    };
    flow.reset = Some(progress);
    flow.method = None;
    flow.approval = None;
    // A challenge answered is never carried into the next session (WA-1).
    flow.key_authentication = None;
    flow.save(app, &token.storage_key()).await?;
    let jar = jar.add(session_cookie(app, &token));
    let target = if done {
        super::reset::NEW_PASSWORD
    } else {
        "/sign-in/verify"
    };
    Ok((jar, Redirect::to(target)).into_response())
}

/// The answer once wrong codes have locked the second step (at sign-in or in a reset).
pub(super) fn locked_by_wrong_codes(until: i64, now: i64) -> AppError {
    AppError::TooManyRequests {
        retry_after: until - now,
        message: format!(
            "There have been too many wrong codes, so your account is locked until {}. We have emailed you about it. If you did not try to sign in, contact your local administrator.",
            crate::clock::human(until)
        ),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn key_options(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::key_options(&app, &jar);
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
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    let mut flow = Flow::of(&session.0);
    flow.key_authentication = Some(state);
    flow.method = Some(form.method);
    flow.save(&app, &session.0.token.storage_key()).await?;
    Ok(axum::Json(options).into_response())
}

#[derive(Deserialize)]
struct KeyAnswer {
    #[serde(default)]
    credential: String,
}

async fn key_finish(
    State(app): State<AppState>,
    requester: Requester,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<KeyAnswer>,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::key_finish(&app, &jar);
    };
    let mut flow = Flow::of(&session.0);
    let Some(state) = flow.key_authentication.take() else {
        return Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Start again: select Use security key",
        ));
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
                crate::clock::human(until)
            ),
        )),
        Err(e @ MfaError::KeyRefused) => {
            Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))
        }
        Err(MfaError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

async fn another_way(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return decoy::another_way(&app, &jar).await;
    };
    let methods = offered_methods(&app, &session).await?;
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
        recovery: recovery_code_offered(&app, &session).await?,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The second step of a password reset for an address that cannot be reset (see
/// `web::reset`): it looks like an authenticator app's and never accepts a code. Every route a
/// real reset's second step has answers a decoy as it would answer a real reset whose only
/// method is an authenticator app. Without a decoy cookie these pages send people to sign in.
pub(super) mod decoy {
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Redirect, Response};
    use axum_extra::extract::cookie::CookieJar;

    use super::super::pages::{
        AnotherWayPage, Chrome, FieldError, MethodChoice, UseRecoveryCodePage, VerifyPage, render,
    };
    use super::super::reset::{decoy_csrf, decoy_tag};
    use super::super::{AppError, AppState};
    use crate::domain::audit::Requester;
    use crate::domain::mfa::MfaError;
    use crate::domain::policy;
    use crate::domain::signin::{SignInLimitRecords, client_source};

    /// The address tag of the browser's live decoy, or the answer a browser without one gets.
    fn tag(app: &AppState, jar: &CookieJar) -> Result<String, AppError> {
        decoy_tag(app, jar).ok_or(AppError::SignInRequired { next: None })
    }

    /// A made-up method id, a version-4 UUID like a real one, the same for every reset of
    /// one address (as a real method's id is).
    fn method_id(app: &AppState, tag: &str) -> String {
        let hex = app
            .secrets
            .mac_hex(format!("password-reset-decoy-method\0{tag}").as_bytes());
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
        }
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    fn chrome(app: &AppState, jar: &CookieJar) -> Chrome {
        Chrome {
            signed_in: None,
            csrf_token: decoy_csrf(app, jar),
            admin: false,
        }
    }

    /// Whether a real reset would offer "Use a recovery code" (the national policy: a decoy
    /// has no organisation).
    async fn recovery_offered(app: &AppState) -> Result<bool, AppError> {
        Ok(policy::policy_for(&app.store, policy::NATIONAL)
            .await?
            .recovery_codes_for_reset)
    }

    pub fn page(
        app: &AppState,
        jar: &CookieJar,
        status: StatusCode,
        error: Option<String>,
    ) -> Result<Response, AppError> {
        let tag = tag(app, jar)?;
        let page = VerifyPage {
            chrome: chrome(app, jar),
            mode: "code",
            resend_label: None,
            heading: "Enter the code from your authenticator app".into(),
            hint: "Open the authenticator app you called \u{201c}Authenticator app\u{201d} and enter the 6-digit code it shows for NHSmal.".into(),
            method_id: method_id(app, &tag),
            errors: error
                .iter()
                .map(|m| FieldError {
                    field: "code",
                    message: m.clone(),
                })
                .collect(),
            code_error: error,
            step_up: false,
            reset_note: Some("To reset your password, prove it is you.".into()),
            remember_days: None,
        };
        Ok(render(status, &page))
    }

    /// A wrong guess, counted as a real reset counts them: per address and client source, so
    /// the same 422s, then the same 429 from the attempt after the limit, whichever email step
    /// the browser came through.
    async fn count_guess(
        app: &AppState,
        tag: &str,
        requester: &Requester,
    ) -> Result<Option<AppError>, AppError> {
        let now = app.now();
        let key = format!("reset:decoy:{tag}:{}", client_source(&requester.ip));
        let limits = &app.settings.sign_in_limits;
        let state = app.store.count_failure(&key, now, now - 86_400).await?;
        if state.failures <= limits.lock_after {
            return Ok(None);
        }
        let until = if state.blocked_until > now {
            state.blocked_until
        } else {
            app.store
                .block_until(&key, now + limits.lock_seconds)
                .await?;
            now + limits.lock_seconds
        };
        Ok(Some(super::locked_by_wrong_codes(until, now)))
    }

    /// Every code is wrong.
    pub async fn wrong_code(
        app: &AppState,
        jar: &CookieJar,
        requester: &Requester,
    ) -> Result<Response, AppError> {
        let tag = tag(app, jar)?;
        if let Some(locked) = count_guess(app, &tag, requester).await? {
            return Err(locked);
        }
        page(
            app,
            jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(MfaError::WrongCode.to_string()),
        )
    }

    /// "Send again" on an authenticator app's step sends nothing and shows the step again.
    pub fn resend(app: &AppState, jar: &CookieJar) -> Result<Response, AppError> {
        let tag = tag(app, jar)?;
        Ok(
            Redirect::to(&format!("/sign-in/verify?method={}", method_id(app, &tag)))
                .into_response(),
        )
    }

    /// Security-key options: this "person" has no key.
    pub fn key_options(app: &AppState, jar: &CookieJar) -> Result<Response, AppError> {
        tag(app, jar)?;
        Ok(super::json_error(
            StatusCode::NOT_FOUND,
            "No security key is registered",
        ))
    }

    /// A security-key answer without options asked first.
    pub fn key_finish(app: &AppState, jar: &CookieJar) -> Result<Response, AppError> {
        tag(app, jar)?;
        Ok(super::json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Start again: select Use security key",
        ))
    }

    /// The status of a call nobody placed.
    pub fn approval_status(app: &AppState, jar: &CookieJar) -> Result<Response, AppError> {
        tag(app, jar)?;
        Ok(axum::Json(serde_json::json!({ "status": "expired" })).into_response())
    }

    pub async fn another_way(app: &AppState, jar: &CookieJar) -> Result<Response, AppError> {
        let tag = tag(app, jar)?;
        let id = method_id(app, &tag);
        let page = AnotherWayPage {
            chrome: chrome(app, jar),
            methods: vec![MethodChoice {
                href: format!("/sign-in/verify?method={id}"),
                label: "Authenticator app: Authenticator app".into(),
                detail: String::new(),
            }],
            recovery: recovery_offered(app).await?,
        };
        Ok(render(StatusCode::OK, &page))
    }

    /// "Use a recovery code": offered as a real reset would offer it; no code is right.
    pub async fn recovery_code(
        app: &AppState,
        jar: &CookieJar,
        guess: Option<(&str, &Requester)>,
    ) -> Result<Response, AppError> {
        let tag = tag(app, jar)?;
        if !recovery_offered(app).await? {
            return Err(AppError::NotFound);
        }
        let (status, error) = match guess {
            None => (StatusCode::OK, None),
            Some((typed, _)) if typed.trim().is_empty() => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("Enter a recovery code".to_string()),
            ),
            Some((_, requester)) => {
                if let Some(locked) = count_guess(app, &tag, requester).await? {
                    return Err(locked);
                }
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(
                        "The recovery code is not correct, or it has been used. Check it and try again"
                            .to_string(),
                    ),
                )
            }
        };
        let page = UseRecoveryCodePage {
            chrome: chrome(app, jar),
            errors: error
                .iter()
                .map(|m| FieldError {
                    field: "recovery_code",
                    message: m.clone(),
                })
                .collect(),
            code_error: error,
        };
        Ok(render(status, &page))
    }
}
