//! The feedback form, for everyone: signed in (the organisation is kept) or signed out.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, MaybeSignedIn, visitor_csrf};
use crate::web::http::pages::{Choice, Chrome, FieldError, MessagePage, render};
use crate::web::profile::pages::FeedbackPage;
use crate::web::{AppError, AppState};
use domain::feedback::{self, FeedbackError, FeedbackInput, RATINGS, Topic};

const THANK_YOU: &str = "/feedback/thank-you";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feedback", get(form).post(send))
        .route(THANK_YOU, get(thank_you))
}

#[derive(Deserialize, Default)]
struct FeedbackForm {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comments: String,
}

/// The page header and form token: the session's when signed in, otherwise the visitor
/// cookie's (set here if new), as on the sign-in page.
pub(crate) fn chrome(
    app: &AppState,
    session: &MaybeSignedIn,
    jar: CookieJar,
) -> (CookieJar, Chrome) {
    match &session.0 {
        Some(s) => (jar, Chrome::signed_in(app, s)),
        None => {
            let (jar, csrf_token) = visitor_csrf(app, jar);
            let chrome = Chrome {
                signed_in: None,
                csrf_token,
                admin: false,
                time_left: None,
            };
            (jar, chrome)
        }
    }
}

fn feedback_form(
    app: &AppState,
    session: &MaybeSignedIn,
    jar: CookieJar,
    status: StatusCode,
    form: FeedbackForm,
    errors: Vec<FieldError>,
) -> Response {
    let (jar, chrome) = chrome(app, session, jar);
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = FeedbackPage {
        chrome,
        topic_error: error_for("topic"),
        rating_error: error_for("rating"),
        comments_error: error_for("comments"),
        errors,
        topics: Topic::OFFERED
            .iter()
            .map(|t| Choice {
                value: t.as_str().into(),
                label: t.label().into(),
                checked: form.topic == t.as_str(),
            })
            .collect(),
        ratings: RATINGS
            .iter()
            .map(|(r, label)| Choice {
                value: r.to_string(),
                label: format!("{r} – {label}"),
                checked: form.rating == r.to_string(),
            })
            .collect(),
        comments: form.comments,
    };
    (jar, render(status, &page)).into_response()
}

async fn form(State(app): State<AppState>, session: MaybeSignedIn, jar: CookieJar) -> Response {
    feedback_form(
        &app,
        &session,
        jar,
        StatusCode::OK,
        FeedbackForm::default(),
        vec![],
    )
}

async fn send(
    State(app): State<AppState>,
    session: MaybeSignedIn,
    FromClient(requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<FeedbackForm>,
) -> Result<Response, AppError> {
    let input = FeedbackInput {
        topic: &form.topic,
        rating: &form.rating,
        comments: &form.comments,
    };
    let org = session.0.as_ref().map(|s| s.account.org_code.as_str());
    let now = app.now();
    match feedback::submit(&app.store, &input, org, &requester, now).await {
        Ok(_) => Ok(Redirect::to(THANK_YOU).into_response()),
        Err(FeedbackError::Invalid(problems)) => {
            let errors = problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field,
                    message: p.message.into(),
                })
                .collect();
            Ok(feedback_form(
                &app,
                &session,
                jar,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                errors,
            ))
        }
        Err(FeedbackError::TooMany { until }) => Err(too_much_feedback(until, now)),
        Err(FeedbackError::Storage(e)) => Err(e.into()),
    }
}

/// The answer once an address has sent its feedback for the hour (here and on help pages).
pub(crate) fn too_much_feedback(until: i64, now: i64) -> AppError {
    AppError::TooManyRequests {
        retry_after: until - now,
        help: "/help",
        message: format!(
            "A lot of feedback has been sent from your network in the last hour, so we cannot take any more for now. Try again after {}.",
            domain::clock::human(until)
        ),
    }
}

async fn thank_you(State(app): State<AppState>, session: MaybeSignedIn) -> Response {
    let chrome = match &session.0 {
        Some(s) => Chrome::signed_in(&app, s),
        None => Chrome::anonymous(),
    };
    let page = MessagePage {
        help: None,
        chrome,
        heading: "Thank you for your feedback".into(),
        paragraphs: vec![
            "We read every comment and use them to improve the NHSmal Portal.".into(),
            "If you need help with your account, contact your local administrator.".into(),
        ],
        link: Some(("/".into(), "Back to the NHSmal Portal".into())),
    };
    render(StatusCode::OK, &page)
}
