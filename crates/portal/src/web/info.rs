//! Pages that only inform: the accessibility statement (what was tested and how, the known
//! issues, how to report a problem and the enforcement procedure).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::web::http::extract::MaybeSignedIn;
use crate::web::http::pages::{Chrome, admin_contact, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/accessibility", get(accessibility))
}

#[derive(askama::Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    chrome: Chrome,
    /// The reader's local administrators, when signed in and their organisation has said.
    contact: Option<String>,
}

async fn accessibility(
    State(app): State<AppState>,
    session: MaybeSignedIn,
) -> Result<Response, AppError> {
    let (chrome, contact) = match &session.0 {
        Some(s) => (
            Chrome::signed_in(&app, s),
            admin_contact(&app, &s.account.org_code).await?,
        ),
        None => (Chrome::anonymous(), None),
    };
    Ok(render(
        StatusCode::OK,
        &AccessibilityPage { chrome, contact },
    ))
}
