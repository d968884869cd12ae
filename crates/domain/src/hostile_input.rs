//! Property tests of every parser that reads outside input (issue 18): whatever arrives, each
//! answers with a value or an error and never panics, and what it accepts keeps its promise.
//! (The web layer's own parsers, `safe_next` and `client_address`, have theirs in
//! `web/extract.rs`.) A short run is part of `cargo test`; `scripts/fuzz` runs the same properties far longer
//! (`PROPTEST_CASES`).

use proptest::prelude::*;

use crate::accounts::{Email, normalize_email};
use crate::methods::MethodKind;
use crate::mfa::phone::parse_phone;
use crate::mfa::totp::TotpSecret;
use crate::oidc::access_token::AccessToken;
use crate::oidc::clients::{check_redirect_uri, parse_basic};
use crate::password::NewPassword;
use crate::policy::{parse_date, parse_yes_no};
use crate::secrets::SecretBox;
use crate::sessions::SessionToken;

/// Text as an attacker sends it: any Unicode, control characters, long runs.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,300}",
        "[\\x00-\\x7f]{0,300}",
        "[0-9+() -]{0,40}",
        "[a-z0-9.@%_+-]{0,80}",
    ]
}

/// Cases per property: few in `cargo test` (the zxcvbn estimate of a long password is slow in
/// a debug build), as many as `PROPTEST_CASES` asks in `scripts/fuzz`.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn email_addresses_parse_or_are_refused(text in any_text()) {
        if let Ok(email) = Email::parse(&text) {
            prop_assert!(email.as_str().len() <= 254);
            prop_assert_eq!(email.normalized(), normalize_email(email.as_str()));
        }
        let _ = normalize_email(&text);
    }

    #[test]
    fn phone_numbers_parse_to_e164_or_are_refused(text in any_text(), mobile in any::<bool>()) {
        if let Ok(number) = parse_phone(&text, mobile) {
            let e164 = number.as_str();
            prop_assert!(e164.starts_with('+'));
            prop_assert!(e164[1..].chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn new_passwords_are_accepted_or_refused_with_a_reason(
        text in any_text(),
        name in any_text(),
    ) {
        let _ = NewPassword::parse(&text, &text, &[&name, "ann@example.nhs.uk"]);
        let _ = NewPassword::parse(&text, &name, &[]);
    }

    #[test]
    fn session_cookies_of_any_shape_are_ours_or_nothing(text in any_text()) {
        if let Some(token) = SessionToken::from_cookie(&text) {
            prop_assert_eq!(token.cookie_value(), text.as_str());
            prop_assert_eq!(token.storage_key().len(), 64);
        }
    }

    #[test]
    fn redirect_uris_are_checked_without_panicking(text in any_text()) {
        if check_redirect_uri(&text).is_ok() {
            prop_assert!(!text.contains('#'));
            prop_assert!(text.starts_with("https://") || text.starts_with("http://"));
        }
    }

    #[test]
    fn basic_client_credentials_of_any_shape_are_read_or_refused(text in any_text()) {
        let _ = parse_basic(&text);
        let _ = parse_basic(&format!("Basic {text}"));
    }

    #[test]
    fn presented_access_tokens_are_opened_or_refused(text in any_text(), raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let secrets = SecretBox::from_base64(&SecretBox::generate_key_base64()).expect("key");
        let _ = AccessToken::open(&text, &secrets);
        use base64::Engine;
        let forged = format!("at1.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw));
        let _ = AccessToken::open(&forged, &secrets);
    }

    #[test]
    fn typed_codes_match_only_six_digits(code in any_text(), now in 0i64..4_000_000_000) {
        let secret = TotpSecret::from_bytes(&[7u8; 20]);
        if secret.matching_step(&code, now).is_some() {
            let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(digits.len(), 6);
            prop_assert!(digits.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn settings_and_names_typed_by_people_parse_or_are_refused(text in any_text()) {
        let _ = parse_date(&text);
        let _ = parse_yes_no("x", &text);
        let _ = MethodKind::parse(&text);
        let _ = crate::mfa::security_key::read_allow_list(&text);
        let _ = crate::temporary_access::PassCode::from_input(&text);
        let _ = crate::recovery::RecoveryCode::from_input(&text);
        let _ = crate::risk::parse_names(&text);
    }
}
