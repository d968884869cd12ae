//! What the domain asks of message delivery: a `Notifier` that sends one `Message` by text,
//! call or email. The implementations (outbox, GOV.UK Notify, Twilio, SMTP) live in the
//! portal's `notify` module; the domain never knows which one it talks to.

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
    /// For email only: the HTML alternative of `body`. SMTP sends both; the outbox line keeps
    /// to the contract of DESIGN.md §2 and leaves it out.
    pub html: Option<String>,
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

pub type BatchFuture<'a> =
    Pin<Box<dyn Future<Output = Vec<Result<(), DeliveryError>>> + Send + 'a>>;

/// A way to deliver messages; chosen in configuration.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message, at: crate::clock::UnixTime) -> DeliveryFuture<'a>;

    /// Sends many messages (a bulk import's invitations); one outcome per message, in order.
    /// One at a time unless a provider can do better (the outbox writes them with one sync).
    fn send_all<'a>(
        &'a self,
        messages: &'a [Message],
        at: crate::clock::UnixTime,
    ) -> BatchFuture<'a> {
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in messages {
                outcomes.push(self.send(message, at).await);
            }
            outcomes
        })
    }
}
