//! maildev, the real SMTP server the email tests deliver to, with its HTTP API.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running maildev (killed when dropped).
pub struct Maildev {
    child: Option<Child>,
    pub smtp_port: u16,
    pub web_port: u16,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/node_modules/.bin/maildev");
    assert!(
        path.exists(),
        "maildev is not installed: run `npm ci --prefix tests/smtp` (scripts/test does)"
    );
    path
}

impl Maildev {
    /// Starts maildev on free ports and waits until its HTTP API answers.
    pub async fn start() -> Self {
        let mut maildev = Self {
            child: None,
            smtp_port: free_port(),
            web_port: free_port(),
            http: reqwest::Client::new(),
        };
        maildev.restart().await;
        maildev
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    /// Stops the server: connections to its SMTP port are refused until [`Maildev::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same ports, with an empty mailbox.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("node")
            .arg(binary())
            .args([
                "-s",
                &self.smtp_port.to_string(),
                "-w",
                &self.web_port.to_string(),
            ])
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs maildev");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let web = self.http.get(self.url("/email")).send().await;
            let smtp = tokio::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).await;
            if web.is_ok_and(|r| r.status().is_success()) && smtp.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "maildev did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.web_port)
    }

    /// Waits (polling, at most 20 s) until maildev has stored `count` messages, and returns
    /// them all: maildev answers the SMTP transaction before it has stored the message.
    pub async fn wait_for(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let emails = self.emails().await;
            if emails.len() >= count || Instant::now() > deadline {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every message received so far, as maildev's JSON.
    pub async fn emails(&self) -> Vec<serde_json::Value> {
        self.http
            .get(self.url("/email"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The text of the one attachment of `email` (maildev serves it under the name it
    /// generated when storing it).
    pub async fn attachment(&self, email: &serde_json::Value) -> String {
        let id = email["id"].as_str().unwrap();
        let stored = email["attachments"][0]["generatedFileName"]
            .as_str()
            .unwrap();
        let response = self
            .http
            .get(self.url(&format!("/email/{id}/attachment/{stored}")))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "attachment {stored} of {id}: {}",
            response.status()
        );
        response.text().await.unwrap()
    }
}

impl Drop for Maildev {
    fn drop(&mut self) {
        self.stop();
    }
}
