//! The API's one error type: a status, a stable `snake_case` code and a sentence.
//!
//! Every error leaves as `{"error": {"code": "…", "message": "…"}}`. Client mistakes are 4xx;
//! a database that cannot be reached is 503; only a fault of ours is 500, logged once here.
//! `From<service::Error>` is the one place a domain error becomes a status.

use crate::service::{Conflict, Error};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use license_api::{ErrorBody, ErrorDetail};

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request is readable but a field is wrong.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 404 for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} does not exist", what.into()),
        )
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 500, logged here with its cause; the client learns nothing of the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the error was logged",
        )
    }
}

impl From<Error> for ApiError {
    /// The one mapping of the service layer's errors to HTTP.
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(invalid) => ApiError::invalid(invalid.code, invalid.message),
            Error::NotFound(what) => ApiError::not_found(what),
            Error::Conflict(conflict) => {
                let status = match conflict {
                    // The same key with another request is the client's mistake, not a state.
                    Conflict::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
                    Conflict::NoSuchToken(_) | Conflict::NoSuchUser(_) => StatusCode::NOT_FOUND,
                    _ => StatusCode::CONFLICT,
                };
                ApiError::new(status, conflict.code(), conflict.to_string())
            }
            Error::TrialRefused(refusal) => {
                let status = if refusal.is_limit() {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                ApiError::new(status, refusal.code, refusal.message)
            }
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; retry later",
                )
            }
            Error::Forbidden(refused) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", refused.to_string())
            }
            Error::Internal(cause) => ApiError::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
