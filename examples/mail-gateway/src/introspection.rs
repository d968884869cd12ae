//! Asks the portal whether a token is live (RFC 7662), and remembers the answer for a short
//! while: a mail server asks on every connection, so a revoked token keeps working for at most
//! `cache` (documented in the README) and the portal is not asked on every command.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What the portal said about a token, as far as a mail server cares.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenInfo {
    pub active: bool,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub scope: String,
}

impl TokenInfo {
    pub fn allows(&self, user: Option<&str>, scope: &str) -> bool {
        self.active
            && self.scope.split_whitespace().any(|s| s == scope)
            && user.is_none_or(|u| u.eq_ignore_ascii_case(&self.username))
    }
}

pub struct Introspection {
    http: reqwest::Client,
    endpoint: String,
    client_id: String,
    client_secret: String,
    cache: Duration,
    /// By the token's SHA-256: the tokens themselves are not kept.
    seen: Mutex<HashMap<[u8; 32], (Instant, TokenInfo)>>,
}

impl Introspection {
    /// Finds the introspection endpoint in the portal's discovery document.
    pub async fn discover(
        portal: &str,
        client_id: String,
        client_secret: String,
        cache: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let discovery: serde_json::Value = http
            .get(format!(
                "{}/.well-known/openid-configuration",
                portal.trim_end_matches('/')
            ))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let endpoint = discovery["introspection_endpoint"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the portal lists no introspection endpoint"))?
            .to_string();
        Ok(Self {
            http,
            endpoint,
            client_id,
            client_secret,
            cache,
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// What the portal says of `token` (or said within `cache`). A portal that cannot be
    /// reached refuses the token: a mail server fails closed.
    pub async fn check(&self, token: &str) -> TokenInfo {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(seen) = self.seen.lock()
            && let Some((at, info)) = seen.get(&key)
            && at.elapsed() < self.cache
        {
            return info.clone();
        }
        let info = match self.ask(token).await {
            Ok(info) => info,
            Err(e) => {
                eprintln!("introspection failed: {e}");
                return TokenInfo {
                    active: false,
                    username: String::new(),
                    scope: String::new(),
                };
            }
        };
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() > 100_000 {
                seen.clear();
            }
            // The cache's age is this process's own time (the gateway has no domain clock).
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            seen.insert(key, (now, info.clone()));
        }
        info
    }

    async fn ask(&self, token: &str) -> anyhow::Result<TokenInfo> {
        Ok(self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}
