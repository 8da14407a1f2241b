//! The Wycheproof Ed25519 suite, in full, against `PublicKey::verify_strict` and against
//! jsonwebtoken's signature check with license-core's crypto provider (what tokens go through).
//!
//! The vectors come from the `wycheproof` crate (its `eddsa` feature ships Wycheproof's
//! `ed25519_test.json`), so the test runs in any clone. Strict verification is required:
//! every `valid` vector verifies and every `invalid` one (non-canonical S, small-order R or A,
//! malleable encodings) is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonwebtoken::{Algorithm, DecodingKey};
use license_core::{PublicKey, base64url, jws};
use wycheproof::TestResult;
use wycheproof::eddsa::{TestGroupTypeId, TestName, TestSet};

#[test]
fn wycheproof_ed25519_passes_in_full() {
    let suite = TestSet::load(TestName::Ed25519).expect("the wycheproof crate ships ed25519");
    assert!(
        jws::install_provider(),
        "license-core's provider is in force"
    );
    assert_eq!(suite.algorithm, wycheproof::eddsa::Algorithm::EdDsa);

    let (mut valid, mut invalid, mut keys_refused) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for group in &suite.test_groups {
        assert_eq!(group.test_type, TestGroupTypeId::Eddsa);
        for test in &group.tests {
            match test.result {
                TestResult::Valid => valid += 1,
                TestResult::Invalid => invalid += 1,
                TestResult::Acceptable => {
                    panic!("tcId {}: this suite has no acceptable cases", test.tc_id)
                }
            }
        }

        let key = <[u8; 32]>::try_from(&group.key.pk[..])
            .map_err(|_| "not 32 bytes".to_owned())
            .and_then(|bytes| PublicKey::from_bytes(&bytes).map_err(|e| e.to_string()));
        let key = match key {
            Ok(key) => key,
            Err(error) => {
                // Refusing the key rejects every signature under it, which is only right when
                // the suite expects every one of them to be rejected.
                if group.tests.iter().all(|t| t.result == TestResult::Invalid) {
                    keys_refused += 1;
                    continue;
                }
                panic!(
                    "public key {:?} refused ({error}) but the group has valid tests",
                    group.key.pk
                );
            }
        };

        let decoding_key = DecodingKey::from_ed_der(&group.key.pk);
        for test in &group.tests {
            let expected = test.result == TestResult::Valid;
            let through_provider = jsonwebtoken::crypto::verify(
                &base64url::encode(&test.sig),
                &test.msg,
                &decoding_key,
                Algorithm::EdDSA,
            )
            .unwrap_or(false);
            for (path, verified) in [
                (
                    "verify_strict",
                    key.verify_strict(&test.msg, &test.sig).is_ok(),
                ),
                ("jsonwebtoken", through_provider),
            ] {
                if verified != expected {
                    failures.push(format!(
                        "tcId {} ({}) through {path}: expected {}, got {}",
                        test.tc_id,
                        test.comment,
                        if expected { "valid" } else { "invalid" },
                        if verified { "valid" } else { "invalid" },
                    ));
                }
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(suite.number_of_tests, 151);
    assert_eq!(
        (valid, invalid),
        (88, 63),
        "the suite changed: update the expected counts"
    );
    // Every key in this suite is a usable key; a refused one would hide its tests.
    assert_eq!(keys_refused, 0);
}
