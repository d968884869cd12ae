//! Phase 2: kill -9 while people change passwords, reset them and add apps; what the server
//! acknowledged must hold after each restart.

use super::*;

/// What the server acknowledged before it was killed.
pub(crate) struct Acknowledged {
    pub(crate) changes: usize,
    /// Authenticator apps added, by person.
    pub(crate) apps: HashMap<String, usize>,
    /// Passwords reset (with the app's code), counted in `changes` too.
    pub(crate) resets: usize,
    /// Each person's latest acknowledged session (its cookie header).
    pub(crate) sessions: HashMap<String, String>,
}

/// Signs in with password and code; returns the client if My Profile opened.
pub(crate) async fn signed_in(
    base: &str,
    person: &Person,
    password: &str,
) -> Option<reqwest::Client> {
    let c = client();
    let page = c
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let r = c
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token_of(&page).as_str()),
            ("email", person.email.as_str()),
            ("password", password),
        ])
        .send()
        .await
        .ok()?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        return None;
    }
    let page = c
        .get(format!("{base}/sign-in/verify"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    // The current step's code (the caller waits for a step not used before).
    {
        let code = person.secret.code_at(SystemClock.now());
        let r = c
            .post(format!("{base}/sign-in/verify"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("method", method_of(&page).as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .ok()?;
        if r.status() == reqwest::StatusCode::SEE_OTHER {
            return Some(c);
        }
    }
    None
}

pub(crate) async fn changes_until_killed(
    base: &str,
    people: &[Person],
    current: Arc<Mutex<HashMap<String, String>>>,
    pending: Arc<Mutex<HashMap<String, String>>>,
    round: usize,
    kill_after: Duration,
    server: &mut Server,
) -> anyhow::Result<Acknowledged> {
    let acknowledged = Arc::new(Mutex::new(Acknowledged {
        changes: 0,
        apps: HashMap::new(),
        resets: 0,
        sessions: HashMap::new(),
    }));
    let mut tasks = vec![];
    for (i, person) in people.iter().cloned().enumerate() {
        let (base, current, pending, acknowledged) = (
            base.to_string(),
            Arc::clone(&current),
            Arc::clone(&pending),
            Arc::clone(&acknowledged),
        );
        tasks.push(tokio::spawn(async move {
            let password = current
                .lock()
                .map(|m| m.get(&person.email).cloned().unwrap_or_default())
                .unwrap_or_default();
            // A quarter reset their password, a quarter add authenticator apps, half change
            // their password again and again.
            if i % 4 == 3 {
                reset_password(&base, &person, round, i, &current, &pending, &acknowledged).await;
                return;
            }
            let Some(c) = signed_in(&base, &person, &password).await else {
                return;
            };
            if i % 4 == 1 {
                add_apps(&base, &c, &person, &acknowledged).await;
                return;
            }
            let profile = match c.get(format!("{base}/profile")).send().await {
                Ok(r) if r.status() == 200 => r,
                _ => return,
            };
            let _ = profile.text().await;
            // Change the password again and again until the server is gone: the kill lands
            // between and inside changes.
            let mut password = password;
            for n in 0.. {
                let page = match c
                    .get(format!("{base}/profile/change-password"))
                    .send()
                    .await
                {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => return,
                };
                let new = format!("pressure passphrase round {round} number {i} try {n} z");
                // Sent but not yet acknowledged: if the kill lands after the commit and before
                // the answer, this is the password the database holds.
                if let Ok(mut p) = pending.lock() {
                    p.insert(person.email.clone(), new.clone());
                }
                let r = c
                    .post(format!("{base}/profile/change-password"))
                    .form(&[
                        ("csrf_token", token_of(&page).as_str()),
                        ("current_password", password.as_str()),
                        ("new_password", new.as_str()),
                        ("confirm_password", new.as_str()),
                    ])
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() != reqwest::StatusCode::SEE_OTHER {
                    return;
                }
                // Acknowledged: from now on the new password is the person's, and the new
                // session (the change ends every other) the one that must survive.
                if let Ok(mut m) = current.lock() {
                    m.insert(person.email.clone(), new.clone());
                }
                if let Ok(mut p) = pending.lock() {
                    p.remove(&person.email);
                }
                password = new;
                let cookie = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Ok(mut a) = acknowledged.lock() {
                    a.changes += 1;
                    if !cookie.is_empty() {
                        a.sessions.insert(person.email.clone(), cookie);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(kill_after).await;
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let a = Arc::try_unwrap(acknowledged)
        .map_err(|_| anyhow::anyhow!("tasks still hold the tally"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok(a)
}

/// What a restart found.
#[derive(Default)]
pub(crate) struct AfterRestart {
    /// Acknowledged password changes that do not sign in (nor does a later, unacknowledged one).
    pub(crate) missing: usize,
    /// Acknowledged sessions that no longer open My Profile (a later change ends them).
    pub(crate) gone: usize,
    /// Changes that committed but whose answer the kill stopped: the database holds the
    /// password sent last. Not a loss: the person was never told it was done.
    pub(crate) committed_unanswered: usize,
}

/// Whether `password` passes the password step for `email`.
pub(crate) async fn password_signs_in(
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<bool> {
    let c = client();
    let page = page_text(&c, format!("{base}/sign-in")).await?;
    let r = c
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token_of(&page).as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?;
    Ok(r.status() == reqwest::StatusCode::SEE_OTHER)
}

/// Adds authenticator apps (up to the five a person may have) until the server is gone.
pub(crate) async fn add_apps(
    base: &str,
    c: &reqwest::Client,
    person: &Person,
    acknowledged: &Arc<Mutex<Acknowledged>>,
) {
    let page_path = format!("{base}/profile/self-service/enrol/authenticator-app");
    for n in 0..4 {
        let Ok(page) = c.get(&page_path).send().await else {
            return;
        };
        let page = page.text().await.unwrap_or_default();
        let Some(key) = page
            .split("id=\"totp-secret\"")
            .nth(1)
            .and_then(|s| s.split('>').nth(1))
            .and_then(|s| s.split('<').next())
            .map(|k| k.replace(' ', ""))
        else {
            return;
        };
        let Some(secret) = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &key)
        else {
            return;
        };
        let code = TotpSecret::from_bytes(&secret).code_at(SystemClock.now());
        let r = c
            .post(&page_path)
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("code", code.as_str()),
                ("name", format!("Pressure phone {n}").as_str()),
            ])
            .send()
            .await;
        let added = r.is_ok_and(|r| {
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.ends_with("added=1"))
        });
        if !added {
            return;
        }
        if let Ok(mut a) = acknowledged.lock() {
            *a.apps.entry(person.email.clone()).or_default() += 1;
        }
    }
}

/// "Forgotten your password?" with the app's code, to a new password.
pub(crate) async fn reset_password(
    base: &str,
    person: &Person,
    round: usize,
    i: usize,
    current: &Arc<Mutex<HashMap<String, String>>>,
    pending: &Arc<Mutex<HashMap<String, String>>>,
    acknowledged: &Arc<Mutex<Acknowledged>>,
) {
    let c = client();
    let step = async {
        let page = page_text(&c, format!("{base}/forgotten-password")).await?;
        c.post(format!("{base}/forgotten-password"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("email", person.email.as_str()),
            ])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/forgotten-password/choose")).await?;
        c.post(format!("{base}/forgotten-password/choose"))
            .form(&[("csrf_token", token_of(&page).as_str()), ("kind", "totp")])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/sign-in/verify")).await?;
        c.post(format!("{base}/sign-in/verify"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("method", "totp"),
                ("code", person.secret.code_at(SystemClock.now()).as_str()),
            ])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/forgotten-password/new-password")).await?;
        let new = format!("pressure reset passphrase round {round} number {i} z");
        if let Ok(mut p) = pending.lock() {
            p.insert(person.email.clone(), new.clone());
        }
        let r = c
            .post(format!("{base}/forgotten-password/new-password"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("new_password", new.as_str()),
                ("confirm_password", new.as_str()),
            ])
            .send()
            .await?;
        Ok::<_, reqwest::Error>((r, new))
    };
    let Ok((r, new)) = step.await else { return };
    let done = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l == "/sign-in?reset=1");
    if done {
        if let Ok(mut m) = current.lock() {
            m.insert(person.email.clone(), new);
        }
        if let Ok(mut p) = pending.lock() {
            p.remove(&person.email);
        }
        if let Ok(mut a) = acknowledged.lock() {
            a.changes += 1;
            a.resets += 1;
        }
    }
}

/// Acknowledged authenticator apps not in the database: each person should have their first
/// app and every one added since.
pub(crate) async fn apps_missing(
    settings: &Settings,
    acked: &HashMap<String, usize>,
) -> anyhow::Result<usize> {
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
    let mut missing = 0;
    for (email, added) in acked {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM mfa_methods m JOIN accounts a ON a.id = m.account_id \
             WHERE a.email_normalized = $1 AND m.kind = 'totp'",
        )
        .bind(email)
        .fetch_one(&mut conn)
        .await?;
        missing += (1 + *added).saturating_sub(usize::try_from(n).unwrap_or(0));
    }
    Ok(missing)
}

/// After a restart: every acknowledged password signs in (or the one sent after it, which the
/// database may hold though nobody was told), and every acknowledged session still opens My
/// Profile unless such a later change ended it.
pub(crate) async fn check_after_restart(
    base: &str,
    current: &Arc<Mutex<HashMap<String, String>>>,
    pending: &Arc<Mutex<HashMap<String, String>>>,
    sessions: &HashMap<String, String>,
) -> anyhow::Result<AfterRestart> {
    let passwords: Vec<(String, String)> = current
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let sent: HashMap<String, String> = pending
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .drain()
        .collect();
    let mut found = AfterRestart::default();
    let mut moved_on = std::collections::HashSet::new();
    for (email, password) in passwords {
        if password_signs_in(base, &email, &password).await? {
            continue;
        }
        match sent.get(&email) {
            Some(later) if password_signs_in(base, &email, later).await? => {
                found.committed_unanswered += 1;
                moved_on.insert(email.clone());
                if let Ok(mut m) = current.lock() {
                    m.insert(email, later.clone());
                }
            }
            _ => found.missing += 1,
        }
    }
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (email, cookie) in sessions {
        if moved_on.contains(email) {
            continue;
        }
        let r = plain
            .get(format!("{base}/profile"))
            .header("cookie", cookie)
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::OK {
            found.gone += 1;
        }
    }
    Ok(found)
}

/// Methods written without their key (a half-written enrolment).
pub(crate) async fn half_written(settings: &Settings) -> anyhow::Result<i64> {
    sqlx::any::install_default_drivers();
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mfa_methods WHERE kind = 'totp' AND (secret IS NULL OR length(secret) = 0)",
    )
    .fetch_one(&mut conn)
    .await?;
    Ok(n)
}

/// `nhsmal user import` of 20,000 rows, killed half-way through; returns how many of its
/// accounts exist afterwards, how many the file had, and how many after running it again.
pub(crate) fn import_killed_half_way(settings: &Settings) -> anyhow::Result<(i64, usize, i64)> {
    let rows = 20_000;
    let file = settings.data_dir.join("pressure-import.csv");
    let mut text = String::from("email,name,organisation,role\n");
    for i in 0..rows {
        text.push_str(&format!(
            "import{i}@load1.nhs.uk,Imported Person {i},LOAD1,user\n"
        ));
    }
    std::fs::write(&file, text)?;
    let mut child = Command::new(common::nhsmal_bin())
        .args(["user", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(200 + rand_below(1_000)));
    let _ = child.kill();
    let _ = child.wait();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = || {
        rt.block_on(async {
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE email LIKE 'import%'")
                    .fetch_one(&mut conn)
                    .await?;
            anyhow::Ok(n)
        })
    };
    let n = count()?;
    let status = Command::new(common::nhsmal_bin())
        .args(["user", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "the import run again failed: {status}");
    Ok((n, rows, count()?))
}
