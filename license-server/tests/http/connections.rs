//! Hostile connections: slow headers are cut off, idle keep-alive connections closed, and
//! connections over the cap wait to be accepted (issue 12, finding 9). No database rule is
//! involved: SQLite only.

use crate::support::{Kind, TestApp};
use license_server::listener::HttpLimits;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn app(limits: HttpLimits) -> (TestApp, String) {
    let app = TestApp::spawn_with(Kind::Sqlite, move |config| config.http = limits).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    (app, address)
}

/// Reads until the peer closes the connection (EOF or reset), at most `within`; the bytes read.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A connection that sent half its headers was still served after 45 s (slowloris).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_sending_partial_headers_is_closed_within_the_timeout() {
    let (_app, address) = app(HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    })
    .await;
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: licensor\r\nX-Slow: 1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = until_closed(&mut slow, Duration::from_secs(8)).await;
    assert!(
        closed.is_some(),
        "the connection was still open after 8 s of unfinished headers"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let (_app, address) = app(HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    })
    .await;
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: licensor\r\n\r\n")
        .await
        .unwrap();
    let seen = until_closed(&mut idle, Duration::from_secs(8))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert!(
        String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"),
        "the request was answered first: {}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_one_closes() {
    let (_app, address) = app(HttpLimits {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 1,
        ..HttpLimits::default()
    })
    .await;
    let mut first = TcpStream::connect(&address).await.unwrap();
    first.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut second = TcpStream::connect(&address).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: licensor\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(1500), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a connection over the cap was served: {early:?}"
    );
    drop(first);
    let answer = until_closed(&mut second, Duration::from_secs(10))
        .await
        .expect("the waiting connection was never served");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
