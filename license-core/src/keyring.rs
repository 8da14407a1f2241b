//! The set of keys a verifier trusts, by key id.

use crate::keys::{KeyId, KeySource, PublicKey};
use std::collections::BTreeMap;

include!(concat!(env!("OUT_DIR"), "/builtin_keys.rs"));

/// A key the keyring trusts, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey {
    /// The public key.
    pub key: PublicKey,
    /// Built in, or added at run time.
    pub source: KeySource,
}

/// Adding a key would make a key id ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key id {0} is already trusted for a different key; choose another id")]
pub struct KeyIdConflict(pub KeyId);

/// Key id → public key. Verification looks the token's `kid` up here and nowhere else.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, TrustedKey>,
}

impl Keyring {
    /// An empty keyring: trusts nothing until keys are added.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The vendor's production keys, compiled in from `keys/`.
    pub fn builtin() -> Self {
        let mut keyring = Self::empty();
        for (kid, bytes) in BUILTIN_KEYS {
            // build.rs refuses to compile a key id or key that does not parse, so both
            // conversions succeed; skipping instead of panicking keeps verifiers alive regardless.
            if let (Ok(kid), Ok(key)) = (KeyId::new(kid), PublicKey::from_bytes(bytes)) {
                keyring.keys.insert(
                    kid,
                    TrustedKey {
                        key,
                        source: KeySource::BuiltIn,
                    },
                );
            }
        }
        keyring
    }

    /// Trusts `key` under `kid`. Adding the same pair twice is harmless; reusing an id for
    /// another key is refused, since it would make signatures ambiguous.
    pub fn add(&mut self, kid: KeyId, key: PublicKey) -> Result<(), KeyIdConflict> {
        match self.keys.get(&kid) {
            Some(existing) if existing.key == key => Ok(()),
            Some(_) => Err(KeyIdConflict(kid)),
            None => {
                self.keys.insert(
                    kid,
                    TrustedKey {
                        key,
                        source: KeySource::Added,
                    },
                );
                Ok(())
            }
        }
    }

    /// The key trusted under `kid`.
    pub fn get(&self, kid: &KeyId) -> Option<&TrustedKey> {
        self.keys.get(kid)
    }

    /// Every trusted key, in key id order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &TrustedKey)> {
        self.keys.iter()
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn builtin_keys_are_named_by_their_thumbprint() {
        let keyring = Keyring::builtin();
        assert_eq!(
            keyring.len(),
            BUILTIN_KEYS.len(),
            "every file in keys/ must load"
        );
        for (kid, trusted) in keyring.iter() {
            assert_eq!(trusted.source, KeySource::BuiltIn);
            assert_eq!(&trusted.key.thumbprint(), kid);
        }
    }

    #[test]
    fn refuses_reusing_an_id_for_another_key() {
        let a = SigningKey::from_seed(&[1; 32]).public_key();
        let b = SigningKey::from_seed(&[2; 32]).public_key();
        let kid = KeyId::new("2026-01-01").unwrap();
        let mut keyring = Keyring::empty();
        keyring.add(kid.clone(), a).unwrap();
        keyring.add(kid.clone(), a).unwrap();
        assert_eq!(keyring.add(kid.clone(), b), Err(KeyIdConflict(kid)));
        assert_eq!(keyring.len(), 1);
    }
}
