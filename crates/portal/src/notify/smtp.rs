//! Email over SMTP (lettre). `smtps://` is TLS from the first byte (implicit TLS, port 465 by
//! default); `smtp://` must upgrade with STARTTLS (port 587 by default), except to a loopback
//! host, where a local relay or a test server is spoken to in plain text (port 25 by default).
//! Credentials come from the URL (`smtp://user:password@host`, percent-encoded).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use domain::clock::UnixTime;
use domain::delivery::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the start.
    ImplicitTls,
    /// `smtp://` to a remote host: STARTTLS, and nothing is sent if the relay cannot do it.
    StartTls,
    /// `smtp://` to a loopback host: no TLS.
    Plain,
}

/// An SMTP URL, checked. Never printed: it may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "(secret)"),
            )
            .finish()
    }
}

impl SmtpEndpoint {
    /// Reads `smtp://[user:password@]host[:port]` or `smtps://…`. The error never repeats the
    /// URL, which may hold a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| format!("not a URL ({e}); write smtp://host:587 or smtps://host:465"))?;
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err(format!(
                "the scheme must be smtp (STARTTLS) or smtps (implicit TLS), not {}",
                url.scheme()
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("the URL has no host".into()),
        };
        if !(url.path().is_empty() || url.path() == "/")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(
                "give only scheme, credentials, host and port, such as smtps://user:password@relay.example:465"
                    .into(),
            );
        }
        let loopback = match url.host() {
            // For a scheme the URL standard does not know, an IPv4 address is a "domain".
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let (security, default_port) = match url.scheme() {
            "smtps" => (Security::ImplicitTls, 465),
            "smtp" if loopback => (Security::Plain, 25),
            _ => (Security::StartTls, 587),
        };
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "the user name or password is not valid percent-encoded UTF-8")
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => return Err("a password needs a user name".into()),
            (user, password) => Some((decode(user)?, decode(password.unwrap_or_default())?)),
        };
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
        })
    }

    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The whole conversation for one message must end within this.
    deadline: Duration,
}

impl Smtp {
    /// `timeout` bounds connecting; a whole message (connect, TLS, authentication, envelope,
    /// data) must be sent within four times it, since lettre bounds only the connection.
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, String> {
        let endpoint = SmtpEndpoint::parse(url)?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("bad sender address: {e}"))?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_string()).map_err(|e| format!("TLS set-up: {e}"))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            .port(endpoint.port)
            .timeout(Some(timeout))
            // One connection per message: notices are few, and a connection abandoned at a
            // deadline must never be handed to the next message.
            .pool_config(PoolConfig::new().max_size(0));
        builder = match endpoint.security {
            Security::ImplicitTls => builder.tls(Tls::Wrapper(tls(&endpoint.host)?)),
            Security::StartTls => builder.tls(Tls::Required(tls(&endpoint.host)?)),
            Security::Plain => builder.tls(Tls::None),
        };
        if let Some((user, password)) = &endpoint.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            deadline: timeout * 4,
        })
    }

    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if message.channel != Channel::Email {
            return Err(DeliveryError::Refused("SMTP carries email only".into()));
        }
        let email = build_email(&self.from, message)?;
        match tokio::time::timeout(self.deadline, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(DeliveryError::Refused(format!("SMTP: {e}"))),
            Ok(Err(e)) => Err(DeliveryError::Unavailable(format!("SMTP: {e}"))),
            Err(_) => Err(DeliveryError::Unavailable(format!(
                "SMTP: no answer within {} seconds",
                self.deadline.as_secs()
            ))),
        }
    }
}

/// The email: plain text alone, or plain text and HTML as multipart/alternative.
pub fn build_email(from: &Mailbox, message: &Message) -> Result<lettre::Message, DeliveryError> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|e| DeliveryError::Refused(format!("bad recipient: {e}")))?;
    let builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone().unwrap_or_default());
    let built = match &message.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            message.body.clone(),
            html.clone(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone()),
    };
    built.map_err(|e| DeliveryError::Refused(e.to_string()))
}

impl Notifier for Smtp {
    fn send<'a>(&'a self, message: &'a Message, _at: UnixTime) -> DeliveryFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_and_host_choose_how_the_connection_is_protected() {
        let e = SmtpEndpoint::parse("smtps://relay.nhsmal.net").expect("valid");
        assert_eq!((e.security, e.port), (Security::ImplicitTls, 465));
        let e = SmtpEndpoint::parse("smtp://relay.nhsmal.net").expect("valid");
        assert_eq!((e.security, e.port), (Security::StartTls, 587));
        let e = SmtpEndpoint::parse("smtp://relay.nhsmal.net:2525").expect("valid");
        assert_eq!((e.security, e.port), (Security::StartTls, 2525));
        for loopback in [
            "smtp://127.0.0.1:2525",
            "smtp://localhost:2525",
            "smtp://[::1]:2525",
        ] {
            let e = SmtpEndpoint::parse(loopback).expect("valid");
            assert_eq!(e.security, Security::Plain, "{loopback}");
        }
        // Implicit TLS stays TLS even to a loopback host.
        let e = SmtpEndpoint::parse("smtps://127.0.0.1:4650").expect("valid");
        assert_eq!(e.security, Security::ImplicitTls);
    }

    #[test]
    fn credentials_come_from_the_url_percent_decoded_and_are_never_printed() {
        let e = SmtpEndpoint::parse("smtps://portal%40nhsmal.net:p%3Ass%2Fw0rd@relay.nhsmal.net")
            .expect("valid");
        assert_eq!(
            e.credentials,
            Some(("portal@nhsmal.net".into(), "p:ss/w0rd".into()))
        );
        let shown = format!("{e:?}");
        assert!(!shown.contains("w0rd"), "{shown}");
        assert!(e.has_credentials());
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for (url, says) in [
            ("http://relay.nhsmal.net", "scheme"),
            ("smtp://", "host"),
            ("smtp://relay.nhsmal.net/path", "only scheme"),
            ("smtp://relay.nhsmal.net?tls=none", "only scheme"),
            ("smtp://:secret99@relay.nhsmal.net", "user name"),
            ("relay.nhsmal.net:25", "scheme"),
        ] {
            let err = SmtpEndpoint::parse(url).expect_err(url);
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("secret99"), "{err}");
        }
    }

    #[test]
    fn an_email_with_html_is_multipart_alternative_with_the_text_first() {
        let from: Mailbox = "NHSmal <no-reply@nhsmal.example>".parse().expect("mailbox");
        let message = Message {
            channel: Channel::Email,
            to: "ann@example.nhs.uk".into(),
            subject: Some("Your NHSmal password has been changed".into()),
            body: "Dear Ann,\n\nIt was changed.".into(),
            code: None,
            keypad_url: None,
            html: Some("<p>It was changed.</p>".into()),
        };
        let text = String::from_utf8(build_email(&from, &message).expect("built").formatted())
            .expect("utf-8");
        assert!(
            text.contains("Content-Type: multipart/alternative"),
            "{text}"
        );
        let plain = text.find("Content-Type: text/plain").expect("plain part");
        let html = text.find("Content-Type: text/html").expect("html part");
        assert!(
            plain < html,
            "the plain part comes first: the last is preferred"
        );
        assert!(text.contains("Subject: Your NHSmal password has been changed"));

        let plain_only = Message {
            html: None,
            ..message
        };
        let text = String::from_utf8(build_email(&from, &plain_only).expect("built").formatted())
            .expect("utf-8");
        assert!(text.contains("Content-Type: text/plain"), "{text}");
        assert!(!text.contains("multipart"), "{text}");
    }
}
