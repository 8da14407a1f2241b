//! Signing licenses and verifying them, strictly and offline.

use crate::claims::{ClaimsError, LicenseClaims};
use crate::ids::LicenseId;
use crate::jws::{self, JwsError};
use crate::keyring::Keyring;
use crate::keys::{KeyId, KeySource, SigningKey};
use crate::timestamp::Timestamp;

/// The JOSE `typ` of a license.
pub const LICENSE_TYP: &str = "JWT";

/// The clock difference tolerated between the licensor and a verifier, in seconds.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: i64 = 300;

/// Why a license token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is not a well-formed, correctly signed EdDSA JWS from a trusted key.
    #[error(transparent)]
    Token(#[from] JwsError),
    /// The signed payload is not a license: a claim is missing or has the wrong type.
    #[error("the license claims are malformed: {0}")]
    Claims(String),
    /// The claims are inconsistent.
    #[error("the license is inconsistent: {0}")]
    Inconsistent(#[from] ClaimsError),
    /// Issued later than the verifier's clock allows: the verifier's clock is behind.
    #[error(
        "the license was issued at {iat}, but this machine's clock reads {now}: the clock is behind; fix it (NTP) and retry"
    )]
    IssuedInFuture { iat: Timestamp, now: Timestamp },
}

/// A license whose signature, structure and claims all checked. It is the only way to read a
/// license's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLicense {
    claims: LicenseClaims,
    key_id: KeyId,
    key_source: KeySource,
}

impl VerifiedLicense {
    /// The claims.
    pub fn claims(&self) -> &LicenseClaims {
        &self.claims
    }

    /// The license id (`jti`).
    pub fn id(&self) -> LicenseId {
        self.claims.jti
    }

    /// The id of the key that signed it.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Whether the signing key is built in or was added by the caller.
    pub fn key_source(&self) -> KeySource {
        self.key_source
    }
}

/// Verifies licenses against a keyring.
#[derive(Debug, Clone)]
pub struct Verifier {
    keyring: Keyring,
    max_clock_skew_secs: i64,
}

impl Verifier {
    /// A verifier trusting `keyring`, with the default clock skew.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
        }
    }

    /// Tolerates `seconds` of clock difference (negative values count as zero).
    pub fn with_max_clock_skew(mut self, seconds: i64) -> Self {
        self.max_clock_skew_secs = seconds.max(0);
        self
    }

    /// The clock difference tolerated, in seconds.
    pub fn max_clock_skew_secs(&self) -> i64 {
        self.max_clock_skew_secs
    }

    /// The keys this verifier trusts.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Verifies `token` at `now`: strict EdDSA signature by a trusted key, well-typed and
    /// consistent claims, not issued after `now` beyond the allowed skew.
    ///
    /// Expiry is not an error here: an expired license is still authentic, and what it grants
    /// is decided by [`crate::Entitlements`].
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedLicense, VerifyError> {
        let verified: jws::VerifiedJws<LicenseClaims> =
            jws::verify(token, LICENSE_TYP, &self.keyring).map_err(|error| match error {
                JwsError::Claims(reason) => VerifyError::Claims(reason),
                other => VerifyError::Token(other),
            })?;
        let claims = verified.claims;
        claims.validate()?;
        if claims.iat > now.add_seconds(self.max_clock_skew_secs) {
            return Err(VerifyError::IssuedInFuture {
                iat: claims.iat,
                now,
            });
        }
        Ok(VerifiedLicense {
            claims,
            key_id: verified.kid,
            key_source: verified.key_source,
        })
    }
}

/// Signs `claims` with `key` as a license token, after checking them for consistency.
pub fn sign_license(claims: &LicenseClaims, key: &SigningKey) -> Result<String, ClaimsError> {
    claims.validate()?;
    jws::sign(LICENSE_TYP, claims, key).map_err(|error| ClaimsError::Encode(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;
    use crate::claims::tests::sample;

    fn setup() -> (SigningKey, Verifier) {
        let key = SigningKey::from_seed(&[7; 32]);
        let mut keyring = Keyring::empty();
        keyring.add(key.key_id().clone(), key.public_key()).unwrap();
        (key, Verifier::new(keyring))
    }

    fn now() -> Timestamp {
        Timestamp::from_unix(1_785_000_000).unwrap()
    }

    fn forge(header: &str, payload: &str, key: &SigningKey) -> String {
        jws::sign_with_header(header.as_bytes(), payload.as_bytes(), key)
    }

    #[test]
    fn round_trip() {
        let (key, verifier) = setup();
        let token = sign_license(&sample(), &key).unwrap();
        let verified = verifier.verify(&token, now()).unwrap();
        assert_eq!(verified.claims(), &sample());
        assert_eq!(verified.key_id(), key.key_id());
        assert_eq!(verified.key_source(), KeySource::Added);
        // Surrounding whitespace (a trailing newline in a file) is tolerated.
        assert!(verifier.verify(&format!("  {token}\n"), now()).is_ok());
    }

    #[test]
    fn rejects_other_algorithms_before_looking_at_keys() {
        let (key, verifier) = setup();
        let payload = serde_json::to_string(&sample()).unwrap();
        for alg in ["none", "HS256", "RS256", "ES256", "eddsa", "Ed25519"] {
            // An unknown kid would fail later: the alg error proves the order of the checks.
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"nobody"}}"#);
            let err = verifier
                .verify(&forge(&header, &payload, &key), now())
                .unwrap_err();
            assert_eq!(
                err,
                VerifyError::Token(JwsError::UnsupportedAlg(alg.into())),
                "{alg}"
            );
        }
        // alg none with an empty signature, the classic.
        let unsigned = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64::encode(payload.as_bytes())
        );
        assert_eq!(
            verifier.verify(&unsigned, now()).unwrap_err(),
            VerifyError::Token(JwsError::UnsupportedAlg("none".into()))
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let (key, verifier) = setup();
        let payload = serde_json::to_string(&sample()).unwrap();
        let kid = key.key_id().as_str();
        let cases: Vec<(String, JwsError)> = vec![
            (
                r#"{"alg":"EdDSA","typ":"JWT"}"#.into(),
                JwsError::MissingKid,
            ),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"unknown-key"}"#.into(),
                JwsError::UnknownKey("unknown-key".into()),
            ),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"../../etc"}"#.into(),
                JwsError::InvalidKid("../../etc".into()),
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":["exp"]}}"#),
                JwsError::CriticalHeader,
            ),
            // Present at all is refused, even null or empty (issue #12, finding 11).
            (
                format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":null}}"#),
                JwsError::CriticalHeader,
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":[]}}"#),
                JwsError::CriticalHeader,
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":"receipt+jwt","kid":"{kid}"}}"#),
                JwsError::WrongType {
                    expected: "JWT",
                    found: "receipt+jwt".into(),
                },
            ),
            (
                format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
                JwsError::WrongType {
                    expected: "JWT",
                    found: String::new(),
                },
            ),
        ];
        for (header, expected) in cases {
            let err = verifier
                .verify(&forge(&header, &payload, &key), now())
                .unwrap_err();
            assert_eq!(err, VerifyError::Token(expected), "{header}");
        }
        for header in [
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","jwk":{{}}}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","alg":"EdDSA"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","kid":"{kid}"}}"#),
            // jsonwebtoken itself accepts `crit: ["b64"]` with `b64: true`; this format does not.
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","b64":true,"crit":["b64"]}}"#),
            format!(r#"["EdDSA","JWT","{kid}"]"#),
            "not json".to_owned(),
        ] {
            let err = verifier
                .verify(&forge(&header, &payload, &key), now())
                .unwrap_err();
            assert!(
                matches!(err, VerifyError::Token(JwsError::Header(_))),
                "{header}: {err}"
            );
        }
    }

    #[test]
    fn rejects_malformed_shapes() {
        let (key, verifier) = setup();
        let token = sign_license(&sample(), &key).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (parts[..2].join("."), "part(s)"),
            (format!("{token}.x"), "part(s)"),
            (
                format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
                "base64url",
            ),
            (
                format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
                "base64url",
            ),
            (
                format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
                "payload is not canonical",
            ),
            (
                format!("{}.{}.+{}", parts[0], parts[1], &parts[2][1..]),
                "base64url",
            ),
            (
                format!("{}.{}.{}", parts[0], parts[1], &parts[2][..80]),
                "64 bytes",
            ),
            ("a".repeat(jws::MAX_TOKEN_BYTES + 1), "limit"),
        ];
        for (bad, expected) in cases {
            let err = verifier.verify(&bad, now()).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn refuses_a_signed_payload_that_is_not_canonical_base64url() {
        let (key, verifier) = setup();
        let header = b64::encode(
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key.key_id()).as_bytes(),
        );
        // "e30" is `{}`; "e31" decodes to the same bytes with a non-zero trailing bit.
        assert_eq!(b64::encode(b"{}"), "e30");
        for payload in ["e31", "e30=", "e3 0"] {
            let input = format!("{header}.{payload}");
            let signature = b64::encode(&key.sign(input.as_bytes()));
            let err = verifier
                .verify(&format!("{input}.{signature}"), now())
                .unwrap_err();
            assert_eq!(
                err,
                VerifyError::Token(JwsError::Base64 { part: "payload" }),
                "{payload}"
            );
        }
    }

    #[test]
    fn rejects_tampering() {
        let (key, verifier) = setup();
        let token = sign_license(&sample(), &key).unwrap();
        let (rest, _) = token.rsplit_once('.').unwrap();
        let (header, _) = rest.split_once('.').unwrap();
        let mut richer = sample();
        richer.features.insert("user_limit".into(), 100_000);
        let body = b64::encode(&serde_json::to_vec(&richer).unwrap());
        let signature = token.rsplit('.').next().unwrap();
        let tampered = format!("{header}.{body}.{signature}");
        assert_eq!(
            verifier.verify(&tampered, now()).unwrap_err(),
            VerifyError::Token(JwsError::BadSignature)
        );
        // A valid signature by an untrusted key claiming a trusted kid.
        let impostor = SigningKey::from_seed(&[9; 32]).with_key_id(key.key_id().clone());
        let forged = sign_license(&sample(), &impostor).unwrap();
        assert_eq!(
            verifier.verify(&forged, now()).unwrap_err(),
            VerifyError::Token(JwsError::BadSignature)
        );
    }

    #[test]
    fn rejects_bad_payloads() {
        let (key, verifier) = setup();
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key.key_id());
        for payload in ["[1,2]", "\"text\"", "null", "not json"] {
            let err = verifier
                .verify(&forge(&header, payload, &key), now())
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    VerifyError::Token(JwsError::Payload(_)) | VerifyError::Claims(_)
                ),
                "{payload}: {err}"
            );
        }
        let err = verifier
            .verify(&forge(&header, r#"{"iss":"x"}"#, &key), now())
            .unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
        let mut inconsistent = serde_json::to_value(sample()).unwrap();
        inconsistent["nbf"] = serde_json::json!(1_800_000_000);
        let err = verifier
            .verify(&forge(&header, &inconsistent.to_string(), &key), now())
            .unwrap_err();
        assert!(matches!(
            err,
            VerifyError::Inconsistent(ClaimsError::StartsAfterEnd { .. })
        ));
    }

    #[test]
    fn issued_in_the_future_means_the_clock_is_behind() {
        let (key, verifier) = setup();
        let token = sign_license(&sample(), &key).unwrap();
        let iat = sample().iat;
        assert!(
            verifier
                .verify(&token, iat.add_seconds(-DEFAULT_MAX_CLOCK_SKEW_SECS))
                .is_ok()
        );
        let err = verifier.verify(&token, iat.add_seconds(-DEFAULT_MAX_CLOCK_SKEW_SECS - 1));
        assert!(matches!(err, Err(VerifyError::IssuedInFuture { .. })));
    }

    #[test]
    fn signing_refuses_inconsistent_claims() {
        let (key, _) = setup();
        let mut claims = sample();
        claims.exp = claims.nbf.add_seconds(-10);
        assert!(sign_license(&claims, &key).is_err());
    }
}
