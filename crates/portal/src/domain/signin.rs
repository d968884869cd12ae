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
    /// Check and record in one atomic step: locks the rows of `keys` (created empty when
    /// absent: no failures, window 0, not blocked), lets `decide` read and change their states
    /// (given in the order of `keys`), writes what it changed and returns its verdict. Requests
    /// for the same keys on any node take their turn, so a burst gets exactly what the same
    /// requests one after another would.
    fn reserve<T, F>(
        &self,
        keys: &[&str],
        decide: F,
    ) -> impl Future<Output = Result<T, StorageError>> + Send
    where
        T: Send,
        F: FnOnce(&mut [LimitState]) -> T + Send;
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
    let audit = |outcome, reason: &str| {
        AuditEvent::new("sign_in.password", outcome, attempt.requester, now)
            .subject(&typed)
            .reason(reason)
    };

    let account = records.account_by_email(&typed).await?;
    // Counted before the hash: of a burst sent together, only what the limits allow is checked.
    let reserved = match reserve_password(
        records,
        rules.limits,
        account.as_ref(),
        &typed,
        attempt.requester,
        now,
    )
    .await?
    {
        Ok(reserved) => reserved,
        Err(until) => {
            records
                .append_audit(&audit(Outcome::Failure, "throttled"))
                .await?;
            monitoring::password_refused(records, monitor, &typed, None, "throttled").await?;
            return Err(SignInError::Throttled { until });
        }
    };
    let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
    let password = attempt.password;
    // A hash made with weaker parameters than configured is replaced while the password is here.
    let checked = rules
        .hashing
        .run(move |hashing| {
            let check = hashing.check(&password, stored_hash.as_deref());
            let new_hash = match check {
                PasswordCheck::Correct { needs_rehash: true } => hashing.hash(&password).ok(),
                _ => None,
            };
            (check, new_hash)
        })
        .await;
    let (check, new_hash) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // Nothing was checked: the reservation is given back.
            reserved.passed(records, rules.limits).await?;
            return Err(SignInError::Internal(e.to_string()));
        }
    };

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
            reserved
                .failed(
                    records,
                    rules.limits,
                    account.as_ref(),
                    attempt.requester,
                    now,
                )
                .await?;
            monitoring::password_failed(records, monitor, &typed, account.as_ref(), reason).await?;
            return Err(SignInError::WrongPasswordOrEmail);
        }
    };
    // The password was right: whatever comes next, it was not a guess.
    reserved.passed(records, rules.limits).await?;

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

/// How far back a browser that finished a sign-in of the account counts as its known device.
const KNOWN_DEVICE_DAYS: i64 = 90;

/// The limit a password for `email` is counted against from this requester. A browser that has
/// finished a sign-in of the account before (its device cookie is in the account's familiar
/// summary) has a count of its own; every other source shares the address's count. So a burst
/// of wrong passwords from elsewhere locks out the elsewhere, not the person at their own
/// computer (docs/DECISIONS.md, "Lock-out without handing attackers a lock-out").
pub async fn password_limit_key<R>(
    records: &R,
    account: Option<&Account>,
    email: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<String, StorageError>
where
    R: monitoring::SignInLog + Sync,
{
    // The same lookup for unknown addresses and browsers without a cookie, so the time taken
    // does not tell them apart (TH-3).
    let device = requester.device.as_deref().unwrap_or("");
    let known = records
        .knows_device(
            account.map_or("", |a| a.id.as_str()),
            device,
            now - KNOWN_DEVICE_DAYS * 86_400,
        )
        .await?;
    Ok(if known && account.is_some() && !device.is_empty() {
        known_device_limit_key(email, device)
    } else {
        email_limit_key(email)
    })
}

/// The count of one known browser of the address.
pub fn known_device_limit_key(email: &str, device: &str) -> String {
    format!("{}:device:{device}", email_limit_key(email))
}

/// A password attempt counted against its limits before the password is checked.
#[derive(Debug)]
#[must_use = "a reserved attempt is settled with passed() or failed()"]
pub struct ReservedPassword {
    email: String,
    email_key: String,
    ip_key: String,
    /// Consecutive failures on the email's count, this attempt included.
    email_failures: i64,
    /// Failures from the client address in its window, this attempt included.
    ip_failures: i64,
}

/// Counts a password attempt against the address (or this known browser of it) and the client
/// address in one atomic step, as if it will fail, and refuses it with the time it may be tried
/// again when either is blocked. The delay a failure earns is set at once, so a burst sent
/// together is checked no further than the same attempts sent one after another would be.
pub async fn reserve_password<R>(
    records: &R,
    limits: &SignInLimits,
    account: Option<&Account>,
    email: &str,
    requester: &Requester,
    now: UnixTime,
) -> Result<Result<ReservedPassword, UnixTime>, StorageError>
where
    R: SignInLimitRecords + monitoring::SignInLog + Sync,
{
    let email_key = password_limit_key(records, account, email, requester, now).await?;
    let ip_key = ip_limit_key(&requester.ip);
    let limits = limits.clone();
    let verdict = records
        .reserve(&[&email_key, &ip_key], move |states| {
            let [email, ip] = states else {
                return Err(now);
            };
            if email.window_start < now - EMAIL_WINDOW {
                *email = LimitState {
                    failures: 0,
                    window_start: now,
                    blocked_until: email.blocked_until,
                };
            }
            if ip.window_start < now - limits.ip_window_seconds {
                *ip = LimitState {
                    failures: 0,
                    window_start: now,
                    blocked_until: ip.blocked_until,
                };
            }
            let until = email.blocked_until.max(ip.blocked_until);
            if until > now {
                return Err(until);
            }
            email.failures += 1;
            let delay = email_delay(email.failures, &limits);
            email.blocked_until = if delay > 0 { now + delay } else { 0 };
            ip.failures += 1;
            if ip.failures >= limits.ip_max_failures {
                ip.blocked_until = ip.window_start + limits.ip_window_seconds;
            }
            Ok((email.failures, ip.failures))
        })
        .await?;
    Ok(
        verdict.map(|(email_failures, ip_failures)| ReservedPassword {
            email: normalize_email(email),
            email_key,
            ip_key,
            email_failures,
            ip_failures,
        }),
    )
}

impl ReservedPassword {
    /// The password was right (or never checked): the email's run of failures ends and the
    /// client address's count is given back.
    pub async fn passed<R>(self, records: &R, limits: &SignInLimits) -> Result<(), StorageError>
    where
        R: SignInLimitRecords + Sync,
    {
        let (max, window) = (limits.ip_max_failures, limits.ip_window_seconds);
        // One transaction for both: a sign-in's only limit write after its reservation.
        records
            .reserve(&[&self.email_key, &self.ip_key], move |states| {
                if let [email, ip] = states {
                    *email = LimitState {
                        failures: 0,
                        window_start: 0,
                        blocked_until: 0,
                    };
                    ip.failures = (ip.failures - 1).max(0);
                    // Only the ceiling's own block is lifted, never a password-spray block.
                    if ip.failures < max && ip.blocked_until == ip.window_start + window {
                        ip.blocked_until = 0;
                    }
                }
            })
            .await
    }

    /// The password was wrong: the count stands. The attempt that reached the lock (there is
    /// exactly one, as each reservation has its own number) is audited as `account.locked`,
    /// and the one that reached the client address's ceiling as `client.blocked`.
    pub async fn failed<R>(
        self,
        records: &R,
        limits: &SignInLimits,
        account: Option<&Account>,
        requester: &Requester,
        now: UnixTime,
    ) -> Result<(), StorageError>
    where
        R: SignInLimitRecords + AuditTrail + Sync,
    {
        if self.email_failures == limits.lock_after {
            let mut event = AuditEvent::new("account.locked", Outcome::Success, requester, now)
                .subject(&self.email)
                .reason(&format!(
                    "{} consecutive failed sign-ins{}; locked until {}",
                    self.email_failures,
                    if self.email_key.contains(":device:") {
                        " on a known device"
                    } else {
                        ""
                    },
                    crate::clock::rfc3339(now + limits.lock_seconds)
                ));
            if let Some(a) = account {
                event = event.account(&a.id);
            }
            records.append_audit(&event).await?;
        }
        if self.ip_failures == limits.ip_max_failures {
            let event = AuditEvent::new("client.blocked", Outcome::Success, requester, now)
                .subject(&self.ip_key)
                .reason("too many failed sign-ins from one client address");
            records.append_audit(&event).await?;
        }
        Ok(())
    }
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
