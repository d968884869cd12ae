//! Passkeys (issue 23) through the portal's JSON endpoints, with a software authenticator:
//! added from Self-Service, signing in alone, its challenge used once, the policy's switches
//! and lists, and what the ID token says. Chromium's virtual authenticator (resident keys,
//! backup flags, autofill) is in tests/browser/test_passkeys.py.

use reqwest::StatusCode;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::helpers::{PASSWORD, TestApp, browser, csrf_token, location, spawn_app};

/// The software token's model (webauthn-authenticator-rs's AAGUID).
const SOFT_TOKEN_MODEL: &str = "0fb9bcbc-a0d4-4042-bbb0-559bc1631e28";

async fn form_json(
    client: &reqwest::Client,
    url: String,
    fields: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let r = client.post(url).form(fields).send().await.expect("POST");
    let status = r.status();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A software passkey and the account it names (its user handle).
struct Passkey {
    token: SoftToken,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
}

/// The signed-in person of `client` creates a passkey; the answer's status and body.
async fn try_adding_a_passkey(
    app: &TestApp,
    client: &reqwest::Client,
) -> (StatusCode, serde_json::Value, Option<Passkey>) {
    let page = app
        .page(client, "/profile/self-service/enrol/passkey")
        .await;
    assert!(page.contains("Create a passkey"), "{page}");
    let token = csrf_token(&page);
    let (status, options) = form_json(
        client,
        app.url("/profile/self-service/enrol/passkey/options"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    // A passkey: discoverable, and the person verified by the authenticator.
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    // The software token keeps no resident keys (it answers for the credential it is told
    // of), so it is asked as for a security key; the portal cannot tell, as with any
    // authenticator that does not report residence.
    let mut options = options;
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "discouraged".into();
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
    let options: CreationChallengeResponse =
        serde_json::from_value(options).expect("creation options");
    let user_handle = options.public_key.user.id.to_vec();
    let (mut soft, _) = SoftToken::new(true).expect("soft token");
    let credential = soft
        .do_registration(app.settings.public_url.clone(), options)
        .expect("registration");
    let credential_id = credential.raw_id.to_vec();
    let text = serde_json::to_string(&credential).expect("json");
    let (status, body) = form_json(
        client,
        app.url("/profile/self-service/enrol/passkey/finish"),
        &[
            ("csrf_token", &token),
            ("credential", &text),
            ("name", "Work laptop"),
        ],
    )
    .await;
    let passkey = Passkey {
        token: soft,
        credential_id,
        user_handle,
    };
    (status, body, Some(passkey))
}

async fn ann_with_a_passkey(app: &TestApp) -> (Passkey, reqwest::Client) {
    let client = app.ann_signed_in().await;
    let (status, done, passkey) = try_adding_a_passkey(app, &client).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/profile/self-service?added=1");
    (passkey.expect("passkey"), client)
}

/// The sign-in page's passkey box in a new browser: its CSRF token, and the options and
/// ticket its script gets.
async fn passkey_options(
    app: &TestApp,
    client: &reqwest::Client,
) -> (String, String, RequestChallengeResponse) {
    let page = app.page(client, "/sign-in").await;
    assert!(page.contains("Sign in with a passkey"));
    assert!(page.contains("autocomplete=\"username webauthn\""));
    let token = csrf_token(&page);
    let (status, mut options) = form_json(
        client,
        app.url("/sign-in/passkey/options"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    // No credentials named: the browser offers the passkeys it holds.
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let ticket = options["ticket"].as_str().expect("ticket").to_string();
    options.as_object_mut().expect("object").remove("ticket");
    (
        token,
        ticket,
        serde_json::from_value(options).expect("request options"),
    )
}

/// The passkey answers the options as a browser would send it: with the user handle of a
/// discoverable credential. (The software token is not discoverable itself, so it is told
/// which credential to use; the user handle is not signed, as in WebAuthn.)
fn passkey_answer(
    app: &TestApp,
    passkey: &mut Passkey,
    options: RequestChallengeResponse,
) -> String {
    use base64::Engine;
    let mut options = serde_json::to_value(options).expect("json");
    options["publicKey"]["allowCredentials"] = serde_json::json!([{
        "type": "public-key",
        "id": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&passkey.credential_id),
    }]);
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    let mut assertion = passkey
        .token
        .do_authentication(app.settings.public_url.clone(), options)
        .expect("assertion");
    assertion.response.user_handle = Some(passkey.user_handle.clone());
    serde_json::to_string(&assertion).expect("json")
}

async fn finish(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    ticket: &str,
    answer: &str,
) -> (StatusCode, serde_json::Value) {
    form_json(
        client,
        app.url("/sign-in/passkey/finish"),
        &[
            ("csrf_token", token),
            ("ticket", ticket),
            ("credential", answer),
            ("next", ""),
        ],
    )
    .await
}

/// Signs in with the passkey alone in a new browser.
async fn sign_in_with_passkey(
    app: &TestApp,
    passkey: &mut Passkey,
) -> (StatusCode, serde_json::Value, reqwest::Client) {
    let client = browser();
    let (token, ticket, options) = passkey_options(app, &client).await;
    let answer = passkey_answer(app, passkey, options);
    let (status, body) = finish(app, &client, &token, &ticket, &answer).await;
    (status, body, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_a_passkey_and_signs_in_with_it_alone_without_a_password() {
    let app = spawn_app().await;
    let (mut passkey, ann) = ann_with_a_passkey(&app).await;
    let page = app.page(&ann, "/profile/self-service").await;
    assert!(page.contains("Passkey"));
    assert!(page.contains("Work laptop"));
    assert!(
        page.contains("Device-bound"),
        "a software token is not synced"
    );

    let passwords = |audit: &[domain::audit::AuditRecord]| {
        audit
            .iter()
            .filter(|e| e.event == "sign_in.password")
            .count()
    };
    let before = passwords(&app.audit().await);
    let (status, done, client) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/profile");
    let page = app.page(&client, "/profile").await;
    assert!(page.contains("Ann Example"), "signed in: {page}");
    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e.event == "mfa.verify"));
    assert_eq!(passwords(&audit), before, "no password was asked for");
    // The sign-in is in the person's recent activity, as any other.
    let activity = app.page(&client, "/profile/activity").await;
    assert!(activity.contains("This is you now"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_answer_signs_in_once_even_when_sent_fifty_times_at_once() {
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let client = browser();
    let (token, ticket, options) = passkey_options(&app, &client).await;
    let answer = passkey_answer(&app, &mut passkey, options);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = vec![];
    for _ in 0..50 {
        let (client, token, ticket, answer) = (
            client.clone(),
            token.clone(),
            ticket.clone(),
            answer.clone(),
        );
        let url = app.url("/sign-in/passkey/finish");
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("ticket", &ticket),
                    ("credential", &answer),
                ])
                .send()
                .await
                .expect("POST")
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.expect("task");
        assert!(!status.is_server_error(), "{status}");
        ok += usize::from(status == StatusCode::OK);
    }
    assert_eq!(ok, 1, "one answer, one sign-in");
    // And later, the same again.
    let (status, body) = finish(&app, &client, &token, &ticket, &answer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("expired or was already used")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_taken_to_another_browser_or_a_made_up_answer_is_refused_with_a_4xx() {
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let first = browser();
    let (_, ticket, options) = passkey_options(&app, &first).await;
    let answer = passkey_answer(&app, &mut passkey, options);
    let other = browser();
    let page = app.page(&other, "/sign-in").await;
    let token = csrf_token(&page);
    let (status, _) = finish(&app, &other, &token, &ticket, &answer).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bound to the browser it was issued to"
    );

    for bad in [
        "",
        "{}",
        "null",
        &"x".repeat(100_000),
        "{\"id\":\"\\u0000\"}",
    ] {
        let (token, ticket, _) = passkey_options(&app, &other).await;
        let (status, body) = finish(&app, &other, &token, &ticket, bad).await;
        // Too large for the form limit (413), or unreadable (422): a 4xx either way.
        let expected = if bad.len() > 65_536 {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(status, expected, "{bad:.40}: {body}");
    }
    // Without the CSRF token: refused before anything.
    let r = other
        .post(app.url("/sign-in/passkey/options"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_passkey_or_a_disabled_account_signs_no_one_in() {
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let out = app.nhsmal(&["user", "disable", "ann@example.nhs.uk"]);
    assert!(out.status.success(), "{out:?}");
    let (status, body, _) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("disabled"));
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "sign_in.passkey" && e.reason.as_deref() == Some("disabled"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_policy_keeps_passkeys_to_the_second_step_the_password_comes_first() {
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let out = app.nhsmal(&["policy", "set", "--passkey-sign-in", "no"]);
    assert!(out.status.success(), "{out:?}");
    let (status, body, _) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("only after your password")
    );

    // After the password, the passkey is a security key at the second step.
    let client = browser();
    let r = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&client, "/sign-in/verify").await;
    assert!(page.contains("Use security key"), "{page}");
    let bad = app.nhsmal(&["policy", "set", "--passkey-sign-in", "maybe"]);
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_lists_refuse_a_passkey_at_registration_and_at_sign_in() {
    let app = spawn_app().await;
    // An allow-list without this model: it cannot be added.
    let other_model = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
    let out = app.nhsmal(&["policy", "set", "--aaguid-allow", other_model]);
    assert!(out.status.success(), "{out:?}");
    let ann = app.ann_signed_in().await;
    let (status, body, _) = try_adding_a_passkey(&app, &ann).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("not allowed"));
    assert!(
        app.page(&ann, "/profile/self-service")
            .await
            .contains("not set up any")
    );

    // Allowed, it is added; denied later, it no longer signs in.
    let out = app.nhsmal(&["policy", "set", "--aaguid-allow", SOFT_TOKEN_MODEL]);
    assert!(out.status.success(), "{out:?}");
    let (status, body, passkey) = try_adding_a_passkey(&app, &ann).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut passkey = passkey.expect("passkey");
    let out = app.nhsmal(&[
        "policy",
        "set",
        "--aaguid-allow",
        "none",
        "--aaguid-deny",
        SOFT_TOKEN_MODEL,
    ]);
    assert!(out.status.success(), "{out:?}");
    let (status, body, _) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("not allowed"));
    // Garbage in a list is refused with a clear line, and nothing changes.
    let bad = app.nhsmal(&["policy", "set", "--aaguid-deny", "yubikey"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an AAGUID"));
    let shown = app.nhsmal(&["policy", "show"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(SOFT_TOKEN_MODEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_sign_in_reaches_phishing_resistant_in_the_id_token_without_pwd() {
    let app = spawn_app().await;
    let (client_id, secret) =
        crate::oidc::register(&app, &["--first-party", "--require-acr", "phr"]);
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let (status, _, person) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    // The app requires phishing-resistant: the passkey session is enough, no step-up.
    let tokens = crate::oidc::tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let claims = crate::oidc::verified_claims(
        &app,
        tokens["id_token"].as_str().expect("id_token"),
        &client_id,
    )
    .await;
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));
    assert_eq!(claims["acr"], "urn:nhsmal:acr:phr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_passkey_whose_counter_does_not_increase_is_refused_and_reported() {
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let mut copy = Passkey {
        token: SoftToken::from_cbor(&passkey.token.to_cbor().expect("cbor")).expect("copy"),
        credential_id: passkey.credential_id.clone(),
        user_handle: passkey.user_handle.clone(),
    };
    let (status, _, _) = sign_in_with_passkey(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = sign_in_with_passkey(&app, &mut copy).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_preferred_offers_the_passkey_before_the_default_app_code() {
    let app = spawn_app().await;
    let email = "ann@fa123.nhs.uk";
    let (person, _) = app.with_fresh_factor(email, "FA123", "user").await;
    let (status, body, _) = try_adding_a_passkey(&app, &person).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_step = || async {
        let client = browser();
        let r = app.sign_in_with(&client, email, PASSWORD).await;
        assert_eq!(location(&r), "/sign-in/verify");
        app.page(&client, "/sign-in/verify").await
    };
    // By default, the person's default method (the app, set up first).
    let page = second_step().await;
    assert!(!page.contains("Use security key"), "{page}");
    assert!(page.contains("Sign in another way"));
    let out = app.nhsmal(&["policy", "set", "--system-preferred", "yes"]);
    assert!(out.status.success(), "{out:?}");
    let page = second_step().await;
    assert!(page.contains("Use security key"), "{page}");
    assert!(page.contains("Sign in another way"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_whose_only_passkey_is_lost_gets_back_in_with_a_temporary_access_pass() {
    let app = spawn_app().await;
    let (mut lost, _) = ann_with_a_passkey(&app).await;
    // Removing it would leave no method: the page says so before anything is removed.
    let (_, _, person) = sign_in_with_passkey(&app, &mut lost).await;
    let page = app.page(&person, "/profile/self-service").await;
    let id = page
        .split("/profile/self-service/methods/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the passkey's row")
        .to_string();
    let confirm = app
        .page(
            &person,
            &format!("/profile/self-service/methods/{id}/remove"),
        )
        .await;
    assert!(confirm.contains("This is your only method"), "{confirm}");

    // The phone with the passkey is gone: the password leads to a step she cannot pass.
    let client = browser();
    let r = app
        .sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    // Her administrator gives her a temporary access pass; with it she creates a new passkey.
    let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    let admin = crate::admin::local_admin(&app).await;
    let pass =
        crate::admin::issue_pass(&app, &admin, &format!("/admin/users/{}", ann.id), "60").await;
    let phone = browser();
    let r = crate::admin::sign_in_with_pass(&app, &phone, "ann@example.nhs.uk", &pass).await;
    assert_eq!(location(&r), "/profile/self-service/enrol");
    let (status, body, new) = try_adding_a_passkey(&app, &phone).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = sign_in_with_passkey(&app, &mut new.expect("passkey")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_answer_without_user_verification_signs_no_one_in() {
    // WA-2: where the key is the only factor, user verification is required and checked.
    let app = spawn_app().await;
    let (mut passkey, _) = ann_with_a_passkey(&app).await;
    let client = browser();
    let (token, ticket, options) = passkey_options(&app, &client).await;
    // The authenticator is asked not to verify the person (as a tampered page might), so its
    // answer has the UV flag clear.
    let mut options = serde_json::to_value(options).expect("json");
    options["publicKey"]["userVerification"] = "discouraged".into();
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    let answer = passkey_answer(&app, &mut passkey, options);
    let (status, body) = finish(&app, &client, &token, &ticket, &answer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let r = app.get_with(&client, "/profile").await;
    assert!(location(&r).starts_with("/sign-in"), "not signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weaker_session_steps_up_with_the_passkey_when_an_app_requires_phishing_resistant() {
    let app = spawn_app().await;
    let (client_id, secret) =
        crate::oidc::register(&app, &["--first-party", "--require-acr", "phr"]);
    let email = "ann@fa123.nhs.uk";
    let (person, _) = app.with_fresh_factor(email, "FA123", "user").await;
    let (status, body, passkey) = try_adding_a_passkey(&app, &person).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut passkey = passkey.expect("passkey");
    // Signed in with password and app code (acr mfa): the app's requirement sends her to a
    // step only a security key or passkey passes.
    let r = app
        .get_with(&person, &crate::oidc::authorize_url(&client_id, &[]))
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&person, "/sign-in/verify").await;
    assert!(page.contains("Use security key"), "{page}");
    let attr = |name: &str| {
        page.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string()
    };
    let (token, method) = (attr("data-csrf"), attr("data-method"));
    let fields = [("csrf_token", token.as_str()), ("method", method.as_str())];
    let (status, options) = form_json(
        &person,
        app.url("/sign-in/verify/security-key/options"),
        &fields,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    let assertion = passkey
        .token
        .do_authentication(app.settings.public_url.clone(), options)
        .expect("assertion");
    let answer = serde_json::to_string(&assertion).expect("json");
    let (status, done) = form_json(
        &person,
        app.url("/sign-in/verify/security-key/finish"),
        &[fields[0], fields[1], ("credential", answer.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(
        done["redirect"]
            .as_str()
            .unwrap_or("")
            .starts_with("/oauth2/authorize")
    );
    let tokens = crate::oidc::tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let claims = crate::oidc::verified_claims(
        &app,
        tokens["id_token"].as_str().expect("id_token"),
        &client_id,
    )
    .await;
    assert_eq!(claims["acr"], "urn:nhsmal:acr:phr");
    assert!(
        claims["amr"]
            .as_array()
            .expect("amr")
            .contains(&"hwk".into())
    );
}
