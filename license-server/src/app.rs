//! The application, assembled from a [`Config`]: the store, the service layer, the HTTP
//! router, the listener and the background tasks (outbox, reminder scheduler, webhooks). `serve` builds it from flags; the tests build
//! it from a test config; both through [`Application::build`].

use crate::api::ratelimit::RateLimiter;
use crate::api::{self, AppState};
use crate::clock::{Clock, SystemClock};
use crate::console;
use crate::listener::{self, HttpLimits};
use crate::mail::{Composer, Mailer};
use crate::metrics::Metrics;
use crate::service::checkin_state::BatchConfig;
use crate::service::notifications::run_scheduler;
use crate::service::outbox::{OutboxWorker, RetryPolicy};
use crate::service::reminder_policy::NotificationPolicy;
use crate::service::signer::Signer;
use crate::service::trial_rules::TrialPolicy;
use crate::service::webhook_delivery::{WebhookSettings, WebhookWorker};
use crate::service::{Licensor, Parts};
use crate::store::{DatabaseUrl, Store};
use anyhow::Context as _;
use license_core::SigningKey;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Everything the licensor is configured with.
#[derive(Debug)]
pub struct Config {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The database.
    pub database: DatabaseUrl,
    /// The key licenses are signed with.
    pub signing_key: SigningKey,
    /// The issuer name (`iss`).
    pub issuer: String,
    /// The sender of license emails, `Name <address>`.
    pub mail_from: String,
    /// The product named in emails.
    pub product_name: String,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The trial rules.
    pub trial_policy: TrialPolicy,
    /// Rate limits of the public endpoints.
    pub rate_limiter: RateLimiter,
    /// Header-read timeout, connection cap.
    pub http: HttpLimits,
    /// The outbox worker of this process; none when another process delivers the mail.
    pub outbox: Option<OutboxConfig>,
    /// Which reminders are sent, and to whom.
    pub notifications: NotificationPolicy,
    /// How often this process's reminder scheduler runs; none: it runs elsewhere.
    pub scheduler: Option<Duration>,
    /// This process's webhook worker; none: it runs elsewhere.
    pub webhooks: Option<WebhookSettings>,
    /// Whether webhook endpoints may be private, loopback or link-local addresses.
    pub allow_private_webhooks: bool,
    /// Mark the console's session cookie `Secure` (browsers reach the licensor over HTTPS).
    pub console_secure_cookies: bool,
    /// How check-ins are grouped into transactions.
    pub checkin_batch: BatchConfig,
}

/// How this process delivers the outbox.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// SMTP or `.eml` files.
    pub mailer: Arc<dyn Mailer>,
    /// Retries and leases.
    pub retry: RetryPolicy,
    /// How often to look for due messages queued elsewhere.
    pub poll: Duration,
}

impl Config {
    /// A configuration with the defaults of `serve`: listening on `listen`, signing with `key`,
    /// the system clock, the default trial rules and rate limits (60 a minute, bursts of 20),
    /// and no outbox worker.
    pub fn new(listen: SocketAddr, database: DatabaseUrl, signing_key: SigningKey) -> Self {
        Self {
            listen,
            database,
            signing_key,
            issuer: "licensor".to_owned(),
            mail_from: "Licensor <licenses@localhost>".to_owned(),
            product_name: "Coder".to_owned(),
            clock: Arc::new(SystemClock),
            trial_policy: TrialPolicy::default(),
            rate_limiter: RateLimiter::new(60, 20, 0),
            http: HttpLimits::default(),
            outbox: None,
            notifications: NotificationPolicy::default(),
            scheduler: None,
            webhooks: None,
            allow_private_webhooks: false,
            console_secure_cookies: false,
            checkin_batch: BatchConfig::default(),
        }
    }
}

/// The built application, listening but not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    licensor: Licensor,
    state: AppState,
    http: HttpLimits,
    worker: Option<(OutboxWorker, Duration)>,
    scheduler: Option<Duration>,
    webhooks: Option<WebhookWorker>,
    console_secure_cookies: bool,
}

impl Application {
    /// Connects the database (applying migrations), builds the service layer and the router,
    /// and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database)
            .await
            .with_context(|| format!("cannot open the database {}", config.database))?;
        let composer = Composer::new(&config.mail_from, &config.product_name, &config.issuer)?;
        let metrics = Arc::new(Metrics::default());
        let licensor = Licensor::new(Parts {
            store: store.clone(),
            signer: Signer::new(config.signing_key, config.issuer, Vec::new()),
            composer,
            clock: config.clock.clone(),
            trial_policy: config.trial_policy,
            metrics: metrics.clone(),
            outbox_wake: Arc::new(Notify::new()),
            notifications: config.notifications,
            allow_private_webhooks: config.allow_private_webhooks,
            webhook_wake: Arc::new(Notify::new()),
            checkin_batch: config.checkin_batch,
        });
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let webhooks = config
            .webhooks
            .map(|settings| WebhookWorker::new(licensor.clone(), owner.clone(), settings))
            .transpose()
            .context("cannot build the webhook client")?;
        let worker = config.outbox.map(|outbox| {
            let worker = OutboxWorker::new(store, outbox.mailer, config.clock, owner, outbox.retry)
                .with_metrics(metrics);
            (worker, outbox.poll)
        });
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let state = AppState {
            licensor: licensor.clone(),
            rate_limiter: Arc::new(config.rate_limiter),
        };
        Ok(Self {
            listener,
            address,
            licensor,
            state,
            http: config.http,
            worker,
            scheduler: config.scheduler,
            webhooks,
            console_secure_cookies: config.console_secure_cookies,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The service layer.
    pub fn licensor(&self) -> &Licensor {
        &self.licensor
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests, lets the outbox
    /// worker finish the message in hand (anything unsent stays queued), and closes the
    /// database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_worker, stopped) = tokio::sync::watch::channel(false);
        let worker = self.worker.map(|(worker, poll)| {
            let wake = self.licensor.outbox_wake().clone();
            tokio::spawn(worker.run(wake, stopped.clone(), poll))
        });
        let scheduler = self
            .scheduler
            .map(|poll| tokio::spawn(run_scheduler(self.licensor.clone(), stopped.clone(), poll)));
        let webhooks = self.webhooks.map(|worker| {
            let wake = self.licensor.webhook_wake().clone();
            tokio::spawn(worker.run(wake, stopped))
        });
        let console = console::router(self.licensor.clone(), self.console_secure_cookies);
        let app = api::router(self.state).merge(console);
        listener::serve(self.listener, app, self.http, shutdown).await;
        let _ = stop_worker.send(true);
        for task in [worker, scheduler, webhooks].into_iter().flatten() {
            let _ = task.await;
        }
        self.licensor.store().close().await;
        Ok(())
    }
}
