//! Delivery of SMS, voice calls and email. The embedded default writes each message as a JSON
//! line to `<data-dir>/outbox.jsonl` (DESIGN.md §2); real providers plug in behind `Notifier`.

mod notify_uk;
mod outbox;
pub mod smtp;
pub mod twilio;

pub use notify_uk::GovUkNotify;
pub use outbox::Outbox;
pub use smtp::Smtp;
pub use twilio::Twilio;

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

/// One provider per channel, chosen in configuration.
pub struct Providers {
    pub sms: std::sync::Arc<dyn Notifier>,
    pub voice: std::sync::Arc<dyn Notifier>,
    pub email: std::sync::Arc<dyn Notifier>,
}

impl Notifier for Providers {
    fn send<'a>(&'a self, message: &'a Message, at: crate::clock::UnixTime) -> DeliveryFuture<'a> {
        match message.channel {
            Channel::Sms => self.sms.send(message, at),
            Channel::Voice => self.voice.send(message, at),
            Channel::Email => self.email.send(message, at),
        }
    }

    fn send_all<'a>(
        &'a self,
        messages: &'a [Message],
        at: crate::clock::UnixTime,
    ) -> BatchFuture<'a> {
        let provider = |channel| match channel {
            Channel::Sms => &self.sms,
            Channel::Voice => &self.voice,
            Channel::Email => &self.email,
        };
        match messages.first() {
            Some(first) if messages.iter().all(|m| m.channel == first.channel) => {
                provider(first.channel).send_all(messages, at)
            }
            _ => Box::pin(async move {
                let mut outcomes = Vec::with_capacity(messages.len());
                for message in messages {
                    outcomes.push(self.send(message, at).await);
                }
                outcomes
            }),
        }
    }
}

/// The providers the settings choose; the outbox in the data folder for any left at default.
pub fn from_settings(settings: &crate::config::Settings) -> Result<Providers, String> {
    use crate::config::{EmailProvider, SmsProvider, VoiceProvider};
    use std::sync::Arc;
    let p = &settings.providers;
    let outbox: Arc<dyn Notifier> = Arc::new(Outbox::in_data_dir(&settings.data_dir));
    let twilio = || -> Result<Arc<dyn Notifier>, String> {
        Ok(Arc::new(Twilio::new(
            &p.twilio_base_url,
            &p.twilio_account_sid,
            &p.twilio_auth_token.0,
            &p.twilio_from,
        )?))
    };
    Ok(Providers {
        sms: match p.sms {
            SmsProvider::Outbox => outbox.clone(),
            SmsProvider::Notify => Arc::new(GovUkNotify::new(
                &p.notify_base_url,
                &p.notify_api_key.0,
                &p.notify_sms_template_id,
            )?),
            SmsProvider::Twilio => twilio()?,
        },
        voice: match p.voice {
            VoiceProvider::Outbox => outbox.clone(),
            VoiceProvider::Twilio => twilio()?,
        },
        email: match p.email {
            EmailProvider::Outbox => outbox,
            EmailProvider::Smtp => Arc::new(Smtp::new(
                &p.smtp_url.0,
                &p.smtp_from,
                std::time::Duration::from_secs(p.smtp_timeout_seconds),
            )?),
        },
    })
}
