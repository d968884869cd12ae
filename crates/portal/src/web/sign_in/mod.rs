//! Signing in: the password, the second step, password resets, recovery codes, invitations
//! and the MFA rollout reminder.

pub(crate) mod complete;
pub(crate) mod flow;
pub(crate) mod invitation;
pub(crate) mod pages;
pub(crate) mod passkey;
pub(crate) mod push_step;
pub(crate) mod recovery_codes;
pub(crate) mod reset;
pub(crate) mod reset_step;
pub(crate) mod rollout;
pub(crate) mod second_step;
pub(crate) mod security_key;
pub(crate) mod signin;
pub(crate) mod step_up;
pub(crate) mod telephony;
pub(crate) mod time_limit;
