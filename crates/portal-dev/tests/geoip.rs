//! `nhsmal-dev geoip-db` writes a GeoIP database that `nhsmal::geo` reads, and refuses a bad
//! network in one line.

use nhsmal::geo::{GeoIpDatabase, distance_km};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `nhsmal-dev ARGS`, waited for.
fn run(args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal-dev"))
        .args(args)
        .output()
        .expect("nhsmal-dev runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_geoip_db_command_writes_a_geoip_database_the_portal_reads() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("test-city.mmdb");
    let out = run(&[
        "geoip-db",
        "--out",
        path.to_str().expect("path"),
        "--network",
        "81.2.69.0/24=GB,51.5074,-0.1278,London",
        "--network",
        "2001:db8::/32=AU,-33.8688,151.2093,Sydney",
        "--network",
        "198.51.100.0/24=FR",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("3 network(s)"), "{}", out.stdout);

    let db = GeoIpDatabase::open(&path).expect("opens");
    let london = db
        .place_of("81.2.69.10".parse().expect("ip"))
        .expect("placed");
    assert_eq!(london.country, "GB");
    assert_eq!(london.city.as_deref(), Some("London"));
    let sydney = db
        .place_of("2001:db8::7".parse().expect("ip"))
        .expect("placed");
    let km = distance_km(&london, &sydney).expect("coordinates");
    assert!((16_900.0..17_100.0).contains(&km), "{km}");
    let france = db
        .place_of("198.51.100.1".parse().expect("ip"))
        .expect("placed");
    assert_eq!((france.country.as_str(), france.latitude), ("FR", None));
    assert_eq!(db.place_of("192.0.2.1".parse().expect("ip")), None);
}

#[test]
fn a_bad_geoip_network_is_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.mmdb");
    for network in [
        "81.2.69.0/24",
        "81.2.69.1/24=GB",
        "81.2.69.0/24=gb",
        "81.2.69.0/24=GB,51.5",
        "81.2.69.0/24=GB,north,0",
    ] {
        let out = run(&[
            "geoip-db",
            "--out",
            path.to_str().expect("path"),
            "--network",
            network,
        ]);
        assert_eq!(out.code, 2, "{network}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(!path.exists());
    }
}
