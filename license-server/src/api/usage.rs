//! `GET /licenses/{id}/usage` and `GET /accounts/{id}/usage`: the seat usage report (true-up).

use super::AppState;
use super::common::parse_id;
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiPath, ApiQuery};
use crate::service::usage::{LicenseUsage, UsageQuery, date_of};
use crate::store::accounts::AccountId;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use license_api::{AccountUsageView, DeploymentUsageView, LicenseUsageView, UsageDayView};
use serde::Deserialize;

/// The usage routes (admin).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/licenses/{id}/usage", get(license))
        .route("/accounts/{id}/usage", get(account))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    from: Option<String>,
    to: Option<String>,
}

impl From<Range> for UsageQuery {
    fn from(r: Range) -> Self {
        UsageQuery {
            from: r.from,
            to: r.to,
        }
    }
}

fn view(u: LicenseUsage) -> LicenseUsageView {
    LicenseUsageView {
        license_id: u.license_id.to_string(),
        account_id: u.account_id.to_string(),
        user_limit: u.user_limit,
        from: date_of(u.range.first),
        to: date_of(u.range.last),
        days_reported: u.days.len() as u64,
        peak_users: u.peak_users,
        peak_date: u.peak_day.map(date_of),
        p95_users: u.p95_users,
        days_over_limit: u.days_over_limit,
        deployments: u
            .deployments
            .into_iter()
            .map(|d| DeploymentUsageView {
                deployment_id: d.deployment_id,
                days_reported: d.days_reported,
                peak_users: d.peak_users,
                users_on_peak_day: d.users_on_peak_day,
            })
            .collect(),
        daily: u
            .days
            .into_iter()
            .map(|d| UsageDayView {
                date: date_of(d.day),
                users: d.users,
                deployments: d.deployments,
            })
            .collect(),
    }
}

async fn license(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
    ApiQuery(range): ApiQuery<Range>,
) -> ApiResult<Json<LicenseUsageView>> {
    let id = parse_id(&id, "license")?;
    let usage = state.licensor.license_usage(id, &range.into()).await?;
    Ok(Json(view(usage)))
}

async fn account(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
    ApiQuery(range): ApiQuery<Range>,
) -> ApiResult<Json<AccountUsageView>> {
    let id = AccountId(parse_id(&id, "account")?);
    let usage = state.licensor.account_usage(id, &range.into()).await?;
    Ok(Json(AccountUsageView {
        account_id: usage.account_id.to_string(),
        from: date_of(usage.range.first),
        to: date_of(usage.range.last),
        licenses: usage.licenses.into_iter().map(view).collect(),
    }))
}
