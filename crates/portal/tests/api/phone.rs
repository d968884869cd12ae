use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, csrf_token, location, spawn_app, text_of};

const ENROL_SMS: &str = "/profile/self-service/enrol/text-message";
const ENROL_CALL: &str = "/profile/self-service/enrol/phone-call";

/// The newest outbox message on `channel`.
fn last(app: &TestApp, channel: &str) -> serde_json::Value {
    app.outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} message in the outbox"))
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.submit(client, page, page, fields).await
}

/// Ann signs in (no method yet) and adds a mobile number by text message.
async fn ann_with_sms(app: &TestApp) -> reqwest::Client {
    let client = app.ann_signed_in().await;
    let r = post(
        app,
        &client,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    assert_eq!(location(&r), ENROL_SMS);
    let sms = last(app, "sms");
    assert_eq!(sms["to"], "+447700900123");
    let code = sms["code"].as_str().expect("code").to_string();
    assert!(sms["body"].as_str().expect("body").contains(&code));
    let r = post(
        app,
        &client,
        ENROL_SMS,
        &[("step", "verify"), ("code", &code)],
    )
    .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mobile_number_is_saved_only_after_its_code_is_entered() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    for bad in ["12345", "not a phone", "020 7946 0018", ""] {
        let r = post(
            &app,
            &client,
            ENROL_SMS,
            &[("step", "send"), ("phone", bad)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(
            text_of(&r.text().await.expect("body"), ".nhsuk-error-summary")
                .contains("phone number")
        );
    }
    assert!(app.outbox().is_empty(), "nothing sent for a bad number");
    post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    let wrong = post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "verify"), ("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    use domain::mfa::MethodRecords;
    let account = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    assert!(
        app.store
            .methods_of(&account.id)
            .await
            .expect("q")
            .is_empty()
    );
    let code = last(&app, "sms")["code"]
        .as_str()
        .expect("code")
        .to_string();
    let r = post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "verify"), ("code", &code)],
    )
    .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    let methods = app.store.methods_of(&account.id).await.expect("q");
    assert_eq!(methods[0].phone.as_deref(), Some("+447700900123"));
    let page = app.page(&client, "/profile/self-service").await;
    assert!(
        page.contains("Ending 123") && !page.contains("07700"),
        "masked number only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_step_texts_a_code_as_it_opens_and_it_works_once() {
    let app = spawn_app().await;
    ann_with_sms(&app).await;
    let texts_before = app
        .outbox()
        .iter()
        .filter(|m| m["channel"] == "sms")
        .count();
    let client = browser();
    let r = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&client, "/sign-in/verify").await;
    assert!(page.contains("Send again") && page.contains("ending 123"));
    // Reloading the page does not send another text.
    app.page(&client, "/sign-in/verify").await;
    assert_eq!(
        app.outbox()
            .iter()
            .filter(|m| m["channel"] == "sms")
            .count(),
        texts_before + 1
    );
    let code = last(&app, "sms")["code"]
        .as_str()
        .expect("code")
        .to_string();
    let r = app.second_step(&client, "999999").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.second_step(&client, &code).await;
    assert_eq!(location(&r), "/profile");

    // The same code cannot sign in another browser.
    let other = browser();
    app.sign_in_with(&other, "ann@example.nhs.uk", PASSWORD)
        .await;
    let r = app.second_step(&other, &code).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_texted_code_expires_after_ten_minutes_and_dies_after_five_wrong_tries() {
    let app = spawn_app().await;
    ann_with_sms(&app).await;
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&client, "/sign-in/verify").await;
    let code = last(&app, "sms")["code"]
        .as_str()
        .expect("code")
        .to_string();
    let (token, method) = (
        csrf_token(&page),
        crate::helpers::input_value(&page, "method"),
    );
    let attempt = |code: String| {
        let (client, token, method, url) = (
            client.clone(),
            token.clone(),
            method.clone(),
            app.url("/sign-in/verify"),
        );
        async move {
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("method", &method),
                    ("code", &code),
                ])
                .send()
                .await
                .expect("POST")
        }
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("111111".into()).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let r = attempt(code).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "dead after 5 tries"
    );
    assert!(
        text_of(&r.text().await.expect("body"), ".nhsuk-error-summary")
            .contains("Ask for a new one")
    );

    // At enrolment (a signed-in session outlives a code): a code 10 minutes old is refused.
    let client = browser();
    app.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    app.page(&client, "/sign-in/verify").await;
    let code = last(&app, "sms")["code"]
        .as_str()
        .expect("code")
        .to_string();
    assert_eq!(location(&app.second_step(&client, &code).await), "/profile");
    post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900456")],
    )
    .await;
    let code = last(&app, "sms")["code"]
        .as_str()
        .expect("code")
        .to_string();
    app.clock.advance(10 * 60);
    let r = post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "verify"), ("code", &code)],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "expired code refused"
    );
    assert!(text_of(&r.text().await.expect("body"), ".nhsuk-error-summary").contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_is_limited_per_person_and_per_number() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    for i in 0..5 {
        let r = post(
            &app,
            &client,
            ENROL_SMS,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
        assert_eq!(location(&r), ENROL_SMS, "send {i}");
    }
    let r = post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900124")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "per person");
    // Bob cannot flood Ann's number either.
    app.add_user("bob@example.nhs.uk").await;
    let bob = browser();
    let r = app.sign_in_with(&bob, "bob@example.nhs.uk", PASSWORD).await;
    assert_eq!(location(&r), "/profile", "{:?}", r.text().await);
    let r = post(
        &app,
        &bob,
        ENROL_SMS,
        &[("step", "send"), ("phone", "+44 7700 900123")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "per number");
    assert_eq!(app.outbox().len(), 5);
    app.clock.advance(3601);
    let bob = browser();
    app.sign_in_with(&bob, "bob@example.nhs.uk", PASSWORD).await;
    let r = post(
        &app,
        &bob,
        ENROL_SMS,
        &[("step", "send"), ("phone", "+44 7700 900123")],
    )
    .await;
    assert_eq!(location(&r), ENROL_SMS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failure_says_so_and_uses_up_no_attempt() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    // Make the outbox unwritable: a folder where the file should be.
    std::fs::create_dir(app.data_dir.path().join("outbox.jsonl")).expect("block the outbox");
    for _ in 0..6 {
        let r = post(
            &app,
            &client,
            ENROL_SMS,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            text_of(&r.text().await.expect("body"), ".nhsuk-error-summary")
                .contains("could not reach your phone")
        );
    }
    std::fs::remove_dir(app.data_dir.path().join("outbox.jsonl")).expect("unblock");
    let r = post(
        &app,
        &client,
        ENROL_SMS,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    assert_eq!(
        location(&r),
        ENROL_SMS,
        "failed sends did not count towards the limit"
    );
}

/// Presses `digits` on the keypad of the last call in the outbox.
pub(crate) async fn press_keypad(app: &TestApp, digits: &str) -> reqwest::Response {
    press(app, digits).await
}

async fn press(app: &TestApp, digits: &str) -> reqwest::Response {
    let call = last(app, "voice");
    let url = call["keypad_url"].as_str().expect("keypad_url").to_string();
    // The keypad URL is built from the public URL (localhost); reach the same server on 127.0.0.1.
    let path = url
        .split_once(&format!(":{}", app.port))
        .map(|(_, p)| p.to_string())
        .expect("our port");
    browser()
        .post(app.url(&path))
        .form(&[("Digits", digits)])
        .send()
        .await
        .expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_is_added_when_the_call_is_answered_with_hash_and_signs_in_the_same_way() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let r = post(
        &app,
        &client,
        ENROL_CALL,
        &[("step", "send"), ("phone", "020 7946 0018")],
    )
    .await;
    assert_eq!(location(&r), ENROL_CALL);
    let call = last(&app, "voice");
    assert_eq!(call["to"], "+442079460018");
    assert!(call["body"].as_str().expect("script").contains("NHSmal"));
    // Continue before answering: still waiting.
    let r = post(&app, &client, ENROL_CALL, &[("step", "continue")]).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(press(&app, "#").await.status(), StatusCode::OK);
    let r = post(&app, &client, ENROL_CALL, &[("step", "continue")]).await;
    assert_eq!(location(&r), "/profile/self-service?added=1");

    let other = browser();
    app.sign_in_with(&other, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&other, "/sign-in/verify").await;
    assert!(page.contains("Call again") && page.contains("Continue"));
    let status: serde_json::Value = app
        .get_with(&other, "/approvals/current")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "pending");
    assert_eq!(press(&app, "#").await.status(), StatusCode::OK);
    let status: serde_json::Value = app
        .get_with(&other, "/approvals/current")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "approved");
    let r = app.post_second_step(&other, &page, &[]).await;
    assert_eq!(location(&r), "/profile");
    // The keypad URL works once.
    assert_eq!(press(&app, "#").await.status(), StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_0_hash_blocks_the_sign_in_and_alerts_the_person() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    post(
        &app,
        &client,
        ENROL_CALL,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    press(&app, "#").await;
    post(&app, &client, ENROL_CALL, &[("step", "continue")]).await;

    let intruder = browser();
    app.sign_in_with(&intruder, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&intruder, "/sign-in/verify").await;
    assert_eq!(press(&app, "0#").await.status(), StatusCode::OK);
    let r = app.post_second_step(&intruder, &page, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        location(&app.get_with(&intruder, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.fraud_reported")
    );
    assert!(app.outbox().iter().any(|m| {
        m["subject"]
            .as_str()
            .unwrap_or("")
            .contains("blocked a sign-in")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_expires_after_two_minutes() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    post(
        &app,
        &client,
        ENROL_CALL,
        &[("step", "send"), ("phone", "07700 900123")],
    )
    .await;
    app.clock.advance(121);
    assert_eq!(press(&app, "#").await.status(), StatusCode::GONE);
    let r = post(&app, &client, ENROL_CALL, &[("step", "continue")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&r.text().await.expect("body"), ".nhsuk-error-summary")
            .contains("The call has ended")
    );
}
