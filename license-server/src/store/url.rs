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

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &self.0[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &self.0[..scheme_end + 3], &self.0[at..])
                    }
                    None => self.0.clone(),
                }
            }
            _ => self.0.clone(),
        }
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
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
        let err = DatabaseUrl::parse("mysql://root@db/licensor").unwrap_err();
        assert!(
            err.contains("postgres://") && err.contains("sqlite:"),
            "{err}"
        );
    }
}
