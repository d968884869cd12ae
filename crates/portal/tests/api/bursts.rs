//! Limits under pressure (issue 18): requests that arrive together, the way an attacker sends
//! them, get exactly what the same requests one after another would.

use std::future::Future;
use std::sync::Arc;

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, browser, csrf_token, location, spawn_app, spawn_app_with};

/// Runs the `n` requests `make` builds at one moment: each is built first, then waits at a
/// barrier until all are ready, and then all go.
pub async fn together<F, Fut, T>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, request) = (Arc::clone(&barrier), make(i));
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("request task"));
    }
    out
}

/// One form post: the browser, the address and the fields (the CSRF token among them).
pub type FormPost = (reqwest::Client, String, Vec<(&'static str, String)>);

/// POSTs the `n` forms `make` gives at one moment (see `together`); the statuses in order.
pub async fn forms_together(n: usize, make: impl Fn(usize) -> FormPost) -> Vec<StatusCode> {
    together(n, |i| {
        let (client, url, fields) = make(i);
        async move {
            client
                .post(url)
                .form(&fields)
                .send()
                .await
                .expect("POST")
                .status()
        }
    })
    .await
}

/// `n` fresh browsers, each holding the sign-in page's CSRF token.
async fn fresh_browsers(app: &TestApp, n: usize) -> Vec<(reqwest::Client, String)> {
    fresh_browsers_at(app, "/sign-in", n).await
}

/// `n` fresh browsers, each holding the CSRF token of the signed-out `page`.
async fn fresh_browsers_at(app: &TestApp, page: &str, n: usize) -> Vec<(reqwest::Client, String)> {
    let mut out = vec![];
    for _ in 0..n {
        let client = browser();
        let token = csrf_token(&app.page(&client, page).await);
        out.push((client, token));
    }
    out
}

/// POSTs the sign-in form from each browser at once; `credentials(i)` is the i-th's email and
/// password. Returns the statuses in order.
async fn sign_ins_together(
    app: &TestApp,
    browsers: &[(reqwest::Client, String)],
    credentials: impl Fn(usize) -> (String, String),
) -> Vec<StatusCode> {
    forms_together(browsers.len(), |i| {
        let (client, token) = browsers[i].clone();
        let (email, password) = credentials(i);
        let fields = vec![
            ("csrf_token", token),
            ("email", email),
            ("password", password),
        ];
        (client, app.url("/sign-in"), fields)
    })
    .await
}

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == wanted).count()
}

/// Passwords checked, as the audit trail tells: right and wrong ones alike.
async fn passwords_checked(app: &TestApp) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| {
            e.event == "sign_in.password"
                && matches!(
                    e.reason.as_deref(),
                    Some("wrong_password" | "unknown_account" | "password_correct")
                )
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_passwords_for_one_account_sent_together_get_five_checked_and_the_rest_wait() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let browsers = fresh_browsers(&app, 50).await;
    let statuses = sign_ins_together(&app, &browsers, |_| {
        ("ann@example.nhs.uk".into(), "wrong password 42".into())
    })
    .await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        5,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 45);
    assert_eq!(passwords_checked(&app).await, 5);
    // The right password, sent at once after the burst, waits like the rest: the burst
    // earned the delay the fifth failure earns.
    let r = app
        .sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    // The refused requests were not counted: the sixth failure is still to come.
    app.clock.advance(1);
    let r = app
        .sign_in_with(&browser(), "ann@example.nhs.uk", "wrong password 42")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let locked = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "account.locked")
        .count();
    assert_eq!(locked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_passwords_from_one_address_sent_together_get_no_more_than_its_ceiling() {
    let app = spawn_app_with(|s| {
        s.sign_in_limits.ip_max_failures = 20;
        s.risk.spray_accounts = 1000;
    })
    .await;
    app.add_user("ann@example.nhs.uk").await;
    let browsers = fresh_browsers(&app, 100).await;
    let statuses = sign_ins_together(&app, &browsers, |i| {
        (format!("user{i}@example.nhs.uk"), "guess 1234 abc".into())
    })
    .await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        20,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 80);
    assert_eq!(passwords_checked(&app).await, 20);
    let blocked = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "client.blocked")
        .count();
    assert_eq!(blocked, 1, "one client.blocked event for one burst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_passwords_sent_together_all_sign_in_and_leave_no_count_behind() {
    let app = spawn_app_with(|s| {
        s.sign_in_limits.ip_max_failures = 30;
        s.risk.spray_accounts = 1000;
    })
    .await;
    for i in 0..20 {
        app.add_user(&format!("user{i}@example.nhs.uk")).await;
    }
    let browsers = fresh_browsers(&app, 20).await;
    let statuses = sign_ins_together(&app, &browsers, |i| {
        (format!("user{i}@example.nhs.uk"), PASSWORD.into())
    })
    .await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 20, "{statuses:?}");
    // Successes gave their reservations back: the address still has its whole ceiling.
    let browsers = fresh_browsers(&app, 30).await;
    let statuses = sign_ins_together(&app, &browsers, |i| {
        (format!("nobody{i}@example.nhs.uk"), "guess 1234 abc".into())
    })
    .await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        30,
        "{statuses:?}"
    );
}

/// Ann signs in once from `client`, which makes it a browser she has used.
async fn ann_has_used(app: &TestApp, client: &reqwest::Client) {
    let r = app
        .sign_in_with(client, "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/profile");
    let token = csrf_token(&app.page(client, "/profile").await);
    client
        .post(app.url("/sign-out"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sign out");
}

/// Ten wrong passwords for Ann from strangers' browsers, each after the delay the last earned.
async fn strangers_lock_ann_out(app: &TestApp) {
    for attempt in 1..=10 {
        let r = app
            .sign_in_with(&browser(), "ann@example.nhs.uk", "wrong password 42")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        app.clock.advance(20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_who_lock_an_address_do_not_lock_out_the_persons_own_browser() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let ann = browser();
    ann_has_used(&app, &ann).await;
    strangers_lock_ann_out(&app).await;
    // Anyone else, even with the right password, waits out the lock.
    let stranger = app
        .sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS);
    // Ann, at the browser she has signed in from before, is not locked out.
    let r = app.sign_in_with(&ann, "ann@example.nhs.uk", PASSWORD).await;
    assert_eq!(location(&r), "/profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persons_own_browser_has_its_own_delays_and_lock_for_guesses() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let ann = browser();
    ann_has_used(&app, &ann).await;
    // Someone at Ann's computer guessing meets the same schedule: delays, then a lock.
    for attempt in 1..=10 {
        let r = app
            .sign_in_with(&ann, "ann@example.nhs.uk", "wrong password 42")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        app.clock.advance(20);
    }
    let r = app.sign_in_with(&ann, "ann@example.nhs.uk", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "880");
    let locked: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "account.locked")
        .collect();
    assert_eq!(locked.len(), 1);
    assert!(
        locked[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("known device")),
        "{:?}",
        locked[0].reason
    );
    // That lock is the browser's own: from elsewhere the address is not locked.
    let r = app
        .sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_unlock_ends_the_lock_everywhere() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    strangers_lock_ann_out(&app).await;
    let out = app.nhsmal(&["user", "unlock", "ann@example.nhs.uk"]);
    assert!(out.status.success(), "{out:?}");
    let r = app
        .sign_in_with(&browser(), "ann@example.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/profile");
}

const ENROL_SMS: &str = "/profile/self-service/enrol/text-message";
const ENROL_CALL: &str = "/profile/self-service/enrol/phone-call";

/// The same enrolment form posted `n` times at once in one signed-in session.
async fn enrolment_sends_together(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    phone: &str,
    n: usize,
) -> Vec<StatusCode> {
    let token = csrf_token(&app.page(client, page).await);
    forms_together(n, |_| {
        let fields = vec![
            ("csrf_token", token.clone()),
            ("step", "send".into()),
            ("phone", phone.to_string()),
        ];
        (client.clone(), app.url(page), fields)
    })
    .await
}

fn outbox_count(app: &TestApp, channel: &str) -> usize {
    app.outbox()
        .iter()
        .filter(|m| m["channel"] == channel)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_send_code_requests_together_send_five_texts() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let statuses = enrolment_sends_together(&app, &client, ENROL_SMS, "07700 900123", 30).await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 5, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 25);
    assert_eq!(outbox_count(&app, "sms"), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_call_me_requests_together_place_five_calls() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let statuses = enrolment_sends_together(&app, &client, ENROL_CALL, "020 7946 0018", 30).await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 5, "{statuses:?}");
    assert_eq!(outbox_count(&app, "voice"), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_again_pressed_thirty_times_together_at_sign_in_sends_no_more_than_the_limit() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let r = app
        .submit(
            &client,
            ENROL_SMS,
            ENROL_SMS,
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert_eq!(location(&r), ENROL_SMS);
    let code = app.outbox().last().expect("a text")["code"]
        .as_str()
        .expect("code")
        .to_string();
    let r = app
        .submit(
            &client,
            ENROL_SMS,
            ENROL_SMS,
            &[("step", "verify"), ("code", &code)],
        )
        .await;
    assert_eq!(location(&r), "/profile/self-service?added=1");
    // A stranger with Ann's password opens the second step (one text) and floods "Send again".
    let intruder = browser();
    app.sign_in_with(&intruder, "ann@example.nhs.uk", PASSWORD)
        .await;
    let page = app.page(&intruder, "/sign-in/verify").await;
    let (token, method) = (
        csrf_token(&page),
        crate::helpers::input_value(&page, "method"),
    );
    let statuses = forms_together(30, |_| {
        let fields = vec![("csrf_token", token.clone()), ("method", method.clone())];
        (intruder.clone(), app.url("/sign-in/verify/resend"), fields)
    })
    .await;
    assert_eq!(outbox_count(&app, "sms"), 5, "{statuses:?}");
    // The person hears of it once, however many of the burst found it unusual.
    let warnings = app
        .outbox()
        .iter()
        .filter(|m| {
            m["channel"] == "email"
                && m["to"] == "ann@example.nhs.uk"
                && m["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("Unusual calls or texts"))
        })
        .count();
    assert!(warnings <= 1, "{warnings} warnings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_admin_actions_sent_together_are_all_audited_twenty_alone_and_the_rest_rolled_up() {
    let app = spawn_app().await;
    let mut targets = vec![];
    for i in 0..5 {
        targets.push(
            app.add_person(&format!("bob{i}@fb456.nhs.uk"), "FB456", "user")
                .await
                .id,
        );
    }
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let (lee, _) = app
        .with_fresh_factor("lee.admin@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let token = csrf_token(&app.page(&lee, &format!("/admin/users/{}", ann.id)).await);
    // 25 MFA resets of people in another organisation, at once.
    let statuses = forms_together(25, |i| {
        let url = app.url(&format!("/admin/users/{}/reset-mfa", targets[i % 5]));
        let fields = vec![
            ("csrf_token", token.clone()),
            ("reason", "lost phone".into()),
        ];
        (lee.clone(), url, fields)
    })
    .await;
    assert_eq!(count(&statuses, StatusCode::FORBIDDEN), 25);
    let one_by_one = |audit: &[domain::audit::AuditRecord]| {
        audit
            .iter()
            .filter(|e| e.event == "admin.denied" && e.account_id.is_some())
            .count()
    };
    assert_eq!(one_by_one(&app.audit().await), 20);
    // A restart loses nothing: the roll-up is in the database, written when the hour ends.
    app.clock.advance(3_600);
    let written = domain::admin::write_ended_rollups(&app.store, app.clock_now())
        .await
        .expect("written");
    assert_eq!(written, 1);
    let audit = app.audit().await;
    let rolled = audit
        .iter()
        .find(|e| e.event == "admin.denied" && e.account_id.is_none())
        .expect("one event for the other five");
    let reason = rolled.reason.clone().unwrap_or_default();
    assert!(reason.starts_with("5 more refused"), "{reason}");
    let named = targets
        .iter()
        .filter(|t| reason.contains(t.as_str()))
        .count();
    assert!(named >= 1, "{reason}");
    assert!(rolled.actor_id.is_some());
    // Written once, however many nodes look.
    let again = domain::admin::write_ended_rollups(&app.store, app.clock_now())
        .await
        .expect("written");
    assert_eq!(again, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_reset_starts_for_one_address_sent_together_start_five() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let browsers = fresh_browsers_at(&app, "/forgotten-password", 20).await;
    let statuses = forms_together(20, |i| {
        let (client, token) = browsers[i].clone();
        let fields = vec![
            ("csrf_token", token),
            ("email", "ann@example.nhs.uk".into()),
        ];
        (client, app.url("/forgotten-password"), fields)
    })
    .await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 5, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_guessed_temporary_access_passes_sent_together_get_five_checked() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    let out = app.nhsmal(&["user", "temporary-access-pass", "ann@example.nhs.uk"]);
    assert!(out.status.success(), "{out:?}");
    let page = "/sign-in/temporary-access-pass";
    let browsers = fresh_browsers_at(&app, page, 30).await;
    let statuses = forms_together(30, |i| {
        let (client, token) = browsers[i].clone();
        let fields = vec![
            ("csrf_token", token),
            ("email", "ann@example.nhs.uk".into()),
            ("pass", "ABCD-EFGH-JKLM".into()),
        ];
        (client, app.url(page), fields)
    })
    .await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        5,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 25);
}
