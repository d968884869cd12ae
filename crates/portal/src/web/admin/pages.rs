//! The page structs of the admin area.

use askama::Template;

use crate::web::http::pages::{Choice, Chrome, FieldError, error_for};

#[derive(Template)]
#[template(path = "admin_home.html")]
pub struct AdminHomePage {
    pub chrome: Chrome,
    pub national: bool,
    pub org: String,
    pub org_name: String,
    pub notice: Option<String>,
    /// How the organisation's staff reach their local administrators, as saved or typed.
    pub contact: String,
    pub contact_error: Option<String>,
    pub errors: Vec<FieldError>,
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

#[derive(Template)]
#[template(path = "admin_confirm_reset.html")]
pub struct ConfirmResetPage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub email: String,
    /// "Authenticator app: Work phone", one per method that will be removed.
    pub methods: Vec<String>,
    pub reason: String,
}

/// An exception as the admin pages list it.
pub struct ExceptionRow {
    /// The person's account id (for the link to their page).
    pub id: String,
    pub email: String,
    pub org: String,
    pub reason: &'static str,
    pub note: String,
    pub from: String,
    pub until: String,
    pub live: bool,
    pub grants: i64,
}

pub struct ReasonOption {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "admin_exception.html")]
pub struct AdminExceptionPage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub email: String,
    pub administrator: bool,
    pub live: Option<ExceptionRow>,
    pub history: Vec<ExceptionRow>,
    pub longest: i64,
    pub days: String,
    pub reason: String,
    pub note: String,
    pub reasons: Vec<ReasonOption>,
    pub errors: Vec<FieldError>,
    pub days_error: Option<String>,
    pub reason_error: Option<String>,
    pub note_error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_exception_confirm.html")]
pub struct ConfirmExceptionPage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub email: String,
    pub days: String,
    pub until: String,
    pub reason: &'static str,
    pub reason_label: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "admin_exceptions.html")]
pub struct AdminExceptionsPage {
    pub chrome: Chrome,
    pub ending: Vec<ExceptionRow>,
    pub renewed: Vec<ExceptionRow>,
}
