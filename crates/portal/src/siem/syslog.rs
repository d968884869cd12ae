//! Syslog to a collector: RFC 5424 messages over TCP with octet-counting framing (RFC 6587
//! §3.4.1, `LEN SP MSG`), facility authpriv. While the collector is unreachable, frames wait
//! in a bounded queue (`SYSLOG_BACKLOG`) and the connection is retried after 1 s, doubling to
//! 60 s; they go out in order once it is back.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::{SYSLOG_BACKLOG, SiemEvent};

/// Facility 10, security/authorization messages (private).
const AUTHPRIV: u8 = 10;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_INFO: u8 = 6;
const APP_NAME: &str = "nhsmal";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A collector that stops reading for this long is treated as gone and reconnected to.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames written per write at most.
const BATCH: usize = 512;

#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    pub initial: Duration,
    pub max: Duration,
}

enum Item {
    Frame(Vec<u8>),
    Flush(oneshot::Sender<()>),
}

/// The dispatcher's handle on the collector's task.
pub(super) struct Sender {
    queue: mpsc::Sender<Item>,
}

impl Sender {
    /// Queues a frame; false (dropped) when the backlog is full.
    pub(super) fn push(&self, frame: Vec<u8>) -> bool {
        self.queue.try_send(Item::Frame(frame)).is_ok()
    }

    /// `done` is answered after the frames queued before it are written; dropped unanswered if
    /// the backlog is full (the flush then reports that it did not finish).
    pub(super) fn flush(&self, done: oneshot::Sender<()>) {
        let _ = self.queue.try_send(Item::Flush(done));
    }
}

pub(super) fn start(target: String, retry: Retry) -> Sender {
    let (queue, receiver) = mpsc::channel(SYSLOG_BACKLOG);
    tokio::spawn(deliver(target, receiver, retry));
    Sender { queue }
}

/// `<PRI>1 TIMESTAMP HOSTNAME nhsmal PROCID MSGID - MSG`, octet-counted. MSG is the JSON line
/// without a BOM (RFC 5424 MSG-ANY): collectors hand it to JSON parsers, which a BOM upsets.
pub(super) fn frame(event: &SiemEvent, json: &str, hostname: &str, procid: u32) -> Vec<u8> {
    let severity = if event.failure {
        SEVERITY_WARNING
    } else {
        SEVERITY_INFO
    };
    let pri = AUTHPRIV * 8 + severity;
    let timestamp = super::rfc3339(event.at);
    let msgid = printable(&event.name, 32);
    let message = format!("<{pri}>1 {timestamp} {hostname} {APP_NAME} {procid} {msgid} - {json}");
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// This machine's name as RFC 5424 allows it (printable ASCII, at most 255), or `-`.
pub(super) fn hostname() -> String {
    let name = ::hostname::get()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_default();
    printable(&name, 255)
}

/// Header fields are printable US-ASCII without spaces (33–126); an empty one is `-`.
fn printable(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect();
    if kept.is_empty() { "-".into() } else { kept }
}

/// The collector's task: writes frames in order, in batches, holding each batch until it is
/// written (reconnecting as often as it takes); meanwhile new frames wait in the queue.
async fn deliver(target: String, mut queue: mpsc::Receiver<Item>, retry: Retry) {
    let mut connection: Option<TcpStream> = None;
    let mut items = Vec::with_capacity(BATCH);
    let mut bytes = Vec::new();
    let mut flushes = Vec::new();
    while queue.recv_many(&mut items, BATCH).await > 0 {
        for item in items.drain(..) {
            match item {
                Item::Frame(frame) => bytes.extend_from_slice(&frame),
                Item::Flush(done) => flushes.push(done),
            }
        }
        if !bytes.is_empty() {
            write_until_delivered(&target, &mut connection, &bytes, retry).await;
            bytes.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes `bytes`, connecting first if needed and retrying with back-off until a write succeeds.
/// A batch cut short by a broken connection is written again whole on the next one, so a frame
/// can arrive twice but never half (a collector drops the partial frame with the connection).
async fn write_until_delivered(
    target: &str,
    connection: &mut Option<TcpStream>,
    bytes: &[u8],
    retry: Retry,
) {
    let mut wait = retry.initial;
    let mut failed = false;
    loop {
        if connection.as_ref().is_some_and(closed_by_peer) {
            *connection = None;
        }
        let problem = match connection.as_mut() {
            Some(stream) => {
                match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(bytes)).await {
                    Ok(Ok(())) => {
                        if failed {
                            tracing::info!(target, "SIEM collector reachable again");
                        }
                        return;
                    }
                    Ok(Err(e)) => format!("write failed: {e}"),
                    Err(_) => "write timed out".to_string(),
                }
            }
            None => match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
                Ok(Ok(stream)) => {
                    *connection = Some(stream);
                    continue;
                }
                Ok(Err(e)) => format!("cannot connect: {e}"),
                Err(_) => "connecting timed out".to_string(),
            },
        };
        *connection = None;
        failed = true;
        tracing::warn!(
            target,
            problem,
            retry_in_ms = wait.as_millis() as u64,
            "SIEM collector unavailable; events wait in memory"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(retry.max);
    }
}

/// True when the collector has closed the connection (or reset it). Collectors send nothing,
/// so anything readable is the end of the stream; checking before a write keeps the first
/// batch after a collector restart from vanishing into a half-closed socket.
fn closed_by_peer(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 256];
    // Bounded: a peer that does send data cannot keep us here.
    for _ in 0..16 {
        match stream.try_read(&mut probe) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(failure: bool) -> SiemEvent {
        SiemEvent {
            kind: "audit",
            at: 1_800_000_000,
            name: "sign_in.password".into(),
            failure,
            body: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_frame_is_octet_counted_rfc_5424_with_authpriv_severity() {
        let json = r#"{"type":"audit","name":"Zoë"}"#;
        let bytes = frame(&event(false), json, "node-1", 42);
        let text = String::from_utf8(bytes).expect("UTF-8");
        let (len, message) = text.split_once(' ').expect("LEN SP MSG");
        assert_eq!(len.parse::<usize>().expect("length"), message.len());
        assert_eq!(
            message,
            format!("<86>1 2027-01-15T08:00:00Z node-1 nhsmal 42 sign_in.password - {json}")
        );
        let warning = String::from_utf8(frame(&event(true), "{}", "node-1", 42)).expect("UTF-8");
        assert!(warning.contains(" <84>1 "), "{warning}");
    }

    #[test]
    fn header_fields_are_printable_ascii_of_bounded_length() {
        assert_eq!(printable("sign in.pass\u{e9}word", 32), "signin.password");
        assert_eq!(printable("", 32), "-");
        assert_eq!(printable(&"x".repeat(40), 32).len(), 32);
        let host = hostname();
        assert!(!host.is_empty() && host.chars().all(|c| ('!'..='~').contains(&c)));
    }
}
