//! Recovery codes: made once on Self-Service, single use at the second step, regenerating
//! voids the old set, only hashes stored.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app};

const PAGE: &str = "/profile/self-service/recovery-codes";

/// Ann (with an app and a fresh factor) makes a set of codes; returns them.
pub(crate) async fn ann_with_codes(app: &TestApp) -> Vec<String> {
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let response = app.submit(&client, PAGE, PAGE, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("body");
    let doc = scraper::Html::parse_document(&page);
    let selector = scraper::Selector::parse("#recovery-codes code").expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>())
        .collect()
}

async fn use_code(app: &TestApp, client: &reqwest::Client, code: &str) -> reqwest::Response {
    app.submit(
        client,
        "/sign-in/recovery-code",
        "/sign-in/recovery-code",
        &[("recovery_code", code)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_codes_are_shown_once_and_only_their_hashes_are_stored() {
    let app = spawn_app().await;
    let codes = ann_with_codes(&app).await;
    assert_eq!(codes.len(), 10);
    for code in &codes {
        assert_eq!(code.len(), 14, "{code}");
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(app.database_url())
        .await
        .expect("db");
    let hashes: Vec<(String,)> = sqlx::query_as("SELECT code_hash FROM recovery_codes")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(hashes.len(), 10);
    for (hash,) in &hashes {
        for code in &codes {
            assert!(
                !hash.contains(&code.replace('-', "")),
                "a hash, not the code"
            );
        }
    }
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "recovery_codes.created")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn making_codes_needs_a_method_and_a_fresh_second_factor() {
    let app = spawn_app().await;
    app.add_user("bob@fa123.nhs.uk").await;
    let client = browser();
    app.sign_in_with(&client, "bob@fa123.nhs.uk", PASSWORD)
        .await;
    let response = app.submit(&client, PAGE, PAGE, &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "no method to back up"
    );

    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(16 * 60);
    let response = app.submit(&client, PAGE, PAGE, &[]).await;
    assert_eq!(
        location(&response),
        "/sign-in/verify",
        "prove it again first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once_and_the_person_is_told_how_many_are_left() {
    let app = spawn_app().await;
    let codes = ann_with_codes(&app).await;
    let client = browser();
    let response = app
        .sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/sign-in/verify");
    let another = app.page(&client, "/sign-in/another-way").await;
    assert!(another.contains("Use a recovery code"));
    // Typed in lower case without the hyphen, it still works.
    let typed = codes[3].replace('-', "").to_lowercase();
    let response = use_code(&app, &client, &typed).await;
    assert_eq!(
        location(&response),
        "/sign-in/recovery-code/used?next=%2Fprofile"
    );
    let page = app
        .page(&client, "/sign-in/recovery-code/used?next=%2Fprofile")
        .await;
    assert!(page.contains("You have 9 recovery codes left"), "{page}");
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
    let email = app
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m["channel"] == "email")
        .expect("email");
    assert!(
        email["subject"]
            .as_str()
            .expect("subject")
            .contains("recovery code")
    );

    // The same code again: refused.
    let again = browser();
    app.sign_in_with(&again, "ann@fa123.nhs.uk", PASSWORD).await;
    let response = use_code(&app, &again, &codes[3]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Another code works.
    let response = use_code(&app, &again, &codes[4]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_set_voids_the_old_one() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let make = || async {
        let page = app
            .submit(&client, PAGE, PAGE, &[])
            .await
            .text()
            .await
            .expect("body");
        let doc = scraper::Html::parse_document(&page);
        let selector = scraper::Selector::parse("#recovery-codes code").expect("selector");
        doc.select(&selector)
            .map(|e| e.text().collect::<String>())
            .collect::<Vec<String>>()
    };
    let old = make().await;
    let new = make().await;
    assert_eq!(new.len(), 10);
    assert_ne!(old, new);
    let other = browser();
    app.sign_in_with(&other, "ann@fa123.nhs.uk", PASSWORD).await;
    let response = use_code(&app, &other, &old[0]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = use_code(&app, &other, &new[0]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_recovery_codes_count_towards_the_lock() {
    let app = spawn_app().await;
    ann_with_codes(&app).await;
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        last = use_code(&app, &client, "AAAAA-BBBBB").await.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
