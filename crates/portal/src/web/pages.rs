//! Page templates (askama, on the NHS.UK frontend) and what every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use domain::accounts::Account;

/// What the layout needs: who is signed in (for the header) and the CSRF token for forms.
pub struct Chrome {
    pub signed_in: Option<String>,
    pub csrf_token: String,
    /// Shows the "Admin" link in the header.
    pub admin: bool,
}

impl Chrome {
    /// The header of a page for a signed-in person: their name and the session's CSRF token.
    pub fn signed_in(app: &crate::web::AppState, session: &domain::sessions::SignedInSession) -> Self {
        Self {
            signed_in: Some(session.account.display_name.clone()),
            csrf_token: crate::web::extract::csrf_token(app, "session", session.token.cookie_value()),
            admin: session.account.role != domain::accounts::Role::User,
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

/// The message of the error on `field`, if there is one.
pub fn error_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.clone())
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
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub chrome: Chrome,
    pub app_name: String,
    pub scopes: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub chrome: Chrome,
    pub rows: Vec<ActivityRow>,
    pub days: i64,
}

pub struct ActivityRow {
    pub id: i64,
    pub when: String,
    pub what: &'static str,
    pub failed: bool,
    pub device: String,
    pub place: String,
    pub flagged: Option<String>,
    pub reported: bool,
    pub can_report: bool,
}

#[derive(Template)]
#[template(path = "self_service.html")]
pub struct SelfServicePage {
    pub chrome: Chrome,
    pub notice: Option<String>,
    pub methods: Vec<MethodRow>,
    pub devices: Vec<DeviceRow>,
}

/// A remembered device as Self-Service lists it.
pub struct DeviceRow {
    pub id: String,
    pub browser: String,
    pub remembered: String,
    pub until: String,
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
    /// Sign-in monitoring asks for a new password before anything else.
    pub required: bool,
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
    /// During a password reset: which method this is.
    pub reset_note: Option<String>,
    /// Offer "Don't ask again on this device for N days".
    pub remember_days: Option<i64>,
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
    /// Offer "Use a recovery code" (never during a password reset).
    pub recovery: bool,
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

/// A password reset's choice of the kind of method to prove it with: the same for everybody.
#[derive(Template)]
#[template(path = "reset_choice.html")]
pub struct ResetChoicePage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub kind_error: Option<String>,
    pub options: Vec<MethodOption>,
    pub reset_note: String,
    pub recovery: bool,
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

pub struct AdminUserRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub org: String,
    pub role: &'static str,
    pub mfa: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct AdminUsersPage {
    pub chrome: Chrome,
    pub national: bool,
    pub q: String,
    pub show: &'static str,
    pub org: String,
    pub searched: bool,
    pub rows: Vec<AdminUserRow>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

pub struct AdminMethodRow {
    pub kind: &'static str,
    pub name: String,
    pub detail: String,
    pub added: String,
    pub last_used: String,
}

pub struct AdminEventRow {
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub from: String,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct AdminUserPage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub email: String,
    pub org: String,
    pub role: &'static str,
    pub status: String,
    pub locked: bool,
    pub disabled: bool,
    pub notice: Option<String>,
    pub errors: Vec<FieldError>,
    pub reason_error: Option<String>,
    pub minutes_error: Option<String>,
    pub reason: String,
    pub default_minutes: i64,
    pub methods: Vec<AdminMethodRow>,
    pub events: Vec<AdminEventRow>,
}

#[derive(Template)]
#[template(path = "admin_pass.html")]
pub struct AdminPassPage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub email: String,
    pub code: String,
    pub until: String,
}

pub struct AdminAuditRow {
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub who: String,
    pub about: String,
    pub from: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AdminAuditPage {
    pub chrome: Chrome,
    pub national: bool,
    pub errors: Vec<FieldError>,
    pub from_error: Option<String>,
    pub to_error: Option<String>,
    pub email: String,
    pub event: String,
    pub outcome: String,
    pub from: String,
    pub to: String,
    pub org: String,
    pub rows: Vec<AdminAuditRow>,
    pub next: Option<String>,
}

pub struct PolicyMethodBox {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "admin_policy.html")]
pub struct AdminPolicyPage {
    pub chrome: Chrome,
    pub org: String,
    pub national: bool,
    pub can_save: bool,
    pub notice: Option<String>,
    pub current: String,
    pub required_from: String,
    pub reminder_days: String,
    pub max_snoozes: String,
    pub snooze_days: String,
    pub remember_days_user: String,
    pub remember_days_admin: String,
    /// "yes", "no" or "" (follow the national policy, or the default).
    pub recovery_codes_for_reset: String,
    pub user_methods: Vec<PolicyMethodBox>,
    pub admin_methods: Vec<PolicyMethodBox>,
    pub errors: Vec<FieldError>,
    pub date_error: Option<String>,
    pub user_methods_error: Option<String>,
    pub admin_methods_error: Option<String>,
    pub reminder_error: Option<String>,
    pub snoozes_error: Option<String>,
    pub snooze_days_error: Option<String>,
    pub remember_user_error: Option<String>,
    pub remember_admin_error: Option<String>,
    pub org_error: Option<String>,
}

#[derive(Template)]
#[template(path = "tap_sign_in.html")]
pub struct TapSignInPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub email_error: Option<String>,
    pub pass_error: Option<String>,
    pub email: String,
}

/// One radio button or select option.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "feedback.html")]
pub struct FeedbackPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub topic_error: Option<String>,
    pub rating_error: Option<String>,
    pub comments_error: Option<String>,
    pub topics: Vec<Choice>,
    pub ratings: Vec<Choice>,
    pub comments: String,
}

/// A day or week of the collated feedback, as the admin page shows it.
pub struct FeedbackPeriodRow {
    pub label: String,
    pub by_topic: Vec<i64>,
    pub by_rating: Vec<i64>,
    pub total: i64,
}

/// A comment as the admin page lists it.
pub struct FeedbackCommentRow {
    pub submitted: String,
    pub topic: String,
    pub rating: String,
    pub organisation: String,
    pub comments: String,
}

/// The collated feedback for a valid filter.
pub struct FeedbackFigures {
    pub total: i64,
    pub average: String,
    pub by_topic: Vec<(String, i64)>,
    pub by_rating: Vec<(String, i64)>,
    /// "day" or "week".
    pub period: &'static str,
    pub period_heading: &'static str,
    pub topic_labels: Vec<&'static str>,
    pub periods: Vec<FeedbackPeriodRow>,
    pub comments: Vec<FeedbackCommentRow>,
    pub comments_total: i64,
    pub page: i64,
    pub pages: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_feedback.html")]
pub struct AdminFeedbackPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub topic_options: Vec<Choice>,
    pub rating_options: Vec<Choice>,
    pub org: String,
    pub from: String,
    pub to: String,
    /// The filter's query string (with a leading `?` when not empty), for the CSV link.
    pub query: String,
    pub figures: Option<FeedbackFigures>,
}

impl AdminFeedbackPage {
    /// The error on a filter field, shown beside the field as well as in the summary.
    pub fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "forgotten_password.html")]
pub struct ForgottenPasswordPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub email_error: Option<String>,
    pub email: String,
}

#[derive(Template)]
#[template(path = "new_password.html")]
pub struct NewPasswordPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub new_error: Option<String>,
    pub confirm_error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub chrome: Chrome,
    pub left: usize,
    pub has_methods: bool,
    /// Shown once, right after they are made.
    pub codes: Vec<String>,
    /// A data: URL of the codes as a text file.
    pub download: String,
}

#[derive(Template)]
#[template(path = "use_recovery_code.html")]
pub struct UseRecoveryCodePage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub code_error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_code_used.html")]
pub struct RecoveryCodeUsedPage {
    pub chrome: Chrome,
    pub left: usize,
    pub next: String,
}

#[derive(Template)]
#[template(path = "invitation.html")]
pub struct InvitationPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub name: String,
    pub email: String,
    pub fields: Vec<PasswordField>,
}

/// A line of an import file and what was said about it.
pub struct ImportLine {
    pub line: u64,
    pub message: String,
}

/// What an upload did, for the admin import page.
pub struct ImportOutcome {
    /// Whether anything was imported (false: bad rows, nothing written).
    pub imported: bool,
    pub summary: String,
    pub problems: Vec<ImportLine>,
    pub warnings: Vec<ImportLine>,
}

#[derive(Template)]
#[template(path = "admin_import.html")]
pub struct AdminImportPage {
    pub chrome: Chrome,
    pub errors: Vec<FieldError>,
    pub file_error: Option<String>,
    pub skip_invalid: bool,
    pub max_megabytes: usize,
    pub outcome: Option<ImportOutcome>,
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

pub struct AdminSignInRow {
    pub at: String,
    pub email: String,
    pub org: String,
    pub step: String,
    pub method: String,
    pub outcome: String,
    pub reason: String,
    pub risk: String,
    pub signals: Vec<&'static str>,
    pub reported: bool,
    pub ip: String,
    pub place: String,
    pub device: String,
}

#[derive(Template)]
#[template(path = "admin_sign_ins.html")]
pub struct AdminSignInsPage {
    pub chrome: Chrome,
    pub national: bool,
    pub errors: Vec<FieldError>,
    pub email_error: Option<String>,
    pub org_error: Option<String>,
    pub outcome_error: Option<String>,
    pub risk_error: Option<String>,
    pub from_error: Option<String>,
    pub to_error: Option<String>,
    pub email: String,
    pub org: String,
    pub outcome: String,
    pub risk: String,
    pub from: String,
    pub to: String,
    pub outcomes: Vec<Choice>,
    pub risks: Vec<Choice>,
    /// No GeoIP database: the location signals are off.
    pub no_geo: bool,
    pub export: String,
    pub rows: Vec<AdminSignInRow>,
    pub next: Option<String>,
}

pub struct AdminRiskyRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub org: String,
    pub level: &'static str,
    pub signals: Vec<&'static str>,
    pub first: String,
    pub last: String,
    pub state: &'static str,
    pub sign_ins: String,
    pub can_dismiss: bool,
    pub can_confirm: bool,
}

#[derive(Template)]
#[template(path = "admin_risky_accounts.html")]
pub struct AdminRiskyAccountsPage {
    pub chrome: Chrome,
    pub national: bool,
    pub errors: Vec<FieldError>,
    pub state_error: Option<String>,
    pub org_error: Option<String>,
    pub org: String,
    pub states: Vec<Choice>,
    pub notice: Option<&'static str>,
    pub rows: Vec<AdminRiskyRow>,
    pub more: bool,
}
