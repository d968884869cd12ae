//! Rollout exceptions (issue 24): a person who cannot enrol yet (no work phone, a shared
//! device, long-term leave) signs in with the password alone until an end date, where the MFA
//! rollout would otherwise require a method. Short-term exceptions (up to 14 days) are a local
//! administrator's to grant, long-term ones (up to a year) a national administrator's; never
//! for an administrator's own account, never for an account the monitoring holds at high risk.

use std::future::Future;

use crate::StorageError;
use crate::accounts::{Account, Role};
use crate::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;

const DAY: i64 = 86_400;

/// The longest exception a local administrator grants.
pub const SHORT_TERM_DAYS: i64 = 14;
/// The longest exception a national administrator grants.
pub const LONG_TERM_DAYS: i64 = 365;
/// From this many days before its end, the person is reminded that it ends.
pub const REMINDER_DAYS: i64 = 3;
/// More grants than this to one person is a pattern the national administrator is shown.
pub const RENEWALS_SHOWN_AFTER: i64 = 2;

/// Why a person has an exception: a reason from the list, with free text beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NoWorkDevice,
    SharedDevice,
    Leave,
    Accessibility,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::NoWorkDevice,
        Reason::SharedDevice,
        Reason::Leave,
        Reason::Accessibility,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoWorkDevice => "no-work-device",
            Reason::SharedDevice => "shared-device",
            Reason::Leave => "leave",
            Reason::Accessibility => "accessibility",
            Reason::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Reason::NoWorkDevice => "No work phone or device yet",
            Reason::SharedDevice => "Works only on a shared device",
            Reason::Leave => "Long-term leave",
            Reason::Accessibility => "Cannot use the methods offered (accessibility)",
            Reason::Other => "Other (say why)",
        }
    }
}

/// One exception, live or past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub id: String,
    pub account_id: String,
    pub reason: Reason,
    pub note: String,
    /// The administrator who granted it (None: the command line).
    pub granted_by: Option<String>,
    pub starts_at: UnixTime,
    pub ends_at: UnixTime,
    pub ended_at: Option<UnixTime>,
}

impl Exception {
    pub fn live_at(&self, now: UnixTime) -> bool {
        self.ended_at.is_none() && self.starts_at <= now && now < self.ends_at
    }
}

/// A live exception with the person it is for, as the national administrator's lists show it.
#[derive(Debug, Clone)]
pub struct ListedException {
    pub exception: Exception,
    pub email: String,
    pub org_code: String,
    /// How many exceptions the person has been granted in all.
    pub grants: i64,
}

pub trait ExceptionRecords {
    /// Ends the person's live exceptions and saves `new`, with its audit event, in one
    /// transaction.
    fn grant_exception(
        &self,
        new: &Exception,
        audit: &AuditEvent,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Ends the person's live exceptions at `now`; the audit event is written in the same
    /// transaction when one was live. How many ended.
    fn end_exceptions(
        &self,
        account_id: &str,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Whether the monitoring holds the account at high risk (flagged, not dismissed).
    fn held_at_high_risk(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// The person's exceptions, newest first.
    fn exceptions_of(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Vec<Exception>, StorageError>> + Send;
    /// Live exceptions ending before `before`, soonest first.
    fn exceptions_ending(
        &self,
        now: UnixTime,
        before: UnixTime,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ListedException>, StorageError>> + Send;
    /// People granted more than `grants` exceptions, with their latest, most grants first.
    fn exceptions_renewed(
        &self,
        grants: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ListedException>, StorageError>> + Send;
    /// Live exceptions by organisation.
    fn exceptions_by_organisation(
        &self,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StorageError>> + Send;
}

/// Who grants or ends an exception.
pub struct Grantor<'a> {
    /// None: the command line, which a national administrator runs.
    pub admin: Option<&'a Account>,
}

impl Grantor<'_> {
    /// The longest exception this grantor may grant, in days.
    pub fn longest(&self) -> i64 {
        match self.admin.map(|a| a.role) {
            Some(Role::LocalAdmin) => SHORT_TERM_DAYS,
            _ => LONG_TERM_DAYS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExceptionError {
    #[error("An exception lasts from 1 to {0} days")]
    BadDays(i64),
    #[error("Choose a reason from the list")]
    BadReason,
    #[error("Say why in a few words (up to 500 characters)")]
    BadNote,
    #[error(
        "An administrator's own account cannot have an exception: administrators always use multi-factor authentication"
    )]
    Administrator,
    #[error(
        "This account has been flagged as high risk, so it cannot have an exception. Review it in Risky accounts first"
    )]
    Risky,
    #[error("This person has no exception to end")]
    NoneLive,
    #[error("Only a national administrator can end a long-term exception")]
    NotYours,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a grant asks for.
pub struct Request<'a> {
    pub days: i64,
    pub reason: &'a str,
    pub note: &'a str,
}

/// What can be checked of a grant without the store: the days, the reason and its note, and
/// that the person is not an administrator (a confirmation page shows only what would be
/// granted).
pub fn check(
    grantor: &Grantor<'_>,
    person: &Account,
    request: &Request<'_>,
) -> Result<Reason, ExceptionError> {
    let longest = grantor.longest();
    if !(1..=longest).contains(&request.days) {
        return Err(ExceptionError::BadDays(longest));
    }
    let reason = Reason::parse(request.reason).ok_or(ExceptionError::BadReason)?;
    let note = request.note.trim();
    if note.chars().count() > 500
        || note.chars().any(char::is_control)
        || (reason == Reason::Other && note.is_empty())
    {
        return Err(ExceptionError::BadNote);
    }
    if person.role != Role::User {
        return Err(ExceptionError::Administrator);
    }
    Ok(reason)
}

/// Grants `person` an exception of `days` from now, replacing any live one (a renewal); the
/// grant and the end of the one it replaces are one write with their audit event.
pub async fn grant<R>(
    records: &R,
    grantor: &Grantor<'_>,
    person: &Account,
    request: &Request<'_>,
    requester: &Requester,
    now: UnixTime,
) -> Result<Exception, ExceptionError>
where
    R: ExceptionRecords + Sync,
{
    let reason = check(grantor, person, request)?;
    let note = request.note.trim();
    if records.held_at_high_risk(&person.id).await? {
        return Err(ExceptionError::Risky);
    }
    let exception = Exception {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: person.id.clone(),
        reason,
        note: note.to_string(),
        granted_by: grantor.admin.map(|a| a.id.clone()),
        starts_at: now,
        ends_at: now + request.days * DAY,
        ended_at: None,
    };
    let mut event = AuditEvent::new(
        "rollout.exception_granted",
        Outcome::Success,
        requester,
        now,
    )
    .account(&person.id)
    .subject(&person.email)
    .reason(&format!(
        "{} days until {}: {}{}",
        request.days,
        crate::clock::human_date(exception.ends_at),
        reason.as_str(),
        if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        }
    ));
    if let Some(admin) = grantor.admin {
        event = event.actor(&admin.id);
    }
    records.grant_exception(&exception, &event).await?;
    Ok(exception)
}

/// Ends the person's live exception now: the rollout applies again at once.
pub async fn end<R>(
    records: &R,
    grantor: &Grantor<'_>,
    person: &Account,
    requester: &Requester,
    now: UnixTime,
) -> Result<Exception, ExceptionError>
where
    R: ExceptionRecords + Sync,
{
    let live = records
        .exceptions_of(&person.id)
        .await?
        .into_iter()
        .find(|e| e.live_at(now))
        .ok_or(ExceptionError::NoneLive)?;
    if live.ends_at - live.starts_at > SHORT_TERM_DAYS * DAY && grantor.longest() < LONG_TERM_DAYS {
        return Err(ExceptionError::NotYours);
    }
    let mut event = AuditEvent::new("rollout.exception_ended", Outcome::Success, requester, now)
        .account(&person.id)
        .subject(&person.email);
    if let Some(admin) = grantor.admin {
        event = event.actor(&admin.id);
    }
    records.end_exceptions(&person.id, now, &event).await?;
    Ok(live)
}

/// The person's live exception, if one applies: never to an administrator, nor to an account
/// the monitoring holds at high risk (the monitoring ends those when it raises the flag).
pub async fn live_exception<R>(
    records: &R,
    account: &Account,
    now: UnixTime,
) -> Result<Option<Exception>, StorageError>
where
    R: ExceptionRecords + Sync,
{
    if account.role != Role::User {
        return Ok(None);
    }
    let Some(live) = records
        .exceptions_of(&account.id)
        .await?
        .into_iter()
        .find(|e| e.live_at(now))
    else {
        return Ok(None);
    };
    if records.held_at_high_risk(&account.id).await? {
        return Ok(None);
    }
    Ok(Some(live))
}

/// High risk ends the account's exception (the monitoring calls this when it raises the flag).
pub async fn end_for_high_risk<R>(
    records: &R,
    account: &Account,
    requester: &Requester,
    now: UnixTime,
) -> Result<(), StorageError>
where
    R: ExceptionRecords + Sync,
{
    let event = AuditEvent::new("rollout.exception_ended", Outcome::Success, requester, now)
        .account(&account.id)
        .subject(&account.email)
        .reason("high_risk");
    records.end_exceptions(&account.id, now, &event).await?;
    Ok(())
}

/// Records that an exception let the person in without a method (once a sign-in).
pub async fn used<R: AuditTrail + Sync>(
    records: &R,
    account: &Account,
    exception: &Exception,
    requester: &Requester,
    now: UnixTime,
) -> Result<(), StorageError> {
    records
        .append_audit(
            &AuditEvent::new("rollout.exception_used", Outcome::Success, requester, now)
                .account(&account.id)
                .reason(&format!(
                    "until {}",
                    crate::clock::human_date(exception.ends_at)
                )),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_is_live_from_its_start_until_its_end_or_until_ended() {
        let mut e = Exception {
            id: "e".into(),
            account_id: "a".into(),
            reason: Reason::Leave,
            note: String::new(),
            granted_by: None,
            starts_at: 100,
            ends_at: 200,
            ended_at: None,
        };
        assert!(!e.live_at(99));
        assert!(e.live_at(100));
        assert!(e.live_at(199));
        assert!(!e.live_at(200));
        e.ended_at = Some(150);
        assert!(!e.live_at(160));
    }

    #[test]
    fn reasons_are_read_by_their_names_only() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::parse("holiday"), None);
    }
}
