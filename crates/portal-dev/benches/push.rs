//! Push approval benchmark (issue 21): run with `scripts/bench-push` (or
//! `cargo bench --bench push`).
//!
//! For each store (SQLite, and PostgreSQL when it answers), in one run on one machine:
//!  - BENCH_PENDING people (200) each with an NHSmal Authenticator device, whose app holds the
//!    event stream open (`GET /api/v1/push/events`): the connections one node holds, with the
//!    node's memory and open files before and after;
//!  - their browsers sign in with the password and open the push step at once (a barrier), so
//!    that BENCH_PENDING approvals are pending together;
//!  - each app answers the request its stream brings (signed with its P-256 key, the number
//!    its browser shows) after a reaction time spread evenly over one polling interval, and
//!    each browser waits as `approval.js` does (asks every second), then presses "Continue".
//!
//! It prints p50 and p99 of the time from an approval being accepted to its browser having
//! moved on (signed in), of the time from the browser asking for the push step to the app's event, and
//! the ratio of the first to the browser's polling interval. Loopback only; bounded by
//! BENCH_SECONDS (60).

#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

mod common;

use common::env_number;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use tokio::sync::{Barrier, oneshot};

use domain::accounts::{AccountRecords, Email, NewAccount, Role};
use domain::clock::{Clock, SystemClock};
use domain::mfa::push::{DeviceCredential, new_token};
use domain::mfa::{Method, MethodKind, MethodRecords};
use domain::password::{Password, PasswordHashing};
use nhsmal::config::Settings;
use nhsmal::store::Store;
use nhsmal::web::{self, AppState};

const PASSWORD: &str = "correct horse battery staple 1";
/// How often the waiting page asks (static/approval.js, `data-poll-ms` of the push step).
const POLL: Duration = Duration::from_millis(1000);

fn main() {
    let pending = env_number("BENCH_PENDING", 200) as usize;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "NHSmal push approval benchmark: {cores} cores, {pending} approvals pending together, the browser asking every {} ms",
        POLL.as_millis()
    );
    common::in_each_store(60, |settings, data_dir, label| {
        Box::pin(run(settings, data_dir, pending, label))
    });
}

/// One person: the browser's address and the app's device.
#[derive(Clone)]
struct Person {
    email: String,
    key: SigningKey,
    token: String,
}

async fn run(
    settings: &mut Settings,
    data_dir: &std::path::Path,
    pending: usize,
    label: &str,
) -> anyhow::Result<()> {
    let (app, store, listener, base) = common::portal_on_loopback(settings, data_dir).await?;
    let people = people_with_devices(&store, &app, pending).await?;
    tokio::spawn(web::serve(app.clone(), listener, std::future::pending()));

    // The apps connect and hold their streams.
    let (rss_before, files_before) = (resident_kib(), open_files());
    let mut streams = Vec::with_capacity(pending);
    let plain = reqwest::Client::builder().build()?;
    for person in &people {
        let r = plain
            .get(format!("{base}/api/v1/push/events"))
            .bearer_auth(&person.token)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "stream refused: {}", r.status());
        streams.push(r);
    }
    let held = app.push_bell.listeners();
    let (rss_after, files_after) = (resident_kib(), open_files());

    // Each app reads its stream from now on, as the real one does.
    let mut devices = Vec::with_capacity(pending);
    let mut browser_ends = Vec::with_capacity(pending);
    for (i, (person, stream)) in people.iter().cloned().zip(streams).enumerate() {
        // People answer at different moments: spread evenly over one polling interval, so the
        // figures are not an artefact of every browser asking in step with every answer.
        let reaction = POLL.mul_f64(i as f64 / pending as f64);
        let (number_tx, number_rx) = oneshot::channel::<String>();
        let (answered_tx, answered_rx) = oneshot::channel::<Instant>();
        let (base_app, http) = (base.clone(), plain.clone());
        devices.push(tokio::spawn(async move {
            answer_first_request(
                stream,
                &http,
                &base_app,
                &person,
                reaction,
                number_rx,
                answered_tx,
            )
            .await
        }));
        browser_ends.push((number_tx, answered_rx));
    }

    // The browsers sign in with the password (the push is sent when the push step is shown).
    let mut browsers = Vec::with_capacity(pending);
    for person in &people {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = browser
            .get(format!("{base}/sign-in"))
            .send()
            .await?
            .text()
            .await?;
        let r = browser
            .post(format!("{base}/sign-in"))
            .form(&[
                ("csrf_token", attr(&page, "csrf_token")),
                ("email", person.email.clone()),
                ("password", PASSWORD.into()),
            ])
            .send()
            .await?;
        anyhow::ensure!(r.status().is_redirection(), "sign-in: {}", r.status());
        browsers.push(browser);
    }

    let barrier = Arc::new(Barrier::new(pending));
    let mut tasks = Vec::with_capacity(pending);
    for ((browser, (number_tx, answered_rx)), device) in
        browsers.into_iter().zip(browser_ends).zip(devices)
    {
        let (barrier, base) = (barrier.clone(), base.clone());
        let browser_side = tokio::spawn(async move {
            barrier.wait().await;
            wait_like_the_page(&browser, &base, number_tx, answered_rx).await
        });
        tasks.push((device, browser_side));
    }
    let mut moved_on = Vec::with_capacity(pending);
    let mut delivered = Vec::with_capacity(pending);
    for (device, browser_side) in tasks {
        let received = device.await??;
        let (asked_at, moved) = browser_side.await??;
        delivered.push(received.saturating_duration_since(asked_at));
        moved_on.push(moved);
    }
    moved_on.sort();
    delivered.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |v: &[Duration], q: f64| v[((v.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!("{label}:");
    println!(
        "  event streams held by the node: {held}; memory {:+} KiB ({:.1} KiB a stream), open files {:+} (both ends of each stream are in this one process)",
        rss_after - rss_before,
        (rss_after - rss_before) as f64 / held.max(1) as f64,
        files_after - files_before,
    );
    println!(
        "  push step asked for -> request on the app's stream: p50 {:.0} ms, p99 {:.0} ms",
        ms(p(&delivered, 0.5)),
        ms(p(&delivered, 0.99))
    );
    println!(
        "  approval accepted -> browser signed in: p50 {:.0} ms, p99 {:.0} ms",
        ms(p(&moved_on, 0.5)),
        ms(p(&moved_on, 0.99))
    );
    println!(
        "  ratio of that p50 to the page's polling interval: {:.2}",
        ms(p(&moved_on, 0.5)) / ms(POLL)
    );
    Ok(())
}

/// `count` people with the password (one hash, made once) and an NHSmal Authenticator device
/// each, stored as pairing leaves one.
async fn people_with_devices(
    store: &Store,
    app: &AppState,
    count: usize,
) -> anyhow::Result<Vec<Person>> {
    let hashing = PasswordHashing::new(&app.settings.argon2)?;
    let hash = hashing.hash(&Password::new(PASSWORD))?;
    let now = SystemClock.now();
    let mut people = Vec::with_capacity(count);
    for i in 0..count {
        let email = format!("push{i}@bench.nhs.uk");
        let new = NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            email: Email::parse(&email).map_err(|e| anyhow::anyhow!(e))?,
            display_name: "Bench User".into(),
            org_code: "BENCH1".into(),
            role: Role::User,
            password_hash: Some(hash.clone()),
            now: 0,
        };
        store.insert_account(&new).await?;
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[0] &= 0x7f; // below the curve's order
        let key = SigningKey::from_slice(&seed)?;
        let device_id = uuid::Uuid::new_v4().to_string();
        let (token, token_hash) = new_token(&device_id);
        let credential = DeviceCredential {
            alg: "ES256".into(),
            public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().to_sec1_bytes()),
            token_hash,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let secret = domain::mfa::totp::TotpSecret::generate();
        store
            .insert_method(&Method {
                secret: Some(
                    app.secrets
                        .seal(secret.bytes(), &format!("mfa_method:{id}")),
                ),
                id,
                account_id: new.id.clone(),
                kind: MethodKind::Push,
                name: "Bench phone".into(),
                phone: None,
                credential: serde_json::to_string(&credential).ok(),
                credential_id: Some(device_id),
                last_totp_step: None,
                passkey: None,
                is_default: true,
                created_at: now,
                last_used_at: None,
            })
            .await?;
        people.push(Person { email, key, token });
    }
    Ok(people)
}

/// The app: the first request on its stream, answered with the number its browser shows.
/// Returns when the event arrived.
async fn answer_first_request(
    mut stream: reqwest::Response,
    http: &reqwest::Client,
    base: &str,
    person: &Person,
    reaction: Duration,
    number: oneshot::Receiver<String>,
    answered: oneshot::Sender<Instant>,
) -> anyhow::Result<Instant> {
    let mut text = String::new();
    let request: serde_json::Value = loop {
        let chunk = stream
            .chunk()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(at) = text.find("event: request")
            && let Some(data) = text[at..].find("data: ")
            && let Some(end) = text[at + data..].find('\n')
        {
            let line = &text[at + data + 6..at + data + end];
            break serde_json::from_str(line)?;
        }
    };
    let received = Instant::now();
    let number = number.await?;
    tokio::time::sleep(reaction).await;
    let id = request["id"].as_str().unwrap_or_default();
    let nonce = request["nonce"].as_str().unwrap_or_default();
    let message = format!("nhsmal-push-v1\n{id}\n{number}\n{nonce}\napprove");
    let signature: Signature = person.key.sign(message.as_bytes());
    let r = http
        .post(format!("{base}/api/v1/push/requests/{id}/answer"))
        .bearer_auth(&person.token)
        .json(&serde_json::json!({
            "decision": "approve",
            "number": number,
            "signature": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "answer: {}", r.status());
    let _ = answered.send(Instant::now());
    Ok(received)
}

/// The browser: the push step, then as approval.js: ask every second, and "Continue" once it
/// is approved. Returns when it asked for the push step, and the time from the approval to
/// being signed in.
async fn wait_like_the_page(
    browser: &reqwest::Client,
    base: &str,
    number: oneshot::Sender<String>,
    answered: oneshot::Receiver<Instant>,
) -> anyhow::Result<(Instant, Duration)> {
    let asked_at = Instant::now();
    let page = browser
        .get(format!("{base}/sign-in/verify"))
        .send()
        .await?
        .text()
        .await?;
    let digits: String = page
        .split("id=\"push-number\"")
        .nth(1)
        .and_then(|rest| rest.split("</span>").nth(1))
        .map(|t| t.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default();
    anyhow::ensure!(digits.len() == 2, "no number on the push step");
    let _ = number.send(digits);
    loop {
        tokio::time::sleep(POLL).await;
        let status: serde_json::Value = browser
            .get(format!("{base}/approvals/current"))
            .send()
            .await?
            .json()
            .await?;
        if status["status"] != "pending" {
            break;
        }
    }
    let r = browser
        .post(format!("{base}/sign-in/verify"))
        .form(&[
            ("csrf_token", attr(&page, "csrf_token")),
            ("method", attr(&page, "method")),
        ])
        .send()
        .await?;
    let done = Instant::now();
    anyhow::ensure!(
        r.headers()
            .get("location")
            .is_some_and(|l| l.as_bytes() == b"/profile"),
        "Continue: {}",
        r.status()
    );
    let approved = answered.await?;
    Ok((asked_at, done.saturating_duration_since(approved)))
}

/// The value of the input named `name` on a page.
fn attr(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

fn resident_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn open_files() -> i64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64)
}
