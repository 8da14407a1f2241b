//! Talking to the licensor's HTTP API: the public trial and check-in endpoints and, with an
//! admin token, the desk's endpoints. Errors the licensor answers with
//! (`{"error": {"code", "message"}}`) become [`Refused`], which commands turn into exit 1;
//! a licensor that cannot be reached is an environment error (exit 2).

use anyhow::Context as _;
use license_api::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// The licensor refused the request: the operation failed for a reason the licensor gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The licensor's error code (`trial_used_for_deployment`, …).
    pub code: String,
    /// The licensor's sentence.
    pub message: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the licensor refused ({}): {}", self.code, self.message)
    }
}

impl std::error::Error for Refused {}

/// The licensor's base URL and, for admin commands, the token.
#[derive(Debug, Clone, clap::Args)]
pub struct LicensorArgs {
    /// The licensor's base URL, e.g. https://licensor.example.com.
    #[arg(long, value_name = "URL", env = "LICENSOR_URL")]
    pub licensor: String,
}

/// A client of one licensor.
#[derive(Clone)]
pub struct Licensor {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Shows the URL and whether a token is set, never the token.
impl fmt::Debug for Licensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Licensor")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Licensor {
    /// A client for `base` (http:// or https://), with an admin `token` when given.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let base = base.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            anyhow::bail!("--licensor {base:?} must be an http:// or https:// URL");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("coder-license/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot create the HTTP client")?;
        Ok(Self {
            base: base.to_owned(),
            token,
            http,
        })
    }

    /// A client of `base` with the admin token from `LICENSOR_TOKEN`.
    pub fn admin(base: &str) -> anyhow::Result<Self> {
        let token = std::env::var("LICENSOR_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .context("admin commands need the admin token in LICENSOR_TOKEN (license-server token create --name NAME)")?;
        Self::new(base, Some(token.trim().to_owned()))
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path` (with `query`), decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let request = self.http.get(format!("{}{path}", self.base)).query(query);
        self.send(request, path).await
    }

    /// `POST path` with a JSON body (and an `Idempotency-Key` when given), decoded.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        key: Option<&str>,
    ) -> anyhow::Result<T> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.send(request, path).await
    }

    /// `POST path` without a body, decoded.
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.http.post(format!("{}{path}", self.base));
        self.send(request, path).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        mut request: reqwest::RequestBuilder,
        path: &str,
    ) -> anyhow::Result<T> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the licensor at {} (is the URL right, is it up?)",
                self.base
            )
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("the licensor's answer to {path} was cut off"))?;
        if status.is_success() {
            return serde_json::from_slice(&body).with_context(|| {
                format!("the licensor's answer to {path} is not what coder-license expects")
            });
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => Err(Refused {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
            }
            .into()),
            Err(_) => anyhow::bail!(
                "the licensor answered {path} with HTTP {status} and no error description"
            ),
        }
    }
}

/// Whether an error is the licensor's refusal (exit 1) rather than a failure to ask (exit 2).
pub fn is_refusal(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<Refused>()
            .is_some_and(|r| r.status != 401 && r.status < 500)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_never_shows_the_admin_token() {
        let licensor =
            Licensor::new("https://licensor.example", Some("lsr_s3cret".into())).unwrap();
        let shown = format!("{licensor:?} {licensor:#?}");
        assert!(!shown.contains("lsr_s3cret"), "{shown}");
        assert!(shown.contains("https://licensor.example"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        let public = Licensor::new("https://licensor.example", None).unwrap();
        assert!(format!("{public:?}").contains("None"));
    }
}
