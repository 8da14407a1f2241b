//! Accounts: search by name, email or domain; create; an account's whole picture.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::csv::{self, wants_csv};
use super::forms::{FieldErrors, into_field, opt, uuid_in_path};
use super::views::{ConsoleError, day, render, when};
use crate::service::dashboard::AccountOverview;
use crate::service::requests::CreateAccountRequest;
use crate::service::roles::Action;
use crate::store::accounts::{Account, AccountId};
use crate::store::evaluations::Evaluation;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use license_core::Timestamp;
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

/// The account form's inputs, kept when they are shown again.
#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    account_type: String,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    q: String,
    accounts: Vec<Account>,
    next: Option<String>,
    form: AccountForm,
    errors: FieldErrors,
}

impl AccountsPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    fn created(&self, a: &Account) -> String {
        day(a.created_at.unix())
    }
}

/// `GET /console/accounts` query.
#[derive(Debug, Deserialize)]
pub struct AccountsQuery {
    q: Option<String>,
    after: Option<String>,
    format: Option<String>,
}

fn account_row(a: Account) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.name,
        a.email,
        a.account_type,
        a.license_sequence.to_string(),
        a.created_at.rfc3339(),
    ]
}

/// `GET /console/accounts`.
pub async fn list(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<AccountsQuery>,
) -> Page {
    let q = query.q.clone().unwrap_or_default();
    let fetch = |page: crate::store::PageRequest| {
        let licensor = state.licensor.clone();
        let q = q.clone();
        async move {
            if q.trim().is_empty() {
                licensor.accounts(&page).await
            } else {
                licensor.search_accounts(&q, &page).await
            }
        }
    };
    if wants_csv(query.format.as_deref()) {
        let accounts = csv::all(fetch).await?;
        return csv::download(
            "accounts",
            &[
                "id",
                "name",
                "email",
                "type",
                "license_sequence",
                "created_at",
            ],
            accounts.into_iter().map(account_row),
        );
    }
    let page = fetch(csv::page(query.after.as_deref())?).await?;
    render(
        StatusCode::OK,
        &AccountsPage {
            chrome: Chrome::new(&user, "accounts"),
            q,
            accounts: page.items,
            next: page.next_cursor,
            form: AccountForm::default(),
            errors: FieldErrors::new(),
        },
    )
}

/// `POST /console/accounts` (desk): the new account's page, or the form again with the error
/// next to its field.
pub async fn create(
    State(state): State<ConsoleState>,
    SignedForm { user, form }: SignedForm<AccountForm>,
) -> Page {
    user.require(Action::Desk)?;
    let request = CreateAccountRequest {
        name: form.name.clone(),
        email: form.email.trim().to_owned(),
        account_type: opt(&form.account_type),
    };
    let mut errors = FieldErrors::new();
    match state
        .licensor
        .create_account(&user.principal.name, &request)
        .await
    {
        Ok(account) => {
            return Ok(Redirect::to(&format!("/console/accounts/{}", account.id)).into_response());
        }
        Err(error) => into_field(error, &mut errors)?,
    }
    if let Some(message) = errors.remove("type") {
        errors.insert("account_type".to_owned(), message);
    }
    let page = state.licensor.accounts(&csv::page(None)?).await?;
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &AccountsPage {
            chrome: Chrome::new(&user, "accounts"),
            q: String::new(),
            accounts: page.items,
            next: page.next_cursor,
            form,
            errors,
        },
    )
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    o: AccountOverview,
    now: Timestamp,
}

impl AccountPage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
    fn evaluation_active(&self, e: &Evaluation) -> bool {
        e.is_active(self.now)
    }
    fn ended(&self, e: &Evaluation) -> String {
        e.ended_at.map_or_else(|| when(&e.ends_at), |at| when(&at))
    }
}

/// `GET /console/accounts/{id}`.
pub async fn show(State(state): State<ConsoleState>, user: Signed, Path(id): Path<String>) -> Page {
    let id = AccountId(uuid_in_path(&id, "account")?);
    let o = state.licensor.account_overview(id).await?;
    render(
        StatusCode::OK,
        &AccountPage {
            chrome: Chrome::new(&user, "accounts"),
            o,
            now: state.licensor.now(),
        },
    )
}
