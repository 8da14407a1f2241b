//! `coder-license checkin`: report to the licensor, and store its signed receipt and the
//! latest revocation list beside the licenses, for the control plane to read at startup.
//! Meant for a CronJob; trials must check in to keep granting.

use crate::licensor::{Licensor, LicensorArgs};
use crate::store::Backend as _;
use crate::target::StoreArgs;
use crate::trust;
use anyhow::Context as _;
use license_api::{CheckinRequest, CheckinResponse, Revocations};
use license_core::{
    DEFAULT_MAX_CLOCK_SKEW_SECS, RECEIPT_KEY, REVOCATIONS_KEY, ReceiptStatus, Timestamp,
    may_store_receipt, may_store_revocations, verify_receipt, verify_revocation_list,
};
use std::process::ExitCode;

/// Arguments of `checkin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub licensor: LicensorArgs,
    /// Active users now.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub users: u64,
    /// The product version this deployment runs.
    #[arg(long, value_name = "VERSION", env = "CODER_VERSION")]
    pub product_version: String,
    /// Also trust this public key for the licensor's signatures (as with `verify`; also read
    /// from CODER_LICENSE_TRUST_KEY and the config directory).
    #[arg(long = "trust-key", value_name = "[KID=]FILE")]
    pub trust_keys: Vec<String>,
    #[command(flatten)]
    pub sync: super::sync::SyncArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Checks in, verifies what the licensor signed, and stores it.
pub async fn run(args: &Args, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    super::sync::check(&args.sync, store_args)?;
    let store = store_args.open().await?;
    let (deployment_id, _) = super::deployment_id::ensure(&store).await?;
    let snapshot = store.read().await?;
    let keyring = trust::keyring(&args.trust_keys)?;
    let licensor = Licensor::new(&args.licensor.licensor, None)?;
    // A fresh random nonce per check-in: the receipt must echo it, so an old receipt replayed
    // or another deployment's answer is never stored as this one's.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let request = CheckinRequest {
        deployment_id: deployment_id.to_string(),
        license_ids: snapshot
            .contents
            .licenses
            .keys()
            .map(|id| id.to_string())
            .collect(),
        active_users: args.users,
        product_version: args.product_version.clone(),
        nonce: Some(nonce.clone()),
    };
    let answer: CheckinResponse = licensor.post("/api/v1/checkins", &request, None).await?;
    let now =
        Timestamp::from_datetime(chrono::Utc::now()).context("the system clock is out of range")?;
    let skew = DEFAULT_MAX_CLOCK_SKEW_SECS;
    // The verifier's own error says what to do (an unknown key: trust it with --trust-key),
    // so the context only says what failed.
    let receipt = verify_receipt(&answer.receipt, &keyring, now, skew).with_context(|| {
        format!(
            "the check-in receipt from {} does not verify",
            licensor.base()
        )
    })?;
    receipt.answers(&deployment_id, &nonce).with_context(|| {
        format!(
            "the licensor at {} answered wrongly; nothing was stored",
            licensor.base()
        )
    })?;
    let revocations: Revocations = licensor.get("/api/v1/revocations", &[]).await?;
    let list = verify_revocation_list(&revocations.revocation_list, &keyring, now, skew)
        .context("the licensor's revocation list does not verify")?;

    let (_, kept_list) = store
        .update(|current| {
            let mut next = current.clone();
            let installed = |key: &str| {
                current
                    .others
                    .get(key)
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            };
            // Neither a receipt nor a list ever replaces a newer one (license-core's rule for
            // every writer of the store): that would bring back a status or un-revoke.
            if may_store_receipt(installed(RECEIPT_KEY).as_deref(), &receipt, &keyring, now) {
                next.others
                    .insert(RECEIPT_KEY.to_owned(), answer.receipt.as_bytes().to_vec());
            }
            let newer =
                may_store_revocations(installed(REVOCATIONS_KEY).as_deref(), &list, &keyring, now);
            if newer {
                next.others.insert(
                    REVOCATIONS_KEY.to_owned(),
                    revocations.revocation_list.as_bytes().to_vec(),
                );
            }
            Ok((next, !newer))
        })
        .await?;

    println!(
        "checked in deployment {deployment_id} at {}",
        receipt.claims().iat
    );
    for license in &receipt.claims().licenses {
        let status = serde_json::to_value(license.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!("  license {}: {status}", license.id);
        match license.status {
            ReceiptStatus::Revoked => eprintln!(
                "warning: license {} is revoked; it grants nothing from the next start on",
                license.id
            ),
            ReceiptStatus::Superseded => eprintln!(
                "warning: license {} was replaced by a newer license; it grants nothing from the next start on (remove it with `coder-license remove {}`)",
                license.id, license.id
            ),
            _ => {}
        }
    }
    println!(
        "stored the receipt{} in {}",
        if kept_list {
            " (the installed revocation list is as new or newer)"
        } else {
            " and revocation list"
        },
        store.describe()
    );
    sync_renewals(args, &store, &keyring, now, &answer.renewals).await
}

/// License sync: installs the renewals the answer carries, as `apply` would; exit 1 when one
/// is refused (then none is installed).
async fn sync_renewals(
    args: &Args,
    store: &crate::target::Store,
    keyring: &license_core::Keyring,
    now: Timestamp,
    renewals: &[license_api::Renewal],
) -> anyhow::Result<ExitCode> {
    let preflight = crate::preflight::gate::ApplyArgs {
        skip_preflight: false,
        licensor: Some(args.licensor.licensor.clone()),
        product_version: Some(args.product_version.clone()),
    };
    let verifier = license_core::Verifier::new(keyring.clone());
    let synced =
        super::sync::install(renewals, store, &verifier, now, &preflight, &args.sync).await?;
    super::sync::report(&synced, &store.describe(), &mut std::io::stdout().lock())?;
    Ok(if synced.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::INVALID)
    })
}
