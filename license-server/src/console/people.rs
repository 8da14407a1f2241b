//! Access (admins): console users and admin API tokens with their roles. A new password or
//! token is shown once, on the page that answers the form.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::forms::{FieldErrors, into_field, opt};
use super::views::{ConsoleError, day, render, when, when_opt};
use crate::service::roles::{Action, Role};
use crate::service::users::User;
use crate::store::tokens::TokenRow;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    chrome: Chrome,
    users: Vec<User>,
    tokens: Vec<TokenRow>,
    /// A password or token to show once: (what, secret).
    secret: Option<(String, String)>,
    errors: FieldErrors,
    roles: Vec<&'static str>,
}

impl AccessPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    fn created(&self, u: &User) -> String {
        when(&u.created_at)
    }
    fn disabled(&self, u: &User) -> String {
        when_opt(&u.disabled_at)
    }
    fn d(&self, seconds: &i64) -> String {
        day(*seconds)
    }
    fn d_opt(&self, seconds: &Option<i64>) -> String {
        seconds.map_or_else(|| "—".to_owned(), day)
    }
}

async fn access_page(
    state: &ConsoleState,
    user: &Signed,
    status: StatusCode,
    secret: Option<(String, String)>,
    errors: FieldErrors,
) -> Page {
    let users = state.licensor.users(&user.principal).await?;
    let tokens = state.licensor.tokens(&user.principal).await?;
    render(
        status,
        &AccessPage {
            chrome: Chrome::new(user, "access"),
            users,
            tokens,
            secret,
            errors,
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        },
    )
}

/// `GET /console/access` (admin).
pub async fn page(State(state): State<ConsoleState>, user: Signed) -> Page {
    user.require(Action::ManageAccess)?;
    access_page(&state, &user, StatusCode::OK, None, FieldErrors::new()).await
}

/// The new-user and new-token forms.
#[derive(Debug, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

fn role_of(text: &str, errors: &mut FieldErrors) -> Option<Role> {
    text.parse::<Role>()
        .map_err(|e| {
            errors.insert("role".to_owned(), e.to_string());
        })
        .ok()
}

/// `POST /console/access/users` (admin).
pub async fn create_user(
    State(state): State<ConsoleState>,
    SignedForm { user, form }: SignedForm<NewForm>,
) -> Page {
    user.require(Action::ManageAccess)?;
    let mut errors = FieldErrors::new();
    if let Some(role) = role_of(&form.role, &mut errors) {
        let password = opt(&form.password);
        match state
            .licensor
            .create_user(&user.principal, form.name.trim(), role, password.as_deref())
            .await
        {
            Ok(created) => {
                let secret = created.generated_password.map(|p| {
                    (
                        format!("The password of {}", created.user.name),
                        p.as_str().to_owned(),
                    )
                });
                return access_page(&state, &user, StatusCode::CREATED, secret, errors).await;
            }
            Err(error) => into_field(error, &mut errors)?,
        }
    }
    access_page(
        &state,
        &user,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        errors,
    )
    .await
}

/// `POST /console/access/users/{name}/disable` (admin).
pub async fn disable_user(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Page {
    user.require(Action::ManageAccess)?;
    state.licensor.disable_user(&user.principal, &name).await?;
    Ok(Redirect::to("/console/access").into_response())
}

/// `POST /console/access/users/{name}/end-sessions` (admin).
pub async fn end_sessions(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Page {
    user.require(Action::ManageAccess)?;
    state.licensor.end_sessions(&user.principal, &name).await?;
    Ok(Redirect::to("/console/access").into_response())
}

/// `POST /console/access/tokens` (admin).
pub async fn create_token(
    State(state): State<ConsoleState>,
    SignedForm { user, form }: SignedForm<NewForm>,
) -> Page {
    user.require(Action::ManageAccess)?;
    let mut errors = FieldErrors::new();
    if let Some(role) = role_of(&form.role, &mut errors) {
        match state
            .licensor
            .create_token(&user.principal, form.name.trim(), role)
            .await
        {
            Ok(token) => {
                let secret = Some((format!("The token {}", form.name.trim()), token));
                return access_page(&state, &user, StatusCode::CREATED, secret, errors).await;
            }
            Err(error) => into_field(error, &mut errors)?,
        }
    }
    access_page(
        &state,
        &user,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        errors,
    )
    .await
}

/// `POST /console/access/tokens/{name}/revoke` (admin).
pub async fn revoke_token(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Page {
    user.require(Action::ManageAccess)?;
    state.licensor.revoke_token(&user.principal, &name).await?;
    Ok(Redirect::to("/console/access").into_response())
}
