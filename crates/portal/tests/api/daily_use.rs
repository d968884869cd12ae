//! What issue 20 changed in daily use, from the side of a person, an administrator and an
//! attacker: a used code, the warning before the lock, "Change number", the organisation's
//! contact, the rollout kit's scope, more time before a time limit, and the help section.

use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, TestApp, browser, csrf_token, location, spawn_app, text_of, totp_code,
};
use domain::limits::SignInLimitRecords;

const ENROL_SMS: &str = "/profile/self-service/enrol/text-message";

fn last_sms(app: &TestApp) -> String {
    app.outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == "sms")
        .and_then(|m| m["code"].as_str().map(str::to_string))
        .expect("a text in the outbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_code_used_again_is_said_so_and_takes_no_try_of_the_lock() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let ann = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    // The code that signed in with_fresh_factor's browser, typed again in another.
    let used = totp_code(&key, app.clock_now());
    let other = browser();
    app.sign_in_with(&other, "ann@fa123.nhs.uk", PASSWORD).await;
    for _ in 0..15 {
        let response = app.second_step(&other, &used).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = response.text().await.expect("body");
        assert!(body.contains("This code has been used. Wait for the next code"));
    }
    let state = app
        .store
        .limit_state(&format!("mfa:account:{}", ann.id))
        .await
        .expect("limits");
    assert_eq!(
        state.map_or(0, |s| s.failures),
        0,
        "used codes were counted"
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.verify" && e.reason.as_deref() == Some("used_totp"))
    );
    // The next code works: nothing locked.
    app.clock.advance(30);
    let response = app
        .second_step(&other, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_say_how_many_tries_are_left_and_the_last_locks_at_once() {
    let app = spawn_app().await;
    let (_, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let mut said = vec![];
    for _ in 0..10 {
        let response = app.second_step(&client, "000000").await;
        let status = response.status();
        said.push((
            status,
            text_of(&response.text().await.expect("body"), "main"),
        ));
    }
    assert!(
        said[..6]
            .iter()
            .all(|(s, t)| *s == StatusCode::UNPROCESSABLE_ENTITY
                && t.contains("The code is not correct")
                && !t.contains("tries"))
    );
    assert!(
        said[6]
            .1
            .contains("You have 3 more tries before you must wait")
    );
    assert!(
        said[8]
            .1
            .contains("You have 1 more try before you must wait")
    );
    assert_eq!(said[9].0, StatusCode::TOO_MANY_REQUESTS);
    assert!(said[9].1.contains("(UK time)"), "{}", said[9].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_number_keeps_the_method_and_only_its_owner_can_change_it() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    app.submit(
        &client,
        ENROL_SMS,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    let code = last_sms(&app);
    app.submit(
        &client,
        ENROL_SMS,
        ENROL_SMS,
        &[("step", "verify"), ("code", &code)],
    )
    .await;
    let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    let before = domain::mfa::methods_of(&app.store, &ann.id)
        .await
        .expect("methods");
    assert_eq!(before.len(), 1);
    let id = before[0].id.clone();

    // Someone else's method id, or a made-up one: not found.
    let (bob, _) = app
        .with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    let response = app
        .get_with(&bob, &format!("{ENROL_SMS}?change={id}"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let change = format!("{ENROL_SMS}?change={id}");
    // Changing a method needs a fresh second factor: the texted code first.
    let response = app.get_with(&client, &change).await;
    assert_eq!(location(&response), "/sign-in/verify");
    app.page(&client, "/sign-in/verify").await;
    let response = app.second_step(&client, &last_sms(&app)).await;
    assert_eq!(location(&response), change);
    let page = app.page(&client, &change).await;
    assert!(page.contains("Change your phone number"));
    let token = csrf_token(&page);
    let r = client
        .post(app.url(ENROL_SMS))
        .form(&[
            ("csrf_token", token.as_str()),
            ("step", "send"),
            ("phone", "07700 900456"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&r), ENROL_SMS);
    // The number changes only once the new one is proved.
    let unchanged = domain::mfa::methods_of(&app.store, &ann.id)
        .await
        .expect("methods");
    assert_eq!(unchanged[0].phone.as_deref(), Some("+447700900123"));
    let code = last_sms(&app);
    let r = app
        .submit(
            &client,
            ENROL_SMS,
            ENROL_SMS,
            &[("step", "verify"), ("code", &code)],
        )
        .await;
    assert_eq!(location(&r), "/profile/self-service?number_changed=1");
    let after = domain::mfa::methods_of(&app.store, &ann.id)
        .await
        .expect("methods");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, id);
    assert!(after[0].is_default);
    assert_eq!(after[0].phone.as_deref(), Some("+447700900456"));
    assert!(after[0].name.ends_with("456"), "{}", after[0].name);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.number_changed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organisations_contact_is_set_from_the_command_line_and_shown_to_its_people() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let out = app.nhsmal(&[
        "org",
        "set-contact",
        "--code",
        "fa123",
        "--contact",
        "IT desk, 0161 496 0000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = app.page(&client, "/profile").await;
    assert_eq!(text_of(&page, "#admin-contact"), "IT desk, 0161 496 0000");
    for bad in ["x".repeat(301), "two\nlines".to_string()] {
        let out = app.nhsmal(&["org", "set-contact", "--code", "FA123", "--contact", &bad]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("one line of up to 300 characters"));
    }
    let out = app.nhsmal(&["org", "set-contact", "--code", "NOPE1", "--contact", "x"]);
    assert!(!out.status.success());
    // Unchanged by the refusals; cleared by an empty text.
    assert!(
        app.page(&client, "/profile")
            .await
            .contains("IT desk, 0161 496 0000")
    );
    let out = app.nhsmal(&["org", "set-contact", "--code", "FA123", "--contact", ""]);
    assert!(out.status.success());
    assert!(
        !app.page(&client, "/profile")
            .await
            .contains("admin-contact")
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "organisation.contact_changed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_sees_only_their_own_organisations_rollout_kit() {
    let app = spawn_app().await;
    let (lee, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    app.add_person("zed@fb456.nhs.uk", "FB456", "user").await;
    let page = app.page(&lee, "/admin/rollout-kit").await;
    assert!(text_of(&page, "#people").contains("ann@fa123.nhs.uk"));
    assert!(!page.contains("zed@fb456.nhs.uk"));
    assert!(
        !page.contains("lee@fa123.nhs.uk</div>"),
        "the administrator has a method"
    );
    for path in [
        "/admin/rollout-kit?org=FB456",
        "/admin/rollout-kit/guide?org=FB456",
    ] {
        let response = app.get_with(&lee, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app.audit().await.iter().any(|e| e.event == "admin.denied"));
    // A person who is not an administrator has no kit.
    let ann = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(ann.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_time_restarts_the_second_step_at_most_ten_times() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&client, "/sign-in/verify").await;
    let token = csrf_token(&page);
    let extend = |client: reqwest::Client, token: String| {
        let url = app.url("/session/extend");
        async move {
            client
                .post(url)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .expect("POST")
        }
    };
    for _ in 0..10 {
        // Nine minutes pass each time: without more time the step would have ended.
        app.clock.advance(9 * 60);
        let response = extend(client.clone(), token.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: serde_json::Value = response.json().await.expect("json");
        assert_eq!(answer["seconds_left"], 600);
    }
    let response = extend(client.clone(), token.clone()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Ninety minutes after the password, the code still finishes the sign-in.
    let response = app
        .second_step(&client, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Without the session's own token, nothing is extended.
    let response = client
        .post(app.url("/session/extend"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_searchable_and_was_this_helpful_becomes_feedback() {
    let app = spawn_app().await;
    let page = app.page(&app.client, "/help?q=new+phone").await;
    assert!(page.contains("href=\"/help/new-phone\""));
    let long = format!("/help?q={}", "a".repeat(101));
    let response = app.get(&long).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/help/no-such-page").await.status(),
        StatusCode::NOT_FOUND
    );

    let page = app.page(&app.client, "/help/new-phone").await;
    let token = csrf_token(&page);
    let response = app
        .client
        .post(app.url("/help/new-phone/feedback"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("helpful", "no"),
            ("comments", "Moving my app"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&response), "/help/new-phone?answered=1#helpful");
    use domain::feedback::{FeedbackFilter, FeedbackRecords, Topic};
    let saved = app
        .store
        .list_feedback(&FeedbackFilter::default(), false, 10, 0)
        .await
        .expect("feedback");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].topic, Topic::HelpPages);
    assert_eq!(saved[0].rating, 1);
    assert_eq!(
        saved[0].comments.as_deref(),
        Some("I have a new phone. What do I do?: Moving my app")
    );
    // Neither yes nor no: a clear error, nothing stored.
    let response = app
        .client
        .post(app.url("/help/new-phone/feedback"))
        .form(&[("csrf_token", token.as_str()), ("helpful", "maybe")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.store
            .list_feedback(&FeedbackFilter::default(), false, 10, 0)
            .await
            .expect("feedback")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_status_says_how_long_it_rings_on_so_the_page_can_warn() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let call = "/profile/self-service/enrol/phone-call";
    let r = app
        .submit(
            &client,
            call,
            call,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), call);
    let status = |client: reqwest::Client| {
        let url = app.url("/approvals/current");
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("GET")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let now = status(client.clone()).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["seconds_left"], 120);
    app.clock.advance(100);
    assert_eq!(status(client.clone()).await["seconds_left"], 20);
    app.clock.advance(30);
    let ended = status(client.clone()).await;
    assert_eq!(ended["status"], "expired");
    assert_eq!(ended["seconds_left"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_sets_the_contact_for_their_own_organisation_only() {
    let app = spawn_app().await;
    let (lee, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let r = app
        .submit(
            &lee,
            "/admin",
            "/admin/contact",
            &[("contact", "Lee, 0161 496 0000")],
        )
        .await;
    assert_eq!(location(&r), "/admin?contact=1");
    let ann = app.ann_signed_in().await;
    assert_eq!(
        text_of(&app.page(&ann, "/profile").await, "#admin-contact"),
        "Lee, 0161 496 0000"
    );
    // Too long: a clear error, nothing changed.
    let r = app
        .submit(
            &lee,
            "/admin",
            "/admin/contact",
            &[("contact", &"x".repeat(301))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("The contact must be one line of up to 300 characters")
    );
    assert!(
        app.page(&ann, "/profile")
            .await
            .contains("Lee, 0161 496 0000")
    );
    let lee_id = crate::helpers::account(&app, "lee@fa123.nhs.uk").await.id;
    let changes: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "organisation.contact_changed")
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].actor_id.as_deref(), Some(lee_id.as_str()));
    assert_eq!(changes[0].subject.as_deref(), Some("FA123"));
    // A person who is not an administrator cannot.
    let r = app
        .submit(
            &ann,
            "/profile",
            "/admin/contact",
            &[("contact", "Mallory")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        app.page(&ann, "/profile")
            .await
            .contains("Lee, 0161 496 0000")
    );
}
