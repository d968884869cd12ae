//! Which provider sends texts, calls and email, and their credentials: the settings `config`
//! reads from flags, the environment and the TOML file, and `from_settings` turns into senders.

use clap::ValueEnum;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    #[default]
    Outbox,
    Notify,
    Twilio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProvider {
    #[default]
    Outbox,
    Twilio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmailProvider {
    #[default]
    Outbox,
    Smtp,
}

/// A setting that is a secret: never printed, not even by Debug.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "(unset)"
        } else {
            "(secret)"
        })
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Providers, validated.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub sms: SmsProvider,
    pub voice: VoiceProvider,
    pub email: EmailProvider,
    pub notify_api_key: Secret,
    pub notify_sms_template_id: String,
    pub notify_base_url: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: Secret,
    pub twilio_from: String,
    pub twilio_base_url: String,
    pub smtp_url: Secret,
    pub smtp_from: String,
    pub smtp_timeout_seconds: u64,
}
