//! Sessions: opaque 256-bit ids held by the browser; the database keeps only their SHA-256,
//! so a database dump does not hand out live sessions (SECURITY-CHECKLIST SE-1, SE-4, SE-5).

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::StorageError;
use super::accounts::{Account, AccountState};
use super::audit::Requester;
use crate::clock::UnixTime;
use crate::secrets::hex;

/// Seconds between writes of `last_seen_at`: the idle timeout is minutes long, so touching the
/// row on every request would only cost writes.
const TOUCH_EVERY: i64 = 60;

/// The session id as the browser holds it. Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(super::random_bytes::<32>()))
    }

    /// Accepts only what `generate` could have made: 43 base64url characters.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let ok = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(value.to_string()))
    }

    pub fn cookie_value(&self) -> &str {
        &self.0
    }

    /// The key the database stores: hex SHA-256 of the id.
    pub fn storage_key(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

/// How far a session has got: a correct password opens a session at `SecondFactor`, which only
/// reaches the second-step pages; the second factor replaces it with a `SignedIn` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    SecondFactor,
    SignedIn,
    /// A forgotten password being reset: only the second-step pages and the new-password page.
    PasswordReset,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::SignedIn => "signed_in",
            SessionStage::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "second_factor" => Some(SessionStage::SecondFactor),
            "signed_in" => Some(SessionStage::SignedIn),
            "password_reset" => Some(SessionStage::PasswordReset),
            _ => None,
        }
    }
}

/// How long a password reset, from the email step to the new password, may take.
pub const RESET_SECONDS: i64 = 15 * 60;

/// How long a session may wait at the second step.
pub const SECOND_FACTOR_SECONDS: i64 = 10 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub account_id: String,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    /// RFC 8176 `amr` values of the methods used to sign in, space-separated ("pwd").
    pub auth_methods: String,
    pub ip: String,
    pub user_agent: String,
    pub stage: SessionStage,
    /// State of a ceremony under way (JSON), such as an authenticator app being set up.
    pub flow: Option<String>,
    /// When a second factor was last proved in this session (for fresh-factor checks).
    pub second_factor_at: Option<UnixTime>,
}

pub trait SessionRecords {
    fn set_session_flow(
        &self,
        id_hash: &str,
        flow: Option<&str>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn insert_session(
        &self,
        session: &SessionRecord,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The session, its account, and whether the account has any MFA method (the header
    /// offers the admin area only to an administrator who can open it).
    fn session_with_account(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = Result<Option<(SessionRecord, Account, bool)>, StorageError>> + Send;
    /// "I need more time" in the second step: its 10 minutes start again (and its idle time).
    fn restart_second_step(
        &self,
        id_hash: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn touch_session(
        &self,
        id_hash: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Gives the session `old_hash` a new id and contents in one write; false if it was gone
    /// (so of two requests racing to upgrade one session, one wins).
    fn replace_session(
        &self,
        old_hash: &str,
        session: &SessionRecord,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Deletes the session; false if it was already gone.
    fn delete_session(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Ends every session of the account except `keep` (a storage key); returns how many ended.
    fn delete_sessions_of_account(
        &self,
        account_id: &str,
        keep: Option<&str>,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
}

/// A signed-in session and its account, as a request sees them.
#[derive(Debug, Clone)]
pub struct SignedInSession {
    pub token: SessionToken,
    pub record: SessionRecord,
    pub account: Account,
    /// Whether the account has set up any MFA method.
    pub has_methods: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    Valid { touch: bool },
    Expired,
}

/// Idle and absolute expiry, decided on the server.
pub fn check_session(
    record: &SessionRecord,
    settings: &SessionSettings,
    now: UnixTime,
) -> SessionCheck {
    let idle_expired = now - record.last_seen_at >= settings.idle_seconds;
    let absolute_expired = now - record.created_at >= settings.absolute_seconds;
    let waited_too_long = match record.stage {
        SessionStage::SecondFactor => now - record.created_at >= SECOND_FACTOR_SECONDS,
        SessionStage::PasswordReset => now - record.created_at >= RESET_SECONDS,
        SessionStage::SignedIn => false,
    };
    if idle_expired || absolute_expired || waited_too_long || now < record.created_at {
        SessionCheck::Expired
    } else {
        SessionCheck::Valid {
            touch: now - record.last_seen_at >= TOUCH_EVERY,
        }
    }
}

/// How long until the session ends if nothing happens: its idle time, its absolute limit or
/// its stage's own limit (the second step's 10 minutes), whichever comes first.
pub fn seconds_left(record: &SessionRecord, settings: &SessionSettings, now: UnixTime) -> i64 {
    let idle = settings.idle_seconds - (now - record.last_seen_at);
    let absolute = settings.absolute_seconds - (now - record.created_at);
    let stage = match record.stage {
        SessionStage::SecondFactor => SECOND_FACTOR_SECONDS - (now - record.created_at),
        SessionStage::PasswordReset => RESET_SECONDS - (now - record.created_at),
        SessionStage::SignedIn => i64::MAX,
    };
    idle.min(absolute).min(stage).max(0)
}

/// How many times the second step's 10 minutes may be restarted ("I need more time"): WCAG
/// 2.2.1 asks that a time limit can be extended at least ten times.
pub const MAX_SECOND_STEP_EXTENSIONS: u32 = 10;

/// What a new session is for.
pub struct NewSession<'a> {
    pub stage: SessionStage,
    /// RFC 8176 `amr` values of the methods proved, space-separated.
    pub auth_methods: &'a str,
    pub second_factor_at: Option<UnixTime>,
}

/// Starts a new session with a fresh id (sign-in and every step-up get a new id: SE-2).
pub async fn start_session(
    records: &impl SessionRecords,
    account: &Account,
    new: NewSession<'_>,
    requester: &Requester,
    now: UnixTime,
) -> Result<SessionToken, StorageError> {
    let token = SessionToken::generate();
    let record = SessionRecord {
        id_hash: token.storage_key(),
        account_id: account.id.clone(),
        created_at: now,
        last_seen_at: now,
        auth_methods: new.auth_methods.to_string(),
        ip: requester.ip.clone(),
        user_agent: truncate(&requester.user_agent, 512),
        stage: new.stage,
        flow: None,
        second_factor_at: new.second_factor_at,
    };
    records.insert_session(&record).await?;
    Ok(token)
}

/// Replaces a session with a new id (step-up, second factor: SE-2), keeping it for the same
/// account; None if another request already replaced or ended it.
pub async fn rotate_session(
    records: &impl SessionRecords,
    old: &SessionToken,
    account: &Account,
    new: NewSession<'_>,
    requester: &Requester,
    now: UnixTime,
) -> Result<Option<SessionToken>, StorageError> {
    let token = SessionToken::generate();
    let record = SessionRecord {
        id_hash: token.storage_key(),
        account_id: account.id.clone(),
        created_at: now,
        last_seen_at: now,
        auth_methods: new.auth_methods.to_string(),
        ip: requester.ip.clone(),
        user_agent: truncate(&requester.user_agent, 512),
        stage: new.stage,
        flow: None,
        second_factor_at: new.second_factor_at,
    };
    Ok(records
        .replace_session(&old.storage_key(), &record)
        .await?
        .then_some(token))
}

/// The session behind a cookie, if it is still valid; an expired one is deleted, as is one
/// whose account has been disabled.
pub async fn resume_session(
    records: &impl SessionRecords,
    token: SessionToken,
    settings: &SessionSettings,
    now: UnixTime,
) -> Result<Option<SignedInSession>, StorageError> {
    let key = token.storage_key();
    let Some((record, account, has_methods)) = records.session_with_account(&key).await? else {
        return Ok(None);
    };
    match check_session(&record, settings, now) {
        SessionCheck::Expired => {
            let _ = records.delete_session(&key).await?;
            Ok(None)
        }
        SessionCheck::Valid { .. } if account.state == AccountState::Disabled => {
            let _ = records.delete_session(&key).await?;
            Ok(None)
        }
        SessionCheck::Valid { touch } => {
            if touch {
                records.touch_session(&key, now).await?;
            }
            Ok(Some(SignedInSession {
                token,
                record,
                account,
                has_methods,
            }))
        }
    }
}

/// Ends the session; false if it had already ended (another request got there first).
pub async fn end_session(
    records: &impl SessionRecords,
    token: &SessionToken,
) -> Result<bool, StorageError> {
    records.delete_session(&token.storage_key()).await
}

pub fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// How long a browser session lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_seconds: 30 * 60,
            absolute_seconds: 12 * 3600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(created: UnixTime, seen: UnixTime) -> SessionRecord {
        SessionRecord {
            id_hash: String::new(),
            account_id: String::new(),
            created_at: created,
            last_seen_at: seen,
            auth_methods: "pwd".into(),
            ip: String::new(),
            user_agent: String::new(),
            stage: SessionStage::SignedIn,
            flow: None,
            second_factor_at: None,
        }
    }

    #[test]
    fn session_ids_carry_256_random_bits_and_are_stored_hashed() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.cookie_value().len(), 43, "32 bytes in base64url");
        assert_eq!(a.storage_key().len(), 64);
        assert_ne!(a.storage_key(), a.cookie_value());
        assert!(SessionToken::from_cookie(a.cookie_value()).is_some());
        assert!(SessionToken::from_cookie("short").is_none());
        assert!(SessionToken::from_cookie(&"a/".repeat(22)[..43]).is_none());
    }

    #[test]
    fn sessions_expire_when_idle_and_at_the_absolute_limit() {
        let s = SessionSettings::default();
        let start = 1_000_000;
        assert_eq!(
            check_session(&record(start, start), &s, start + 10),
            SessionCheck::Valid { touch: false }
        );
        assert_eq!(
            check_session(&record(start, start), &s, start + 61),
            SessionCheck::Valid { touch: true }
        );
        assert_eq!(
            check_session(&record(start, start), &s, start + 30 * 60),
            SessionCheck::Expired
        );
        let busy = record(start, start + 12 * 3600 - 5);
        assert_eq!(
            check_session(&busy, &s, start + 12 * 3600),
            SessionCheck::Expired
        );
    }
}
