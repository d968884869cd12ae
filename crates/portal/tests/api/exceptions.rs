//! Rollout exceptions (issue 24): granted from the command line and the admin area, the
//! password alone while one lasts, the reminder before it ends, the rollout again at once
//! after, and the refusals (administrators, high risk, too long, bad input).

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, text_of};

const PASSED: &str = "2027-01-01";
const ENROL: &str = "/profile/self-service/enrol";
const DAY: i64 = 86_400;

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.nhsmal(args)
}

/// Grants Ann an exception of `days` as the command line does, at the server's (fake) time:
/// the command line itself runs on the wall clock.
async fn grant(app: &TestApp, days: i64, reason: &str) {
    let ann = crate::helpers::account(app, "ann@fa123.nhs.uk").await;
    let request = domain::exceptions::Request {
        days,
        reason,
        note: "",
    };
    domain::exceptions::grant(
        &app.store,
        &domain::exceptions::Grantor { admin: None },
        &ann,
        &request,
        &domain::audit::Requester::command_line(),
        app.clock_now(),
    )
    .await
    .expect("granted");
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = cli(app, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ann, with no method, in FA123, where MFA has been required since PASSED.
async fn ann_without_a_method(app: &TestApp) {
    app.add_user("ann@fa123.nhs.uk").await;
    cli_ok(app, &["policy", "set", "--mfa-required-from", PASSED]);
}

/// Signs Ann in with her password in a new browser; returns it.
async fn ann_signs_in(app: &TestApp) -> reqwest::Client {
    let client = browser();
    let r = app
        .sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    client
}

async fn events(app: &TestApp, name: &str) -> usize {
    app.audit().await.iter().filter(|e| e.event == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_on_an_exception_signs_in_with_the_password_alone_until_it_ends() {
    let app = spawn_app().await;
    ann_without_a_method(&app).await;
    // Without an exception: enrolment first.
    let client = ann_signs_in(&app).await;
    assert_eq!(location(&app.get_with(&client, "/profile").await), ENROL);

    grant(&app, 10, "leave").await;
    assert_eq!(events(&app, "rollout.exception_granted").await, 1);
    // At once, in the same session, and at every sign-in: the password alone, with a banner.
    let page = app.page(&client, "/profile").await;
    assert!(text_of(&page, "#mfa-exception").contains("until"), "{page}");
    let client = ann_signs_in(&app).await;
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        StatusCode::OK
    );
    assert!(events(&app, "rollout.exception_used").await >= 1);

    // Three days before its end: reminded after signing in, and may go on.
    app.clock.advance(8 * DAY);
    let browser = browser();
    let r = app
        .sign_in_with(&browser, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert!(
        location(&r).starts_with("/mfa-reminder"),
        "{}",
        location(&r)
    );
    let page = app.page(&browser, &location(&r)).await;
    assert!(page.contains("Your exception to multi-factor authentication ends on"));
    assert!(page.contains("Continue without setting it up"));
    assert_eq!(
        app.get_with(&browser, "/profile").await.status(),
        StatusCode::OK
    );

    // A minute before its end, signed in; a minute after, the rollout applies again at once,
    // to the session already open too.
    app.clock.advance(2 * DAY - 60);
    let late = ann_signs_in(&app).await;
    assert_eq!(
        app.get_with(&late, "/profile").await.status(),
        StatusCode::OK
    );
    app.clock.advance(120);
    assert_eq!(location(&app.get_with(&late, "/profile").await), ENROL);
    let client = ann_signs_in(&app).await;
    assert_eq!(location(&app.get_with(&client, "/profile").await), ENROL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_a_method_still_uses_it_during_an_exception() {
    let app = spawn_app().await;
    let (_, _) = app
        .with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    cli_ok(&app, &["policy", "set", "--mfa-required-from", PASSED]);
    let bob = crate::helpers::account(&app, "bob@fa123.nhs.uk").await;
    let request = domain::exceptions::Request {
        days: 5,
        reason: "leave",
        note: "",
    };
    let grantor = domain::exceptions::Grantor { admin: None };
    let requester = domain::audit::Requester::command_line();
    domain::exceptions::grant(
        &app.store,
        &grantor,
        &bob,
        &request,
        &requester,
        app.clock_now(),
    )
    .await
    .expect("granted");
    let client = browser();
    let r = app
        .sign_in_with(&client, "bob@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_ends_an_exception_and_lists_them() {
    let app = spawn_app().await;
    ann_without_a_method(&app).await;
    let add = [
        "user",
        "exception",
        "add",
        "ann@fa123.nhs.uk",
        "--days",
        "3",
        "--reason",
        "other",
        "--note",
        "Phone on order",
    ];
    cli_ok(&app, &add);
    let client = ann_signs_in(&app).await;
    let listed = cli_ok(&app, &["user", "exception", "list"]);
    assert!(listed.contains("Ending in the next 14 days: 1"), "{listed}");
    assert!(listed.contains("ann@fa123.nhs.uk"));
    cli_ok(&app, &["user", "exception", "end", "ann@fa123.nhs.uk"]);
    assert_eq!(location(&app.get_with(&client, "/profile").await), ENROL);
    assert_eq!(events(&app, "rollout.exception_ended").await, 1);
    let mine = cli_ok(&app, &["user", "exception", "list", "ann@fa123.nhs.uk"]);
    assert!(mine.starts_with("ended"), "{mine}");
    assert!(mine.contains("Phone on order"));
    // Nothing left to end.
    assert_eq!(
        cli(&app, &["user", "exception", "end", "ann@fa123.nhs.uk"])
            .status
            .code(),
        Some(2)
    );

    // Granted three times, Ann is on the national administrator's list of renewals.
    for _ in 0..3 {
        cli_ok(&app, &add);
    }
    let listed = cli_ok(&app, &["user", "exception", "list"]);
    assert!(listed.contains("Renewed more than twice: 1"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_administrators_and_high_risk_accounts_get_no_exception() {
    let app = spawn_app().await;
    ann_without_a_method(&app).await;
    app.add_person("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let add = |email: &'static str, days: &'static str, reason: &'static str| {
        vec![
            "user",
            "exception",
            "add",
            email,
            "--days",
            days,
            "--reason",
            reason,
        ]
    };
    for args in [
        add("ann@fa123.nhs.uk", "0", "leave"),
        add("ann@fa123.nhs.uk", "366", "leave"),
        add("ann@fa123.nhs.uk", "ten", "leave"),
        add("ann@fa123.nhs.uk", "5", "holiday"),
        add("ann@fa123.nhs.uk", "5", "other"),
        add("nobody@fa123.nhs.uk", "5", "leave"),
        add("lee.admin@fa123.nhs.uk", "5", "leave"),
    ] {
        let out = cli(&app, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
    }
    assert_eq!(events(&app, "rollout.exception_granted").await, 0);
    let admin = cli(&app, &add("lee.admin@fa123.nhs.uk", "5", "leave"));
    assert!(String::from_utf8_lossy(&admin.stderr).contains("administrators always use"));

    // High risk: "This wasn't me" flags the account, which ends the exception and refuses new
    // ones.
    grant(&app, 5, "leave").await;
    // An earlier sign-in, which she then reports from this one.
    ann_signs_in(&app).await;
    let client = ann_signs_in(&app).await;
    let page = app.page(&client, "/profile/activity").await;
    let link = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.ends_with("/not-me"))
        .expect("a This wasn't me link")
        .to_string();
    let r = app.submit(&client, &link, &link, &[]).await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );
    let ended = app
        .audit()
        .await
        .into_iter()
        .find(|e| e.event == "rollout.exception_ended")
        .expect("ended by high risk");
    assert_eq!(ended.reason.as_deref(), Some("high_risk"));
    let refused = cli(&app, &add("ann@fa123.nhs.uk", "5", "leave"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("high risk"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_grants_up_to_14_days_after_a_confirmation_page() {
    let app = spawn_app().await;
    ann_without_a_method(&app).await;
    let admin = crate::admin::local_admin(&app).await;
    let ann = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    let page_path = format!("/admin/users/{}/exception", ann.id);
    let page = app.page(&admin, &page_path).await;
    assert!(page.contains("Grant an exception"));
    // Longer than a local administrator may: refused on the form, nothing granted.
    let r = app
        .submit(
            &admin,
            &page_path,
            &page_path,
            &[("days", "15"), ("reason", "leave")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("from 1 to 14 days"));
    // Within it: a confirmation page first, and only "Yes" grants it.
    let r = app
        .submit(
            &admin,
            &page_path,
            &page_path,
            &[
                ("days", "14"),
                ("reason", "no-work-device"),
                ("note", "Phone on order"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let confirm = r.text().await.expect("body");
    assert!(confirm.contains("Yes, grant the exception"), "{confirm}");
    assert_eq!(events(&app, "rollout.exception_granted").await, 0);
    let r = app
        .submit(
            &admin,
            &page_path,
            &page_path,
            &[
                ("days", "14"),
                ("reason", "no-work-device"),
                ("note", "Phone on order"),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(
        location(&r),
        format!("/admin/users/{}?done=exception", ann.id)
    );
    let granted = app
        .audit()
        .await
        .into_iter()
        .find(|e| e.event == "rollout.exception_granted")
        .expect("audited");
    assert!(granted.actor_id.is_some());
    assert!(
        app.page(&admin, &page_path)
            .await
            .contains("End the exception now")
    );
    // The national administrators' lists are theirs alone.
    assert_eq!(
        app.get_with(&admin, "/admin/exceptions").await.status(),
        StatusCode::FORBIDDEN
    );
    // The report counts Ann as on an exception in FA123 (its CSV's last column).
    let csv = app
        .get_with(&admin, "/admin/reports/enrolment.csv")
        .await
        .text()
        .await
        .expect("csv");
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.ends_with(",on_exception"), "{header}");
    let summary = csv
        .lines()
        .find(|l| l.starts_with("summary,"))
        .expect("summary row");
    assert!(summary.ends_with(",1"), "{summary}");
    assert!(
        app.page(&admin, "/admin/reports/enrolment")
            .await
            .contains("On a rollout exception")
    );
    // The administrator ends it.
    let end = format!("{page_path}/end");
    let r = app.submit(&admin, &page_path, &end, &[]).await;
    assert_eq!(
        location(&r),
        format!("/admin/users/{}?done=exception_ended", ann.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_of_another_organisation_cannot_see_or_grant_an_exception() {
    let app = spawn_app().await;
    ann_without_a_method(&app).await;
    app.add_org("FB456").await;
    let (other, _) = app
        .with_fresh_factor("max.admin@fb456.nhs.uk", "FB456", "local-admin")
        .await;
    let ann = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    let page_path = format!("/admin/users/{}/exception", ann.id);
    assert_eq!(
        app.get_with(&other, &page_path).await.status(),
        StatusCode::FORBIDDEN
    );
    let token = crate::helpers::csrf_token(&app.page(&other, "/admin").await);
    let r = other
        .post(app.url(&page_path))
        .form(&[
            ("csrf_token", token.as_str()),
            ("days", "5"),
            ("reason", "leave"),
            ("confirmed", "yes"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(events(&app, "rollout.exception_granted").await, 0);
}
