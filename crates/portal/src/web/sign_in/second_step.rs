//! The second step: after a correct password (stage `SecondFactor`), or when a signed-in
//! person must prove it is them again before changing their methods (a fresh factor, LC-1).
//! Success always replaces the session with a new one (new id: SE-2).

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{AnySession, CsrfForm};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::sign_in::complete::complete_as;
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::pages::{AnotherWayPage, MethodChoice, VerifyPage};
use crate::web::sign_in::push_step;
use crate::web::sign_in::reset_step::{self, ResetStep, step_of};
use crate::web::{AppError, AppState};
use domain::audit::Requester;
use domain::mfa::approvals::{self, ApprovalRecords, ApprovalStatus};
use domain::mfa::phone::{self, E164, Purpose};
use domain::mfa::{self, CallOutcome, Method, MethodKind, MfaError};
use domain::policy;
use domain::sessions::{self, SessionStage};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/verify", get(verify_page).post(verify))
        .route("/sign-in/verify/resend", axum::routing::post(resend))
        .route("/sign-in/another-way", get(another_way))
}

pub const VERIFY: &str = "/sign-in/verify";

/// The context for checking a factor in this session: during a reset, failures are counted
/// for the client source (see `MfaContext::reset_source`).
pub(crate) fn mfa_context<'a>(
    app: &'a AppState,
    requester: &'a Requester,
    session: &AnySession,
) -> domain::mfa::MfaContext<'a> {
    let mut ctx = app.mfa(requester);
    if session.0.record.stage == SessionStage::PasswordReset {
        ctx.reset_source = Some(domain::limits::client_source(&requester.ip));
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

fn chrome(app: &AppState, session: &AnySession) -> Chrome {
    let signed_in = session.0.record.stage == SessionStage::SignedIn;
    Chrome {
        signed_in: signed_in.then(|| session.0.account.display_name.clone()),
        csrf_token: session.csrf_token(app),
        admin: false,
        // Not in a password reset: its pages must read the same as those of an address with
        // no account (the decoy), which has no session to extend.
        time_left: (session.0.record.stage != SessionStage::PasswordReset).then(|| {
            domain::sessions::seconds_left(&session.0.record, &app.settings.sessions, app.now())
        }),
    }
}

/// Whether "Use a recovery code" is offered: always at sign-in and at a step-up; in a password
/// reset only where the policy lets a code prove one of its methods, and once.
pub(crate) async fn recovery_code_offered(
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
    /// "code": type the NHSmal Authenticator's code instead of approving a push; "push": back.
    with: Option<String>,
}

/// The methods this person may use here: those the policy allows, or, when they have none of
/// those, their old ones (to prove who they are before enrolling an allowed one).
pub(crate) async fn offered_methods(
    app: &AppState,
    session: &AnySession,
) -> Result<Vec<Method>, AppError> {
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
            offered.retain(|m| domain::monitoring::is_strong(m.kind));
        }
        if flow.security_key_only {
            offered.retain(|m| m.kind == MethodKind::Fido2);
        }
        // System-preferred: the strongest method the person has is offered first, with
        // "Use another method" as always.
        if policy.strength.system_preferred {
            domain::strength::strongest_first(&mut offered);
        }
        return Ok(offered);
    }
    let proved = Flow::of(&session.0)
        .reset
        .map(|r| r.proved)
        .unwrap_or_default();
    Ok(domain::recovery::reset_methods(
        &policy,
        account.role,
        methods,
        &proved,
    ))
}

pub(crate) async fn chosen_method(
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
    verify_form_with(app, session, method, status, error, None)
}

/// The push step shows the number of this session's request (`approval`, or the one in the
/// flow), when one is out.
async fn push_form(
    app: &AppState,
    session: &AnySession,
    method: &Method,
    status: StatusCode,
    error: Option<String>,
    approval: Option<String>,
) -> Result<Response, AppError> {
    let number = match approval.or(Flow::of(&session.0).approval) {
        Some(id) => app
            .store
            .approval(&id)
            .await?
            .filter(|a| a.channel == "push" && a.status_at(app.now()) == ApprovalStatus::Pending)
            .and_then(|a| a.number),
        None => None,
    };
    // A reset's number is shown before its request is saved (it is sent in the background).
    let number = number.or_else(|| {
        (session.0.record.stage == SessionStage::PasswordReset)
            .then(|| reset_step::real_push_number(app, session, method))
            .flatten()
    });
    Ok(verify_form_with(
        app, session, method, status, error, number,
    ))
}

fn verify_form_with(
    app: &AppState,
    session: &AnySession,
    method: &Method,
    status: StatusCode,
    error: Option<String>,
    number: Option<String>,
) -> Response {
    let use_code = Flow::of(&session.0).use_code;
    let phone = method
        .phone
        .clone()
        .map(E164)
        .map(|p| p.masked())
        .unwrap_or_default();
    let reset = session.0.record.stage == SessionStage::PasswordReset;
    let (mode, resend_label, heading, hint) = match method.kind {
        // A reset's step names no method of the account (web::reset_step).
        kind if reset => {
            let (mode, resend, heading, hint) = crate::web::sign_in::reset_step::words(kind);
            (mode, resend, heading.to_string(), hint.to_string())
        }
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
        MethodKind::Push if use_code => (
            "code",
            None,
            "Enter the code from your NHSmal Authenticator".to_string(),
            format!(
                "Open the NHSmal Authenticator on the device you called \u{201c}{}\u{201d} and enter the 6-digit code it shows for NHSmal. Codes work without a signal.",
                method.name
            ),
        ),
        MethodKind::Push => (
            "push",
            Some("Send again"),
            "Approve the request in your NHSmal Authenticator".to_string(),
            format!(
                "We have sent a request to the NHSmal Authenticator on the device you called \u{201c}{}\u{201d}. Open it, check the details, and type this number:",
                method.name
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
    let push_code_link = (method.kind == MethodKind::Push).then(|| {
        if use_code {
            (
                format!("{VERIFY}?method={}&with=push", method.id),
                "Send a request to the app instead",
            )
        } else {
            (
                format!("{VERIFY}?method={}&with=code", method.id),
                "No signal? Enter a code from the app instead",
            )
        }
    });
    let page = VerifyPage {
        chrome: chrome(app, session),
        number,
        push_code_link,
        mode,
        resend_label,
        heading,
        hint,
        method_id: if reset {
            method.kind.as_str().to_string()
        } else {
            method.id.clone()
        },
        errors: FieldError::on("code", &error),
        code_error: error,
        step_up: (session.0.record.stage == SessionStage::SignedIn).then(|| {
            let next = Flow::of(&session.0).next.unwrap_or_default();
            if next.starts_with("/admin") {
                "To open the admin area, prove it is you again."
            } else {
                "To change how you sign in, prove it is you again."
            }
        }),
        help: help_for(method.kind),
        reset_note: reset
            .then(|| crate::web::sign_in::reset_step::reset_note(&Flow::of(&session.0))),
        remember_days: Flow::of(&session.0)
            .remember_days
            .filter(|_| session.0.record.stage == SessionStage::SecondFactor),
    };
    render(status, &page)
}

/// The help page about signing in with a kind of method.
pub(crate) fn help_for(kind: MethodKind) -> (&'static str, &'static str) {
    match kind {
        MethodKind::Totp => (
            "/help/sign-in-authenticator-app",
            "Help with signing in with an authenticator app",
        ),
        MethodKind::Sms => (
            "/help/sign-in-text-message",
            "Help with signing in with a text message",
        ),
        MethodKind::Voice => (
            "/help/sign-in-phone-call",
            "Help with signing in with a phone call",
        ),
        MethodKind::Fido2 => (
            "/help/sign-in-security-key",
            "Help with signing in with a security key",
        ),
        MethodKind::Push => (
            "/help/sign-in-nhsmal-authenticator",
            "Help with signing in with the NHSmal Authenticator",
        ),
    }
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
    let phone = method.phone.clone().map(E164);
    if phone.is_none() {
        return Ok(None);
    }
    let key = session.0.token.storage_key();
    let ctx = mfa_context(app, requester, session);
    let account = &session.0.account;
    let purpose = purpose_of(session);
    let result = match (method.kind, phone) {
        (MethodKind::Sms, Some(phone)) => {
            if !force && phone::has_live_code(&app.store, &key, purpose, &phone, ctx.now).await? {
                return Ok(None);
            }
            phone::send_code(&app.store, &ctx, account, &key, purpose, &phone).await
        }
        (MethodKind::Voice, Some(phone)) => {
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
                &crate::web::sign_in::telephony::keypad_base(app),
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
        Err(e) => Err(e.into()),
    }
}

async fn verify_page(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, AppError> {
    match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Choose => return Ok(Redirect::to(reset_step::CHOOSE).into_response()),
        ResetStep::Phantom(step) => {
            return Ok(reset_step::phantom_page(&step, StatusCode::OK, None));
        }
        ResetStep::Real(_) | ResetStep::NotReset => {}
    }
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let method = match chosen_method(&app, &session, query.method.as_deref()).await {
        Ok((_, method)) => method,
        // A reset whose remaining proof can only be a recovery code.
        Err(AppError::NotFound) if recovery_code_offered(&app, &session).await? => {
            return Ok(Redirect::to("/sign-in/recovery-code").into_response());
        }
        Err(e) => return Err(e),
    };
    if session.0.record.stage == SessionStage::PasswordReset {
        // Sent when the kind was chosen; a reset's step is only shown here.
        return Ok(verify_form_with(
            &app,
            &session,
            &method,
            StatusCode::OK,
            None,
            reset_step::real_push_number(&app, &session, &method),
        ));
    }
    if let Some(with) = query.with.as_deref() {
        // Typing the app's code, or back to a push: saved, then shown afresh.
        let mut flow = Flow::of(&session.0);
        flow.method = Some(method.id.clone());
        flow.use_code = with == "code";
        flow.save(&app, &session.0.token.storage_key()).await?;
        return Ok(Redirect::to(VERIFY).into_response());
    }
    if query.method.is_some() {
        let mut flow = Flow::of(&session.0);
        flow.method = Some(method.id.clone());
        flow.save(&app, &session.0.token.storage_key()).await?;
    }
    if method.kind == MethodKind::Push {
        return match push_step::reach(&app, &requester, &session, &method, false).await? {
            Ok(approval) => {
                Ok(push_form(&app, &session, &method, StatusCode::OK, None, approval).await?)
            }
            Err((status, problem)) => {
                Ok(push_form(&app, &session, &method, status, Some(problem), None).await?)
            }
        };
    }
    match reach_phone(&app, &requester, &session, &method, false).await? {
        None => Ok(verify_form(&app, &session, &method, StatusCode::OK, None)),
        Some((status, problem)) => Ok(verify_form(&app, &session, &method, status, Some(problem))),
    }
}

async fn resend(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Choose => return Ok(Redirect::to(reset_step::CHOOSE).into_response()),
        ResetStep::Phantom(step) => return reset_step::phantom_resend(&app, step).await,
        ResetStep::Real(_) | ResetStep::NotReset => {}
    }
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let (_, method) = chosen_method(&app, &session, Some(&form.method)).await?;
    if session.0.record.stage == SessionStage::PasswordReset {
        let mut flow = Flow::of(&session.0);
        flow.approval = None;
        flow.reset_chosen_at = Some(app.now());
        flow.save(&app, &session.0.token.storage_key()).await?;
        reset_step::reach_in_background(&app, &requester, &session, flow, method);
        return Ok(Redirect::to(VERIFY).into_response());
    }
    if method.kind == MethodKind::Push {
        return match push_step::reach(&app, &requester, &session, &method, true).await? {
            Ok(_) => {
                Ok(Redirect::to(&format!("/sign-in/verify?method={}", method.id)).into_response())
            }
            Err((status, problem)) => {
                Ok(push_form(&app, &session, &method, status, Some(problem), None).await?)
            }
        };
    }
    match reach_phone(&app, &requester, &session, &method, true).await? {
        None => Ok(Redirect::to(&format!("/sign-in/verify?method={}", method.id)).into_response()),
        Some((status, problem)) => Ok(verify_form(&app, &session, &method, status, Some(problem))),
    }
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) code: String,
    /// "Don't ask again on this device".
    pub(crate) remember: Option<String>,
}

async fn verify(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    match step_of(&app, session.as_ref(), &jar).await? {
        ResetStep::Choose => return Ok(Redirect::to(reset_step::CHOOSE).into_response()),
        ResetStep::Phantom(step) => {
            return reset_step::phantom_verify(&app, &step, &requester, &form.code).await;
        }
        ResetStep::Real(_) | ResetStep::NotReset => {}
    }
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
    };
    let (_, method) = chosen_method(&app, &session, Some(&form.method)).await?;
    let account = &session.0.account;
    let ctx = mfa_context(&app, &requester, &session);
    let key = session.0.token.storage_key();
    let mut amr = method.kind.amr();
    let result = match method.kind {
        MethodKind::Totp => mfa::verify_totp(&app.store, account, &method, &form.code, &ctx).await,
        // The NHSmal Authenticator's code, typed instead of approving (no signal).
        MethodKind::Push if !form.code.trim().is_empty() || Flow::of(&session.0).use_code => {
            amr = MethodKind::Totp.amr();
            mfa::verify_totp(&app.store, account, &method, &form.code, &ctx).await
        }
        MethodKind::Push => match push_step::verify(&app, &requester, &session).await? {
            Ok(_) => Ok(()),
            Err(CallOutcome::Locked { until }) => Err(MfaError::Locked { until }),
            Err(CallOutcome::Storage(e)) => Err(MfaError::Storage(e)),
            Err(CallOutcome::Waiting(ApprovalStatus::Denied)) => {
                sessions::end_session(&app.store, &session.0.token).await?;
                return Ok(push_step::refused_page());
            }
            Err(CallOutcome::Waiting(ApprovalStatus::Pending)) => {
                return push_form(
                    &app,
                    &session,
                    &method,
                    StatusCode::ACCEPTED,
                    Some(push_step::STILL_WAITING.into()),
                    None,
                )
                .await;
            }
            Err(CallOutcome::Waiting(_)) => {
                return push_form(
                    &app,
                    &session,
                    &method,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(push_step::ENDED.into()),
                    None,
                )
                .await;
            }
        },
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
                    let page = crate::web::http::pages::MessagePage {
                        help: Some(("/help/unexpected-code".into(), "Help: I was asked for a code I didn't expect. What should I do?".into())),
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
                let (token, expires_at) = domain::devices::remember(
                    &app.store,
                    &session.0.account,
                    days,
                    &requester,
                    app.now(),
                )
                .await?;
                jar.add(crate::web::http::extract::device_cookie(
                    &app,
                    token.0,
                    expires_at - app.now(),
                ))
            } else {
                jar
            };
            complete_as(&app, &session, method.kind, amr, &requester, jar).await
        }
        Err(MfaError::Locked { until }) => Err(locked_by_wrong_codes(until, ctx.now)),
        Err(
            e @ (MfaError::WrongCode { .. }
            | MfaError::CodeUsed
            | MfaError::CodeMissing
            | MfaError::CodeExpired
            | MfaError::KeyRefused),
        ) => Ok(verify_form(
            &app,
            &session,
            &method,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(e.to_string()),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The answer once wrong codes have locked the second step (at sign-in or in a reset).
pub(crate) fn locked_by_wrong_codes(until: i64, now: i64) -> AppError {
    AppError::TooManyRequests {
        retry_after: until - now,
        help: "/help/code-not-accepted",
        message: format!(
            "There have been too many wrong codes, so your account is locked until {}. We have emailed you about it. If you did not try to sign in, contact your local administrator.",
            domain::clock::human(until)
        ),
    }
}

async fn another_way(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if !matches!(
        step_of(&app, session.as_ref(), &jar).await?,
        ResetStep::NotReset
    ) {
        // A reset chooses again from the list everybody sees.
        return Ok(Redirect::to(reset_step::CHOOSE).into_response());
    }
    let Some(session) = session else {
        return Err(AppError::SignInRequired { next: None });
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
        contact: crate::web::http::pages::admin_contact(&app, &session.0.account.org_code).await?,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A reset's step asked for before its kind is chosen.
pub(crate) fn choose_first() -> Response {
    json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Start again: choose how to prove it is you",
    )
}
