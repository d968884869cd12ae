//! NHSmal Portal: the self-service account portal and identity provider of NHSmal.
//!
//! The server around the rules of the `domain` crate: `web` and `cli` call `domain`; `store`
//! (SQL) and `notify` (delivery) implement the traits the domain declares. Nothing calls back
//! up (docs/ARCHITECTURE.md).

pub mod cli;
pub mod config;
pub mod geo;
pub mod notify;
pub mod siem;
pub mod store;
pub mod web;

/// mimalloc rather than the system allocator: a token request is many small allocations made
/// and freed on tokio's threads, and glibc's malloc and free took about a tenth of the token
/// endpoint's CPU (BENCHMARKS.md, "OpenID Connect token endpoint"). Declared in the library so
/// that the server, its tests and its benchmarks all run on the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
