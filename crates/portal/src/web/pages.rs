//! Page templates (askama, on the NHS.UK frontend) and what every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::domain::accounts::Account;

/// What the layout needs: who is signed in (for the header) and the CSRF token for forms.
pub struct Chrome {
    pub signed_in: Option<String>,
    pub csrf_token: String,
    /// Shows the "Admin" link in the header.
    pub admin: bool,
}

impl Chrome {
    /// The header of a page for a signed-in person: their name and the session's CSRF token.
    pub fn signed_in(
        app: &super::AppState,
        session: &crate::domain::sessions::SignedInSession,
    ) -> Self {
        Self {
            signed_in: Some(session.account.display_name.clone()),
            csrf_token: super::extract::csrf_token(app, "session", session.token.cookie_value()),
            admin: session.account.role != crate::domain::accounts::Role::User,
        }
    }

    pub fn anonymous() -> Self {
        Self {
            signed_in: None,
            csrf_token: String::new(),
            admin: false,
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
    pub methods: Vec<MethodRow>,
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

#[derive(Template)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub chrome: Chrome,
    /// "code" (type a code), "call" (wait for the call) or "key" (security key).
    pub mode: &'static str,
    pub resend_label: Option<&'static str>,
    pub heading: String,
    pub hint: String,
    pub method_id: String,
    pub errors: Vec<FieldError>,
    pub code_error: Option<String>,
    pub step_up: bool,
}

pub struct MethodChoice {
    pub href: String,
    pub label: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "another_way.html")]
pub struct AnotherWayPage {
    pub chrome: Chrome,
    pub methods: Vec<MethodChoice>,
}

pub struct MethodOption {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
}

#[derive(Template)]
#[template(path = "enrol_choice.html")]
pub struct EnrolChoicePage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub method_error: Option<String>,
    pub options: Vec<MethodOption>,
    pub enrolment_only: bool,
    pub required: Option<String>,
}

#[derive(Template)]
#[template(path = "enrol_totp.html")]
pub struct EnrolTotpPage {
    pub chrome: Chrome,
    pub qr: String,
    pub key: String,
    pub name: String,
    pub errors: Vec<FieldError>,
    pub code_error: Option<String>,
    pub name_error: Option<String>,
}

#[derive(Template)]
#[template(path = "method_action.html")]
pub struct MethodActionPage {
    pub chrome: Chrome,
    pub remove: bool,
    pub method_id: String,
    pub kind: String,
    pub name: String,
    pub errors: Vec<FieldError>,
    pub name_error: Option<String>,
}

/// A method as Self-Service lists it.
pub struct MethodRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub detail: String,
    pub added: String,
    pub last_used: String,
    pub is_default: bool,
}

#[derive(Template)]
#[template(path = "enrol_phone.html")]
pub struct EnrolPhonePage {
    pub chrome: Chrome,
    pub heading: String,
    pub intro: String,
    pub action: String,
    /// "number", "code" or "call".
    pub stage: &'static str,
    pub phone_label: &'static str,
    pub send_label: &'static str,
    pub phone: String,
    pub masked: String,
    pub errors: Vec<FieldError>,
    pub field_error: Option<String>,
}

#[derive(Template)]
#[template(path = "enrol_key.html")]
pub struct EnrolKeyPage {
    pub chrome: Chrome,
}

#[derive(Template)]
#[template(path = "mfa_reminder.html")]
pub struct MfaReminderPage {
    pub chrome: Chrome,
    pub by: String,
    pub snoozes_left: i64,
    pub next: String,
}

#[derive(Template)]
#[template(path = "admin_home.html")]
pub struct AdminHomePage {
    pub chrome: Chrome,
    pub national: bool,
    pub org: String,
    pub org_name: String,
}

/// A method's line in the enrolment report.
pub struct ReportMethodRow {
    pub label: &'static str,
    pub accounts: String,
    pub share: String,
}

/// A week's line in the enrolment report.
pub struct ReportWeekRow {
    pub starting: String,
    pub newly_enrolled: String,
    pub enrolled: String,
    pub share: String,
}

/// An organisation's line in the national enrolment report.
pub struct ReportOrganisationRow {
    pub code: String,
    pub name: String,
    pub href: String,
    pub accounts: String,
    pub enrolled: String,
    pub not_enrolled: String,
    pub share: String,
}

#[derive(Template)]
#[template(path = "admin_report.html")]
pub struct EnrolmentReportPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    /// "All organisations" or "Riverside Pharmacy (FA123)".
    pub scope_label: String,
    /// The national report (with its table of organisations).
    pub national: bool,
    /// A national administrator, who may pick an organisation.
    pub can_choose: bool,
    pub org_value: String,
    pub org_error: Option<String>,
    pub generated: String,
    pub required_from: Option<String>,
    /// (figure, value) pairs.
    pub summary: Vec<(String, String)>,
    pub csv_href: String,
    /// Server-drawn SVG (escaped where it holds text).
    pub method_chart: String,
    pub methods: Vec<ReportMethodRow>,
    pub progress_chart: Option<String>,
    pub weeks: Vec<ReportWeekRow>,
    pub organisations: Vec<ReportOrganisationRow>,
    pub organisations_total: usize,
}
