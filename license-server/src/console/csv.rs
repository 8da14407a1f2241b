//! CSV export of the console's lists (the `csv` crate writes it; RFC 4180 quoting), and
//! paging: a list's query reads the cursor, an export walks every page.

use super::views::ConsoleError;
use crate::service::Result;
use crate::store::{Cursor, MAX_PAGE_SIZE, Page, PageRequest};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::future::Future;

/// Rows exported at most.
pub const MAX_EXPORT: usize = 50_000;

/// Rows on a console page.
pub const PAGE: u32 = 50;

/// The page after `after` (an opaque cursor from the previous page's link).
pub fn page(after: Option<&str>) -> Result<PageRequest, ConsoleError> {
    let after = match after.filter(|a| !a.is_empty()) {
        Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
            ConsoleError::new(
                StatusCode::BAD_REQUEST,
                "The page link is damaged: go back to the first page.",
            )
        })?),
        None => None,
    };
    Ok(PageRequest { limit: PAGE, after })
}

/// Every item of a list, page after page (at most [`MAX_EXPORT`]).
pub async fn all<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest {
            limit: MAX_PAGE_SIZE,
            after,
        })
        .await?;
        items.extend(page.items);
        match page.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) if items.len() < MAX_EXPORT => after = Some(next),
            _ => return Ok(items),
        }
    }
}

/// A CSV download named `name.csv` with `header` and `rows`.
pub fn download(
    name: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Response, ConsoleError> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let fail = |e: ::csv::Error| ConsoleError::internal(format!("writing CSV: {e}"));
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ConsoleError::internal(format!("writing CSV: {e}")))?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
        .map_err(ConsoleError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Whether the query asked for CSV.
pub fn wants_csv(format: Option<&str>) -> bool {
    format == Some("csv")
}
