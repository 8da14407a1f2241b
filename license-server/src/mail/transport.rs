//! Delivering composed messages: SMTP (lettre) or a directory of `.eml` files.

use crate::store::outbox::ClaimedMessage;
use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A delivery that failed, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The server refused for good (SMTP 5xx): retrying will not help.
    pub permanent: bool,
    /// What happened, for the outbox's `last_error`.
    pub message: String,
}

impl SendError {
    fn transient(message: impl Into<String>) -> Self {
        Self {
            permanent: false,
            message: message.into(),
        }
    }
}

/// Delivers one message. Implementations must be safe to call again with the same message
/// after a failure (the outbox retries).
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `message` as it was composed.
    async fn send(&self, message: &ClaimedMessage) -> Result<(), SendError>;
}

fn envelope(message: &ClaimedMessage) -> Result<Envelope, SendError> {
    let permanent = |what: &str, e: &dyn fmt::Display| SendError {
        permanent: true,
        message: format!("{what}: {e}"),
    };
    let from: Address = message
        .sender
        .parse()
        .map_err(|e| permanent("sender", &e))?;
    let to: Address = message
        .recipient
        .parse()
        .map_err(|e| permanent("recipient", &e))?;
    Envelope::new(Some(from), vec![to]).map_err(|e| permanent("envelope", &e))
}

/// An SMTP URL (`smtp://`, `smtps://`), redacted in `Debug` (it may hold a password).
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    /// Accepts `smtp://[USER:PASS@]HOST[:PORT][?tls=required|opportunistic]` (STARTTLS) and
    /// `smtps://[USER:PASS@]HOST[:PORT]` (TLS from the start).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(
                "the SMTP URL must start with smtp:// (STARTTLS with ?tls=required) or smtps://"
                    .to_owned(),
            );
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("invalid SMTP URL: {e}"))?;
        Ok(Self(url.to_owned()))
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = match (self.0.find("://"), self.0.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                format!("{}***{}", &self.0[..start + 3], &self.0[at..])
            }
            _ => self.0.clone(),
        };
        write!(f, "SmtpUrl({redacted})")
    }
}

/// SMTP delivery with lettre: STARTTLS or TLS, optional authentication, timeouts.
#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    deadline: Duration,
}

impl SmtpMailer {
    /// A mailer for `url`. Every SMTP command times out after `timeout`, and a whole
    /// delivery (connecting and waiting for the greeting included, which lettre's command
    /// timeout does not cover) after three times that.
    pub fn new(url: &SmtpUrl, timeout: Duration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
            .map_err(|e| anyhow::anyhow!("invalid SMTP URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            deadline: timeout.saturating_mul(3),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &ClaimedMessage) -> Result<(), SendError> {
        let envelope = envelope(message)?;
        let sending = self.transport.send_raw(&envelope, message.raw.as_bytes());
        match tokio::time::timeout(self.deadline, sending).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SendError {
                permanent: e.is_permanent(),
                message: format!("SMTP: {e}"),
            }),
            Err(_) => Err(SendError::transient(format!(
                "SMTP: no complete answer within {} s",
                self.deadline.as_secs()
            ))),
        }
    }
}

/// Writes each message to `DIR/<message id>.eml` (RFC 5322): the default when no SMTP server
/// is configured, so that a bare machine still "delivers" and an operator can forward the file.
/// The messages hold licenses: the directory is private (0700) and each file 0600.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// Delivers into `dir`, created when missing (mode 0700); an existing directory is made
    /// private too.
    pub fn new(dir: PathBuf) -> anyhow::Result<Self> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|e| {
            anyhow::anyhow!("cannot create the mail directory {}: {e}", dir.display())
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |e| {
                    anyhow::anyhow!(
                        "cannot make the mail directory {} private (mode 0700): {e}",
                        dir.display()
                    )
                },
            )?;
        }
        Ok(Self { dir })
    }

    /// The file a message is written to.
    pub fn path_of(&self, message: &ClaimedMessage) -> PathBuf {
        self.dir.join(format!("{}.eml", message.id.simple()))
    }
}

/// Writes `bytes` to a new file at `path`, readable by its owner only (0600).
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    // A file left by an interrupted delivery is replaced, never reused with its mode.
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, message: &ClaimedMessage) -> Result<(), SendError> {
        envelope(message)?;
        let path = self.path_of(message);
        let partial = path.with_extension("eml.partial");
        // Write then rename, so that a reader never sees half a message; writing the same
        // message again replaces it with identical bytes.
        write_private(&partial, message.raw.as_bytes())
            .await
            .map_err(|e| {
                SendError::transient(format!("cannot write {}: {e}", partial.display()))
            })?;
        tokio::fs::rename(&partial, &path).await.map_err(|e| {
            SendError::transient(format!("cannot move {} into place: {e}", path.display()))
        })
    }
}
