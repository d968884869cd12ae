//! What administrators may do, and to whom. A local administrator manages the accounts of
//! their own organisation; a national administrator manages every account. Every refusal is
//! audited as `admin.denied`.

use super::StorageError;
use super::accounts::{Account, Role};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;

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
    #[error("You can only manage accounts in your own organisation")]
    Denied,
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
        if self.scope.covers_org(&target.org_code) {
            return Ok(());
        }
        self.deny(records, Some(target), action).await?;
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

    /// Refuses (and audits) looking at an organisation outside this administrator's scope:
    /// a page about an organisation rather than one account (the enrolment report).
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
        let event = AuditEvent::new("admin.denied", Outcome::Failure, self.requester, self.now)
            .actor(&self.account.id)
            .subject(&subject)
            .reason(action);
        records.append_audit(&event).await?;
        Err(AdminError::Denied)
    }

    async fn deny(
        &self,
        records: &impl AuditTrail,
        target: Option<&Account>,
        action: &str,
    ) -> Result<(), StorageError> {
        let mut event = AuditEvent::new("admin.denied", Outcome::Failure, self.requester, self.now)
            .actor(&self.account.id)
            .reason(action);
        if let Some(target) = target {
            event = event.account(&target.id).subject(&target.org_code);
        }
        records.append_audit(&event).await
    }

    /// An audit event for an action this administrator took on `target`.
    pub fn event(&self, event: &'static str, target: &Account) -> AuditEvent {
        AuditEvent::new(event, Outcome::Success, self.requester, self.now)
            .actor(&self.account.id)
            .account(&target.id)
    }
}
