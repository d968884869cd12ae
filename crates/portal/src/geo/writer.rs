//! A small writer of MaxMind DB files (binary format 2.0), so that tests, browser tests and
//! scripts can build a GeoIP database of their own: real ones cannot be downloaded here, and
//! MaxMind's licence does not let us ship one. Written from the format specification
//! (<https://maxmind.github.io/MaxMind-DB/>), checked against the `maxminddb` reader in tests.
//!
//! Layout: an IPv6 search tree (`ip_version` 6) in which IPv4 networks sit under `::/96`, as in
//! MaxMind's own databases (without their aliases from `::ffff:0:0/96` and `2002::/16`: our
//! reader turns IPv4-mapped addresses into IPv4 itself); 16 zero bytes; a data section with one
//! inline record per distinct place, in GeoIP2 City shape; the metadata marker and map.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{GeoError, Place};

/// The `database_type` our databases carry ("GeoIP" names are MaxMind's own).
pub const DATABASE_TYPE: &str = "NHSmal-Test-City";

/// An IP network, such as `81.2.69.0/24` or `2a02:c7f::/32`; a bare address is one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Network {
    /// Parses CIDR notation; host bits set below the prefix are refused as a likely typo.
    pub fn parse(text: &str) -> Result<Self, GeoError> {
        let bad = |problem: &str| GeoError::BadEntry(format!("network {text:?}: {problem}"));
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| bad("not an IP address"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| bad(&format!("the prefix must be 0 to {width}")))?,
            None => width,
        };
        let network = Self { address, prefix };
        let (bits, depth) = network.tree_position();
        if bits & !mask(depth) != 0 {
            return Err(bad("has bits set after the prefix"));
        }
        Ok(network)
    }

    /// The network's bits and prefix length in the 128-bit tree: IPv4 under `::/96`.
    fn tree_position(&self) -> (u128, u8) {
        match self.address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + self.prefix),
            IpAddr::V6(v6) => (u128::from(v6), self.prefix),
        }
    }
}

impl std::str::FromStr for Network {
    type Err = GeoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The top `prefix` bits of 128 set.
fn mask(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p)),
    }
}

/// The bytes of a City database (`NHSmal-Test-City`) that places each network's addresses at
/// its place. Where networks overlap, the longer prefix wins; of two equal ones, the later.
pub fn build_database(entries: &[(Network, Place)], build_epoch: u64) -> Result<Vec<u8>, GeoError> {
    build_database_of_type(entries, build_epoch, DATABASE_TYPE)
}

/// As `build_database`, with another `database_type` (tests of what the reader refuses).
pub fn build_database_of_type(
    entries: &[(Network, Place)],
    build_epoch: u64,
    database_type: &str,
) -> Result<Vec<u8>, GeoError> {
    build(entries, build_epoch, database_type, None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Empty,
    Node(u32),
    /// An index into the list of encoded records.
    Data(usize),
}

fn build(
    entries: &[(Network, Place)],
    build_epoch: u64,
    database_type: &str,
    record_size: Option<u16>,
) -> Result<Vec<u8>, GeoError> {
    for (network, place) in entries {
        check_place(network, place)?;
    }
    // Data section: one record per distinct place, each found by its offset.
    let mut data = Vec::new();
    let mut offsets: Vec<usize> = Vec::new();
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut data_of_entry = Vec::with_capacity(entries.len());
    for (_, place) in entries {
        let encoded = encode_place(place);
        let index = *seen.entry(encoded.clone()).or_insert_with(|| {
            offsets.push(data.len());
            data.extend_from_slice(&encoded);
            offsets.len() - 1
        });
        data_of_entry.push(index);
    }

    // Search tree: shorter prefixes first, so that a longer one inserted later splits the
    // record it lands in (copying the shorter one's data to both halves) and wins.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].0.tree_position().1);
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for i in order {
        let (bits, depth) = entries[i].0.tree_position();
        let data = Record::Data(data_of_entry[i]);
        if depth == 0 {
            // ::/0 covers both halves of the root.
            nodes[0] = [data, data];
            continue;
        }
        let mut node = 0usize;
        for level in 0..depth {
            let side = ((bits >> (127 - u32::from(level))) & 1) as usize;
            if level + 1 == depth {
                nodes[node][side] = data;
                break;
            }
            node = match nodes[node][side] {
                Record::Node(next) => next as usize,
                inherited => {
                    let next = nodes.len();
                    let children = match inherited {
                        Record::Data(_) => [inherited, inherited],
                        _ => [Record::Empty; 2],
                    };
                    nodes.push(children);
                    nodes[node][side] = Record::Node(next as u32);
                    next
                }
            };
        }
    }

    let node_count = nodes.len() as u64;
    let largest = node_count + 16 + data.len() as u64;
    let record_size = match record_size {
        Some(size) => size,
        None if largest < 1 << 24 => 24,
        None if largest < 1 << 28 => 28,
        None => 32,
    };
    if largest >= 1u64 << record_size {
        return Err(GeoError::BadEntry(
            "too much data for a MaxMind DB file".into(),
        ));
    }
    let value = |record: Record| -> u32 {
        // Fits: checked against `largest` above.
        (match record {
            Record::Empty => node_count,
            Record::Node(n) => u64::from(n),
            Record::Data(i) => node_count + 16 + offsets[i] as u64,
        }) as u32
    };

    let mut out = Vec::with_capacity(nodes.len() * 8 + data.len() + 512);
    for [left, right] in &nodes {
        let (l, r) = (value(*left), value(*right));
        match record_size {
            24 => {
                out.extend_from_slice(&l.to_be_bytes()[1..]);
                out.extend_from_slice(&r.to_be_bytes()[1..]);
            }
            // The top four bits of each record share the middle byte, the left's first.
            28 => {
                out.extend_from_slice(&l.to_be_bytes()[1..]);
                out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                out.extend_from_slice(&r.to_be_bytes()[1..]);
            }
            _ => {
                out.extend_from_slice(&l.to_be_bytes());
                out.extend_from_slice(&r.to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
    let mut meta = Encoder::default();
    meta.map(9);
    meta.string("binary_format_major_version");
    meta.unsigned(UINT16, 2);
    meta.string("binary_format_minor_version");
    meta.unsigned(UINT16, 0);
    meta.string("build_epoch");
    meta.unsigned(UINT64, build_epoch);
    meta.string("database_type");
    meta.string(database_type);
    meta.string("description");
    meta.map(1);
    meta.string("en");
    meta.string("NHSmal test GeoIP database");
    meta.string("ip_version");
    meta.unsigned(UINT16, 6);
    meta.string("languages");
    meta.array(1);
    meta.string("en");
    meta.string("node_count");
    meta.unsigned(UINT32, node_count);
    meta.string("record_size");
    meta.unsigned(UINT16, u64::from(record_size));
    out.extend_from_slice(&meta.bytes);
    Ok(out)
}

/// What a real database could hold: a two-letter country, coordinates on the globe, a city name
/// of sensible length. Keeps the encoder free of size cases it never needs.
fn check_place(network: &Network, place: &Place) -> Result<(), GeoError> {
    let bad = |problem: &str| {
        GeoError::BadEntry(format!("{}/{}: {problem}", network.address, network.prefix))
    };
    if place.country.len() != 2 || !place.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("the country must be two capital letters, such as GB"));
    }
    if place.latitude.is_some() != place.longitude.is_some() {
        return Err(bad("give both latitude and longitude, or neither"));
    }
    if place.latitude.is_some_and(|l| !(-90.0..=90.0).contains(&l)) {
        return Err(bad("the latitude must be from -90 to 90"));
    }
    if place
        .longitude
        .is_some_and(|l| !(-180.0..=180.0).contains(&l))
    {
        return Err(bad("the longitude must be from -180 to 180"));
    }
    if place
        .city
        .as_ref()
        .is_some_and(|c| c.trim().is_empty() || c.len() > 200)
    {
        return Err(bad("the city name must have 1 to 200 bytes"));
    }
    Ok(())
}

/// `{"country":{"iso_code"},"location":{"latitude","longitude","accuracy_radius"},
/// "city":{"names":{"en"}}}`, the parts of GeoIP2 City that `Place` has.
fn encode_place(place: &Place) -> Vec<u8> {
    let mut e = Encoder::default();
    let has_location = place.latitude.is_some() || place.accuracy_km.is_some();
    e.map(1 + usize::from(has_location) + usize::from(place.city.is_some()));
    e.string("country");
    e.map(1);
    e.string("iso_code");
    e.string(&place.country);
    if has_location {
        let fields =
            usize::from(place.latitude.is_some()) * 2 + usize::from(place.accuracy_km.is_some());
        e.string("location");
        e.map(fields);
        if let (Some(latitude), Some(longitude)) = (place.latitude, place.longitude) {
            e.string("latitude");
            e.double(latitude);
            e.string("longitude");
            e.double(longitude);
        }
        if let Some(km) = place.accuracy_km {
            e.string("accuracy_radius");
            e.unsigned(UINT16, u64::from(km));
        }
    }
    if let Some(city) = &place.city {
        e.string("city");
        e.map(1);
        e.string("names");
        e.map(1);
        e.string("en");
        e.string(city);
    }
    e.bytes
}

// Type numbers of the data section.
const STRING: u8 = 2;
const DOUBLE: u8 = 3;
const UINT16: u8 = 5;
const UINT32: u8 = 6;
const MAP: u8 = 7;
const UINT64: u8 = 9;
const ARRAY: u8 = 11;

/// Data-section fields, each a control byte (type in the top three bits, or 0 and the type
/// minus 7 in the next byte; size in the low five), the size's extra bytes, then the payload.
#[derive(Default)]
struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    fn control(&mut self, kind: u8, size: usize) {
        let (low, extra): (u8, Vec<u8>) = if size < 29 {
            (size as u8, vec![])
        } else if size < 285 {
            (29, vec![(size - 29) as u8])
        } else if size < 65_821 {
            (30, ((size - 285) as u16).to_be_bytes().to_vec())
        } else {
            // Sizes are bounded by `check_place`; this arm is for completeness.
            (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
        };
        if kind <= 7 {
            self.bytes.push(kind << 5 | low);
        } else {
            self.bytes.push(low);
            self.bytes.push(kind - 7);
        }
        self.bytes.extend_from_slice(&extra);
    }

    fn string(&mut self, text: &str) {
        self.control(STRING, text.len());
        self.bytes.extend_from_slice(text.as_bytes());
    }

    fn double(&mut self, value: f64) {
        self.control(DOUBLE, 8);
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    /// An unsigned integer in as few bytes as it needs (zero in none).
    fn unsigned(&mut self, kind: u8, value: u64) {
        let all = value.to_be_bytes();
        let skip = all.iter().take_while(|b| **b == 0).count();
        self.control(kind, all.len() - skip);
        self.bytes.extend_from_slice(&all[skip..]);
    }

    fn map(&mut self, pairs: usize) {
        self.control(MAP, pairs);
    }

    fn array(&mut self, items: usize) {
        self.control(ARRAY, items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::geoip2;

    fn reader(bytes: Vec<u8>) -> maxminddb::Reader<Vec<u8>> {
        let reader = maxminddb::Reader::from_source(bytes).expect("the real reader opens it");
        reader.verify().expect("the real reader finds it valid");
        reader
    }

    fn city_of(reader: &maxminddb::Reader<Vec<u8>>, ip: &str) -> Option<(String, f64, f64)> {
        let found = reader.lookup(ip.parse().expect("ip")).expect("lookup");
        let city: geoip2::City<'_> = found.decode().expect("decodes")?;
        Some((
            city.country.iso_code?.to_string(),
            city.location.latitude?,
            city.location.longitude?,
        ))
    }

    fn entries() -> Vec<(Network, Place)> {
        vec![
            (
                Network::parse("81.2.69.0/24").expect("net"),
                Place::at("GB", 51.5074, -0.1278)
                    .city("London")
                    .accuracy_km(5),
            ),
            (
                Network::parse("81.2.69.128/25").expect("net"),
                Place::at("GB", 53.4808, -2.2426).city("Manchester"),
            ),
            (
                Network::parse("2001:db8::/32").expect("net"),
                Place::at("FR", 48.8566, 2.3522),
            ),
            (
                Network::parse("203.0.113.7").expect("host"),
                Place::at("AU", -33.8688, 151.2093),
            ),
        ]
    }

    #[test]
    fn the_maxminddb_reader_finds_ipv4_and_ipv6_networks_and_nothing_else() {
        let db = reader(build_database(&entries(), 1_700_000_000).expect("builds"));
        let meta = db.metadata();
        assert_eq!(meta.database_type, DATABASE_TYPE);
        assert_eq!(meta.ip_version, 6);
        assert_eq!(meta.record_size, 24);
        assert_eq!(meta.binary_format_major_version, 2);
        assert_eq!(meta.build_epoch, 1_700_000_000);
        assert_eq!(meta.languages, vec!["en".to_string()]);

        assert_eq!(
            city_of(&db, "81.2.69.1"),
            Some(("GB".into(), 51.5074, -0.1278))
        );
        // The longer prefix wins inside the shorter one.
        assert_eq!(
            city_of(&db, "81.2.69.200"),
            Some(("GB".into(), 53.4808, -2.2426))
        );
        assert_eq!(
            city_of(&db, "2001:db8:1::5"),
            Some(("FR".into(), 48.8566, 2.3522))
        );
        assert_eq!(
            city_of(&db, "203.0.113.7"),
            Some(("AU".into(), -33.8688, 151.2093))
        );
        for uncovered in [
            "203.0.113.8",
            "81.2.68.255",
            "8.8.8.8",
            "2001:db9::1",
            "::1",
        ] {
            assert_eq!(city_of(&db, uncovered), None, "{uncovered}");
        }
        let found = db.lookup("81.2.69.1".parse().expect("ip")).expect("lookup");
        let city: geoip2::City<'_> = found.decode().expect("decodes").expect("data");
        assert_eq!(city.city.names.english, Some("London"));
        assert_eq!(city.location.accuracy_radius, Some(5));
        assert_eq!(
            found.network().expect("network").to_string(),
            "81.2.69.0/25"
        );
    }

    #[test]
    fn every_record_size_reads_back_the_same() {
        for size in [24, 28, 32] {
            let bytes = build(&entries(), 0, DATABASE_TYPE, Some(size)).expect("builds");
            let db = reader(bytes);
            assert_eq!(db.metadata().record_size, size);
            assert_eq!(
                city_of(&db, "81.2.69.129"),
                Some(("GB".into(), 53.4808, -2.2426)),
                "record size {size}"
            );
            assert_eq!(city_of(&db, "2001:db8::1").map(|c| c.0), Some("FR".into()));
            assert_eq!(city_of(&db, "9.9.9.9"), None);
        }
    }

    #[test]
    fn large_records_and_many_networks_round_trip() {
        // 300 networks and a city name past the one-byte size form (29 and more bytes).
        let long_city = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch";
        let entries: Vec<(Network, Place)> = (0..300u32)
            .map(|i| {
                let net = format!("10.{}.{}.0/24", i / 256, i % 256);
                (
                    Network::parse(&net).expect("net"),
                    Place::at("GB", 53.0 + f64::from(i) / 1000.0, -4.0).city(long_city),
                )
            })
            .collect();
        let db = reader(build_database(&entries, 0).expect("builds"));
        let found = db.lookup("10.1.20.9".parse().expect("ip")).expect("lookup");
        let city: geoip2::City<'_> = found.decode().expect("decodes").expect("data");
        assert_eq!(city.city.names.english, Some(long_city));
        assert_eq!(city.location.latitude, Some(53.0 + 276.0 / 1000.0));
    }

    #[test]
    fn a_database_of_nothing_and_one_of_everything_are_valid() {
        let empty = reader(build_database(&[], 0).expect("builds"));
        assert_eq!(city_of(&empty, "81.2.69.1"), None);
        assert_eq!(city_of(&empty, "2001:db8::1"), None);
        let everything = reader(
            build_database(
                &[(
                    Network::parse("::/0").expect("net"),
                    Place::at("GB", 51.5, -0.1),
                )],
                0,
            )
            .expect("builds"),
        );
        assert_eq!(
            city_of(&everything, "1.2.3.4").map(|c| c.0),
            Some("GB".into())
        );
        assert_eq!(
            city_of(&everything, "2a00::1").map(|c| c.0),
            Some("GB".into())
        );
    }

    #[test]
    fn bad_networks_and_places_are_refused() {
        for text in ["81.2.69.1/24", "81.2.69.0/33", "nonsense", "2001:db8::1/32"] {
            assert!(Network::parse(text).is_err(), "{text}");
        }
        let net = Network::parse("81.2.69.0/24").expect("net");
        for place in [
            Place::at("gb", 51.5, -0.1),
            Place::at("GBR", 51.5, -0.1),
            Place::at("GB", 91.0, -0.1),
            Place::at("GB", 51.5, 181.0),
            Place::at("GB", 51.5, -0.1).city(""),
        ] {
            assert!(
                build_database(&[(net, place.clone())], 0).is_err(),
                "{place:?}"
            );
        }
    }
}
