//! Extractors that turn every malformed request into an [`ApiError`] naming the problem.

use super::AppState;
use super::error::ApiError;
use crate::service::roles::{Action, Principal};
use crate::store::idempotency::IdempotencyKey;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body: `Content-Type: application/json` (else 415), within the size limit (else
/// 413), syntactically JSON (else 400), and of the right shape (else 422 naming the field).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json"
            && !(essence.starts_with("application/") && essence.ends_with("+json"))
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is too large",
                    )
                } else {
                    ApiError::bad_request(
                        "unreadable_body",
                        format!("the request body could not be read: {rejection}"),
                    )
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, naming the field when its shape is wrong. Every request body is an
/// object (openapi.json); serde would also read a struct from an array (`[]` as a request
/// with every field left out), so anything else is refused first.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::invalid(
            "invalid_field",
            "the request body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let place = if path == "." {
                    String::new()
                } else {
                    format!("field `{path}`: ")
                };
                ApiError::invalid("invalid_field", format!("{place}{inner}"))
            }
            _ => ApiError::bad_request(
                "malformed_json",
                format!("the request body is not valid JSON: {inner}"),
            ),
        }
    })?;
    deserializer.end().map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

/// Query parameters; a wrong one is 422 naming it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError::invalid(
                    "invalid_query",
                    format!("query parameter `{}`: {}", e.path(), e.inner()),
                )
            })
    }
}

/// An authenticated token of any role (`viewer` and up): what reading routes take. A handler
/// that takes one of these extractors cannot forget to check the token or its role.
#[derive(Debug, Clone)]
pub struct AdminAuth(pub Principal);

/// An authenticated token whose role may do the desk's work (`desk` or `admin`), else 403.
#[derive(Debug, Clone)]
pub struct DeskAuth(pub Principal);

/// An authenticated token with the `admin` role (revoking, users, tokens), else 403.
#[derive(Debug, Clone)]
pub struct AdminRole(pub Principal);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, Action::Read).await.map(AdminAuth)
    }
}

impl FromRequestParts<AppState> for DeskAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, Action::Desk).await.map(DeskAuth)
    }
}

impl FromRequestParts<AppState> for AdminRole {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, Action::ManageAccess)
            .await
            .map(AdminRole)
    }
}

/// The bearer token's principal when its role may do `action`: 401 without a good token, 403
/// when the role is short.
async fn authorize(parts: &Parts, state: &AppState, action: Action) -> Result<Principal, ApiError> {
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "this endpoint needs an admin token: send Authorization: Bearer TOKEN",
        )
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer TOKEN`",
            ));
        }
    };
    match state.licensor.authenticate(token).await? {
        Ok(principal) => {
            principal
                .require(action)
                .map_err(|refused| ApiError::from(crate::service::Error::from(refused)))?;
            Ok(principal)
        }
        Err(refused) => Err(ApiError::unauthorized(refused.to_string())),
    }
}

/// The optional `Idempotency-Key` header.
#[derive(Debug)]
pub struct Idempotency(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Idempotency(None));
        };
        value
            .to_str()
            .ok()
            .and_then(IdempotencyKey::parse)
            .map(|key| Idempotency(Some(key)))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                )
            })
    }
}

/// The one `{id}` segment of a path; an unreadable one (not UTF-8) is a JSON 400.
#[derive(Debug)]
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(ApiPath(id)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_id",
                format!("the id in the path cannot be read: {rejection}"),
            )),
        }
    }
}
