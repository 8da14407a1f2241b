//! `license-server serve`: the licensor's HTTP API.

use super::database::{DatabaseArgs, create_private_dir, runtime};
use crate::api::{self, AppState};
use crate::clock::SystemClock;
use crate::issuance::Signer;
use crate::keyfile;
use anyhow::Context as _;
use license_core::SigningKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0 picks a free port, printed at start).
    #[arg(
        long,
        value_name = "ADDR",
        env = "LICENSOR_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The PKCS#8 PEM private key to sign with (mode 0600). Without it, a development key is
    /// generated in the data directory.
    #[arg(long, value_name = "FILE", env = "LICENSOR_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// The issuer name written into licenses (`iss`).
    #[arg(
        long,
        value_name = "NAME",
        env = "LICENSOR_ISSUER",
        default_value = "licensor"
    )]
    pub issuer: String,
    /// Log format.
    #[arg(long, value_enum, env = "LICENSOR_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// How logs are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Runs the server until SIGTERM or SIGINT, then finishes in-flight requests.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    runtime()?.block_on(serve(args))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LICENSOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling run twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(args: &Args) -> anyhow::Result<ExitCode> {
    let url = args.database.url()?;
    let store = args.database.connect().await?;
    tracing::info!(database = %url, backend = %store.backend(), "database ready");
    let key = match &args.signing_key {
        Some(path) => keyfile::read_signing_key(path)?,
        None => development_key(&args.database.data_dir)?,
    };
    tracing::info!(key_id = %key.key_id(), "signing key loaded");
    let state = AppState {
        store,
        signer: Arc::new(Signer::new(key, args.issuer.clone(), Vec::new())),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(api::metrics::Metrics::default()),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // A plain line on standard output, for scripts and tests that start the server on port 0.
    println!("listening on http://{address}");
    tracing::info!(%address, "listening");
    let store = state.store.clone();
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server failed")?;
    store.close().await;
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

/// Loads the development key from the data directory, generating it the first time.
fn development_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    create_private_dir(data_dir)?;
    let path = data_dir.join("development-signing.key.pem");
    let key = if path.exists() {
        keyfile::read_signing_key(&path)?
    } else {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())
            .map_err(|e| anyhow::anyhow!("the random generator failed: {e}"))?;
        let key = SigningKey::from_seed(&seed);
        keyfile::write_private_key(&path, &key)?;
        key
    };
    tracing::warn!(
        path = %path.display(),
        key_id = %key.key_id(),
        "NO --signing-key GIVEN: signing with a DEVELOPMENT key from the data directory. \
         Licenses it signs verify only where this key is trusted (--trust-key). \
         Production must pass --signing-key (LICENSOR_SIGNING_KEY)."
    );
    Ok(key)
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
