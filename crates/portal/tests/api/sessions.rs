use reqwest::StatusCode;

use crate::helpers::{PASSWORD, browser, csrf_token, location, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_page_without_a_session_redirects_to_sign_in() {
    let app = spawn_app().await;
    for path in [
        "/profile",
        "/profile/self-service",
        "/profile/change-password",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/sign-in?next="), "{path}");
    }
    // A made-up session cookie is no session either.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url("/profile"))
        .header("cookie", format!("nhsmal_session={}", "A".repeat(43)))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_after_30_minutes() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    app.clock.advance(29 * 60);
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    // Activity moved the idle clock on; 29 more minutes is still fine…
    app.clock.advance(29 * 60);
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    // …but 30 idle minutes end it.
    app.clock.advance(30 * 60);
    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_after_12_hours_however_busy() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    for _ in 0..((12 * 60) / 20 - 1) {
        app.clock.advance(20 * 60);
        assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    }
    app.clock.advance(20 * 60);
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let signed_in = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let cookie = crate::helpers::set_cookies(signed_in.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_session="))
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let response = app.submit(&app.client, "/profile", "/sign-out", &[]).await;
    assert_eq!(location(&response), "/sign-in?signed_out=1");
    let page = app.page(&app.client, "/sign-in?signed_out=1").await;
    assert!(page.contains("You have signed out."));

    // Replaying the old cookie by hand fails: the session is gone on the server.
    let replay = browser()
        .get(app.url("/profile"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "session.signed_out")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_ends_its_sessions() {
    let app = spawn_app().await;
    let account = app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    domain::account_changes::set_state(
        &app.store,
        &account,
        domain::accounts::AccountState::Disabled,
        &domain::audit::Requester::command_line(),
        crate::helpers::START,
    )
    .await
    .expect("disabled");
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_table_holds_only_hashes_of_session_ids() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let response = app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let value = crate::helpers::set_cookies(response.headers())
        .into_iter()
        .find_map(|c| {
            c.strip_prefix("nhsmal_session=")
                .map(|v| v.split(';').next().unwrap_or("").to_string())
        })
        .expect("cookie");
    let _ = csrf_token; // tokens are tested in csrf.rs
    let pool = sqlx::AnyPool::connect(app.database_url())
        .await
        .expect("connect");
    let ids: Vec<(String,)> = sqlx::query_as("SELECT id_hash FROM sessions")
        .fetch_all(&pool)
        .await
        .expect("query");
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0].0, value);
    assert!(!ids[0].0.contains(&value));
}
