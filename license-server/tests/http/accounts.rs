//! `/api/v1/accounts`: create, show, list and page.

use crate::helpers::{
    create_account, expect_error, expect_json, get, now, on_both_backends, time, walk_pages,
};
use crate::support::{Kind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;

on_both_backends!(
    create_show_and_list,
    accounts_page_through_every_item_once,
    names_refuse_control_characters,
);

async fn create_show_and_list(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let before = now();

    let created = create_account(&app, "  Acme Corp  ", "billing@acme.example").await;
    let id = created["id"].as_str().unwrap();
    uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(created["name"], "Acme Corp", "the name is trimmed");
    assert_eq!(created["email"], "billing@acme.example");
    assert_eq!(created["type"], "licensor", "the default type");
    assert_eq!(created["license_sequence"], 0);
    let created_at = time(&created["created_at"]);
    assert!(created_at >= before && created_at <= now(), "{created}");

    let response = app
        .admin(Method::POST, "/api/v1/accounts")
        .json(&json!({ "name": "Globex", "email": "it@globex.example", "type": "salesforce" }))
        .send()
        .await
        .unwrap();
    let other = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(other["type"], "salesforce");

    let shown = get(&app, &format!("/api/v1/accounts/{id}")).await;
    assert_eq!(shown, created);

    let list = get(&app, "/api/v1/accounts").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(items.contains(&created) && items.contains(&other), "{list}");
    assert!(list["next_cursor"].is_null(), "{list}");

    let missing = uuid::Uuid::new_v4();
    let response = app
        .admin(Method::GET, &format!("/api/v1/accounts/{missing}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains(&missing.to_string()), "{message}");
}

async fn accounts_page_through_every_item_once(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let mut created = BTreeSet::new();
    for n in 0..7 {
        let account =
            create_account(&app, &format!("Customer {n}"), &format!("c{n}@example.com")).await;
        created.insert(account["id"].as_str().unwrap().to_owned());
    }
    for limit in [1, 2, 3, 7, 500] {
        let ids = walk_pages(&app, "/api/v1/accounts", &[], limit).await;
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), 7, "limit {limit}: {ids:?}");
        assert_eq!(unique, created, "limit {limit}");
    }
}

/// Issue #12, finding 12: a name of control characters was accepted with 201; names end up
/// in email headers and bodies.
async fn names_refuse_control_characters(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    for name in [
        "Acme\u{7}Corp",
        "Acme\r\nBcc: x@evil.example",
        "\u{1b}[31mred",
    ] {
        let response = app
            .admin(Method::POST, "/api/v1/accounts")
            .json(&json!({ "name": name, "email": "ops@acme.example" }))
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(message.contains("`name`"), "{name:?}: {message}");
    }
    let listed = get(&app, "/api/v1/accounts").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}
