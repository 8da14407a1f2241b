//! A webhook receiver for the tests: a real HTTP server on 127.0.0.1, port 0, that records
//! every request and answers as told (a number of 500s first, or never).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The raw body.
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    captured: Mutex<Vec<Captured>>,
    failures_left: AtomicUsize,
    hang: bool,
}

/// The running receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    /// Where it listens.
    pub url: String,
}

impl Receiver {
    /// Starts a receiver answering 500 to the first `failures` requests and 200 after.
    pub async fn start(failures: usize) -> Self {
        Self::with(failures, false).await
    }

    /// Starts a receiver that never answers.
    pub async fn hanging() -> Self {
        Self::with(0, true).await
    }

    async fn with(failures: usize, hang: bool) -> Self {
        let inner = Arc::new(Inner {
            captured: Mutex::default(),
            failures_left: AtomicUsize::new(failures),
            hang,
        });
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { inner, url }
    }

    /// Answers 500 to the next `n` requests.
    pub fn fail_next(&self, n: usize) {
        self.inner.failures_left.store(n, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn captured(&self) -> Vec<Captured> {
        self.inner.captured.lock().unwrap().clone()
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if inner.hang {
        std::future::pending::<()>().await;
    }
    let failing = inner
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    inner.captured.lock().unwrap().push(Captured {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: status.as_u16(),
    });
    status
}
