//! Push approval with the NHSmal Authenticator, from the outside: a device made here (its own
//! P-256 key, as the app makes one) pairs through the API and answers requests, while a
//! browser signs in. The companion binary itself is tested in crates/authenticator.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, text_of};

pub const PAIRING: &str = "/profile/self-service/enrol/authenticator-app/notifications";

/// An app on a phone: its device key, and what pairing gave it.
pub struct Device {
    key: SigningKey,
    pub id: String,
    pub token: String,
    pub totp_secret: Vec<u8>,
    base: String,
}

fn new_key() -> SigningKey {
    loop {
        let bytes: [u8; 32] = rand_bytes();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out
}

fn public_key(key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().to_sec1_bytes())
}

impl Device {
    /// Presents an activation code; returns the response's status and JSON.
    pub async fn offer(base: &str, code: &str, key: &SigningKey) -> (StatusCode, Value) {
        let r = reqwest::Client::new()
            .post(format!("{base}/api/v1/push/pair"))
            .json(&json!({
                "activation_code": code,
                "alg": "ES256",
                "public_key": public_key(key),
                "name": "Work phone",
            }))
            .send()
            .await
            .expect("POST pair");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    fn from_pairing(base: &str, key: SigningKey, body: &Value) -> Self {
        let secret = body["totp_secret"].as_str().expect("totp secret");
        Device {
            key,
            id: body["device_id"].as_str().expect("device id").to_string(),
            token: body["token"].as_str().expect("token").to_string(),
            totp_secret: base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret)
                .expect("base32"),
            base: base.to_string(),
        }
    }

    pub fn sign(&self, id: &str, number: &str, nonce: &str, decision: &str) -> String {
        let message = format!("nhsmal-push-v1\n{id}\n{number}\n{nonce}\n{decision}");
        let sig: Signature = self.key.sign(message.as_bytes());
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    }

    pub async fn requests(&self) -> (StatusCode, Value) {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/push/requests", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET requests");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The one pending request (its id and nonce).
    pub async fn pending(&self) -> Value {
        let (status, body) = self.requests().await;
        assert_eq!(status, StatusCode::OK);
        let list = body["requests"].as_array().expect("requests").clone();
        assert_eq!(list.len(), 1, "one request pending: {body}");
        list[0].clone()
    }

    pub async fn send_answer(&self, id: &str, body: &Value) -> (StatusCode, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/push/requests/{id}/answer", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("POST answer");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Answers `request` with `decision`, typing `number`.
    pub async fn answer(
        &self,
        request: &Value,
        decision: &str,
        number: &str,
    ) -> (StatusCode, Value) {
        let id = request["id"].as_str().expect("id");
        let nonce = request["nonce"].as_str().expect("nonce");
        let signature = self.sign(id, number, nonce, decision);
        self.send_answer(
            id,
            &json!({"decision": decision, "number": number, "signature": signature}),
        )
        .await
    }
}

/// The number a page shows in `#css`.
fn number_on(page: &str, css: &str) -> String {
    text_of(page, css)
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// "Continue" on a set-up page already shown (as its script presses it).
async fn carry_on(app: &TestApp, client: &reqwest::Client, page: &str) -> reqwest::Response {
    client
        .post(app.url(PAIRING))
        .form(&[("csrf_token", crate::helpers::csrf_token(page))])
        .send()
        .await
        .expect("POST")
}

/// Pairs a new device for the signed-in `client` through the set-up page and the API.
pub async fn pair(app: &TestApp, client: &reqwest::Client) -> Device {
    let page = app.page(client, PAIRING).await;
    let code = text_of(&page, "#activation-code");
    let key = new_key();
    let (status, body) = Device::offer(&app.address, &code, &key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("number").is_none() && body["request"].get("number").is_none());
    let device = Device::from_pairing(&app.address, key, &body);
    let page = app.page(client, PAIRING).await;
    let number = number_on(&page, "#pairing-number");
    assert_eq!(number.len(), 2, "{page}");
    let (status, body) = device.answer(&body["request"], "approve", &number).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("paired"))
    );
    let r = carry_on(app, client, &page).await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    device
}

/// Ann with the NHSmal Authenticator as her only method, signed out.
async fn ann_with_push(app: &TestApp) -> Device {
    let client = app.ann_signed_in().await;
    pair(app, &client).await
}

/// A browser at Ann's push step: the page and the number it shows.
async fn at_push_step(app: &TestApp) -> (reqwest::Client, String, String) {
    let client = browser();
    let r = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&client, "/sign-in/verify").await;
    let number = number_on(&page, "#push-number");
    assert_eq!(number.len(), 2, "{page}");
    (client, page, number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_paired_only_when_the_number_on_the_page_is_typed_in_the_app() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let page = app.page(&client, PAIRING).await;
    let code = text_of(&page, "#activation-code");
    assert_eq!(code.len(), 11, "{code}");

    // A wrong number ends this pairing: no method, and the code cannot be used again.
    let key = new_key();
    let (status, body) = Device::offer(&app.address, &code, &key).await;
    assert_eq!(status, StatusCode::CREATED);
    let device = Device::from_pairing(&app.address, key, &body);
    let page = app.page(&client, PAIRING).await;
    let shown = number_on(&page, "#pairing-number");
    let wrong = if shown == "10" { "11" } else { "10" };
    let (status, answer) = device.answer(&body["request"], "approve", wrong).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (StatusCode::OK, Some("wrong_number"))
    );
    let (status, _) = Device::offer(&app.address, &code, &new_key()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an activation code works once"
    );
    let r = carry_on(&app, &client, &page).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("Start again"));
    let page = app.page(&client, "/profile/self-service").await;
    assert!(!page.contains("NHSmal Authenticator"), "no method yet");

    // Started again, the right number pairs it.
    app.get_with(&client, &format!("{PAIRING}?again=1")).await;
    pair(&app, &client).await;
    let page = app.page(&client, "/profile/self-service").await;
    assert!(page.contains("Work phone"), "{page}");
    let events: Vec<String> = app.audit().await.into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"mfa.method_added".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_code_expires_after_ten_minutes_and_bad_offers_get_4xx() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let page = app.page(&client, PAIRING).await;
    let code = text_of(&page, "#activation-code");
    let http = reqwest::Client::new();
    for body in [
        "{".to_string(),
        json!({"activation_code": code}).to_string(),
        json!({"activation_code": code, "alg": "ES256", "public_key": "AAAA"}).to_string(),
        json!({"activation_code": code, "alg": "RS256", "public_key": public_key(&new_key())})
            .to_string(),
        json!({"activation_code": "x".repeat(5000), "alg": "ES256", "public_key": "A"}).to_string(),
    ] {
        let r = http
            .post(app.url("/api/v1/push/pair"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("POST");
        assert!(r.status().is_client_error(), "{body}: {}", r.status());
    }
    app.clock.advance(601);
    let (status, _) = Device::offer(&app.address, &code, &new_key()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_push_needs_the_number_shown_in_the_browser() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (client, page, number) = at_push_step(&app).await;
    let request = device.pending().await;
    // The app is told what is being signed in to, from where, and when; never the number.
    assert_eq!(request["action"], "Signing in");
    assert_eq!(request["app"], "NHSmal Portal");
    assert!(
        request["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("127."))
    );
    assert!(request.get("number").is_none());
    // Not approved yet: the page still waits.
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let (status, body) = device.answer(&request, "approve", &number).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(location(&r), "/profile");
    assert!(app.page(&client, "/profile").await.contains("My Profile"));
    // The same approval cannot be answered or used again.
    let (status, _) = device.answer(&request, "approve", &number).await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_number_or_a_denial_refuses_the_sign_in() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    for decision in ["wrong", "deny"] {
        let (client, page, number) = at_push_step(&app).await;
        let request = device.pending().await;
        let (status, body) = if decision == "wrong" {
            let wrong = if number == "99" { "98" } else { "99" };
            device.answer(&request, "approve", wrong).await
        } else {
            device.answer(&request, "deny", "").await
        };
        assert_eq!(status, StatusCode::OK, "{body}");
        let r = app.post_second_step(&client, &page, &[]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{decision}");
        assert!(r.text().await.expect("body").contains("Sign-in refused"));
        assert_eq!(
            location(&app.get_with(&client, "/profile").await),
            "/sign-in?next=%2Fprofile",
            "the refused sign-in is over"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_request_blocks_the_sign_in_and_flags_the_account() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (client, page, _) = at_push_step(&app).await;
    let (status, body) = device.answer(&device.pending().await, "report", "").await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("reported"))
    );
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.fraud_reported")
    );
    let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    use domain::monitoring::RiskRecords;
    let risk = app
        .store
        .risk_of(&ann.id)
        .await
        .expect("risk")
        .expect("flagged");
    assert!(
        risk.signals
            .contains(&domain::risk::Signal::ReportedByPerson)
    );
    assert!(app.outbox().iter().any(|m| {
        m["to"] == "ann@example.nhs.uk"
            && m["subject"]
                .as_str()
                .unwrap_or("")
                .contains("blocked a sign-in")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_removed_device_answers_are_refused() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (client, page, number) = at_push_step(&app).await;
    let request = device.pending().await;
    let id = request["id"].as_str().expect("id");
    let nonce = request["nonce"].as_str().expect("nonce");
    // Signed by another key, or over another number or nonce: refused, and nothing decided.
    let other = Device {
        key: new_key(),
        id: device.id.clone(),
        token: device.token.clone(),
        totp_secret: vec![],
        base: app.address.clone(),
    };
    for signature in [
        other.sign(id, &number, nonce, "approve"),
        device.sign(id, &number, "another nonce", "approve"),
        device.sign(id, "00", nonce, "approve"),
        "not base64 at all".to_string(),
    ] {
        let (status, _) = device
            .send_answer(
                id,
                &json!({"decision": "approve", "number": number, "signature": signature}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // A signature over "deny" does not approve.
    let deny = device.sign(id, &number, nonce, "deny");
    let (status, _) = device
        .send_answer(
            id,
            &json!({"decision": "approve", "number": number, "signature": deny}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A wrong token is not a device.
    let stranger = Device {
        token: format!("{}.AAAA", device.id),
        ..other
    };
    assert_eq!(stranger.requests().await.0, StatusCode::UNAUTHORIZED);
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "still waiting");

    // The right answer works once; its replay is too late.
    let signature = device.sign(id, &number, nonce, "approve");
    let body = json!({"decision": "approve", "number": number, "signature": signature});
    assert_eq!(device.send_answer(id, &body).await.0, StatusCode::OK);
    assert_eq!(device.send_answer(id, &body).await.0, StatusCode::GONE);
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(location(&r), "/profile");

    // Removed (as an administrator's reset does), the device is no longer known.
    {
        use domain::mfa::MethodRecords;
        let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
        for m in app.store.methods_of(&ann.id).await.expect("methods") {
            app.store.delete_method(&m.id).await.expect("delete");
        }
    }
    assert_eq!(device.requests().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        device.send_answer(id, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_after_two_minutes() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (client, page, number) = at_push_step(&app).await;
    let request = device.pending().await;
    app.clock.advance(121);
    assert_eq!(
        device.answer(&request, "approve", &number).await.0,
        StatusCode::GONE
    );
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.expect("body"), ".nhsuk-error-summary").contains("has ended"));
    assert_eq!(device.requests().await.1["requests"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_refused_requests_in_ten_minutes_stop_pushes_and_offer_other_methods() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    for _ in 0..3 {
        at_push_step(&app).await;
        device.answer(&device.pending().await, "deny", "").await;
        app.clock.advance(60);
    }
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let r = app.get_with(&client, "/sign-in/verify").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = r.text().await.expect("body");
    assert!(page.contains("stopped sending notifications"), "{page}");
    assert!(page.contains("Enter a code from the app instead"));
    assert_eq!(device.requests().await.1["requests"], json!([]));
    // The app's code still signs Ann in.
    let r = app
        .get_with(
            &client,
            &format!("/sign-in/verify?method={}&with=code", method_id(&app).await),
        )
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let code = crate::helpers::totp_code(&device.totp_secret, app.clock_now());
    let r = app.second_step(&client, &code).await;
    assert_eq!(location(&r), "/profile");
    // After the suspension (30 minutes by default), pushes go out again.
    app.clock.advance(31 * 60);
    at_push_step(&app).await;
}

async fn method_id(app: &TestApp) -> String {
    use domain::mfa::MethodRecords;
    let ann = crate::helpers::account(app, "ann@example.nhs.uk").await;
    app.store.methods_of(&ann.id).await.expect("methods")[0]
        .id
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_answers_at_once_approve_a_request_exactly_once() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (_, _, number) = at_push_step(&app).await;
    let request = device.pending().await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let device = std::sync::Arc::new(device);
    let answers = (0..50).map(|_| {
        let (barrier, device, request, number) = (
            barrier.clone(),
            device.clone(),
            request.clone(),
            number.clone(),
        );
        async move {
            barrier.wait().await;
            device.answer(&request, "approve", &number).await.0
        }
    });
    let statuses = futures::future::join_all(answers).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::GONE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_hears_of_a_request_over_its_event_stream_from_any_node() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let other = app.spawn_other_node().await;
    // The app is connected to the other node; the browser signs in on this one.
    let mut stream = reqwest::Client::new()
        .get(other.url("/api/v1/push/events"))
        .bearer_auth(&device.token)
        .send()
        .await
        .expect("GET events");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let (_, _, _) = at_push_step(&app).await;
    let id = device.pending().await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.expect("chunk") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&id) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    assert!(seen.contains("event: request"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_a_device_token_is_refused() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/push/events").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/push/events"))
        .bearer_auth("nobody.nothing")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_before_a_security_change_can_be_approved_in_the_app() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let (client, page, number) = at_push_step(&app).await;
    device
        .answer(&device.pending().await, "approve", &number)
        .await;
    assert_eq!(
        location(&app.post_second_step(&client, &page, &[]).await),
        "/profile"
    );
    // Later, adding a method asks again: by push.
    app.clock.advance(20 * 60);
    let r = app
        .get_with(&client, "/profile/self-service/enrol/text-message")
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&client, "/sign-in/verify").await;
    assert!(page.contains("To change how you sign in, prove it is you again."));
    let number = number_on(&page, "#push-number");
    device
        .answer(&device.pending().await, "approve", &number)
        .await;
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(location(&r), "/profile/self-service/enrol/text-message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_sign_ins_at_once_send_at_most_ten_pushes_an_hour() {
    let app = spawn_app().await;
    let device = ann_with_push(&app).await;
    let mut browsers = Vec::new();
    for _ in 0..50 {
        let client = browser();
        let r = app
            .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
            .await;
        assert_eq!(location(&r), "/sign-in/verify");
        browsers.push(client);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let steps = browsers.into_iter().map(|client| {
        let (barrier, url) = (barrier.clone(), app.url("/sign-in/verify"));
        async move {
            barrier.wait().await;
            client.get(url).send().await.expect("GET").status()
        }
    });
    let statuses = futures::future::join_all(steps).await;
    let sent = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((sent, refused), (10, 40), "{statuses:?}");
    let (_, body) = device.requests().await;
    assert_eq!(body["requests"].as_array().map(Vec::len), Some(10));
}

fn browser_from(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        reqwest::header::HeaderValue::from_str(ip).expect("header"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_risky_sign_in_is_not_announced_to_the_app_only_listed_when_it_is_opened() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    app.add_user("ann@example.nhs.uk").await;
    let home = browser_from("192.0.2.10");
    app.sign_in_with(&home, "ann@example.nhs.uk", PASSWORD)
        .await;
    let device = pair(&app, &home).await;
    // A routine sign-in from home, approved: the history the monitoring compares with.
    let r = app.get_with(&home, "/profile").await;
    let token = crate::helpers::csrf_token(&r.text().await.expect("body"));
    home.post(app.url("/sign-out"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST");
    app.sign_in_with(&home, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&home, "/sign-in/verify").await;
    let number = number_on(&page, "#push-number");
    device
        .answer(&device.pending().await, "approve", &number)
        .await;
    assert_eq!(
        location(&app.post_second_step(&home, &page, &[]).await),
        "/profile"
    );

    // The app listens; a sign-in comes from a new device on a new network.
    let mut stream = reqwest::Client::new()
        .get(app.url("/api/v1/push/events"))
        .bearer_auth(&device.token)
        .send()
        .await
        .expect("GET events");
    let stranger = browser_from("203.0.113.7");
    app.sign_in_with(&stranger, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&stranger, "/sign-in/verify").await;
    assert_eq!(number_on(&page, "#push-number").len(), 2);
    let request = device.pending().await;
    assert_eq!(request["silent"], true, "{request}");
    let mut seen = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(!seen.contains("event: request"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_can_hold_administrators_to_the_app_as_their_default() {
    let app = spawn_app().await;
    let (lee, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    assert_eq!(app.get_with(&lee, "/admin").await.status(), StatusCode::OK);
    let out = app.nhsmal(&["policy", "set", "--admin-push-default", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    let out = app.nhsmal(&["policy", "set", "--admin-push-default", "yes"]);
    assert!(out.status.success(), "{out:?}");
    let shown = app.nhsmal(&["policy", "show"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout)
            .contains("administrators' default must be the NHSmal Authenticator: yes")
    );
    let r = app.get_with(&lee, "/admin").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("NHSmal Authenticator as their default")
    );
    // Paired, the app becomes Lee's default, and the admin area opens.
    pair(&app, &lee).await;
    assert_eq!(app.get_with(&lee, "/admin").await.status(), StatusCode::OK);
}
