//! A [`Signer`] backed by an ECDSA P-256 key in a PKCS#11 token (an HSM, or SoftHSM2 in tests).
//!
//! The private key never leaves the token: it is generated there as sensitive and
//! non-extractable. Signing hashes with SHA-256 here and asks the token for raw `CKM_ECDSA`,
//! because not every token (SoftHSM2 among them) offers `CKM_ECDSA_SHA256`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use zeroize::Zeroizing;

use crate::algorithm::{Algorithm, OID_CURVE_P256};
use crate::signer::spki_of;
use crate::{PkiError, Signer};

/// A token's user PIN. Zeroed when dropped and never printed.
#[derive(Clone)]
pub struct TokenPin(Zeroizing<String>);

impl TokenPin {
    pub fn new(pin: impl Into<String>) -> Self {
        TokenPin(Zeroizing::new(pin.into()))
    }

    fn to_auth_pin(&self) -> AuthPin {
        AuthPin::from(self.0.as_str())
    }
}

impl std::fmt::Debug for TokenPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenPin(<redacted>)")
    }
}

/// An ECDSA P-256 private key held in a PKCS#11 token, with a logged-in session to it.
pub struct Pkcs11Key {
    // cryptoki sessions are Send but not Sync; the mutex also serialises operations, which
    // PKCS#11 requires per session.
    session: Mutex<Session>,
    private_key: ObjectHandle,
    spki: SubjectPublicKeyInfoOwned,
    token_label: String,
    key_label: String,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Key {
    /// Generates a P-256 key pair in the token labelled `token_label`, stored on the token
    /// under `key_label` (which must not be taken yet). The private key is sensitive and not
    /// extractable.
    pub fn generate_p256(
        module: &Path,
        token_label: &str,
        pin: &TokenPin,
        key_label: &str,
    ) -> Result<Self, PkiError> {
        let session = open_session(module, token_label, pin)?;
        if !find(&session, ObjectClass::PRIVATE_KEY, key_label)?.is_empty() {
            return Err(PkiError::InvalidRequest(format!(
                "token {token_label:?} already holds a key labelled {key_label:?}"
            )));
        }
        let curve = OID_CURVE_P256.to_der().map_err(PkiError::encoding)?;
        // CKA_ID ties the two halves together for tools such as pkcs11-tool and p11-kit.
        let mut id = [0u8; 16];
        rand::fill(&mut id);
        let label = key_label.as_bytes().to_vec();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(curve),
            Attribute::Label(label.clone()),
            Attribute::Id(id.to_vec()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label),
            Attribute::Id(id.to_vec()),
        ];
        let (public_key, private_key) = session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(|e| token_error("generating a key pair", e))?;
        let spki = read_public_key(&session, public_key)?;
        Ok(Pkcs11Key {
            session: Mutex::new(session),
            private_key,
            spki,
            token_label: token_label.to_string(),
            key_label: key_label.to_string(),
        })
    }

    /// Opens the P-256 key labelled `key_label` in the token labelled `token_label`, in a new
    /// session. Checks with a test signature that the public key found belongs to it.
    ///
    /// PKCS#11 logs in per application and token, not per session: while another session of
    /// this process is logged in to the token, the PIN is not checked again.
    pub fn open(
        module: &Path,
        token_label: &str,
        pin: &TokenPin,
        key_label: &str,
    ) -> Result<Self, PkiError> {
        let session = open_session(module, token_label, pin)?;
        let private_key = only_one(
            find(&session, ObjectClass::PRIVATE_KEY, key_label)?,
            token_label,
            key_label,
            "private key",
        )?;
        let public_key = only_one(
            find(&session, ObjectClass::PUBLIC_KEY, key_label)?,
            token_label,
            key_label,
            "public key",
        )?;
        let spki = read_public_key(&session, public_key)?;
        let key = Pkcs11Key {
            session: Mutex::new(session),
            private_key,
            spki,
            token_label: token_label.to_string(),
            key_label: key_label.to_string(),
        };
        // Labels are not unique by construction across tools: make sure the pair is a pair.
        let probe = b"certdesk PKCS#11 key check";
        let signature = key.sign(probe)?;
        Algorithm::EcdsaP256Sha256
            .verify(
                &key.spki,
                &Algorithm::EcdsaP256Sha256.signature_algorithm_identifier(),
                probe,
                &signature,
            )
            .map_err(|_| {
                PkiError::Token(format!(
                    "the public and private keys labelled {key_label:?} do not match"
                ))
            })?;
        Ok(key)
    }

    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    /// Whether the token would let the private key out: `false` when it is sensitive and not
    /// extractable, as the token itself reports.
    pub fn private_key_extractable(&self) -> Result<bool, PkiError> {
        let session = self
            .session
            .lock()
            .map_err(|_| PkiError::Token("PKCS#11 session lock poisoned".into()))?;
        let attributes = session
            .get_attributes(
                self.private_key,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(|e| token_error("reading the key's attributes", e))?;
        let mut sensitive = false;
        let mut extractable = true;
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(on) => sensitive = on,
                Attribute::Extractable(on) => extractable = on,
                _ => {}
            }
        }
        Ok(extractable || !sensitive)
    }

    pub fn key_label(&self) -> &str {
        &self.key_label
    }
}

impl Signer for Pkcs11Key {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EcdsaP256Sha256
    }

    fn public_key_spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let digest = Sha256::digest(message);
        let raw = {
            let session = self
                .session
                .lock()
                .map_err(|_| PkiError::Signing("PKCS#11 session lock poisoned".into()))?;
            session
                .sign(&Mechanism::Ecdsa, self.private_key, &digest)
                .map_err(|e| PkiError::Signing(format!("PKCS#11 CKM_ECDSA: {e}")))?
        };
        // CKM_ECDSA returns r || s, 32 bytes each for P-256; certificates want DER.
        let signature = p256::ecdsa::Signature::from_slice(&raw).map_err(|_| {
            PkiError::Signing(format!(
                "PKCS#11 CKM_ECDSA returned {} bytes, not a P-256 signature",
                raw.len()
            ))
        })?;
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// The serial number of the token labelled `token_label` (a UKey's CA锁ID), read without a
/// login.
pub fn pkcs11_token_serial(module: &Path, token_label: &str) -> Result<String, PkiError> {
    let context = context(module)?;
    let slot = slot_of(&context, module, token_label)?;
    let info = context
        .get_token_info(slot)
        .map_err(|e| token_error("reading token information", e))?;
    Ok(info.serial_number().trim_end().to_string())
}

/// Stores an X.509 certificate (DER) on the token as a public token object labelled `label`,
/// replacing one stored under that label before.
pub fn pkcs11_store_certificate(
    module: &Path,
    token_label: &str,
    pin: &TokenPin,
    label: &str,
    der: &[u8],
) -> Result<(), PkiError> {
    let certificate =
        x509_cert::Certificate::from_der(der).map_err(|e| PkiError::malformed("certificate", e))?;
    let subject = certificate
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(PkiError::encoding)?;
    let session = open_session(module, token_label, pin)?;
    for old in certificates_labelled(&session, Some(label))? {
        session
            .destroy_object(old)
            .map_err(|e| token_error("replacing a certificate", e))?;
    }
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(cryptoki::object::CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Subject(subject),
            Attribute::Value(der.to_vec()),
        ])
        .map_err(|e| token_error("storing a certificate", e))?;
    Ok(())
}

/// Changes the token's user PIN (C_SetPIN in a user session).
pub fn pkcs11_change_pin(
    module: &Path,
    token_label: &str,
    old: &TokenPin,
    new: &TokenPin,
) -> Result<(), PkiError> {
    let session = open_session(module, token_label, old)?;
    session
        .set_pin(&old.to_auth_pin(), &new.to_auth_pin())
        .map_err(|e| token_error("changing the PIN", e))
}

/// The labels of the initialised tokens behind `module`, in slot order (each a key the
/// holder may pick).
pub fn pkcs11_token_labels(module: &Path) -> Result<Vec<String>, PkiError> {
    let context = context(module)?;
    let slots = context
        .get_slots_with_initialized_token()
        .map_err(|e| token_error("listing slots", e))?;
    let mut labels = Vec::new();
    for slot in slots {
        let info = context
            .get_token_info(slot)
            .map_err(|e| token_error("reading token information", e))?;
        labels.push(info.label().trim_end().to_string());
    }
    Ok(labels)
}

/// The certificates stored on the token, as (label, DER), in the token's order. Without a PIN
/// only the public ones are seen (those [`pkcs11_store_certificate`] stores are public).
pub fn pkcs11_certificates(
    module: &Path,
    token_label: &str,
    pin: Option<&TokenPin>,
) -> Result<Vec<(String, Vec<u8>)>, PkiError> {
    let session = match pin {
        Some(pin) => open_session(module, token_label, pin)?,
        None => {
            let context = context(module)?;
            let slot = slot_of(&context, module, token_label)?;
            context
                .open_ro_session(slot)
                .map_err(|e| token_error("opening a session", e))?
        }
    };
    let mut found = Vec::new();
    for handle in certificates_labelled(&session, None)? {
        let attributes = session
            .get_attributes(handle, &[AttributeType::Label, AttributeType::Value])
            .map_err(|e| token_error("reading a certificate", e))?;
        let mut label = String::new();
        let mut value = Vec::new();
        for attribute in attributes {
            match attribute {
                Attribute::Label(bytes) => label = String::from_utf8_lossy(&bytes).into_owned(),
                Attribute::Value(bytes) => value = bytes,
                _ => {}
            }
        }
        found.push((label, value));
    }
    Ok(found)
}

fn certificates_labelled(
    session: &Session,
    label: Option<&str>,
) -> Result<Vec<ObjectHandle>, PkiError> {
    let mut template = vec![Attribute::Class(ObjectClass::CERTIFICATE)];
    if let Some(label) = label {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    session
        .find_objects(&template)
        .map_err(|e| token_error("searching certificates", e))
}

/// One initialised context per module and process: C_Initialize may run only once, and
/// finalising would close the sessions of every other key from the same module.
fn context(module: &Path) -> Result<Pkcs11, PkiError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| PkiError::Token("PKCS#11 module table lock poisoned".into()))?;
    if let Some(context) = contexts.get(module) {
        return Ok(context.clone());
    }
    let context = Pkcs11::new(module).map_err(|e| {
        PkiError::Token(format!(
            "cannot load PKCS#11 module {}: {e}",
            module.display()
        ))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Someone else in this process (another library) initialised the module already.
        Ok(()) | Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(token_error("initialising the module", e)),
    }
    contexts.insert(module.to_path_buf(), context.clone());
    Ok(context)
}

/// The slot of the initialised token labelled `token_label`.
fn slot_of(
    context: &Pkcs11,
    module: &Path,
    token_label: &str,
) -> Result<cryptoki::slot::Slot, PkiError> {
    let slots = context
        .get_slots_with_initialized_token()
        .map_err(|e| token_error("listing slots", e))?;
    for candidate in slots {
        let info = context
            .get_token_info(candidate)
            .map_err(|e| token_error("reading token information", e))?;
        // Labels are blank-padded to 32 bytes in PKCS#11.
        if info.label().trim_end() == token_label {
            return Ok(candidate);
        }
    }
    Err(PkiError::Token(format!(
        "no initialised token labelled {token_label:?} in {}",
        module.display()
    )))
}

/// Opens a read-write session to the token labelled `token_label` and logs in as user.
fn open_session(module: &Path, token_label: &str, pin: &TokenPin) -> Result<Session, PkiError> {
    let context = context(module)?;
    let slot = slot_of(&context, module, token_label)?;
    let session = context
        .open_rw_session(slot)
        .map_err(|e| token_error("opening a session", e))?;
    match session.login(UserType::User, Some(&pin.to_auth_pin())) {
        Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CryptokiError::Pkcs11(RvError::PinIncorrect, _)) => Err(PkiError::WrongPin {
            token: token_label.to_string(),
        }),
        Err(CryptokiError::Pkcs11(RvError::PinLocked, _)) => Err(PkiError::Token(format!(
            "the user PIN of token {token_label:?} is locked"
        ))),
        Err(e) => Err(token_error("logging in", e)),
    }
}

fn find(
    session: &Session,
    class: ObjectClass,
    key_label: &str,
) -> Result<Vec<ObjectHandle>, PkiError> {
    session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC),
            Attribute::Label(key_label.as_bytes().to_vec()),
        ])
        .map_err(|e| token_error("searching keys", e))
}

fn only_one(
    handles: Vec<ObjectHandle>,
    token_label: &str,
    key_label: &str,
    what: &str,
) -> Result<ObjectHandle, PkiError> {
    match handles.as_slice() {
        [one] => Ok(*one),
        [] => Err(PkiError::Token(format!(
            "no EC {what} labelled {key_label:?} in token {token_label:?}"
        ))),
        _ => Err(PkiError::Token(format!(
            "{} EC {what}s labelled {key_label:?} in token {token_label:?}",
            handles.len()
        ))),
    }
}

/// The SubjectPublicKeyInfo of a P-256 public key object, from CKA_EC_PARAMS and CKA_EC_POINT.
fn read_public_key(
    session: &Session,
    public_key: ObjectHandle,
) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let attributes = session
        .get_attributes(
            public_key,
            &[AttributeType::EcParams, AttributeType::EcPoint],
        )
        .map_err(|e| token_error("reading the public key", e))?;
    let mut params = None;
    let mut point = None;
    for attribute in attributes {
        match attribute {
            Attribute::EcParams(value) => params = Some(value),
            Attribute::EcPoint(value) => point = Some(value),
            _ => {}
        }
    }
    let p256 = OID_CURVE_P256.to_der().map_err(PkiError::encoding)?;
    if params.as_deref() != Some(p256.as_slice()) {
        return Err(PkiError::UnsupportedAlgorithm(
            "token key is not on the P-256 curve".into(),
        ));
    }
    let point =
        point.ok_or_else(|| PkiError::Token("the token did not return CKA_EC_POINT".into()))?;
    let public_key = p256::PublicKey::from_sec1_bytes(&unwrap_ec_point(&point)?)
        .map_err(|_| PkiError::Token("CKA_EC_POINT is not a P-256 point".into()))?;
    spki_of(public_key)
}

/// PKCS#11 2.40 says CKA_EC_POINT is the DER of an OCTET STRING holding the SEC1 point; a few
/// tokens return the bare point. An uncompressed P-256 point is 65 bytes, its DER wrapping 67,
/// so the two cannot be confused.
fn unwrap_ec_point(value: &[u8]) -> Result<Vec<u8>, PkiError> {
    const UNCOMPRESSED_P256_LEN: usize = 65;
    if value.len() == UNCOMPRESSED_P256_LEN && value[0] == 0x04 {
        return Ok(value.to_vec());
    }
    OctetString::from_der(value)
        .map(|octets| octets.into_bytes().into_vec())
        .map_err(|_| PkiError::Token("CKA_EC_POINT is neither DER nor a SEC1 point".into()))
}

/// cryptoki's errors name the PKCS#11 function and return value, never arguments such as PINs.
fn token_error(operation: &str, error: CryptokiError) -> PkiError {
    PkiError::Token(format!("{operation}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::certificate_to_pem;
    use crate::csr::{make_csr, parse_and_verify_csr};
    use crate::leaf::tests::leaf_request;
    use crate::test_support::{openssl_status, TempDir};
    use crate::{certify_issuing_ca, issue_leaf, CaHierarchy, LeafProfile, SoftwareKey};
    use std::process::Command;
    use x509_cert::certificate::Certificate;

    const MODULE_CANDIDATES: [&str; 2] = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ];
    const USER_PIN: &str = "1234";
    const SO_PIN: &str = "5678";
    /// One token per test: login state is per token, and tests run in parallel threads.
    const TOKEN_CA: &str = "certdesk-test";
    const TOKEN_ERRORS: &str = "certdesk-errors";
    /// A key holder's UKey: key pairs and their certificates stored on it.
    const TOKEN_UKEY: &str = "certdesk-ukey";

    /// A SoftHSM2 token directory shared by the whole test binary. SOFTHSM2_CONF is read when
    /// the module initialises, once per process, so it is set once, before any test loads it,
    /// and every token is made before that too (SoftHSM2 may not notice tokens made later).
    struct SoftHsm {
        module: PathBuf,
        _dir: tempfile::TempDir,
    }

    fn softhsm() -> &'static SoftHsm {
        static SOFTHSM: OnceLock<SoftHsm> = OnceLock::new();
        SOFTHSM.get_or_init(|| {
            let module = MODULE_CANDIDATES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
                .unwrap_or_else(|| {
                    panic!(
                        "SoftHSM2 is not installed (no {MODULE_CANDIDATES:?}): \
                         run `apt-get install -y softhsm2`"
                    )
                });
            let dir = tempfile::Builder::new()
                .prefix("certdesk-pki-softhsm-")
                .tempdir()
                .expect("temp dir");
            let tokens = dir.path().join("tokens");
            std::fs::create_dir(&tokens).expect("token dir");
            let conf = dir.path().join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .expect("softhsm2.conf");
            for label in [TOKEN_CA, TOKEN_ERRORS, TOKEN_UKEY] {
                let out = Command::new("softhsm2-util")
                    .env("SOFTHSM2_CONF", &conf)
                    .args([
                        "--init-token",
                        "--free",
                        "--label",
                        label,
                        "--pin",
                        USER_PIN,
                        "--so-pin",
                        SO_PIN,
                    ])
                    .output()
                    .unwrap_or_else(|e| {
                        panic!("softhsm2-util: {e}; run `apt-get install -y softhsm2`")
                    });
                assert!(
                    out.status.success(),
                    "softhsm2-util --init-token {label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::env::set_var("SOFTHSM2_CONF", &conf);
            SoftHsm { module, _dir: dir }
        })
    }

    fn pin() -> TokenPin {
        TokenPin::new(USER_PIN)
    }

    fn leaf_signed_by(signer: &dyn Signer, issuing_cert: &Certificate) -> Certificate {
        let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("key");
        let csr = parse_and_verify_csr(&make_csr(&key, crate::csr::tests::subject()).expect("csr"))
            .expect("verified");
        issue_leaf(signer, issuing_cert, &csr, &leaf_request(LeafProfile::Sign)).expect("leaf")
    }

    fn openssl_verifies(dir: &TempDir, name: &str, root: &str, issuing: &str, leaf: &Certificate) {
        let leaf_path = dir.write(
            &format!("{name}.pem"),
            certificate_to_pem(leaf).expect("pem").as_bytes(),
        );
        let (ok, stdout, stderr) = openssl_status(&[
            "verify",
            "-CAfile",
            root,
            "-untrusted",
            issuing,
            leaf_path.as_str(),
        ]);
        assert!(ok && stdout.contains(": OK"), "{name}: {stdout}{stderr}");
    }

    #[test]
    fn token_key_issues_a_chain_openssl_accepts() {
        let hsm = softhsm();
        let dir = TempDir::new("pkcs11");
        let key = Pkcs11Key::generate_p256(&hsm.module, TOKEN_CA, &pin(), "issuing-ca")
            .expect("generate in token");
        assert_eq!(key.algorithm(), Algorithm::EcdsaP256Sha256);
        assert_eq!(
            Algorithm::of_public_key(key.public_key_spki()).expect("spki"),
            Algorithm::EcdsaP256Sha256
        );

        // The private key stays in the token.
        {
            let session = key.session.lock().expect("session");
            let attributes = session
                .get_attributes(
                    key.private_key,
                    &[
                        AttributeType::Token,
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                    ],
                )
                .expect("attributes");
            for attribute in attributes {
                match attribute {
                    Attribute::Token(on) | Attribute::Sensitive(on) => assert!(on),
                    Attribute::Extractable(on) => assert!(!on),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }

        // A software root certifies the token key as issuing CA; the token key issues a leaf.
        let software = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let issuing_cert = certify_issuing_ca(
            &software.root_key,
            &software.root_cert,
            &key,
            "certdesk HSM",
        )
        .expect("certify");
        let root = dir.write(
            "root.pem",
            certificate_to_pem(&software.root_cert)
                .expect("pem")
                .as_bytes(),
        );
        let issuing = dir.write(
            "issuing.pem",
            certificate_to_pem(&issuing_cert).expect("pem").as_bytes(),
        );
        let leaf = leaf_signed_by(&key, &issuing_cert);
        crate::verify_certificate_signature(&leaf, &issuing_cert).expect("own verify");
        openssl_verifies(&dir, "leaf-1", &root, &issuing, &leaf);
        let spki = key.public_key_spki().clone();
        drop(key);

        // Found again by label in a new session, it signs again.
        let reopened =
            Pkcs11Key::open(&hsm.module, TOKEN_CA, &pin(), "issuing-ca").expect("reopen");
        assert_eq!(reopened.public_key_spki(), &spki);
        let leaf = leaf_signed_by(&reopened, &issuing_cert);
        openssl_verifies(&dir, "leaf-2", &root, &issuing, &leaf);

        // A second handle on the same key works side by side (PKCS#11 login is per token).
        let second = Pkcs11Key::open(&hsm.module, TOKEN_CA, &pin(), "issuing-ca").expect("second");
        let signature = second.sign(b"side by side").expect("sign");
        Algorithm::EcdsaP256Sha256
            .verify(
                &spki,
                &Algorithm::EcdsaP256Sha256.signature_algorithm_identifier(),
                b"side by side",
                &signature,
            )
            .expect("verify");

        let err = Pkcs11Key::generate_p256(&hsm.module, TOKEN_CA, &pin(), "issuing-ca")
            .expect_err("label taken");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn a_ukeys_certificates_are_stored_on_it_and_replaced_by_label() {
        let hsm = softhsm();
        let serial = pkcs11_token_serial(&hsm.module, TOKEN_UKEY).expect("serial");
        assert!(!serial.is_empty());
        let key = Pkcs11Key::generate_p256(&hsm.module, TOKEN_UKEY, &pin(), "bid").expect("gen");
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let issuing = certify_issuing_ca(&ca.root_key, &ca.root_cert, &key, "x").expect("cert");
        let first = issuing.to_der().expect("der");
        pkcs11_store_certificate(&hsm.module, TOKEN_UKEY, &pin(), "bid", &first).expect("store");
        let again = certify_issuing_ca(&ca.root_key, &ca.root_cert, &key, "y").expect("cert");
        let second = again.to_der().expect("der");
        pkcs11_store_certificate(&hsm.module, TOKEN_UKEY, &pin(), "bid", &second).expect("replace");
        let stored = pkcs11_certificates(&hsm.module, TOKEN_UKEY, Some(&pin())).expect("list");
        assert_eq!(stored, vec![("bid".to_string(), second)]);
        // Certificates are public: listed without a login too (the agent shows them).
        let public = pkcs11_certificates(&hsm.module, TOKEN_UKEY, None).expect("public list");
        assert_eq!(public, stored);
        assert!(pkcs11_token_labels(&hsm.module)
            .expect("labels")
            .contains(&TOKEN_UKEY.to_string()));
        assert!(pkcs11_store_certificate(&hsm.module, TOKEN_UKEY, &pin(), "bid", b"junk").is_err());
        assert!(pkcs11_token_serial(&hsm.module, "no-such-token").is_err());
    }

    #[test]
    fn wrong_pin_and_missing_objects_are_clear_errors() {
        let hsm = softhsm();
        let key = Pkcs11Key::generate_p256(&hsm.module, TOKEN_ERRORS, &pin(), "k").expect("gen");
        // Closing the only session logs the token out, so the next login checks the PIN.
        drop(key);

        let wrong = TokenPin::new("987654");
        let err = Pkcs11Key::open(&hsm.module, TOKEN_ERRORS, &wrong, "k").expect_err("wrong PIN");
        assert!(matches!(err, PkiError::WrongPin { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("wrong PIN") && message.contains(TOKEN_ERRORS));
        assert!(!message.contains("987654") && !format!("{err:?}").contains("987654"));
        assert!(!format!("{wrong:?}").contains("987654"));

        let err = Pkcs11Key::open(&hsm.module, TOKEN_ERRORS, &pin(), "absent").expect_err("key");
        assert!(
            matches!(&err, PkiError::Token(m) if m.contains("no EC private key labelled")),
            "{err}"
        );
        let err = Pkcs11Key::open(&hsm.module, "no-such-token", &pin(), "k").expect_err("token");
        assert!(
            matches!(&err, PkiError::Token(m) if m.contains("no initialised token")),
            "{err}"
        );
        let err = Pkcs11Key::open(
            Path::new("/nonexistent/libpkcs11.so"),
            TOKEN_ERRORS,
            &pin(),
            "k",
        )
        .expect_err("module");
        assert!(
            matches!(&err, PkiError::Token(m) if m.contains("cannot load")),
            "{err}"
        );
    }

    #[test]
    fn ec_points_are_unwrapped_in_both_forms() {
        let key = p256::SecretKey::from_slice(&[7u8; 32]).expect("key");
        let point = key.public_key().to_sec1_bytes().to_vec();
        assert_eq!(point.len(), 65);
        let wrapped = OctetString::new(point.clone())
            .expect("octets")
            .to_der()
            .expect("der");
        assert_eq!(unwrap_ec_point(&wrapped).expect("der form"), point);
        assert_eq!(unwrap_ec_point(&point).expect("raw form"), point);
        assert!(unwrap_ec_point(&[0x04, 0x01]).is_err());
        assert!(unwrap_ec_point(&[]).is_err());
    }
}
