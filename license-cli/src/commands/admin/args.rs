//! The arguments of `admin` and of each of its commands.

use super::render::AdminFormat;
use clap::Subcommand;
use license_api::TrialRule;
use license_core::FeatureSet;
use std::path::PathBuf;

/// Arguments of `admin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The licensor's base URL, e.g. https://licensor.example.com (before or after the
    /// command).
    #[arg(long, value_name = "URL", env = "LICENSOR_URL", global = true)]
    pub licensor: Option<String>,
    /// Output format: table, json, yaml, csv (the table's rows), or name (the ids alone, one
    /// a line).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = AdminFormat::Table, global = true)]
    pub output: AdminFormat,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The desk's commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a customer account.
    CreateAccount {
        /// The customer's name.
        #[arg(long)]
        name: String,
        /// The customer's contact email.
        #[arg(long)]
        email: String,
    },
    /// List accounts.
    Accounts,
    /// Issue a license; it is emailed to --email.
    Issue(IssueArgs),
    /// Replace a license with a new one (the old one is superseded); what is not given is
    /// copied.
    Reissue(ReissueArgs),
    /// List licenses.
    List {
        /// Of this account.
        #[arg(long)]
        account: Option<uuid::Uuid>,
        /// For this email.
        #[arg(long)]
        email: Option<String>,
        /// active, revoked or superseded.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one license (with its token in -o json).
    Show {
        /// The license id.
        id: uuid::Uuid,
    },
    /// Print a license's token, or save it to a file with --out (to send or apply it).
    Get {
        /// The license id.
        id: uuid::Uuid,
        /// Save the token to this file (atomically) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace --out FILE when it holds something else.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Revoke a license.
    Revoke {
        /// The license id.
        id: uuid::Uuid,
        /// Why (recorded in the audit log and published on the revocation list).
        #[arg(long)]
        reason: String,
    },
    /// Email a license again.
    Resend {
        /// The license id.
        id: uuid::Uuid,
    },
    /// Enroll an account, an email or an email domain in the evaluation program.
    Enroll(EnrollArgs),
    /// List evaluation enrollments.
    Evaluations {
        /// Only those in force.
        #[arg(long)]
        active: bool,
    },
    /// End an evaluation enrollment.
    EndEvaluation {
        /// The enrollment id.
        id: uuid::Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List trial requests.
    Trials {
        /// By email.
        #[arg(long)]
        email: Option<String>,
        /// granted or refused.
        #[arg(long)]
        outcome: Option<String>,
    },
    /// List deployments.
    Deployments {
        /// Not seen lately.
        #[arg(long)]
        stale: bool,
        /// More users than seats.
        #[arg(long)]
        over_seat_limit: bool,
    },
    /// Show one deployment with its licenses.
    Deployment {
        /// The deployment id.
        id: String,
    },
    /// Seat usage over a license's term (the true-up report): daily peak active users summed
    /// across its deployments, the peak, the 95th percentile, days over the seat limit and
    /// each deployment's part. With --account, each license of that account.
    Usage {
        /// The license id.
        #[arg(required_unless_present = "account", conflicts_with = "account")]
        id: Option<uuid::Uuid>,
        /// Report on every license of this account instead (default range: the past year).
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: Option<uuid::Uuid>,
        /// The first day (UTC), e.g. 2027-01-01; default: the term's first day.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// The last day (UTC, included); default: the term's last day.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
    },
}

/// Arguments of `admin issue`.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The account id.
    #[arg(long)]
    pub account: uuid::Uuid,
    /// The licensee's email (the license is sent there).
    #[arg(long)]
    pub email: String,
    /// Seats.
    #[arg(long)]
    pub user_limit: i64,
    /// Start of the term (RFC 3339; default: when the licensor issues it).
    #[arg(long)]
    pub starts_at: Option<String>,
    /// End of the term (RFC 3339).
    #[arg(long)]
    pub expires_at: String,
    /// Days of grace after the term.
    #[arg(long, default_value_t = 0)]
    pub grace_days: u32,
    /// enterprise or premium.
    #[arg(long, value_parser = parse_feature_set)]
    pub feature_set: Option<FeatureSet>,
    /// Bind to a deployment (repeatable).
    #[arg(long = "deployment-id")]
    pub deployment_ids: Vec<String>,
    /// A trial license.
    #[arg(long)]
    pub trial: bool,
    /// Makes a retried command issue the license once.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// Arguments of `admin reissue`.
#[derive(Debug, clap::Args)]
pub struct ReissueArgs {
    /// The license to replace.
    pub id: uuid::Uuid,
    /// A new licensee email.
    #[arg(long)]
    pub email: Option<String>,
    /// New seats.
    #[arg(long)]
    pub user_limit: Option<i64>,
    /// A new start of the term (RFC 3339).
    #[arg(long)]
    pub starts_at: Option<String>,
    /// A new end of the term (RFC 3339).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// New days of grace.
    #[arg(long)]
    pub grace_days: Option<u32>,
    /// A new feature set: enterprise or premium.
    #[arg(long, value_parser = parse_feature_set)]
    pub feature_set: Option<FeatureSet>,
    /// A new deployment binding (repeatable; replaces the old one).
    #[arg(long = "deployment-id")]
    pub deployment_ids: Vec<String>,
    /// Makes a retried command reissue once.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// Arguments of `admin enroll`.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// An account id.
    #[arg(long, group = "subject")]
    pub account: Option<uuid::Uuid>,
    /// An email address.
    #[arg(long, group = "subject")]
    pub email: Option<String>,
    /// An email domain.
    #[arg(long, group = "subject")]
    pub email_domain: Option<String>,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// Who approved it.
    #[arg(long)]
    pub approved_by: String,
    /// When it ends (RFC 3339).
    #[arg(long)]
    pub ends_at: String,
    /// A trial rule to waive (repeatable): one_trial_per_deployment, one_trial_per_email,
    /// domain_limit, min_product_version, checkin, blocked_domains.
    #[arg(long = "waive", value_parser = parse_trial_rule)]
    pub waives: Vec<TrialRule>,
    /// A longer trial, in days.
    #[arg(long)]
    pub max_term_days: Option<u32>,
    /// More seats.
    #[arg(long)]
    pub user_limit: Option<i64>,
}

fn parse_trial_rule(text: &str) -> Result<TrialRule, String> {
    TrialRule::ALL
        .into_iter()
        .find(|rule| rule.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = TrialRule::ALL.iter().map(|r| r.as_str()).collect();
            format!(
                "{text:?} is not a trial rule: use one of {}",
                names.join(", ")
            )
        })
}

fn parse_feature_set(text: &str) -> Result<FeatureSet, String> {
    match text {
        "enterprise" => Ok(FeatureSet::Enterprise),
        "premium" => Ok(FeatureSet::Premium),
        _ => Err(format!(
            "{text:?} is not a feature set: use enterprise or premium"
        )),
    }
}
