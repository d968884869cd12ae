//! OpenID Connect provider: signing keys, registered clients (relying parties) and, in
//! `request` and `flows`, the authorization request and the code and token flows.

pub mod access_token;
pub mod clients;
pub mod device_grant;
pub mod flows;
pub mod keys;
pub mod redirect_uri;
pub mod request;
