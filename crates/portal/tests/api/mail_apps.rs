//! Mail apps sign in through the portal (issue 22): native apps with loopback redirects on any
//! port (RFC 8252), the device authorization grant (RFC 8628) and its refusals, mail scopes,
//! and refresh chains that last for weeks.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Barrier;

use crate::helpers::{TestApp, browser, csrf_token, location, spawn_app, text_of};

pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const MAIL_SCOPE: &str = "openid email offline_access mail.imap mail.smtp";

/// Registers a native mail app with `nhsmal client add --native`; returns its client_id.
pub(crate) fn register_native(app: &TestApp, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["client", "add", "--native", "--name", name];
    args.extend_from_slice(extra);
    let out = app.nhsmal(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !text.contains("client_secret"),
        "a native app has no secret"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .map(|v| v.trim().to_string())
        .expect("client id printed")
}

/// The app asks for a device code.
pub(crate) async fn start(app: &TestApp, client_id: &str, scope: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/oauth2/device_authorization"))
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .expect("POST");
    (r.status(), r.json().await.expect("json"))
}

/// The app polls the token endpoint.
pub(crate) async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("POST");
    (r.status(), r.json().await.expect("json"))
}

/// The signed-in person types `code` at /device; returns the page.
pub(crate) async fn type_code(
    app: &TestApp,
    person: &reqwest::Client,
    code: &str,
) -> (StatusCode, String) {
    let r = app
        .submit(person, "/device", "/device", &[("user_code", code)])
        .await;
    (r.status(), r.text().await.expect("text"))
}

/// Allows (or denies) on the confirmation page `page`.
pub(crate) async fn decide(
    app: &TestApp,
    person: &reqwest::Client,
    page: &str,
    decision: &str,
) -> String {
    let code = crate::helpers::input_value(page, "user_code");
    person
        .post(app.url("/device/decision"))
        .form(&[
            ("csrf_token", csrf_token(page).as_str()),
            ("user_code", code.as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("POST")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_app_signs_in_with_a_code_typed_at_the_device_page_and_gets_mail_scopes() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Thunderbird", &[]);
    let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["device_authorization_endpoint"],
        format!("http://localhost:{}/oauth2/device_authorization", app.port)
    );
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .expect("list")
            .contains(&Value::from(DEVICE_GRANT))
    );
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .expect("list")
            .contains(&Value::from("mail.imap"))
    );

    let (status, started) = start(&app, &client_id, MAIL_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let user_code = started["user_code"]
        .as_str()
        .expect("user_code")
        .to_string();
    let device_code = started["device_code"]
        .as_str()
        .expect("device_code")
        .to_string();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    assert_eq!(
        started["verification_uri"],
        format!("http://localhost:{}/device", app.port)
    );
    assert!(
        started["verification_uri_complete"]
            .as_str()
            .expect("complete")
            .ends_with(&format!("/device?user_code={user_code}"))
    );

    let (status, body) = poll(&app, &client_id, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "authorization_pending");

    // The person, signed in, types the code (in lower case, without the dash) and sees which
    // app asks for what.
    let person = app.ann_signed_in().await;
    let (status, page) = type_code(&app, &person, &user_code.replace('-', "").to_lowercase()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        text_of(&page, "h1"),
        "Allow Thunderbird to use your NHSmal account?"
    );
    let scopes = text_of(&page, "#device-scopes");
    assert!(
        scopes.contains("Read, move and delete your email (IMAP)"),
        "{scopes}"
    );
    assert!(scopes.contains("Send email as you (SMTP)"), "{scopes}");
    assert!(page.contains("127.0.0.1"), "where the app asked from");
    let done = decide(&app, &person, &page, "allow").await;
    assert_eq!(text_of(&done, "h1"), "Thunderbird is connected");

    app.clock.advance(5);
    let (status, tokens) = poll(&app, &client_id, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        tokens["scope"],
        "openid email offline_access mail.imap mail.smtp"
    );
    assert!(tokens["refresh_token"].is_string());
    assert!(tokens["id_token"].is_string());

    // The device code is single use: presented again it revokes what it gave.
    app.clock.advance(5);
    let (status, again) = poll(&app, &client_id, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    let (status, refreshed) = crate::mail_apps::refresh(
        &app,
        &client_id,
        tokens["refresh_token"].as_str().expect("refresh"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refreshed}");

    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e.event == "oidc.device_allowed"));
}

/// The mail app `client_id` given access by the signed-in `person` with the device grant
/// (start, the code typed and allowed, the poll): its tokens.
pub(crate) async fn allowed_by(app: &TestApp, person: &reqwest::Client, client_id: &str) -> Value {
    let (_, started) = start(app, client_id, MAIL_SCOPE).await;
    let (_, page) = type_code(app, person, started["user_code"].as_str().expect("code")).await;
    decide(app, person, &page, "allow").await;
    let (status, tokens) = poll(app, client_id, started["device_code"].as_str().expect("dc")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

pub(crate) async fn refresh(app: &TestApp, client_id: &str, token: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("POST");
    (r.status(), r.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_faster_than_the_interval_is_told_to_slow_down_and_the_interval_grows() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Outlook", &[]);
    let (_, started) = start(&app, &client_id, MAIL_SCOPE).await;
    let device_code = started["device_code"].as_str().expect("device_code");
    assert_eq!(
        poll(&app, &client_id, device_code).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(
        poll(&app, &client_id, device_code).await.1["error"],
        "slow_down"
    );
    // The interval is now 10 seconds: 5 is too soon, 10 is fine.
    app.clock.advance(5);
    assert_eq!(
        poll(&app, &client_id, device_code).await.1["error"],
        "slow_down"
    );
    app.clock.advance(15);
    assert_eq!(
        poll(&app, &client_id, device_code).await.1["error"],
        "authorization_pending"
    );

    // 50 polls at once: one is answered, 49 are told to slow down.
    app.clock.advance(60);
    let barrier = Arc::new(Barrier::new(50));
    let mut tasks = vec![];
    for _ in 0..50 {
        let (barrier, url, client_id, code) = (
            barrier.clone(),
            app.url("/oauth2/token"),
            client_id.clone(),
            device_code.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", code.as_str()),
                    ("client_id", client_id.as_str()),
                ])
                .send()
                .await
                .expect("POST");
            let body: Value = r.json().await.expect("json");
            body["error"].as_str().unwrap_or_default().to_string()
        }));
    }
    let mut answers = vec![];
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    let pending = answers
        .iter()
        .filter(|a| *a == "authorization_pending")
        .count();
    let slow = answers.iter().filter(|a| *a == "slow_down").count();
    assert_eq!((pending, slow), (1, 49), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_code_expires_and_a_denied_one_says_access_denied() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Apple Mail", &[]);
    let person = app.ann_signed_in().await;

    let (_, first) = start(&app, &client_id, MAIL_SCOPE).await;
    let (_, page) = type_code(&app, &person, first["user_code"].as_str().expect("code")).await;
    let done = decide(&app, &person, &page, "deny").await;
    assert_eq!(text_of(&done, "h1"), "Apple Mail was not allowed");
    let (status, body) = poll(&app, &client_id, first["device_code"].as_str().expect("dc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "access_denied");
    // A decided code cannot be decided again.
    let again = decide(&app, &person, &page, "allow").await;
    assert!(
        again.contains("The code is not correct, or it has expired"),
        "{again}"
    );

    let (_, second) = start(&app, &client_id, MAIL_SCOPE).await;
    app.clock.advance(601);
    let (status, body) = poll(
        &app,
        &client_id,
        second["device_code"].as_str().expect("dc"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "expired_token");
    let (status, page) =
        type_code(&app, &person, second["user_code"].as_str().expect("code")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The code is not correct, or it has expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_user_codes_at_once_get_five_tries_and_then_even_the_right_one_waits() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Thunderbird", &[]);
    let (_, started) = start(&app, &client_id, MAIL_SCOPE).await;
    let person = app.ann_signed_in().await;
    let form_page = app.page(&person, "/device").await;
    let token = csrf_token(&form_page);
    let barrier = Arc::new(Barrier::new(50));
    let mut tasks = vec![];
    for i in 0..50 {
        let (barrier, person, url, token) = (
            barrier.clone(),
            person.clone(),
            app.url("/device"),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Wrong codes of the right shape.
            let code = format!("BCDF-{}", ["GHJK", "LMNP", "QRST", "VWXZ", "BBBB"][i % 5]);
            barrier.wait().await;
            let r = person
                .post(url)
                .form(&[("csrf_token", token.as_str()), ("user_code", code.as_str())])
                .send()
                .await
                .expect("POST");
            (r.status(), r.text().await.expect("text"))
        }));
    }
    let mut wrong = 0;
    let mut waiting = 0;
    for t in tasks {
        let (status, page) = t.await.expect("task");
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        if page.contains("The code is not correct") {
            wrong += 1;
        } else if page.contains("Too many wrong codes") {
            waiting += 1;
        }
    }
    assert_eq!((wrong, waiting), (5, 45));
    let (status, page) =
        type_code(&app, &person, started["user_code"].as_str().expect("code")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Too many wrong codes"));
    // The window passes: a right code is taken (the first has expired meanwhile).
    app.clock.advance(15 * 60 + 1);
    let (_, started) = start(&app, &client_id, MAIL_SCOPE).await;
    let (status, page) =
        type_code(&app, &person, started["user_code"].as_str().expect("code")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.device_code_guesses")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_page_refuses_hostile_input_with_a_clear_message_and_needs_a_session_and_csrf() {
    let app = spawn_app().await;
    // Not signed in: to the sign-in page, coming back with the code.
    let r = browser()
        .get(app.url("/device?user_code=WDJB-MJHT"))
        .send()
        .await
        .expect("GET");
    assert!(r.status().is_redirection());
    assert!(location(&r).starts_with("/sign-in"), "{}", location(&r));
    assert!(location(&r).contains("user_code"), "{}", location(&r));

    let person = app.ann_signed_in().await;
    for typed in ["", "x", &"A".repeat(10_000), "WDJB-MJH\u{0}T", "<script>"] {
        let (status, page) = type_code(&app, &person, typed).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:.20}");
        assert!(page.contains("Enter the code exactly as your app or device shows it"));
        assert!(!page.contains("<script>"));
    }
    let r = person
        .post(app.url("/device"))
        .form(&[("user_code", "WDJB-MJHT")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_native_app_uses_the_device_grant_and_only_its_own_device_code() {
    let app = spawn_app().await;
    let (web, _) = crate::oidc::register(&app, &["--public"]);
    let (status, body) = start(&app, &web, MAIL_SCOPE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    let (status, body) = start(&app, &thunderbird, "email mail.imap").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
    let (status, body) = start(&app, "no-such-client", MAIL_SCOPE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    let outlook = register_native(&app, "Outlook", &[]);
    let (_, started) = start(&app, &thunderbird, MAIL_SCOPE).await;
    let (status, body) = poll(&app, &outlook, started["device_code"].as_str().expect("dc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = poll(&app, &thunderbird, "not-a-device-code").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_apps_loopback_redirect_works_on_any_port_and_a_web_apps_does_not() {
    let app = spawn_app().await;
    let native = register_native(
        &app,
        "Thunderbird",
        &[
            "--first-party",
            "--redirect-uri",
            "http://127.0.0.1/callback",
        ],
    );
    let out = app.nhsmal(&[
        "client",
        "add",
        "--native",
        "--name",
        "Bad",
        "--redirect-uri",
        "http://localhost/callback",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1"));
    let (web, _) = crate::oidc::register(
        &app,
        &["--public", "--redirect-uri", "http://127.0.0.1/callback"],
    );
    let person = app.ann_signed_in().await;
    let authorize = |client_id: &str, redirect: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", MAIL_SCOPE)
            .append_pair("state", "s")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        format!("/oauth2/authorize?{}", q.finish())
    };
    let r = app
        .get_with(
            &person,
            &authorize(&native, "http://127.0.0.1:53123/callback"),
        )
        .await;
    assert!(
        location(&r).starts_with("http://127.0.0.1:53123/callback?code="),
        "{}",
        location(&r)
    );
    let r = app
        .get_with(&person, &authorize(&web, "http://127.0.0.1:53123/callback"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_apps_refresh_chain_lasts_weeks_and_still_detects_reuse() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Thunderbird", &[]);
    let person = app.ann_signed_in().await;
    let tokens = allowed_by(&app, &person, &client_id).await;
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    // A day later (a web app's chain ends after 12 hours).
    app.clock.advance(24 * 3_600);
    let (status, next) = refresh(&app, &client_id, &first).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let second = next["refresh_token"].as_str().expect("refresh").to_string();
    // 29 days later still.
    app.clock.advance(29 * 86_400);
    let (status, next) = refresh(&app, &client_id, &second).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    // The first token again: reuse, and the chain is revoked.
    let (status, _) = refresh(&app, &client_id, &first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = refresh(
        &app,
        &client_id,
        next["refresh_token"].as_str().expect("refresh"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_apps_refresh_token_unused_for_a_month_ends() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Thunderbird", &[]);
    let person = app.ann_signed_in().await;
    let tokens = allowed_by(&app, &person, &client_id).await;
    app.clock.advance(30 * 86_400 + 1);
    let (status, body) = refresh(
        &app,
        &client_id,
        tokens["refresh_token"].as_str().expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_device_code_requests_at_once_from_one_address_get_twenty() {
    let app = spawn_app().await;
    let client_id = register_native(&app, "Thunderbird", &[]);
    let barrier = Arc::new(Barrier::new(50));
    let mut tasks = vec![];
    for _ in 0..50 {
        let (barrier, url, client_id) = (
            barrier.clone(),
            app.url("/oauth2/device_authorization"),
            client_id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            reqwest::Client::new()
                .post(url)
                .form(&[("client_id", client_id.as_str()), ("scope", MAIL_SCOPE)])
                .send()
                .await
                .expect("POST")
                .status()
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, limited), (20, 30), "{statuses:?}");
    app.clock.advance(10 * 60 + 1);
    assert_eq!(start(&app, &client_id, MAIL_SCOPE).await.0, StatusCode::OK);
}
