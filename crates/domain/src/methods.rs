//! A person's registered second factors: the kinds there are, one method as stored, and the
//! records that keep them. Below every flow that uses them (enrolment, sign-in, policy,
//! monitoring, reports), so that each of those can name a method without the others.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::StorageError;
use crate::clock::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    Totp,
    Sms,
    Voice,
    Fido2,
    /// Push approval from the NHSmal Authenticator (with its TOTP codes as the fallback).
    Push,
}

impl MethodKind {
    /// In the order the portal offers them; the first is recommended.
    /// (Push comes last only so that stored positions of the first four stay valid; the
    /// method choice offers it under "Authenticator app".)
    pub const ALL: [MethodKind; 5] = [
        MethodKind::Totp,
        MethodKind::Sms,
        MethodKind::Voice,
        MethodKind::Fido2,
        MethodKind::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Totp => "totp",
            MethodKind::Sms => "sms",
            MethodKind::Voice => "voice",
            MethodKind::Fido2 => "fido2",
            MethodKind::Push => "push",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            MethodKind::Totp => "Authenticator app",
            MethodKind::Sms => "Text message",
            MethodKind::Voice => "Phone call",
            MethodKind::Fido2 => "FIDO2 token",
            MethodKind::Push => "NHSmal Authenticator",
        }
    }

    /// RFC 8176 authentication method reference.
    pub fn amr(self) -> &'static str {
        match self {
            MethodKind::Totp => "otp",
            MethodKind::Sms => "sms",
            MethodKind::Voice => "tel",
            MethodKind::Fido2 => "hwk",
            // Proof of possession of the app's device key (a software-secured key).
            MethodKind::Push => "swk",
        }
    }

    /// The path segment of its set-up and sign-in pages.
    pub fn slug(self) -> &'static str {
        match self {
            MethodKind::Totp => "authenticator-app",
            MethodKind::Sms => "text-message",
            MethodKind::Voice => "phone-call",
            MethodKind::Fido2 => "fido2-token",
            MethodKind::Push => "authenticator-app/notifications",
        }
    }
}

/// A registered second factor. `secret` is sealed (TOTP key); `phone` is E.164.
#[derive(Debug, Clone)]
pub struct Method {
    pub id: String,
    pub account_id: String,
    pub kind: MethodKind,
    pub name: String,
    pub phone: Option<String>,
    pub secret: Option<Vec<u8>>,
    pub credential: Option<String>,
    pub credential_id: Option<String>,
    pub last_totp_step: Option<i64>,
    /// For a FIDO2 credential registered as a passkey (discoverable, user verification):
    /// what it is. None for a security key used as a second factor.
    pub passkey: Option<PasskeyFacts>,
    pub is_default: bool,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

/// What the portal knows of a passkey beyond its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyFacts {
    /// The authenticator model's AAGUID, as the authenticator said it at registration (None
    /// when it said nothing, or all zeros).
    pub aaguid: Option<String>,
}

impl Method {
    /// Whether the credential is synced (backup-eligible: a password manager keeps and copies
    /// it), read from the stored credential; false for a device-bound one or any other method.
    pub fn synced(&self) -> bool {
        self.credential
            .as_deref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .and_then(|v| v["cred"]["backup_eligible"].as_bool())
            .unwrap_or(false)
    }

    /// Whether proving it is phishing-resistant (bound to the portal's origin): a security
    /// key or passkey.
    pub fn phishing_resistant(&self) -> bool {
        self.kind == MethodKind::Fido2
    }

    /// What a page may show of it: the last three digits of a phone, whether a passkey is
    /// synced or device-bound, nothing of a key.
    pub fn masked_detail(&self) -> String {
        match (&self.phone, &self.passkey) {
            (Some(phone), _) => format!("Ending {}", &phone[phone.len().saturating_sub(3)..]),
            (None, Some(_)) if self.synced() => {
                "Synced (kept by a password manager on your devices)".into()
            }
            (None, Some(_)) => "Device-bound (stays on one device or security key)".into(),
            (None, None) => String::new(),
        }
    }

    /// Its kind as pages name it: a FIDO2 credential registered as a passkey is a "Passkey".
    pub fn label(&self) -> &'static str {
        if self.passkey.is_some() {
            "Passkey"
        } else {
            self.kind.label()
        }
    }

    /// What a sealed TOTP key is bound to: its method, so a key moved to another row opens
    /// nowhere.
    pub(crate) fn secret_binding(id: &str) -> String {
        format!("mfa_method:{id}")
    }
}

pub trait MethodRecords {
    fn methods_of(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Vec<Method>, StorageError>> + Send;
    fn insert_method(
        &self,
        method: &Method,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Records `step` as the last accepted TOTP step, only if it is later than the stored one.
    /// False means the step (or a later one) was already used: a replay.
    fn advance_totp_step(
        &self,
        method_id: &str,
        step: i64,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    fn mark_method_used(
        &self,
        method_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn rename_method(
        &self,
        method_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A text-message or phone-call method's new number (and name); false if it is gone.
    fn set_method_phone(
        &self,
        method_id: &str,
        phone: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    fn make_default_method(
        &self,
        account_id: &str,
        method_id: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn delete_method(
        &self,
        method_id: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Stores a security key's updated credential (its signature counter).
    fn update_credential(
        &self,
        method_id: &str,
        credential: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}
