//! Email through a real SMTP server on loopback, written here with tokio: delivery as plain text
//! and HTML, authentication from the URL, a relay that is down and comes back, a restart, two
//! nodes at once, and giving up after a day.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use domain::admin::{self, AdminAction};
use domain::audit::Requester;
use domain::clock::{Clock, FakeClock};
use domain::email_queue::{EmailQueueRecords, QueuedEmail};
use nhsmal::config::Settings;
use nhsmal::notify::{EmailProvider, Secret};
use nhsmal::store::Store;
use nhsmal::web::{App, AppState};
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket};

use crate::helpers::{CliEnv, PASSWORD, START, TestApp, location, spawn_app_with};

const ANN: &str = "ann@example.nhs.uk";
const CHANGED: &str = "Your NHSmal password has been changed";
const NEW_PASSWORD: &str = "another long passphrase 42";
/// Longest wait for the worker (which looks every second) to do something.
const WAIT: Duration = Duration::from_secs(10);

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    rcpt_to: Vec<String>,
    data: String,
    auth: Option<(String, String)>,
}

/// A small SMTP server: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
#[derive(Clone, Default)]
struct Mailbox(Arc<Mutex<Vec<Received>>>);

impl Mailbox {
    fn all(&self) -> Vec<Received> {
        self.0.lock().expect("mailbox").clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = self.all();
            if all.len() >= count || tokio::time::Instant::now() > deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A loopback port held without listening: connecting to it is refused, as to a relay that is
/// down, until `listen` brings the server up on the same port.
struct DownRelay {
    socket: TcpSocket,
    port: u16,
}

impl DownRelay {
    fn new() -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let port = socket.local_addr().expect("address").port();
        Self { socket, port }
    }

    fn listen(self) -> Mailbox {
        serve_smtp(self.socket.listen(64).expect("listen"))
    }
}

async fn smtp_server() -> (u16, Mailbox) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    (port, serve_smtp(listener))
}

fn serve_smtp(listener: TcpListener) -> Mailbox {
    let mailbox = Mailbox::default();
    let kept = mailbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mailbox = kept.clone();
            tokio::spawn(async move {
                let _ = smtp_session(stream, mailbox).await;
            });
        }
    });
    mailbox
}

async fn smtp_session(stream: tokio::net::TcpStream, mailbox: Mailbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.example ESMTP\r\n").await?;
    let (mut auth, mut rcpt_to) = (None, Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test.example\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
            "RCPT" => {
                let to = command
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string())
                    .unwrap_or_default();
                rcpt_to.push(to);
                b"250 OK\r\n"
            }
            "AUTH" => {
                let initial = command.split_whitespace().nth(2).unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(initial)
                    .unwrap_or_default();
                let parts: Vec<String> = String::from_utf8_lossy(&decoded)
                    .split('\0')
                    .map(str::to_string)
                    .collect();
                if let [_, user, password] = parts.as_slice() {
                    auth = Some((user.clone(), password.clone()));
                }
                b"235 2.7.0 Authentication successful\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                mailbox.0.lock().expect("mailbox").push(Received {
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    auth: auth.clone(),
                });
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The decoded body of the MIME part of `content_type` in a received message.
fn part(data: &str, content_type: &str) -> String {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in:\n{data}"));
    let rest = &data[start..];
    let (headers, body) = rest.split_once("\r\n\r\n").expect("part headers end");
    let body = match body.find("\r\n--") {
        Some(end) => &body[..end],
        None => body,
    };
    let encoding = headers
        .lines()
        .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
        .unwrap_or("7bit")
        .trim();
    match encoding {
        "quoted-printable" => quoted_printable(body),
        "base64" => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body.replace("\r\n", ""))
                .expect("base64"),
        )
        .expect("utf-8"),
        _ => body.to_string(),
    }
}

fn quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

fn use_smtp(settings: &mut Settings, url: String) {
    settings.providers.email = EmailProvider::Smtp;
    settings.providers.smtp_url = Secret(url);
}

/// Ann changes her password through the pages; the response must be the success redirect.
async fn ann_changes_her_password(app: &TestApp) {
    let client = app.ann_signed_in().await;
    let response = app
        .submit(
            &client,
            "/profile/change-password",
            "/profile/change-password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile/self-service?changed=1");
}

async fn queue(store: &Store) -> Vec<QueuedEmail> {
    store.recent_emails(100).await.expect("queue readable")
}

/// Waits until the queue's newest message satisfies `done`.
async fn wait_for_queue(store: &Store, done: impl Fn(&QueuedEmail) -> bool) -> QueuedEmail {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let newest = queue(store)
            .await
            .into_iter()
            .next()
            .expect("a queued email");
        if done(&newest) || tokio::time::Instant::now() > deadline {
            return newest;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn no_email_in_outbox(app: &TestApp) {
    let emails: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|m| m["channel"] == "email")
        .collect();
    assert!(emails.is_empty(), "email went to the outbox: {emails:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_is_sent_over_smtp_as_plain_text_and_html_in_the_nhs_style() {
    let (port, mailbox) = smtp_server().await;
    let app = spawn_app_with(|s| use_smtp(s, format!("smtp://127.0.0.1:{port}"))).await;
    ann_changes_her_password(&app).await;

    // The first attempt is made while the request waits (a few seconds at most), so the
    // message is normally there already; waiting keeps a loaded test machine from failing.
    let received = mailbox.wait_for(1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail.rcpt_to, vec![ANN.to_string()]);
    assert_eq!(mail.auth, None, "no credentials in the URL, no AUTH");
    assert!(
        mail.data.contains(&format!("Subject: {CHANGED}")),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("From: NHSmal <no-reply@nhsmal.example>"));
    assert!(mail.data.contains("To: ann@example.nhs.uk"));
    assert!(mail.data.contains("Content-Type: multipart/alternative"));

    let text = part(&mail.data, "text/plain");
    assert!(text.starts_with("Dear Ann Example,"), "{text}");
    assert!(text.contains("If this wasn't you"), "{text}");
    assert!(text.contains("never ask for your password"), "{text}");
    assert!(!text.contains(NEW_PASSWORD));
    let html = part(&mail.data, "text/html");
    assert!(html.contains("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(&format!(">{CHANGED}</h1>")), "{html}");
    assert!(html.contains("Dear Ann Example,"));
    assert!(html.contains("background-color:#005eb8"), "NHS blue header");
    for unwanted in ["<a ", "href", "<img", "<style", "http"] {
        assert!(!html.contains(unwanted), "{unwanted} in {html}");
    }

    let queued = wait_for_queue(&app.store, |e| e.sent_at.is_some()).await;
    assert_eq!(queued.sent_at, Some(START));
    assert_eq!(queued.attempts, 1);
    assert_eq!(queued.recipient, ANN);
    assert_eq!(queue(&app.store).await.len(), 1);
    no_email_in_outbox(&app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_smtp_url_are_used_percent_decoded() {
    let (port, mailbox) = smtp_server().await;
    let env = CliEnv::new().await;
    let clock = FakeClock::starting_at(START);
    let node = Node::start(
        &env,
        &clock,
        &format!("smtp://portal%40nhsmal.example:s3cret%2Fpass@127.0.0.1:{port}"),
    )
    .await;
    let account = node.add_ann().await;
    node.unlock(&account).await;
    let received = mailbox.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].auth,
        Some(("portal@nhsmal.example".into(), "s3cret/pass".into()))
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_is_down_delays_the_notice_not_the_request_and_it_is_sent_once_when_back() {
    let relay = DownRelay::new();
    let port = relay.port;
    let app = spawn_app_with(|s| use_smtp(s, format!("smtp://127.0.0.1:{port}"))).await;
    ann_changes_her_password(&app).await;

    assert_eq!(queue(&app.store).await.len(), 1, "the notice is queued");
    let email = &wait_for_queue(&app.store, |e| e.last_error.is_some()).await;
    assert_eq!(email.subject, CHANGED);
    assert_eq!(email.attempts, 1, "the first attempt is counted");
    assert_eq!(email.sent_at, None);
    assert_eq!(email.failed_at, None);
    assert_eq!(
        email.next_attempt_at,
        START + 30,
        "retried after 30 seconds"
    );
    let error = email.last_error.clone().expect("the failure is recorded");
    assert!(error.contains("SMTP"), "{error}");
    assert!(
        app.audit()
            .await
            .iter()
            .all(|e| e.event != "notification.failed"),
        "not given up"
    );
    no_email_in_outbox(&app);

    let mailbox = relay.listen();
    // Not before the back-off has passed…
    app.clock.advance(29);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(mailbox.all().is_empty(), "sent before its time");
    // …then once.
    app.clock.advance(1);
    let received = mailbox.wait_for(1).await;
    assert_eq!(received.len(), 1, "delivered when the relay is back");
    assert!(received[0].data.contains(&format!("Subject: {CHANGED}")));
    let email = wait_for_queue(&app.store, |e| e.sent_at.is_some()).await;
    assert_eq!(email.sent_at, Some(START + 30));
    assert_eq!(email.attempts, 2);

    app.clock.advance(2 * 3600);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mailbox.all().len(), 1, "delivered exactly once");
}

/// One node of the portal on the database of `env`, without a web server: its app (for the
/// notifier) and its delivery worker.
struct Node {
    app: AppState,
    worker: domain::email_queue::EmailWorker,
    store: Store,
    clock: FakeClock,
}

impl Node {
    async fn start(env: &CliEnv, clock: &FakeClock, smtp_url: &str) -> Self {
        let mut settings = Settings::with_data_dir(env.data_dir.path());
        if let Some(url) = &env.database_url {
            settings.database_url = url.clone();
        }
        settings.database_max_connections = 4;
        use_smtp(&mut settings, smtp_url.to_string());
        let store = Store::open(
            &settings.database_url,
            &settings.data_dir,
            settings.database_max_connections,
        )
        .await
        .expect("store opens");
        let providers = Arc::new(
            nhsmal::notify::from_settings(&settings.providers, &settings.data_dir)
                .expect("providers"),
        );
        let app = App::new(
            store.clone(),
            settings,
            Arc::new(clock.clone()),
            providers,
            // Every node of a deployment has the same master key (the signing keys made by
            // the first node are sealed with it).
            domain::secrets::SecretBox::new(&[7u8; 32]).expect("key"),
        )
        .await
        .expect("app builds");
        let worker = app.start_email_worker();
        Self {
            app,
            worker,
            store,
            clock: clock.clone(),
        }
    }

    async fn stop(self) {
        self.worker.stop().await;
        drop(self.app);
        self.store.close().await;
    }

    async fn add_ann(&self) -> domain::accounts::Account {
        domain::organisations::add_organisation(&self.store, "FA123", "Riverside", START)
            .await
            .expect("org");
        let request = domain::accounts::AccountRequest {
            email: ANN,
            name: "Ann Example",
            org: "FA123",
            role: "user",
        };
        domain::accounts::add_account(&self.store, &self.app.hashing, request, None, START)
            .await
            .expect("account")
    }

    /// An operator unlocks Ann, which emails her.
    async fn unlock(&self, account: &domain::accounts::Account) {
        let requester = Requester::command_line();
        let action = AdminAction {
            actor_id: None,
            requester: &requester,
            now: self.clock.now(),
            notifier: self.app.notifier.as_ref(),
        };
        admin::unlock(&self.store, &action, account)
            .await
            .expect("unlocked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_notices_survive_a_restart_and_are_delivered_by_the_next_start() {
    let env = CliEnv::new().await;
    let clock = FakeClock::starting_at(START);
    let relay = DownRelay::new();
    let url = format!("smtp://127.0.0.1:{}", relay.port);

    let first = Node::start(&env, &clock, &url).await;
    let account = first.add_ann().await;
    first.unlock(&account).await;
    let queued = wait_for_queue(&first.store, |e| e.last_error.is_some()).await;
    assert_eq!((queued.attempts, queued.sent_at), (1, None));
    first.stop().await;

    let mailbox = relay.listen();
    clock.advance(30);
    let second = Node::start(&env, &clock, &url).await;
    let received = mailbox.wait_for(1).await;
    assert_eq!(received.len(), 1, "the next start delivers what was queued");
    assert_eq!(received[0].rcpt_to, vec![ANN.to_string()]);
    assert!(
        received[0]
            .data
            .contains("Subject: Your NHSmal account was unlocked")
    );
    let email = wait_for_queue(&second.store, |e| e.sent_at.is_some()).await;
    assert_eq!((email.attempts, email.sent_at), (2, Some(START + 30)));
    second.stop().await;
    assert_eq!(mailbox.all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_delivering_at_once_send_each_message_once() {
    let (port, mailbox) = smtp_server().await;
    let env = CliEnv::new().await;
    let clock = FakeClock::starting_at(START);
    let url = format!("smtp://127.0.0.1:{port}");
    let a = Node::start(&env, &clock, &url).await;
    let b = Node::start(&env, &clock, &url).await;
    // Both workers are running; stop them so that the two rounds below are the only senders.
    let (a_app, a_store) = (a.app.clone(), a.store.clone());
    let (b_app, b_store) = (b.app.clone(), b.store.clone());
    a.worker.stop().await;
    b.worker.stop().await;
    for i in 0..12 {
        a_store
            .enqueue_email(&QueuedEmail {
                id: format!("message-{i:02}"),
                recipient: format!("person{i}@example.nhs.uk"),
                subject: format!("Notice {i}"),
                text_body: "Dear Person,\n\nNHSmal".into(),
                html_body: None,
                attempts: 0,
                next_attempt_at: START,
                last_error: None,
                created_at: START,
                sent_at: None,
                failed_at: None,
            })
            .await
            .expect("queued");
    }
    let (one, two) = tokio::join!(
        a_app.email_queue.deliver_due(START),
        b_app.email_queue.deliver_due(START)
    );
    let (one, two) = (one.expect("round"), two.expect("round"));
    assert_eq!(one.sent + two.sent, 12, "{one:?} {two:?}");
    let received = mailbox.all();
    assert_eq!(received.len(), 12);
    let mut recipients: Vec<String> = received.iter().map(|r| r.rcpt_to[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 12, "no message twice");
    assert!(
        queue(&b_store)
            .await
            .iter()
            .all(|e| e.sent_at == Some(START))
    );
    // Nothing is left due.
    let again = b_app
        .email_queue
        .deliver_due(START + 3600)
        .await
        .expect("round");
    assert_eq!(again.sent, 0);
    a_store.close().await;
    b_store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_still_not_delivered_after_a_day_is_given_up_logged_and_audited() {
    let env = CliEnv::new().await;
    let clock = FakeClock::starting_at(START);
    let relay = DownRelay::new();
    let node = Node::start(&env, &clock, &format!("smtp://127.0.0.1:{}", relay.port)).await;
    let account = node.add_ann().await;
    node.unlock(&account).await;

    clock.advance(3600);
    let email = wait_for_queue(&node.store, |e| e.attempts >= 2).await;
    assert_eq!(email.failed_at, None, "retried within the day");

    clock.advance(24 * 3600);
    let email = wait_for_queue(&node.store, |e| e.failed_at.is_some()).await;
    assert_eq!(email.failed_at, Some(START + 25 * 3600));
    assert_eq!(email.sent_at, None);
    assert!(email.last_error.is_some());

    // The audit event follows the row's change: wait for it too.
    use domain::audit::AuditTrail;
    let deadline = tokio::time::Instant::now() + WAIT;
    let failed = loop {
        let events = node.store.audit_events(100).await.expect("audit");
        if let Some(e) = events
            .into_iter()
            .find(|e| e.event == "notification.failed")
        {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the give-up is audited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.account_id.as_deref(), Some(account.id.as_str()));
    assert_eq!(failed.outcome, "failure");
    let reason = failed.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("Your NHSmal account was unlocked"),
        "{reason}"
    );

    // Given up means no more attempts, even when the relay comes back.
    let mailbox = relay.listen();
    clock.advance(3600);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(mailbox.all().is_empty());
    node.stop().await;
}
