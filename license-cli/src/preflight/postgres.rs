//! The external database (`--postgres-url`): its version and the contrib extensions the
//! product creates; without one, the page's word on the built-in database.

use super::report::{Check, Outcome};
use super::spec::Postgres;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};
use std::str::FromStr as _;
use std::time::Duration;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a query may run (also set as the session's `statement_timeout`).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// `postgres.external`, `postgres.version` and `postgres.extensions`.
pub async fn checks(spec: &Postgres, url: Option<&str>) -> Vec<Check> {
    let external = Check::new("postgres.external", "an external PostgreSQL", &spec.source)
        .required("an external PostgreSQL for production (--postgres-url)");
    let version = Check::new("postgres.version", "PostgreSQL version", &spec.source)
        .required(format!("{} or later", spec.min_version));
    let extensions = Check::new(
        "postgres.extensions",
        "PostgreSQL contrib extensions",
        &spec.source,
    )
    .required(format!("available: {}", spec.extensions.join(", ")));
    let Some(url) = url else {
        let skipped = "no --postgres-url: nothing to check";
        return vec![
            external.observed("the built-in database").outcome(
                Outcome::Warn,
                format!(
                    "the built-in database is for evaluation only and is not backed up: for production, give the product an external PostgreSQL {} or later, and check it with --postgres-url",
                    spec.min_version
                ),
            ),
            version.outcome(Outcome::Skipped, skipped),
            extensions.outcome(Outcome::Skipped, skipped),
        ];
    };
    let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let parsed = if scheme_ok {
        PgConnectOptions::from_str(url).map_err(|e| e.to_string())
    } else {
        Err("its scheme is not postgres:// or postgresql://".to_owned())
    };
    let options = match parsed {
        Ok(options) => options,
        Err(error) => {
            let message = format!(
                "--postgres-url is not a PostgreSQL URL ({error}): use postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            );
            return vec![
                external.outcome(Outcome::Fail, message.clone()),
                version.outcome(Outcome::Skipped, "no database to check"),
                extensions.outcome(Outcome::Skipped, "no database to check"),
            ];
        }
    };
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    );
    let external = external.observed(target.clone());
    let options = options.options([(
        "statement_timeout",
        format!("{}", STATEMENT_TIMEOUT.as_millis()),
    )]);
    let mut connection = match connect(&options).await {
        Ok(connection) => connection,
        Err(why) => {
            return vec![
                external.outcome(
                    Outcome::Fail,
                    format!(
                        "cannot connect to PostgreSQL at {target}: {why}; check --postgres-url, that the database runs and that this machine may reach it"
                    ),
                ),
                version.outcome(Outcome::Skipped, "no connection"),
                extensions.outcome(Outcome::Skipped, "no connection"),
            ];
        }
    };
    let external = external.outcome(Outcome::Pass, "connected");
    let version = match query_version(&mut connection).await {
        Err(why) => version.outcome(Outcome::Warn, format!("not checked: {why}")),
        Ok((number, text)) => {
            let major = number / 10_000;
            let version = version.observed(text);
            if major >= i64::from(spec.min_version) {
                version.outcome(Outcome::Pass, "supported")
            } else {
                version.outcome(
                    Outcome::Fail,
                    format!(
                        "PostgreSQL {major} is older than {}: upgrade the database (pg_upgrade, or your provider's major version upgrade)",
                        spec.min_version
                    ),
                )
            }
        }
    };
    let extensions = match query_extensions(&mut connection).await {
        Err(why) => extensions.outcome(Outcome::Warn, format!("not checked: {why}")),
        Ok(available) => {
            let missing: Vec<&str> = spec
                .extensions
                .iter()
                .filter(|e| !available.contains(e))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                extensions
                    .observed(format!("available: {}", spec.extensions.join(", ")))
                    .outcome(Outcome::Pass, "available")
            } else {
                extensions
                    .observed(format!("missing: {}", missing.join(", ")))
                    .outcome(
                        Outcome::Fail,
                        format!(
                            "the server cannot create {}: install the PostgreSQL contrib package (postgresql-contrib on Debian and Ubuntu) or choose a provider that offers these extensions",
                            missing.join(", ")
                        ),
                    )
            }
        }
    };
    let _ = connection.close().await;
    vec![external, version, extensions]
}

async fn connect(options: &PgConnectOptions) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "no connection within {} seconds",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

async fn query_version(connection: &mut PgConnection) -> Result<(i64, String), String> {
    let query = sqlx::query(
        "SELECT current_setting('server_version_num')::bigint, current_setting('server_version')",
    );
    let row = tokio::time::timeout(STATEMENT_TIMEOUT, query.fetch_one(&mut *connection))
        .await
        .map_err(|_| "the version query timed out".to_owned())?
        .map_err(|e| format!("cannot read the server version: {e}"))?;
    let number: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    let text: String = row.try_get(1).map_err(|e| e.to_string())?;
    Ok((number, text))
}

async fn query_extensions(connection: &mut PgConnection) -> Result<Vec<String>, String> {
    let query = sqlx::query_scalar::<_, String>("SELECT name::text FROM pg_available_extensions");
    tokio::time::timeout(STATEMENT_TIMEOUT, query.fetch_all(&mut *connection))
        .await
        .map_err(|_| "the extensions query timed out".to_owned())?
        .map_err(|e| format!("cannot list pg_available_extensions: {e}"))
}
