//! Keyset paging: lists newest first, continued after an opaque cursor.

use super::error::{StoreError, StoreResult};
use license_core::base64url;

/// The most items a page may hold.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Which page to list: at most `limit` items after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Items on the page, 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// Continue after this cursor (from the previous page).
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 50,
            after: None,
        }
    }
}

impl PageRequest {
    /// The `LIMIT` to fetch: one more than the page, to know whether another follows.
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE_SIZE)) + 1
    }

    /// The cursor's sort key, or none for the first page.
    pub(crate) fn after_at(&self) -> Option<i64> {
        self.after.as_ref().map(|c| c.at)
    }

    /// The cursor's tie-breaking id, or none for the first page.
    pub(crate) fn after_id(&self) -> Option<String> {
        self.after.as_ref().map(|c| c.id.clone())
    }
}

/// A position in a list ordered newest first: the sort time and the id that breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort time (Unix seconds) or position.
    pub at: i64,
    /// The id, for ties.
    pub id: String,
}

impl Cursor {
    /// The opaque text clients pass back.
    pub fn encode(&self) -> String {
        base64url::encode(format!("{}|{}", self.at, self.id).as_bytes())
    }

    /// Reads a cursor produced by [`Cursor::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = base64url::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, id) = text.split_once('|')?;
        Some(Self {
            at: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with every item converted (to an API view, say).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// Turns rows fetched with [`PageRequest::fetch_limit`] into a page and its next cursor.
    pub(crate) fn from_rows<R>(
        rows: Vec<R>,
        page: &PageRequest,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> StoreResult<Self>
    where
        T: TryFrom<R, Error = StoreError>,
    {
        let limit = page.limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let mut items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<StoreResult<Vec<T>>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|last| cursor_of(last).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            at: 1_790_000_000,
            id: "a|b".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("!!"), None);
        assert_eq!(Cursor::decode(&base64url::encode(b"x|y")), None);
    }
}
