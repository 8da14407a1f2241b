//! The ratios of benches/license.rs, measured so that a busy machine cannot skew them: the
//! license operation and the bare ed25519-dalek one alternate in short blocks, each block's
//! ratio is taken against its neighbour, and the median of those ratios is printed. Criterion
//! measures one benchmark after the other, so load that comes and goes between the two moves
//! its ratio (docs/benchmarks.md shows by how much).
//!
//! `cargo bench -p license-core --bench paired` (about 10 s once built).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::{Signature, Signer as _};
use license_core::{Keyring, SigningKey, Timestamp, Verifier, base64url, sign_license};
use std::hint::black_box;
use std::time::Instant;

#[path = "common/fixture.rs"]
mod fixture;
use fixture::claims;

const SEED: [u8; 32] = [42; 32];
const BLOCK: u32 = 100;
const ROUNDS: usize = 401;

/// Nanoseconds per call of `f`, over one block.
fn block(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..BLOCK {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(BLOCK)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Alternates `ours` and `raw`, and prints the medians and the median ratio.
fn pair(name: &str, mut ours: impl FnMut(), mut raw: impl FnMut()) {
    for _ in 0..5 {
        block(&mut ours);
        block(&mut raw);
    }
    let (mut ours_ns, mut raw_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (a, b) = (block(&mut ours), block(&mut raw));
        ours_ns.push(a);
        raw_ns.push(b);
        ratios.push(a / b);
    }
    println!(
        "{name}: {:.2} µs, raw_{name}: {:.2} µs, median ratio {:.3} ({ROUNDS} rounds of {BLOCK} calls each)",
        median(ours_ns) / 1000.0,
        median(raw_ns) / 1000.0,
        median(ratios)
    );
}

fn main() {
    let now = Timestamp::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
    let key = SigningKey::from_seed(&SEED);
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    let verifier = Verifier::new(keyring);
    let claims = claims(now);
    let token = sign_license(&claims, &key).unwrap();
    let (signing_input, signature_b64) = token.rsplit_once('.').unwrap();
    let signature: [u8; 64] = base64url::decode(signature_b64)
        .unwrap()
        .try_into()
        .unwrap();
    let signature = Signature::from_bytes(&signature);
    let dalek = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let dalek_public = dalek.verifying_key();
    dalek_public
        .verify_strict(signing_input.as_bytes(), &signature)
        .unwrap();

    pair(
        "verify",
        || {
            verifier.verify(black_box(&token), black_box(now)).unwrap();
        },
        || {
            dalek_public
                .verify_strict(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap();
        },
    );
    pair(
        "sign",
        || {
            black_box(sign_license(black_box(&claims), black_box(&key)).unwrap());
        },
        || {
            black_box(dalek.sign(black_box(signing_input.as_bytes())));
        },
    );
}
