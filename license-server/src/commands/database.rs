//! The database options every command that touches the database shares.

use crate::store::{DatabaseUrl, Store};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// `--data-dir` and `--database-url`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Where the embedded database (and, in development, the signing key) live.
    #[arg(
        long,
        value_name = "DIR",
        env = "LICENSOR_DATA_DIR",
        default_value = "licensor-data"
    )]
    pub data_dir: PathBuf,
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` for Postgres; without it, an embedded SQLite
    /// file in the data directory.
    #[arg(long, value_name = "URL", env = "LICENSOR_DATABASE_URL", value_parser = DatabaseUrl::parse, hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
}

impl DatabaseArgs {
    /// The database URL: the one given, or the embedded SQLite file.
    pub fn url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                create_private_dir(&self.data_dir)?;
                Ok(DatabaseUrl::sqlite_file(&self.data_dir.join("licensor.db")))
            }
        }
    }

    /// Connects and applies migrations.
    pub async fn connect(&self) -> anyhow::Result<Store> {
        let url = self.url()?;
        Store::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {url}"))
    }
}

/// Creates `dir` (mode 0700 on Unix) when missing.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// A Tokio runtime for the commands that do I/O.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
