//! The page structs of My Profile: Self-Service, enrolment, methods, devices, activity and
//! feedback.

use askama::Template;
use domain::accounts::Account;

use crate::web::http::pages::{Choice, Chrome, FieldError, MethodOption, PasswordField};

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub chrome: Chrome,
    pub account: Account,
    /// An administrator without a method: the admin area opens once they set one up.
    pub admin_needs_method: bool,
    pub contact: Option<String>,
    /// The end of the person's rollout exception, while one lets them in (issue 24).
    pub exception_until: Option<String>,
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
    pub this_session: bool,
}

#[derive(Template)]
#[template(path = "not_me_confirm.html")]
pub struct NotMeConfirmPage {
    pub chrome: Chrome,
    pub row: ActivityRow,
}

#[derive(Template)]
#[template(path = "self_service.html")]
pub struct SelfServicePage {
    pub chrome: Chrome,
    /// Ask for a second method or recovery codes.
    pub needs_backup: bool,
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
    /// The `otpauth://` address the QR code holds, as a link for people on their phone.
    pub otpauth: String,
    pub key: String,
    pub name: String,
    pub errors: Vec<FieldError>,
    pub code_error: Option<String>,
    pub name_error: Option<String>,
    /// The policy allows the NHSmal Authenticator's notifications: offer them.
    pub push_offered: bool,
}

#[derive(Template)]
#[template(path = "method_action.html")]
pub struct MethodActionPage {
    pub chrome: Chrome,
    pub remove: bool,
    /// Removing it leaves no method: the page says what that means.
    pub only_method: bool,
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
    /// A text-message or phone-call method: the set-up page's slug, where its number changes.
    pub number_slug: Option<&'static str>,
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
    /// The help page for setting up this method: (address, link text).
    pub help: (&'static str, &'static str),
}

#[derive(Template)]
#[template(path = "enrol_key.html")]
pub struct EnrolKeyPage {
    pub chrome: Chrome,
}

#[derive(Template)]
#[template(path = "enrol_passkey.html")]
pub struct EnrolPasskeyPage {
    pub chrome: Chrome,
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

#[derive(Template)]
#[template(path = "enrol_push.html")]
pub struct EnrolPushPage {
    pub chrome: Chrome,
    /// The QR code of the activation address, while the app has not used it.
    pub qr: Option<String>,
    pub activation_code: Option<String>,
    /// The number to type in the app, once it has the code.
    pub number: Option<String>,
    /// What the page shows: "waiting" or "number" (its status URL answers the same words).
    pub state: &'static str,
    pub errors: Vec<FieldError>,
    pub problem: Option<String>,
}
