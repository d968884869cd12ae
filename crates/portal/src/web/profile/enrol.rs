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
use crate::web::profile::pages::{EnrolChoicePage, EnrolTotpPage};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::step_up::{ask_for_fresh_factor, needs_fresh_factor};
use crate::web::{AppError, AppState};
use domain::StorageError;
use domain::mfa::totp::{TotpSecret, qr_data_url};
use domain::mfa::{self, MethodKind, MfaError, PendingTotp};
use domain::policy::{self, Access, Standing};
use domain::sessions;

pub(super) const CHOICE: &str = "/profile/self-service/enrol";
/// The choice's value for a passkey (not a method kind of its own: a FIDO2 credential).
const PASSKEY: &str = "passkey";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(CHOICE, get(choose))
        .route(
            "/profile/self-service/enrol/authenticator-app",
            get(totp_page).post(totp_verify),
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
pub(crate) async fn fresh_factor_check(
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

pub(crate) async fn allowed_check(
    app: &AppState,
    signed_in: &Enrolling,
    kind: MethodKind,
) -> Result<(), AppError> {
    let account = &signed_in.0.account;
    if domain::admin::enrolment_needs_a_pass(&app.store, account, &signed_in.0.record.auth_methods)
        .await?
    {
        return Err(AppError::Refused {
            message: "Your administrator reset your multi-factor authentication. To set up a new method, ask them for a temporary access pass, sign out, and choose \u{201c}Sign in with a temporary access pass\u{201d}.".into(),
            help: "/help/temporary-access-pass",
        });
    }
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    if policy.allowed_for(account.role).contains(kind) {
        Ok(())
    } else {
        Err(AppError::Refused {
            message: format!(
                "Your organisation does not allow {} for your account. Go back and choose another method.",
                kind.label().to_lowercase()
            ),
            help: "/help/choosing-a-method",
        })
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
    if query.method.as_deref() == Some(PASSKEY) && allowed.contains(MethodKind::Fido2) {
        return Ok(Redirect::to(super::enrol_passkey::PASSKEY_PAGE).into_response());
    }
    if let Some(kind) = query.method.as_deref().and_then(MethodKind::parse)
        && allowed.contains(kind)
    {
        return Ok(Redirect::to(&format!("{CHOICE}/{}", kind.slug())).into_response());
    }
    // The NHSmal Authenticator is set up from "Authenticator app" (DESIGN.md: its set-up
    // offers notifications or codes), so push is not a choice of its own here.
    let mut kinds: Vec<MethodKind> = allowed
        .kinds()
        .into_iter()
        .filter(|k| *k != MethodKind::Push)
        .collect();
    if allowed.contains(MethodKind::Push) && !allowed.contains(MethodKind::Totp) {
        kinds.insert(0, MethodKind::Push);
    }
    // The error summary links to the first radio button.
    let first = match kinds.first() {
        Some(MethodKind::Sms) => "method-sms",
        Some(MethodKind::Voice) => "method-voice",
        Some(MethodKind::Fido2) => "method-fido2",
        Some(MethodKind::Push) => "method-push",
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
            .flat_map(|k| {
                // A passkey is a FIDO2 credential too: offered where security keys are.
                let passkey = (*k == MethodKind::Fido2).then_some(MethodOption {
                    value: PASSKEY,
                    label: "Passkey",
                    hint: "Sign in without your password: unlock it with your fingerprint, face, screen lock or a PIN. It is kept on this device, your phone or a security key.",
                });
                passkey.into_iter().chain(std::iter::once(MethodOption {
                value: k.as_str(),
                label: if *k == MethodKind::Push {
                    MethodKind::Totp.label()
                } else {
                    k.label()
                },
                hint: match k {
                    MethodKind::Totp if allowed.contains(MethodKind::Push) => "Recommended. Approve a notification in the NHSmal Authenticator, or use a 6-digit code from Microsoft Authenticator, Google Authenticator or any standard app.",
                    MethodKind::Push => "Recommended. Approve a notification in the NHSmal Authenticator app on your phone.",
                    MethodKind::Totp => "Recommended. Microsoft Authenticator, Google Authenticator or any standard app shows a new 6-digit code every 30 seconds.",
                    MethodKind::Sms => "We text a 6-digit code to your mobile phone each time you sign in.",
                    MethodKind::Voice => "We call your phone; you press # to approve the sign-in.",
                    MethodKind::Fido2 => "A hardware security key that you plug in or tap.",
                },
                }))
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

/// Whether this person's policy allows the NHSmal Authenticator's notifications.
async fn push_allowed(app: &AppState, signed_in: &Enrolling) -> Result<bool, AppError> {
    let account = &signed_in.0.account;
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    Ok(policy.allowed_for(account.role).contains(MethodKind::Push))
}

fn totp_form(
    app: &AppState,
    signed_in: &Enrolling,
    secret: &TotpSecret,
    name: &str,
    status: StatusCode,
    error: Option<(&'static str, String)>,
    push_offered: bool,
) -> Response {
    let uri = secret.otpauth_uri(&signed_in.0.account.email);
    let page = EnrolTotpPage {
        push_offered,
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

#[derive(Deserialize, Default)]
struct TotpQuery {
    /// "new-phone": set up from "Move to a new phone", which the set-up returns to.
    then: Option<String>,
}

async fn totp_page(
    State(app): State<AppState>,
    signed_in: Enrolling,
    Query(query): Query<TotpQuery>,
) -> Result<Response, AppError> {
    let new_phone = query.then.as_deref() == Some("new-phone");
    // The step-up on the way comes back here with the same query (it ends with a new session,
    // so the flow is only written once past it).
    let here = if new_phone {
        super::new_phone::SET_UP
    } else {
        "/profile/self-service/enrol/authenticator-app"
    };
    if let Some(redirect) = fresh_factor_check(&app, &signed_in, MethodKind::Totp, here).await? {
        return Ok(redirect);
    }
    // A new key each time the page is shown; the one shown last is the one a code must match.
    let secret = TotpSecret::generate();
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    flow.new_phone = new_phone;
    flow.pending_totp = Some(PendingTotp::seal(&app.secrets, &secret, &key));
    flow.save(&app, &key).await?;
    Ok(totp_form(
        &app,
        &signed_in,
        &secret,
        "",
        StatusCode::OK,
        None,
        push_allowed(&app, &signed_in).await?,
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
                push_allowed(&app, &signed_in).await?,
            ))
        }
        Err(e @ (MfaError::BadName | MfaError::TooManyApps)) => Ok(totp_form(
            &app,
            &signed_in,
            &secret,
            &form.name,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(("name", e.to_string())),
            push_allowed(&app, &signed_in).await?,
        )),
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
        (&registered.0, registered.1),
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
        Err(e @ (MfaError::BadName | MfaError::KeyNotAllowed(_))) => {
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
pub(crate) fn after_enrolment(flow: &mut Flow) -> String {
    if std::mem::take(&mut flow.new_phone) {
        // The new-phone path goes on to its next step.
        return super::new_phone::AFTER_ADDING.to_string();
    }
    match flow.next.take() {
        Some(next) if next.starts_with(crate::web::oidc::endpoints::AUTHORIZE) => next,
        other => {
            flow.next = other;
            "/profile/self-service?added=1".to_string()
        }
    }
}
