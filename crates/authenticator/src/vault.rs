//! The app's accounts at rest: one file, encrypted with XChaCha20-Poly1305 under a key derived
//! from the person's passphrase with Argon2id, written whole to a temporary file and renamed
//! over the old one, so that a crash or a full disk never leaves half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What the file says it is; also bound into the encryption (with the key's parameters).
const FORMAT: &str = "nhsmal-authenticator/1";
/// Argon2id at OWASP's minimum for interactive use (the portal's own defaults).
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the passphrase is not right, or {0} was changed by something else; nothing was changed"
    )]
    CannotOpen(PathBuf),
    #[error("{0} is not an NHSmal Authenticator file, or it is damaged; nothing was changed")]
    NotAVault(PathBuf),
    #[error("enter a passphrase of at least 8 characters")]
    WeakPassphrase,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One account: a standard `otpauth://totp/…` address, as an app's QR code holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub label: String,
    pub uri: String,
}

/// A pairing with an NHSmal Portal for push requests: where it is, the device's token and
/// its private key (P-256 scalar, base64), and the account it answers for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Device {
    pub server: String,
    pub device_id: String,
    pub token: String,
    pub key: String,
    pub account: String,
    pub name: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Accounts {
    pub accounts: Vec<Account>,
    /// Paired portals (files written before pairing existed have none).
    #[serde(default)]
    pub devices: Vec<Device>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    kdf: Kdf,
    nonce: String,
    ciphertext: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VaultError + '_ {
    move |source| VaultError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn key(passphrase: &str, kdf: &Kdf, salt: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let params =
        argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32)).ok()?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .ok()?;
    Some(key)
}

/// The bytes the encryption is bound to: the format and the key's parameters, so that a file
/// with weakened parameters does not open.
fn bound(kdf: &Kdf) -> String {
    format!(
        "{FORMAT}|{}|{}|{}|{}|{}",
        kdf.algorithm, kdf.memory_kib, kdf.iterations, kdf.parallelism, kdf.salt
    )
}

/// The accounts in `path`; none when there is no file yet.
pub fn load(path: &Path, passphrase: &str) -> Result<Accounts, VaultError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accounts::default()),
        Err(e) => return Err(io(path)(e)),
    };
    let not_a_vault = || VaultError::NotAVault(path.to_path_buf());
    let file: File = serde_json::from_slice(&text).map_err(|_| not_a_vault())?;
    if file.format != FORMAT || file.kdf.algorithm != "argon2id" {
        return Err(not_a_vault());
    }
    let salt = B64.decode(&file.kdf.salt).map_err(|_| not_a_vault())?;
    let nonce = B64.decode(&file.nonce).map_err(|_| not_a_vault())?;
    let ciphertext = B64.decode(&file.ciphertext).map_err(|_| not_a_vault())?;
    let nonce = XNonce::try_from(nonce.as_slice()).map_err(|_| not_a_vault())?;
    let key = key(passphrase, &file.kdf, &salt).ok_or_else(not_a_vault)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| not_a_vault())?;
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &ciphertext,
                aad: bound(&file.kdf).as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::CannotOpen(path.to_path_buf()))?;
    serde_json::from_slice(&plain).map_err(|_| not_a_vault())
}

/// Writes `accounts` to `path` (readable by the person alone), replacing the file whole.
pub fn save(path: &Path, passphrase: &str, accounts: &Accounts) -> Result<(), VaultError> {
    if passphrase.chars().count() < 8 {
        return Err(VaultError::WeakPassphrase);
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|e| io(path)(std::io::Error::other(e)))?;
    getrandom::fill(&mut nonce).map_err(|e| io(path)(std::io::Error::other(e)))?;
    let kdf = Kdf {
        algorithm: "argon2id".into(),
        memory_kib: MEMORY_KIB,
        iterations: ITERATIONS,
        parallelism: PARALLELISM,
        salt: B64.encode(salt),
    };
    let key = key(passphrase, &kdf, &salt)
        .ok_or_else(|| io(path)(std::io::Error::other("key derivation failed")))?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| io(path)(std::io::Error::other("bad key length")))?;
    let plain = Zeroizing::new(serde_json::to_vec(accounts).unwrap_or_default());
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: bound(&kdf).as_bytes(),
            },
        )
        .map_err(|_| io(path)(std::io::Error::other("encryption failed")))?;
    let file = File {
        format: FORMAT.into(),
        kdf,
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ciphertext),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    private_dir(dir).map_err(io(dir))?;
    // A temporary file beside it (created 0600), synced, then renamed over the old one.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    let body = serde_json::to_vec_pretty(&file).unwrap_or_default();
    tmp.write_all(&body).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn private_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_back_with_the_passphrase_and_not_without() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("a/accounts.json");
        let accounts = Accounts {
            accounts: vec![Account {
                label: "NHSmal:ann@example.nhs.uk".into(),
                uri: "otpauth://totp/NHSmal:ann?secret=JBSWY3DPEHPK3PXP&issuer=NHSmal".into(),
            }],
            devices: vec![],
        };
        save(&path, "correct horse", &accounts).expect("saved");
        assert_eq!(
            load(&path, "correct horse").expect("opened").accounts,
            accounts.accounts
        );
        assert!(matches!(
            load(&path, "wrong horse!"),
            Err(VaultError::CannotOpen(_))
        ));
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains("JBSWY3DP"),
            "the key is not written in clear"
        );
        // Weakened parameters do not open: they are bound into the encryption.
        let weakened = text.replace("\"iterations\": 2", "\"iterations\": 1");
        fs::write(&path, weakened).expect("write");
        assert!(load(&path, "correct horse").is_err());
    }

    #[test]
    fn a_short_passphrase_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(matches!(
            save(&dir.path().join("x.json"), "short", &Accounts::default()),
            Err(VaultError::WeakPassphrase)
        ));
    }
}
