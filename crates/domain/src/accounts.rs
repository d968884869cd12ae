//! Accounts: who a person is in NHSmal, their organisation, role and state.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use super::StorageError;
use super::organisations::{OrgCode, OrganisationError, OrganisationRecords};
use super::password::{NewPassword, PasswordHashing, PasswordRejected};
use crate::clock::UnixTime;

/// An email address as typed, with its case-folded form that makes it unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Enter an email address in the correct format, like name@example.nhs.uk")]
pub struct InvalidEmail;

impl Email {
    pub fn parse(text: &str) -> Result<Self, InvalidEmail> {
        let display = text.trim();
        if display.len() > 254 || display.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail);
        }
        let parsed = email_address::EmailAddress::from_str(display).map_err(|_| InvalidEmail)?;
        // A dotless domain ("a@b") is technically valid but never a real mailbox here.
        if !parsed.domain().contains('.') || parsed.display_part() != "" {
            return Err(InvalidEmail);
        }
        Ok(Self {
            display: display.to_string(),
            normalized: normalize_email(display),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// The key that makes emails unique and that sign-in limits are counted against. Applied to
/// whatever was typed, valid or not, so unknown and known addresses are treated alike.
pub fn normalize_email(text: &str) -> String {
    text.trim().to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    LocalAdmin,
    NationalAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::LocalAdmin => "local-admin",
            Role::NationalAdmin => "national-admin",
        }
    }

    /// How the role reads on a page.
    pub fn label(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::LocalAdmin => "Local administrator",
            Role::NationalAdmin => "National administrator",
        }
    }
}

impl FromStr for Role {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "local-admin" => Ok(Role::LocalAdmin),
            "national-admin" => Ok(Role::NationalAdmin),
            _ => Err(AccountError::InvalidRole(s.to_string())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored state. "Locked" is not stored here: a lock is a sign-in limit with an end time
/// (see `signin`), so it ends by itself and holds for unknown emails too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Disabled,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Disabled => "disabled",
        }
    }
}

impl FromStr for AccountState {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AccountState::Active),
            "disabled" => Ok(AccountState::Disabled),
            _ => Err(AccountError::Storage(StorageError::Other(format!(
                "unknown account state {s}"
            )))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub org_code: String,
    pub org_name: String,
    pub role: Role,
    pub state: AccountState,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<UnixTime>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// What evidence that the password is known to someone else asks of the person.
    pub password_action: PasswordAction,
}

/// Sign-in monitoring's demand on a password (PW-2: a forced change only on evidence of
/// compromise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordAction {
    #[default]
    None,
    /// Change it right after the next successful second factor.
    ChangeAfterSecondFactor,
    /// It no longer signs in; only a password reset (which needs the MFA methods) does.
    ResetRequired,
}

impl PasswordAction {
    pub fn as_i64(self) -> i64 {
        match self {
            PasswordAction::None => 0,
            PasswordAction::ChangeAfterSecondFactor => 1,
            PasswordAction::ResetRequired => 2,
        }
    }

    pub fn from_i64(value: i64) -> Self {
        match value {
            1 => PasswordAction::ChangeAfterSecondFactor,
            2 => PasswordAction::ResetRequired,
            _ => PasswordAction::None,
        }
    }
}

impl Account {
    /// Words a password must not be built on.
    pub fn personal_words(&self) -> [&str; 2] {
        [&self.display_name, &self.email]
    }
}

/// A new account as written to the store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: String,
    pub email: Email,
    pub display_name: String,
    pub org_code: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub now: UnixTime,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error("name must be 1 to 200 characters")]
    InvalidName,
    #[error("role must be user, local-admin or national-admin (got {0})")]
    InvalidRole(String),
    #[error(transparent)]
    Organisation(#[from] OrganisationError),
    #[error("an account with email {0} already exists")]
    AlreadyExists(String),
    #[error("no account with email {0}")]
    NotFound(String),
    #[error("password refused: {0}")]
    Password(#[from] PasswordRejected),
    #[error("{0}")]
    Hashing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub trait AccountRecords {
    /// Adds the account; `StorageError::Conflict` when the email exists.
    fn insert_account(
        &self,
        account: &NewAccount,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn account_by_email(
        &self,
        normalized_email: &str,
    ) -> impl Future<Output = Result<Option<Account>, StorageError>> + Send;
    fn account_by_id(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Account>, StorageError>> + Send;
    fn all_accounts(&self) -> impl Future<Output = Result<Vec<Account>, StorageError>> + Send;
    fn update_account_state(
        &self,
        id: &str,
        state: AccountState,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn update_password_hash(
        &self,
        id: &str,
        hash: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn set_password_action(
        &self,
        id: &str,
        action: PasswordAction,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Validated input for a new account.
pub struct AccountRequest<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub org: &'a str,
    pub role: &'a str,
}

/// Creates an account, optionally with a password (checked by the same rules as everywhere).
/// Nothing is written unless every part is valid.
pub async fn add_account(
    records: &(impl AccountRecords + OrganisationRecords),
    hashing: &PasswordHashing,
    request: AccountRequest<'_>,
    password: Option<&str>,
    now: UnixTime,
) -> Result<Account, AccountError> {
    let email = Email::parse(request.email)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AccountError::InvalidName);
    }
    let role: Role = request.role.parse()?;
    let code = OrgCode::parse(request.org)?;
    if records.organisation(code.as_str()).await?.is_none() {
        return Err(OrganisationError::NotFound(code.as_str().to_string()).into());
    }
    let password_hash = match password {
        Some(p) => {
            let new = NewPassword::parse(p, p, &[name, email.as_str()])?;
            Some(
                hashing
                    .hash(new.password())
                    .map_err(|e| AccountError::Hashing(e.to_string()))?,
            )
        }
        None => None,
    };
    let account = NewAccount {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        display_name: name.to_string(),
        org_code: code.as_str().to_string(),
        role,
        password_hash,
        now,
    };
    match records.insert_account(&account).await {
        Ok(()) => {}
        Err(StorageError::Conflict) => {
            return Err(AccountError::AlreadyExists(email.as_str().to_string()));
        }
        Err(e) => return Err(e.into()),
    }
    records
        .account_by_id(&account.id)
        .await?
        .ok_or_else(|| StorageError::Other("account vanished after insert".into()).into())
}

pub async fn find_by_email(
    records: &impl AccountRecords,
    email: &str,
) -> Result<Account, AccountError> {
    records
        .account_by_email(&normalize_email(email))
        .await?
        .ok_or_else(|| AccountError::NotFound(email.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_validated_and_compared_without_case() {
        let e = Email::parse("  Ann.Example@Pharmacy.NHS.uk ").expect("valid");
        assert_eq!(e.as_str(), "Ann.Example@Pharmacy.NHS.uk");
        assert_eq!(e.normalized(), "ann.example@pharmacy.nhs.uk");
        for bad in [
            "",
            "ann",
            "ann@",
            "@nhs.uk",
            "ann@nhs",
            "a b@nhs.uk",
            "Ann <ann@nhs.uk>",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(InvalidEmail),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn roles_read_and_write_as_the_commands_spell_them() {
        for role in [Role::User, Role::LocalAdmin, Role::NationalAdmin] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
