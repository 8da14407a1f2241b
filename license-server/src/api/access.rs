//! `/api/v1/users` and `/api/v1/tokens`: console users and admin API tokens, for admins only
//! (the same rules as the console's access page; the service layer checks the role).

use super::AppState;
use super::error::ApiResult;
use super::extract::{AdminRole, ApiJson, ApiPath};
use crate::service::roles::Role;
use crate::service::users::User;
use crate::store::tokens::TokenRow;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The access routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}/disable", post(disable_user))
        .route("/users/{id}/end-sessions", post(end_sessions))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
}

/// A console user as the API shows it.
#[derive(Debug, Serialize)]
struct UserView {
    name: String,
    role: Role,
    created_at: String,
    disabled_at: Option<String>,
    /// Only in the answer to a creation without a password: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

fn user_view(user: User, password: Option<String>) -> UserView {
    UserView {
        name: user.name,
        role: user.role,
        created_at: user.created_at.rfc3339(),
        disabled_at: user.disabled_at.map(Timestamp::rfc3339),
        password,
    }
}

/// `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    name: String,
    role: Role,
    /// Omitted: one is generated and returned once.
    password: Option<String>,
}

async fn list_users(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.licensor.users(&caller).await?;
    Ok(Json(
        users.into_iter().map(|u| user_view(u, None)).collect(),
    ))
}

async fn create_user(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let created = state
        .licensor
        .create_user(&caller, &body.name, body.role, body.password.as_deref())
        .await?;
    let password = created.generated_password.map(|p| p.as_str().to_owned());
    Ok((StatusCode::CREATED, Json(user_view(created.user, password))))
}

async fn disable_user(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
    ApiPath(name): ApiPath,
) -> ApiResult<StatusCode> {
    state.licensor.disable_user(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many sessions ended.
#[derive(Debug, Serialize)]
struct Ended {
    ended: u64,
}

async fn end_sessions(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
    ApiPath(name): ApiPath,
) -> ApiResult<Json<Ended>> {
    let ended = state.licensor.end_sessions(&caller, &name).await?;
    Ok(Json(Ended { ended }))
}

/// An admin token as the API lists it (never the token or its hash).
#[derive(Debug, Serialize)]
struct TokenView {
    name: String,
    role: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        TokenView {
            name: t.name,
            role: t.role,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// `POST /tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: Role,
}

/// A token just created: shown once.
#[derive(Debug, Serialize)]
struct CreatedToken {
    name: String,
    role: Role,
    token: String,
}

async fn list_tokens(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
) -> ApiResult<Json<Vec<TokenView>>> {
    let tokens = state.licensor.tokens(&caller).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

async fn create_token(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let token = state
        .licensor
        .create_token(&caller, &body.name, body.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            name: body.name,
            role: body.role,
            token,
        }),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    AdminRole(caller): AdminRole,
    ApiPath(name): ApiPath,
) -> ApiResult<StatusCode> {
    state.licensor.revoke_token(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
