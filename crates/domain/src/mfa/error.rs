//! Why a second-factor step or a change to a person's methods did not go through, in the words
//! the pages show.

use crate::StorageError;
use crate::clock::UnixTime;

use super::{MAX_AUTHENTICATOR_APPS, pairing, phone};

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("Enter the 6-digit code")]
    CodeMissing,
    /// `tries_left`: how many more wrong codes the account takes before it is locked, once
    /// that is few enough to warn about (WCAG 3.3.4 asks that people be warned in time).
    #[error("The code is not correct. Check it and try again{}", tries_warning(*tries_left))]
    WrongCode { tries_left: Option<i64> },
    /// A right code from the authenticator app that has been used already: not a guess, so it
    /// does not count toward the lock.
    #[error("This code has been used. Wait for the next code to show in your app, then enter it")]
    CodeUsed,
    #[error("Too many attempts")]
    Locked { until: UnixTime },
    #[error("Give it a name of up to 50 characters")]
    BadName,
    #[error(
        "You already have {MAX_AUTHENTICATOR_APPS} authenticator apps. Remove one before you add another"
    )]
    TooManyApps,
    #[error(
        "You already have {} NHSmal Authenticator devices. Remove one before you add another",
        pairing::MAX_DEVICES
    )]
    TooManyDevices,
    #[error(
        "We have stopped sending notifications to your NHSmal Authenticator for now because several were not answered or were denied. Use another method, or try again later"
    )]
    PushesSuspended { until: UnixTime },
    #[error("That method was not found")]
    NoSuchMethod,
    #[error("The code has expired or has been used. Ask for a new one")]
    CodeExpired,
    #[error("You have asked for too many codes or calls. Try again later")]
    TooManySends { until: UnixTime },
    #[error(
        "We have stopped calling you for now because several calls were not answered. Use another method, or try again later"
    )]
    CallsStopped,
    #[error("We could not reach your phone just now. Try again in a few minutes")]
    ProviderFailed(&'static str),
    #[error(transparent)]
    Phone(#[from] phone::PhoneError),
    #[error("Your security key was not accepted. Try again, or sign in another way")]
    KeyRefused,
    /// The policy does not take this key or passkey (its model, or a synced passkey).
    #[error("{0}")]
    KeyNotAllowed(crate::strength::KeyRefusal),
    #[error(
        "This security key did not save a passkey: it may be full, or not able to keep passkeys. Add it as a security key instead, or use another authenticator"
    )]
    NotDiscoverable,
    #[error(
        "You cannot remove your last method while multi-factor authentication is required. Add another method first, then remove this one"
    )]
    LastMethodRequired,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

/// Warn when this few wrong codes (or fewer) remain before the lock.
pub const WARN_WHEN_TRIES_LEFT: i64 = 3;

/// The end of a wrong-code message: how many tries are left, once that is few.
pub fn tries_warning(tries_left: Option<i64>) -> String {
    match tries_left {
        Some(1) => ". You have 1 more try before you must wait".into(),
        Some(n) => format!(". You have {n} more tries before you must wait"),
        None => String::new(),
    }
}
