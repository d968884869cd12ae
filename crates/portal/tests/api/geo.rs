//! The GeoIP database: `nhsmal dev geoip-db` builds one that the portal reads, and a bad
//! `geoip_database` (or SIEM setting) stops `nhsmal serve` with one line and status 2.

use nhsmal::geo::{GeoIpDatabase, distance_km};

use crate::helpers::{CliEnv, spawn_app_with};

#[tokio::test]
async fn the_dev_command_writes_a_geoip_database_the_portal_reads() {
    let env = CliEnv::new().await;
    let path = env.data_dir.path().join("test-city.mmdb");
    let out = env.run(
        &[
            "dev",
            "geoip-db",
            "--out",
            path.to_str().expect("path"),
            "--network",
            "81.2.69.0/24=GB,51.5074,-0.1278,London",
            "--network",
            "2001:db8::/32=AU,-33.8688,151.2093,Sydney",
            "--network",
            "198.51.100.0/24=FR",
        ],
        "",
    );
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

    // And a server started with it has it.
    let app = spawn_app_with(|s| s.geoip_database = Some(path.clone())).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_bad_geoip_network_is_refused_in_one_line() {
    let env = CliEnv::new().await;
    let path = env.data_dir.path().join("bad.mmdb");
    for network in [
        "81.2.69.0/24",
        "81.2.69.1/24=GB",
        "81.2.69.0/24=gb",
        "81.2.69.0/24=GB,51.5",
        "81.2.69.0/24=GB,north,0",
    ] {
        let out = env.run(
            &[
                "dev",
                "geoip-db",
                "--out",
                path.to_str().expect("path"),
                "--network",
                network,
            ],
            "",
        );
        assert_eq!(out.code, 2, "{network}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(!path.exists());
    }
}

#[tokio::test]
async fn serve_refuses_a_file_that_is_not_a_geoip_database_and_a_bad_collector() {
    let env = CliEnv::new().await;
    let not_mmdb = env.data_dir.path().join("not.mmdb");
    std::fs::write(&not_mmdb, "hello").expect("write");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--geoip-database", not_mmdb.to_str().expect("path")],
            "setting `geoip_database`:",
        ),
        (
            &["--siem-syslog", "collector-without-port"],
            "setting `siem_syslog`:",
        ),
        (
            &["--siem-file", "/no/such/folder/siem.jsonl"],
            "setting `siem_file`:",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let out = env.run(&all, "");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(expected), "{line}");
    }
}
