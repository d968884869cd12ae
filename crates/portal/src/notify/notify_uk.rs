//! GOV.UK Notify for text messages: POST /v2/notifications/sms with a JWT (HS256, `iss` the
//! service id, `iat` now) signed with the API key's secret, as Notify's API documents.

use serde::Serialize;

use domain::clock::UnixTime;
use domain::delivery::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};

pub struct GovUkNotify {
    client: reqwest::Client,
    base_url: String,
    service_id: String,
    secret: String,
    template_id: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

impl GovUkNotify {
    /// `api_key` as Notify issues it: `{name}-{service id}-{secret}`, both ids 36 characters.
    pub fn new(base_url: &str, api_key: &str, template_id: &str) -> Result<Self, String> {
        let key = api_key.trim();
        if key.len() < 74 {
            return Err("the GOV.UK Notify API key is too short".into());
        }
        let secret = key[key.len() - 36..].to_string();
        let service_id = key[key.len() - 73..key.len() - 37].to_string();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            service_id,
            secret,
            template_id: template_id.to_string(),
        })
    }

    fn token(&self, now: UnixTime) -> Result<String, DeliveryError> {
        let claims = Claims {
            iss: &self.service_id,
            iat: now,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .map_err(|e| DeliveryError::Unavailable(format!("cannot sign the Notify token: {e}")))
    }

    async fn send_sms(&self, message: &Message, now: UnixTime) -> Result<(), DeliveryError> {
        if message.channel != Channel::Sms {
            return Err(DeliveryError::Refused(
                "GOV.UK Notify is configured for text messages only".into(),
            ));
        }
        // The template holds one placeholder, ((message)), so every text goes through it.
        let body = serde_json::json!({
            "phone_number": message.to,
            "template_id": self.template_id,
            "personalisation": { "message": message.body },
        });
        let response = self
            .client
            .post(format!("{}/v2/notifications/sms", self.base_url))
            .bearer_auth(self.token(now)?)
            .json(&body)
            .send()
            .await
            .map_err(|e| DeliveryError::Unavailable(format!("GOV.UK Notify: {e}")))?;
        classify("GOV.UK Notify", response).await
    }
}

/// 2xx is sent; 400 means this message was refused; anything else is the provider's trouble.
pub(super) async fn classify(
    provider: &str,
    response: reqwest::Response,
) -> Result<(), DeliveryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // The error body describes the problem; it never holds the code we sent.
    let detail: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    if status.as_u16() == 400 {
        Err(DeliveryError::Refused(format!(
            "{provider} {status}: {detail}"
        )))
    } else {
        Err(DeliveryError::Unavailable(format!(
            "{provider} {status}: {detail}"
        )))
    }
}

impl Notifier for GovUkNotify {
    fn send<'a>(&'a self, message: &'a Message, at: UnixTime) -> DeliveryFuture<'a> {
        Box::pin(self.send_sms(message, at))
    }
}
