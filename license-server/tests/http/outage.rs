//! A database that goes away: 503 `database_unavailable`, never 500, nothing half-written, and
//! service resumes when the database is back.

use crate::helpers::{
    account_id, expect_error, expect_json, get, issue, license_request, on_both_backends,
};
use crate::support::{Kind, TestApp, TestDb, postgres_admin_url};
use license_core::{SigningKey, Timestamp};
use license_server::app::Application;
use license_server::store::DatabaseUrl;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection as _;
use std::time::{Duration, Instant};

on_both_backends!(a_closed_store_is_503);

async fn a_closed_store_is_503(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let body = license_request(&account_id(&app).await);
    app.store.close().await;

    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    expect_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    let response = app
        .admin(Method::POST, "/api/v1/licenses")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    let response = app
        .admin(Method::POST, "/api/v1/accounts")
        .json(&json!({ "name": "Acme", "email": "a@acme.example" }))
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    for path in ["/api/v1/licenses", "/api/v1/accounts", "/api/v1/audit"] {
        let response = app.admin(Method::GET, path).send().await.unwrap();
        expect_error(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
        )
        .await;
    }
    // What needs no database still answers.
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    expect_json(response, StatusCode::OK).await;
    let response = app
        .client
        .get(app.url("/api/v1/keys"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
}

/// A Postgres login role that exists for one test. Superusers ignore a database's
/// `CONNECTION LIMIT`, so an outage made with one needs the server to log in as a plain role.
struct Role {
    name: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {name}"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A server on a fresh Postgres database that it reaches as a plain (non-superuser) role.
/// Its state is built as `TestApp::spawn` builds it (keep the two alike).
/// Fields drop in order: the server's database first, then the role that owns it.
struct PlainRoleApp {
    app: TestApp,
    _role: Role,
}

/// `url` with its user and password replaced.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    format!("{scheme}://{user}:{password}@{host_and_path}")
}

async fn admin_execute(sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

async fn spawn_as_plain_role() -> PlainRoleApp {
    let role = Role {
        name: format!("licensor_app_{}", uuid::Uuid::new_v4().simple()),
    };
    let password = uuid::Uuid::new_v4().simple().to_string();
    let db = TestDb::new(Kind::Postgres).await;
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    admin_execute(&format!(
        "CREATE ROLE {} LOGIN PASSWORD '{password}'",
        role.name
    ))
    .await;
    admin_execute(&format!("ALTER DATABASE {database} OWNER TO {}", role.name)).await;
    let url = with_user(&db.url, &role.name, &password);
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let signing_key = SigningKey::from_seed(&seed);
    let config = crate::support::test_config(DatabaseUrl::parse(&url).unwrap(), &signing_key);
    let built = Application::build(config).await.unwrap();
    let licensor = built.licensor().clone();
    let store = licensor.store().clone();
    let base = format!("http://{}", built.address());
    tokio::spawn(built.run(std::future::pending()));
    let at = Timestamp::from_unix(1_795_000_000).unwrap();
    let token = license_server::service::tokens::create(
        &store,
        "test",
        "desk",
        license_server::service::roles::Role::Admin,
        at,
    )
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    PlainRoleApp {
        app: TestApp {
            base,
            token,
            licensor,
            store,
            signing_key,
            client,
            db,
        },
        _role: role,
    }
}

fn database_name(app: &TestApp) -> String {
    app.db.url.rsplit('/').next().unwrap().to_owned()
}

async fn terminate_connections(database: &str) {
    admin_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_service_resumes() {
    let server = spawn_as_plain_role().await;
    let app = &server.app;
    let database = database_name(app);
    let account = account_id(app).await;
    let body = license_request(&account);
    issue(app, &body).await;
    issue(app, &body).await;

    // Connections killed while the database still accepts new ones: the pool replaces them.
    terminate_connections(&database).await;
    let third = issue(app, &body).await;
    assert_eq!(third["sequence"], 3);

    // The database refuses every connection.
    admin_execute(&format!("ALTER DATABASE {database} CONNECTION LIMIT 0")).await;
    terminate_connections(&database).await;
    let started = Instant::now();
    let (issued, ready, listed) = tokio::join!(
        app.admin(Method::POST, "/api/v1/licenses")
            .json(&body)
            .send(),
        app.client.get(app.url("/readyz")).send(),
        app.admin(Method::GET, "/api/v1/licenses").send(),
    );
    let elapsed = started.elapsed();
    admin_execute(&format!("ALTER DATABASE {database} CONNECTION LIMIT -1")).await;
    expect_error(
        issued.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    expect_error(
        ready.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    expect_error(
        listed.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    assert!(
        elapsed < Duration::from_secs(15),
        "the outage answer took {elapsed:?}"
    );

    // Back: nothing was half-written, and issuing continues where it stopped.
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        expect_json(response, StatusCode::OK).await["database"],
        "postgres"
    );
    let page = get(app, "/api/v1/licenses").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
    assert_eq!(
        get(app, &format!("/api/v1/accounts/{account}")).await["license_sequence"],
        3
    );
    let audit = get(app, "/api/v1/audit").await;
    let issues = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "license.issue")
        .count();
    assert_eq!(issues, 3);
    let fourth = issue(app, &body).await;
    assert_eq!(fourth["sequence"], 4);
}

// FAILS until: src/store/mod.rs `From<sqlx::Error>` maps a refused connection to
// `StoreError::Unavailable`: a database that is not accepting connections answers the pool's
// connect with SQLSTATE 55000 (also 3D000 when it is gone), which is neither in `is_busy` nor
// retried by sqlx, so it becomes `StoreError::Database` and the API answers 500 `internal`
// while `/readyz` says 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_refusing_connections_is_503() {
    let app = TestApp::spawn(Kind::Postgres).await;
    let database = database_name(&app);
    let body = license_request(&account_id(&app).await);
    admin_execute(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .await;
    terminate_connections(&database).await;
    let response = app
        .admin(Method::POST, "/api/v1/licenses")
        .json(&body)
        .send()
        .await
        .unwrap();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    admin_execute(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
    expect_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    expect_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
}
