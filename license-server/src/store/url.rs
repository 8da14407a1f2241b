//! Database URLs: which backend, and never a password in a log.

use super::db::Backend;
use std::fmt;
use std::path::Path;

/// A database URL, redacted in `Debug` and `Display` (it may hold a password).
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts `postgres://`, `postgresql://` and `sqlite:` URLs; anything else is refused
    /// with the accepted schemes named.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:")
        {
            Ok(Self(url.to_owned()))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(format!(
                "unsupported database URL scheme {scheme:?}: use postgres://USER@HOST/DB or sqlite:PATH"
            ))
        }
    }

    /// The SQLite URL of a file.
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}", path.display()))
    }

    /// The backend the URL selects.
    pub fn backend(&self) -> Backend {
        if self.0.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// The URL with every secret replaced by `***`: the password of the userinfo (everything
    /// after the first `:` before the last `@`), and the values of query parameters that hold
    /// secrets (`password`, `sslpassword`, matched without regard to case or percent-encoding).
    pub fn redacted(&self) -> String {
        let (base, query) = match self.0.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.0.as_str(), None),
        };
        let mut out = match (base.find("://"), base.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &base[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..])
                    }
                    None => base.to_owned(),
                }
            }
            _ => base.to_owned(),
        };
        if let Some(query) = query {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_secret_parameter(key) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    /// The secrets the URL holds, as written and percent-decoded: what [`Self::scrub`] hides.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        let (base, query) = self.0.split_once('?').unwrap_or((self.0.as_str(), ""));
        if let (Some(scheme_end), Some(at)) = (base.find("://"), base.rfind('@'))
            && at > scheme_end
            && let Some((_, password)) = base[scheme_end + 3..at].split_once(':')
        {
            secrets.push(password.to_owned());
            secrets.push(decode(password));
        }
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && is_secret_parameter(key)
            {
                secrets.push(value.to_owned());
                secrets.push(decode(value));
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// `text` (a driver's error, say) with every secret of this URL replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets() {
            text = text.replace(&secret, "***");
        }
        text
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

/// The query parameters of a database URL that hold secrets.
const SECRET_PARAMETERS: &[&str] = &["password", "sslpassword"];

fn decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn is_secret_parameter(key: &str) -> bool {
    let key = decode(key);
    SECRET_PARAMETERS
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend_and_redact_passwords() {
        let pg = DatabaseUrl::parse("postgres://licensor:s3cret@db:5432/licensor").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.redacted(), "postgres://licensor:***@db:5432/licensor");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!(!format!("{pg}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/licensor.db")
                .unwrap()
                .backend(),
            Backend::Sqlite
        );
        // Secrets in the query string, in any case or encoding, and a password holding `@`.
        let url = DatabaseUrl::parse(
            "postgresql://me:p@ss%40word@db/licensor?sslmode=require&password=hunter2&SSLPassword=k%65ypass&application_name=x",
        )
        .unwrap();
        assert_eq!(
            url.redacted(),
            "postgresql://me:***@db/licensor?sslmode=require&password=***&SSLPassword=***&application_name=x"
        );
        for shown in [url.redacted(), format!("{url:?}"), format!("{url}")] {
            for secret in ["hunter2", "keypass", "k%65ypass", "p@ss"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        let scrubbed = url.scrub("password authentication failed (hunter2, keypass, p@ss@word)");
        assert_eq!(scrubbed, "password authentication failed (***, ***, ***)");
        let plain = DatabaseUrl::parse("postgres://me@db/licensor?password=%20").unwrap();
        assert_eq!(plain.redacted(), "postgres://me@db/licensor?password=***");
        let err = DatabaseUrl::parse("mysql://root@db/licensor").unwrap_err();
        assert!(
            err.contains("postgres://") && err.contains("sqlite:"),
            "{err}"
        );
    }
}
