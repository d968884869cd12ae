//! The HTTP plumbing every feature uses: extractors, errors, security headers and CSRF,
//! observation, assets, the service endpoints and what every page shares.

pub(crate) mod assets;
pub(crate) mod device_id;
mod domain_errors;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod observe;
pub(crate) mod ops;
pub(crate) mod pages;
pub(crate) mod security;
