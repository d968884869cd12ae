//! Setting up the NHSmal Authenticator ("Receive notifications"): the activation code and its
//! QR code, then the number the app must be given, until the app's answer makes the device
//! one of the person's methods (`domain::mfa::pairing`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, Enrolling, FromClient};
use crate::web::http::pages::{Chrome, FieldError, MessagePage, render};
use crate::web::profile::enrol::{after_enrolment, fresh_factor_check};
use crate::web::profile::pages::EnrolPushPage;
use crate::web::sign_in::flow::Flow;
use crate::web::{AppError, AppState};
use domain::mfa::pairing::{self, PairingState};
use domain::mfa::totp::qr_data_url;
use domain::mfa::{MethodKind, MfaError};

pub const PAGE: &str = "/profile/self-service/enrol/authenticator-app/notifications";
/// The activation address's path; the code travels after `#`, which no browser or proxy
/// sends to a server, so it never reaches a log.
pub const PAIR_PATH: &str = "/pair";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page).post(carry_on))
        .route(
            "/profile/self-service/enrol/authenticator-app/notifications/status",
            get(status),
        )
        .route(PAIR_PATH, get(pair_link))
}

fn binding(session_key: &str) -> String {
    format!("pairing_code:{session_key}")
}

/// The activation code shown in this session, kept sealed in the flow.
fn shown_code(app: &AppState, flow: &Flow, session_key: &str) -> Option<String> {
    let sealed = STANDARD.decode(flow.pairing_code.as_deref()?).ok()?;
    let code = app.secrets.open(&sealed, &binding(session_key)).ok()?;
    String::from_utf8(code.to_vec()).ok()
}

fn activation_url(app: &AppState, code: &str) -> String {
    format!(
        "{}{PAIR_PATH}#{code}",
        app.settings.public_url.as_str().trim_end_matches('/')
    )
}

fn form(
    app: &AppState,
    signed_in: &Enrolling,
    state: &PairingState,
    code: Option<&str>,
) -> Response {
    let (number, state_word) = match state {
        PairingState::Number { number, .. } => (Some(number.clone()), "number"),
        _ => (None, "waiting"),
    };
    let problem = matches!(state, PairingState::Ended).then(|| {
        "The activation code has expired or the app did not finish pairing. Start again to get a new code.".to_string()
    });
    let page = EnrolPushPage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        qr: code.map(|c| qr_data_url(&activation_url(app, c))),
        activation_code: code.map(str::to_string),
        number,
        state: state_word,
        errors: FieldError::on("problem", &problem),
        problem,
    };
    let status = if matches!(state, PairingState::Ended) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

#[derive(Deserialize, Default)]
struct PageQuery {
    /// Start again with a new activation code.
    again: Option<String>,
}

async fn page(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    if let Some(redirect) = fresh_factor_check(&app, &signed_in, MethodKind::Push, PAGE).await? {
        return Ok(redirect);
    }
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    let state = pairing::state_of(&app.store, &key, app.now()).await?;
    // A pairing under way is shown again, not replaced (a reload must not void the code the
    // person is typing).
    if query.again.is_none()
        && matches!(
            state,
            PairingState::Waiting { .. } | PairingState::Number { .. }
        )
    {
        let code = shown_code(&app, &flow, &key);
        return Ok(form(&app, &signed_in, &state, code.as_deref()));
    }
    let ctx = app.mfa(&requester);
    let (code, pairing) = match pairing::start(&app.store, &ctx, &signed_in.0.account, &key).await {
        Ok(started) => started,
        Err(e @ MfaError::TooManyDevices) => {
            return Err(AppError::Refused {
                message: e.to_string(),
                help: "/help/set-up-nhsmal-authenticator",
            });
        }
        Err(e) => return Err(e.into()),
    };
    flow.pairing_code = Some(STANDARD.encode(app.secrets.seal(code.as_bytes(), &binding(&key))));
    flow.save(&app, &key).await?;
    let state = PairingState::Waiting {
        seconds_left: pairing.expires_at - app.now(),
    };
    Ok(form(&app, &signed_in, &state, Some(&code)))
}

#[derive(Deserialize)]
struct Empty {}

/// "Continue": on once the app has answered; otherwise the page as it stands.
async fn carry_on(
    State(app): State<AppState>,
    signed_in: Enrolling,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    let state = pairing::state_of(&app.store, &key, app.now()).await?;
    if state == PairingState::Done {
        flow.pairing_code = None;
        let target = after_enrolment(&mut flow);
        flow.save(&app, &key).await?;
        return Ok(Redirect::to(&target).into_response());
    }
    let code = shown_code(&app, &flow, &key);
    Ok(form(&app, &signed_in, &state, code.as_deref()))
}

/// `{"status": "waiting" | "number" | "done" | "ended"}` for the page's script.
async fn status(State(app): State<AppState>, signed_in: Enrolling) -> Result<Response, AppError> {
    let key = signed_in.0.token.storage_key();
    let word = match pairing::state_of(&app.store, &key, app.now()).await? {
        PairingState::Waiting { .. } => "waiting",
        PairingState::Number { .. } => "number",
        PairingState::Done => "done",
        PairingState::Ended => "ended",
    };
    Ok(axum::Json(serde_json::json!({ "status": word })).into_response())
}

/// The activation address opened in a browser rather than the app.
async fn pair_link() -> Response {
    let page = MessagePage {
        help: Some((
            "/help/set-up-nhsmal-authenticator".into(),
            "Help with setting up the NHSmal Authenticator".into(),
        )),
        chrome: Chrome::anonymous(),
        heading: "Open this in the NHSmal Authenticator".into(),
        paragraphs: vec![
            "This link pairs the NHSmal Authenticator with your account. Scan the QR code with the app, or type the activation code into it, rather than opening the link in a browser.".into(),
        ],
        link: Some(("/profile".into(), "Go to My Profile".into())),
    };
    render(StatusCode::OK, &page)
}
