//! Bulk import (`nhsmal user import`, `/admin/import`) and invitations to set a first password.

use domain::accounts::{self, AccountRecords, AccountRequest};
use domain::clock::{Clock, SystemClock};
use domain::organisations::OrganisationRecords;
use domain::password::PasswordHashing;
use reqwest::StatusCode;

use crate::helpers::{
    CliOutput, PASSWORD, TestApp, browser, csrf_token, location, set_cookies, spawn_app, text_of,
    totp_code,
};

const GOOD: &str = "email,name,organisation,role\n\
                    amy@example.nhs.uk,Amy Archer,FA123,user\n\
                    ben@example.nhs.uk,Ben Baker,fa123,local-admin\n\
                    cat@example.nhs.uk,\"Cat Carter, Dr\",FA123,user\n";

const NEW_PASSWORD: &str = "purple giraffe wandering 42";

/// Runs `nhsmal user import FILE ARGS` against the app's own database and data folder, with
/// the app's public URL for the links (the outbox is then the app's outbox).
async fn import_file(app: &TestApp, csv: &str, args: &[&str]) -> CliOutput {
    let file = app.data_dir.path().join("people.csv");
    std::fs::write(&file, csv).expect("write the CSV file");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["user", "import"])
        .arg(&file)
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .arg("--database-url")
        .arg(app.database_url())
        .env("NHSMAL_PUBLIC_URL", app.settings.public_url.as_str())
        .env_remove("NHSMAL_DATA_DIR")
        .env_remove("NHSMAL_DATABASE_URL")
        .output()
        .await
        .expect("nhsmal runs");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The command line stamps invitations with the real time; the server's fake clock is moved
/// to it so that the links are judged by the same time (and can then be aged by hand).
fn catch_up_with_the_real_clock(app: &TestApp) {
    let behind = SystemClock.now() - app.clock_now();
    app.clock.advance(behind);
}

async fn app_with_org() -> TestApp {
    let app = spawn_app().await;
    app.add_org("FA123").await;
    app
}

fn emails_to(app: &TestApp, to: &str) -> Vec<serde_json::Value> {
    app.outbox().into_iter().filter(|m| m["to"] == to).collect()
}

/// The invitation link emailed to `to`, as a path on the server.
fn invitation_path(app: &TestApp, to: &str) -> String {
    let emails = emails_to(app, to);
    assert_eq!(emails.len(), 1, "one invitation for {to}");
    let body = emails[0]["body"].as_str().expect("body");
    let prefix = format!(
        "{}/invitation/",
        app.settings.public_url.as_str().trim_end_matches('/')
    );
    let start = body.find(&prefix).expect("the email has the link") + prefix.len();
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "a 256-bit token");
    format!("/invitation/{token}")
}

async fn count_events(app: &TestApp, event: &str) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| e.event == event)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_file_adds_each_person_without_a_password_and_emails_them_an_invitation() {
    let app = app_with_org().await;
    let out = import_file(&app, GOOD, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("added 3, unchanged 0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("imported 3 of 3"),
        "plain progress: {}",
        out.stdout
    );

    let ben = app
        .store
        .account_by_email("ben@example.nhs.uk")
        .await
        .expect("query")
        .expect("Ben added");
    assert_eq!(ben.display_name, "Ben Baker");
    assert_eq!(ben.org_code, "FA123");
    assert_eq!(ben.role.as_str(), "local-admin");
    assert!(
        ben.password_hash.is_none(),
        "no password until the invitation is used"
    );
    let cat = crate::helpers::account(&app, "cat@example.nhs.uk").await;
    assert_eq!(cat.display_name, "Cat Carter, Dr");

    for to in [
        "amy@example.nhs.uk",
        "ben@example.nhs.uk",
        "cat@example.nhs.uk",
    ] {
        let email = &emails_to(&app, to)[0];
        assert_eq!(email["channel"], "email");
        assert_eq!(email["subject"], "Set up your NHSmal account");
        invitation_path(&app, to);
    }
    assert_eq!(count_events(&app, "account.added").await, 3);
    assert_eq!(count_events(&app, "invitation.sent").await, 3);
    let audit = app.audit().await;
    let completed = audit
        .iter()
        .find(|e| e.event == "import.completed")
        .expect("import audited");
    assert_eq!(completed.reason.as_deref(), Some("added 3, unchanged 0"));
    assert_eq!(completed.subject.as_deref(), Some("people.csv"));
    assert_eq!(completed.ip.as_deref(), Some("local"));
    let token = invitation_path(&app, "amy@example.nhs.uk").replace("/invitation/", "");
    for event in &audit {
        assert!(
            !format!("{event:?}").contains(&token),
            "no token in the audit trail"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_reported_line_by_line_exits_2_and_imports_nothing() {
    let app = app_with_org().await;
    let csv = "\u{feff}Email, Name ,ORGANISATION,role\r\n\
               amy@example.nhs.uk,Amy Archer,FA123,user\r\n\
               not-an-email,Bob,FA123,user\r\n\
               cat@example.nhs.uk,,FA123,user\r\n\
               dan@example.nhs.uk,Dan,ZZ999,user\r\n\
               eve@example.nhs.uk,Eve,FA123,boss\r\n\
               AMY@example.nhs.uk,Amy Again,FA123,user\r\n\
               fay@example.nhs.uk,Fay,FA123\r\n";
    let out = import_file(&app, csv, &[]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let expected = [
        ("line 3: ", "not a valid email address"),
        ("line 4: ", "name is empty"),
        ("line 5: ", "no organisation with code ZZ999"),
        (
            "line 6: ",
            "role must be user, local-admin or national-admin",
        ),
        ("line 7: ", "already on line 2"),
        ("line 8: ", "expected 4 columns"),
    ];
    assert_eq!(lines.len(), expected.len() + 1, "{}", out.stderr);
    for (line, (start, reason)) in lines.iter().zip(expected) {
        assert!(line.starts_with(start) && line.contains(reason), "{line}");
    }
    assert!(
        lines[expected.len()].starts_with("error: 6 rows with errors; nothing was imported"),
        "{}",
        out.stderr
    );
    assert!(app.store.all_accounts().await.expect("query").is_empty());
    assert!(app.outbox().is_empty());
    assert_eq!(count_events(&app, "import.completed").await, 0);

    let long_name = format!(
        "email,name,organisation,role\namy@example.nhs.uk,{},FA123,user\n",
        "n".repeat(201)
    );
    let out = import_file(&app, &long_name, &[]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("line 2: name is longer than 200 characters"),
        "{}",
        out.stderr
    );

    let out = import_file(
        &app,
        "email,name,org,role\namy@example.nhs.uk,Amy,FA123,user\n",
        &["--skip-invalid"],
    )
    .await;
    assert_eq!(out.code, 2, "a wrong header stops even --skip-invalid");
    assert!(
        out.stderr
            .starts_with("line 1: the header must be email,name,organisation,role"),
        "{}",
        out.stderr
    );
    assert!(app.store.all_accounts().await.expect("query").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_imports_the_good_rows_and_reports_the_bad_ones() {
    let app = app_with_org().await;
    let csv = format!("{GOOD}bad-email,Bob,FA123,user\ndan@example.nhs.uk,Dan,FA123,chief\n");
    let out = import_file(&app, &csv, &["--skip-invalid"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("line 5: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("line 6: role must be"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("added 3, unchanged 0, skipped 2 with errors"),
        "{}",
        out.stdout
    );
    assert_eq!(app.store.all_accounts().await.expect("query").len(), 3);
    assert!(emails_to(&app, "dan@example.nhs.uk").is_empty());
    assert_eq!(app.outbox().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_same_file_again_changes_nothing_and_sends_no_new_invitation() {
    let app = app_with_org().await;
    assert_eq!(import_file(&app, GOOD, &[]).await.code, 0);
    let before = app.store.all_accounts().await.expect("query");
    let out = import_file(&app, GOOD, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("added 0, unchanged 3"),
        "{}",
        out.stdout
    );
    assert_eq!(app.store.all_accounts().await.expect("query"), before);
    assert_eq!(app.outbox().len(), 3, "no new invitations");
    assert_eq!(count_events(&app, "invitation.sent").await, 3);

    // The same people with other details: left alone, and the operator is told.
    let changed = GOOD.replace(
        "Ben Baker,fa123,local-admin",
        "Ben Baker,FA123,national-admin",
    );
    let out = import_file(&app, &changed, &[]).await;
    assert_eq!(
        out.code, 0,
        "a difference is a warning, not an error: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("warning: line 3: an account with email address ben@example.nhs.uk exists with different details (role); not changed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("added 0, unchanged 3"),
        "{}",
        out.stdout
    );
    let ben = crate::helpers::account(&app, "ben@example.nhs.uk").await;
    assert_eq!(ben.role.as_str(), "local-admin");
    assert_eq!(app.outbox().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_link_lets_the_person_set_a_password_once_and_sign_in() {
    let app = app_with_org().await;
    assert_eq!(import_file(&app, GOOD, &[]).await.code, 0);
    catch_up_with_the_real_clock(&app);
    let link = invitation_path(&app, "amy@example.nhs.uk");
    let client = browser();

    let response = app.get_with(&client, &link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/invitation",
        "the token leaves the address"
    );
    let cookie = set_cookies(response.headers())
        .into_iter()
        .find(|c| c.starts_with("nhsmal_invitation="))
        .expect("the token moves to a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age="),
        "{cookie}"
    );

    let page = app.page(&client, "/invitation").await;
    assert!(text_of(&page, "h1").contains("Set your password"));
    assert!(page.contains("amy@example.nhs.uk"));
    for label in ["New password", "Confirm new password"] {
        assert!(text_of(&page, "label").contains(label), "{label}");
    }
    assert_eq!(
        text_of(&page, "form[action='/invitation'] button"),
        "Save password"
    );

    let response = app
        .submit(
            &client,
            "/invitation",
            "/invitation",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?password_set=1");
    let page = app.page(&client, "/sign-in?password_set=1").await;
    assert!(page.contains("Your password has been saved"), "{page}");
    let amy = crate::helpers::account(&app, "amy@example.nhs.uk").await;
    assert!(
        amy.password_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );
    assert_eq!(count_events(&app, "invitation.accepted").await, 1);

    let response = app
        .sign_in_with(&client, "amy@example.nhs.uk", NEW_PASSWORD)
        .await;
    assert_eq!(location(&response), "/profile");

    // Used: the link, and the form, are refused with the one page.
    let other = browser();
    let response = app.get_with(&other, &link).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let response = app
        .submit(
            &client,
            "/profile",
            "/invitation",
            &[
                ("new_password", "another fine password 77"),
                ("confirm_password", "another fine password 77"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_used_and_unknown_links_get_one_page_with_one_status() {
    let app = app_with_org().await;
    assert_eq!(import_file(&app, GOOD, &[]).await.code, 0);
    catch_up_with_the_real_clock(&app);
    let amy = invitation_path(&app, "amy@example.nhs.uk");
    let ben = invitation_path(&app, "ben@example.nhs.uk");

    // Opened in time, then left until the link expired: the form refuses it too.
    let late = browser();
    assert_eq!(
        app.get_with(&late, &ben).await.status(),
        StatusCode::SEE_OTHER
    );
    let form = app.page(&late, "/invitation").await;

    // Used.
    let used = browser();
    app.get_with(&used, &amy).await;
    let r = app
        .submit(
            &used,
            "/invitation",
            "/invitation",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let expected = "This link has expired or has already been used. Ask your local administrator for a new invitation.";
    let mut pages = vec![];
    pages.push(app.get_with(&browser(), &amy).await);
    pages.push(
        app.get_with(&browser(), &format!("/invitation/{}", "A".repeat(43)))
            .await,
    );
    pages.push(app.get_with(&browser(), "/invitation/not-a-token").await);
    pages.push(app.get_with(&browser(), "/invitation").await);

    app.clock.advance(7 * 24 * 60 * 60 + 1);
    pages.push(
        app.get_with(&browser(), &invitation_path(&app, "cat@example.nhs.uk"))
            .await,
    );
    pages.push(app.get_with(&late, "/invitation").await);
    let token = csrf_token(&form);
    pages.push(
        late.post(app.url("/invitation"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ])
            .send()
            .await
            .expect("POST"),
    );
    for response in pages {
        assert_eq!(response.status(), StatusCode::GONE, "{}", response.url());
        let html = response.text().await.expect("body");
        assert!(html.contains(expected), "{html}");
    }
    let ben = crate::helpers::account(&app, "ben@example.nhs.uk").await;
    assert!(ben.password_hash.is_none(), "an expired link sets nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_or_mismatched_password_is_refused_and_the_link_still_works() {
    let app = app_with_org().await;
    assert_eq!(import_file(&app, GOOD, &[]).await.code, 0);
    catch_up_with_the_real_clock(&app);
    let client = browser();
    app.get_with(&client, &invitation_path(&app, "amy@example.nhs.uk"))
        .await;
    let cases = [
        ("password", "password", "new_password"),
        ("amy archer", "amy archer", "new_password"),
        (
            NEW_PASSWORD,
            "something else entirely 9",
            "confirm_password",
        ),
    ];
    for (new, confirm, field) in cases {
        let r = app
            .submit(
                &client,
                "/invitation",
                "/invitation",
                &[("new_password", new), ("confirm_password", confirm)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{new}");
        let page = r.text().await.expect("body");
        assert!(
            page.contains(&format!("id=\"{field}-error\"")),
            "{new}: {page}"
        );
    }
    assert!(
        crate::helpers::account(&app, "amy@example.nhs.uk")
            .await
            .password_hash
            .is_none()
    );
    let r = app
        .submit(
            &client,
            "/invitation",
            "/invitation",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&r), "/sign-in?password_set=1");
}

/// An administrator of FA123 with an authenticator app, signed in with it just now.
async fn admin_signed_in(app: &TestApp, email: &str, role: &str) -> reqwest::Client {
    if app
        .store
        .organisation("FA123")
        .await
        .expect("query")
        .is_none()
    {
        app.add_org("FA123").await;
    }
    let hashing = PasswordHashing::new(&app.settings.argon2).expect("hashing");
    let request = AccountRequest {
        email,
        name: "Ada Admin",
        org: "FA123",
        role,
    };
    accounts::add_account(
        &app.store,
        &hashing,
        request,
        Some(PASSWORD),
        app.clock_now(),
    )
    .await
    .expect("admin added");
    let first = browser();
    app.sign_in_with(&first, email, PASSWORD).await;
    let key = app.enrol_authenticator_app(&first).await;
    let client = browser();
    let r = app.sign_in_with(&client, email, PASSWORD).await;
    assert_eq!(location(&r), "/sign-in/verify");
    app.clock.advance(30);
    let r = app
        .second_step(&client, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    client
}

/// Posts the upload form the way a browser does (multipart/form-data).
async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    csv: &str,
    skip_invalid: bool,
) -> reqwest::Response {
    let token = csrf_token(&app.page(client, "/admin/import").await);
    let boundary = "nhsmal-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n"
    );
    if skip_invalid {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"skip_invalid\"\r\n\r\nyes\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    client
        .post(app.url("/admin/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_page_is_refused_to_a_local_administrator() {
    let app = spawn_app().await;
    let client = admin_signed_in(&app, "lou@example.nhs.uk", "local-admin").await;
    let r = app.get_with(&client, "/admin").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a local admin reaches the admin area"
    );
    let r = app.get_with(&client, "/admin/import").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let token = csrf_token(&app.page(&client, "/admin").await);
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\r\n{GOOD}\r\n--{boundary}--\r\n"
    );
    let r = client
        .post(app.url("/admin/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store.all_accounts().await.expect("query").len(),
        1,
        "nothing imported"
    );
    let lou = crate::helpers::account(&app, "lou@example.nhs.uk").await;
    let denials: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "admin.denied")
        .collect();
    assert_eq!(denials.len(), 2, "{denials:?}");
    for denial in denials {
        assert_eq!(denial.actor_id.as_deref(), Some(lou.id.as_str()));
        assert_eq!(denial.reason.as_deref(), Some("import"));
        assert_eq!(denial.outcome, "failure");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_administrator_uploads_a_file_and_sees_the_same_report() {
    let app = spawn_app().await;
    let client = admin_signed_in(&app, "nat@example.nhs.uk", "national-admin").await;
    let page = app.page(&client, "/admin/import").await;
    assert!(text_of(&page, "label").contains("CSV file"));
    assert!(text_of(&page, "label").contains("Skip rows with errors"));

    // A bad row: a report line by line, and nothing imported.
    let bad = format!("{GOOD}dan@example.nhs.uk,Dan,ZZ999,user\n");
    let r = upload(&app, &client, &bad, false).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(
        text_of(&html, ".nhsuk-error-summary").contains("1 row with errors; nothing was imported"),
        "{html}"
    );
    let row = text_of(&html, "table tbody tr");
    assert!(
        row.contains("5") && row.contains("no organisation with code ZZ999"),
        "{row}"
    );
    assert_eq!(app.store.all_accounts().await.expect("query").len(), 1);

    // Skipping it: the good rows are imported and invited, by this administrator.
    let r = upload(&app, &client, &bad, true).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(
        html.contains("Import complete: added 3, unchanged 0, skipped 1 with errors"),
        "{html}"
    );
    assert!(text_of(&html, "table caption").contains("Rows left out because of errors"));
    assert_eq!(app.store.all_accounts().await.expect("query").len(), 4);
    let nat = crate::helpers::account(&app, "nat@example.nhs.uk").await;
    let completed = app
        .audit()
        .await
        .into_iter()
        .find(|e| e.event == "import.completed")
        .expect("audited");
    assert_eq!(completed.actor_id.as_deref(), Some(nat.id.as_str()));

    // The link from an upload works like any other, on the server's own clock.
    let client2 = browser();
    app.get_with(&client2, &invitation_path(&app, "cat@example.nhs.uk"))
        .await;
    let r = app
        .submit(
            &client2,
            "/invitation",
            "/invitation",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&r), "/sign-in?password_set=1");

    // Again: nothing changes.
    let r = upload(&app, &client, GOOD, false).await;
    let html = r.text().await.expect("body");
    assert!(html.contains("added 0, unchanged 3"), "{html}");
    assert_eq!(
        app.outbox()
            .iter()
            .filter(|m| m["subject"] == "Set up your NHSmal account")
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_upload_may_be_larger_than_64_kib() {
    let app = spawn_app().await;
    let client = admin_signed_in(&app, "nat@example.nhs.uk", "national-admin").await;
    let mut csv = String::from("email,name,organisation,role\n");
    for i in 0..2_000 {
        csv.push_str(&format!(
            "person.{i}@example.nhs.uk,Person Number {i},FA123,user\n"
        ));
    }
    assert!(csv.len() > 64 * 1024);
    let r = upload(&app, &client, &csv, false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("added 2000, unchanged 0")
    );

    let big = "x".repeat(100 * 1024);
    let r = app
        .submit(
            &browser(),
            "/sign-in",
            "/sign-in",
            &[("email", big.as_str()), ("password", "p")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
