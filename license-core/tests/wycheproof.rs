//! The Wycheproof Ed25519 suite, in full, against `PublicKey::verify_strict`.
//!
//! DESIGN.md section 3 requires the strict check: every `valid` vector verifies and every
//! `invalid` one (non-canonical S, small-order R or A, malleable encodings) is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::PublicKey;
use serde_json::Value;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wycheproof_ed25519_test.json"
);

/// Decodes lowercase or uppercase hex; the suite is trusted input, so bad hex is a test bug.
fn hex(text: &str) -> Vec<u8> {
    let pairs = text.as_bytes().chunks_exact(2);
    assert!(pairs.remainder().is_empty(), "odd-length hex {text:?}");
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not hex: {text:?}"),
    };
    pairs
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {name:?} in {value}"))
}

#[test]
fn hex_decodes() {
    assert_eq!(hex(""), Vec::<u8>::new());
    assert_eq!(hex("00ff7Fa0"), vec![0x00, 0xff, 0x7f, 0xa0]);
}

#[test]
fn wycheproof_ed25519_passes_in_full() {
    let text = std::fs::read_to_string(SUITE)
        .unwrap_or_else(|e| panic!("cannot read {SUITE}: {e} (shared/ must sit beside the clone)"));
    let suite: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(suite["algorithm"], "EDDSA");

    let (mut valid, mut invalid, mut keys_refused) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let groups = suite["testGroups"].as_array().unwrap();
    for group in groups {
        assert_eq!(field(group, "type"), "EddsaVerify");
        let key_bytes = hex(field(&group["publicKey"], "pk"));
        let tests = group["tests"].as_array().unwrap();
        let results: Vec<&str> = tests.iter().map(|t| field(t, "result")).collect();
        for result in &results {
            match *result {
                "valid" => valid += 1,
                "invalid" => invalid += 1,
                other => panic!("unexpected result {other:?}: this suite has no acceptable cases"),
            }
        }

        let key = <[u8; 32]>::try_from(key_bytes.as_slice())
            .map_err(|_| "not 32 bytes".to_owned())
            .and_then(|bytes| PublicKey::from_bytes(&bytes).map_err(|e| e.to_string()));
        let key = match key {
            Ok(key) => key,
            Err(error) => {
                // Refusing the key rejects every signature under it, which is only right when
                // the suite expects every one of them to be rejected.
                if results.iter().all(|r| *r == "invalid") {
                    keys_refused += 1;
                    continue;
                }
                panic!(
                    "public key {} refused ({error}) but the group has valid tests",
                    group["publicKey"]["pk"]
                );
            }
        };

        for test in tests {
            let id = &test["tcId"];
            let msg = hex(field(test, "msg"));
            let sig = hex(field(test, "sig"));
            let verified = key.verify_strict(&msg, &sig).is_ok();
            let expected = field(test, "result") == "valid";
            if verified != expected {
                failures.push(format!(
                    "tcId {id} ({}): expected {}, got {}",
                    field(test, "comment"),
                    if expected { "valid" } else { "invalid" },
                    if verified { "valid" } else { "invalid" },
                ));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(suite["numberOfTests"], 151);
    assert_eq!(
        (valid, invalid),
        (88, 63),
        "the suite changed: update the expected counts"
    );
    // Every key in this suite is a usable key; a refused one would hide its tests.
    assert_eq!(keys_refused, 0);
}
