//! Compact JWS (RFC 7515) with Ed25519 (RFC 8037), strict.
//!
//! Only this module touches the wire format. Parsing checks, in order and before any key is
//! used: the size limit, the three-part shape, the header (a JSON object with `alg` `EdDSA`,
//! no `crit`, no unknown parameters, the expected `typ`, a `kid`), then the signature against
//! the keyring, and only then decodes the payload. Nothing here returns a payload whose
//! signature did not check.

use crate::b64;
use crate::keyring::Keyring;
use crate::keys::{KeyId, KeySource, PublicKey, SigningKey};
use serde::Deserialize;
use serde::de::IgnoredAny;

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
}

/// A token whose signature checked against a key of the keyring.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The key id from the header.
    pub kid: KeyId,
    /// Where the key that checked the signature came from.
    pub key_source: KeySource,
    /// The decoded payload bytes (a JSON object).
    pub payload: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Parses `bytes` as a JSON object into `T`, refusing arrays and other values that serde would
/// otherwise accept for a struct, and (through serde's derive) duplicate known fields.
pub(crate) fn parse_json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("expected a JSON object".to_owned());
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Signs `payload` as a compact JWS with the given protected header (serialized JSON).
///
/// The caller builds the header; [`sign`] is the usual entry point.
pub fn sign_with_header(header_json: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let mut token = b64::encode(header_json);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64::encode(&signature));
    token
}

/// Signs `payload` with `{"alg":"EdDSA","typ":typ,"kid":key id}`.
pub fn sign(typ: &str, payload: &[u8], key: &SigningKey) -> String {
    let header = serde_json::json!({ "alg": ALG_EDDSA, "typ": typ, "kid": key.key_id().as_str() });
    sign_with_header(header.to_string().as_bytes(), payload, key)
}

/// Verifies a compact JWS of type `typ` against `keyring` and returns its payload.
///
/// `typ` is compared case-insensitively (it is a media type) and must be present: a license
/// and a check-in receipt are told apart by it, so neither can be passed off as the other.
pub fn verify(token: &str, typ: &'static str, keyring: &Keyring) -> Result<VerifiedJws, JwsError> {
    verify_with_limit(token, typ, keyring, MAX_TOKEN_BYTES)
}

/// [`verify`] with another size limit, for artefacts larger than a license (revocation lists).
pub fn verify_with_limit(
    token: &str,
    typ: &'static str,
    keyring: &Keyring,
    max_bytes: usize,
) -> Result<VerifiedJws, JwsError> {
    let token = token.trim_ascii();
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
    let header_bytes = b64::decode(header_b64).map_err(|_| JwsError::Base64 { part: "header" })?;
    let header: Header = parse_json_object(&header_bytes).map_err(JwsError::Header)?;
    if header.alg != ALG_EDDSA {
        return Err(JwsError::UnsupportedAlg(header.alg));
    }
    if header.crit.is_some() {
        return Err(JwsError::CriticalHeader);
    }
    match header.typ {
        Some(found) if found.eq_ignore_ascii_case(typ) => {}
        Some(found) => {
            return Err(JwsError::WrongType {
                expected: typ,
                found,
            });
        }
        None => {
            return Err(JwsError::WrongType {
                expected: typ,
                found: String::new(),
            });
        }
    }
    let kid_text = header.kid.ok_or(JwsError::MissingKid)?;
    let kid = KeyId::new(&kid_text).map_err(|_| JwsError::InvalidKid(kid_text))?;
    let trusted = keyring
        .get(&kid)
        .ok_or_else(|| JwsError::UnknownKey(kid.to_string()))?;

    let signature =
        b64::decode(signature_b64).map_err(|_| JwsError::Base64 { part: "signature" })?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = &token.as_bytes()[..signing_input_len];
    verify_signature(&trusted.key, signing_input, &signature)?;

    let payload = b64::decode(payload_b64).map_err(|_| JwsError::Base64 { part: "payload" })?;
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(JwsError::Payload("expected a JSON object".to_owned()));
    }
    Ok(VerifiedJws {
        kid,
        key_source: trusted.source,
        payload,
    })
}

fn verify_signature(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), JwsError> {
    if signature.len() != 64 {
        return Err(JwsError::SignatureLength);
    }
    key.verify_strict(message, signature)
        .map_err(|_| JwsError::BadSignature)
}
