//! OpenID Connect: discovery, authorization, token, userinfo and the signing keys.

pub(crate) mod backchannel;
pub(crate) mod device;
pub(crate) mod endpoints;
pub(crate) mod oidc_keys;
pub(crate) mod pages;
pub(crate) mod tokens;
