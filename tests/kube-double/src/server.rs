//! The network side: TLS over loopback, HTTP/1.1 (hyper), each request decoded and handed to
//! the shared [`Api`].

use crate::api::{Api, Request};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// The API server's request size limit (3 MiB).
const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Serves until `shutdown` fires (or its sender is dropped).
pub async fn serve(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    api: Arc<Mutex<Api>>,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let api = api.clone();
                tokio::spawn(async move {
                    // A client that fails the handshake (no CA, plain HTTP) is simply dropped.
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper::service::service_fn(move |request| {
                        let api = api.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(request, &api).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        }
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    api: &Mutex<Api>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(_) => return respond(413, br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Request entity too large","reason":"RequestEntityTooLarge","code":413}"#.to_vec()),
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        content_type: header(http::header::CONTENT_TYPE),
        authorization: header(http::header::AUTHORIZATION),
        user_agent: header(http::header::USER_AGENT),
        body,
    };
    let reply = match api.lock() {
        Ok(mut api) => api.handle(&request, &crate::now()),
        Err(_) => return respond(500, b"{}".to_vec()),
    };
    respond(
        reply.code,
        serde_json::to_vec(&reply.body).unwrap_or_default(),
    )
}

fn respond(code: u16, body: Vec<u8>) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
