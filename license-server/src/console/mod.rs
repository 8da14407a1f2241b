//! The web console at `/console`: the vendor's license desk in a browser. axum handlers and
//! askama templates (compiled and checked with the binary), plain HTML forms that work
//! without JavaScript, the stylesheet served from the binary. Handlers parse a form, ask the
//! service layer ([`crate::service::Licensor`]) exactly as `api/` does, and render its answer:
//! the rules, the roles included, are the service's.
//!
//! Sessions are `tower-sessions` records in the licensor's own database
//! (`session_store.rs`); every form carries the session's CSRF token (`auth.rs`); sign-in is
//! throttled per account and address (`throttle.rs`); every answer carries a
//! Content-Security-Policy without inline script (`security.rs`).

mod accounts;
mod auth;
mod chart;
mod chrome;
mod csv;
mod deployments;
mod forms;
mod license_forms;
mod licenses;
mod pages;
mod people;
mod security;
mod session_store;
mod throttle;
mod trials;
mod views;

use crate::service::Licensor;
use axum::Router;
use axum::routing::{get, post};
use session_store::DbSessionStore;
use std::sync::Arc;
use throttle::LoginThrottle;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// How long a session lives without a request.
pub const SESSION_IDLE: time::Duration = time::Duration::hours(8);

/// The session cookie's name.
pub const COOKIE: &str = "licensor_console";

/// What every console handler can reach.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// The rules.
    pub licensor: Licensor,
    /// Failed sign-ins, per account and address.
    pub throttle: Arc<LoginThrottle>,
}

/// The console's router, to merge into the application's: everything under `/console`.
/// `secure_cookies` marks the session cookie `Secure` (set it when browsers reach the
/// licensor over HTTPS).
pub fn router(licensor: Licensor, secure_cookies: bool) -> Router {
    let sessions = SessionManagerLayer::new(DbSessionStore::new(licensor.store().clone()))
        .with_name(COOKIE)
        .with_path("/console")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(SESSION_IDLE));
    let state = ConsoleState {
        licensor,
        throttle: Arc::new(LoginThrottle::default()),
    };
    let pages = Router::new()
        .route("/console", get(pages::home))
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/dashboard", get(pages::dashboard))
        .route("/console/audit", get(pages::audit))
        .route("/console/outbox", get(pages::outbox))
        .route("/console/outbox/{id}/retry", post(pages::retry))
        .route(
            "/console/accounts",
            get(accounts::list).post(accounts::create),
        )
        .route("/console/accounts/{id}", get(accounts::show))
        .route(
            "/console/licenses",
            get(licenses::list).post(license_forms::issue),
        )
        .route("/console/licenses/new", get(license_forms::issue_form))
        .route("/console/licenses/{id}", get(licenses::show))
        .route(
            "/console/licenses/{id}/license.jwt",
            get(licenses::download),
        )
        .route("/console/licenses/{id}/revoke", post(licenses::revoke))
        .route(
            "/console/licenses/{id}/reissue",
            get(license_forms::reissue_form).post(license_forms::reissue),
        )
        .route("/console/licenses/{id}/resend", post(licenses::resend))
        .route("/console/trials", get(trials::list))
        .route("/console/trials/{id}/extend", post(trials::extend))
        .route(
            "/console/evaluations",
            get(trials::evaluations).post(trials::enroll),
        )
        .route("/console/evaluations/{id}/end", post(trials::end))
        .route("/console/deployments", get(deployments::list))
        .route("/console/deployments/{id}", get(deployments::show))
        .route("/console/access", get(people::page))
        .route("/console/access/users", post(people::create_user))
        .route(
            "/console/access/users/{id}/disable",
            post(people::disable_user),
        )
        .route(
            "/console/access/users/{id}/end-sessions",
            post(people::end_sessions),
        )
        .route("/console/access/tokens", post(people::create_token))
        .route(
            "/console/access/tokens/{id}/revoke",
            post(people::revoke_token),
        )
        .layer(sessions)
        .layer(axum::middleware::from_fn(security::refuse_cross_site))
        .with_state(state);
    Router::new()
        .route("/console/static/{file}", get(security::static_file))
        .merge(pages)
        .layer(axum::middleware::from_fn(security::headers))
}
