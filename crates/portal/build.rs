//! Makes sure the pinned NHS.UK frontend is installed (npm ci in ../../web) and generates the
//! table of files the binary serves under /assets, so the binary is self-contained.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("../../web");
    let dist = web.join("node_modules/nhsuk-frontend/dist/nhsuk");
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package-lock.json").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("static").display()
    );
    // sqlx::migrate! embeds the migrations at compile time; a new one must rebuild the crate.
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("migrations").display()
    );
    if !dist.join("nhsuk-frontend.min.css").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--omit=dev"])
            .current_dir(&web)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("`npm ci` in web/ failed ({s}); it installs nhsuk-frontend"),
            Err(e) => {
                panic!("cannot run npm to install nhsuk-frontend ({e}); install Node.js and npm")
            }
        }
    }

    let mut files: Vec<(String, PathBuf)> = vec![
        (
            "/assets/nhsuk-frontend.min.css".into(),
            dist.join("nhsuk-frontend.min.css"),
        ),
        (
            "/assets/nhsuk-frontend.min.js".into(),
            dist.join("nhsuk-frontend.min.js"),
        ),
    ];
    // Everything in static/ (our own CSS and scripts) is served under /assets too.
    for (dir, prefix) in [
        (manifest.join("static"), "/assets"),
        (dist.join("assets/images"), "/assets/images"),
    ] {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            files.push((format!("{prefix}/{name}"), dir.join(&name)));
        }
    }

    let mut code =
        String::from("/// (path, content type, bytes) of every file served under /assets.\n");
    code.push_str("pub static ASSETS: &[(&str, &str, &[u8])] = &[\n");
    for (url, path) in &files {
        let path = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        writeln!(
            code,
            "    ({url:?}, {:?}, include_bytes!({:?})),",
            content_type(&path),
            path.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("assets.rs");
    std::fs::write(out, code).expect("write assets.rs");
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}
