use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, text_of, totp_code};

/// Ann has an authenticator app; returns its key. She is signed out afterwards.
async fn ann_with_an_app(app: &TestApp) -> Vec<u8> {
    let client = app.ann_signed_in().await;
    let secret = app.enrol_authenticator_app(&client).await;
    // The enrolment code's step is used up; move to the next step for the tests.
    app.clock.advance(30);
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_page_shows_a_160_bit_key_and_the_otpauth_uri_in_the_qr_code() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let page = app
        .page(&app.client, "/profile/self-service/enrol/authenticator-app")
        .await;
    let key = text_of(&page, "#totp-secret").replace(' ', "");
    assert_eq!(key.len(), 32, "160 bits in base32");
    let doc = scraper::Html::parse_document(&page);
    let img = scraper::Selector::parse("img.portal-qr").expect("selector");
    let src = doc
        .select(&img)
        .next()
        .and_then(|e| e.value().attr("src"))
        .expect("QR image");
    assert!(src.starts_with("data:image/svg+xml;base64,"));
    // Nothing is saved until a code proves the app has the key.
    use domain::mfa::MethodRecords;
    let account = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    assert!(
        app.store
            .methods_of(&account.id)
            .await
            .expect("q")
            .is_empty()
    );
    let wrong = app
        .client
        .post(app.url("/profile/self-service/enrol/authenticator-app"))
        .form(&[
            ("csrf_token", crate::helpers::csrf_token(&page).as_str()),
            ("code", "000000"),
            ("name", ""),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&wrong.text().await.expect("body"), ".nhsuk-error-summary").contains("not correct")
    );
    assert!(
        app.store
            .methods_of(&account.id)
            .await
            .expect("q")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_enrols_an_app_and_then_needs_its_code_to_sign_in() {
    let app = spawn_app().await;
    let secret = ann_with_an_app(&app).await;
    let mail = app.outbox();
    assert!(
        mail.iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains("was added")),
        "{mail:?}"
    );

    let client = browser();
    let response = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/sign-in/verify");
    // Skipping the second step gets nowhere.
    for path in [
        "/profile",
        "/profile/self-service",
        "/profile/change-password",
    ] {
        let r = app.get_with(&client, path).await;
        assert_eq!(location(&r), "/sign-in/verify", "{path}");
    }
    let page = app.page(&client, "/sign-in/verify").await;
    assert!(page.contains("Verification code") && page.contains("Sign in another way"));
    let response = app
        .second_step(&client, &totp_code(&secret, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
    let events = app.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.event == "mfa.verify" && e.outcome == "success")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_works_once_even_within_its_own_time_step() {
    let app = spawn_app().await;
    let secret = ann_with_an_app(&app).await;
    let code = totp_code(&secret, app.clock_now());
    let first = browser();
    app.sign_in_with(&first, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(
        app.second_step(&first, &code).await.status(),
        StatusCode::SEE_OTHER
    );
    let second = browser();
    app.sign_in_with(&second, "ann@example.nhs.uk", PASSWORD)
        .await;
    let replay = app.second_step(&second, &code).await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        location(&app.get_with(&second, "/profile").await),
        "/sign-in/verify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_one_step_either_side_work_but_two_steps_old_do_not() {
    let app = spawn_app().await;
    let secret = ann_with_an_app(&app).await;
    app.clock.advance(300);
    let now = app.clock_now();
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let old = app
        .second_step(&client, &totp_code(&secret, now - 60))
        .await;
    assert_eq!(
        old.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "two steps old"
    );
    let previous = app
        .second_step(&client, &totp_code(&secret, now - 30))
        .await;
    assert_eq!(
        previous.status(),
        StatusCode::SEE_OTHER,
        "one step old is within skew"
    );
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let next = app
        .second_step(&client, &totp_code(&secret, now + 30))
        .await;
    assert_eq!(
        next.status(),
        StatusCode::SEE_OTHER,
        "one step ahead is within skew"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_persons_code_and_wrong_codes_are_refused_and_ten_lock_the_account() {
    let app = spawn_app().await;
    let _ann = ann_with_an_app(&app).await;
    // Bob has his own app.
    app.add_user("bob@example.nhs.uk").await;
    let bob_client = browser();
    app.sign_in_with(&bob_client, "bob@example.nhs.uk", PASSWORD)
        .await;
    let bob = app.enrol_authenticator_app(&bob_client).await;
    app.clock.advance(30);

    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let response = app
        .second_step(&client, &totp_code(&bob, app.clock_now()))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "Bob's code is not Ann's"
    );
    for i in 2..=10 {
        let r = app.second_step(&client, "123456").await;
        if i < 10 {
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "failure {i}");
        }
    }
    let locked = app.second_step(&client, "123456").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get("retry-after").is_some());
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.locked")
    );
    assert!(
        app.outbox()
            .iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains("locked"))
    );
    // The lock holds for a new sign-in too, and ends by itself.
    let other = browser();
    let r = app
        .sign_in_with(&other, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let r = app.get_with(&other, "/sign-in/verify").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", location(&r));
    assert_eq!(
        app.second_step(&other, "654321").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(15 * 60);
    // (The half-signed-in session has expired meanwhile: 10 minutes at the second step.)
    assert_eq!(
        location(&app.get_with(&other, "/sign-in/verify").await),
        "/sign-in"
    );
    let again = browser();
    app.sign_in_with(&again, "ann@example.nhs.uk", PASSWORD)
        .await;
    let wrong = app.second_step(&again, "654321").await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unlocked: an ordinary wrong code"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_encrypted_at_rest() {
    let app = spawn_app().await;
    let secret = ann_with_an_app(&app).await;
    let pool = sqlx::AnyPool::connect(app.database_url())
        .await
        .expect("connect");
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT secret FROM mfa_methods")
        .fetch_all(&pool)
        .await
        .expect("query");
    assert_eq!(rows.len(), 1);
    let stored = &rows[0].0;
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_slice()),
        "raw key in the database"
    );
    let b32 = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &secret);
    assert!(!String::from_utf8_lossy(stored).contains(&b32));
    // Nor is the pending key in the session row in clear.
    let flows: Vec<(Option<String>,)> = sqlx::query_as("SELECT flow FROM sessions")
        .fetch_all(&pool)
        .await
        .expect("query");
    for (flow,) in flows {
        assert!(!flow.unwrap_or_default().contains(&b32));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_are_listed_renamed_made_default_and_removed_after_a_fresh_code() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let first = app.enrol_authenticator_app(&client).await;
    app.clock.advance(30);
    // A second app needs a fresh second factor first: the first sign-in had none.
    let response = app
        .get_with(&client, "/profile/self-service/enrol/authenticator-app")
        .await;
    assert_eq!(location(&response), "/sign-in/verify");
    let response = app
        .second_step(&client, &totp_code(&first, app.clock_now()))
        .await;
    assert_eq!(
        location(&response),
        "/profile/self-service/enrol/authenticator-app"
    );
    let second = app.enrol_authenticator_app(&client).await;
    assert_ne!(first, second);

    let page = app.page(&client, "/profile/self-service").await;
    let rows = text_of(&page, "tbody tr");
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.lines().next().unwrap_or("").contains("Default"));
    assert!(!page.contains(&base32::encode(
        base32::Alphabet::Rfc4648 { padding: false },
        &first
    )));

    use domain::mfa::MethodRecords;
    let account = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    let methods = app.store.methods_of(&account.id).await.expect("q");
    let other = methods
        .iter()
        .find(|m| !m.is_default)
        .expect("second method")
        .id
        .clone();
    let r = app
        .submit(
            &client,
            "/profile/self-service",
            &format!("/profile/self-service/methods/{other}/rename"),
            &[("name", "Tablet")],
        )
        .await;
    assert_eq!(location(&r), "/profile/self-service?renamed=1");
    let r = app
        .submit(
            &client,
            "/profile/self-service",
            &format!("/profile/self-service/methods/{other}/default"),
            &[],
        )
        .await;
    assert_eq!(location(&r), "/profile/self-service?changed_default=1");
    let methods = app.store.methods_of(&account.id).await.expect("q");
    let renamed = methods.iter().find(|m| m.id == other).expect("method");
    assert!(renamed.is_default && renamed.name == "Tablet");

    // Removing within 15 minutes of the last code works; later it asks for a code again.
    app.clock.advance(16 * 60);
    let r = app
        .get_with(
            &client,
            &format!("/profile/self-service/methods/{other}/remove"),
        )
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let r = app
        .second_step(&client, &totp_code(&second, app.clock_now()))
        .await;
    assert_eq!(
        location(&r),
        format!("/profile/self-service/methods/{other}/remove")
    );
    let r = app
        .submit(
            &client,
            &format!("/profile/self-service/methods/{other}/remove"),
            &format!("/profile/self-service/methods/{other}/remove"),
            &[],
        )
        .await;
    assert_eq!(location(&r), "/profile/self-service?removed=1");
    let left = app.store.methods_of(&account.id).await.expect("q");
    assert_eq!(left.len(), 1);
    assert!(
        left[0].is_default,
        "the remaining method became the default"
    );
    assert!(
        app.outbox()
            .iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains("was removed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_persons_method_cannot_be_changed() {
    let app = spawn_app().await;
    let _ = ann_with_an_app(&app).await;
    use domain::mfa::MethodRecords;
    let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    let ann_method = app.store.methods_of(&ann.id).await.expect("q")[0]
        .id
        .clone();
    app.add_user("bob@example.nhs.uk").await;
    let bob = browser();
    app.sign_in_with(&bob, "bob@example.nhs.uk", PASSWORD).await;
    for action in ["rename", "remove", "default"] {
        let r = app
            .submit(
                &bob,
                "/profile/self-service",
                &format!("/profile/self-service/methods/{ann_method}/{action}"),
                &[("name", "Mine now")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let methods = app.store.methods_of(&ann.id).await.expect("q");
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].name, "Work phone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_authenticator_app_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let mut last = app.enrol_authenticator_app(&client).await;
    for _ in 0..4 {
        app.clock.advance(30);
        // Each new app needs a fresh code from an existing one: use the newest.
        let r = app
            .get_with(&client, "/profile/self-service/enrol/authenticator-app")
            .await;
        if location(&r) == "/sign-in/verify" {
            app.second_step(&client, &totp_code(&last, app.clock_now()))
                .await;
        }
        last = app.enrol_authenticator_app(&client).await;
    }
    let page = app
        .page(&client, "/profile/self-service/enrol/authenticator-app")
        .await;
    let key = text_of(&page, "#totp-secret").replace(' ', "");
    let secret =
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &key).expect("base32");
    let r = client
        .post(app.url("/profile/self-service/enrol/authenticator-app"))
        .form(&[
            ("csrf_token", crate::helpers::csrf_token(&page).as_str()),
            ("code", &totp_code(&secret, app.clock_now())),
            ("name", "Sixth"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&r.text().await.expect("body"), ".nhsuk-error-summary").contains("already have 5")
    );
    use domain::mfa::MethodRecords;
    let account = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    assert_eq!(app.store.methods_of(&account.id).await.expect("q").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_parallel_guesses_gets_no_more_than_ten_tries() {
    let app = spawn_app().await;
    let _ = ann_with_an_app(&app).await;
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&client, "/sign-in/verify").await;
    let (token, method) = (
        crate::helpers::csrf_token(&page),
        crate::helpers::input_value(&page, "method"),
    );
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..30 {
        let (client, url, token, method) = (
            client.clone(),
            app.url("/sign-in/verify"),
            token.clone(),
            method.clone(),
        );
        burst.spawn(async move {
            let code = format!("{:06}", 100_000 + i);
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("method", method.as_str()),
                    ("code", code.as_str()),
                ])
                .send()
                .await
                .expect("POST")
                .status()
        });
    }
    let mut checked = 0;
    while let Some(status) = burst.join_next().await {
        match status.expect("task") {
            StatusCode::UNPROCESSABLE_ENTITY => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked <= 10, "{checked} guesses were checked");
    let wrong = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "mfa.verify" && e.outcome == "failure")
        .count();
    assert!(wrong <= 10, "{wrong} failures recorded");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.locked")
    );
}
