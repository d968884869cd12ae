//! Delivery of SMS, voice calls and email. The embedded default writes each message as a JSON
//! line to `<data-dir>/outbox.jsonl` (DESIGN.md §2); real providers plug in behind `Notifier`.

mod outbox;

pub use outbox::Outbox;

use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Voice,
    Email,
}

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Message {
    pub channel: Channel,
    /// E.164 for SMS and voice, the address for email.
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    /// The verification code a message carries, if any (6 digits).
    pub code: Option<String>,
    /// For voice: where the keypress is posted (`Digits` = `#` or `0#`).
    pub keypad_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The provider could not be reached or refused for a reason of its own; worth retrying.
    #[error("the message provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused this message (bad number, blocked recipient…).
    #[error("the message provider refused the message: {0}")]
    Refused(String),
}

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A way to deliver messages; chosen in configuration.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message, at: crate::clock::UnixTime) -> DeliveryFuture<'a>;
}
