//! Admin API tokens: random, shown once, stored only as a SHA-256 hash.
//!
//! A token carries 256 random bits, so a fast hash is enough (there is nothing to brute
//! force), and looking a token up by its hash compares no secret bytes in the application.

use license_core::base64url;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const PREFIX: &str = "lsr_";

/// A new token from the operating system's random generator.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the random generator failed: {e}"))?;
    Ok(format!("{PREFIX}{}", base64url::encode(&bytes)))
}

/// Whether `text` has a token's shape (checked before any database lookup).
pub fn looks_like_token(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43 && base64url::decode(rest).is_ok_and(|b| b.len() == 32)
    })
}

/// The stored form: SHA-256, hex.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_recognisable_shape_and_a_stable_hash() {
        let token = generate().unwrap();
        assert!(looks_like_token(&token), "{token}");
        assert!(!looks_like_token("lsr_short"));
        assert!(!looks_like_token(&token.replace("lsr_", "xyz_")));
        assert_eq!(hash(&token).len(), 64);
        assert_eq!(hash(&token), hash(&token));
        assert_ne!(hash(&token), hash(&generate().unwrap()));
    }
}
