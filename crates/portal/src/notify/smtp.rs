//! Email over SMTP (lettre): STARTTLS on a real relay, plain on a loopback test server.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};
use crate::clock::UnixTime;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// `url` like `smtp://user:pass@host:587` (STARTTLS required) or, for a loopback host only,
    /// `smtp://127.0.0.1:2525` (no TLS).
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad SMTP URL: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or("the SMTP URL has no host")?
            .to_string();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let port = parsed.port().unwrap_or(if loopback { 25 } else { 587 });
        let mut builder = if loopback && parsed.scheme() == "smtp" {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| e.to_string())?
        };
        builder = builder
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if !parsed.username().is_empty() {
            builder = builder.credentials(Credentials::new(
                parsed.username().to_string(),
                parsed.password().unwrap_or_default().to_string(),
            ));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("bad sender address: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if message.channel != Channel::Email {
            return Err(DeliveryError::Refused("SMTP carries email only".into()));
        }
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| DeliveryError::Refused(format!("bad recipient: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone().unwrap_or_default())
            .body(message.body.clone())
            .map_err(|e| DeliveryError::Refused(e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| DeliveryError::Unavailable(format!("SMTP: {e}")))
    }
}

impl Notifier for Smtp {
    fn send<'a>(&'a self, message: &'a Message, _at: UnixTime) -> DeliveryFuture<'a> {
        Box::pin(self.deliver(message))
    }
}
