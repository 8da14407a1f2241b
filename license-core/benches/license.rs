//! Signing and verifying a license, each beside the bare Ed25519 operation on the same bytes.
//!
//! The goal (issue #11) is that `verify` costs at most 1.15 times `raw_verify`: everything the
//! crate adds around the signature check (the strict checks, jsonwebtoken's decoding, claims
//! parsing, validation) should stay small next to the curve arithmetic. Each pair is one
//! criterion group so both are measured in the same run; docs/benchmarks.md records the
//! figures, and benches/paired.rs measures the same ratios interleaved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer as _};
use license_core::{
    Keyring, LicenseClaims, SigningKey, Timestamp, Verifier, base64url, sign_license,
};
use std::hint::black_box;

#[path = "common/fixture.rs"]
mod fixture;
use fixture::claims;

/// The seed of the benchmark key; the dalek key is derived from the same bytes.
const SEED: [u8; 32] = [42; 32];

/// The token, its signing input (`header.payload`) and its decoded signature.
fn token_parts(claims: &LicenseClaims, key: &SigningKey) -> (String, Vec<u8>, Signature) {
    let token = sign_license(claims, key).unwrap();
    let (signing_input, signature_b64) = token.rsplit_once('.').unwrap();
    let signature: [u8; 64] = base64url::decode(signature_b64)
        .unwrap()
        .try_into()
        .unwrap();
    let signing_input = signing_input.as_bytes().to_vec();
    (token, signing_input, Signature::from_bytes(&signature))
}

fn verify(c: &mut Criterion) {
    let now = Timestamp::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
    let key = SigningKey::from_seed(&SEED);
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    let verifier = Verifier::new(keyring);
    let (token, signing_input, signature) = token_parts(&claims(now), &key);
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&SEED).verifying_key();
    verifier.verify(&token, now).unwrap();
    dalek_key.verify_strict(&signing_input, &signature).unwrap();

    let mut group = c.benchmark_group("verify");
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&token), black_box(now)).unwrap())
    });
    group.bench_function("raw_verify", |b| {
        b.iter(|| dalek_key.verify_strict(black_box(&signing_input), black_box(&signature)))
    });
    group.finish();
}

fn sign(c: &mut Criterion) {
    let now = Timestamp::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
    let key = SigningKey::from_seed(&SEED);
    let claims = claims(now);
    let (_, signing_input, _) = token_parts(&claims, &key);
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&SEED);

    let mut group = c.benchmark_group("sign");
    group.bench_function("sign", |b| {
        b.iter(|| sign_license(black_box(&claims), black_box(&key)).unwrap())
    });
    group.bench_function("raw_sign", |b| {
        b.iter(|| dalek_key.sign(black_box(&signing_input)))
    });
    group.finish();
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
