//! The administrators' side of sign-in monitoring: the sign-in log with its filters and
//! export, and the list of risky accounts with "Dismiss" and "Confirm compromised". Rows come
//! from real sign-ins against the server; clients are told apart by X-Forwarded-For from a
//! trusted proxy.

use domain::accounts::{AccountRecords, PasswordAction};
use domain::monitoring::RiskRecords;
use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, TestApp, account, browser, csrf_token, location, spawn_app_with, text_of,
};

const ANN: &str = "ann@fa123.nhs.uk";
const BOB: &str = "bob@fb456.nhs.uk";
const LEE: &str = "lee.admin@fa123.nhs.uk";
const NIA: &str = "nia.national@nhsmal.example";
const ATTACKER_IP: &str = "203.0.113.9";
/// The day of the test clock's start (1 800 000 000 is 2027-01-15 08:00 UTC).
const TODAY: &str = "2027-01-15";
const YESTERDAY: &str = "2027-01-14";

async fn spawn() -> TestApp {
    spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await
}

/// A password sign-in from `ip`, as a browser behind the trusted proxy would send it.
async fn sign_in_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
    ip: &str,
) -> reqwest::Response {
    let page = client
        .get(app.url("/sign-in"))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    client
        .post(app.url("/sign-in"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .expect("POST")
}

/// `n` wrong passwords for `email` from the attacker, waiting out the growing delays between
/// them (10 in an hour flag the account: brute force).
async fn wrong_passwords(app: &TestApp, email: &str, n: usize) {
    let client = browser();
    for _ in 0..n {
        app.clock.advance(20);
        let r = sign_in_from(app, &client, email, "wrong horse battery 99", ATTACKER_IP).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a wrong password");
    }
}

/// Ann (FA123) and Bob (FB456), people without methods yet, each signed in once from their
/// own address; and the two administrators with a fresh second factor.
struct World {
    app: TestApp,
    ann: reqwest::Client,
    lee: reqwest::Client,
    nia: reqwest::Client,
}

async fn world() -> World {
    let app = spawn().await;
    let lee = app.with_fresh_factor(LEE, "FA123", "local-admin").await.0;
    let nia = app
        .with_fresh_factor(NIA, "NAT01", "national-admin")
        .await
        .0;
    app.add_person(ANN, "FA123", "user").await;
    app.add_person(BOB, "FB456", "user").await;
    let ann = browser();
    let r = sign_in_from(&app, &ann, ANN, PASSWORD, "198.51.100.20").await;
    assert_eq!(location(&r), "/profile", "Ann is signed in");
    let bob = browser();
    sign_in_from(&app, &bob, BOB, PASSWORD, "198.51.100.30").await;
    World { app, ann, lee, nia }
}

/// The rows of the sign-in log table.
fn rows(page: &str) -> Vec<String> {
    text_of(page, "table tbody tr")
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

async fn denials(app: &TestApp) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| e.event == "admin.denied")
        .count()
}

async fn risk_state(app: &TestApp, email: &str) -> Option<String> {
    let id = account(app, email).await.id;
    app.store
        .risk_of(&id)
        .await
        .expect("query")
        .map(|r| r.state)
}

/// Posts a button's form from the risky accounts page.
async fn post_action(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    action: &str,
) -> reqwest::Response {
    let id = account(app, email).await.id;
    app.submit(
        client,
        "/admin/risky-accounts",
        &format!("/admin/risky-accounts/{id}/{action}"),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_log_filters_by_person_outcome_risk_and_time_within_the_administrators_scope() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, ANN, 1).await;

    // A local administrator sees their organisation's sign-ins, newest first.
    let page = app.page(&w.lee, "/admin/sign-ins").await;
    let all = rows(&page);
    assert!(all.iter().any(|r| r.contains(ANN)), "{all:?}");
    assert!(!page.contains(BOB), "another organisation's sign-ins");
    assert!(
        all[0].contains(ANN) && all[0].contains("Failed") && all[0].contains(ATTACKER_IP),
        "the newest first, with the client behind the proxy: {all:?}"
    );
    assert!(
        page.contains("Location signals (new country, impossible travel) are off: no GeoIP database is configured."),
        "no GeoIP database in tests"
    );

    // Person and outcome.
    let page = app
        .page(
            &w.lee,
            &format!("/admin/sign-ins?email={ANN}&outcome=success"),
        )
        .await;
    let found = rows(&page);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Signed in") && found[0].contains("198.51.100.20"));
    assert!(found[0].contains("Password"), "the step and method");
    let page = app
        .page(
            &w.lee,
            &format!("/admin/sign-ins?email={ANN}&outcome=failure"),
        )
        .await;
    let found = rows(&page);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Wrong password"), "the reason: {found:?}");

    // Risk: Ann's first sign-in found a new device and network (learning), nothing high.
    let page = app.page(&w.lee, "/admin/sign-ins?risk=high").await;
    assert!(rows(&page).is_empty(), "no high-risk sign-ins");
    assert!(page.contains("No sign-ins match."));

    // Time: nothing before today; everything from today.
    let page = app
        .page(&w.lee, &format!("/admin/sign-ins?to={YESTERDAY}"))
        .await;
    assert!(rows(&page).is_empty());
    let page = app
        .page(&w.lee, &format!("/admin/sign-ins?from={TODAY}&to={TODAY}"))
        .await;
    assert_eq!(rows(&page).len(), all.len());

    // A national administrator sees every organisation, and can narrow to one.
    let page = app.page(&w.nia, "/admin/sign-ins").await;
    assert!(page.contains(ANN) && page.contains(BOB));
    let page = app.page(&w.nia, "/admin/sign-ins?org=fb456").await;
    let found = rows(&page);
    assert!(
        !found.is_empty() && found.iter().all(|r| r.contains(BOB)),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_log_pages_fifty_at_a_time_with_older_sign_ins_after() {
    let w = world().await;
    let app = &w.app;
    // 55 more attempts on Ann's account, spread out so that each one is a row (some refused
    // while the account is locked, which a national administrator sees: those rows name no
    // organisation).
    let client = browser();
    for i in 0..55 {
        app.clock.advance(200);
        let ip = format!("192.0.2.{}", i + 1);
        sign_in_from(app, &client, ANN, "wrong horse battery 99", &ip).await;
    }
    // Hours later: an administrator signing in now.
    let (ned, _) = app
        .with_fresh_factor("ned.national@nhsmal.example", "NAT01", "national-admin")
        .await;
    let page = app
        .page(&ned, &format!("/admin/sign-ins?email={ANN}"))
        .await;
    assert_eq!(rows(&page).len(), 50);
    let older = text_of(&page, "a.nhsuk-pagination__link");
    assert_eq!(older, "Older sign-ins");
    let doc = scraper::Html::parse_document(&page);
    let href = doc
        .select(&scraper::Selector::parse("a.nhsuk-pagination__link").expect("selector"))
        .next()
        .and_then(|a| a.value().attr("href"))
        .expect("a link")
        .to_string();
    assert!(href.contains("before="), "{href}");
    let page = app.page(&ned, &href).await;
    let rest = rows(&page);
    assert!(
        rest.len() >= 7 && rest.iter().all(|r| r.contains(ANN)),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|r| r.contains("Signed in")),
        "her first sign-in is on the last page: {rest:?}"
    );
    assert!(!page.contains("Older sign-ins"), "the last page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filter_values_are_refused_with_422_and_an_error_for_each_field() {
    let w = world().await;
    let app = &w.app;
    let response = app
        .get_with(
            &w.nia,
            "/admin/sign-ins?email=ann&outcome=maybe&risk=extreme&from=yesterday&to=2027-02-30&org=%21",
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    let summary = text_of(&page, ".nhsuk-error-summary__list a");
    for field in ["email", "org", "outcome", "risk", "from", "to"] {
        assert!(
            page.contains(&format!("href=\"#{field}\"")),
            "{field} in the summary: {summary}"
        );
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    assert!(rows(&page).is_empty(), "no rows on a refused filter");
    assert!(
        page.contains("value=\"yesterday\""),
        "what was typed is kept"
    );

    // "To" before "from".
    let response = app
        .get_with(&w.lee, "/admin/sign-ins?from=2027-01-15&to=2027-01-14")
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = app
        .get_with(&w.lee, "/admin/risky-accounts?state=gone")
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    assert!(page.contains("href=\"#state\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_asking_for_another_organisation_is_refused_and_it_is_audited() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, BOB, 10).await;
    assert_eq!(risk_state(app, BOB).await.as_deref(), Some("at_risk"));

    let before = denials(app).await;
    for path in [
        "/admin/sign-ins?org=FB456",
        "/admin/sign-ins/export?org=FB456",
        "/admin/risky-accounts?org=FB456",
    ] {
        let response = app.get_with(&w.lee, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(denials(app).await, before + 3);

    // And by form: the buttons are not shown, and posting them anyway is refused.
    let page = app.page(&w.lee, "/admin/risky-accounts?state=all").await;
    assert!(!page.contains(BOB));
    for action in ["dismiss", "confirm-compromised"] {
        let response = post_action(app, &w.lee, BOB, action).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(denials(app).await, before + 5);
    let audit = app.audit().await;
    let denied = audit
        .iter()
        .find(|e| e.event == "admin.denied")
        .expect("a denial");
    assert_eq!(
        denied.account_id.as_deref(),
        Some(account(app, BOB).await.id.as_str())
    );
    assert_eq!(denied.reason.as_deref(), Some("risk.confirm_compromised"));
    assert_eq!(risk_state(app, BOB).await.as_deref(), Some("at_risk"));
    assert_eq!(
        account(app, BOB).await.password_action,
        PasswordAction::None,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_cannot_review_another_administrator_of_their_organisation() {
    let w = world().await;
    let app = &w.app;
    app.add_person("kim.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    wrong_passwords(app, "kim.admin@fa123.nhs.uk", 10).await;
    let page = app.page(&w.lee, "/admin/risky-accounts").await;
    assert!(
        page.contains("kim.admin@fa123.nhs.uk"),
        "listed: their organisation"
    );
    assert!(
        !page.contains("Confirm compromised"),
        "but not theirs to act on"
    );
    let response = post_action(app, &w.lee, "kim.admin@fa123.nhs.uk", "dismiss").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A national administrator may.
    let response = post_action(app, &w.nia, "kim.admin@fa123.nhs.uk", "dismiss").await;
    assert_eq!(location(&response), "/admin/risky-accounts?done=dismissed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_json_lines_in_the_administrators_scope_without_the_device_and_audited() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, ANN, 2).await;

    let response = app.get_with(&w.lee, "/admin/sign-ins/export").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/x-ndjson")
    );
    let body = response.text().await.expect("body");
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.len() >= 3, "{body}");
    for line in &lines {
        assert_eq!(line["org_code"], "FA123", "only their organisation: {line}");
        for field in [
            "id",
            "at",
            "email",
            "ip",
            "user_agent",
            "step",
            "method",
            "outcome",
            "reason",
            "risk",
            "signals",
            "correlation_id",
        ] {
            assert!(line.get(field).is_some(), "{field} in {line}");
        }
        assert!(
            line.get("device").is_none(),
            "never the device hash: {line}"
        );
        assert!(line["signals"].is_array());
    }
    assert!(!body.contains(BOB));
    assert!(!body.contains(PASSWORD) && !body.contains("wrong horse battery 99"));

    // The same filters as the page.
    let body = app
        .page(
            &w.nia,
            &format!("/admin/sign-ins/export?email={ANN}&outcome=failure"),
        )
        .await;
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["email"] == ANN && l["outcome"] == "failure")
    );
    assert_eq!(lines[0]["ip"], ATTACKER_IP);
    assert!(
        lines[0]["id"].as_i64() > lines[1]["id"].as_i64(),
        "newest first"
    );

    let exported: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "sign_ins.exported")
        .collect();
    assert_eq!(exported.len(), 2);
    assert_eq!(
        exported[0].actor_id.as_deref(),
        Some(account(app, NIA).await.id.as_str())
    );
    assert!(
        exported[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("email={ANN}"))
    );
    assert!(
        exported[1]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("org=FA123"),
        "the local export was narrowed to their organisation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dismissing_a_flag_takes_the_account_off_the_list_and_drops_the_asked_for_password_change()
{
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, ANN, 10).await;
    let ann = account(app, ANN).await;
    // What the monitoring does on evidence of a known password.
    app.store
        .set_password_action(&ann.id, PasswordAction::ChangeAfterSecondFactor)
        .await
        .expect("set");

    let page = app.page(&w.lee, "/admin/risky-accounts").await;
    let listed = text_of(&page, "table tbody tr");
    assert!(
        listed.contains(ANN) && listed.contains("many wrong passwords"),
        "{listed}"
    );
    assert!(listed.contains("At risk"));
    assert!(
        page.contains(&format!(
            "/admin/sign-ins?email={}",
            ANN.replace('@', "%40")
        )),
        "a link to their sign-ins"
    );

    let response = post_action(app, &w.lee, ANN, "dismiss").await;
    assert_eq!(location(&response), "/admin/risky-accounts?done=dismissed");
    let page = app
        .page(&w.lee, "/admin/risky-accounts?done=dismissed")
        .await;
    assert!(page.contains("The risk was dismissed."));
    assert!(!page.contains(ANN), "no longer at risk");
    let page = app
        .page(&w.lee, "/admin/risky-accounts?state=dismissed")
        .await;
    assert!(text_of(&page, "table tbody tr").contains("Dismissed"));
    assert_eq!(
        account(app, ANN).await.password_action,
        PasswordAction::None
    );
    let audit = app.audit().await;
    let dismissed = audit
        .iter()
        .find(|e| e.event == "risk.dismissed")
        .expect("audited");
    assert_eq!(dismissed.account_id.as_deref(), Some(ann.id.as_str()));
    assert_eq!(
        dismissed.actor_id.as_deref(),
        Some(account(app, LEE).await.id.as_str())
    );
    // Her session and password are untouched.
    assert_eq!(
        app.get_with(&w.ann, "/profile").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_compromised_signs_the_person_out_stops_the_password_and_emails_them() {
    let w = world().await;
    let app = &w.app;
    assert_eq!(
        app.get_with(&w.ann, "/profile").await.status(),
        StatusCode::OK
    );
    wrong_passwords(app, ANN, 10).await;
    let emails_before = app.outbox().iter().filter(|m| m["to"] == ANN).count();

    let response = post_action(app, &w.lee, ANN, "confirm-compromised").await;
    assert_eq!(
        location(&response),
        "/admin/risky-accounts?done=compromised"
    );
    assert_eq!(risk_state(app, ANN).await.as_deref(), Some("compromised"));

    // Her browser is sent to sign in again.
    let response = app.get_with(&w.ann, "/profile").await;
    assert!(
        location(&response).starts_with("/sign-in"),
        "{}",
        location(&response)
    );
    // It stays compromised: a dismissal now is refused.
    let page = app
        .page(&w.lee, "/admin/risky-accounts?state=compromised")
        .await;
    assert!(text_of(&page, "table tbody tr").contains("Confirmed compromised"));
    assert!(
        !text_of(&page, "button").contains("Dismiss"),
        "no Dismiss button"
    );
    let response = post_action(app, &w.lee, ANN, "dismiss").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Her password no longer signs in, even once the lock from the attack is over.
    app.clock.advance(16 * 60);
    let response = sign_in_from(app, &browser(), ANN, PASSWORD, "198.51.100.20").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("You need to reset your password")
    );
    assert_eq!(
        account(app, ANN).await.password_action,
        PasswordAction::ResetRequired
    );

    let emails: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|m| m["to"] == ANN)
        .collect();
    assert_eq!(emails.len(), emails_before + 1);
    let last = emails.last().expect("an email");
    assert_eq!(
        last["subject"],
        "Your NHSmal account was secured by an administrator"
    );
    assert!(
        last["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Forgotten your password?")
    );

    let audit = app.audit().await;
    let confirmed = audit
        .iter()
        .find(|e| e.event == "risk.confirmed_compromised")
        .expect("audited");
    assert_eq!(
        confirmed.account_id.as_deref(),
        Some(account(app, ANN).await.id.as_str())
    );
    assert_eq!(
        confirmed.actor_id.as_deref(),
        Some(account(app, LEE).await.id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_not_flagged_cannot_be_dismissed_or_confirmed() {
    let w = world().await;
    let response = post_action(&w.app, &w.lee, ANN, "confirm-compromised").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        account(&w.app, ANN).await.password_action,
        PasswordAction::None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actions_need_the_csrf_token() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, ANN, 10).await;
    let id = account(app, ANN).await.id;
    let response = w
        .lee
        .post(app.url(&format!("/admin/risky-accounts/{id}/confirm-compromised")))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(risk_state(app, ANN).await.as_deref(), Some("at_risk"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_who_are_not_administrators_are_refused_both_pages_and_the_actions() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, BOB, 10).await;
    let (user, _) = app
        .with_fresh_factor("cat@fa123.nhs.uk", "FA123", "user")
        .await;
    for path in [
        "/admin/sign-ins",
        "/admin/sign-ins/export",
        "/admin/risky-accounts",
    ] {
        assert_eq!(
            app.get_with(&user, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let response = app.get_with(&browser(), path).await;
        assert!(
            location(&response).starts_with("/sign-in"),
            "{path} signed out"
        );
    }
    // A user's own page has a CSRF token; it does not open the admin actions.
    let token = csrf_token(&app.page(&user, "/profile").await);
    let id = account(app, BOB).await.id;
    let response = user
        .post(app.url(&format!("/admin/risky-accounts/{id}/confirm-compromised")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(risk_state(app, BOB).await.as_deref(), Some("at_risk"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_cannot_clear_the_flag_on_their_own_account() {
    let w = world().await;
    let app = &w.app;
    wrong_passwords(app, NIA, 10).await;
    let before = denials(app).await;
    let response = post_action(app, &w.nia, NIA, "dismiss").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(denials(app).await, before + 1);
    assert_eq!(risk_state(app, NIA).await.as_deref(), Some("at_risk"));
}
