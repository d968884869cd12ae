//! The two OAuth SASL mechanisms mail apps use: XOAUTH2 (Google's and Microsoft's) and
//! OAUTHBEARER (RFC 7628). Both carry a user name and a bearer token; neither carries a
//! password, and nothing else is accepted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What a client presented.
#[derive(Debug, PartialEq, Eq)]
pub struct Bearer {
    /// The user the client says it signs in as (OAUTHBEARER may leave it out).
    pub user: Option<String>,
    pub token: String,
}

/// Decodes a base64 SASL response of `mechanism` (upper case).
pub fn parse(mechanism: &str, base64: &str) -> Option<Bearer> {
    let raw = STANDARD.decode(base64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    match mechanism {
        "XOAUTH2" => xoauth2(&text),
        "OAUTHBEARER" => oauthbearer(&text),
        _ => None,
    }
}

/// `user=EMAIL ^A auth=Bearer TOKEN ^A ^A`.
fn xoauth2(text: &str) -> Option<Bearer> {
    let mut user = None;
    let mut token = None;
    for field in text.split('\x01') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(auth) = field.strip_prefix("auth=") {
            token = bearer_of(auth);
        }
    }
    Some(Bearer {
        user: Some(user?),
        token: token?,
    })
}

/// RFC 7628 §3.1: a GS2 header (`n,a=EMAIL,`), then `^A` key=value pairs (`auth=Bearer …`,
/// `host=…`, `port=…`), ended by `^A ^A`.
fn oauthbearer(text: &str) -> Option<Bearer> {
    let (gs2, rest) = text.split_once('\x01')?;
    let mut parts = gs2.split(',');
    // No channel binding over a plain loopback connection: "n" or "y" only.
    if !matches!(parts.next()?, "n" | "y") {
        return None;
    }
    let user = parts
        .next()
        .and_then(|a| a.strip_prefix("a="))
        .filter(|a| !a.is_empty())
        .map(|a| a.replace("=2C", ",").replace("=3D", "="));
    let token = rest
        .split('\x01')
        .find_map(|kv| kv.strip_prefix("auth="))
        .and_then(bearer_of)?;
    Some(Bearer { user, token })
}

fn bearer_of(auth: &str) -> Option<String> {
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty() && token.len() <= 4_096).then(|| token.to_string())
}

/// RFC 7628 §3.2.2: the error a server sends as its challenge when the token is refused.
pub fn failure_challenge(scope: &str) -> String {
    STANDARD.encode(
        serde_json::json!({ "status": "invalid_token", "scope": scope, "schemes": "bearer" })
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mechanisms_give_the_user_and_the_token_and_nothing_else_is_accepted() {
        let x = STANDARD.encode("user=ann@example.nhs.uk\x01auth=Bearer abc.def\x01\x01");
        assert_eq!(
            parse("XOAUTH2", &x),
            Some(Bearer {
                user: Some("ann@example.nhs.uk".into()),
                token: "abc.def".into()
            })
        );
        let o = STANDARD.encode(
            "n,a=ann@example.nhs.uk,\x01host=127.0.0.1\x01port=143\x01auth=Bearer t1\x01\x01",
        );
        assert_eq!(
            parse("OAUTHBEARER", &o),
            Some(Bearer {
                user: Some("ann@example.nhs.uk".into()),
                token: "t1".into()
            })
        );
        assert_eq!(parse("PLAIN", &STANDARD.encode("\0ann\0password")), None);
        assert_eq!(parse("XOAUTH2", "not base64!"), None);
        assert_eq!(
            parse(
                "XOAUTH2",
                &STANDARD.encode("user=ann\x01auth=Basic x\x01\x01")
            ),
            None
        );
        assert_eq!(
            parse(
                "OAUTHBEARER",
                &STANDARD.encode("p=tls-unique,,\x01auth=Bearer t\x01\x01")
            ),
            None
        );
    }
}
