//! Regaining access: a forgotten password is reset by proving the MFA methods the person
//! registered (one for users, two different kinds for administrators), never through the
//! NHSmal mailbox they cannot read without the password.

use super::StorageError;
use super::accounts::{Account, AccountRecords, AccountState, Role, normalize_email};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::mfa::{Method, MethodKind, MethodRecords};
use super::password::{NewPassword, PasswordHashing, PasswordRejected};
use super::policy::{self, PolicyRecords};
use super::sessions::SessionRecords;
use super::signin::{SignInLimitRecords, client_source, email_limit_key};
use crate::clock::UnixTime;
use crate::notify::Notifier;

/// How long a reset may take from the email address to the new password.
pub const RESET_SECONDS: i64 = 15 * 60;
/// Starts of a reset per email address, and per client address, in an hour.
pub const STARTS_PER_EMAIL: i64 = 5;
pub const STARTS_PER_SOURCE: i64 = 30;
const HOUR: i64 = 3_600;

/// How many different kinds of method a reset needs, by role.
#[derive(Debug, Clone, Copy)]
pub struct ResetRules {
    pub user_methods: usize,
    pub admin_methods: usize,
}

impl ResetRules {
    pub fn needed(&self, role: Role) -> usize {
        match role {
            Role::User => self.user_methods,
            Role::LocalAdmin | Role::NationalAdmin => self.admin_methods,
        }
    }
}

/// What the email step leads to. The person sees the same page either way.
#[derive(Debug)]
pub enum ResetStart {
    /// An active account whose methods can prove it: on to the second step.
    Proceed {
        account: Box<Account>,
        needed: usize,
    },
    /// Unknown address, disabled account, or not enough methods: a step that leads nowhere.
    Decoy,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("Too many attempts to reset a password")]
    Throttled { until: UnixTime },
    #[error(transparent)]
    Rejected(#[from] PasswordRejected),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

fn start_key_email(email: &str) -> String {
    format!("reset:email:{}", normalize_email(email))
}

fn start_key_source(ip: &str) -> String {
    format!("reset:source:{}", client_source(ip))
}

/// The methods that can prove a reset: those the policy allows for the person's role (or all
/// of them when none is allowed, as at sign-in), minus the kinds already proved.
pub fn reset_methods(
    policy: &policy::MfaPolicy,
    role: Role,
    methods: Vec<Method>,
    proved: &[MethodKind],
) -> Vec<Method> {
    policy::methods_for_sign_in(policy, role, methods)
        .into_iter()
        .filter(|m| !proved.contains(&m.kind))
        .collect()
}

fn kinds(methods: &[Method]) -> usize {
    let mut kinds: Vec<MethodKind> = methods.iter().map(|m| m.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    kinds.len()
}

/// The email step: counts the attempt (per address typed and per client), then decides whether
/// a real reset can follow. Audited either way; the person is not told which.
pub async fn start_reset<R>(
    records: &R,
    rules: ResetRules,
    email: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<ResetStart, ResetError>
where
    R: AccountRecords + MethodRecords + PolicyRecords + SignInLimitRecords + AuditTrail + Sync,
{
    let by_email = records
        .count_failure(&start_key_email(email), now, now - HOUR)
        .await?;
    let by_source = records
        .count_failure(&start_key_source(&requester.ip), now, now - HOUR)
        .await?;
    let audit = |outcome, reason: &str| {
        AuditEvent::new("password_reset.started", outcome, requester, now)
            .subject(&normalize_email(email))
            .reason(reason)
    };
    if by_email.failures > STARTS_PER_EMAIL || by_source.failures > STARTS_PER_SOURCE {
        // The later of the two windows to end.
        let until = by_email.window_start.max(by_source.window_start) + HOUR;
        records
            .append_audit(&audit(Outcome::Failure, "throttled"))
            .await?;
        return Err(ResetError::Throttled { until });
    }
    let account = records.account_by_email(&normalize_email(email)).await?;
    let Some(account) = account.filter(|a| a.state == AccountState::Active) else {
        records
            .append_audit(&audit(Outcome::Failure, "no_active_account"))
            .await?;
        return Ok(ResetStart::Decoy);
    };
    let policy = policy::policy_for(records, &account.org_code).await?;
    let methods = records.methods_of(&account.id).await?;
    let usable = reset_methods(&policy, account.role, methods, &[]);
    let needed = rules.needed(account.role);
    if kinds(&usable) < needed {
        records
            .append_audit(&audit(Outcome::Failure, "not_enough_methods").account(&account.id))
            .await?;
        return Ok(ResetStart::Decoy);
    }
    records
        .append_audit(&audit(Outcome::Success, "second_step").account(&account.id))
        .await?;
    Ok(ResetStart::Proceed {
        account: Box::new(account),
        needed,
    })
}

/// The last step: the new password (same rules as everywhere). Every session of the account
/// ends, the sign-in lock is lifted, and the person is told by email.
#[allow(clippy::too_many_arguments)]
pub async fn finish_reset<R>(
    records: &R,
    hashing: &std::sync::Arc<PasswordHashing>,
    notifier: &dyn Notifier,
    account: &Account,
    new: &str,
    confirmation: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<(), ResetError>
where
    R: AccountRecords + SessionRecords + SignInLimitRecords + AuditTrail + Sync,
{
    let new = NewPassword::parse(new, confirmation, &account.personal_words())?;
    let hash = hashing
        .run(move |h| h.hash(new.password()))
        .await
        .and_then(|r| r)
        .map_err(|e| ResetError::Internal(e.to_string()))?;
    records
        .update_password_hash(&account.id, &hash, now)
        .await?;
    records
        .delete_sessions_of_account(&account.id, None)
        .await?;
    records
        .clear_limit(&email_limit_key(&account.email))
        .await?;
    records
        .append_audit(
            &AuditEvent::new("password.reset", Outcome::Success, requester, now)
                .account(&account.id),
        )
        .await?;
    super::notices::email_person(
        records,
        notifier,
        requester,
        now,
        account,
        super::notices::Notice {
            subject: "Your NHSmal password has been reset",
            body: format!(
                "Dear {},\n\nThe password of your NHSmal account was reset on {} after your \
                 multi-factor authentication was checked. You have been signed out everywhere.\n\n\
                 If this wasn't you, contact your local administrator straight away.\n\nNHSmal",
                account.display_name,
                crate::clock::human(now)
            ),
        },
    )
    .await?;
    Ok(())
}
