//! Page templates (askama, on the NHS.UK frontend) and what every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::domain::accounts::Account;

/// What the layout needs: who is signed in (for the header) and the CSRF token for forms.
pub struct Chrome {
    pub signed_in: Option<String>,
    pub csrf_token: String,
}

impl Chrome {
    pub fn anonymous() -> Self {
        Self {
            signed_in: None,
            csrf_token: String::new(),
        }
    }
}

/// A field error, linked from the error summary.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Renders a template with a status code.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => super::AppError::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub email_error: Option<String>,
    pub password_error: Option<String>,
    pub email: String,
    pub next: String,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub chrome: Chrome,
    pub account: Account,
}

#[derive(Template)]
#[template(path = "self_service.html")]
pub struct SelfServicePage {
    pub chrome: Chrome,
    pub notice: Option<String>,
}

pub struct PasswordField {
    pub id: &'static str,
    pub label: &'static str,
    pub autocomplete: &'static str,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "change_password.html")]
pub struct ChangePasswordPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub fields: Vec<PasswordField>,
}

#[derive(Template)]
#[template(path = "profile_menu.html")]
pub struct ProfileMenuPage {
    pub chrome: Chrome,
}
