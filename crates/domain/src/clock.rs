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

/// A UK local time (Europe/London: GMT in winter, BST in summer), the zone staff work in.
fn uk(t: UnixTime) -> Option<chrono::DateTime<chrono_tz::Tz>> {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.with_timezone(&chrono_tz::Europe::London))
}

/// A time as people read it on a page or in an email, in UK time and the NHS.UK style, e.g.
/// "27 November 2026 at 5:51pm (UK time)"; "midday" and "midnight" for 12:00.
pub fn human(t: UnixTime) -> String {
    let Some(d) = uk(t) else {
        return t.to_string();
    };
    let time = match d.format("%H:%M").to_string().as_str() {
        "00:00" => "midnight".to_string(),
        "12:00" => "midday".to_string(),
        _ => d.format("%-I:%M%P").to_string(),
    };
    format!("{} at {time} (UK time)", d.format("%-d %B %Y"))
}

/// The start of a day in UK time, given the start of the same date in UTC (as
/// `policy::parse_date` reads a typed date): what "from 6 December" means to a person in the UK.
pub fn uk_day_start(utc_midnight: UnixTime) -> UnixTime {
    use chrono::TimeZone;
    chrono::DateTime::from_timestamp(utc_midnight, 0)
        .and_then(|d| {
            chrono_tz::Europe::London
                .from_local_datetime(&d.naive_utc())
                .earliest()
        })
        .map_or(utc_midnight, |d| d.timestamp())
}

/// A date as people read it, in UK time, e.g. "27 November 2026".
pub fn human_date(t: UnixTime) -> String {
    uk(t).map_or_else(|| t.to_string(), |d| d.format("%-d %B %Y").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_and_as_people_read_them() {
        assert_eq!(rfc3339(1_722_470_400), "2024-08-01T00:00:00Z");
        // Summer: BST is UTC+1.
        assert_eq!(human(1_722_470_400), "1 August 2024 at 1:00am (UK time)");
        assert_eq!(
            human(1_722_470_400 - 3600),
            "1 August 2024 at midnight (UK time)"
        );
        // Winter: GMT, and afternoon times read as pm.
        assert_eq!(human(1_800_000_000), "15 January 2027 at 8:00am (UK time)");
        assert_eq!(
            human(1_800_000_000 + 9 * 3600 + 30 * 60),
            "15 January 2027 at 5:30pm (UK time)"
        );
        assert_eq!(
            human(1_800_000_000 + 4 * 3600),
            "15 January 2027 at midday (UK time)"
        );
        // The clocks go back at 01:00 UTC on the last Sunday of October.
        assert_eq!(
            human(1_792_890_000 - 1),
            "25 October 2026 at 1:59am (UK time)"
        );
        assert_eq!(human(1_792_890_000), "25 October 2026 at 1:00am (UK time)");
        assert_eq!(human_date(1_722_470_400 - 1800), "1 August 2024");
        // A typed date starts at UK midnight: an hour before UTC's in summer, at it in winter.
        assert_eq!(uk_day_start(1_722_470_400), 1_722_470_400 - 3600);
        assert_eq!(uk_day_start(1_796_515_200), 1_796_515_200);
    }

    #[test]
    fn a_fake_clock_moves_only_when_told() {
        let clock = FakeClock::starting_at(100);
        assert_eq!(clock.now(), 100);
        clock.advance(30);
        assert_eq!(clock.now(), 130);
    }
}
