//! Compact JWS (RFC 7515) with Ed25519 (RFC 8037), strict, on jsonwebtoken.
//!
//! jsonwebtoken encodes the tokens, checks their signatures and decodes their claims, through
//! this crate's EdDSA-only crypto provider (ed25519-dalek's `verify_strict`, see `provider`).
//! It accepts more than this format allows (unknown header parameters, `crit` with `b64`, no
//! `typ` or `kid`, any size), so a strict check runs in front of it. Verification checks, in
//! order and before any key is used: the size limit, the three-part shape with each part
//! canonical unpadded base64url, the header (a JSON object with `alg` `EdDSA`, no `crit`, no
//! unknown or duplicate parameters, the expected `typ`, a `kid`), the key id in the keyring, a
//! 64-byte signature; then jsonwebtoken checks the signature and only then decodes the claims,
//! from a payload that must be a JSON object. Nothing here returns claims whose signature did
//! not check.

use crate::b64;
use crate::keyring::Keyring;
use crate::keys::{KeyId, KeySource, PublicKey, SigningKey};
use crate::provider;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};

/// The largest token accepted, in bytes. Real licenses are about 1 KiB; the limit bounds the
/// work an attacker can make a verifier do.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The only signature algorithm accepted.
pub const ALG_EDDSA: &str = "EdDSA";

/// Why a compact JWS was refused. Messages are written for the person who installed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is {len} bytes; the limit is {max} bytes (is this really a license file?)")]
    TooLarge { len: usize, max: usize },
    #[error("the token is empty")]
    Empty,
    #[error(
        "the token has {0} part(s); a signed token has exactly three base64url parts separated by dots"
    )]
    SegmentCount(usize),
    #[error("the token's {part} is not canonical unpadded base64url")]
    Base64 { part: &'static str },
    #[error("the token header is not a JSON object: {0}")]
    Header(String),
    #[error("the token is signed with algorithm {0:?}; only EdDSA (Ed25519) tokens are accepted")]
    UnsupportedAlg(String),
    #[error("the token header has critical extensions (crit); none are supported")]
    CriticalHeader,
    #[error("the token header has no key id (kid); every token must name its signing key")]
    MissingKid,
    #[error("the token header names key id {0:?}, which is not a valid key id")]
    InvalidKid(String),
    #[error("the token is of type {found:?}, not {expected:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error(
        "the token is signed by unknown key {0}; trust it with --trust-key or upgrade to a release that has it"
    )]
    UnknownKey(String),
    #[error("the signature is not 64 bytes of Ed25519 signature")]
    SignatureLength,
    #[error(
        "the signature does not match: the token was altered, or signed by another key under the same id"
    )]
    BadSignature,
    #[error("the token payload is not a JSON object: {0}")]
    Payload(String),
    /// The payload is a JSON object, but not of the claims expected (callers report it as
    /// their own claims error).
    #[error("the token's claims are malformed: {0}")]
    Claims(String),
    /// jsonwebtoken refused a token that passed the strict checks: a bug, reported as such.
    #[error("the token could not be decoded ({0}); please report this")]
    Decode(String),
    /// The claims could not be serialized or signed.
    #[error("the token could not be encoded: {0}")]
    Encode(String),
}

/// A token whose signature checked against a key of the keyring, with its claims.
#[derive(Debug, Clone)]
pub struct VerifiedJws<T> {
    /// The key id from the header.
    pub kid: KeyId,
    /// Where the key that checked the signature came from.
    pub key_source: KeySource,
    /// The claims, decoded from a JSON object.
    pub claims: T,
}

/// The header this format allows; serde refuses unknown and duplicate parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Whether `crit` is present at all: `null` and `[]` are refused like any other value.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Parses `bytes` as a JSON object into `T`, refusing arrays and other values that serde would
/// otherwise accept for a struct, and (through serde's derive) duplicate known fields.
fn parse_json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if !is_json_object(bytes) {
        return Err("expected a JSON object".to_owned());
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn is_json_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Installs this crate's EdDSA-only crypto provider as jsonwebtoken's process default, unless
/// a provider is installed already, and tells whether ours is the one in force.
///
/// Every signing and verifying function of this crate calls it first, so a program need not.
/// A program that uses jsonwebtoken itself should know: once installed, jsonwebtoken in the
/// whole process signs and verifies EdDSA only. A program that installs its own provider
/// before this crate's first use keeps it; this crate then signs and verifies with
/// ed25519-dalek directly, under the same rules, and never trusts that provider's verdict.
pub fn install_provider() -> bool {
    provider::ready()
}

/// Signs `payload` as a compact JWS with the given protected header, both raw bytes: for test
/// vectors and for tests that forge headers. [`sign`] is the usual entry point.
pub fn sign_with_header(header_json: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let mut token = b64::encode(header_json);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = if provider::ready() {
        let encoding_key = EncodingKey::from_ed_der(key.dalek().as_bytes());
        provider::with_signing_key(key.dalek(), || {
            jsonwebtoken::crypto::sign(token.as_bytes(), &encoding_key, Algorithm::EdDSA)
        })
        .ok()
    } else {
        None
    };
    // Ed25519 is deterministic: signing directly gives the same bytes jsonwebtoken would.
    let signature = signature.unwrap_or_else(|| b64::encode(&key.sign(token.as_bytes())));
    token.push('.');
    token.push_str(&signature);
    token
}

/// Signs `claims` with the header `{"typ":typ,"alg":"EdDSA","kid":key id}`, through
/// jsonwebtoken.
pub fn sign<T: Serialize>(typ: &str, claims: &T, key: &SigningKey) -> Result<String, JwsError> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(typ.to_owned());
    header.kid = Some(key.key_id().as_str().to_owned());
    if provider::ready() {
        let encoding_key = EncodingKey::from_ed_der(key.dalek().as_bytes());
        return provider::with_signing_key(key.dalek(), || {
            jsonwebtoken::encode(&header, claims, &encoding_key)
        })
        .map_err(|e| JwsError::Encode(e.to_string()));
    }
    // Another provider is installed: the same header and payload bytes, signed directly.
    let encode = |e: serde_json::Error| JwsError::Encode(e.to_string());
    let header_json = serde_json::to_vec(&header).map_err(encode)?;
    let payload = serde_json::to_vec(claims).map_err(encode)?;
    Ok(sign_with_header(&header_json, &payload, key))
}

/// Verifies a compact JWS of type `typ` against `keyring` and decodes its claims as `T`.
///
/// `typ` is compared case-insensitively (it is a media type) and must be present: a license
/// and a check-in receipt are told apart by it, so neither can be passed off as the other.
pub fn verify<T: DeserializeOwned>(
    token: &str,
    typ: &'static str,
    keyring: &Keyring,
) -> Result<VerifiedJws<T>, JwsError> {
    verify_with_limit(token, typ, keyring, MAX_TOKEN_BYTES)
}

/// [`verify`] with another size limit, for artefacts larger than a license (revocation lists).
pub fn verify_with_limit<T: DeserializeOwned>(
    token: &str,
    typ: &'static str,
    keyring: &Keyring,
    max_bytes: usize,
) -> Result<VerifiedJws<T>, JwsError> {
    let token = token.trim_ascii();
    let checked = check(token, typ, keyring, max_bytes)?;
    check_signature(&checked)?;
    let claims = decode_claims(token, &checked)?;
    Ok(VerifiedJws {
        kid: checked.kid,
        key_source: checked.key_source,
        claims,
    })
}

/// What the strict checks established before the signature is checked.
struct Checked<'a> {
    kid: KeyId,
    key: PublicKey,
    key_source: KeySource,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature_b64: &'a str,
    signature: Vec<u8>,
}

/// The rules jsonwebtoken does not enforce, in the documented order.
fn check<'a>(
    token: &'a str,
    typ: &'static str,
    keyring: &Keyring,
    max_bytes: usize,
) -> Result<Checked<'a>, JwsError> {
    if token.len() > max_bytes {
        return Err(JwsError::TooLarge {
            len: token.len(),
            max: max_bytes,
        });
    }
    if token.is_empty() {
        return Err(JwsError::Empty);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err(JwsError::SegmentCount(parts.len()));
    };
    let decode = |text, part| b64::decode(text).map_err(|_| JwsError::Base64 { part });
    let header_bytes = decode(header_b64, "header")?;
    let payload = decode(payload_b64, "payload")?;
    let signature = decode(signature_b64, "signature")?;

    let header: StrictHeader = parse_json_object(&header_bytes).map_err(JwsError::Header)?;
    if header.alg != ALG_EDDSA {
        return Err(JwsError::UnsupportedAlg(header.alg));
    }
    if header.crit {
        return Err(JwsError::CriticalHeader);
    }
    match header.typ {
        Some(found) if found.eq_ignore_ascii_case(typ) => {}
        found => {
            return Err(JwsError::WrongType {
                expected: typ,
                found: found.unwrap_or_default(),
            });
        }
    }
    let kid_text = header.kid.ok_or(JwsError::MissingKid)?;
    let kid = KeyId::new(&kid_text).map_err(|_| JwsError::InvalidKid(kid_text))?;
    let trusted = keyring
        .get(&kid)
        .ok_or_else(|| JwsError::UnknownKey(kid.to_string()))?;
    if signature.len() != 64 {
        return Err(JwsError::SignatureLength);
    }
    Ok(Checked {
        kid,
        key: trusted.key,
        key_source: trusted.source,
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        payload,
        signature_b64,
        signature,
    })
}

/// Checks the signature: with jsonwebtoken and this crate's provider, or, when another
/// provider is installed, with ed25519-dalek directly.
fn check_signature(checked: &Checked) -> Result<(), JwsError> {
    if !provider::ready() {
        return checked
            .key
            .verify_strict(checked.signing_input.as_bytes(), &checked.signature)
            .map_err(|_| JwsError::BadSignature);
    }
    let key = DecodingKey::from_ed_der(&checked.key.to_bytes());
    let verified = provider::with_verifying_key(checked.key.dalek(), || {
        jsonwebtoken::crypto::verify(
            checked.signature_b64,
            checked.signing_input.as_bytes(),
            &key,
            Algorithm::EdDSA,
        )
    });
    match verified {
        Ok(true) => Ok(()),
        Ok(false) => Err(JwsError::BadSignature),
        Err(error) => Err(JwsError::Decode(error.to_string())),
    }
}

/// Decodes the claims with jsonwebtoken, once the signature has checked.
fn decode_claims<T: DeserializeOwned>(token: &str, checked: &Checked) -> Result<T, JwsError> {
    if !is_json_object(&checked.payload) {
        return Err(not_an_object());
    }
    // "Insecure" because it checks nothing: the signature checked before this is called, and
    // the claims are checked by their types and `validate`. `jsonwebtoken::decode` would parse
    // the header and the claims a second time for its own claim checks, which this crate turns
    // off: 3-4% of a verification (docs/benchmarks.md).
    jsonwebtoken::dangerous::insecure_decode_claims::<T>(token).map_err(|error| {
        match error.kind() {
            ErrorKind::Json(reason) => JwsError::Claims(reason.to_string()),
            _ => JwsError::Decode(error.to_string()),
        }
    })
}

fn not_an_object() -> JwsError {
    JwsError::Payload("expected a JSON object".to_owned())
}
