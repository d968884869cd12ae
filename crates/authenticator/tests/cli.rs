//! The `nhsmal-authenticator` binary as a person (or a script) uses it: add an account, read
//! its codes; a wrong passphrase, a damaged file or a bad address is told clearly, exits 2 and
//! leaves the file as it was.

use std::path::Path;
use std::process::{Command, Output};

const PASSPHRASE: &str = "a long passphrase 42";
// RFC 6238's test key ("12345678901234567890"), base32.
const URI: &str = "otpauth://totp/NHSmal:ann%40example.nhs.uk?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=NHSmal";

fn app(store: &Path, passphrase: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nhsmal-authenticator"))
        .args(args)
        .env("NHSMAL_AUTHENTICATOR_STORE", store)
        .env("NHSMAL_AUTHENTICATOR_PASSPHRASE", passphrase)
        .output()
        .expect("the app runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).to_string()
}

#[test]
fn an_added_account_shows_the_code_of_its_key() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("accounts.json");
    let out = app(&store, PASSPHRASE, &["add", URI]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Added NHSmal:ann@example.nhs.uk"));

    let out = app(&store, PASSPHRASE, &["code"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let code = shown
        .split_whitespace()
        .nth(1)
        .expect("a code after the label")
        .to_string();
    // The code of this moment (or of the step either side, if the test crossed one).
    let totp = totp_rs::Totp::from_url_unchecked(URI).expect("the test address");
    // The app shows codes for the real clock, so the test reads it too.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let near: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp.generate(*t).to_string())
        .collect();
    assert!(near.contains(&code), "{shown} not among {near:?}");

    // The same account again is refused; the list still has it once.
    let out = app(&store, PASSPHRASE, &["add", URI]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already in the app"));
    assert_eq!(
        text(&app(&store, PASSPHRASE, &["list"]).stdout)
            .lines()
            .count(),
        1
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the file is readable by others: {mode:o}");
    }
}

#[test]
fn a_wrong_passphrase_or_a_damaged_file_is_told_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("accounts.json");
    assert!(app(&store, PASSPHRASE, &["add", URI]).status.success());
    let before = std::fs::read(&store).expect("file");

    for args in [
        &["code"][..],
        &["add", URI],
        &["remove", "NHSmal:ann@example.nhs.uk"],
    ] {
        let out = app(&store, "not the passphrase", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("the passphrase is not right"));
        assert_eq!(
            std::fs::read(&store).expect("file"),
            before,
            "{args:?} changed it"
        );
    }

    // A damaged file: said so, and left as it is for the person to recover.
    let damaged = &before[..before.len() / 2];
    std::fs::write(&store, damaged).expect("write");
    let out = app(&store, PASSPHRASE, &["code"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not an NHSmal Authenticator file, or it is damaged"));
    let out = app(&store, PASSPHRASE, &["add", URI]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&store).expect("file"), damaged);
}

#[test]
fn an_address_that_is_not_an_authenticator_account_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("accounts.json");
    for bad in [
        "https://example.com",
        "otpauth://hotp/x?secret=AAAA&counter=1",
        "otpauth://totp/x",
    ] {
        let out = app(&store, PASSPHRASE, &["add", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("not an otpauth://totp/ address"),
            "{bad}"
        );
    }
    assert!(!store.exists(), "nothing was written");
    let out = app(&store, "short", &["add", URI]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least 8 characters"));
}
