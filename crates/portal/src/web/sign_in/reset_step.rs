//! The second step of a password reset, read the same for every address (issue 18): the person
//! first chooses a kind of method from one list for everybody; nothing is sent before that
//! choice (a text or call then goes out in the background, so the answer's time and words do
//! not depend on it); and no page names a method of the account (no app's name, no digits of
//! a number). A kind the account does not have, or any kind for an address that cannot be
//! reset (a decoy, see `web::reset`), is a phantom: its pages and answers are those of a real
//! step of that kind, and it never accepts anything.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{AnySession, CsrfForm};
use crate::web::http::pages::{Chrome, FieldError, MethodOption, render};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::pages::{ResetChoicePage, UseRecoveryCodePage, VerifyPage};
use crate::web::sign_in::reset::{Decoy, address_tag, decoy_csrf, decoy_of};
use crate::web::sign_in::second_step::{VERIFY, locked_by_wrong_codes, offered_methods};
use crate::web::{AppError, AppState};
use domain::audit::Requester;
use domain::mfa::approvals::{self, APPROVAL_LIFETIME};
use domain::mfa::phone::{self, E164, Purpose};
use domain::mfa::{Method, MethodKind, MfaError};
use domain::policy;
use domain::recovery::{self, Phantom};
use domain::sessions::SessionStage;

pub const CHOOSE: &str = "/forgotten-password/choose";
/// Every answer to the choice takes at least this long, so that a choice that writes a
/// session and starts a text cannot be told from one that remembers a phantom by its time.
const CHOICE_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);
/// What every reset's first step says: never "two methods", which only administrators need
/// and which would tell that the address is an administrator's.
const FIRST_NOTE: &str = "To reset your password, prove it is you.";

pub fn router() -> Router<AppState> {
    Router::new().route(CHOOSE, get(choose_page).post(choose))
}

/// Where a request to the second step stands in a reset.
pub(crate) enum ResetStep {
    /// Not a reset: a sign-in or a step-up (or, without a session, nothing at all).
    NotReset,
    /// A reset whose kind of method is not chosen yet.
    Choose,
    /// A real reset with a method of the chosen kind: the second step's own handlers serve it.
    Real(MethodKind),
    Phantom(PhantomStep),
}

/// A chosen kind that cannot prove anything, and whose browser it is.
pub(crate) struct PhantomStep {
    phantom: Phantom,
    /// The tag of the address wrong guesses are counted by.
    tag: String,
    csrf_token: String,
    /// The note above the step (a real reset's second proof says so).
    note: String,
    holder: Holder,
    /// A push step's number, while its request would be live.
    push_number: Option<String>,
}

enum Holder {
    /// A real reset session's storage key and its flow.
    Session(String, Box<Flow>),
    Decoy(String),
}

/// Which reset step this browser is at.
pub(crate) async fn step_of(
    app: &AppState,
    session: Option<&AnySession>,
    jar: &CookieJar,
) -> Result<ResetStep, AppError> {
    match session {
        Some(s) if s.0.record.stage == SessionStage::PasswordReset => {
            let flow = Flow::of(&s.0);
            let Some(kind) = flow.reset_kind else {
                return Ok(ResetStep::Choose);
            };
            if flow.method.is_some() {
                return Ok(ResetStep::Real(kind));
            }
            let chosen_at = flow.reset_chosen_at.unwrap_or(0);
            let key = s.0.token.storage_key();
            Ok(ResetStep::Phantom(PhantomStep {
                phantom: Phantom { kind, chosen_at },
                tag: address_tag(app, &s.0.account.email),
                csrf_token: s.csrf_token(app),
                note: reset_note(&flow),
                push_number: phantom_push_number(app, kind, &key, chosen_at),
                holder: Holder::Session(key, Box::new(flow)),
            }))
        }
        Some(_) => Ok(ResetStep::NotReset),
        None => {
            let Some(decoy) = decoy_of(app, jar) else {
                return Ok(ResetStep::NotReset);
            };
            match recovery::phantom_of(&app.store, &decoy.id, app.now()).await? {
                None => Ok(ResetStep::Choose),
                Some(phantom) => Ok(ResetStep::Phantom(PhantomStep {
                    push_number: phantom_push_number(
                        app,
                        phantom.kind,
                        &decoy.id,
                        phantom.chosen_at,
                    ),
                    phantom,
                    tag: decoy.tag,
                    csrf_token: decoy_csrf(app, jar),
                    note: FIRST_NOTE.into(),
                    holder: Holder::Decoy(decoy.id),
                })),
            }
        }
    }
}

impl PhantomStep {
    /// The tag of the address its wrong guesses are counted by.
    pub(super) fn tag(&self) -> &str {
        &self.tag
    }
}

/// The address tag of a real reset session's account (empty without one).
pub(crate) fn tag_of(app: &AppState, session: Option<&AnySession>) -> String {
    session
        .map(|s| address_tag(app, &s.0.account.email))
        .unwrap_or_default()
}

/// What a reset asks for at this step: the first proof reads the same for everybody.
pub(crate) fn reset_note(flow: &Flow) -> String {
    match flow.reset.as_ref() {
        Some(progress) if !progress.proved.is_empty() || progress.recovery_code => {
            "Now prove it is you with a second, different method.".into()
        }
        _ => FIRST_NOTE.into(),
    }
}

/// The words of a reset's second step for a kind of method: (mode, resend button, heading,
/// hint). They name no method of the account, and say "if" where something was sent.
pub(crate) fn words(
    kind: MethodKind,
) -> (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
) {
    match kind {
        MethodKind::Totp => (
            "code",
            None,
            "Enter the code from your authenticator app",
            "Open the authenticator app you set up for NHSmal and enter the 6-digit code it shows.",
        ),
        MethodKind::Sms => (
            "code",
            Some("Send again"),
            "Enter the code we sent to your phone",
            "If a mobile phone number is set up for this account, we have sent a 6-digit code to it by text message. It expires in 10 minutes.",
        ),
        MethodKind::Voice => (
            "call",
            Some("Call again"),
            "Answer the call to your phone",
            "If a phone number is set up for this account, we are calling it. Answer it and press the hash key (#) to approve. If you did not ask for this, press 0 then #.",
        ),
        MethodKind::Fido2 => (
            "key",
            None,
            "Use your security key",
            "Use a security key you registered for this account.",
        ),
        MethodKind::Push => (
            "push",
            Some("Send again"),
            "Approve the request in your NHSmal Authenticator",
            "If the NHSmal Authenticator is set up for this account, we have sent it a request. Open it, check the details, and type this number:",
        ),
    }
}

/// Who is choosing: a real reset session, or a browser holding a decoy.
enum Chooser {
    Real(Box<AnySession>),
    Decoy(Decoy),
}

fn chooser(app: &AppState, session: Option<AnySession>, jar: &CookieJar) -> Option<Chooser> {
    match session {
        Some(s) if s.0.record.stage == SessionStage::PasswordReset => {
            Some(Chooser::Real(Box::new(s)))
        }
        Some(_) => None,
        None => decoy_of(app, jar).map(Chooser::Decoy),
    }
}

const CHOICE_HINTS: [(MethodKind, &str); 5] = [
    (
        MethodKind::Totp,
        "Enter a 6-digit code from the authenticator app on your phone.",
    ),
    (
        MethodKind::Push,
        "Approve a request in the NHSmal Authenticator, if you set it up.",
    ),
    (
        MethodKind::Sms,
        "We text a 6-digit code to your mobile phone, if you set one up.",
    ),
    (
        MethodKind::Voice,
        "We call your phone and you press the hash key (#), if you set one up.",
    ),
    (MethodKind::Fido2, "Use the security key you registered."),
];

async fn choice_page(
    app: &AppState,
    who: &Chooser,
    jar: &CookieJar,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let (proved, note, csrf_token, recovery) = match who {
        Chooser::Real(s) => {
            let flow = Flow::of(&s.0);
            let proved = flow
                .reset
                .as_ref()
                .map(|r| r.proved.clone())
                .unwrap_or_default();
            (
                proved,
                reset_note(&flow),
                s.csrf_token(app),
                crate::web::sign_in::second_step::recovery_code_offered(app, s).await?,
            )
        }
        Chooser::Decoy(_) => (
            vec![],
            FIRST_NOTE.to_string(),
            decoy_csrf(app, jar),
            national_recovery_codes(app).await?,
        ),
    };
    let kinds = recovery::kinds_to_choose(&proved);
    // The error summary links to the first choice shown (NHS.UK radios pattern).
    let first = CHOICE_HINTS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| kinds.contains(k));
    let page = ResetChoicePage {
        chrome: Chrome {
            signed_in: None,
            csrf_token,
            admin: false,
            time_left: None,
        },
        errors: error
            .iter()
            .map(|m| FieldError {
                field: match first {
                    Some(MethodKind::Push) => "kind-push",
                    Some(MethodKind::Sms) => "kind-sms",
                    Some(MethodKind::Voice) => "kind-voice",
                    Some(MethodKind::Fido2) => "kind-fido2",
                    _ => "kind-totp",
                },
                message: m.clone(),
            })
            .collect(),
        kind_error: error,
        options: CHOICE_HINTS
            .iter()
            .filter(|(k, _)| kinds.contains(k))
            .map(|(k, hint)| MethodOption {
                value: k.as_str(),
                label: k.label(),
                hint,
            })
            .collect(),
        reset_note: note,
        recovery,
    };
    Ok(render(status, &page))
}

/// Whether a decoy offers "Use a recovery code": as the national policy would (a decoy has no
/// organisation).
async fn national_recovery_codes(app: &AppState) -> Result<bool, AppError> {
    Ok(policy::policy_for(&app.store, policy::NATIONAL)
        .await?
        .recovery_codes_for_reset)
}

async fn choose_page(
    State(app): State<AppState>,
    session: Option<AnySession>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let Some(who) = chooser(&app, session, &jar) else {
        return Ok(Redirect::to("/forgotten-password").into_response());
    };
    choice_page(&app, &who, &jar, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct ChoiceForm {
    #[serde(default)]
    kind: String,
}

async fn choose(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ChoiceForm>,
) -> Result<Response, AppError> {
    let Some(who) = chooser(&app, session, &jar) else {
        return Ok(Redirect::to("/forgotten-password").into_response());
    };
    #[allow(clippy::disallowed_methods)] // measuring our own response time, not reading the clock
    let floor = tokio::time::Instant::now() + CHOICE_FLOOR;
    let proved = match &who {
        Chooser::Real(s) => Flow::of(&s.0).reset.map(|r| r.proved).unwrap_or_default(),
        Chooser::Decoy(_) => vec![],
    };
    let Some(kind) =
        MethodKind::parse(&form.kind).filter(|k| recovery::kinds_to_choose(&proved).contains(k))
    else {
        return choice_page(
            &app,
            &who,
            &jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Select how you want to prove it is you".into()),
        )
        .await;
    };
    let now = app.now();
    match who {
        Chooser::Real(session) => {
            let method = offered_methods(&app, &session)
                .await?
                .into_iter()
                .find(|m| m.kind == kind);
            let mut flow = Flow::of(&session.0);
            flow.reset_kind = Some(kind);
            flow.reset_chosen_at = Some(now);
            flow.method = method.as_ref().map(|m| m.id.clone());
            flow.approval = None;
            flow.key_authentication = None;
            flow.save(&app, &session.0.token.storage_key()).await?;
            if let Some(method) = method {
                reach_in_background(&app, &requester, &session, flow, method);
            }
        }
        Chooser::Decoy(decoy) => {
            // The reads a real choice makes, so the database's time does not tell them apart.
            policy::policy_for(&app.store, policy::NATIONAL).await?;
            recovery::choose_phantom(&app.store, &decoy.id, kind, now).await?;
        }
    }
    tokio::time::sleep_until(floor).await;
    Ok(Redirect::to(VERIFY).into_response())
}

/// Texts the code or places the call of a real reset's chosen method, after the answer: its
/// time and outcome (a provider failure, the hourly limit) must not show on the page, which
/// reads the same whether or not anything was sent. What happens is logged and audited.
pub(crate) fn reach_in_background(
    app: &AppState,
    requester: &Requester,
    session: &AnySession,
    flow: Flow,
    method: Method,
) {
    let (app, requester) = (app.clone(), requester.clone());
    let account = session.0.account.clone();
    let key = session.0.token.storage_key();
    if method.kind == MethodKind::Push {
        tokio::spawn(async move {
            if let Err(e) =
                push_in_background(&app, &requester, &account, &key, flow, &method).await
            {
                tracing::warn!(error = %e, "reset: push not sent");
            }
        });
        return;
    }
    let Some(phone) = method.phone.clone().map(E164) else {
        return;
    };
    tokio::spawn(async move {
        let mut ctx = app.mfa(&requester);
        ctx.reset_source = Some(domain::limits::client_source(&requester.ip));
        let result = match method.kind {
            MethodKind::Sms => {
                phone::send_code(
                    &app.store,
                    &ctx,
                    &account,
                    &key,
                    Purpose::PasswordReset,
                    &phone,
                )
                .await
            }
            MethodKind::Voice => {
                match approvals::place_call(
                    &app.store,
                    &ctx,
                    &account,
                    &key,
                    Purpose::PasswordReset,
                    &phone,
                    &crate::web::sign_in::telephony::keypad_base(&app),
                )
                .await
                {
                    Ok(id) => {
                        let mut flow = flow;
                        flow.approval = Some(id);
                        flow.save(&app, &key)
                            .await
                            .map_err(|e| MfaError::Internal(format!("approval not saved: {e:?}")))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, kind = method.kind.as_str(), "reset: text or call not made");
        }
    });
}

/// The number a reset's push step shows: from the reset (its session or decoy) and when the
/// kind was chosen, so that a real step and a phantom show one the same way, and a reload the
/// same number. The real request is sent with it.
pub(crate) fn push_number(app: &AppState, holder: &str, chosen_at: i64) -> String {
    let mac = app
        .secrets
        .mac_hex(format!("password-reset-push-number\0{holder}\0{chosen_at}").as_bytes());
    let n = u16::from_str_radix(&mac[..4], 16).unwrap_or(0) % 90 + 10;
    n.to_string()
}

/// A real reset's push step's number, while its request is live (as a phantom's).
pub(crate) fn real_push_number(
    app: &AppState,
    session: &AnySession,
    method: &Method,
) -> Option<String> {
    let chosen_at = Flow::of(&session.0).reset_chosen_at.unwrap_or(0);
    phantom_push_number(app, method.kind, &session.0.token.storage_key(), chosen_at)
}

/// A phantom push step's number, for as long as a real request would be live.
fn phantom_push_number(
    app: &AppState,
    kind: MethodKind,
    holder: &str,
    chosen_at: i64,
) -> Option<String> {
    (kind == MethodKind::Push && app.now() < chosen_at + APPROVAL_LIFETIME)
        .then(|| push_number(app, holder, chosen_at))
}

/// Sends a real reset's push with the number its page shows, and keeps the request in the flow.
async fn push_in_background(
    app: &AppState,
    requester: &Requester,
    account: &domain::accounts::Account,
    key: &str,
    mut flow: Flow,
    method: &Method,
) -> Result<(), AppError> {
    let mut ctx = app.mfa(requester);
    ctx.reset_source = Some(domain::limits::client_source(&requester.ip));
    let number = push_number(app, key, flow.reset_chosen_at.unwrap_or(0));
    let context = super::push_step::context(app, requester, &flow, Purpose::PasswordReset).await?;
    let approval = domain::mfa::push::send_push_numbered(
        &app.store,
        &ctx,
        account,
        method,
        key,
        Purpose::PasswordReset,
        &context,
        false,
        Some(number),
    )
    .await?;
    app.push_bell.ring_for(approval.device_id.clone());
    flow.approval = Some(approval.id);
    flow.save(app, key).await?;
    Ok(())
}

/// A phantom step's page: a real step of its kind, as it reads to anyone.
pub(crate) fn phantom_page(
    step: &PhantomStep,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (mode, resend_label, heading, hint) = words(step.phantom.kind);
    let page = VerifyPage {
        number: step.push_number.clone(),
        push_code_link: None,
        chrome: Chrome {
            signed_in: None,
            csrf_token: step.csrf_token.clone(),
            admin: false,
            time_left: None,
        },
        mode,
        resend_label,
        heading: heading.into(),
        hint: hint.into(),
        method_id: step.phantom.kind.as_str().into(),
        errors: FieldError::on("code", &error),
        code_error: error,
        step_up: None,
        help: super::second_step::help_for(step.phantom.kind),
        reset_note: Some(step.note.clone()),
        remember_days: None,
    };
    render(status, &page)
}

/// "Send again" or "Call again" on a phantom: nothing is sent; a call "placed" again waits
/// again.
pub(crate) async fn phantom_resend(
    app: &AppState,
    step: PhantomStep,
) -> Result<Response, AppError> {
    if matches!(step.phantom.kind, MethodKind::Voice | MethodKind::Push) {
        let now = app.now();
        match step.holder {
            Holder::Decoy(id) => {
                recovery::choose_phantom(&app.store, &id, step.phantom.kind, now).await?;
            }
            Holder::Session(key, mut flow) => {
                flow.reset_chosen_at = Some(now);
                flow.save(app, &key).await?;
            }
        }
    }
    Ok(Redirect::to(VERIFY).into_response())
}

/// A wrong guess on a step that cannot succeed, counted as a real reset counts them: the
/// lock as an error, else what a real wrong code is told.
async fn phantom_guess(
    app: &AppState,
    tag: &str,
    requester: &Requester,
) -> Result<Result<MfaError, AppError>, AppError> {
    let now = app.now();
    let limits = &app.settings.sign_in_limits;
    let answer = recovery::count_phantom_guess(
        &app.store,
        tag,
        requester,
        limits.lock_after,
        limits.lock_seconds,
        now,
    )
    .await?;
    Ok(match answer {
        MfaError::Locked { until } => Err(locked_by_wrong_codes(until, now)),
        wrong => Ok(wrong),
    })
}

/// The call of a phantom step: waiting for a keypress for as long as a real call would, then
/// over.
fn phantom_call_pending(app: &AppState, phantom: &Phantom) -> bool {
    matches!(phantom.kind, MethodKind::Voice | MethodKind::Push)
        && app.now() < phantom.chosen_at + APPROVAL_LIFETIME
}

/// The second step's form posted on a phantom: every code is wrong; a call waits, then ends.
pub(crate) async fn phantom_verify(
    app: &AppState,
    step: &PhantomStep,
    requester: &Requester,
    code: &str,
) -> Result<Response, AppError> {
    match step.phantom.kind {
        MethodKind::Voice if phantom_call_pending(app, &step.phantom) => Ok(phantom_page(
            step,
            StatusCode::ACCEPTED,
            Some("We are still waiting for you to answer the call and press #".into()),
        )),
        MethodKind::Voice => Ok(phantom_page(
            step,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The call has ended. Select Call again".into()),
        )),
        MethodKind::Push if phantom_call_pending(app, &step.phantom) => Ok(phantom_page(
            step,
            StatusCode::ACCEPTED,
            Some(super::push_step::STILL_WAITING.into()),
        )),
        MethodKind::Push => Ok(phantom_page(
            step,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(super::push_step::ENDED.into()),
        )),
        MethodKind::Fido2 => Ok(phantom_page(
            step,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(MfaError::KeyRefused.to_string()),
        )),
        _ if code.trim().is_empty() => Ok(phantom_page(
            step,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(MfaError::CodeMissing.to_string()),
        )),
        _ => {
            let wrong = phantom_guess(app, &step.tag, requester).await??;
            Ok(phantom_page(
                step,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(wrong.to_string()),
            ))
        }
    }
}

/// Security-key options for a step that has no key to ask for: shaped as webauthn-rs shapes a
/// real request (a fresh 32-byte challenge, the relying party, one credential), with a
/// credential id made up for the address, the same each time as a real key's is.
pub(crate) fn phantom_key_options(app: &AppState, tag: &str) -> Response {
    let id_hex = app
        .secrets
        .mac_hex(format!("password-reset-phantom-key\0{tag}").as_bytes());
    // Real ids are 16 to 128 bytes long, by authenticator: the made-up one's length is one
    // of the common ones, chosen by the address, so a length does not mark it.
    let lengths = [32usize, 48, 64, 64];
    let length = lengths[usize::from(id_hex.as_bytes()[0] % 4)];
    let mut id = Vec::with_capacity(length);
    let mut round = 0u8;
    while id.len() < length {
        let more = app.secrets.mac_hex(format!("{id_hex}\0{round}").as_bytes());
        id.extend((0..32).filter_map(|i| u8::from_str_radix(more.get(i * 2..i * 2 + 2)?, 16).ok()));
        round += 1;
    }
    id.truncate(length);
    let options = app.security_keys.request_options_shaped(
        URL_SAFE_NO_PAD.encode(domain::random_bytes::<32>()),
        URL_SAFE_NO_PAD.encode(&id),
    );
    axum::Json(options).into_response()
}

/// A security-key answer on a step that cannot succeed: counted, then refused as a real key
/// that does not match is.
pub(crate) async fn phantom_key_finish(
    app: &AppState,
    tag: &str,
    requester: &Requester,
) -> Result<Response, AppError> {
    if let Err(locked) = phantom_guess(app, tag, requester).await? {
        let message = match locked {
            AppError::TooManyRequests { message, .. } => message,
            _ => "There have been too many failed attempts.".into(),
        };
        return Ok(json_error(StatusCode::TOO_MANY_REQUESTS, &message));
    }
    Ok(json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        &MfaError::KeyRefused.to_string(),
    ))
}

/// `{"status": …}` of a phantom's call: pending while a real call would ring, then expired.
pub(crate) fn phantom_approval_status(app: &AppState, step: &PhantomStep) -> Response {
    let status = if phantom_call_pending(app, &step.phantom) {
        "pending"
    } else {
        "expired"
    };
    // Only a call rings: a real step of any other kind has no call to count down.
    let left = if status == "pending" {
        (step.phantom.chosen_at + APPROVAL_LIFETIME - app.now()).max(0)
    } else {
        0
    };
    axum::Json(serde_json::json!({ "status": status, "seconds_left": left })).into_response()
}

/// The status of a real reset's call that the background has not placed (or saved) yet: it
/// reads as a call ringing, as a phantom's does (with the seconds it has left).
pub(crate) fn unplaced_call_status(app: &AppState, flow: &Flow) -> Option<(&'static str, i64)> {
    if flow.approval.is_some()
        || !matches!(flow.reset_kind, Some(MethodKind::Voice | MethodKind::Push))
    {
        return None;
    }
    let chosen_at = flow.reset_chosen_at.unwrap_or(0);
    let left = (chosen_at + APPROVAL_LIFETIME - app.now()).max(0);
    Some(if left > 0 {
        ("pending", left)
    } else {
        ("expired", 0)
    })
}

/// "Use a recovery code" on a decoy: offered as a real reset would offer it; no code is right.
pub(crate) async fn decoy_recovery_code(
    app: &AppState,
    jar: &CookieJar,
    guess: Option<(&str, &Requester)>,
) -> Result<Response, AppError> {
    let Some(decoy) = decoy_of(app, jar) else {
        return Err(AppError::SignInRequired { next: None });
    };
    if !national_recovery_codes(app).await? {
        return Err(AppError::NotFound);
    }
    let (status, error) = match guess {
        None => (StatusCode::OK, None),
        Some((typed, _)) if typed.trim().is_empty() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter a recovery code".to_string()),
        ),
        Some((_, requester)) => {
            let now = app.now();
            let limits = &app.settings.sign_in_limits;
            match recovery::count_phantom_guess(
                &app.store,
                &decoy.tag,
                requester,
                limits.lock_after,
                limits.lock_seconds,
                now,
            )
            .await?
            {
                MfaError::Locked { until } => return Err(locked_by_wrong_codes(until, now)),
                MfaError::WrongCode { tries_left } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(super::recovery_codes::wrong_recovery_code(tries_left)),
                ),
                other => return Err(other.into()),
            }
        }
    };
    let page = UseRecoveryCodePage {
        chrome: Chrome {
            signed_in: None,
            csrf_token: decoy_csrf(app, jar),
            admin: false,
            time_left: None,
        },
        errors: FieldError::on("recovery_code", &error),
        code_error: error,
    };
    Ok(render(status, &page))
}
