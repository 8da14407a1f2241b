//! What every page shares: the header (who is signed in, the CSRF token for the sign-out
//! form, which sections their role opens), rendering, the error page, and formatting.

use crate::service::{Conflict, Error};
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use license_core::Timestamp;

/// Renders `page` as HTML with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Result<Response, ConsoleError> {
    let html = page
        .render()
        .map_err(|e| ConsoleError::internal(format!("a console template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// `YYYY-MM-DD HH:MM` UTC.
pub fn when(at: &Timestamp) -> String {
    let text = at.rfc3339();
    text.get(..16).unwrap_or(&text).replace('T', " ")
}

/// [`when`] of an optional time, or a dash.
pub fn when_opt(at: &Option<Timestamp>) -> String {
    at.as_ref().map_or_else(|| "—".to_owned(), when)
}

/// `YYYY-MM-DD` of Unix seconds.
pub fn day(seconds: i64) -> String {
    Timestamp::from_unix(seconds)
        .map(|t| t.rfc3339().get(..10).unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// An error page.
#[derive(Debug, Clone)]
pub struct ConsoleError {
    /// The status.
    pub status: StatusCode,
    /// The sentence shown.
    pub message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl ConsoleError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A fault of ours: logged, and a sentence that says so.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "console error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The licensor failed; the error was logged.",
        )
    }

    /// The session layer failed.
    pub fn session(cause: impl std::fmt::Display) -> Self {
        Self::internal(format!("session: {cause}"))
    }

    /// A form without this session's CSRF token.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form is not from your current session (its CSRF token is missing or stale): reload the page and send it again.",
        )
    }
}

impl From<Error> for ConsoleError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(Conflict::NoSuchToken(_) | Conflict::NoSuchUser(_)) => {
                StatusCode::NOT_FOUND
            }
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TrialRefused(_) => StatusCode::CONFLICT,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(cause) => return ConsoleError::internal(cause),
        };
        ConsoleError::new(status, error.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{}: {}", self.status, self.message));
        let mut response = (self.status, Html(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The name typed, kept after a failure.
    pub name: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}
