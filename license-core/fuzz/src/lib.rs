//! What the `verify_token` fuzz target does with an input, shared with the corpus seeder so
//! that both agree on the input format.
//!
//! Random bytes rarely get past base64url and the header checks, and never past the
//! signature. So the first byte of an input picks a mode: below [`MODE_COUNT`] it is a
//! structured mutation of a token that the fixture key signs (the fuzzer's bytes become the
//! header or the payload, and the result is signed again, so the claims parser, `validate`
//! and the entitlements see them); any other first byte means the whole input is the token
//! text. Valid tokens start with `e` (base64url of `{"`), so they work as raw seeds.
//!
//! Besides "no panic", a verified token must be canonical: each segment is the only base64url
//! encoding of its bytes, the signature is the one the fixture key makes (Ed25519 signing is
//! deterministic), and the claims survive signing and verifying again unchanged.

use license_core::{
    CheckinPolicy, Context, DAY, DeploymentId, Email, Entitlements, FORMAT_VERSION, FeatureSet,
    InstalledLicense, Keyring, LicenseClaims, LicenseId, SigningKey, Timestamp, Verifier,
    base64url, sign_license,
};
use std::sync::LazyLock;

/// The seed of the only key the fuzzed verifier trusts (a test key, public on purpose).
pub const KEY_SEED: [u8; 32] = [0x5e; 32];

/// The verifier's clock: 2026-11-27T00:00:00Z.
pub const NOW_UNIX: i64 = 1_795_737_600;

/// The rest of the input is the header JSON; the fixture's payload; signed.
pub const MODE_HEADER: u8 = 0;
/// The rest of the input is the payload JSON; the fixture's header; signed.
pub const MODE_PAYLOAD: u8 = 1;
/// The rest is header JSON, a 0xFF byte, payload JSON (0xFF never occurs in UTF-8); signed.
pub const MODE_BOTH: u8 = 2;
/// The next byte picks a segment (header, payload, signature) of the fixture token; the rest,
/// as text, replaces it verbatim. Not signed again: only the original may verify.
pub const MODE_SEGMENT: u8 = 3;
/// The next byte picks the header or payload segment; the rest, as text, replaces it
/// verbatim, and the token is signed again: reaches the payload's base64url check.
pub const MODE_SEGMENT_SIGNED: u8 = 4;
/// First bytes below this select a structured mode; any other input is raw token text.
pub const MODE_COUNT: u8 = 5;

/// The fixed key, the verifier trusting it, and a valid token to mutate.
#[derive(Debug)]
pub struct Fixture {
    /// The fixture key.
    pub key: SigningKey,
    /// A verifier whose keyring holds only the fixture key.
    pub verifier: Verifier,
    /// The verifier's clock.
    pub now: Timestamp,
    /// The bound deployment that the entitlements are computed for.
    pub deployment_id: DeploymentId,
    /// A valid token of [`sample_claims`]'s first license.
    pub token: String,
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);
    &FIXTURE
}

impl Fixture {
    fn new() -> Self {
        let key = SigningKey::from_seed(&KEY_SEED);
        let mut keyring = Keyring::empty();
        keyring
            .add(key.key_id().clone(), key.public_key())
            .expect("an empty keyring has room");
        let now = Timestamp::from_unix(NOW_UNIX).expect("2026 is in range");
        let claims = sample_claims(now);
        let token = sign_license(&claims[0], &key).expect("the sample claims are consistent");
        let deployment_id = claims[0].deployment_ids[0].clone();
        Self {
            key,
            verifier: Verifier::new(keyring),
            now,
            deployment_id,
            token,
        }
    }

    /// The token's three segments, as text.
    pub fn segments(&self) -> [&str; 3] {
        let mut parts = self.token.splitn(3, '.');
        let mut next = || parts.next().unwrap_or_default();
        [next(), next(), next()]
    }

    /// The decoded header and payload JSON of the valid token.
    pub fn header_and_payload(&self) -> (Vec<u8>, Vec<u8>) {
        let [header, payload, _] = self.segments();
        let decode = |text| base64url::decode(text).expect("the fixture token is canonical");
        (decode(header), decode(payload))
    }

    /// Signs `header.payload` (already base64url text) with the fixture key.
    fn signed(&self, header_b64: &str, payload_b64: &str) -> String {
        let signing_input = format!("{header_b64}.{payload_b64}");
        let signature = base64url::encode(&self.key.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// Signs raw header and payload bytes with the fixture key.
    fn signed_json(&self, header: &[u8], payload: &[u8]) -> String {
        self.signed(&base64url::encode(header), &base64url::encode(payload))
    }

    /// The token an input stands for (see the module documentation).
    pub fn token_for(&self, data: &[u8]) -> String {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match data.split_first() {
            Some((&MODE_HEADER, header)) => {
                let (_, payload) = self.header_and_payload();
                self.signed_json(header, &payload)
            }
            Some((&MODE_PAYLOAD, payload)) => {
                let (header, _) = self.header_and_payload();
                self.signed_json(&header, payload)
            }
            Some((&MODE_BOTH, rest)) => {
                let (header, payload) = match rest.iter().position(|&b| b == 0xff) {
                    Some(at) => (&rest[..at], &rest[at + 1..]),
                    None => (rest, &[][..]),
                };
                self.signed_json(header, payload)
            }
            Some((&MODE_SEGMENT, rest)) => {
                let (which, replacement) = rest.split_first().unwrap_or((&0, &[]));
                let mut segments = self.segments().map(str::to_owned);
                segments[usize::from(*which) % 3] = text(replacement);
                segments.join(".")
            }
            Some((&MODE_SEGMENT_SIGNED, rest)) => {
                let (which, replacement) = rest.split_first().unwrap_or((&0, &[]));
                let [header, payload, _] = self.segments();
                if which % 2 == 0 {
                    self.signed(&text(replacement), payload)
                } else {
                    self.signed(header, &text(replacement))
                }
            }
            _ => text(data),
        }
    }

    /// Verifies `token`, checks a verified one is canonical, and computes entitlements from
    /// the verdict as a control plane would at startup. Panics on any violation.
    pub fn check(&self, token: &str) {
        let verdict = self.verifier.verify(token, self.now);
        match &verdict {
            Ok(license) => {
                self.assert_canonical(token);
                let again = sign_license(license.claims(), &self.key)
                    .expect("verified claims are consistent, so they can be signed");
                let reverified = self.verifier.verify(&again, self.now);
                assert_eq!(
                    reverified.as_ref().map(|l| l.claims()),
                    Ok(license.claims())
                );
            }
            // The message is shown to people: formatting it must not panic either.
            Err(error) => drop(error.to_string()),
        }
        let installed = [InstalledLicense {
            name: "license.jwt".to_owned(),
            verdict,
        }];
        let context = Context {
            deployment_id: Some(&self.deployment_id),
            active_users: Some(251),
            high_water_mark: Some(self.now.add_seconds(-DAY)),
            ..Context::at(self.now)
        };
        let entitlements = Entitlements::compute(&installed, &context);
        let _ = entitlements.is_valid();
    }

    fn assert_canonical(&self, token: &str) {
        let segments: Vec<&str> = token.trim_ascii().split('.').collect();
        assert_eq!(segments.len(), 3, "a verified token has three segments");
        for segment in &segments {
            let bytes = base64url::decode(segment).expect("a verified segment decodes");
            assert_eq!(
                &base64url::encode(&bytes),
                segment,
                "a verified segment is canonical"
            );
        }
        let signing_input = format!("{}.{}", segments[0], segments[1]);
        assert_eq!(
            base64url::encode(&self.key.sign(signing_input.as_bytes())),
            segments[2],
            "a verified signature is the one the key makes"
        );
    }
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let fixture = fixture();
    fixture.check(&fixture.token_for(data));
}

/// A few realistic licenses: enterprise bound to deployments, a premium trial with check-in,
/// and a bare one with no feature set.
pub fn sample_claims(now: Timestamp) -> Vec<LicenseClaims> {
    let enterprise = LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").expect("a valid email"),
        jti: LicenseId::from_u128(0x0193_5f2a_7c44_7d1e_9b2f_3c1d_5e6f_7a8b),
        iat: now,
        nbf: now,
        license_expires: now.add_seconds(365 * DAY),
        exp: now.add_seconds(372 * DAY),
        version: FORMAT_VERSION,
        account_type: "salesforce".into(),
        account_id: "0015g00000XyZaBAAV".into(),
        deployment_ids: ["6f1c2a9e-3b7d-4e8f-9a0b-1c2d3e4f5a6b", "prod-eu-west-1"]
            .into_iter()
            .map(|id| DeploymentId::parse(id).expect("a valid deployment id"))
            .collect(),
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), 250)].into(),
        require_telemetry: true,
        evaluation: false,
        checkin: None,
        min_product_version: Some("2.15.0".into()),
        sequence: 3,
    };
    let trial = LicenseClaims {
        jti: LicenseId::from_u128(2),
        license_expires: now.add_seconds(30 * DAY),
        exp: now.add_seconds(30 * DAY),
        deployment_ids: vec![],
        trial: true,
        evaluation: true,
        feature_set: FeatureSet::Premium,
        features: [
            ("user_limit".to_owned(), 10),
            ("multiple_organizations".to_owned(), 1),
        ]
        .into(),
        checkin: Some(CheckinPolicy {
            interval_secs: DAY as u64,
            max_offline_secs: 7 * DAY as u64,
        }),
        sequence: 0,
        ..enterprise.clone()
    };
    let bare = LicenseClaims {
        jti: LicenseId::from_u128(3),
        account_type: String::new(),
        account_id: String::new(),
        deployment_ids: vec![],
        feature_set: FeatureSet::None,
        features: [("audit_log".to_owned(), 1)].into(),
        require_telemetry: false,
        min_product_version: None,
        sequence: 0,
        ..enterprise.clone()
    };
    vec![enterprise, trial, bare]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifies(data: &[u8]) -> bool {
        let fixture = fixture();
        fixture
            .verifier
            .verify(&fixture.token_for(data), fixture.now)
            .is_ok()
    }

    #[test]
    fn unmodified_inputs_of_every_mode_verify() {
        let fixture = fixture();
        let (header, payload) = fixture.header_and_payload();
        let [header_b64, payload_b64, signature_b64] = fixture.segments();
        assert!(verifies(fixture.token.as_bytes()));
        assert!(verifies(&[&[MODE_HEADER], &header[..]].concat()));
        assert!(verifies(&[&[MODE_PAYLOAD], &payload[..]].concat()));
        assert!(verifies(
            &[&[MODE_BOTH], &header[..], &[0xff], &payload[..]].concat()
        ));
        for (which, segment) in [header_b64, payload_b64, signature_b64].iter().enumerate() {
            let which = which as u8;
            assert!(verifies(
                &[&[MODE_SEGMENT, which], segment.as_bytes()].concat()
            ));
        }
        assert!(verifies(
            &[&[MODE_SEGMENT_SIGNED, 0], header_b64.as_bytes()].concat()
        ));
        assert!(verifies(
            &[&[MODE_SEGMENT_SIGNED, 1], payload_b64.as_bytes()].concat()
        ));
        for token in sample_claims(fixture.now)
            .iter()
            .map(|c| sign_license(c, &fixture.key))
        {
            assert!(verifies(token.expect("consistent claims").as_bytes()));
        }
    }

    #[test]
    fn altered_inputs_are_refused_without_panicking() {
        let fixture = fixture();
        let [_, _, signature_b64] = fixture.segments();
        let mut forged = signature_b64.to_owned();
        forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
        for data in [
            &b""[..],
            b"\xff\xfe not a token",
            &[MODE_PAYLOAD],
            &[MODE_HEADER, b'[', b']'],
            &[&[MODE_SEGMENT, 2], forged.as_bytes()].concat(),
            &[MODE_SEGMENT_SIGNED, 1, b'*'],
        ] {
            assert!(!verifies(data), "{data:?}");
            run(data);
        }
        run(fixture.token.as_bytes());
    }
}
