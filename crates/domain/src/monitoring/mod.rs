//! Sign-in monitoring (issue 6): every attempt at every step goes into the sign-in log with
//! the risk found; what a level or a signal sets off — an email to the person, alerts to
//! administrators, a throttled source, a password that must change — happens here, once.

use std::future::Future;

use crate::StorageError;
use crate::accounts::{Account, AccountRecords, PasswordAction};
use crate::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;
use crate::delivery::Notifier;
use crate::devices::DeviceRecords;
use crate::limits::{SignInLimitRecords, client_source, ip_limit_key};
use crate::notices::{self, Notice};
use crate::risk::RiskSettings;
use crate::risk::{self, Assessment, Attempt, Familiar, Level, PastSignIn, Signal};
use crate::sessions::SessionRecords;

const DAY: i64 = 86_400;
/// Rows of an account's history the rules read at most: bounded, whatever the log holds.
pub const HISTORY_ROWS: i64 = 500;
/// Rows of the account's recent history (the last day) the sign-in rules read at most.
pub const LAST_DAY_ROWS: i64 = 200;
/// Rows of the summary of what an account signed in from that the rules read at most (the
/// most recently used): a day row for each day, 24 hours, and the devices, networks and
/// countries.
pub const FAMILIAR_ROWS: i64 = 200;

/// The step of a sign-in a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Password,
    SecondFactor,
    Reset,
    SingleSignOn,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Password => "password",
            Step::SecondFactor => "second_factor",
            Step::Reset => "reset",
            Step::SingleSignOn => "single_sign_on",
        }
    }
}

/// A row to write to the sign-in log.
#[derive(Debug, Clone)]
pub struct SignInEntry<'a> {
    pub at: UnixTime,
    pub account_id: Option<&'a str>,
    /// The address typed (normalised), or the account's.
    pub email: &'a str,
    pub org_code: Option<&'a str>,
    pub requester: &'a Requester,
    pub step: Step,
    pub method: Option<&'a str>,
    /// `success` (signed in), `passed` (this step; more to come), `failure`, `blocked`,
    /// `text_sent`, `call_placed`, `call_answered`, `reported`.
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub assessment: &'a Assessment,
}

/// A row of the sign-in log as read back.
#[derive(Debug, Clone)]
pub struct SignInRecord {
    pub id: i64,
    pub at: UnixTime,
    pub account_id: Option<String>,
    pub email: String,
    pub org_code: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub step: String,
    pub method: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub risk: String,
    pub signals: String,
    pub country: Option<String>,
    pub place: Option<String>,
    pub reported_at: Option<UnixTime>,
    pub correlation_id: String,
}

/// What the admin sign-in log and its export ask for; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct SignInFilter {
    pub org_code: Option<String>,
    pub email: Option<String>,
    pub outcome: Option<String>,
    pub risk: Option<String>,
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    /// Rows older than this id (paging, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub trait SignInLog {
    fn record_sign_in(
        &self,
        entry: &SignInEntry<'_>,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
    /// The account's rows since `since`, newest first, at most `limit`.
    fn account_history(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<PastSignIn>, StorageError>> + Send;
    /// What the account finished sign-ins from (the summary `record_sign_in` keeps up to date
    /// with each `success` row) since `since`: the `limit` most recently used rows.
    fn familiar(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> impl Future<Output = Result<Familiar, StorageError>> + Send;
    /// Deletes the summary's rows last used before `before`; returns how many went.
    fn prune_familiar(
        &self,
        before: UnixTime,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Wrong passwords for an address (known or not) since `since`.
    fn password_failures_of(
        &self,
        email: &str,
        since: UnixTime,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
    /// Whether the account finished a sign-in from this browser (keyed hash of its device
    /// cookie) since `since`: one read of the familiar summary by its key.
    fn knows_device(
        &self,
        account_id: &str,
        device: &str,
        since: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Distinct addresses with a wrong password from `source` since `since`, `email` left out.
    fn failed_emails_from(
        &self,
        source: &str,
        since: UnixTime,
        email: &str,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
    fn sign_ins(
        &self,
        filter: &SignInFilter,
    ) -> impl Future<Output = Result<Vec<SignInRecord>, StorageError>> + Send;
    fn sign_ins_of_account(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SignInRecord>, StorageError>> + Send;
    /// Marks the account's row as "This wasn't me"; false when it is not theirs or already
    /// marked.
    fn mark_reported(
        &self,
        id: i64,
        account_id: &str,
        at: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Deletes up to `batch` rows older than `before`; returns how many went.
    fn prune_sign_ins(
        &self,
        before: UnixTime,
        batch: i64,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
}

/// An account the monitoring flagged.
#[derive(Debug, Clone)]
pub struct RiskyAccount {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub org_code: String,
    pub role: crate::accounts::Role,
    pub level: Level,
    pub signals: Vec<Signal>,
    /// `at_risk`, `dismissed` or `compromised`.
    pub state: String,
    pub first_at: UnixTime,
    pub last_at: UnixTime,
    pub updated_by: Option<String>,
}

/// The risk flags, with the limit counters that keep a burst from raising one alarm many times.
pub trait RiskRecords: SignInLimitRecords {
    fn risk_of(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<RiskyAccount>, StorageError>> + Send;
    #[allow(clippy::too_many_arguments)]
    fn save_risk(
        &self,
        account_id: &str,
        level: Level,
        signals: &str,
        state: &str,
        first_at: UnixTime,
        last_at: UnixTime,
        updated_by: Option<&str>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Flagged accounts, most recent first; `org_code` narrows to one organisation.
    fn risky_accounts(
        &self,
        org_code: Option<&str>,
        state: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RiskyAccount>, StorageError>> + Send;
    /// Active local administrators of an organisation.
    fn local_administrators(
        &self,
        org_code: &str,
    ) -> impl Future<Output = Result<Vec<Account>, StorageError>> + Send;
    fn national_administrators(
        &self,
    ) -> impl Future<Output = Result<Vec<Account>, StorageError>> + Send;
}

/// Everything the monitoring needs about the request being handled.
pub struct Monitor<'a> {
    pub settings: &'a RiskSettings,
    pub notifier: &'a dyn Notifier,
    pub requester: &'a Requester,
    pub now: UnixTime,
}

impl Monitor<'_> {
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            at: self.now,
            network: "",
            device: self.requester.device.as_deref(),
            location: self.requester.location.as_ref(),
        }
    }

    fn entry<'b>(
        &'b self,
        account: Option<&'b Account>,
        email: &'b str,
        step: Step,
        outcome: &'b str,
        assessment: &'b Assessment,
    ) -> SignInEntry<'b> {
        SignInEntry {
            at: self.now,
            account_id: account.map(|a| a.id.as_str()),
            email,
            org_code: account.map(|a| a.org_code.as_str()),
            requester: self.requester,
            step,
            method: None,
            outcome,
            reason: None,
            assessment,
        }
    }

    fn audit(&self, event: &'static str, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(event, outcome, self.requester, self.now)
    }
}

/// What "a network" is for the "new network" signal: the IPv4 /24 or the IPv6 /48.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(&v4.to_string()),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
        Err(_) => ip.to_string(),
    }
}

/// Puts the account on the list of risky accounts (or raises its level there). True when it
/// was not at risk before or its level rose: the moment to tell people.
async fn raise<R: RiskRecords + AuditTrail + crate::exceptions::ExceptionRecords + Sync>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
) -> Result<bool, StorageError> {
    let existing = records.risk_of(&account.id).await?;
    // Confirmed compromised and not yet reset: it stays so (administrators already act on
    // it); new signals are added to it without another alert.
    if let Some(r) = existing.as_ref().filter(|r| {
        r.state == "compromised" && account.password_action == PasswordAction::ResetRequired
    }) {
        let mut signals = r.signals.clone();
        for s in &assessment.signals {
            if !signals.contains(s) {
                signals.push(*s);
            }
        }
        records
            .save_risk(
                &account.id,
                r.level.max(assessment.level),
                &risk::names(&signals),
                "compromised",
                r.first_at,
                m.now,
                r.updated_by.as_deref(),
            )
            .await?;
        return Ok(false);
    }
    let existing = existing.filter(|r| r.state == "at_risk");
    let (level, signals, first_at, news) = match existing {
        None => (assessment.level, assessment.signals.clone(), m.now, true),
        Some(r) => {
            let mut signals = r.signals.clone();
            for s in &assessment.signals {
                if !signals.contains(s) {
                    signals.push(*s);
                }
            }
            let level = r.level.max(assessment.level);
            (level, signals, r.first_at, level > r.level)
        }
    };
    records
        .save_risk(
            &account.id,
            level,
            &risk::names(&signals),
            "at_risk",
            first_at,
            m.now,
            None,
        )
        .await?;
    // High risk ends a rollout exception: the password alone is no longer enough.
    if level == Level::High {
        crate::exceptions::end_for_high_risk(records, account, m.requester, m.now).await?;
    }
    // Several requests of one burst can each find the flag news; one of them tells.
    let news = news
        && first_in_window(
            records,
            &format!("alert:risk:{}:{}", account.id, level.as_str()),
            m.now,
            ALERT_WINDOW,
        )
        .await?;
    if news {
        records
            .append_audit(
                &m.audit("risk.raised", Outcome::Success)
                    .account(&account.id)
                    .reason(&format!("{}: {}", level.as_str(), risk::names(&signals))),
            )
            .await?;
    }
    Ok(news)
}

/// How long a raised alarm keeps a burst of the same news from raising it again.
const ALERT_WINDOW: i64 = 15 * 60;

/// True for the first caller with `key` in `window` seconds, on any node: checked and recorded
/// in one step, so that of a burst of requests that all have news to tell, one tells it.
pub async fn first_in_window<R>(
    records: &R,
    key: &str,
    now: UnixTime,
    window: i64,
) -> Result<bool, StorageError>
where
    R: SignInLimitRecords + Sync,
{
    records
        .reserve(&[key], move |states| match states {
            [gate] if gate.blocked_until <= now => {
                gate.blocked_until = now + window;
                gate.window_start = now;
                gate.failures += 1;
                true
            }
            _ => false,
        })
        .await
}

/// Emails the account's local administrators (national ones where the organisation has none),
/// never the person themselves.
async fn alert_administrators<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    what: &str,
) -> Result<(), StorageError>
where
    R: RiskRecords + AuditTrail + Sync,
{
    let mut admins = records.local_administrators(&account.org_code).await?;
    admins.retain(|a| a.id != account.id);
    if admins.is_empty() {
        admins = records.national_administrators().await?;
        admins.retain(|a| a.id != account.id);
    }
    for admin in &admins {
        notices::email_person(
            records,
            m.notifier,
            m.requester,
            m.now,
            admin,
            notices::admin_risk_alert(admin, account, what, m.now),
        )
        .await?;
    }
    records
        .append_audit(
            &m.audit("risk.admins_alerted", Outcome::Success)
                .account(&account.id)
                .reason(&format!("{} administrators: {what}", admins.len())),
        )
        .await
}

/// Flags the account; when that is news, emails the person `notice` and alerts the
/// administrators with `what`.
async fn raise_and_tell<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
    notice: Notice<'_>,
    what: &str,
) -> Result<(), StorageError>
where
    R: RiskRecords + AuditTrail + crate::exceptions::ExceptionRecords + Sync,
{
    if raise(records, m, account, assessment).await? {
        tell(records, m, account, notice).await?;
        alert_administrators(records, m, account, what).await?;
    }
    Ok(())
}

async fn tell<R: AuditTrail + Sync>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    notice: Notice<'_>,
) -> Result<(), StorageError> {
    notices::email_person(records, m.notifier, m.requester, m.now, account, notice).await
}

/// Everything the monitoring writes to and reads from: the sign-in log, the risk flags and
/// limits, the accounts, and what "This wasn't me" ends (sessions, remembered devices, apps'
/// grants). One name for the functions that record a sign-in step on the way (the second
/// factor, for one); the store has them all.
pub trait Monitored:
    SignInLog
    + RiskRecords
    + crate::exceptions::ExceptionRecords
    + AccountRecords
    + SignInLimitRecords
    + AuditTrail
    + SessionRecords
    + DeviceRecords
    + crate::oidc::flows::GrantRecords
    + Sync
{
}

impl<T> Monitored for T where
    T: SignInLog
        + crate::exceptions::ExceptionRecords
        + RiskRecords
        + AccountRecords
        + SignInLimitRecords
        + AuditTrail
        + SessionRecords
        + DeviceRecords
        + crate::oidc::flows::GrantRecords
        + Sync
{
}

mod activity;
mod signals;

pub use activity::*;
pub use signals::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_ipv4_slash_24_and_ipv6_slash_48() {
        assert_eq!(network_of("192.0.2.77"), "192.0.2.0/24");
        assert_eq!(network_of("::ffff:192.0.2.77"), "192.0.2.0/24");
        assert_eq!(network_of("2001:db8:aa:1::5"), "2001:db8:aa::/48");
        assert_eq!(network_of("2001:db8:aa:ffff::5"), "2001:db8:aa::/48");
        assert_eq!(network_of("unknown"), "unknown");
    }
}
