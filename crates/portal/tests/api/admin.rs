//! The admin area: who may enter, what each administrator may see and change, and the
//! actions on a person (reset MFA, temporary access pass, unlock, disable/enable).

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, text_of};

/// A local administrator of FA123 with a fresh second factor.
pub(crate) async fn local_admin(app: &TestApp) -> reqwest::Client {
    app.with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await
        .0
}

async fn national_admin(app: &TestApp) -> reqwest::Client {
    app.with_fresh_factor("nia.national@nhsmal.example", "NAT01", "national-admin")
        .await
        .0
}

async fn denials(app: &TestApp) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| e.event == "admin.denied")
        .count()
}

/// Posts an admin form found on `page` (the person's page) to `action`.
pub(crate) async fn post_on(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.submit(client, page, action, fields).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_user_is_refused_the_admin_area_and_the_refusal_is_audited() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/policy"] {
        let response = app.get_with(&client, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(denials(&app).await, 4);
    // Signed out, the admin area sends people to sign in.
    let response = app.get_with(&browser(), "/admin/users").await;
    assert_eq!(location(&response), "/sign-in?next=%2Fadmin%2Fusers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_area_needs_a_second_factor_proved_in_the_last_15_minutes() {
    let app = spawn_app().await;
    let (client, key) = app
        .with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    assert_eq!(
        app.get_with(&client, "/admin/users").await.status(),
        StatusCode::OK
    );
    app.clock.advance(16 * 60);
    let response = app.get_with(&client, "/admin/users?q=ann").await;
    assert_eq!(location(&response), "/sign-in/verify");
    let code = crate::helpers::totp_code(&key, app.clock_now());
    let response = app.second_step(&client, &code).await;
    assert_eq!(
        location(&response),
        "/admin/users?q=ann",
        "back where they were"
    );
    assert_eq!(
        app.get_with(&client, "/admin/users?q=ann").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_without_mfa_is_told_to_set_it_up_first() {
    let app = spawn_app().await;
    app.add_person("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let client = browser();
    app.sign_in_with(&client, "lee.admin@fa123.nhs.uk", PASSWORD)
        .await;
    let response = app.get_with(&client, "/admin").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.expect("body");
    assert!(body.contains("needs multi-factor authentication"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_finds_only_people_of_their_own_organisation() {
    let app = spawn_app().await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    let client = local_admin(&app).await;

    let page = app.page(&client, "/admin/users?q=nhs.uk").await;
    assert!(page.contains("ann@fa123.nhs.uk"));
    assert!(!page.contains("bob@fb456.nhs.uk"), "another organisation");

    let before = denials(&app).await;
    let response = app.get_with(&client, "/admin/users?org=FB456").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(denials(&app).await, before + 1);

    // A national administrator sees both, and can narrow to one organisation.
    let national = national_admin(&app).await;
    let page = app.page(&national, "/admin/users?q=nhs.uk").await;
    assert!(page.contains("ann@fa123.nhs.uk") && page.contains("bob@fb456.nhs.uk"));
    let page = app.page(&national, "/admin/users?org=FB456").await;
    assert!(!page.contains("ann@fa123.nhs.uk") && page.contains("bob@fb456.nhs.uk"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filters_by_enrolment_and_escapes_wildcards() {
    let app = spawn_app().await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await; // Lee has an app; Ann has none.
    let enrolled = app.page(&client, "/admin/users?show=enrolled").await;
    assert!(enrolled.contains("lee.admin@fa123.nhs.uk") && !enrolled.contains("ann@fa123"));
    let not_enrolled = app.page(&client, "/admin/users?show=not-enrolled").await;
    assert!(not_enrolled.contains("ann@fa123") && !not_enrolled.contains("lee.admin"));
    // "%" is a character to look for, not a wildcard.
    let none = app.page(&client, "/admin/users?q=%25").await;
    assert!(none.contains("No accounts match"), "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_cannot_see_or_change_a_person_of_another_organisation() {
    let app = spawn_app().await;
    let bob = app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await;
    let own_page = format!("/admin/users/{}", ann.id);

    let before = denials(&app).await;
    let response = app
        .get_with(&client, &format!("/admin/users/{}", bob.id))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    for (action, fields) in [
        (
            "reset-mfa",
            vec![("reason", "lost phone"), ("confirmed", "yes")],
        ),
        ("unlock", vec![]),
        ("disable", vec![]),
        ("enable", vec![]),
        ("temporary-access-pass", vec![("minutes", "60")]),
    ] {
        // A valid form from a page Lee may see, aimed at Bob.
        let response = post_on(
            &app,
            &client,
            &own_page,
            &format!("/admin/users/{}/{action}", bob.id),
            &fields,
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(denials(&app).await, before + 6, "each refusal audited");
    let denied = app.audit().await;
    let denied = denied
        .iter()
        .find(|e| e.event == "admin.denied")
        .expect("audited");
    assert_eq!(denied.account_id.as_deref(), Some(bob.id.as_str()));
    assert_eq!(denied.subject.as_deref(), Some("FB456"));
    // Nothing happened to Bob: he can still sign in, and got no email.
    let response = app
        .sign_in_with(&browser(), "bob@fb456.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");
    assert!(
        app.outbox().iter().all(|m| m["to"] != "bob@fb456.nhs.uk"),
        "no email to Bob"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_mfa_with_a_reason_and_the_person_is_emailed_and_signed_out() {
    let app = spawn_app().await;
    let (ann_client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let ann = domain::accounts::find_by_email(&app.store, "ann@fa123.nhs.uk")
        .await
        .expect("ann");
    let client = local_admin(&app).await;
    let page_path = format!("/admin/users/{}", ann.id);
    let page = app.page(&client, &page_path).await;
    assert!(page.contains("Authenticator app") && page.contains("Work phone"));
    assert!(!page.contains("otpauth"), "never a secret");

    // Without a reason: refused, nothing changed.
    let response = post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/reset-mfa"),
        &[("reason", "  ")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("Enter the reason")
    );
    assert!(app.page(&client, &page_path).await.contains("Work phone"));

    let response = post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/reset-mfa"),
        &[
            ("reason", "Phone lost; identity checked by phone"),
            ("confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(location(&response), format!("{page_path}?done=reset"));
    let page = app.page(&client, &format!("{page_path}?done=reset")).await;
    assert!(page.contains("No methods set up"));

    // Ann's session ended; she was emailed; the audit trail says who, why and to whom.
    assert_eq!(
        location(&app.get_with(&ann_client, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    let outbox = app.outbox();
    let email = outbox
        .iter()
        .rev()
        .find(|m| m["to"] == "ann@fa123.nhs.uk")
        .expect("emailed");
    assert_eq!(
        email["subject"],
        "Your NHSmal multi-factor authentication was reset"
    );
    let audit = app.audit().await;
    let reset = audit
        .iter()
        .find(|e| e.event == "mfa.reset")
        .expect("audited");
    assert_eq!(reset.account_id.as_deref(), Some(ann.id.as_str()));
    assert!(reset.actor_id.is_some());
    assert_eq!(
        reset.reason.as_deref(),
        Some("Phone lost; identity checked by phone")
    );
}

/// Issues a pass for the person on `page_path`; returns the code shown.
pub(crate) async fn issue_pass(
    app: &TestApp,
    client: &reqwest::Client,
    page_path: &str,
    minutes: &str,
) -> String {
    let response = post_on(
        app,
        client,
        page_path,
        &format!("{page_path}/temporary-access-pass"),
        &[("minutes", minutes)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    text_of(
        &response.text().await.expect("body"),
        "#temporary-access-pass",
    )
}

pub(crate) async fn sign_in_with_pass(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    pass: &str,
) -> reqwest::Response {
    app.submit(
        client,
        "/sign-in/temporary-access-pass",
        "/sign-in/temporary-access-pass",
        &[("email", email), ("pass", pass)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_access_pass_signs_in_once_and_only_to_set_up_a_method() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await;
    let page_path = format!("/admin/users/{}", ann.id);

    // Lifetime outside 10 minutes to 8 hours: refused.
    for minutes in ["5", "481", "soon"] {
        let response = post_on(
            &app,
            &client,
            &page_path,
            &format!("{page_path}/temporary-access-pass"),
            &[("minutes", minutes)],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{minutes}"
        );
    }
    let pass = issue_pass(&app, &client, &page_path, "60").await;
    assert_eq!(pass.len(), 19, "16 characters in groups of four: {pass}");
    let outbox = app.outbox();
    let email = outbox.last().expect("Ann is told");
    assert_eq!(email["to"], "ann@fa123.nhs.uk");
    assert!(
        !email["body"].as_str().expect("body").contains(&pass),
        "never emailed"
    );
    assert!(
        app.audit()
            .await
            .iter()
            .all(|e| !format!("{e:?}").contains(&pass)),
        "never in the audit trail"
    );

    // Wrong pass, unknown email: the same refusal.
    let ann_browser = browser();
    let wrong = sign_in_with_pass(
        &app,
        &ann_browser,
        "ann@fa123.nhs.uk",
        "AAAA-BBBB-CCCC-DDDD",
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = sign_in_with_pass(&app, &ann_browser, "nobody@fa123.nhs.uk", &pass).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    // Typed in lower case without hyphens, it works.
    let typed = pass.replace('-', "").to_lowercase();
    let response = sign_in_with_pass(&app, &ann_browser, "ann@fa123.nhs.uk", &typed).await;
    assert_eq!(location(&response), "/profile/self-service/enrol");
    // Only enrolment: My Profile and the admin area lead back to it.
    for path in [
        "/profile",
        "/profile/self-service",
        "/profile/change-password",
    ] {
        assert_eq!(
            location(&app.get_with(&ann_browser, path).await),
            "/profile/self-service/enrol",
            "{path}"
        );
    }
    app.enrol_authenticator_app(&ann_browser).await;
    // With a method set up, the pass's session is spent.
    let page = app.page(&ann_browser, "/profile/self-service/enrol").await;
    assert!(page.contains("Sign in again"), "{page}");
    assert_eq!(
        location(&app.get_with(&ann_browser, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    // The pass works once.
    let again = sign_in_with_pass(&app, &browser(), "ann@fa123.nhs.uk", &pass).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e.event == "tap.issued"));
    assert!(audit.iter().any(|e| e.event == "tap.used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_access_pass_expires_and_a_new_one_voids_the_old() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await;
    let page_path = format!("/admin/users/{}", ann.id);

    let first = issue_pass(&app, &client, &page_path, "10").await;
    let second = issue_pass(&app, &client, &page_path, "10").await;
    let response = sign_in_with_pass(&app, &browser(), "ann@fa123.nhs.uk", &first).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "voided");
    app.clock.advance(10 * 60 + 1);
    let response = sign_in_with_pass(&app, &browser(), "ann@fa123.nhs.uk", &second).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_unlocks_a_locked_account() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await;
    let attacker = browser();
    for _ in 0..10 {
        app.sign_in_with(&attacker, "ann@fa123.nhs.uk", "wrong password")
            .await;
        app.clock.advance(20);
    }
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    let locked = app.page(&client, "/admin/users?show=locked").await;
    assert!(locked.contains("ann@fa123.nhs.uk"), "{locked}");
    let page_path = format!("/admin/users/{}", ann.id);
    let response = post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/unlock"),
        &[],
    )
    .await;
    assert_eq!(location(&response), format!("{page_path}?done=unlocked"));
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.unlocked")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_disables_and_enables_an_account() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let ann_client = browser();
    app.sign_in_with(&ann_client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let client = local_admin(&app).await;
    let page_path = format!("/admin/users/{}", ann.id);

    let response = post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/disable"),
        &[],
    )
    .await;
    assert_eq!(location(&response), format!("{page_path}?done=disabled"));
    assert_eq!(
        location(&app.get_with(&ann_client, "/profile").await),
        "/sign-in?next=%2Fprofile",
        "signed out everywhere"
    );
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/enable"),
        &[],
    )
    .await;
    assert_eq!(location(&response), format!("{page_path}?done=enabled"));
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");
    let subjects: Vec<String> = app
        .outbox()
        .iter()
        .filter(|m| m["to"] == "ann@fa123.nhs.uk")
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(subjects.contains(&"Your NHSmal account was disabled".to_string()));
    assert!(subjects.contains(&"Your NHSmal account was enabled".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_admin_forms_need_a_csrf_token() {
    let app = spawn_app().await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let client = local_admin(&app).await;
    let response = client
        .post(app.url(&format!("/admin/users/{}/disable", ann.id)))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile", "still enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_administrators_see_only_their_organisations_audit_events_and_cannot_export() {
    let app = spawn_app().await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    app.sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    app.sign_in_with(&browser(), "bob@fb456.nhs.uk", PASSWORD)
        .await;
    let client = local_admin(&app).await;

    let page = app.page(&client, "/admin/audit?event=sign_in").await;
    assert!(page.contains("ann@fa123.nhs.uk"));
    assert!(!page.contains("bob@fb456.nhs.uk"));
    let response = app.get_with(&client, "/admin/audit?org=FB456").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app.get_with(&client, "/admin/audit.jsonl").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app.get_with(&client, "/admin/audit?from=yesterday").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A national administrator exports every event as JSON lines.
    let national = national_admin(&app).await;
    let response = app.get_with(&national, "/admin/audit.jsonl").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("application/x-ndjson")
    );
    let body = response.text().await.expect("body");
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), app.audit().await.len(), "every event");
    assert!(
        lines
            .iter()
            .any(|l| l["account_email"] == "bob@fb456.nhs.uk")
    );
    assert!(
        lines
            .iter()
            .all(|l| l["at"].is_string() && l["event"].is_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_change_or_delete_audit_events() {
    let app = spawn_app().await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    app.sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let before = app.audit().await.len();
    assert!(before > 0);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(app.database_url())
        .await
        .expect("connect");
    let update = sqlx::query("UPDATE audit_events SET outcome = 'success'")
        .execute(&pool)
        .await;
    assert!(update.is_err(), "update refused");
    let delete = sqlx::query("DELETE FROM audit_events").execute(&pool).await;
    assert!(delete.is_err(), "delete refused");
    assert_eq!(app.audit().await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_mfa_command_removes_methods_and_is_audited() {
    let app = spawn_app().await;
    app.with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let output = app.nhsmal(&[
        "user",
        "reset-mfa",
        "ann@fa123.nhs.uk",
        "--reason",
        "phone stolen",
    ]);
    assert!(output.status.success(), "{output:?}");
    let response = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile", "no second step any more");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "mfa.reset" && e.reason.as_deref() == Some("phone stolen"))
    );
    let output = app.nhsmal(&["user", "reset-mfa", "nobody@fa123.nhs.uk"]);
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_cannot_manage_other_administrators_of_their_organisation() {
    let app = spawn_app().await;
    let fellow = app
        .add_person("kim.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let national = app
        .add_person("nia@fa123.nhs.uk", "FA123", "national-admin")
        .await;
    let client = local_admin(&app).await;
    let before = denials(&app).await;
    for (n, target) in [&fellow, &national].into_iter().enumerate() {
        let page = format!("/admin/users/{}", target.id);
        assert_eq!(
            app.get_with(&client, &page).await.status(),
            StatusCode::FORBIDDEN
        );
        let own = format!(
            "/admin/users/{}",
            app.add_person(&format!("user{n}@fa123.nhs.uk"), "FA123", "user")
                .await
                .id
        );
        let response = post_on(
            &app,
            &client,
            &own,
            &format!("{page}/temporary-access-pass"),
            &[("minutes", "60")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(denials(&app).await, before + 4);
    assert!(app.audit().await.iter().all(|e| e.event != "tap.issued"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_does_not_see_what_a_national_administrator_of_their_organisation_does()
 {
    let app = spawn_app().await;
    let bob = app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    let (national, _) = app
        .with_fresh_factor("nia@fa123.nhs.uk", "FA123", "national-admin")
        .await;
    let page = format!("/admin/users/{}", bob.id);
    post_on(
        &app,
        &national,
        &page,
        &format!("{page}/reset-mfa"),
        &[("reason", "secret reason about bob"), ("confirmed", "yes")],
    )
    .await;
    let client = local_admin(&app).await;
    let log = app.page(&client, "/admin/audit").await;
    assert!(
        !log.contains("bob@fb456.nhs.uk"),
        "another organisation's person"
    );
    assert!(!log.contains("secret reason about bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_a_pass_signs_the_person_out_and_after_a_reset_only_a_pass_can_set_up_a_method() {
    let app = spawn_app().await;
    let (ann_client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let ann = domain::accounts::find_by_email(&app.store, "ann@fa123.nhs.uk")
        .await
        .expect("ann");
    let client = local_admin(&app).await;
    let page_path = format!("/admin/users/{}", ann.id);
    post_on(
        &app,
        &client,
        &page_path,
        &format!("{page_path}/reset-mfa"),
        &[("reason", "phone stolen"), ("confirmed", "yes")],
    )
    .await;
    // Someone with only the password cannot set up their own method now.
    let thief = browser();
    app.sign_in_with(&thief, "ann@fa123.nhs.uk", PASSWORD).await;
    let response = app
        .get_with(&thief, "/profile/self-service/enrol/authenticator-app")
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("temporary access pass")
    );
    // The pass ends every session (the thief's too) and opens enrolment.
    let pass = issue_pass(&app, &client, &page_path, "60").await;
    assert_eq!(
        location(&app.get_with(&thief, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    let _ = ann_client;
    let ann_browser = browser();
    let response = sign_in_with_pass(&app, &ann_browser, "ann@fa123.nhs.uk", &pass).await;
    assert_eq!(location(&response), "/profile/self-service/enrol");
    app.enrol_authenticator_app(&ann_browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_the_audit_log_is_itself_audited() {
    let app = spawn_app().await;
    let national = national_admin(&app).await;
    let response = app
        .get_with(&national, "/admin/audit.jsonl?event=sign_in")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.text().await;
    let audit = app.audit().await;
    let export = audit
        .iter()
        .find(|e| e.event == "audit.exported")
        .expect("audited");
    assert!(export.actor_id.is_some());
    assert!(
        export
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("event=sign_in")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_refusals_do_not_flood_the_audit_trail() {
    let app = spawn_app().await;
    let (client, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    for _ in 0..30 {
        assert_eq!(
            app.get_with(&client, "/admin").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(denials(&app).await, 20, "at most 20 an hour one by one");
    // The other ten are not lost: when the hour is over they are one event, with the count.
    app.clock.advance(3_600);
    let client = app.sign_in_with_code("ann@fa123.nhs.uk", &key).await;
    assert_eq!(
        app.get_with(&client, "/admin").await.status(),
        StatusCode::FORBIDDEN
    );
    let audit = app.audit().await;
    let rolled: Vec<_> = audit
        .iter()
        .filter(|e| {
            e.event == "admin.denied"
                && e.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("10 more refused"))
        })
        .collect();
    assert_eq!(rolled.len(), 1, "{audit:#?}");
    assert!(
        rolled[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("targets: /admin"))
    );
    assert_eq!(
        denials(&app).await,
        22,
        "20, the roll-up and the new hour's first"
    );
}
