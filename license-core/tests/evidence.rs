//! Entitlements with what the licensor said: check-in receipts and revocation lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    CheckinPolicy, Context, DeploymentId, Email, Entitlement, Entitlements, Evidence,
    FORMAT_VERSION, FeatureSet, InstalledLicense, Keyring, LicenseClaims, LicenseState,
    ReceiptClaims, ReceiptLicense, ReceiptStatus, RevocationListClaims, RevokedLicense, SigningKey,
    Timestamp, Verifier, sign_license, sign_receipt, sign_revocation_list, verify_receipt,
    verify_revocation_list,
};

const HOUR: i64 = 3600;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(seconds).unwrap()
}

const T0: i64 = 1_800_000_000;

struct World {
    key: SigningKey,
    keyring: Keyring,
    deployment: DeploymentId,
}

impl World {
    fn new() -> Self {
        let key = SigningKey::from_seed(&[33; 32]);
        let mut keyring = Keyring::empty();
        keyring.add(key.key_id().clone(), key.public_key()).unwrap();
        Self {
            key,
            keyring,
            deployment: DeploymentId::parse("dep-trial").unwrap(),
        }
    }

    fn license(&self, id: u128, trial: bool, checkin: Option<CheckinPolicy>) -> InstalledLicense {
        let claims = LicenseClaims {
            iss: "licensor".into(),
            sub: Email::parse("admin@example.com").unwrap(),
            jti: uuid::Uuid::from_u128(id),
            iat: at(T0),
            nbf: at(T0),
            license_expires: at(T0 + 30 * 24 * HOUR),
            exp: at(T0 + 30 * 24 * HOUR),
            version: FORMAT_VERSION,
            account_type: "trial".into(),
            account_id: format!("acct-{id}"),
            deployment_ids: vec![self.deployment.clone()],
            trial,
            feature_set: FeatureSet::Premium,
            features: [("user_limit".to_owned(), 10)].into(),
            require_telemetry: false,
            evaluation: false,
            checkin,
            min_product_version: None,
            sequence: 1,
        };
        let token = sign_license(&claims, &self.key).unwrap();
        InstalledLicense {
            name: format!("license-{id}"),
            verdict: Verifier::new(self.keyring.clone()).verify(&token, at(T0)),
        }
    }

    fn receipt(
        &self,
        iat: i64,
        deployment: &str,
        licenses: &[(u128, ReceiptStatus)],
    ) -> license_core::VerifiedReceipt {
        let claims = ReceiptClaims {
            iss: "licensor".into(),
            jti: uuid::Uuid::new_v4(),
            iat: at(iat),
            deployment_id: DeploymentId::parse(deployment).unwrap(),
            licenses: licenses
                .iter()
                .map(|(id, status)| ReceiptLicense {
                    id: uuid::Uuid::from_u128(*id),
                    status: *status,
                })
                .collect(),
            nonce: None,
        };
        verify_receipt(
            &sign_receipt(&claims, &self.key).unwrap(),
            &self.keyring,
            at(iat),
            300,
        )
        .unwrap()
    }

    fn revocations(&self, sequence: u64, revoked: &[u128]) -> license_core::VerifiedRevocationList {
        let claims = RevocationListClaims {
            iss: "licensor".into(),
            iat: at(T0 + HOUR),
            sequence,
            revoked: revoked
                .iter()
                .map(|id| RevokedLicense {
                    id: uuid::Uuid::from_u128(*id),
                    revoked_at: at(T0 + HOUR),
                })
                .collect(),
        };
        verify_revocation_list(
            &sign_revocation_list(&claims, &self.key).unwrap(),
            &self.keyring,
            at(T0 + HOUR),
            300,
        )
        .unwrap()
    }

    fn compute(
        &self,
        installed: &[InstalledLicense],
        now: i64,
        evidence: Evidence<'_>,
    ) -> Entitlements {
        let mut context = Context::at(at(now));
        context.deployment_id = Some(&self.deployment);
        Entitlements::compute_with(installed, &context, &evidence)
    }
}

fn checkin() -> Option<CheckinPolicy> {
    Some(CheckinPolicy {
        interval_secs: 24 * HOUR as u64,
        max_offline_secs: 72 * HOUR as u64,
    })
}

#[test]
fn a_trial_with_a_fresh_receipt_is_entitled() {
    let w = World::new();
    let installed = [w.license(1, true, checkin())];
    let receipt = w.receipt(T0 + 10 * HOUR, "dep-trial", &[(1, ReceiptStatus::Active)]);
    let e = w.compute(
        &installed,
        T0 + 20 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
    );
    assert!(e.is_valid(), "{:?}", e.errors);
    assert_eq!(e.licenses[0].state, LicenseState::Active);
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert!(e.trial);
    assert_eq!(e.high_water_mark, at(T0 + 20 * HOUR));
    // Exactly at the edge of the offline window it still grants.
    let e = w.compute(
        &installed,
        T0 + 10 * HOUR + 72 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
    );
    assert!(e.is_valid(), "{:?}", e.errors);
}

#[test]
fn a_stale_receipt_stops_the_trial_with_a_clear_error() {
    let w = World::new();
    let installed = [w.license(1, true, checkin())];
    let receipt = w.receipt(T0 + 10 * HOUR, "dep-trial", &[(1, ReceiptStatus::Active)]);
    let e = w.compute(
        &installed,
        T0 + 10 * HOUR + 73 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
    );
    assert!(!e.is_valid());
    assert_eq!(e.licenses[0].state, LicenseState::CheckinRequired);
    assert_eq!(e.entitlement("audit_log"), Entitlement::NotEntitled);
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    let error = &e.errors[0];
    for part in [
        "requires regular check-ins",
        "73 hours ago",
        "allows 72 hours",
        "coder-license checkin",
    ] {
        assert!(error.contains(part), "{part:?} in {error}");
    }
}

#[test]
fn without_a_receipt_or_with_a_foreign_one_a_checkin_license_grants_nothing() {
    let w = World::new();
    let installed = [w.license(1, true, checkin())];
    let e = w.compute(&installed, T0 + HOUR, Evidence::default());
    assert_eq!(e.licenses[0].state, LicenseState::CheckinRequired);
    assert!(
        e.errors[0].contains("no check-in receipt is installed"),
        "{:?}",
        e.errors
    );

    let elsewhere = w.receipt(T0 + HOUR, "dep-other", &[(1, ReceiptStatus::Active)]);
    let e = w.compute(
        &installed,
        T0 + 2 * HOUR,
        Evidence {
            receipt: Some(&elsewhere),
            revocations: None,
        },
    );
    assert_eq!(e.licenses[0].state, LicenseState::CheckinRequired);
    assert!(
        e.errors[0].contains("for deployment dep-other, not this one"),
        "{:?}",
        e.errors
    );

    let unlisted = w.receipt(T0 + HOUR, "dep-trial", &[(2, ReceiptStatus::Active)]);
    let e = w.compute(
        &installed,
        T0 + 2 * HOUR,
        Evidence {
            receipt: Some(&unlisted),
            revocations: None,
        },
    );
    assert!(e.errors[0].contains("does not list it"), "{:?}", e.errors);

    // A license without the requirement (air-gapped evaluation, paid) needs no receipt.
    let air_gapped = [w.license(3, true, None)];
    assert!(
        w.compute(&air_gapped, T0 + HOUR, Evidence::default())
            .is_valid()
    );
}

#[test]
fn a_license_revoked_by_the_list_or_a_receipt_grants_nothing() {
    let w = World::new();
    let installed = [w.license(1, false, None)];
    let list = w.revocations(3, &[1]);
    let e = w.compute(
        &installed,
        T0 + 2 * HOUR,
        Evidence {
            receipt: None,
            revocations: Some(&list),
        },
    );
    assert_eq!(e.licenses[0].state, LicenseState::Revoked);
    assert!(!e.has_license && !e.is_valid());
    assert!(
        e.errors[0].contains("was revoked by the licensor on"),
        "{:?}",
        e.errors
    );
    assert_eq!(e.entitlement("audit_log"), Entitlement::NotEntitled);

    let receipt = w.receipt(T0 + HOUR, "dep-trial", &[(1, ReceiptStatus::Revoked)]);
    let e = w.compute(
        &installed,
        T0 + 2 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
    );
    assert_eq!(e.licenses[0].state, LicenseState::Revoked);
    assert!(e.errors[0].contains("reported revoked"), "{:?}", e.errors);

    // A list that does not name it changes nothing.
    let other = w.revocations(4, &[9]);
    assert!(
        w.compute(
            &installed,
            T0 + 2 * HOUR,
            Evidence {
                receipt: None,
                revocations: Some(&other)
            }
        )
        .is_valid()
    );
}

#[test]
fn a_revoked_license_beside_a_good_one_is_a_warning_and_evidence_raises_the_high_water_mark() {
    let w = World::new();
    let installed = [w.license(1, false, None), w.license(2, false, None)];
    let list = w.revocations(1, &[1]);
    let e = w.compute(
        &installed,
        T0 + 2 * HOUR,
        Evidence {
            receipt: None,
            revocations: Some(&list),
        },
    );
    assert!(e.is_valid(), "{:?}", e.errors);
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("was revoked") && w.contains("coder-license remove")),
        "{:?}",
        e.warnings
    );
    let receipt = w.receipt(T0 + 5 * HOUR, "dep-trial", &[]);
    let e = w.compute(
        &installed,
        T0 + 5 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: Some(&list),
        },
    );
    assert_eq!(e.high_water_mark, at(T0 + 5 * HOUR));
}
