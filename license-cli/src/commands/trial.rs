//! `coder-license trial request`: ask the licensor for a free trial for this deployment; the
//! license arrives by email (proof of the address), not in the answer.

use crate::exit;
use crate::licensor::{Licensor, LicensorArgs, is_refusal};
use crate::target::StoreArgs;
use license_api::{TrialAccepted, TrialRequest};
use std::process::ExitCode;

/// Arguments of `trial request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub licensor: LicensorArgs,
    /// Where the trial license is sent: your work address.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Your given name.
    #[arg(long, value_name = "NAME")]
    pub first_name: String,
    /// Your family name.
    #[arg(long, value_name = "NAME")]
    pub last_name: String,
    /// Your company.
    #[arg(long, value_name = "NAME")]
    pub company: String,
    /// Your country (ISO 3166 code, e.g. DE).
    #[arg(long, value_name = "CODE")]
    pub country: String,
    /// Your team size: 1-10, 11-50, 51-200, 201-1000 or 1001+.
    #[arg(long, value_name = "BUCKET")]
    pub developers: String,
    /// The product version this deployment runs.
    #[arg(long, value_name = "VERSION")]
    pub product_version: String,
    /// The licensor's public key, when it is not built in: `trial request` verifies nothing,
    /// but the `apply` command it suggests then trusts it too. Repeatable.
    #[arg(long = "trust-key", value_name = "[KID=]FILE")]
    pub trust_keys: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The `apply` command that installs the emailed license where this command stored the
/// deployment id, trusting the same keys.
fn apply_hint(store: &StoreArgs, trust_keys: &[String]) -> String {
    let mut words: Vec<String> = vec!["coder-license".into()];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            words.push(name.to_owned());
            words.push(quoted(&value));
        }
    };
    flag(
        "--file-store",
        store.file_store.as_ref().map(|p| p.display().to_string()),
    );
    flag(
        "--kubeconfig",
        store.kubeconfig.as_ref().map(|p| p.display().to_string()),
    );
    flag("--context", store.context.clone());
    flag("--namespace", store.namespace.clone());
    flag("--secret-name", store.secret_name.clone());
    words.extend(["apply", "-f", "license.jwt"].map(String::from));
    for key in trust_keys {
        words.push("--trust-key".into());
        words.push(quoted(key));
    }
    words.join(" ")
}

/// `text` as one shell word: as it is when that is safe, else in single quotes.
fn quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Requests the trial for this deployment's id (derived and stored when none is).
pub async fn request(args: &RequestArgs, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let store = store_args.open().await?;
    let (deployment_id, _) = super::deployment_id::ensure(&store).await?;
    let licensor = Licensor::new(&args.licensor.licensor, None)?;
    let body = TrialRequest {
        email: args.email.clone(),
        first_name: args.first_name.clone(),
        last_name: args.last_name.clone(),
        company: args.company.clone(),
        country: args.country.clone(),
        developers: args.developers.clone(),
        deployment_id: deployment_id.to_string(),
        product_version: args.product_version.clone(),
    };
    match licensor
        .post::<_, TrialAccepted>("/api/v1/trials", &body, None)
        .await
    {
        Ok(accepted) => {
            println!(
                "trial granted for deployment {deployment_id}: the license is on its way to {}",
                accepted.email
            );
            println!(
                "  {} users until {}{}{}",
                accepted.user_limit,
                accepted.expires_at,
                if accepted.evaluation {
                    ", under the evaluation program"
                } else {
                    ""
                },
                if accepted.checkin_required {
                    "; the deployment must check in (coder-license checkin)"
                } else {
                    ""
                }
            );
            println!(
                "install it with: {}",
                apply_hint(store_args, &args.trust_keys)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) if is_refusal(&error) => {
            eprintln!("trial refused: {error:#}");
            Ok(ExitCode::from(exit::INVALID))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_hint_keeps_the_store_and_the_keys() {
        let plain = StoreArgs::default();
        assert_eq!(
            apply_hint(&plain, &[]),
            "coder-license apply -f license.jwt"
        );
        let files = StoreArgs {
            file_store: Some(PathBuf::from("/var/lib/my licenses")),
            ..StoreArgs::default()
        };
        assert_eq!(
            apply_hint(&files, &["keys.json".into(), "k1=/etc/it's.pem".into()]),
            "coder-license --file-store '/var/lib/my licenses' apply -f license.jwt --trust-key keys.json --trust-key 'k1=/etc/it'\\''s.pem'"
        );
        let cluster = StoreArgs {
            context: Some("prod".into()),
            namespace: Some("coder".into()),
            ..StoreArgs::default()
        };
        assert_eq!(
            apply_hint(&cluster, &[]),
            "coder-license --context prod --namespace coder apply -f license.jwt"
        );
    }
}
