//! "I have a new phone" (`/profile/new-phone`): a guided path while the old phone still works
//! (add the app on the new phone, which proves it with a code; make it the default; remove the
//! old one), and the quickest routes when it does not.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, FromClient, SignedIn};
use crate::web::http::pages::{Chrome, admin_contact, render};
use crate::web::{AppError, AppState};
use domain::methods::MethodKind;
use domain::mfa;

pub const PAGE: &str = "/profile/new-phone";
/// Where the authenticator-app set-up returns to on this path.
pub const AFTER_ADDING: &str = "/profile/new-phone?added=1";
/// The authenticator-app set-up, for this path.
pub const SET_UP: &str = "/profile/self-service/enrol/authenticator-app?then=new-phone";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/profile/new-phone/add-app", post(add_app))
        .route("/profile/new-phone/make-default", post(make_default))
}

/// A method as the path lists it.
pub struct PhoneMethod {
    pub id: String,
    pub label: String,
    pub is_default: bool,
    /// The set-up page's slug when its number can be changed (text message, phone call).
    pub number_slug: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "new_phone.html")]
struct NewPhonePage {
    chrome: Chrome,
    /// The app just added on this path, if it was.
    added: Option<PhoneMethod>,
    /// The other authenticator apps: the old phone's, to remove once the new one works.
    old_apps: Vec<PhoneMethod>,
    /// Text-message and phone-call methods, whose numbers can change.
    numbers: Vec<PhoneMethod>,
    contact: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    added: Option<String>,
}

async fn page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
    let row = |m: &domain::methods::Method| PhoneMethod {
        id: m.id.clone(),
        label: format!("{}: {}", m.kind.label(), m.name),
        is_default: m.is_default,
        number_slug: m.phone.is_some().then(|| m.kind.slug()),
    };
    // Just back from the set-up: the newest authenticator app is the new phone's.
    let added = query
        .added
        .is_some()
        .then(|| {
            methods
                .iter()
                .filter(|m| m.kind == MethodKind::Totp)
                .max_by_key(|m| m.created_at)
        })
        .flatten();
    let page = NewPhonePage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        old_apps: methods
            .iter()
            .filter(|m| m.kind == MethodKind::Totp && Some(&m.id) != added.map(|a| &a.id))
            .map(row)
            .collect(),
        numbers: methods
            .iter()
            .filter(|m| m.phone.is_some())
            .map(row)
            .collect(),
        added: added.map(row),
        contact: admin_contact(&app, &signed_in.0.account.org_code).await?,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct Empty {}

/// Step 1: the authenticator-app set-up, coming back here once the new app's code is right.
async fn add_app(_signed_in: SignedIn, CsrfForm(Empty {}): CsrfForm<Empty>) -> Response {
    Redirect::to(SET_UP).into_response()
}

#[derive(Deserialize)]
struct DefaultForm {
    #[serde(default)]
    method: String,
}

/// Step 2: the new app becomes the one asked for first.
async fn make_default(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<DefaultForm>,
) -> Result<Response, AppError> {
    let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
    if !methods.iter().any(|m| m.id == form.method) {
        return Err(AppError::NotFound);
    }
    mfa::make_default(
        &app.store,
        &signed_in.0.account,
        &form.method,
        &app.mfa(&requester),
    )
    .await?;
    Ok(Redirect::to(AFTER_ADDING).into_response())
}
