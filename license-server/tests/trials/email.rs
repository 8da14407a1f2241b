//! The trial email, delivered by the outbox to a real SMTP server (maildev): it says what the
//! trial allows and until when, and carries the license.

use crate::helpers::{
    enroll, enrollment, get, grant, on_both_backends, outbox, spawn_default, trial_license, verify,
};
use crate::maildev::Maildev;
use crate::support::Kind;
use license_core::DAY;
use license_server::clock::Clock as _;
use license_server::mail::{Mailer, SmtpMailer, SmtpUrl};
use license_server::service::outbox::{Delivery, RetryPolicy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(the_trial_email_says_the_seats_and_the_end_and_carries_a_verifying_license);

async fn the_trial_email_says_the_seats_and_the_end_and_carries_a_verifying_license(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let maildev = Maildev::start().await;
    let now = clock.now();
    let trial = grant(&app, "ada@engines.example", "dep-mail").await;
    let (license, _) = trial_license(&app, trial["trial_id"].as_str().unwrap(), now).await;
    enroll(&app, &{
        let mut body = enrollment(json!({ "email": "eve@secure.example" }), &["checkin"], now);
        body["max_term_days"] = json!(60);
        body["user_limit"] = json!(25);
        body
    })
    .await;
    let evaluation = grant(&app, "eve@secure.example", "dep-airgap").await;
    assert_eq!(evaluation["evaluation"], true);

    let mailer: Arc<dyn Mailer> = Arc::new(
        SmtpMailer::new(
            &SmtpUrl::parse(&maildev.smtp_url()).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap(),
    );
    let policy = RetryPolicy {
        lease_secs: 60,
        max_attempts: 3,
        base_delay_secs: 10,
        max_delay_secs: 100,
    };
    let worker = app.worker(mailer, "trial-test", policy, Arc::new(clock.clone()));
    for _ in 0..2 {
        let delivered = worker.try_deliver_one().await.unwrap();
        assert!(matches!(delivered, Delivery::Sent(_)), "{delivered:?}");
    }
    assert_eq!(worker.try_deliver_one().await.unwrap(), Delivery::Empty);

    let emails = maildev.wait_for(2).await;
    assert_eq!(emails.len(), 2, "exactly one email per granted trial");
    let to = |address: &str| -> &Value {
        emails
            .iter()
            .find(|e| e["to"][0]["address"] == address)
            .unwrap_or_else(|| panic!("no email to {address}: {emails:?}"))
    };

    // The free trial: ten users for thirty days, and the check-in requirement.
    let email = to("ada@engines.example");
    assert_eq!(email["subject"], "Your Coder trial license");
    let end = now.add_seconds(30 * DAY).date();
    let text = email["text"].as_str().unwrap();
    let html = email["html"].as_str().unwrap();
    assert!(
        text.contains(&format!("It allows 10 users and runs until {end}.")),
        "{text}"
    );
    assert!(
        html.contains("<strong>10 users</strong>") && html.contains(&end),
        "{html}"
    );
    assert!(text.contains("no air-gapped use"), "{text}");
    assert!(text.contains("Deployments:  dep-mail"), "{text}");
    assert!(
        text.contains("coder-license apply -f license.jwt"),
        "{text}"
    );
    let attachments = email["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["fileName"], "license.jwt");
    let attached = maildev.attachment(email).await;
    assert_eq!(attached.trim(), license["token"].as_str().unwrap());
    let claims = verify(&app, attached.trim(), now);
    assert!(claims.trial);
    assert_eq!(claims.features.get("user_limit"), Some(&10));
    assert_eq!(claims.license_expires, now.add_seconds(30 * DAY));
    assert_eq!(claims.sub.as_str(), "ada@engines.example");

    // The evaluation: its seats and term, and no check-in sentence (air-gapped).
    let email = to("eve@secure.example");
    let end = now.add_seconds(60 * DAY).date();
    let text = email["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("It allows 25 users and runs until {end}.")),
        "{text}"
    );
    assert!(!text.contains("air-gapped"), "{text}");
    let attached = maildev.attachment(email).await;
    let claims = verify(&app, attached.trim(), now);
    assert!(claims.trial && claims.evaluation && claims.checkin.is_none());

    let sent = outbox(&app).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|m| m["state"] == "sent" && m["attempts"] == 1)
    );
    assert_eq!(
        get(&app, "/api/v1/outbox?state=pending").await["items"],
        json!([])
    );
}
