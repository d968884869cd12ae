//! The counts that slow down and stop password guessing (TH-1, TH-2), kept in the database so
//! that every node sees them:
//! - per email typed (known or not, so a lock tells nothing about whether an account exists):
//!   delays that double after 5 consecutive failures, then a lock for a while at `lock_after`;
//! - per client address (IPv4 address, IPv6 /64): a ceiling of failures per window, so one
//!   source cannot try many accounts. A lock is temporary and ends by itself.
//!
//! Every other flow with a limit (second factors, texts and calls, reset starts, feedback)
//! keeps its count here too, under a key of its own.

use std::future::Future;
use std::net::IpAddr;

use crate::StorageError;
use crate::accounts::normalize_email;
use crate::clock::UnixTime;

/// Consecutive failures on one email before each further attempt must wait.
const FREE_TRIES: i64 = 5;
/// Failures on an email are counted as consecutive when within this long of the first.
pub(crate) const EMAIL_WINDOW: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub failures: i64,
    pub window_start: UnixTime,
    pub blocked_until: UnixTime,
}

pub trait SignInLimitRecords {
    fn limit_state(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<LimitState>, StorageError>> + Send;
    /// The states of an email's and a client address's limits, in one query.
    fn limit_states(
        &self,
        email_key: &str,
        ip_key: &str,
    ) -> impl Future<Output = Result<(Option<LimitState>, Option<LimitState>), StorageError>> + Send;
    /// Counts one failure atomically, starting a new window when the current one began before
    /// `window_floor`; returns the state after counting.
    fn count_failure(
        &self,
        key: &str,
        now: UnixTime,
        window_floor: UnixTime,
    ) -> impl Future<Output = Result<LimitState, StorageError>> + Send;
    /// Check and record in one atomic step: locks the rows of `keys` (created empty when
    /// absent: no failures, window 0, not blocked), lets `decide` read and change their states
    /// (given in the order of `keys`), writes what it changed and returns its verdict. Requests
    /// for the same keys on any node take their turn, so a burst gets exactly what the same
    /// requests one after another would.
    fn reserve<T, F>(
        &self,
        keys: &[&str],
        decide: F,
    ) -> impl Future<Output = Result<T, StorageError>> + Send
    where
        T: Send,
        F: FnOnce(&mut [LimitState]) -> T + Send;
    fn block_until(
        &self,
        key: &str,
        until: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn clear_limit(&self, key: &str) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Takes back one failure counted in advance, for an attempt that turned out not to be a
    /// guess (a right code that had already been used); never below zero.
    fn uncount_failure(&self, key: &str) -> impl Future<Output = Result<(), StorageError>> + Send;
}

pub fn email_limit_key(email: &str) -> String {
    format!("signin:email:{}", normalize_email(email))
}

pub fn ip_limit_key(ip: &str) -> String {
    format!("signin:ip:{}", client_source(ip))
}

/// The source a client address stands for when counting: IPv6 clients usually hold a whole
/// /64, so that is one source.
pub fn client_source(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

/// How long an email must wait after `failures` consecutive failures.
pub fn email_delay(failures: i64, limits: &SignInLimits) -> i64 {
    if failures >= limits.lock_after {
        limits.lock_seconds
    } else if failures >= FREE_TRIES {
        1 << (failures - FREE_TRIES).min(20)
    } else {
        0
    }
}

/// The count of one known browser of the address.
pub fn known_device_limit_key(email: &str, device: &str) -> String {
    format!("{}:device:{device}", email_limit_key(email))
}

/// When wrong passwords slow down and lock an account, and when one address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLimits {
    pub lock_after: i64,
    pub lock_seconds: i64,
    pub ip_max_failures: i64,
    pub ip_window_seconds: i64,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            lock_after: 10,
            lock_seconds: 15 * 60,
            ip_max_failures: 50,
            ip_window_seconds: 15 * 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_five_failures_then_the_account_locks() {
        let limits = SignInLimits::default();
        let delays: Vec<i64> = (1..=11).map(|n| email_delay(n, &limits)).collect();
        assert_eq!(delays, vec![0, 0, 0, 0, 1, 2, 4, 8, 16, 900, 900]);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            ip_limit_key("2001:db8:1:2:aaaa::1"),
            ip_limit_key("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(
            ip_limit_key("2001:db8:1:2::1"),
            ip_limit_key("2001:db8:1:3::1")
        );
        assert_eq!(ip_limit_key("::ffff:192.0.2.7"), "signin:ip:192.0.2.7");
        assert_eq!(ip_limit_key("192.0.2.7"), "signin:ip:192.0.2.7");
    }

    #[test]
    fn emails_are_limited_whatever_their_case() {
        assert_eq!(
            email_limit_key(" Ann@NHS.uk"),
            email_limit_key("ann@nhs.uk")
        );
    }
}
