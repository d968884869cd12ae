use reqwest::StatusCode;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

use crate::helpers::{PASSWORD, TestApp, browser, csrf_token, location, spawn_app};

fn origin(app: &TestApp) -> url::Url {
    app.settings.public_url.clone()
}

async fn form_json(
    client: &reqwest::Client,
    url: String,
    fields: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let r = client.post(url).form(fields).send().await.expect("POST");
    let status = r.status();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Ann signs in and registers a software security key; returns the key and her browser.
async fn ann_with_a_key(app: &TestApp) -> (SoftToken, reqwest::Client) {
    let client = app.ann_signed_in().await;
    let key = register_a_key(app, &client).await;
    (key, client)
}

/// The signed-in person of `client` registers a software security key.
async fn register_a_key(app: &TestApp, client: &reqwest::Client) -> SoftToken {
    let client = client.clone();
    let page = app
        .page(&client, "/profile/self-service/enrol/fido2-token")
        .await;
    assert!(page.contains("Register security key"));
    let token = csrf_token(&page);
    let (status, options) = form_json(
        &client,
        app.url("/profile/self-service/enrol/fido2-token/options"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let options: CreationChallengeResponse =
        serde_json::from_value(options).expect("creation options");
    let (mut key, _) = SoftToken::new(true).expect("soft token");
    let credential = key
        .do_registration(origin(app), options)
        .expect("registration");
    let credential = serde_json::to_string(&credential).expect("json");
    let (status, done) = form_json(
        &client,
        app.url("/profile/self-service/enrol/fido2-token/finish"),
        &[
            ("csrf_token", &token),
            ("credential", &credential),
            ("name", "Blue key"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/profile/self-service?added=1");
    key
}

/// Signs in with the password and asks for a security-key challenge.
async fn challenge(
    app: &TestApp,
    client: &reqwest::Client,
) -> (String, String, RequestChallengeResponse) {
    let r = app
        .sign_in_with(client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    key_options(app, client).await
}

/// On the security-key step: its CSRF token and method, and the challenge its script asks for.
async fn key_options(
    app: &TestApp,
    client: &reqwest::Client,
) -> (String, String, RequestChallengeResponse) {
    let page = app.page(client, "/sign-in/verify").await;
    assert!(page.contains("Use security key"), "{page}");
    // The key's box carries what its script posts: the CSRF token and the method.
    let attr = |name: &str| {
        page.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string()
    };
    let (token, method) = (attr("data-csrf"), attr("data-method"));
    let (status, options) = form_json(
        client,
        app.url("/sign-in/verify/security-key/options"),
        &[("csrf_token", &token), ("method", &method)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    (
        token,
        method,
        serde_json::from_value(options).expect("request options"),
    )
}

async fn answer(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    method: &str,
    assertion: &PublicKeyCredential,
) -> (StatusCode, serde_json::Value) {
    let text = serde_json::to_string(assertion).expect("json");
    form_json(
        client,
        app.url("/sign-in/verify/security-key/finish"),
        &[
            ("csrf_token", token),
            ("method", method),
            ("credential", &text),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_a_security_key_and_signs_in_with_it() {
    let app = spawn_app().await;
    let (mut key, _) = ann_with_a_key(&app).await;
    let client = browser();
    let (token, method, options) = challenge(&app, &client).await;
    let assertion = key
        .do_authentication(origin(&app), options)
        .expect("assertion");
    let (status, done) = answer(&app, &client, &token, &method, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/profile");
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
    // The same assertion again (a replay) is refused: its challenge is spent.
    let other = browser();
    let (token, method, _) = challenge(&app, &other).await;
    let (status, _) = answer(&app, &other, &token, &method, &assertion).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        location(&app.get_with(&other, "/profile").await),
        "/sign-in/verify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_assertion_or_one_for_another_origin_is_refused() {
    let app = spawn_app().await;
    let (mut key, _) = ann_with_a_key(&app).await;
    let client = browser();
    let (token, method, options) = challenge(&app, &client).await;
    let mut assertion = key
        .do_authentication(origin(&app), options)
        .expect("assertion");
    let last = assertion.response.signature.len() - 1;
    assertion.response.signature[last] ^= 0x01;
    let (status, body) = answer(&app, &client, &token, &method, &assertion).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("not accepted")
    );

    let (token, method, options) = challenge(&app, &client).await;
    let phishing = url::Url::parse("http://localhost:1").expect("url");
    let assertion = key.do_authentication(phishing, options).expect("assertion");
    let (status, _) = answer(&app, &client, &token, &method, &assertion).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.audit()
            .await
            .iter()
            .filter(|e| e.event == "mfa.verify" && e.outcome == "failure")
            .count()
            >= 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_allow_list_only_listed_authenticators_can_register() {
    use der::EncodePem;
    let (mut listed, listed_ca) = SoftToken::new(true).expect("soft token");
    let (mut other, _other_ca) = SoftToken::new(true).expect("another soft token");
    let pem = listed_ca.to_pem(der::pem::LineEnding::LF).expect("PEM");
    let allow_list = format!(
        "[[authenticator]]\naaguid = \"{}\"\ndescription = \"Test key\"\nca_pem = \"\"\"\n{pem}\"\"\"\n",
        webauthn_authenticator_rs::softtoken::AAGUID
    );
    let allowed =
        domain::mfa::security_key::read_allow_list(&allow_list).expect("allow list parses");
    let app = crate::helpers::spawn_app_with(|s| s.fido2_allowed = allowed).await;
    let client = app.ann_signed_in().await;
    let page = app
        .page(&client, "/profile/self-service/enrol/fido2-token")
        .await;
    let token = csrf_token(&page);
    let try_register = async |key: &mut SoftToken| {
        let (_, options) = form_json(
            &client,
            app.url("/profile/self-service/enrol/fido2-token/options"),
            &[("csrf_token", &token)],
        )
        .await;
        let options: CreationChallengeResponse = serde_json::from_value(options).expect("options");
        let credential = key
            .do_registration(origin(&app), options)
            .expect("registration");
        let credential = serde_json::to_string(&credential).expect("json");
        form_json(
            &client,
            app.url("/profile/self-service/enrol/fido2-token/finish"),
            &[
                ("csrf_token", &token),
                ("credential", &credential),
                ("name", ""),
            ],
        )
        .await
    };
    let (status, body) = try_register(&mut other).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unlisted authenticator is refused: {body}"
    );
    let (status, body) = try_register(&mut listed).await;
    assert_eq!(status, StatusCode::OK, "the listed one registers: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_key_whose_counter_does_not_increase_is_refused_and_reported() {
    let app = spawn_app().await;
    let (mut key, _) = ann_with_a_key(&app).await;
    // A copy of the key as it is now (same private key, same counter).
    let mut copy = SoftToken::from_cbor(&key.to_cbor().expect("cbor")).expect("copy");
    let client = browser();
    let (token, method, options) = challenge(&app, &client).await;
    let assertion = key
        .do_authentication(origin(&app), options)
        .expect("assertion");
    assert_eq!(
        answer(&app, &client, &token, &method, &assertion).await.0,
        StatusCode::OK
    );

    let other = browser();
    let (token, method, options) = challenge(&app, &other).await;
    let cloned = copy
        .do_authentication(origin(&app), options)
        .expect("assertion from the copy");
    let (status, _) = answer(&app, &other, &token, &method, &cloned).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the copy's counter did not move on"
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.possible_clone")
    );
    assert!(app.outbox().iter().any(|m| {
        m["subject"]
            .as_str()
            .unwrap_or("")
            .contains("may have been copied")
    }));
}

/// A reset's security-key options for `email`, as JSON, once the key is chosen.
async fn reset_key_options(app: &TestApp, email: &str) -> serde_json::Value {
    let client = browser();
    app.submit(
        &client,
        "/forgotten-password",
        "/forgotten-password",
        &[("email", email)],
    )
    .await;
    app.reset_choose(&client, "fido2").await;
    let page = app.page(&client, "/sign-in/verify").await;
    assert!(page.contains("Use security key"));
    let token = page
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the key's CSRF token")
        .to_string();
    let (status, options) = form_json(
        &client,
        app.url("/sign-in/verify/security-key/options"),
        &[("csrf_token", &token), ("method", "fido2")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    options
}

/// The options with their challenge and credential ids blanked.
fn shape(mut options: serde_json::Value) -> serde_json::Value {
    options["publicKey"]["challenge"] = "C".into();
    if let Some(list) = options["publicKey"]["allowCredentials"].as_array_mut() {
        for c in list {
            c["id"] = "ID".into();
        }
    }
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_asks_for_a_security_key_the_same_way_whether_or_not_the_address_has_one() {
    let app = spawn_app().await;
    let (_key, _) = ann_with_a_key(&app).await;
    let real = reset_key_options(&app, "ann@example.nhs.uk").await;
    let unknown = reset_key_options(&app, "nobody@example.nhs.uk").await;
    let again = reset_key_options(&app, "nobody@example.nhs.uk").await;
    assert_eq!(
        shape(real.clone()),
        shape(unknown.clone()),
        "{real} / {unknown}"
    );
    // A made-up key is the same each time for one address, as a real one is.
    assert_eq!(
        unknown["publicKey"]["allowCredentials"],
        again["publicKey"]["allowCredentials"]
    );
    assert_ne!(
        unknown["publicKey"]["challenge"],
        again["publicKey"]["challenge"]
    );
}

/// The security key step the browser of `client` is on: options, the key's answer, and the
/// answer posted; returns the status and JSON of the answer.
async fn key_step(
    app: &TestApp,
    client: &reqwest::Client,
    key: &mut SoftToken,
) -> (StatusCode, serde_json::Value) {
    let (token, method, options) = key_options(app, client).await;
    let assertion = key
        .do_authentication(origin(app), options)
        .expect("authentication");
    answer(app, client, &token, &method, &assertion).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_holding_the_admin_area_to_a_security_key_asks_for_the_key_and_refuses_an_app_code()
 {
    let app = spawn_app().await;
    let out = app.nhsmal(&["policy", "set", "--admin-phishing-resistant", "yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = app.nhsmal(&["policy", "show"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("the admin area needs a security key: yes")
    );

    // An administrator with an authenticator app only: told to add a security key.
    let (with_app, _) = app
        .with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let r = app.get_with(&with_app, "/admin").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.expect("text");
    assert!(
        page.contains("sign in to the admin area with a security key or a passkey"),
        "{page}"
    );

    // With a key as well, the app's code is not enough: the admin area asks for the key.
    let mut key = register_a_key(&app, &with_app).await;
    let r = app.get_with(&with_app, "/admin").await;
    assert_eq!(location(&r), "/sign-in/verify");
    let (status, done) = key_step(&app, &with_app, &mut key).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/admin");
    assert_eq!(
        app.get_with(&with_app, "/admin").await.status(),
        StatusCode::OK
    );

    // Off again, the app's code is enough.
    let out = app.nhsmal(&["policy", "set", "--admin-phishing-resistant", "no"]);
    assert!(out.status.success());
    let bad = app.nhsmal(&["policy", "set", "--admin-phishing-resistant", "maybe"]);
    assert!(!bad.status.success());
}
