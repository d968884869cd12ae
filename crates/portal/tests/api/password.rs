use reqwest::StatusCode;

use crate::helpers::{PASSWORD, browser, location, spawn_app, text_of};

const NEW: &str = "another long passphrase 42";

async fn change(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    app.submit(
        client,
        "/profile/change-password",
        "/profile/change-password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", confirm),
        ],
    )
    .await
}

async fn hash_of(app: &crate::helpers::TestApp) -> String {
    use domain::accounts::AccountRecords;
    app.store
        .account_by_email("ann@example.nhs.uk")
        .await
        .expect("query")
        .expect("account")
        .password_hash
        .expect("hash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_passwords_are_argon2id_with_the_configured_parameters() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let hash = hash_of(&app).await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_signs_out_other_sessions_and_emails_the_person() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let other_device = browser();
    app.sign_in_with(&other_device, "ann@example.nhs.uk", PASSWORD)
        .await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;

    let response = change(&app, &app.client, PASSWORD, NEW, NEW).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile/self-service?changed=1");
    let page = app
        .page(&app.client, "/profile/self-service?changed=1")
        .await;
    assert!(page.contains("Your password has been changed"));

    // This browser carries on; the other device is signed out.
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    assert_eq!(
        app.get_with(&other_device, "/profile").await.status(),
        StatusCode::SEE_OTHER
    );
    // The old password no longer works; the new one does.
    assert_eq!(
        app.sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in_with(&browser(), "ann@example.nhs.uk", NEW)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    let mail = app.outbox();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["channel"], "email");
    assert_eq!(mail[0]["to"], "ann@example.nhs.uk");
    assert!(
        mail[0]["body"]
            .as_str()
            .expect("body")
            .contains("If this wasn't you")
    );
    assert!(!mail[0]["body"].as_str().expect("body").contains(NEW));
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "password.change" && e.outcome == "success")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_current_password_changes_nothing_and_counts_as_a_failure() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let before = hash_of(&app).await;
    let response = change(&app, &app.client, "not my password 1", NEW, NEW).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    assert_eq!(
        text_of(&page, ".nhsuk-error-summary__list a"),
        "Your current password is not correct"
    );
    assert_eq!(before, hash_of(&app).await);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "password.change" && e.outcome == "failure")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_or_mismatched_new_passwords_are_refused_with_the_reason() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let before = hash_of(&app).await;
    for (new, confirm, expected) in [
        ("short1", "short1", "Password must be 8 characters or more"),
        (
            "password1",
            "password1",
            "This password is too easy to guess",
        ),
        ("nhsmal2024", "nhsmal2024", "must not be based on your name"),
        (
            "ann example",
            "ann example",
            "must not be based on your name",
        ),
        (NEW, "a different confirmation 9", "Passwords do not match"),
        (
            PASSWORD,
            PASSWORD,
            "must be different from your current password",
        ),
    ] {
        let response = change(&app, &app.client, PASSWORD, new, confirm).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{new}");
        let errors = text_of(
            &response.text().await.expect("body"),
            ".nhsuk-error-summary__list a",
        );
        assert!(errors.contains(expected), "{new}: {errors}");
    }
    let too_long = "a very long passphrase ".repeat(12);
    let response = change(&app, &app.client, PASSWORD, &too_long, &too_long).await;
    assert!(
        text_of(
            &response.text().await.expect("body"),
            ".nhsuk-error-summary"
        )
        .contains("256 characters or fewer")
    );
    assert_eq!(before, hash_of(&app).await);
    assert!(app.outbox().is_empty());
}
