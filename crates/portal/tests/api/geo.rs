//! A bad `geoip_database` (or SIEM setting) stops `nhsmal serve` with one line and status 2.
//! (The writer of test databases and what the reader makes of them: crates/portal-dev/tests.)

use crate::helpers::CliEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
