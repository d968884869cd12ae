//! Authentication strength in the policy (issue 23): whether a passkey alone may sign in,
//! whether synced passkeys are accepted (and whether administrators are held to device-bound
//! ones), which authenticator models (AAGUIDs) may or may not register, and whether the second
//! step offers the strongest method a person has first. National values, overlaid per
//! organisation, as the rest of the policy.

use uuid::Uuid;

use crate::accounts::Role;

/// The strength settings as stored for one scope: unset fields inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrengthSettings {
    /// A passkey alone signs in (its user verification is the second factor); otherwise a
    /// passkey is used only as a second factor after the password.
    pub passkey_sign_in: Option<bool>,
    /// Synced passkeys (backup-eligible: kept by a password manager and copied to other
    /// devices) are accepted.
    pub synced_passkeys: Option<bool>,
    /// Administrators' passkeys must be device-bound, whatever `synced_passkeys` says.
    pub admin_device_bound: Option<bool>,
    /// Only these authenticator models may register a key or passkey (empty: any).
    pub aaguid_allow: Option<Vec<Uuid>>,
    /// These models may not.
    pub aaguid_deny: Option<Vec<Uuid>>,
    /// The second step offers the strongest method the person has, not their default.
    pub system_preferred: Option<bool>,
}

/// The strength rules that apply to one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrengthPolicy {
    pub passkey_sign_in: bool,
    pub synced_passkeys: bool,
    pub admin_device_bound: bool,
    pub aaguid_allow: Vec<Uuid>,
    pub aaguid_deny: Vec<Uuid>,
    pub system_preferred: bool,
}

/// Why a passkey or security key may not be registered or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// A synced passkey where only device-bound ones are accepted.
    SyncedNotAccepted,
    /// A model not on the allow-list, or on the deny-list.
    ModelNotAllowed,
}

impl std::fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyRefusal::SyncedNotAccepted => {
                "Your organisation accepts only passkeys that stay on one device, such as a security key. This passkey is synced by a password manager. Use a security key, or a passkey that is not synced"
            }
            KeyRefusal::ModelNotAllowed => {
                "This model of security key or passkey is not allowed by your organisation's policy. Use another one, or ask your local administrator which models you can use"
            }
        })
    }
}

impl StrengthPolicy {
    pub fn effective(national: &StrengthSettings, org: &StrengthSettings) -> Self {
        let flag = |f: fn(&StrengthSettings) -> Option<bool>, default: bool| {
            f(org).or(f(national)).unwrap_or(default)
        };
        let list = |f: fn(&StrengthSettings) -> &Option<Vec<Uuid>>| {
            f(org)
                .clone()
                .or_else(|| f(national).clone())
                .unwrap_or_default()
        };
        StrengthPolicy {
            // On by default: a passkey is a phishing-resistant sign-in on its own, and the
            // reason to have one.
            passkey_sign_in: flag(|s| s.passkey_sign_in, true),
            synced_passkeys: flag(|s| s.synced_passkeys, true),
            admin_device_bound: flag(|s| s.admin_device_bound, false),
            aaguid_allow: list(|s| &s.aaguid_allow),
            aaguid_deny: list(|s| &s.aaguid_deny),
            // Off by default: turning it on changes what everyone sees at sign-in.
            system_preferred: flag(|s| s.system_preferred, false),
        }
    }

    /// Whether a key or passkey of this model (`aaguid`, None when the authenticator did not
    /// say) that is `synced` or not may be registered or used by a person with `role`.
    pub fn check_key(
        &self,
        role: Role,
        synced: bool,
        aaguid: Option<Uuid>,
    ) -> Result<(), KeyRefusal> {
        let admin = role != Role::User;
        if synced && (!self.synced_passkeys || (admin && self.admin_device_bound)) {
            return Err(KeyRefusal::SyncedNotAccepted);
        }
        // An authenticator that says nothing of its model (or all zeros) passes a deny-list
        // but not an allow-list.
        let aaguid = aaguid.filter(|a| !a.is_nil());
        if let Some(a) = aaguid
            && self.aaguid_deny.contains(&a)
        {
            return Err(KeyRefusal::ModelNotAllowed);
        }
        if !self.aaguid_allow.is_empty() && !aaguid.is_some_and(|a| self.aaguid_allow.contains(&a))
        {
            return Err(KeyRefusal::ModelNotAllowed);
        }
        Ok(())
    }
}

/// How strong a method is, strongest first (0): a security key or passkey (phishing-
/// resistant), the NHSmal Authenticator's notification (number matching), an app's code, a
/// phone call, a text message (NIST 800-63B's restricted authenticator).
pub fn rank(kind: crate::methods::MethodKind) -> u8 {
    use crate::methods::MethodKind;
    match kind {
        MethodKind::Fido2 => 0,
        MethodKind::Push => 1,
        MethodKind::Totp => 2,
        MethodKind::Voice => 3,
        MethodKind::Sms => 4,
    }
}

/// The system-preferred order: strongest first; among equals, the person's default first and
/// then the order they had (a stable sort).
pub fn strongest_first(methods: &mut [crate::methods::Method]) {
    methods.sort_by_key(|m| (rank(m.kind), !m.is_default));
}

/// Why an AAGUID list was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error(
        "{0:?} is not an AAGUID: write each as 8-4-4-4-12 hexadecimal digits, such as cb69481e-8ff7-4039-93ec-0a2729a154a8"
    )]
    BadAaguid(String),
    #[error("an AAGUID list holds at most {MAX_MODELS} models")]
    TooLong,
}

/// The most models one list names.
const MAX_MODELS: usize = 100;

/// An AAGUID list as an administrator types it: UUIDs separated by commas or spaces; "none"
/// (or nothing) for an empty list.
pub fn parse_aaguids(text: &str) -> Result<Vec<Uuid>, ListError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let id = Uuid::parse_str(part).map_err(|_| ListError::BadAaguid(part.to_string()))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_MODELS {
        return Err(ListError::TooLong);
    }
    Ok(out)
}

/// A list as stored and shown: comma-separated.
pub fn aaguid_list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Applies what a change sets to `settings`.
pub(crate) fn apply(settings: &mut StrengthSettings, change: &StrengthSettings) {
    let StrengthSettings {
        passkey_sign_in,
        synced_passkeys,
        admin_device_bound,
        aaguid_allow,
        aaguid_deny,
        system_preferred,
    } = change;
    if passkey_sign_in.is_some() {
        settings.passkey_sign_in = *passkey_sign_in;
    }
    if synced_passkeys.is_some() {
        settings.synced_passkeys = *synced_passkeys;
    }
    if admin_device_bound.is_some() {
        settings.admin_device_bound = *admin_device_bound;
    }
    if aaguid_allow.is_some() {
        settings.aaguid_allow = aaguid_allow.clone();
    }
    if aaguid_deny.is_some() {
        settings.aaguid_deny = aaguid_deny.clone();
    }
    if system_preferred.is_some() {
        settings.system_preferred = *system_preferred;
    }
}

/// The settings' part of the policy's one-line description.
pub(crate) fn describe(s: &StrengthSettings, parts: &mut Vec<String>) {
    let yes_no = |b: bool, yes: &str, no: &str| if b { yes.to_string() } else { no.to_string() };
    if let Some(b) = s.passkey_sign_in {
        parts.push(yes_no(
            b,
            "a passkey alone signs in",
            "passkeys only as a second factor",
        ));
    }
    if let Some(b) = s.synced_passkeys {
        parts.push(yes_no(
            b,
            "synced passkeys accepted",
            "device-bound passkeys only",
        ));
    }
    if let Some(b) = s.admin_device_bound {
        parts.push(yes_no(
            b,
            "administrators' passkeys device-bound",
            "administrators may use synced passkeys",
        ));
    }
    if let Some(ids) = &s.aaguid_allow {
        parts.push(format!("models allowed: {}", or_none(ids)));
    }
    if let Some(ids) = &s.aaguid_deny {
        parts.push(format!("models refused: {}", or_none(ids)));
    }
    if let Some(b) = s.system_preferred {
        parts.push(yes_no(
            b,
            "the strongest method offered first",
            "the default method offered first",
        ));
    }
}

fn or_none(ids: &[Uuid]) -> String {
    if ids.is_empty() {
        "any".into()
    } else {
        aaguid_list(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
    const PHONE: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";

    fn id(s: &str) -> Uuid {
        Uuid::parse_str(s).expect("uuid")
    }

    #[test]
    fn an_organisation_overrides_the_national_settings_and_defaults_fill_the_rest() {
        let national = StrengthSettings {
            synced_passkeys: Some(false),
            aaguid_deny: Some(vec![id(PHONE)]),
            ..Default::default()
        };
        let org = StrengthSettings {
            synced_passkeys: Some(true),
            ..Default::default()
        };
        let p = StrengthPolicy::effective(&national, &org);
        assert!(p.synced_passkeys);
        assert!(p.passkey_sign_in);
        assert!(!p.admin_device_bound);
        assert_eq!(p.aaguid_deny, vec![id(PHONE)]);
        assert!(!p.system_preferred);
    }

    #[test]
    fn synced_passkeys_are_refused_where_the_policy_says_and_always_for_held_administrators() {
        let mut p = StrengthPolicy::effective(&Default::default(), &Default::default());
        assert_eq!(p.check_key(Role::User, true, None), Ok(()));
        p.admin_device_bound = true;
        assert_eq!(p.check_key(Role::User, true, None), Ok(()));
        assert_eq!(
            p.check_key(Role::LocalAdmin, true, None),
            Err(KeyRefusal::SyncedNotAccepted)
        );
        assert_eq!(p.check_key(Role::LocalAdmin, false, None), Ok(()));
        p.synced_passkeys = false;
        assert_eq!(
            p.check_key(Role::User, true, None),
            Err(KeyRefusal::SyncedNotAccepted)
        );
    }

    #[test]
    fn the_allow_and_deny_lists_are_checked_and_an_unstated_model_passes_only_a_deny_list() {
        let mut p = StrengthPolicy::effective(&Default::default(), &Default::default());
        p.aaguid_deny = vec![id(PHONE)];
        assert_eq!(
            p.check_key(Role::User, false, Some(id(PHONE))),
            Err(KeyRefusal::ModelNotAllowed)
        );
        assert_eq!(p.check_key(Role::User, false, None), Ok(()));
        p.aaguid_allow = vec![id(YUBIKEY)];
        assert_eq!(p.check_key(Role::User, false, Some(id(YUBIKEY))), Ok(()));
        assert_eq!(
            p.check_key(Role::User, false, None),
            Err(KeyRefusal::ModelNotAllowed)
        );
        assert_eq!(
            p.check_key(Role::User, false, Some(Uuid::nil())),
            Err(KeyRefusal::ModelNotAllowed)
        );
    }

    #[test]
    fn the_strongest_method_comes_first_and_the_default_leads_among_equals() {
        use crate::methods::{Method, MethodKind};
        let method = |id: &str, kind, is_default| Method {
            id: id.into(),
            account_id: "a".into(),
            kind,
            name: id.into(),
            phone: None,
            secret: None,
            credential: None,
            credential_id: None,
            last_totp_step: None,
            passkey: None,
            is_default,
            created_at: 0,
            last_used_at: None,
        };
        let mut methods = vec![
            method("text", MethodKind::Sms, true),
            method("app", MethodKind::Totp, false),
            method("key", MethodKind::Fido2, false),
            method("call", MethodKind::Voice, false),
            method("push", MethodKind::Push, false),
            method("key2", MethodKind::Fido2, false),
        ];
        strongest_first(&mut methods);
        let order: Vec<&str> = methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(order, ["key", "key2", "push", "app", "call", "text"]);
    }

    #[test]
    fn aaguid_lists_are_read_as_typed_and_garbage_is_refused() {
        assert_eq!(
            parse_aaguids(&format!("{YUBIKEY}, {PHONE} {YUBIKEY}")).ok(),
            Some(vec![id(YUBIKEY), id(PHONE)])
        );
        assert_eq!(parse_aaguids("none").ok(), Some(vec![]));
        assert_eq!(parse_aaguids("").ok(), Some(vec![]));
        assert!(parse_aaguids("yubikey").is_err());
        assert!(parse_aaguids(&"x".repeat(10_000)).is_err());
    }
}
