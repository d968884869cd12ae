//! Feedback: the form for everyone (signed in or out), its validation and limit, and the
//! collated figures and CSV export for national administrators only.

use domain::accounts::{self, AccountRequest};
use domain::audit::Requester;
use domain::feedback::{self, FeedbackFilter, FeedbackInput, FeedbackRecords};
use domain::password::PasswordHashing;
use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, START, TestApp, browser, csrf_token, location, spawn_app, spawn_app_with, text_of,
    totp_code,
};

const DAY: i64 = 86_400;

async fn stored(app: &TestApp) -> Vec<feedback::Feedback> {
    app.store
        .list_feedback(&FeedbackFilter::default(), false, 1000, 0)
        .await
        .expect("feedback readable")
}

async fn send_feedback(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.submit(client, "/feedback", "/feedback", fields).await
}

async fn error_summary(response: reqwest::Response) -> String {
    text_of(
        &response.text().await.expect("body"),
        ".nhsuk-error-summary",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_feedback_is_stored_without_an_organisation_and_thanked() {
    let app = spawn_app().await;
    let client = browser();
    let form = app.page(&client, "/feedback").await;
    assert_eq!(text_of(&form, "h1"), "Give feedback");
    assert!(text_of(&form, "legend").contains("What is your feedback about?"));
    assert!(text_of(&form, "legend").contains("How easy was it?"));
    assert!(text_of(&form, "#comments-info").contains("You can enter up to 2,000 characters"));
    assert!(text_of(&form, "footer a").contains("Feedback"));

    let response = send_feedback(
        &app,
        &client,
        &[
            ("topic", "signing-in"),
            ("rating", "4"),
            ("comments", "  Quick and easy\r\nthank you  "),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let thanks = app.page(&client, &location(&response)).await;
    assert_eq!(text_of(&thanks, "h1"), "Thank you for your feedback");

    let saved = stored(&app).await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].topic, feedback::Topic::SigningIn);
    assert_eq!(saved[0].rating, 4);
    assert_eq!(
        saved[0].comments.as_deref(),
        Some("Quick and easy\nthank you")
    );
    assert_eq!(saved[0].org_code, None);
    assert_eq!(saved[0].submitted_at, START);

    let audit = app.audit().await;
    let event = audit
        .iter()
        .find(|e| e.event == "feedback.submitted")
        .expect("audited");
    assert_eq!(event.account_id, None);
    assert_eq!(event.subject, None);
    let everything = format!("{audit:?}");
    assert!(
        !everything.contains("Quick and easy"),
        "no comments in the audit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_feedback_is_stored_with_the_organisation_but_not_the_account() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let profile = app.page(&client, "/profile").await;
    assert!(text_of(&profile, "header a").contains("Feedback"));
    let form = app.page(&client, "/feedback").await;
    assert!(
        text_of(&form, "header").contains("Profile"),
        "signed-in header"
    );

    let response = send_feedback(
        &app,
        &client,
        &[
            ("topic", "setting-up-mfa"),
            ("rating", "2"),
            ("comments", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let saved = stored(&app).await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].org_code.as_deref(), Some("FA123"));
    assert_eq!(saved[0].comments, None, "an empty comment is no comment");

    let audit = app.audit().await;
    let event = audit
        .iter()
        .find(|e| e.event == "feedback.submitted")
        .expect("audited");
    assert_eq!(event.subject.as_deref(), Some("FA123"));
    assert_eq!((&event.account_id, &event.actor_id), (&None, &None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_feedback_gets_a_message_for_each_missing_answer_and_nothing_is_stored() {
    let app = spawn_app().await;
    let client = browser();
    let response = send_feedback(
        &app,
        &client,
        &[("topic", ""), ("rating", ""), ("comments", "   ")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    let summary = text_of(&page, ".nhsuk-error-summary");
    assert!(
        summary.contains("Select what your feedback is about"),
        "{summary}"
    );
    assert!(summary.contains("Select how easy it was"), "{summary}");
    assert!(text_of(&page, "title").starts_with("Error:"));
    // The page still works for another try: it has a token for this browser.
    assert!(!csrf_token(&page).is_empty());
    // A form with no fields at all is the same.
    let bare = send_feedback(&app, &client, &[]).await;
    assert_eq!(bare.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stored(&app).await.is_empty());
    assert!(
        !app.audit()
            .await
            .iter()
            .any(|e| e.event == "feedback.submitted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_over_2000_characters_is_refused_and_one_of_2000_is_taken() {
    let app = spawn_app().await;
    let client = browser();
    let too_long = "é".repeat(2001);
    let response = send_feedback(
        &app,
        &client,
        &[("topic", "other"), ("rating", "3"), ("comments", &too_long)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    assert!(
        text_of(&page, ".nhsuk-error-summary")
            .contains("Your comments must be 2,000 characters or fewer")
    );
    assert!(
        text_of(&page, "#comments-error").contains("2,000 characters or fewer"),
        "the message is also by the field"
    );
    // What was typed and chosen is kept for another try.
    assert_eq!(text_of(&page, "#comments").chars().count(), 2001);
    let doc = scraper::Html::parse_document(&page);
    let checked = scraper::Selector::parse("input[checked]").expect("selector");
    let values: Vec<_> = doc
        .select(&checked)
        .filter_map(|e| e.value().attr("value"))
        .collect();
    assert_eq!(values, ["other", "3"]);
    assert!(stored(&app).await.is_empty());

    let at_limit = format!("  {}  ", "é".repeat(2000));
    let response = send_feedback(
        &app,
        &client,
        &[("topic", "other"), ("rating", "3"), ("comments", &at_limit)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored(&app).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratings_other_than_1_to_5_are_refused() {
    let app = spawn_app().await;
    let client = browser();
    for rating in ["0", "6", "x", "-1", "4.5"] {
        let response = send_feedback(
            &app,
            &client,
            &[("topic", "signing-in"), ("rating", rating)],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rating}"
        );
        assert!(
            error_summary(response)
                .await
                .contains("Select how easy it was")
        );
    }
    let unknown_topic =
        send_feedback(&app, &client, &[("topic", "billing"), ("rating", "3")]).await;
    assert_eq!(unknown_topic.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_summary(unknown_topic)
            .await
            .contains("Select what your feedback is about")
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_without_a_valid_csrf_token_is_refused_with_403() {
    let app = spawn_app().await;
    let client = browser();
    app.page(&client, "/feedback").await;
    let other = browser();
    let foreign = csrf_token(&app.page(&other, "/feedback").await);
    for token in [None, Some("forged"), Some(foreign.as_str())] {
        let mut form = vec![("topic", "other"), ("rating", "3")];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let response = client
            .post(app.url("/feedback"))
            .form(&form)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{token:?}");
    }
    assert!(stored(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_send_10_an_hour_and_then_gets_429() {
    let app = spawn_app().await;
    let client = browser();
    // Mistakes are not counted.
    let wrong = send_feedback(&app, &client, &[]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for _ in 0..10 {
        let response = send_feedback(&app, &client, &[("topic", "other"), ("rating", "5")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let refused = send_feedback(&app, &client, &[("topic", "other"), ("rating", "5")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(text_of(&refused.text().await.expect("body"), "p").contains("Try again after"));
    // Another browser on the same address is the same source.
    let other = send_feedback(&app, &browser(), &[("topic", "other"), ("rating", "5")]).await;
    assert_eq!(other.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(stored(&app).await.len(), 10);

    app.clock.advance(3601);
    let later = send_feedback(&app, &client, &[("topic", "other"), ("rating", "5")]).await;
    assert_eq!(later.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored(&app).await.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_counts_each_client_address_behind_a_trusted_proxy_separately() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    let client = browser();
    let send_from = |ip: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            let token = csrf_token(&app.page(&client, "/feedback").await);
            client
                .post(app.url("/feedback"))
                .header("x-forwarded-for", ip)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("topic", "other"),
                    ("rating", "4"),
                ])
                .send()
                .await
                .expect("POST")
                .status()
        }
    };
    for _ in 0..10 {
        assert_eq!(send_from("203.0.113.9").await, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        send_from("203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(send_from("198.51.100.7").await, StatusCode::SEE_OTHER);
}

/// A signed-in administrator who has just proved a second factor, in a new browser.
async fn admin_signed_in(app: &TestApp, email: &str, role: &str, org: &str) -> reqwest::Client {
    use domain::organisations::OrganisationRecords;
    if app.store.organisation(org).await.expect("query").is_none() {
        app.add_org(org).await;
    }
    let hashing = PasswordHashing::new(&app.settings.argon2).expect("hashing");
    let request = AccountRequest {
        email,
        name: "Nia Admin",
        org,
        role,
    };
    accounts::add_account(&app.store, &hashing, request, Some(PASSWORD), START)
        .await
        .expect("admin added");
    let client = browser();
    app.sign_in_with(&client, email, PASSWORD).await;
    let key = app.enrol_authenticator_app(&client).await;
    // Enrolling did not prove a factor: sign in again with the app's code.
    app.submit(&client, "/profile", "/sign-out", &[]).await;
    app.clock.advance(30);
    let response = app.sign_in_with(&client, email, PASSWORD).await;
    assert_eq!(location(&response), "/sign-in/verify");
    let response = app
        .second_step(&client, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    client
}

/// Feedback stored through the domain, each from its own address so that no limit applies.
async fn seed(
    app: &TestApp,
    n: usize,
    topic: &str,
    rating: &str,
    org: Option<&str>,
    at: i64,
    comments: &str,
) {
    let requester = Requester {
        ip: format!("10.0.{}.{}", n / 250, n % 250),
        ..Requester::default()
    };
    let input = FeedbackInput {
        topic,
        rating,
        comments,
    };
    feedback::submit(&app.store, &input, org, &requester, at)
        .await
        .expect("feedback stored");
}

/// Each body row of a table as its cells' text, separated by spaces.
fn rows(html: &str, table: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let row = scraper::Selector::parse(&format!("#{table} tbody tr")).expect("selector");
    let cell = scraper::Selector::parse("th, td").expect("selector");
    doc.select(&row)
        .map(|r| {
            r.select(&cell)
                .map(crate::helpers::read_aloud)
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The targets of the links matching `css`.
fn hrefs(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).expect("selector");
    doc.select(&selector)
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect()
}

/// Five submissions over 40 days: one of each rating, from FA123, FB456 and signed out.
/// START is Friday 15 January 2027, 08:00 UTC.
async fn seed_five(app: &TestApp) {
    seed(
        app,
        1,
        "signing-in",
        "5",
        Some("FA123"),
        START - 40 * DAY,
        "Easy to sign in",
    )
    .await;
    seed(
        app,
        2,
        "signing-in",
        "4",
        Some("FA123"),
        START - 10 * DAY,
        "",
    )
    .await;
    seed(
        app,
        3,
        "setting-up-mfa",
        "2",
        Some("FB456"),
        START - 3 * DAY,
        "The QR code was hard to scan",
    )
    .await;
    seed(
        app,
        4,
        "password-reset",
        "1",
        None,
        START - DAY,
        "Could not reset my password",
    )
    .await;
    seed(
        app,
        5,
        "other",
        "3",
        Some("FB456"),
        START - 60,
        "Newest comment",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_admin_sees_counts_by_topic_and_rating_over_time_and_the_comments() {
    let app = spawn_app().await;
    let admin = admin_signed_in(&app, "nia@example.nhs.uk", "national-admin", "NAT01").await;
    app.add_org("FB456").await;
    app.add_org("FA123").await;
    seed_five(&app).await;

    let home = app.page(&admin, "/admin").await;
    assert!(text_of(&home, "main a").contains("Feedback"));

    let page = app.page(&admin, "/admin/feedback").await;
    assert_eq!(text_of(&page, "h1"), "Feedback");
    assert!(
        text_of(&page, "#feedback-summary").contains("5 submissions. Average rating: 3.0 out of 5"),
        "{}",
        text_of(&page, "#feedback-summary")
    );
    assert_eq!(
        rows(&page, "by-topic"),
        [
            "Setting up MFA 1",
            "Signing in 2",
            "Password reset 1",
            "Other 1",
            "Help pages 0"
        ]
    );
    assert_eq!(
        rows(&page, "by-rating"),
        [
            "1 – Very difficult 1",
            "2 – Difficult 1",
            "3 – Neither easy nor difficult 1",
            "4 – Easy 1",
            "5 – Very easy 1"
        ]
    );
    // 40 days of data: counted per week (weeks begin on Monday), gaps included.
    assert!(text_of(&page, "#per-period-topic caption").contains("per week"));
    let weeks = rows(&page, "per-period-topic");
    assert_eq!(weeks.len(), 7, "{weeks:?}");
    assert_eq!(weeks[0], "30 November 2026 0 1 0 0 0 1");
    assert_eq!(weeks[6], "11 January 2027 1 0 1 1 0 3");
    assert_eq!(
        rows(&page, "per-period-rating")[6],
        "11 January 2027 1 1 1 0 0 3"
    );
    // Every table is described for screen readers.
    let doc = scraper::Html::parse_document(&page);
    let tables = scraper::Selector::parse("table").expect("selector");
    let caption = scraper::Selector::parse("caption").expect("selector");
    let unscoped = scraper::Selector::parse("th:not([scope])").expect("selector");
    for table in doc.select(&tables) {
        assert!(table.select(&caption).next().is_some());
        assert!(table.select(&unscoped).next().is_none());
    }
    // Comments, newest first; a submission without a comment is not listed.
    let comments: Vec<String> = rows(&page, "comments");
    assert_eq!(comments.len(), 4);
    assert!(comments[0].contains("Newest comment") && comments[0].contains("FB456"));
    assert!(
        comments[1].contains("Could not reset my password") && comments[1].contains("Signed out")
    );
    assert!(comments[3].contains("Easy to sign in"));

    // Filters, alone and together.
    let by_topic = app.page(&admin, "/admin/feedback?topic=signing-in").await;
    assert!(text_of(&by_topic, "#feedback-summary").contains("2 submissions. Average rating: 4.5"));
    assert_eq!(rows(&by_topic, "comments").len(), 1);
    let by_rating = app.page(&admin, "/admin/feedback?rating=2").await;
    assert!(text_of(&by_rating, "#feedback-summary").contains("1 submission."));
    assert!(rows(&by_rating, "comments")[0].contains("QR code"));
    let by_org = app.page(&admin, "/admin/feedback?org=fb456").await;
    assert!(text_of(&by_org, "#feedback-summary").contains("2 submissions. Average rating: 2.5"));
    let both = app.page(&admin, "/admin/feedback?org=FB456&rating=3").await;
    assert_eq!(rows(&both, "comments").len(), 1);
    assert!(rows(&both, "comments")[0].contains("Newest comment"));
    // A short date range (both days included) is counted per day, every day shown.
    let range = app
        .page(&admin, "/admin/feedback?from=2027-01-10&to=2027-01-15")
        .await;
    assert!(text_of(&range, "#feedback-summary").contains("3 submissions"));
    assert!(text_of(&range, "#per-period-topic caption").contains("per day"));
    let days = rows(&range, "per-period-topic");
    assert_eq!(days.len(), 6, "{days:?}");
    assert_eq!(days[2], "12 January 2027 1 0 0 0 0 1");
    assert_eq!(days[5], "15 January 2027 0 0 0 1 0 1");
    // The chosen filters stay in the form and in the CSV link.
    assert!(range.contains("value=\"2027-01-10\""));
    assert!(
        hrefs(&range, "main a")
            .iter()
            .any(|h| h == "/admin/feedback.csv?from=2027-01-10&to=2027-01-15")
    );

    // Nothing matches: zeros, no rows, no error.
    let none = app
        .page(&admin, "/admin/feedback?topic=other&rating=1")
        .await;
    assert!(
        text_of(&none, "#feedback-summary").contains("0 submissions. Average rating: none yet")
    );
    assert!(text_of(&none, "main").contains("No comments match these filters."));

    // A bad filter is explained, not guessed at.
    let bad = app
        .get_with(&admin, "/admin/feedback?rating=9&from=2027-02-30&org=%21")
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_html = app
        .page_with_status(&admin, "/admin/feedback?rating=9&from=2027-02-30&org=%21")
        .await;
    // Each message also stands beside its field, tied to it for screen readers.
    for field in ["rating", "from", "org"] {
        assert!(
            bad_html.contains(&format!("id=\"{field}-error\"")),
            "{field}"
        );
    }
    let summary = error_summary(bad).await;
    assert!(
        summary.contains("Select a rating from the list"),
        "{summary}"
    );
    assert!(summary.contains("‘from’ date"), "{summary}");
    assert!(summary.contains("organisation code"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_paged_20_at_a_time_newest_first() {
    let app = spawn_app().await;
    let admin = admin_signed_in(&app, "nia@example.nhs.uk", "national-admin", "NAT01").await;
    for n in 0..25 {
        let at = START - 1000 + n as i64;
        seed(
            &app,
            n,
            "other",
            "3",
            None,
            at,
            &format!("Comment number {n}"),
        )
        .await;
    }
    let first = app.page(&admin, "/admin/feedback?topic=other").await;
    let comments = rows(&first, "comments");
    assert_eq!(comments.len(), 20);
    assert!(comments[0].contains("Comment number 24"));
    assert!(text_of(&first, "#comments caption").contains("25 in all; page 1 of 2"));
    let next = text_of(&first, ".nhsuk-pagination a");
    assert!(next.contains("Next"));
    assert_eq!(
        hrefs(&first, ".nhsuk-pagination a"),
        ["/admin/feedback?topic=other&page=2"]
    );
    let second = app.page(&admin, "/admin/feedback?topic=other&page=2").await;
    let comments = rows(&second, "comments");
    assert_eq!(comments.len(), 5);
    assert!(comments[4].contains("Comment number 0"));
    assert!(text_of(&second, ".nhsuk-pagination a").contains("Previous"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_has_every_submission_and_defuses_spreadsheet_formulas() {
    let app = spawn_app().await;
    let admin = admin_signed_in(&app, "nia@example.nhs.uk", "national-admin", "NAT01").await;
    app.add_org("FA123").await;
    let comments = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+44 7700 900123",
        "-2+3",
        "@SUM(A1:A2)",
        "Plain, with a comma",
        "Two\nlines and \"quotes\"",
    ];
    for (n, c) in comments.iter().enumerate() {
        seed(
            &app,
            n,
            "signing-in",
            "4",
            Some("FA123"),
            START - 100 + n as i64,
            c,
        )
        .await;
    }
    seed(&app, 10, "other", "1", None, START - 200, "").await;

    let response = app.get_with(&admin, "/admin/feedback.csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").starts_with("attachment"));
    assert!(header("content-disposition").contains(".csv"));
    let body = response.text().await.expect("body");
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(lines[0], "submitted,topic,rating,organisation,comments");
    // Newest first: the last comment seeded comes first, with its line break kept in quotes.
    assert_eq!(
        lines[1],
        "2027-01-15T07:58:25Z,Signing in,4,FA123,\"Two\nlines and \"\"quotes\"\"\""
    );
    assert!(lines[2].ends_with(",\"Plain, with a comma\""));
    assert!(lines[3].ends_with(",'@SUM(A1:A2)"));
    assert!(lines[4].ends_with(",'-2+3"));
    assert!(lines[5].ends_with(",'+44 7700 900123"));
    assert!(
        lines[6].ends_with(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\""),
        "{}",
        lines[6]
    );
    assert_eq!(lines[7], "2027-01-15T07:56:40Z,Other,1,,");
    assert_eq!(lines[8], "", "the file ends with a line break");
    assert_eq!(lines.len(), 9);

    // The export follows the page's filters.
    let filtered = app
        .get_with(&admin, "/admin/feedback.csv?topic=other")
        .await;
    let body = filtered.text().await.expect("body");
    assert_eq!(body.lines().count(), 2);
    let bad = app.get_with(&admin, "/admin/feedback.csv?rating=x").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let audit = app.audit().await;
    let exports: Vec<_> = audit
        .iter()
        .filter(|e| e.event == "feedback.exported")
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0].reason.as_deref(), Some("topic=other"));
    assert!(exports[0].actor_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_admins_and_users_get_403_on_the_feedback_pages_and_it_is_audited() {
    let app = spawn_app().await;
    seed(
        &app,
        1,
        "signing-in",
        "4",
        None,
        START - 100,
        "Secret opinion",
    )
    .await;
    let local = admin_signed_in(&app, "leo@example.nhs.uk", "local-admin", "FA123").await;
    let local_id = crate::helpers::account(&app, "leo@example.nhs.uk").await.id;
    for (path, action) in [
        ("/admin/feedback", "feedback.view"),
        ("/admin/feedback.csv", "feedback.export"),
    ] {
        let response = app.get_with(&local, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body = response.text().await.expect("body");
        assert!(!body.contains("Secret opinion"));
        let audit = app.audit().await;
        let denied = &audit[0];
        assert_eq!(denied.event, "admin.denied");
        assert_eq!(denied.outcome, "failure");
        assert_eq!(denied.actor_id.as_deref(), Some(local_id.as_str()));
        assert_eq!(denied.reason.as_deref(), Some(action));
    }
    let home = app.page(&local, "/admin").await;
    assert!(!text_of(&home, "main").contains("Feedback"), "not offered");

    let user = app.ann_signed_in().await;
    let ann_id = crate::helpers::account(&app, "ann@example.nhs.uk").await.id;
    for path in ["/admin/feedback", "/admin/feedback.csv"] {
        let response = app.get_with(&user, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let audit = app.audit().await;
        assert_eq!(audit[0].event, "admin.denied");
        assert_eq!(audit[0].actor_id.as_deref(), Some(ann_id.as_str()));
        assert_eq!(audit[0].reason.as_deref(), Some(path));
    }

    // Signed out: to the sign-in page, and back here afterwards.
    let response = app.get_with(&browser(), "/admin/feedback").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/sign-in?next=%2Fadmin%2Ffeedback"));
}
