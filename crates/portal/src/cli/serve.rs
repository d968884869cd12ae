use std::sync::Arc;

use tracing_subscriber::EnvFilter;

use super::CliError;
use crate::config::{CommonArgs, LogFormat, ServeArgs, Settings};
use crate::store::Store;
use crate::web::{self, App};
use domain::accounts::{self, AccountError, AccountRecords, AccountRequest};
use domain::clock::{Clock, SystemClock};
use domain::organisations::{self, OrganisationError};
use domain::secrets::SecretBox;

pub const DEMO_ORG: &str = "DEMO1";
pub const DEMO_EMAIL: &str = "demo.user@nhsmal.example";
/// A local administrator of the demo organisation (same password), to show the admin area.
pub const DEMO_ADMIN_EMAIL: &str = "demo.admin@nhsmal.example";
pub const DEMO_PASSWORD: &str = "blue pharmacy kettle 2026";
/// The demo relying party (examples/webmail) and where it listens.
pub const WEBMAIL_NAME: &str = "NHSmal Webmail (demo)";
pub const WEBMAIL_URL: &str = "http://localhost:8090";
/// In the data folder: the webmail example's settings, written when its client is registered
/// (the secret is stored hashed, so this file is the only place a re-run can show it from).
pub const WEBMAIL_ENV_FILE: &str = "webmail-demo.env";

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("NHSMAL_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub async fn run(common: &CommonArgs, args: &ServeArgs) -> Result<(), CliError> {
    let settings =
        Settings::resolve(common, args).map_err(|e| CliError::BadInput(e.to_string()))?;
    init_logging(settings.log_format);
    // Started before the store so that every audit event, from the first, reaches the SIEM.
    let siem =
        crate::siem::Siem::start(&settings.siem).map_err(|e| CliError::BadInput(e.to_string()))?;
    let store = Store::open(
        &settings.database_url,
        &settings.data_dir,
        settings.database_max_connections,
    )
    .await?
    .with_siem(siem);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let notifier = Arc::new(
        crate::notify::from_settings(&settings.providers, &settings.data_dir)
            .map_err(|e| CliError::BadInput(format!("message providers: {e}")))?,
    );
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| {
            CliError::BadInput(format!(
                "setting `listen`: cannot listen on {}: {e}",
                settings.listen
            ))
        })?;
    let secrets = load_master_key(&settings)?;
    let app = App::new(
        store.clone(),
        settings.clone(),
        clock.clone(),
        notifier,
        secrets,
    )
    .await?;
    if settings.demo {
        create_demo_data(&app).await?;
        println!(
            "Demo: sign in at {} as {DEMO_EMAIL} with the password \"{DEMO_PASSWORD}\"",
            settings.public_url
        );
        println!(
            "Demo: {DEMO_ADMIN_EMAIL} (same password) is a local administrator of {DEMO_ORG}; set up MFA, then open Admin"
        );
        let env_file = register_demo_webmail(&app).await?;
        println!(
            "Demo: the webmail example (single sign-on) is registered; its settings are in {}",
            env_file.display()
        );
        println!(
            "Demo: run it in another terminal with `cargo run -p nhsmal-webmail -- {}` and open {WEBMAIL_URL}/",
            env_file.display()
        );
    }
    let local = listener.local_addr().map_err(anyhow::Error::from)?;
    tracing::info!(
        listen = %local,
        public_url = %settings.public_url,
        store = ?store.backend(),
        "NHSmal Portal is running"
    );
    println!(
        "NHSmal Portal listening on {local}, open {}",
        settings.public_url
    );
    web::serve(app, listener, shutdown_signal())
        .await
        .map_err(anyhow::Error::from)?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The master key: `NHSMAL_MASTER_KEY` if set, else the key file, created (mode 0600) with a
/// new random key on first start. Every node of a PostgreSQL deployment needs the same key.
pub(super) fn load_master_key(settings: &Settings) -> Result<SecretBox, CliError> {
    let bad = |problem: String| CliError::BadInput(format!("setting `master_key`: {problem}"));
    if let Ok(text) = std::env::var("NHSMAL_MASTER_KEY") {
        return SecretBox::from_base64(&text).map_err(|e| bad(e.to_string()));
    }
    let path = &settings.master_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0);
                if mode & 0o077 != 0 {
                    return Err(bad(format!(
                        "{} must be readable by its owner only (chmod 600)",
                        path.display()
                    )));
                }
            }
            SecretBox::from_base64(&text).map_err(|e| bad(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| bad(format!("cannot create {}: {e}", parent.display())))?;
            }
            let key = SecretBox::generate_key_base64();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            options
                .open(path)
                .and_then(|mut f| {
                    f.write_all(format!("{key}\n").as_bytes())
                        .and_then(|()| f.sync_all())
                })
                .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), "created a new master key");
            SecretBox::from_base64(&key).map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The webmail example's client (first-party, confidential), if absent: reused when the
/// settings file names a live client with the demo's redirect URI, else registered anew and
/// the file (mode 0600) rewritten with its id and secret. Returns the file's path.
async fn register_demo_webmail(app: &web::AppState) -> Result<std::path::PathBuf, CliError> {
    use domain::oidc::clients::{self, ClientError, ClientRecords, NewClient};
    let path = app.settings.data_dir.join(WEBMAIL_ENV_FILE);
    let callback = format!("{WEBMAIL_URL}/callback");
    let existing_id = std::fs::read_to_string(&path).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("WEBMAIL_CLIENT_ID="))
            .map(|id| id.trim().to_string())
    });
    if let Some(id) = existing_id
        && let Some((client, _)) = app.store.client_with_secret(&id).await?
        && !client.disabled
        && client.redirect_uris.contains(&callback)
    {
        return Ok(path);
    }
    let new = NewClient {
        name: WEBMAIL_NAME.to_string(),
        redirect_uris: vec![callback],
        post_logout_redirect_uris: vec![format!("{WEBMAIL_URL}/")],
        first_party: true,
        // The mail service's choice (docs/DECISIONS.md): ES256 signs about 35 times faster.
        id_token_alg: Some("ES256".into()),
        ..NewClient::default()
    };
    let registered = clients::add_client(
        &app.store,
        &app.secrets,
        &new,
        None,
        &domain::audit::Requester::command_line(),
        app.now(),
    )
    .await
    .map_err(|e| match e {
        ClientError::Storage(s) => CliError::from(s),
        other => CliError::BadInput(other.to_string()),
    })?;
    let issuer = app.settings.public_url.as_str().trim_end_matches('/');
    let text = format!(
        "# The NHSmal webmail example's settings, written by `nhsmal serve --demo`.\n\
         # Run: cargo run -p nhsmal-webmail -- {}\n\
         WEBMAIL_ISSUER={issuer}\n\
         WEBMAIL_CLIENT_ID={}\n\
         WEBMAIL_CLIENT_SECRET={}\n\
         WEBMAIL_LISTEN=127.0.0.1:8090\n\
         WEBMAIL_PUBLIC_URL={WEBMAIL_URL}\n",
        path.display(),
        registered.client.id,
        registered.secret.unwrap_or_default(),
    );
    write_private(&path, &text)
        .map_err(|e| CliError::BadInput(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Writes `text` to `path`, readable by its owner only (it holds a client secret).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Organisation DEMO1 and a demo user, if absent.
async fn create_demo_data(app: &web::AppState) -> Result<(), CliError> {
    let now = app.now();
    match organisations::add_organisation(&app.store, DEMO_ORG, "Demo Pharmacy", now).await {
        Ok(_) | Err(OrganisationError::AlreadyExists(_)) => {}
        Err(e) => return Err(anyhow::Error::from(e).into()),
    }
    for (email, name, role) in [
        (DEMO_EMAIL, "Demo User", "user"),
        (DEMO_ADMIN_EMAIL, "Demo Administrator", "local-admin"),
    ] {
        if app.store.account_by_email(email).await?.is_some() {
            continue;
        }
        let request = AccountRequest {
            email,
            name,
            org: DEMO_ORG,
            role,
        };
        match accounts::add_account(&app.store, &app.hashing, request, Some(DEMO_PASSWORD), now)
            .await
        {
            Ok(_) | Err(AccountError::AlreadyExists(_)) => {}
            Err(e) => return Err(anyhow::Error::from(e).into()),
        }
    }
    Ok(())
}
