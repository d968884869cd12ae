//! The enrolment report: figures checked against known accounts and methods, on the admin
//! page, in the CSV export and from `nhsmal report enrollment`; who may see which scope.

use domain::accounts::{self, AccountRecords, AccountRequest, AccountState};
use domain::admin::AdminScope;
use domain::mfa::{Method, MethodKind, MethodRecords};
use domain::organisations;
use domain::password::PasswordHashing;
use domain::policy::{NATIONAL, PolicyRecords, PolicySettings};
use domain::report::{self, WEEK, week_start};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    CliOutput, PASSWORD, START, TestApp, browser, location, spawn_app, text_of, totp_code,
};

/// Monday 00:00 UTC of the week the tests run in (START is a Friday).
fn w0() -> i64 {
    week_start(START)
}

/// What the known data holds, and two administrators signed in with a fresh second factor.
struct Known {
    /// Local administrator of FA123.
    lucy: reqwest::Client,
    lucy_id: String,
    /// National administrator (in NA001).
    nina: reqwest::Client,
    /// An account with methods, to remove one.
    bob_id: String,
    bob_sms: String,
    ann_id: String,
}

async fn account_in(app: &TestApp, email: &str, org: &str, role: &str) -> String {
    let hashing = PasswordHashing::new(&app.settings.argon2).expect("hashing");
    let request = AccountRequest {
        email,
        name: "Test Person",
        org,
        role,
    };
    accounts::add_account(&app.store, &hashing, request, Some(PASSWORD), START)
        .await
        .expect("account added")
        .id
}

async fn method(app: &TestApp, account_id: &str, kind: MethodKind, created_at: i64) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    app.store
        .insert_method(&Method {
            id: id.clone(),
            account_id: account_id.into(),
            kind,
            name: kind.label().into(),
            phone: matches!(kind, MethodKind::Sms | MethodKind::Voice)
                .then(|| "+447700900123".to_string()),
            secret: None,
            credential: None,
            credential_id: None,
            last_totp_step: None,
            passkey: None,
            is_default: false,
            created_at,
            last_used_at: None,
        })
        .await
        .expect("method added");
    id
}

/// An administrator added, enrolled with an authenticator app through the pages, then
/// signed in again with a code (the admin area wants a second factor proved at sign-in).
async fn admin_signed_in(app: &TestApp, email: &str, org: &str, role: &str) -> reqwest::Client {
    account_in(app, email, org, role).await;
    let client = browser();
    app.sign_in_with(&client, email, PASSWORD).await;
    let key = app.enrol_authenticator_app(&client).await;
    app.clock.advance(30);
    let client = browser();
    let response = app.sign_in_with(&client, email, PASSWORD).await;
    assert_eq!(location(&response), "/sign-in/verify");
    let response = app
        .second_step(&client, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    client
}

/// FA123 Riverside Pharmacy: ann (app + text, added 3 and 1 weeks ago), bob (text, 2 weeks
/// ago), cat (none), dan (disabled, with an app), lucy (local admin, app this week).
/// FB456 "Hilltop, Surgery": eve (key, last week), fay (call, this week), gus (none).
/// FC789 Empty Practice: nobody. NA001 National Team: nina (national admin, app this week).
/// National rollout date two weeks after this week's Monday; FA123's own, three weeks after.
async fn known_data(app: &TestApp) -> Known {
    for (code, name) in [
        ("FA123", "Riverside Pharmacy"),
        ("FB456", "Hilltop, Surgery"),
        ("FC789", "Empty Practice"),
        ("NA001", "National Team"),
    ] {
        organisations::add_organisation(&app.store, code, name, START)
            .await
            .expect("org added");
    }
    let lucy = admin_signed_in(app, "lucy@example.nhs.uk", "FA123", "local-admin").await;
    let nina = admin_signed_in(app, "nina@example.nhs.uk", "NA001", "national-admin").await;
    let lucy_id = crate::helpers::account(app, "lucy@example.nhs.uk").await.id;

    let ann_id = account_in(app, "ann@example.nhs.uk", "FA123", "user").await;
    method(app, &ann_id, MethodKind::Totp, START - 3 * WEEK).await;
    method(app, &ann_id, MethodKind::Sms, START - WEEK).await;
    let bob_id = account_in(app, "bob@example.nhs.uk", "FA123", "user").await;
    let bob_sms = method(app, &bob_id, MethodKind::Sms, START - 2 * WEEK).await;
    account_in(app, "cat@example.nhs.uk", "FA123", "user").await;
    let dan = account_in(app, "dan@example.nhs.uk", "FA123", "user").await;
    method(app, &dan, MethodKind::Totp, START - 3 * WEEK).await;
    app.store
        .update_account_state(&dan, AccountState::Disabled, START)
        .await
        .expect("disabled");
    let eve = account_in(app, "eve@example.nhs.uk", "FB456", "user").await;
    method(app, &eve, MethodKind::Fido2, START - WEEK).await;
    let fay = account_in(app, "fay@example.nhs.uk", "FB456", "user").await;
    method(app, &fay, MethodKind::Voice, START).await;
    account_in(app, "gus@example.nhs.uk", "FB456", "user").await;

    for (scope, date) in [(NATIONAL, w0() + 2 * WEEK), ("FA123", w0() + 3 * WEEK)] {
        let settings = PolicySettings {
            required_from: Some(date),
            ..PolicySettings::default()
        };
        app.store
            .save_policy_settings(scope, &settings, None, START)
            .await
            .expect("policy saved");
    }
    Known {
        lucy,
        lucy_id,
        nina,
        bob_id,
        bob_sms,
        ann_id,
    }
}

/// Runs `nhsmal ARGS` against the test's own database.
fn nhsmal(app: &TestApp, args: &[&str]) -> CliOutput {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .env_remove("NHSMAL_DATABASE_URL")
        .env_remove("NHSMAL_DATA_DIR");
    if app.database_url().starts_with("postgres") {
        command.arg("--database-url").arg(app.database_url());
    }
    let out = command.output().expect("nhsmal runs");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn date(t: i64) -> String {
    report::iso_date(t)
}

fn week(starts: i64, newly: i64, enrolled: i64, share: f64) -> Value {
    json!({"week_starting": date(starts), "newly_enrolled": newly, "enrolled": enrolled, "share_percent": share})
}

fn by_method(figures: [(i64, Option<f64>); 5]) -> Value {
    let labels = [
        ("totp", "Authenticator app"),
        ("sms", "Text message"),
        ("voice", "Phone call"),
        ("fido2", "FIDO2 token"),
        ("push", "NHSmal Authenticator"),
    ];
    Value::Array(
        labels
            .iter()
            .zip(figures)
            .map(|((method, label), (accounts, share))| {
                json!({"method": method, "label": label, "accounts": accounts, "share_percent": share})
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_reports_the_known_figures_nationally_and_for_one_organisation() {
    let app = spawn_app().await;
    known_data(&app).await;

    let out = nhsmal(&app, &["report", "enrollment", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let national: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(national["scope"], "national");
    assert_eq!(national["organisation"], Value::Null);
    assert_eq!(national["mfa_required_from"], date(w0() + 2 * WEEK));
    // Eight active accounts (dan is disabled), six with a method.
    assert_eq!(national["accounts"], 8);
    assert_eq!(national["enrolled"], 6);
    assert_eq!(national["not_enrolled"], 2);
    assert_eq!(national["share_percent"], 75.0);
    assert_eq!(national["disabled_accounts"], 1);
    assert_eq!(
        national["by_method"],
        by_method([
            (3, Some(37.5)),
            (2, Some(25.0)),
            (1, Some(12.5)),
            (1, Some(12.5)),
            (0, Some(0.0))
        ])
    );
    assert_eq!(
        national["organisations"],
        json!([
            {"code": "FA123", "name": "Riverside Pharmacy", "accounts": 4, "enrolled": 3, "not_enrolled": 1, "share_percent": 75.0, "disabled_accounts": 1, "on_exception": 0},
            {"code": "FB456", "name": "Hilltop, Surgery", "accounts": 3, "enrolled": 2, "not_enrolled": 1, "share_percent": 66.7, "disabled_accounts": 0, "on_exception": 0},
            {"code": "FC789", "name": "Empty Practice", "accounts": 0, "enrolled": 0, "not_enrolled": 0, "share_percent": null, "disabled_accounts": 0, "on_exception": 0},
            {"code": "NA001", "name": "National Team", "accounts": 1, "enrolled": 1, "not_enrolled": 0, "share_percent": 100.0, "disabled_accounts": 0, "on_exception": 0},
        ])
    );
    // By the week of each account's earliest method: ann, bob, eve, then fay, lucy and nina.
    assert_eq!(
        national["weeks"],
        json!([
            week(w0() - 3 * WEEK, 1, 1, 12.5),
            week(w0() - 2 * WEEK, 1, 2, 25.0),
            week(w0() - WEEK, 1, 3, 37.5),
            week(w0(), 3, 6, 75.0),
        ])
    );

    let out = nhsmal(
        &app,
        &["report", "enrollment", "--format", "json", "--org", "fa123"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let local: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(local["scope"], "organisation");
    assert_eq!(
        local["organisation"],
        json!({"code": "FA123", "name": "Riverside Pharmacy"})
    );
    // The organisation's own rollout date.
    assert_eq!(local["mfa_required_from"], date(w0() + 3 * WEEK));
    assert_eq!(
        (
            &local["accounts"],
            &local["enrolled"],
            &local["disabled_accounts"]
        ),
        (&json!(4), &json!(3), &json!(1))
    );
    assert_eq!(
        local["by_method"],
        by_method([
            (2, Some(50.0)),
            (2, Some(50.0)),
            (0, Some(0.0)),
            (0, Some(0.0)),
            (0, Some(0.0))
        ])
    );
    assert_eq!(local["organisations"], json!([]));
    assert_eq!(
        local["weeks"],
        json!([
            week(w0() - 3 * WEEK, 1, 1, 25.0),
            week(w0() - 2 * WEEK, 1, 2, 50.0),
            week(w0() - WEEK, 0, 2, 50.0),
            week(w0(), 1, 3, 75.0),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_a_table_or_csv_and_refuses_bad_input_with_exit_2() {
    let app = spawn_app().await;
    known_data(&app).await;

    let out = nhsmal(&app, &["report", "enrollment"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "MFA enrolment report: All organisations");
    let line = |start: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("a line starting {start:?} in\n{}", out.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("Enrolled"), "Enrolled (at least one method) 6 75.0%");
    assert_eq!(line("Without MFA"), "Without MFA 2");
    assert_eq!(line("Phone call"), "Phone call 1 12.5%");
    assert_eq!(line("FB456"), "FB456 Hilltop, Surgery 3 2 1 66.7%");
    assert_eq!(line(&date(w0())), format!("{} 3 6 75.0%", date(w0())));
    // Columns line up: every organisation's share ends where the header's does.
    let header = lines
        .iter()
        .find(|l| l.starts_with("ORGANISATION"))
        .expect("header");
    let fa = lines.iter().find(|l| l.starts_with("FA123")).expect("row");
    assert_eq!(header.len(), fa.chars().count());

    let out = nhsmal(
        &app,
        &["report", "enrolment", "--format", "csv", "--org", "FB456"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.split("\r\n").take(3).collect::<Vec<_>>(),
        [
            "section,key,label,accounts,enrolled,not_enrolled,share_percent,disabled_accounts,newly_enrolled,on_exception",
            "summary,FB456,\"Hilltop, Surgery (FB456)\",3,2,1,66.7,0,,0",
            &format!(
                "rollout,{},MFA required from {},,,,,,,",
                date(w0() + 2 * WEEK),
                domain::clock::human_date(w0() + 2 * WEEK)
            ),
        ]
    );

    for (args, message) in [
        (
            vec!["report", "enrollment", "--format", "xml"],
            "unknown format",
        ),
        (
            vec!["report", "enrollment", "--org", "ZZ999"],
            "no organisation with code ZZ999",
        ),
        (
            vec!["report", "enrollment", "--org", "F!"],
            "organisation code",
        ),
    ] {
        let out = nhsmal(&app, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_admin_sees_every_organisation_as_charts_and_tables_and_can_pick_one() {
    let app = spawn_app().await;
    let known = known_data(&app).await;

    let html = app.page(&known.nina, "/admin/reports/enrolment").await;
    assert_eq!(text_of(&html, "h1"), "Enrolment report");
    assert!(text_of(&html, ".nhsuk-caption-l").contains("All organisations"));
    let summary = text_of(&html, ".nhsuk-summary-list__row");
    for row in [
        "Accounts 8",
        "Enrolled 6 (75.0%)",
        "Without MFA 2",
        "Disabled accounts (not counted above) 1",
    ] {
        assert!(summary.contains(row), "{row} in {summary}");
    }
    assert!(summary.contains(&format!(
        "MFA required from {}",
        domain::clock::human_date(w0() + 2 * WEEK)
    )));
    // The charts: named images drawn on the server, with the numbers in tables too.
    let doc = scraper::Html::parse_document(&html);
    let svg = scraper::Selector::parse("svg[role=img]").expect("selector");
    let charts: Vec<_> = doc.select(&svg).collect();
    assert_eq!(charts.len(), 2);
    for chart in &charts {
        let title_id = chart.value().attr("aria-labelledby").expect("named");
        let title = scraper::Selector::parse(&format!("title#{title_id}")).expect("selector");
        assert!(doc.select(&title).next().is_some(), "{title_id}");
    }
    assert!(html.contains(">37.5%</text>"), "the app's bar is labelled");
    assert!(
        html.contains("portal-chart__marker"),
        "the rollout date is marked"
    );
    assert_eq!(
        text_of(&html, "#methods-table caption"),
        "Accounts with each method"
    );
    let methods = text_of(&html, "#methods-table tbody tr");
    assert!(methods.contains("Authenticator app 3 37.5%"));
    assert!(methods.contains("FIDO2 token 1 12.5%"));
    // Organisations, furthest behind first; the empty one last.
    let rows = text_of(&html, "#organisations-table tbody tr");
    let order: Vec<&str> = rows.lines().collect();
    assert_eq!(
        order,
        [
            "Hilltop, Surgery (FB456) 3 2 1 66.7%",
            "Riverside Pharmacy (FA123) 4 3 1 75.0%",
            "National Team (NA001) 1 1 0 100.0%",
            "Empty Practice (FC789) 0 0 0 –",
        ]
    );
    assert!(html.contains("href=\"/admin/reports/enrolment.csv\""));
    assert!(html.contains("Figures week by week"));

    // One organisation, typed in lower case.
    let html = app
        .page(&known.nina, "/admin/reports/enrolment?org=fb456")
        .await;
    assert!(text_of(&html, ".nhsuk-caption-l").contains("Hilltop, Surgery (FB456)"));
    assert!(text_of(&html, ".nhsuk-summary-list").contains("Enrolled 2 (66.7%)"));
    assert!(!html.contains("Enrolment by organisation"));
    assert!(html.contains("href=\"/admin/reports/enrolment.csv?org=FB456\""));

    // An organisation that does not exist: the national report with the field in error.
    let response = app
        .get_with(&known.nina, "/admin/reports/enrolment?org=ZZ999")
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.expect("body");
    assert!(text_of(&html, ".nhsuk-error-summary").contains("no organisation with code ZZ999"));
    assert!(text_of(&html, "#org-error").contains("ZZ999"));

    // The CSV export: the same figures, every organisation.
    let response = app
        .get_with(&known.nina, "/admin/reports/enrolment.csv")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"nhsmal-enrolment-national-"),
        "{disposition}"
    );
    let csv = response.text().await.expect("body");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    for expected in [
        "summary,national,All organisations,8,6,2,75.0,1,,0",
        "method,totp,Authenticator app,8,3,5,37.5,,,",
        "organisation,FA123,Riverside Pharmacy,4,3,1,75.0,1,,0",
        "organisation,FB456,\"Hilltop, Surgery\",3,2,1,66.7,0,,0",
        "organisation,FC789,Empty Practice,0,0,0,,0,,0",
    ] {
        assert!(lines.contains(&expected), "{expected} in\n{csv}");
    }
    let week_line = format!(
        "week,{},Week starting {},8,6,2,75.0,,3,",
        date(w0()),
        domain::clock::human_date(w0())
    );
    assert!(lines.contains(&week_line.as_str()), "{week_line} in\n{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_admin_sees_only_their_organisation_and_is_refused_and_audited_for_another() {
    let app = spawn_app().await;
    let known = known_data(&app).await;

    for path in [
        "/admin/reports/enrolment",
        "/admin/reports/enrolment?org=fa123",
    ] {
        let html = app.page(&known.lucy, path).await;
        assert!(text_of(&html, ".nhsuk-caption-l").contains("Riverside Pharmacy (FA123)"));
        let summary = text_of(&html, ".nhsuk-summary-list");
        assert!(summary.contains("Accounts 4"), "{summary}");
        assert!(summary.contains("Enrolled 3 (75.0%)"), "{summary}");
        assert!(summary.contains(&format!(
            "MFA required from {}",
            domain::clock::human_date(w0() + 3 * WEEK)
        )));
        assert!(
            !html.contains("Enrolment by organisation"),
            "no other organisation"
        );
        assert!(!html.contains("Hilltop"));
        assert!(
            !html.contains("id=\"org\""),
            "a local admin has no organisation field"
        );
    }
    let csv = app
        .get_with(&known.lucy, "/admin/reports/enrolment.csv")
        .await
        .text()
        .await
        .expect("body");
    assert!(csv.contains("\r\nsummary,FA123,Riverside Pharmacy (FA123),4,3,1,75.0,1,,0\r\n"));
    assert!(!csv.contains("FB456"));

    for path in [
        "/admin/reports/enrolment?org=FB456",
        "/admin/reports/enrolment.csv?org=fb456",
    ] {
        let response = app.get_with(&known.lucy, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let html = response.text().await.expect("body");
        assert!(!html.contains("Hilltop"), "{path}");
    }
    let denied: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "admin.denied")
        .collect();
    assert_eq!(denied.len(), 2);
    for e in denied {
        assert_eq!(e.outcome, "failure");
        assert_eq!(e.actor_id.as_deref(), Some(known.lucy_id.as_str()));
        assert_eq!(e.subject.as_deref(), Some("FB456"));
        assert_eq!(e.reason.as_deref(), Some("view enrolment report"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_is_not_an_administrator_is_refused_and_audited() {
    let app = spawn_app().await;
    known_data(&app).await;
    let client = browser();
    app.sign_in_with(&client, "cat@example.nhs.uk", PASSWORD)
        .await;
    // Cat has no MFA and the rollout date is near: the reminder comes first; she puts it off.
    let response = app
        .submit(
            &client,
            "/mfa-reminder",
            "/mfa-reminder",
            &[("next", "/profile")],
        )
        .await;
    assert_eq!(crate::helpers::location(&response), "/profile");
    for path in ["/admin/reports/enrolment", "/admin/reports/enrolment.csv"] {
        let response = app.get_with(&client, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let cat = crate::helpers::account(&app, "cat@example.nhs.uk").await;
    let denied = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "admin.denied" && e.actor_id.as_deref() == Some(cat.id.as_str()))
        .count();
    assert_eq!(denied, 2);
    // Signed out: to the sign-in page.
    let response = app.get_with(&browser(), "/admin/reports/enrolment").await;
    assert!(location(&response).starts_with("/sign-in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_follows_methods_removed_and_accounts_disabled_or_enabled() {
    let app = spawn_app().await;
    let known = known_data(&app).await;
    let fa123 = AdminScope::Organisation("FA123".into());
    let now = START + 60;
    let figures = |r: &report::EnrolmentReport| {
        (
            r.totals.accounts,
            r.totals.enrolled,
            r.disabled,
            r.by_method[1].accounts,
        )
    };
    let before = report::enrolment_report(&app.store, &fa123, now)
        .await
        .expect("report");
    assert_eq!(figures(&before), (4, 3, 1, 2));

    // Bob's only method goes: he is no longer enrolled, nor counted under text messages.
    app.store
        .delete_method(&known.bob_sms)
        .await
        .expect("removed");
    let after = report::enrolment_report(&app.store, &fa123, now)
        .await
        .expect("report");
    assert_eq!(figures(&after), (4, 2, 1, 1));
    assert_eq!(after.weeks.iter().map(|w| w.newly_enrolled).sum::<i64>(), 2);

    // A new method for him counts from the week it was added.
    method(&app, &known.bob_id, MethodKind::Totp, START).await;
    let again = report::enrolment_report(&app.store, &fa123, now)
        .await
        .expect("report");
    assert_eq!(figures(&again), (4, 3, 1, 1));
    assert_eq!(again.weeks.last().map(|w| w.newly_enrolled), Some(2));

    // Disabling ann takes her out of every figure but the disabled count.
    app.store
        .update_account_state(&known.ann_id, AccountState::Disabled, now)
        .await
        .expect("disabled");
    let disabled = report::enrolment_report(&app.store, &fa123, now)
        .await
        .expect("report");
    assert_eq!(figures(&disabled), (3, 2, 2, 0));
    assert_eq!(disabled.weeks.first().map(|w| w.starts), Some(w0()));

    let unknown =
        report::enrolment_report(&app.store, &AdminScope::Organisation("ZZ999".into()), now).await;
    assert!(matches!(
        unknown,
        Err(report::ReportError::UnknownOrganisation(_))
    ));
}
