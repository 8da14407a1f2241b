//! One normal form per mailbox, so that one person gets one trial however the address is
//! spelled: the domain through NFKC and IDNA (UTS #46) to lowercase ASCII, with confusable
//! and mixed-script labels refused; the local part through NFKC, lowercase, without its
//! `+tag`, and without dots at the providers that ignore them. Blocked domains, the domain
//! limit, enrollments and the once-per-email rule all use this form.

use license_core::Email;
use std::collections::{BTreeMap, BTreeSet};
use unicode_normalization::UnicodeNormalization as _;
use unicode_security::MixedScript as _;

/// Provider rules: which domains ignore dots in the local part, and which domains are
/// another name of the same mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRules {
    /// Domains (normal form) whose mailboxes ignore dots in the local part.
    pub dotless_domains: BTreeSet<String>,
    /// Domain (normal form) → the domain it is another name of.
    pub aliases: BTreeMap<String, String>,
}

impl Default for MailboxRules {
    /// Gmail's rules: dots do not matter, and googlemail.com is gmail.com.
    fn default() -> Self {
        Self {
            dotless_domains: ["gmail.com".to_owned()].into(),
            aliases: [("googlemail.com".to_owned(), "gmail.com".to_owned())].into(),
        }
    }
}

/// `(key, domain)`: a mailbox's normal form and its domain's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxKey {
    /// `local@domain` in normal form.
    pub key: String,
    /// The domain in normal form (lowercase ASCII, after aliases).
    pub domain: String,
}

/// Why a domain has no normal form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// IDNA refused it.
    #[error("{0:?} is not a valid internationalized domain name")]
    Invalid(String),
    /// A label mixes scripts (`раypal`: Cyrillic and Latin).
    #[error("{0:?} mixes writing systems in one label; use the domain as it is registered")]
    MixedScript(String),
    /// A non-ASCII label that reads as an ASCII one (`аpple` in Cyrillic).
    #[error("{0:?} imitates an ASCII domain with look-alike characters")]
    Confusable(String),
}

/// The domain's normal form: NFKC, lowercase, IDNA (UTS #46, nontransitional) to ASCII,
/// without a trailing dot. Refused: a label mixing scripts, and a non-ASCII label whose
/// UTS #39 skeleton is plain ASCII (it imitates an ASCII name).
/// A host name in ASCII (RFC 1123): at most 253 characters, two labels or more, each 1 to
/// 63 of `a-z 0-9 -`, neither starting nor ending with `-`. What IDNA's lenient mapping lets
/// through besides (underscores, a single label) is no mail domain.
fn is_host_name(ascii: &str) -> bool {
    ascii.len() <= 253
        && ascii.contains('.')
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

pub fn normal_domain(domain: &str) -> Result<String, DomainError> {
    let text: String = domain.trim().nfkc().collect::<String>().to_lowercase();
    let text = text.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(text).map_err(|_| DomainError::Invalid(domain.to_owned()))?;
    if !is_host_name(&ascii) {
        return Err(DomainError::Invalid(domain.to_owned()));
    }
    let (unicode, checked) = idna::domain_to_unicode(&ascii);
    if checked.is_err() {
        return Err(DomainError::Invalid(domain.to_owned()));
    }
    for label in unicode.split('.') {
        if label.is_ascii() {
            continue;
        }
        if !label.is_single_script() {
            return Err(DomainError::MixedScript(domain.to_owned()));
        }
        let skeleton: String = unicode_security::skeleton(label).collect();
        if skeleton.is_ascii() {
            return Err(DomainError::Confusable(domain.to_owned()));
        }
    }
    Ok(ascii)
}

impl MailboxRules {
    /// The normal form of `domain`, after aliases.
    pub fn domain(&self, domain: &str) -> Result<String, DomainError> {
        let domain = normal_domain(domain)?;
        Ok(self.aliases.get(&domain).cloned().unwrap_or(domain))
    }

    /// The normal form of `email`'s mailbox and domain.
    pub fn key(&self, email: &Email) -> Result<MailboxKey, DomainError> {
        let (local, domain) = email
            .as_str()
            .rsplit_once('@')
            .unwrap_or((email.as_str(), ""));
        let domain = self.domain(domain)?;
        let local: String = local.nfkc().collect::<String>().to_lowercase();
        let mut local = local.split('+').next().unwrap_or_default().to_owned();
        if self.dotless_domains.contains(&domain) {
            local.retain(|c| c != '.');
        }
        Ok(MailboxKey {
            key: format!("{local}@{domain}"),
            domain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(email: &str) -> Result<MailboxKey, DomainError> {
        MailboxRules::default().key(&Email::parse(email).unwrap())
    }

    /// Each pair got two trials: issue 12, finding 5.
    #[test]
    fn one_mailbox_however_spelled() {
        for (a, b) in [
            ("a.lice@gmail.com", "alice@gmail.com"),
            ("A.Li.Ce+trial@GoogleMail.com", "alice@gmail.com"),
            ("bob@bücher.example", "bob@xn--bcher-kva.example"),
            ("bob@BÜCHER.example", "bob@xn--bcher-kva.example"),
            ("carol@ｅｘａｍｐｌｅ.com", "carol@example.com"),
            ("carol+x@Example.COM", "carol@example.com"),
        ] {
            assert_eq!(key(a).unwrap(), key(b).unwrap(), "{a} vs {b}");
        }
        assert_ne!(
            key("a.lice@example.com").unwrap().key,
            key("alice@example.com").unwrap().key,
            "dots matter where the provider is not known to ignore them"
        );
        assert_eq!(
            key("bob@bücher.example").unwrap().domain,
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn look_alike_and_mixed_script_domains_are_refused() {
        // Cyrillic а (U+0430) among Latin letters.
        assert!(matches!(
            key("eve@p\u{430}ypal.com"),
            Err(DomainError::MixedScript(_))
        ));
        // All Cyrillic, reading as "ехо" in Latin letters.
        assert!(matches!(
            key("eve@\u{435}\u{445}\u{43e}.com"),
            Err(DomainError::Confusable(_))
        ));
        // A real IDN in one script stays.
        assert!(key("ivan@пример.рф").is_ok());
        assert!(normal_domain("xn--.com").is_err());
    }

    #[test]
    fn a_domain_is_a_host_name() {
        for ok in ["example.com", "a-b.c0", "0.0", "Example.COM.", " x.io "] {
            assert!(normal_domain(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "localhost",
            "a_b.com",
            "-a.com",
            "a-.com",
            "a..com",
            "\u{18}.com",
            "a b.com",
        ] {
            assert!(normal_domain(bad).is_err(), "{bad:?}");
        }
        assert!(normal_domain(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(normal_domain(&format!("{}.com", "a".repeat(63))).is_ok());
    }

    #[test]
    fn rules_are_configurable() {
        let rules = MailboxRules {
            dotless_domains: BTreeSet::new(),
            aliases: BTreeMap::new(),
        };
        let email = Email::parse("a.lice@googlemail.com").unwrap();
        assert_eq!(rules.key(&email).unwrap().key, "a.lice@googlemail.com");
    }
}
