//! The console's router: every page and form under `/console`, the session layer, the
//! cross-site refusal and the security headers.

use super::session_store::DbSessionStore;
use super::state::{COOKIE, ConsoleState, SESSION_IDLE};
use super::throttle::LoginThrottle;
use super::{
    accounts, auth, deployments, license_forms, licenses, pages, people, security, trials,
};
use crate::service::Licensor;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

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
