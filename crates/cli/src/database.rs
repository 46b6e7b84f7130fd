//! Where the data lives, shared by `serve` and the operator commands: the data directory, and
//! the database in it (embedded SQLite) or named by a URL (PostgreSQL).

use anyhow::{Context, Result};
use certdesk_store::Store;
use clap::Args;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_DIR: &str = "./certdesk-data";

/// `--data-dir` and `--database-url` for the operator commands, as `serve` takes them.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Data directory of the installation [default: ./certdesk-data]
    #[arg(long, env = "CERTDESK_DATA_DIR", value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The installation's database when it is not the embedded SQLite one
    #[arg(long, env = "CERTDESK_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

/// Creates the data directory and proves it is writable, so that a read-only disk is found at
/// start rather than at the first upload.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    // One probe per process: several processes may start on one data directory at once.
    let probe = dir.join(format!(".certdesk-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    Ok(())
}

/// Opens (and migrates) the installation's database.
pub async fn open_store(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
    let url = match database_url {
        Some(url) => url.to_string(),
        None => {
            let dir = data_dir
                .canonicalize()
                .with_context(|| format!("cannot resolve data directory {}", data_dir.display()))?;
            format!("sqlite://{}?mode=rwc", dir.join("certdesk.db").display())
        }
    };
    Ok(Store::open(&url).await?)
}
