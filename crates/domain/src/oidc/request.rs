//! The authorization request's rules (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, PKCE
//! RFC 7636) and how strongly a person authenticated (`acr`, `amr`): what the authorization
//! endpoint checks before it signs anyone in or issues a code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::clients::{Client, ClientKind};

/// How strongly the person authenticated, as `acr` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Acr {
    /// A password only (an account without MFA, before the rollout date).
    Password,
    /// Two factors.
    Mfa,
    /// Two factors, one of them a FIDO2 security key (phishing-resistant).
    PhishingResistant,
}

impl Acr {
    pub const ALL: [Acr; 3] = [Acr::Password, Acr::Mfa, Acr::PhishingResistant];

    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Password => "urn:nhsmal:acr:pwd",
            Acr::Mfa => "urn:nhsmal:acr:mfa",
            Acr::PhishingResistant => "urn:nhsmal:acr:phr",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// A level as an administrator types it: the URN, or its last part (`pwd`, `mfa`, `phr`).
    pub fn parse_short(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::parse(text).or_else(|| {
            Self::ALL
                .into_iter()
                .find(|a| a.as_str().rsplit(':').next() == Some(text))
        })
    }

    /// The level a portal session reached from its methods ("pwd hwk mfa"): as `of`, and a
    /// passkey (the portal's own word "passkey", kept from apps) is phishing-resistant whether
    /// device-bound (`hwk`) or synced (`swk`).
    pub fn of_session(auth_methods: &str) -> Self {
        let level = Self::of(&amr_of(auth_methods));
        if level == Acr::Mfa && auth_methods.split_whitespace().any(|m| m == "passkey") {
            Acr::PhishingResistant
        } else {
            level
        }
    }

    /// The level a sign-in reached from its RFC 8176 methods.
    pub fn of(amr: &[String]) -> Self {
        let mfa = amr.iter().any(|m| m == "mfa");
        if mfa && amr.iter().any(|m| m == "hwk") {
            Acr::PhishingResistant
        } else if mfa {
            Acr::Mfa
        } else {
            Acr::Password
        }
    }
}

/// The RFC 8176 `amr` values of a portal session's methods ("pwd otp mfa"): only registered
/// values leave the portal (a remembered device or a temporary access pass has none).
pub fn amr_of(auth_methods: &str) -> Vec<String> {
    const RFC_8176: [&str; 9] = [
        "pwd", "otp", "sms", "tel", "hwk", "swk", "user", "mca", "mfa",
    ];
    let mut out: Vec<String> = vec![];
    for m in auth_methods.split_whitespace() {
        if RFC_8176.contains(&m) && !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    out
}

/// The level an `acr_values` request needs: the weakest of the values we know (the request is
/// voluntary, so any one listed level is enough); None when nothing we know is asked for.
pub fn acr_needed(acr_values: &str) -> Option<Acr> {
    acr_values.split_whitespace().filter_map(Acr::parse).min()
}

/// An authorization request as it arrived (query or form).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizationRequest {
    #[serde(default)]
    pub response_type: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
    /// Ours: set by the portal when it sent the person to authenticate again (prompt=login,
    /// max_age); the sign-in must be at least this recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_after: Option<i64>,
}

/// Why an authorization request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Shown on our own page, never sent to the redirect URI: the client or the redirect URI
    /// cannot be trusted (OI-3).
    Page(&'static str),
    /// Sent back to the (registered) redirect URI, with `state` and `iss`.
    Redirect {
        error: &'static str,
        description: &'static str,
    },
}

/// A request that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub scope: String,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub acr: Option<Acr>,
    /// The level comes from the app's registration (`--require-acr`), not only the request.
    pub acr_required_by_client: bool,
}

pub const SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "mail.imap",
    "mail.smtp",
];

/// The rules of an authorization request, in the order the specifications give them: the
/// client and the redirect URI first (a mismatch is an error page: OI-3, character for
/// character), then everything else as an error sent back to the app.
pub fn check_request(
    client: Option<&Client>,
    req: &AuthorizationRequest,
) -> Result<ValidRequest, RequestError> {
    let Some(client) = client.filter(|c| !c.disabled) else {
        return Err(RequestError::Page(
            "The app that sent you here is not registered with NHSmal.",
        ));
    };
    if !super::clients::redirect_uri_registered(client, &req.redirect_uri) {
        return Err(RequestError::Page(
            "The app that sent you here gave an address to return to that is not registered with NHSmal.",
        ));
    }
    let redirect = |error, description| Err(RequestError::Redirect { error, description });
    if req.request.is_some() {
        return redirect("request_not_supported", "request objects are not supported");
    }
    if req.request_uri.is_some() {
        return redirect("request_uri_not_supported", "request_uri is not supported");
    }
    if req.response_type != "code" {
        return redirect(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        );
    }
    if req.response_mode.as_deref().is_some_and(|m| m != "query") {
        return redirect("invalid_request", "only response_mode=query is supported");
    }
    let scopes: Vec<&str> = req.scope.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return redirect("invalid_scope", "the openid scope is required");
    }
    // Scopes we do not know are ignored (OpenID Connect Core §3.1.2.1); the granted ones are
    // returned with the token.
    let mut granted: Vec<&str> = vec![];
    for s in SCOPES {
        if scopes.contains(&s) {
            granted.push(s);
        }
    }
    match (
        req.code_challenge.as_deref(),
        req.code_challenge_method.as_deref(),
    ) {
        (None, Some(_)) => {
            return redirect(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
        (Some(_), Some(m)) if m != "S256" => {
            return redirect(
                "invalid_request",
                "only the S256 code challenge method is supported",
            );
        }
        // RFC 7636 §4.3: a missing method means plain, which we refuse (OI-2).
        (Some(_), None) => {
            return redirect("invalid_request", "code_challenge_method=S256 is required");
        }
        (Some(c), Some(_)) if !valid_challenge(c) => {
            return redirect("invalid_request", "the code challenge is malformed");
        }
        (None, None) if client.kind == ClientKind::Public => {
            return redirect(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for this client",
            );
        }
        _ => {}
    }
    let prompts: Vec<&str> = req
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if prompts
        .iter()
        .any(|p| !["none", "login", "consent", "select_account"].contains(p))
    {
        return redirect("invalid_request", "unknown prompt value");
    }
    if prompts.contains(&"none") && prompts.len() > 1 {
        return redirect(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    let max_age = match req.max_age.as_deref() {
        None | Some("") => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return redirect(
                    "invalid_request",
                    "max_age must be a whole number of seconds",
                );
            }
        },
    };
    Ok(ValidRequest {
        scope: granted.join(" "),
        prompt_none: prompts.contains(&"none"),
        prompt_login: prompts.contains(&"login"),
        prompt_consent: prompts.contains(&"consent"),
        max_age,
        // The app's registered level is a floor; a request may ask for more.
        acr: req
            .acr_values
            .as_deref()
            .and_then(acr_needed)
            .max(client.require_acr),
        acr_required_by_client: client.require_acr.is_some_and(|floor| {
            req.acr_values
                .as_deref()
                .and_then(acr_needed)
                .is_none_or(|asked| asked <= floor)
        }),
    })
}

/// RFC 7636 §4.2: a code challenge is the base64url of a SHA-256, 43 characters.
pub(crate) fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636 §4.1: a verifier is 43–128 characters of the unreserved set.
pub(crate) fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// S256: base64url(SHA-256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
