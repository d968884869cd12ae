//! What every page shares: the layout's chrome, field errors, the message page, rendering.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// What the layout needs: who is signed in (for the header) and the CSRF token for forms.
pub struct Chrome {
    pub signed_in: Option<String>,
    pub csrf_token: String,
    /// Shows the "Admin" link in the header.
    pub admin: bool,
    /// Seconds until the session ends if nothing happens: the page's script warns two minutes
    /// before and offers more time (WCAG 2.2.1).
    pub time_left: Option<i64>,
}

impl Chrome {
    /// The header of a page for a signed-in person: their name and the session's CSRF token.
    pub fn signed_in(
        app: &crate::web::AppState,
        session: &domain::sessions::SignedInSession,
    ) -> Self {
        Self {
            signed_in: Some(session.account.display_name.clone()),
            csrf_token: crate::web::http::extract::csrf_token(
                app,
                "session",
                session.token.cookie_value(),
            ),
            // Shown once the admin area can open: to an administrator with a method (it
            // asks for one); without, My Profile says what to set up first.
            admin: session.account.role != domain::accounts::Role::User && session.has_methods,
            time_left: Some(domain::sessions::seconds_left(
                &session.record,
                &app.settings.sessions,
                app.now(),
            )),
        }
    }

    pub fn anonymous() -> Self {
        Self {
            signed_in: None,
            csrf_token: String::new(),
            admin: false,
            time_left: None,
        }
    }
}

/// A field error, linked from the error summary.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    /// The error summary's entries for a page with one field in error: none, or this one.
    pub fn on(field: &'static str, message: &Option<String>) -> Vec<FieldError> {
        message
            .iter()
            .map(|m| FieldError {
                field,
                message: m.clone(),
            })
            .collect()
    }
}

/// The message of the error on `field`, if there is one.
pub fn error_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.clone())
}

/// How the organisation's staff reach their local administrators, if it has said.
pub async fn admin_contact(
    app: &crate::web::AppState,
    org_code: &str,
) -> Result<Option<String>, crate::web::AppError> {
    Ok(domain::organisations::admin_contact(&app.store, org_code).await?)
}

/// Renders a template with a status code.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::web::AppError::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
    /// The help page for this situation: (address, link text).
    pub help: Option<(String, String)>,
}

pub struct PasswordField {
    pub id: &'static str,
    pub label: &'static str,
    pub autocomplete: &'static str,
    pub error: Option<String>,
}

pub struct MethodOption {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
}

/// One radio button or select option.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

impl Choice {
    /// The options of `list` (value, label), the one equal to `chosen` selected.
    pub fn list(list: &[(&str, &str)], chosen: &str) -> Vec<Choice> {
        list.iter()
            .map(|(value, label)| Choice {
                value: value.to_string(),
                label: label.to_string(),
                checked: *value == chosen,
            })
            .collect()
    }
}
