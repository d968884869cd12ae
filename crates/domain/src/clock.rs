//! The time source. Domain code takes `now` as a parameter; only this module reads the
//! system clock, so tests can move a fake clock instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now(&self) -> UnixTime {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Milliseconds of the system clock, for putting new keys in order (the stamps of OpenID
/// Connect codes and tokens) and never for a decision: decisions take `now` from the Clock.
#[allow(clippy::disallowed_methods)] // the one place that reads the system clock
pub fn ordering_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A clock that tests move by hand.
#[derive(Clone)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    pub fn starting_at(t: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(t)))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text for a Unix time, as logs, the outbox and the audit trail show it.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A time as people read it on a page, e.g. "27 November 2026 at 17:51 (UTC)".
pub fn human(t: UnixTime) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year] at [hour]:[minute] (UTC)"
    );
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

/// A date as people read it, e.g. "27 November 2026".
pub fn human_date(t: UnixTime) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_and_as_people_read_them() {
        assert_eq!(rfc3339(1_722_470_400), "2024-08-01T00:00:00Z");
        assert_eq!(human(1_722_470_400), "1 August 2024 at 00:00 (UTC)");
    }

    #[test]
    fn a_fake_clock_moves_only_when_told() {
        let clock = FakeClock::starting_at(100);
        assert_eq!(clock.now(), 100);
        clock.advance(30);
        assert_eq!(clock.now(), 130);
    }
}
