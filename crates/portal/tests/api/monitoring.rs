//! Sign-in monitoring: scripted attacks against the real server, each asserting what was
//! detected, who was emailed, and what the person and the sign-in log show; and the quiet case.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::helpers::{
    PASSWORD, TestApp, account, browser, location, spawn_app_with, text_of, totp_code,
};
use domain::monitoring::{RiskRecords, SignInFilter, SignInLog};

const HOME: &str = "192.0.2.10";
const AWAY: &str = "198.51.100.7";

/// A browser whose requests come through our trusted proxy from `ip`.
fn browser_at(ip: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(ip).expect("header"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0")
        .build()
        .expect("client")
}

async fn spawn() -> TestApp {
    spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await
}

/// Ann (FA123, authenticator app) and Lee, her local administrator. Ann has signed in once
/// from her home browser; returns that browser and her app's key.
async fn ann_at_home(app: &TestApp) -> (reqwest::Client, Vec<u8>) {
    app.add_person("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let home = browser_at(HOME);
    app.sign_in_with(&home, "ann@fa123.nhs.uk", PASSWORD).await;
    let key = app.enrol_authenticator_app(&home).await;
    app.clock.advance(30);
    sign_in_fully(app, &home, &key).await;
    (home, key)
}

/// Lee, Ann's local administrator (added by `ann_at_home`), signed in with a fresh factor.
async fn lee_signed_in(app: &TestApp) -> reqwest::Client {
    let first = browser();
    app.sign_in_with(&first, "lee@fa123.nhs.uk", PASSWORD).await;
    let key = app.enrol_authenticator_app(&first).await;
    app.clock.advance(30);
    app.sign_in_with_code("lee@fa123.nhs.uk", &key).await
}

/// Signs the browser out if it is signed in (its device cookie stays).
async fn sign_out(app: &TestApp, client: &reqwest::Client) {
    let response = app.get_with(client, "/profile").await;
    if response.status() == StatusCode::OK {
        let token = crate::helpers::csrf_token(&response.text().await.expect("body"));
        client
            .post(app.url("/sign-out"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .expect("POST");
    }
}

async fn sign_in_fully(app: &TestApp, client: &reqwest::Client, key: &[u8]) {
    sign_out(app, client).await;
    let response = app.sign_in_with(client, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(location(&response), "/sign-in/verify");
    let response = app
        .second_step(client, &totp_code(key, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "code accepted");
    app.clock.advance(30);
}

fn emails_to<'a>(outbox: &'a [serde_json::Value], to: &str) -> Vec<&'a str> {
    outbox
        .iter()
        .filter(|m| m["channel"] == "email" && m["to"] == to)
        .filter_map(|m| m["subject"].as_str())
        .collect()
}

async fn log_of(app: &TestApp, email: &str) -> Vec<domain::monitoring::SignInRecord> {
    app.store
        .sign_ins(&SignInFilter {
            email: Some(email.to_string()),
            limit: 1_000,
            ..SignInFilter::default()
        })
        .await
        .expect("log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routine_sign_in_from_a_known_device_raises_nothing() {
    let app = spawn().await;
    let (home, key) = ann_at_home(&app).await;
    let before = app.outbox().len();
    sign_in_fully(&app, &home, &key).await;
    let log = log_of(&app, "ann@fa123.nhs.uk").await;
    assert!(log.iter().all(|r| r.risk == "none"), "{log:?}");
    let newest = &log[0];
    assert_eq!(
        (newest.step.as_str(), newest.outcome.as_str()),
        ("second_factor", "success")
    );
    assert_eq!(newest.ip, HOME);
    assert_eq!(app.outbox().len(), before, "nobody is emailed");
    let ann = account(&app, "ann@fa123.nhs.uk").await;
    assert!(app.store.risk_of(&ann.id).await.expect("risk").is_none());
    // Her Recent activity lists it, unflagged.
    let page = app.page(&home, "/profile/activity").await;
    assert!(page.contains("Signed in"));
    assert!(page.contains("Firefox on Windows"));
    assert!(!page.contains("Flagged"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_on_a_new_network_emails_the_person_and_shows_why() {
    let app = spawn().await;
    let (home, key) = ann_at_home(&app).await;
    let away = browser_at(AWAY);
    sign_in_fully(&app, &away, &key).await;
    let outbox = app.outbox();
    let subjects = emails_to(&outbox, "ann@fa123.nhs.uk");
    assert!(
        subjects.contains(&"New sign-in to your NHSmal account"),
        "{subjects:?}"
    );
    let email = outbox
        .iter()
        .rev()
        .find(|m| m["subject"] == "New sign-in to your NHSmal account")
        .expect("email");
    let body = email["body"].as_str().expect("body");
    assert!(
        body.contains(AWAY) && body.contains("Firefox on Windows"),
        "{body}"
    );
    assert!(body.contains("a device not used before"), "{body}");
    assert!(!body.contains("http"), "no links: {body}");
    // Medium is not an alert for administrators.
    assert!(emails_to(&outbox, "lee@fa123.nhs.uk").is_empty());
    let log = log_of(&app, "ann@fa123.nhs.uk").await;
    assert_eq!(log[0].risk, "medium");
    assert_eq!(log[0].signals, "new_device new_network");
    let page = app.page(&home, "/profile/activity").await;
    assert!(page.contains("Medium risk: a device not used before; a network not used before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_spray_from_one_address_is_refused_for_every_account_but_not_its_targets() {
    let app = spawn().await;
    let (nia, _) = app
        .with_fresh_factor("nia@nhsmal.example", "NAT01", "national-admin")
        .await;
    let victims: Vec<String> = (0..50).map(|i| format!("person{i}@fa123.nhs.uk")).collect();
    for email in &victims {
        app.add_person(email, "FA123", "user").await;
    }
    let sprayer = browser_at("203.0.113.66");
    let mut statuses = vec![];
    for email in &victims {
        statuses.push(
            app.sign_in_with(&sprayer, email, "Summer2026!")
                .await
                .status(),
        );
    }
    // The 20th different account is the spray: from then on the source is refused.
    assert!(
        statuses[..19]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert!(
        statuses[20..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
    );
    let audit = app.audit().await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event == "client.spray_detected")
            .count(),
        1
    );
    let outbox = app.outbox();
    assert!(emails_to(&outbox, "nia@nhsmal.example").contains(&"NHSmal: password spray detected"));
    let sprayed = app
        .store
        .sign_ins(&SignInFilter {
            risk: Some("high".into()),
            limit: 100,
            ..SignInFilter::default()
        })
        .await
        .expect("log");
    assert!(!sprayed.is_empty());
    assert!(
        sprayed
            .iter()
            .all(|r| r.signals.contains("password_spray") && r.ip == "203.0.113.66")
    );
    // National administrators see the source's attempts in the sign-in log.
    let log = app.page(&nia, "/admin/sign-ins?risk=high").await;
    assert!(log.contains("203.0.113.66"));
    assert!(log.contains("one source trying many accounts"));
    // The people it tried are not locked out: from their own address they sign in.
    let own = browser_at(HOME);
    let response = app.sign_in_with(&own, &victims[30], PASSWORD).await;
    assert_eq!(location(&response), "/profile");
    // Even the right password is refused from the spraying source.
    let response = app.sign_in_with(&sprayer, &victims[31], PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_wrong_passwords_on_one_account_are_brute_force_and_its_admins_are_told() {
    let app = spawn().await;
    let (home, _key) = ann_at_home(&app).await;
    let attacker = browser_at("203.0.113.9");
    let mut statuses = vec![];
    for i in 0..30 {
        // Paced to wait out the growing delays, as a patient attacker would.
        app.clock.advance(20);
        statuses.push(
            app.sign_in_with(&attacker, "ann@fa123.nhs.uk", &format!("guess number {i}"))
                .await
                .status(),
        );
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[29], StatusCode::TOO_MANY_REQUESTS, "locked");
    let ann = account(&app, "ann@fa123.nhs.uk").await;
    let risk = app
        .store
        .risk_of(&ann.id)
        .await
        .expect("risk")
        .expect("flagged");
    assert_eq!(risk.state, "at_risk");
    assert!(risk.signals.contains(&domain::risk::Signal::BruteForce));
    let outbox = app.outbox();
    assert_eq!(
        emails_to(&outbox, "lee@fa123.nhs.uk"),
        vec!["NHSmal sign-in alert for a person in your organisation"]
    );
    let log = log_of(&app, "ann@fa123.nhs.uk").await;
    assert!(log.iter().any(|r| r.signals.contains("brute_force")));
    assert!(
        log.iter()
            .any(|r| r.outcome == "blocked" && r.reason.as_deref() == Some("throttled"))
    );
    // Ann sees the attempts, flagged; Lee sees her among the risky accounts.
    let page = app.page(&home, "/profile/activity").await;
    assert!(page.contains("Wrong password"));
    assert!(page.contains("many wrong passwords"));
    let lee = lee_signed_in(&app).await;
    let risky = app.page(&lee, "/admin/risky-accounts").await;
    assert!(risky.contains("ann@fa123.nhs.uk"), "{risky}");
    assert!(risky.contains("many wrong passwords"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_password_from_a_stranger_then_failed_codes_forces_a_new_password() {
    let app = spawn().await;
    let (_home, key) = ann_at_home(&app).await;
    let stranger = browser_at(AWAY);
    let response = app
        .sign_in_with(&stranger, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&response), "/sign-in/verify");
    for _ in 0..3 {
        let response = app.second_step(&stranger, "000000").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let outbox = app.outbox();
    assert!(
        emails_to(&outbox, "ann@fa123.nhs.uk").contains(&"Someone may know your NHSmal password")
    );
    assert_eq!(
        emails_to(&outbox, "lee@fa123.nhs.uk"),
        vec!["NHSmal sign-in alert for a person in your organisation"]
    );
    let ann = account(&app, "ann@fa123.nhs.uk").await;
    let risk = app
        .store
        .risk_of(&ann.id)
        .await
        .expect("risk")
        .expect("flagged");
    assert_eq!(risk.level, domain::risk::Level::High);
    let lee = lee_signed_in(&app).await;
    let log = app
        .page(&lee, "/admin/sign-ins?email=ann%40fa123.nhs.uk")
        .await;
    assert!(log.contains(AWAY));
    assert!(log.contains("correct password, then the second step failed or was not finished"));

    // Ann, at home, proves her app as usual and is asked for a new password first.
    let home = browser_at(HOME);
    let response = app.sign_in_with(&home, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(location(&response), "/sign-in/verify");
    app.second_step(&home, &totp_code(&key, app.clock_now()))
        .await;
    let response = app.get_with(&home, "/profile").await;
    assert_eq!(location(&response), "/profile/change-password?required=1");
    let page = app.page(&home, "/profile/change-password?required=1").await;
    assert!(page.contains("Someone else may know it"));
    let new = "a completely different passphrase 77";
    let response = app
        .submit(
            &home,
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
    let response = app.get_with(&home, "/profile").await;
    assert_eq!(response.status(), StatusCode::OK, "free to go on");
}

/// Adds a phone-call method to Ann's account (answered with #); returns her browser.
async fn ann_with_a_phone(app: &TestApp) -> reqwest::Client {
    let client = app.ann_signed_in().await;
    let page = "/profile/self-service/enrol/phone-call";
    let r = app
        .submit(
            &client,
            page,
            page,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), page);
    assert_eq!(
        crate::phone::press_keypad(app, "#").await.status(),
        StatusCode::OK
    );
    let r = app
        .submit(&client, page, page, &[("step", "continue")])
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    app.add_person("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_go_unanswered_one_after_another_stop_and_people_are_told() {
    let app = spawn().await;
    ann_with_a_phone(&app).await;
    let intruder = browser_at(AWAY);
    app.sign_in_with(&intruder, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&intruder, "/sign-in/verify").await;
    let (token, method) = (
        crate::helpers::csrf_token(&page),
        crate::helpers::input_value(&page, "method"),
    );
    let mut statuses = vec![];
    for _ in 0..3 {
        let r = intruder
            .post(app.url("/sign-in/verify/resend"))
            .form(&[("csrf_token", token.as_str()), ("method", method.as_str())])
            .send()
            .await
            .expect("POST");
        statuses.push(r.status());
    }
    // Two more calls were placed (three unanswered in all), then no more.
    assert_eq!(
        statuses,
        vec![
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let calls = app
        .outbox()
        .iter()
        .filter(|m| m["channel"] == "voice")
        .count();
    assert_eq!(calls, 4, "the set-up call and three sign-in calls");
    let outbox = app.outbox();
    assert!(
        emails_to(&outbox, "ann@example.nhs.uk")
            .contains(&"Unusual calls or texts for your NHSmal account")
    );
    assert_eq!(
        emails_to(&outbox, "lee@fa123.nhs.uk"),
        vec!["NHSmal sign-in alert for a person in your organisation"]
    );
    let log = log_of(&app, "ann@example.nhs.uk").await;
    assert!(log.iter().any(|r| r.signals.contains("mfa_fatigue")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_with_0_hash_flags_the_account_and_alerts_its_administrators() {
    let app = spawn().await;
    let home = ann_with_a_phone(&app).await;
    let intruder = browser_at(AWAY);
    app.sign_in_with(&intruder, "ann@example.nhs.uk", PASSWORD)
        .await;
    app.page(&intruder, "/sign-in/verify").await;
    assert_eq!(
        crate::phone::press_keypad(&app, "0#").await.status(),
        StatusCode::OK
    );
    let ann = account(&app, "ann@example.nhs.uk").await;
    let risk = app
        .store
        .risk_of(&ann.id)
        .await
        .expect("risk")
        .expect("flagged");
    assert!(
        risk.signals
            .contains(&domain::risk::Signal::ReportedByPerson)
    );
    assert_eq!(risk.level, domain::risk::Level::High);
    let outbox = app.outbox();
    assert_eq!(
        emails_to(&outbox, "lee@fa123.nhs.uk"),
        vec!["NHSmal sign-in alert for a person in your organisation"]
    );
    // Ann, in her own browser, sees it in her Recent activity.
    sign_out(&app, &home).await;
    app.sign_in_with(&home, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&home, "/sign-in/verify").await;
    crate::phone::press_keypad(&app, "#").await;
    app.post_second_step(&home, &page, &[]).await;
    let page = app.page(&home, "/profile/activity").await;
    assert!(page.contains("Reported on a call as not you"), "{page}");
}

/// A GeoIP database with London at HOME's network and Sydney at AWAY's, in `dir`.
fn geoip_database(dir: &std::path::Path) -> std::path::PathBuf {
    use nhsmal::geo::Place;
    use nhsmal::geo::writer::{Network, build_database};
    let entries = vec![
        (
            "192.0.2.0/24".parse::<Network>().expect("network"),
            Place::at("GB", 51.5074, -0.1278).city("London"),
        ),
        (
            "198.51.100.0/24".parse::<Network>().expect("network"),
            Place::at("AU", -33.8688, 151.2093).city("Sydney"),
        ),
    ];
    let bytes = build_database(&entries, 1_800_000_000).expect("database");
    let path = dir.join("test-city.mmdb");
    std::fs::write(&path, bytes).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_travel_needs_a_strong_method_and_alerts_the_administrators() {
    let dir = tempfile::tempdir().expect("dir");
    let geo = geoip_database(dir.path());
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        s.geoip_database = Some(geo);
    })
    .await;
    let (_home, key) = ann_at_home(&app).await;
    app.clock.advance(600);
    let sydney = browser_at(AWAY);
    sign_in_fully(&app, &sydney, &key).await;
    let log = log_of(&app, "ann@fa123.nhs.uk").await;
    assert_eq!(log[0].risk, "high");
    assert!(
        log[0].signals.contains("impossible_travel"),
        "{}",
        log[0].signals
    );
    assert!(log[0].signals.contains("new_country"));
    assert_eq!(log[0].place.as_deref(), Some("Sydney, AU"));
    let outbox = app.outbox();
    let email = outbox
        .iter()
        .rev()
        .find(|m| m["subject"] == "New sign-in to your NHSmal account")
        .expect("email");
    assert!(
        email["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Sydney, AU")
    );
    assert_eq!(
        emails_to(&outbox, "lee@fa123.nhs.uk"),
        vec!["NHSmal sign-in alert for a person in your organisation"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_risk_sign_in_is_refused_where_configured_and_without_a_strong_method() {
    let dir = tempfile::tempdir().expect("dir");
    let geo = geoip_database(dir.path());
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        s.geoip_database = Some(geo);
        s.risk.high_action = domain::risk::HighRiskAction::Refuse;
    })
    .await;
    ann_at_home(&app).await;
    app.clock.advance(600);
    let sydney = browser_at(AWAY);
    let response = app
        .sign_in_with(&sydney, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.expect("body");
    assert_eq!(text_of(&page, "h1"), "We have stopped this sign-in");
    assert_eq!(
        location(&app.get_with(&sydney, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
    let log = log_of(&app, "ann@fa123.nhs.uk").await;
    assert_eq!(log[0].outcome, "blocked");
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "sign_in.blocked_by_risk")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_wasnt_me_signs_out_everywhere_forgets_devices_and_needs_a_password_reset() {
    let app = spawn().await;
    let (home, key) = ann_at_home(&app).await;
    // At home she ticks "Don't ask again on this device".
    sign_out(&app, &home).await;
    app.sign_in_with(&home, "ann@fa123.nhs.uk", PASSWORD).await;
    let verify = app.page(&home, "/sign-in/verify").await;
    let code = totp_code(&key, app.clock_now());
    app.post_second_step(&home, &verify, &[("code", &code), ("remember", "1")])
        .await;
    app.clock.advance(30);
    let ann = account(&app, "ann@fa123.nhs.uk").await;
    use domain::devices::DeviceRecords;
    let remembered = app
        .store
        .devices_of(&ann.id, app.clock_now())
        .await
        .expect("devices");
    assert_eq!(remembered.len(), 1);
    let away = browser_at(AWAY);
    sign_in_fully(&app, &away, &key).await;
    let page = app.page(&home, "/profile/activity").await;
    let doc = scraper::Html::parse_document(&page);
    let link = scraper::Selector::parse("a[href$='/not-me']").expect("selector");
    let action = doc
        .select(&link)
        .next()
        .and_then(|a| a.value().attr("href"))
        .expect("a This wasn't me link")
        .to_string();
    assert!(page.contains("This wasn&#39;t me") || page.contains("This wasn't me"));
    // The link only asks: nothing has happened yet, and the page's form confirms.
    let confirm = app.page(&home, &action).await;
    assert!(confirm.contains("Was this sign-in not you?"));
    assert!(confirm.contains(&format!("action=\"{action}\"")));
    assert_eq!(
        app.store
            .devices_of(&ann.id, app.clock_now())
            .await
            .expect("devices")
            .len(),
        1
    );
    // Another person cannot report Ann's sign-in.
    let (bob, _) = app
        .with_fresh_factor("bob@fa123.nhs.uk", "FA123", "user")
        .await;
    assert_eq!(
        app.get_with(&bob, &action).await.status(),
        StatusCode::NOT_FOUND
    );
    let token = crate::helpers::csrf_token(&app.page(&bob, "/profile/activity").await);
    let r = bob
        .post(app.url(&action))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let token = crate::helpers::csrf_token(&page);
    let r = home
        .post(app.url(&action))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&r), "/sign-in?reported=1");
    for client in [&home, &away] {
        assert_eq!(
            location(&app.get_with(client, "/profile").await),
            "/sign-in?next=%2Fprofile"
        );
    }
    let response = app.sign_in_with(&home, "ann@fa123.nhs.uk", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("You need to reset your password")
    );
    let outbox = app.outbox();
    assert!(
        emails_to(&outbox, "ann@fa123.nhs.uk")
            .contains(&"You reported a sign-in to your NHSmal account")
    );
    assert!(
        emails_to(&outbox, "lee@fa123.nhs.uk")
            .contains(&"NHSmal sign-in alert for a person in your organisation")
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "account.reported_not_me")
    );
    let remembered = app
        .store
        .devices_of(&ann.id, app.clock_now())
        .await
        .expect("devices");
    assert!(remembered.is_empty(), "remembered devices are forgotten");

    // A reset with her app gives her a password that works again.
    let reset = browser_at(HOME);
    app.submit(
        &reset,
        "/forgotten-password",
        "/forgotten-password",
        &[("email", "ann@fa123.nhs.uk")],
    )
    .await;
    app.reset_choose(&reset, "totp").await;
    app.second_step(&reset, &totp_code(&key, app.clock_now()))
        .await;
    let new = "a completely different passphrase 77";
    let r = app
        .submit(
            &reset,
            "/forgotten-password/new-password",
            "/forgotten-password/new-password",
            &[("new_password", new), ("confirm_password", new)],
        )
        .await;
    assert_eq!(location(&r), "/sign-in?reset=1");
    let response = app
        .sign_in_with(&browser_at(HOME), "ann@fa123.nhs.uk", new)
        .await;
    assert_eq!(location(&response), "/sign-in/verify");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_log_keeps_rows_for_the_retention_period_only() {
    let app = spawn_app_with(|s| s.risk.retention_days = 30).await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in_with(&browser(), "ann@example.nhs.uk", "wrong one")
        .await;
    app.clock.advance(31 * 86_400);
    app.sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
        .await;
    use domain::clock::Clock;
    let gone = domain::monitoring::prune(&app.store, &app.settings.risk, app.clock.now())
        .await
        .expect("prune");
    assert_eq!(gone, 1);
    let log = log_of(&app, "ann@example.nhs.uk").await;
    assert!(log.iter().all(|r| r.outcome != "failure"));
    assert!(!log.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_finished_sign_ins_of_every_day_in_the_look_back_and_no_older_ones() {
    use domain::audit::Requester;
    use domain::monitoring::{SignInEntry, Step};
    use domain::risk::Assessment;
    const DAY: i64 = 86_400;
    let app = spawn().await;
    let ann = app.add_user("ann@example.nhs.uk").await;
    let requester = Requester {
        ip: HOME.into(),
        user_agent: "Firefox".into(),
        correlation_id: "c".into(),
        device: Some("device-a".into()),
        location: None,
    };
    let now = 1_800_000_000;
    let none = Assessment::default();
    // Two finished sign-ins on each of 30 days, one on the 100th day back (outside the 90-day
    // look-back), and passed password steps that finished nothing.
    let mut days: Vec<i64> = (0..30).flat_map(|d| [d, d]).collect();
    days.push(100);
    for d in days {
        for outcome in ["passed", "success"] {
            let entry = SignInEntry {
                at: now - d * DAY - 3_600,
                account_id: Some(&ann.id),
                email: &ann.email,
                org_code: Some(&ann.org_code),
                requester: &requester,
                step: Step::SecondFactor,
                method: Some("totp"),
                outcome,
                reason: None,
                assessment: &none,
            };
            app.store.record_sign_in(&entry).await.expect("row");
        }
    }
    let familiar = app
        .store
        .familiar(&ann.id, now - 90 * DAY, 200)
        .await
        .expect("summary");
    assert_eq!(familiar.sign_ins, 60);
    assert!(familiar.devices.contains("device-a"));
    assert_eq!(familiar.networks.len(), 1);
}
