//! What administrators may do, and to whom. A local administrator manages the accounts of
//! their own organisation; a national administrator manages every account. Every refusal is
//! audited as `admin.denied`.

use super::StorageError;
use super::account_changes::{AccountChanges, Change};
use super::accounts::{Account, AccountState, Role};
use super::audit::{AuditCap, AuditEvent, AuditTrail, Outcome, Requester};
use super::limits::{SignInLimitRecords, email_limit_key};
use super::notices::{self, Notice, email_person};
use super::secrets::SecretBox;
use crate::clock::UnixTime;
use crate::delivery::Notifier;

/// The accounts an administrator can see and manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminScope {
    /// Every organisation (a national administrator).
    National,
    /// One organisation (a local administrator).
    Organisation(String),
}

impl AdminScope {
    /// The scope of an account, if it administers anything.
    pub fn of(account: &Account) -> Option<Self> {
        match account.role {
            Role::NationalAdmin => Some(AdminScope::National),
            Role::LocalAdmin => Some(AdminScope::Organisation(account.org_code.clone())),
            Role::User => None,
        }
    }

    pub fn covers_org(&self, org_code: &str) -> bool {
        match self {
            AdminScope::National => true,
            AdminScope::Organisation(own) => own == org_code,
        }
    }

    /// Whether an account of this organisation and role is this administrator's to manage.
    /// A local administrator manages the people of their organisation, not its other
    /// administrators (nor a national administrator whose home it is).
    pub fn manages(&self, org_code: &str, role: Role) -> bool {
        self.covers_org(org_code) && (self.is_national() || role == Role::User)
    }

    /// The organisation code to filter by, or `None` for every organisation.
    pub fn org_filter(&self) -> Option<&str> {
        match self {
            AdminScope::National => None,
            AdminScope::Organisation(code) => Some(code),
        }
    }

    pub fn is_national(&self) -> bool {
        matches!(self, AdminScope::National)
    }
}

/// An administrator acting, with where the request came from.
pub struct Admin<'a> {
    pub account: &'a Account,
    pub scope: AdminScope,
    pub requester: &'a Requester,
    pub now: UnixTime,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("You can only manage the users of your own organisation")]
    Denied,
    #[error("Enter the reason, in up to 500 characters")]
    BadReason,
    #[error("The pass must last from 10 minutes to 8 hours")]
    BadLifetime,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Admin<'_> {
    /// Refuses (and audits) an action on an account outside this administrator's scope.
    /// `action` names what was attempted, for the audit trail.
    pub async fn authorize(
        &self,
        records: &impl AuditTrail,
        target: &Account,
        action: &str,
    ) -> Result<(), AdminError> {
        if self.scope.manages(&target.org_code, target.role) {
            return Ok(());
        }
        self.deny(records, Some(target), action).await?;
        Err(AdminError::Denied)
    }

    /// Refuses (and audits) a look at an organisation outside this administrator's scope.
    pub async fn authorize_org(
        &self,
        records: &impl AuditTrail,
        org_code: &str,
        action: &str,
    ) -> Result<(), AdminError> {
        if self.scope.covers_org(org_code) {
            return Ok(());
        }
        // The code as asked for, cut short: it came from a URL.
        let subject: String = org_code.chars().take(32).collect();
        let event = self.denial(None, action).subject(&subject);
        audit_denial(records, &event).await?;
        Err(AdminError::Denied)
    }

    /// Refuses (and audits) something only national administrators may do.
    pub async fn require_national(
        &self,
        records: &impl AuditTrail,
        action: &str,
    ) -> Result<(), AdminError> {
        if self.scope.is_national() {
            return Ok(());
        }
        self.deny(records, None, action).await?;
        Err(AdminError::Denied)
    }

    async fn deny(
        &self,
        records: &impl AuditTrail,
        target: Option<&Account>,
        action: &str,
    ) -> Result<(), StorageError> {
        deny_event(records, self, target, action).await
    }
}

impl Admin<'_> {
    fn denial(&self, target: Option<&Account>, action: &str) -> AuditEvent {
        let mut event = AuditEvent::new("admin.denied", Outcome::Failure, self.requester, self.now)
            .actor(&self.account.id)
            .reason(action);
        if let Some(target) = target {
            event = event.account(&target.id).subject(&target.org_code);
        }
        event
    }

    /// An audit event for an action this administrator took on `target`.
    pub fn event(&self, event: &'static str, target: &Account) -> AuditEvent {
        AuditEvent::new(event, Outcome::Success, self.requester, self.now)
            .actor(&self.account.id)
            .account(&target.id)
    }
}

/// Denials audited one by one per actor in an hour; beyond that they are refused and counted,
/// with their targets, into one event written when the hour ends, so that a script hammering
/// `/admin` cannot flood the append-only trail and no refusal goes unrecorded.
pub const DENIALS: AuditCap = AuditCap {
    per_window: 20,
    window: 3_600,
};

async fn deny_event(
    records: &impl AuditTrail,
    admin: &Admin<'_>,
    target: Option<&Account>,
    action: &str,
) -> Result<(), StorageError> {
    audit_denial(records, &admin.denial(target, action)).await
}

/// Appends an `admin.denied` event, or counts it into its actor's roll-up for the hour.
pub async fn audit_denial(
    records: &impl AuditTrail,
    event: &AuditEvent,
) -> Result<(), StorageError> {
    // Hours that have ended are written out first, so the trail reads in order.
    write_ended_rollups(records, event.at).await?;
    records.append_capped(event, DENIALS).await
}

/// Writes each hour's roll-up of refused administrator actions that has ended (a background
/// job on every node; a roll-up is written once).
pub async fn write_ended_rollups(
    records: &impl AuditTrail,
    now: UnixTime,
) -> Result<u64, StorageError> {
    records
        .flush_rollups(now, |r| {
            let mut text = format!(
                "{} more refused in the hour from {} (beyond {} written one by one); last at {}",
                r.count,
                crate::clock::rfc3339(r.first_at),
                DENIALS.per_window,
                crate::clock::rfc3339(r.last_at),
            );
            if !r.targets.is_empty() {
                text.push_str("; targets: ");
                text.push_str(&r.targets.join(", "));
            }
            if r.more_targets > 0 {
                text.push_str(&format!(" and {} more", r.more_targets));
            }
            text
        })
        .await
}

/// Until when the account is locked (a sign-in lock after `lock_after` failures, or a
/// second-factor lock), if it is now: what the user search shows, for one account by key.
pub async fn locked_until(
    records: &impl SignInLimitRecords,
    account: &Account,
    lock_after: i64,
    now: UnixTime,
) -> Result<Option<UnixTime>, StorageError> {
    let keys = [
        email_limit_key(&account.email),
        super::mfa::mfa_limit_key(&account.id),
    ];
    let mut until = None;
    for key in keys {
        if let Some(state) = records.limit_state(&key).await?
            && state.failures >= lock_after
            && state.blocked_until > now
        {
            until = until.max(Some(state.blocked_until));
        }
    }
    Ok(until)
}

/// After an administrator's MFA reset, only a session opened with a temporary access pass may
/// set up the account's first method again: the password alone (perhaps phished) is not enough.
pub async fn enrolment_needs_a_pass<R>(
    records: &R,
    account: &Account,
    amr: &str,
) -> Result<bool, StorageError>
where
    R: super::temporary_access::PassRecords + super::methods::MethodRecords + Sync,
{
    let by_pass = amr
        .split(' ')
        .any(|v| v == super::policy::TEMPORARY_ACCESS_AMR);
    Ok(!by_pass
        && records.enrolment_needs_pass(&account.id).await?
        && records.methods_of(&account.id).await?.is_empty())
}

/// What the user search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentFilter {
    Enrolled,
    NotEnrolled,
    Locked,
}

impl EnrolmentFilter {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enrolled" => Some(Self::Enrolled),
            "not-enrolled" => Some(Self::NotEnrolled),
            "locked" => Some(Self::Locked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::NotEnrolled => "not-enrolled",
            Self::Locked => "locked",
        }
    }
}

/// A search for accounts within a scope: `text` matches part of the name or email.
#[derive(Debug, Clone)]
pub struct UserSearch {
    pub text: String,
    pub filter: Option<EnrolmentFilter>,
    pub org: Option<String>,
    pub offset: i64,
    pub limit: i64,
    /// Failures that make a sign-in lock (from the limits settings), and the time now.
    pub lock_after: i64,
    pub now: UnixTime,
}

/// One account as the search lists it.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    pub account: Account,
    pub methods: i64,
    pub locked_until: Option<UnixTime>,
}

pub trait AdminRecords {
    fn search_accounts(
        &self,
        search: &UserSearch,
    ) -> impl std::future::Future<Output = Result<Vec<AccountSummary>, StorageError>> + Send;
}

/// Who takes an administrative action and how the person is told: an administrator in the
/// portal (after `Admin::authorize`), or an operator at the server's command line.
pub struct AdminAction<'a> {
    pub actor_id: Option<&'a str>,
    pub requester: &'a Requester,
    pub now: UnixTime,
    pub notifier: &'a dyn Notifier,
}

impl<'a> AdminAction<'a> {
    fn event(&self, event: &'static str, target: &Account) -> AuditEvent {
        let mut e =
            AuditEvent::new(event, Outcome::Success, self.requester, self.now).account(&target.id);
        if let Some(actor) = self.actor_id {
            e = e.actor(actor);
        }
        e
    }

    async fn tell(
        &self,
        records: &(impl AuditTrail + Sync),
        target: &Account,
        notice: Notice<'_>,
    ) -> Result<(), StorageError> {
        email_person(
            records,
            self.notifier,
            self.requester,
            self.now,
            target,
            notice,
        )
        .await
    }
}

/// The reason an administrator gives for an action, trimmed; refused when empty or long.
pub fn valid_reason(reason: &str) -> Result<&str, AdminError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AdminError::BadReason);
    }
    Ok(reason)
}

/// Removes every MFA method of the account (a lost or replaced phone), ends its sessions and
/// clears its second-factor lock. The reason is recorded in the audit trail.
pub async fn reset_mfa<R>(
    records: &R,
    action: &AdminAction<'_>,
    target: &Account,
    reason: &str,
) -> Result<u64, AdminError>
where
    R: AccountChanges + AuditTrail + Sync,
{
    let reason = valid_reason(reason)?;
    let lock = super::mfa::mfa_limit_key(&target.id);
    let event = action.event("mfa.reset", target).reason(reason);
    // One transaction: the reset is done with its audit event, or not at all.
    let applied = records
        .apply_changes(
            &target.id,
            action.now,
            &[
                Change::RemoveMethods,
                Change::NeedPassToEnrol(true),
                Change::ForgetDevices,
                // Apps signed in before the reset sign in again.
                Change::RevokeGrants,
                // Codes printed with the lost phone's set must not come back to life.
                Change::RemoveRecoveryCodes,
                Change::EndSessions,
                Change::ClearLimit(&lock),
                Change::Audit(&event),
            ],
        )
        .await?;
    action
        .tell(records, target, notices::mfa_reset_by_admin(target))
        .await?;
    Ok(applied.methods_removed)
}

/// Ends a sign-in lock and a second-factor lock early.
pub async fn unlock<R>(
    records: &R,
    action: &AdminAction<'_>,
    target: &Account,
) -> Result<(), AdminError>
where
    R: AccountChanges + AuditTrail + Sync,
{
    let key = super::limits::email_limit_key(&target.email);
    let prefix = super::limits::known_device_limit_key(&target.email, "");
    let lock = super::mfa::mfa_limit_key(&target.id);
    let event = action.event("account.unlocked", target);
    records
        .apply_changes(
            &target.id,
            action.now,
            &[
                Change::ClearLimitsLike {
                    key: &key,
                    prefix: &prefix,
                },
                Change::ClearLimit(&lock),
                Change::Audit(&event),
            ],
        )
        .await?;
    action
        .tell(records, target, notices::account_unlocked(target))
        .await?;
    Ok(())
}

/// Disables (ending every session) or enables an account, and tells the person.
pub async fn set_account_state<R>(
    records: &R,
    action: &AdminAction<'_>,
    target: &Account,
    state: AccountState,
) -> Result<(), AdminError>
where
    R: AccountChanges + AuditTrail + Sync,
{
    let (event, notice) = match state {
        AccountState::Disabled => ("account.disabled", notices::account_disabled(target)),
        AccountState::Active => ("account.enabled", notices::account_enabled(target)),
    };
    let event = action.event(event, target);
    let mut changes = vec![Change::SetState(state)];
    if state == AccountState::Disabled {
        changes.push(Change::EndSessions);
    }
    changes.push(Change::Audit(&event));
    records
        .apply_changes(&target.id, action.now, &changes)
        .await?;
    action.tell(records, target, notice).await?;
    Ok(())
}

/// How long a temporary access pass lasts, in minutes: 10 minutes to 8 hours, 1 hour unless
/// the administrator chooses.
pub const PASS_MINUTES_DEFAULT: i64 = 60;
pub const PASS_MINUTES_MIN: i64 = 10;
pub const PASS_MINUTES_MAX: i64 = 8 * 60;

/// Issues a temporary access pass: a one-time code shown once to the administrator, who gives
/// it to the person. Only a keyed hash is stored; an earlier unused pass is voided.
pub async fn issue_temporary_access_pass<R>(
    records: &R,
    action: &AdminAction<'_>,
    secrets: &SecretBox,
    target: &Account,
    minutes: i64,
) -> Result<(super::temporary_access::PassCode, UnixTime), AdminError>
where
    R: AccountChanges + AuditTrail + Sync,
{
    if !(PASS_MINUTES_MIN..=PASS_MINUTES_MAX).contains(&minutes) {
        return Err(AdminError::BadLifetime);
    }
    let code = super::temporary_access::PassCode::generate();
    let expires_at = action.now + minutes * 60;
    let pass = super::temporary_access::StoredPass {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: target.id.clone(),
        code_hash: code.keyed_hash(secrets, &target.id),
        expires_at,
    };
    let event = action
        .event("tap.issued", target)
        .reason(&format!("{minutes} minutes"));
    records
        .apply_changes(
            &target.id,
            action.now,
            &[
                // A pass is issued when something is wrong with the account: whoever is
                // signed in to it now is signed out (LC-4).
                Change::EndSessions,
                Change::ReplacePass {
                    pass: &pass,
                    issued_by: action.actor_id.unwrap_or("operator"),
                },
                Change::Audit(&event),
            ],
        )
        .await?;
    action
        .tell(
            records,
            target,
            notices::temporary_access_pass_issued(target, expires_at),
        )
        .await?;
    Ok((code, expires_at))
}
