//! Phase 1: the load, and what every phase shares (the server process, the people, the
//! clients).

use super::*;

/// A few random bits from the OS, for where to kill (no rand dependency for one number).
pub(crate) fn rand_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom_fill(&mut bytes);
    u64::from_le_bytes(bytes) % n.max(1)
}

pub(crate) fn getrandom_fill(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(bytes)
}

/// People with a password and an authenticator app, written straight into the store.
pub(crate) async fn seed(settings: &Settings, n: usize) -> anyhow::Result<Vec<Person>> {
    let key = domain::secrets::SecretBox::generate_key_base64();
    if let Some(parent) = settings.master_key_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&settings.master_key_file, format!("{key}\n"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            &settings.master_key_file,
            std::fs::Permissions::from_mode(0o600),
        )?;
    }
    let secrets = domain::secrets::SecretBox::from_base64(&key)?;
    let store = Store::open(&settings.database_url, &settings.data_dir, 8).await?;
    domain::organisations::add_organisation(&store, "LOAD1", "Load Pharmacy", 0)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = nhsmal::web::App::new(
        store.clone(),
        settings.clone(),
        Arc::new(SystemClock),
        Arc::new(nhsmal::notify::Outbox::in_data_dir(&settings.data_dir)),
        secrets,
    )
    .await?;
    let hashing = domain::password::PasswordHashing::new(&settings.argon2)?;
    let shared_hash = hashing.hash(&domain::password::Password::new(PASSWORD))?;
    let people = common::people_with_an_app(&store, &app, "LOAD1", &shared_hash, n, |i| {
        format!("load{i}@load1.nhs.uk")
    })
    .await?;
    Ok(people
        .into_iter()
        .map(|(email, secret)| Person {
            email,
            secret: Arc::new(secret),
        })
        .collect())
}

/// The real binary, serving the store in `settings` on a free loopback port.
pub(crate) struct Server {
    pub(crate) child: Option<Child>,
    pub(crate) base: String,
    pub(crate) log: std::path::PathBuf,
}

impl Server {
    pub(crate) fn start(settings: &Settings) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = settings
            .data_dir
            .join(format!("serve-{}.log", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(common::nhsmal_bin())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--public-url")
            .arg(format!("http://localhost:{port}"))
            .arg("--data-dir")
            .arg(&settings.data_dir)
            .arg("--database-url")
            .arg(&settings.database_url)
            // Every client of the run is 127.0.0.1: the per-address ceiling would count them
            // as one source (docs/DECISIONS.md, "Controls under pressure").
            .arg("--signin-ip-max-failures")
            .arg("1000000")
            .env_remove("NHSMAL_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child: Some(child),
                    base,
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!(
            "nhsmal serve did not start within 30 s (see {})",
            log.display()
        )
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        let Some(child) = &self.child else { return 0 };
        std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }

    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    pub(crate) fn stop_and_count_panics(&mut self) -> anyhow::Result<usize> {
        self.kill9();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(log.matches("panicked").count())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The body of a page.
pub(crate) async fn page_text(c: &reqwest::Client, url: String) -> Result<String, reqwest::Error> {
    c.get(url).send().await?.text().await
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub(crate) fn token_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn method_of(page: &str) -> String {
    page.split("name=\"method\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

#[derive(Default)]
pub(crate) struct LoadReport {
    pub(crate) sign_ins: u64,
    pub(crate) pages: u64,
    pub(crate) server_errors: u64,
    pub(crate) refused: u64,
    pub(crate) transport: u64,
    pub(crate) times: Vec<(&'static str, Vec<f64>)>,
}

#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) sign_ins: u64,
    pub(crate) pages: u64,
    pub(crate) server_errors: u64,
    pub(crate) refused: u64,
    pub(crate) transport: u64,
    pub(crate) times: HashMap<&'static str, Vec<f64>>,
}

impl Tally {
    pub(crate) fn saw(
        &mut self,
        step: &'static str,
        started: Instant,
        status: reqwest::StatusCode,
    ) {
        self.times
            .entry(step)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
        if status.is_server_error() {
            self.server_errors += 1;
        } else if status.is_client_error() {
            self.refused += 1;
        }
    }
}

/// One client's loop: sign in (password, then the app's code for a time step not yet used),
/// three signed-in pages, sign out; again until the deadline.
pub(crate) async fn one_client(base: String, person: Person, deadline: Instant) -> Tally {
    let mut t = Tally::default();
    let mut last_step = 0i64;
    while Instant::now() < deadline {
        let c = client();
        let result: Result<(), reqwest::Error> = async {
            let started = Instant::now();
            let r = c.get(format!("{base}/sign-in")).send().await?;
            t.saw("sign-in page", started, r.status());
            let token = token_of(&r.text().await?);
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-in"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", person.email.as_str()),
                    ("password", PASSWORD),
                ])
                .send()
                .await?;
            t.saw("password", started, r.status());
            if r.status() != reqwest::StatusCode::SEE_OTHER {
                return Ok(());
            }
            // A code is good once: wait for a step this person has not used.
            let mut now = SystemClock.now();
            while now / 30 <= last_step {
                tokio::time::sleep(Duration::from_millis(500)).await;
                now = SystemClock.now();
            }
            last_step = now / 30;
            let page = c.get(format!("{base}/sign-in/verify")).send().await?;
            let page = page.text().await?;
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-in/verify"))
                .form(&[
                    ("csrf_token", token_of(&page).as_str()),
                    ("method", method_of(&page).as_str()),
                    ("code", person.secret.code_at(now).as_str()),
                ])
                .send()
                .await?;
            t.saw("second step", started, r.status());
            if r.status() != reqwest::StatusCode::SEE_OTHER {
                return Ok(());
            }
            t.sign_ins += 1;
            let mut profile = String::new();
            for path in ["/profile", "/profile/self-service", "/profile"] {
                let started = Instant::now();
                let r = c.get(format!("{base}{path}")).send().await?;
                t.saw("page", started, r.status());
                profile = r.text().await?;
                t.pages += 1;
            }
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-out"))
                .form(&[("csrf_token", token_of(&profile).as_str())])
                .send()
                .await?;
            t.saw("sign out", started, r.status());
            Ok(())
        }
        .await;
        if result.is_err() {
            t.transport += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    t
}

pub(crate) async fn load(
    base: &str,
    people: &[Person],
    length: Duration,
) -> anyhow::Result<LoadReport> {
    let deadline = Instant::now() + length;
    let tasks: Vec<_> = people
        .iter()
        .cloned()
        .map(|p| tokio::spawn(one_client(base.to_string(), p, deadline)))
        .collect();
    let mut report = LoadReport::default();
    let mut times: HashMap<&'static str, Vec<f64>> = HashMap::new();
    for task in tasks {
        let t = task.await?;
        report.sign_ins += t.sign_ins;
        report.pages += t.pages;
        report.server_errors += t.server_errors;
        report.refused += t.refused;
        report.transport += t.transport;
        for (k, v) in t.times {
            times.entry(k).or_default().extend(v);
        }
    }
    let mut steps: Vec<_> = times.into_iter().collect();
    steps.sort_by_key(|(k, _)| *k);
    report.times = steps;
    Ok(report)
}
