//! The MFA policy: from which date a second factor is required, which methods are allowed
//! (per organisation and per role), and the reminders before the date. A national policy with
//! per-organisation overrides; a field an organisation leaves unset follows the national one.

use std::future::Future;

use super::StorageError;
use super::accounts::{Account, Role};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::methods::{Method, MethodKind};
use super::organisations::{OrgCode, OrganisationRecords};
use crate::clock::UnixTime;
use crate::exceptions::ExceptionRecords;

const DAY: i64 = 86_400;

/// The scope of the national policy in storage.
pub const NATIONAL: &str = "*";

/// A policy as stored for one scope: unset fields inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    pub required_from: Option<UnixTime>,
    pub user_methods: Option<MethodSet>,
    pub admin_methods: Option<MethodSet>,
    pub reminder_days: Option<i64>,
    pub max_snoozes: Option<i64>,
    pub snooze_days: Option<i64>,
    /// Days a device may be remembered after a second factor (0: not offered).
    pub remember_days_user: Option<i64>,
    pub remember_days_admin: Option<i64>,
    /// Whether a recovery code counts as one of the methods a password reset needs.
    pub recovery_codes_for_reset: Option<bool>,
    /// Whether administrators must have the NHSmal Authenticator (push) as their default
    /// method, as the real service requires of local administrators.
    pub admin_push_default: Option<bool>,
    /// Whether the admin area needs a phishing-resistant sign-in (a security key) in the
    /// session, not only multi-factor authentication.
    pub admin_phishing_resistant: Option<bool>,
    /// Passkeys, models and the method offered first (issue 23).
    pub strength: crate::strength::StrengthSettings,
    /// Trusted networks (issue 24).
    pub networks: crate::networks::NetworkSettings,
}

/// A set of method kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    pub const ALL: MethodSet = MethodSet(0b1_1111);

    fn bit(kind: MethodKind) -> u8 {
        match kind {
            MethodKind::Totp => 1,
            MethodKind::Sms => 2,
            MethodKind::Voice => 4,
            MethodKind::Fido2 => 8,
            MethodKind::Push => 16,
        }
    }

    pub fn contains(self, kind: MethodKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn kinds(self) -> Vec<MethodKind> {
        MethodKind::ALL
            .iter()
            .copied()
            .filter(|k| self.contains(*k))
            .collect()
    }

    /// "totp,fido2" (storage and the command line); every kind once, in the portal's order.
    pub fn to_list(self) -> String {
        self.kinds()
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses "totp,fido2" (also the words "text", "call", "key"/"fido2"); never empty.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut set = 0u8;
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let kind = match word.to_ascii_lowercase().as_str() {
                "totp" | "app" | "authenticator-app" => MethodKind::Totp,
                "sms" | "text" | "text-message" => MethodKind::Sms,
                "voice" | "call" | "phone-call" => MethodKind::Voice,
                "fido2" | "key" | "security-key" | "fido2-token" => MethodKind::Fido2,
                "push" | "notifications" => MethodKind::Push,
                _ => return Err(PolicyError::UnknownMethod(word.to_string())),
            };
            set |= Self::bit(kind);
        }
        if set == 0 {
            return Err(PolicyError::NoMethods);
        }
        Ok(MethodSet(set))
    }

    pub fn labels(self) -> String {
        self.kinds()
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The policy that applies to one organisation: national values overlaid with the
/// organisation's own, and defaults for anything nobody set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPolicy {
    pub required_from: Option<UnixTime>,
    pub user_methods: MethodSet,
    pub admin_methods: MethodSet,
    pub reminder_days: i64,
    pub max_snoozes: i64,
    pub snooze_days: i64,
    pub remember_days_user: i64,
    pub remember_days_admin: i64,
    pub recovery_codes_for_reset: bool,
    pub admin_push_default: bool,
    pub admin_phishing_resistant: bool,
    pub strength: crate::strength::StrengthPolicy,
    pub networks: crate::networks::NetworkPolicy,
}

/// Users may have a device remembered for 30 days unless the policy says otherwise;
/// administrators are asked every time unless the policy allows it.
pub const DEFAULT_REMEMBER_DAYS_USER: i64 = 30;
pub const DEFAULT_REMINDER_DAYS: i64 = 30;
pub const DEFAULT_MAX_SNOOZES: i64 = 3;
pub const DEFAULT_SNOOZE_DAYS: i64 = 1;

impl MfaPolicy {
    pub fn effective(national: Option<&PolicySettings>, org: Option<&PolicySettings>) -> Self {
        let pick = |f: &dyn Fn(&PolicySettings) -> Option<i64>, default: i64| {
            org.and_then(f)
                .or_else(|| national.and_then(f))
                .unwrap_or(default)
        };
        let pick_set = |f: &dyn Fn(&PolicySettings) -> Option<MethodSet>| {
            org.and_then(f)
                .or_else(|| national.and_then(f))
                .unwrap_or(MethodSet::ALL)
        };
        MfaPolicy {
            required_from: org
                .and_then(|p| p.required_from)
                .or_else(|| national.and_then(|p| p.required_from)),
            user_methods: pick_set(&|p| p.user_methods),
            admin_methods: pick_set(&|p| p.admin_methods),
            reminder_days: pick(&|p| p.reminder_days, DEFAULT_REMINDER_DAYS),
            max_snoozes: pick(&|p| p.max_snoozes, DEFAULT_MAX_SNOOZES),
            snooze_days: pick(&|p| p.snooze_days, DEFAULT_SNOOZE_DAYS),
            remember_days_user: pick(&|p| p.remember_days_user, DEFAULT_REMEMBER_DAYS_USER),
            remember_days_admin: pick(&|p| p.remember_days_admin, 0),
            // Off by default: a paper code kept beside the laptop should not reset a password.
            admin_push_default: org
                .and_then(|p| p.admin_push_default)
                .or_else(|| national.and_then(|p| p.admin_push_default))
                .unwrap_or(false),
            admin_phishing_resistant: org
                .and_then(|p| p.admin_phishing_resistant)
                .or_else(|| national.and_then(|p| p.admin_phishing_resistant))
                .unwrap_or(false),
            recovery_codes_for_reset: org
                .and_then(|p| p.recovery_codes_for_reset)
                .or_else(|| national.and_then(|p| p.recovery_codes_for_reset))
                .unwrap_or(false),
            strength: crate::strength::StrengthPolicy::effective(
                &national.map(|p| p.strength.clone()).unwrap_or_default(),
                &org.map(|p| p.strength.clone()).unwrap_or_default(),
            ),
            networks: crate::networks::NetworkPolicy::effective(
                &national.map(|p| p.networks.clone()).unwrap_or_default(),
                &org.map(|p| p.networks.clone()).unwrap_or_default(),
            ),
        }
    }

    /// How many days a device may be remembered for this person (0: not offered).
    pub fn remember_days_for(&self, role: Role) -> i64 {
        match role {
            Role::User => self.remember_days_user,
            Role::LocalAdmin | Role::NationalAdmin => self.remember_days_admin,
        }
    }

    /// Whether proving `kind` counts as MFA for this person under the policy.
    pub fn counts_as_mfa(&self, role: Role, kind: MethodKind) -> bool {
        self.allowed_for(role).contains(kind)
    }

    /// A recovery code (a look-up secret) counts where one-time codes are allowed: an
    /// administrator held to security keys gets no admin area from a paper code.
    pub fn recovery_code_counts(&self, role: Role) -> bool {
        self.counts_as_mfa(role, MethodKind::Totp)
    }

    /// The methods this person may use: administrators have their own list.
    pub fn allowed_for(&self, role: Role) -> MethodSet {
        match role {
            Role::User => self.user_methods,
            Role::LocalAdmin | Role::NationalAdmin => self.admin_methods,
        }
    }
}

/// Where a person stands against the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// They have an allowed method, or no date is set.
    Satisfied,
    /// A date is set but the reminder period has not begun (or a snooze is running).
    NotYet,
    /// Within the reminder period: remind them, offering "Remind me later" while snoozes last.
    Remind { by: UnixTime, snoozes_left: i64 },
    /// The date has passed (or the snoozes are used up): they must enrol before anything else.
    Required,
    /// The rollout would require a method (or remind), but an exception lets the person in
    /// with the password alone until `until` (issue 24).
    Excepted { until: UnixTime },
}

/// What the policy asks of an account, given its methods and its snoozes.
pub fn standing(
    policy: &MfaPolicy,
    account: &Account,
    methods: &[Method],
    snoozes: &Snoozes,
    now: UnixTime,
) -> Standing {
    let allowed = policy.allowed_for(account.role);
    if methods.iter().any(|m| allowed.contains(m.kind)) {
        return Standing::Satisfied;
    }
    let Some(by) = policy.required_from else {
        return Standing::Satisfied;
    };
    if now >= by {
        return Standing::Required;
    }
    // Nothing is asked before the reminder period, whatever the snoozes (a date put back
    // months gives people their reminders again).
    if now < by - policy.reminder_days * DAY {
        return Standing::NotYet;
    }
    if snoozes.until.is_some_and(|until| now < until) {
        return Standing::NotYet;
    }
    if snoozes.used >= policy.max_snoozes {
        return Standing::Required;
    }
    Standing::Remind {
        by,
        snoozes_left: policy.max_snoozes - snoozes.used,
    }
}

/// The methods offered at the second step: the allowed ones when the person has any;
/// otherwise their old methods, so that they prove who they are before enrolling an allowed
/// one (an attacker with only the password must not be able to add a method).
pub fn methods_for_sign_in(policy: &MfaPolicy, role: Role, methods: Vec<Method>) -> Vec<Method> {
    let allowed = policy.allowed_for(role);
    if methods.iter().any(|m| allowed.contains(m.kind)) {
        methods
            .into_iter()
            .filter(|m| allowed.contains(m.kind))
            .collect()
    } else {
        methods
    }
}

/// How often a person has put off enrolment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snoozes {
    pub used: i64,
    pub until: Option<UnixTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown method {0:?} (use totp, sms, voice or fido2)")]
    UnknownMethod(String),
    #[error("name at least one method")]
    NoMethods,
    #[error("the date must be a real date, such as 06/12/2026 or 2026-12-06 (got {0:?})")]
    BadDate(String),
    #[error("{0} must be a whole number from {1} to {2}")]
    OutOfRange(&'static str, i64, i64),
    #[error("no organisation with code {0}")]
    UnknownOrganisation(String),
    #[error(transparent)]
    Aaguids(#[from] crate::strength::ListError),
    #[error(transparent)]
    Networks(#[from] crate::networks::NetworkError),
    #[error("{0} must be yes or no (got {1:?})")]
    NotYesOrNo(&'static str, String),
    #[error("no more reminders can be put off; set up multi-factor authentication now")]
    NoSnoozesLeft,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub trait PolicyRecords {
    /// The national settings and the organisation's own (either may be absent).
    fn policy_settings(
        &self,
        org_code: &str,
    ) -> impl Future<Output = Result<(Option<PolicySettings>, Option<PolicySettings>), StorageError>>
    + Send;
    /// Replaces the settings of one scope (`NATIONAL` or an organisation code).
    fn save_policy_settings(
        &self,
        scope: &str,
        settings: &PolicySettings,
        by: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn snoozes_of(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Snoozes, StorageError>> + Send;
    /// Uses one snooze if fewer than `max` were used; false if none was left.
    fn take_snooze(
        &self,
        account_id: &str,
        max: i64,
        until: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// The policy for an organisation.
pub async fn policy_for(
    records: &impl PolicyRecords,
    org_code: &str,
) -> Result<MfaPolicy, StorageError> {
    let (national, org) = records.policy_settings(org_code).await?;
    Ok(MfaPolicy::effective(national.as_ref(), org.as_ref()))
}

/// Where this account stands now.
pub async fn standing_of<R>(
    records: &R,
    account: &Account,
    now: UnixTime,
) -> Result<(MfaPolicy, Standing), StorageError>
where
    R: PolicyRecords + super::methods::MethodRecords + ExceptionRecords + Sync,
{
    let policy = policy_for(records, &account.org_code).await?;
    if policy.required_from.is_none() {
        return Ok((policy, Standing::Satisfied));
    }
    let methods = records.methods_of(&account.id).await?;
    let snoozes = records.snoozes_of(&account.id).await?;
    let mut standing = standing(&policy, account, &methods, &snoozes, now);
    if matches!(standing, Standing::Required | Standing::Remind { .. })
        && let Some(exception) = crate::exceptions::live_exception(records, account, now).await?
    {
        standing = Standing::Excepted {
            until: exception.ends_at,
        };
    }
    Ok((policy, standing))
}

/// The `amr` value of a session opened with a temporary access pass.
pub const TEMPORARY_ACCESS_AMR: &str = "tap";

/// What a signed-in session may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Full,
    /// Within the reminder period: the reminder first, until it is put off or a method is set up.
    Remind,
    /// Only the enrolment pages (and signing out): the policy requires a method first, or the
    /// session was opened with a temporary access pass.
    EnrolOnly,
}

/// What a signed-in session with these `amr` values may reach. A session that proved an
/// allowed second factor needs no lookup; a policy change reaches it at its next sign-in.
pub async fn access<R>(
    records: &R,
    account: &Account,
    amr: &str,
    now: UnixTime,
) -> Result<Access, StorageError>
where
    R: PolicyRecords + super::methods::MethodRecords + ExceptionRecords + Sync,
{
    let values: Vec<&str> = amr.split(' ').collect();
    if values.contains(&TEMPORARY_ACCESS_AMR) {
        return Ok(Access::EnrolOnly);
    }
    if values.contains(&"mfa") {
        return Ok(Access::Full);
    }
    Ok(match standing_of(records, account, now).await?.1 {
        Standing::Required => Access::EnrolOnly,
        Standing::Remind { .. } => Access::Remind,
        Standing::Satisfied | Standing::NotYet | Standing::Excepted { .. } => Access::Full,
    })
}

/// "Remind me later": puts the reminder off for the policy's snooze period, if any are left.
pub async fn snooze<R>(
    records: &R,
    account: &Account,
    requester: &Requester,
    now: UnixTime,
) -> Result<UnixTime, PolicyError>
where
    R: PolicyRecords + super::methods::MethodRecords + ExceptionRecords + AuditTrail + Sync,
{
    let (policy, standing) = standing_of(records, account, now).await?;
    if !matches!(standing, Standing::Remind { .. }) {
        return Err(PolicyError::NoSnoozesLeft);
    }
    let until = now + policy.snooze_days * DAY;
    if !records
        .take_snooze(&account.id, policy.max_snoozes, until)
        .await?
    {
        return Err(PolicyError::NoSnoozesLeft);
    }
    records
        .append_audit(
            &AuditEvent::new("mfa.reminder_snoozed", Outcome::Success, requester, now)
                .account(&account.id),
        )
        .await?;
    Ok(until)
}

/// A change to the policy of one scope, as asked for (unset fields stay as they were).
#[derive(Debug, Default)]
pub struct PolicyChange<'a> {
    pub org: Option<&'a str>,
    pub required_from: Option<&'a str>,
    pub user_methods: Option<&'a str>,
    pub admin_methods: Option<&'a str>,
    pub reminder_days: Option<i64>,
    pub max_snoozes: Option<i64>,
    pub snooze_days: Option<i64>,
    pub remember_days_user: Option<i64>,
    pub remember_days_admin: Option<i64>,
    pub recovery_codes_for_reset: Option<bool>,
    pub admin_push_default: Option<bool>,
    pub admin_phishing_resistant: Option<bool>,
    /// What the change sets of the strength rules (set from the command line only).
    pub strength: crate::strength::StrengthSettings,
    /// What the change sets of the trusted networks (set from the command line only).
    pub networks: crate::networks::NetworkSettings,
    /// Replace the scope's settings: an unset field is cleared (it follows the national
    /// policy, or the default), rather than kept.
    pub replace: bool,
}

/// Parses a date as the start of that day in UTC: as YYYY-MM-DD, or as people in the UK type
/// one, day first (06/12/2026, 6/12/2026, 6-12-2026, 6.12.2026, 6 12 2026).
pub fn parse_date(text: &str) -> Result<UnixTime, PolicyError> {
    let bad = || PolicyError::BadDate(text.to_string());
    let text = text.trim();
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let date = match time::Date::parse(text, iso) {
        Ok(d) => d,
        Err(_) => {
            let parts: Vec<&str> = text.split(['/', '-', '.', ' ']).collect();
            let [day, month, year] = parts.as_slice() else {
                return Err(bad());
            };
            let number = |s: &str, max_len: usize| {
                (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse::<u16>().ok())
                    .flatten()
            };
            let (Some(day), Some(month), Some(year)) =
                (number(day, 2), number(month, 2), number(year, 4))
            else {
                return Err(bad());
            };
            // A four-digit year only: 06/12/26 could be 1926 or 2026.
            if year < 1000 {
                return Err(bad());
            }
            let month = time::Month::try_from(u8::try_from(month).map_err(|_| bad())?)
                .map_err(|_| bad())?;
            time::Date::from_calendar_date(
                i32::from(year),
                month,
                u8::try_from(day).map_err(|_| bad())?,
            )
            .map_err(|_| bad())?
        }
    };
    Ok(date.midnight().assume_utc().unix_timestamp())
}

fn in_range(name: &'static str, value: Option<i64>, min: i64, max: i64) -> Result<(), PolicyError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(PolicyError::OutOfRange(name, min, max)),
        _ => Ok(()),
    }
}

/// The reminder period, the number of snoozes and their length, each within its range.
pub fn check_ranges(
    reminder_days: Option<i64>,
    max_snoozes: Option<i64>,
    snooze_days: Option<i64>,
) -> Result<(), PolicyError> {
    in_range("the reminder period (days)", reminder_days, 0, 365)?;
    in_range("the number of snoozes", max_snoozes, 0, 30)?;
    in_range("the snooze length (days)", snooze_days, 1, 30)
}

/// "yes" or "no" (also "true"/"false"), for switches on the command line.
pub fn parse_yes_no(what: &'static str, text: &str) -> Result<bool, PolicyError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(PolicyError::NotYesOrNo(what, text.to_string())),
    }
}

/// Remembered devices last 0 (not offered) to 90 days.
pub fn check_remember_days(user: Option<i64>, admin: Option<i64>) -> Result<(), PolicyError> {
    in_range(
        "the days a device is remembered",
        user,
        0,
        super::devices::MAX_REMEMBER_DAYS,
    )?;
    in_range(
        "the days an administrator's device is remembered",
        admin,
        0,
        super::devices::MAX_REMEMBER_DAYS,
    )
}

/// Validates the whole change, then saves it and audits `policy.changed`. Nothing is written
/// when any part is invalid.
pub async fn change_policy<R>(
    records: &R,
    change: PolicyChange<'_>,
    actor: Option<&Account>,
    requester: &Requester,
    now: UnixTime,
) -> Result<PolicySettings, PolicyError>
where
    R: PolicyRecords + OrganisationRecords + AuditTrail + Sync,
{
    let scope = match change.org {
        Some(code) => {
            let code =
                OrgCode::parse(code).map_err(|_| PolicyError::UnknownOrganisation(code.into()))?;
            if records.organisation(code.as_str()).await?.is_none() {
                return Err(PolicyError::UnknownOrganisation(code.as_str().into()));
            }
            code.as_str().to_string()
        }
        None => NATIONAL.to_string(),
    };
    let required_from = change.required_from.map(parse_date).transpose()?;
    let user_methods = change.user_methods.map(MethodSet::parse).transpose()?;
    let admin_methods = change.admin_methods.map(MethodSet::parse).transpose()?;
    check_ranges(change.reminder_days, change.max_snoozes, change.snooze_days)?;
    check_remember_days(change.remember_days_user, change.remember_days_admin)?;

    let (national, org) = records.policy_settings(&scope).await?;
    let existing = if scope == NATIONAL { national } else { org }.unwrap_or_default();
    let mut settings = if change.replace {
        // The admin page replaces what it shows; the push default is set from the command
        // line only, so it stays.
        PolicySettings {
            admin_push_default: existing.admin_push_default,
            admin_phishing_resistant: existing.admin_phishing_resistant,
            strength: existing.strength.clone(),
            networks: existing.networks.clone(),
            ..PolicySettings::default()
        }
    } else {
        existing
    };
    if required_from.is_some() {
        settings.required_from = required_from;
    }
    if user_methods.is_some() {
        settings.user_methods = user_methods;
    }
    if admin_methods.is_some() {
        settings.admin_methods = admin_methods;
    }
    if change.reminder_days.is_some() {
        settings.reminder_days = change.reminder_days;
    }
    if change.max_snoozes.is_some() {
        settings.max_snoozes = change.max_snoozes;
    }
    if change.snooze_days.is_some() {
        settings.snooze_days = change.snooze_days;
    }
    if change.remember_days_user.is_some() {
        settings.remember_days_user = change.remember_days_user;
    }
    if change.remember_days_admin.is_some() {
        settings.remember_days_admin = change.remember_days_admin;
    }
    if change.recovery_codes_for_reset.is_some() {
        settings.recovery_codes_for_reset = change.recovery_codes_for_reset;
    }
    if change.admin_push_default.is_some() {
        settings.admin_push_default = change.admin_push_default;
    }
    if change.admin_phishing_resistant.is_some() {
        settings.admin_phishing_resistant = change.admin_phishing_resistant;
    }
    crate::strength::apply(&mut settings.strength, &change.strength);
    crate::networks::apply(&mut settings.networks, &change.networks);
    records
        .save_policy_settings(&scope, &settings, actor.map(|a| a.id.as_str()), now)
        .await?;
    let mut event = AuditEvent::new("policy.changed", Outcome::Success, requester, now)
        .subject(&scope)
        .reason(&describe(&settings));
    if let Some(actor) = actor {
        event = event.actor(&actor.id);
    }
    records.append_audit(&event).await?;
    Ok(settings)
}

/// A one-line description of settings, for the audit trail and the command line.
pub fn describe(settings: &PolicySettings) -> String {
    let mut parts = vec![];
    if let Some(at) = settings.required_from {
        parts.push(format!("required from {}", crate::clock::human_date(at)));
    }
    if let Some(m) = settings.user_methods {
        parts.push(format!("user methods {}", m.to_list()));
    }
    if let Some(m) = settings.admin_methods {
        parts.push(format!("admin methods {}", m.to_list()));
    }
    if let Some(d) = settings.reminder_days {
        parts.push(format!("reminders {d} days before"));
    }
    if let Some(n) = settings.max_snoozes {
        parts.push(format!("{n} snoozes"));
    }
    if let Some(d) = settings.snooze_days {
        parts.push(format!("of {d} days"));
    }
    if let Some(d) = settings.remember_days_user {
        parts.push(format!("devices remembered {d} days"));
    }
    if let Some(d) = settings.remember_days_admin {
        parts.push(format!("administrators' devices remembered {d} days"));
    }
    if let Some(yes) = settings.recovery_codes_for_reset {
        parts.push(format!(
            "recovery codes {} for a password reset",
            if yes { "count" } else { "do not count" }
        ));
    }
    if let Some(yes) = settings.admin_push_default {
        parts.push(format!(
            "administrators' default {} the NHSmal Authenticator",
            if yes { "must be" } else { "need not be" }
        ));
    }
    if let Some(yes) = settings.admin_phishing_resistant {
        parts.push(format!(
            "the admin area {} a security key",
            if yes { "needs" } else { "does not need" }
        ));
    }
    crate::strength::describe(&settings.strength, &mut parts);
    crate::networks::describe(&settings.networks, &mut parts);
    if parts.is_empty() {
        "no settings".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountState;

    #[test]
    fn dates_are_read_as_iso_or_day_first_as_people_in_the_uk_type_them() {
        let sixth_of_december = 1_796_515_200; // 2026-12-06T00:00:00Z
        for typed in [
            "2026-12-06",
            "06/12/2026",
            "6/12/2026",
            "6-12-2026",
            "6.12.2026",
            " 06 12 2026 ",
        ] {
            assert_eq!(parse_date(typed).ok(), Some(sixth_of_december), "{typed}");
        }
        for typed in [
            "31/02/2026",
            "06/13/2026",
            "06/12/26",
            "2026/12/06",
            "6th Dec",
            "",
            "06//2026",
            "1/1/99999",
        ] {
            assert!(parse_date(typed).is_err(), "{typed}");
        }
    }

    fn account(role: Role) -> Account {
        Account {
            id: "a".into(),
            email: "a@nhsmal.example".into(),
            display_name: "A".into(),
            org_code: "FA123".into(),
            org_name: "Pharmacy".into(),
            role,
            state: AccountState::Active,
            password_hash: None,
            password_changed_at: None,
            created_at: 0,
            updated_at: 0,
            password_action: Default::default(),
        }
    }

    fn method(kind: MethodKind) -> Method {
        Method {
            id: "m".into(),
            account_id: "a".into(),
            kind,
            name: "m".into(),
            phone: None,
            secret: None,
            credential: None,
            credential_id: None,
            last_totp_step: None,
            passkey: None,
            is_default: true,
            created_at: 0,
            last_used_at: None,
        }
    }

    const BY: i64 = 1_722_470_400; // 2024-08-01

    fn policy() -> MfaPolicy {
        MfaPolicy::effective(
            Some(&PolicySettings {
                required_from: Some(BY),
                admin_methods: Some(MethodSet::parse("totp,fido2").expect("set")),
                ..PolicySettings::default()
            }),
            None,
        )
    }

    #[test]
    fn an_organisation_overrides_only_what_it_sets() {
        let national = PolicySettings {
            required_from: Some(BY),
            max_snoozes: Some(5),
            ..PolicySettings::default()
        };
        let org = PolicySettings {
            required_from: Some(BY + 10 * DAY),
            ..PolicySettings::default()
        };
        let p = MfaPolicy::effective(Some(&national), Some(&org));
        assert_eq!(p.required_from, Some(BY + 10 * DAY));
        assert_eq!(p.max_snoozes, 5);
        assert_eq!(p.snooze_days, DEFAULT_SNOOZE_DAYS);
        assert_eq!(p.user_methods, MethodSet::ALL);
    }

    #[test]
    fn the_reminder_starts_within_the_period_and_enrolment_is_required_from_the_date() {
        let p = policy();
        let a = account(Role::User);
        let none = Snoozes::default();
        assert_eq!(
            standing(&p, &a, &[], &none, BY - 31 * DAY),
            Standing::NotYet
        );
        assert_eq!(
            standing(&p, &a, &[], &none, BY - DAY),
            Standing::Remind {
                by: BY,
                snoozes_left: 3
            }
        );
        assert_eq!(standing(&p, &a, &[], &none, BY), Standing::Required);
        assert_eq!(
            standing(&p, &a, &[method(MethodKind::Sms)], &none, BY),
            Standing::Satisfied
        );
    }

    #[test]
    fn snoozes_put_the_reminder_off_until_they_are_used_up() {
        let p = policy();
        let a = account(Role::User);
        let now = BY - 10 * DAY;
        let running = Snoozes {
            used: 1,
            until: Some(now + 100),
        };
        assert_eq!(standing(&p, &a, &[], &running, now), Standing::NotYet);
        let used_up = Snoozes {
            used: 3,
            until: Some(now - 1),
        };
        assert_eq!(standing(&p, &a, &[], &used_up, now), Standing::Required);
        // Before the reminder period, used-up snoozes (or none allowed) ask for nothing yet.
        let far = BY - 60 * DAY;
        assert_eq!(standing(&p, &a, &[], &used_up, far), Standing::NotYet);
    }

    #[test]
    fn a_method_the_policy_does_not_allow_for_the_role_does_not_count() {
        let p = policy();
        let admin = account(Role::LocalAdmin);
        assert_eq!(
            standing(
                &p,
                &admin,
                &[method(MethodKind::Sms)],
                &Snoozes::default(),
                BY
            ),
            Standing::Required
        );
        let offered = methods_for_sign_in(
            &p,
            Role::LocalAdmin,
            vec![method(MethodKind::Sms), method(MethodKind::Fido2)],
        );
        assert_eq!(offered.len(), 1);
        assert_eq!(offered[0].kind, MethodKind::Fido2);
        // With no allowed method, the old ones are still used to prove identity first.
        let offered = methods_for_sign_in(&p, Role::LocalAdmin, vec![method(MethodKind::Sms)]);
        assert_eq!(offered.len(), 1);
    }

    #[test]
    fn a_recovery_code_counts_only_where_one_time_codes_are_allowed() {
        let p = policy(); // administrators: totp and fido2
        assert!(p.recovery_code_counts(Role::User));
        assert!(p.recovery_code_counts(Role::LocalAdmin));
        let keys_only = MfaPolicy::effective(
            Some(&PolicySettings {
                admin_methods: Some(MethodSet::parse("fido2").expect("set")),
                ..PolicySettings::default()
            }),
            None,
        );
        assert!(!keys_only.recovery_code_counts(Role::NationalAdmin));
        assert!(keys_only.counts_as_mfa(Role::NationalAdmin, MethodKind::Fido2));
    }

    #[test]
    fn method_lists_are_parsed_strictly() {
        assert_eq!(
            MethodSet::parse("fido2, totp").expect("set").to_list(),
            "totp,fido2"
        );
        assert!(matches!(
            MethodSet::parse("carrier-pigeon"),
            Err(PolicyError::UnknownMethod(_))
        ));
        assert!(matches!(MethodSet::parse(""), Err(PolicyError::NoMethods)));
        assert_eq!(parse_date("2024-08-01").expect("date"), BY);
        // Day first, as people in the UK type dates (issue 20).
        assert_eq!(parse_date("01/08/2024").expect("date"), BY);
        assert!(parse_date("08/2024").is_err());
    }
}
