//! Regaining access: a forgotten password is reset by proving the MFA methods the person
//! registered (one for users, two different kinds for administrators), never through the
//! NHSmal mailbox they cannot read without the password.

use super::StorageError;
use super::account_changes::Change;
use super::accounts::{Account, AccountState, Role, normalize_email};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::limits::{SignInLimitRecords, client_source};
use super::methods::{Method, MethodKind};
use super::mfa::MfaError;
use super::monitoring::reset_step;
use super::password::{NewPassword, PasswordHashing, PasswordRejected};
use super::policy::{self};
use crate::clock::UnixTime;
use crate::delivery::Notifier;
use crate::sessions::RESET_SECONDS;

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

fn start_key_email(email: &str, ip: &str) -> String {
    format!(
        "reset:email:{}:{}",
        normalize_email(email),
        client_source(ip)
    )
}

fn start_key_email_everywhere(email: &str) -> String {
    format!("reset:email:{}", normalize_email(email))
}

/// Starts per email address from all sources in an hour: high, so that strangers cannot
/// stop the owner resetting, but a ceiling on a distributed attack.
pub const STARTS_PER_EMAIL_EVERYWHERE: i64 = 50;

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
    // Only methods the policy allows: unlike sign-in, a reset has no fallback to old methods.
    let allowed = policy.allowed_for(role);
    methods
        .into_iter()
        .filter(|m| allowed.contains(m.kind))
        .filter(|m| !proved.iter().any(|p| factor(*p) == factor(m.kind)))
        .collect()
}

/// The kinds of method a reset offers to choose from once `proved` are proved: every kind for
/// the first proof (the same list for every address), then those of another factor.
pub fn kinds_to_choose(proved: &[MethodKind]) -> Vec<MethodKind> {
    MethodKind::ALL
        .into_iter()
        .filter(|k| !proved.iter().any(|p| factor(*p) == factor(*k)))
        .collect()
}

/// Texts and calls go to a phone: for "two different methods" they are one factor, so one
/// stolen phone cannot prove both.
fn factor(kind: MethodKind) -> MethodKind {
    match kind {
        MethodKind::Voice => MethodKind::Sms,
        other => other,
    }
}

fn kinds(methods: &[Method]) -> usize {
    let mut kinds: Vec<MethodKind> = methods.iter().map(|m| factor(m.kind)).collect();
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
    R: ResetRecords,
{
    let by_email = records
        .count_failure(&start_key_email(email, &requester.ip), now, now - HOUR)
        .await?;
    let everywhere = records
        .count_failure(&start_key_email_everywhere(email), now, now - HOUR)
        .await?;
    let by_source = records
        .count_failure(&start_key_source(&requester.ip), now, now - HOUR)
        .await?;
    let audit = |outcome, reason: &str| {
        AuditEvent::new("password_reset.started", outcome, requester, now)
            .subject(&normalize_email(email))
            .reason(reason)
    };
    if by_email.failures > STARTS_PER_EMAIL
        || by_source.failures > STARTS_PER_SOURCE
        || everywhere.failures > STARTS_PER_EMAIL_EVERYWHERE
    {
        // The latest of the windows to end.
        let until = by_email
            .window_start
            .max(by_source.window_start)
            .max(everywhere.window_start)
            + HOUR;
        records
            .append_audit(&audit(Outcome::Failure, "throttled"))
            .await?;
        return Err(ResetError::Throttled { until });
    }
    let account = records.account_by_email(&normalize_email(email)).await?;
    let typed = normalize_email(email);
    let Some(account) = account.filter(|a| a.state == AccountState::Active) else {
        // The same reads as for a real account, so that the database's time does not tell
        // them apart (the page's floor covers the writes).
        policy::policy_for(records, policy::NATIONAL).await?;
        records.methods_of("").await?;
        records
            .append_audit(&audit(Outcome::Failure, "no_active_account"))
            .await?;
        reset_step(
            records,
            requester,
            now,
            &typed,
            None,
            "failure",
            Some("no_active_account"),
        )
        .await?;
        return Ok(ResetStart::Decoy);
    };
    let policy = policy::policy_for(records, &account.org_code).await?;
    let methods = records.methods_of(&account.id).await?;
    let usable = reset_methods(&policy, account.role, methods, &[]);
    let needed = rules.needed(account.role);
    // Where the policy lets a recovery code prove a reset, the set counts as one more kind.
    let codes = policy.recovery_codes_for_reset
        && !records.unused_recovery_codes(&account.id).await?.is_empty();
    if kinds(&usable) + usize::from(codes) < needed {
        records
            .append_audit(&audit(Outcome::Failure, "not_enough_methods").account(&account.id))
            .await?;
        reset_step(
            records,
            requester,
            now,
            &typed,
            Some(&account),
            "failure",
            Some("not_enough_methods"),
        )
        .await?;
        return Ok(ResetStart::Decoy);
    }
    records
        .append_audit(&audit(Outcome::Success, "second_step").account(&account.id))
        .await?;
    reset_step(
        records,
        requester,
        now,
        &typed,
        Some(&account),
        "passed",
        None,
    )
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
    R: ResetRecords,
{
    let new = NewPassword::parse(new, confirmation, &account.personal_words())?;
    let hash = hashing
        .run(move |h| h.hash(new.password()))
        .await
        .and_then(|r| r)
        .map_err(|e| ResetError::Internal(e.to_string()))?;
    let event =
        AuditEvent::new("password.reset", Outcome::Success, requester, now).account(&account.id);
    let key = super::limits::email_limit_key(&account.email);
    let prefix = super::limits::known_device_limit_key(&account.email, "");
    // One transaction: the new password with everything it ends, and its audit event.
    records
        .apply_changes(
            &account.id,
            now,
            &[
                Change::EndSessions,
                Change::ForgetDevices,
                // Every app's refresh tokens go with the sessions.
                Change::RevokeGrants,
                Change::SetPasswordHash(&hash),
                // A new password answers whatever evidence said the old one was known.
                Change::SetPasswordAction(super::accounts::PasswordAction::None),
                Change::ClearLimitsLike {
                    key: &key,
                    prefix: &prefix,
                },
                Change::Audit(&event),
            ],
        )
        .await?;
    reset_step(
        records,
        requester,
        now,
        &account.email,
        Some(account),
        "success",
        None,
    )
    .await?;
    super::notices::email_person(
        records,
        notifier,
        requester,
        now,
        account,
        super::notices::password_reset(account, now),
    )
    .await?;
    Ok(())
}

/// Recovery codes: for when the phone is lost. Ten at a time, each 13 characters from the
/// same unambiguous alphabet as temporary access passes (about 64 bits, LC-3), single use, kept only
/// as HMACs under the master key bound to the account; making a new set voids the old.
pub const RECOVERY_CODE_COUNT: usize = 10;
const RECOVERY_CODE_LENGTH: usize = 13;
const SYMBOLS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A recovery code as shown once: `ABCDEF-GHJKMNP`.
pub struct RecoveryCode(zeroize::Zeroizing<String>);

impl RecoveryCode {
    fn generate() -> Self {
        let mut code = String::with_capacity(RECOVERY_CODE_LENGTH);
        while code.len() < RECOVERY_CODE_LENGTH {
            for b in super::random_bytes::<16>() {
                let b = usize::from(b & 0x1f);
                if b < SYMBOLS.len() && code.len() < RECOVERY_CODE_LENGTH {
                    code.push(char::from(SYMBOLS[b]));
                }
            }
        }
        RecoveryCode(zeroize::Zeroizing::new(code))
    }

    /// What a person typed: spaces, hyphens and case do not matter.
    pub fn from_input(text: &str) -> Self {
        RecoveryCode(zeroize::Zeroizing::new(
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        ))
    }

    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(self.0.len() / 2);
        format!("{a}-{b}")
    }

    fn binding(&self, account_id: &str) -> Vec<u8> {
        format!("recovery\0{account_id}\0{}", self.0.as_str()).into_bytes()
    }
}

/// A stored code: its id and keyed hash.
#[derive(Debug, Clone)]
pub struct StoredRecoveryCode {
    pub id: String,
    pub code_hash: String,
}

/// Everything a password reset and a recovery code read and write: a second factor's
/// records, the recovery codes, and the account changes a reset commits together.
pub trait ResetRecords:
    crate::mfa::MfaRecords
    + RecoveryCodeRecords
    + crate::account_changes::AccountChanges
    + crate::temporary_access::PassRecords
{
}

impl<T> ResetRecords for T where
    T: crate::mfa::MfaRecords
        + RecoveryCodeRecords
        + crate::account_changes::AccountChanges
        + crate::temporary_access::PassRecords
{
}

pub trait RecoveryCodeRecords {
    /// Replaces every code of the account with these.
    fn replace_recovery_codes(
        &self,
        account_id: &str,
        codes: &[StoredRecoveryCode],
        now: UnixTime,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send;
    fn unused_recovery_codes(
        &self,
        account_id: &str,
    ) -> impl std::future::Future<Output = Result<Vec<StoredRecoveryCode>, StorageError>> + Send;
    /// Marks the code used; false if it already was (one conditional UPDATE).
    fn spend_recovery_code(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl std::future::Future<Output = Result<bool, StorageError>> + Send;
}

/// A new set of recovery codes, shown once; the old set stops working.
pub async fn create_recovery_codes<R>(
    records: &R,
    secrets: &super::secrets::SecretBox,
    account: &Account,
    requester: &Requester,
    now: UnixTime,
) -> Result<Vec<RecoveryCode>, StorageError>
where
    R: RecoveryCodeRecords + AuditTrail + Sync,
{
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODE_COUNT)
        .map(|_| RecoveryCode::generate())
        .collect();
    let stored: Vec<StoredRecoveryCode> = codes
        .iter()
        .map(|c| StoredRecoveryCode {
            id: uuid::Uuid::new_v4().to_string(),
            code_hash: secrets.mac_hex(&c.binding(&account.id)),
        })
        .collect();
    records
        .replace_recovery_codes(&account.id, &stored, now)
        .await?;
    records
        .append_audit(
            &AuditEvent::new("recovery_codes.created", Outcome::Success, requester, now)
                .account(&account.id),
        )
        .await?;
    Ok(codes)
}

/// A recovery code at the second step. Counted before it is checked, towards the same lock
/// as other second factors; on success the code is spent and the person told how many are
/// left (by email too). Returns how many are left.
pub async fn use_recovery_code<R>(
    records: &R,
    account: &Account,
    typed: &str,
    ctx: &super::mfa::MfaContext<'_>,
) -> Result<usize, MfaError>
where
    R: ResetRecords,
{
    use super::mfa::{record_failure_of, reserve_attempt};
    let code = RecoveryCode::from_input(typed);
    if code.0.is_empty() {
        return Err(MfaError::CodeMissing);
    }
    let attempt = reserve_attempt(records, account, ctx).await?;
    let unused = records.unused_recovery_codes(&account.id).await?;
    let binding = code.binding(&account.id);
    // Every stored code is compared (in constant time), not just until the first match.
    let mut found = None;
    for stored in &unused {
        if ctx.secrets.mac_matches(&binding, &stored.code_hash) {
            found = Some(stored.id.clone());
        }
    }
    let spent = match found {
        Some(id) => records.spend_recovery_code(&id, ctx.now).await?,
        None => false,
    };
    if !spent {
        record_failure_of(records, account, "recovery_code", attempt, ctx).await?;
        return Err(attempt.wrong_code(ctx));
    }
    records.clear_limit(&ctx.lock_key(&account.id)).await?;
    let remaining = unused.len() - 1;
    records
        .append_audit(
            &ctx.audit("mfa.recovery_code_used", Outcome::Success, account)
                .reason(&format!("{remaining} left")),
        )
        .await?;
    super::mfa::send_notice(
        records,
        ctx,
        account,
        super::notices::recovery_code_used(account, remaining, ctx.now),
    )
    .await?;
    Ok(remaining)
}

/// A kind of method chosen in a reset that cannot prove anything: the account does not have
/// one, or the address has no account to reset (a decoy). It is remembered so that its pages
/// read as a real one's: a call "placed" at `chosen_at` waits for its keypress as long as a
/// real call would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phantom {
    pub kind: MethodKind,
    pub chosen_at: UnixTime,
}

fn phantom_key(id: &str) -> String {
    format!("reset:phantom:{id}")
}

/// Remembers the kind a decoy reset chose (or chose again: "Call again").
pub async fn choose_phantom(
    records: &impl SignInLimitRecords,
    id: &str,
    kind: MethodKind,
    now: UnixTime,
) -> Result<(), StorageError> {
    let code = MethodKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |i| i as i64 + 1);
    records
        .reserve(&[&phantom_key(id)], move |states| {
            if let [state] = states {
                state.failures = code;
                state.window_start = now;
                // Forgotten with the reset.
                state.blocked_until = now + RESET_SECONDS;
            }
        })
        .await
}

/// The kind a decoy reset chose, while the reset lasts.
pub async fn phantom_of(
    records: &impl SignInLimitRecords,
    id: &str,
    now: UnixTime,
) -> Result<Option<Phantom>, StorageError> {
    let state = records.limit_state(&phantom_key(id)).await?;
    Ok(state.filter(|s| s.blocked_until > now).and_then(|s| {
        let kind = MethodKind::ALL.get(usize::try_from(s.failures - 1).ok()?)?;
        Some(Phantom {
            kind: *kind,
            chosen_at: s.window_start,
        })
    }))
}

/// A code, key or recovery code tried on a step that cannot succeed, counted as a real reset
/// counts wrong codes: per address (its tag) and client source, so the same answers come back,
/// then the same lock at the limit, whichever email step the browser came through. Returns the
/// answer a real account would get: a wrong code (with the same warning) or the lock.
pub async fn count_phantom_guess(
    records: &impl SignInLimitRecords,
    address_tag: &str,
    requester: &Requester,
    lock_after: i64,
    lock_seconds: i64,
    now: UnixTime,
) -> Result<MfaError, StorageError> {
    let key = format!("reset:decoy:{address_tag}:{}", client_source(&requester.ip));
    records
        .reserve(&[&key], move |states| {
            let [state] = states else {
                return MfaError::WrongCode { tries_left: None };
            };
            if state.blocked_until > now {
                return MfaError::Locked {
                    until: state.blocked_until,
                };
            }
            if state.window_start < now - 86_400 || state.blocked_until != 0 {
                *state = super::limits::LimitState {
                    failures: 0,
                    window_start: now,
                    blocked_until: 0,
                };
            }
            state.failures += 1;
            // The same answers, at the same counts, as a real account's wrong codes get.
            let left = lock_after - state.failures;
            if left <= 0 {
                state.blocked_until = now + lock_seconds;
                return MfaError::Locked {
                    until: state.blocked_until,
                };
            }
            MfaError::WrongCode {
                tries_left: (left <= crate::mfa::WARN_WHEN_TRIES_LEFT).then_some(left),
            }
        })
        .await
}

#[cfg(test)]
mod recovery_code_tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_unambiguous_characters() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 14);
        assert!(!shown.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(
            RecoveryCode::from_input(&shown.to_lowercase()).display(),
            shown
        );
    }
}
