//! Integration tests: the real server over HTTP. One binary, modules per area.
//! Run against SQLite by default and against PostgreSQL with NHSMAL_TEST_STORE=postgres.

mod cli;
mod csrf;
mod helpers;
mod ops;
mod password;
mod phone;
mod providers;
mod report;
mod security_key;
mod sessions;
mod sign_in;
mod totp;
