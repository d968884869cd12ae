//! Delivery of SMS, voice calls and email. The embedded default writes each message as a JSON
//! line to `<data-dir>/outbox.jsonl` (DESIGN.md §2); real providers plug in behind `Notifier`.

mod notify_uk;
mod outbox;
mod settings;
pub mod smtp;
pub mod twilio;

pub use notify_uk::GovUkNotify;
pub use outbox::Outbox;
pub use settings::{EmailProvider, ProviderSettings, Secret, SmsProvider, VoiceProvider};
pub use smtp::Smtp;
pub use twilio::Twilio;

use domain::delivery::{BatchFuture, Channel, DeliveryFuture, Message, Notifier};

/// One provider per channel, chosen in configuration.
pub struct Providers {
    pub sms: std::sync::Arc<dyn Notifier>,
    pub voice: std::sync::Arc<dyn Notifier>,
    pub email: std::sync::Arc<dyn Notifier>,
}

impl Notifier for Providers {
    fn send<'a>(&'a self, message: &'a Message, at: domain::clock::UnixTime) -> DeliveryFuture<'a> {
        match message.channel {
            Channel::Sms => self.sms.send(message, at),
            Channel::Voice => self.voice.send(message, at),
            Channel::Email => self.email.send(message, at),
        }
    }

    fn send_all<'a>(
        &'a self,
        messages: &'a [Message],
        at: domain::clock::UnixTime,
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
pub fn from_settings(
    p: &ProviderSettings,
    data_dir: &std::path::Path,
) -> Result<Providers, String> {
    use std::sync::Arc;
    let outbox: Arc<dyn Notifier> = Arc::new(Outbox::in_data_dir(data_dir));
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
