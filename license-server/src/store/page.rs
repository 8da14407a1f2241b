//! Keyset paging: lists newest first, continued after a cursor.

use super::error::{StoreError, StoreResult};

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
///
/// Its text is `AT~ID`: `AT` the sort key (an integer of at most 18 digits, maybe negative)
/// and `ID` 0 to 128 characters of `A-Z a-z 0-9 . _ : -` (every id a list sorts by: UUIDs,
/// deployment ids). Every such text is a position, whether or not a row sits there: a list
/// continues after it. This is what `openapi.json` states as the `after` parameter's pattern,
/// so that a schema-valid cursor is never refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort time (Unix seconds) or position.
    pub at: i64,
    /// The id, for ties.
    pub id: String,
}

/// The most digits of a cursor's sort key (every 18-digit integer fits an `i64`).
const MAX_AT_DIGITS: usize = 18;
/// The longest id in a cursor: the longest deployment id.
const MAX_ID_LEN: usize = 128;

impl Cursor {
    /// The text clients pass back as `after`.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.at, self.id)
    }

    /// Reads a cursor: `AT~ID` as [`Cursor`] describes it, nothing else.
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('~')?;
        let digits = at.strip_prefix('-').unwrap_or(at);
        let at_ok = (1..=MAX_AT_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        let id_ok = id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if !(at_ok && id_ok) {
            return None;
        }
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
        for cursor in [
            Cursor {
                at: 1_790_000_000,
                id: "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e".into(),
            },
            Cursor {
                at: -5,
                id: String::new(),
            },
            Cursor {
                at: 999_999_999_999_999_999,
                id: "a.b_c:d-E".repeat(14).chars().take(128).collect(),
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        for garbage in [
            "",
            "0",
            "~id",
            "-~id",
            "1x~id",
            "1234567890123456789~id",
            "1~a|b",
            "1~a b",
            "1~\u{e9}",
            "1~a~b",
        ] {
            assert_eq!(Cursor::decode(garbage), None, "{garbage:?}");
        }
        assert_eq!(Cursor::decode(&format!("1~{}", "a".repeat(129))), None);
    }
}
