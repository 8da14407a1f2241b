//! `/api/v1/accounts`: the customers licenses belong to.

use super::AppState;
use super::common::{ListQuery, parse_id};
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use crate::service::requests::CreateAccount;
use crate::store::Page;
use crate::store::accounts::{Account, AccountId};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}", get(show))
}

/// An account as the API shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    id: AccountId,
    name: String,
    email: String,
    #[serde(rename = "type")]
    account_type: String,
    license_sequence: u64,
    created_at: String,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            name: a.name,
            email: a.email,
            account_type: a.account_type,
            license_sequence: a.license_sequence,
            created_at: a.created_at.rfc3339(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let created = state.licensor.create_account(&admin.name, &body).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AccountView>>> {
    let page = state.licensor.accounts(&query.page()?).await?;
    Ok(Json(page.map(Into::into)))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<AccountView>> {
    let id = AccountId(parse_id(&id, "account")?);
    Ok(Json(state.licensor.account(id).await?.into()))
}
