//! One person, one trial, however the address is spelled (issue 12, finding 5): provider
//! rules, IDNA and NFKC give each mailbox one normal form, used by the once-per-email rule,
//! blocked domains and the domain limit.

use crate::helpers::{
    expect_field_error, grant, on_both_backends, refuse, send_trial, spawn, trial_body, trials,
};
use crate::support::Kind;
use license_server::service::trial_rules::TrialPolicy;
use reqwest::StatusCode;

on_both_backends!(
    spellings_of_one_mailbox_get_one_trial,
    blocked_domains_and_the_domain_limit_use_the_normal_form,
    look_alike_domains_are_refused,
);

async fn spellings_of_one_mailbox_get_one_trial(kind: Kind) {
    let (app, _clock) = spawn(kind, TrialPolicy::default()).await;
    for (i, (first, again)) in [
        ("alice@gmail.com", "a.lice@gmail.com"),
        ("bob@bücher.example", "bob@xn--bcher-kva.example"),
        ("carol@example.com", "carol@ｅｘａｍｐｌｅ.com"),
        ("dan@gmail.com", "D.an+x@googlemail.com"),
    ]
    .into_iter()
    .enumerate()
    {
        grant(&app, first, &format!("dep-{i}-first")).await;
        refuse(
            &app,
            again,
            &format!("dep-{i}-again"),
            StatusCode::CONFLICT,
            "trial_used_for_email",
        )
        .await;
    }
    let shown = trials(&app, &[("email", "bob@BÜCHER.example")]).await;
    assert_eq!(shown.len(), 2, "searched by the normal form");
    assert_eq!(shown[0]["email_domain"], "xn--bcher-kva.example");
}

async fn blocked_domains_and_the_domain_limit_use_the_normal_form(kind: Kind) {
    let policy = TrialPolicy {
        blocked_domains: ["xn--bcher-kva.example".to_owned()].into(),
        domain_limit: 1,
        ..TrialPolicy::default()
    };
    let (app, _clock) = spawn(kind, policy).await;
    refuse(
        &app,
        "eve@BÜCHER.example",
        "dep-b",
        StatusCode::UNPROCESSABLE_ENTITY,
        "email_domain_blocked",
    )
    .await;
    grant(&app, "one@example.com", "dep-1").await;
    refuse(
        &app,
        "two@ｅｘａｍｐｌｅ.com",
        "dep-2",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
}

async fn look_alike_domains_are_refused(kind: Kind) {
    let (app, _clock) = spawn(kind, TrialPolicy::default()).await;
    // "pаypal" with a Cyrillic а.
    let response = send_trial(&app, &trial_body("eve@p\u{430}ypal.com", "dep-1")).await;
    let message = expect_field_error(response, "email").await;
    assert!(message.contains("writing systems"), "{message}");
    assert!(trials(&app, &[]).await.is_empty());
}
