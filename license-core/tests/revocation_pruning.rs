//! The licensor leaves a revoked license off its revocation list once the license's grace
//! period has ended (`revocation_list_cutoff`): the customer side must refuse such a license
//! on its own, with the shorter list installed, on every clock that accepts the list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    DAY, DEFAULT_MAX_CLOCK_SKEW_SECS, Email, FORMAT_VERSION, FeatureSet, Installed, Keyring,
    LicenseClaims, LicenseState, REVOKED_LISTED_AFTER_GRACE_SECS, RevocationListClaims,
    RevokedLicense, SigningKey, Timestamp, evaluate, license_key, revocation_list_cutoff,
    sign_license, sign_revocation_list,
};

const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(seconds).unwrap()
}

struct World {
    key: SigningKey,
    keyring: Keyring,
}

impl World {
    fn new() -> Self {
        let key = SigningKey::from_seed(&[41; 32]);
        let mut keyring = Keyring::empty();
        keyring.add(key.key_id().clone(), key.public_key()).unwrap();
        Self { key, keyring }
    }

    /// License `id`: a 30-day term from T0 and a week's grace.
    fn license(&self, id: u128) -> (uuid::Uuid, Timestamp, String) {
        let jti = uuid::Uuid::from_u128(id);
        let exp = at(T0 + 37 * DAY);
        let claims = LicenseClaims {
            iss: "licensor".into(),
            sub: Email::parse("admin@example.com").unwrap(),
            jti,
            iat: at(T0),
            nbf: at(T0),
            license_expires: at(T0 + 30 * DAY),
            exp,
            version: FORMAT_VERSION,
            account_type: "licensor".into(),
            account_id: format!("acct-{id}"),
            deployment_ids: Vec::new(),
            trial: false,
            feature_set: FeatureSet::Enterprise,
            features: [("user_limit".to_owned(), 10)].into(),
            require_telemetry: false,
            evaluation: false,
            checkin: None,
            min_product_version: None,
            sequence: 1,
        };
        (jti, exp, sign_license(&claims, &self.key).unwrap())
    }

    /// A list signed at `iat` naming `revoked`, numbered `sequence`.
    fn list(&self, iat: Timestamp, sequence: u64, revoked: &[uuid::Uuid]) -> String {
        let claims = RevocationListClaims {
            iss: "licensor".into(),
            iat,
            sequence,
            revoked: revoked
                .iter()
                .map(|id| RevokedLicense {
                    id: *id,
                    revoked_at: at(T0 + DAY),
                })
                .collect(),
        };
        sign_revocation_list(&claims, &self.key).unwrap()
    }

    /// What a control plane starting at `now` concludes, with `mark` as its high-water mark.
    fn start(
        &self,
        token: &str,
        id: uuid::Uuid,
        list: &str,
        now: Timestamp,
        mark: Option<Timestamp>,
    ) -> license_core::Startup {
        let installed = Installed {
            licenses: vec![(license_key(id), token.to_owned())],
            revocations: Some(list.to_owned()),
            ..Installed::default()
        };
        evaluate(&installed, &self.keyring, now, None, mark, None)
    }
}

/// The rule's arithmetic: a license is left off only when its grace ended more than the
/// tolerated clock skew before the list was signed.
#[test]
fn the_cutoff_is_a_day_before_the_list_and_beyond_the_clock_skew() {
    let iat = at(T0);
    assert_eq!(revocation_list_cutoff(iat), at(T0 - DAY));
    const {
        assert!(REVOKED_LISTED_AFTER_GRACE_SECS > DEFAULT_MAX_CLOCK_SKEW_SECS);
    }
}

/// The licensor's newest list dropped the license (its grace ended before the cutoff). At
/// every clock reading that accepts that list (from `iat - skew` on) the license is expired on
/// its own and grants nothing; with the clock turned back further, the list is refused, yet
/// the high-water mark the earlier start recorded still judges it expired.
#[test]
fn a_license_dropped_from_the_list_after_its_grace_still_grants_nothing() {
    let world = World::new();
    let (id, exp, token) = world.license(1);
    // While in grace it is listed, and revoked by the list.
    let listing = world.list(at(T0 + 31 * DAY), 1, &[id]);
    let before = world.start(&token, id, &listing, at(T0 + 31 * DAY), None);
    assert_eq!(before.entitlements.licenses[0].state, LicenseState::Revoked);
    assert!(!before.entitlements.has_license);

    // The first list signed after the cutoff passed its grace end leaves it off.
    let iat = exp.add_seconds(REVOKED_LISTED_AFTER_GRACE_SECS + 1);
    assert!(revocation_list_cutoff(iat) > exp, "the licensor drops it");
    let pruned = world.list(iat, 1, &[]);
    let earliest = iat.add_seconds(-DEFAULT_MAX_CLOCK_SKEW_SECS);
    for now in [
        earliest,
        iat,
        iat.add_seconds(DAY),
        iat.add_seconds(400 * DAY),
    ] {
        let start = world.start(&token, id, &pruned, now, None);
        assert!(
            start.revocations.is_some(),
            "the pruned list is accepted at {now}"
        );
        let report = &start.entitlements.licenses[0];
        assert_eq!(report.state, LicenseState::Expired, "at {now}: {report:?}");
        assert!(!report.grants);
        assert!(!start.entitlements.has_license, "at {now}");
        assert!(!start.entitlements.is_valid());
    }

    // The clock turned back into the license's grace: the list is from the future and is
    // ignored, but the start that installed it recorded its time as the high-water mark.
    let first = world.start(&token, id, &pruned, iat, None);
    let mark = first.high_water_mark();
    assert!(mark >= iat);
    let turned_back = exp.add_seconds(-DAY);
    let start = world.start(&token, id, &pruned, turned_back, Some(mark));
    assert!(
        start.revocations.is_none(),
        "a list from the future is refused"
    );
    assert_eq!(start.entitlements.licenses[0].state, LicenseState::Expired);
    assert!(!start.entitlements.has_license);
}

/// The boundary the other way: a license whose grace ends at the cutoff or later may still be
/// within its grace on a clock that accepts the list, so the licensor keeps listing it.
#[test]
fn a_license_still_possibly_in_grace_is_kept_on_the_list() {
    let world = World::new();
    let (id, exp, token) = world.license(2);
    // Signed so that the cutoff is exactly the grace end: still listed.
    let iat = exp.add_seconds(REVOKED_LISTED_AFTER_GRACE_SECS);
    assert!(revocation_list_cutoff(iat) <= exp);
    // A license whose grace ended within the skew before the list could grant unlisted, at
    // the earliest accepted clock: why the rule keeps it.
    let close = exp.add_seconds(DEFAULT_MAX_CLOCK_SKEW_SECS / 2);
    let unlisted = world.list(close, 1, &[]);
    let early = world.start(
        &token,
        id,
        &unlisted,
        close.add_seconds(-DEFAULT_MAX_CLOCK_SKEW_SECS),
        None,
    );
    assert_eq!(
        early.entitlements.licenses[0].state,
        LicenseState::GracePeriod
    );
    assert!(revocation_list_cutoff(close) <= exp, "so it stays listed");
    let listed = world.list(iat, 1, &[id]);
    let start = world.start(&token, id, &listed, iat, None);
    assert_eq!(start.entitlements.licenses[0].state, LicenseState::Revoked);
}
