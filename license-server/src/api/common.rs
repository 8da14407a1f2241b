//! Small pieces every route group uses: list paging, id parsing, time formatting.

use super::error::ApiError;
use crate::store::{Cursor, MAX_PAGE_SIZE, Page, PageRequest};
use license_core::Timestamp;
use serde::Deserialize;

/// `?limit=N&after=CURSOR`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    after: Option<String>,
}

impl ListQuery {
    /// The page asked for, or 422 naming the bad parameter.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        page_request(self.limit, self.after.as_deref())
    }
}

/// A page request from `limit` and `after`.
pub fn page_request(limit: Option<u32>, after: Option<&str>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid_query",
            format!("query parameter `limit`: use 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let after = after
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_query",
                    "query parameter `after`: not a cursor from a previous page",
                )
            })
        })
        .transpose()?;
    Ok(PageRequest { limit, after })
}

/// Parses a UUID path segment naming a `what`. Text that is not a UUID names nothing that
/// exists: 404 `invalid_id`, saying that ids are UUIDs (a 404 rather than a 400, because the
/// path names no resource, whatever a client filled it with).
pub fn parse_id(text: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "invalid_id",
            format!("no {what} has the id {text:?}: {what} ids are UUIDs"),
        )
    })
}

/// An optional RFC 3339 time from a query parameter.
pub fn query_time(name: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t).map_err(|e| {
            ApiError::invalid("invalid_query", format!("query parameter `{name}`: {e}"))
        })
    })
    .transpose()
}

/// A page of the store as the API shows it, each item turned into its view.
pub fn page_view<T, U>(page: Page<T>, view: impl FnMut(T) -> U) -> license_api::Page<U> {
    license_api::Page {
        items: page.items.into_iter().map(view).collect(),
        next_cursor: page.next_cursor,
    }
}
