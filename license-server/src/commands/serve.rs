//! `license-server serve`: the licensor's HTTP API.

use super::database::{DatabaseArgs, create_private_dir, runtime};
use crate::api::{self, AppState};
use crate::clock::Clock;
use crate::clock::SystemClock;
use crate::issuance::Signer;
use crate::keyfile;
use crate::mail::{Composer, FileMailer, Mailer, SmtpMailer, SmtpUrl};
use crate::outbox::{OutboxWorker, RetryPolicy};
use anyhow::Context as _;
use license_core::SigningKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
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
    /// The issuer name written into licenses (`iss`) and signed under in emails.
    #[arg(
        long,
        value_name = "NAME",
        env = "LICENSOR_ISSUER",
        default_value = "licensor"
    )]
    pub issuer: String,
    #[command(flatten)]
    pub mail: MailArgs,
    /// Log format.
    #[arg(long, value_enum, env = "LICENSOR_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// Email delivery options.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// Deliver mail over SMTP: `smtp://[USER:PASS@]HOST[:PORT][?tls=required]` (STARTTLS) or
    /// `smtps://…` (TLS). Without it, messages are written as .eml files to --mail-dir.
    #[arg(long, value_name = "URL", env = "LICENSOR_SMTP_URL", value_parser = SmtpUrl::parse, hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,
    /// Where messages are written when no SMTP server is configured [default: DATA_DIR/mail].
    #[arg(long, value_name = "DIR", env = "LICENSOR_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// The sender of license emails.
    #[arg(
        long,
        value_name = "MAILBOX",
        env = "LICENSOR_MAIL_FROM",
        default_value = "Licensor <licenses@licensor.localhost>"
    )]
    pub mail_from: String,
    /// The product named in emails.
    #[arg(
        long,
        value_name = "NAME",
        env = "LICENSOR_PRODUCT_NAME",
        default_value = "Coder"
    )]
    pub product_name: String,
    /// Seconds before an SMTP command times out.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "LICENSOR_SMTP_TIMEOUT",
        default_value_t = 30
    )]
    pub smtp_timeout: u64,
    /// Delivery attempts before a message is declared dead.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 10
    )]
    pub outbox_max_attempts: u32,
    /// Seconds before the first retry of a failed delivery (doubling after each failure).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "LICENSOR_OUTBOX_RETRY_BASE",
        default_value_t = 30
    )]
    pub outbox_retry_base: u64,
    /// Milliseconds between looks for due messages (queued by other replicas, retries).
    #[arg(
        long,
        value_name = "MS",
        env = "LICENSOR_OUTBOX_POLL_MS",
        default_value_t = 1000
    )]
    pub outbox_poll_ms: u64,
}

impl MailArgs {
    /// The configured transport.
    pub fn mailer(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn Mailer>> {
        Ok(match &self.smtp_url {
            Some(url) => {
                tracing::info!(smtp = ?url, "mail goes out over SMTP");
                Arc::new(SmtpMailer::new(
                    url,
                    Duration::from_secs(self.smtp_timeout.max(1)),
                )?)
            }
            None => {
                let dir = self
                    .mail_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("mail"));
                tracing::warn!(dir = %dir.display(), "no --smtp-url: mail is written as .eml files, not sent");
                Arc::new(FileMailer::new(dir)?)
            }
        })
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        let base = i64::try_from(self.outbox_retry_base.max(1)).unwrap_or(30);
        let lease = i64::try_from(self.smtp_timeout.saturating_mul(10).max(60)).unwrap_or(300);
        RetryPolicy {
            lease_secs: lease,
            max_attempts: self.outbox_max_attempts.max(1),
            base_delay_secs: base,
            max_delay_secs: base.saturating_mul(120).max(3600),
        }
    }
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
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(api::metrics::Metrics::default());
    let composer = Arc::new(Composer::new(
        &args.mail.mail_from,
        &args.mail.product_name,
        &args.issuer,
    )?);
    let mailer = args.mail.mailer(&args.database.data_dir)?;
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    let state = AppState {
        store: store.clone(),
        signer: Arc::new(Signer::new(key, args.issuer.clone(), Vec::new())),
        clock: clock.clone(),
        metrics: metrics.clone(),
        composer,
        outbox_wake: outbox_wake.clone(),
    };
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let worker = OutboxWorker::new(
        store.clone(),
        mailer,
        clock,
        owner,
        args.mail.retry_policy(),
    )
    .with_metrics(metrics);
    let (stop_worker, stopped) = tokio::sync::watch::channel(false);
    let poll = Duration::from_millis(args.mail.outbox_poll_ms.max(10));
    let worker = tokio::spawn(worker.run(outbox_wake, stopped, poll));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // A plain line on standard output, for scripts and tests that start the server on port 0.
    println!("listening on http://{address}");
    tracing::info!(%address, "listening");
    let served = axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    // The worker finishes the message in hand; anything unsent stays queued for next time.
    let _ = stop_worker.send(true);
    let _ = worker.await;
    store.close().await;
    served.context("the server failed")?;
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
