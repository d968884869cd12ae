//! ID token signing keys (SECURITY-CHECKLIST OI-6): one RSA-2048 key for RS256 (every relying
//! party supports it) and one P-256 key for ES256, never `none`. Keys are made at first start
//! with aws-lc-rs, stored as PKCS#8 sealed with the master key, and rotated by `nhsmal keys
//! rotate`; a retired key's public half stays in the JWKS until every token it signed has
//! expired. The `kid` is the RFC 7638 JWK thumbprint.
//!
//! Signing is on the token endpoint's hot path: keys are parsed once when loaded and kept in
//! memory, and tokens are signed straight with aws-lc-rs (jsonwebtoken's `EncodingKey` would
//! parse and check the private key again for every token).

use std::future::Future;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::StorageError;
use crate::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;
use crate::secrets::{SecretBox, SecretError};

/// How long an ID token lives; the longest-lived token our keys sign.
pub const ID_TOKEN_SECONDS: i64 = 3_600;

/// How long a retired key stays in the JWKS after a rotation: the longest-lived token it
/// signed (an ID token, one hour) plus an hour for clock skew, relying parties' JWKS caches and
/// the nodes' one-minute reload.
pub const RETIRED_KEY_PUBLISHED_SECONDS: i64 = ID_TOKEN_SECONDS + 3_600;

/// How often a running server reloads its keys, so that a rotation by the command line on
/// another process reaches it within a minute.
pub const RELOAD_SECONDS: u64 = 60;

/// The algorithms ID tokens are signed with. There is no `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    RS256,
    ES256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::RS256, Alg::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }

    pub fn parse(text: &str) -> Result<Self, KeyError> {
        match text {
            "RS256" => Ok(Alg::RS256),
            "ES256" => Ok(Alg::ES256),
            other => Err(KeyError::UnknownAlg(other.to_string())),
        }
    }

    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown signing algorithm {0:?}: use RS256 or ES256")]
    UnknownAlg(String),
    #[error("there is no active {0} signing key")]
    NoKey(Alg),
    #[error("a signing key could not be made or read: {0}")]
    Crypto(&'static str),
    #[error("the signing keys cannot be opened with this master key")]
    CannotOpen(#[from] SecretError),
    #[error("the token is not signed by one of our keys")]
    BadToken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }
}

/// A signing key as stored: the public JWK in clear, the private key sealed (and wiped, empty,
/// once the key is retired).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: Alg,
    pub public_jwk: Value,
    pub sealed_private_key: Vec<u8>,
    pub created_at: UnixTime,
    pub retired_at: Option<UnixTime>,
    pub publish_until: Option<UnixTime>,
}

impl StoredKey {
    pub fn state(&self) -> KeyState {
        if self.retired_at.is_some() {
            KeyState::Retired
        } else {
            KeyState::Active
        }
    }

    /// Active, or retired and still within its publish window.
    pub fn is_published(&self, now: UnixTime) -> bool {
        self.state() == KeyState::Active || self.publish_until.is_some_and(|t| t > now)
    }
}

pub trait KeyRecords: Send + Sync {
    /// Every key, active and retired, oldest first.
    fn signing_keys(&self) -> impl Future<Output = Result<Vec<StoredKey>, StorageError>> + Send;
    /// Stores `key` as the active key of its algorithm, unless one is already active (another
    /// node got there first): then nothing is written and the answer is false.
    fn add_first_signing_key(
        &self,
        key: &StoredKey,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// In one transaction: retires the active key of `key.alg` (wiping its private key,
    /// publishing it until `publish_until`) and makes `key` active. The retired kid, if any.
    fn replace_signing_key(
        &self,
        key: &StoredKey,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
}

/// What a sealed private key is bound to, so it cannot be moved to another row.
fn bound_to(kid: &str) -> String {
    format!("oidc-signing-key:{kid}")
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over the required members in
/// lexicographic order, no whitespace, base64url.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &str| -> Option<String> {
        jwk.get(name)
            .and_then(Value::as_str)
            .map(|s| Value::String(s.to_string()).to_string())
    };
    let canonical = match jwk.get("kty").and_then(Value::as_str)? {
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        _ => return None,
    };
    Some(B64.encode(Sha256::digest(canonical.as_bytes())))
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// An active key, parsed, ready to sign.
struct Signer {
    alg: Alg,
    kid: String,
    /// base64url of the protected header, made once.
    header_b64: String,
    pair: Pair,
}

impl Signer {
    fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = match alg {
            Alg::RS256 => Pair::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Crypto("bad RSA key"))?,
            ),
            Alg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| KeyError::Crypto("bad P-256 key"))?,
            ),
        };
        let jwk = public_jwk(&pair);
        let kid = thumbprint(&jwk).ok_or(KeyError::Crypto("no thumbprint"))?;
        let header = json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"});
        Ok(Self {
            alg,
            header_b64: B64.encode(header.to_string()),
            kid,
            pair,
        })
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Crypto("RSA signing failed"))?;
                Ok(signature)
            }
            Pair::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing failed")),
        }
    }
}

/// The public JWK of a key pair: kty and n, e or crv, x, y (no kid, use or alg).
fn public_jwk(pair: &Pair) -> Value {
    match pair {
        Pair::Rsa(pair) => {
            let public = pair.public_key();
            json!({
                "kty": "RSA",
                "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
            })
        }
        Pair::Ec(pair) => {
            // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
            let point = pair.public_key().as_ref();
            let (x, y) = point[1..].split_at(32);
            json!({"kty": "EC", "crv": "P-256", "x": B64.encode(x), "y": B64.encode(y)})
        }
    }
}

/// A new key pair: its PKCS#8 DER and the parsed signer.
fn generate(alg: Alg) -> Result<(Zeroizing<Vec<u8>>, Signer), KeyError> {
    let pkcs8 = match alg {
        Alg::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| KeyError::Crypto("RSA key generation failed"))?;
            let der: Pkcs8V1Der = pair
                .as_der()
                .map_err(|_| KeyError::Crypto("RSA key encoding failed"))?;
            Zeroizing::new(der.as_ref().to_vec())
        }
        Alg::ES256 => {
            let document = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| KeyError::Crypto("P-256 key generation failed"))?;
            Zeroizing::new(document.as_ref().to_vec())
        }
    };
    let signer = Signer::from_pkcs8(alg, &pkcs8)?;
    Ok((pkcs8, signer))
}

/// A new key of `alg`, sealed for the store.
fn new_stored_key(alg: Alg, secrets: &SecretBox, now: UnixTime) -> Result<StoredKey, KeyError> {
    let (pkcs8, signer) = generate(alg)?;
    Ok(StoredKey {
        sealed_private_key: secrets.seal(&pkcs8, &bound_to(&signer.kid)),
        public_jwk: public_jwk(&signer.pair),
        kid: signer.kid,
        alg,
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}

/// A key in the JWKS, with what verifies its signatures.
struct Published {
    kid: String,
    alg: Alg,
    decoding: jsonwebtoken::DecodingKey,
}

/// The keys as loaded at one moment.
struct KeySet {
    signers: Vec<Signer>,
    published: Vec<Published>,
    jwks: Value,
    /// The JWKS serialised once, for the JWKS endpoint.
    jwks_body: Arc<str>,
    /// What was loaded (kid, retired, publish window): a reload that finds the same skips
    /// the work.
    fingerprint: Vec<(String, Option<UnixTime>, bool)>,
}

impl KeySet {
    fn build(stored: &[StoredKey], secrets: &SecretBox, now: UnixTime) -> Result<Self, KeyError> {
        let mut signers = Vec::new();
        let mut published = Vec::new();
        let mut entries = Vec::new();
        let mut fingerprint = Vec::new();
        for key in stored.iter().filter(|k| k.is_published(now)) {
            fingerprint.push((key.kid.clone(), key.retired_at, true));
            if key.state() == KeyState::Active {
                let pkcs8 = secrets.open(&key.sealed_private_key, &bound_to(&key.kid))?;
                let signer = Signer::from_pkcs8(key.alg, &pkcs8)?;
                if signer.kid != key.kid {
                    return Err(KeyError::Crypto("a stored key does not match its kid"));
                }
                // The newest active key of an algorithm signs (there is only one).
                signers.retain(|s: &Signer| s.alg != key.alg);
                signers.push(signer);
            }
            let jwk = &key.public_jwk;
            let text = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
            let decoding = match key.alg {
                Alg::RS256 => jsonwebtoken::DecodingKey::from_rsa_components(text("n"), text("e")),
                Alg::ES256 => jsonwebtoken::DecodingKey::from_ec_components(text("x"), text("y")),
            }
            .map_err(|_| KeyError::Crypto("bad public key"))?;
            let mut entry = jwk.clone();
            if let Some(map) = entry.as_object_mut() {
                map.insert("kid".into(), key.kid.clone().into());
                map.insert("use".into(), "sig".into());
                map.insert("alg".into(), key.alg.as_str().into());
            }
            entries.push(entry);
            published.push(Published {
                kid: key.kid.clone(),
                alg: key.alg,
                decoding,
            });
        }
        // Newest first: relying parties that take the first key of a type take the active one.
        entries.reverse();
        let jwks = json!({ "keys": entries });
        Ok(Self {
            jwks_body: Arc::from(jwks.to_string()),
            jwks,
            signers,
            published,
            fingerprint,
        })
    }
}

/// The server's signing keys, loaded from the store; cheap to clone (shared).
#[derive(Clone)]
pub struct SigningKeys {
    current: Arc<RwLock<Arc<KeySet>>>,
}

impl SigningKeys {
    /// Creates the RS256 and ES256 keys if there is no active one (first start), then loads.
    /// Two nodes starting at once on one database end up with the same keys.
    pub async fn load_or_create<R: KeyRecords>(
        records: &R,
        secrets: &SecretBox,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        let stored = records.signing_keys().await?;
        for alg in Alg::ALL {
            if stored
                .iter()
                .any(|k| k.alg == alg && k.state() == KeyState::Active)
            {
                continue;
            }
            let key = new_stored_key(alg, secrets, now)?;
            // Logged, not audited: no one acted (the audit trail records people's actions, and
            // rotations).
            if records.add_first_signing_key(&key).await? {
                tracing::info!(kid = %key.kid, alg = alg.as_str(), "created a signing key");
            }
        }
        Self::load(records, secrets, now).await
    }

    /// The keys as stored now.
    pub async fn load<R: KeyRecords>(
        records: &R,
        secrets: &SecretBox,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        let stored = records.signing_keys().await?;
        let set = KeySet::build(&stored, secrets, now)?;
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(set))),
        })
    }

    /// Picks up rotations (and the end of retired keys' publish windows). On failure the
    /// keys in memory stay as they were.
    pub async fn reload<R: KeyRecords>(
        &self,
        records: &R,
        secrets: &SecretBox,
        now: UnixTime,
    ) -> Result<(), KeyError> {
        let stored = records.signing_keys().await?;
        let fingerprint: Vec<_> = stored
            .iter()
            .filter(|k| k.is_published(now))
            .map(|k| (k.kid.clone(), k.retired_at, true))
            .collect();
        if fingerprint == self.snapshot().fingerprint {
            return Ok(());
        }
        let set = Arc::new(KeySet::build(&stored, secrets, now)?);
        match self.current.write() {
            Ok(mut current) => *current = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A compact JWS of `claims` with the active key of `alg`; the header has `alg`, `kid` and
    /// `typ: "JWT"`.
    pub fn sign(&self, alg: Alg, claims: &Value) -> Result<String, KeyError> {
        let set = self.snapshot();
        let signer = set
            .signers
            .iter()
            .find(|s| s.alg == alg)
            .ok_or(KeyError::NoKey(alg))?;
        let payload =
            serde_json::to_vec(claims).map_err(|_| KeyError::Crypto("claims not serialisable"))?;
        let mut token =
            String::with_capacity(signer.header_b64.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&signer.header_b64);
        token.push('.');
        B64.encode_string(&payload, &mut token);
        let signature = signer.signature(token.as_bytes())?;
        token.push('.');
        B64.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// The kid of the active key of `alg`.
    pub fn active_kid(&self, alg: Alg) -> Option<String> {
        self.snapshot()
            .signers
            .iter()
            .find(|s| s.alg == alg)
            .map(|s| s.kid.clone())
    }

    /// `{"keys":[…]}`: every active key and every retired key still within its publish window.
    pub fn jwks(&self) -> Value {
        self.snapshot().jwks.clone()
    }

    /// The JWKS as JSON text, serialised once per load (for the JWKS endpoint).
    pub fn jwks_body(&self) -> Arc<str> {
        self.snapshot().jwks_body.clone()
    }

    /// The claims of `token` if one of our published keys signed it, with the algorithm its
    /// kid names. Expiry is not checked: the caller decides (an `id_token_hint` may be old).
    pub fn verify(&self, token: &str) -> Result<Value, KeyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| KeyError::BadToken)?;
        let kid = header.kid.ok_or(KeyError::BadToken)?;
        let set = self.snapshot();
        let key = set
            .published
            .iter()
            .find(|k| k.kid == kid && k.alg.jwt() == header.alg)
            .ok_or(KeyError::BadToken)?;
        let mut validation = jsonwebtoken::Validation::new(key.alg.jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| KeyError::BadToken)
    }
}

/// A key made by a rotation, and the one it replaced.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub alg: Alg,
    pub kid: String,
    pub retired_kid: Option<String>,
}

/// Makes new RS256 and ES256 keys active; the old ones are retired and stay published for
/// `RETIRED_KEY_PUBLISHED_SECONDS`. Audited as `oidc.keys_rotated`.
pub async fn rotate<R: KeyRecords + AuditTrail>(
    records: &R,
    secrets: &SecretBox,
    requester: &Requester,
    now: UnixTime,
) -> Result<Vec<Rotated>, KeyError> {
    let mut rotated = Vec::new();
    for alg in Alg::ALL {
        let key = new_stored_key(alg, secrets, now)?;
        let retired_kid = records
            .replace_signing_key(&key, now, now + RETIRED_KEY_PUBLISHED_SECONDS)
            .await?;
        rotated.push(Rotated {
            alg,
            kid: key.kid,
            retired_kid,
        });
    }
    let summary = rotated
        .iter()
        .map(|r| {
            format!(
                "{} {} replaces {}",
                r.alg,
                r.kid,
                r.retired_kid.as_deref().unwrap_or("none")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let event =
        AuditEvent::new("oidc.keys_rotated", Outcome::Success, requester, now).reason(&summary);
    records.append_audit(&event).await?;
    Ok(rotated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_with(alg: Alg) -> (SigningKeys, Value) {
        let secrets = SecretBox::from_base64(&SecretBox::generate_key_base64()).expect("key");
        let key = new_stored_key(alg, &secrets, 1_000).expect("key made");
        let set = KeySet::build(std::slice::from_ref(&key), &secrets, 1_000).expect("loads");
        let keys = SigningKeys {
            current: Arc::new(RwLock::new(Arc::new(set))),
        };
        let jwks = keys.jwks();
        (keys, jwks)
    }

    #[test]
    fn a_signed_token_verifies_with_a_decoding_key_built_from_the_jwks_entry() {
        for alg in Alg::ALL {
            let (keys, jwks) = keys_with(alg);
            let claims = json!({"iss": "https://id.example", "sub": "a1", "aud": "c1", "exp": 4_000_000_000u64});
            let token = keys.sign(alg, &claims).expect("signs");
            let header = jsonwebtoken::decode_header(&token).expect("header");
            assert_eq!(header.alg, alg.jwt());
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            let entry = &jwks["keys"][0];
            assert_eq!(entry["kid"].as_str(), header.kid.as_deref());
            assert_eq!(entry["use"], "sig");
            assert_eq!(entry["alg"], alg.as_str());
            assert!(entry.get("d").is_none(), "no private part in the JWKS");
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(entry.clone()).expect("a JWK");
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
            let mut validation = jsonwebtoken::Validation::new(alg.jwt());
            validation.set_audience(&["c1"]);
            let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation)
                .expect("verifies with the published key");
            assert_eq!(data.claims, claims);
            assert_eq!(keys.verify(&token).expect("our own check"), claims);
        }
    }

    #[test]
    fn a_tampered_or_foreign_token_does_not_verify() {
        let (keys, _) = keys_with(Alg::ES256);
        let (other, _) = keys_with(Alg::ES256);
        let token = other.sign(Alg::ES256, &json!({"sub": "x"})).expect("signs");
        assert!(matches!(keys.verify(&token), Err(KeyError::BadToken)));
        let token = keys.sign(Alg::ES256, &json!({"sub": "x"})).expect("signs");
        let (head, rest) = token.split_once('.').expect("dot");
        let (_, signature) = rest.split_once('.').expect("dot");
        let forged = format!("{head}.{}.{signature}", B64.encode(br#"{"sub":"y"}"#));
        assert!(matches!(keys.verify(&forged), Err(KeyError::BadToken)));
        // An unsigned token naming our kid is refused.
        let kid = keys.active_kid(Alg::ES256).expect("kid");
        let none = format!(
            "{}.{}.",
            B64.encode(json!({"alg": "none", "kid": kid}).to_string()),
            B64.encode(br#"{"sub":"x"}"#)
        );
        assert!(matches!(keys.verify(&none), Err(KeyError::BadToken)));
        assert!(matches!(
            keys.sign(Alg::RS256, &json!({})),
            Err(KeyError::NoKey(Alg::RS256))
        ));
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        for alg in Alg::ALL {
            let (keys, jwks) = keys_with(alg);
            let entry = &jwks["keys"][0];
            assert_eq!(thumbprint(entry), entry["kid"].as_str().map(String::from));
            assert_eq!(
                keys.active_kid(alg),
                entry["kid"].as_str().map(String::from)
            );
            // jsonwebtoken's own RFC 7638 implementation agrees.
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(entry.clone()).expect("JWK");
            assert_eq!(
                Some(
                    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                        .expect("thumbprint")
                ),
                entry["kid"].as_str().map(String::from)
            );
        }
    }

    #[test]
    fn a_token_header_never_says_none() {
        assert!(Alg::parse("none").is_err());
        assert!(Alg::parse("HS256").is_err());
        for alg in Alg::ALL {
            let (keys, _) = keys_with(alg);
            let token = keys.sign(alg, &json!({"sub": "x"})).expect("signs");
            let header: Value = serde_json::from_slice(
                &B64.decode(token.split('.').next().expect("header"))
                    .expect("base64"),
            )
            .expect("JSON");
            assert_eq!(header["alg"], alg.as_str());
            assert_ne!(header["alg"], "none");
            assert!(!token.ends_with('.'), "a signature follows");
        }
    }

    #[test]
    fn a_retired_key_is_published_only_within_its_window() {
        let key = StoredKey {
            kid: "k".into(),
            alg: Alg::RS256,
            public_jwk: json!({}),
            sealed_private_key: vec![],
            created_at: 0,
            retired_at: Some(100),
            publish_until: Some(100 + RETIRED_KEY_PUBLISHED_SECONDS),
        };
        assert!(key.is_published(100 + ID_TOKEN_SECONDS));
        assert!(!key.is_published(100 + RETIRED_KEY_PUBLISHED_SECONDS));
    }
}
