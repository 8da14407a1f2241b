//! Storage: Postgres in production, an embedded SQLite file by default. sqlx lives here only.
//!
//! One area a module (`accounts`, `licenses`, `trials`, `evaluations`, `deployments`,
//! `outbox`, `tokens`, `audit`, `idempotency`, `notifications`, `webhooks`,
//! `webhook_deliveries`, `users`, `sessions`, `overview`, `usage`), each with its statements, its row types and
//! plain functions that run on a [`Conn`]: the pool for one-statement reads, or a [`Tx`] the
//! service layer begins, fills and commits itself. The two backends differ only in
//! connection settings and migrations (`postgres.rs`, `sqlite.rs`) and in the few statements
//! that carry a SQLite text of their own (`db.rs`).

pub mod accounts;
pub mod audit;
mod db;
pub mod deployments;
mod error;
pub mod evaluations;
pub mod idempotency;
pub mod licenses;
mod migrate;
pub mod notifications;
pub mod outbox;
pub mod overview;
mod page;
mod pool;
mod postgres;
mod rows;
pub mod sessions;
mod sqlite;
pub mod tokens;
pub mod trials;
mod url;
pub mod usage;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

pub use db::{Backend, Conn, Statement, Tx};
pub use error::{Conflict, StoreError, StoreResult, UniqueRule};
pub use page::{Cursor, MAX_PAGE_SIZE, Page, PageRequest};
pub use pool::Store;
pub use url::DatabaseUrl;
