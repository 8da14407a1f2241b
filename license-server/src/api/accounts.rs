//! `/api/v1/accounts`: the customers licenses belong to.

use super::AppState;
use super::common::{ListQuery, page_view, parse_id};
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery, DeskAuth};
use crate::service::requests::CreateAccountRequest;
use crate::store::accounts::{Account, AccountId};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use license_api::{AccountView, Page};

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}", get(show))
}

/// An account as the API shows it.
fn view(a: Account) -> AccountView {
    AccountView {
        id: a.id.0,
        name: a.name,
        email: a.email,
        account_type: a.account_type,
        license_sequence: a.license_sequence,
        created_at: a.created_at.rfc3339(),
    }
}

async fn create(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiJson(body): ApiJson<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let created = state.licensor.create_account(&admin.name, &body).await?;
    Ok((StatusCode::CREATED, Json(view(created))))
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AccountView>>> {
    let page = state.licensor.accounts(&query.page()?).await?;
    Ok(Json(page_view(page, view)))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<AccountView>> {
    let id = AccountId(parse_id(&id, "account")?);
    Ok(Json(view(state.licensor.account(id).await?)))
}
