//! Fuzzes `Verifier::verify` with raw token text and with signed mutations of a valid token.
//!
//! The input format and the checks are in `src/lib.rs`; README.md says how to run it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| license_core_fuzz::run(data));
