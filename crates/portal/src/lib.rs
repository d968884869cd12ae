//! NHSmal Portal: the self-service account portal and identity provider of NHSmal.
//!
//! `web` and `cli` call `domain`; `domain` uses `store` (SQL) and `notify` (delivery).
//! Nothing calls back up.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod geo;
pub mod notify;
pub mod siem;
pub mod store;
pub mod web;
