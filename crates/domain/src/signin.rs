//! Password sign-in: the attempt reserved against its limits (`limits`), the password check,
//! and what comes next.

use super::StorageError;
use super::accounts::{Account, AccountState, PasswordAction, normalize_email};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::methods::MethodRecords;
use super::monitoring::{self, Monitor, Monitored};
use super::password::{Password, PasswordCheck, PasswordHashing};
use super::risk::Assessment;
use super::secrets::SecretBox;
use super::temporary_access::{PassCode, PassRecords};
use crate::clock::UnixTime;
use crate::limits::{
    EMAIL_WINDOW, LimitState, SignInLimitRecords, SignInLimits, email_delay, email_limit_key,
    ip_limit_key, known_device_limit_key,
};

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

/// What checking a password needs: the hashing and the limits on wrong guesses.
#[derive(Clone, Copy)]
pub struct PasswordRules<'a> {
    pub hashing: &'a std::sync::Arc<PasswordHashing>,
    pub limits: &'a SignInLimits,
}

/// How far back a browser that finished a sign-in of the account counts as its known device.
const KNOWN_DEVICE_DAYS: i64 = 90;

/// Whether this browser (its keyed device cookie) finished a sign-in of the account within the
/// look-back that makes it a known device: the notion the sign-in limits and trusted networks
/// share.
pub async fn is_known_device<R>(
    records: &R,
    account: &Account,
    requester: &Requester,
    now: UnixTime,
) -> Result<bool, StorageError>
where
    R: monitoring::SignInLog + Sync,
{
    match requester.device.as_deref() {
        Some(device) if !device.is_empty() => {
            records
                .knows_device(&account.id, device, now - KNOWN_DEVICE_DAYS * 86_400)
                .await
        }
        _ => Ok(false),
    }
}

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

/// Signs in with an email address and a temporary access pass. Failures count against the
/// same limits as passwords and give the same answer for unknown and known addresses.
pub async fn sign_in_with_pass<R>(
    records: &R,
    secrets: &SecretBox,
    limits: &SignInLimits,
    email: &str,
    code: &PassCode,
    requester: &Requester,
    now: UnixTime,
) -> Result<Account, SignInError>
where
    R: crate::mfa::MfaRecords + PassRecords,
{
    let audit = |outcome, reason: &str| {
        AuditEvent::new("sign_in.temporary_access_pass", outcome, requester, now)
            .subject(&normalize_email(email))
            .reason(reason)
    };
    let account = records.account_by_email(&normalize_email(email)).await?;
    let reserved =
        match reserve_password(records, limits, account.as_ref(), email, requester, now).await? {
            Ok(reserved) => reserved,
            Err(until) => {
                records
                    .append_audit(&audit(Outcome::Failure, "throttled"))
                    .await?;
                return Err(SignInError::Throttled { until });
            }
        };
    // The same lookups for unknown addresses, so timing does not tell them apart (TH-3).
    let pass = records
        .live_temporary_access_pass(account.as_ref().map_or("", |a| a.id.as_str()), now)
        .await?;
    let accepted = match (&account, &pass) {
        (Some(a), Some(p)) if code.matches(secrets, &a.id, &p.code_hash) => {
            // Spent once: of two requests racing with the same pass, one wins.
            records.spend_temporary_access_pass(&p.id, now).await?
        }
        _ => {
            // Unknown accounts cost the same keyed hash as known ones.
            let _ = code.matches(secrets, "", "");
            false
        }
    };
    let Some(account) = account.clone().filter(|_| accepted) else {
        // Attached to the account when there is one, so its administrators see the guessing.
        let mut event = audit(Outcome::Failure, "wrong_pass_or_email");
        if let Some(a) = &account {
            event = event.account(&a.id);
        }
        records.append_audit(&event).await?;
        reserved
            .failed(records, limits, account.as_ref(), requester, now)
            .await?;
        let typed = normalize_email(email);
        monitoring::pass_step(records, requester, now, &typed, account.as_ref(), "failure").await?;
        return Err(SignInError::WrongPasswordOrEmail);
    };
    reserved.passed(records, limits).await?;
    if account.state == AccountState::Disabled {
        records
            .append_audit(&audit(Outcome::Failure, "disabled").account(&account.id))
            .await?;
        return Err(SignInError::Disabled);
    }
    records.set_enrolment_needs_pass(&account.id, false).await?;
    records
        .append_audit(
            &AuditEvent::new("tap.used", Outcome::Success, requester, now).account(&account.id),
        )
        .await?;
    monitoring::pass_step(
        records,
        requester,
        now,
        &account.email,
        Some(&account),
        "success",
    )
    .await?;
    Ok(account)
}
