//! OpenID Connect provider: signing keys, registered clients (relying parties) and, in
//! `flows`, the authorization and token flows.

pub mod access_token;
pub mod clients;
pub mod flows;
pub mod keys;
