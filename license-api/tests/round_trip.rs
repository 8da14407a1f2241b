//! Each type against JSON the OpenAPI document (`license-server/src/api/openapi.json`)
//! shows: it reads the document's example, and writes back the same JSON (with the defaults
//! the server fills in made explicit). Request bodies refuse unknown fields, as the server does.

#![allow(clippy::unwrap_used, clippy::panic)]

use license_api::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Reads `input`, writes it back, and compares with `output`.
fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(
    input: &Value,
    output: &Value,
) -> T {
    let value: T = serde_json::from_value(input.clone())
        .unwrap_or_else(|e| panic!("{} does not read {input}: {e}", std::any::type_name::<T>()));
    assert_eq!(&serde_json::to_value(&value).unwrap(), output, "{value:?}");
    value
}

/// A request body with a field the server does not know is refused.
fn refuses_unknown_fields<T: DeserializeOwned + std::fmt::Debug>(input: &Value) {
    let mut extra = input.clone();
    extra["surprise"] = json!(1);
    let err = serde_json::from_value::<T>(extra).unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
}

#[test]
fn create_account_request() {
    // components.schemas.CreateAccountRequest.example
    let example = json!({"name": "Acme Corp", "email": "licensing@acme.example"});
    let request: CreateAccountRequest = round_trip(&example, &example);
    assert_eq!(request.account_type, None);
    let typed =
        json!({"name": "Acme Corp", "email": "licensing@acme.example", "type": "salesforce"});
    round_trip::<CreateAccountRequest>(&typed, &typed);
    refuses_unknown_fields::<CreateAccountRequest>(&example);
}

#[test]
fn account_view_and_page() {
    // components.schemas.Account.example
    let account = json!({"id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34", "name": "Acme Corp",
        "email": "licensing@acme.example", "type": "licensor", "license_sequence": 0,
        "created_at": "2025-12-15T09:28:40Z"});
    let view: AccountView = round_trip(&account, &account);
    assert_eq!(view.account_type, "licensor");
    // components.schemas.AccountPage: `next_cursor` is required, null on the last page.
    let page = json!({"items": [account], "next_cursor": null});
    let page: Page<AccountView> = round_trip(&page, &page);
    assert_eq!(page.items, [view]);
    let more = json!({"items": [], "next_cursor": "MjAyNQ"});
    round_trip::<Page<AccountView>>(&more, &more);
}

#[test]
fn issue_request() {
    // components.schemas.IssueLicenseRequest.example
    let example = json!({"account_id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34",
        "email": "ops@acme.example", "feature_set": "premium", "user_limit": 250,
        "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z",
        "grace_days": 30});
    let mut full = example.clone();
    full["features"] = json!({});
    full["deployment_ids"] = json!([]);
    full["trial"] = json!(false);
    let request: IssueRequest = round_trip(&example, &full);
    assert_eq!(request.starts_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    refuses_unknown_fields::<IssueRequest>(&example);
    // `starts_at` may be left out (the server starts the term when it issues).
    let mut now = full.clone();
    now.as_object_mut().unwrap().remove("starts_at");
    let request: IssueRequest = round_trip(&now, &now);
    assert_eq!(request.starts_at, None);
    // Only the documented required fields are required.
    let minimal = json!({"account_id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34",
        "email": "ops@acme.example", "user_limit": 1, "expires_at": "2027-01-01T00:00:00Z"});
    let request: IssueRequest = serde_json::from_value(minimal).unwrap();
    assert_eq!(request.feature_set, license_core::FeatureSet::None);
    assert_eq!(serde_json::to_value(request).unwrap()["feature_set"], "");
}

#[test]
fn reissue_request() {
    // components.schemas.ReissueLicenseRequest.example; `{}` reissues the same terms.
    let example = json!({"expires_at": "2028-01-01T00:00:00Z", "user_limit": 400});
    let nulls = json!({"email": null, "feature_set": null, "features": null,
        "user_limit": 400, "starts_at": null, "expires_at": "2028-01-01T00:00:00Z",
        "grace_days": null, "deployment_ids": null});
    let request: ReissueRequest = round_trip(&example, &nulls);
    assert_eq!(request.user_limit, Some(400));
    round_trip::<ReissueRequest>(&nulls, &nulls);
    let empty: ReissueRequest = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty, ReissueRequest::default());
    refuses_unknown_fields::<ReissueRequest>(&example);
}

#[test]
fn revoke_request() {
    // components.schemas.RevokeLicenseRequest.example
    let example = json!({"reason": "contract terminated"});
    round_trip::<RevokeRequest>(&example, &example);
    refuses_unknown_fields::<RevokeRequest>(&example);
}

fn license_example() -> Value {
    // components.schemas.License.example
    json!({"id": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e",
        "account_id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34", "email": "ops@acme.example",
        "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InhyQW9MQktlc2RTNUJwQnQ2aE9xQWl6RDlONlcxeXdpUzNOa3FGdmxqTnciLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJsaWNlbnNvciIsIi4uLiI6Ii4uLiJ9.c2lnbmF0dXJl",
        "key_id": "xrAoLBKesdS5BpBt6hOqAizD9N6W1ywiS3NkqFvljNw", "feature_set": "premium",
        "features": {"user_limit": 250}, "user_limit": 250, "deployment_ids": [],
        "trial": false, "evaluation": false, "sequence": 1,
        "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z",
        "grace_ends_at": "2027-01-31T00:00:00Z", "issued_at": "2025-12-15T09:30:12Z",
        "issued_by": "alice", "status": "active", "revoked_at": null, "revoke_reason": null,
        "supersedes": null})
}

#[test]
fn license_view_with_and_without_token() {
    let example = license_example();
    let view: LicenseView = round_trip(&example, &example);
    assert_eq!(view.status, LicenseStatus::Active);
    assert!(view.token.is_some());
    // In lists and revoke answers the token is absent, not null.
    let mut listed = example.clone();
    listed.as_object_mut().unwrap().remove("token");
    listed["status"] = json!("revoked");
    listed["revoked_at"] = json!("2026-02-01T00:00:00Z");
    listed["revoke_reason"] = json!("contract terminated");
    listed["supersedes"] = json!("5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34");
    let page = json!({"items": [listed], "next_cursor": null});
    let page: Page<LicenseView> = round_trip(&page, &page);
    assert_eq!(page.items[0].status, LicenseStatus::Revoked);
    for status in ["active", "revoked", "superseded"] {
        let parsed: LicenseStatus = serde_json::from_value(json!(status)).unwrap();
        assert_eq!(parsed.as_str(), status);
    }
}

#[test]
fn trial_request_and_answer() {
    // components.schemas.TrialRequest (its property examples).
    let request = json!({"email": "ada@engines.example", "first_name": "Ada",
        "last_name": "Lovelace", "company": "Engines", "country": "DE", "developers": "11-50",
        "deployment_id": "7c6d1a2e-3f4b-4c5d-8e9f-0a1b2c3d4e5f", "product_version": "2.16.1"});
    round_trip::<TrialRequest>(&request, &request);
    refuses_unknown_fields::<TrialRequest>(&request);
    // components.schemas.TrialAccepted.
    let accepted = json!({"trial_id": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e",
        "status": "granted", "email": "ada@engines.example",
        "expires_at": "2026-01-01T00:00:00Z", "user_limit": 10, "evaluation": false,
        "checkin_required": true, "message": "The trial license is on its way."});
    let accepted: TrialAccepted = round_trip(&accepted.clone(), &accepted);
    assert!(accepted.checkin_required);
}

#[test]
fn enroll_and_end_evaluation() {
    // components.schemas.EnrollRequest (`email_domain`'s example, every TrialRule name).
    let request = json!({"account_id": null, "email": null, "email_domain": "bigco.example",
        "reason": "pilot", "approved_by": "sales-lead", "starts_at": null,
        "ends_at": "2026-01-01T00:00:00Z",
        "waives": ["one_trial_per_deployment", "one_trial_per_email", "domain_limit",
            "min_product_version", "checkin", "blocked_domains"],
        "max_term_days": 60, "user_limit": null});
    let enroll: EnrollRequest = round_trip(&request, &request);
    assert_eq!(enroll.waives, TrialRule::ALL);
    for rule in TrialRule::ALL {
        assert_eq!(serde_json::to_value(rule).unwrap(), rule.as_str());
    }
    refuses_unknown_fields::<EnrollRequest>(&request);
    let end = json!({"reason": "pilot over"});
    round_trip::<EndEvaluationRequest>(&end, &end);
    refuses_unknown_fields::<EndEvaluationRequest>(&end);
}

#[test]
fn checkin_request_and_answer() {
    // components.schemas.CheckinRequest; `nonce` may be left out.
    let request = json!({"deployment_id": "7c6d1a2e-3f4b-4c5d-8e9f-0a1b2c3d4e5f",
        "license_ids": ["0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e"], "active_users": 42,
        "product_version": "2.16.0", "nonce": "5f2b"});
    round_trip::<CheckinRequest>(&request, &request);
    refuses_unknown_fields::<CheckinRequest>(&request);
    let mut without = request.clone();
    without.as_object_mut().unwrap().remove("nonce");
    let mut as_null = without.clone();
    as_null["nonce"] = Value::Null;
    round_trip::<CheckinRequest>(&without, &as_null);
    // components.schemas.CheckinResponse and Revocations.
    let answer = json!({"receipt": "a.b.c", "server_time": "2026-01-01T00:00:00Z",
        "deployment_id": "7c6d1a2e-3f4b-4c5d-8e9f-0a1b2c3d4e5f",
        "licenses": [{"id": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e", "status": "revoked"}],
        "nonce": "5f2b", "renewals": [{"license_id": "1b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e",
        "supersedes": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e", "token": "a.b.c",
        "expires_at": "2028-01-01T00:00:00Z"}]});
    let answer: CheckinResponse = round_trip(&answer.clone(), &answer);
    assert_eq!(answer.renewals[0].token, "a.b.c");
    // A licensor without license sync sends no `renewals`: read as none.
    let mut older = serde_json::to_value(&answer).unwrap();
    older.as_object_mut().unwrap().remove("renewals");
    let older: CheckinResponse = serde_json::from_value(older).unwrap();
    assert!(older.renewals.is_empty());
    assert_eq!(
        answer.licenses[0].status,
        license_core::ReceiptStatus::Revoked
    );
    let list = json!({"revocation_list": "a.b.c", "sequence": 3});
    round_trip::<Revocations>(&list, &list);
}

#[test]
fn usage_report() {
    // components.schemas.LicenseUsage.example; a range without check-ins has a null peak date.
    let empty = json!({"license_id": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e",
        "account_id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34", "user_limit": null,
        "from": "2026-01-01", "to": "2026-12-31", "days_reported": 0, "peak_users": 0,
        "peak_date": null, "p95_users": 0, "days_over_limit": 0, "deployments": [],
        "daily": []});
    let view: LicenseUsageView = round_trip(&empty, &empty);
    assert_eq!(view.peak_date, None);
}

#[test]
fn error_body() {
    // components.schemas.Error (its property examples).
    let error = json!({"error": {"code": "invalid_field",
        "message": "field `user_limit`: -1 is out of range; use 0 to 10000000"}});
    let body: ErrorBody = round_trip(&error, &error);
    assert_eq!(body.error.code, "invalid_field");
}

/// The OpenAPI document itself: every documented example reads, and each type writes exactly
/// the documented properties (no more, no fewer).
#[test]
fn matches_the_openapi_document() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../license-server/src/api/openapi.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let schemas = &document["components"]["schemas"];
    fn check<T: Serialize + DeserializeOwned + std::fmt::Debug>(
        schemas: &Value,
        name: &str,
        full: Value,
    ) {
        let schema = &schemas[name];
        if let Some(example) = schema.get("example") {
            serde_json::from_value::<T>(example.clone())
                .unwrap_or_else(|e| panic!("the example of {name} does not read: {e}"));
        }
        let documented: std::collections::BTreeSet<&str> = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no properties"))
            .keys()
            .map(String::as_str)
            .collect();
        let value: T = serde_json::from_value(full).unwrap();
        let written = serde_json::to_value(&value).unwrap();
        let written: std::collections::BTreeSet<&str> = written
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(written, documented, "{name}");
    }
    let typed_account = json!({"name": "A", "email": "a@example.com", "type": "licensor"});
    check::<CreateAccountRequest>(schemas, "CreateAccountRequest", typed_account);
    let account = json!({"id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34", "name": "A",
        "email": "a@example.com", "type": "licensor", "license_sequence": 0,
        "created_at": "2025-12-15T09:28:40Z"});
    check::<AccountView>(schemas, "Account", account);
    let issue = json!({"account_id": "5d0f3c1e-8a4b-4f7e-b0a2-2c9d7e6f1a34",
        "email": "a@example.com", "user_limit": 1, "starts_at": "2026-01-01T00:00:00Z",
        "expires_at": "2027-01-01T00:00:00Z"});
    check::<IssueRequest>(schemas, "IssueLicenseRequest", issue);
    check::<ReissueRequest>(schemas, "ReissueLicenseRequest", json!({}));
    check::<RevokeRequest>(schemas, "RevokeLicenseRequest", json!({"reason": "r"}));
    check::<LicenseView>(schemas, "License", license_example());
    let trial = json!({"email": "a@example.com", "first_name": "A", "last_name": "B",
        "company": "C", "country": "DE", "developers": "1-10", "deployment_id": "d",
        "product_version": "2.16.0"});
    check::<TrialRequest>(schemas, "TrialRequest", trial);
    let accepted = json!({"trial_id": "0b6c1c52-3f5e-4a8e-9a39-6f0f5f1b2d7e",
        "status": "granted", "email": "a@example.com", "expires_at": "2026-01-01T00:00:00Z",
        "user_limit": 10, "evaluation": false, "checkin_required": true, "message": "m"});
    check::<TrialAccepted>(schemas, "TrialAccepted", accepted);
    let enroll = json!({"email_domain": "bigco.example", "reason": "r", "approved_by": "b",
        "ends_at": "2026-01-01T00:00:00Z"});
    check::<EnrollRequest>(schemas, "EnrollRequest", enroll);
    check::<EndEvaluationRequest>(schemas, "EndEvaluationRequest", json!({"reason": "r"}));
    let checkin = json!({"deployment_id": "d", "license_ids": [], "active_users": 0,
        "product_version": "2.16.0"});
    check::<CheckinRequest>(schemas, "CheckinRequest", checkin);
    let answer = json!({"receipt": "a.b.c", "server_time": "2026-01-01T00:00:00Z",
        "deployment_id": "d", "licenses": [], "nonce": null, "renewals": []});
    check::<CheckinResponse>(schemas, "CheckinResponse", answer);
    let renewal = json!({"license_id": "l", "supersedes": "o", "token": "a.b.c",
        "expires_at": "2026-01-01T00:00:00Z"});
    check::<Renewal>(schemas, "Renewal", renewal);
    let usage = schemas["LicenseUsage"]["example"].clone();
    check::<LicenseUsageView>(schemas, "LicenseUsage", usage.clone());
    check::<UsageDayView>(schemas, "UsageDay", usage["daily"][0].clone());
    check::<DeploymentUsageView>(schemas, "DeploymentUsage", usage["deployments"][0].clone());
    let account = json!({"account_id": "a", "from": "2026-01-01", "to": "2026-12-31",
        "licenses": [usage]});
    check::<AccountUsageView>(schemas, "AccountUsage", account);
    check::<Revocations>(
        schemas,
        "Revocations",
        json!({"revocation_list": "a", "sequence": 0}),
    );
    let error = json!({"error": {"code": "c", "message": "m"}});
    check::<ErrorBody>(schemas, "Error", error);
}
