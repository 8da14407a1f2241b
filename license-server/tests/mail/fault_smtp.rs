//! Scripted SMTP peers that misbehave in the ways real mail servers do.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the peer misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Speaks SMTP but refuses every recipient with 550 (a permanent refusal).
    RejectRecipients,
    /// Accepts the connection and never says anything (a timeout).
    Silent,
    /// Accepts the connection and closes it at once (a dropped connection).
    HangUp,
}

/// Starts the peer on a free port; returns `smtp://127.0.0.1:PORT`. It runs until the test's
/// runtime ends.
pub async fn start(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            match fault {
                Fault::HangUp => drop(socket),
                Fault::Silent => held.push(socket),
                Fault::RejectRecipients => {
                    tokio::spawn(refuse_recipients(socket));
                }
            }
        }
    });
    format!("smtp://127.0.0.1:{port}")
}

async fn refuse_recipients(socket: tokio::net::TcpStream) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 fault.test ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250 fault.test\r\n"
        } else if command.starts_with("RCPT") {
            b"550 5.1.1 mailbox unavailable\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
