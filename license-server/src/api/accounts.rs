//! `/api/v1/accounts`: the customers licenses belong to.

use super::AppState;
use super::common::{ListQuery, parse_id, rfc3339};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use crate::store::{Account, AccountId, AuditDraft, NewAccount, Page};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use license_core::Email;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}", get(show))
}

/// `POST /accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    name: String,
    email: String,
    #[serde(rename = "type", default)]
    account_type: Option<String>,
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
            created_at: rfc3339(a.created_at),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_field",
            "field `name`: give 1 to 200 characters",
        ));
    }
    let email = Email::parse(body.email.trim())
        .map_err(|e| ApiError::invalid("invalid_field", format!("field `email`: {e}")))?;
    let account_type = body.account_type.unwrap_or_else(|| "licensor".to_owned());
    if account_type.is_empty()
        || account_type.len() > 64
        || !account_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            "invalid_field",
            "field `type`: use 1 to 64 characters of a-z 0-9 _ -",
        ));
    }
    let now = state.clock.now();
    let account = NewAccount {
        id: AccountId(uuid::Uuid::new_v4()),
        name: name.to_owned(),
        email: email.to_string(),
        account_type,
        created_at: now,
    };
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "account.create".into(),
        target: String::new(),
        details: json!({ "name": account.name, "email": account.email, "type": account.account_type }),
    };
    let created = state.store.create_account(&account, &audit).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AccountView>>> {
    let page = state.store.list_accounts(&query.page()?).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<AccountView>> {
    let id = AccountId(parse_id(&id, "account")?);
    match state.store.account(id).await {
        Ok(account) => Ok(Json(account.into())),
        Err(crate::store::StoreError::NotFound) => {
            Err(ApiError::not_found(format!("account {id}")))
        }
        Err(other) => Err(other.into()),
    }
}
