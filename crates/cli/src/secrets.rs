//! The CA's secrets: the passphrase that encrypts CA private keys in the database, and the
//! key-management key that seals archived encryption keys. Each comes from the environment
//! (for deployments with several machines) or from a file in the data directory made on first
//! start with mode 0600. Neither is ever logged.

use anyhow::{bail, Context, Result};
use certdesk_pki::KeyManagementKey;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const PASSPHRASE_ENV: &str = "CERTDESK_CA_KEY_PASSPHRASE";
pub const KMK_ENV: &str = "CERTDESK_KMK_HEX";
pub const DATA_KEY_ENV: &str = "CERTDESK_DATA_KEY_HEX";
const KMK_ID: &str = "kmk-1";

/// Whether a missing secret file may be created (on `serve` and `ca init`) or must exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Create,
    Refuse,
}

fn secrets_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets")
}

pub const SANDBOX_PAYMENT_ENV: &str = "CERTDESK_SANDBOX_PAYMENT_SECRET";

/// One secret: the environment variable's value if set, otherwise the file
/// `<data-dir>/secrets/<file>` (made from `random_bytes` random bytes, hex, when `missing` allows),
/// trimmed.
fn secret(
    data_dir: &Path,
    env: &str,
    file: &str,
    missing: Missing,
    random_bytes: usize,
) -> Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(env) {
        return Ok(Zeroizing::new(value.trim().to_string()));
    }
    let path = secrets_dir(data_dir).join(file);
    let text = read_or_create(&path, missing, || hex::encode(random_vec(random_bytes)))?;
    Ok(Zeroizing::new(text.trim().to_string()))
}

pub fn ca_key_passphrase(data_dir: &Path, missing: Missing) -> Result<Zeroizing<String>> {
    let passphrase = secret(data_dir, PASSPHRASE_ENV, "ca-key-passphrase", missing, 32)?;
    if passphrase.len() < 16 {
        bail!("the CA key passphrase ({PASSPHRASE_ENV} or secrets/ca-key-passphrase) must be at least 16 characters");
    }
    Ok(passphrase)
}

pub fn key_management_key(data_dir: &Path, missing: Missing) -> Result<KeyManagementKey> {
    let hex_text = secret(data_dir, KMK_ENV, "kmk.hex", missing, 16)?;
    let bytes = Zeroizing::new(hex::decode(hex_text.as_str()).map_err(|_| {
        anyhow::anyhow!("the key-management key must be 32 hexadecimal characters")
    })?);
    KeyManagementKey::from_bytes(KMK_ID, &bytes)
        .map_err(|e| anyhow::anyhow!("invalid key-management key: {e}"))
}

/// The data key that seals personal data at rest (the saved forms' ID numbers, mobiles and
/// cards) and keys the identity-subject hashes: the web process's own secret.
pub fn personal_data_key(data_dir: &Path) -> Result<certdesk_pki::PersonalDataKey> {
    let hex_text = secret(data_dir, DATA_KEY_ENV, "data-key.hex", Missing::Create, 16)?;
    let bytes = Zeroizing::new(
        hex::decode(hex_text.as_str())
            .map_err(|_| anyhow::anyhow!("the data key must be 32 hexadecimal characters"))?,
    );
    certdesk_pki::PersonalDataKey::from_bytes(&bytes).map_err(|e| {
        anyhow::anyhow!("invalid data key ({DATA_KEY_ENV} or secrets/data-key.hex): {e}")
    })
}

/// The secret shared with the sandbox payment gateway.
pub fn sandbox_payment_secret(data_dir: &Path) -> Result<Vec<u8>> {
    Ok(secret(
        data_dir,
        SANDBOX_PAYMENT_ENV,
        "sandbox-payment.key",
        Missing::Create,
        32,
    )?
    .as_bytes()
    .to_vec())
}

fn read_or_create(
    path: &Path,
    missing: Missing,
    make: impl FnOnce() -> String,
) -> Result<Zeroizing<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && missing == Missing::Create => {
            let dir = path.parent().context("secret file has no directory")?;
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let value = Zeroizing::new(make());
            write_private(path, value.as_bytes())?;
            tracing::info!(path = %path.display(), "created a secret file (mode 0600); back it up with the database");
            Ok(value)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} does not exist: run `certdesk ca init` (or `certdesk serve`) with this data directory first, or set the secret in the environment",
            path.display()
        ),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn random_vec(len: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}
