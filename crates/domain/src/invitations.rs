//! Invitations: a one-time link that lets a person added by an import set their first
//! password. The link carries a 256-bit token from the OS; the database keeps only its
//! SHA-256, so a database dump holds no usable link. Valid for 7 days, used once.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::StorageError;
use super::accounts::{Account, AccountState};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::notices::Notice;
use super::password::{NewPassword, PasswordHashing, PasswordRejected};
use crate::clock::UnixTime;

/// How long an invitation link works.
pub const LIFETIME: i64 = 7 * 24 * 60 * 60;

/// The token in an invitation link. Debug never prints it.
pub struct InvitationToken(Zeroizing<String>);

impl std::fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationToken(…)")
    }
}

impl InvitationToken {
    pub fn generate() -> Self {
        let bytes = Zeroizing::new(super::random_bytes::<32>());
        Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_slice())))
    }

    /// Accepts only what `generate` could have made: 43 base64url characters.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(Zeroizing::new(text.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database keeps: hex SHA-256 of the token. A plain hash is enough for 256
    /// random bits (nothing to guess), and lets the command line make invitations without
    /// the master key.
    pub fn storage_key(&self) -> String {
        super::secrets::hex(&Sha256::digest(self.0.as_bytes()))
    }

    /// The link emailed to the person: `{public_url}/invitation/{token}`.
    pub fn link(&self, public_url: &url::Url) -> String {
        format!(
            "{}/invitation/{}",
            public_url.as_str().trim_end_matches('/'),
            self.as_str()
        )
    }
}

/// An invitation as written to the store.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub token_hash: String,
    pub account_id: String,
    pub expires_at: UnixTime,
    /// The administrator who imported the account; `None` for the command line.
    pub created_by: Option<String>,
    pub created_at: UnixTime,
}

impl NewInvitation {
    pub fn new(
        token: &InvitationToken,
        account_id: &str,
        created_by: Option<&str>,
        now: UnixTime,
    ) -> Self {
        Self {
            token_hash: token.storage_key(),
            account_id: account_id.to_string(),
            expires_at: now + LIFETIME,
            created_by: created_by.map(str::to_string),
            created_at: now,
        }
    }
}

/// A stored invitation with the account it is for.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub account: Account,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

impl Invitation {
    /// Unused, unexpired, and for an account that may sign in.
    pub fn is_usable(&self, now: UnixTime) -> bool {
        self.used_at.is_none()
            && now < self.expires_at
            && self.account.state == AccountState::Active
    }
}

pub trait InvitationRecords {
    fn invitation(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<Invitation>, StorageError>> + Send;
    /// Marks the invitation used (one conditional UPDATE: unused and unexpired at `now`) and
    /// sets the account's password, in one transaction. False, and nothing written, when the
    /// invitation was no longer usable (two browsers racing get one success).
    fn accept_invitation(
        &self,
        token_hash: &str,
        account_id: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    /// Unknown, expired or used: one answer for all three, so a link tells nothing more.
    #[error(
        "This link has expired or has already been used. Ask your local administrator for a new invitation."
    )]
    NotUsable,
    #[error(transparent)]
    Rejected(#[from] PasswordRejected),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

/// The account a usable invitation is for.
pub async fn check(
    records: &impl InvitationRecords,
    token: &InvitationToken,
    now: UnixTime,
) -> Result<Account, InvitationError> {
    match records.invitation(&token.storage_key()).await? {
        Some(invitation) if invitation.is_usable(now) => Ok(invitation.account),
        _ => Err(InvitationError::NotUsable),
    }
}

/// A new password given through an invitation link.
pub struct Acceptance<'a> {
    pub new: &'a str,
    pub confirmation: &'a str,
}

/// Sets the first password by the same rules as everywhere, uses the invitation up and audits
/// `invitation.accepted`.
pub async fn accept<R>(
    records: &R,
    hashing: &std::sync::Arc<PasswordHashing>,
    token: &InvitationToken,
    acceptance: Acceptance<'_>,
    requester: &Requester,
    now: UnixTime,
) -> Result<Account, InvitationError>
where
    R: InvitationRecords + AuditTrail + Sync,
{
    let account = check(records, token, now).await?;
    let new = NewPassword::parse(
        acceptance.new,
        acceptance.confirmation,
        &account.personal_words(),
    )?;
    let hash = hashing
        .run(move |h| h.hash(new.password()))
        .await
        .and_then(|r| r)
        .map_err(|e| InvitationError::Internal(e.to_string()))?;
    if !records
        .accept_invitation(&token.storage_key(), &account.id, &hash, now)
        .await?
    {
        return Err(InvitationError::NotUsable);
    }
    records
        .append_audit(
            &AuditEvent::new("invitation.accepted", Outcome::Success, requester, now)
                .account(&account.id),
        )
        .await?;
    Ok(account)
}

/// The subject of the email that carries the link.
pub const SUBJECT: &str = "Set up your NHSmal account";

/// The email that carries the link.
pub fn notice(name: &str, link: &str, expires_at: UnixTime) -> Notice<'static> {
    Notice {
        subject: SUBJECT,
        body: format!(
            "Dear {name},\n\nAn NHSmal account has been set up for you. To start using it, set \
             your password here:\n\n{link}\n\nThe link works once and until {}. If it has \
             expired, ask your local administrator for a new invitation.\n\nIf you were not \
             expecting this email, you can ignore it.\n\nNHSmal",
            crate::clock::human(expires_at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_and_only_their_hash_is_kept() {
        let a = InvitationToken::generate();
        let b = InvitationToken::generate();
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.storage_key().len(), 64);
        assert!(!a.storage_key().contains(a.as_str()));
        assert!(InvitationToken::parse(a.as_str()).is_some());
        assert!(InvitationToken::parse("short").is_none());
        assert!(InvitationToken::parse(&"a".repeat(42).replace('a', "/")).is_none());
        assert_eq!(format!("{a:?}"), "InvitationToken(…)");
    }

    #[test]
    fn the_link_is_under_the_public_url() {
        let token = InvitationToken::parse(&"A".repeat(43)).expect("token");
        let url: url::Url = "https://portal.example/".parse().expect("url");
        assert_eq!(
            token.link(&url),
            format!("https://portal.example/invitation/{}", "A".repeat(43))
        );
    }
}
