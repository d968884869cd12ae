//! "Forgotten your password?": email address → the kind of method to prove it with (the same
//! choice for every address, see `web::reset_step`) → the second step as at sign-in (two
//! different kinds for administrators) → a new password → the sign-in page. The state is a short-lived session at stage `PasswordReset`, bound to the
//! browser by its cookie and used once.
//!
//! For an unknown address (or a disabled account, or one without enough methods) the browser
//! gets a decoy: a cookie that looks like a session and a second step that reads as a real
//! one's and never accepts anything, so the pages do not tell who has an account.

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

use crate::web::http::extract::{
    AnySession, CsrfForm, csrf_token, removal_of_session_cookie, session_cookie, session_token,
    visitor_csrf,
};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::sign_in::flow::{Flow, ResetProgress};
use crate::web::sign_in::pages::{ForgottenPasswordPage, NewPasswordPage};
use crate::web::{AppError, AppState};
use domain::accounts::normalize_email;
use domain::recovery::{self, ResetError, ResetRules, ResetStart};
use domain::sessions::RESET_SECONDS;
use domain::sessions::{self, NewSession, SessionStage, SessionToken};

pub const NEW_PASSWORD: &str = "/forgotten-password/new-password";
/// Every answer to the email step takes at least this long, so that known and unknown
/// addresses (one writes a session, the other does not) cannot be told apart by timing.
const EMAIL_STEP_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/forgotten-password", get(email_page).post(email_step))
        .route(NEW_PASSWORD, get(new_password_page).post(save_password))
}

pub fn rules(app: &AppState) -> ResetRules {
    ResetRules {
        user_methods: 1,
        admin_methods: app.settings.password_reset_admin_methods,
    }
}

/// A decoy token, 32 bytes base64url like a session id and never stored: 8 random bytes, the
/// email address's 8-byte tag masked by a pad made from them, and 16 bytes of MAC over those
/// and the 15-minute period. Nothing readable in it and different every time, yet the tag
/// lets a decoy count wrong codes per address, as a real reset counts them per account.
fn decoy_token(app: &AppState, now: i64, email: &str) -> SessionToken {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&domain::random_bytes::<8>());
    let tag = keyed::<8>(
        app,
        b"password-reset-decoy-email",
        normalize_email(email).as_bytes(),
    );
    let pad = keyed::<8>(app, b"password-reset-decoy-pad", &bytes[..8]);
    for i in 0..8 {
        bytes[8 + i] = tag[i] ^ pad[i];
    }
    let mac = decoy_mac(app, &bytes[..16], now / RESET_SECONDS);
    bytes[16..].copy_from_slice(&mac);
    SessionToken::from_cookie(&URL_SAFE_NO_PAD.encode(bytes)).unwrap_or_else(SessionToken::generate)
}

/// The first N bytes of the MAC of `data` under a purpose label.
fn keyed<const N: usize>(app: &AppState, purpose: &[u8], data: &[u8]) -> [u8; N] {
    let mut input = purpose.to_vec();
    input.push(0);
    input.extend_from_slice(data);
    let hex = app.secrets.mac_hex(&input);
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    out
}

fn decoy_mac(app: &AppState, random: &[u8], period: i64) -> [u8; 16] {
    let mut data = random.to_vec();
    data.extend_from_slice(&period.to_be_bytes());
    keyed::<16>(app, b"password-reset-decoy", &data)
}

/// A live decoy held by this browser: the tag of the address it was made for and an id of its
/// own (hex of its first 16 bytes), for what the decoy's pages remember.
pub struct Decoy {
    pub tag: String,
    pub id: String,
}

/// The browser's live decoy (made this 15-minute period or the one before), if it holds one.
pub fn decoy_of(app: &AppState, jar: &CookieJar) -> Option<Decoy> {
    let token = session_token(app, jar)?;
    let bytes = URL_SAFE_NO_PAD.decode(token.cookie_value()).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let period = app.now() / RESET_SECONDS;
    let live = [period, period - 1].iter().any(|p| {
        let mac = decoy_mac(app, &bytes[..16], *p);
        subtle::ConstantTimeEq::ct_eq(&bytes[16..], &mac[..]).into()
    });
    if !live {
        return None;
    }
    let pad = keyed::<8>(app, b"password-reset-decoy-pad", &bytes[..8]);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let tag: Vec<u8> = (0..8).map(|i| bytes[8 + i] ^ pad[i]).collect();
    Some(Decoy {
        tag: hex(&tag),
        id: hex(&bytes[..16]),
    })
}

/// The tag of an address, as a decoy for it carries it: what wrong guesses on a reset step
/// that cannot succeed are counted by, the same for a decoy and a real account.
pub fn address_tag(app: &AppState, email: &str) -> String {
    keyed::<8>(
        app,
        b"password-reset-decoy-email",
        normalize_email(email).as_bytes(),
    )
    .iter()
    .map(|x| format!("{x:02x}"))
    .collect()
}

/// The tag of the address a live decoy was made for, as hex; None when the browser holds no
/// decoy.
pub fn decoy_tag(app: &AppState, jar: &CookieJar) -> Option<String> {
    decoy_of(app, jar).map(|d| d.tag)
}

/// True when the browser holds a live decoy from the email step.
pub fn holds_decoy(app: &AppState, jar: &CookieJar) -> bool {
    decoy_tag(app, jar).is_some()
}

/// The decoy's CSRF token (bound to the decoy cookie like a session's).
pub fn decoy_csrf(app: &AppState, jar: &CookieJar) -> String {
    session_token(app, jar)
        .map(|t| csrf_token(app, "session", t.cookie_value()))
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

fn email_form(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    email: String,
    error: Option<String>,
) -> Response {
    let (jar, csrf_token) = visitor_csrf(app, jar);
    let page = ForgottenPasswordPage {
        chrome: Chrome {
            signed_in: None,
            csrf_token,
            admin: false,
            time_left: None,
        },
        errors: FieldError::on("email", &error),
        email_error: error,
        email,
    };
    (jar, render(status, &page)).into_response()
}

async fn email_page(State(app): State<AppState>, jar: CookieJar) -> Response {
    email_form(&app, jar, StatusCode::OK, String::new(), None)
}

async fn email_step(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, AppError> {
    if form.email.trim().is_empty() {
        return Ok(email_form(
            &app,
            jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.email,
            Some("Enter your email address".into()),
        ));
    }
    #[allow(clippy::disallowed_methods)] // measuring our own response time, not reading the clock
    let floor = tokio::time::Instant::now() + EMAIL_STEP_FLOOR;
    let now = app.now();
    let started =
        recovery::start_reset(&app.store, rules(&app), &form.email, &requester, now).await;
    // Whatever this browser had (a session, an earlier reset or decoy) ends here.
    if let Some(old) = session_token(&app, &jar) {
        sessions::end_session(&app.store, &old).await?;
    }
    let response = match started {
        Ok(ResetStart::Proceed { account, needed }) => {
            let new = NewSession {
                stage: SessionStage::PasswordReset,
                auth_methods: "",
                second_factor_at: None,
            };
            let token = sessions::start_session(&app.store, &account, new, &requester, now).await?;
            let flow = Flow {
                next: Some(NEW_PASSWORD.into()),
                reset: Some(ResetProgress {
                    needed,
                    proved: vec![],
                    recovery_code: false,
                    started_at: now,
                }),
                ..Flow::default()
            };
            flow.save(&app, &token.storage_key()).await?;
            let jar = jar.add(session_cookie(&app, &token));
            (jar, Redirect::to(crate::web::sign_in::reset_step::CHOOSE)).into_response()
        }
        Ok(ResetStart::Decoy) => {
            let token = decoy_token(&app, now, &form.email);
            let jar = jar.add(session_cookie(&app, &token));
            (jar, Redirect::to(crate::web::sign_in::reset_step::CHOOSE)).into_response()
        }
        Err(ResetError::Throttled { until }) => {
            return Err(AppError::TooManyRequests {
                retry_after: until - now,
                help: "/help/forgot-password",
                message: format!(
                    "There have been too many attempts to reset this password. Try again after {}.",
                    domain::clock::human(until)
                ),
            });
        }
        Err(e) => return Err(e.into()),
    };
    tokio::time::sleep_until(floor).await;
    Ok(response)
}

/// The reset session, once every method it needs is proved and within its 15 minutes.
fn proved_reset(app: &AppState, session: &AnySession) -> Option<ResetProgress> {
    if session.0.record.stage != SessionStage::PasswordReset {
        return None;
    }
    Flow::of(&session.0)
        .reset
        .filter(|r| r.done() && app.now() - r.started_at < RESET_SECONDS)
}

fn password_form(
    app: &AppState,
    session: &AnySession,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Response {
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = NewPasswordPage {
        chrome: Chrome {
            signed_in: None,
            csrf_token: session.csrf_token(app),
            admin: false,
            time_left: None,
        },
        new_error: error_for("new_password"),
        confirm_error: error_for("confirm_password"),
        errors,
    };
    render(status, &page)
}

async fn new_password_page(
    State(app): State<AppState>,
    session: Option<AnySession>,
) -> Result<Response, AppError> {
    match session {
        Some(session) if proved_reset(&app, &session).is_some() => {
            Ok(password_form(&app, &session, StatusCode::OK, vec![]))
        }
        _ => Ok(Redirect::to("/forgotten-password").into_response()),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn save_password(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let Some(session) = session.filter(|s| proved_reset(&app, s).is_some()) else {
        return Ok(Redirect::to("/forgotten-password").into_response());
    };
    let account = &session.0.account;
    let result = recovery::finish_reset(
        &app.store,
        &app.hashing,
        app.notifier.as_ref(),
        account,
        &form.new_password,
        &form.confirm_password,
        &requester,
        app.now(),
    )
    .await;
    match result {
        Ok(()) => {
            // Every session of the account has ended, this one included: the state is spent.
            let jar = jar.add(removal_of_session_cookie(&app));
            Ok((jar, Redirect::to("/sign-in?reset=1")).into_response())
        }
        Err(ResetError::Rejected(e)) => {
            let field = match e {
                domain::password::PasswordRejected::DoesNotMatch => "confirm_password",
                _ => "new_password",
            };
            Ok(password_form(
                &app,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![FieldError {
                    field,
                    message: e.to_string(),
                }],
            ))
        }
        Err(e) => Err(e.into()),
    }
}
