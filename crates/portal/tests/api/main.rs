//! Integration tests: the real server over HTTP. One binary, modules per area.
//! Run against SQLite by default and against PostgreSQL with NHSMAL_TEST_STORE=postgres.

mod admin;
mod atomic;
mod bursts;
mod cli;
mod csrf;
mod devices;
mod email;
mod feedback;
mod files;
mod geo;
mod helpers;
mod hostile;
mod import;
mod json_api;
mod migrations;
mod monitoring;
mod nodes;
mod oidc;
mod oidc_client_library;
mod oidc_clients;
mod oidc_keys;
mod ops;
mod password;
mod phone;
mod policy;
mod providers;
mod recovery_codes;
mod report;
mod reset;
mod risk_admin;
mod security_key;
mod sessions;
mod siem;
mod sign_in;
mod totp;
