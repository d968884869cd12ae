//! The rules of the product, free of HTTP and SQL. Each aggregate declares the small storage
//! trait it needs; `store::Store` implements them for SQLite and PostgreSQL alike.

pub mod account_changes;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod devices;
pub mod email_queue;
pub mod feedback;
pub mod import;
pub mod invitations;
pub mod mfa;
pub mod monitoring;
pub mod notices;
pub mod oidc;
pub mod organisations;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod report;
pub mod risk;
pub mod secrets;
pub mod sessions;
pub mod signin;
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
