//! "Forgotten your password?": reset with the registered methods, the same pages for unknown
//! addresses, two different methods for administrators, and a short, single-use state.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, spawn_app_with, totp_code};

const NEW: &str = "another long passphrase for the mailbox 42";
const VERIFY: &str = "/sign-in/verify";
const CHOOSE: &str = "/forgotten-password/choose";
const NEW_PASSWORD: &str = "/forgotten-password/new-password";

/// The email step alone.
async fn email_step(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    app.submit(
        client,
        "/forgotten-password",
        "/forgotten-password",
        &[("email", email)],
    )
    .await
}

/// The email step, then "Authenticator app" chosen; returns the email step's answer.
async fn start(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let response = email_step(app, client, email).await;
    if response.status() == StatusCode::SEE_OTHER {
        let chosen = app.reset_choose(client, "totp").await;
        assert_eq!(location(&chosen), VERIFY);
    }
    response
}

/// The newest texted code, once the background has sent it.
async fn texted_code_after(app: &TestApp, texts_before: usize) -> String {
    for _ in 0..100 {
        let texts: Vec<_> = app
            .outbox()
            .into_iter()
            .filter(|m| m["channel"] == "sms")
            .collect();
        if texts.len() > texts_before {
            return texts
                .last()
                .and_then(|m| m["code"].as_str().map(str::to_string))
                .expect("a code");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no text was sent");
}

fn texts(app: &TestApp) -> usize {
    app.outbox()
        .iter()
        .filter(|m| m["channel"] == "sms")
        .count()
}

async fn save(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    app.submit(
        client,
        NEW_PASSWORD,
        NEW_PASSWORD,
        &[("new_password", password), ("confirm_password", confirm)],
    )
    .await
}

/// Adds a mobile number by text message to a session with a fresh factor.
async fn add_sms(app: &TestApp, client: &reqwest::Client) {
    let page = "/profile/self-service/enrol/text-message";
    let r = app
        .submit(
            client,
            page,
            page,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), page);
    let code = last_sms_code(app);
    let r = app
        .submit(client, page, page, &[("step", "verify"), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
}

fn last_sms_code(app: &TestApp) -> String {
    app.outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == "sms")
        .and_then(|m| m["code"].as_str().map(str::to_string))
        .expect("a texted code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_resets_a_forgotten_password_with_their_authenticator_app() {
    let app = spawn_app().await;
    let (old_session, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let client = browser();
    let response = start(&app, &client, "ann@fa123.nhs.uk").await;
    assert_eq!(location(&response), CHOOSE);
    let page = app.page(&client, VERIFY).await;
    assert!(page.contains("To reset your password, prove it is you."));
    // Not signed in: My Profile is out of reach during a reset.
    assert_eq!(location(&app.get_with(&client, "/profile").await), VERIFY);

    let code = totp_code(&key, app.clock_now());
    let response = app.second_step(&client, &code).await;
    assert_eq!(location(&response), NEW_PASSWORD);
    let response = save(&app, &client, "password", "password").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = save(&app, &client, NEW, "something else entirely 99").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("Passwords do not match")
    );
    let response = save(&app, &client, NEW, NEW).await;
    assert_eq!(location(&response), "/sign-in?reset=1");
    let page = app.page(&client, "/sign-in?reset=1").await;
    assert!(page.contains("Your password has been reset"));

    // Every other session ended; the person was told; the new password works, the old not.
    assert_eq!(
        location(&app.get_with(&old_session, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    let email = app
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == "email")
        .expect("email");
    assert_eq!(email["subject"], "Your NHSmal password has been reset");
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.sign_in_with(&browser(), "ann@fa123.nhs.uk", NEW).await;
    assert_eq!(location(&response), VERIFY);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "password.reset")
    );
    // The reset state is spent.
    let response = app.get_with(&client, NEW_PASSWORD).await;
    assert_eq!(location(&response), "/forgotten-password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_addresses_get_the_same_pages_and_codes_never_work_for_the_unknown() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.add_person("nomfa@fa123.nhs.uk", "FA123", "user").await;
    let mut shapes = vec![];
    for email in [
        "ann@fa123.nhs.uk",
        "nobody@fa123.nhs.uk",
        "nomfa@fa123.nhs.uk",
    ] {
        let client = browser();
        let response = start(&app, &client, email).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email}");
        assert_eq!(location(&response), CHOOSE);
        let cookies: Vec<String> = crate::helpers::set_cookies(response.headers())
            .iter()
            .map(|c| c.split('=').next().unwrap_or_default().to_string())
            .collect();
        let page = app.page(&client, VERIFY).await;
        let heading = crate::helpers::text_of(&page, "h1");
        let response = app.second_step(&client, "123456").await;
        shapes.push((cookies, heading, response.status()));
    }
    assert_eq!(shapes[0], shapes[1], "unknown address");
    assert_eq!(shapes[0], shapes[2], "account without a method");
    assert_eq!(shapes[0].2, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_addresses_take_similar_time() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let mut known = vec![];
    let mut unknown = vec![];
    for i in 0..100 {
        for (email, times) in [
            ("ann@fa123.nhs.uk", &mut known),
            ("nobody@fa123.nhs.uk", &mut unknown),
        ] {
            let client = browser();
            let token = crate::helpers::csrf_token(&app.page(&client, "/forgotten-password").await);
            #[allow(clippy::disallowed_methods)]
            let began = std::time::Instant::now();
            let response = client
                .post(app.url("/forgotten-password"))
                .form(&[("csrf_token", token.as_str()), ("email", email)])
                .send()
                .await
                .expect("POST");
            times.push(began.elapsed().as_secs_f64());
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }
        // Stay under the per-address limit of starts.
        if i % 4 == 3 {
            app.clock.advance(3_601);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let ratio = median(&mut known) / median(&mut unknown);
    assert!(
        (0.8..=1.25).contains(&ratio),
        "known/unknown median ratio {ratio}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_prove_two_different_kinds_of_method() {
    let app = spawn_app().await;
    let (client, key) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    // With only an authenticator app, Lee cannot reset: even the right code is refused.
    app.clock.advance(30);
    let reset = browser();
    start(&app, &reset, "lee@fa123.nhs.uk").await;
    let code = totp_code(&key, app.clock_now());
    let response = app.second_step(&reset, &code).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    add_sms(&app, &client).await;
    app.clock.advance(30);
    let reset = browser();
    start(&app, &reset, "lee@fa123.nhs.uk").await;
    let page = app.page(&reset, VERIFY).await;
    // The first step says nothing of two methods: that would tell an administrator's address.
    assert!(
        page.contains("To reset your password, prove it is you."),
        "{page}"
    );
    let words = crate::helpers::text_of(&page, "main");
    assert!(!words.contains("two"), "{words}");
    let code = totp_code(&key, app.clock_now());
    let response = app.second_step(&reset, &code).await;
    assert_eq!(location(&response), CHOOSE, "a second method next");
    let choice = app.page(&reset, CHOOSE).await;
    assert!(choice.contains("second, different method"));
    assert!(
        !choice.contains("value=\"totp\"") && choice.contains("value=\"sms\""),
        "another kind of method: {choice}"
    );
    let before = texts(&app);
    assert_eq!(location(&app.reset_choose(&reset, "sms").await), VERIFY);
    let page = app.page(&reset, VERIFY).await;
    assert!(
        page.contains("Enter the code we sent to your phone"),
        "the other kind"
    );
    let code = texted_code_after(&app, before).await;
    let response = app.second_step(&reset, &code).await;
    assert_eq!(location(&response), NEW_PASSWORD);
    let response = save(&app, &reset, NEW, NEW).await;
    assert_eq!(location(&response), "/sign-in?reset=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_number_of_methods_for_administrators_is_configurable() {
    let app = spawn_app_with(|s| s.password_reset_admin_methods = 1).await;
    let (_, key) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    app.clock.advance(30);
    let reset = browser();
    start(&app, &reset, "lee@fa123.nhs.uk").await;
    let response = app
        .second_step(&reset, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(location(&response), NEW_PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_lasts_fifteen_minutes() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let client = browser();
    start(&app, &client, "ann@fa123.nhs.uk").await;
    let response = app
        .second_step(&client, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(location(&response), NEW_PASSWORD);
    let token = crate::helpers::csrf_token(&app.page(&client, NEW_PASSWORD).await);
    app.clock.advance(15 * 60);
    let response = client
        .post(app.url(NEW_PASSWORD))
        .form(&[
            ("csrf_token", token.as_str()),
            ("new_password", NEW),
            ("confirm_password", NEW),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&response), "/forgotten-password", "expired");
    let response = app.sign_in_with(&browser(), "ann@fa123.nhs.uk", NEW).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_are_limited_per_address_and_wrong_codes_count_towards_the_lock() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    for _ in 0..5 {
        let response = start(&app, &browser(), "ann@fa123.nhs.uk").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let response = start(&app, &browser(), "ANN@fa123.nhs.uk").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    app.clock.advance(3_601);
    let client = browser();
    start(&app, &client, "ann@fa123.nhs.uk").await;
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        last = app.second_step(&client, "000000").await.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "the reset is locked");
    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e.event == "password_reset.locked"));
    // Only resets from that source are stopped: a stranger who knows the address cannot
    // lock its owner out of signing in (TH-2).
    assert!(audit.iter().all(|e| e.event != "account.locked"));
    let owner = browser();
    let response = app.sign_in_with(&owner, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(location(&response), VERIFY);
    let page = app.page(&owner, VERIFY).await;
    assert!(
        page.contains("Verification code"),
        "the second step still works"
    );
}

/// A JSON answer with its fresh challenge blanked (it differs on every request, real or not).
fn without_random_parts(body: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(body).expect("json");
    if let Some(challenge) = value.pointer_mut("/publicKey/challenge") {
        *challenge = serde_json::Value::String("CHALLENGE".into());
    }
    value.to_string()
}

/// The set of things a browser sees on every route of the second step, with the method id
/// replaced: what must be the same for a real reset and a decoy.
async fn second_step_shape(app: &TestApp, client: &reqwest::Client) -> Vec<String> {
    let page = app.page(client, VERIFY).await;
    let method = crate::helpers::input_value(&page, "method");
    let token = crate::helpers::csrf_token(&page);
    let mut shape = vec![crate::helpers::text_of(&page, "h1")];
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf_token", token.clone())];
        form.extend(fields);
        client.post(app.url(path)).form(&form).send()
    };
    let response = post("/sign-in/verify/resend", vec![("method", method.clone())])
        .await
        .expect("resend");
    shape.push(format!(
        "resend {} {}",
        response.status(),
        location(&response).replace(&method, "ID")
    ));
    for path in [
        "/sign-in/verify/security-key/options",
        "/sign-in/verify/security-key/finish",
        "/sign-in/recovery-code",
    ] {
        let response = post(path, vec![("method", method.clone())])
            .await
            .expect("post");
        let status = response.status();
        let body = response.text().await.expect("body");
        let body = if body.starts_with('{') {
            without_random_parts(&body)
        } else {
            String::new()
        };
        shape.push(format!("{path} {status} {body}"));
    }
    for path in ["/approvals/current", "/sign-in/recovery-code"] {
        let response = app.get_with(client, path).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        let body = if body.starts_with('{') {
            body
        } else {
            String::new()
        };
        shape.push(format!("GET {path} {status} {body}"));
    }
    let another = app.get_with(client, "/sign-in/another-way").await;
    shape.push(format!(
        "another way: {} {}",
        another.status(),
        location(&another)
    ));
    let choice = app.page(client, CHOOSE).await;
    shape.push(format!(
        "choice: {} {}",
        crate::helpers::text_of(&choice, "main"),
        choice.contains("Use a recovery code")
    ));
    shape.push(method);
    shape
}

/// A line of a shape with the credential id in security-key options blanked: made up for each
/// address, the same across its resets, as a real key's is.
fn without_credential_id(line: &str) -> String {
    match line.find("\"id\":\"") {
        Some(at) => {
            let rest = &line[at + 6..];
            let end = rest.find('"').unwrap_or(0);
            format!("{}\"id\":\"ID{}", &line[..at], &rest[end..])
        }
        None => line.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoy_answers_every_route_of_the_second_step_as_a_real_reset_does() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let mut shapes = vec![];
    for email in [
        "ann@fa123.nhs.uk",
        "ann@fa123.nhs.uk",
        "nobody@fa123.nhs.uk",
        "NOBODY@fa123.nhs.uk",
    ] {
        let client = browser();
        start(&app, &client, email).await;
        shapes.push(second_step_shape(&app, &client).await);
    }
    // The form names the kind chosen, never a method of the account.
    assert!(
        shapes
            .iter()
            .all(|s| s.last().map(String::as_str) == Some("totp"))
    );
    // A security key's id is the same across resets of one address, real or not.
    let key_id = |s: &Vec<String>| {
        s.iter()
            .find_map(|line| line.split("\"id\":\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .map(str::to_string)
            .expect("a credential id")
    };
    assert_eq!(key_id(&shapes[0]), key_id(&shapes[1]));
    assert_eq!(key_id(&shapes[2]), key_id(&shapes[3]));
    assert_ne!(key_id(&shapes[0]), key_id(&shapes[2]));
    let without_id = |s: &Vec<String>| {
        s[..s.len() - 1]
            .iter()
            .map(|line| without_credential_id(line))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_id(&shapes[0]), without_id(&shapes[2]));
    assert!(
        shapes[0].iter().any(|s| s.contains("allowCredentials")),
        "{:?}",
        shapes[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoy_keeps_counting_wrong_codes_across_email_steps_like_a_real_reset() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let mut results = vec![];
    for email in ["ann@fa123.nhs.uk", "nobody@fa123.nhs.uk"] {
        let mut statuses = vec![];
        let first = browser();
        start(&app, &first, email).await;
        for _ in 0..6 {
            statuses.push(app.second_step(&first, "000000").await.status());
        }
        // A fresh email step from the same place does not start the count again.
        let second = browser();
        start(&app, &second, email).await;
        for _ in 0..5 {
            statuses.push(app.second_step(&second, "000000").await.status());
        }
        results.push(statuses);
    }
    assert_eq!(results[0], results[1]);
    // The tenth wrong code is the last: it locks, as a real account's does.
    assert_eq!(results[0][8], StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(results[0][9], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_prove_a_reset_only_where_the_policy_allows_it() {
    let app = spawn_app().await;
    let codes = crate::recovery_codes::ann_with_codes(&app).await;
    app.clock.advance(30);

    // By default a recovery code cannot reset a password.
    let client = browser();
    start(&app, &client, "ann@fa123.nhs.uk").await;
    let another = app.page(&client, CHOOSE).await;
    assert!(!another.contains("Use a recovery code"));
    let response = app.get_with(&client, "/sign-in/recovery-code").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let token = crate::helpers::csrf_token(&app.page(&client, VERIFY).await);
    let response = client
        .post(app.url("/sign-in/recovery-code"))
        .form(&[("csrf_token", token.as_str()), ("recovery_code", &codes[0])])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        location(&app.get_with(&client, NEW_PASSWORD).await),
        "/forgotten-password"
    );

    // Bad input to the switch changes nothing.
    let out = app.nhsmal(&["policy", "set", "--recovery-codes-for-reset", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("yes or no"), "{err}");

    let out = app.nhsmal(&["policy", "set", "--recovery-codes-for-reset", "yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = app.nhsmal(&["policy", "show"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout)
            .contains("recovery codes count for a password reset: yes")
    );

    let client = browser();
    start(&app, &client, "ann@fa123.nhs.uk").await;
    let another = app.page(&client, CHOOSE).await;
    assert!(another.contains("Use a recovery code"));
    let response = app
        .submit(
            &client,
            "/sign-in/recovery-code",
            "/sign-in/recovery-code",
            &[("recovery_code", "AAAA-BBBB-CCCC")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .submit(
            &client,
            "/sign-in/recovery-code",
            "/sign-in/recovery-code",
            &[("recovery_code", &codes[0])],
        )
        .await;
    assert_eq!(location(&response), NEW_PASSWORD);
    let response = save(&app, &client, NEW, NEW).await;
    assert_eq!(location(&response), "/sign-in?reset=1");
    let subjects: Vec<String> = app
        .outbox()
        .iter()
        .filter(|m| m["channel"] == "email")
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("recovery code")),
        "{subjects:?}"
    );
    // The code is spent, here as at sign-in.
    let client = browser();
    start(&app, &client, "ann@fa123.nhs.uk").await;
    let response = app
        .submit(
            &client,
            "/sign-in/recovery-code",
            "/sign-in/recovery-code",
            &[("recovery_code", &codes[0])],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_may_use_a_recovery_code_as_one_of_two_methods_where_allowed() {
    let app = spawn_app().await;
    let (client, key) = app
        .with_fresh_factor("lena@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let page = "/profile/self-service/recovery-codes";
    let response = app.submit(&client, page, page, &[]).await;
    let html = response.text().await.expect("body");
    let doc = scraper::Html::parse_document(&html);
    let selector = scraper::Selector::parse("#recovery-codes code").expect("selector");
    let codes: Vec<String> = doc.select(&selector).map(|e| e.text().collect()).collect();
    assert_eq!(codes.len(), 10);
    app.clock.advance(30);

    // An app alone is not enough for an administrator, and by default codes do not count.
    let client = browser();
    start(&app, &client, "lena@fa123.nhs.uk").await;
    let code = totp_code(&key, app.clock_now());
    // (a decoy: nothing can prove it)
    assert_eq!(
        app.second_step(&client, &code).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    assert!(
        app.nhsmal(&["policy", "set", "--recovery-codes-for-reset", "yes"])
            .status
            .success()
    );
    app.clock.advance(60);
    let client = browser();
    start(&app, &client, "lena@fa123.nhs.uk").await;
    let code = totp_code(&key, app.clock_now());
    let response = app.second_step(&client, &code).await;
    assert_eq!(location(&response), CHOOSE);
    // The only other proof left is a recovery code, offered beside the other kinds.
    assert!(
        app.page(&client, CHOOSE)
            .await
            .contains("Use a recovery code")
    );
    let response = app
        .submit(
            &client,
            "/sign-in/recovery-code",
            "/sign-in/recovery-code",
            &[("recovery_code", &codes[0])],
        )
        .await;
    assert_eq!(location(&response), NEW_PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_a_reset_reads_the_same_for_every_address_whatever_its_methods() {
    let app = spawn_app().await;
    // An app; an app and a mobile number; no method; no account at all.
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let (bob, _) = app
        .with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    add_sms(&app, &bob).await;
    app.add_person("nomfa@fa123.nhs.uk", "FA123", "user").await;
    let emails = [
        "ann@fa123.nhs.uk",
        "bob@fa123.nhs.uk",
        "nomfa@fa123.nhs.uk",
        "nobody@fa123.nhs.uk",
    ];
    // A push step's number is drawn for each reset, as a real request's is: it is left out.
    let text = |html: &str| {
        let number = crate::helpers::text_of(html, "#push-number");
        crate::helpers::text_of(html, "main").replace(&number, "")
    };
    for kind in ["totp", "push", "sms", "voice", "fido2"] {
        let mut seen = vec![];
        for email in emails {
            let client = browser();
            let sent_before = app.outbox().len();
            let started = email_step(&app, &client, email).await;
            let choice = app.page(&client, CHOOSE).await;
            // Nothing is sent before the person chooses.
            assert_eq!(app.outbox().len(), sent_before, "{email}");
            let chosen = app.reset_choose(&client, kind).await;
            let step = app.page(&client, VERIFY).await;
            seen.push((
                started.status(),
                location(&started),
                text(&choice),
                location(&chosen),
                text(&step),
                crate::helpers::input_value(&step, "method"),
            ));
        }
        for (i, s) in seen.iter().enumerate().skip(1) {
            assert_eq!(&seen[0], s, "{kind}: {} and {}", emails[0], emails[i]);
        }
        // No page names a method of the account: no app's name, no digits of a number.
        assert!(!seen[0].4.contains("called"), "{}", seen[0].4);
        assert!(!seen[0].4.contains("123"), "{}", seen[0].4);
    }
    // Bob, who has a mobile number, got his text (sent after the page answered).
    for _ in 0..100 {
        if app.outbox().iter().any(|m| {
            m["channel"] == "sms" && m["body"].as_str().is_some_and(|b| b.contains("reset"))
        }) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no reset code was texted to Bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_resets_a_forgotten_password_by_approving_in_the_nhsmal_authenticator() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let device = crate::push::pair(&app, &client).await;
    let client = browser();
    let r = email_step(&app, &client, "ann@example.nhs.uk").await;
    assert_eq!(location(&r), CHOOSE);
    let chosen = app.reset_choose(&client, "push").await;
    assert_eq!(location(&chosen), VERIFY);
    let page = app.page(&client, VERIFY).await;
    let number: String = crate::helpers::text_of(&page, "#push-number")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(number.len(), 2, "{page}");
    // Sent in the background, with the number the page shows.
    let mut request = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, body) = device.requests().await;
        if let Some(r) = body["requests"].as_array().and_then(|l| l.first()) {
            request = r.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(request["action"], "Resetting your password", "{request}");
    let (status, body) = device.answer(&request, "approve", &number).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    let r = app.post_second_step(&client, &page, &[]).await;
    assert_eq!(location(&r), NEW_PASSWORD);
    let r = save(&app, &client, NEW, NEW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
