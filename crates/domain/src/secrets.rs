//! Secrets at rest (TOTP keys): XChaCha20-Poly1305 under a 256-bit master key from
//! configuration, so that a database dump alone reveals no key. Each sealed value is bound to
//! what it belongs to (associated data), so it cannot be moved to another row.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a stored secret could not be decrypted (wrong master key or tampered data)")]
    CannotOpen,
}

/// Seals and opens secrets with the master key.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// A key derived from the master key for MACs of short codes: a database dump alone then
    /// cannot test the million possible 6-digit codes against a stored hash.
    mac_key: Zeroizing<Vec<u8>>,
}

impl SecretBox {
    pub fn new(key: &[u8]) -> Result<Self, SecretError> {
        if key.len() != 32 {
            return Err(SecretError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| SecretError::BadKey)?;
        let mac_key = Zeroizing::new(hmac_sha256(key, b"nhsmal code mac v1").to_vec());
        Ok(Self { cipher, mac_key })
    }

    /// A key as written in a key file or `NHSMAL_MASTER_KEY`: base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let key = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SecretError::BadKey)?,
        );
        Self::new(&key)
    }

    /// A new master key, base64, for a key file.
    pub fn generate_key_base64() -> String {
        STANDARD.encode(Zeroizing::new(super::random_bytes::<32>()).as_slice())
    }

    /// HMAC-SHA256 of `data` under the derived MAC key, hex.
    pub fn mac_hex(&self, data: &[u8]) -> String {
        hex(&hmac_sha256(&self.mac_key, data))
    }

    /// Constant-time check of `data` against a `mac_hex` value.
    pub fn mac_matches(&self, data: &[u8], expected_hex: &str) -> bool {
        use subtle::ConstantTimeEq;
        let actual = self.mac_hex(data);
        actual.len() == expected_hex.len()
            && bool::from(actual.as_bytes().ct_eq(expected_hex.as_bytes()))
    }

    /// nonce (24 random bytes) || ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Vec<u8> {
        let nonce_bytes = super::random_bytes::<NONCE_LEN>();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: bound_to.as_bytes(),
                },
            )
            .unwrap_or_else(|_| {
                unreachable!("XChaCha20-Poly1305 encryption cannot fail for small inputs")
            });
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], bound_to: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::CannotOpen);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::CannotOpen)?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: bound_to.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::CannotOpen)
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex, two digits a byte (written digit by digit: it keys every token request).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_the_same_key_and_binding() {
        let key = SecretBox::generate_key_base64();
        let sb = SecretBox::from_base64(&key).expect("key");
        let sealed = sb.seal(b"12345678901234567890", "method-1");
        assert!(!sealed.windows(20).any(|w| w == b"12345678901234567890"));
        assert_eq!(
            sb.open(&sealed, "method-1").expect("opens").as_slice(),
            b"12345678901234567890"
        );
        assert_eq!(
            sb.open(&sealed, "method-2").unwrap_err(),
            SecretError::CannotOpen
        );
        let other = SecretBox::from_base64(&SecretBox::generate_key_base64()).expect("key");
        assert_eq!(
            other.open(&sealed, "method-1").unwrap_err(),
            SecretError::CannotOpen
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sb.open(&tampered, "method-1").unwrap_err(),
            SecretError::CannotOpen
        );
        assert_ne!(
            sb.seal(b"x", "a"),
            sb.seal(b"x", "a"),
            "fresh nonce each time"
        );
        assert_eq!(
            SecretBox::from_base64("dG9vIHNob3J0").err(),
            Some(SecretError::BadKey)
        );
    }
}
