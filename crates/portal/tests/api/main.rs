//! Integration tests: the real server over HTTP. One binary, modules per area.
//! Run against SQLite by default and against PostgreSQL with NHSMAL_TEST_STORE=postgres.
//!
//! Every test runs on a multi-threaded runtime: the server under test shares the test's
//! runtime, and a test that runs `nhsmal` (a blocking child process) on a single thread would
//! stop the server mid-transaction, so the command waited out SQLite's busy timeout.

mod admin;
mod atomic;
mod bursts;
mod cli;
mod csrf;
mod daily_use;
mod devices;
mod email;
mod exceptions;
mod feedback;
mod files;
mod geo;
mod helpers;
mod hostile;
mod import;
mod json_api;
mod mail_apps;
mod migrations;
mod monitoring;
mod nodes;
mod oidc;
mod oidc_client_library;
mod oidc_clients;
mod oidc_keys;
mod ops;
mod passkeys;
mod password;
mod phone;
mod policy;
mod providers;
mod push;
mod recovery_codes;
mod report;
mod reset;
mod risk_admin;
mod security_key;
mod sessions;
mod siem;
mod sign_in;
mod signed_in;
mod totp;
mod trusted_networks;
