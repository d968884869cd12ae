//! Access tokens that need no row: the grant they belong to and when they were issued and
//! expire, sealed (XChaCha20-Poly1305, `SecretBox`) with the master key that every node of the
//! portal already shares.
//!
//! Why not a row, as refresh tokens have: every exchange and refresh then wrote two rows, and
//! the token endpoint's only write is that insert (BENCHMARKS.md, "OpenID Connect token
//! endpoint"). Nothing is lost by sealing: revocation was always of the grant (RFC 7009 here
//! revokes the grant of the token presented), and whoever is shown an access token
//! (userinfo, introspection, revocation) opens it, then reads its grant and the grant's
//! account, so a revoked grant or a suspended account ends it at once. The token is opaque
//! to apps (encrypted, not just signed): what it carries is ours to change.
//!
//! Why not a JWT access token (RFC 9068): it would take a second signature per exchange, and
//! with RS256 the signature is most of an exchange's cost.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::UnixTime;
use crate::secrets::SecretBox;

/// Marks a sealed token. Base64url never contains '.', and access tokens issued before
/// sealing (stored by key, 55 or 43 base64url and hex characters) never start with it.
const PREFIX: &str = "at1.";

/// The associated data of the seal: a sealed TOTP key or any other value sealed with the
/// master key cannot pass for an access token, nor the other way round.
const BOUND_TO: &str = "nhsmal oidc access token v1";

/// Two times of 8 bytes each, then the grant id.
const TIMES_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub grant_id: String,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

/// What a presented token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// Ours and untouched; its expiry and its grant are still to be checked.
    Sealed(AccessToken),
    /// Looks sealed but does not open: forged, altered, or sealed under another master key.
    Unreadable,
    /// Not sealed: a refresh token, or an access token from before sealing, both found by key.
    Stored,
}

impl AccessToken {
    /// The token given to the app: a fresh 192-bit nonce each time, so two tokens of one grant
    /// issued in the same second differ.
    pub fn seal(&self, secrets: &SecretBox) -> String {
        let mut plain = Vec::with_capacity(TIMES_LEN + self.grant_id.len());
        plain.extend_from_slice(&self.issued_at.to_be_bytes());
        plain.extend_from_slice(&self.expires_at.to_be_bytes());
        plain.extend_from_slice(self.grant_id.as_bytes());
        let sealed = secrets.seal(&plain, BOUND_TO);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    pub fn open(token: &str, secrets: &SecretBox) -> Presented {
        let Some(body) = token.strip_prefix(PREFIX) else {
            return Presented::Stored;
        };
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(body) else {
            return Presented::Unreadable;
        };
        let Ok(plain) = secrets.open(&sealed, BOUND_TO) else {
            return Presented::Unreadable;
        };
        match parse(&plain) {
            Some(token) => Presented::Sealed(token),
            None => Presented::Unreadable,
        }
    }
}

fn parse(plain: &[u8]) -> Option<AccessToken> {
    if plain.len() <= TIMES_LEN {
        return None;
    }
    let (times, grant_id) = plain.split_at(TIMES_LEN);
    let (issued, expires) = times.split_at(8);
    Some(AccessToken {
        grant_id: String::from_utf8(grant_id.to_vec()).ok()?,
        issued_at: i64::from_be_bytes(issued.try_into().ok()?),
        expires_at: i64::from_be_bytes(expires.try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_key_base64()).expect("a key")
    }

    fn token() -> AccessToken {
        AccessToken {
            grant_id: "0190b7a4-5f7e-7cc2-9a8e-3f1d2c4b5a69".into(),
            issued_at: 1_800_000_000,
            expires_at: 1_800_000_900,
        }
    }

    #[test]
    fn a_sealed_token_opens_to_what_was_sealed_and_shows_none_of_it() {
        let secrets = secrets();
        let sealed = token().seal(&secrets);
        assert_eq!(
            AccessToken::open(&sealed, &secrets),
            Presented::Sealed(token())
        );
        assert!(!sealed.contains("0190b7a4"), "the grant is not readable");
        // RFC 6750 b64token characters only, so it goes in a header as it is.
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)),
            "{sealed}"
        );
        assert_ne!(sealed, token().seal(&secrets), "a fresh nonce each time");
    }

    #[test]
    fn an_altered_token_or_one_sealed_under_another_master_key_does_not_open() {
        let secrets = secrets();
        let sealed = token().seal(&secrets);
        assert_eq!(
            AccessToken::open(&sealed, &self::secrets()),
            Presented::Unreadable
        );
        for at in [PREFIX.len(), PREFIX.len() + 20, sealed.len() - 1] {
            let mut altered = sealed.clone().into_bytes();
            altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).expect("ascii");
            assert_eq!(
                AccessToken::open(&altered, &secrets),
                Presented::Unreadable,
                "changed at {at}"
            );
        }
        assert_eq!(
            AccessToken::open("at1.not base64!", &secrets),
            Presented::Unreadable
        );
        assert_eq!(AccessToken::open("at1.", &secrets), Presented::Unreadable);
    }

    #[test]
    fn a_value_sealed_for_something_else_does_not_pass_for_an_access_token() {
        let secrets = secrets();
        let mut plain = Vec::new();
        plain.extend_from_slice(&1_800_000_000_i64.to_be_bytes());
        plain.extend_from_slice(&4_000_000_000_i64.to_be_bytes());
        plain.extend_from_slice(b"some-grant");
        let other = format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(secrets.seal(&plain, "method-1"))
        );
        assert_eq!(AccessToken::open(&other, &secrets), Presented::Unreadable);
    }

    #[test]
    fn tokens_without_the_prefix_are_left_to_the_store() {
        let secrets = secrets();
        assert_eq!(
            AccessToken::open(
                "0190b7a45f7ep3r9VqzL0nW4cT8xYb2mK6sJ1dF5gH7jA0eR3tU9iOk",
                &secrets
            ),
            Presented::Stored
        );
        assert_eq!(AccessToken::open("", &secrets), Presented::Stored);
    }
}
