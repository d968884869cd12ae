//! Remembered devices: "Don't ask again on this device for N days".

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, totp_code};

const VERIFY: &str = "/sign-in/verify";

async fn sign_out(app: &TestApp, client: &reqwest::Client) {
    let response = app.submit(client, "/profile", "/sign-out", &[]).await;
    assert_eq!(location(&response), "/sign-in?signed_out=1");
}

/// Signs in on `client` with the password and the app's code, ticking "Don't ask again".
async fn sign_in_remembering(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    key: &[u8],
) -> reqwest::Response {
    let response = app.sign_in_with(client, email, PASSWORD).await;
    assert_eq!(location(&response), VERIFY);
    let page = app.page(client, VERIFY).await;
    let code = totp_code(key, app.clock_now());
    app.post_second_step(client, &page, &[("code", &code), ("remember", "1")])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_device_skips_the_second_step_until_the_password_changes() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let laptop = browser();
    let response = app
        .sign_in_with(&laptop, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), VERIFY);
    let page = app.page(&laptop, VERIFY).await;
    assert!(
        page.contains("Don’t ask again on this device for 30 days"),
        "{page}"
    );
    let code = totp_code(&key, app.clock_now());
    let response = app
        .post_second_step(&laptop, &page, &[("code", &code), ("remember", "1")])
        .await;
    let cookie = crate::helpers::set_cookies(response.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_device="))
        .expect("a device cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");

    // Next time on this browser: the password is enough…
    sign_out(&app, &laptop).await;
    let response = app
        .sign_in_with(&laptop, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "sign_in.remembered_device")
    );
    // …but changing security info still asks for a factor.
    let response = app
        .get_with(&laptop, "/profile/self-service/enrol/authenticator-app")
        .await;
    assert_eq!(location(&response), VERIFY);
    // Another browser is asked as before.
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), VERIFY);
    // Self-Service lists the device.
    let listed = app.page(&laptop, "/profile/self-service").await;
    assert!(listed.contains("Remembered devices") && listed.contains("Forget"));

    // A new password voids it.
    let new = "a brand new passphrase for the portal 77";
    let response = app
        .submit(
            &laptop,
            "/profile/change-password",
            "/profile/change-password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    sign_out(&app, &laptop).await;
    let response = app.sign_in_with(&laptop, "ann@fa123.nhs.uk", new).await;
    assert_eq!(location(&response), VERIFY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_device_expires_and_can_be_forgotten() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let laptop = browser();
    sign_in_remembering(&app, &laptop, "ann@fa123.nhs.uk", &key).await;
    sign_out(&app, &laptop).await;
    app.clock.advance(30 * 86_400 + 1);
    let response = app
        .sign_in_with(&laptop, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), VERIFY, "expired after 30 days");

    let phone = browser();
    sign_in_remembering(&app, &phone, "ann@fa123.nhs.uk", &key).await;
    let response = app
        .submit(
            &phone,
            "/profile/self-service",
            "/profile/self-service/devices/forget-all",
            &[],
        )
        .await;
    assert_eq!(location(&response), "/profile/self-service?forgotten=1");
    sign_out(&app, &phone).await;
    let response = app.sign_in_with(&phone, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(location(&response), VERIFY, "forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_are_not_offered_it_unless_the_policy_allows() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    app.clock.advance(30);
    let client = browser();
    app.sign_in_with(&client, "lee@fa123.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&client, VERIFY).await;
    assert!(!page.contains("Don’t ask again"));
    let code = totp_code(&key, app.clock_now());
    let response = app
        .post_second_step(&client, &page, &[("code", &code), ("remember", "1")])
        .await;
    assert!(
        crate::helpers::set_cookies(response.headers())
            .iter()
            .all(|c| !c.starts_with("nhsmal_device=")),
        "no device cookie for an administrator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_remembered_for_one_person_does_nothing_for_another() {
    let app = spawn_app().await;
    let (_, ann_key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let shared = browser();
    sign_in_remembering(&app, &shared, "ann@fa123.nhs.uk", &ann_key).await;
    sign_out(&app, &shared).await;
    let response = app
        .sign_in_with(&shared, "bob@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), VERIFY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_mfa_reset_voids_remembered_devices() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let laptop = browser();
    sign_in_remembering(&app, &laptop, "ann@fa123.nhs.uk", &key).await;
    let output = app.nhsmal(&["user", "reset-mfa", "ann@fa123.nhs.uk"]);
    assert!(output.status.success());
    use domain::devices::DeviceRecords;
    let ann = domain::accounts::find_by_email(&app.store, "ann@fa123.nhs.uk")
        .await
        .expect("ann");
    assert!(
        app.store
            .devices_of(&ann.id, app.clock_now())
            .await
            .expect("devices")
            .is_empty()
    );
}
