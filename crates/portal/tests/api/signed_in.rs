//! "Where you're signed in" (issue 22): browsers and apps a person can see and end, "Sign out
//! everywhere" with back-channel logout, the events that end everything, and the same list
//! for an administrator of the person's organisation (and refused to any other).

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, csrf_token, location, spawn_app, text_of};
use crate::mail_apps::{allowed_by, refresh, register_native};

/// The first form on `page` whose action contains `action_part`.
fn form_action(page: &str, action_part: &str) -> String {
    page.split("action=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|a| a.contains(action_part))
        .unwrap_or_else(|| panic!("no form posting to {action_part}"))
        .to_string()
}

async fn post_form(
    person: &reqwest::Client,
    app: &TestApp,
    page: &str,
    action: &str,
) -> reqwest::Response {
    person
        .post(app.url(action))
        .form(&[("csrf_token", csrf_token(page))])
        .send()
        .await
        .expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_their_browsers_and_apps_and_ends_one_of_each() {
    let app = spawn_app().await;
    let here = app.ann_signed_in().await;
    let elsewhere = browser();
    app.sign_in_with(&elsewhere, "ann@example.nhs.uk", PASSWORD)
        .await;
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    let tokens = allowed_by(&app, &here, &thunderbird).await;

    let page = app.page(&here, "/profile/signed-in").await;
    assert_eq!(text_of(&page, "h1"), "Where you're signed in");
    let sessions = text_of(&page, "#browser-sessions");
    assert_eq!(sessions.matches("This device").count(), 1, "{sessions}");
    assert_eq!(
        page.matches("/signed-in/sessions/").count(),
        1,
        "only the other browser can be signed out here"
    );
    let apps = text_of(&page, "#app-access");
    assert!(apps.contains("Thunderbird (mail app or device)"), "{apps}");

    // The other browser is signed out.
    let r = post_form(&here, &app, &page, &form_action(&page, "/sessions/")).await;
    assert_eq!(location(&r), "/profile/signed-in?ended=1");
    let r = app.get_with(&elsewhere, "/profile").await;
    assert!(location(&r).starts_with("/sign-in"), "{}", location(&r));
    assert_eq!(
        app.get_with(&here, "/profile").await.status(),
        StatusCode::OK
    );

    // The app's access is removed: its refresh token no longer works.
    let page = app.page(&here, "/profile/signed-in").await;
    let r = post_form(&here, &app, &page, &form_action(&page, "/apps/")).await;
    assert_eq!(location(&r), "/profile/signed-in?removed=1");
    let (status, _) = refresh(
        &app,
        &thunderbird,
        tokens["refresh_token"].as_str().expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let page = app.page(&here, "/profile/signed-in").await;
    assert!(page.contains("No app can use your account"));

    let events: Vec<String> = app.audit().await.into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"session.ended".to_string()));
    assert!(events.contains(&"oidc.access_removed".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_persons_session_or_app_cannot_be_ended_and_every_action_needs_csrf() {
    let app = spawn_app().await;
    let ann = app.ann_signed_in().await;
    let ann_elsewhere = browser();
    app.sign_in_with(&ann_elsewhere, "ann@example.nhs.uk", PASSWORD)
        .await;
    let ann_page = app.page(&ann, "/profile/signed-in").await;
    let reference_action = form_action(&ann_page, "/sessions/");
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    allowed_by(&app, &ann, &thunderbird).await;

    app.add_user("bob@example.nhs.uk").await;
    let bob = browser();
    app.sign_in_with(&bob, "bob@example.nhs.uk", PASSWORD).await;
    let bob_page = app.page(&bob, "/profile/signed-in").await;
    // Bob posts Ann's session reference and Ann's app: nothing of Ann's ends.
    let r = post_form(&bob, &app, &bob_page, &reference_action).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post_form(
        &bob,
        &app,
        &bob_page,
        &format!("/profile/signed-in/apps/{thunderbird}/remove"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_with(&ann_elsewhere, "/profile").await.status(),
        StatusCode::OK
    );
    assert!(
        app.page(&ann, "/profile/signed-in")
            .await
            .contains("Thunderbird")
    );
    // Without the CSRF token, refused.
    for action in [
        reference_action.as_str(),
        "/profile/signed-in/sign-out-everywhere",
    ] {
        let r = ann
            .post(app.url(action))
            .form(&[("x", "y")])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(
        app.get_with(&ann_elsewhere, "/profile").await.status(),
        StatusCode::OK
    );
}

/// An app's back-channel logout endpoint: the logout tokens it receives.
async fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = got.clone();
    let router = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let form: Vec<(String, String)> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                if let Some((_, token)) = form.into_iter().find(|(k, _)| k == "logout_token") {
                    kept.lock().expect("lock").push(token);
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/backchannel",
        listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_everywhere_ends_every_session_revokes_every_app_and_tells_the_apps_that_asked() {
    let app = spawn_app().await;
    let (logout_uri, received) = logout_receiver().await;
    let here = app.ann_signed_in().await;
    let elsewhere = browser();
    app.sign_in_with(&elsewhere, "ann@example.nhs.uk", PASSWORD)
        .await;
    let thunderbird = register_native(
        &app,
        "Thunderbird",
        &["--backchannel-logout-uri", &logout_uri],
    );
    let outlook = register_native(&app, "Outlook", &[]);
    let first = allowed_by(&app, &here, &thunderbird).await;
    let second = allowed_by(&app, &here, &outlook).await;

    let page = app.page(&here, "/profile/signed-in").await;
    let r = post_form(&here, &app, &page, "/profile/signed-in/sign-out-everywhere").await;
    assert_eq!(location(&r), "/sign-in?everywhere=1");
    let notice = app.page(&here, "/sign-in?everywhere=1").await;
    assert!(notice.contains(
        "You have been signed out everywhere. Apps such as mail apps must sign in again."
    ));
    for browser in [&here, &elsewhere] {
        let r = app.get_with(browser, "/profile").await;
        assert!(location(&r).starts_with("/sign-in"));
    }
    for (client, tokens) in [(&thunderbird, &first), (&outlook, &second)] {
        let (status, _) = refresh(&app, client, tokens["refresh_token"].as_str().expect("r")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // Thunderbird registered a back-channel logout address and is told; the logout token is
    // signed by the portal and names the person and the event.
    let mut waited = 0;
    while received.lock().expect("lock").is_empty() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let tokens = received.lock().expect("lock").clone();
    assert_eq!(tokens.len(), 1);
    let claims = crate::oidc::verified_claims(&app, &tokens[0], &thunderbird).await;
    let ann = crate::helpers::account(&app, "ann@example.nhs.uk").await;
    assert_eq!(claims["sub"], ann.id.as_str());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    let events: Vec<String> = app.audit().await.into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"account.signed_out_everywhere".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_other_browsers_and_ends_mail_apps_access() {
    let app = spawn_app().await;
    let here = app.ann_signed_in().await;
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    let tokens = allowed_by(&app, &here, &thunderbird).await;
    let r = app
        .submit(
            &here,
            "/profile/change-password",
            "/profile/change-password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new long passphrase 77"),
                ("confirm_password", "a brand new long passphrase 77"),
            ],
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let (status, body) = refresh(
        &app,
        &thunderbird,
        tokens["refresh_token"].as_str().expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_and_ends_a_persons_access_and_another_organisations_is_refused() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let ann_browser = browser();
    app.sign_in_with(&ann_browser, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    let tokens = allowed_by(&app, &ann_browser, &thunderbird).await;
    let other = app.add_person("olu@zz999.nhs.uk", "ZZ999", "user").await;

    let (admin, _) = app
        .with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let person = app.page(&admin, &format!("/admin/users/{}", ann.id)).await;
    assert!(person.contains(&format!("/admin/users/{}/signed-in", ann.id)));
    let page = app
        .page(&admin, &format!("/admin/users/{}/signed-in", ann.id))
        .await;
    assert_eq!(text_of(&page, "h1"), "Where Pat Example is signed in");
    assert!(text_of(&page, "#app-access").contains("Thunderbird"));
    assert_eq!(page.matches("This device").count(), 0);

    let r = post_form(
        &admin,
        &app,
        &page,
        &format!("/admin/users/{}/signed-in/sign-out-everywhere", ann.id),
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/admin/users/{}/signed-in?everywhere=1", ann.id)
    );
    assert!(location(&app.get_with(&ann_browser, "/profile").await).starts_with("/sign-in"));
    let (status, _) = refresh(
        &app,
        &thunderbird,
        tokens["refresh_token"].as_str().expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let lee = crate::helpers::account(&app, "lee.admin@fa123.nhs.uk").await;
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.signed_out_everywhere"
                && e.actor_id.as_deref() == Some(lee.id.as_str()))
    );

    // A person of another organisation: refused, and the refusal is audited.
    let r = app
        .get_with(&admin, &format!("/admin/users/{}/signed-in", other.id))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(
        &admin,
        &app,
        &page,
        &format!("/admin/users/{}/signed-in/sign-out-everywhere", other.id),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A plain user cannot use the admin pages at all.
    let r = app
        .get_with(
            &ann_browser,
            &format!("/admin/users/{}/signed-in", other.id),
        )
        .await;
    assert_ne!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_signs_a_person_out_everywhere() {
    let app = spawn_app().await;
    let here = app.ann_signed_in().await;
    let thunderbird = register_native(&app, "Thunderbird", &[]);
    let tokens = allowed_by(&app, &here, &thunderbird).await;
    let out = app.nhsmal(&["user", "sign-out-everywhere", "ann@example.nhs.uk"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("1 sessions ended, 1 app grants revoked"),
        "{printed}"
    );
    assert!(location(&app.get_with(&here, "/profile").await).starts_with("/sign-in"));
    let (status, _) = refresh(
        &app,
        &thunderbird,
        tokens["refresh_token"].as_str().expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let out = app.nhsmal(&["user", "sign-out-everywhere", "nobody@example.nhs.uk"]);
    assert!(!out.status.success());
}
