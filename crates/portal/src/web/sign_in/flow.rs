//! The state of a ceremony under way in a session (where to go after the second step, the
//! method chosen, an authenticator app being set up), kept as JSON on the session row so that
//! any node can continue it.

use serde::{Deserialize, Serialize};

use crate::web::{AppError, AppState};
use domain::mfa::phone::E164;
use domain::mfa::{MethodKind, PendingTotp};
use domain::sessions::{SessionRecords, SignedInSession};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Flow {
    /// Where to go once the second step is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The method chosen for the second step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An authenticator app being set up (its key sealed to this session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_totp: Option<PendingTotp>,
    /// The call this session is waiting on (second step by phone call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// webauthn-rs state between the options and the browser's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_registration: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_authentication: Option<serde_json::Value>,
    /// Days this device may be remembered after the second step (0 or absent: not offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_days: Option<i64>,
    /// A forgotten password being reset: the methods proved so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetProgress>,
    /// The kind of method a reset's second step was asked for, and when (see
    /// `web::reset_step`); `method` is then the account's method of that kind, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_kind: Option<MethodKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_chosen_at: Option<i64>,
    /// A number being set up (text message or phone call), not yet proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_phone: Option<PendingPhone>,
    /// Set up from "Move to a new phone": the set-up returns there (a step-up on the way
    /// replaces `next`, so this is kept apart).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_phone: bool,
    /// How many times "I need more time" restarted the second step's 10 minutes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extensions: u32,
    /// "Change number": the text-message or phone-call method whose number the phone step
    /// being set up replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacing: Option<String>,
    /// The signals sign-in monitoring found at the password step (space-separated names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_signals: Option<String>,
    /// A high-risk sign-in: only an authenticator app or a security key may finish it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strong_only: bool,
    /// The NHSmal Authenticator's code is being typed instead of approving a push (no
    /// signal on the phone).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_code: bool,
    /// The activation code of an NHSmal Authenticator being paired, sealed to the session,
    /// so that the set-up page can show it again while the pairing waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing_code: Option<String>,
    /// An app asked for a phishing-resistant sign-in: only a security key will do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub security_key_only: bool,
}

impl Flow {
    /// The risk found at the password step of this sign-in.
    pub fn assessment(&self) -> domain::risk::Assessment {
        domain::risk::Assessment::of(domain::risk::parse_names(
            self.risk_signals.as_deref().unwrap_or_default(),
        ))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingPhone {
    pub kind: MethodKind,
    pub phone: E164,
    /// For a call: the approval the call is waiting on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

/// What proved one step of a password reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetProof {
    Method(MethodKind),
    RecoveryCode,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResetProgress {
    /// How many different kinds of method must be proved.
    pub needed: usize,
    pub proved: Vec<MethodKind>,
    /// A recovery code proved one of the methods (where the policy allows it).
    #[serde(default)]
    pub recovery_code: bool,
    /// When the email step was done: the whole reset must finish within 15 minutes.
    pub started_at: i64,
}

impl ResetProgress {
    pub fn done(&self) -> bool {
        self.proved.len() + usize::from(self.recovery_code) >= self.needed
    }
}

impl Flow {
    pub fn of(session: &SignedInSession) -> Self {
        session
            .record
            .flow
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    pub async fn save(&self, app: &AppState, session_key: &str) -> Result<(), AppError> {
        let text = serde_json::to_string(self)?;
        app.store.set_session_flow(session_key, Some(&text)).await?;
        Ok(())
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
