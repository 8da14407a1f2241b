//! `coder-license admin …`: the vendor desk's commands over the licensor's admin API
//! (`--licensor URL`, the token in `LICENSOR_TOKEN`). Lists print a table; `-o json|yaml`
//! prints the licensor's answer as it is.

use crate::exit;
use crate::licensor::{Licensor, LicensorArgs, is_refusal};
use crate::output::{self, Format};
use clap::Subcommand;
use license_api::{
    AccountView, CreateAccountRequest, EndEvaluationRequest, EnrollRequest, IssueRequest,
    LicenseView, RevokeRequest, TrialRule,
};
use license_core::FeatureSet;
use serde_json::{Value, json};
use std::process::ExitCode;

/// Arguments of `admin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub licensor: LicensorArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
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
    /// Issue a license; it is emailed to --email.
    Issue {
        /// The account id.
        #[arg(long)]
        account: uuid::Uuid,
        /// The licensee's email (the license is sent there).
        #[arg(long)]
        email: String,
        /// Seats.
        #[arg(long)]
        user_limit: i64,
        /// Start of the term (RFC 3339; default: when the licensor issues it).
        #[arg(long)]
        starts_at: Option<String>,
        /// End of the term (RFC 3339).
        #[arg(long)]
        expires_at: String,
        /// Days of grace after the term.
        #[arg(long, default_value_t = 0)]
        grace_days: u32,
        /// enterprise or premium.
        #[arg(long, value_parser = parse_feature_set)]
        feature_set: Option<FeatureSet>,
        /// Bind to a deployment (repeatable).
        #[arg(long = "deployment-id")]
        deployment_ids: Vec<String>,
        /// A trial license.
        #[arg(long)]
        trial: bool,
        /// Makes a retried command issue the license once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List licenses.
    List {
        /// Of this account.
        #[arg(long)]
        account: Option<String>,
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
        id: String,
    },
    /// Revoke a license.
    Revoke {
        /// The license id.
        id: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Email a license again.
    Resend {
        /// The license id.
        id: String,
    },
    /// Enroll an account, an email or an email domain in the evaluation program.
    Enroll {
        /// An account id.
        #[arg(long, group = "subject")]
        account: Option<uuid::Uuid>,
        /// An email address.
        #[arg(long, group = "subject")]
        email: Option<String>,
        /// An email domain.
        #[arg(long, group = "subject")]
        email_domain: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who approved it.
        #[arg(long)]
        approved_by: String,
        /// When it ends (RFC 3339).
        #[arg(long)]
        ends_at: String,
        /// A trial rule to waive (repeatable): one_trial_per_deployment, one_trial_per_email,
        /// domain_limit, min_product_version, checkin, blocked_domains.
        #[arg(long = "waive", value_parser = parse_trial_rule)]
        waives: Vec<Waive>,
        /// A longer trial, in days.
        #[arg(long)]
        max_term_days: Option<u32>,
        /// More seats.
        #[arg(long)]
        user_limit: Option<i64>,
    },
    /// List evaluation enrollments.
    Evaluations {
        /// Only those in force.
        #[arg(long)]
        active: bool,
    },
    /// End an evaluation enrollment.
    EndEvaluation {
        /// The enrollment id.
        id: String,
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
    /// Show one deployment with its licenses and check-ins.
    Deployment {
        /// The deployment id.
        id: String,
    },
}

/// The query parameters that are set.
fn some(pairs: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

/// The most pages a list command follows.
const MAX_PAGES: usize = 100;

/// Every item of a paged list, following `next_cursor` (at most [`MAX_PAGES`] pages).
async fn list_all(
    l: &Licensor,
    path: &str,
    query: Vec<(&'static str, String)>,
) -> anyhow::Result<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut page_query = query.clone();
        page_query.push(("limit", "500".to_owned()));
        if let Some(cursor) = after.take() {
            page_query.push(("after", cursor));
        }
        let page: Value = l.get(path, &page_query).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => return Ok(json!({ "items": items })),
        }
    }
    anyhow::bail!(
        "{path} has more than {} items; narrow the list with filters",
        MAX_PAGES * 500
    )
}

/// Runs one admin command.
pub async fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let licensor = Licensor::admin(&args.licensor)?;
    let result = call(&licensor, &args.command).await;
    match result {
        Ok((value, columns)) => {
            let mut out = std::io::stdout().lock();
            match (args.output, columns) {
                (Format::Table, Some(columns)) => print_table(&value, columns, &mut out)?,
                (format, _) => output::print_document(&value, format, &mut out)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) if is_refusal(&error) => {
            eprintln!("refused: {error:#}");
            Ok(ExitCode::from(exit::INVALID))
        }
        Err(error) => Err(error),
    }
}

type Columns = &'static [&'static str];

async fn call(l: &Licensor, command: &AdminCommand) -> anyhow::Result<(Value, Option<Columns>)> {
    const LICENSES: Columns = &["id", "email", "status", "user_limit", "trial", "expires_at"];
    Ok(match command {
        AdminCommand::CreateAccount { name, email } => (
            to_value(
                l.post::<_, AccountView>(
                    "/api/v1/accounts",
                    &CreateAccountRequest {
                        name: name.clone(),
                        email: email.clone(),
                        account_type: None,
                    },
                    None,
                )
                .await?,
            )?,
            None,
        ),
        AdminCommand::Issue {
            account,
            email,
            user_limit,
            starts_at,
            expires_at,
            grace_days,
            feature_set,
            deployment_ids,
            trial,
            idempotency_key,
        } => {
            let body = IssueRequest {
                account_id: *account,
                email: email.clone(),
                feature_set: feature_set.unwrap_or_default(),
                features: Default::default(),
                user_limit: *user_limit,
                starts_at: starts_at.clone(),
                expires_at: expires_at.clone(),
                grace_days: *grace_days,
                deployment_ids: deployment_ids.clone(),
                trial: *trial,
            };
            let license: LicenseView = l
                .post("/api/v1/licenses", &body, idempotency_key.as_deref())
                .await?;
            (to_value(license)?, None)
        }
        AdminCommand::List {
            account,
            email,
            status,
        } => {
            let query = some(&[
                ("account_id", account.clone()),
                ("email", email.clone()),
                ("status", status.clone()),
            ]);
            (
                list_all(l, "/api/v1/licenses", query).await?,
                Some(LICENSES),
            )
        }
        AdminCommand::Show { id } => (l.get(&format!("/api/v1/licenses/{id}"), &[]).await?, None),
        AdminCommand::Revoke { id, reason } => (
            l.post(
                &format!("/api/v1/licenses/{id}/revoke"),
                &RevokeRequest {
                    reason: reason.clone(),
                },
                None,
            )
            .await?,
            None,
        ),
        AdminCommand::Resend { id } => (
            l.post_empty(&format!("/api/v1/licenses/{id}/resend"))
                .await?,
            None,
        ),
        AdminCommand::Enroll {
            account,
            email,
            email_domain,
            reason,
            approved_by,
            ends_at,
            waives,
            max_term_days,
            user_limit,
        } => {
            let body = EnrollRequest {
                account_id: *account,
                email: email.clone(),
                email_domain: email_domain.clone(),
                reason: reason.clone(),
                approved_by: approved_by.clone(),
                starts_at: None,
                ends_at: ends_at.clone(),
                waives: waives.iter().map(|w| w.0).collect(),
                max_term_days: *max_term_days,
                user_limit: *user_limit,
            };
            (l.post("/api/v1/evaluations", &body, None).await?, None)
        }
        AdminCommand::Evaluations { active } => {
            let query = some(&[("active", active.then(|| "true".to_owned()))]);
            (
                list_all(l, "/api/v1/evaluations", query).await?,
                Some(&[
                    "id",
                    "email",
                    "email_domain",
                    "account_id",
                    "ends_at",
                    "active",
                ]),
            )
        }
        AdminCommand::EndEvaluation { id, reason } => (
            l.post(
                &format!("/api/v1/evaluations/{id}/end"),
                &EndEvaluationRequest {
                    reason: reason.clone(),
                },
                None,
            )
            .await?,
            None,
        ),
        AdminCommand::Trials { email, outcome } => {
            let query = some(&[("email", email.clone()), ("outcome", outcome.clone())]);
            (
                list_all(l, "/api/v1/trials", query).await?,
                Some(&[
                    "id",
                    "email",
                    "deployment_id",
                    "outcome",
                    "refusal_code",
                    "requested_at",
                ]),
            )
        }
        AdminCommand::Deployments {
            stale,
            over_seat_limit,
        } => {
            let query = some(&[
                ("stale", stale.then(|| "true".to_owned())),
                (
                    "over_seat_limit",
                    over_seat_limit.then(|| "true".to_owned()),
                ),
            ]);
            (
                list_all(l, "/api/v1/deployments", query).await?,
                Some(&[
                    "id",
                    "last_seen_at",
                    "active_users",
                    "user_limit",
                    "over_seat_limit",
                    "trial",
                ]),
            )
        }
        AdminCommand::Deployment { id } => (
            l.get(&format!("/api/v1/deployments/{id}"), &[]).await?,
            None,
        ),
    })
}

fn print_table(
    page: &Value,
    columns: Columns,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let cell = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(&item[*c])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].len())
                .chain(std::iter::once(c.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(
        out,
        "{}",
        line(columns.iter().map(|c| c.to_uppercase()).collect())
    )?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

/// A `--waive` value: a trial rule by its API name.
#[derive(Debug, Clone, Copy)]
pub struct Waive(TrialRule);

fn parse_trial_rule(text: &str) -> Result<Waive, String> {
    TrialRule::ALL
        .into_iter()
        .find(|rule| rule.as_str() == text)
        .map(Waive)
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

fn to_value(value: impl serde::Serialize) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(value)?)
}
