//! The addresses a client may register and be sent back to: OI-3's character-for-character
//! match, and RFC 8252's loopback redirects for native apps.

use super::clients::{Client, ClientError};

const MAX_URI: usize = 2_000;

/// A redirect (or post-logout redirect) URI a client may register: absolute, no fragment, no
/// user name or password; https, or http only to this machine (`localhost`, `127.0.0.1`,
/// `[::1]`, any port) for native apps and development (RFC 8252 §7.3, §8.3). Private-use URI
/// schemes (RFC 8252 §7.1) are not accepted.
pub fn check_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let bad = |why: &str| Err(ClientError::BadUri(format!("redirect URI {uri:?}: {why}")));
    if uri.is_empty() || uri.len() > MAX_URI {
        return bad("must be 1 to 2000 characters");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces");
    }
    if uri.contains('#') {
        return bad("must not have a fragment (#)");
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return bad("must be an absolute URL such as https://app.example/callback");
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return bad("must not contain a user name or password");
    }
    let loopback = matches!(
        parsed.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bad("must use https (http only for localhost or 127.0.0.1)"),
        _ => bad("must be an https URL"),
    }
}

/// Whether a URL's host is a loopback IP literal (127.0.0.1 or ::1).
pub fn is_loopback_ip(host: Option<url::Host<&str>>) -> bool {
    matches!(
        host,
        Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    )
}

/// Whether `requested` is one of the client's redirect URIs: character for character (OI-3),
/// except that a native app's loopback IP redirect matches on any port (RFC 8252 §7.3: the app
/// listens on whatever port it was given when the sign-in starts).
pub fn redirect_uri_registered(client: &Client, requested: &str) -> bool {
    client.redirect_uris.iter().any(|registered| {
        registered == requested || client.native && same_but_port(registered, requested)
    })
}

fn same_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    if a.scheme() != "http" || !is_loopback_ip(a.host()) {
        return false;
    }
    let (Ok(()), Ok(())) = (a.set_port(None), b.set_port(None)) else {
        return false;
    };
    a == b && !requested.contains('#')
}
