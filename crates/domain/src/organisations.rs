//! Organisations: a pharmacy, a GP practice, a trust; identified by an ODS-style code.

use std::future::Future;

use super::StorageError;
use crate::clock::UnixTime;

/// An ODS-style organisation code such as `FA123`: 3 to 10 letters and digits, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrganisationError {
    #[error("organisation code must be 3 to 10 letters and digits, such as FA123")]
    InvalidCode,
    #[error("organisation name must be 1 to 200 characters")]
    InvalidName,
    #[error("organisation {0} already exists")]
    AlreadyExists(String),
    #[error("no organisation with code {0}")]
    NotFound(String),
    #[error("the contact must be one line of up to 300 characters")]
    InvalidContact,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl OrgCode {
    pub fn parse(text: &str) -> Result<Self, OrganisationError> {
        let code = text.trim().to_ascii_uppercase();
        let valid =
            (3..=10).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric());
        if valid {
            Ok(Self(code))
        } else {
            Err(OrganisationError::InvalidCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    pub created_at: UnixTime,
    /// How the organisation's staff reach their local administrators ("IT service desk,
    /// 0161 496 0000, it@riverside.nhs.uk"): shown wherever a page says to contact them.
    pub admin_contact: Option<String>,
}

/// The longest contact text, in characters.
pub const MAX_CONTACT_CHARS: usize = 300;

pub trait OrganisationRecords {
    /// Adds the organisation; `StorageError::Conflict` when the code exists.
    fn insert_organisation(
        &self,
        org: &Organisation,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn organisation(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<Option<Organisation>, StorageError>> + Send;
    /// Sets (or with `None` clears) the contact and writes `event` in the same transaction;
    /// false (and nothing written) when there is no such organisation.
    fn set_admin_contact(
        &self,
        code: &str,
        contact: Option<&str>,
        event: &crate::audit::AuditEvent,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// Sets how an organisation's staff reach their local administrators (empty clears it),
/// audited as `organisation.contact_changed` by `requester` (and `actor`, an administrator).
pub async fn set_admin_contact(
    records: &impl OrganisationRecords,
    code: &str,
    text: &str,
    requester: &crate::audit::Requester,
    actor: Option<&str>,
    now: UnixTime,
) -> Result<Option<String>, OrganisationError> {
    let code = OrgCode::parse(code)?;
    let contact = valid_contact(text)?;
    let mut event = crate::audit::AuditEvent::new(
        "organisation.contact_changed",
        crate::audit::Outcome::Success,
        requester,
        now,
    )
    .subject(code.as_str());
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    if !records
        .set_admin_contact(code.as_str(), contact.as_deref(), &event)
        .await?
    {
        return Err(OrganisationError::NotFound(code.as_str().to_string()));
    }
    Ok(contact)
}

/// The contact as typed, checked: one line of up to 300 characters; empty clears it.
pub fn valid_contact(text: &str) -> Result<Option<String>, OrganisationError> {
    let text = text.trim();
    if text.chars().count() > MAX_CONTACT_CHARS || text.chars().any(char::is_control) {
        return Err(OrganisationError::InvalidContact);
    }
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// The contact of an organisation's local administrators, if it has one.
pub async fn admin_contact(
    records: &impl OrganisationRecords,
    code: &str,
) -> Result<Option<String>, StorageError> {
    Ok(records
        .organisation(code)
        .await?
        .and_then(|o| o.admin_contact))
}

pub async fn add_organisation(
    records: &impl OrganisationRecords,
    code: &str,
    name: &str,
    now: UnixTime,
) -> Result<Organisation, OrganisationError> {
    let code = OrgCode::parse(code)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(OrganisationError::InvalidName);
    }
    let org = Organisation {
        code: code.as_str().to_string(),
        name: name.to_string(),
        created_at: now,
        admin_contact: None,
    };
    match records.insert_organisation(&org).await {
        Ok(()) => Ok(org),
        Err(StorageError::Conflict) => Err(OrganisationError::AlreadyExists(org.code)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_cased_and_checked() {
        assert_eq!(OrgCode::parse(" fa123 ").map(|c| c.0), Ok("FA123".into()));
        assert_eq!(OrgCode::parse("F1"), Err(OrganisationError::InvalidCode));
        assert_eq!(
            OrgCode::parse("FA-123"),
            Err(OrganisationError::InvalidCode)
        );
        assert_eq!(
            OrgCode::parse("ABCDEFGHIJK"),
            Err(OrganisationError::InvalidCode)
        );
    }
}
