//! Signing in and out, the signed-in person on every request, and the CSRF token every form
//! carries (the synchronizer-token pattern: a random token kept in the server-side session,
//! compared with the form's on every post).

use super::ConsoleState;
use super::session_store::USER_KEY;
use super::throttle::FREE_FAILURES;
use super::views::{ConsoleError, LoginPage, render};
use crate::service::roles::{Action, Principal};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use license_core::base64url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::time::Instant;
use tower_sessions::Session;

/// The session key of the CSRF token.
const CSRF_KEY: &str = "csrf";

/// A new random token.
fn new_token() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ConsoleError::internal(format!("the random generator failed: {e}")))?;
    Ok(base64url::encode(&bytes))
}

/// Equal without telling how much of it is (the comparison reads every byte).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session's CSRF token, made on first use.
async fn csrf_token(session: &Session) -> Result<String, ConsoleError> {
    if let Some(token) = session
        .get::<String>(CSRF_KEY)
        .await
        .map_err(ConsoleError::session)?
    {
        return Ok(token);
    }
    let token = new_token()?;
    session
        .insert(CSRF_KEY, &token)
        .await
        .map_err(ConsoleError::session)?;
    Ok(token)
}

async fn session_of(parts: &mut Parts, state: &ConsoleState) -> Result<Session, ConsoleError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, message)| ConsoleError::internal(message))
}

/// The signed-in person, with their role read afresh and the session's CSRF token. A request
/// without one is sent to the sign-in page (a GET) or refused (anything else).
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who, and their role.
    pub principal: Principal,
    /// The token this session's forms carry.
    pub csrf: String,
    /// The session.
    pub session: Session,
}

impl Signed {
    /// `Ok` when the person's role may do `action`, else the 403 page.
    pub fn require(&self, action: Action) -> Result<(), ConsoleError> {
        self.principal
            .require(action)
            .map_err(|refused| ConsoleError::from(crate::service::Error::from(refused)))
    }

    /// Whether the person's role may do `action` (what the pages show).
    pub fn may(&self, action: Action) -> bool {
        self.principal.may(action)
    }
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Response> {
        let session = session_of(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let name = session
            .get::<String>(USER_KEY)
            .await
            .map_err(|e| ConsoleError::session(e).into_response())?;
        let had_name = name.is_some();
        let principal = match name {
            Some(name) => state
                .licensor
                .session_principal(&name)
                .await
                .map_err(|e| ConsoleError::from(e).into_response())?,
            None => None,
        };
        let Some(principal) = principal else {
            if had_name {
                // Disabled, deleted or signed out elsewhere since: the session is void.
                let _ = session.flush().await;
            }
            return Err(if parts.method == Method::GET {
                Redirect::to("/console/login").into_response()
            } else {
                ConsoleError::new(
                    StatusCode::FORBIDDEN,
                    "You are not signed in (or your session ended): sign in again.",
                )
                .into_response()
            });
        };
        let csrf = csrf_token(&session)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Signed {
            principal,
            csrf,
            session,
        })
    }
}

/// A posted form of a signed-in person, its CSRF token checked (else 403), parsed as `T`.
#[derive(Debug)]
pub struct SignedForm<T> {
    /// Who posted it.
    pub user: Signed,
    /// The form.
    pub form: T,
}

/// The pairs of a form body.
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn csrf_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs
        .iter()
        .find(|(k, _)| k == CSRF_KEY)
        .map(|(_, v)| v.as_str())
}

impl<T: DeserializeOwned> FromRequest<ConsoleState> for SignedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ConsoleState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = Signed::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let pairs = pairs(&bytes);
        if !csrf_of(&pairs).is_some_and(|token| same(token, &user.csrf)) {
            return Err(ConsoleError::csrf().into_response());
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            ConsoleError::new(
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}."),
            )
            .into_response()
        })?;
        Ok(SignedForm { user, form })
    }
}

/// `GET /console/login`.
pub async fn login_page(
    signed: Result<Signed, Response>,
    session: Session,
) -> Result<Response, ConsoleError> {
    if signed.is_ok() {
        return Ok(Redirect::to("/console/dashboard").into_response());
    }
    let csrf = csrf_token(&session).await?;
    render(
        StatusCode::OK,
        &LoginPage {
            csrf,
            name: String::new(),
            error: None,
        },
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
}

/// `POST /console/login`: checks the password (throttled per account and address), then
/// starts a new session (a new id: a session fixed before sign-in is worthless).
pub async fn login(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let form: LoginForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        ConsoleError::new(
            StatusCode::BAD_REQUEST,
            format!("The sign-in form could not be read: {e}."),
        )
    })?;
    let expected = session
        .get::<String>(CSRF_KEY)
        .await
        .map_err(ConsoleError::session)?;
    if !expected.is_some_and(|token| same(&token, &form.csrf)) {
        return Err(ConsoleError::csrf());
    }
    let name = form.name.trim().to_owned();
    let address = peer.ip();
    let again = |status: StatusCode, error: String, csrf: String| {
        render(
            status,
            &LoginPage {
                csrf,
                name: name.clone(),
                error: Some(error),
            },
        )
    };
    if let Some(wait) = state.throttle.wait(&name, address, Instant::now()) {
        let message = format!(
            "Too many failed sign-ins for this account from your address: try again in {} seconds.",
            wait.as_secs().max(1)
        );
        return again(StatusCode::TOO_MANY_REQUESTS, message, form.csrf);
    }
    let Some(principal) = state.licensor.check_login(&name, &form.password).await? else {
        state.throttle.failed(&name, address, Instant::now());
        let message = format!(
            "The name or the password is wrong. After {FREE_FAILURES} failures, each attempt waits longer (at most 15 minutes)."
        );
        return again(StatusCode::UNAUTHORIZED, message, form.csrf);
    };
    state.throttle.succeeded(&name, address);
    session.cycle_id().await.map_err(ConsoleError::session)?;
    session
        .insert(USER_KEY, &principal.name)
        .await
        .map_err(ConsoleError::session)?;
    session
        .insert(CSRF_KEY, new_token()?)
        .await
        .map_err(ConsoleError::session)?;
    state
        .licensor
        .record_session_event(&principal.name, "console.sign_in", &address.to_string())
        .await?;
    Ok(Redirect::to("/console/dashboard").into_response())
}

/// `POST /console/logout`: deletes the session on the server, then the cookie.
pub async fn logout(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Result<Response, ConsoleError> {
    user.session.delete().await.map_err(ConsoleError::session)?;
    state
        .licensor
        .record_session_event(
            &user.principal.name,
            "console.sign_out",
            &peer.ip().to_string(),
        )
        .await?;
    Ok(Redirect::to("/console/login").into_response())
}
