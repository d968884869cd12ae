use reqwest::StatusCode;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    let metrics = app.get("/metrics").await.text().await.expect("body");
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains("nhsmal_sign_ins_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_database_is_gone_readiness_fails_and_pages_say_so_without_detail() {
    let app = spawn_app().await;
    app.add_user("ann@example.nhs.uk").await;
    app.sign_in("ann@example.nhs.uk", PASSWORD).await;
    app.store.close().await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = response.text().await.expect("body");
    assert!(page.contains("Sorry, there is a problem with the service"));
    assert!(
        !page.to_lowercase().contains("pool"),
        "no internal detail on the page"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "alive, just not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/sign-in",
        "/healthz",
        "/no-such-page",
        "/assets/nhsuk-frontend.min.css",
    ] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().expect("text");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS on plain loopback http"
        );
    }
    assert_eq!(
        app.get("/sign-in").await.headers()["cache-control"],
        "no-store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nhs_frontend_is_served_from_the_binary() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/assets/nhsuk-frontend.min.css", "text/css"),
        ("/assets/nhsuk-frontend.min.js", "text/javascript"),
        ("/assets/portal.js", "text/javascript"),
        ("/assets/images/favicon.svg", "image/svg+xml"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("text")
                .starts_with(kind)
        );
    }
    assert_eq!(
        app.get("/assets/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .await
            .expect("body")
            .contains("Page not found")
    );
}
