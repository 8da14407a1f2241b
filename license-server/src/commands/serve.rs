//! `license-server serve`: the licensor's HTTP API.

use super::database::{DatabaseArgs, create_private_dir, runtime};
pub use super::trial_options::TrialArgs;
use crate::api::ratelimit::RateLimiter;
use crate::app::{Application, Config, OutboxConfig};
use crate::keyfile;
use crate::listener::HttpLimits;
use crate::mail::{FileMailer, Mailer, SmtpMailer, SmtpUrl};
use crate::service::checkin_state::{BatchConfig, DEFAULT_BATCH_MAX, DEFAULT_BATCH_WAIT_MS};
use crate::service::outbox::RetryPolicy;
use license_core::SigningKey;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The largest `--checkin-batch-max`.
const MAX_CHECKIN_BATCH: usize = 10_000;

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
    #[command(flatten)]
    pub trials: TrialArgs,
    #[command(flatten)]
    pub notify: super::notify_args::NotifyArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Log format.
    #[arg(long, value_enum, env = "LICENSOR_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Mark the web console's session cookie `Secure`: set it when browsers reach the licensor
    /// over HTTPS (a TLS-terminating proxy in front of it).
    #[arg(long, env = "LICENSOR_CONSOLE_SECURE_COOKIES")]
    pub console_secure_cookies: bool,
}

/// How connections are served, and how check-ins are grouped into transactions.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "LICENSOR_HEADER_READ_TIMEOUT",
        default_value_t = 10
    )]
    pub header_read_timeout: u64,
    /// The most connections served at once; more wait to be accepted.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_MAX_CONNECTIONS",
        default_value_t = 1024
    )]
    pub max_connections: usize,
    /// The most check-ins written in one transaction (group commit); 1 writes each in its
    /// own transaction.
    #[arg(
        long,
        value_name = "N",
        env = "LICENSOR_CHECKIN_BATCH_MAX",
        default_value_t = DEFAULT_BATCH_MAX
    )]
    pub checkin_batch_max: usize,
    /// How long a batch of check-ins waits for more after its first, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        env = "LICENSOR_CHECKIN_BATCH_WAIT_MS",
        default_value_t = DEFAULT_BATCH_WAIT_MS
    )]
    pub checkin_batch_wait_ms: u64,
}

impl HttpArgs {
    /// The limits these options describe.
    pub fn limits(&self) -> anyhow::Result<HttpLimits> {
        if self.header_read_timeout == 0 || self.max_connections == 0 {
            anyhow::bail!("--header-read-timeout and --max-connections must be positive");
        }
        Ok(HttpLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            max_connections: self.max_connections,
            ..HttpLimits::default()
        })
    }

    /// The check-in batching these options describe.
    pub fn checkin_batch(&self) -> anyhow::Result<BatchConfig> {
        if self.checkin_batch_max == 0 || self.checkin_batch_max > MAX_CHECKIN_BATCH {
            anyhow::bail!("--checkin-batch-max must be 1 to {MAX_CHECKIN_BATCH}");
        }
        if self.checkin_batch_wait_ms > 1000 {
            anyhow::bail!("--checkin-batch-wait-ms must be at most 1000");
        }
        Ok(BatchConfig {
            max: self.checkin_batch_max,
            wait: Duration::from_millis(self.checkin_batch_wait_ms),
        })
    }
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
    /// Where `.eml` files go when no SMTP server is configured.
    pub fn mail_dir(&self, data_dir: &Path) -> PathBuf {
        self.mail_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("mail"))
    }

    /// The configured transport; without SMTP, `.eml` files in `mail_dir`.
    pub fn mailer(&self, mail_dir: &Path) -> anyhow::Result<Arc<dyn Mailer>> {
        Ok(match &self.smtp_url {
            Some(url) => {
                tracing::info!(smtp = ?url, "mail goes out over SMTP");
                Arc::new(SmtpMailer::new(
                    url,
                    Duration::from_secs(self.smtp_timeout.max(1)),
                )?)
            }
            None => {
                tracing::warn!(dir = %mail_dir.display(), "no --smtp-url: mail is written as .eml files, not sent");
                Arc::new(FileMailer::new(mail_dir.to_owned())?)
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
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never in files or pipes.
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests calling run twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(args: &Args) -> anyhow::Result<ExitCode> {
    let url = args.database.url()?;
    let (key, key_source) = match &args.signing_key {
        Some(path) => (keyfile::read_signing_key(path)?, path.clone()),
        None => development_key(&args.database.data_dir)?,
    };
    tracing::info!(key_id = %key.key_id(), "signing key loaded");
    let mail_dir = args.mail.mail_dir(&args.database.data_dir);
    let mut config = Config::new(args.listen, url.clone(), key.clone());
    config.issuer = args.issuer.clone();
    config.mail_from = args.mail.mail_from.clone();
    config.product_name = args.mail.product_name.clone();
    config.trial_policy = args.trials.policy()?;
    args.notify.apply(&mut config)?;
    config.console_secure_cookies = args.console_secure_cookies;
    config.rate_limiter = RateLimiter::new(
        args.trials.public_rate_limit_per_minute,
        args.trials.public_rate_limit_burst,
        args.trials.trusted_proxy_hops,
    );
    config.http = args.http.limits()?;
    config.checkin_batch = args.http.checkin_batch()?;
    config.outbox = Some(OutboxConfig {
        mailer: args.mail.mailer(&mail_dir)?,
        retry: args.mail.retry_policy(),
        poll: Duration::from_millis(args.mail.outbox_poll_ms.max(10)),
    });
    let app = Application::build(config).await?;
    tracing::info!(database = %url, backend = %app.licensor().store().backend(), "database ready");
    let address = app.address();
    // A plain line on standard output, for scripts and tests that start the server on port 0,
    // then the next steps. Whoever started the server may have closed standard output after
    // the first line: a failed write is no reason to stop serving.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{address}");
    let _ = write!(
        stdout,
        "{}",
        next_steps(&NextSteps {
            address,
            database: &url,
            data_dir: &args.database.data_dir,
            mail: match &args.mail.smtp_url {
                Some(smtp) => format!("sent over SMTP ({smtp:?})"),
                None => format!(
                    "written as .eml files to {} (no --smtp-url)",
                    mail_dir.display()
                ),
            },
            key_id: key.key_id().as_str(),
            key_source: &key_source,
            development_key: args.signing_key.is_none(),
        })
    );
    let _ = stdout.flush();
    tracing::info!(%address, "listening");
    app.run(shutdown_signal()).await?;
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

/// What `serve` prints after its first line: where things are and what to do next.
struct NextSteps<'a> {
    address: SocketAddr,
    database: &'a crate::store::DatabaseUrl,
    data_dir: &'a Path,
    mail: String,
    key_id: &'a str,
    key_source: &'a Path,
    development_key: bool,
}

fn next_steps(n: &NextSteps<'_>) -> String {
    let base = format!("http://{}", n.address);
    let data_dir = n.data_dir.display();
    let key = if n.development_key {
        format!(
            "DEVELOPMENT key {} ({}); production passes --signing-key",
            n.key_id,
            n.key_source.display()
        )
    } else {
        format!("{} ({})", n.key_id, n.key_source.display())
    };
    format!(
        "the licensor is ready:
  API          {base}/api/v1   (OpenAPI: {base}/api/v1/openapi.json)
  database     {database}
  mail         {mail}
  signing key  {key}
  public keys  {base}/api/v1/keys   (PEM: license-server keys export --data-dir {data_dir})
next steps:
  1. create an admin token:  license-server token create --name desk --data-dir {data_dir}
  2. use it:                 export LICENSOR_URL={base} LICENSOR_TOKEN=<the token>
                             coder-license admin create-account --name Acme --email ops@acme.example
  3. trust the public key:   curl -s {base}/api/v1/keys > keys.json
                             export CODER_LICENSE_TRUST_KEY=$PWD/keys.json
",
        database = n.database,
        mail = n.mail,
    )
}

/// Loads the development key from the data directory, generating it the first time.
fn development_key(data_dir: &Path) -> anyhow::Result<(SigningKey, PathBuf)> {
    create_private_dir(data_dir)?;
    let path = keyfile::development_key_path(data_dir);
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
    Ok((key, path))
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
