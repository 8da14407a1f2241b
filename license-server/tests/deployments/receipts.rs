//! Check-in receipts: verified with `license-core` against the published keys, they name the
//! deployment, each reported license with its status, the server time and the nonce; altered
//! receipts are refused, and a receipt and a license cannot stand in for each other.

use crate::helpers::{
    checkin, checkin_body, create_account, expect_json, get, issue_license, now, on_both_backends,
    published_keyring, receipt_of, revocation_list, revoke, send_checkin, spawn, time, with,
};
use crate::support::Kind;
use license_core::jws::JwsError;
use license_core::{
    ArtefactError, DAY, Keyring, LICENSE_TYP, RECEIPT_TYP, ReceiptStatus, SigningKey, Verifier,
    VerifyError, base64url, verify_receipt, verify_revocation_list,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    the_receipt_names_each_license_with_its_status,
    an_altered_receipt_is_refused,
    receipts_and_licenses_cannot_stand_in_for_each_other,
    the_nonce_is_echoed_when_given,
);

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&base64url::decode(header).unwrap()).unwrap()
}

async fn the_receipt_names_each_license_with_its_status(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    // The licensor refuses to sign a term that has already ended, so the expired license is
    // issued first, for ten days without grace, and the clock then moves past its end.
    let (expired, _) = issue_license(
        &app,
        &account,
        now(&clock),
        json!({
            "starts_at": now(&clock).rfc3339(),
            "expires_at": now(&clock).add_seconds(10 * DAY).rfc3339(),
            "grace_days": 0,
        }),
    )
    .await;
    // Ends its term in five days with seven of grace: in its grace period at the check-in.
    let (in_grace, _) = issue_license(
        &app,
        &account,
        now(&clock),
        json!({
            "starts_at": now(&clock).rfc3339(),
            "expires_at": now(&clock).add_seconds(5 * DAY).rfc3339(),
            "grace_days": 7,
        }),
    )
    .await;
    clock.advance(10 * DAY + 1);
    let at = now(&clock);
    let (active, _) = issue_license(&app, &account, at, json!({})).await;
    let (revoked, _) = issue_license(&app, &account, at, json!({})).await;
    revoke(&app, &revoked).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (elsewhere, _) = issue_license(
        &app,
        &account,
        at,
        json!({ "deployment_ids": ["dep-other"] }),
    )
    .await;
    let (bound_here, _) = issue_license(
        &app,
        &account,
        at,
        json!({ "deployment_ids": ["dep-other", "dep-r"], "user_limit": 40 }),
    )
    .await;

    let reported = [
        active.as_str(),
        &revoked,
        &expired,
        &in_grace,
        &unknown,
        &elsewhere,
        &bound_here,
        &active, // reported twice: listed once
    ];
    let body = with(
        &checkin_body("dep-r", &reported, 12),
        "nonce",
        Some(json!("n-0123456789abcdef")),
    );
    let answer = expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;

    let keyring = published_keyring(&app).await;
    let receipt = receipt_of(&answer, &keyring, at);
    let claims = receipt.claims();
    assert_eq!(claims.iss, "licensor-test");
    assert_eq!(claims.deployment_id.as_str(), "dep-r");
    assert_eq!(claims.iat, at, "the server's time");
    assert_eq!(time(&answer["server_time"]), claims.iat);
    assert_eq!(claims.nonce.as_deref(), Some("n-0123456789abcdef"));
    assert_eq!(answer["nonce"], "n-0123456789abcdef");
    assert_eq!(receipt.key_id(), app.signing_key.key_id());
    let header = header_of(answer["receipt"].as_str().unwrap());
    assert_eq!(header["typ"], RECEIPT_TYP, "{header}");
    assert_eq!(header["alg"], "EdDSA", "{header}");

    let expected = [
        (&active, ReceiptStatus::Active),
        (&revoked, ReceiptStatus::Revoked),
        (&expired, ReceiptStatus::Expired),
        (&in_grace, ReceiptStatus::Active),
        (&unknown, ReceiptStatus::Unknown),
        (&elsewhere, ReceiptStatus::BoundElsewhere),
        (&bound_here, ReceiptStatus::Active),
    ];
    let listed: Vec<(String, ReceiptStatus)> = claims
        .licenses
        .iter()
        .map(|l| (l.id.to_string(), l.status))
        .collect();
    let expected_listed: Vec<(String, ReceiptStatus)> =
        expected.iter().map(|(id, s)| ((*id).clone(), *s)).collect();
    assert_eq!(listed, expected_listed, "in the order reported, each once");
    for (id, status) in &expected {
        let id = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(receipt.status_of(id), Some(*status));
    }
    // The answer's plain `licenses` says what the signed receipt says.
    let plain: Vec<(String, String)> = answer["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let wire = |s: ReceiptStatus| {
        serde_json::to_value(s)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let signed: Vec<(String, String)> = listed
        .iter()
        .map(|(id, s)| (id.clone(), wire(*s)))
        .collect();
    assert_eq!(plain, signed);
    assert_eq!(
        signed.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        [
            "active",
            "revoked",
            "expired",
            "active",
            "unknown",
            "bound_elsewhere",
            "active"
        ]
    );

    // The deployment's seats and account come from the licenses that are active for it.
    let shown = get(&app, "/api/v1/deployments/dep-r").await;
    assert_eq!(shown["user_limit"], 40, "{shown}");
    assert_eq!(shown["account_id"], account.as_str(), "{shown}");
    let unknown_entry = shown["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == unknown.as_str())
        .unwrap();
    assert_eq!(unknown_entry["known"], false, "{shown}");
    assert!(unknown_entry["status"].is_null(), "{shown}");

    // Every receipt has an id of its own.
    clock.advance(5);
    let again = checkin(&app, "dep-r", &[&active], 12).await;
    let second = receipt_of(&again, &keyring, now(&clock));
    assert_ne!(second.claims().jti, claims.jti);
    assert_eq!(second.claims().iat, at.add_seconds(5));
}

async fn an_altered_receipt_is_refused(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let at = now(&clock);
    let (license, _) = issue_license(&app, &account, at, json!({})).await;
    revoke(&app, &license).await;
    let answer = checkin(&app, "dep-t", &[&license], 3).await;
    let token = answer["receipt"].as_str().unwrap().to_owned();
    let keyring = published_keyring(&app).await;
    let original = receipt_of(&answer, &keyring, at);
    assert_eq!(
        original.status_of(uuid::Uuid::parse_str(&license).unwrap()),
        Some(ReceiptStatus::Revoked)
    );

    // The payload rewritten to say `active`, header and signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(base64url::decode(parts[1]).unwrap()).unwrap();
    assert!(payload.contains("\"revoked\""), "{payload}");
    let forged = payload.replace("\"revoked\"", "\"active\"");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64url::encode(forged.as_bytes()),
        parts[2]
    );
    assert_eq!(
        verify_receipt(&forged, &keyring, at, 0).unwrap_err(),
        ArtefactError::Token(JwsError::BadSignature)
    );
    // Another deployment's name put in.
    let moved = payload.replace("\"dep-t\"", "\"dep-x\"");
    let moved = format!(
        "{}.{}.{}",
        parts[0],
        base64url::encode(moved.as_bytes()),
        parts[2]
    );
    assert!(verify_receipt(&moved, &keyring, at, 0).is_err());
    // One character of each part changed.
    for part in 0..3 {
        let mut altered: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
        let mut bytes = altered[part].clone().into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        altered[part] = String::from_utf8(bytes).unwrap();
        let altered = altered.join(".");
        assert!(
            verify_receipt(&altered, &keyring, at, 0).is_err(),
            "part {part} altered"
        );
    }
    // Truncated, or with the signature dropped.
    assert!(verify_receipt(&token[..token.len() - 4], &keyring, at, 0).is_err());
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert!(verify_receipt(&unsigned, &keyring, at, 0).is_err());

    // A keyring that does not trust the licensor's key refuses the receipt, naming the key.
    let stranger = SigningKey::from_seed(&[7; 32]);
    let mut other = Keyring::empty();
    other
        .add(stranger.key_id().clone(), stranger.public_key())
        .unwrap();
    let err = verify_receipt(&token, &other, at, 0).unwrap_err();
    assert!(
        matches!(err, ArtefactError::Token(JwsError::UnknownKey(_))),
        "{err:?}"
    );
    // A receipt signed by another key under the licensor's key id does not check.
    let mut claims = original.claims().clone();
    claims.licenses[0].status = ReceiptStatus::Active;
    let payload = serde_json::to_vec(&claims).unwrap();
    let header = format!(
        r#"{{"alg":"EdDSA","typ":"{RECEIPT_TYP}","kid":"{}"}}"#,
        app.signing_key.key_id().as_str()
    );
    let signing_input = format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(&payload)
    );
    let signature = stranger.sign(signing_input.as_bytes());
    let impostor = format!("{signing_input}.{}", base64url::encode(&signature));
    assert_eq!(
        verify_receipt(&impostor, &keyring, at, 0).unwrap_err(),
        ArtefactError::Token(JwsError::BadSignature)
    );
    // The receipt was signed at the server's time: a deployment whose clock is far behind is
    // told so.
    let err = verify_receipt(&token, &keyring, at.add_seconds(-3600), 300).unwrap_err();
    assert!(
        matches!(err, ArtefactError::IssuedInFuture { .. }),
        "{err:?}"
    );
}

async fn receipts_and_licenses_cannot_stand_in_for_each_other(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let at = now(&clock);
    let (license, license_token) = issue_license(&app, &account, at, json!({})).await;
    let answer = checkin(&app, "dep-c", &[&license], 3).await;
    let receipt = answer["receipt"].as_str().unwrap();
    let keyring = published_keyring(&app).await;
    let (list_answer, _) = revocation_list(&app, &keyring, at).await;
    let list = list_answer["revocation_list"].as_str().unwrap();

    // Both verify as what they are.
    let verifier = Verifier::new(keyring.clone());
    verifier.verify(&license_token, at).unwrap();
    receipt_of(&answer, &keyring, at);
    assert_eq!(header_of(&license_token)["typ"], LICENSE_TYP);

    // A receipt is not a license.
    let err = verifier.verify(receipt, at).unwrap_err();
    assert!(
        matches!(
            &err,
            VerifyError::Token(JwsError::WrongType { found, .. }) if found == RECEIPT_TYP
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(RECEIPT_TYP), "{err}");
    // A license is not a receipt.
    let err = verify_receipt(&license_token, &keyring, at, 0).unwrap_err();
    assert_eq!(
        err,
        ArtefactError::Token(JwsError::WrongType {
            expected: RECEIPT_TYP,
            found: LICENSE_TYP.to_owned(),
        })
    );
    // Nor is a revocation list either, nor a receipt a revocation list.
    assert!(verify_receipt(list, &keyring, at, 0).is_err());
    assert!(verifier.verify(list, at).is_err());
    assert!(verify_revocation_list(receipt, &keyring, at, 0).is_err());
    assert!(verify_revocation_list(&license_token, &keyring, at, 0).is_err());
}

async fn the_nonce_is_echoed_when_given(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let keyring = published_keyring(&app).await;
    let at = now(&clock);

    let plain = checkin(&app, "dep-n", &[], 1).await;
    assert!(plain["nonce"].is_null(), "{plain}");
    assert_eq!(receipt_of(&plain, &keyring, at).claims().nonce, None);

    let longest = "~".repeat(license_core::MAX_NONCE_LEN);
    for nonce in [
        "a",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        longest.as_str(),
    ] {
        let body = with(&checkin_body("dep-n", &[], 1), "nonce", Some(json!(nonce)));
        let answer = expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;
        assert_eq!(answer["nonce"], nonce);
        let receipt = receipt_of(&answer, &keyring, at);
        assert_eq!(receipt.claims().nonce.as_deref(), Some(nonce));
    }
    // `null` is the same as no nonce.
    let body = with(&checkin_body("dep-n", &[], 1), "nonce", Some(Value::Null));
    let answer = expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;
    assert_eq!(receipt_of(&answer, &keyring, at).claims().nonce, None);
}
