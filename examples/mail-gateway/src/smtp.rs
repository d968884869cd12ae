//! SMTP submission (RFC 6409, with AUTH from RFC 4954): AUTH XOAUTH2 or OAUTHBEARER only, a
//! sender that is the signed-in person, and delivery to the in-memory mailboxes.

use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Gateway;
use crate::imap::read_line;
use crate::sasl;

const SCOPE: &str = "mail.smtp";
/// Largest message accepted (advertised as SIZE).
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

fn address_of(arg: &str) -> Option<String> {
    let start = arg.find('<')?;
    let end = arg[start..].find('>')? + start;
    let address = arg[start + 1..end].trim();
    (address.contains('@') && address.len() <= 254).then(|| address.to_ascii_lowercase())
}

pub async fn serve(gateway: Arc<Gateway>, stream: TcpStream) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 nhsmal-mail-gateway ESMTP ready\r\n")
        .await?;
    let mut user: Option<(String, String)> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = vec![];
    loop {
        let Some(line) = read_line(&mut lines).await? else {
            return Ok(());
        };
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => format!(
                "250-nhsmal-mail-gateway\r\n250-AUTH XOAUTH2 OAUTHBEARER\r\n250-SIZE {MAX_MESSAGE}\r\n250 8BITMIME\r\n"
            ),
            "HELO" => "250 nhsmal-mail-gateway\r\n".to_string(),
            "NOOP" => "250 2.0.0 OK\r\n".to_string(),
            "RSET" => {
                from = None;
                to.clear();
                "250 2.0.0 OK\r\n".to_string()
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            "AUTH" if user.is_some() => "503 5.5.1 Already signed in\r\n".to_string(),
            "AUTH" => {
                let mut parts = arg.split(' ');
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                if !matches!(mechanism.as_str(), "XOAUTH2" | "OAUTHBEARER") {
                    "504 5.7.4 Passwords are not accepted: sign in with OAuth (XOAUTH2 or OAUTHBEARER)\r\n".to_string()
                } else {
                    let response = match parts.next() {
                        Some(initial) => initial.to_string(),
                        None => {
                            write.write_all(b"334 \r\n").await?;
                            read_line(&mut lines).await?.unwrap_or_default()
                        }
                    };
                    let bearer = sasl::parse(&mechanism, &response);
                    let info = match &bearer {
                        Some(b) => Some(gateway.introspection.check(&b.token).await),
                        None => None,
                    };
                    match (bearer, info) {
                        (Some(b), Some(info)) if info.allows(b.user.as_deref(), SCOPE) => {
                            user = Some((info.username.to_ascii_lowercase(), b.token));
                            "235 2.7.0 Authentication successful\r\n".to_string()
                        }
                        _ => {
                            write
                                .write_all(
                                    format!("334 {}\r\n", sasl::failure_challenge(SCOPE))
                                        .as_bytes(),
                                )
                                .await?;
                            let _ = read_line(&mut lines).await?;
                            "535 5.7.8 The token is not valid for sending mail\r\n".to_string()
                        }
                    }
                }
            }
            "MAIL" | "RCPT" | "DATA" if user.is_none() => {
                "530 5.7.0 Authentication required\r\n".to_string()
            }
            "MAIL" => match (address_of(arg), &user) {
                (Some(address), Some((me, _))) if &address == me => {
                    from = Some(address);
                    to.clear();
                    "250 2.1.0 OK\r\n".to_string()
                }
                (Some(_), _) => "550 5.7.1 You can send only as yourself\r\n".to_string(),
                (None, _) => "501 5.1.7 Bad sender address\r\n".to_string(),
            },
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first\r\n".to_string(),
            "RCPT" => match address_of(arg) {
                Some(address) if to.len() < 100 => {
                    to.push(address);
                    "250 2.1.5 OK\r\n".to_string()
                }
                Some(_) => "452 4.5.3 Too many recipients\r\n".to_string(),
                None => "501 5.1.3 Bad recipient address\r\n".to_string(),
            },
            "DATA" if to.is_empty() => "503 5.5.1 RCPT first\r\n".to_string(),
            "DATA" => {
                // The token may have been revoked since AUTH.
                let live = match &user {
                    Some((me, token)) => gateway
                        .introspection
                        .check(token)
                        .await
                        .allows(Some(me), SCOPE),
                    None => false,
                };
                if !live {
                    write
                        .write_all(b"421 4.7.0 Your access has ended: sign in again\r\n")
                        .await?;
                    return Ok(());
                }
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = Vec::new();
                loop {
                    let Some(line) = read_line(&mut lines).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').unwrap_or(&line);
                    message.extend_from_slice(line.as_bytes());
                    message.extend_from_slice(b"\r\n");
                    anyhow::ensure!(message.len() <= MAX_MESSAGE, "message too large");
                }
                for rcpt in to.drain(..) {
                    gateway.mailboxes.deliver(&rcpt, message.clone());
                }
                from = None;
                "250 2.0.0 Queued\r\n".to_string()
            }
            _ => "500 5.5.2 Unknown command\r\n".to_string(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}
