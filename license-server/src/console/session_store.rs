//! `tower-sessions`' store on the licensor's database: one row a session in
//! `console_sessions`, its data as JSON, with the signed-in person's name beside it so that
//! disabling a user or "end sessions" deletes their rows (the session is then void).

use crate::store::{Store, StoreError, sessions};
use async_trait::async_trait;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

/// The session key holding the signed-in person's name.
pub const USER_KEY: &str = "user";

/// Sessions in the licensor's database.
#[derive(Debug, Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    /// Sessions in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn backend(e: StoreError) -> Error {
    Error::Backend(e.to_string())
}

fn row_of(record: &Record) -> Result<sessions::SessionRow> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    let user_name = record
        .data
        .get(USER_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    Ok(sessions::SessionRow {
        id: record.id.to_string(),
        user_name,
        data,
        expires_at: record.expiry_date.unix_timestamp(),
    })
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Expired rows go when new ones come: the table stays the size of the live sessions.
        sessions::delete_expired(self.store.conn(), now())
            .await
            .map_err(backend)?;
        loop {
            let row = row_of(record)?;
            if sessions::insert(self.store.conn(), &row)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        sessions::upsert(self.store.conn(), &row_of(record)?)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let Some(row) = sessions::load(self.store.conn(), &id.to_string(), now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&row.data).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(row.expires_at)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sessions::delete(self.store.conn(), &id.to_string())
            .await
            .map_err(backend)
    }
}
