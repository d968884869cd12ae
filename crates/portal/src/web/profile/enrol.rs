//! Self-enrolment: Self-Service › "Self-enroll for MFA" › choose a method › set it up.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{CsrfForm, Enrolling};
use crate::web::http::pages::{Chrome, FieldError, MessagePage, MethodOption, render};
use crate::web::profile::pages::{EnrolChoicePage, EnrolPhonePage, EnrolTotpPage};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::step_up::{ask_for_fresh_factor, needs_fresh_factor};
use crate::web::{AppError, AppState};
use domain::StorageError;
use domain::mfa::totp::{TotpSecret, qr_data_url};
use domain::mfa::{self, MethodKind, MfaError, PendingTotp};
use domain::policy::{self, Access, Standing};
use domain::sessions;

const CHOICE: &str = "/profile/self-service/enrol";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(CHOICE, get(choose))
        .route(
            "/profile/self-service/enrol/authenticator-app",
            get(totp_page).post(totp_verify),
        )
        .route(
            "/profile/self-service/enrol/text-message",
            get(phone_page).post(phone_step),
        )
        .route(
            "/profile/self-service/enrol/phone-call",
            get(phone_page).post(phone_step),
        )
        .route("/profile/self-service/enrol/fido2-token", get(key_page))
        .route(
            "/profile/self-service/enrol/fido2-token/options",
            axum::routing::post(key_options),
        )
        .route(
            "/profile/self-service/enrol/fido2-token/finish",
            axum::routing::post(key_finish),
        )
}

/// Only methods the policy allows for this person can be added; adding a method to an
/// account that has one needs a fresh second factor (LC-1).
async fn fresh_factor_check(
    app: &AppState,
    signed_in: &Enrolling,
    kind: MethodKind,
    back_to: &str,
) -> Result<Option<Response>, AppError> {
    allowed_check(app, signed_in, kind).await?;
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

async fn allowed_check(
    app: &AppState,
    signed_in: &Enrolling,
    kind: MethodKind,
) -> Result<(), AppError> {
    let account = &signed_in.0.account;
    if domain::admin::enrolment_needs_a_pass(&app.store, account, &signed_in.0.record.auth_methods)
        .await?
    {
        return Err(AppError::Forbidden(
            "Your administrator reset your multi-factor authentication. To set up a new method, ask them for a temporary access pass, sign out, and choose \u{201c}Sign in with a temporary access pass\u{201d}.".into(),
        ));
    }
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    if policy.allowed_for(account.role).contains(kind) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Your organisation does not allow {} for your account. Go back and choose another method.",
            kind.label().to_lowercase()
        )))
    }
}

#[derive(Deserialize)]
struct ChoiceQuery {
    method: Option<String>,
    /// Present when the choice form was submitted (an unticked radio group sends nothing).
    chosen: Option<String>,
}

async fn choose(
    State(app): State<AppState>,
    signed_in: Enrolling,
    Query(query): Query<ChoiceQuery>,
) -> Result<Response, AppError> {
    let account = &signed_in.0.account;
    let now = app.now();
    let (policy, standing) = policy::standing_of(&app.store, account, now).await?;
    let access = policy::access(&app.store, account, &signed_in.0.record.auth_methods, now).await?;
    let by_pass = signed_in
        .0
        .record
        .auth_methods
        .split(' ')
        .any(|v| v == policy::TEMPORARY_ACCESS_AMR);
    let enrolled_here = mfa::methods_of(&app.store, &account.id)
        .await?
        .iter()
        .any(|m| m.created_at >= signed_in.0.record.created_at);
    if by_pass && enrolled_here && standing == Standing::Satisfied {
        // A temporary access pass opens one enrolment; with a method set up, it is spent.
        sessions::end_session(&app.store, &signed_in.0.token).await?;
        let page = MessagePage {
            help: None,
            chrome: Chrome::anonymous(),
            heading: "Multi-factor authentication is set up".into(),
            paragraphs: vec![
                "Sign in again with your password and the method you have just set up.".into(),
            ],
            link: Some(("/sign-in".into(), "Sign in".into())),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    let allowed = policy.allowed_for(account.role);
    if let Some(kind) = query.method.as_deref().and_then(MethodKind::parse)
        && allowed.contains(kind)
    {
        return Ok(Redirect::to(&format!("{CHOICE}/{}", kind.slug())).into_response());
    }
    let kinds = allowed.kinds();
    // The error summary links to the first radio button.
    let first = match kinds.first() {
        Some(MethodKind::Sms) => "method-sms",
        Some(MethodKind::Voice) => "method-voice",
        Some(MethodKind::Fido2) => "method-fido2",
        _ => "method-totp",
    };
    let error = (query.method.is_some() || query.chosen.is_some())
        .then(|| "Select how you want to prove it is you".to_string());
    let required = match (access, &policy.required_from) {
        (Access::EnrolOnly, Some(by)) if now >= *by => Some(format!(
            "Multi-factor authentication has been required since {}. Set up a method to continue using NHSmal.",
            domain::clock::human_date(*by)
        )),
        (Access::EnrolOnly, _) => Some(
            "You need to set up multi-factor authentication to continue using NHSmal.".to_string(),
        ),
        _ => None,
    };
    let page = EnrolChoicePage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        errors: FieldError::on(first, &error),
        method_error: error.clone(),
        enrolment_only: access == Access::EnrolOnly,
        required,
        options: kinds
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
    signed_in: &Enrolling,
    secret: &TotpSecret,
    name: &str,
    status: StatusCode,
    error: Option<(&'static str, String)>,
) -> Response {
    let uri = secret.otpauth_uri(&signed_in.0.account.email);
    let page = EnrolTotpPage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        qr: qr_data_url(&uri),
        otpauth: uri.clone(),
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

async fn totp_page(
    State(app): State<AppState>,
    signed_in: Enrolling,
) -> Result<Response, AppError> {
    if let Some(redirect) = fresh_factor_check(
        &app,
        &signed_in,
        MethodKind::Totp,
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
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    CsrfForm(form): CsrfForm<TotpForm>,
) -> Result<Response, AppError> {
    if let Some(redirect) = fresh_factor_check(
        &app,
        &signed_in,
        MethodKind::Totp,
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
    let secret = pending.open(&app.secrets, &key)?;
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
            let target = after_enrolment(&mut flow);
            flow.save(&app, &key).await?;
            Ok(Redirect::to(&target).into_response())
        }
        Err(MfaError::Locked { until }) => Err(AppError::TooManyRequests {
            retry_after: until - ctx.now,
            help: "/help/code-not-accepted",
            message: format!(
                "There have been too many wrong codes. Try again after {}.",
                domain::clock::human(until)
            ),
        }),
        Err(e @ (MfaError::WrongCode { .. } | MfaError::CodeUsed | MfaError::CodeMissing)) => {
            Ok(totp_form(
                &app,
                &signed_in,
                &secret,
                &form.name,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(("code", e.to_string())),
            ))
        }
        Err(e @ (MfaError::BadName | MfaError::TooManyApps)) => Ok(totp_form(
            &app,
            &signed_in,
            &secret,
            &form.name,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(("name", e.to_string())),
        )),
        Err(e) => Err(e.into()),
    }
}

fn phone_kind(uri: &axum::http::Uri) -> MethodKind {
    if uri.path().ends_with("/phone-call") {
        MethodKind::Voice
    } else {
        MethodKind::Sms
    }
}

struct PhoneView<'a> {
    kind: MethodKind,
    stage: &'static str,
    phone: &'a str,
    masked: String,
}

fn phone_form(
    app: &AppState,
    signed_in: &Enrolling,
    view: PhoneView<'_>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let kind = view.kind;
    let field = if view.stage == "number" {
        "phone"
    } else {
        "code"
    };
    let page = EnrolPhonePage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        heading: match (kind, view.stage) {
            (MethodKind::Voice, "call") => "Answer the call".into(),
            (_, "code") => "Enter the code we sent you".into(),
            (MethodKind::Voice, _) => "Set up phone calls".into(),
            _ => "Set up text messages".into(),
        },
        intro: match kind {
            MethodKind::Voice => "When you sign in, we will call this number and you press # to approve. We call it now to check it is yours.".into(),
            _ => "When you sign in, we will text a code to this number. We send one now to check it is yours.".into(),
        },
        action: format!("{CHOICE}/{}", kind.slug()),
        stage: view.stage,
        phone_label: if kind == MethodKind::Voice { "Phone number" } else { "Mobile phone number" },
        send_label: if kind == MethodKind::Voice { "Call me" } else { "Send code" },
        phone: view.phone.to_string(),
        masked: view.masked,
        errors: FieldError::on(field, &error),
        field_error: error,
        help: if kind == MethodKind::Voice {
            ("/help/set-up-phone-call", "Help with setting up phone calls")
        } else {
            ("/help/set-up-text-message", "Help with setting up text messages")
        },
    };
    render(status, &page)
}

#[derive(Deserialize)]
struct PhoneQuery {
    restart: Option<String>,
}

async fn phone_page(
    State(app): State<AppState>,
    signed_in: Enrolling,
    uri: axum::http::Uri,
    Query(query): Query<PhoneQuery>,
) -> Result<Response, AppError> {
    let kind = phone_kind(&uri);
    if let Some(redirect) =
        fresh_factor_check(&app, &signed_in, phone_kind(&uri), uri.path()).await?
    {
        return Ok(redirect);
    }
    let mut flow = Flow::of(&signed_in.0);
    let pending = flow.pending_phone.clone().filter(|p| p.kind == kind);
    if query.restart.is_some() || pending.is_none() {
        if flow.pending_phone.take().is_some() {
            flow.save(&app, &signed_in.0.token.storage_key()).await?;
        }
        let view = PhoneView {
            kind,
            stage: "number",
            phone: "",
            masked: String::new(),
        };
        return Ok(phone_form(&app, &signed_in, view, StatusCode::OK, None));
    }
    let pending = pending.unwrap_or_else(|| unreachable!("checked above"));
    let stage = if kind == MethodKind::Voice {
        "call"
    } else {
        "code"
    };
    let view = PhoneView {
        kind,
        stage,
        phone: pending.phone.as_str(),
        masked: pending.phone.masked(),
    };
    Ok(phone_form(&app, &signed_in, view, StatusCode::OK, None))
}

#[derive(Deserialize)]
struct PhoneForm {
    #[serde(default)]
    step: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
}

/// Send (or call), send again, verify the code, or continue after the call.
async fn phone_step(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    uri: axum::http::Uri,
    CsrfForm(form): CsrfForm<PhoneForm>,
) -> Result<Response, AppError> {
    use domain::mfa::approvals::{self, ApprovalStatus};
    use domain::mfa::phone::{self, Purpose};
    let kind = phone_kind(&uri);
    let here = format!("{CHOICE}/{}", kind.slug());
    if let Some(redirect) = fresh_factor_check(&app, &signed_in, kind, &here).await? {
        return Ok(redirect);
    }
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    let account = &signed_in.0.account;
    let ctx = app.mfa(&requester);
    let pending = flow.pending_phone.clone().filter(|p| p.kind == kind);
    let stage = if kind == MethodKind::Voice {
        "call"
    } else {
        "code"
    };

    let number = match (form.step.as_str(), &pending) {
        ("send", _) => match phone::parse_phone(&form.phone, kind == MethodKind::Sms) {
            Ok(n) => n,
            Err(e) => {
                let view = PhoneView {
                    kind,
                    stage: "number",
                    phone: &form.phone,
                    masked: String::new(),
                };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    view,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(e.to_string()),
                ));
            }
        },
        (_, Some(p)) => p.phone.clone(),
        (_, None) => return Ok(Redirect::to(&here).into_response()),
    };
    let error_view = |stage: &'static str| PhoneView {
        kind,
        stage,
        phone: number.as_str(),
        masked: number.masked(),
    };

    let sending = form.step == "send" || form.step == "resend";
    if sending {
        let sent = match kind {
            MethodKind::Voice => approvals::place_call(
                &app.store,
                &ctx,
                account,
                &key,
                Purpose::Enrol,
                &number,
                &crate::web::sign_in::telephony::keypad_base(&app),
            )
            .await
            .map(Some),
            _ => phone::send_code(&app.store, &ctx, account, &key, Purpose::Enrol, &number)
                .await
                .map(|()| None),
        };
        match sent {
            Ok(approval) => {
                flow.pending_phone = Some(crate::web::sign_in::flow::PendingPhone {
                    kind,
                    phone: number.clone(),
                    approval,
                });
                flow.save(&app, &key).await?;
                return Ok(Redirect::to(&here).into_response());
            }
            Err(e @ (MfaError::TooManySends { .. } | MfaError::CallsStopped)) => {
                let shown = if form.step == "send" { "number" } else { stage };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    error_view(shown),
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(e.to_string()),
                ));
            }
            Err(e @ MfaError::ProviderFailed(_)) => {
                let shown = if form.step == "send" { "number" } else { stage };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    error_view(shown),
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(e.to_string()),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }

    // Proving the number: the code typed back, or the call answered with #.
    let proved = match kind {
        MethodKind::Voice => {
            let id = pending
                .as_ref()
                .and_then(|p| p.approval.clone())
                .unwrap_or_default();
            match approvals::take_approved(&app.store, &id, &key, Purpose::Enrol, ctx.now).await? {
                Ok(n) if n == number => Ok(n),
                Ok(_) => Err(MfaError::CodeExpired),
                Err(ApprovalStatus::Pending) => {
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        error_view("call"),
                        StatusCode::ACCEPTED,
                        Some("We are still waiting for you to answer the call and press #".into()),
                    ));
                }
                Err(ApprovalStatus::Denied) => {
                    flow.pending_phone = None;
                    flow.save(&app, &key).await?;
                    let view = PhoneView {
                        kind,
                        stage: "number",
                        phone: "",
                        masked: String::new(),
                    };
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        view,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("You pressed 0# on the call, so the number was not added".into()),
                    ));
                }
                Err(_) => {
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        error_view("call"),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("The call has ended. Select Call again".into()),
                    ));
                }
            }
        }
        _ => phone::check_code(&app.store, &ctx, account, &key, Purpose::Enrol, &form.code).await,
    };
    match proved {
        Ok(n) if n == number => {
            mfa::add_phone_method(&app.store, account, kind, &number, &ctx).await?;
            flow.pending_phone = None;
            let target = after_enrolment(&mut flow);
            flow.save(&app, &key).await?;
            Ok(Redirect::to(&target).into_response())
        }
        Ok(_) => Ok(phone_form(
            &app,
            &signed_in,
            error_view(stage),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(MfaError::CodeExpired.to_string()),
        )),
        Err(MfaError::Locked { until }) => Err(AppError::TooManyRequests {
            retry_after: until - ctx.now,
            help: "/help/code-not-accepted",
            message: format!(
                "There have been too many wrong codes. Try again after {}.",
                domain::clock::human(until)
            ),
        }),
        Err(e @ (MfaError::WrongCode { .. } | MfaError::CodeMissing | MfaError::CodeExpired)) => {
            Ok(phone_form(
                &app,
                &signed_in,
                error_view(stage),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.to_string()),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

const KEY_PAGE: &str = "/profile/self-service/enrol/fido2-token";

async fn key_page(State(app): State<AppState>, signed_in: Enrolling) -> Result<Response, AppError> {
    if let Some(redirect) =
        fresh_factor_check(&app, &signed_in, MethodKind::Fido2, KEY_PAGE).await?
    {
        return Ok(redirect);
    }
    Ok(render(
        StatusCode::OK,
        &crate::web::profile::pages::EnrolKeyPage {
            chrome: Chrome::signed_in(&app, &signed_in.0),
        },
    ))
}

#[derive(Deserialize)]
struct Empty {}

async fn key_options(
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
        .start_registration(&signed_in.0.account, &methods)?;
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    flow.key_registration = Some(state);
    flow.save(&app, &key).await?;
    Ok(axum::Json(options).into_response())
}

#[derive(Deserialize)]
struct KeyFinish {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

async fn key_finish(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    CsrfForm(form): CsrfForm<KeyFinish>,
) -> Result<Response, AppError> {
    allowed_check(&app, &signed_in, MethodKind::Fido2).await?;
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    // The state is used once, whatever happens next.
    let Some(state) = flow.key_registration.take() else {
        return Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Start again: select Register security key",
        ));
    };
    flow.save(&app, &key).await?;
    let ctx = app.mfa(&requester);
    let registered = match app
        .security_keys
        .finish_registration(&state, &form.credential)
    {
        Ok(k) => k,
        Err(e) => return Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())),
    };
    match mfa::security_key::add_security_key(
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
            flow.save(&app, &signed_in.0.token.storage_key()).await?;
            Ok(axum::Json(serde_json::json!({ "redirect": target })).into_response())
        }
        Err(e @ MfaError::BadName) => {
            Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))
        }
        Err(MfaError::Storage(StorageError::Conflict)) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That security key is already registered",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Where a person goes once a method is set up: back to the app that sent them to enrol (an
/// authorization request saved in the flow), or to Self-Service.
fn after_enrolment(flow: &mut Flow) -> String {
    match flow.next.take() {
        Some(next) if next.starts_with(crate::web::oidc::endpoints::AUTHORIZE) => next,
        other => {
            flow.next = other;
            "/profile/self-service?added=1".to_string()
        }
    }
}
