//! Multi-factor authentication: the methods a person has registered, enrolling new ones, and
//! checking a second factor at sign-in. Failed second factors count towards a lock per account
//! (TH-1: 10 in a row), held in the database so that every node sees it.

pub mod approvals;
mod error;
pub mod pairing;
pub mod passkey;
pub mod phone;
pub mod push;
pub mod security_key;
pub mod totp;

use serde::{Deserialize, Serialize};

use super::StorageError;
use super::accounts::Account;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::limits::SignInLimitRecords;
use super::notices::MethodChange;
use super::secrets::SecretBox;
use crate::clock::UnixTime;
use crate::delivery::Notifier;
use crate::limits::SignInLimits;
use totp::TotpSecret;

pub use crate::methods::{Method, MethodKind, MethodRecords};

/// Everything a second factor reads and writes: the monitoring's records, the methods, the
/// codes sent, the pending call approvals and the policy. One name for the functions of
/// this area; the store has them all.
pub trait MfaRecords:
    crate::monitoring::Monitored
    + MethodRecords
    + phone::CodeRecords
    + approvals::ApprovalRecords
    + push::PushRecords
    + pairing::PairingRecords
    + crate::policy::PolicyRecords
{
}

impl<T> MfaRecords for T where
    T: crate::monitoring::Monitored
        + MethodRecords
        + phone::CodeRecords
        + approvals::ApprovalRecords
        + push::PushRecords
        + pairing::PairingRecords
        + crate::policy::PolicyRecords
{
}

/// Authenticator apps one person may register.
pub const MAX_AUTHENTICATOR_APPS: usize = 5;
/// Failed second factors are counted as consecutive within this long.
const MFA_WINDOW: i64 = 24 * 3600;

pub use error::{MfaError, WARN_WHEN_TRIES_LEFT, tries_warning};

/// Everything a second-factor check needs besides the records.
pub struct MfaContext<'a> {
    pub secrets: &'a SecretBox,
    pub limits: &'a SignInLimits,
    pub notifier: &'a dyn Notifier,
    pub requester: &'a Requester,
    pub now: UnixTime,
    /// During a password reset: the client source (IPv4 address, IPv6 /64). Wrong codes then
    /// lock the reset from that source only, so that a stranger who knows an email address
    /// cannot lock its owner out of signing in (TH-2).
    pub reset_source: Option<String>,
    pub risk: &'a crate::risk::RiskSettings,
}

impl MfaContext<'_> {
    /// The same request as sign-in monitoring sees it.
    pub fn monitor(&self) -> super::monitoring::Monitor<'_> {
        super::monitoring::Monitor {
            settings: self.risk,
            notifier: self.notifier,
            requester: self.requester,
            now: self.now,
        }
    }

    /// The key under which this request's second-factor failures are counted.
    pub(crate) fn lock_key(&self, account_id: &str) -> String {
        match &self.reset_source {
            Some(source) => format!("{}:reset:{source}", mfa_limit_key(account_id)),
            None => mfa_limit_key(account_id),
        }
    }

    /// An audit event about `account` from this request.
    pub(crate) fn audit(
        &self,
        event: &'static str,
        outcome: Outcome,
        account: &Account,
    ) -> AuditEvent {
        AuditEvent::new(event, outcome, self.requester, self.now).account(&account.id)
    }
}

pub(crate) fn mfa_limit_key(account_id: &str) -> String {
    format!("mfa:account:{account_id}")
}

/// The methods of an account, the default first, then oldest first.
pub async fn methods_of(
    records: &impl MethodRecords,
    account_id: &str,
) -> Result<Vec<Method>, StorageError> {
    let mut methods = records.methods_of(account_id).await?;
    methods.sort_by_key(|m| (!m.is_default, m.created_at, m.id.clone()));
    Ok(methods)
}

pub(crate) fn valid_name(name: &str, kind: MethodKind) -> Result<String, MfaError> {
    let name = name.trim();
    let name = if name.is_empty() { kind.label() } else { name };
    if name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(MfaError::BadName);
    }
    Ok(name.to_string())
}

/// Until when second factors are refused for this account, if they are now.
pub async fn locked_until(
    records: &impl SignInLimitRecords,
    lock_key: &str,
    now: UnixTime,
) -> Result<Option<UnixTime>, StorageError> {
    let state = records.limit_state(lock_key).await?;
    Ok(state.map(|s| s.blocked_until).filter(|until| *until > now))
}

/// A second-factor attempt, counted before it is checked.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// Consecutive attempts without a success, this one included.
    failures: i64,
}

impl Attempt {
    /// The error for a wrong code on this attempt: the lock when it was the last try, a
    /// warning when few are left.
    pub fn wrong_code(&self, ctx: &MfaContext<'_>) -> MfaError {
        let left = ctx.limits.lock_after - self.failures;
        if left <= 0 {
            MfaError::Locked {
                until: ctx.now + ctx.limits.lock_seconds,
            }
        } else {
            MfaError::WrongCode {
                tries_left: (left <= WARN_WHEN_TRIES_LEFT).then_some(left),
            }
        }
    }
}

/// Counts this attempt before it is checked, so that a burst of guesses sent in parallel
/// cannot all slip in before any is counted (TH-1, OTP-4). Refuses while the account is locked,
/// or when this attempt is one past the limit.
pub async fn reserve_attempt<R>(
    records: &R,
    account: &Account,
    ctx: &MfaContext<'_>,
) -> Result<Attempt, MfaError>
where
    R: SignInLimitRecords + Sync,
{
    let key = ctx.lock_key(&account.id);
    if let Some(state) = records.limit_state(&key).await? {
        if state.blocked_until > ctx.now {
            return Err(MfaError::Locked {
                until: state.blocked_until,
            });
        }
        if state.blocked_until != 0 {
            // The lock has been served: the count starts afresh.
            records.clear_limit(&key).await?;
        }
    }
    let state = records
        .count_failure(&key, ctx.now, ctx.now - MFA_WINDOW)
        .await?;
    if state.failures > ctx.limits.lock_after {
        let until = ctx.now + ctx.limits.lock_seconds;
        records.block_until(&key, until).await?;
        return Err(MfaError::Locked { until });
    }
    Ok(Attempt {
        failures: state.failures,
    })
}

/// A reserved attempt failed: audited; the `lock_after`th in a row locks the account for a
/// while, which is audited and emailed to the person.
pub async fn record_mfa_failure<R>(
    records: &R,
    account: &Account,
    method: MethodKind,
    attempt: Attempt,
    ctx: &MfaContext<'_>,
) -> Result<(), StorageError>
where
    R: crate::monitoring::Monitored,
{
    record_failure_of(records, account, method.as_str(), attempt, ctx).await
}

/// As `record_mfa_failure`, for any kind of second factor (`what` names it in the audit).
pub async fn record_failure_of<R>(
    records: &R,
    account: &Account,
    what: &str,
    attempt: Attempt,
    ctx: &MfaContext<'_>,
) -> Result<(), StorageError>
where
    R: super::monitoring::Monitored,
{
    let reason = format!("wrong_{what}");
    records
        .append_audit(
            &ctx.audit("mfa.verify", Outcome::Failure, account)
                .reason(&reason),
        )
        .await?;
    let m = ctx.monitor();
    if ctx.reset_source.is_some() {
        super::monitoring::reset_step(
            records,
            ctx.requester,
            ctx.now,
            &account.email,
            Some(account),
            "failure",
            Some(&reason),
        )
        .await?;
    } else {
        super::monitoring::second_factor_failed(records, &m, account, what, &reason).await?;
    }
    if attempt.failures == ctx.limits.lock_after {
        let until = ctx.now + ctx.limits.lock_seconds;
        records
            .block_until(&ctx.lock_key(&account.id), until)
            .await?;
        if ctx.reset_source.is_some() {
            // Only resets from this source are stopped; the person can still sign in.
            records
                .append_audit(
                    &ctx.audit("password_reset.locked", Outcome::Success, account)
                        .reason(&format!(
                            "{} consecutive failed second factors from {}; until {}",
                            attempt.failures,
                            ctx.requester.ip,
                            crate::clock::rfc3339(until)
                        )),
                )
                .await?;
            return Ok(());
        }
        records
            .append_audit(
                &ctx.audit("account.locked", Outcome::Success, account)
                    .reason(&format!(
                        "{} consecutive failed second factors; locked until {}",
                        attempt.failures,
                        crate::clock::rfc3339(until)
                    )),
            )
            .await?;
        let notice = super::notices::account_locked(
            account,
            super::notices::LockCause::FailedSecondSteps,
            attempt.failures,
            until,
        );
        send_notice(records, ctx, account, notice).await?;
    }
    Ok(())
}

/// Emails the person one of the notices of `notices`.
pub async fn send_notice<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    notice: super::notices::Notice<'_>,
) -> Result<(), StorageError>
where
    R: AuditTrail + Sync,
{
    super::notices::email_person(
        records,
        ctx.notifier,
        ctx.requester,
        ctx.now,
        account,
        notice,
    )
    .await
}

/// Emails the person a text of the caller's own; prefer a notice of `notices` (`send_notice`).
pub async fn notify_by_email<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    subject: &str,
    body: &str,
) -> Result<(), StorageError>
where
    R: AuditTrail + Sync,
{
    let notice = super::notices::Notice {
        subject,
        body: body.to_string(),
    };
    send_notice(records, ctx, account, notice).await
}

/// Audits a text or call the provider did not take, and says so in the person's words.
pub(crate) async fn delivery_failed<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    event: &'static str,
    error: crate::delivery::DeliveryError,
) -> Result<MfaError, StorageError>
where
    R: AuditTrail + Sync,
{
    tracing::error!(error = %error, event, "message provider failed");
    records
        .append_audit(
            &AuditEvent::new(event, Outcome::Failure, ctx.requester, ctx.now)
                .account(&account.id)
                .reason("provider_failed"),
        )
        .await?;
    Ok(MfaError::ProviderFailed(match error {
        crate::delivery::DeliveryError::Refused(_) => "refused",
        crate::delivery::DeliveryError::Unavailable(_) => "unavailable",
    }))
}

/// Whether a method was added or removed, for the audit trail and the person's email.
#[derive(Clone, Copy)]
enum Change {
    Added,
    Removed,
}

async fn method_changed<R>(
    records: &R,
    account: &Account,
    method: &Method,
    change: Change,
    ctx: &MfaContext<'_>,
) -> Result<(), StorageError>
where
    R: AuditTrail + Sync,
{
    let (event, change) = match change {
        Change::Added => ("mfa.method_added", MethodChange::Added),
        Change::Removed => ("mfa.method_removed", MethodChange::Removed),
    };
    records
        .append_audit(
            &AuditEvent::new(event, Outcome::Success, ctx.requester, ctx.now)
                .account(&account.id)
                .reason(method.kind.as_str()),
        )
        .await?;
    let notice =
        super::notices::method_changed(account, change, method.kind.label(), &method.name, ctx.now);
    send_notice(records, ctx, account, notice).await
}

pub(crate) async fn succeeded<R>(
    records: &R,
    account: &Account,
    method: &Method,
    ctx: &MfaContext<'_>,
) -> Result<(), StorageError>
where
    R: MfaRecords,
{
    // The attempt was counted when it was reserved; success ends the run of failures. An
    // authenticator app's step update (which sets last_used_at) stands for "used".
    records.clear_limit(&ctx.lock_key(&account.id)).await?;
    if method.kind != MethodKind::Totp {
        records.mark_method_used(&method.id, ctx.now).await?;
    }
    records
        .append_audit(
            &ctx.audit("mfa.verify", Outcome::Success, account)
                .reason(method.kind.as_str()),
        )
        .await
}

/// Checks an authenticator-app code for a registered method: ±1 step, and never a step at or
/// before the last one accepted for it (so a code works once, even within its own step).
pub async fn verify_totp<R>(
    records: &R,
    account: &Account,
    method: &Method,
    code: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: MfaRecords,
{
    if code.trim().is_empty() {
        return Err(MfaError::CodeMissing);
    }
    let attempt = reserve_attempt(records, account, ctx).await?;
    let sealed = method
        .secret
        .as_deref()
        .ok_or_else(|| MfaError::Internal("authenticator app without a key".into()))?;
    let key = ctx
        .secrets
        .open(sealed, &Method::secret_binding(&method.id))
        .map_err(|e| MfaError::Internal(e.to_string()))?;
    let secret = TotpSecret::from_bytes(&key);
    let Some(step) = secret.matching_step(code, ctx.now) else {
        record_mfa_failure(records, account, MethodKind::Totp, attempt, ctx).await?;
        return Err(attempt.wrong_code(ctx));
    };
    if !records.advance_totp_step(&method.id, step, ctx.now).await? {
        // The right code, used already (signing in just after a reset, a second browser in
        // the same 30 s): audited, but not counted as a guess.
        records.uncount_failure(&ctx.lock_key(&account.id)).await?;
        records
            .append_audit(
                &ctx.audit("mfa.verify", Outcome::Failure, account)
                    .reason("used_totp"),
            )
            .await?;
        return Err(MfaError::CodeUsed);
    }
    succeeded(records, account, method, ctx).await?;
    Ok(())
}

/// An authenticator app being set up: its key, sealed to the session, until a code proves the
/// app has it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingTotp {
    /// base64 of the sealed key.
    pub sealed: String,
}

impl PendingTotp {
    fn binding(session_key: &str) -> String {
        format!("totp_enrolment:{session_key}")
    }

    pub fn seal(secrets: &SecretBox, secret: &TotpSecret, session_key: &str) -> Self {
        use base64::Engine;
        Self {
            sealed: base64::engine::general_purpose::STANDARD
                .encode(secrets.seal(secret.bytes(), &Self::binding(session_key))),
        }
    }

    pub fn open(&self, secrets: &SecretBox, session_key: &str) -> Result<TotpSecret, MfaError> {
        use base64::Engine;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&self.sealed)
            .map_err(|e| MfaError::Internal(e.to_string()))?;
        let key = secrets
            .open(&sealed, &Self::binding(session_key))
            .map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok(TotpSecret::from_bytes(&key))
    }
}

/// Saves an authenticator app once a code from it is right (OTP-1). The accepted step is
/// stored, so the code used here cannot sign anyone in.
pub async fn finish_totp_enrolment<R>(
    records: &R,
    account: &Account,
    secret: &TotpSecret,
    code: &str,
    name: &str,
    ctx: &MfaContext<'_>,
) -> Result<Method, MfaError>
where
    R: MfaRecords,
{
    let name = valid_name(name, MethodKind::Totp)?;
    let existing = records.methods_of(&account.id).await?;
    if existing
        .iter()
        .filter(|m| m.kind == MethodKind::Totp)
        .count()
        >= MAX_AUTHENTICATOR_APPS
    {
        return Err(MfaError::TooManyApps);
    }
    if code.trim().is_empty() {
        return Err(MfaError::CodeMissing);
    }
    let attempt = reserve_attempt(records, account, ctx).await?;
    let Some(step) = secret.matching_step(code, ctx.now) else {
        record_mfa_failure(records, account, MethodKind::Totp, attempt, ctx).await?;
        return Err(attempt.wrong_code(ctx));
    };
    records.clear_limit(&mfa_limit_key(&account.id)).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let method = Method {
        secret: Some(
            ctx.secrets
                .seal(secret.bytes(), &Method::secret_binding(&id)),
        ),
        id,
        account_id: account.id.clone(),
        kind: MethodKind::Totp,
        name,
        phone: None,
        credential: None,
        credential_id: None,
        last_totp_step: Some(step),
        passkey: None,
        is_default: existing.is_empty(),
        created_at: ctx.now,
        last_used_at: None,
    };
    records.insert_method(&method).await?;
    method_added(records, account, &method, ctx).await?;
    Ok(method)
}

pub(crate) async fn method_added<R>(
    records: &R,
    account: &Account,
    method: &Method,
    ctx: &MfaContext<'_>,
) -> Result<(), StorageError>
where
    R: AuditTrail + Sync,
{
    method_changed(records, account, method, Change::Added, ctx).await
}

/// One of the person's own methods (and all of them, default first); another person's
/// method id is simply not found.
async fn own_method(
    records: &impl MethodRecords,
    account: &Account,
    method_id: &str,
) -> Result<(Vec<Method>, Method), MfaError> {
    let methods = methods_of(records, &account.id).await?;
    let method = methods
        .iter()
        .find(|m| m.id == method_id)
        .cloned()
        .ok_or(MfaError::NoSuchMethod)?;
    Ok((methods, method))
}

/// Removes a method. The caller has checked a fresh second factor (LC-1). If it was the
/// default, the oldest remaining method becomes the default.
pub async fn remove_method<R>(
    records: &R,
    account: &Account,
    method_id: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: MfaRecords,
{
    let (methods, method) = own_method(records, account, method_id).await?;
    let method = &method;
    // While the policy sets a date, the person keeps at least one allowed method.
    let policy = super::policy::policy_for(records, &account.org_code).await?;
    let allowed = policy.allowed_for(account.role);
    if policy.required_from.is_some()
        && !methods
            .iter()
            .any(|m| m.id != method.id && allowed.contains(m.kind))
    {
        return Err(MfaError::LastMethodRequired);
    }
    records.delete_method(&method.id).await?;
    if method.is_default
        && let Some(next) = methods
            .iter()
            .filter(|m| m.id != method.id)
            .min_by_key(|m| m.created_at)
    {
        records.make_default_method(&account.id, &next.id).await?;
    }
    method_changed(records, account, method, Change::Removed, ctx).await?;
    Ok(())
}

pub async fn rename_method<R>(
    records: &R,
    account: &Account,
    method_id: &str,
    name: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: MethodRecords + AuditTrail + Sync,
{
    let (_, method) = own_method(records, account, method_id).await?;
    let name = valid_name(name, method.kind)?;
    records.rename_method(&method.id, &name).await?;
    records
        .append_audit(&ctx.audit("mfa.method_renamed", Outcome::Success, account))
        .await?;
    Ok(())
}

pub async fn make_default<R>(
    records: &R,
    account: &Account,
    method_id: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: MethodRecords + AuditTrail + Sync,
{
    own_method(records, account, method_id).await?;
    records.make_default_method(&account.id, method_id).await?;
    records
        .append_audit(&ctx.audit("mfa.default_changed", Outcome::Success, account))
        .await?;
    Ok(())
}

/// Saves a phone method (text message or phone call) once the number is proved: a code typed
/// back, or # pressed on the call.
pub async fn add_phone_method<R>(
    records: &R,
    account: &Account,
    kind: MethodKind,
    phone: &phone::E164,
    ctx: &MfaContext<'_>,
) -> Result<Method, MfaError>
where
    R: MethodRecords + AuditTrail + Sync,
{
    let existing = records.methods_of(&account.id).await?;
    let method = Method {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        kind,
        name: format!("{} {}", kind.label(), phone.masked()),
        phone: Some(phone.as_str().to_string()),
        secret: None,
        credential: None,
        credential_id: None,
        last_totp_step: None,
        passkey: None,
        is_default: existing.is_empty(),
        created_at: ctx.now,
        last_used_at: None,
    };
    records.insert_method(&method).await?;
    method_added(records, account, &method, ctx).await?;
    Ok(method)
}

/// Checks a texted code at sign-in for a registered number.
pub async fn verify_sms<R>(
    records: &R,
    account: &Account,
    method: &Method,
    session_hash: &str,
    purpose: phone::Purpose,
    code: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: MfaRecords,
{
    let sent_to = phone::check_code(records, ctx, account, session_hash, purpose, code).await?;
    if method.phone.as_deref() != Some(sent_to.as_str()) {
        return Err(MfaError::CodeExpired);
    }
    succeeded(records, account, method, ctx).await?;
    Ok(())
}

/// Completes the second step by phone call: the call for this session was answered with #.
pub async fn verify_call<R>(
    records: &R,
    account: &Account,
    method: &Method,
    session_hash: &str,
    purpose: phone::Purpose,
    approval_id: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), CallOutcome>
where
    R: MfaRecords,
{
    if let Some(until) = locked_until(records, &ctx.lock_key(&account.id), ctx.now)
        .await
        .map_err(CallOutcome::Storage)?
    {
        return Err(CallOutcome::Locked { until });
    }
    match approvals::take_approved(records, approval_id, session_hash, purpose, ctx.now)
        .await
        .map_err(CallOutcome::Storage)?
    {
        Ok(phone) if method.phone.as_deref() == Some(phone.as_str()) => {
            succeeded(records, account, method, ctx)
                .await
                .map_err(CallOutcome::Storage)?;
            Ok(())
        }
        Ok(_) => Err(CallOutcome::Waiting(approvals::ApprovalStatus::Expired)),
        Err(status) => Err(CallOutcome::Waiting(status)),
    }
}

/// Why a call did not (yet) complete the second step.
#[derive(Debug)]
pub enum CallOutcome {
    Waiting(approvals::ApprovalStatus),
    Locked { until: UnixTime },
    Storage(StorageError),
}
