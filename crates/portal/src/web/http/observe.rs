//! Per-request observation: a correlation id (also sent back as `x-request-id`), one log line,
//! and Prometheus metrics. Only the route pattern is logged, never the path's values, the
//! query, cookies or bodies.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use super::error::ServerFault;

#[derive(Clone, Debug)]
pub struct CorrelationId(pub String);

/// The process-wide Prometheus recorder (a process can install only one).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may already be installed (tests embedding the server): then
            // metrics go there and /metrics shows this one's empty view.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[allow(clippy::disallowed_methods)] // latency is measured with the monotonic clock
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    // The route pattern, not the path: a path can carry a token (/telephony/keypad/{token}).
    let path = route.clone().unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!("request", %method, %path, request_id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    // Unmatched paths share one label so that scanners cannot grow the metric set.
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route).record(elapsed.as_secs_f64());
    if let Some(fault) = response.extensions_mut().remove::<ServerFault>() {
        span.in_scope(|| tracing::error!(error = %fault.detail, "{}", fault.what));
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
