//! `serve`'s trial options: the trial rules, the evaluation program's limits, the mailbox
//! normal form's provider rules, and the public rate limits.

use crate::service::mailbox::{MailboxRules, normal_domain};
use crate::service::trial_rules::TrialPolicy;
use license_core::{CheckinPolicy, FeatureSet, ProductVersion};

/// Trial rules, the evaluation program's limits, and public rate limits.
#[derive(Debug, Clone, clap::Args)]
pub struct TrialArgs {
    /// Days a free trial lasts.
    #[arg(
        long,
        value_name = "DAYS",
        env = "LICENSOR_TRIAL_TERM_DAYS",
        default_value_t = 30
    )]
    pub trial_term_days: u32,
    /// Seats of a free trial.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_TRIAL_USER_LIMIT",
        default_value_t = 10
    )]
    pub trial_user_limit: i64,
    /// Trials per email domain within the window.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_TRIAL_DOMAIN_LIMIT",
        default_value_t = 3
    )]
    pub trial_domain_limit: u32,
    /// The domain limit's window, in days.
    #[arg(
        long,
        value_name = "DAYS",
        env = "LICENSOR_TRIAL_DOMAIN_WINDOW_DAYS",
        default_value_t = 365
    )]
    pub trial_domain_window_days: u32,
    /// The lowest product version a trial may run (`none` for no minimum).
    #[arg(
        long,
        value_name = "VERSION",
        env = "LICENSOR_TRIAL_MIN_VERSION",
        default_value = "1.10.0"
    )]
    pub trial_min_version: String,
    /// Hours between the check-ins a trial must make.
    #[arg(
        long,
        value_name = "HOURS",
        env = "LICENSOR_TRIAL_CHECKIN_HOURS",
        default_value_t = 24
    )]
    pub trial_checkin_hours: u64,
    /// Hours a trial deployment may stay out of contact before its license stops granting.
    #[arg(
        long,
        value_name = "HOURS",
        env = "LICENSOR_TRIAL_MAX_OFFLINE_HOURS",
        default_value_t = 72
    )]
    pub trial_max_offline_hours: u64,
    /// Email domains that get no trial (comma-separated).
    #[arg(
        long,
        value_name = "DOMAINS",
        env = "LICENSOR_TRIAL_BLOCKED_DOMAINS",
        value_delimiter = ','
    )]
    pub trial_blocked_domains: Vec<String>,
    /// Email domains whose mailboxes ignore dots in the local part (comma-separated; `none`
    /// for none): `a.lice@` and `alice@` are one person there.
    #[arg(
        long,
        value_name = "DOMAINS",
        env = "LICENSOR_TRIAL_EMAIL_DOTLESS_DOMAINS",
        value_delimiter = ',',
        default_value = "gmail.com"
    )]
    pub trial_email_dotless_domains: Vec<String>,
    /// Email domains that are other names of the same mailboxes, as `ALIAS=DOMAIN`
    /// (comma-separated; `none` for none).
    #[arg(
        long,
        value_name = "ALIAS=DOMAIN",
        env = "LICENSOR_TRIAL_EMAIL_DOMAIN_ALIASES",
        value_delimiter = ',',
        default_value = "googlemail.com=gmail.com"
    )]
    pub trial_email_domain_aliases: Vec<String>,
    /// Trial licenses mailed to one mailbox a day (the licensor is no free relay).
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_TRIAL_MAIL_PER_ADDRESS",
        default_value_t = 3
    )]
    pub trial_mail_per_address_per_day: u32,
    /// Trial licenses mailed to one email domain a day.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_TRIAL_MAIL_PER_DOMAIN",
        default_value_t = 20
    )]
    pub trial_mail_per_domain_per_day: u32,
    /// The feature set of trial licenses.
    #[arg(
        long,
        value_name = "SET",
        env = "LICENSOR_TRIAL_FEATURE_SET",
        default_value = "premium"
    )]
    pub trial_feature_set: String,
    /// The longest trial an evaluation enrollment may grant, in days.
    #[arg(
        long,
        value_name = "DAYS",
        env = "LICENSOR_EVALUATION_MAX_TERM_DAYS",
        default_value_t = 90
    )]
    pub evaluation_max_term_days: u32,
    /// Sustained requests a minute per client address on the public endpoints.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_PUBLIC_RATE_LIMIT",
        default_value_t = 60
    )]
    pub public_rate_limit_per_minute: u32,
    /// Requests a client may make at once on the public endpoints.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_PUBLIC_RATE_BURST",
        default_value_t = 20
    )]
    pub public_rate_limit_burst: u32,
    /// Proxies in front of the licensor that append the client's address to
    /// X-Forwarded-For: the client is the N-th entry from the right. 0: the connecting
    /// address is the client (docs/operations.md, "Running behind a proxy").
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_TRUSTED_PROXY_HOPS",
        default_value_t = 0
    )]
    pub trusted_proxy_hops: usize,
}

impl TrialArgs {
    /// The trial policy these options describe.
    pub fn policy(&self) -> anyhow::Result<TrialPolicy> {
        let min_product_version = match self.trial_min_version.trim() {
            "" | "none" => None,
            text => Some(ProductVersion::parse(text).ok_or_else(|| {
                anyhow::anyhow!("--trial-min-version {text:?} is not a version such as 2.15.0")
            })?),
        };
        let feature_set = match self.trial_feature_set.trim() {
            "premium" => FeatureSet::Premium,
            "enterprise" => FeatureSet::Enterprise,
            "" | "none" => FeatureSet::None,
            other => {
                anyhow::bail!("--trial-feature-set {other:?}: use premium, enterprise or none")
            }
        };
        if self.trial_term_days == 0 || self.trial_user_limit < 1 || self.trial_checkin_hours == 0 {
            anyhow::bail!("trial term, seats and check-in interval must be positive");
        }
        if self.trial_max_offline_hours < self.trial_checkin_hours {
            anyhow::bail!("--trial-max-offline-hours must be at least --trial-checkin-hours");
        }
        let mailbox = self.mailbox_rules()?;
        let blocked_domains = self
            .trial_blocked_domains
            .iter()
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
            .map(|d| {
                mailbox
                    .domain(d)
                    .map_err(|e| anyhow::anyhow!("--trial-blocked-domains: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(TrialPolicy {
            term_days: self.trial_term_days,
            user_limit: self.trial_user_limit,
            domain_limit: self.trial_domain_limit,
            domain_window_days: self.trial_domain_window_days,
            min_product_version,
            checkin: CheckinPolicy {
                interval_secs: self.trial_checkin_hours * 3600,
                max_offline_secs: self.trial_max_offline_hours * 3600,
            },
            blocked_domains,
            mailbox,
            mail_per_address_per_day: self.trial_mail_per_address_per_day,
            mail_per_domain_per_day: self.trial_mail_per_domain_per_day,
            feature_set,
            evaluation_max_term_days: self.evaluation_max_term_days.max(self.trial_term_days),
        })
    }
}

impl TrialArgs {
    /// The provider rules of `--trial-email-dotless-domains` and
    /// `--trial-email-domain-aliases`, in normal form.
    fn mailbox_rules(&self) -> anyhow::Result<MailboxRules> {
        let given = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty() && d != "none")
                .collect()
        };
        let mut rules = MailboxRules {
            dotless_domains: Default::default(),
            aliases: Default::default(),
        };
        for pair in given(&self.trial_email_domain_aliases) {
            let (alias, domain) = pair.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--trial-email-domain-aliases {pair:?}: write ALIAS=DOMAIN")
            })?;
            let normal = |d: &str| {
                normal_domain(d).map_err(|e| anyhow::anyhow!("--trial-email-domain-aliases: {e}"))
            };
            rules.aliases.insert(normal(alias)?, normal(domain)?);
        }
        for domain in given(&self.trial_email_dotless_domains) {
            let domain = rules
                .domain(&domain)
                .map_err(|e| anyhow::anyhow!("--trial-email-dotless-domains: {e}"))?;
            rules.dotless_domains.insert(domain);
        }
        Ok(rules)
    }
}
