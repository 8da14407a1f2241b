//! Free trials' rules: the request, the policy, and how an evaluation-program enrollment
//! waives them. Pure logic: what the database must guarantee (once per deployment, once per
//! email, the domain limit under concurrency) `service::trials` does in one transaction.

use super::error::{Error, TrialRefusal};
use super::mailbox::MailboxRules;
pub use license_api::{TrialRequest, TrialRule};
use license_core::{
    CheckinPolicy, DAY, DeploymentId, Email, FeatureSet, ProductVersion, Timestamp,
};

use std::collections::BTreeSet;

/// The trial rules in force, with their defaults (docs/specification.md, trials).
#[derive(Debug, Clone)]
pub struct TrialPolicy {
    /// Trial length.
    pub term_days: u32,
    /// Seats.
    pub user_limit: i64,
    /// Trials per email domain within the window.
    pub domain_limit: u32,
    /// The domain limit's window.
    pub domain_window_days: u32,
    /// The lowest product version a trial may run.
    pub min_product_version: Option<ProductVersion>,
    /// The check-in a trial requires.
    pub checkin: CheckinPolicy,
    /// Email domains that get no trial, in normal form (`MailboxRules::domain`).
    pub blocked_domains: BTreeSet<String>,
    /// How addresses are normalized: one trial per mailbox however it is spelled.
    pub mailbox: MailboxRules,
    /// Trial licenses mailed to one mailbox a day, granted or not yet confirmed.
    pub mail_per_address_per_day: u32,
    /// Trial licenses mailed to one email domain a day.
    pub mail_per_domain_per_day: u32,
    /// What a trial may use.
    pub feature_set: FeatureSet,
    /// The longest term an evaluation enrollment may grant.
    pub evaluation_max_term_days: u32,
}

impl Default for TrialPolicy {
    fn default() -> Self {
        Self {
            term_days: 30,
            user_limit: 10,
            domain_limit: 3,
            domain_window_days: 365,
            min_product_version: ProductVersion::parse("1.10.0"),
            checkin: CheckinPolicy {
                interval_secs: 24 * 3600,
                max_offline_secs: 72 * 3600,
            },
            blocked_domains: BTreeSet::new(),
            mailbox: MailboxRules::default(),
            mail_per_address_per_day: 3,
            mail_per_domain_per_day: 20,
            feature_set: FeatureSet::Premium,
            evaluation_max_term_days: 90,
        }
    }
}

/// Team sizes a trial request can give.
pub const DEVELOPER_BUCKETS: &[&str] = &["1-10", "11-50", "51-200", "201-1000", "1001+"];

/// A trial request, checked field by field.
#[derive(Debug, Clone)]
pub struct ValidTrialRequest {
    /// The address as given.
    pub email: Email,
    /// The mailbox in normal form (`service::mailbox`): one trial per person however the
    /// address is spelled.
    pub email_key: String,
    /// The domain in normal form.
    pub email_domain: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Country code, upper case.
    pub country: String,
    /// Team size bucket.
    pub developers: String,
    /// The deployment.
    pub deployment_id: DeploymentId,
    /// The product version as given.
    pub product_version: String,
    /// The product version, parsed.
    pub version: ProductVersion,
}

fn field(name: &str, message: impl std::fmt::Display) -> Error {
    Error::field(name, message)
}

/// Checks every field of a trial request; the first wrong one is named in a 422.
pub fn validate(
    request: &TrialRequest,
    mailbox: &MailboxRules,
) -> Result<ValidTrialRequest, Error> {
    let email = Email::parse(&request.email).map_err(|e| field("email", e))?;
    if !crate::mail::Composer::accepts_recipient(email.as_str()) {
        return Err(field("email", "mail cannot be sent to this address"));
    }
    let (email_key, email_domain) = email_key(&email, mailbox)?;
    let country = request.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(field(
            "country",
            "give a two-letter ISO 3166 code such as DE or US",
        ));
    }
    let developers = request.developers.as_str();
    if !DEVELOPER_BUCKETS.contains(&developers) {
        return Err(field(
            "developers",
            format!("use one of {}", DEVELOPER_BUCKETS.join(", ")),
        ));
    }
    let deployment_id =
        DeploymentId::parse(&request.deployment_id).map_err(|e| field("deployment_id", e))?;

    let version = product_version(&request.product_version)
        .ok_or_else(|| field("product_version", PRODUCT_VERSION_RULE))?;
    Ok(ValidTrialRequest {
        email,
        email_key,
        email_domain,
        first_name: super::requests::text_field("first_name", &request.first_name, 100)?,
        last_name: super::requests::text_field("last_name", &request.last_name, 100)?,
        company: super::requests::text_field("company", &request.company, 200)?,
        country,
        developers: developers.to_owned(),
        deployment_id,
        product_version: request.product_version.clone(),
        version,
    })
}

/// `(key, domain)`: the mailbox and its domain in normal form (`service::mailbox`); a domain
/// with no normal form (look-alike, mixed-script, invalid) is a 422 on `email`.
pub fn email_key(email: &Email, mailbox: &MailboxRules) -> Result<(String, String), Error> {
    let key = mailbox.key(email).map_err(|e| field("email", e))?;
    Ok((key.key, key.domain))
}

impl TrialRefusal {
    /// The refusal of `rule` under `policy`.
    pub fn of(rule: TrialRule, policy: &TrialPolicy) -> Self {
        let (code, message): (&'static str, String) = match rule {
            TrialRule::OneTrialPerDeployment => (
                "trial_used_for_deployment",
                "this deployment has already had its free trial; contact sales for a license or an evaluation".into(),
            ),
            TrialRule::OneTrialPerEmail => (
                "trial_used_for_email",
                "this email address has already had a free trial; contact sales for a license or an evaluation".into(),
            ),
            TrialRule::DomainLimit => (
                "trial_domain_limit",
                format!(
                    "your organisation's email domain has had {} free trials in the last {} days; contact sales for an evaluation",
                    policy.domain_limit, policy.domain_window_days
                ),
            ),
            TrialRule::MinProductVersion => (
                "version_too_old",
                format!(
                    "free trials need version {} or later; upgrade the deployment and ask again",
                    policy.min_product_version.map(|v| v.to_string()).unwrap_or_default()
                ),
            ),
            TrialRule::BlockedDomains => (
                "email_domain_blocked",
                "free trials are not offered to this email domain; use your work address or contact sales".into(),
            ),
            TrialRule::Checkin => (
                "checkin_required",
                "trials must be able to reach the licensor".into(),
            ),
        };
        TrialRefusal { code, message }
    }
}

impl TrialRefusal {
    /// The refusal of a request that would mail more trial licenses to its mailbox
    /// (`per_domain` false) or its domain (true) today than the policy allows.
    pub fn mail_limit(per_domain: bool, policy: &TrialPolicy) -> Self {
        let message = if per_domain {
            format!(
                "{} trial licenses were mailed to this email domain in the last day; try again tomorrow or contact sales",
                policy.mail_per_domain_per_day
            )
        } else {
            format!(
                "{} trial licenses were mailed to this address in the last day; look for them in its inbox, or try again tomorrow",
                policy.mail_per_address_per_day
            )
        };
        TrialRefusal {
            code: "trial_mail_limit",
            message,
        }
    }
}

/// What an evaluation enrollment changes for a trial.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    /// The enrollment, when one applies.
    pub evaluation_id: Option<uuid::Uuid>,
    /// The rules it waives.
    pub waives: BTreeSet<TrialRule>,
    /// A longer term it grants.
    pub max_term_days: Option<u32>,
    /// More seats it grants.
    pub user_limit: Option<i64>,
}

/// The terms of a trial license and the rules the store must enforce for it.
#[derive(Debug, Clone)]
pub struct TrialTerms {
    /// Seats.
    pub user_limit: i64,
    /// Start (now).
    pub starts_at: Timestamp,
    /// End of the trial.
    pub expires_at: Timestamp,
    /// The check-in requirement, unless waived.
    pub checkin: Option<CheckinPolicy>,
    /// The minimum version written into the license, unless waived.
    pub min_product_version: Option<ProductVersion>,
    /// Enforce one trial per deployment.
    pub once_per_deployment: bool,
    /// Enforce one trial per email.
    pub once_per_email: bool,
    /// Enforce the domain limit: at most this many granted since that time.
    pub domain_limit: Option<(u32, Timestamp)>,
    /// An evaluation-program license.
    pub evaluation: bool,
    /// The once-per-email slot and the domain limit are taken when the license first
    /// checks in (it must check in): a request proves nothing about its mailbox.
    pub confirm_at_checkin: bool,
}

impl TrialPolicy {
    /// Checks the rules decided by the request alone, and returns the terms and the rules the
    /// store must enforce, after `waivers`.
    pub fn terms(
        &self,
        request: &ValidTrialRequest,
        waivers: &Waivers,
        now: Timestamp,
    ) -> Result<TrialTerms, TrialRefusal> {
        let waived = |rule| waivers.waives.contains(&rule);
        if !waived(TrialRule::BlockedDomains)
            && self.blocked_domains.contains(&request.email_domain)
        {
            return Err(TrialRefusal::of(TrialRule::BlockedDomains, self));
        }
        if !waived(TrialRule::MinProductVersion)
            && let Some(min) = self.min_product_version
            && request.version < min
        {
            return Err(TrialRefusal::of(TrialRule::MinProductVersion, self));
        }
        // An enrollment grants more, never less: at least the free trial's term and seats.
        let term_days = waivers.max_term_days.map_or(self.term_days, |days| {
            days.min(self.evaluation_max_term_days).max(self.term_days)
        });
        let user_limit = waivers
            .user_limit
            .map_or(self.user_limit, |seats| seats.max(self.user_limit));
        Ok(TrialTerms {
            user_limit,
            starts_at: now,
            expires_at: now.add_seconds(i64::from(term_days) * DAY),
            checkin: (!waived(TrialRule::Checkin)).then_some(self.checkin),
            min_product_version: if waived(TrialRule::MinProductVersion) {
                None
            } else {
                self.min_product_version
            },
            once_per_deployment: !waived(TrialRule::OneTrialPerDeployment),
            once_per_email: !waived(TrialRule::OneTrialPerEmail),
            domain_limit: (!waived(TrialRule::DomainLimit)).then(|| {
                (
                    self.domain_limit,
                    now.add_seconds(-i64::from(self.domain_window_days) * DAY),
                )
            }),
            evaluation: waivers.evaluation_id.is_some(),
            confirm_at_checkin: !waived(TrialRule::Checkin),
        })
    }
}

/// The longest product version (openapi.json's `maxLength`).
pub const MAX_PRODUCT_VERSION_LEN: usize = 120;

/// What a product version may look like, for a refusal.
pub const PRODUCT_VERSION_RULE: &str = "give a version such as 2.16.1: MAJOR.MINOR.PATCH of at most 9 \
     digits each, an optional `v` before and an optional `-` or `+` suffix of at most 100 visible \
     ASCII characters after";

/// A product version as a trial request or check-in reports it: what openapi.json's pattern
/// states (`^v?[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}([-+][!-~]{0,100})?$`), nothing looser: the
/// text is stored and shown, so its suffix is bounded and printable.
pub fn product_version(text: &str) -> Option<ProductVersion> {
    let rest = text.strip_prefix('v').unwrap_or(text);
    let suffix_at = rest.find(['-', '+']).unwrap_or(rest.len());
    let suffix = &rest[suffix_at..];
    let suffix_ok = suffix.is_empty()
        || (suffix.len() <= 101 && suffix.bytes().skip(1).all(|b| b.is_ascii_graphic()));
    if text.len() > MAX_PRODUCT_VERSION_LEN || !suffix_ok {
        return None;
    }
    ProductVersion::parse(text)
}

#[cfg(test)]
mod tests {

    #[test]
    fn product_versions_are_what_the_schema_says() {
        for ok in [
            "2.16.0",
            "v2.16.0",
            "1.2.3-rc.1",
            "1.2.3+build.7",
            "1.2.3-",
            &format!("1.2.3-{}", "x".repeat(100)),
        ] {
            assert!(super::product_version(ok).is_some(), "{ok:?}");
        }
        for bad in [
            "",
            "2.16",
            "2.16.0.1",
            "2.16.0 ",
            "2.16.0-a b",
            "2.16.0-\u{e9}",
            "2.16.0-\u{7}",
            &format!("1.2.3-{}", "x".repeat(101)),
            &format!("123456789.123456789.123456789-{}", "x".repeat(95)),
        ] {
            assert!(super::product_version(bad).is_none(), "{bad:?}");
        }
    }
    use super::*;

    fn request(email: &str, version: &str) -> ValidTrialRequest {
        let request = TrialRequest {
            email: email.into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: "Engines".into(),
            country: "gb".into(),
            developers: "11-50".into(),
            deployment_id: "dep-1".into(),
            product_version: version.into(),
        };
        validate(&request, &MailboxRules::default()).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_unix(1_800_000_000).unwrap()
    }

    #[test]
    fn email_keys_ignore_case_and_plus_tags() {
        let key = |e: &str| email_key(&Email::parse(e).unwrap(), &MailboxRules::default()).unwrap();
        assert_eq!(
            key("Ada+trial@Example.COM"),
            ("ada@example.com".into(), "example.com".into())
        );
        assert_eq!(key("ada@example.com").0, key("ADA+x+y@example.com").0);
    }

    #[test]
    fn requests_are_validated_field_by_field() {
        let good = TrialRequest {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "L".into(),
            company: "E".into(),
            country: "GB".into(),
            developers: "1-10".into(),
            deployment_id: "dep-1".into(),
            product_version: "v2.16.0".into(),
        };
        assert!(validate(&good, &MailboxRules::default()).is_ok());
        for (mutate, name) in [
            (
                Box::new(|r: &mut TrialRequest| r.email = "nope".into())
                    as Box<dyn Fn(&mut TrialRequest)>,
                "email",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.country = "Germany".into()),
                "country",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.developers = "lots".into()),
                "developers",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.deployment_id = "a b".into()),
                "deployment_id",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.product_version = "latest".into()),
                "product_version",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.first_name = " ".into()),
                "first_name",
            ),
            (
                Box::new(|r: &mut TrialRequest| r.company = "x".repeat(201)),
                "company",
            ),
        ] {
            let mut bad = good.clone();
            mutate(&mut bad);
            let Error::Invalid(err) = validate(&bad, &MailboxRules::default()).unwrap_err() else {
                panic!("{name}: not an invalid field");
            };
            assert_eq!(err.code, "invalid_field");
            assert!(
                err.message.contains(&format!("`{name}`")),
                "{name}: {}",
                err.message
            );
        }
    }

    #[test]
    fn defaults_and_refusals() {
        let policy = TrialPolicy {
            blocked_domains: ["mailinator.com".to_owned()].into(),
            ..TrialPolicy::default()
        };
        let terms = policy
            .terms(
                &request("ada@example.com", "2.16.0"),
                &Waivers::default(),
                now(),
            )
            .unwrap();
        assert_eq!(terms.user_limit, 10);
        assert_eq!(terms.expires_at.seconds_since(now()), 30 * DAY);
        assert!(terms.checkin.is_some() && terms.once_per_deployment && terms.once_per_email);
        assert_eq!(terms.domain_limit.map(|(n, _)| n), Some(3));
        assert!(!terms.evaluation);
        let old = policy
            .terms(
                &request("ada@example.com", "1.9.9"),
                &Waivers::default(),
                now(),
            )
            .unwrap_err();
        assert_eq!(old.code, "version_too_old");
        assert!(old.message.contains("1.10.0"));
        let blocked = policy
            .terms(
                &request("ada@mailinator.com", "2.16.0"),
                &Waivers::default(),
                now(),
            )
            .unwrap_err();
        assert_eq!(blocked.code, "email_domain_blocked");
        assert!(
            !blocked.is_limit(),
            "a requirement not met, not a limit used up"
        );
    }

    #[test]
    fn waivers_lift_rules_and_grant_more_within_the_maximum() {
        let policy = TrialPolicy {
            blocked_domains: ["example.com".to_owned()].into(),
            ..TrialPolicy::default()
        };
        let waivers = Waivers {
            evaluation_id: Some(uuid::Uuid::from_u128(1)),
            waives: TrialRule::ALL.into_iter().collect(),
            max_term_days: Some(365),
            user_limit: Some(100),
        };
        let terms = policy
            .terms(&request("ada@example.com", "1.0.0"), &waivers, now())
            .unwrap();
        assert!(terms.evaluation);
        assert_eq!(terms.user_limit, 100);
        assert_eq!(
            terms.expires_at.seconds_since(now()),
            90 * DAY,
            "capped at the evaluation maximum"
        );
        assert!(terms.checkin.is_none(), "air-gapped evaluation");
        assert!(terms.min_product_version.is_none());
        assert!(
            !terms.once_per_deployment && !terms.once_per_email && terms.domain_limit.is_none()
        );
    }
}
