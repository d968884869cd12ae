//! The data folder and its files are readable by the service's user alone (issue 18).

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::{CliEnv, postgres_selected, spawn_app};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_data_folder_and_its_database_files_are_the_services_alone() {
    let env = CliEnv::new().await;
    // A folder not there yet, as on a first start; made under the usual umask (022).
    let data = env.data_dir.path().join("fresh");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"));
    command
        .args(["org", "add", "--code", "FA123", "--name", "Riverside"])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("NHSMAL_DATABASE_URL")
        .env_remove("NHSMAL_DATA_DIR");
    if let Some(url) = &env.database_url {
        command.arg("--database-url").arg(url);
    }
    let out = command.output().expect("nhsmal runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&data), 0o700);
    if !postgres_selected() {
        for name in ["nhsmal.db", "nhsmal.db-wal", "nhsmal.db-shm"] {
            let path = data.join(name);
            if name == "nhsmal.db" || path.exists() {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_and_the_running_database_are_the_services_alone() {
    let app = spawn_app().await;
    let client = app.ann_signed_in().await;
    let r = app
        .submit(
            &client,
            "/profile/self-service/enrol/text-message",
            "/profile/self-service/enrol/text-message",
            &[("step", "send"), ("phone", "07700 900123")],
        )
        .await;
    assert!(r.status().is_redirection());
    let dir = app.data_dir.path();
    assert_eq!(mode(&dir.join("outbox.jsonl")), 0o600);
    if !postgres_selected() {
        for name in ["nhsmal.db", "nhsmal.db-wal", "nhsmal.db-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_left_readable_by_an_older_version_are_made_private_at_start() {
    let env = CliEnv::new().await;
    let dir = env.data_dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("mode");
    let outbox = dir.join("outbox.jsonl");
    std::fs::write(&outbox, "").expect("outbox");
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o644)).expect("mode");
    let out = env.run(&["user", "list"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&outbox), 0o600);
}
