//! Push approval's web side: the JSON API the NHSmal Authenticator talks to (pairing, its
//! pending requests, the long-lived event stream, answers), and the bell that wakes the
//! streams when a request is created on this node or, found by polling, on another.

pub mod bell;
pub mod device_api;

pub use bell::PushBell;
