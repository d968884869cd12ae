//! The GOV.UK Notify and Twilio adapters against a local HTTP server that checks each request
//! as the providers document it, and can answer with their error responses.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use reqwest::StatusCode as Status;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app_with, text_of};

const NOTIFY_SERVICE: &str = "26785a09-ab16-4eb0-8407-a37497a57506";
const NOTIFY_SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";
const TEMPLATE: &str = "f33517ff-2a88-4f6e-b855-c550268ce08a";
const TWILIO_SID: &str = "AC00000000000000000000000000000001";
const TWILIO_TOKEN: &str = "twilio-test-auth-token";

/// What the fake provider saw, and what it should answer next.
#[derive(Default)]
struct Provider {
    requests: Vec<(String, HeaderMap, Bytes)>,
    answer: Option<(u16, String)>,
}

type Shared = Arc<Mutex<Provider>>;

async fn record(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut p = shared.lock().expect("lock");
    p.requests.push((uri.path().to_string(), headers, body));
    let (status, body) = p.answer.clone().unwrap_or((
        201,
        "{\"id\":\"740e5834-3a29-46b4-9a6f-16142fde533a\"}".into(),
    ));
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/json")],
        body,
    )
}

async fn fake_provider() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let router = axum::Router::new()
        .fallback(axum::routing::post(record))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, shared)
}

async fn enrol_sms(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in_with(client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = "/profile/self-service/enrol/text-message";
    app.submit(
        client,
        page,
        page,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await
}

#[derive(serde::Deserialize)]
struct NotifyClaims {
    iss: String,
    iat: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_go_to_gov_uk_notify_with_a_signed_token_and_the_template() {
    let (url, provider) = fake_provider().await;
    let app = spawn_app_with(|s| {
        s.providers.sms = nhsmal::notify::SmsProvider::Notify;
        s.providers.notify_base_url = url.clone();
        s.providers.notify_api_key =
            nhsmal::notify::Secret(format!("nhsmal_test-{NOTIFY_SERVICE}-{NOTIFY_SECRET}"));
        s.providers.notify_sms_template_id = TEMPLATE.into();
    })
    .await;
    let client = browser();
    let r = enrol_sms(&app, &client).await;
    assert_eq!(location(&r), "/profile/self-service/enrol/text-message");

    let (path, headers, body) = provider
        .lock()
        .expect("lock")
        .requests
        .pop()
        .expect("a request");
    assert_eq!(path, "/v2/notifications/sms");
    assert_eq!(headers["content-type"], "application/json");
    let bearer = headers["authorization"]
        .to_str()
        .expect("text")
        .strip_prefix("Bearer ")
        .expect("bearer token")
        .to_string();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<NotifyClaims>(
        &bearer,
        &jsonwebtoken::DecodingKey::from_secret(NOTIFY_SECRET.as_bytes()),
        &validation,
    )
    .expect("a JWT signed with the key's secret, HS256")
    .claims;
    assert_eq!(claims.iss, NOTIFY_SERVICE);
    assert_eq!(claims.iat, app.clock_now());
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(json["phone_number"], "+447700900123");
    assert_eq!(json["template_id"], TEMPLATE);
    let message = json["personalisation"]["message"]
        .as_str()
        .expect("message");
    let code: String = message
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert_eq!(code.len(), 6);
    assert!(
        app.outbox().is_empty() || app.outbox().iter().all(|m| m["channel"] != "sms"),
        "not in the outbox"
    );

    // The code from Notify proves the number.
    let page = "/profile/self-service/enrol/text-message";
    let r = app
        .submit(&client, page, page, &[("step", "verify"), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_errors_show_a_clear_message_and_use_up_no_attempt() {
    let (url, provider) = fake_provider().await;
    let app = spawn_app_with(|s| {
        s.providers.sms = nhsmal::notify::SmsProvider::Notify;
        s.providers.notify_base_url = url.clone();
        s.providers.notify_api_key =
            nhsmal::notify::Secret(format!("nhsmal_test-{NOTIFY_SERVICE}-{NOTIFY_SECRET}"));
        s.providers.notify_sms_template_id = TEMPLATE.into();
    })
    .await;
    for (status, body) in [
        (
            400,
            r#"{"errors":[{"error":"BadRequestError","message":"Can't send to this recipient using a team-only API key"}],"status_code":400}"#,
        ),
        (
            429,
            r#"{"errors":[{"error":"RateLimitError","message":"Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"}],"status_code":429}"#,
        ),
        (
            500,
            r#"{"errors":[{"error":"Exception","message":"Internal server error"}],"status_code":500}"#,
        ),
    ] {
        provider.lock().expect("lock").answer = Some((status, body.into()));
        let client = browser();
        let email = format!("user{status}@example.nhs.uk");
        app.add_user(&email).await;
        app.sign_in_with(&client, &email, PASSWORD).await;
        let page = "/profile/self-service/enrol/text-message";
        for _ in 0..6 {
            let r = app
                .submit(
                    &client,
                    page,
                    page,
                    &[("step", "send"), ("phone", "07700 900123")],
                )
                .await;
            assert_eq!(r.status(), Status::SERVICE_UNAVAILABLE, "Notify {status}");
            let text = text_of(&r.text().await.expect("body"), ".nhsuk-error-summary");
            assert!(text.contains("could not reach your phone"), "{text}");
            assert!(
                !text.contains("BadRequestError") && !text.contains("team-only"),
                "provider detail stays in the log"
            );
        }
    }
    // Failures were not counted: the next send goes through once Notify is back.
    provider.lock().expect("lock").answer = None;
    let client = browser();
    app.sign_in_with(&client, "user400@example.nhs.uk", PASSWORD)
        .await;
    let page = "/profile/self-service/enrol/text-message";
    let r = app
        .submit(
            &client,
            page,
            page,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), page);
}

fn twilio_app_settings(url: String) -> impl FnOnce(&mut nhsmal::config::Settings) {
    move |s| {
        s.providers.sms = nhsmal::notify::SmsProvider::Twilio;
        s.providers.voice = nhsmal::notify::VoiceProvider::Twilio;
        s.providers.twilio_base_url = url;
        s.providers.twilio_account_sid = TWILIO_SID.into();
        s.providers.twilio_auth_token = nhsmal::notify::Secret(TWILIO_TOKEN.into());
        s.providers.twilio_from = "+447700900999".into();
    }
}

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name}"))
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    headers["authorization"] == format!("Basic {expected}").as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_go_to_twilio_messages_with_basic_auth() {
    let (url, provider) = fake_provider().await;
    let app = spawn_app_with(twilio_app_settings(url)).await;
    let client = browser();
    let r = enrol_sms(&app, &client).await;
    assert_eq!(location(&r), "/profile/self-service/enrol/text-message");
    let (path, headers, body) = provider
        .lock()
        .expect("lock")
        .requests
        .pop()
        .expect("request");
    assert_eq!(
        path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    assert!(basic_auth_ok(&headers));
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    let fields = form_fields(&body);
    assert_eq!(field(&fields, "To"), "+447700900123");
    assert_eq!(field(&fields, "From"), "+447700900999");
    assert!(field(&fields, "Body").contains("NHSmal"));
}

/// Twilio's signature, computed here independently of the product's function.
fn sign(url: &str, fields: &[(&str, &str)]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut sorted = fields.to_vec();
    sorted.sort();
    let data: String = std::iter::once(url.to_string())
        .chain(sorted.iter().map(|(k, v)| format!("{k}{v}")))
        .collect();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_to_twilio_with_a_gather_and_only_signed_callbacks_count() {
    let (url, provider) = fake_provider().await;
    let app = spawn_app_with(twilio_app_settings(url)).await;
    app.add_user("ann@example.nhs.uk").await;
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = "/profile/self-service/enrol/phone-call";
    let r = app
        .submit(
            &client,
            page,
            page,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), page);
    let (path, headers, body) = provider
        .lock()
        .expect("lock")
        .requests
        .pop()
        .expect("request");
    assert_eq!(
        path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Calls.json")
    );
    assert!(basic_auth_ok(&headers));
    let fields = form_fields(&body);
    assert_eq!(field(&fields, "To"), "+447700900123");
    let twiml = field(&fields, "Twiml");
    assert!(
        twiml.starts_with("<Response><Gather")
            && twiml.contains("numDigits=\"2\"")
            && twiml.contains("NHSmal"),
        "{twiml}"
    );
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("action")
        .to_string();
    assert!(
        action.starts_with(&format!(
            "http://localhost:{}/telephony/twilio/keypad/",
            app.port
        )),
        "{action}"
    );
    let path = action
        .split_once(&format!(":{}", app.port))
        .map(|(_, p)| p.to_string())
        .expect("path");

    let callback = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("Digits", "#"),
        ("From", "+447700900123"),
    ];
    // A forged callback (wrong signature) is refused and changes nothing.
    let forged = browser()
        .post(app.url(&path))
        .header("x-twilio-signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .form(&callback)
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), Status::FORBIDDEN);
    let r = app
        .submit(&client, page, page, &[("step", "continue")])
        .await;
    assert_eq!(r.status(), Status::ACCEPTED, "still waiting");
    // Nothing pressed (an empty Digits) approves nothing, even signed.
    let empty = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("Digits", ""),
        ("From", "+447700900123"),
    ];
    let r = browser()
        .post(app.url(&path))
        .header("x-twilio-signature", sign(&action, &empty))
        .form(&empty)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), Status::OK);
    let r = app
        .submit(&client, page, page, &[("step", "continue")])
        .await;
    assert_eq!(r.status(), Status::ACCEPTED, "{}", location(&r));
    // The unsigned outbox keypad is closed when Twilio places the calls.
    let token = path.rsplit('/').next().expect("token");
    let r = browser()
        .post(app.url(&format!("/telephony/keypad/{token}")))
        .form(&[("Digits", "#")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), Status::NOT_FOUND);
    // The signed "#" approves.
    let signed = browser()
        .post(app.url(&path))
        .header("x-twilio-signature", sign(&action, &callback))
        .form(&callback)
        .send()
        .await
        .expect("POST");
    assert_eq!(signed.status(), Status::OK);
    assert!(signed.text().await.expect("twiml").contains("<Say"));
    let r = app
        .submit(&client, page, page, &[("step", "continue")])
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
}
