//! `coder-license checkin` against a licensor double that signs with a test key and can
//! answer wrongly: a receipt for another deployment or without this check-in's nonce is never
//! stored (issue 12, finding 3), and a revocation list never replaces a newer one, while the
//! same list signed later does replace the older signing (finding 4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::{CheckinRequest, CheckinResponse, Revocations};
use license_core::{
    DeploymentId, ReceiptClaims, RevocationListClaims, SigningKey, Timestamp, sign_receipt,
    sign_revocation_list,
};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// How the double answers a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// As the licensor does: this deployment, this nonce.
    Honest,
    /// A receipt for another deployment.
    OtherDeployment,
    /// A receipt with another nonce (an old one replayed).
    OtherNonce,
}

struct Double {
    key: SigningKey,
    answer: Mutex<Answer>,
    /// The revocation list served: (sequence, seconds before now it was signed).
    list: Mutex<(u64, i64)>,
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix(i64::try_from(secs).unwrap()).unwrap()
}

async fn checkin(
    State(double): State<Arc<Double>>,
    Json(request): Json<CheckinRequest>,
) -> Json<CheckinResponse> {
    let answer = *double.answer.lock().unwrap();
    let deployment = match answer {
        Answer::OtherDeployment => "dep-somewhere-else".to_owned(),
        _ => request.deployment_id.clone(),
    };
    let nonce = match answer {
        Answer::OtherNonce => Some("an-old-nonce".to_owned()),
        _ => request.nonce.clone(),
    };
    let claims = ReceiptClaims {
        iss: "double".into(),
        jti: uuid::Uuid::new_v4(),
        iat: now(),
        deployment_id: DeploymentId::parse(&deployment).unwrap(),
        licenses: vec![],
        nonce: nonce.clone(),
    };
    Json(CheckinResponse {
        receipt: sign_receipt(&claims, &double.key).unwrap(),
        server_time: claims.iat.rfc3339(),
        deployment_id: deployment,
        licenses: vec![],
        nonce,
        renewals: vec![],
    })
}

async fn revocations(State(double): State<Arc<Double>>) -> Json<Revocations> {
    let (sequence, age) = *double.list.lock().unwrap();
    let claims = RevocationListClaims {
        iss: "double".into(),
        iat: now().add_seconds(-age),
        sequence,
        revoked: vec![],
    };
    Json(Revocations {
        revocation_list: sign_revocation_list(&claims, &double.key).unwrap(),
        sequence,
    })
}

struct Fixture {
    dir: tempfile::TempDir,
    double: Arc<Double>,
    base: String,
    public: String,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed(&[61; 32]);
        let public = dir.path().join("licensor.pub.pem");
        std::fs::write(&public, key.public_key().to_spki_pem().unwrap()).unwrap();
        let double = Arc::new(Double {
            key,
            answer: Mutex::new(Answer::Honest),
            list: Mutex::new((1, 0)),
        });
        let app = Router::new()
            .route("/api/v1/checkins", post(checkin))
            .route("/api/v1/revocations", get(revocations))
            .with_state(double.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            public: public.display().to_string(),
            dir,
            double,
            base,
        }
    }

    fn store(&self) -> std::path::PathBuf {
        self.dir.path().join("store")
    }

    /// Runs `coder-license checkin` on the file store; returns (exit code, stderr).
    async fn checkin(&self) -> (i32, String) {
        let args = vec![
            "--file-store".to_owned(),
            self.store().display().to_string(),
            "checkin".to_owned(),
            "--licensor".to_owned(),
            self.base.clone(),
            "--product-version".to_owned(),
            "2.16.0".to_owned(),
            "--trust-key".to_owned(),
            self.public.clone(),
        ];
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_coder-license"))
                .args(&args)
                .env_remove("CODER_LICENSE_TRUST_KEY")
                .env("XDG_CONFIG_HOME", "/nonexistent")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_for_another_deployment_or_without_our_nonce_is_never_stored() {
    let f = Fixture::start().await;
    let receipt = f.store().join("checkin-receipt.jwt");
    for wrong in [Answer::OtherDeployment, Answer::OtherNonce] {
        *f.double.answer.lock().unwrap() = wrong;
        let (code, stderr) = f.checkin().await;
        assert_ne!(code, 0, "{wrong:?}: {stderr}");
        assert!(
            stderr.contains("not an answer to this check-in")
                && stderr.contains("nothing was stored"),
            "{wrong:?}: {stderr}"
        );
        let why = match wrong {
            Answer::OtherDeployment => "dep-somewhere-else",
            _ => "nonce",
        };
        assert!(stderr.contains(why), "{wrong:?}: {stderr}");
        assert_eq!(read(&receipt), None, "{wrong:?}: nothing stored");
    }
    *f.double.answer.lock().unwrap() = Answer::Honest;
    let (code, stderr) = f.checkin().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(read(&receipt).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_list_never_goes_back_and_a_later_signing_replaces_it() {
    let f = Fixture::start().await;
    let list = f.store().join("revocations.jwt");
    let sequence_of = |token: &str| -> (u64, i64) {
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&license_core::base64url::decode(payload).unwrap()).unwrap();
        (
            claims["sequence"].as_u64().unwrap(),
            claims["iat"].as_i64().unwrap(),
        )
    };
    *f.double.list.lock().unwrap() = (5, 7200);
    assert_eq!(f.checkin().await.0, 0);
    let first = read(&list).unwrap();
    assert_eq!(sequence_of(&first).0, 5);

    // An older list (a lower sequence), though signed just now, never replaces it.
    *f.double.list.lock().unwrap() = (4, 0);
    let (code, stderr) = f.checkin().await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&list).unwrap(), first);

    // The same revocations signed later do: the list's age is what a trial is judged by.
    *f.double.list.lock().unwrap() = (5, 0);
    let (code, stderr) = f.checkin().await;
    assert_eq!(code, 0, "{stderr}");
    let fresher = read(&list).unwrap();
    assert_eq!(sequence_of(&fresher).0, 5);
    assert!(sequence_of(&fresher).1 > sequence_of(&first).1);
}
