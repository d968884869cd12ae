//! My Profile: Self-Service (enrolment, methods, remembered devices), recent activity, the
//! password change and feedback.

pub(crate) mod activity;
pub(crate) mod devices;
pub(crate) mod enrol;
pub(crate) mod enrol_passkey;
pub(crate) mod enrol_phone;
pub(crate) mod enrol_push;
pub(crate) mod feedback;
pub(crate) mod methods;
pub(crate) mod my_profile;
pub(crate) mod new_phone;
pub(crate) mod pages;
pub(crate) mod signed_in;
