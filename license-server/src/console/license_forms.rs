//! Issuing and reissuing from the console: the form's text becomes the API's request, the
//! service validates it exactly as for the API, and a wrong value is shown next to its field
//! with everything typed kept. A hidden idempotency key makes a double submission issue once.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::forms::{FieldErrors, checked, into_field, list, number, opt, time, uuid_in_path};
use super::views::{ConsoleError, render};
use crate::service::requests::{IssueRequest, ReissueRequest};
use crate::service::roles::Action;
use crate::store::idempotency::IdempotencyKey;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use license_core::FeatureSet;
use serde::Deserialize;
use std::collections::BTreeMap;

type Page = Result<Response, ConsoleError>;

/// The license form's inputs, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LicenseForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    feature_set: String,
    #[serde(default)]
    features: String,
    #[serde(default)]
    user_limit: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    grace_days: String,
    #[serde(default)]
    deployment_ids: String,
    trial: Option<String>,
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Template)]
#[template(path = "license_form.html")]
struct LicenseFormPage {
    chrome: Chrome,
    /// `None` to issue; the license to replace otherwise.
    reissue: Option<String>,
    f: LicenseForm,
    errors: FieldErrors,
}

impl LicenseFormPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    fn trial(&self) -> bool {
        checked(&self.f.trial)
    }
    fn action(&self) -> String {
        match &self.reissue {
            Some(id) => format!("/console/licenses/{id}/reissue"),
            None => "/console/licenses".to_owned(),
        }
    }
}

fn fresh_key() -> Result<String, ConsoleError> {
    Ok(uuid::Uuid::new_v4().to_string())
}

fn feature_set(text: &str, errors: &mut FieldErrors) -> Option<FeatureSet> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|_| {
            errors.insert(
                "feature_set".to_owned(),
                "choose none, enterprise or premium".to_owned(),
            );
        })
        .ok()
}

/// `name=value` pairs, one a line or comma-separated.
fn features(text: &str, errors: &mut FieldErrors) -> BTreeMap<String, i64> {
    let mut map = BTreeMap::new();
    for pair in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim().parse::<i64>()))
        {
            Some((name, Ok(value))) if !name.is_empty() => {
                map.insert(name.to_owned(), value);
            }
            _ => {
                errors.insert(
                    "features".to_owned(),
                    format!("{pair:?} is not name=number"),
                );
            }
        }
    }
    map
}

/// `?account_id=` of the issue form.
#[derive(Debug, Deserialize)]
pub struct NewQuery {
    account_id: Option<String>,
}

/// `GET /console/licenses/new` (desk).
pub async fn issue_form(user: Signed, Query(query): Query<NewQuery>) -> Page {
    user.require(Action::Desk)?;
    let f = LicenseForm {
        account_id: query.account_id.unwrap_or_default(),
        feature_set: "enterprise".to_owned(),
        grace_days: "14".to_owned(),
        idempotency_key: fresh_key()?,
        ..LicenseForm::default()
    };
    render(
        StatusCode::OK,
        &LicenseFormPage {
            chrome: Chrome::new(&user, "licenses"),
            reissue: None,
            f,
            errors: FieldErrors::new(),
        },
    )
}

fn again(user: &Signed, reissue: Option<String>, mut f: LicenseForm, errors: FieldErrors) -> Page {
    f.idempotency_key = fresh_key()?;
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &LicenseFormPage {
            chrome: Chrome::new(user, "licenses"),
            reissue,
            f,
            errors,
        },
    )
}

/// `POST /console/licenses` (desk).
pub async fn issue(
    State(state): State<ConsoleState>,
    SignedForm { user, form }: SignedForm<LicenseForm>,
) -> Page {
    user.require(Action::Desk)?;
    let mut errors = FieldErrors::new();
    let account_id = uuid::Uuid::parse_str(form.account_id.trim())
        .map_err(|_| {
            errors.insert(
                "account_id".to_owned(),
                "paste the account's id (from its page)".to_owned(),
            );
        })
        .ok();
    let set = feature_set(&form.feature_set, &mut errors);
    let feature_map = features(&form.features, &mut errors);
    let user_limit = number::<i64>("user_limit", &form.user_limit, &mut errors);
    let grace_days = number::<u32>("grace_days", &form.grace_days, &mut errors);
    let (Some(account_id), Some(set), Some(user_limit), Some(grace_days), true) =
        (account_id, set, user_limit, grace_days, errors.is_empty())
    else {
        return again(&user, None, form, errors);
    };
    let request = IssueRequest {
        account_id,
        email: form.email.trim().to_owned(),
        feature_set: set,
        features: feature_map,
        user_limit,
        starts_at: opt(&form.starts_at).map(|t| time(&t)),
        expires_at: time(&form.expires_at),
        grace_days,
        deployment_ids: list(&form.deployment_ids),
        trial: checked(&form.trial),
    };
    let key = IdempotencyKey::parse(&form.idempotency_key);
    match state
        .licensor
        .issue(&user.principal.name, key.as_ref(), &request)
        .await
    {
        Ok(issued) => Ok(Redirect::to(&format!(
            "/console/licenses/{}?done=issued",
            issued.license.id
        ))
        .into_response()),
        Err(error) => {
            into_field(error, &mut errors)?;
            again(&user, None, form, errors)
        }
    }
}

/// `GET /console/licenses/{id}/reissue` (desk): empty fields keep the old values.
pub async fn reissue_form(
    State(state): State<ConsoleState>,
    user: Signed,
    Path(id): Path<String>,
) -> Page {
    user.require(Action::Desk)?;
    let id = uuid_in_path(&id, "license")?;
    let license = state.licensor.license(id).await?;
    let f = LicenseForm {
        account_id: license.account_id.to_string(),
        idempotency_key: fresh_key()?,
        ..LicenseForm::default()
    };
    render(
        StatusCode::OK,
        &LicenseFormPage {
            chrome: Chrome::new(&user, "licenses"),
            reissue: Some(id.to_string()),
            f,
            errors: FieldErrors::new(),
        },
    )
}

/// `POST /console/licenses/{id}/reissue` (desk).
pub async fn reissue(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<LicenseForm>,
) -> Page {
    user.require(Action::Desk)?;
    let id = uuid_in_path(&id, "license")?;
    let mut errors = FieldErrors::new();
    let set = match opt(&form.feature_set) {
        Some(text) => feature_set(&text, &mut errors),
        None => None,
    };
    let feature_map = opt(&form.features).map(|text| features(&text, &mut errors));
    let user_limit =
        opt(&form.user_limit).and_then(|text| number::<i64>("user_limit", &text, &mut errors));
    let grace_days =
        opt(&form.grace_days).and_then(|text| number::<u32>("grace_days", &text, &mut errors));
    if !errors.is_empty() {
        return again(&user, Some(id.to_string()), form, errors);
    }
    let request = ReissueRequest {
        email: opt(&form.email),
        feature_set: set,
        features: feature_map,
        user_limit,
        starts_at: opt(&form.starts_at).map(|t| time(&t)),
        expires_at: opt(&form.expires_at).map(|t| time(&t)),
        grace_days,
        deployment_ids: opt(&form.deployment_ids).map(|text| list(&text)),
    };
    let key = IdempotencyKey::parse(&form.idempotency_key);
    match state
        .licensor
        .reissue(&user.principal.name, key.as_ref(), id, &request)
        .await
    {
        Ok(issued) => Ok(Redirect::to(&format!(
            "/console/licenses/{}?done=reissued",
            issued.license.id
        ))
        .into_response()),
        Err(error) => {
            into_field(error, &mut errors)?;
            again(&user, Some(id.to_string()), form, errors)
        }
    }
}
