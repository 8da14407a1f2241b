//! Strict base64url (RFC 4648 section 5) without padding, as JWS requires.
//!
//! Padding, characters outside the URL-safe alphabet and non-zero trailing bits are all
//! rejected, so every byte string has exactly one accepted encoding: a token cannot be altered
//! without changing the bytes that the signature covers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded, canonical base64url; anything else is an error.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_padding_standard_alphabet_and_trailing_bits() {
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert!(decode("YQ==").is_err(), "padding");
        assert!(decode("YR").is_err(), "non-zero trailing bits");
        assert!(decode("+/8").is_err(), "standard alphabet");
        assert!(decode("Y Q").is_err(), "whitespace");
        assert!(decode("Y").is_err(), "impossible length");
    }
}
