//! Trusted networks in the policy (issue 24): address ranges (CIDR, IPv4 and IPv6) where a
//! person's known device signs in without the second factor, or where, in the stricter mode,
//! "Don't ask again on this device" lasts longer. Off until a range is named; never for
//! administrators; the rollout's enrolment is required all the same. Which address counts is
//! the web layer's: the TCP peer, or `X-Forwarded-For` only from configured trusted proxies.

use std::net::IpAddr;

use ipnet::IpNet;

/// What a trusted network does for a person's sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustMode {
    /// A known device of the person (one that finished a sign-in of theirs in the last 90
    /// days) is not asked for the second factor.
    Skip,
    /// Stricter: only a device the person chose "Don't ask again on this device" for, and that
    /// choice lasts twice as long on the network.
    Remembered,
}

impl TrustMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustMode::Skip => "skip",
            TrustMode::Remembered => "remembered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "skip" => Some(TrustMode::Skip),
            "remembered" => Some(TrustMode::Remembered),
            _ => None,
        }
    }
}

/// The trusted-network settings as stored for one scope: unset fields inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    pub trusted: Option<Vec<IpNet>>,
    pub mode: Option<TrustMode>,
}

/// The trusted-network rules that apply to one organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub trusted: Vec<IpNet>,
    pub mode: Option<TrustMode>,
}

impl NetworkPolicy {
    pub fn effective(national: &NetworkSettings, org: &NetworkSettings) -> Self {
        let trusted = org
            .trusted
            .clone()
            .or_else(|| national.trusted.clone())
            .unwrap_or_default();
        let mode =
            (!trusted.is_empty()).then(|| org.mode.or(national.mode).unwrap_or(TrustMode::Skip));
        NetworkPolicy { trusted, mode }
    }

    /// What the network at `address` (as the web layer determined it) does, if it is trusted.
    pub fn trust_at(&self, address: &str) -> Option<TrustMode> {
        let ip: IpAddr = address.parse().ok()?;
        // An IPv4 client seen through an IPv6 socket is matched as IPv4.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted
            .iter()
            .any(|net| net.contains(&ip))
            .then_some(self.mode)
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "{0:?} is not a network: write each as an address and prefix length, such as 10.0.0.0/8 or 2001:db8::/32"
    )]
    BadNetwork(String),
    #[error("a list of trusted networks holds at most {MAX_NETWORKS} networks")]
    TooMany,
    #[error("the trusted-network mode is skip or remembered (got {0:?})")]
    BadMode(String),
}

const MAX_NETWORKS: usize = 200;

/// A list as an administrator types it: CIDR networks separated by commas or spaces; "none"
/// (or nothing) for an empty list. A bare address is not a network (a /32 must be written).
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, NetworkError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let net: IpNet = part
            .parse()
            .map_err(|_| NetworkError::BadNetwork(part.to_string()))?;
        let net = net.trunc();
        if !out.contains(&net) {
            out.push(net);
        }
    }
    if out.len() > MAX_NETWORKS {
        return Err(NetworkError::TooMany);
    }
    Ok(out)
}

pub fn parse_mode(text: &str) -> Result<TrustMode, NetworkError> {
    TrustMode::parse(text).ok_or_else(|| NetworkError::BadMode(text.to_string()))
}

/// A list as stored and shown: comma-separated.
pub fn network_list(nets: &[IpNet]) -> String {
    nets.iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Applies what a change sets.
pub(crate) fn apply(settings: &mut NetworkSettings, change: &NetworkSettings) {
    if change.trusted.is_some() {
        settings.trusted = change.trusted.clone();
    }
    if change.mode.is_some() {
        settings.mode = change.mode;
    }
}

/// The settings' part of the policy's one-line description.
pub(crate) fn describe(s: &NetworkSettings, parts: &mut Vec<String>) {
    if let Some(nets) = &s.trusted {
        parts.push(if nets.is_empty() {
            "no trusted networks".into()
        } else {
            format!("trusted networks {}", network_list(nets))
        });
    }
    if let Some(mode) = s.mode {
        parts.push(format!("trusted-network mode {}", mode.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(nets: &str, mode: Option<TrustMode>) -> NetworkPolicy {
        NetworkPolicy::effective(
            &NetworkSettings {
                trusted: Some(parse_networks(nets).expect("networks")),
                mode,
            },
            &NetworkSettings::default(),
        )
    }

    #[test]
    fn addresses_inside_a_trusted_network_are_trusted_ipv4_and_ipv6() {
        let p = policy("10.0.0.0/8, 2001:db8::/32", None);
        assert_eq!(p.trust_at("10.1.2.3"), Some(TrustMode::Skip));
        assert_eq!(p.trust_at("2001:db8::1"), Some(TrustMode::Skip));
        assert_eq!(p.trust_at("::ffff:10.1.2.3"), Some(TrustMode::Skip));
        assert_eq!(p.trust_at("11.0.0.1"), None);
        assert_eq!(p.trust_at("2001:db9::1"), None);
        assert_eq!(p.trust_at("local"), None);
        assert_eq!(p.trust_at(""), None);
    }

    #[test]
    fn off_by_default_and_the_organisation_overrides_the_nation() {
        let none =
            NetworkPolicy::effective(&NetworkSettings::default(), &NetworkSettings::default());
        assert_eq!(none.trust_at("10.1.2.3"), None);
        let national = NetworkSettings {
            trusted: Some(parse_networks("10.0.0.0/8").expect("nets")),
            mode: Some(TrustMode::Remembered),
        };
        let org = NetworkSettings {
            trusted: Some(vec![]),
            mode: None,
        };
        assert_eq!(
            NetworkPolicy::effective(&national, &NetworkSettings::default()).trust_at("10.0.0.1"),
            Some(TrustMode::Remembered)
        );
        assert_eq!(
            NetworkPolicy::effective(&national, &org).trust_at("10.0.0.1"),
            None
        );
    }

    #[test]
    fn lists_are_read_as_typed_and_garbage_is_refused() {
        assert_eq!(
            network_list(&parse_networks("10.1.2.3/8 192.168.0.0/16,10.0.0.0/8").expect("ok")),
            "10.0.0.0/8,192.168.0.0/16"
        );
        assert_eq!(parse_networks("none").ok(), Some(vec![]));
        for bad in ["10.0.0.1", "10.0.0.0/33", "intranet", "::/129"] {
            assert!(parse_networks(bad).is_err(), "{bad}");
        }
        assert!(
            parse_networks(&vec!["10.0.0.0/8"; 300].join(",")).is_ok(),
            "duplicates merge"
        );
        let many: Vec<String> = (0..=MAX_NETWORKS)
            .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
            .collect();
        assert_eq!(parse_networks(&many.join(",")), Err(NetworkError::TooMany));
    }
}
