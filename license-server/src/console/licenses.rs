//! Licenses: the filtered list, one license's claims, download, resend, revoke. Issuing and
//! reissuing are in `license_forms.rs`.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::csv::{self, wants_csv};
use super::forms::{FieldErrors, checked, into_field, uuid_in_path};
use super::views::{ConsoleError, render, when, when_opt};
use crate::service::dashboard::EXPIRING_DAYS;
use crate::service::roles::Action;
use crate::store::accounts::AccountId;
use crate::store::licenses::{LicenseFilter, LicenseRecord, LicenseStatus};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use license_core::Timestamp;
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

/// The list's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct LicenseQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    account_id: String,
    expiring: Option<String>,
    in_grace: Option<String>,
    over_seats: Option<String>,
    after: Option<String>,
    format: Option<String>,
}

impl LicenseQuery {
    fn filter(&self, now: Timestamp) -> Result<LicenseFilter, ConsoleError> {
        let bad = |what: &str| ConsoleError::new(StatusCode::BAD_REQUEST, what.to_owned());
        let status = match self.status.as_str() {
            "" => None,
            "active" => Some(LicenseStatus::Active),
            "revoked" => Some(LicenseStatus::Revoked),
            "superseded" => Some(LicenseStatus::Superseded),
            _ => return Err(bad("status must be active, revoked or superseded")),
        };
        let (trial, evaluation) = match self.kind.as_str() {
            "" => (None, None),
            "trial" => (Some(true), None),
            "evaluation" => (None, Some(true)),
            "paid" => (Some(false), Some(false)),
            _ => return Err(bad("kind must be trial, evaluation or paid")),
        };
        let account_id = match self.account_id.trim() {
            "" => None,
            text => Some(AccountId(
                uuid::Uuid::parse_str(text).map_err(|_| bad("account_id must be a UUID"))?,
            )),
        };
        Ok(LicenseFilter {
            account_id,
            email: super::forms::opt(&self.email),
            status,
            trial,
            evaluation,
            expiring: checked(&self.expiring)
                .then(|| (now, now.add_seconds(EXPIRING_DAYS * 24 * 3600))),
            in_grace_at: checked(&self.in_grace).then_some(now),
            over_seats: checked(&self.over_seats),
        })
    }

    /// The query string of these filters (for the next page and the export links).
    fn link(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("email", self.email.as_str()),
            ("account_id", self.account_id.as_str()),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        for (key, value) in [
            ("expiring", &self.expiring),
            ("in_grace", &self.in_grace),
            ("over_seats", &self.over_seats),
        ] {
            if checked(value) {
                query.append_pair(key, "on");
            }
        }
        query.finish()
    }
}

#[derive(Template)]
#[template(path = "licenses.html")]
struct LicensesPage {
    chrome: Chrome,
    q: LicenseQuery,
    link: String,
    licenses: Vec<LicenseRecord>,
    next: Option<String>,
}

impl LicensesPage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
    fn on(&self, value: &Option<String>) -> bool {
        checked(value)
    }
}

/// The CSV columns of a license (the API list's fields; never the token).
const LICENSE_COLUMNS: &[&str] = &[
    "id",
    "account_id",
    "email",
    "status",
    "trial",
    "evaluation",
    "feature_set",
    "user_limit",
    "deployment_ids",
    "sequence",
    "starts_at",
    "expires_at",
    "grace_ends_at",
    "issued_at",
    "issued_by",
    "revoked_at",
    "revoke_reason",
];

fn license_row(l: LicenseRecord) -> Vec<String> {
    vec![
        l.id.to_string(),
        l.account_id.to_string(),
        l.email,
        l.status.as_str().to_owned(),
        l.trial.to_string(),
        l.evaluation.to_string(),
        serde_json::to_value(l.feature_set)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        l.user_limit.map(|n| n.to_string()).unwrap_or_default(),
        l.deployment_ids.join(" "),
        l.sequence.to_string(),
        l.starts_at.rfc3339(),
        l.expires_at.rfc3339(),
        l.grace_ends_at.rfc3339(),
        l.issued_at.rfc3339(),
        l.issued_by,
        l.revoked_at.map(Timestamp::rfc3339).unwrap_or_default(),
        l.revoke_reason.unwrap_or_default(),
    ]
}

/// `GET /console/licenses`.
pub async fn list(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<LicenseQuery>,
) -> Page {
    let filter = query.filter(state.licensor.now())?;
    if wants_csv(query.format.as_deref()) {
        let licenses = csv::all(|page| {
            let licensor = state.licensor.clone();
            let filter = filter.clone();
            async move { licensor.licenses(&filter, &page).await }
        })
        .await?;
        return csv::download(
            "licenses",
            LICENSE_COLUMNS,
            licenses.into_iter().map(license_row),
        );
    }
    let page = state
        .licensor
        .licenses(&filter, &csv::page(query.after.as_deref())?)
        .await?;
    render(
        StatusCode::OK,
        &LicensesPage {
            chrome: Chrome::new(&user, "licenses"),
            link: query.link(),
            q: query,
            licenses: page.items,
            next: page.next_cursor,
        },
    )
}

#[derive(Template)]
#[template(path = "license.html")]
pub(super) struct LicensePage {
    pub chrome: Chrome,
    pub l: LicenseRecord,
    pub notice: Option<String>,
    pub reason: String,
    pub errors: FieldErrors,
}

impl LicensePage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
    fn t_opt(&self, at: &Option<Timestamp>) -> String {
        when_opt(at)
    }
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    fn active(&self) -> bool {
        self.l.status == LicenseStatus::Active
    }
    fn feature_set(&self) -> String {
        serde_json::to_value(self.l.feature_set)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_owned())
    }
}

/// `?notice=` after an action.
#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<String>,
}

fn notice_text(done: Option<&str>) -> Option<String> {
    match done? {
        "issued" => Some("License issued; the email to the licensee is queued.".to_owned()),
        "reissued" => Some("License reissued; the old one is superseded.".to_owned()),
        "resent" => Some("The license email is queued again.".to_owned()),
        "revoked" => Some("License revoked; it is on the revocation list.".to_owned()),
        _ => None,
    }
}

/// `GET /console/licenses/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    user: Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Page {
    let id = uuid_in_path(&id, "license")?;
    let l = state.licensor.license(id).await?;
    render(
        StatusCode::OK,
        &LicensePage {
            chrome: Chrome::new(&user, "licenses"),
            l,
            notice: notice_text(notice.done.as_deref()),
            reason: String::new(),
            errors: FieldErrors::new(),
        },
    )
}

/// `GET /console/licenses/{id}/license.jwt` (desk and admin: viewers do not read tokens).
pub async fn download(
    State(state): State<ConsoleState>,
    user: Signed,
    Path(id): Path<String>,
) -> Page {
    user.require(Action::ReadToken)?;
    let id = uuid_in_path(&id, "license")?;
    let license = state.licensor.license(id).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwt"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"license.jwt\""),
            ),
        ],
        license.token,
    )
        .into_response())
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
    confirm: Option<String>,
}

/// `POST /console/licenses/{id}/revoke` (admin): needs a reason and the confirmation box.
pub async fn revoke(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<RevokeForm>,
) -> Page {
    user.require(Action::Revoke)?;
    let id = uuid_in_path(&id, "license")?;
    let mut errors = FieldErrors::new();
    if !checked(&form.confirm) {
        errors.insert(
            "confirm".to_owned(),
            "tick the box to confirm: a revoked license cannot be restored".to_owned(),
        );
    } else {
        match state
            .licensor
            .revoke(&user.principal.name, id, &form.reason)
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/console/licenses/{id}?done=revoked")).into_response(),
                );
            }
            Err(error) => into_field(error, &mut errors)?,
        }
    }
    let l = state.licensor.license(id).await?;
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &LicensePage {
            chrome: Chrome::new(&user, "licenses"),
            l,
            notice: None,
            reason: form.reason,
            errors,
        },
    )
}

/// `POST /console/licenses/{id}/resend` (desk).
pub async fn resend(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Page {
    user.require(Action::Desk)?;
    let id = uuid_in_path(&id, "license")?;
    state.licensor.resend(&user.principal.name, id).await?;
    Ok(Redirect::to(&format!("/console/licenses/{id}?done=resent")).into_response())
}
