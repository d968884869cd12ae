use reqwest::StatusCode;

use crate::helpers::{PASSWORD, browser, csrf_token, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_without_a_csrf_token_is_refused_with_403() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.page(&app.client, "/sign-in").await;
    let response = app
        .client
        .post(app.url("/sign-in"))
        .form(&[("email", "ann@example.nhs.uk"), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        crate::helpers::text_of(&response.text().await.expect("body"), "h1")
            .contains("could not be completed")
    );
    assert!(app.audit().await.is_empty(), "nothing was attempted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csrf_token_from_another_browser_is_refused() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let attacker = browser();
    let token = csrf_token(&app.page(&attacker, "/sign-in").await);
    app.page(&app.client, "/sign-in").await;
    let response = app
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
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_forms_need_the_sessions_own_token() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    for (action, fields) in [
        ("/sign-out", vec![]),
        (
            "/profile/change-password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "another long passphrase 42"),
                ("confirm_password", "another long passphrase 42"),
            ],
        ),
        ("/session/extend", vec![]),
        ("/profile/new-phone/add-app", vec![]),
        ("/help/new-phone/feedback", vec![("helpful", "yes")]),
    ] {
        let mut with_bad_token = vec![("csrf_token", "forged")];
        with_bad_token.extend(fields.iter().copied());
        for form in [fields.clone(), with_bad_token] {
            let response = app
                .client
                .post(app.url(action))
                .form(&form)
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
        }
    }
    // Still signed in, password unchanged.
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    let other = browser();
    assert_eq!(
        app.sign_in_with(&other, "ann@example.nhs.uk", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_form_post_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let token = csrf_token(&app.page(&app.client, "/sign-in").await);
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app
            .client
            .post(app.url("/sign-in"))
            .header(name, value)
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "ann@example.nhs.uk"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    // The same request from the portal's own origin goes through.
    let response = app
        .client
        .post(app.url("/sign-in"))
        .header("origin", format!("http://localhost:{}", app.port))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ann@example.nhs.uk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
