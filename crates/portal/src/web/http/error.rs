//! One error type for every handler. It renders an NHS-style page that tells the person only
//! what helps them; 5xx detail goes to the log, never to the page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::web::http::pages::{Chrome, MessagePage};
use domain::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page not found")]
    NotFound,
    /// A state-changing request without a valid CSRF token, or from another site.
    #[error("cross-site request refused")]
    CrossSiteRequest,
    /// A signed-in page asked for without a valid session: go and sign in, then come back.
    #[error("sign-in required")]
    SignInRequired { next: Option<String> },
    /// A page past the second step asked for by a session still at it.
    #[error("second factor required")]
    SecondFactorRequired,
    /// The MFA policy requires this person to set up a method before anything else.
    #[error("enrolment required")]
    EnrolmentRequired,
    /// The MFA reminder is due: it comes first, then the page asked for.
    #[error("reminder due")]
    ReminderDue { next: Option<String> },
    /// Somewhere else to go first (a fresh second factor, say); the target is a local path.
    #[error("redirect")]
    Redirect(String),
    /// Signed in, but not allowed to do this. The message says what they can do instead.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// As `Forbidden`, with the help page for exactly this refusal (a path under /help).
    #[error("forbidden: {message}")]
    Refused { message: String, help: &'static str },
    /// The request was understood but something in it is wrong (an API caller's mistake).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A form posted as something other than a form.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests")]
    /// `help`: the help page about this limit.
    TooManyRequests {
        retry_after: i64,
        message: String,
        help: &'static str,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(detail) => AppError::Unavailable(detail),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(format!("json: {e}"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(format!("{e:#}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, heading, paragraphs): (StatusCode, &str, Vec<String>) = match &self {
            AppError::SignInRequired { next } => {
                let target = match next {
                    Some(path) => format!(
                        "/sign-in?{}",
                        url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("next", path)
                            .finish()
                    ),
                    None => "/sign-in".to_string(),
                };
                return Redirect::to(&target).into_response();
            }
            AppError::SecondFactorRequired => {
                return Redirect::to("/sign-in/verify").into_response();
            }
            AppError::EnrolmentRequired => {
                return Redirect::to("/profile/self-service/enrol").into_response();
            }
            AppError::ReminderDue { next } => {
                let target = format!(
                    "/mfa-reminder?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("next", next.as_deref().unwrap_or("/profile"))
                        .finish()
                );
                return Redirect::to(&target).into_response();
            }
            AppError::Redirect(target) => {
                return Redirect::to(target).into_response();
            }
            AppError::Forbidden(message) | AppError::Refused { message, .. } => (
                StatusCode::FORBIDDEN,
                "You cannot do this",
                vec![message.clone()],
            ),
            AppError::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                "There is a problem with your request",
                vec![message.clone()],
            ),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "There is a problem with your request",
                vec!["What was sent is too large.".into()],
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "There is a problem with your request",
                vec!["Send the form from its page.".into()],
            ),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                vec!["If you typed the web address, check it is correct.".into()],
            ),
            AppError::CrossSiteRequest => (
                StatusCode::FORBIDDEN,
                "Your request could not be completed",
                vec![
                    "This can happen if a form was open for a long time or was sent from another website. Go back, reload the page and try again.".into(),
                ],
            ),
            AppError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                vec![message.clone()],
            ),
            AppError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sorry, there is a problem with the service",
                    vec!["Try again in a few minutes. Nothing you entered has been saved.".into()],
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sorry, there is a problem with the service",
                vec!["Try again later.".into()],
            ),
        };
        let help_href = match &self {
            AppError::TooManyRequests { help, .. } | AppError::Refused { help, .. } => help,
            _ => "/help",
        };
        let help_text = crate::web::help::title_of(help_href)
            .map(|t| format!("Help: {t}"))
            .unwrap_or_else(|| "Get help with the NHSmal Portal".to_string());
        let page = MessagePage {
            help: Some((help_href.to_string(), help_text)),
            chrome: Chrome::anonymous(),
            heading: heading.to_string(),
            paragraphs,
            link: Some((
                "/".to_string(),
                "Go to the NHSmal Portal home page".to_string(),
            )),
        };
        let body = page.render().unwrap_or_else(|_| {
            format!("<!DOCTYPE html><title>{heading}</title><h1>{heading}</h1>")
        });
        let mut response = (status, axum::response::Html(body)).into_response();
        if let AppError::TooManyRequests { retry_after, .. } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(fault) = self.fault() {
            response.extensions_mut().insert(fault);
        }
        response
    }
}

/// What went wrong behind a 5xx, for the log alone: `observe` writes it in the request's span,
/// so that an error carries no side effect of its own (axum's `examples/error-handling`).
#[derive(Debug, Clone)]
pub struct ServerFault {
    pub what: &'static str,
    pub detail: String,
}

impl AppError {
    /// The fault to log, for the errors that are the service's and not the request's.
    pub fn fault(&self) -> Option<ServerFault> {
        match self {
            AppError::Unavailable(detail) => Some(ServerFault {
                what: "service unavailable",
                detail: detail.clone(),
            }),
            AppError::Internal(detail) => Some(ServerFault {
                what: "internal error",
                detail: detail.clone(),
            }),
            _ => None,
        }
    }
}

/// A JSON error for the pages' scripts (security keys): `{"error": message}`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}
