//! An example control plane, as Coder's would be: at startup it reads its licenses from the
//! `coder-license` Secret mounted as a directory (`--licenses-dir`, one file per data key),
//! verifies them offline with `license_core::evaluate`, logs its entitlements, warnings and
//! errors, enables only the features it is entitled to, serves its entitlements as JSON, and
//! re-verifies on SIGHUP. It keeps the time high-water mark in `--state-dir`, so that a clock
//! turned back is detected across restarts. It never crashes on a bad license: it starts
//! unlicensed and says why.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use license_core::{
    DeploymentId, Entitlement, Installed, Jwk, JwkSet, KeyId, Keyring, PublicKey, Startup,
    Timestamp, evaluate,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

/// An example control plane that verifies its licenses at startup.
#[derive(Debug, Parser)]
struct Args {
    /// The mounted `coder-license` Secret (or a `coder-license --file-store` directory).
    #[arg(long, value_name = "DIR", env = "LICENSES_DIR")]
    licenses_dir: PathBuf,
    /// A writable directory for the time high-water mark.
    #[arg(long, value_name = "DIR", env = "STATE_DIR")]
    state_dir: PathBuf,
    /// Where to serve `/entitlements`; port 0 picks one (printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// This deployment's id, when the store does not hold it.
    #[arg(long, value_name = "ID")]
    deployment_id: Option<String>,
    /// Active users, compared with the seats.
    #[arg(long, value_name = "N")]
    active_users: Option<u64>,
    /// Also trust this public key, as `coder-license --trust-key` does: SPKI PEM (under its
    /// RFC 7638 thumbprint), or a JWK or JWKS such as the licensor's `/api/v1/keys` (under
    /// each key's `kid`). Repeatable.
    #[arg(long, value_name = "FILE")]
    trust_key: Vec<PathBuf>,
    /// Judge the licenses at this time instead of the clock (RFC 3339; for demonstrations).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

struct App {
    args: Args,
    keyring: Keyring,
    startup: RwLock<Startup>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut keyring = Keyring::builtin();
    for path in &args.trust_key {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (kid, key) in
            public_keys(&text).with_context(|| format!("cannot use {}", path.display()))?
        {
            keyring.add(kid, key)?;
        }
    }
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("cannot create {}", args.state_dir.display()))?;
    let startup = verify(&args, &keyring)?;
    let app = Arc::new(App {
        args,
        keyring,
        startup: RwLock::new(startup),
    });
    tokio::runtime::Runtime::new()
        .context("cannot start the runtime")?
        .block_on(serve(app))
}

/// The keys of a key file: SPKI PEM (one key, under its thumbprint), or a JWK or JWKS
/// document (each key under its `kid`).
fn public_keys(text: &str) -> anyhow::Result<Vec<(KeyId, PublicKey)>> {
    if !text.trim_start().starts_with('{') {
        let key = PublicKey::from_spki_pem(text)
            .context("it is neither an Ed25519 public key in SPKI PEM form nor a JWK or JWKS")?;
        return Ok(vec![(key.thumbprint(), key)]);
    }
    let value: Value = serde_json::from_str(text).context("it is not JSON")?;
    let jwks = if value.get("keys").is_some() {
        serde_json::from_value::<JwkSet>(value).map(|set| set.keys)
    } else {
        serde_json::from_value::<Jwk>(value).map(|jwk| vec![jwk])
    }
    .context("it is not a JWK or JWKS document")?;
    if jwks.is_empty() {
        anyhow::bail!("it holds no keys");
    }
    jwks.into_iter()
        .map(|jwk| {
            let key = jwk
                .public_key()
                .with_context(|| format!("key {}", jwk.kid))?;
            Ok((jwk.kid, key))
        })
        .collect()
}

/// Reads the store, verifies, logs, persists the high-water mark.
fn verify(args: &Args, keyring: &Keyring) -> anyhow::Result<Startup> {
    let installed = read_dir(&args.licenses_dir)?;
    let now = match &args.now {
        Some(text) => Timestamp::parse_rfc3339(text)?,
        None => Timestamp::from_datetime(chrono::Utc::now())?,
    };
    let mark_file = args.state_dir.join(license_core::HIGH_WATER_MARK_KEY);
    let mark = std::fs::read_to_string(&mark_file)
        .ok()
        .and_then(|t| Timestamp::parse_rfc3339(t.trim()).ok());
    let deployment = args
        .deployment_id
        .as_deref()
        .map(DeploymentId::parse)
        .transpose()?;
    let startup = evaluate(
        &installed,
        keyring,
        now,
        deployment,
        mark,
        args.active_users,
    );
    let e = &startup.entitlements;
    let enabled: Vec<&str> = e
        .features
        .iter()
        .filter(|(_, f)| f.entitlement != Entitlement::NotEntitled)
        .map(|(name, _)| name.as_str())
        .collect();
    tracing::info!(licensed = e.has_license, trial = e.trial, evaluation = e.evaluation, enabled = ?enabled, "licenses verified");
    for warning in &e.warnings {
        tracing::warn!("{warning}");
    }
    for error in &e.errors {
        tracing::error!("{error}");
    }
    let temporary = mark_file.with_extension("partial");
    std::fs::write(&temporary, startup.high_water_mark().rfc3339())
        .and_then(|()| std::fs::rename(&temporary, &mark_file))
        .with_context(|| {
            format!(
                "cannot persist the time high-water mark in {}",
                mark_file.display()
            )
        })?;
    Ok(startup)
}

fn read_dir(dir: &FsPath) -> anyhow::Result<Installed> {
    let mut entries = Vec::new();
    let listing = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the licenses directory {}", dir.display()))?;
    for entry in listing {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // A mounted Secret also holds `..data` links and timestamped directories: skip them.
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        entries.push((name, bytes));
    }
    Ok(Installed::from_entries(entries))
}

async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/entitlements", get(entitlements))
        .route("/features/{name}", get(feature))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(app.args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let reloader = app.clone();
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: verifying the licenses again");
            match verify(&reloader.args, &reloader.keyring) {
                Ok(startup) => {
                    if let Ok(mut current) = reloader.startup.write() {
                        *current = startup;
                    }
                }
                Err(error) => tracing::error!(
                    "re-verification failed, keeping the previous entitlements: {error:#}"
                ),
            }
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn entitlements(State(app): State<Arc<App>>) -> Json<Value> {
    match app.startup.read() {
        Ok(startup) => Json(json!({
            "deployment_id": startup.deployment_id.as_ref().map(|d| d.to_string()),
            "entitlements": startup.entitlements,
        })),
        Err(_) => Json(json!({ "error": "entitlements unavailable" })),
    }
}

/// 200 when the feature may be used, 403 with the reason when not: the product's gate.
async fn feature(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> (StatusCode, Json<Value>) {
    let Ok(startup) = app.startup.read() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "entitlements unavailable" })),
        );
    };
    let e = &startup.entitlements;
    match e.entitlement(&name) {
        Entitlement::NotEntitled => (
            StatusCode::FORBIDDEN,
            Json(
                json!({ "feature": name, "enabled": false, "reason": e.errors.first().cloned().unwrap_or_else(|| "no license grants it".into()) }),
            ),
        ),
        level => (
            StatusCode::OK,
            Json(json!({ "feature": name, "enabled": true, "entitlement": level })),
        ),
    }
}
