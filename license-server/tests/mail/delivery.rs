//! The delivery stories.

use crate::fault_smtp::{self, Fault};
use crate::maildev::Maildev;
use crate::support::{Kind, TestApp};
use license_core::{Keyring, Timestamp, Verifier};
use license_server::clock::{Clock, ManualClock, SystemClock};
use license_server::mail::{FileMailer, Mailer, SmtpMailer, SmtpUrl};
use license_server::service::outbox::{Delivery, RetryPolicy};
use license_server::store::outbox::{self, OutboxState};
use mail_parser::MimeHeaders as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

fn policy() -> RetryPolicy {
    RetryPolicy {
        lease_secs: 60,
        max_attempts: 4,
        base_delay_secs: 10,
        max_delay_secs: 100,
    }
}

fn smtp(url: &str, timeout: Duration) -> Arc<dyn Mailer> {
    Arc::new(SmtpMailer::new(&SmtpUrl::parse(url).unwrap(), timeout).unwrap())
}

async fn account(app: &TestApp) -> String {
    let response = app
        .admin(Method::POST, "/api/v1/accounts")
        .json(&json!({ "name": "Acme", "email": "ops@acme.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn issue(app: &TestApp, account: &str, email: &str, trial: bool) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/licenses")
        .json(&json!({
            "account_id": account, "email": email, "feature_set": "enterprise", "user_limit": 30,
            "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z", "grace_days": 7,
            "trial": trial, "deployment_ids": ["dep-7"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn verify(app: &TestApp, token: &str) -> license_core::VerifiedLicense {
    let key = app.signing_key.public_key();
    let mut keyring = Keyring::empty();
    keyring.add(key.thumbprint(), key).unwrap();
    Verifier::new(keyring)
        .verify(token, Timestamp::from_unix(1_800_000_000).unwrap())
        .unwrap()
}

async fn outbox(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .admin(Method::GET, &format!("/api/v1/outbox{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Kind::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Kind::Postgres).await } )*
        }
    };
}

on_both_backends!(
    the_license_email_arrives_with_both_parts_and_a_verifying_attachment,
    an_smtp_outage_delays_mail_but_never_loses_or_duplicates_it,
    a_permanent_refusal_is_dead_at_once_and_an_admin_can_retry_it,
    a_worker_that_dies_mid_send_leaves_the_message_to_another,
    resend_queues_the_license_email_again,
);

async fn the_license_email_arrives_with_both_parts_and_a_verifying_attachment(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let maildev = Maildev::start().await;
    let account = account(&app).await;
    let license = issue(&app, &account, "admin@customer.example", true).await;
    let id = license["id"].as_str().unwrap();

    let worker = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(10)),
        "w1",
        policy(),
        Arc::new(SystemClock),
    );
    assert!(matches!(
        worker.try_deliver_one().await.unwrap(),
        Delivery::Sent(_)
    ));
    assert_eq!(worker.try_deliver_one().await.unwrap(), Delivery::Empty);

    let emails = maildev.wait_for(1).await;
    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    assert_eq!(email["to"][0]["address"], "admin@customer.example");
    assert_eq!(email["from"][0]["address"], "licenses@licensor.test");
    assert_eq!(email["subject"], "Your Coder trial license");
    let text = email["text"].as_str().unwrap();
    let html = email["html"].as_str().unwrap();
    for body in [text, html] {
        assert!(
            body.contains("coder-license apply -f license.jwt"),
            "{body}"
        );
        assert!(body.contains(id), "the license id is in both parts");
        assert!(body.contains("2036-01-01"), "the term is in both parts");
        assert!(body.contains("30"), "the seats are in both parts");
    }
    assert!(
        text.contains("trial license. It allows 30 users and runs until 2036-01-01"),
        "{text}"
    );
    assert!(
        html.contains("<pre>coder-license apply -f license.jwt</pre>"),
        "{html}"
    );
    let attachments = email["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["fileName"], "license.jwt");
    let attached = maildev.attachment(email).await;
    assert_eq!(attached.trim(), license["token"].as_str().unwrap());
    let verified = verify(&app, attached.trim());
    assert_eq!(verified.id().to_string(), id);
    assert!(verified.claims().trial);

    let listed = outbox(&app, "?state=sent").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["license_id"], id);
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(
        format!(
            "<{}>",
            email["messageId"]
                .as_str()
                .unwrap()
                .trim_matches(['<', '>'])
        ),
        listed[0]["message_id"]
    );
}

async fn an_smtp_outage_delays_mail_but_never_loses_or_duplicates_it(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let mut maildev = Maildev::start().await;
    maildev.stop();
    let account = account(&app).await;
    let mut recipients = BTreeSet::new();
    for i in 0..3 {
        let email = format!("admin{i}@customer.example");
        issue(&app, &account, &email, false).await;
        recipients.insert(email);
    }
    let clock = ManualClock::new(SystemClock.now());
    let worker = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(5)),
        "w1",
        policy(),
        Arc::new(clock.clone()),
    );
    for _ in 0..3 {
        match worker.try_deliver_one().await.unwrap() {
            Delivery::Failed { state, error, .. } => {
                assert_eq!(
                    state,
                    OutboxState::Pending,
                    "a refused connection is worth retrying"
                );
                assert!(!error.is_empty());
            }
            other => panic!("the SMTP server is down, yet {other:?}"),
        }
    }
    assert_eq!(
        worker.try_deliver_one().await.unwrap(),
        Delivery::Empty,
        "retries wait for their time"
    );
    let pending = outbox(&app, "?state=pending").await;
    assert_eq!(pending.len(), 3);
    assert!(
        pending
            .iter()
            .all(|m| m["attempts"] == 1 && m["last_error"].as_str().is_some_and(|e| !e.is_empty()))
    );

    maildev.restart().await;
    clock.advance(3600);
    assert_eq!(worker.drain().await.unwrap(), 3);
    assert_eq!(worker.drain().await.unwrap(), 0, "nothing is sent twice");
    let emails = maildev.wait_for(3).await;
    assert_eq!(emails.len(), 3);
    let received: BTreeSet<String> = emails
        .iter()
        .map(|e| e["to"][0]["address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, recipients);
    let ids: BTreeSet<&str> = emails
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(outbox(&app, "?state=sent").await.len(), 3);
}

async fn a_permanent_refusal_is_dead_at_once_and_an_admin_can_retry_it(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let refusing = fault_smtp::start(Fault::RejectRecipients).await;
    let account = account(&app).await;
    issue(&app, &account, "nobody@customer.example", false).await;
    let worker = app.worker(
        smtp(&refusing, Duration::from_secs(5)),
        "w1",
        policy(),
        Arc::new(SystemClock),
    );
    let Delivery::Failed { id, state, error } = worker.try_deliver_one().await.unwrap() else {
        panic!("a refused recipient is a failure")
    };
    assert_eq!(state, OutboxState::Dead, "5xx is permanent: no retries");
    assert!(
        error.contains("550") || error.to_lowercase().contains("permanent"),
        "{error}"
    );
    let dead = outbox(&app, "?state=dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["last_error_permanent"], true);

    let retried = app
        .admin(Method::POST, &format!("/api/v1/outbox/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["state"], "pending");
    assert_eq!(retried["attempts"], 0);
    let again = app
        .admin(Method::POST, &format!("/api/v1/outbox/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"]["code"],
        "message_not_dead"
    );
    let audit: Value = app
        .admin(Method::GET, "/api/v1/audit")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "outbox.retry" && e["target"] == id.to_string())
    );
}

async fn a_worker_that_dies_mid_send_leaves_the_message_to_another(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let maildev = Maildev::start().await;
    let account = account(&app).await;
    issue(&app, &account, "admin@customer.example", false).await;
    let clock = ManualClock::new(SystemClock.now());
    let now = clock.now();
    // Worker "crashed" takes the message and dies before recording anything.
    let taken = outbox::claim(app.store.conn(), "crashed", now, now.add_seconds(60))
        .await
        .unwrap()
        .unwrap();
    let survivor = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(5)),
        "survivor",
        policy(),
        Arc::new(clock.clone()),
    );
    assert_eq!(
        survivor.try_deliver_one().await.unwrap(),
        Delivery::Empty,
        "the lease still holds"
    );
    clock.advance(61);
    assert_eq!(
        survivor.try_deliver_one().await.unwrap(),
        Delivery::Sent(taken.id)
    );
    assert!(
        !outbox::mark_sent(app.store.conn(), taken.id, "crashed", clock.now())
            .await
            .unwrap(),
        "the dead worker's lease is gone"
    );
    assert_eq!(maildev.wait_for(1).await.len(), 1);
    let sent = outbox(&app, "?state=sent").await;
    assert_eq!(sent[0]["attempts"], 2, "both attempts are counted");
}

async fn resend_queues_the_license_email_again(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let maildev = Maildev::start().await;
    let account = account(&app).await;
    let license = issue(&app, &account, "admin@customer.example", false).await;
    let id = license["id"].as_str().unwrap();
    let resent = app
        .admin(Method::POST, &format!("/api/v1/licenses/{id}/resend"))
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), 202);
    let resent: Value = resent.json().await.unwrap();
    assert_eq!(resent["recipient"], "admin@customer.example");

    let worker = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(5)),
        "w1",
        policy(),
        Arc::new(SystemClock),
    );
    assert_eq!(worker.drain().await.unwrap(), 2);
    let emails = maildev.wait_for(2).await;
    let subjects: BTreeSet<&str> = emails
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        BTreeSet::from(["Your Coder license", "Your Coder license (resent)"])
    );
    for email in &emails {
        let attached = maildev.attachment(email).await;
        assert_eq!(attached.trim(), license["token"].as_str().unwrap());
    }

    let revoked = app
        .admin(Method::POST, &format!("/api/v1/licenses/{id}/revoke"))
        .json(&json!({ "reason": "refund" }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let refused = app
        .admin(Method::POST, &format!("/api/v1/licenses/{id}/resend"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "license_revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_silent_or_hangs_up_is_a_transient_failure() {
    let app = TestApp::spawn(Kind::Sqlite).await;
    let account = account(&app).await;
    for (fault, timeout) in [
        (Fault::Silent, Duration::from_secs(1)),
        (Fault::HangUp, Duration::from_secs(5)),
    ] {
        issue(&app, &account, "admin@customer.example", false).await;
        let peer = fault_smtp::start(fault).await;
        let worker = app.worker(smtp(&peer, timeout), "w1", policy(), Arc::new(SystemClock));
        match worker.try_deliver_one().await.unwrap() {
            Delivery::Failed { state, .. } => {
                assert_eq!(state, OutboxState::Pending, "{fault:?} is worth retrying")
            }
            other => panic!("{fault:?}: {other:?}"),
        }
    }
    let pending = outbox(&app, "?state=pending").await;
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|m| m["last_error_permanent"] == false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_deliver_200_messages_exactly_once() {
    let app = TestApp::spawn(Kind::Postgres).await;
    let maildev = Maildev::start().await;
    let account = account(&app).await;
    let license = issue(&app, &account, "admin@customer.example", false).await;
    // The issue queued one message; queue 199 resends of it.
    let id: uuid::Uuid = license["id"].as_str().unwrap().parse().unwrap();
    for _ in 0..199 {
        app.licensor.resend("test", id).await.unwrap();
    }
    let one = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(10)),
        "replica-a",
        policy(),
        Arc::new(SystemClock),
    );
    let two = app.worker(
        smtp(&maildev.smtp_url(), Duration::from_secs(10)),
        "replica-b",
        policy(),
        Arc::new(SystemClock),
    );
    let (a, b) = tokio::join!(
        tokio::spawn(async move { one.drain().await }),
        tokio::spawn(async move { two.drain().await })
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(
        a + b,
        200,
        "every message delivered by exactly one worker ({a} + {b})"
    );
    assert!(a > 0 && b > 0, "both workers took part ({a} + {b})");

    let emails = maildev.wait_for(200).await;
    assert_eq!(emails.len(), 200);
    let ids: BTreeSet<&str> = emails
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200, "no message was sent twice");
    let counts = app.licensor.outbox_counts().await.unwrap();
    assert_eq!(counts, vec![(OutboxState::Sent, 200)]);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"licensor_outbox_messages{state="sent"} 200"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_messages_are_written_as_rfc5322_files() {
    let app = TestApp::spawn(Kind::Sqlite).await;
    let account = account(&app).await;
    let license = issue(&app, &account, "admin@customer.example", false).await;
    let dir = tempfile::tempdir().unwrap();
    let mailer = Arc::new(FileMailer::new(dir.path().join("mail")).unwrap());
    let worker = app.worker(mailer, "w1", policy(), Arc::new(SystemClock));
    assert_eq!(worker.drain().await.unwrap(), 1);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    // The message holds a license: the file and its directory are the owner's alone.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600, "{:?}", files[0]);
        assert_eq!(mode(&dir.path().join("mail")), 0o700);
    }
    let bytes = std::fs::read(&files[0]).unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(&bytes)
        .expect("an RFC 5322 message");
    assert_eq!(message.subject(), Some("Your Coder license"));
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("licenses@licensor.test")
    );
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("admin@customer.example")
    );
    assert!(
        message
            .message_id()
            .is_some_and(|id| id.ends_with("@licensor.test"))
    );
    assert!(message.date().is_some());
    let text = message.body_text(0).unwrap();
    assert!(
        text.contains("coder-license apply -f license.jwt"),
        "{text}"
    );
    assert!(
        message
            .body_html(0)
            .unwrap()
            .contains("<pre>coder-license apply -f license.jwt</pre>")
    );
    let attachment = message
        .attachments()
        .next()
        .expect("the license is attached");
    assert_eq!(attachment.attachment_name(), Some("license.jwt"));
    let token = std::str::from_utf8(attachment.contents()).unwrap().trim();
    assert_eq!(token, license["token"].as_str().unwrap());
    verify(&app, token);
}

/// Delivers through `inner`, then takes the database away from its clients for `outage`: the
/// database fails right after the SMTP server accepted the message, before the worker records
/// it (what a Postgres restart or failover does to a worker in the middle of a delivery).
#[derive(Debug)]
struct OutageAfterSend {
    inner: Arc<dyn Mailer>,
    database: String,
    outage: Duration,
}

#[async_trait::async_trait]
impl Mailer for OutageAfterSend {
    async fn send(
        &self,
        message: &outbox::ClaimedMessage,
    ) -> Result<(), license_server::mail::SendError> {
        use sqlx::Connection as _;
        self.inner.send(message).await?;
        let mut admin = sqlx::PgConnection::connect(&crate::support::postgres_admin_url())
            .await
            .unwrap();
        let allow = |on: bool| {
            format!(
                "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {on}",
                self.database
            )
        };
        sqlx::query(&allow(false))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&self.database)
            .execute(&mut admin)
            .await
            .unwrap();
        let (outage, back) = (self.outage, allow(true));
        tokio::spawn(async move {
            tokio::time::sleep(outage).await;
            sqlx::query(&back).execute(&mut admin).await.unwrap();
        });
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_right_after_a_delivery_does_not_send_it_again() {
    let app = TestApp::spawn(Kind::Postgres).await;
    let account = account(&app).await;
    issue(&app, &account, "admin@customer.example", false).await;
    let dir = tempfile::tempdir().unwrap();
    let files = Arc::new(FileMailer::new(dir.path().join("mail")).unwrap());
    let database = app.db.url.rsplit_once('/').unwrap().1.to_owned();
    let mailer = Arc::new(OutageAfterSend {
        inner: files.clone(),
        database,
        outage: Duration::from_secs(2),
    });
    let clock = ManualClock::new(SystemClock.now());
    let worker = app.worker(mailer, "w1", policy(), Arc::new(clock.clone()));
    let delivered = worker.try_deliver_one().await;
    assert!(
        matches!(delivered, Ok(Delivery::Sent(_))),
        "the delivery is recorded once the database is back: {delivered:?}"
    );
    // Had it stayed `sending`, another worker would send it again once the lease ran out.
    clock.advance(61);
    let other = app.worker(files, "w2", policy(), Arc::new(clock.clone()));
    assert_eq!(other.try_deliver_one().await.unwrap(), Delivery::Empty);
    assert_eq!(
        std::fs::read_dir(dir.path().join("mail")).unwrap().count(),
        1
    );
    assert_eq!(outbox(&app, "?state=sent").await.len(), 1);
}
