//! Properties of signing and verification: every valid license round-trips unchanged, and no
//! single-bit change to a token survives verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    CheckinPolicy, DeploymentId, Email, FORMAT_VERSION, FeatureSet, Keyring, LicenseClaims,
    MAX_UNIX_SECONDS, SigningKey, Timestamp, Verifier, sign_license,
};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;

fn key() -> SigningKey {
    SigningKey::from_seed(&[0x5a; 32])
}

fn verifier() -> Verifier {
    let key = key();
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    Verifier::new(keyring)
}

/// A verifier's clock late enough that no generated license counts as issued in the future.
fn late_now() -> Timestamp {
    Timestamp::from_unix(MAX_UNIX_SECONDS).unwrap()
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        // Around today, where real licenses live.
        1_700_000_000i64..1_900_000_000,
        // Anywhere in the representable range, edges included.
        0..=MAX_UNIX_SECONDS,
        Just(0),
        Just(MAX_UNIX_SECONDS),
    ]
}

/// `(iat, nbf, license_expires, exp)` with `nbf <= license_expires <= exp` and `iat <= exp`.
fn times() -> impl Strategy<Value = (Timestamp, Timestamp, Timestamp, Timestamp)> {
    (timestamp(), timestamp(), timestamp(), any::<Index>()).prop_map(|(a, b, c, iat)| {
        let mut t = [a, b, c];
        t.sort_unstable();
        let [nbf, license_expires, exp] = t;
        let iat = iat.index(usize::try_from(exp).unwrap() + 1) as i64;
        let ts = |s: i64| Timestamp::from_unix(s).unwrap();
        (ts(iat), ts(nbf), ts(license_expires), ts(exp))
    })
}

fn feature_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("user_limit".to_owned()),
        Just("audit_log".to_owned()),
        Just("multiple_organizations".to_owned()),
        "[a-z0-9_]{1,64}",
    ]
}

fn features() -> impl Strategy<Value = BTreeMap<String, i64>> {
    prop::collection::btree_map(
        feature_name(),
        prop_oneof![Just(0i64), 0..1_000i64, 0..=i64::MAX],
        0..8,
    )
}

fn deployment_ids() -> impl Strategy<Value = Vec<DeploymentId>> {
    prop::collection::vec(
        "[A-Za-z0-9._:-]{1,128}".prop_map(|s| DeploymentId::parse(&s).unwrap()),
        0..4,
    )
}

fn checkin() -> impl Strategy<Value = Option<CheckinPolicy>> {
    prop::option::of(
        (1..=u64::MAX, any::<u64>()).prop_map(|(interval_secs, extra)| CheckinPolicy {
            interval_secs,
            max_offline_secs: interval_secs.saturating_add(extra),
        }),
    )
}

fn product_version() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        (
            "v?",
            0..1_000_000_000u64,
            0..1_000u64,
            0..1_000u64,
            "(-rc\\.[0-9])?",
        )
            .prop_map(|(v, major, minor, patch, pre)| format!("{v}{major}.{minor}.{patch}{pre}")),
    )
}

fn feature_set() -> impl Strategy<Value = FeatureSet> {
    prop_oneof![
        Just(FeatureSet::None),
        Just(FeatureSet::Enterprise),
        Just(FeatureSet::Premium)
    ]
}

prop_compose! {
    fn claims()(
        iss in "\\PC{1,40}".prop_filter("issuer must not be blank", |s| !s.trim().is_empty()),
        sub in "[a-z0-9+_-]{1,20}(\\.[a-z0-9+_-]{1,10})?@[a-z0-9]{1,20}\\.(com|de|io)",
        jti in any::<u128>(),
        (iat, nbf, license_expires, exp) in times(),
        account_type in "\\PC{0,30}",
        account_id in "\\PC{0,30}",
        deployment_ids in deployment_ids(),
        trial in any::<bool>(),
        feature_set in feature_set(),
        features in features(),
        require_telemetry in any::<bool>(),
        evaluation in any::<bool>(),
        checkin in checkin(),
        min_product_version in product_version(),
        sequence in prop_oneof![Just(0u64), any::<u64>()],
    ) -> LicenseClaims {
        LicenseClaims {
            iss,
            sub: Email::parse(&sub).unwrap(),
            jti: uuid::Uuid::from_u128(jti),
            iat,
            nbf,
            license_expires,
            exp,
            version: FORMAT_VERSION,
            account_type,
            account_id,
            deployment_ids,
            trial,
            feature_set,
            features,
            require_telemetry,
            evaluation,
            checkin,
            min_product_version,
            sequence,
        }
    }
}

/// Flips bit `bit` of byte `index` of `token`; `None` when the result is not text at all
/// (and so cannot even be handed to the verifier).
fn flip(token: &str, index: usize, bit: u8) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] ^= 1 << bit;
    String::from_utf8(bytes).ok()
}

fn assert_rejected(verifier: &Verifier, token: &str, index: usize, bit: u8) {
    if let Some(altered) = flip(token, index, bit) {
        assert!(
            verifier.verify(&altered, late_now()).is_err(),
            "flipping bit {bit} of byte {index} was accepted: {altered}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_claims_round_trip(claims in claims()) {
        let key = key();
        let token = sign_license(&claims, &key).unwrap();
        let verified = verifier().verify(&token, late_now()).unwrap();
        prop_assert_eq!(verified.claims(), &claims);
        prop_assert_eq!(verified.id(), claims.jti);
        prop_assert_eq!(verified.key_id(), key.key_id());
    }

}

proptest! {
    // Each case costs a signature and two verifications (slow in debug builds): 128 sampled
    // positions per run keep the file fast; the boundary test below covers the risky bytes.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_single_bit_flip_is_rejected(claims in claims(), index in any::<Index>(), bit in 0u8..8) {
        let token = sign_license(&claims, &key()).unwrap();
        let verifier = verifier();
        prop_assert!(verifier.verify(&token, late_now()).is_ok());
        assert_rejected(&verifier, &token, index.index(token.len()), bit);
    }
}

/// Every bit of the bytes where parsers are most likely to be lenient: the token's ends and
/// both sides of each dot (segment boundaries, trailing base64 bits, padding positions).
#[test]
fn bit_flips_at_segment_boundaries_are_rejected() {
    let claims = LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").unwrap(),
        jti: uuid::Uuid::from_u128(7),
        iat: Timestamp::from_unix(1_780_000_000).unwrap(),
        nbf: Timestamp::from_unix(1_780_000_000).unwrap(),
        license_expires: Timestamp::from_unix(1_790_000_000).unwrap(),
        exp: Timestamp::from_unix(1_791_000_000).unwrap(),
        version: FORMAT_VERSION,
        account_type: "licensor".into(),
        account_id: "acme".into(),
        deployment_ids: vec![],
        trial: false,
        feature_set: FeatureSet::Premium,
        features: BTreeMap::from([("user_limit".into(), 100)]),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 1,
    };
    let token = sign_license(&claims, &key()).unwrap();
    let verifier = verifier();
    assert!(verifier.verify(&token, late_now()).is_ok());

    let len = token.len();
    let dots: Vec<usize> = token.match_indices('.').map(|(i, _)| i).collect();
    assert_eq!(dots.len(), 2);
    let mut positions: Vec<usize> = (0..4).chain(len - 4..len).collect();
    for dot in dots {
        positions.extend(dot - 3..=dot + 3);
    }
    positions.sort_unstable();
    positions.dedup();
    for index in positions {
        for bit in 0..8 {
            assert_rejected(&verifier, &token, index, bit);
        }
    }
}
