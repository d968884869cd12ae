//! The audit trail's events, outcomes and details in words for the admin pages. The trail and
//! its exports keep the stable names (`mfa.reset`, `wrong_totp`) that SIEM rules match on.

/// Every event an administrator may meet, with the words the pages show.
const EVENTS: &[(&str, &str)] = &[
    ("account.added", "Account added"),
    ("account.disable", "Account disabled"),
    ("account.disabled", "Account disabled"),
    ("account.enable", "Account enabled"),
    ("account.enabled", "Account enabled"),
    ("account.locked", "Account locked after wrong codes"),
    ("account.reported_not_me", "Sign-in reported as not them"),
    ("account.signed_out_everywhere", "Signed out everywhere"),
    ("account.unlock", "Account unlocked"),
    ("account.unlocked", "Account unlocked"),
    ("admin.denied", "Admin action refused"),
    ("audit.exported", "Audit log exported"),
    ("audit.rolled_up", "Refused admin actions counted"),
    ("client.blocked", "Client address blocked"),
    ("client.spray_detected", "Password spraying detected"),
    ("device.forgotten", "Remembered device forgotten"),
    ("device.remembered", "Device remembered"),
    ("feedback.exported", "Feedback exported"),
    ("feedback.submitted", "Feedback sent"),
    ("import.completed", "People imported"),
    ("invitation.accepted", "Invitation accepted"),
    ("invitation.sent", "Invitation sent"),
    ("mfa.call_answered", "Phone call answered"),
    ("mfa.call_placed", "Phone call made"),
    ("mfa.code_sent", "Text message code sent"),
    ("mfa.default_changed", "Default method changed"),
    ("mfa.fraud_reported", "Call reported as not them"),
    ("mfa.method_added", "Method added"),
    ("mfa.method_removed", "Method removed"),
    ("mfa.method_renamed", "Method renamed"),
    ("mfa.number_changed", "Phone number changed"),
    ("mfa.pairing_claimed", "NHSmal Authenticator paired"),
    (
        "mfa.pairing_started",
        "NHSmal Authenticator pairing started",
    ),
    ("mfa.possible_clone", "Possible copied security key"),
    ("mfa.push_answer", "Push request answered"),
    ("mfa.push_sent", "Push request sent"),
    ("mfa.recovery_code_used", "Recovery code used"),
    ("mfa.reminder_snoozed", "MFA reminder put off"),
    ("mfa.reset", "MFA reset"),
    ("mfa.verify", "Second step"),
    ("notification.failed", "Email or message not sent"),
    ("oidc.access_removed", "App's access removed"),
    ("oidc.backchannel_logout", "App told of sign-out"),
    ("oidc.client_added", "App registered"),
    ("oidc.client_auth_failed", "App failed to authenticate"),
    ("oidc.client_disabled", "App disabled"),
    ("oidc.client_enabled", "App enabled"),
    ("oidc.consent_given", "App allowed"),
    ("oidc.device_allowed", "App or device allowed"),
    ("oidc.device_code_guesses", "Too many wrong device codes"),
    (
        "oidc.device_codes_limited",
        "Too many device codes asked for",
    ),
    ("oidc.device_denied", "App or device denied"),
    ("oidc.keys_rotated", "Signing keys rotated"),
    ("oidc.token_refused", "App token refused"),
    ("oidc.token_revoked", "App token revoked"),
    ("organisation.added", "Organisation added"),
    (
        "organisation.contact_changed",
        "Administrators' contact changed",
    ),
    ("password.change", "Password change"),
    ("password.reset", "Password reset"),
    ("password_reset.locked", "Password reset locked"),
    ("password_reset.started", "Password reset started"),
    ("policy.changed", "MFA policy changed"),
    ("recovery_codes.created", "Recovery codes created"),
    ("risk.admins_alerted", "Administrators alerted"),
    (
        "risk.confirmed_compromised",
        "Account confirmed compromised",
    ),
    ("risk.dismissed", "Risk dismissed"),
    ("rollout.exception_ended", "Rollout exception ended"),
    ("rollout.exception_granted", "Rollout exception granted"),
    ("rollout.exception_used", "Signed in on a rollout exception"),
    ("risk.raised", "Risk raised"),
    ("session.ended", "Browser signed out"),
    ("session.signed_out", "Signed out"),
    ("sign_in.blocked_by_risk", "Sign-in stopped as risky"),
    ("sign_in.passkey", "Passkey sign-in"),
    ("sign_in.password", "Password"),
    (
        "sign_in.remembered_device",
        "Sign-in on a remembered device",
    ),
    ("sign_in.trusted_network", "Sign-in on a trusted network"),
    (
        "sign_in.temporary_access_pass",
        "Sign-in with a temporary access pass",
    ),
    ("tap.issued", "Temporary access pass issued"),
    ("tap.used", "Temporary access pass used"),
];

/// An event in words: the known ones from the list, any other as its name made readable.
pub fn event(name: &str) -> String {
    EVENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, words)| words.to_string())
        .unwrap_or_else(|| readable(name))
}

/// What an administrator typed in the event filter, as the event names it means: a known
/// event's words ("mfa reset") find its name; anything else is searched as typed.
pub fn filter(typed: &str) -> String {
    let wanted = typed.trim().to_lowercase();
    EVENTS
        .iter()
        .find(|(_, words)| words.to_lowercase() == wanted)
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| typed.trim().to_string())
}

pub fn outcome(outcome: &str) -> String {
    match outcome {
        "success" => "Succeeded".into(),
        "failure" => "Failed".into(),
        other => readable(other),
    }
}

/// A method as the trail names it, in words.
fn method(code: &str) -> Option<&'static str> {
    Some(match code {
        "totp" => "authenticator app code",
        "sms" => "text message code",
        "voice" => "phone call",
        "fido2" => "security key",
        "recovery_code" => "recovery code",
        "pass" | "temporary_access_pass" => "temporary access pass",
        "password" => "password",
        "current_password" => "current password",
        _ => return None,
    })
}

/// An event's detail in words. Details that are codes (`wrong_totp`, `sms`) are put in
/// words; details already in words (a reason an administrator typed) are shown as they are.
pub fn detail(reason: &str) -> String {
    let is_code = !reason.is_empty()
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !is_code {
        return reason.to_string();
    }
    if let Some(what) = reason.strip_prefix("wrong_")
        && let Some(words) = method(what)
    {
        return capitalised(&format!("wrong {words}"));
    }
    if let Some(what) = reason.strip_prefix("used_")
        && let Some(words) = method(what)
    {
        return capitalised(&format!("{words} already used"));
    }
    if let Some(words) = method(reason) {
        return capitalised(words);
    }
    match reason {
        "provider_failed" => "The message provider did not take it".into(),
        "password_changed" => "Password changed".into(),
        "approved" => "Approved".into(),
        "import" => "From an import".into(),
        other => readable(other),
    }
}

fn readable(code: &str) -> String {
    capitalised(&code.replace(['.', '_'], " "))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_details_and_outcomes_read_as_words() {
        assert_eq!(event("mfa.reset"), "MFA reset");
        assert_eq!(event("mfa.verify"), "Second step");
        assert_eq!(event("something.new_here"), "Something new here");
        assert_eq!(
            event("account.signed_out_everywhere"),
            "Signed out everywhere"
        );
        assert_eq!(event("oidc.device_allowed"), "App or device allowed");
        assert_eq!(event("mfa.push_sent"), "Push request sent");
        assert_eq!(
            event("rollout.exception_granted"),
            "Rollout exception granted"
        );
        assert_eq!(
            event("sign_in.trusted_network"),
            "Sign-in on a trusted network"
        );
        assert_eq!(detail("wrong_totp"), "Wrong authenticator app code");
        assert_eq!(detail("used_totp"), "Authenticator app code already used");
        assert_eq!(detail("pass"), "Temporary access pass");
        assert_eq!(
            detail("Phone lost; checked by phone"),
            "Phone lost; checked by phone"
        );
        assert_eq!(detail("30 minutes"), "30 minutes");
        assert_eq!(outcome("failure"), "Failed");
    }

    #[test]
    fn the_event_filter_takes_words_or_names() {
        assert_eq!(filter("MFA reset"), "mfa.reset");
        assert_eq!(filter("mfa.reset"), "mfa.reset");
        assert_eq!(filter("sign_in"), "sign_in");
    }
}
