//! The portal assembled: the state every handler reaches, the router with its layers, the
//! background jobs, and serving. The one place that knows every feature.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use super::{admin, api, help, http, info, oidc, profile, push, sign_in};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use super::AppError;

use crate::config::Settings;
use crate::store::Store;
use domain::clock::Clock;
use domain::delivery::Notifier;
use domain::email_queue::{EmailQueue, EmailWorker};
use domain::password::PasswordHashing;
use domain::secrets::SecretBox;

/// What every request handler can reach.
pub struct App {
    pub store: Store,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub hashing: Arc<PasswordHashing>,
    /// Texts and calls go straight to their providers; email goes through `email_queue`.
    pub notifier: Arc<dyn Notifier>,
    pub email_queue: Arc<EmailQueue<Store>>,
    pub secrets: SecretBox,
    pub security_keys: domain::mfa::security_key::SecurityKeys,
    /// Places client addresses, when `geoip_database` is set; `None` turns the location
    /// signals off.
    pub geo: Option<Arc<crate::geo::GeoIpDatabase>>,
    /// The OpenID Connect ID token signing keys, kept in memory and reloaded every minute.
    pub signing_keys: domain::oidc::keys::SigningKeys,
    /// The origins a form may lead to (the CSP's `form-action`).
    pub form_targets: http::security::FormTargets,
    pub(crate) csrf_key: Vec<u8>,
    pub(crate) metrics: PrometheusHandle,
    /// Wakes the NHSmal Authenticator's event streams.
    pub push_bell: push::PushBell,
}

pub type AppState = Arc<App>;

impl App {
    /// Builds the application state: the CSRF key is shared by every node through the store.
    /// `providers` deliver messages; email reaches them through the persistent queue.
    pub async fn new(
        store: Store,
        settings: Settings,
        clock: Arc<dyn Clock>,
        providers: Arc<dyn Notifier>,
        secrets: SecretBox,
    ) -> anyhow::Result<AppState> {
        let hashing = Arc::new(PasswordHashing::new(&settings.argon2)?);
        let candidate = domain::random_bytes::<32>();
        let csrf_key = store
            .server_secret("csrf_key", &candidate, clock.now())
            .await?;
        let security_keys = domain::mfa::security_key::SecurityKeys::new(
            &settings.public_url,
            &settings.fido2_allowed,
        )
        .map_err(anyhow::Error::msg)?;
        let email_queue = Arc::new(EmailQueue::new(store.clone(), providers));
        let geo = match &settings.geoip_database {
            Some(path) => Some(Arc::new(crate::geo::GeoIpDatabase::open(path)?)),
            None => None,
        };
        let signing_keys =
            domain::oidc::keys::SigningKeys::load_or_create(&store, &secrets, clock.now()).await?;
        let form_targets = http::security::FormTargets::default();
        load_form_targets(&store, &form_targets).await?;
        Ok(Arc::new(App {
            geo,
            signing_keys,
            form_targets,
            notifier: email_queue.clone(),
            email_queue,
            security_keys,
            store,
            settings,
            clock,
            hashing,
            secrets,
            csrf_key,
            metrics: http::observe::metrics_handle(),
            push_bell: push::PushBell::default(),
        }))
    }

    pub fn password_rules(&self) -> domain::signin::PasswordRules<'_> {
        domain::signin::PasswordRules {
            hashing: &self.hashing,
            limits: &self.settings.sign_in_limits,
        }
    }

    /// What a second-factor check needs, for a request from `requester`.
    pub fn mfa<'a>(
        &'a self,
        requester: &'a domain::audit::Requester,
    ) -> domain::mfa::MfaContext<'a> {
        domain::mfa::MfaContext {
            secrets: &self.secrets,
            limits: &self.settings.sign_in_limits,
            notifier: self.notifier.as_ref(),
            requester,
            now: self.now(),
            reset_source: None,
            risk: &self.settings.risk,
        }
    }

    /// What sign-in monitoring needs about this request.
    pub fn monitor<'a>(
        &'a self,
        requester: &'a domain::audit::Requester,
    ) -> domain::monitoring::Monitor<'a> {
        domain::monitoring::Monitor {
            settings: &self.settings.risk,
            notifier: self.notifier.as_ref(),
            requester,
            now: self.now(),
        }
    }

    pub fn now(&self) -> domain::clock::UnixTime {
        self.clock.now()
    }

    /// Starts this node's email delivery worker, on the app's clock.
    pub fn start_email_worker(&self) -> EmailWorker {
        self.email_queue.start_worker(self.clock.clone())
    }
}

/// Every route of the portal with its layers.
pub fn router(app: AppState) -> Router {
    let portal = Router::new()
        .merge(sign_in::signin::router())
        .merge(profile::my_profile::router())
        .merge(profile::activity::router())
        .merge(profile::signed_in::router())
        .merge(sign_in::second_step::router())
        .merge(sign_in::security_key::router())
        .merge(sign_in::passkey::router())
        .merge(profile::enrol::router())
        .merge(profile::enrol_passkey::router())
        .merge(profile::enrol_phone::router())
        .merge(profile::enrol_push::router())
        .merge(profile::methods::router())
        .merge(profile::new_phone::router())
        .merge(sign_in::telephony::router())
        .merge(sign_in::time_limit::router())
        .merge(info::router())
        .merge(help::router())
        .merge(profile::feedback::router())
        .merge(sign_in::invitation::router())
        .merge(sign_in::rollout::router())
        .merge(sign_in::reset::router())
        .merge(sign_in::reset_step::router())
        .merge(sign_in::recovery_codes::router())
        .merge(profile::devices::router())
        .merge(admin::router())
        .merge(api::router())
        .merge(oidc::endpoints::router())
        .merge(oidc::device::router())
        .layer(http::security::csrf_layer(&app.settings));
    let routes = Router::new()
        .merge(portal)
        .merge(http::ops::router())
        .merge(oidc::oidc_keys::router())
        .merge(oidc::tokens::api_router())
        .merge(sign_in::telephony::webhook_router())
        .merge(push::device_api::router())
        .merge(http::assets::router())
        .fallback(|| async { AppError::NotFound });
    layered(routes, app)
}

/// The portal's layers over other routes, for the sign-in benchmark's bare handler (figure
/// (d) of BENCHMARKS.md) in nhsmal-dev: compiled with the `fixtures` feature only, so the
/// product build has no such door.
#[cfg(feature = "fixtures")]
pub fn with_layers(routes: Router<AppState>, app: AppState) -> Router {
    layered(routes, app)
}

/// The layers every response goes through: observation (correlation id, log line, metrics),
/// a timeout, a body limit and the security headers.
fn layered(routes: Router<AppState>, app: AppState) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            http::security::security_headers,
        ))
        .layer(axum::middleware::from_fn(limit_body))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn(http::observe::observe))
        .with_state(app)
}

/// Most bytes a request body may have.
const BODY_LIMIT: usize = 64 * 1024;

/// Request bodies are limited to 64 KiB, except the admin import page's file upload (see
/// `admin::import::MAX_UPLOAD_BYTES`). One layer decides by path because a limit applied
/// outside the router cannot be raised by a layer on one route inside it. As tower-http's
/// limit did: a declared length over the limit gets 413 at once; a body that grows past it
/// fails when read (the extractors answer 413).
async fn limit_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = if request.uri().path() == admin::import::PATH {
        admin::import::MAX_UPLOAD_BYTES
    } else {
        BODY_LIMIT
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "The request is too large.",
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(stall_guard(body), limit));
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Longest wait for the next part of a request body: a client that declares more than it sends
/// (or sends nothing) gets 400 after this, not a worker held until the 30-second timeout.
const BODY_STALL: Duration = Duration::from_secs(5);

/// A body that fails when no part of it arrives for `BODY_STALL`; the extractors then answer
/// 400. Written here because tower-http's timeouts bound a whole request or response, not the
/// wait between parts of a body.
fn stall_guard(body: axum::body::Body) -> axum::body::Body {
    use futures_util::StreamExt;
    let frames = http_body_util::BodyStream::new(body);
    let guarded = futures_util::stream::unfold(Some(frames), |frames| async move {
        let mut frames = frames?;
        match tokio::time::timeout(BODY_STALL, frames.next()).await {
            Ok(Some(Ok(frame))) => Some((Ok(frame), Some(frames))),
            Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(axum::BoxError::from("request body stalled")), None)),
        }
    });
    axum::body::Body::new(http_body_util::StreamBody::new(guarded.boxed()))
}

/// Serves, with this node's email delivery worker, until `shutdown` resolves; then finishes
/// the requests in flight and stops the worker.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = app.start_email_worker();
    let pruner = start_sign_in_log_pruner(&app);
    let rollups = start_audit_rollup_writer(&app);
    let key_reloader = start_signing_key_reloader(&app);
    let push_poller = push::bell::start_poller(&app);
    let closing = app.clone();
    let shutdown = async move {
        shutdown.await;
        // The apps' event streams would hold the graceful shutdown open: end them.
        closing.push_bell.close();
    };
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    push_poller.abort();
    pruner.abort();
    rollups.abort();
    key_reloader.abort();
    worker.stop().await;
    served
}

/// Deletes sign-in log rows past their retention, at start and then hourly. Every node may
/// run it: a delete of what is already gone changes nothing.
fn start_sign_in_log_pruner(app: &AppState) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            match domain::monitoring::prune(&app.store, &app.settings.risk, app.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "old sign-in log rows deleted"),
                Err(e) => tracing::warn!(error = %e, "sign-in log not pruned; trying again later"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(3_600)).await;
        }
    })
}

/// Writes the hourly roll-ups of refused administrator actions whose hour has ended, at start
/// and every minute (also after a crash: the roll-ups are in the database). Every node may run
/// it: each roll-up is claimed by the transaction that writes it.
fn start_audit_rollup_writer(app: &AppState) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            match domain::admin::write_ended_rollups(&app.store, app.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "refused admin actions rolled up and audited"),
                Err(e) => tracing::warn!(error = %e, "audit roll-ups not written; trying again"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    })
}

/// Every registered app's redirect and post-logout origins, for the CSP's `form-action`.
async fn load_form_targets(
    store: &Store,
    targets: &http::security::FormTargets,
) -> Result<(), domain::StorageError> {
    use domain::oidc::clients::ClientRecords;
    let clients = store.clients().await?;
    targets.replace(
        clients
            .iter()
            .filter(|c| !c.disabled)
            .flat_map(|c| c.redirect_uris.iter().chain(&c.post_logout_redirect_uris))
            .map(String::as_str),
    );
    Ok(())
}

/// Reloads the signing keys and the apps' origins every minute, so that a rotation by `nhsmal
/// keys rotate` or a new app (another process, perhaps another node) reaches this node within
/// a minute.
fn start_signing_key_reloader(app: &AppState) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(domain::oidc::keys::RELOAD_SECONDS);
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = app
                .signing_keys
                .reload(&app.store, &app.secrets, app.now())
                .await
            {
                tracing::warn!(error = %e, "signing keys not reloaded; trying again in a minute");
            }
            if let Err(e) = load_form_targets(&app.store, &app.form_targets).await {
                tracing::warn!(error = %e, "apps' origins not reloaded; trying again in a minute");
            }
        }
    })
}
