use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{CliEnv, PASSWORD, browser, csrf_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_an_organisation_and_a_user_and_lists_them() {
    let env = CliEnv::new().await;
    let out = env.run(
        &[
            "org",
            "add",
            "--code",
            "fa123",
            "--name",
            "Riverside Pharmacy",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("FA123"));
    let out = env.run(
        &[
            "user",
            "add",
            "--email",
            "Ann@Example.nhs.uk",
            "--name",
            "Ann Example",
            "--org",
            "FA123",
            "--role",
            "local-admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = env.run(&["user", "list"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("Ann@Example.nhs.uk"))
        .expect("listed");
    assert!(
        line.contains("FA123") && line.contains("local-admin") && line.ends_with("active"),
        "{line}"
    );
    assert!(!out.stdout.contains("argon2"), "hashes are never printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_prints_one_line_exits_2_and_writes_nothing() {
    let env = CliEnv::new().await;
    assert_eq!(
        env.run(
            &["org", "add", "--code", "FA123", "--name", "Riverside"],
            ""
        )
        .code,
        0
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["org", "add", "--code", "FA123", "--name", "Again"],
            "already exists",
        ),
        (
            vec!["org", "add", "--code", "F!", "--name", "Bad"],
            "organisation code",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "not-an-email",
                "--name",
                "X",
                "--org",
                "FA123",
                "--password-stdin",
            ],
            "email address",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.nhs.uk",
                "--name",
                "X",
                "--org",
                "ZZ999",
                "--password-stdin",
            ],
            "no organisation",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.nhs.uk",
                "--name",
                "X",
                "--org",
                "FA123",
                "--role",
                "boss",
                "--password-stdin",
            ],
            "role",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.nhs.uk",
                "--name",
                "X",
                "--org",
                "FA123",
                "--password-stdin",
            ],
            "too easy to guess",
        ),
        (
            vec!["user", "disable", "nobody@example.nhs.uk"],
            "no account",
        ),
    ];
    for (args, expected) in cases {
        let stdin = if args.contains(&"boss")
            || args.contains(&"ZZ999")
            || args.contains(&"not-an-email")
        {
            PASSWORD
        } else {
            "password123"
        };
        let out = env.run(&args, stdin);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    let out = env.run(&["user", "list"], "");
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "only the header: {}",
        out.stdout
    );
    let out = env.run(
        &[
            "user",
            "add",
            "--email",
            "a@example.nhs.uk",
            "--name",
            "A",
            "--org",
            "FA123",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dup = env.run(
        &[
            "user",
            "add",
            "--email",
            "A@EXAMPLE.nhs.uk",
            "--name",
            "A",
            "--org",
            "FA123",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert_eq!(dup.code, 2);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
}

/// The product binary has no development or benchmark command (issue 19): generated data,
/// GeoIP test files and benchmark fixtures are `nhsmal-dev`'s (crates/portal-dev).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_binary_has_no_development_commands() {
    let env = CliEnv::new().await;
    for command in ["dev", "seed", "geoip-db", "oidc-codes", "time-risk"] {
        let out = env.run(&[command, "--help"], "");
        assert_eq!(out.code, 2, "{command}: {}", out.stdout);
        assert!(
            out.stderr.contains("unrecognized subcommand"),
            "{}",
            out.stderr
        );
    }
    let help = env.run(&["--help"], "");
    assert_eq!(help.code, 0);
    assert!(
        !help
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("dev ")),
        "{}",
        help.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_with_an_ip_address_is_refused_with_what_to_use_instead() {
    let env = CliEnv::new().await;
    let out = env.run(&["serve", "--public-url", "http://127.0.0.1:8080"], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "error: setting `public_url`: security keys need a host name, not an IP address: use http://localhost:8080 on this machine, or the service's domain (https://portal.nhsmal.net)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let env = CliEnv::new().await;
    let out = env.run(&["serve", "--argon2-memory-kib", "1024"], "");
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        "error: setting `argon2_memory_kib`: must be at least 19456 (got 1024)"
    );
    let out = env.run(
        &["serve", "--public-url", "http://portal.nhsmal.example"],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("setting `public_url`"),
        "{}",
        out.stderr
    );
}

/// Starts `nhsmal serve --demo` on a free port and returns the child and its base URL.
fn serve_demo(
    env: &CliEnv,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--demo", "--listen", &listen];
    args.extend_from_slice(extra);
    let mut child = env
        .command(&args)
        .env("NHSMAL_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    (child, format!("http://127.0.0.1:{port}"), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_signs_in_logs_no_secrets_and_stops_on_sigterm() {
    let env = CliEnv::new().await;
    let (mut child, base, lines) = serve_demo(&env, &[]);
    let client = browser();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "server answered /healthz");
    // The master key file was created, readable by its owner only.
    {
        use std::os::unix::fs::PermissionsExt;
        let key = env.data_dir.path().join("master.key");
        let mode = std::fs::metadata(&key)
            .expect("master.key created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        assert_eq!(
            std::fs::read_to_string(&key).expect("read").trim().len(),
            44,
            "32 bytes in base64"
        );
    }
    let page = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let token = csrf_token(&page);
    let response = client
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "demo.user@nhsmal.example"),
            ("password", "blue pharmacy kettle 2026"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    let session = crate::helpers::set_cookies(response.headers())
        .into_iter()
        .find_map(|c| {
            c.strip_prefix("nhsmal_session=")
                .map(|v| v.split(';').next().unwrap_or("").to_string())
        })
        .expect("session cookie");
    // A failed attempt too, so its password would show if anything logged it.
    client
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "demo.user@nhsmal.example"),
            ("password", "a wrong secret 77"),
        ])
        .send()
        .await
        .expect("POST");

    // SIGTERM: graceful shutdown, exit 0.
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
    let log: Vec<String> = lines.try_iter().collect();
    let log = log.join("\n");
    assert!(log.contains("Demo: sign in at"), "{log}");
    assert!(
        log.contains("request finished"),
        "requests are logged: {log}"
    );
    for secret in ["a wrong secret 77", &session, &token] {
        assert!(!log.contains(secret), "log contains a secret: {secret}");
    }
    assert!(
        log.lines()
            .filter(|l| !l.starts_with("Demo:"))
            .all(|l| !l.contains("blue pharmacy kettle 2026"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let env = CliEnv::new().await;
    let (mut child, base, lines) = serve_demo(&env, &["--log-format", "json"]);
    let client = browser();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let log: Vec<String> = lines.try_iter().filter(|l| l.starts_with('{')).collect();
    assert!(!log.is_empty());
    for line in log {
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = CliEnv::new().await;
    let key = env.data_dir.path().join("master.key");
    std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").expect("write");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = env.run(&["serve", "--listen", "127.0.0.1:0"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("setting `master_key`") && out.stderr.contains("chmod 600"),
        "{}",
        out.stderr
    );
}
