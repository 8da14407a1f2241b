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
        self.license_on(id, trial, checkin, &format!("acct-{id}"), 1, 10)
    }

    /// License `id` of `account`, its `sequence`-th, for `seats` users.
    fn license_on(
        &self,
        id: u128,
        trial: bool,
        checkin: Option<CheckinPolicy>,
        account: &str,
        sequence: u64,
        seats: i64,
    ) -> InstalledLicense {
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
            account_id: account.to_owned(),
            deployment_ids: vec![self.deployment.clone()],
            trial,
            feature_set: FeatureSet::Premium,
            features: [("user_limit".to_owned(), seats)].into(),
            require_telemetry: false,
            evaluation: false,
            checkin,
            min_product_version: None,
            sequence,
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
        self.revocations_at(T0 + HOUR, sequence, revoked)
    }

    fn revocations_at(
        &self,
        iat: i64,
        sequence: u64,
        revoked: &[u128],
    ) -> license_core::VerifiedRevocationList {
        let claims = RevocationListClaims {
            iss: "licensor".into(),
            iat: at(iat),
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
            at(iat),
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
    let list = w.revocations_at(T0 + 10 * HOUR, 0, &[]);
    let e = w.compute(
        &installed,
        T0 + 20 * HOUR,
        Evidence {
            receipt: Some(&receipt),
            revocations: Some(&list),
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
            revocations: Some(&list),
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

/// Finding 4 of issue 12: a revocation list ages. For a license that requires check-ins, a
/// list older than the offline window, or none, is a missed check-in, however fresh the
/// receipt: an old list cannot hide a revocation.
#[test]
fn a_trials_stale_revocation_list_is_a_missed_checkin() {
    let w = World::new();
    let installed = [w.license(1, true, checkin())];
    let now = T0 + 100 * HOUR;
    let receipt = w.receipt(now - HOUR, "dep-trial", &[(1, ReceiptStatus::Active)]);
    let judge = |list: Option<&license_core::VerifiedRevocationList>| {
        w.compute(
            &installed,
            now,
            Evidence {
                receipt: Some(&receipt),
                revocations: list,
            },
        )
    };
    let fresh = w.revocations_at(now - HOUR, 7, &[]);
    assert!(
        judge(Some(&fresh)).is_valid(),
        "{:?}",
        judge(Some(&fresh)).errors
    );

    let stale = w.revocations_at(now - 73 * HOUR, 7, &[]);
    let e = judge(Some(&stale));
    assert_eq!(e.licenses[0].state, LicenseState::CheckinRequired);
    assert!(!e.is_valid());
    for part in [
        "revocation list was signed at",
        "73 hours ago",
        "allows 72 hours",
    ] {
        assert!(e.errors[0].contains(part), "{part:?} in {:?}", e.errors);
    }
    let e = judge(None);
    assert_eq!(e.licenses[0].state, LicenseState::CheckinRequired);
    assert!(
        e.errors[0].contains("no revocation list is installed"),
        "{:?}",
        e.errors
    );

    // A license without the requirement is judged by whatever list it has.
    let paid = [w.license(2, false, None)];
    let e = w.compute(
        &paid,
        now,
        Evidence {
            receipt: None,
            revocations: Some(&stale),
        },
    );
    assert!(e.is_valid(), "{:?}", e.errors);
}

/// Finding 1 of issue 12: L1 (500 seats) reissued as L2 (10 seats); L2 revoked. A receipt
/// that reports L1 superseded keeps it dead, whether L2 is installed beside it (and revoked)
/// or removed; a list naming the whole chain does too.
#[test]
fn a_superseded_license_never_grants_again_when_its_successor_is_revoked_or_removed() {
    let w = World::new();
    let l1 = || w.license_on(1, false, None, "acct-a", 1, 500);
    let l2 = || w.license_on(2, false, None, "acct-a", 2, 10);
    // Both installed, both granting: the reissue replaces the original.
    let e = w.compute(&[l1(), l2()], T0 + HOUR, Evidence::default());
    assert_eq!(e.features["user_limit"].limit, Some(10));

    let receipt = w.receipt(
        T0 + 2 * HOUR,
        "dep-trial",
        &[(1, ReceiptStatus::Superseded), (2, ReceiptStatus::Revoked)],
    );
    let evidence = Evidence {
        receipt: Some(&receipt),
        revocations: None,
    };
    for installed in [vec![l1(), l2()], vec![l1()]] {
        let e = w.compute(&installed, T0 + 3 * HOUR, evidence);
        assert!(!e.has_license && !e.is_valid(), "{e:#?}");
        assert_eq!(e.licenses[0].state, LicenseState::Superseded);
        assert_eq!(e.entitlement("user_limit"), Entitlement::NotEntitled);
        assert!(
            e.errors.iter().any(|m| m.contains("never grants again")),
            "{:?}",
            e.errors
        );
    }

    // Beside a good license of another account, a superseded one is a warning.
    let other = w.license_on(3, false, None, "acct-b", 1, 20);
    let e = w.compute(&[l1(), other], T0 + 3 * HOUR, evidence);
    assert!(e.is_valid(), "{:?}", e.errors);
    assert_eq!(e.features["user_limit"].limit, Some(20));
    assert!(
        e.warnings
            .iter()
            .any(|m| m.contains("coder-license remove")),
        "{:?}",
        e.warnings
    );

    // The licensor's list names the chain: L2 and the L1 it replaced.
    let list = w.revocations(9, &[2, 1]);
    let e = w.compute(
        &[l1(), l2()],
        T0 + 3 * HOUR,
        Evidence {
            receipt: None,
            revocations: Some(&list),
        },
    );
    assert!(!e.has_license, "{e:#?}");
}
