//! `spawn_app`: the real server on a random port, with its own fresh database (SQLite in a
//! temporary folder, or a new PostgreSQL database when NHSMAL_TEST_STORE=postgres), a fake
//! clock and the outbox in the temporary folder.

use std::sync::Arc;

use domain::accounts::{self, AccountRequest};
use domain::clock::FakeClock;
use domain::organisations;
use domain::password::PasswordHashing;
use nhsmal::config::Settings;
use nhsmal::store::Store;
use nhsmal::web::{self, App};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};

pub const PASSWORD: &str = "correct horse battery staple 1";
pub const START: i64 = 1_800_000_000;

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub clock: FakeClock,
    pub store: Store,
    pub settings: Settings,
    pub data_dir: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
}

/// Which store the suite runs against.
pub fn postgres_selected() -> bool {
    std::env::var("NHSMAL_TEST_STORE").is_ok_and(|s| s == "postgres")
}

fn postgres_admin_url() -> String {
    std::env::var("NHSMAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database made for one test and dropped after it.
pub struct PostgresDatabase {
    name: String,
}

impl PostgresDatabase {
    pub async fn create() -> (Self, String) {
        sqlx::any::install_default_drivers();
        let name = format!("nhsmal_test_{}", uuid::Uuid::new_v4().simple());
        let admin = postgres_admin_url();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
            .await
            .expect("PostgreSQL answers at NHSMAL_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        (Self { name: name.clone() }, format!("{base}/{name}"))
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async: a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `adjust` has changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let port = listener.local_addr().expect("local addr").port();
    let mut settings = Settings::with_data_dir(data_dir.path());
    settings.listen = ([127, 0, 0, 1], port).into();
    settings.public_url = format!("http://localhost:{port}").parse().expect("url");
    settings.database_max_connections = 8;
    let postgres = if postgres_selected() {
        let (db, url) = PostgresDatabase::create().await;
        settings.database_url = url;
        Some(db)
    } else {
        None
    };
    adjust(&mut settings);
    let store = Store::open(
        &settings.database_url,
        &settings.data_dir,
        settings.database_max_connections,
    )
    .await
    .expect("store opens and migrates")
    .with_siem(nhsmal::siem::Siem::start(&settings.siem).expect("SIEM starts"));
    let clock = FakeClock::starting_at(START);
    let notifier = Arc::new(
        nhsmal::notify::from_settings(&settings.providers, &settings.data_dir).expect("providers"),
    );
    let app = App::new(
        store.clone(),
        settings.clone(),
        Arc::new(clock.clone()),
        notifier,
        write_master_key(&settings),
    )
    .await
    .expect("app builds");
    tokio::spawn(web::serve(app, listener, std::future::pending()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: browser(),
        clock,
        store,
        settings,
        data_dir,
        postgres,
    }
}

/// A new master key, written where the server would keep it (mode 0600) so that `nhsmal`
/// commands run by a test seal and open secrets as the server does.
fn write_master_key(settings: &Settings) -> domain::secrets::SecretBox {
    let key = domain::secrets::SecretBox::generate_key_base64();
    if let Some(parent) = settings.master_key_file.parent() {
        std::fs::create_dir_all(parent).expect("key folder");
    }
    std::fs::write(&settings.master_key_file, format!("{key}\n")).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            &settings.master_key_file,
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("key file mode");
    }
    domain::secrets::SecretBox::from_base64(&key).expect("key")
}

/// A second server on the same database, master key and clock as a `TestApp`: another node of
/// a many-node deployment (meaningful on PostgreSQL; on SQLite both open the same file).
pub struct OtherNode {
    pub address: String,
}

impl OtherNode {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

impl TestApp {
    pub async fn spawn_other_node(&self) -> OtherNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a random port");
        let port = listener.local_addr().expect("local addr").port();
        let mut settings = self.settings.clone();
        settings.listen = ([127, 0, 0, 1], port).into();
        let store = Store::open(
            &settings.database_url,
            &settings.data_dir,
            settings.database_max_connections,
        )
        .await
        .expect("the other node opens the store");
        let notifier = Arc::new(
            nhsmal::notify::from_settings(&settings.providers, &settings.data_dir)
                .expect("providers"),
        );
        let app = App::new(
            store,
            settings,
            Arc::new(self.clock.clone()),
            notifier,
            self.secrets(),
        )
        .await
        .expect("the other node builds");
        tokio::spawn(web::serve(app, listener, std::future::pending()));
        OtherNode {
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The server's master key, as `nhsmal` commands read it.
    pub fn secrets(&self) -> domain::secrets::SecretBox {
        let text = std::fs::read_to_string(&self.settings.master_key_file).expect("key file");
        domain::secrets::SecretBox::from_base64(&text).expect("key")
    }
}

/// A client that keeps cookies like a browser but shows redirects instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of the first `csrf_token` field on a page.
pub fn csrf_token(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input[name=csrf_token]").expect("selector");
    doc.select(&selector)
        .next()
        .and_then(|e| e.value().attr("value"))
        .expect("page has a csrf_token field")
        .to_string()
}

/// The text of the elements matching `css`, as a screen reader reads it: without what is
/// `aria-hidden` (the responsive tables' repeated column headings), whitespace collapsed,
/// one line per element.
pub fn text_of(html: &str, css: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| {
            read_aloud(e)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of an element, leaving out what is `aria-hidden`.
pub fn read_aloud(e: scraper::ElementRef) -> String {
    e.descendants()
        .filter(|n| {
            !n.ancestors().any(|a| {
                a.value()
                    .as_element()
                    .is_some_and(|el| el.attr("aria-hidden") == Some("true"))
            })
        })
        .filter_map(|n| n.value().as_text().map(|t| t.to_string()))
        .collect()
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("GET")
    }

    /// The body of a GET that must succeed.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        let response = self.get_with(client, path).await;
        let status = response.status();
        let to = location(&response);
        assert_eq!(status, StatusCode::OK, "GET {path} (redirected to {to})");
        response.text().await.expect("body")
    }

    /// Posts a form the way the page does: with the CSRF token from the page at `form_page`.
    pub async fn submit(
        &self,
        client: &reqwest::Client,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = csrf_token(&self.page(client, form_page).await);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        client
            .post(self.url(action))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn sign_in_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> Response {
        self.submit(
            client,
            "/sign-in",
            "/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.sign_in_with(&self.client, email, password).await
    }

    pub async fn add_org(&self, code: &str) {
        organisations::add_organisation(&self.store, code, "Riverside Pharmacy", START)
            .await
            .expect("org added");
    }

    /// An organisation FA123 (if absent) and an account in it with `PASSWORD`.
    pub async fn add_user(&self, email: &str) -> domain::accounts::Account {
        use domain::organisations::OrganisationRecords;
        if self
            .store
            .organisation("FA123")
            .await
            .expect("query")
            .is_none()
        {
            self.add_org("FA123").await;
        }
        let hashing = PasswordHashing::new(&self.settings.argon2).expect("hashing");
        let request = AccountRequest {
            email,
            name: "Ann Example",
            org: "FA123",
            role: "user",
        };
        accounts::add_account(&self.store, &hashing, request, Some(PASSWORD), START)
            .await
            .expect("account added")
    }

    /// Audit events, newest first.
    pub async fn audit(&self) -> Vec<domain::audit::AuditRecord> {
        use domain::audit::AuditTrail;
        self.store.audit_events(1000).await.expect("audit readable")
    }

    pub fn outbox(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.data_dir.path().join("outbox.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("outbox lines are JSON"))
            .collect()
    }

    pub fn database_url(&self) -> &str {
        let _ = &self.postgres;
        &self.settings.database_url
    }
}

/// A data folder (and, for PostgreSQL, a database) for running the `nhsmal` binary.
pub struct CliEnv {
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
    _postgres: Option<PostgresDatabase>,
}

pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliEnv {
    pub async fn new() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (postgres, database_url) = if postgres_selected() {
            let (db, url) = PostgresDatabase::create().await;
            (Some(db), Some(url))
        } else {
            (None, None)
        };
        Self {
            data_dir,
            database_url,
            _postgres: postgres,
        }
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"));
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env_remove("NHSMAL_DATABASE_URL")
            .env_remove("NHSMAL_DATA_DIR");
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd
    }

    /// Runs `nhsmal ARGS --data-dir DIR [--database-url URL]` with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> CliOutput {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nhsmal runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("nhsmal finishes");
        CliOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A TOTP code by an implementation independent of the server's (totp-lite).
pub fn totp_code(secret: &[u8], t: i64) -> String {
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret, t as u64)
}

impl TestApp {
    /// Signs in (password only: no method yet) and enrols an authenticator app through the
    /// pages; returns the key read from the page.
    pub async fn enrol_authenticator_app(&self, client: &reqwest::Client) -> Vec<u8> {
        let page = self
            .page(client, "/profile/self-service/enrol/authenticator-app")
            .await;
        let key = text_of(&page, "#totp-secret").replace(' ', "");
        let secret = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &key)
            .expect("the key on the page is base32");
        let token = csrf_token(&page);
        let code = totp_code(&secret, self.clock_now());
        let response = client
            .post(self.url("/profile/self-service/enrol/authenticator-app"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("code", &code),
                ("name", "Work phone"),
            ])
            .send()
            .await
            .expect("POST");
        assert_eq!(location(&response), "/profile/self-service?added=1");
        secret
    }

    pub fn clock_now(&self) -> i64 {
        use domain::clock::Clock;
        self.clock.now()
    }

    /// Posts the second step's form with `code` for the method the page offers.
    pub async fn second_step(&self, client: &reqwest::Client, code: &str) -> Response {
        let page = self.page(client, "/sign-in/verify").await;
        self.post_second_step(client, &page, &[("code", code)])
            .await
    }

    /// Posts the form of a second-step `page` already shown (its token and method) with `extra`.
    pub async fn post_second_step(
        &self,
        client: &reqwest::Client,
        page: &str,
        extra: &[(&str, &str)],
    ) -> Response {
        let (token, method) = (csrf_token(page), input_value(page, "method"));
        let mut form = vec![("csrf_token", token.as_str()), ("method", method.as_str())];
        form.extend_from_slice(extra);
        client
            .post(self.url("/sign-in/verify"))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Chooses the kind of method (`totp`, `sms`, `voice`, `fido2`) on a password reset's
    /// choice page.
    pub async fn reset_choose(&self, client: &reqwest::Client, kind: &str) -> Response {
        let page = "/forgotten-password/choose";
        self.submit(client, page, page, &[("kind", kind)]).await
    }

    /// Ann Example (ann@example.nhs.uk, in FA123) signed in with her password in a new browser.
    pub async fn ann_signed_in(&self) -> reqwest::Client {
        self.add_user("ann@example.nhs.uk").await;
        let client = browser();
        self.sign_in_with(&client, "ann@example.nhs.uk", PASSWORD)
            .await;
        client
    }
}

pub async fn account(app: &TestApp, email: &str) -> domain::accounts::Account {
    use domain::accounts::AccountRecords;
    app.store
        .account_by_email(email)
        .await
        .expect("query")
        .expect("account exists")
}

/// The value of the first input named `name` on a page.
pub fn input_value(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(&format!("input[name={name}]")).expect("selector");
    doc.select(&selector)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_default()
        .to_string()
}

impl TestApp {
    /// An account in `org` (made if absent) with `role` and `PASSWORD`.
    pub async fn add_person(
        &self,
        email: &str,
        org: &str,
        role: &str,
    ) -> domain::accounts::Account {
        use domain::organisations::OrganisationRecords;
        if self.store.organisation(org).await.expect("query").is_none() {
            self.add_org(org).await;
        }
        let hashing = PasswordHashing::new(&self.settings.argon2).expect("hashing");
        let request = AccountRequest {
            email,
            name: "Pat Example",
            org,
            role,
        };
        accounts::add_account(&self.store, &hashing, request, Some(PASSWORD), START)
            .await
            .expect("account added")
    }

    /// Signs `email` in with the password and, when asked, the code of their app (`key`).
    pub async fn sign_in_with_code(&self, email: &str, key: &[u8]) -> reqwest::Client {
        let client = browser();
        let response = self.sign_in_with(&client, email, PASSWORD).await;
        assert_eq!(location(&response), "/sign-in/verify", "second step next");
        let code = totp_code(key, self.clock_now());
        let response = self.second_step(&client, &code).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "code accepted");
        client
    }

    /// An account with an authenticator app, signed in with it just now (a fresh second
    /// factor); returns the browser and the app's key.
    pub async fn with_fresh_factor(
        &self,
        email: &str,
        org: &str,
        role: &str,
    ) -> (reqwest::Client, Vec<u8>) {
        self.add_person(email, org, role).await;
        let client = browser();
        self.sign_in_with(&client, email, PASSWORD).await;
        let key = self.enrol_authenticator_app(&client).await;
        // The enrolment code's time step is spent.
        self.clock.advance(30);
        let client = self.sign_in_with_code(email, &key).await;
        (client, key)
    }
}

impl TestApp {
    /// Runs `nhsmal ARGS` against this server's data folder and database.
    pub fn nhsmal(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"))
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--database-url")
            .arg(self.database_url())
            .output()
            .expect("nhsmal runs")
    }
}

impl TestApp {
    /// The body of a GET, whatever its status.
    pub async fn page_with_status(&self, client: &reqwest::Client, path: &str) -> String {
        self.get_with(client, path)
            .await
            .text()
            .await
            .expect("body")
    }
}
