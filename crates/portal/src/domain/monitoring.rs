//! Sign-in monitoring (issue 6): every attempt at every step goes into the sign-in log with
//! the risk found; what a level or a signal sets off — an email to the person, alerts to
//! administrators, a throttled source, a password that must change — happens here, once.

use std::future::Future;

use super::StorageError;
use super::accounts::{Account, AccountRecords, PasswordAction};
use super::admin::{Admin, AdminError, audit_denial};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::devices::DeviceRecords;
use super::notices::{self, Notice};
use super::risk::{self, Assessment, Attempt, Familiar, Level, PastSignIn, Signal};
use super::sessions::SessionRecords;
use super::signin::{SignInLimitRecords, client_source, ip_limit_key};
use crate::clock::UnixTime;
use crate::config::RiskSettings;
use crate::notify::Notifier;

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
    pub role: super::accounts::Role,
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
async fn raise<R: RiskRecords + AuditTrail + Sync>(
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
    R: RiskRecords + AuditTrail + Sync,
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

/// A wrong password (or an unknown address). Counts towards brute force on the account and a
/// password spray from the source; a spraying source is then refused for every account (429),
/// which spares the people it targets from locks on their own accounts.
pub async fn password_failed<R>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
    account: Option<&Account>,
    reason: &str,
) -> Result<Assessment, StorageError>
where
    R: SignInLog + RiskRecords + SignInLimitRecords + AuditTrail + Sync,
{
    let s = m.settings;
    let source = client_source(&m.requester.ip);
    let mut signals = vec![];
    // Counted by address for known and unknown ones alike, so the work (and the time) is the
    // same whichever it is; only an account can be flagged.
    let (others, failures) = failure_counts(records, m, email).await?;
    let failures = failures + 1;
    let spraying = others + 1 >= s.spray_accounts;
    if spraying {
        signals.push(Signal::PasswordSpray);
    }
    if account.is_some() && failures >= s.brute_force_failures {
        signals.push(Signal::BruteForce);
    }
    let assessment = Assessment::of(signals);
    let mut entry = m.entry(account, email, Step::Password, "failure", &assessment);
    entry.method = Some("password");
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;

    if spraying {
        let key = ip_limit_key(&m.requester.ip);
        let until = m.now + s.spray_block_minutes * 60;
        // Checked and set in one step: of a burst of sprayed passwords, one raises the alarm.
        let raised = records
            .reserve(&[&key], move |states| match states {
                [ip] if ip.blocked_until < until - 60 => {
                    ip.blocked_until = until;
                    true
                }
                _ => false,
            })
            .await?;
        if raised {
            records
                .append_audit(
                    &m.audit("client.spray_detected", Outcome::Success)
                        .subject(&source)
                        .reason(&format!(
                            "wrong passwords for {} accounts in {} minutes; refused until {}",
                            others + 1,
                            s.spray_minutes,
                            crate::clock::rfc3339(until)
                        )),
                )
                .await?;
            for admin in records.national_administrators().await? {
                notices::email_person(
                    records,
                    m.notifier,
                    m.requester,
                    m.now,
                    &admin,
                    notices::spray_alert(&admin, &source, others + 1, m.now),
                )
                .await?;
            }
        }
    }
    if let Some(account) = account
        && assessment.signals.contains(&Signal::BruteForce)
        && raise(records, m, account, &assessment).await?
    {
        alert_administrators(records, m, account, "many wrong passwords").await?;
    }
    Ok(assessment)
}

/// A password step refused before the password was checked (`throttled`), or after
/// (`disabled`, `reset_required`).
pub async fn password_refused<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
    account: Option<&Account>,
    reason: &str,
) -> Result<(), StorageError> {
    let none = Assessment::default();
    let mut entry = m.entry(account, email, Step::Password, "blocked", &none);
    entry.method = Some("password");
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    Ok(())
}

/// The password was right: the signals of this sign-in against the account's history. When
/// they say the password is known to someone else, it must be changed after the next second
/// factor, and people are told.
pub async fn password_passed<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<Assessment, StorageError>
where
    R: SignInLog + RiskRecords + AccountRecords + AuditTrail + Sync,
{
    let assessment = assess_password(records, m, account).await?;
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::Password,
        "passed",
        &assessment,
    );
    entry.method = Some("password");
    records.record_sign_in(&entry).await?;
    if assessment.signals.contains(&Signal::PasswordKnown) {
        password_probably_known(records, m, account, &assessment).await?;
    }
    Ok(assessment)
}

/// What the sign-in rules read: the summary of what the account signed in from within the
/// look-back, and its rows of the last day (at least; longer when the brute-force window is),
/// both bounded — a few small rows however busy the account.
async fn familiar_and_recent<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<(Familiar, Vec<PastSignIn>), StorageError> {
    let since = m.now - m.settings.look_back_days * DAY;
    let recent_since = m.now - DAY.max(m.settings.brute_force_minutes * 60);
    // Independent reads, made at once (two connections): the sign-in waits for the slower
    // one instead of both in turn.
    futures_util::try_join!(
        records.familiar(&account.id, since, FAMILIAR_ROWS),
        records.account_history(&account.id, recent_since, LAST_DAY_ROWS),
    )
}

/// The risk of a correct password: what the account signed in from and its recent rows
/// (bounded in time and rows) read and the rules run over them. What the risk assessment adds to a sign-in, apart from the log row
/// (timed on its own by `nhsmal dev time-risk`).
pub async fn assess_password<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<Assessment, StorageError> {
    let (familiar, recent) = familiar_and_recent(records, m, account).await?;
    let network = network_of(&m.requester.ip);
    let attempt = Attempt {
        network: &network,
        ..m.attempt()
    };
    Ok(risk::assess_sign_in(
        &attempt, &familiar, &recent, m.settings,
    ))
}

/// The two counts a wrong password costs: other addresses failing from this source (password
/// spray) and wrong passwords for this address (brute force), as `password_failed` reads them.
pub async fn failure_counts<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
) -> Result<(i64, i64), StorageError> {
    let s = m.settings;
    let source = client_source(&m.requester.ip);
    futures_util::try_join!(
        records.failed_emails_from(&source, m.now - s.spray_minutes * 60, email),
        records.password_failures_of(email, m.now - s.brute_force_minutes * 60),
    )
}

async fn password_probably_known<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
) -> Result<(), StorageError>
where
    R: RiskRecords + AccountRecords + AuditTrail + Sync,
{
    if account.password_action == PasswordAction::None {
        records
            .set_password_action(&account.id, PasswordAction::ChangeAfterSecondFactor)
            .await?;
    }
    raise_and_tell(
        records,
        m,
        account,
        assessment,
        notices::password_may_be_known(account, m.now),
        "their password was used, but the second step failed or was not finished",
    )
    .await?;
    Ok(())
}

/// The person is signed in (every step passed, or a remembered device stood in for the
/// second): logged with the sign-in's risk; medium and above email the person, high also
/// flags the account for administrators.
pub async fn signed_in<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    step: Step,
    method: &str,
    assessment: &Assessment,
) -> Result<(), StorageError>
where
    R: SignInLog + RiskRecords + AuditTrail + Sync,
{
    let mut entry = m.entry(Some(account), &account.email, step, "success", assessment);
    entry.method = Some(method);
    records.record_sign_in(&entry).await?;
    if assessment.level >= Level::Medium {
        let device = notices::describe_device(&m.requester.user_agent);
        let place = m.requester.location.as_ref().map(|l| l.place.clone());
        let why: Vec<&str> = assessment.signals.iter().map(|s| s.describe()).collect();
        tell(
            records,
            m,
            account,
            notices::new_sign_in(
                account,
                m.now,
                &device,
                &m.requester.ip,
                place.as_deref(),
                &why,
            ),
        )
        .await?;
    }
    if assessment.level == Level::High && raise(records, m, account, assessment).await? {
        alert_administrators(records, m, account, "a high-risk sign-in").await?;
    }
    Ok(())
}

/// Whether the person holds a method that can finish a high-risk sign-in: an authenticator
/// app or a security key the policy allows them (a text or a call can be intercepted or
/// redirected; that is what high risk guards against).
pub fn has_strong_method(
    policy: &super::policy::MfaPolicy,
    role: super::accounts::Role,
    methods: &[super::mfa::Method],
) -> bool {
    methods
        .iter()
        .any(|m| is_strong(m.kind) && policy.counts_as_mfa(role, m.kind))
}

pub fn is_strong(kind: super::mfa::MethodKind) -> bool {
    matches!(
        kind,
        super::mfa::MethodKind::Totp | super::mfa::MethodKind::Fido2
    )
}

/// A sign-in stopped because of its risk (high, and the policy refuses it or the person has no
/// strong method).
pub async fn sign_in_blocked<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
    reason: &str,
) -> Result<(), StorageError>
where
    R: SignInLog + RiskRecords + AuditTrail + Sync,
{
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::Password,
        "blocked",
        assessment,
    );
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    records
        .append_audit(
            &m.audit("sign_in.blocked_by_risk", Outcome::Failure)
                .account(&account.id)
                .reason(&format!("{reason}: {}", assessment.signal_names())),
        )
        .await?;
    if raise(records, m, account, assessment).await? {
        alert_administrators(records, m, account, "a high-risk sign-in was stopped").await?;
    }
    Ok(())
}

/// A wrong second factor. Several from somewhere the account has not been, after a correct
/// password, say the password is known to someone else.
pub async fn second_factor_failed<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    method: &str,
    reason: &str,
) -> Result<Assessment, StorageError>
where
    R: SignInLog + RiskRecords + AccountRecords + AuditTrail + Sync,
{
    let (familiar, mut past) = familiar_and_recent(records, m, account).await?;
    let network = network_of(&m.requester.ip);
    past.push(PastSignIn {
        at: m.now,
        step: "second_factor".into(),
        outcome: "failure".into(),
        device: m.requester.device.clone(),
        network: network.clone(),
        country: None,
        latitude: None,
        longitude: None,
    });
    let known =
        risk::second_factor_failures_say_password_known(m.now, &familiar, &past, m.settings);
    let assessment = Assessment::of(if known {
        vec![Signal::PasswordKnown]
    } else {
        vec![]
    });
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        "failure",
        &assessment,
    );
    entry.method = Some(method);
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    if known {
        password_probably_known(records, m, account, &assessment).await?;
    }
    Ok(assessment)
}

/// Whether another call may be placed: not after several went unanswered (MFA fatigue).
pub async fn calls_allowed<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<bool, StorageError> {
    let past = records
        .account_history(
            &account.id,
            m.now - m.settings.phone_minutes * 60,
            HISTORY_ROWS,
        )
        .await?;
    Ok(!risk::phone_signals(m.now, &past, m.settings).contains(&Signal::MfaFatigue))
}

/// A text or call sent for a second step (`call_placed`, `text_sent`) or a call approved
/// (`call_answered`). Unanswered calls one after another are MFA fatigue, many sends telephony
/// abuse: the person and their administrators are told, once.
pub async fn phone_contact<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    method: &str,
    outcome: &str,
) -> Result<Assessment, StorageError>
where
    R: SignInLog + RiskRecords + AuditTrail + Sync,
{
    let mut past = records
        .account_history(
            &account.id,
            m.now - m.settings.phone_minutes * 60,
            HISTORY_ROWS,
        )
        .await?;
    past.push(PastSignIn {
        at: m.now,
        step: "second_factor".into(),
        outcome: outcome.into(),
        device: None,
        network: String::new(),
        country: None,
        latitude: None,
        longitude: None,
    });
    let assessment = Assessment::of(if outcome == "call_answered" {
        vec![]
    } else {
        risk::phone_signals(m.now, &past, m.settings)
    });
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        outcome,
        &assessment,
    );
    entry.method = Some(method);
    records.record_sign_in(&entry).await?;
    if !assessment.signals.is_empty() {
        raise_and_tell(
            records,
            m,
            account,
            &assessment,
            notices::many_calls_or_texts(account, m.now),
            "many calls or texts that were not answered",
        )
        .await?;
    }
    Ok(assessment)
}

/// 0# on a call: the person says the sign-in is not theirs.
pub async fn reported_on_call<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<(), StorageError>
where
    R: SignInLog + RiskRecords + AuditTrail + Sync,
{
    let assessment = Assessment::of(vec![Signal::ReportedByPerson]);
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        "reported",
        &assessment,
    );
    entry.method = Some("voice");
    entry.reason = Some("0# pressed on the call");
    records.record_sign_in(&entry).await?;
    if raise(records, m, account, &assessment).await? {
        alert_administrators(
            records,
            m,
            account,
            "they reported a sign-in as not theirs (0#)",
        )
        .await?;
    }
    Ok(())
}

/// A step of a password reset, for the log (`passed` at the email step, `success` when the new
/// password is saved, `failure` otherwise).
pub async fn reset_step<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    outcome: &str,
    reason: Option<&str>,
) -> Result<(), StorageError> {
    let step = PlainStep {
        step: Step::Reset,
        method: None,
        outcome,
        reason,
    };
    record_plain(records, requester, now, email, account, step).await
}

/// A sign-in to an app through the portal (an authorization code issued): logged so that the
/// person sees which apps their account was used with.
pub async fn single_sign_on<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    app_name: &str,
) -> Result<(), StorageError> {
    let none = Assessment::default();
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SingleSignOn,
        "success",
        &none,
    );
    entry.method = Some("code");
    entry.reason = Some(app_name);
    records.record_sign_in(&entry).await?;
    Ok(())
}

/// A sign-in with a temporary access pass (an administrator's, to set up a new method): logged
/// as a password step with the method `pass`, `success` or `failure`.
pub async fn pass_step<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    outcome: &str,
) -> Result<(), StorageError> {
    let reason = (outcome == "failure").then_some("wrong_pass_or_email");
    let step = PlainStep {
        step: Step::Password,
        method: Some("pass"),
        outcome,
        reason,
    };
    record_plain(records, requester, now, email, account, step).await
}

/// A row without risk signals (reset and pass steps), from the request and time alone.
struct PlainStep<'a> {
    step: Step,
    method: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
}

async fn record_plain<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    what: PlainStep<'_>,
) -> Result<(), StorageError> {
    let entry = SignInEntry {
        at: now,
        account_id: account.map(|a| a.id.as_str()),
        email,
        org_code: account.map(|a| a.org_code.as_str()),
        requester,
        step: what.step,
        method: what.method,
        outcome: what.outcome,
        reason: what.reason,
        assessment: &Assessment::default(),
    };
    records.record_sign_in(&entry).await?;
    Ok(())
}

/// How far back "Recent activity" goes, and how many rows it shows at most.
pub const RECENT_DAYS: i64 = 30;
const RECENT_ROWS: i64 = 200;

/// A row of "Recent activity", as the person reads it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: i64,
    pub at: UnixTime,
    /// "Signed in", "Wrong password"…
    pub what: &'static str,
    pub failed: bool,
    pub device: String,
    pub ip: String,
    pub place: Option<String>,
    pub level: Level,
    /// Why it was flagged, in words.
    pub why: Vec<&'static str>,
    pub reported: bool,
    /// Whether "This wasn't me" is offered: the password was right here.
    pub can_report: bool,
}

/// The person's sign-ins of the last 30 days, newest first. Texts and calls sent are left
/// out, and so is a correct password whose second step was then finished from the same device
/// (that sign-in is shown once, as "Signed in").
pub async fn recent_activity<R: SignInLog>(
    records: &R,
    account: &Account,
    now: UnixTime,
) -> Result<Vec<Activity>, StorageError> {
    let rows = records
        .sign_ins_of_account(&account.id, now - RECENT_DAYS * DAY, RECENT_ROWS)
        .await?;
    let finished = |r: &SignInRecord| {
        rows.iter().any(|o| {
            o.outcome == "success"
                && o.at >= r.at
                && o.at <= r.at + 15 * 60
                && o.user_agent == r.user_agent
                && o.ip == r.ip
        })
    };
    Ok(rows
        .iter()
        .filter(|r| {
            matches!(
                r.step.as_str(),
                "password" | "second_factor" | "reset" | "single_sign_on"
            )
        })
        .filter(|r| !(r.outcome == "passed" && r.step == "password" && finished(r)))
        .filter_map(|r| {
            let what = match (r.step.as_str(), r.outcome.as_str()) {
                ("reset", "success") => "Password reset",
                ("reset", "passed") => "Password reset started",
                ("reset", _) => "Password reset: wrong code",
                (_, "success") => "Signed in",
                ("password", "passed") => "Password correct, second step not finished",
                ("password", "failure") => "Wrong password",
                ("second_factor", "failure") => "Wrong code or security key",
                (_, "blocked") => "Sign-in stopped",
                (_, "reported") => "Reported on a call as not you",
                _ => return None,
            };
            let signals = risk::parse_names(&r.signals);
            Some(Activity {
                id: r.id,
                at: r.at,
                what,
                failed: matches!(r.outcome.as_str(), "failure" | "blocked" | "reported"),
                device: notices::describe_device(&r.user_agent),
                ip: r.ip.clone(),
                place: r.place.clone(),
                level: Assessment::of(signals.clone()).level,
                why: signals.iter().map(|s| s.describe()).collect(),
                reported: r.reported_at.is_some(),
                can_report: r.reported_at.is_none()
                    && matches!(r.outcome.as_str(), "success" | "passed"),
            })
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum NotMeError {
    #[error("That sign-in is not in your recent activity")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// "This wasn't me" on a row of Recent activity: every session ends (this one too), remembered
/// devices are forgotten, the password stops working until it is reset, the account is flagged
/// and its administrators alerted.
pub async fn report_not_me<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    event_id: i64,
) -> Result<(), NotMeError>
where
    R: SignInLog
        + RiskRecords
        + AccountRecords
        + SessionRecords
        + DeviceRecords
        + super::oidc::flows::GrantRecords
        + AuditTrail
        + Sync,
{
    if !records.mark_reported(event_id, &account.id, m.now).await? {
        return Err(NotMeError::NotFound);
    }
    records
        .delete_sessions_of_account(&account.id, None)
        .await?;
    records.forget_devices(&account.id, None).await?;
    records.revoke_grants_of_account(&account.id, m.now).await?;
    records
        .set_password_action(&account.id, PasswordAction::ResetRequired)
        .await?;
    let assessment = Assessment::of(vec![Signal::ReportedByPerson]);
    raise(records, m, account, &assessment).await?;
    records
        .append_audit(
            &m.audit("account.reported_not_me", Outcome::Success)
                .account(&account.id)
                .reason(&format!("sign-in log row {event_id}")),
        )
        .await?;
    tell(records, m, account, notices::not_me_reported(account)).await?;
    alert_administrators(records, m, account, "they reported a sign-in as not theirs").await?;
    Ok(())
}

/// Deletes the sign-in log's rows older than the retention period, in batches so that no
/// transaction grows large. Returns how many went.
pub async fn prune<R: SignInLog>(
    records: &R,
    settings: &RiskSettings,
    now: UnixTime,
) -> Result<u64, StorageError> {
    let before = now - settings.retention_days * DAY;
    // What the account signed in from is forgotten after the look-back, as the rules do.
    records
        .prune_familiar(now - settings.look_back_days * DAY)
        .await?;
    let mut total = 0;
    loop {
        let gone = records.prune_sign_ins(before, 5_000).await?;
        total += gone;
        if gone < 5_000 {
            return Ok(total);
        }
    }
}

/// The outcomes a sign-in log row can have, with the words the admin pages use for them.
pub const OUTCOMES: [(&str, &str); 8] = [
    ("success", "Signed in"),
    ("passed", "Step passed"),
    ("failure", "Failed"),
    ("blocked", "Blocked"),
    ("reported", "Reported as not them"),
    ("text_sent", "Text sent"),
    ("call_placed", "Call placed"),
    ("call_answered", "Call answered"),
];

/// Words for a stored outcome; `None` for one this version does not know.
pub fn outcome_label(outcome: &str) -> Option<&'static str> {
    OUTCOMES
        .iter()
        .find(|(value, _)| *value == outcome)
        .map(|(_, label)| *label)
}

/// The states of a flagged account, with their words.
pub const RISK_STATES: [(&str, &str); 3] = [
    ("at_risk", "At risk"),
    ("dismissed", "Dismissed"),
    ("compromised", "Confirmed compromised"),
];

pub fn risk_state_label(state: &str) -> Option<&'static str> {
    RISK_STATES
        .iter()
        .find(|(value, _)| *value == state)
        .map(|(_, label)| *label)
}

#[derive(Debug, thiserror::Error)]
pub enum RiskReviewError {
    #[error("That account is not on the list of risky accounts")]
    NotFlagged,
    #[error(
        "That account was confirmed compromised: it stays so until the person resets their password"
    )]
    AlreadyCompromised,
    #[error("You cannot review the risk on your own account. Ask another administrator.")]
    OwnAccount,
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The flag on `target`, after checking that this administrator may act on them (a refusal is
/// audited as `admin.denied`, like every other admin action) and not on themselves: a flagged
/// administrator clearing their own flag is what an intruder in their account would do.
async fn flag_to_review<R>(
    records: &R,
    admin: &Admin<'_>,
    target: &Account,
    action: &str,
) -> Result<RiskyAccount, RiskReviewError>
where
    R: RiskRecords + AuditTrail + Sync,
{
    admin.authorize(records, target, action).await?;
    if target.id == admin.account.id {
        let event = AuditEvent::new("admin.denied", Outcome::Failure, admin.requester, admin.now)
            .actor(&admin.account.id)
            .account(&target.id)
            .reason(action);
        audit_denial(records, &event).await?;
        return Err(RiskReviewError::OwnAccount);
    }
    records
        .risk_of(&target.id)
        .await?
        .ok_or(RiskReviewError::NotFlagged)
}

async fn save_state<R: RiskRecords>(
    records: &R,
    admin: &Admin<'_>,
    flag: &RiskyAccount,
    state: &str,
) -> Result<(), StorageError> {
    records
        .save_risk(
            &flag.account_id,
            flag.level,
            &risk::names(&flag.signals),
            state,
            flag.first_at,
            flag.last_at,
            Some(&admin.account.id),
        )
        .await
}

/// "Dismiss": the administrator judged the flag a false alarm. The account leaves the list of
/// those at risk, and a password change the monitoring asked for after the next second factor
/// is no longer asked for. A password that must be reset stays so: that came from the person
/// ("This wasn't me") or from an earlier confirmation, not from the flag alone.
pub async fn dismiss_risk<R>(
    records: &R,
    admin: &Admin<'_>,
    target: &Account,
) -> Result<(), RiskReviewError>
where
    R: RiskRecords + AccountRecords + AuditTrail + Sync,
{
    let flag = flag_to_review(records, admin, target, "risk.dismiss").await?;
    match flag.state.as_str() {
        "compromised" => return Err(RiskReviewError::AlreadyCompromised),
        "dismissed" => return Ok(()),
        _ => {}
    }
    save_state(records, admin, &flag, "dismissed").await?;
    if target.password_action == PasswordAction::ChangeAfterSecondFactor {
        records
            .set_password_action(&target.id, PasswordAction::None)
            .await?;
    }
    records
        .append_audit(&admin.event("risk.dismissed", target).reason(&format!(
            "{}: {}",
            flag.level.as_str(),
            risk::names(&flag.signals)
        )))
        .await?;
    Ok(())
}

/// "Confirm compromised": what "This wasn't me" does, on an administrator's word. Every
/// session ends, remembered devices are forgotten, the password no longer signs in until the
/// person resets it (with their own methods), and they are emailed.
pub async fn confirm_compromised<R>(
    records: &R,
    admin: &Admin<'_>,
    notifier: &dyn Notifier,
    target: &Account,
) -> Result<(), RiskReviewError>
where
    R: RiskRecords
        + AccountRecords
        + SessionRecords
        + DeviceRecords
        + super::oidc::flows::GrantRecords
        + AuditTrail
        + Sync,
{
    let flag = flag_to_review(records, admin, target, "risk.confirm_compromised").await?;
    save_state(records, admin, &flag, "compromised").await?;
    let sessions = records.delete_sessions_of_account(&target.id, None).await?;
    let devices = records.forget_devices(&target.id, None).await?;
    records
        .revoke_grants_of_account(&target.id, admin.now)
        .await?;
    records
        .set_password_action(&target.id, PasswordAction::ResetRequired)
        .await?;
    records
        .append_audit(
            &admin
                .event("risk.confirmed_compromised", target)
                .reason(&format!(
                    "{}: {}; {sessions} sessions ended, {devices} remembered devices forgotten",
                    flag.level.as_str(),
                    risk::names(&flag.signals)
                )),
        )
        .await?;
    notices::email_person(
        records,
        notifier,
        admin.requester,
        admin.now,
        target,
        notices::compromise_confirmed(target),
    )
    .await?;
    Ok(())
}

/// Everything the monitoring writes to and reads from, for functions that record sign-in
/// steps on the way (the second factor, for one).
pub trait Monitored:
    SignInLog + RiskRecords + AccountRecords + SignInLimitRecords + AuditTrail + Sync
{
}

impl<T> Monitored for T where
    T: SignInLog + RiskRecords + AccountRecords + SignInLimitRecords + AuditTrail + Sync
{
}

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
