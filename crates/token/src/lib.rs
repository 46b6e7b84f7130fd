//! The key holder's side (issue 14), first part: a **software UKey** with the semantics of an
//! SKF device (GM/T 0016) as BJCA's keys behave — one file per key.
//!
//! - A device has a serial (the CA锁ID shown to users) and containers; a container holds a
//!   signing key pair and, for SM2 dual certificates, an encryption key pair, each with its
//!   certificate.
//! - The private keys are sealed (SM4-GCM, `KeyArchive`) under a random device key, which is
//!   wrapped twice: under a key derived (argon2id) from the user PIN and under one derived from
//!   the SO PIN. So the SO PIN (or the server's 解锁授权码, later) can set a new user PIN without
//!   the old one, and nothing private is on disk in clear.
//! - **A try is counted before the PIN is checked**: the decremented counter is written (atomically:
//!   a temporary file, fsync, rename) before the PIN is tried, so a process killed between a wrong
//!   PIN and the answer has still spent the try. A right PIN resets the counter. After
//!   [`MAX_PIN_TRIES`] wrong PINs the user PIN is locked until unlocked.
//! - The encryption key pair arrives from the CA as the GM/T 0016 ENVELOPEDKEYBLOB and is opened
//!   with the container's signing key inside this process (SKF_ImportECCKeyPair semantics),
//!   sealed at once; it never touches the disk in clear.
//!
//! The [`Token`] trait is what certdesk asks of any key; [`Pkcs11Token`] is the other
//! implementation. The 解锁授权码's challenge-response is the agent's ([`agent`]): the server
//! answers a one-time SM2 key the agent made with the SO PIN the CA set at 制证
//! ([`SoftwareUKey::personalise_so_pin`]), sealed to that key.

pub mod agent;
mod pkcs11;

pub use pkcs11::Pkcs11Token;

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::x509_cert::Certificate;
use certdesk_pki::{Algorithm, KeyArchive, KeyManagementKey, PersonalDataKey, Signer, SoftwareKey};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Wrong PINs before the user PIN locks (BJCA's keys: 10).
pub const MAX_PIN_TRIES: u32 = 10;
const FILE_VERSION: u32 = 1;
const DEVICE_KEY_ID: &str = "ukey-device";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("PIN码错误，还可以尝试{left}次")]
    WrongPin { left: u32 },
    #[error("PIN码错误次数过多，CA锁已锁定，请办理解锁")]
    Locked,
    #[error("管理员PIN码（SO PIN）错误，还可以尝试{left}次")]
    WrongSoPin { left: u32 },
    #[error("管理员PIN码（SO PIN）已锁定，CA锁无法再解锁")]
    SoLocked,
    #[error("PIN码应为6至16位")]
    PinPolicy,
    #[error("PIN码错误")]
    WrongPinOnToken,
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("CA锁中没有名为“{0}”的容器")]
    NoContainer(String),
    #[error("容器“{0}”已存在")]
    ContainerExists(String),
    #[error("容器“{0}”中没有{1}")]
    Empty(String, &'static str),
    #[error("CA锁中已有证书，管理员PIN码只能用原管理员PIN码修改")]
    AlreadyMade,
    #[error("证书与容器中的密钥不匹配")]
    CertificateMismatch,
    #[error("CA锁文件 {path} 无法读写：{source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA锁文件已损坏：{0}")]
    Corrupt(String),
    #[error(transparent)]
    Pki(#[from] certdesk_pki::PkiError),
}

/// Which key pair of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Signing,
    Encryption,
}

/// A container as a caller sees it: its name and what it holds (public parts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub name: String,
    pub algorithm: Option<Algorithm>,
    pub has_signing_key: bool,
    pub has_encryption_key: bool,
    pub signing_certificate: Option<Vec<u8>>,
    pub encryption_certificate: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize, Clone)]
struct WrappedKey {
    /// argon2id salt, hex.
    salt: String,
    /// The device key, sealed under the PIN-derived key.
    sealed: String,
    tries_left: u32,
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct StoredContainer {
    name: String,
    algorithm: Option<String>,
    /// `KeyArchive` DER under the device key, base64.
    signing_key: Option<String>,
    signing_certificate: Option<String>,
    encryption_key: Option<String>,
    encryption_certificate: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct StoredUKey {
    version: u32,
    serial: String,
    label: String,
    user: WrappedKey,
    so: WrappedKey,
    containers: Vec<StoredContainer>,
}

/// What certdesk asks of a key holder's key, whatever it is (the software UKey, a PKCS#11
/// token): SKF's operations as certdesk uses them. A container is named; its signing key pair
/// (and, for SM2 dual certificates, its encryption key pair) is made on the key and never
/// leaves it; the PIN unlocks each use.
pub trait Token: Send + Sync {
    /// The key's serial (CA锁ID as the key reports it).
    fn serial(&self) -> Result<String, TokenError>;
    fn verify_pin(&self, pin: &str) -> Result<(), TokenError>;
    /// Makes the container's signing key pair; answers its public key (DER SPKI).
    fn generate_key_pair(
        &self,
        pin: &str,
        container: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<u8>, TokenError>;
    /// A PKCS#10 request (DER) signed by the container's signing key.
    fn certificate_request(
        &self,
        pin: &str,
        container: &str,
        subject: &str,
    ) -> Result<Vec<u8>, TokenError>;
    fn sign(&self, pin: &str, container: &str, message: &[u8]) -> Result<Vec<u8>, TokenError>;
    /// Writes a certificate for the key pair in `slot`; one for another key is refused.
    fn install_certificate(
        &self,
        pin: &str,
        container: &str,
        slot: Slot,
        der: &[u8],
    ) -> Result<(), TokenError>;
    /// The certificates on the key: (container, slot, DER).
    fn certificates(&self, pin: &str) -> Result<Vec<(String, Slot, Vec<u8>)>, TokenError>;
    /// What the key shows without a PIN: its containers with their certificates.
    fn containers(&self) -> Result<Vec<ContainerInfo>, TokenError>;
    /// User PIN tries left, when the key says (PKCS#11 does not).
    fn pin_tries_left(&self) -> Result<Option<u32>, TokenError> {
        Ok(None)
    }
    /// Imports the encryption key pair the CA sealed to the container's signing key (GM/T 0016
    /// ENVELOPEDKEYBLOB).
    fn import_enveloped_key(
        &self,
        _pin: &str,
        _container: &str,
        _blob: &[u8],
    ) -> Result<(), TokenError> {
        Err(TokenError::Unsupported("该CA锁不支持导入加密密钥对"))
    }
    /// Sets the SO PIN on a key being made (制证: no signing certificate on it yet), with the
    /// user PIN.
    fn personalise_so_pin(&self, _pin: &str, _new_so_pin: &str) -> Result<(), TokenError> {
        Err(TokenError::Unsupported(
            "该CA锁的管理员PIN码只能由厂商工具设置",
        ))
    }
    /// Sets a new user PIN with the SO PIN, and unlocks the key.
    fn unlock_with_so_pin(&self, _so_pin: &str, _new_pin: &str) -> Result<(), TokenError> {
        Err(TokenError::Unsupported("该CA锁只能用厂商工具解锁"))
    }
    fn change_pin(&self, old: &str, new: &str) -> Result<(), TokenError>;
}

impl Token for SoftwareUKey {
    fn serial(&self) -> Result<String, TokenError> {
        SoftwareUKey::serial(self)
    }
    fn verify_pin(&self, pin: &str) -> Result<(), TokenError> {
        SoftwareUKey::verify_pin(self, pin)
    }
    fn generate_key_pair(
        &self,
        pin: &str,
        container: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<u8>, TokenError> {
        SoftwareUKey::generate_key_pair(self, pin, container, algorithm)
    }
    fn certificate_request(
        &self,
        pin: &str,
        container: &str,
        subject: &str,
    ) -> Result<Vec<u8>, TokenError> {
        SoftwareUKey::certificate_request(self, pin, container, subject)
    }
    fn sign(&self, pin: &str, container: &str, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        SoftwareUKey::sign(self, pin, container, message)
    }
    /// Certificates are public: the software UKey writes them without the PIN.
    fn install_certificate(
        &self,
        _pin: &str,
        container: &str,
        slot: Slot,
        der: &[u8],
    ) -> Result<(), TokenError> {
        SoftwareUKey::install_certificate(self, container, slot, der)
    }
    fn containers(&self) -> Result<Vec<ContainerInfo>, TokenError> {
        SoftwareUKey::containers(self)
    }
    fn pin_tries_left(&self) -> Result<Option<u32>, TokenError> {
        SoftwareUKey::pin_tries_left(self).map(Some)
    }
    fn import_enveloped_key(
        &self,
        pin: &str,
        container: &str,
        blob: &[u8],
    ) -> Result<(), TokenError> {
        SoftwareUKey::import_enveloped_key(self, pin, container, blob)
    }
    fn personalise_so_pin(&self, pin: &str, new_so_pin: &str) -> Result<(), TokenError> {
        SoftwareUKey::personalise_so_pin(self, pin, new_so_pin)
    }
    fn unlock_with_so_pin(&self, so_pin: &str, new_pin: &str) -> Result<(), TokenError> {
        SoftwareUKey::unlock_with_so_pin(self, so_pin, new_pin)
    }
    fn change_pin(&self, old: &str, new: &str) -> Result<(), TokenError> {
        SoftwareUKey::change_pin(self, old, new)
    }
    fn certificates(&self, _pin: &str) -> Result<Vec<(String, Slot, Vec<u8>)>, TokenError> {
        let mut found = Vec::new();
        for c in self.containers()? {
            if let Some(der) = c.signing_certificate {
                found.push((c.name.clone(), Slot::Signing, der));
            }
            if let Some(der) = c.encryption_certificate {
                found.push((c.name, Slot::Encryption, der));
            }
        }
        Ok(found)
    }
}

/// What kind of key a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A [`SoftwareUKey`] file.
    Software,
    /// A token behind a PKCS#11 module ([`Pkcs11Token`]).
    Pkcs11,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Software => "software",
            TokenKind::Pkcs11 => "pkcs11",
        }
    }
}

/// Every key reachable now: the software UKeys (`*.json`) in `keys_dir`, in name order, then
/// each PKCS#11 module's initialised tokens. A file that is not a key, or a module that does
/// not load, is passed over.
pub fn discover(keys_dir: &Path, pkcs11_modules: &[PathBuf]) -> Vec<(Box<dyn Token>, TokenKind)> {
    let mut found: Vec<(Box<dyn Token>, TokenKind)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(keys_dir) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            if let Ok(ukey) = SoftwareUKey::open(&path) {
                found.push((Box::new(ukey), TokenKind::Software));
            }
        }
    }
    for module in pkcs11_modules {
        for label in certdesk_pki::pkcs11_token_labels(module).unwrap_or_default() {
            found.push((
                Box::new(Pkcs11Token::new(module.clone(), &label)),
                TokenKind::Pkcs11,
            ));
        }
    }
    found
}

/// A software UKey: one file.
pub struct SoftwareUKey {
    path: PathBuf,
}

/// A user PIN accepted: the device key is open for the operation.
struct Opened {
    device_key: KeyManagementKey,
}

impl SoftwareUKey {
    /// Makes a blank key at `path` (refused if a file is there) with its PINs.
    pub fn init(
        path: &Path,
        label: &str,
        user_pin: &str,
        so_pin: &str,
    ) -> Result<Self, TokenError> {
        check_pin(user_pin)?;
        check_pin(so_pin)?;
        let device_key = KeyManagementKey::generate(DEVICE_KEY_ID)?;
        let serial = format!("SW{}", hex::encode_upper(rand::random::<[u8; 8]>()));
        let stored = StoredUKey {
            version: FILE_VERSION,
            serial,
            label: label.to_string(),
            user: wrap(&device_key, user_pin)?,
            so: wrap(&device_key, so_pin)?,
            containers: Vec::new(),
        };
        let ukey = SoftwareUKey {
            path: path.to_path_buf(),
        };
        if path.exists() {
            return Err(TokenError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "已存在"),
            });
        }
        ukey.write(&stored)?;
        Ok(ukey)
    }

    pub fn open(path: &Path) -> Result<Self, TokenError> {
        let ukey = SoftwareUKey {
            path: path.to_path_buf(),
        };
        ukey.read()?;
        Ok(ukey)
    }

    /// The device serial (CA锁ID as the key reports it).
    pub fn serial(&self) -> Result<String, TokenError> {
        Ok(self.read()?.serial)
    }

    /// User PIN tries left before the key locks.
    pub fn pin_tries_left(&self) -> Result<u32, TokenError> {
        Ok(self.read()?.user.tries_left)
    }

    pub fn containers(&self) -> Result<Vec<ContainerInfo>, TokenError> {
        let stored = self.read()?;
        stored
            .containers
            .iter()
            .map(|c| {
                Ok(ContainerInfo {
                    name: c.name.clone(),
                    algorithm: c.algorithm.as_deref().and_then(algorithm_of),
                    has_signing_key: c.signing_key.is_some(),
                    has_encryption_key: c.encryption_key.is_some(),
                    signing_certificate: c.signing_certificate.as_deref().map(unb64).transpose()?,
                    encryption_certificate: c
                        .encryption_certificate
                        .as_deref()
                        .map(unb64)
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Checks the user PIN, counting the try first (see the module).
    pub fn verify_pin(&self, pin: &str) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        self.open_with_pin(pin).map(drop)
    }

    /// Makes a signing key pair of `algorithm` in a new container; answers its public key
    /// (DER SubjectPublicKeyInfo).
    pub fn generate_key_pair(
        &self,
        pin: &str,
        container: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<u8>, TokenError> {
        let _one_at_a_time = self.exclusive()?;
        let opened = self.open_with_pin(pin)?;
        let mut stored = self.read()?;
        if stored.containers.iter().any(|c| c.name == container) {
            return Err(TokenError::ContainerExists(container.to_string()));
        }
        let key = SoftwareKey::generate(algorithm)?;
        let spki = key
            .public_key_spki()
            .to_der()
            .map_err(|e| TokenError::Corrupt(e.to_string()))?;
        stored.containers.push(StoredContainer {
            name: container.to_string(),
            algorithm: Some(algorithm.slug().to_string()),
            signing_key: Some(
                B64.encode(KeyArchive::seal(&key, &opened.device_key)?.to_der_bytes()?),
            ),
            ..StoredContainer::default()
        });
        self.write(&stored)?;
        Ok(spki)
    }

    /// A PKCS#10 request (DER) signed by the container's signing key.
    pub fn certificate_request(
        &self,
        pin: &str,
        container: &str,
        subject: &str,
    ) -> Result<Vec<u8>, TokenError> {
        let _one_at_a_time = self.exclusive()?;
        let key = self.private_key(pin, container, Slot::Signing)?;
        let name = subject
            .parse::<Name>()
            .map_err(|e| TokenError::Corrupt(format!("subject {subject}: {e}")))?;
        Ok(certdesk_pki::make_csr(&key, name)?)
    }

    /// Signs `message` with the container's signing key.
    pub fn sign(&self, pin: &str, container: &str, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        let _one_at_a_time = self.exclusive()?;
        Ok(self
            .private_key(pin, container, Slot::Signing)?
            .sign(message)?)
    }

    /// Decrypts an SM2 ciphertext (GM/T 0009 DER) with the container's encryption key.
    pub fn decrypt(
        &self,
        pin: &str,
        container: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let _one_at_a_time = self.exclusive()?;
        Ok(self
            .private_key(pin, container, Slot::Encryption)?
            .sm2_decrypt(ciphertext)?)
    }

    /// Imports the encryption key pair the CA sealed to the container's signing key (GM/T 0016
    /// ENVELOPEDKEYBLOB), opened here and sealed at once under the device key.
    pub fn import_enveloped_key(
        &self,
        pin: &str,
        container: &str,
        blob: &[u8],
    ) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        let signing = self.private_key(pin, container, Slot::Signing)?;
        let encryption = certdesk_pki::open_skf_envelope(blob, &signing)?;
        let opened = self.open_with_pin(pin)?;
        let sealed = B64.encode(KeyArchive::seal(&encryption, &opened.device_key)?.to_der_bytes()?);
        self.update_container(container, |c| {
            c.encryption_key = Some(sealed);
            c.encryption_certificate = None;
            Ok(())
        })
    }

    /// Writes a certificate into its slot; it must certify the key pair there.
    pub fn install_certificate(
        &self,
        container: &str,
        slot: Slot,
        der: &[u8],
    ) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        let certificate =
            Certificate::from_der(der).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let stored = self.read()?;
        let found = find(&stored, container)?;
        let sealed = match slot {
            Slot::Signing => found.signing_key.as_deref(),
            Slot::Encryption => found.encryption_key.as_deref(),
        }
        .ok_or(TokenError::Empty(container.to_string(), slot_label(slot)))?;
        let archive = KeyArchive::from_der_bytes(&unb64(sealed)?)?;
        if archive.public_key() != certificate.tbs_certificate().subject_public_key_info() {
            return Err(TokenError::CertificateMismatch);
        }
        let encoded = B64.encode(der);
        self.update_container(container, |c| {
            match slot {
                Slot::Signing => c.signing_certificate = Some(encoded),
                Slot::Encryption => c.encryption_certificate = Some(encoded),
            }
            Ok(())
        })
    }

    /// Changes the user PIN (the old one is checked, and counted, first).
    pub fn change_pin(&self, old: &str, new: &str) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        check_pin(new)?;
        let opened = self.open_with_pin(old)?;
        let mut stored = self.read()?;
        stored.user = wrap(&opened.device_key, new)?;
        self.write(&stored)
    }

    /// Sets the SO PIN of a key being made (制证), opened with the user PIN: only while no
    /// container has a signing certificate, so a finished key's SO PIN is changed only with
    /// the SO PIN. The CA keeps the SO PIN it set and answers a 解锁授权码 with it.
    pub fn personalise_so_pin(&self, pin: &str, new_so_pin: &str) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        check_pin(new_so_pin)?;
        let opened = self.open_with_pin(pin)?;
        let mut stored = self.read()?;
        if stored
            .containers
            .iter()
            .any(|c| c.signing_certificate.is_some())
        {
            return Err(TokenError::AlreadyMade);
        }
        stored.so = wrap(&opened.device_key, new_so_pin)?;
        self.write(&stored)
    }

    /// The label the key was made with.
    pub fn label(&self) -> Result<String, TokenError> {
        Ok(self.read()?.label)
    }

    /// Sets a new user PIN with the SO PIN (counted before it is checked, like the user PIN)
    /// and unlocks the key.
    pub fn unlock_with_so_pin(&self, so_pin: &str, new_pin: &str) -> Result<(), TokenError> {
        let _one_at_a_time = self.exclusive()?;
        check_pin(new_pin)?;
        let mut stored = self.read()?;
        if stored.so.tries_left == 0 {
            return Err(TokenError::SoLocked);
        }
        stored.so.tries_left -= 1;
        self.write(&stored)?;
        match unwrap(&stored.so, so_pin) {
            Ok(device_key) => {
                stored.so.tries_left = MAX_PIN_TRIES;
                stored.user = wrap(&device_key, new_pin)?;
                self.write(&stored)
            }
            Err(_) => Err(TokenError::WrongSoPin {
                left: stored.so.tries_left,
            }),
        }
    }

    // --- inside -----------------------------------------------------------------------------

    /// Holds the key for one operation: an exclusive lock on `<file>.lock`, released when
    /// dropped (or when the process dies). Operations read, count and write the file: two at
    /// once, from two processes or two threads, would each count from the same number and one
    /// try would be forgiven.
    fn exclusive(&self) -> Result<std::fs::File, TokenError> {
        let path = self.path.with_extension("lock");
        let io = |source| TokenError::Io {
            path: path.clone(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        lock.lock().map_err(io)?;
        Ok(lock)
    }

    fn open_with_pin(&self, pin: &str) -> Result<Opened, TokenError> {
        let mut stored = self.read()?;
        if stored.user.tries_left == 0 {
            return Err(TokenError::Locked);
        }
        // Counted before it is checked: a crash from here on has spent the try.
        stored.user.tries_left -= 1;
        self.write(&stored)?;
        pause_after_counting();
        match unwrap(&stored.user, pin) {
            Ok(device_key) => {
                stored.user.tries_left = MAX_PIN_TRIES;
                self.write(&stored)?;
                Ok(Opened { device_key })
            }
            Err(_) if stored.user.tries_left == 0 => Err(TokenError::Locked),
            Err(_) => Err(TokenError::WrongPin {
                left: stored.user.tries_left,
            }),
        }
    }

    fn private_key(
        &self,
        pin: &str,
        container: &str,
        slot: Slot,
    ) -> Result<SoftwareKey, TokenError> {
        let opened = self.open_with_pin(pin)?;
        let stored = self.read()?;
        let found = find(&stored, container)?;
        let sealed = match slot {
            Slot::Signing => found.signing_key.as_deref(),
            Slot::Encryption => found.encryption_key.as_deref(),
        }
        .ok_or(TokenError::Empty(container.to_string(), slot_label(slot)))?;
        Ok(KeyArchive::from_der_bytes(&unb64(sealed)?)?.recover(&opened.device_key)?)
    }

    fn update_container(
        &self,
        container: &str,
        change: impl FnOnce(&mut StoredContainer) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        let mut stored = self.read()?;
        let found = stored
            .containers
            .iter_mut()
            .find(|c| c.name == container)
            .ok_or_else(|| TokenError::NoContainer(container.to_string()))?;
        change(found)?;
        self.write(&stored)
    }

    fn read(&self) -> Result<StoredUKey, TokenError> {
        let bytes = std::fs::read(&self.path).map_err(|source| TokenError::Io {
            path: self.path.clone(),
            source,
        })?;
        let stored: StoredUKey =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        if stored.version != FILE_VERSION {
            return Err(TokenError::Corrupt(format!("version {}", stored.version)));
        }
        Ok(stored)
    }

    /// Writes the whole file atomically: a temporary file beside it, synced, renamed over it,
    /// and the directory synced — a crash leaves the old file or the new one, never half.
    fn write(&self, stored: &StoredUKey) -> Result<(), TokenError> {
        let io = |source| TokenError::Io {
            path: self.path.clone(),
            source,
        };
        let json =
            serde_json::to_vec_pretty(stored).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        {
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            file.write_all(&json).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }
}

fn find<'a>(stored: &'a StoredUKey, container: &str) -> Result<&'a StoredContainer, TokenError> {
    stored
        .containers
        .iter()
        .find(|c| c.name == container)
        .ok_or_else(|| TokenError::NoContainer(container.to_string()))
}

fn slot_label(slot: Slot) -> &'static str {
    match slot {
        Slot::Signing => "签名密钥",
        Slot::Encryption => "加密密钥",
    }
}

fn algorithm_of(slug: &str) -> Option<Algorithm> {
    [Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256]
        .into_iter()
        .find(|a| a.slug() == slug)
}

fn unb64(text: &str) -> Result<Vec<u8>, TokenError> {
    B64.decode(text)
        .map_err(|e| TokenError::Corrupt(e.to_string()))
}

fn check_pin(pin: &str) -> Result<(), TokenError> {
    if (6..=16).contains(&pin.chars().count()) {
        Ok(())
    } else {
        Err(TokenError::PinPolicy)
    }
}

/// The key a PIN derives (argon2id, 19 MiB, 2 passes: OWASP's minimum).
fn pin_key(pin: &str, salt: &[u8]) -> Result<PersonalDataKey, TokenError> {
    let params =
        Params::new(19 * 1024, 2, 1, Some(16)).map_err(|e| TokenError::Corrupt(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 16]);
    Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, out.as_mut())
        .map_err(|e| TokenError::Corrupt(e.to_string()))?;
    Ok(PersonalDataKey::from_bytes(out.as_ref())?)
}

fn wrap(device_key: &KeyManagementKey, pin: &str) -> Result<WrappedKey, TokenError> {
    let salt: [u8; 16] = rand::random();
    let secret = device_key.secret_bytes();
    let sealed = pin_key(pin, &salt)?.seal(&hex::encode(secret.as_ref()))?;
    Ok(WrappedKey {
        salt: hex::encode(salt),
        sealed,
        tries_left: MAX_PIN_TRIES,
    })
}

/// The device key, when `pin` is the one it was wrapped under (authenticated decryption).
fn unwrap(wrapped: &WrappedKey, pin: &str) -> Result<KeyManagementKey, TokenError> {
    let salt = hex::decode(&wrapped.salt).map_err(|e| TokenError::Corrupt(e.to_string()))?;
    let secret = Zeroizing::new(pin_key(pin, &salt)?.open(&wrapped.sealed)?);
    let bytes = Zeroizing::new(
        hex::decode(secret.as_str()).map_err(|e| TokenError::Corrupt(e.to_string()))?,
    );
    Ok(KeyManagementKey::from_bytes(DEVICE_KEY_ID, &bytes)?)
}

/// The crash test's pause (feature `failpoints` only): held right after a try was counted.
fn pause_after_counting() {
    #[cfg(feature = "failpoints")]
    if let Some(ms) = std::env::var("CERTDESK_TOKEN_PAUSE_AFTER_COUNT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("pin try counted");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[cfg(test)]
mod tests;
