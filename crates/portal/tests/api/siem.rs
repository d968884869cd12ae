//! SIEM delivery: audit events as JSON lines in a file, and as RFC 5424 syslog over TCP to a
//! collector (a listener in the test), including a collector that is down and comes up.

use std::time::Duration;

use nhsmal::siem::SiemFile;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with};

const EMAIL: &str = "ann@example.nhs.uk";

/// The file's lines with `event`, waiting up to five seconds for `count` of them.
async fn lines_of(path: &std::path::Path, event: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .filter(|v: &Value| v["event"] == event)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} {event} lines in {}", path.display());
}

async fn failed_then_successful_sign_in(app: &TestApp) {
    app.add_user(EMAIL).await;
    let failed = app.sign_in(EMAIL, "not the password").await;
    assert_eq!(failed.status(), 401);
    let signed_in = app.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audit_event_is_a_json_line_in_the_siem_file() {
    let app = spawn_app_with(|s| {
        s.siem.file = Some(SiemFile::Path(s.data_dir.join("siem.jsonl")));
    })
    .await;
    failed_then_successful_sign_in(&app).await;

    let path = app.data_dir.path().join("siem.jsonl");
    let lines = lines_of(&path, "sign_in.password", 2).await;
    assert_eq!(lines[0]["type"], "audit");
    assert_eq!(lines[0]["outcome"], "failure");
    assert_eq!(lines[0]["subject"], EMAIL);
    assert_eq!(lines[1]["outcome"], "success");
    assert_eq!(lines[1]["ip"], "127.0.0.1");
    for line in &lines {
        let time = line["time"].as_str().expect("time");
        let at = time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
        assert_eq!(at.offset(), time::UtcOffset::UTC);
        assert!(line["correlation_id"].is_string());
    }
    // Every audit event reaches the file, not only sign-ins: one line per row of the table.
    let audited = app.audit().await.len();
    let mut total = 0;
    for _ in 0..100 {
        total = std::fs::read_to_string(&path)
            .expect("file")
            .lines()
            .filter(|l| l.contains(r#""type":"audit""#))
            .count();
        if total >= audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(total, audited, "one line per audit event");
    // The sign-in log's rows go there too, with their risk.
    // (Without a second factor: the password is right, then the person is signed in.)
    let rows = lines_of(&path, "sign_in_log.password", 3).await;
    assert_eq!(rows[0]["type"], "sign_in");
    assert_eq!(rows[0]["outcome"], "failure");
    assert_eq!(rows[0]["risk"], "none");
    assert_eq!(rows[1]["outcome"], "passed");
    assert_eq!(rows[2]["outcome"], "success");
    assert!(rows.iter().all(|r| r.get("device").is_none()));
    // No secret travels with the events.
    let text = std::fs::read_to_string(&path).expect("file");
    assert!(!text.contains(PASSWORD) && !text.contains("not the password"));
}

/// One octet-counted syslog frame: `LEN SP MSG`.
async fn read_frame(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut length = Vec::new();
    let read = stream.read_until(b' ', &mut length).await.ok()?;
    if read == 0 {
        return None;
    }
    let length: usize = std::str::from_utf8(&length[..length.len() - 1])
        .ok()?
        .parse()
        .expect("frames start with their length");
    let mut message = vec![0u8; length];
    stream.read_exact(&mut message).await.ok()?;
    Some(String::from_utf8(message).expect("UTF-8"))
}

/// A syslog message taken apart: PRI, VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID,
/// STRUCTURED-DATA, MSG.
struct Syslog {
    pri: u8,
    version: String,
    app_name: String,
    msgid: String,
    structured_data: String,
    json: Value,
}

fn parse(message: &str) -> Syslog {
    let rest = message.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once('>').expect("<PRI>");
    let fields: Vec<&str> = rest.splitn(8, ' ').collect();
    assert_eq!(fields.len(), 8, "{message}");
    Syslog {
        pri: pri.parse().expect("PRI"),
        version: fields[0].into(),
        app_name: fields[3].into(),
        msgid: fields[5].into(),
        structured_data: fields[6].into(),
        json: serde_json::from_str(fields[7]).expect("MSG is the JSON line"),
    }
}

/// Frames from the collector's connection until `want` sign_in.password messages have come.
async fn sign_in_messages(stream: &mut BufReader<TcpStream>, want: usize) -> Vec<Syslog> {
    let mut found = Vec::new();
    while found.len() < want {
        let frame = tokio::time::timeout(Duration::from_secs(10), read_frame(stream))
            .await
            .expect("frames arrive")
            .expect("the connection stays open");
        let message = parse(&frame);
        if message.msgid == "sign_in.password" {
            found.push(message);
        }
    }
    found
}

async fn accept(listener: &TcpListener) -> BufReader<TcpStream> {
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the portal connects")
        .expect("accept");
    BufReader::new(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_reach_a_syslog_collector_as_rfc_5424_over_tcp() {
    let collector = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = collector.local_addr().expect("addr").to_string();
    let app = spawn_app_with(|s| s.siem.syslog = Some(target)).await;
    failed_then_successful_sign_in(&app).await;

    let mut stream = accept(&collector).await;
    let messages = sign_in_messages(&mut stream, 2).await;
    let (failure, success) = (&messages[0], &messages[1]);
    assert_eq!(failure.pri, 84, "authpriv.warning");
    assert_eq!(success.pri, 86, "authpriv.info");
    for m in &messages {
        assert_eq!(m.version, "1");
        assert_eq!(m.app_name, "nhsmal");
        assert_eq!(m.structured_data, "-");
        assert_eq!(m.json["type"], "audit");
        assert_eq!(m.json["event"], "sign_in.password");
    }
    assert_eq!(failure.json["outcome"], "failure");
    assert_eq!(success.json["outcome"], "success");
}

/// Sign-in attempts for unknown addresses, each its own failed `sign_in.password` event.
async fn attempts(app: &TestApp, names: &[&str]) {
    for name in names {
        app.sign_in(&format!("{name}@example.nhs.uk"), "wrong password")
            .await;
    }
}

fn subjects(messages: &[Syslog]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.json["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_a_collector_that_is_down_and_arrive_in_order() {
    // A port where nothing listens yet.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let app = spawn_app_with(|s| {
        s.siem.syslog = Some(format!("127.0.0.1:{port}"));
        s.siem.retry_initial = Duration::from_millis(20);
        s.siem.retry_max = Duration::from_millis(100);
    })
    .await;
    attempts(&app, &["one", "two", "three"]).await;
    // Long enough for several refused connections.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let collector = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    let mut stream = accept(&collector).await;
    let first = sign_in_messages(&mut stream, 3).await;
    assert_eq!(
        subjects(&first),
        [
            "one@example.nhs.uk",
            "two@example.nhs.uk",
            "three@example.nhs.uk"
        ]
    );

    // The collector restarts: what happens meanwhile arrives on the next connection.
    drop(stream);
    drop(collector);
    tokio::time::sleep(Duration::from_millis(200)).await;
    attempts(&app, &["four", "five"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let collector = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    let mut stream = accept(&collector).await;
    let after = sign_in_messages(&mut stream, 2).await;
    assert_eq!(
        subjects(&after),
        ["four@example.nhs.uk", "five@example.nhs.uk"]
    );
}
