//! IMAP (RFC 9051, the part a mail client needs to sign in and read): AUTHENTICATE with
//! XOAUTH2 or OAUTHBEARER, LOGIN refused, then SELECT, FETCH, LIST, NOOP, LOGOUT. The token is
//! checked again before each command once its cached answer is old, so a revoked token stops
//! working within the cache time even on a connection left open.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Gateway;
use crate::sasl;

const SCOPE: &str = "mail.imap";
/// Longest command line accepted (RFC 9051 suggests at least 8,000 octets).
const MAX_LINE: usize = 16 * 1024;

pub async fn serve(gateway: Arc<Gateway>, stream: TcpStream) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(
            b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR LOGINDISABLED] NHSmal mail gateway ready\r\n",
        )
        .await?;
    let mut signed_in: Option<(String, String)> = None;
    let mut selected = false;
    loop {
        let Some(line) = read_line(&mut lines).await? else {
            return Ok(());
        };
        let mut words = line.splitn(3, ' ');
        let tag = words.next().unwrap_or("*").to_string();
        let command = words.next().unwrap_or("").to_ascii_uppercase();
        let rest = words.next().unwrap_or("").to_string();
        if let Some((user, token)) = &signed_in
            && !gateway
                .introspection
                .check(token)
                .await
                .allows(Some(user), SCOPE)
        {
            write
                .write_all(b"* BYE Your access has ended: sign in again\r\n")
                .await?;
            return Ok(());
        }
        let reply = match (command.as_str(), &signed_in) {
            ("CAPABILITY", _) => format!(
                "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR LOGINDISABLED\r\n{tag} OK CAPABILITY completed\r\n"
            ),
            ("NOOP", _) => format!("{tag} OK NOOP completed\r\n"),
            ("LOGOUT", _) => {
                write
                    .write_all(
                        format!("* BYE Signing out\r\n{tag} OK LOGOUT completed\r\n").as_bytes(),
                    )
                    .await?;
                return Ok(());
            }
            ("LOGIN", _) => format!(
                "{tag} NO [PRIVACYREQUIRED] Passwords are not accepted: sign in with OAuth (XOAUTH2 or OAUTHBEARER)\r\n"
            ),
            ("AUTHENTICATE", None) => {
                let mut parts = rest.split(' ');
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                if !matches!(mechanism.as_str(), "XOAUTH2" | "OAUTHBEARER") {
                    format!("{tag} NO [CANNOT] Only XOAUTH2 and OAUTHBEARER are accepted\r\n")
                } else {
                    let response = match parts.next() {
                        Some(initial) => initial.to_string(),
                        None => {
                            write.write_all(b"+ \r\n").await?;
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
                            signed_in = Some((info.username.clone(), b.token));
                            format!("{tag} OK AUTHENTICATE completed\r\n")
                        }
                        _ => {
                            // RFC 7628 §3.2.2: the error as a challenge, the client's dummy
                            // answer, then the failure.
                            write
                                .write_all(
                                    format!("+ {}\r\n", sasl::failure_challenge(SCOPE)).as_bytes(),
                                )
                                .await?;
                            let _ = read_line(&mut lines).await?;
                            format!(
                                "{tag} NO [AUTHENTICATIONFAILED] The token is not valid for mail\r\n"
                            )
                        }
                    }
                }
            }
            ("AUTHENTICATE", Some(_)) => format!("{tag} BAD Already signed in\r\n"),
            (_, None) => format!("{tag} NO Sign in first\r\n"),
            ("LIST", Some(_)) => format!("* LIST () \"/\" INBOX\r\n{tag} OK LIST completed\r\n"),
            ("SELECT" | "EXAMINE", Some((user, _))) => {
                if rest.trim().trim_matches('"').eq_ignore_ascii_case("INBOX") {
                    selected = true;
                    let count = gateway.mailboxes.messages(user).len();
                    format!(
                        "* {count} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n{tag} OK [READ-WRITE] SELECT completed\r\n"
                    )
                } else {
                    format!("{tag} NO No such mailbox\r\n")
                }
            }
            ("FETCH", Some((user, _))) if selected => {
                let messages = gateway.mailboxes.messages(user);
                let number: usize = rest
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                match messages.get(number.wrapping_sub(1)) {
                    Some(message) => {
                        write
                            .write_all(
                                format!("* {number} FETCH (BODY[] {{{}}}\r\n", message.len())
                                    .as_bytes(),
                            )
                            .await?;
                        write.write_all(message).await?;
                        format!(")\r\n{tag} OK FETCH completed\r\n")
                    }
                    None => format!("{tag} BAD No such message\r\n"),
                }
            }
            ("FETCH", Some(_)) => format!("{tag} BAD Select a mailbox first\r\n"),
            _ => format!("{tag} BAD Unknown command\r\n"),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// One line without its CRLF; None at the end of the stream. Too long a line ends the
/// connection rather than filling memory.
pub(crate) async fn read_line<R: AsyncBufReadExt + Unpin>(
    lines: &mut R,
) -> anyhow::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *lines)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    anyhow::ensure!(buf.len() <= MAX_LINE, "line too long");
    Ok(Some(
        String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    ))
}
