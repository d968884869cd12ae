//! The help section (`/help`): the index by topic, a search over the pages, each page, and its
//! "Was this helpful?" question, which feeds the collated feedback (topic "Help pages").

mod library;

use library::{pages, search};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, FromClient, MaybeSignedIn};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::{AppError, AppState};
use domain::feedback::{self, FeedbackError, FeedbackInput, Topic};
use library::{HelpPage, MAX_QUERY_CHARS, Section};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/help", get(index))
        .route("/help/{slug}", get(page))
        .route("/help/{slug}/feedback", post(helpful))
}

/// Markdown written for the portal (the rollout kit's guide) as HTML, as help pages are.
pub(crate) fn markdown(text: &str) -> String {
    library::to_html(text)
}

/// The heading of a help page, for links that name it.
pub fn title_of(href: &str) -> Option<&'static str> {
    let slug = href.strip_prefix("/help/")?;
    library::page(slug).map(|p| p.title.as_str())
}

pub struct SectionView {
    pub heading: &'static str,
    pub pages: Vec<&'static HelpPage>,
}

#[derive(Template)]
#[template(path = "help_index.html")]
struct HelpIndexPage {
    chrome: Chrome,
    query: String,
    /// The results, when a search was made.
    results: Option<Vec<&'static HelpPage>>,
    sections: Vec<SectionView>,
    errors: Vec<FieldError>,
    query_error: Option<String>,
}

#[derive(Template)]
#[template(path = "help_page.html")]
struct HelpPageView {
    chrome: Chrome,
    /// The reader's local administrators, when signed in and their organisation has said.
    contact: Option<String>,
    page: &'static HelpPage,
    /// "Thank you" once the question was answered.
    answered: bool,
    errors: Vec<FieldError>,
    helpful_error: Option<String>,
    comments_error: Option<String>,
    comments: String,
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn index(
    State(app): State<AppState>,
    session: MaybeSignedIn,
    jar: CookieJar,
    Query(asked): Query<SearchQuery>,
) -> Response {
    let (jar, chrome) = crate::web::profile::feedback::chrome(&app, &session, jar);
    let query = asked.q.unwrap_or_default();
    let too_long = query.chars().count() > MAX_QUERY_CHARS;
    let query_error = too_long.then(|| format!("Search for {MAX_QUERY_CHARS} characters or fewer"));
    let results = (!query.trim().is_empty() && !too_long).then(|| search(&query));
    let page = HelpIndexPage {
        chrome,
        sections: Section::ALL
            .iter()
            .map(|s| SectionView {
                heading: s.heading(),
                pages: pages().iter().filter(|p| p.section == *s).collect(),
            })
            .collect(),
        errors: FieldError::on("q", &query_error),
        query: if too_long { String::new() } else { query },
        query_error,
        results,
    };
    let status = if too_long {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (jar, render(status, &page)).into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    answered: Option<String>,
}

async fn page(
    State(app): State<AppState>,
    session: MaybeSignedIn,
    jar: CookieJar,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = library::page(&slug).ok_or(AppError::NotFound)?;
    let (jar, chrome) = crate::web::profile::feedback::chrome(&app, &session, jar);
    let contact = match &session.0 {
        Some(s) => crate::web::http::pages::admin_contact(&app, &s.account.org_code).await?,
        None => None,
    };
    let view = HelpPageView {
        chrome,
        contact,
        page,
        answered: query.answered.is_some(),
        errors: vec![],
        helpful_error: None,
        comments_error: None,
        comments: String::new(),
    };
    Ok((jar, render(StatusCode::OK, &view)).into_response())
}

#[derive(Deserialize)]
struct HelpfulForm {
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    comments: String,
}

/// "Was this helpful?": Yes counts as rating 5 ("Very easy"), No as 1 ("Very difficult"), so
/// that the collated feedback's ratings show how the help serves people; the comment names
/// the page.
async fn helpful(
    State(app): State<AppState>,
    session: MaybeSignedIn,
    FromClient(requester): FromClient,
    jar: CookieJar,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<HelpfulForm>,
) -> Result<Response, AppError> {
    let page = library::page(&slug).ok_or(AppError::NotFound)?;
    let rating = match form.helpful.as_str() {
        "yes" => "5",
        "no" => "1",
        _ => "",
    };
    let comments = match feedback::normalise_comments(&form.comments) {
        Some(c) => format!("{}: {c}", page.title),
        None => page.title.clone(),
    };
    let input = FeedbackInput {
        topic: Topic::HelpPages.as_str(),
        rating,
        comments: &comments,
    };
    let org = session.0.as_ref().map(|s| s.account.org_code.as_str());
    let now = app.now();
    match feedback::submit(&app.store, &input, org, &requester, now).await {
        Ok(_) => Ok(Redirect::to(&format!("/help/{slug}?answered=1#helpful")).into_response()),
        Err(FeedbackError::Invalid(problems)) => {
            let errors: Vec<FieldError> = problems
                .into_iter()
                .map(|p| FieldError {
                    // The summary's link goes to the first radio (the NHS.UK pattern).
                    field: if p.field == "rating" {
                        "helpful-yes"
                    } else {
                        p.field
                    },
                    message: if p.field == "rating" {
                        "Select yes if this page was helpful".into()
                    } else {
                        p.message.into()
                    },
                })
                .collect();
            let (jar, chrome) = crate::web::profile::feedback::chrome(&app, &session, jar);
            let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
            let view = HelpPageView {
                chrome,
                contact: None,
                page,
                answered: false,
                helpful_error: error_for("helpful-yes"),
                comments_error: error_for("comments"),
                errors,
                comments: form.comments,
            };
            Ok((jar, render(StatusCode::UNPROCESSABLE_ENTITY, &view)).into_response())
        }
        Err(FeedbackError::TooMany { until }) => {
            Err(crate::web::profile::feedback::too_much_feedback(until, now))
        }
        Err(FeedbackError::Storage(e)) => Err(e.into()),
    }
}
