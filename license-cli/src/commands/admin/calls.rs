//! Each admin command as requests to the licensor, with `license-api`'s bodies: what it
//! answered, and the columns that show it.

use super::args::{AdminCommand, EnrollArgs, IssueArgs, ReissueArgs};
use super::render::{Columns, Shown};
use crate::licensor::Licensor;
use crate::safe_fs::Dir;
use anyhow::Context as _;
use license_api::{
    AccountUsageView, AccountView, CreateAccountRequest, EndEvaluationRequest, EnrollRequest,
    IssueRequest, LicenseUsageView, LicenseView, Page, ReissueRequest, RevokeRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::path::Path;

const ACCOUNTS: Columns = &[
    "id",
    "name",
    "email",
    "type",
    "license_sequence",
    "created_at",
];
const LICENSES: Columns = &[
    "id",
    "email",
    "status",
    "user_limit",
    "trial",
    "starts_at",
    "expires_at",
];
const EVALUATIONS: Columns = &[
    "id",
    "email",
    "email_domain",
    "account_id",
    "ends_at",
    "active",
];
const TRIALS: Columns = &[
    "id",
    "email",
    "deployment_id",
    "outcome",
    "refusal_code",
    "requested_at",
];
const DEPLOYMENTS: Columns = &[
    "id",
    "last_seen_at",
    "active_users",
    "user_limit",
    "over_seat_limit",
    "trial",
];
const DEPLOYMENT_LICENSES: Columns = &["id", "known", "status", "trial", "user_limit", "overused"];
const USAGE: Columns = &[
    "license_id",
    "user_limit",
    "from",
    "to",
    "days_reported",
    "peak_users",
    "peak_date",
    "p95_users",
    "days_over_limit",
];
const USAGE_DEPLOYMENTS: Columns = &[
    "deployment_id",
    "days_reported",
    "peak_users",
    "users_on_peak_day",
];
const RESENT: Columns = &["outbox_id", "message_id", "recipient"];

/// The most pages a list command follows.
const MAX_PAGES: usize = 100;
/// Items asked for per page.
const PAGE_SIZE: usize = 500;

/// The query parameters that are set.
fn some(pairs: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

/// Every item of a paged list, following `next_cursor` (at most [`MAX_PAGES`] pages), as
/// `{"items": […]}`.
async fn list_all<T: DeserializeOwned + serde::Serialize>(
    l: &Licensor,
    path: &str,
    query: Vec<(&'static str, String)>,
) -> anyhow::Result<Value> {
    let mut items: Vec<T> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut page_query = query.clone();
        page_query.push(("limit", PAGE_SIZE.to_string()));
        if let Some(cursor) = after.take() {
            page_query.push(("after", cursor));
        }
        let page: Page<T> = l.get(path, &page_query).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(json!({ "items": items })),
        }
    }
    anyhow::bail!(
        "{path} has more than {} items; narrow the list with filters",
        MAX_PAGES * PAGE_SIZE
    )
}

fn value(view: impl serde::Serialize) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(view)?)
}

/// Runs `command` (any but `get`).
pub async fn call(l: &Licensor, command: &AdminCommand) -> anyhow::Result<Shown> {
    Ok(match command {
        AdminCommand::CreateAccount { name, email } => {
            let body = CreateAccountRequest {
                name: name.clone(),
                email: email.clone(),
                account_type: None,
            };
            let account: AccountView = l.post("/api/v1/accounts", &body, None).await?;
            Shown::one(value(account)?, ACCOUNTS)
        }
        AdminCommand::Accounts => Shown::list(
            list_all::<AccountView>(l, "/api/v1/accounts", Vec::new()).await?,
            ACCOUNTS,
        ),
        AdminCommand::Issue(args) => Shown::one(issue(l, args).await?, LICENSES),
        AdminCommand::Reissue(args) => Shown::one(reissue(l, args).await?, LICENSES),
        AdminCommand::List {
            account,
            email,
            status,
        } => {
            let query = some(&[
                ("account_id", account.map(|a| a.to_string())),
                ("email", email.clone()),
                ("status", status.clone()),
            ]);
            Shown::list(
                list_all::<LicenseView>(l, "/api/v1/licenses", query).await?,
                LICENSES,
            )
        }
        AdminCommand::Show { id } => {
            let license: LicenseView = l.get(&format!("/api/v1/licenses/{id}"), &[]).await?;
            Shown::one(value(license)?, LICENSES)
        }
        AdminCommand::Get { .. } => anyhow::bail!("get is not a table"),
        AdminCommand::Revoke { id, reason } => {
            let body = RevokeRequest {
                reason: reason.clone(),
            };
            let license: LicenseView = l
                .post(&format!("/api/v1/licenses/{id}/revoke"), &body, None)
                .await?;
            Shown::one(value(license)?, LICENSES)
        }
        AdminCommand::Resend { id } => {
            let resent: Value = l
                .post_empty(&format!("/api/v1/licenses/{id}/resend"))
                .await?;
            Shown {
                name: "outbox_id",
                ..Shown::one(resent, RESENT)
            }
        }
        AdminCommand::Enroll(args) => Shown::one(enroll(l, args).await?, EVALUATIONS),
        AdminCommand::Evaluations { active } => {
            let query = some(&[("active", active.then(|| "true".to_owned()))]);
            Shown::list(
                list_all::<Value>(l, "/api/v1/evaluations", query).await?,
                EVALUATIONS,
            )
        }
        AdminCommand::EndEvaluation { id, reason } => {
            let body = EndEvaluationRequest {
                reason: reason.clone(),
            };
            let ended: Value = l
                .post(&format!("/api/v1/evaluations/{id}/end"), &body, None)
                .await?;
            Shown::one(ended, EVALUATIONS)
        }
        AdminCommand::Trials { email, outcome } => {
            let query = some(&[("email", email.clone()), ("outcome", outcome.clone())]);
            Shown::list(list_all::<Value>(l, "/api/v1/trials", query).await?, TRIALS)
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
            Shown::list(
                list_all::<Value>(l, "/api/v1/deployments", query).await?,
                DEPLOYMENTS,
            )
        }
        AdminCommand::Deployment { id } => {
            let detail: Value = l.get(&format!("/api/v1/deployments/{id}"), &[]).await?;
            Shown {
                nested: Some(("licenses", DEPLOYMENT_LICENSES)),
                ..Shown::one(detail, DEPLOYMENTS)
            }
        }
        AdminCommand::Usage {
            id,
            account,
            from,
            to,
        } => usage(l, *id, *account, from, to).await?,
    })
}

async fn usage(
    l: &Licensor,
    id: Option<uuid::Uuid>,
    account: Option<uuid::Uuid>,
    from: &Option<String>,
    to: &Option<String>,
) -> anyhow::Result<Shown> {
    let query = some(&[("from", from.clone()), ("to", to.clone())]);
    match (id, account) {
        (_, Some(account)) => {
            let report: AccountUsageView = l
                .get(&format!("/api/v1/accounts/{account}/usage"), &query)
                .await?;
            Ok(Shown {
                name: "license_id",
                items: "licenses",
                ..Shown::list(value(report)?, USAGE)
            })
        }
        (Some(id), None) => {
            let report: LicenseUsageView = l
                .get(&format!("/api/v1/licenses/{id}/usage"), &query)
                .await?;
            Ok(Shown {
                name: "license_id",
                nested: Some(("deployments", USAGE_DEPLOYMENTS)),
                ..Shown::one(value(report)?, USAGE)
            })
        }
        (None, None) => anyhow::bail!("usage needs a license id, or --account ACCOUNT_ID"),
    }
}

async fn issue(l: &Licensor, args: &IssueArgs) -> anyhow::Result<Value> {
    let body = IssueRequest {
        account_id: args.account,
        email: args.email.clone(),
        feature_set: args.feature_set.unwrap_or_default(),
        features: Default::default(),
        user_limit: args.user_limit,
        starts_at: args.starts_at.clone(),
        expires_at: args.expires_at.clone(),
        grace_days: args.grace_days,
        deployment_ids: args.deployment_ids.clone(),
        trial: args.trial,
    };
    let license: LicenseView = l
        .post("/api/v1/licenses", &body, args.idempotency_key.as_deref())
        .await?;
    value(license)
}

async fn reissue(l: &Licensor, args: &ReissueArgs) -> anyhow::Result<Value> {
    let body = ReissueRequest {
        email: args.email.clone(),
        feature_set: args.feature_set,
        features: None,
        user_limit: args.user_limit,
        starts_at: args.starts_at.clone(),
        expires_at: args.expires_at.clone(),
        grace_days: args.grace_days,
        deployment_ids: (!args.deployment_ids.is_empty()).then(|| args.deployment_ids.clone()),
    };
    let path = format!("/api/v1/licenses/{}/reissue", args.id);
    let license: LicenseView = l
        .post(&path, &body, args.idempotency_key.as_deref())
        .await?;
    value(license)
}

async fn enroll(l: &Licensor, args: &EnrollArgs) -> anyhow::Result<Value> {
    let body = EnrollRequest {
        account_id: args.account,
        email: args.email.clone(),
        email_domain: args.email_domain.clone(),
        reason: args.reason.clone(),
        approved_by: args.approved_by.clone(),
        starts_at: None,
        ends_at: args.ends_at.clone(),
        waives: args.waives.clone(),
        max_term_days: args.max_term_days,
        user_limit: args.user_limit,
    };
    l.post("/api/v1/evaluations", &body, None).await
}

/// `admin get`: prints the license's token, or saves it to `out`.
pub async fn get_token(
    l: &Licensor,
    id: uuid::Uuid,
    out: Option<&Path>,
    force: bool,
) -> anyhow::Result<()> {
    let license: LicenseView = l.get(&format!("/api/v1/licenses/{id}"), &[]).await?;
    let token = license.token.with_context(|| {
        format!("the licensor's answer for license {id} holds no token; it cannot be saved")
    })?;
    let Some(out) = out else {
        println!("{token}");
        return Ok(());
    };
    match save(out, &format!("{token}\n"), force)? {
        Saved::Written => eprintln!("license {id} saved to {}", out.display()),
        Saved::Same => eprintln!("license {id} is already saved in {}", out.display()),
    }
    Ok(())
}

/// What [`save`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// The file was written.
    Written,
    /// The file already held exactly this.
    Same,
}

/// Licenses are not secret: 0644, so that whoever installs it can read it.
const LICENSE_FILE_MODE: u32 = 0o644;
/// A file larger than this is no license file, and is not read to compare.
const MAX_COMPARED_BYTES: u64 = 1024 * 1024;

/// Writes `text` to `path` atomically; refuses to replace a file that holds something else
/// unless `force`, and never writes through a symbolic link.
pub fn save(path: &Path, text: &str, force: bool) -> anyhow::Result<Saved> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("--out {} does not name a file", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Dir::open(parent)?;
    if let Some(existing) = dir.read(name, MAX_COMPARED_BYTES)? {
        if existing.trim_ascii() == text.trim().as_bytes() {
            return Ok(Saved::Same);
        }
        if !force {
            anyhow::bail!(
                "{} exists and holds something else; nothing was written: choose another --out, or pass --force to replace it",
                path.display()
            );
        }
    }
    dir.write_atomically(name, text.as_bytes(), LICENSE_FILE_MODE)?;
    dir.sync()?;
    Ok(Saved::Written)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn saving_refuses_to_replace_another_file_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("license.jwt");
        assert_eq!(save(&path, "a.b.c\n", false).unwrap(), Saved::Written);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a.b.c\n");
        assert_eq!(save(&path, "a.b.c\n", false).unwrap(), Saved::Same);
        let err = save(&path, "d.e.f\n", false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a.b.c\n");
        assert_eq!(save(&path, "d.e.f\n", true).unwrap(), Saved::Written);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "d.e.f\n");
    }

    #[test]
    fn saving_never_writes_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = tmp.path().join("license.jwt");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = save(&path, "a.b.c\n", true).unwrap_err();
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
