//! The MFA rollout: the policy (national, per organisation, per role), the reminder with its
//! snoozes before the date, and enrolment before anything else from the date.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app};

// START (1_800_000_000) is 15 January 2027, 08:00 UTC.
const IN_FIVE_DAYS: &str = "2027-01-20";
const IN_TWO_MONTHS: &str = "2027-03-15";
const PASSED: &str = "2027-01-01";
const ENROL: &str = "/profile/self-service/enrol";

fn nhsmal(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.nhsmal(args)
}

fn set_policy(app: &TestApp, args: &[&str]) {
    let mut all = vec!["policy", "set"];
    all.extend_from_slice(args);
    let output = nhsmal(app, &all);
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_set_refuses_bad_input_with_exit_2_and_changes_nothing() {
    let app = spawn_app().await;
    app.add_org("FA123").await;
    for args in [
        vec!["policy", "set", "--mfa-required-from", "31/2/2024"],
        vec![
            "policy",
            "set",
            "--mfa-required-from",
            PASSED,
            "--org",
            "ZZ999",
        ],
        vec!["policy", "set", "--user-methods", "carrier-pigeon"],
        vec!["policy", "set", "--admin-methods", ""],
        vec!["policy", "set", "--snoozes", "99"],
    ] {
        let output = nhsmal(&app, &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    let shown = nhsmal(&app, &["policy", "show"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("required from: not set"));
    assert!(
        app.audit()
            .await
            .iter()
            .all(|e| e.event != "policy.changed")
    );

    set_policy(
        &app,
        &["--mfa-required-from", "2024-08-01", "--org", "FA123"],
    );
    let shown = nhsmal(&app, &["policy", "show", "--org", "FA123"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("required from: 1 August 2024"));
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "policy.changed" && e.subject.as_deref() == Some("FA123"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_date_a_person_without_mfa_is_reminded_and_may_put_it_off_three_times() {
    let app = spawn_app().await;
    app.add_user("ann@fa123.nhs.uk").await;
    set_policy(&app, &["--mfa-required-from", IN_FIVE_DAYS]);

    for round in 0..3 {
        let client = browser();
        let response = app
            .sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
            .await;
        assert_eq!(
            location(&response),
            "/mfa-reminder?next=%2Fprofile",
            "round {round}"
        );
        let page = app.page(&client, "/mfa-reminder?next=%2Fprofile").await;
        assert!(page.contains("You need to set up multi-factor authentication by 20 January 2027"));
        assert!(page.contains(&format!("You can put this off {} more", 3 - round)));
        let response = app
            .submit(
                &client,
                "/mfa-reminder?next=%2Fprofile",
                "/mfa-reminder",
                &[("next", "/profile")],
            )
            .await;
        assert_eq!(location(&response), "/profile");
        assert_eq!(
            app.get_with(&client, "/profile").await.status(),
            StatusCode::OK
        );
        // Snoozed: the next sign-in within the day has no reminder.
        let response = app
            .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
            .await;
        assert_eq!(location(&response), "/profile");
        app.clock.advance(86_400 + 1);
    }
    // The snoozes are used up: enrolment is required although the date has not come.
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&app.get_with(&client, "/profile").await), ENROL);
    let response = app.get_with(&client, "/mfa-reminder").await;
    assert_eq!(location(&response), ENROL, "no snooze left");
    let snoozes = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "mfa.reminder_snoozed")
        .count();
    assert_eq!(snoozes, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reminder_before_the_reminder_period_or_for_people_with_mfa() {
    let app = spawn_app().await;
    app.add_user("ann@fa123.nhs.uk").await;
    set_policy(&app, &["--mfa-required-from", IN_TWO_MONTHS]);
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile", "more than 30 days ahead");

    set_policy(&app, &["--mfa-required-from", IN_FIVE_DAYS]);
    let (client, _) = app
        .with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_date_a_person_without_a_method_can_reach_only_enrolment() {
    let app = spawn_app().await;
    app.add_user("ann@fa123.nhs.uk").await;
    set_policy(&app, &["--mfa-required-from", PASSED]);
    let client = browser();
    let response = app
        .sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");
    for path in [
        "/profile",
        "/profile/self-service",
        "/profile/change-password",
        "/mfa-reminder",
        "/admin",
        "/admin/users",
    ] {
        let response = app.get_with(&client, path).await;
        assert_eq!(location(&response), ENROL, "{path}");
    }
    // Forms elsewhere are refused too, even with a valid token from the enrolment page.
    let response = app
        .submit(
            &client,
            ENROL,
            "/profile/change-password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another fine long passphrase 7"),
                ("confirm_password", "another fine long passphrase 7"),
            ],
        )
        .await;
    assert_eq!(location(&response), ENROL);
    let page = app.page(&client, ENROL).await;
    assert!(page.contains("Multi-factor authentication has been required since 1 January 2027"));
    assert!(!page.contains("Back to Self-Service"));

    app.enrol_authenticator_app(&client).await;
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_method_cannot_be_removed_while_mfa_is_required() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    set_policy(&app, &["--mfa-required-from", PASSED]);
    let ann = domain::accounts::find_by_email(&app.store, "ann@fa123.nhs.uk")
        .await
        .expect("ann");
    let methods = domain::mfa::methods_of(&app.store, &ann.id)
        .await
        .expect("methods");
    let path = format!("/profile/self-service/methods/{}/remove", methods[0].id);
    let response = app.submit(&client, &path, &path, &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("cannot remove your last method")
    );
    let after = domain::mfa::methods_of(&app.store, &ann.id)
        .await
        .expect("methods");
    assert_eq!(after.len(), 1, "still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisations_own_date_overrides_the_national_one() {
    let app = spawn_app().await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    set_policy(&app, &["--mfa-required-from", IN_TWO_MONTHS]);
    set_policy(&app, &["--mfa-required-from", PASSED, "--org", "FA123"]);
    let ann = browser();
    app.sign_in_with(&ann, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(location(&app.get_with(&ann, "/profile").await), ENROL);
    let bob = browser();
    app.sign_in_with(&bob, "bob@fb456.nhs.uk", PASSWORD).await;
    assert_eq!(
        app.get_with(&bob, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_the_policy_no_longer_allows_proves_identity_but_an_allowed_one_must_be_enrolled()
{
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    set_policy(
        &app,
        &[
            "--mfa-required-from",
            PASSED,
            "--admin-methods",
            "fido2,sms",
        ],
    );
    app.clock.advance(30);
    // The old app still proves who Lee is (no password-only path to a new method)…
    let client = app.sign_in_with_code("lee.admin@fa123.nhs.uk", &key).await;
    // …but it does not count: only enrolment of an allowed method is open.
    assert_eq!(location(&app.get_with(&client, "/admin").await), ENROL);
    let page = app.page(&client, ENROL).await;
    assert!(page.contains("Text message") && page.contains("FIDO2 token"));
    assert!(!page.contains("Authenticator app"), "not offered");
    let response = app
        .get_with(&client, "/profile/self-service/enrol/authenticator-app")
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A user of the same organisation may still use an app.
    let (user, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    assert_eq!(
        app.get_with(&user, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_administrators_set_the_policy_on_a_page_and_local_ones_are_refused() {
    let app = spawn_app().await;
    app.add_org("FA123").await;
    let (national, _) = app
        .with_fresh_factor("nia@nhsmal.example", "NAT01", "national-admin")
        .await;
    let response = app
        .submit(
            &national,
            "/admin/policy?org=FA123",
            "/admin/policy",
            &[
                ("org", "FA123"),
                ("required_from", "2024-08-01"),
                ("user_totp", "1"),
                ("user_sms", "1"),
                ("admin_totp", "1"),
                ("admin_fido2", "1"),
                ("reminder_days", "14"),
                ("max_snoozes", "2"),
                ("snooze_days", "1"),
                ("recovery_codes_for_reset", "yes"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/admin/policy?org=FA123&saved=1");
    let shown = nhsmal(&app, &["policy", "show", "--org", "FA123"]);
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        shown.contains("recovery codes count for a password reset: yes"),
        "{shown}"
    );
    // Only the organisation's: the nation keeps the default.
    let national_shown = nhsmal(&app, &["policy", "show"]);
    assert!(
        String::from_utf8_lossy(&national_shown.stdout)
            .contains("recovery codes count for a password reset: no")
    );
    let page = app.page(&national, "/admin/policy?org=FA123").await;
    assert!(
        page.contains(r#"value="yes" checked"#),
        "the choice is shown as saved"
    );
    assert!(shown.contains("required from: 1 August 2024"), "{shown}");
    assert!(shown.contains("user methods: totp,sms"), "{shown}");
    assert!(shown.contains("admin methods: totp,fido2"), "{shown}");
    assert!(shown.contains("reminder days: 14"), "{shown}");

    // No method ticked, or a bad date: refused with a message, nothing saved.
    let response = app
        .submit(
            &national,
            "/admin/policy",
            "/admin/policy",
            &[
                ("required_from", "next week"),
                ("admin_totp", "1"),
                ("reminder_days", "14"),
                ("max_snoozes", "2"),
                ("snooze_days", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown = nhsmal(&app, &["policy", "show"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("required from: not set"));

    let (local, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    assert_eq!(
        app.get_with(&local, "/admin/policy").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reminder_comes_first_whatever_page_is_asked_for() {
    let app = spawn_app().await;
    app.add_user("ann@fa123.nhs.uk").await;
    set_policy(&app, &["--mfa-required-from", IN_FIVE_DAYS]);
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    for path in ["/profile", "/profile/self-service"] {
        let response = app.get_with(&client, path).await;
        assert!(
            location(&response).starts_with("/mfa-reminder?next="),
            "{path}: {}",
            location(&response)
        );
    }
    // Setting up a method is open, and then nothing is in the way.
    app.enrol_authenticator_app(&client).await;
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_held_to_other_methods_cannot_open_the_admin_area_with_a_text_message() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    // No date: nothing is required, but the admin area wants an allowed method.
    set_policy(&app, &["--admin-methods", "fido2"]);
    let response = app.get_with(&client, "/admin").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("body").contains("FIDO2 token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_an_organisations_policy_keeps_following_the_national_one_where_left_empty() {
    let app = spawn_app().await;
    app.add_org("FA123").await;
    let (national, _) = app
        .with_fresh_factor("nia@nhsmal.example", "NAT01", "national-admin")
        .await;
    set_policy(&app, &["--mfa-required-from", IN_TWO_MONTHS]);
    // The organisation's page starts empty (it follows the nation) and saves only its reminder.
    let page = app.page(&national, "/admin/policy?org=FA123").await;
    assert!(page.contains("value=\"\""), "own fields empty");
    let response = app
        .submit(
            &national,
            "/admin/policy?org=FA123",
            "/admin/policy",
            &[
                ("org", "FA123"),
                ("required_from", ""),
                ("reminder_days", "7"),
                ("max_snoozes", ""),
                ("snooze_days", ""),
            ],
        )
        .await;
    assert_eq!(location(&response), "/admin/policy?org=FA123&saved=1");
    // A later national change still reaches FA123.
    set_policy(&app, &["--mfa-required-from", PASSED]);
    let shown = nhsmal(&app, &["policy", "show", "--org", "FA123"]);
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains("required from: 1 January 2027"), "{shown}");
    assert!(shown.contains("reminder days: 7"), "{shown}");

    // An unknown organisation: an error, and no form that could save the national policy.
    let response = app.get_with(&national, "/admin/policy?org=ZZ999").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!response.text().await.expect("body").contains("Save policy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_set_checks_everything_before_touching_the_store() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("never-made");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["policy", "set", "--admin-methods", "pigeon", "--data-dir"])
        .arg(&data)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(!data.exists(), "nothing written");
}
