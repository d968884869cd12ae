//! The audit trail: every security event and admin action, appended and never changed
//! (SECURITY-CHECKLIST LG-1). Never a password, code, secret, session id or token.

use std::future::Future;

use super::StorageError;
use crate::clock::UnixTime;

/// Where a request came from, as the audit trail records it.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub ip: String,
    pub user_agent: String,
    pub correlation_id: String,
    /// Keyed hash of the browser's long-lived device cookie, when it sent one.
    pub device: Option<String>,
    /// Roughly where the client is, when a GeoIP database is configured.
    pub location: Option<super::risk::Location>,
}

impl Requester {
    /// A command run by an operator on the server itself.
    pub fn command_line() -> Self {
        Self {
            ip: "local".into(),
            user_agent: "nhsmal command line".into(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: UnixTime,
    /// What happened, dotted: `sign_in.password`, `account.locked`, `password.changed`…
    pub event: &'static str,
    pub outcome: Outcome,
    /// The account the event is about, when known.
    pub account_id: Option<String>,
    /// Who did it, when not the account itself (an administrator).
    pub actor_id: Option<String>,
    /// What the event was about when there is no account: the email typed, an org code.
    pub subject: Option<String>,
    pub reason: Option<String>,
    pub requester: Requester,
}

impl AuditEvent {
    pub fn new(event: &'static str, outcome: Outcome, requester: &Requester, at: UnixTime) -> Self {
        Self {
            at,
            event,
            outcome,
            account_id: None,
            actor_id: None,
            subject: None,
            reason: None,
            requester: requester.clone(),
        }
    }

    pub fn account(mut self, id: &str) -> Self {
        self.account_id = Some(id.to_string());
        self
    }

    /// The administrator (or other person) who acted on the account.
    pub fn actor(mut self, id: &str) -> Self {
        self.actor_id = Some(id.to_string());
        self
    }

    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_string());
        self
    }

    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }
}

/// A stored audit event as read back.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: i64,
    pub at: UnixTime,
    pub event: String,
    pub outcome: String,
    pub account_id: Option<String>,
    pub actor_id: Option<String>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub reason: Option<String>,
    pub correlation_id: Option<String>,
}

/// An audit record with the emails of the account and the actor, for the admin pages.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub record: AuditRecord,
    pub account_email: Option<String>,
    pub actor_email: Option<String>,
}

/// A filtered, newest-first look at the audit trail. Empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Only events about, or by, accounts of this organisation (a local administrator's view).
    pub org: String,
    /// An email address: the account, the actor, or the email typed at sign-in.
    pub email: String,
    /// Events whose name starts with this (`sign_in`, `mfa.reset`…).
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    pub from: UnixTime,
    pub to: UnixTime,
    /// Only events older than this id (the next page).
    pub before_id: i64,
    pub limit: i64,
}

/// How many events of one kind by one actor are written one by one in a window; those beyond
/// are counted into one roll-up for the window, written as one event when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCap {
    pub per_window: i64,
    /// Seconds.
    pub window: i64,
}

/// Events rolled up in one window, as the roll-up is written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledUp {
    pub event: String,
    pub actor_id: String,
    pub count: i64,
    pub first_at: UnixTime,
    pub last_at: UnixTime,
    /// What they were about (accounts, organisation codes), in order, at most `MAX_TARGETS`.
    pub targets: Vec<String>,
    /// Targets beyond those listed.
    pub more_targets: i64,
}

/// Events whose writing is capped per actor (`AuditTrail::append_capped`).
const CAPPED_EVENTS: &[&str] = &["admin.denied"];

/// The name of a rolled-up event as the trail writes it: its own for a capped event, else
/// `audit.rolled_up` (a roll-up is never dropped for its name).
pub fn static_name(event: &str) -> &'static str {
    CAPPED_EVENTS
        .iter()
        .find(|e| **e == event)
        .copied()
        .unwrap_or("audit.rolled_up")
}

/// Targets a roll-up's event names; the rest are counted.
pub const MAX_TARGETS: usize = 50;

pub trait AuditTrail {
    /// Appends `event` unless its actor (`actor_id`) has had `cap.per_window` events of its kind
    /// in the current window; then it is counted, with its account or subject, into the window's
    /// roll-up. Counted and written in one transaction: of a burst on any node, exactly the
    /// first `per_window` are written one by one and every other is in the roll-up.
    fn append_capped(
        &self,
        event: &AuditEvent,
        cap: AuditCap,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Writes each roll-up whose window ended by `now` as one event (`describe` gives its
    /// reason), claiming it in the same transaction so that no two nodes write it twice.
    /// Returns how many were written.
    fn flush_rollups<F>(
        &self,
        now: UnixTime,
        describe: F,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send
    where
        F: Fn(&RolledUp) -> String + Send + Sync;
    fn append_audit(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn audit_events(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StorageError>> + Send;
    fn audit_events_of_account(
        &self,
        account_id: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StorageError>> + Send;
    fn search_audit(
        &self,
        search: &AuditSearch,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StorageError>> + Send;
}
