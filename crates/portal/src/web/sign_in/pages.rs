//! The page structs of signing in: the password, the second step, resets, recovery codes,
//! invitations and the rollout reminder.

use askama::Template;

use crate::web::http::pages::{Chrome, FieldError, MethodOption, PasswordField};

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
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub chrome: Chrome,
    /// "code" (type a code), "call" (wait for the call), "push" (approve in the NHSmal
    /// Authenticator) or "key" (security key).
    pub mode: &'static str,
    /// The number to type in the NHSmal Authenticator (push).
    pub number: Option<String>,
    /// A push method, shown as push: the link to type its code instead (and back).
    pub push_code_link: Option<(String, &'static str)>,
    pub resend_label: Option<&'static str>,
    pub heading: String,
    pub hint: String,
    pub method_id: String,
    pub errors: Vec<FieldError>,
    pub code_error: Option<String>,
    /// Why a signed-in person is asked again ("To open the admin area, …"), if they are.
    pub step_up: Option<&'static str>,
    /// The help page for signing in with this method: (address, link text).
    pub help: (&'static str, &'static str),
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
    /// The organisation's local administrators (the password was right: no enumeration).
    pub contact: Option<String>,
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
#[template(path = "mfa_reminder.html")]
pub struct MfaReminderPage {
    pub chrome: Chrome,
    pub by: String,
    pub snoozes_left: i64,
    pub next: String,
    /// The person is on a rollout exception that ends on `by` (issue 24).
    pub exception: bool,
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
