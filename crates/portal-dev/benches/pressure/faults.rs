//! Phases 3 to 5: PostgreSQL's connections cut under load, the disk filled up, two nodes
//! on one database.

use super::*;

/// The kids a node publishes in its JWKS.
pub(crate) async fn published_kids(base: &str) -> anyhow::Result<Vec<String>> {
    let jwks: serde_json::Value = client()
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    Ok(jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Phase (5): two processes on one PostgreSQL database.
pub(crate) async fn two_nodes(
    settings: &Settings,
    people: &[Person],
    current: &Arc<Mutex<HashMap<String, String>>>,
) -> anyhow::Result<String> {
    let password_of = |p: &Person| {
        current
            .lock()
            .map(|m| m.get(&p.email).cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    // A fresh time step, so the people below can sign in with a code.
    let now = SystemClock.now();
    tokio::time::sleep(Duration::from_secs((30 - now % 30) as u64 + 1)).await;
    let (a, b) = (Server::start(settings)?, Server::start(settings)?);
    let mut lines = vec![];
    // A session made on A works on B; signing out on B ends it on A.
    let shared = match signed_in(&a.base, &people[0], &password_of(&people[0])).await {
        Some(c) => {
            let on_b = c.get(format!("{}/profile", b.base)).send().await?;
            let opened = on_b.status() == reqwest::StatusCode::OK;
            let page = on_b.text().await?;
            c.post(format!("{}/sign-out", b.base))
                .form(&[("csrf_token", token_of(&page).as_str())])
                .send()
                .await?;
            let after = c.get(format!("{}/profile", a.base)).send().await?;
            opened && after.status() == reqwest::StatusCode::SEE_OTHER
        }
        None => false,
    };
    lines.push(format!(
        "a session made on A opened on B, signed out on B and gone on A: {shared}"
    ));
    // A code spent on A is refused on B (the same person, the same step).
    let spent = match signed_in(&a.base, &people[2], &password_of(&people[2])).await {
        Some(_) => signed_in(&b.base, &people[2], &password_of(&people[2]))
            .await
            .is_none(),
        None => false,
    };
    lines.push(format!("a code spent on A refused on B: {spent}"));
    // 50 wrong passwords for one account, split across the two, at once.
    let target = people[1].email.clone();
    let mut forms = vec![];
    for i in 0..50 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let c = client();
        let page = page_text(&c, format!("{base}/sign-in")).await?;
        forms.push((c, base.clone(), token_of(&page)));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(forms.len()));
    let tasks: Vec<_> = forms
        .into_iter()
        .map(|(c, base, token)| {
            let (barrier, target) = (Arc::clone(&barrier), target.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                c.post(format!("{base}/sign-in"))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("email", target.as_str()),
                        ("password", "wrong password 42"),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let (mut checked, mut refused) = (0, 0);
    for t in tasks {
        match t.await? {
            401 => checked += 1,
            429 => refused += 1,
            _ => {}
        }
    }
    lines.push(format!(
        "50 wrong passwords split across both at once: {checked} checked, {refused} refused"
    ));
    // Key rotation reaches both.
    let before = published_kids(&a.base).await?;
    let out = Command::new(common::nhsmal_bin())
        .args(["keys", "rotate"])
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .output()?;
    anyhow::ensure!(out.status.success(), "keys rotate failed");
    let started = Instant::now();
    let mut reached = None;
    while started.elapsed() < Duration::from_secs(75) {
        let (on_a, on_b) = (
            published_kids(&a.base).await?,
            published_kids(&b.base).await?,
        );
        let new_on = |kids: &[String]| kids.iter().any(|k| !before.contains(k));
        if new_on(&on_a) && new_on(&on_b) {
            reached = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    lines.push(match reached {
        Some(t) => format!("new keys published by both within {:.0} s", t.as_secs_f64()),
        None => "new keys NOT published by both within 75 s".into(),
    });
    drop((a, b));
    Ok(lines.join("; "))
}

/// Runs `mount`/`umount` (the tmpfs of phase 4).
pub(crate) fn mount(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(args[0]).args(&args[1..]).status()?;
    anyhow::ensure!(status.success(), "{} failed: {status}", args.join(" "));
    Ok(())
}

/// The sign-in form posted `n` times (wrong passwords, so each writes its limits and a log
/// row); returns (answers by status class: 2xx/3xx/4xx, 503, other 5xx, transport errors).
pub(crate) async fn sign_in_writes(base: &str, n: usize) -> (usize, usize, usize, usize) {
    let (mut fine, mut unavailable, mut other, mut transport) = (0, 0, 0, 0);
    for i in 0..n {
        let c = client();
        let page = match c.get(format!("{base}/sign-in")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => {
                transport += 1;
                continue;
            }
        };
        let r = c
            .post(format!("{base}/sign-in"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("email", format!("nobody{i}@load1.nhs.uk").as_str()),
                ("password", "not the password 1"),
            ])
            .send()
            .await;
        match r.map(|r| r.status().as_u16()) {
            Ok(503) => unavailable += 1,
            Ok(500..=599) => other += 1,
            Ok(_) => fine += 1,
            Err(_) => transport += 1,
        }
    }
    (fine, unavailable, other, transport)
}

pub(crate) async fn disk_trouble() -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let place = dir.path().join("small-disk");
    let read_only = dir.path().join("read-only-view");
    std::fs::create_dir_all(&place)?;
    std::fs::create_dir_all(&read_only)?;
    let (place_text, read_only_text) =
        (place.display().to_string(), read_only.display().to_string());
    mount(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=24m",
        "tmpfs",
        &place_text,
    ])?;
    let result = async {
        let settings = Settings::with_data_dir(&place);
        seed(&settings, 2).await?;
        let server = Server::start(&settings)?;
        // Fill the disk to the last byte.
        let filler = place.join("filler");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&filler)?;
            let block = vec![0u8; 64 * 1024];
            while f.write_all(&block).is_ok() {}
            let small = [0u8; 512];
            while f.write_all(&small).is_ok() {}
            let _ = f.sync_all();
        }
        let full = sign_in_writes(&server.base, 30).await;
        std::fs::remove_file(&filler)?;
        let after_full = sign_in_writes(&server.base, 5).await;
        drop(server);
        let mut conn =
            <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await?;
        drop(conn);
        // The same data folder, read-only (a bind mount: root writes through file modes).
        mount(&["mount", "--bind", &place_text, &read_only_text])?;
        mount(&["mount", "-o", "remount,bind,ro", &read_only_text])?;
        let ro_settings = Settings::with_data_dir(&read_only);
        let started = Instant::now();
        let out = Command::new(common::nhsmal_bin())
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&ro_settings.data_dir)
            .arg("--database-url")
            .arg(&ro_settings.database_url)
            .output()?;
        let said = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string();
        let _ = mount(&["umount", &read_only_text]);
        anyhow::Ok(format!(
            "disk full, 30 sign-ins: {} answered, {} were 503, other 5xx {}, no answer {}; room again: {} of 5 answered without a 5xx; integrity_check: {check}; \
             started on the folder read-only: exit status {:?} after {:.1} s, last line \"{said}\"",
            full.0,
            full.1,
            full.2,
            full.3,
            after_full.0,
            out.status.code(),
            started.elapsed().as_secs_f64()
        ))
    }
    .await;
    let _ = mount(&["umount", "-l", &read_only_text]);
    let _ = mount(&["umount", "-l", &place_text]);
    result
}

pub(crate) struct CutOutcome {
    pub(crate) answers: u64,
    pub(crate) unavailable: u64,
    pub(crate) other_server_errors: u64,
    pub(crate) recovered_after: Duration,
    pub(crate) lost: usize,
}

pub(crate) async fn connections_cut(
    base: &str,
    people: &[Person],
    current: &Arc<Mutex<HashMap<String, String>>>,
    admin: &str,
    database_url: &str,
) -> anyhow::Result<CutOutcome> {
    let database = database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Load: signed-in pages of a few people, again and again.
    let mut tasks = vec![];
    for person in people.iter().take(8).cloned() {
        let (base, current) = (base.to_string(), Arc::clone(current));
        tasks.push(tokio::spawn(async move {
            let (mut answers, mut unavailable, mut other) = (0u64, 0u64, 0u64);
            let password = current
                .lock()
                .map(|m| m.get(&person.email).cloned().unwrap_or_default())
                .unwrap_or_default();
            let mut session = signed_in(&base, &person, &password).await;
            while Instant::now() < deadline {
                let Some(c) = &session else {
                    session = signed_in(&base, &person, &password).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                match c.get(format!("{base}/profile")).send().await {
                    Ok(r) => {
                        answers += 1;
                        match r.status().as_u16() {
                            503 => unavailable += 1,
                            500..=599 => other += 1,
                            _ => {}
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            (answers, unavailable, other)
        }));
    }
    let cutter = {
        let (admin, database) = (admin.to_string(), database.clone());
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Ok(mut conn) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ = sqlx::query(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
                    ))
                    .execute(&mut conn)
                    .await;
                }
            }
        })
    };
    let mut outcome = CutOutcome {
        answers: 0,
        unavailable: 0,
        other_server_errors: 0,
        recovered_after: Duration::ZERO,
        lost: 0,
    };
    for t in tasks {
        let (a, u, o) = t.await?;
        outcome.answers += a;
        outcome.unavailable += u;
        outcome.other_server_errors += o;
    }
    cutter.await?;
    // Recovery: a full sign-in succeeds again.
    let started = Instant::now();
    let person = &people[people.len() - 1];
    loop {
        let password = current
            .lock()
            .map(|m| m.get(&person.email).cloned().unwrap_or_default())
            .unwrap_or_default();
        if signed_in(base, person, &password).await.is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the portal did not recover within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcome.recovered_after = started.elapsed();
    let found = check_after_restart(base, current, &Arc::default(), &HashMap::new()).await?;
    outcome.lost = found.missing;
    Ok(outcome)
}
