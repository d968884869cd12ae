//! Pages that only inform: the accessibility statement.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::web::AppState;
use crate::web::http::extract::MaybeSignedIn;
use crate::web::http::pages::{Chrome, MessagePage, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/accessibility", get(accessibility))
}

fn chrome(app: &AppState, session: &MaybeSignedIn) -> Chrome {
    match &session.0 {
        Some(s) => Chrome::signed_in(app, s),
        None => Chrome::anonymous(),
    }
}

fn message(chrome: Chrome, heading: &str, paragraphs: &[&str], link: (&str, &str)) -> Response {
    let page = MessagePage {
        help: None,
        chrome,
        heading: heading.into(),
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        link: Some((link.0.into(), link.1.into())),
    };
    render(StatusCode::OK, &page)
}

async fn accessibility(State(app): State<AppState>, session: MaybeSignedIn) -> Response {
    message(
        chrome(&app, &session),
        "Accessibility statement",
        &[
            "The NHSmal Portal is built on the NHS.UK frontend and aims to meet the Web Content Accessibility Guidelines (WCAG) 2.2 at level AA.",
            "Every page works without JavaScript. If you find a part of the portal hard to use, tell us through the Feedback link.",
        ],
        ("/", "Back to the NHSmal Portal"),
    )
}
