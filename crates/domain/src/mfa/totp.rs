//! Authenticator apps (RFC 6238): SHA-1, 6 digits, 30-second steps, the parameters Microsoft
//! and Google Authenticator accept. Codes from one step either side are accepted; the caller
//! stores the accepted step and refuses any step at or before it (replay, OTP-3).

use base64::Engine;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::clock::UnixTime;

pub const ISSUER: &str = "NHSmal";
/// 160 bits (RFC 4226 §4 recommends at least that).
pub const SECRET_BYTES: usize = 20;

/// A TOTP key. Debug prints nothing of it.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(Zeroizing::new(
            super::super::random_bytes::<SECRET_BYTES>().to_vec(),
        ))
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base32 without padding, as authenticator apps expect it.
    pub fn base32(&self) -> String {
        Secret::from(self.0.to_vec()).to_base32()
    }

    /// The base32 key in groups of four, for typing into an app by hand.
    pub fn base32_grouped(&self) -> String {
        let text = self.base32();
        text.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `otpauth://totp/NHSmal:EMAIL?secret=…&issuer=NHSmal`, exactly the form DESIGN.md fixes
    /// (written here rather than by totp-rs, whose URL adds parameters and escapes the label).
    pub fn otpauth_uri(&self, email: &str) -> String {
        format!(
            "otpauth://totp/{ISSUER}:{email}?secret={}&issuer={ISSUER}",
            self.base32()
        )
    }

    fn totp(&self) -> Option<Totp> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(Secret::from(self.0.to_vec()))
            .build()
            .ok()
    }

    /// The time step a code is valid for (now ±1 step), if any. totp-rs compares in constant
    /// time. Anything but exactly six digits (spaces allowed) is refused.
    pub fn matching_step(&self, code: &str, now: UnixTime) -> Option<i64> {
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        self.totp()?
            .check(&digits, now)
            .and_then(|s| i64::try_from(s).ok())
    }

    /// The code for a time (tests and the companion app).
    pub fn code_at(&self, t: UnixTime) -> String {
        self.totp()
            .map(|totp| totp.generate(u64::try_from(t).unwrap_or(0)).to_string())
            .unwrap_or_default()
    }
}

/// An SVG QR code of `text`, for inline use in a page.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// The same QR code as a data: URL, for an <img> with alt text.
pub fn qr_data_url(text: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(qr_svg(text))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8-digit values; the last six digits are ours).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890");
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(t), &eight[2..], "t={t}");
            assert!(secret.matching_step(&eight[2..], t).is_some());
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_two_is_not() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = now / 30;
        assert_eq!(secret.matching_step(&secret.code_at(now), now), Some(step));
        assert_eq!(
            secret.matching_step(&secret.code_at(now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            secret.matching_step(&secret.code_at(now + 30), now),
            Some(step + 1)
        );
        assert_eq!(secret.matching_step(&secret.code_at(now - 60), now), None);
        assert_eq!(secret.matching_step(&secret.code_at(now + 60), now), None);
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
        let spaced = secret.code_at(now);
        assert!(
            secret
                .matching_step(&format!("{} {}", &spaced[..3], &spaced[3..]), now)
                .is_some()
        );
    }

    #[test]
    fn secrets_are_160_bits_and_the_uri_has_the_fixed_form() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.bytes().len(), 20);
        assert_eq!(secret.base32().len(), 32);
        let uri = secret.otpauth_uri("ann@example.nhs.uk");
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/NHSmal:ann@example.nhs.uk?secret={}&issuer=NHSmal",
                secret.base32()
            )
        );
        assert_eq!(secret.base32_grouped().replace(' ', ""), secret.base32());
        assert!(format!("{secret:?}").contains('…'));
        assert!(qr_svg(&uri).starts_with("<?xml") || qr_svg(&uri).contains("<svg"));
    }
}
