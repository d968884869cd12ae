//! A reference IMAP and SMTP front for NHSmal mail (issue 22), standing in for the mail
//! servers as `examples/webmail` stands in for the webmail: mail apps sign in with an OAuth
//! token from the portal (SASL XOAUTH2 or OAUTHBEARER), the gateway checks it with the
//! portal's token introspection (RFC 7662), and passwords are refused.
//!
//! `nhsmal-mail-gateway --portal URL --client-id ID --client-secret SECRET` prints the
//! addresses it listens on ("IMAP listening on …", "SMTP listening on …").

mod imap;
mod introspection;
mod mailboxes;
mod sasl;
mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The portal's address (its issuer), such as https://portal.nhsmal.example
    #[arg(long, env = "GATEWAY_PORTAL")]
    portal: String,
    /// The gateway's own client at the portal (a confidential client: introspection needs one)
    #[arg(long, env = "GATEWAY_CLIENT_ID", allow_hyphen_values = true)]
    client_id: String,
    /// The client's secret (base64url, so it may start with "-", which clap would otherwise take
    /// for a flag: hyphen values allowed)
    #[arg(
        long,
        env = "GATEWAY_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    client_secret: String,
    #[arg(long, default_value = "127.0.0.1:1143")]
    imap_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:1587")]
    smtp_listen: SocketAddr,
    /// How long the portal's answer about a token is used again: a revoked token keeps working
    /// on this gateway for at most this long
    #[arg(long, default_value_t = 30)]
    cache_seconds: u64,
}

/// What every connection shares.
pub struct Gateway {
    pub introspection: introspection::Introspection,
    pub mailboxes: mailboxes::Mailboxes,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let introspection = introspection::Introspection::discover(
        &args.portal,
        args.client_id,
        args.client_secret,
        Duration::from_secs(args.cache_seconds),
    )
    .await?;
    let gateway = Arc::new(Gateway {
        introspection,
        mailboxes: mailboxes::Mailboxes::default(),
    });
    let imap_listener = TcpListener::bind(args.imap_listen).await?;
    let smtp_listener = TcpListener::bind(args.smtp_listen).await?;
    println!("IMAP listening on {}", imap_listener.local_addr()?);
    println!("SMTP listening on {}", smtp_listener.local_addr()?);
    let imap = tokio::spawn(accept(gateway.clone(), imap_listener, Protocol::Imap));
    let smtp = tokio::spawn(accept(gateway, smtp_listener, Protocol::Smtp));
    tokio::select! {
        r = imap => r?,
        r = smtp => r?,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Imap,
    Smtp,
}

async fn accept(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    protocol: Protocol,
) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let gateway = gateway.clone();
        tokio::spawn(async move {
            // A connection that says nothing for 30 minutes is closed (RFC 9051 §5.4).
            let served = tokio::time::timeout(Duration::from_secs(30 * 60), async {
                match protocol {
                    Protocol::Imap => imap::serve(gateway, stream).await,
                    Protocol::Smtp => smtp::serve(gateway, stream).await,
                }
            })
            .await;
            if let Ok(Err(e)) = served {
                eprintln!("connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_that_starts_with_a_hyphen_is_taken_as_the_secret() {
        let args = Args::try_parse_from([
            "nhsmal-mail-gateway",
            "--portal",
            "http://127.0.0.1:1",
            "--client-id",
            "c",
            "--client-secret",
            "-Ab_9",
        ])
        .expect("parsed");
        assert_eq!(args.client_secret, "-Ab_9");
    }
}
