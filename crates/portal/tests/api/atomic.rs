//! An action and its audit event commit together (issue 18): when the audit event cannot be
//! written, the action has not happened either. The test makes the database refuse the event
//! with a trigger, which is what a crash between the two writes would look like from outside.

use domain::mfa::MethodRecords;

use crate::helpers::{
    PASSWORD, TestApp, browser, location, postgres_selected, spawn_app, totp_code,
};

/// Makes the database refuse audit events named `event`.
async fn refuse_audit_events(app: &TestApp, event: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(app.database_url())
        .await
        .expect("connect");
    let statements: Vec<String> = if postgres_selected() {
        vec![
            format!(
                "CREATE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN \
                 IF NEW.event = '{event}' THEN RAISE EXCEPTION 'refused'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_event BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_event()"
                .into(),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_event BEFORE INSERT ON audit_events \
             WHEN NEW.event = '{event}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )]
    };
    for sql in statements {
        sqlx::query(&sql).execute(&mut conn).await.expect("trigger");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_reset_whose_audit_event_cannot_be_written_removes_nothing() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let ann = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    refuse_audit_events(&app, "mfa.reset").await;
    let out = app.nhsmal(&[
        "user",
        "reset-mfa",
        "ann@fa123.nhs.uk",
        "--reason",
        "lost phone",
    ]);
    assert!(!out.status.success(), "the reset must fail");
    // Nothing of the reset happened: her app and her session are still there.
    assert_eq!(
        app.store.methods_of(&ann.id).await.expect("methods").len(),
        1
    );
    assert_eq!(
        app.get_with(&client, "/profile").await.status(),
        reqwest::StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_whose_audit_event_cannot_be_written_changes_no_password() {
    let app = spawn_app().await;
    let (_, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    app.clock.advance(30);
    let reset = browser();
    app.submit(
        &reset,
        "/forgotten-password",
        "/forgotten-password",
        &[("email", "ann@fa123.nhs.uk")],
    )
    .await;
    app.reset_choose(&reset, "totp").await;
    let r = app
        .second_step(&reset, &totp_code(&key, app.clock_now()))
        .await;
    assert_eq!(location(&r), "/forgotten-password/new-password");
    refuse_audit_events(&app, "password.reset").await;
    let new = "a brand new passphrase for the ward 12";
    let r = app
        .submit(
            &reset,
            "/forgotten-password/new-password",
            "/forgotten-password/new-password",
            &[("new_password", new), ("confirm_password", new)],
        )
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    // The old password still signs in; the new one does not.
    let r = app
        .sign_in_with(&browser(), "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let r = app.sign_in_with(&browser(), "ann@fa123.nhs.uk", new).await;
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
}
