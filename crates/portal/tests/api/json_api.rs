//! The JSON API: the same session, policy and authorization rules as the pages.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, browser, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_described_by_an_openapi_document() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/me",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{id}",
        "/api/v1/admin/users/{id}/reset-mfa",
        "/api/v1/push/pair",
        "/api/v1/push/requests",
        "/api/v1/push/events",
        "/api/v1/push/requests/{id}/answer",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // The companion app's endpoints take the device's bearer token, not the session.
    assert_eq!(
        doc["paths"]["/api/v1/push/requests"]["get"]["security"][0]["device"],
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_and_enrolment_only_callers_get_json_errors() {
    let app = spawn_app().await;
    let response = app.get_with(&browser(), "/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "sign_in_required");

    app.add_user("ann@fa123.nhs.uk").await;
    let output = app.nhsmal(&["policy", "set", "--mfa-required-from", "2027-01-01"]);
    assert!(output.status.success());
    let client = browser();
    app.sign_in_with(&client, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    let response = app.get_with(&client, "/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "enrolment_required");

    app.enrol_authenticator_app(&client).await;
    let body: serde_json::Value = app
        .get_with(&client, "/api/v1/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["email"], "ann@fa123.nhs.uk");
    assert_eq!(body["methods"][0]["type"], "totp");
    assert!(!body.to_string().contains("secret"), "never a secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_is_refused_another_organisations_people_through_the_api() {
    let app = spawn_app().await;
    let bob = app.add_person("bob@fb456.nhs.uk", "FB456", "user").await;
    let ann = app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let (client, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;

    let list: serde_json::Value = app
        .get_with(&client, "/api/v1/admin/users?q=nhs.uk")
        .await
        .json()
        .await
        .expect("JSON");
    let emails: Vec<&str> = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert!(emails.contains(&"ann@fa123.nhs.uk") && !emails.contains(&"bob@fb456.nhs.uk"));
    let response = app.get_with(&client, "/api/v1/admin/users?org=FB456").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = app
        .get_with(&client, &format!("/api/v1/admin/users/{}", bob.id))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "forbidden");

    let before = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "admin.denied")
        .count();
    let response = client
        .post(app.url(&format!("/api/v1/admin/users/{}/reset-mfa", bob.id)))
        .json(&serde_json::json!({"reason": "lost phone"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let after = app
        .audit()
        .await
        .iter()
        .filter(|e| e.event == "admin.denied")
        .count();
    assert_eq!(after, before + 1);
    assert!(app.audit().await.iter().all(|e| e.event != "mfa.reset"));

    // In their own organisation: a reason is required, then it works.
    let url = app.url(&format!("/api/v1/admin/users/{}/reset-mfa", ann.id));
    let response = client
        .post(&url)
        .json(&serde_json::json!({"reason": ""}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = client
        .post(&url)
        .form(&[("reason", "lost phone")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "JSON only");
    let response = client
        .post(&url)
        .json(&serde_json::json!({"reason": "lost phone"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.audit().await.iter().any(|e| e.event == "mfa.reset"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_user_is_refused_the_admin_api() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let response = app.get_with(&client, "/api/v1/admin/users").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(app.audit().await.iter().any(|e| e.event == "admin.denied"));
}
