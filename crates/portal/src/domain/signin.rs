//! Password sign-in: limits, the password check, and what comes next.
//!
//! Limits are counted in the database so that every node sees them (TH-1, TH-2):
//! - per email typed (known or not, so a lock tells nothing about whether an account exists):
//!   delays that double after 5 consecutive failures, then a lock for a while at `lock_after`;
//! - per client address (IPv4 address, IPv6 /64): a ceiling of failures per window, so one
//!   source cannot try many accounts. A lock is temporary and ends by itself.

use std::future::Future;
use std::net::IpAddr;

use super::StorageError;
use super::accounts::{Account, AccountState, PasswordAction, normalize_email};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::mfa::MethodRecords;
use super::monitoring::{self, Monitor, Monitored};
use super::password::{Password, PasswordCheck, PasswordRules};
use super::risk::Assessment;
use crate::clock::UnixTime;
use crate::config::SignInLimits;

/// Consecutive failures on one email before each further attempt must wait.
const FREE_TRIES: i64 = 5;
/// Failures on an email are counted as consecutive when within this long of the first.
const EMAIL_WINDOW: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub failures: i64,
    pub window_start: UnixTime,
    pub blocked_until: UnixTime,
}

pub trait SignInLimitRecords {
    fn limit_state(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<LimitState>, StorageError>> + Send;
    /// The states of an email's and a client address's limits, in one query.
    fn limit_states(
        &self,
        email_key: &str,
        ip_key: &str,
    ) -> impl Future<Output = Result<(Option<LimitState>, Option<LimitState>), StorageError>> + Send;
    /// Counts one failure atomically, starting a new window when the current one began before
    /// `window_floor`; returns the state after counting.
    fn count_failure(
        &self,
        key: &str,
        now: UnixTime,
        window_floor: UnixTime,
    ) -> impl Future<Output = Result<LimitState, StorageError>> + Send;
    fn block_until(
        &self,
        key: &str,
        until: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn clear_limit(&self, key: &str) -> impl Future<Output = Result<(), StorageError>> + Send;
}

pub fn email_limit_key(email: &str) -> String {
    format!("signin:email:{}", normalize_email(email))
}

pub fn ip_limit_key(ip: &str) -> String {
    format!("signin:ip:{}", client_source(ip))
}

/// The source a client address stands for when counting: IPv6 clients usually hold a whole
/// /64, so that is one source.
pub fn client_source(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

/// How long an email must wait after `failures` consecutive failures.
pub fn email_delay(failures: i64, limits: &SignInLimits) -> i64 {
    if failures >= limits.lock_after {
        limits.lock_seconds
    } else if failures >= FREE_TRIES {
        1 << (failures - FREE_TRIES).min(20)
    } else {
        0
    }
}

pub struct SignInAttempt<'a> {
    pub email: &'a str,
    pub password: Password,
    pub requester: &'a Requester,
}

#[derive(Debug)]
pub enum SignInStep {
    /// The password was right and the account has no second factor yet: signed in.
    Done(Box<Account>, Assessment),
    /// The password was right; a second factor must follow before the person is signed in.
    SecondFactor(Box<Account>, Assessment),
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("Enter a correct email address and password")]
    WrongPasswordOrEmail,
    #[error("Too many attempts to sign in")]
    Throttled { until: UnixTime },
    #[error("This account has been disabled")]
    Disabled,
    /// "This wasn't me" or a confirmed compromise: the password no longer signs in.
    #[error("The password of this account must be reset")]
    ResetRequired,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("password check failed: {0}")]
    Internal(String),
}

/// The password step, watched by sign-in monitoring (`monitor.now` is the time).
pub async fn sign_in<R>(
    records: &R,
    rules: PasswordRules<'_>,
    attempt: SignInAttempt<'_>,
    monitor: &Monitor<'_>,
) -> Result<SignInStep, SignInError>
where
    R: Monitored + MethodRecords,
{
    let now = monitor.now;
    let typed = normalize_email(attempt.email);
    let email_key = email_limit_key(attempt.email);
    let audit = |outcome, reason: &str| {
        AuditEvent::new("sign_in.password", outcome, attempt.requester, now)
            .subject(&normalize_email(attempt.email))
            .reason(reason)
    };

    let limits = check_limits(records, attempt.email, attempt.requester, now).await?;
    if let Some(until) = limits.blocked_until {
        records
            .append_audit(&audit(Outcome::Failure, "throttled"))
            .await?;
        monitoring::password_refused(records, monitor, &typed, None, "throttled").await?;
        return Err(SignInError::Throttled { until });
    }

    let account = records
        .account_by_email(&normalize_email(attempt.email))
        .await?;
    let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
    let password = attempt.password;
    // A hash made with weaker parameters than configured is replaced while the password is here.
    let (check, new_hash) = rules
        .hashing
        .run(move |hashing| {
            let check = hashing.check(&password, stored_hash.as_deref());
            let new_hash = match check {
                PasswordCheck::Correct { needs_rehash: true } => hashing.hash(&password).ok(),
                _ => None,
            };
            (check, new_hash)
        })
        .await
        .map_err(|e| SignInError::Internal(e.to_string()))?;

    let account = match (account, check) {
        (Some(account), PasswordCheck::Correct { .. }) => account,
        (account, _) => {
            let reason = match &account {
                Some(_) => "wrong_password",
                None => "unknown_account",
            };
            let mut event = audit(Outcome::Failure, reason);
            if let Some(a) = &account {
                event = event.account(&a.id);
            }
            records.append_audit(&event).await?;
            record_failed_password(
                records,
                rules.limits,
                account.as_ref(),
                attempt.email,
                attempt.requester,
                now,
            )
            .await?;
            monitoring::password_failed(records, monitor, &typed, account.as_ref(), reason).await?;
            return Err(SignInError::WrongPasswordOrEmail);
        }
    };

    if account.state == AccountState::Disabled {
        records
            .append_audit(&audit(Outcome::Failure, "disabled").account(&account.id))
            .await?;
        monitoring::password_refused(records, monitor, &typed, Some(&account), "disabled").await?;
        return Err(SignInError::Disabled);
    }
    if account.password_action == PasswordAction::ResetRequired {
        records
            .append_audit(&audit(Outcome::Failure, "reset_required").account(&account.id))
            .await?;
        monitoring::password_refused(records, monitor, &typed, Some(&account), "reset_required")
            .await?;
        return Err(SignInError::ResetRequired);
    }
    if limits.email_failures > 0 {
        records.clear_limit(&email_key).await?;
    }
    if let Some(hash) = new_hash {
        records
            .update_password_hash(&account.id, &hash, now)
            .await?;
    }
    records
        .append_audit(&audit(Outcome::Success, "password_correct").account(&account.id))
        .await?;
    let assessment = monitoring::password_passed(records, monitor, &account).await?;
    if records.methods_of(&account.id).await?.is_empty() {
        Ok(SignInStep::Done(Box::new(account), assessment))
    } else {
        Ok(SignInStep::SecondFactor(Box::new(account), assessment))
    }
}

/// Where an email and a client address stand against their limits.
pub struct LimitCheck {
    /// When they may next try a password, if either is blocked now.
    pub blocked_until: Option<UnixTime>,
    /// Consecutive failures counted against the email.
    pub email_failures: i64,
}

pub async fn check_limits(
    records: &impl SignInLimitRecords,
    email: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<LimitCheck, StorageError> {
    let (email_state, ip_state) = records
        .limit_states(&email_limit_key(email), &ip_limit_key(&requester.ip))
        .await?;
    let until = [email_state, ip_state]
        .into_iter()
        .flatten()
        .map(|s| s.blocked_until)
        .max()
        .unwrap_or(0);
    Ok(LimitCheck {
        blocked_until: (until > now).then_some(until),
        email_failures: email_state.map_or(0, |s| s.failures),
    })
}

/// Counts a wrong password against the email and the client address, and blocks either when
/// its limit is reached. Reaching the lock is audited as `account.locked`.
pub async fn record_failed_password<R>(
    records: &R,
    limits: &SignInLimits,
    account: Option<&Account>,
    email: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<(), StorageError>
where
    R: SignInLimitRecords + AuditTrail + Sync,
{
    let email_key = email_limit_key(email);
    let ip_key = ip_limit_key(&requester.ip);
    let email_state = records
        .count_failure(&email_key, now, now - EMAIL_WINDOW)
        .await?;
    let delay = email_delay(email_state.failures, limits);
    if delay > 0 {
        records.block_until(&email_key, now + delay).await?;
    }
    if email_state.failures >= limits.lock_after {
        let mut event = AuditEvent::new("account.locked", Outcome::Success, requester, now)
            .subject(&normalize_email(email))
            .reason(&format!(
                "{} consecutive failed sign-ins; locked until {}",
                email_state.failures,
                crate::clock::rfc3339(now + delay)
            ));
        if let Some(a) = account {
            event = event.account(&a.id);
        }
        records.append_audit(&event).await?;
    }
    let ip_state = records
        .count_failure(&ip_key, now, now - limits.ip_window_seconds)
        .await?;
    if ip_state.failures >= limits.ip_max_failures {
        let until = ip_state.window_start + limits.ip_window_seconds;
        records.block_until(&ip_key, until).await?;
        if ip_state.failures == limits.ip_max_failures {
            let event = AuditEvent::new("client.blocked", Outcome::Success, requester, now)
                .subject(&ip_key)
                .reason("too many failed sign-ins from one client address");
            records.append_audit(&event).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_five_failures_then_the_account_locks() {
        let limits = SignInLimits::default();
        let delays: Vec<i64> = (1..=11).map(|n| email_delay(n, &limits)).collect();
        assert_eq!(delays, vec![0, 0, 0, 0, 1, 2, 4, 8, 16, 900, 900]);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            ip_limit_key("2001:db8:1:2:aaaa::1"),
            ip_limit_key("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(
            ip_limit_key("2001:db8:1:2::1"),
            ip_limit_key("2001:db8:1:3::1")
        );
        assert_eq!(ip_limit_key("::ffff:192.0.2.7"), "signin:ip:192.0.2.7");
        assert_eq!(ip_limit_key("192.0.2.7"), "signin:ip:192.0.2.7");
    }

    #[test]
    fn emails_are_limited_whatever_their_case() {
        assert_eq!(
            email_limit_key(" Ann@NHS.uk"),
            email_limit_key("ann@nhs.uk")
        );
    }
}
