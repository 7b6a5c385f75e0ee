//! Authenticator-app codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! drift either way) through `totp-rs`, and the enrolment QR code drawn on the server as
//! inline SVG (no image request, no script, nothing sent elsewhere).

use anyhow::{anyhow, Context};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
const DIGITS: usize = 6;
/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// An authenticator-app secret, base32 as the apps take it. Never printed.
#[derive(Clone)]
pub struct TotpSecret(SecretString);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A new random secret from the OS generator.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; SECRET_BYTES];
        super::random::os_random(&mut bytes)?;
        match Secret::Raw(bytes.to_vec()).to_encoded() {
            Secret::Encoded(text) => Ok(Self(text.into())),
            Secret::Raw(_) => Err(anyhow!("base32 encoding failed")),
        }
    }

    pub fn from_stored(secret: SecretString) -> Self {
        Self(secret)
    }

    /// The base32 text: for the database and for typing into an app by hand.
    pub fn base32(&self) -> &str {
        self.0.expose_secret()
    }

    fn totp(&self) -> anyhow::Result<TOTP> {
        let bytes = Secret::Encoded(self.0.expose_secret().to_owned())
            .to_bytes()
            .map_err(|_| anyhow!("stored TOTP secret is not base32"))?;
        // skew 0: the window is applied by `matching_step`, which also needs the step.
        TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECS as u64, bytes)
            .map_err(|_| anyhow!("stored TOTP secret is too short"))
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> anyhow::Result<String> {
        let time = u64::try_from(step * STEP_SECS).context("negative time")?;
        Ok(self.totp()?.generate(time))
    }

    /// The step, among the one of `now` and its two neighbours, whose code is `code`.
    pub fn matching_step(&self, code: &str, now: i64) -> anyhow::Result<Option<i64>> {
        let current = now.div_euclid(STEP_SECS);
        let mut found = None;
        // Every candidate is compared, in constant time, whatever matched before.
        for step in [current - 1, current, current + 1] {
            let expected = self.code_at_step(step)?;
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = Some(step);
            }
        }
        Ok(found)
    }

    /// The `otpauth://` URI an app reads from the QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        use url::form_urlencoded::{byte_serialize, Serializer};
        let encode = |text: &str| byte_serialize(text.as_bytes()).collect::<String>();
        let query = Serializer::new(String::new())
            .append_pair("secret", self.base32())
            .append_pair("issuer", issuer)
            .append_pair("algorithm", "SHA1")
            .append_pair("digits", "6")
            .append_pair("period", "30")
            .finish();
        format!(
            "otpauth://totp/{}:{}?{query}",
            encode(issuer),
            encode(account)
        )
    }
}

/// `text` as a QR code: an `<svg>` element to put in a page.
pub fn qr_svg(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).context("QR code")?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // The XML declaration does not belong inside an HTML page.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 key, "12345678901234567890", in base32.
    fn rfc_secret() -> TotpSecret {
        TotpSecret(SecretString::from("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
    }

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // Appendix B: 94287082 at 59 s and 07081804 at 1111111109 s (8 digits; the last 6).
        assert_eq!(rfc_secret().code_at_step(59 / 30).unwrap(), "287082");
        assert_eq!(
            rfc_secret().code_at_step(1_111_111_109 / 30).unwrap(),
            "081804"
        );
    }

    #[test]
    fn the_window_is_one_step_either_way() {
        let secret = rfc_secret();
        let now = 1_111_111_109;
        let step = now / 30;
        for offset in [-1, 0, 1] {
            let code = secret.code_at_step(step + offset).unwrap();
            assert_eq!(
                secret.matching_step(&code, now).unwrap(),
                Some(step + offset)
            );
        }
        for offset in [-2, 2] {
            let code = secret.code_at_step(step + offset).unwrap();
            assert_eq!(secret.matching_step(&code, now).unwrap(), None);
        }
    }

    #[test]
    fn a_new_secret_is_random_base32_of_160_bits_and_never_printed() {
        let a = TotpSecret::generate().unwrap();
        assert_eq!(a.base32().len(), 32);
        assert_ne!(a.base32(), TotpSecret::generate().unwrap().base32());
        assert!(!format!("{a:?}").contains(a.base32()));
    }

    #[test]
    fn the_uri_names_the_account_and_the_qr_code_is_an_svg_element() {
        let uri = rfc_secret().otpauth_uri("Mailkeys", "alice@example.org");
        assert!(uri.starts_with("otpauth://totp/Mailkeys:alice%40example.org?secret="));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("style="));
    }
}
