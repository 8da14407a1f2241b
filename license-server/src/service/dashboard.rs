//! What the console's dashboard and account page show: figures and an account's whole
//! picture, read through the store. Reads only; any role may see them.

use super::Licensor;
use super::deployments::DeploymentQuery;
use super::error::{OrNotFound, Result};
use crate::store::accounts::{self, Account, AccountId};
use crate::store::audit::{self, AuditEntry};
use crate::store::deployments::Deployment;
use crate::store::evaluations::{Evaluation, EvaluationSubject};
use crate::store::licenses::{LicenseFilter, LicenseRecord};
use crate::store::outbox::OutboxState;
use crate::store::overview::{self, FunnelWeek, LicenseCounts, OverSeats, RefusalCount, WEEK};
use crate::store::trials::{TrialFilter, TrialRecord};
use crate::store::{Page, PageRequest};

/// Days ahead that count as "expiring".
pub const EXPIRING_DAYS: i64 = 30;
/// Weeks of the trial funnel shown.
pub const FUNNEL_WEEKS: i64 = 12;

/// The dashboard's figures.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Licenses by standing now.
    pub licenses: LicenseCounts,
    /// The trial funnel, newest week first.
    pub funnel: Vec<FunnelWeek>,
    /// Refusals by rule and week.
    pub refusals: Vec<RefusalCount>,
    /// Deployments over their seats.
    pub over_seats: Vec<OverSeats>,
    /// Mail not delivered yet (pending or sending).
    pub mail_waiting: u64,
    /// Mail given up on (dead).
    pub mail_dead: u64,
}

/// Everything about one account.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    /// The account.
    pub account: Account,
    /// Its licenses, newest first.
    pub licenses: Vec<LicenseRecord>,
    /// Its deployments, latest check-in first.
    pub deployments: Vec<Deployment>,
    /// Trials asked for from its email domain.
    pub trials: Vec<TrialRecord>,
    /// Evaluation enrollments of the account or its domain.
    pub evaluations: Vec<Evaluation>,
    /// The audit entries about it and its licenses.
    pub audit: Vec<AuditEntry>,
}

fn first(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

impl Licensor {
    /// The dashboard's figures now.
    pub async fn dashboard(&self) -> Result<Dashboard> {
        let now = self.now().unix();
        let conn = self.store().conn();
        let licenses = overview::license_counts(conn, now, now + EXPIRING_DAYS * 24 * 3600).await?;
        let since = (now / WEEK - FUNNEL_WEEKS + 1) * WEEK;
        let funnel = overview::funnel(self.store().conn(), since).await?;
        let refusals = overview::refusals(self.store().conn(), since).await?;
        let over_seats = overview::over_seats(self.store().conn(), 20).await?;
        let counts = self.outbox_counts().await?;
        let count = |wanted: &[OutboxState]| -> u64 {
            counts
                .iter()
                .filter(|(state, _)| wanted.contains(state))
                .map(|(_, n)| *n)
                .sum()
        };
        Ok(Dashboard {
            licenses,
            funnel,
            refusals,
            over_seats,
            mail_waiting: count(&[OutboxState::Pending, OutboxState::Sending]),
            mail_dead: count(&[OutboxState::Dead]),
        })
    }

    /// Accounts whose name or email contains `text` (a domain finds its emails).
    pub async fn search_accounts(&self, text: &str, page: &PageRequest) -> Result<Page<Account>> {
        Ok(accounts::search(self.store().conn(), text, page).await?)
    }

    /// An account with its licenses, deployments, trials, evaluations and audit trail.
    pub async fn account_overview(&self, id: AccountId) -> Result<AccountOverview> {
        let account = accounts::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("account {id}"))?;
        let filter = LicenseFilter {
            account_id: Some(id),
            ..LicenseFilter::default()
        };
        let licenses = self.licenses(&filter, &first(200)).await?.items;
        let query = DeploymentQuery {
            account_id: Some(id),
            ..DeploymentQuery::default()
        };
        let deployments = self.deployments(&query, &first(100)).await?.items;
        let domain = account
            .email
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_lowercase());
        let trials = match &domain {
            Some(domain) => {
                let filter = TrialFilter {
                    email_domain: Some(domain.clone()),
                    ..TrialFilter::default()
                };
                self.trials(&filter, &first(100)).await?.items
            }
            None => Vec::new(),
        };
        let evaluations = self
            .evaluations(false, &first(500))
            .await?
            .items
            .into_iter()
            .filter(|e| match &e.subject {
                EvaluationSubject::Account(account) => *account == id,
                EvaluationSubject::EmailDomain(d) => Some(d) == domain.as_ref(),
                EvaluationSubject::Email(email) => {
                    Some(email.rsplit('@').next().unwrap_or_default()) == domain.as_deref()
                }
            })
            .collect();
        let mut targets: Vec<String> = licenses.iter().map(|l| l.id.to_string()).collect();
        targets.push(id.to_string());
        let audit = audit::for_targets(self.store().conn(), &targets, 100).await?;
        Ok(AccountOverview {
            account,
            licenses,
            deployments,
            trials,
            evaluations,
            audit,
        })
    }
}
