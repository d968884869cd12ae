//! GeoIP: the approximate place of a client address, from a database in MaxMind DB format
//! (GeoIP2 or GeoLite2 City or Country, or another of that layout such as DB-IP's). Optional:
//! without a database the location signals of sign-in risk are off.

/// Writes GeoIP databases for tests and scripts: compiled with the `fixtures` feature (the
/// portal's own tests and nhsmal-dev ask for it; the product build does not).
#[cfg(feature = "fixtures")]
pub mod writer;

use std::net::IpAddr;
use std::path::Path;

use maxminddb::geoip2;

/// Where an address probably is. A Country database has no coordinates, so `latitude` and
/// `longitude` are optional; a City database has them for most addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2, such as "GB".
    pub country: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The database's radius of confidence around the coordinates (67 % for MaxMind).
    pub accuracy_km: Option<u16>,
    /// The city's English name, when the database has one.
    pub city: Option<String>,
}

impl Place {
    /// A place with coordinates, such as a test or the dev command builds.
    pub fn at(country: &str, latitude: f64, longitude: f64) -> Self {
        Self {
            country: country.to_string(),
            latitude: Some(latitude),
            longitude: Some(longitude),
            accuracy_km: None,
            city: None,
        }
    }

    pub fn city(mut self, name: &str) -> Self {
        self.city = Some(name.to_string());
        self
    }

    pub fn accuracy_km(mut self, km: u16) -> Self {
        self.accuracy_km = Some(km);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read {path}: {problem}")]
    Unreadable { path: String, problem: String },
    #[error("{path} is not a MaxMind DB file ({problem})")]
    NotMaxMind { path: String, problem: String },
    #[error("{path} is a \"{kind}\" database; a City or Country database is needed")]
    WrongKind { path: String, kind: String },
    /// The writer's input is wrong (see `writer`).
    #[error("{0}")]
    BadEntry(String),
}

/// An opened GeoIP database, held in memory (a City database is some tens of MB) and shared by
/// every request.
pub struct GeoIpDatabase {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIpDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meta = self.reader.metadata();
        f.debug_struct("GeoIpDatabase")
            .field("database_type", &meta.database_type)
            .field("build_epoch", &meta.build_epoch)
            .finish()
    }
}

impl GeoIpDatabase {
    /// Opens a City or Country database; anything else (a file that is not MMDB, an ASN or
    /// anonymous-IP database) is refused with a one-line error naming the file.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| GeoError::Unreadable {
            path: shown.clone(),
            problem: e.to_string(),
        })?;
        Self::from_bytes(bytes, &shown)
    }

    /// The same checks as `open`, on bytes in memory; `name` is what errors call them.
    pub fn from_bytes(bytes: Vec<u8>, name: &str) -> Result<Self, GeoError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| GeoError::NotMaxMind {
            path: name.to_string(),
            problem: one_line(&e.to_string()),
        })?;
        let kind = reader.metadata().database_type.clone();
        // MaxMind names them GeoIP2-City, GeoLite2-Country, GeoIP2-Enterprise; DB-IP
        // DBIP-City-Lite; our writer NHSmal-Test-City. ASN, ISP, Anonymous-IP and the like have
        // no country and are refused.
        if !["City", "Country", "Enterprise"]
            .iter()
            .any(|k| kind.contains(k))
        {
            return Err(GeoError::WrongKind {
                path: name.to_string(),
                kind,
            });
        }
        Ok(Self { reader })
    }

    /// `database_type` from the file's metadata, such as "GeoLite2-City".
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When the database was built (Unix seconds): an admin page can say how old it is.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The place of a public address; `None` for private, loopback, link-local and other
    /// non-routable addresses, for addresses the database does not cover, and for records
    /// without a country. Never panics: a damaged record is `None` too.
    pub fn place_of(&self, ip: IpAddr) -> Option<Place> {
        // ::ffff:a.b.c.d is the IPv4 address a.b.c.d (dual-stack sockets report it so); the
        // IPv4 part of the tree is where it is.
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if !is_public(ip) {
            return None;
        }
        let found = self.reader.lookup(ip).ok()?;
        let record: geoip2::City<'_> = found.decode().ok()??;
        // Anonymous proxies and satellite providers have only the registered country.
        let country = record
            .country
            .iso_code
            .or(record.registered_country.iso_code)?;
        Some(Place {
            country: country.to_string(),
            latitude: record.location.latitude,
            longitude: record.location.longitude,
            accuracy_km: record.location.accuracy_radius,
            city: record.city.names.english.map(str::to_string),
        })
    }
}

/// False for addresses that no GeoIP database places: private (RFC 1918, unique local),
/// loopback, link-local, unspecified, broadcast and multicast. Documentation ranges count as
/// public, so that tests can place 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local())
        }
    }
}

/// The great-circle distance between two places (haversine, on a sphere of the Earth's mean
/// radius); `None` unless both have coordinates. Accurate to about 0.5 %, plenty for telling
/// a train journey from a flight.
pub fn distance_km(a: &Place, b: &Place) -> Option<f64> {
    Some(domain::risk::distance_km(
        a.latitude?,
        a.longitude?,
        b.latitude?,
        b.longitude?,
    ))
}

fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::writer::{Network, build_database};
    use super::*;

    fn london() -> Place {
        Place::at("GB", 51.5074, -0.1278).city("London")
    }

    fn manchester() -> Place {
        Place::at("GB", 53.4808, -2.2426).city("Manchester")
    }

    fn sydney() -> Place {
        Place::at("AU", -33.8688, 151.2093).city("Sydney")
    }

    fn near(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    #[test]
    fn london_to_manchester_is_about_262_km() {
        let d = distance_km(&london(), &manchester()).expect("both have coordinates");
        assert!(near(d, 262.0, 3.0), "{d}");
        assert_eq!(distance_km(&manchester(), &london()), Some(d));
    }

    #[test]
    fn london_to_sydney_is_about_16990_km() {
        let d = distance_km(&london(), &sydney()).expect("both have coordinates");
        assert!(near(d, 16_990.0, 30.0), "{d}");
    }

    #[test]
    fn a_place_is_no_distance_from_itself_and_antipodes_are_half_way_round() {
        assert_eq!(distance_km(&london(), &london()), Some(0.0));
        let north = Place::at("XX", 90.0, 0.0);
        let south = Place::at("XX", -90.0, 0.0);
        let d = distance_km(&north, &south).expect("coordinates");
        assert!(near(d, std::f64::consts::PI * 6_371.0, 0.001), "{d}");
    }

    #[test]
    fn a_place_without_coordinates_has_no_distance() {
        let country_only = Place {
            latitude: None,
            longitude: None,
            ..london()
        };
        assert_eq!(distance_km(&london(), &country_only), None);
    }

    fn test_database() -> GeoIpDatabase {
        let entries = vec![
            (Network::parse("81.2.69.0/24").expect("net"), london()),
            (
                Network::parse("2a02:c7f::/32").expect("net"),
                manchester().accuracy_km(20),
            ),
            (
                Network::parse("1.128.0.0/11").expect("net"),
                Place {
                    latitude: None,
                    longitude: None,
                    city: None,
                    ..sydney()
                },
            ),
            // Private ranges are refused at lookup even when a database covers them.
            (Network::parse("10.0.0.0/8").expect("net"), london()),
        ];
        let bytes = build_database(&entries, 1_800_000_000).expect("database builds");
        GeoIpDatabase::from_bytes(bytes, "test.mmdb").expect("opens")
    }

    #[test]
    fn addresses_are_placed_by_the_database() {
        let db = test_database();
        assert_eq!(db.database_type(), "NHSmal-Test-City");
        assert_eq!(db.build_epoch(), 1_800_000_000);
        assert_eq!(
            db.place_of("81.2.69.160".parse().expect("ip")),
            Some(london())
        );
        assert_eq!(
            db.place_of("::ffff:81.2.69.1".parse().expect("ip")),
            Some(london())
        );
        assert_eq!(
            db.place_of("2a02:c7f:1234::1".parse().expect("ip")),
            Some(manchester().accuracy_km(20))
        );
        let country_only = db
            .place_of("1.130.0.1".parse().expect("ip"))
            .expect("covered");
        assert_eq!(country_only.country, "AU");
        assert_eq!(country_only.latitude, None);
    }

    #[test]
    fn private_loopback_and_uncovered_addresses_have_no_place() {
        let db = test_database();
        for ip in [
            "10.1.2.3",
            "127.0.0.1",
            "192.168.1.1",
            "169.254.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::",
            "81.2.70.1",
            "2a03::1",
        ] {
            assert_eq!(db.place_of(ip.parse().expect("ip")), None, "{ip}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_city_or_country_database_is_refused_in_one_line() {
        let err = GeoIpDatabase::from_bytes(b"not a database".to_vec(), "x.mmdb").unwrap_err();
        assert!(matches!(err, GeoError::NotMaxMind { .. }), "{err}");
        assert!(!err.to_string().contains('\n'));
        let asn = writer::build_database_of_type(&[], 0, "GeoLite2-ASN").expect("builds");
        let err = GeoIpDatabase::from_bytes(asn, "asn.mmdb").unwrap_err();
        assert_eq!(
            err.to_string(),
            "asn.mmdb is a \"GeoLite2-ASN\" database; a City or Country database is needed"
        );
        let dir = tempfile::tempdir().expect("dir");
        let err = GeoIpDatabase::open(&dir.path().join("absent.mmdb")).unwrap_err();
        assert!(matches!(err, GeoError::Unreadable { .. }), "{err}");
    }

    proptest::proptest! {
        // As many cases as `PROPTEST_CASES` asks (scripts/fuzz), 64 in `cargo test`.
        #![proptest_config(proptest::test_runner::Config::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ))]

        /// Hostile input (issue 18): a GeoIP file of any bytes is opened or refused, never a panic.
        #[test]
        fn geoip_files_of_any_bytes_are_opened_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            if let Ok(db) = GeoIpDatabase::from_bytes(bytes, "fuzz.mmdb") {
                let _ = db.place_of("192.0.2.1".parse().expect("ip"));
                let _ = db.place_of("2001:db8::1".parse().expect("ip"));
            }
        }
    }
}
