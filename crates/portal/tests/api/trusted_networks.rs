//! Trusted networks (issue 24): on a named network a known device signs in with the password
//! alone and the session says so; administrators are always asked; the address is the TCP
//! peer's unless a trusted proxy says otherwise (tested from the attacker's side); an app that
//! needs MFA still steps the session up.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, spawn_app_with, totp_code};

const VERIFY: &str = "/sign-in/verify";
const DAY: i64 = 86_400;

fn set_policy(app: &TestApp, args: &[&str]) {
    let mut all = vec!["policy", "set"];
    all.extend_from_slice(args);
    let out = app.nhsmal(&all);
    assert!(out.status.success(), "{out:?}");
}

/// Signs in on `client` with the password, from `forwarded_for` if given; the redirect.
async fn password_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    forwarded_for: Option<&str>,
) -> String {
    // Signed in already: sign out first (the device cookie stays, as in a browser).
    if app.get_with(client, "/sign-in").await.status() == StatusCode::SEE_OTHER {
        let r = app.submit(client, "/profile", "/sign-out", &[]).await;
        assert_eq!(location(&r), "/sign-in?signed_out=1");
    }
    let page = app.page(client, "/sign-in").await;
    let token = crate::helpers::csrf_token(&page);
    let mut request = client.post(app.url("/sign-in")).form(&[
        ("csrf_token", token.as_str()),
        ("email", email),
        ("password", PASSWORD),
    ]);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    location(&request.send().await.expect("POST"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_trusted_network_a_known_device_signs_in_with_the_password_alone_and_says_so() {
    let app = spawn_app().await;
    let email = "ann@fa123.nhs.uk";
    // This browser finishes a sign-in with the app's code: a known device from now on.
    let (laptop, _) = app.with_fresh_factor(email, "FA123", "user").await;
    // Off by default: asked as always.
    assert_eq!(password_from(&app, &laptop, email, None).await, VERIFY);

    set_policy(&app, &["--trusted-networks", "127.0.0.0/8, ::1/128"]);
    assert_eq!(password_from(&app, &laptop, email, None).await, "/profile");
    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e.event == "sign_in.trusted_network"));
    // The session is a password sign-in: anything sensitive asks for a factor, and an app
    // that needs MFA steps it up.
    let (client_id, _) = crate::oidc::register(&app, &["--first-party"]);
    let r = app
        .get_with(
            &laptop,
            &crate::oidc::authorize_url(&client_id, &[("acr_values", "urn:nhsmal:acr:mfa")]),
        )
        .await;
    assert_eq!(location(&r), VERIFY, "stepped up");
    // A device never used before is asked, trusted network or not.
    let unknown = browser();
    assert_eq!(password_from(&app, &unknown, email, None).await, VERIFY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_token_of_a_trusted_network_sign_in_says_pwd_only() {
    let app = spawn_app().await;
    let email = "ann@fa123.nhs.uk";
    let (laptop, _) = app.with_fresh_factor(email, "FA123", "user").await;
    set_policy(&app, &["--trusted-networks", "127.0.0.0/8"]);
    assert_eq!(password_from(&app, &laptop, email, None).await, "/profile");
    let (client_id, secret) = crate::oidc::register(&app, &["--first-party"]);
    let tokens = crate::oidc::tokens_for(&app, &laptop, &client_id, secret.as_deref()).await;
    let claims = crate::oidc::verified_claims(
        &app,
        tokens["id_token"].as_str().expect("id_token"),
        &client_id,
    )
    .await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:nhsmal:acr:pwd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_are_always_asked_on_a_trusted_network() {
    let app = spawn_app().await;
    let email = "lee.admin@fa123.nhs.uk";
    let (laptop, _) = app.with_fresh_factor(email, "FA123", "local-admin").await;
    set_policy(&app, &["--trusted-networks", "127.0.0.0/8"]);
    assert_eq!(password_from(&app, &laptop, email, None).await, VERIFY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    let email = "ann@fa123.nhs.uk";
    let (laptop, _) = app.with_fresh_factor(email, "FA123", "user").await;
    set_policy(&app, &["--trusted-networks", "10.0.0.0/8"]);
    // No trusted proxies: the header is the attacker's word, and the peer is 127.0.0.1.
    for forged in ["10.1.2.3", "10.1.2.3, 127.0.0.1", "127.0.0.1, 10.1.2.3"] {
        assert_eq!(
            password_from(&app, &laptop, email, Some(forged)).await,
            VERIFY,
            "{forged}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    let email = "ann@fa123.nhs.uk";
    let (laptop, _) = app.with_fresh_factor(email, "FA123", "user").await;
    set_policy(&app, &["--trusted-networks", "10.0.0.0/8"]);
    assert_eq!(
        password_from(&app, &laptop, email, Some("10.1.2.3")).await,
        "/profile"
    );
    assert_eq!(
        password_from(&app, &laptop, email, Some("192.0.2.7")).await,
        VERIFY
    );
    // An organisation can switch the national networks off for itself.
    set_policy(&app, &["--org", "FA123", "--trusted-networks", "none"]);
    assert_eq!(
        password_from(&app, &laptop, email, Some("10.1.2.3")).await,
        VERIFY
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_stricter_mode_only_a_remembered_device_is_let_through_for_longer() {
    let app = spawn_app().await;
    let email = "ann@fa123.nhs.uk";
    let (_, key) = app.with_fresh_factor(email, "FA123", "user").await;
    set_policy(
        &app,
        &[
            "--trusted-networks",
            "127.0.0.0/8",
            "--trusted-network-mode",
            "remembered",
        ],
    );
    // A known device that was not remembered is asked in this mode.
    let laptop = browser();
    assert_eq!(password_from(&app, &laptop, email, None).await, VERIFY);
    let page = app.page(&laptop, VERIFY).await;
    app.clock.advance(30);
    let code = totp_code(&key, app.clock_now());
    let r = app
        .post_second_step(&laptop, &page, &[("code", &code), ("remember", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // 40 days on, past the 30 days "Don't ask again" lasts, but within twice that.
    app.clock.advance(40 * DAY);
    assert_eq!(password_from(&app, &laptop, email, None).await, "/profile");
    // Off the trusted network, the usual 30 days hold.
    set_policy(&app, &["--trusted-networks", "none"]);
    assert_eq!(password_from(&app, &laptop, email, None).await, VERIFY);
    let bad = app.nhsmal(&["policy", "set", "--trusted-networks", "10.0.0.1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a network"));
    let bad = app.nhsmal(&["policy", "set", "--trusted-network-mode", "always"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_network_does_not_excuse_enrolment_after_the_rollout_date() {
    let app = spawn_app().await;
    app.add_user("ann@fa123.nhs.uk").await;
    set_policy(
        &app,
        &[
            "--mfa-required-from",
            "2027-01-01",
            "--trusted-networks",
            "127.0.0.0/8",
        ],
    );
    let client = browser();
    let _ = password_from(&app, &client, "ann@fa123.nhs.uk", None).await;
    assert_eq!(
        location(&app.get_with(&client, "/profile").await),
        "/profile/self-service/enrol"
    );
}
