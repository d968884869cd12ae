//! SIEM delivery: every audit event (and sign-in log entry) as one JSON line to a file or
//! standard output, and optionally as RFC 5424 syslog over TCP to a collector.
//!
//! Best effort by design: `Siem::send` never waits and never fails the request that caused the
//! event. Events go through a bounded queue to one background task; when the queue is full they
//! are dropped and counted (`nhsmal_siem_dropped_total`). The audit table in the store is the
//! durable record; this is a copy for the security team's tools, and what is still in memory
//! when the process stops is lost.
//!
//! A top-level module rather than part of `notify`: `notify` delivers messages to people
//! through the domain's `Notifier`; this copies events out of the store (the store forwards
//! each audit event after writing it) and nothing in the domain calls it.

mod syslog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use domain::audit::{AuditEvent, Outcome};
use domain::clock::UnixTime;

/// Where audit events go besides the audit table (SIEM). Both sinks are optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemSettings {
    /// One JSON line per event, appended.
    pub file: Option<SiemFile>,
    /// `HOST:PORT` of a syslog collector (RFC 5424 over TCP, octet-counted).
    pub syslog: Option<String>,
    /// The first wait before reconnecting to the collector, doubling up to `retry_max`. Not a
    /// setting: tests shorten it so that a reconnection takes milliseconds.
    pub retry_initial: std::time::Duration,
    pub retry_max: std::time::Duration,
}

impl Default for SiemSettings {
    fn default() -> Self {
        Self {
            file: None,
            syslog: None,
            retry_initial: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(60),
        }
    }
}

impl SiemSettings {
    pub fn is_enabled(&self) -> bool {
        self.file.is_some() || self.syslog.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiemFile {
    Stdout,
    Path(std::path::PathBuf),
}

/// Events waiting for the background task; beyond this they are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Frames waiting for the syslog collector while it is unreachable.
pub const SYSLOG_BACKLOG: usize = 10_000;
/// At most one "events dropped" warning in the log per this period.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// One event for the SIEM. Never a secret: built from audit events and sign-in log entries,
/// which hold none.
#[derive(Debug, Clone, PartialEq)]
pub struct SiemEvent {
    /// "audit" or "sign_in": the `type` field of the line.
    pub kind: &'static str,
    pub at: UnixTime,
    /// Dotted name, such as `sign_in.password`: the `event` field and the syslog MSGID.
    pub name: String,
    /// Failures are syslog severity warning, successes info.
    pub failure: bool,
    /// More fields of the line (an object; anything else goes under `data`).
    pub body: Value,
}

impl SiemEvent {
    /// The audit event as the SIEM sees it: `outcome`, and the account, actor, subject, reason,
    /// client address, user agent and correlation id when set.
    pub fn from_audit(e: &AuditEvent) -> Self {
        let mut body = Map::new();
        body.insert("outcome".into(), e.outcome.as_str().into());
        let optional = [
            ("account_id", e.account_id.as_deref()),
            ("actor_id", e.actor_id.as_deref()),
            ("subject", e.subject.as_deref()),
            ("reason", e.reason.as_deref()),
            ("ip", Some(e.requester.ip.as_str())),
            ("user_agent", Some(e.requester.user_agent.as_str())),
            ("correlation_id", Some(e.requester.correlation_id.as_str())),
        ];
        for (key, value) in optional {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                body.insert(key.into(), value.into());
            }
        }
        Self {
            kind: "audit",
            at: e.at,
            name: e.event.to_string(),
            failure: e.outcome == Outcome::Failure,
            body: Value::Object(body),
        }
    }

    /// A row of the sign-in log: `event` is `sign_in_log.<step>`, with the outcome, risk and the
    /// signals behind it. The device id is a keyed hash and is left out all the same.
    pub fn from_sign_in(e: &domain::monitoring::SignInEntry<'_>) -> Self {
        let mut body = Map::new();
        body.insert("outcome".into(), e.outcome.into());
        body.insert("risk".into(), e.assessment.level.as_str().into());
        body.insert(
            "signals".into(),
            Value::Array(
                e.assessment
                    .signals
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
            ),
        );
        body.insert("email".into(), e.email.into());
        let r = e.requester;
        let optional = [
            ("account_id", e.account_id),
            ("organisation", e.org_code),
            ("method", e.method),
            ("reason", e.reason),
            ("ip", Some(r.ip.as_str())),
            ("user_agent", Some(r.user_agent.as_str())),
            ("correlation_id", Some(r.correlation_id.as_str())),
            ("country", r.location.as_ref().map(|l| l.country.as_str())),
        ];
        for (key, value) in optional {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                body.insert(key.into(), value.into());
            }
        }
        Self {
            kind: "sign_in",
            at: e.at,
            // Not `sign_in.*`: those are audit events; `type` tells them apart too.
            name: format!("sign_in_log.{}", e.step.as_str()),
            failure: matches!(e.outcome, "failure" | "blocked" | "reported"),
            body: Value::Object(body),
        }
    }

    /// The JSON line, without its newline: `type`, `time` (RFC 3339, UTC), `event`, then the
    /// body's fields (which cannot replace the first three).
    pub fn to_json_line(&self) -> String {
        let mut line = Map::new();
        line.insert("type".into(), self.kind.into());
        line.insert("time".into(), rfc3339(self.at).into());
        line.insert("event".into(), self.name.clone().into());
        match &self.body {
            Value::Object(fields) => {
                for (key, value) in fields {
                    if !line.contains_key(key) {
                        line.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Null => {}
            other => {
                line.insert("data".into(), other.clone());
            }
        }
        Value::Object(line).to_string()
    }
}

/// `2027-01-15T08:00:00Z`; an out-of-range time (never from a clock) as the Unix epoch.
fn rfc3339(at: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    #[error("setting `siem_file`: cannot open {path} to append ({problem})")]
    File { path: String, problem: String },
}

enum Message {
    Event(Box<SiemEvent>),
    /// Answered once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
}

/// The sending side: cheap to clone (two `Arc`s), shared by every clone of the store. When the
/// last clone is dropped, the background task writes what is queued and ends.
#[derive(Clone)]
pub struct Siem {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

/// Shared with the background task, which must not hold a sender (the queue would never close).
struct Counters {
    dropped: AtomicU64,
    warned_at: Mutex<Option<tokio::time::Instant>>,
}

impl std::fmt::Debug for Siem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Siem")
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Siem {
    /// Starts delivery as configured, or `None` when no sink is. Opens the file now (so that a
    /// file that cannot be written stops start-up) and spawns the background task(s); needs a
    /// Tokio runtime. The collector is connected to in the background.
    pub fn start(settings: &SiemSettings) -> Result<Option<Self>, SiemError> {
        if !settings.is_enabled() {
            return Ok(None);
        }
        let file = match &settings.file {
            None => None,
            Some(SiemFile::Stdout) => Some(Sink::Stdout(tokio::io::stdout())),
            Some(SiemFile::Path(path)) => Some(Sink::File(open_append(path)?)),
        };
        let syslog = settings.syslog.as_ref().map(|target| {
            syslog::start(
                target.clone(),
                syslog::Retry {
                    initial: settings.retry_initial,
                    max: settings.retry_max,
                },
            )
        });
        let (siem, receiver) = Self::channel(QUEUE_CAPACITY);
        tokio::spawn(dispatch(receiver, file, syslog, siem.counters.clone()));
        Ok(Some(siem))
    }

    fn channel(capacity: usize) -> (Self, mpsc::Receiver<Message>) {
        let (queue, receiver) = mpsc::channel(capacity);
        let siem = Self {
            queue,
            counters: Arc::new(Counters {
                dropped: AtomicU64::new(0),
                warned_at: Mutex::new(None),
            }),
        };
        (siem, receiver)
    }

    /// Queues the event and returns at once; when the queue is full the event is dropped,
    /// counted and (at most once a minute) warned about.
    pub fn send(&self, event: SiemEvent) {
        if self
            .queue
            .try_send(Message::Event(Box::new(event)))
            .is_err()
        {
            self.counters.count_dropped("queue");
        }
    }

    /// Events dropped so far by this process (queue full, collector backlog full, file errors).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Waits, at most `limit`, until what was sent before has been written to the file and to
    /// the collector (if it is reachable). For a clean stop and for tests; true if it finished.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (done, finished) = oneshot::channel();
        tokio::time::timeout(limit, async {
            self.queue.send(Message::Flush(done)).await.is_ok() && finished.await.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

impl Counters {
    fn count_dropped(&self, stage: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("nhsmal_siem_dropped_total", "stage" => stage).increment(1);
        // One warning a minute: a flood of them would bury the log when the SIEM is stuck.
        let now = tokio::time::Instant::now();
        let Ok(mut warned_at) = self.warned_at.lock() else {
            return;
        };
        if warned_at.is_none_or(|at| now.duration_since(at) >= WARNING_INTERVAL) {
            *warned_at = Some(now);
            drop(warned_at);
            tracing::warn!(
                stage,
                dropped_so_far = self.dropped.load(Ordering::Relaxed),
                "SIEM events dropped: delivery is falling behind (the audit table still has them)"
            );
        }
    }
}

fn open_append(path: &std::path::Path) -> Result<tokio::fs::File, SiemError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        // Events name people and addresses: the owner writes, a log shipper's group reads.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o640);
    }
    options
        .open(path)
        .map(tokio::fs::File::from_std)
        .map_err(|e| SiemError::File {
            path: path.display().to_string(),
            problem: e.to_string(),
        })
}

enum Sink {
    Stdout(tokio::io::Stdout),
    File(tokio::fs::File),
}

impl Sink {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stdout(out) => {
                out.write_all(bytes).await?;
                out.flush().await
            }
            Sink::File(file) => {
                file.write_all(bytes).await?;
                file.flush().await
            }
        }
    }
}

/// Events written per file write at most: a burst costs a few writes, not one per event.
const BATCH: usize = 256;

/// The background task: turns each event into its line once, appends a batch of lines to the
/// file with one write, and hands syslog frames to the collector's task.
async fn dispatch(
    mut receiver: mpsc::Receiver<Message>,
    mut file: Option<Sink>,
    syslog: Option<syslog::Sender>,
    counters: Arc<Counters>,
) {
    let hostname = syslog::hostname();
    let procid = std::process::id();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Vec::new();
    let mut flushes = Vec::new();
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let mut events = 0u64;
        for message in batch.drain(..) {
            match message {
                Message::Event(event) => {
                    events += 1;
                    let line = event.to_json_line();
                    if let Some(syslog) = &syslog {
                        let frame = syslog::frame(&event, &line, &hostname, procid);
                        if !syslog.push(frame) {
                            counters.count_dropped("syslog");
                        }
                    }
                    if file.is_some() {
                        lines.extend_from_slice(line.as_bytes());
                        lines.push(b'\n');
                    }
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        if let Some(sink) = file.as_mut()
            && !lines.is_empty()
        {
            if let Err(e) = sink.write(&lines).await {
                tracing::warn!(error = %e, "cannot write SIEM events to the file");
                for _ in 0..events {
                    counters.count_dropped("file");
                }
            }
            lines.clear();
        }
        for done in flushes.drain(..) {
            match &syslog {
                // The collector's task answers once it has written what came before.
                Some(syslog) => syslog.flush(done),
                None => {
                    let _ = done.send(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::audit::Requester;

    fn requester() -> Requester {
        Requester {
            ip: "203.0.113.9".into(),
            user_agent: "Firefox".into(),
            correlation_id: "c-1".into(),
            ..Requester::default()
        }
    }

    #[test]
    fn an_audit_event_is_one_json_line_with_type_time_event_and_its_fields() {
        let event = AuditEvent::new(
            "sign_in.password",
            Outcome::Failure,
            &requester(),
            1_800_000_000,
        )
        .subject("ann@example.nhs.uk")
        .reason("wrong_password");
        let siem = SiemEvent::from_audit(&event);
        assert!(siem.failure);
        let line = siem.to_json_line();
        assert!(!line.contains('\n'));
        let json: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(json["type"], "audit");
        assert_eq!(json["time"], "2027-01-15T08:00:00Z");
        assert_eq!(json["event"], "sign_in.password");
        assert_eq!(json["outcome"], "failure");
        assert_eq!(json["subject"], "ann@example.nhs.uk");
        assert_eq!(json["reason"], "wrong_password");
        assert_eq!(json["ip"], "203.0.113.9");
        assert_eq!(json["correlation_id"], "c-1");
        assert!(
            json.get("account_id").is_none(),
            "unset fields are left out"
        );
    }

    #[test]
    fn body_fields_cannot_replace_the_envelope() {
        let event = SiemEvent {
            kind: "sign_in",
            at: 0,
            name: "sign_in.password".into(),
            failure: false,
            body: serde_json::json!({"type": "forged", "risk": "high"}),
        };
        let json: Value = serde_json::from_str(&event.to_json_line()).expect("JSON");
        assert_eq!(json["type"], "sign_in");
        assert_eq!(json["time"], "1970-01-01T00:00:00Z");
        assert_eq!(json["risk"], "high");
    }

    #[tokio::test]
    async fn a_full_queue_drops_events_without_waiting() {
        // Nobody reads the queue, as when the background task is stuck behind a slow disk.
        let (siem, _receiver) = Siem::channel(3);
        let event = SiemEvent::from_audit(&AuditEvent::new(
            "sign_in.password",
            Outcome::Success,
            &requester(),
            0,
        ));
        let sent = tokio::time::timeout(Duration::from_secs(1), async {
            for _ in 0..1_000 {
                siem.send(event.clone());
            }
        })
        .await;
        assert!(sent.is_ok(), "send never waits");
        assert_eq!(siem.dropped(), 997);
        // A flush cannot get into a full queue either: it gives up at its limit.
        assert!(!siem.flush(Duration::from_millis(50)).await);
    }

    #[tokio::test]
    async fn dropping_the_last_sender_still_writes_what_was_queued() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("siem.jsonl");
        let settings = SiemSettings {
            file: Some(SiemFile::Path(path.clone())),
            ..SiemSettings::default()
        };
        let siem = Siem::start(&settings).expect("starts").expect("enabled");
        let event = AuditEvent::new("account.added", Outcome::Success, &requester(), 0);
        siem.send(SiemEvent::from_audit(&event));
        siem.clone().send(SiemEvent::from_audit(&event));
        drop(siem);
        for _ in 0..100 {
            if std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count()
                == 2
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the queued events were not written");
    }

    #[tokio::test]
    async fn the_file_gets_every_event_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("siem.jsonl");
        let settings = SiemSettings {
            file: Some(SiemFile::Path(path.clone())),
            ..SiemSettings::default()
        };
        let siem = Siem::start(&settings).expect("starts").expect("enabled");
        for i in 0..600 {
            siem.send(SiemEvent {
                kind: "audit",
                at: i,
                name: "account.added".into(),
                failure: false,
                body: Value::Null,
            });
        }
        assert!(siem.flush(Duration::from_secs(5)).await);
        let text = std::fs::read_to_string(&path).expect("file");
        let times: Vec<i64> = text
            .lines()
            .map(|l| {
                let json: Value = serde_json::from_str(l).expect("JSON line");
                let time = json["time"].as_str().expect("time").to_string();
                time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339)
                    .expect("RFC 3339")
                    .unix_timestamp()
            })
            .collect();
        assert_eq!(times, (0..600).collect::<Vec<_>>());
        assert_eq!(siem.dropped(), 0);
        assert!(Siem::start(&SiemSettings::default()).expect("ok").is_none());
    }
}
