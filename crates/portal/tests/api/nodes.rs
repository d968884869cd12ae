//! Two nodes on one database (issue 18): sessions, sign-out, limits, one-time codes and pending
//! call approvals live in the database, so either node answers any request, and a burst split
//! across both gets what it would get from one.

use reqwest::StatusCode;

use crate::bursts::forms_together;
use crate::helpers::{PASSWORD, browser, csrf_token, location, spawn_app, totp_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_node_works_on_the_other_and_signing_out_on_either_ends_it() {
    let app = spawn_app().await;
    let other = app.spawn_other_node().await;
    let client = app.ann_signed_in().await;
    // The browser's cookies go to whichever node the balancer picks.
    let r = client.get(other.url("/profile")).send().await.expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("page");
    let r = client
        .post(other.url("/sign-out"))
        .form(&[("csrf_token", csrf_token(&page).as_str())])
        .send()
        .await
        .expect("sign out");
    assert!(r.status().is_redirection());
    assert_eq!(
        location(&app.get_with(&client, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_wrong_passwords_split_across_two_nodes_get_five_checked() {
    let app = spawn_app().await;
    let other = app.spawn_other_node().await;
    app.add_user("ann@example.nhs.uk").await;
    let mut browsers = vec![];
    for i in 0..50 {
        let client = browser();
        let base = if i % 2 == 0 {
            app.url("")
        } else {
            other.url("")
        };
        let page = client
            .get(format!("{base}/sign-in"))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("page");
        browsers.push((client, base, csrf_token(&page)));
    }
    let statuses = forms_together(50, |i| {
        let (client, base, token) = browsers[i].clone();
        let fields = vec![
            ("csrf_token", token),
            ("email", "ann@example.nhs.uk".into()),
            ("password", "wrong password 42".into()),
        ];
        (client, format!("{base}/sign-in"), fields)
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 5, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_send_code_requests_split_across_two_nodes_send_five_texts() {
    let app = spawn_app().await;
    let other = app.spawn_other_node().await;
    let client = app.ann_signed_in().await;
    let page = "/profile/self-service/enrol/text-message";
    let token = csrf_token(&app.page(&client, page).await);
    let statuses = forms_together(30, |i| {
        let url = if i % 2 == 0 {
            app.url(page)
        } else {
            other.url(page)
        };
        let fields = vec![
            ("csrf_token", token.clone()),
            ("step", "send".into()),
            ("phone", "07700 900123".into()),
        ];
        (client.clone(), url, fields)
    })
    .await;
    let texts = app
        .outbox()
        .iter()
        .filter(|m| m["channel"] == "sms")
        .count();
    assert_eq!(texts, 5, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_used_on_one_node_is_refused_on_the_other() {
    let app = spawn_app().await;
    let other = app.spawn_other_node().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let code = totp_code(&key, app.clock_now());
    // Two sign-ins at the same moment, one on each node, with the same code.
    let first = browser();
    app.sign_in_with(&first, "ann@fa123.nhs.uk", PASSWORD).await;
    let second = browser();
    let page = second
        .get(other.url("/sign-in"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    let r = second
        .post(other.url("/sign-in"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", "ann@fa123.nhs.uk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&r), "/sign-in/verify");
    let r = app.second_step(&first, &code).await;
    assert_eq!(location(&r), "/profile");
    let page = second
        .get(other.url("/sign-in/verify"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    let r = second
        .post(other.url("/sign-in/verify"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            (
                "method",
                crate::helpers::input_value(&page, "method").as_str(),
            ),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the code was spent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_through_one_node_lets_the_sign_in_finish_on_the_other() {
    let app = spawn_app().await;
    let other = app.spawn_other_node().await;
    let client = app.ann_signed_in().await;
    let enrol = "/profile/self-service/enrol/phone-call";
    let r = app
        .submit(
            &client,
            enrol,
            enrol,
            &[("step", "send"), ("phone", "020 7946 0018")],
        )
        .await;
    assert_eq!(location(&r), enrol);
    assert_eq!(
        crate::phone::press_keypad(&app, "#").await.status(),
        StatusCode::OK
    );
    let r = app
        .submit(&client, enrol, enrol, &[("step", "continue")])
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    // A sign-in on node A waits for the call; the keypad is pressed through node B.
    let browser_a = browser();
    app.sign_in_with(&browser_a, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&browser_a, "/sign-in/verify").await;
    let call = app
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == "voice")
        .expect("a call");
    let keypad = call["keypad_url"].as_str().expect("keypad url");
    let path = keypad
        .split_once(&format!(":{}", app.port))
        .map(|(_, p)| p.to_string())
        .expect("our port");
    let r = browser()
        .post(other.url(&path))
        .form(&[("Digits", "#")])
        .send()
        .await
        .expect("keypad");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post_second_step(&browser_a, &page, &[]).await;
    assert_eq!(location(&r), "/profile");
}
