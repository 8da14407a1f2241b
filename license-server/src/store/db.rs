//! The dialect layer: the one place that knows there are two databases.
//!
//! Every statement of the store is a named [`Statement`], written once in the SQL Postgres and
//! SQLite share (`$N` placeholders, `RETURNING`, `ON CONFLICT`, integer Unix seconds, UUIDs
//! and JSON as text); the few that differ carry a SQLite variant. A statement runs on a
//! [`Conn`]: a pool (one-statement reads) or the connection of a [`Tx`]. Values are bound as
//! [`Value`]s and rows decode into any [`Record`] (a `sqlx::FromRow` for both backends), so
//! the area modules are ordinary, backend-free code; the generic sqlx calls live here once.

use super::error::{StoreError, StoreResult};
use super::sqlite::SqlitePools;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{
    Arguments as _, Database, Encode, Executor, FromRow, IntoArguments, Postgres, Sqlite, Type,
};
use std::borrow::Cow;
use std::fmt;

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Postgres: production, shared by several replicas.
    Postgres,
    /// An embedded SQLite file: the default, one process.
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// A named SQL statement of the store.
#[derive(Debug)]
pub struct Statement {
    /// `area.what`, named in every error the statement causes.
    pub name: &'static str,
    /// The SQL, for both backends unless `sqlite` is set.
    pub sql: &'static str,
    /// SQLite's own text, where the two dialects differ.
    pub sqlite: Option<&'static str>,
}

impl Statement {
    /// A statement both backends run as written.
    pub const fn new(name: &'static str, sql: &'static str) -> Self {
        Self {
            name,
            sql,
            sqlite: None,
        }
    }

    /// A statement with a text of its own for each backend.
    pub const fn per_backend(
        name: &'static str,
        postgres: &'static str,
        sqlite: &'static str,
    ) -> Self {
        Self {
            name,
            sql: postgres,
            sqlite: Some(sqlite),
        }
    }

    /// Whether the statement may write: anything but a plain `SELECT`. Outside a transaction
    /// SQLite runs a writing statement on its one writer connection and the others on the
    /// read-only readers (`store/sqlite.rs`); a `SELECT` that wrote could not run there.
    pub fn writes(&self) -> bool {
        let text = self.text(Backend::Sqlite).trim_start();
        let keyword = text
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        !keyword.eq_ignore_ascii_case("SELECT")
    }

    /// The text `backend` runs.
    pub fn text(&self, backend: Backend) -> &'static str {
        match (backend, self.sqlite) {
            (Backend::Sqlite, Some(sqlite)) => sqlite,
            _ => self.sql,
        }
    }

    /// How many parameters the text takes: its highest `$N`.
    pub fn parameters(&self, backend: Backend) -> usize {
        let text = self.text(backend).as_bytes();
        let mut highest = 0;
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'$' {
                let digits = text[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = std::str::from_utf8(&text[i + 1..i + 1 + digits])
                    .ok()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                highest = highest.max(number);
                i += digits;
            }
            i += 1;
        }
        highest
    }

    /// Starts a query of this statement with its first value.
    pub fn bind(&'static self, value: impl Into<Value>) -> Query {
        self.query().bind(value)
    }

    /// A query of this statement, values to follow.
    pub fn query(&'static self) -> Query {
        Query {
            statement: self,
            values: Vec::new(),
        }
    }
}

/// A value bound to a parameter. Nulls are typed, as Postgres needs to know their type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `BIGINT` (times are Unix seconds).
    Int(Option<i64>),
    /// `TEXT` (ids, JSON, names).
    Text(Option<String>),
    /// `BOOLEAN`.
    Bool(Option<bool>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(Some(v))
    }
}
impl From<Option<bool>> for Value {
    fn from(v: Option<bool>) -> Self {
        Value::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}
impl From<uuid::Uuid> for Value {
    fn from(v: uuid::Uuid) -> Self {
        Value::Text(Some(v.hyphenated().to_string()))
    }
}
impl From<Option<uuid::Uuid>> for Value {
    fn from(v: Option<uuid::Uuid>) -> Self {
        Value::Text(v.map(|v| v.hyphenated().to_string()))
    }
}
impl From<license_core::Timestamp> for Value {
    fn from(v: license_core::Timestamp) -> Self {
        Value::Int(Some(v.unix()))
    }
}
impl From<Option<license_core::Timestamp>> for Value {
    fn from(v: Option<license_core::Timestamp>) -> Self {
        Value::Int(v.map(license_core::Timestamp::unix))
    }
}

/// A row type both backends can decode.
pub trait Record:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// Where a statement runs: a pool, or one connection (a transaction's).
#[derive(Debug)]
pub enum Conn<'a> {
    /// Any connection of the Postgres pool.
    PgPool(&'a PgPool),
    /// One Postgres connection.
    Pg(&'a mut PgConnection),
    /// The SQLite pools: a statement that [`Statement::writes`] runs on the one writer
    /// connection, any other on a read-only reader.
    SqlitePool(&'a SqlitePools),
    /// One SQLite connection.
    Sqlite(&'a mut SqliteConnection),
}

impl Conn<'_> {
    /// The same place, borrowed again: for functions that run several statements.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::PgPool(pool) => Conn::PgPool(pool),
            Conn::Pg(conn) => Conn::Pg(conn),
            Conn::SqlitePool(pool) => Conn::SqlitePool(pool),
            Conn::Sqlite(conn) => Conn::Sqlite(conn),
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::PgPool(_) | Conn::Pg(_) => Backend::Postgres,
            Conn::SqlitePool(_) | Conn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    /// On Postgres.
    Pg(sqlx::Transaction<'static, Postgres>),
    /// On SQLite: on the one writer connection, begun `IMMEDIATE` (the write lock is taken up
    /// front; transactions queue for the connection, and another process writing the file,
    /// such as `license-server token create`, on the busy timeout).
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    /// Statements run inside this transaction.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Pg(tx) => Conn::Pg(tx),
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
        }
    }

    /// Makes everything written durable.
    pub async fn commit(self) -> StoreResult<()> {
        let result = match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        };
        result.map_err(|e| StoreError::from_sqlx("commit", e))
    }

    /// Undoes everything written.
    pub async fn rollback(self) -> StoreResult<()> {
        let result = match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        };
        result.map_err(|e| StoreError::from_sqlx("rollback", e))
    }
}

/// A statement with its values, ready to run.
#[derive(Debug)]
#[must_use = "a query does nothing until it runs"]
pub struct Query {
    statement: &'static Statement,
    values: Vec<Value>,
}

impl Query {
    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    /// The text to run on `conn`, once the values are checked to fill the parameters.
    fn text(&self, conn: &Conn<'_>) -> StoreResult<&'static str> {
        let backend = conn.backend();
        let expected = self.statement.parameters(backend);
        if expected != self.values.len() {
            return Err(StoreError::Database(format!(
                "statement {} takes {expected} values but was given {}",
                self.statement.name,
                self.values.len()
            )));
        }
        Ok(self.statement.text(backend))
    }

    /// Runs it; the number of rows it changed.
    pub async fn execute(self, conn: Conn<'_>) -> StoreResult<u64> {
        let sql = self.text(&conn)?;
        let name = self.statement.name;
        let values = self.values;
        let result = match conn {
            Conn::PgPool(pool) => execute_on::<Postgres, _>(pool, sql, values).await,
            Conn::Pg(c) => execute_on::<Postgres, _>(c, sql, values).await,
            Conn::SqlitePool(pools) => {
                let pool = pools.for_statement(self.statement.writes());
                execute_on::<Sqlite, _>(pool, sql, values).await
            }
            Conn::Sqlite(c) => execute_on::<Sqlite, _>(c, sql, values).await,
        };
        result.map_err(|e| StoreError::from_sqlx(name, e))
    }

    /// Every row it returns.
    pub async fn fetch_all<R: Record>(self, conn: Conn<'_>) -> StoreResult<Vec<R>> {
        let sql = self.text(&conn)?;
        let name = self.statement.name;
        let values = self.values;
        let result = match conn {
            Conn::PgPool(pool) => fetch_on::<Postgres, _, R>(pool, sql, values).await,
            Conn::Pg(c) => fetch_on::<Postgres, _, R>(c, sql, values).await,
            Conn::SqlitePool(pools) => {
                let pool = pools.for_statement(self.statement.writes());
                fetch_on::<Sqlite, _, R>(pool, sql, values).await
            }
            Conn::Sqlite(c) => fetch_on::<Sqlite, _, R>(c, sql, values).await,
        };
        result.map_err(|e| StoreError::from_sqlx(name, e))
    }

    /// The first row, if any.
    pub async fn fetch_optional<R: Record>(self, conn: Conn<'_>) -> StoreResult<Option<R>> {
        Ok(self.fetch_all(conn).await?.into_iter().next())
    }

    /// The first row; none is [`StoreError::NotFound`].
    pub async fn fetch_one<R: Record>(self, conn: Conn<'_>) -> StoreResult<R> {
        self.fetch_optional(conn).await?.ok_or(StoreError::NotFound)
    }
}

/// The values as `D`'s arguments.
fn arguments<'q, D>(values: Vec<Value>) -> Result<D::Arguments<'q>, sqlx::Error>
where
    D: Database,
    Option<i64>: Encode<'q, D> + Type<D>,
    Option<String>: Encode<'q, D> + Type<D>,
    Option<bool>: Encode<'q, D> + Type<D>,
{
    let mut arguments = D::Arguments::default();
    for value in values {
        match value {
            Value::Int(v) => arguments.add(v),
            Value::Text(v) => arguments.add(v),
            Value::Bool(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

async fn execute_on<'e, D, E>(
    executor: E,
    sql: &'e str,
    values: Vec<Value>,
) -> Result<u64, sqlx::Error>
where
    D: Database,
    E: Executor<'e, Database = D>,
    D::Arguments<'e>: IntoArguments<'e, D>,
    D::QueryResult: RowsAffected,
    Option<i64>: Encode<'e, D> + Type<D>,
    Option<String>: Encode<'e, D> + Type<D>,
    Option<bool>: Encode<'e, D> + Type<D>,
{
    let arguments = arguments::<D>(values)?;
    let result = sqlx::query_with::<D, _>(sql, arguments)
        .execute(executor)
        .await?;
    Ok(result.rows())
}

async fn fetch_on<'e, D, E, R>(
    executor: E,
    sql: &'e str,
    values: Vec<Value>,
) -> Result<Vec<R>, sqlx::Error>
where
    D: Database,
    E: Executor<'e, Database = D>,
    D::Arguments<'e>: IntoArguments<'e, D>,
    R: for<'r> FromRow<'r, D::Row> + Send + Unpin,
    Option<i64>: Encode<'e, D> + Type<D>,
    Option<String>: Encode<'e, D> + Type<D>,
    Option<bool>: Encode<'e, D> + Type<D>,
{
    let arguments = arguments::<D>(values)?;
    sqlx::query_as_with::<D, R, _>(sql, arguments)
        .fetch_all(executor)
        .await
}

/// The rows a statement changed, on either backend.
trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// Describes `statement` on `conn` without running it: the database parses and plans it, so
/// a misspelt column or table fails here. Returns the number of parameters it takes.
pub async fn prepare(statement: &Statement, conn: Conn<'_>) -> StoreResult<usize> {
    let sql: Cow<'static, str> = Cow::Borrowed(statement.text(conn.backend()));
    fn count<T>(parameters: Option<sqlx::Either<&[T], usize>>) -> usize {
        match parameters {
            Some(sqlx::Either::Left(types)) => types.len(),
            Some(sqlx::Either::Right(count)) => count,
            None => 0,
        }
    }
    let described = match conn {
        Conn::PgPool(pool) => pool.describe(&sql).await.map(|d| count(d.parameters())),
        Conn::Pg(c) => c.describe(&sql).await.map(|d| count(d.parameters())),
        Conn::SqlitePool(pools) => {
            (pools.reader().describe(&sql).await).map(|d| count(d.parameters()))
        }
        Conn::Sqlite(c) => c.describe(&sql).await.map(|d| count(d.parameters())),
    };
    described.map_err(|e| StoreError::from_sqlx(statement.name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_by_the_highest_placeholder() {
        let s = Statement::new("t", "SELECT $1, $2, $10, $2");
        assert_eq!(s.parameters(Backend::Postgres), 10);
        assert_eq!(
            Statement::new("t", "SELECT 1").parameters(Backend::Sqlite),
            0
        );
        let both = Statement::per_backend("t", "SELECT $1 FOR UPDATE", "SELECT $1, $2");
        assert_eq!(both.parameters(Backend::Postgres), 1);
        assert_eq!(both.parameters(Backend::Sqlite), 2);
    }
}
