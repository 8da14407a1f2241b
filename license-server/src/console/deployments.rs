//! Deployments: last check-in, version, active users against seats (and a chart of them over
//! time), stale and overuse flags.

use super::ConsoleState;
use super::auth::Signed;
use super::chart;
use super::chrome::Chrome;
use super::csv::{self, wants_csv};
use super::forms::checked;
use super::views::{ConsoleError, render, when};
use crate::service::deployments::{DeploymentDetail, DeploymentQuery};
use crate::store::MAX_PAGE_SIZE;
use crate::store::deployments::{CheckinEntry, Deployment};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use license_core::Timestamp;
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

/// The list's filters.
#[derive(Debug, Default, Deserialize)]
pub struct DeploymentsQuery {
    stale: Option<String>,
    over_seats: Option<String>,
    #[serde(default)]
    kind: String,
    after: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "deployments.html")]
struct DeploymentsPage {
    chrome: Chrome,
    q: DeploymentsQuery,
    deployments: Vec<Deployment>,
    next: Option<String>,
    link: String,
}

impl DeploymentsPage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
    fn on(&self, value: &Option<String>) -> bool {
        checked(value)
    }
}

/// `GET /console/deployments`.
pub async fn list(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(q): Query<DeploymentsQuery>,
) -> Page {
    let query = DeploymentQuery {
        stale: checked(&q.stale),
        over_seat_limit: checked(&q.over_seats).then_some(true),
        trial: match q.kind.as_str() {
            "trial" => Some(true),
            "paid" => Some(false),
            _ => None,
        },
        account_id: None,
    };
    if wants_csv(q.format.as_deref()) {
        let all = csv::all(|page| {
            let licensor = state.licensor.clone();
            let query = query.clone();
            async move { licensor.deployments(&query, &page).await }
        })
        .await?;
        return csv::download(
            "deployments",
            &[
                "id",
                "first_seen_at",
                "last_seen_at",
                "product_version",
                "active_users",
                "user_limit",
                "over_seat_limit",
                "trial",
                "account_id",
                "checkins",
            ],
            all.into_iter().map(|d| {
                vec![
                    d.id,
                    d.first_seen_at.rfc3339(),
                    d.last_seen_at.rfc3339(),
                    d.product_version,
                    d.active_users.to_string(),
                    d.user_limit.map(|n| n.to_string()).unwrap_or_default(),
                    d.over_seat_limit.to_string(),
                    d.trial.to_string(),
                    d.account_id.map(|a| a.to_string()).unwrap_or_default(),
                    d.checkins.to_string(),
                ]
            }),
        );
    }
    let page = state
        .licensor
        .deployments(&query, &csv::page(q.after.as_deref())?)
        .await?;
    let mut link = form_urlencoded::Serializer::new(String::new());
    if checked(&q.stale) {
        link.append_pair("stale", "on");
    }
    if checked(&q.over_seats) {
        link.append_pair("over_seats", "on");
    }
    if !q.kind.is_empty() {
        link.append_pair("kind", &q.kind);
    }
    render(
        StatusCode::OK,
        &DeploymentsPage {
            chrome: Chrome::new(&user, "deployments"),
            link: link.finish(),
            q,
            deployments: page.items,
            next: page.next_cursor,
        },
    )
}

#[derive(Template)]
#[template(path = "deployment.html")]
struct DeploymentPage {
    chrome: Chrome,
    d: DeploymentDetail,
    chart: String,
    points: usize,
    checkins: Vec<CheckinEntry>,
}

impl DeploymentPage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
}

/// `GET /console/deployments/{id}`: with the chart of its latest check-ins.
pub async fn show(State(state): State<ConsoleState>, user: Signed, Path(id): Path<String>) -> Page {
    let d = state.licensor.deployment(&id).await?;
    let history = state
        .licensor
        .checkins(
            &id,
            &crate::store::PageRequest {
                limit: MAX_PAGE_SIZE,
                after: None,
            },
        )
        .await?
        .items;
    let chart = chart::users_over_time(&history, d.deployment.user_limit)
        .map_err(ConsoleError::internal)?;
    let checkins = d.recent_checkins.items.clone();
    render(
        StatusCode::OK,
        &DeploymentPage {
            chrome: Chrome::new(&user, "deployments"),
            points: history.len(),
            d,
            chart,
            checkins,
        },
    )
}
