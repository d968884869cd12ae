use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, browser, location, set_cookies, spawn_app, spawn_app_with, text_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_and_lands_on_my_profile() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;

    let response = app.sign_in("Ann@Example.NHS.uk", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");

    let page = app.page(&app.client, "/profile").await;
    assert_eq!(text_of(&page, "h1"), "My Profile");
    let values = text_of(&page, "dd");
    for expected in [
        "Ann Example",
        "ann@example.nhs.uk",
        "Riverside Pharmacy (FA123)",
        "User",
    ] {
        assert!(
            values.contains(expected),
            "{expected} missing from {values}"
        );
    }
    let events = app.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.event == "sign_in.password" && e.outcome == "success")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_home_leads_to_the_sign_in_page_with_its_fields() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(location(&response), "/sign-in");
    let page = app.page(&app.client, "/sign-in").await;
    assert_eq!(text_of(&page, "label"), "Email address\nPassword");
    assert_eq!(text_of(&page, "button[type=submit]"), "Sign in");
    assert!(text_of(&page, "a").contains("Forgotten your password?"));
}

/// The page for a wrong password, with what differs per request (tokens) removed.
async fn failed_sign_in(app: &crate::helpers::TestApp, email: &str) -> (StatusCode, String) {
    let client = browser();
    let response = app
        .sign_in_with(&client, email, "not the password 123")
        .await;
    let status = response.status();
    let body = response.text().await.expect("body");
    (status, text_of(&body, "main"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;

    let known = failed_sign_in(&app, "ann@example.nhs.uk").await;
    let unknown = failed_sign_in(&app, "nobody@example.nhs.uk").await;
    assert_eq!(known.0, StatusCode::UNAUTHORIZED);
    assert!(
        known
            .1
            .contains("Enter a correct email address and password"),
        "{}",
        known.1
    );
    assert_eq!(known.0, unknown.0);
    assert_eq!(
        known.1.replace("ann@example.nhs.uk", "EMAIL"),
        unknown.1.replace("nobody@example.nhs.uk", "EMAIL")
    );
    let reasons: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(reasons.contains(&"wrong_password".to_string()));
    assert!(reasons.contains(&"unknown_account".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_emails_take_similar_time_to_refuse() {
    // One test client tries many accounts: a password spray, unless the limits allow it.
    let app = spawn_app_with(|s| {
        s.sign_in_limits.ip_max_failures = 10_000;
        s.risk.spray_accounts = 100_000;
    })
    .await;
    // Enough real accounts that none reaches the per-email delays (4 tries each).
    let known: Vec<String> = (0..30).map(|i| format!("ann{i}@example.nhs.uk")).collect();
    for email in &known {
        app.add_user(email).await;
    }
    let client = browser();
    let token = crate::helpers::csrf_token(&app.page(&client, "/sign-in").await);
    let (mut known_times, mut unknown_times) = (vec![], vec![]);
    for i in 0..120 {
        let pair = [
            (known[i % known.len()].clone(), true),
            (format!("nobody{i}@example.nhs.uk"), false),
        ];
        // Alternate which goes first so that order effects cancel out.
        let order: Vec<_> = if i % 2 == 0 {
            pair.iter().collect()
        } else {
            pair.iter().rev().collect()
        };
        for (email, is_known) in order {
            #[allow(clippy::disallowed_methods)] // measuring, not deciding
            let started = std::time::Instant::now();
            let response = client
                .post(app.url("/sign-in"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", email),
                    ("password", "wrong password 42"),
                ])
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let elapsed = started.elapsed().as_secs_f64();
            if *is_known {
                known_times.push(elapsed)
            } else {
                unknown_times.push(elapsed)
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known_times), median(&mut unknown_times));
    let ratio = k / u;
    assert!(
        (0.8..=1.25).contains(&ratio),
        "median known {k:.4}s vs unknown {u:.4}s (ratio {ratio:.2})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_gives_a_new_session_id_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let first = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let first_cookie = set_cookies(first.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_session="))
        .expect("session cookie set");
    // Signing in again from the same browser (the form's token is the session's own).
    let token = crate::helpers::csrf_token(&app.page(&app.client, "/profile").await);
    let second = app
        .client
        .post(app.url("/sign-in"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ann@example.nhs.uk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    let second_cookie = set_cookies(second.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_session="))
        .expect("session cookie set again");
    assert_ne!(first_cookie, second_cookie);

    // Replaying the first session id no longer works.
    let old_value = first_cookie.split(';').next().expect("name=value");
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url("/profile"))
        .header("cookie", old_value)
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert!(location(&replay).starts_with("/sign-in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_same_site_lax_and_not_secure_on_plain_loopback() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let response = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let cookie = set_cookies(response.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_session="))
        .expect("session cookie");
    let value = cookie
        .split(';')
        .next()
        .expect("value")
        .trim_start_matches("nhsmal_session=");
    assert_eq!(value.len(), 43, "256 random bits in base64url");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(!cookie.contains("Domain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_https_cookies_take_the_host_prefix_and_secure_and_hsts_is_sent() {
    let app = spawn_app_with(|s| {
        s.public_url = "https://portal.nhsmal.example".parse().expect("url");
    })
    .await;
    let response = app.get("/sign-in").await;
    let hsts = response
        .headers()
        .get("strict-transport-security")
        .expect("HSTS on https");
    assert!(hsts.to_str().expect("text").contains("max-age=31536000"));
    let cookie = set_cookies(response.headers()).join("\n");
    assert!(cookie.starts_with("__Host-nhsmal_visitor="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"));
    assert!(!cookie.contains("Domain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_delayed_then_the_account_is_locked_and_audited() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let client = browser();
    for attempt in 1..=10 {
        let response = app
            .sign_in_with(&client, "ann@example.nhs.uk", "wrong password 42")
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        // Attempts 6 to 9 must wait 1, 2, 4, 8 seconds first: right away they are refused.
        if (5..10).contains(&attempt) {
            let early = app
                .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
                .await;
            assert_eq!(
                early.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "attempt {attempt}"
            );
            let wait: i64 = early.headers()["retry-after"]
                .to_str()
                .expect("text")
                .parse()
                .expect("seconds");
            assert_eq!(wait, 1 << (attempt - 5));
            app.clock.advance(wait);
        }
    }
    // Locked now: even the right password is refused, with a page saying when to come back.
    let locked = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.headers()["retry-after"], "900");
    let page = locked.text().await.expect("body");
    assert!(
        text_of(&page, "main").contains("Wait until"),
        "{}",
        text_of(&page, "main")
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.locked")
    );

    // The lock ends by itself.
    app.clock.advance(900);
    let after = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_email_looks_the_same_whether_or_not_the_account_exists() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let client = browser();
    let mut last = vec![];
    for email in ["ann@example.nhs.uk", "nobody@example.nhs.uk"] {
        for _ in 0..10 {
            app.sign_in_with(&client, email, "wrong password 42").await;
            app.clock.advance(20);
        }
        let response = app.sign_in_with(&client, email, "wrong password 42").await;
        let status = response.status();
        let retry = response.headers()["retry-after"].clone();
        let text = text_of(&response.text().await.expect("body"), "main");
        // The time shown differs only because the test clock moved between the two.
        let without_time = match (text.find("Wait until"), text.find("and try again")) {
            (Some(a), Some(b)) => format!("{}{}", &text[..a], &text[b..]),
            _ => text,
        };
        last.push((status, retry, without_time));
    }
    assert_eq!(last[0].0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last[0], last[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_is_refused_after_too_many_failures_across_accounts() {
    let app = spawn_app_with(|s| s.sign_in_limits.ip_max_failures = 6).await;
    app.add_user("ann@example.nhs.uk").await;
    let client = browser();
    for i in 0..6 {
        let r = app
            .sign_in_with(
                &client,
                &format!("user{i}@example.nhs.uk"),
                "guess 1234 abc",
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "client.blocked")
    );
    app.clock.advance(15 * 60);
    let later = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(later.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_cannot_sign_in_even_with_the_right_password() {
    let app = spawn_app().await;
    let account = app.add_user("ann@example.nhs.uk").await;
    let requester = domain::audit::Requester::command_line();
    domain::account_changes::set_state(
        &app.store,
        &account,
        domain::accounts::AccountState::Disabled,
        &requester,
        crate::helpers::START,
    )
    .await
    .expect("disabled");
    let response = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text_of(&response.text().await.expect("body"), "h1").contains("disabled"));
    // A wrong password on a disabled account still gets the ordinary answer.
    let wrong = app.sign_in("ann@example.nhs.uk", "wrong password 42").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_fields_get_their_own_messages_and_nothing_is_counted() {
    let app = spawn_app().await;
    let response = app.sign_in("", "").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    assert_eq!(
        text_of(&page, ".nhsuk-error-summary__list a"),
        "Enter your email address\nEnter your password"
    );
    assert!(app.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sign_in_people_return_to_the_page_they_asked_for_but_never_off_site() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let asked = app.get("/profile/self-service").await;
    assert_eq!(location(&asked), "/sign-in?next=%2Fprofile%2Fself-service");
    let response = app
        .submit(
            &app.client,
            "/sign-in?next=%2Fprofile%2Fself-service",
            "/sign-in",
            &[
                ("email", "ann@example.nhs.uk"),
                ("password", PASSWORD),
                ("next", "/profile/self-service"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/profile/self-service");

    let other = browser();
    let response = app
        .submit(
            &other,
            "/sign-in",
            "/sign-in",
            &[
                ("email", "ann@example.nhs.uk"),
                ("password", PASSWORD),
                ("next", "//evil.example/phish"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_hash_with_weaker_parameters_is_upgraded_at_sign_in() {
    let app = spawn_app_with(|s| s.argon2.memory_kib = 24 * 1024).await;
    // Created with the default (weaker) parameters.
    {
        use domain::organisations::OrganisationRecords;
        if app.store.organisation("FA123").await.expect("q").is_none() {
            app.add_org("FA123").await;
        }
        let weaker = domain::password::PasswordHashing::new(&Default::default()).expect("h");
        let request = domain::accounts::AccountRequest {
            email: "ann@example.nhs.uk",
            name: "Ann Example",
            org: "FA123",
            role: "user",
        };
        domain::accounts::add_account(&app.store, &weaker, request, Some(PASSWORD), 0)
            .await
            .expect("added");
    }
    let response = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    use domain::accounts::AccountRecords;
    let account = app
        .store
        .account_by_email("ann@example.nhs.uk")
        .await
        .expect("q")
        .expect("exists");
    let hash = account.password_hash.expect("hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=24576,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_limits_and_audit_see_the_forwarded_client() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    app.add_user("ann@example.nhs.uk").await;
    let client = browser();
    let token = crate::helpers::csrf_token(&app.page(&client, "/sign-in").await);
    let r = client
        .post(app.url("/sign-in"))
        .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ann@example.nhs.uk"),
            ("password", "wrong password 42"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = app.audit().await;
    assert_eq!(events[0].ip.as_deref(), Some("203.0.113.9"));

    // Without trust, the header is ignored.
    let app = spawn_app().await;
    let client = browser();
    let token = crate::helpers::csrf_token(&app.page(&client, "/sign-in").await);
    client
        .post(app.url("/sign-in"))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ann@example.nhs.uk"),
            ("password", "wrong password 42"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(app.audit().await[0].ip.as_deref(), Some("127.0.0.1"));
}
