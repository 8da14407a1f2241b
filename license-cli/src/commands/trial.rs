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
            println!("install it with: coder-license apply -f license.jwt");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) if is_refusal(&error) => {
            eprintln!("trial refused: {error:#}");
            Ok(ExitCode::from(exit::INVALID))
        }
        Err(error) => Err(error),
    }
}
