//! The rules of NHSmal Portal, free of HTTP, SQL and the command line: this crate's
//! Cargo.toml has no web, database or CLI crate, so the compiler keeps the layers apart
//! (docs/ARCHITECTURE.md). Each area owns its settings types and declares the small records
//! traits it needs; the portal's `store` implements them for SQLite and PostgreSQL alike, and
//! its `notify` implements `delivery::Notifier`. Time comes in as a parameter (`clock`).

pub mod account_changes;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod clock;
pub mod delivery;
pub mod devices;
pub mod email_queue;
pub mod exceptions;
pub mod feedback;
pub mod import;
pub mod invitations;
pub mod limits;
pub mod methods;
pub mod mfa;
pub mod monitoring;
pub mod networks;
pub mod notices;
pub mod oidc;
pub mod organisations;
pub mod password;
pub mod password_change;
pub mod policy;
pub mod recovery;
pub mod report;
pub mod risk;
pub mod risk_review;
pub mod secrets;
pub mod sessions;
pub mod signed_in;
pub mod signin;
pub mod strength;
pub mod temporary_access;

/// What can go wrong when the domain reads or writes its records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached (down, pool exhausted, network): worth a 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule refused the write.
    #[error("already exists")]
    Conflict,
    /// Anything else: a bug or a broken database.
    #[error("database error: {0}")]
    Other(String),
}

/// Random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; nothing is safe then.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

#[cfg(test)]
mod hostile_input;
