//! certdesk's certificate authority: the CA side of the trust boundary.
//!
//! The registration authority (the web layer) decides *whether* a certificate may be issued;
//! this crate holds the CA private keys and does the signing: [`CertificateAuthority::issue`],
//! [`CertificateAuthority::revoke`], [`CertificateAuthority::current_crl`]. Keys rest in the
//! database as encrypted PKCS#8; the passphrase comes from the operator, never from the store.

mod error;
mod ocsp;
mod reason;
mod records;
pub mod remote;
mod service;
pub mod trust;
pub use trust::import_provider_ca;

/// The PKI types the registration authority names when it talks to the CA.
pub use certdesk_pki::{
    parse_policy_oid, Algorithm, CrlReason, KeyManagementKey, LeafProfile, PLACEHOLDER_POLICY_OID,
};

pub use error::CaError;
pub use ocsp::{OCSP_VALIDITY, REVOCATION_CHECK_INTERVAL};
pub use reason::{crl_reason_from_name, crl_reason_name, CRL_REASON_NAMES};
pub use records::{CaRecords, RecordsFuture};
pub use service::{CaCertificates, CaFuture, CaService};
use std::sync::Arc;

use certdesk_pki::der::asn1::ObjectIdentifier;
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::x509_cert::serial_number::SerialNumber;
use certdesk_pki::x509_cert::Certificate;
use certdesk_pki::{
    build_crl, certificate_to_pem, issue_dual, issue_leaf, parse_and_verify_csr, random_serial,
    CaHierarchy, CrlRequest, EncryptionKeyPair, KeyArchive, LeafRequest, RevokedEntry, SealedKey,
    Signer, SoftwareKey, VerifiedCsr,
};
use certdesk_store::{
    AuditSeal, CertificateRecord, CrlRecord, IssuedForOrder, NewCaKey, NewCertificate,
    RevokeOutcome, SealedKeyArchive, SignedForOrder, StoreError,
};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// How long a CRL is valid; a new one is signed when less than half of this is left.
pub const CRL_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest validity we certify: the domain's limit, which the RA holds requests to too.
pub use certdesk_domain::limits::MAX_VALIDITY_DAYS;
use certdesk_domain::limits::{check_fits_issuing_ca, check_subject_name, LimitError};
/// Certificates start a few minutes back, so that a relying party whose clock runs slow
/// accepts a certificate the moment it is delivered.
const BACKDATE: Duration = Duration::from_secs(5 * 60);
const SERIAL_ATTEMPTS: usize = 3;

/// One algorithm's CA, loaded: the root's certificate and the issuing CA's key and certificate.
pub struct LoadedCa {
    pub algorithm: Algorithm,
    pub issuing_id: i64,
    /// Its name in the published addresses: `/crl/{name}.crl`, `/ca/{name}.cer`. The
    /// algorithm's slug for its first issuing CA, `{slug}-{id}` for one that replaced another.
    pub publication_name: String,
    /// Replaced by a newer issuing CA (`certdesk ca new-issuing`): it issues nothing more and
    /// goes on signing the CRLs and OCSP answers of the certificates it issued.
    pub retired: bool,
    pub root_cert: Certificate,
    pub root_der: Vec<u8>,
    pub issuing_cert: Certificate,
    pub issuing_der: Vec<u8>,
    issuing_key: Box<dyn Signer>,
    issuer_hashes: certdesk_pki::IssuerHashes,
}

impl LoadedCa {
    /// The issuing key signs only inside this crate: the RA gets certificates, never the key.
    pub(crate) fn signer(&self) -> &dyn Signer {
        self.issuing_key.as_ref()
    }

    /// When the issuing CA's certificate ends, Unix seconds: no certificate it signs may end
    /// later.
    pub fn issuing_until(&self) -> i64 {
        unix_seconds(
            self.issuing_cert
                .tbs_certificate()
                .validity()
                .not_after
                .to_system_time(),
        )
    }

    /// Its certificates as the public endpoints serve them.
    pub fn published(&self) -> CaCertificates {
        CaCertificates {
            algorithm: self.algorithm,
            name: self.publication_name.clone(),
            retired: self.retired,
            root_der: self.root_der.clone(),
            issuing_der: self.issuing_der.clone(),
            issuing_until: self.issuing_until(),
        }
    }

    /// The issuing CA and the root, PEM, as `--chain-out` writes them.
    pub fn chain_pem(&self) -> Result<String, CaError> {
        Ok(certificate_to_pem(&self.issuing_cert)? + &certificate_to_pem(&self.root_cert)?)
    }
}

/// What a certificate request asks for, once the RA has decided to grant it.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    /// PKCS#10, PEM or DER. Its signature proves possession of the key.
    pub csr: &'a [u8],
    pub profile: LeafProfile,
    pub org_name: &'a str,
    pub credit_code: &'a str,
    pub validity_days: u32,
}

/// A certificate just issued, with its record.
#[derive(Debug)]
pub struct Issued {
    pub record: CertificateRecord,
    pub certificate: Certificate,
    pub pem: String,
}

/// The two certificates of an SM2 dual pair, and the encryption private key sealed to the
/// signing key (both envelope forms) for the key holder's UKey.
#[derive(Debug)]
pub struct IssuedDual {
    pub signing: Issued,
    pub encryption: Issued,
    pub envelope: SealedKey,
}

/// What a certificate for a key pair made and held by the CA (mobile products) is for.
#[derive(Debug, Clone)]
pub struct HeldRequest<'a> {
    pub algorithm: Algorithm,
    /// SM2 signing and encryption pair.
    pub dual: bool,
    pub org_name: &'a str,
    pub credit_code: &'a str,
    pub validity_days: u32,
    /// A renewal: the held signing key of this certificate (and the encryption key of
    /// `keep_encryption_key_of`) are certified again instead of new ones being made.
    pub keep_signing_key_of: Option<&'a str>,
    pub keep_encryption_key_of: Option<&'a str>,
}

/// The serial numbers an issuance will use, drawn before signing so that the RA can record
/// them first (the intent): after a crash, the serials find the certificates. Lower-case hex,
/// as the store keeps serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceSerials {
    pub signing: String,
    /// The encryption certificate's, for an SM2 dual pair.
    pub encryption: Option<String>,
}

impl IssuanceSerials {
    /// Fresh random serials (128 bits, positive): one, or two for an SM2 dual pair.
    pub fn draw(dual: bool) -> Result<Self, CaError> {
        let signing = hex::encode(random_serial()?.as_bytes());
        let encryption = if dual {
            Some(hex::encode(random_serial()?.as_bytes()))
        } else {
            None
        };
        Ok(IssuanceSerials {
            signing,
            encryption,
        })
    }
}

/// A key holder's request, checked and its CSR verified, ready to be signed under serials the
/// RA has recorded. Holds nothing secret.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    checked: CheckedRequest,
    /// The CSR as the key holder sent it: a CA in another process checks it again itself.
    csr_bytes: Vec<u8>,
    csr: VerifiedCsr,
    profile: LeafProfile,
    dual: bool,
    public_key_sha256: String,
    /// For a renewal, or 补办 with restore: the encryption certificate whose archived key pair
    /// is certified again instead of a new one (lower-case hex serial).
    keep_encryption_key_of: Option<String>,
}

impl PreparedRequest {
    /// Certifies again the archived encryption key pair of the encryption certificate
    /// `serial` (of the same organisation; checked when signing) instead of making a new one,
    /// so that files encrypted to the old certificate still open. Only for an SM2 dual pair.
    pub fn keeping_encryption_key_of(mut self, serial: &str) -> Result<Self, CaError> {
        if !self.dual {
            return Err(CaError::Refused("只有SM2双证书有加密密钥可以保留".into()));
        }
        self.keep_encryption_key_of = Some(normalise_serial(serial)?);
        Ok(self)
    }

    /// The encryption certificate whose key pair is kept, if any.
    pub fn kept_encryption_key_of(&self) -> Option<&str> {
        self.keep_encryption_key_of.as_deref()
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo to be certified, lower-case hex.
    pub fn public_key_sha256(&self) -> &str {
        &self.public_key_sha256
    }

    pub fn is_dual(&self) -> bool {
        self.dual
    }

    /// The request this was prepared from, for a CA in another process to check again.
    pub fn request(&self) -> IssueRequest<'_> {
        IssueRequest {
            csr: &self.csr_bytes,
            profile: self.profile,
            org_name: &self.checked.org_name,
            credit_code: &self.checked.credit_code,
            validity_days: self.checked.validity_days,
        }
    }
}

/// Checks a key holder's request before anything is recorded or signed: the organisation, the
/// validity (within the issuing CA's, which `issuing_until` tells for the CSR's algorithm), the
/// CSR's signature, and for an SM2 dual pair (`dual`) the algorithm. Pure: the RA side of a
/// CA in another process checks with it too, and the CA checks again.
pub fn prepare_request(
    request: &IssueRequest<'_>,
    dual: bool,
    issuing_until: impl Fn(Algorithm) -> Result<i64, CaError>,
) -> Result<PreparedRequest, CaError> {
    let checked = CheckedRequest::of(request)?;
    let csr = parse_and_verify_csr(request.csr)?;
    if dual && csr.algorithm != Algorithm::Sm2Sm3 {
        return Err(CaError::Refused(
            "双证书只适用于 SM2 产品；ECDSA P-256 证书请申请单证书".into(),
        ));
    }
    checked.fits_under(issuing_until(csr.algorithm)?)?;
    let spki = csr
        .public_key
        .to_der()
        .map_err(|e| CaError::Corrupt(format!("encoding a public key: {e}")))?;
    Ok(PreparedRequest {
        checked,
        csr_bytes: request.csr.to_vec(),
        profile: request.profile,
        dual,
        public_key_sha256: hex::encode(Sha256::digest(&spki)),
        csr,
        keep_encryption_key_of: None,
    })
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER certificate), lower-case hex: compared
/// with [`PreparedRequest::public_key_sha256`] to tell a request for the same key pair.
pub fn public_key_sha256_of(certificate_der: &[u8]) -> Result<String, CaError> {
    let certificate = Certificate::from_der(certificate_der)
        .map_err(|e| CaError::Corrupt(format!("a stored certificate: {e}")))?;
    let spki = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| CaError::Corrupt(format!("encoding a public key: {e}")))?;
    Ok(hex::encode(Sha256::digest(&spki)))
}

/// The limits every issuance is held to, for the issuing CA of `algorithm` ending at
/// `issuing_until` (`None`: this installation has no such CA).
pub fn limits_under(
    issuing_until: Option<i64>,
    algorithm: Algorithm,
    org_name: &str,
    validity_days: u32,
    issue_at: i64,
) -> Result<(), LimitError> {
    check_subject_name(org_name)?;
    let issuing_until = issuing_until.ok_or(LimitError::NoIssuingCa {
        algorithm: algorithm.label(),
    })?;
    check_fits_issuing_ca(validity_days, issuing_until, issue_at)
}

/// A private key the CA keeps for a certificate, sealed under the key-management key.
#[derive(Debug, Clone)]
pub struct SealedArchive {
    pub kmk_id: String,
    pub archive_der: Vec<u8>,
}

/// A certificate signed and not yet recorded, with what its record needs.
#[derive(Debug)]
pub struct SignedCertificate {
    pub certificate: Certificate,
    pub der: Vec<u8>,
    pub serial_hex: String,
    pub issuer_ca_id: i64,
    pub algorithm: Algorithm,
    pub profile: LeafProfile,
    pub org_name: String,
    pub credit_code: String,
    pub not_before: i64,
    pub not_after: i64,
    pub issued_at: i64,
    /// The certificate's private key, when the CA keeps it (held keys, SM2 encryption keys).
    pub key_archive: Option<SealedArchive>,
}

impl SignedCertificate {
    fn new(
        ca: &LoadedCa,
        checked: &CheckedRequest,
        profile: LeafProfile,
        serial_hex: &str,
        certificate: Certificate,
    ) -> Result<Self, CaError> {
        Ok(SignedCertificate {
            der: der_of(&certificate)?,
            certificate,
            serial_hex: serial_hex.to_string(),
            issuer_ca_id: ca.issuing_id,
            algorithm: ca.algorithm,
            profile,
            org_name: checked.org_name.clone(),
            credit_code: checked.credit_code.clone(),
            not_before: unix_seconds(checked.not_before),
            not_after: unix_seconds(checked.not_after),
            issued_at: unix_seconds(checked.now),
            key_archive: None,
        })
    }

    /// The certificate's record, to insert.
    pub fn new_certificate(&self) -> NewCertificate<'_> {
        NewCertificate {
            serial_hex: &self.serial_hex,
            issuer_ca_id: self.issuer_ca_id,
            algorithm: self.algorithm.slug(),
            profile: profile_name(self.profile),
            org_name: &self.org_name,
            credit_code: &self.credit_code,
            not_before: self.not_before,
            not_after: self.not_after,
            der: &self.der,
            issued_at: self.issued_at,
        }
    }

    /// The certificate and its kept key, to record with an order.
    pub fn for_order(&self) -> SignedForOrder<'_> {
        SignedForOrder {
            certificate: self.new_certificate(),
            key_archive: self.key_archive.as_ref().map(|a| SealedKeyArchive {
                kmk_id: &a.kmk_id,
                archive_der: &a.archive_der,
            }),
        }
    }

    fn issued(self, record: CertificateRecord) -> Result<Issued, CaError> {
        Ok(Issued {
            record,
            pem: certificate_to_pem(&self.certificate)?,
            certificate: self.certificate,
        })
    }
}

/// Certificates signed for one issuance and not yet recorded. Keys in it are sealed: the
/// encryption key under the key-management key (and to the signing key, in `envelope`).
#[derive(Debug)]
pub struct SignedIssuance {
    pub signing: SignedCertificate,
    pub encryption: Option<SignedCertificate>,
    /// For an SM2 dual pair from a key holder's CSR: the encryption key sealed to the signing
    /// key, for the key holder's UKey to import.
    pub envelope: Option<SealedKey>,
}

impl SignedIssuance {
    /// Everything to record with the order, in one transaction.
    pub fn for_order(&self) -> IssuedForOrder<'_> {
        IssuedForOrder {
            signing: self.signing.for_order(),
            encryption: self.encryption.as_ref().map(SignedCertificate::for_order),
            envelope_gmt0009: self.envelope.as_ref().map(|e| e.gmt0009_der.as_slice()),
            envelope_skf: self.envelope.as_ref().map(|e| e.skf_blob.as_slice()),
        }
    }

    /// Every serial this issuance signed.
    pub fn serials(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.signing.serial_hex.as_str())
            .chain(self.encryption.as_ref().map(|e| e.serial_hex.as_str()))
    }
}

pub struct CertificateAuthority {
    /// What the CA keeps, through its own narrow interface.
    store: Arc<dyn CaRecords>,
    public_url: String,
    cas: Vec<LoadedCa>,
    ocsp_cache: ocsp::OcspCache,
    key_management: Option<KeyManagementKey>,
    policy: ObjectIdentifier,
    /// Held while this process signs a CRL: revocations arriving together wait for each other
    /// here rather than racing for CRL numbers (another process still may; the store's unique
    /// number and the retry settle that).
    crl_signing: tokio::sync::Mutex<()>,
}

/// The algorithm's name in the store, in URLs and on the command line.
pub fn algorithm_slug(algorithm: Algorithm) -> &'static str {
    algorithm.slug()
}

/// The algorithm slug (`sm2`, `p256`) of the key a CSR proves, once its signature checks out:
/// for the RA to hold a request to the product applied for before asking for a certificate.
pub fn csr_algorithm(csr: &[u8]) -> Result<&'static str, CaError> {
    Ok(parse_and_verify_csr(csr)?.algorithm.slug())
}

pub fn algorithm_from_slug(slug: &str) -> Option<Algorithm> {
    Algorithm::ALL.into_iter().find(|a| a.slug() == slug)
}

/// Where a new root CA's private key is kept.
pub enum RootCustody<'a> {
    /// Online, in the store, encrypted under the CA passphrase (the embedded demo's default;
    /// `certdesk ca export-root-key` takes it offline later).
    Online,
    /// Offline: only the root certificate is stored; the key, encrypted PKCS#8 under this
    /// passphrase, goes to `keeper` (the operator's files) before anything is stored.
    Offline {
        passphrase: &'a Zeroizing<String>,
        keeper: &'a dyn RootKeyKeeper,
    },
}

/// Where root keys kept offline are written before their hierarchy is stored: a crash between
/// the two leaves a key and no hierarchy, and the next run builds the hierarchy around that key
/// instead of losing it (or leaving a root nobody holds the key of).
pub trait RootKeyKeeper: Send + Sync {
    /// The root key (encrypted PKCS#8 PEM) an earlier, unfinished run kept for `algorithm`.
    fn kept(&self, algorithm: Algorithm) -> Result<Option<Zeroizing<String>>, String>;
    /// Keeps a new root key (encrypted PKCS#8 PEM) durably; an existing one is never replaced.
    fn keep(&self, algorithm: Algorithm, pem: &str) -> Result<(), String>;
}

/// A hierarchy [`ensure_hierarchies`] made.
pub struct CreatedHierarchy {
    pub algorithm: Algorithm,
    /// Its root key was already kept by an earlier run cut short, and is used.
    pub resumed: bool,
}

/// The stored private key of a root kept offline (none: the row holds only the certificate).
pub const OFFLINE_ROOT_KEY: &str = "";

/// A PKCS#11 token that holds the P-256 issuing key (an HSM; SoftHSM2 in the tests). SM2 issuing
/// keys stay in software: common modules have no SM2 mechanisms (ARCHITECTURE.md).
pub struct TokenConfig {
    pub module: std::path::PathBuf,
    pub token_label: String,
    pub pin: certdesk_pki::TokenPin,
}

/// The label of the P-256 issuing key on its token.
pub const P256_ISSUING_KEY_LABEL: &str = "certdesk-issuing-p256";

/// How the store names an issuing key held on a token (RFC 7512 style), instead of its PEM.
fn token_key_reference(token_label: &str, key_label: &str) -> String {
    format!("pkcs11:token={token_label};object={key_label}")
}

/// A P-256 issuing key made on `token` under `label` (sensitive, not extractable), certified by
/// the root: the certificate's DER and the reference the store keeps instead of a PEM.
fn issuing_key_on_token(
    token: &TokenConfig,
    label: &str,
    root_key: &SoftwareKey,
    root_cert: &Certificate,
    name_prefix: &str,
) -> Result<(Vec<u8>, String), CaError> {
    let key = certdesk_pki::Pkcs11Key::generate_p256(
        &token.module,
        &token.token_label,
        &token.pin,
        label,
    )?;
    let cert = certdesk_pki::certify_issuing_ca(root_key, root_cert, &key, name_prefix)?;
    Ok((
        der_of(&cert)?,
        token_key_reference(&token.token_label, label),
    ))
}

/// The (token, object) labels of a stored token reference.
fn parse_token_key_reference(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix("pkcs11:")?;
    let mut token = None;
    let mut object = None;
    for part in rest.split(';') {
        match part.split_once('=') {
            Some(("token", v)) => token = Some(v),
            Some(("object", v)) => object = Some(v),
            _ => {}
        }
    }
    Some((token?, object?))
}

/// Whether an offline root key file (under `offline_passphrase`) holds the same key as the one
/// stored online (under `passphrase`): an export cut short after writing the file is finished
/// by deleting the online copy, and a file holding another key is never taken for it.
pub fn same_root_key(
    offline_pem: &str,
    offline_passphrase: &Zeroizing<String>,
    stored_pem: &str,
    passphrase: &Zeroizing<String>,
) -> Result<bool, CaError> {
    let offline = SoftwareKey::from_encrypted_pkcs8_pem(offline_pem, offline_passphrase)?;
    let stored = SoftwareKey::from_encrypted_pkcs8_pem(stored_pem, passphrase)?;
    Ok(offline.public_key_spki() == stored.public_key_spki())
}

/// A root key stored online (encrypted under the CA passphrase) as it goes offline: encrypted
/// PKCS#8 PEM under the offline passphrase.
pub fn root_key_for_offline(
    stored_pem: &str,
    passphrase: &Zeroizing<String>,
    offline_passphrase: &Zeroizing<String>,
) -> Result<Zeroizing<String>, CaError> {
    let key = SoftwareKey::from_encrypted_pkcs8_pem(stored_pem, passphrase)?;
    Ok(key.to_encrypted_pkcs8_pem(offline_passphrase)?)
}

/// A root's private key as the operator keeps it offline: encrypted PKCS#8 PEM and its
/// passphrase.
pub struct OfflineRootKey<'a> {
    pub pem: &'a str,
    pub passphrase: &'a Zeroizing<String>,
}

/// Makes a new issuing CA for `algorithm` under its root and puts it in service; the issuing CA
/// it replaces is retired and goes on signing the CRLs and OCSP answers of what it issued. The
/// root's private key comes from the operator's offline file (`root_key`): no root key is
/// online to do it. The new key is kept as the hierarchy's was: on `token` for P-256 when one is given, else encrypted under `passphrase`.
pub async fn new_issuing_ca(
    store: &dyn CaRecords,
    algorithm: Algorithm,
    root_key: OfflineRootKey<'_>,
    passphrase: &Zeroizing<String>,
    name_prefix: &str,
    token: Option<&TokenConfig>,
    note: &certdesk_store::AuditNote<'_>,
) -> Result<certdesk_store::CaKeyRecord, CaError> {
    let keys = store.ca_keys().await?;
    let root = keys
        .iter()
        .find(|k| k.algorithm == algorithm.slug() && k.role == "root")
        .ok_or(CaError::NotInitialised(algorithm.label()))?;
    let root_cert = Certificate::from_der(&root.certificate_der)
        .map_err(|e| CaError::Corrupt(format!("{} root certificate: {e}", algorithm.label())))?;
    let root_key = SoftwareKey::from_encrypted_pkcs8_pem(root_key.pem, root_key.passphrase)
        .map_err(|e| {
            CaError::Refused(format!(
                "the root key file cannot be opened with CERTDESK_ROOT_KEY_PASSPHRASE: {e}"
            ))
        })?;
    if root_key.public_key_spki() != root_cert.tbs_certificate().subject_public_key_info() {
        return Err(CaError::Refused(format!(
            "the root key file holds another key than the {} root CA's",
            algorithm.label()
        )));
    }
    let now = unix_seconds(SystemTime::now());
    let (certificate_der, stored_key) = match token {
        Some(token) if algorithm == Algorithm::EcdsaP256Sha256 => {
            // A label of its own: the key it replaces stays on the token, retired.
            let label = format!("{P256_ISSUING_KEY_LABEL}-{now}");
            let (der, reference) =
                issuing_key_on_token(token, &label, &root_key, &root_cert, name_prefix)?;
            (der, Zeroizing::new(reference))
        }
        _ => {
            let key = SoftwareKey::generate(algorithm)?;
            let certificate =
                certdesk_pki::certify_issuing_ca(&root_key, &root_cert, &key, name_prefix)?;
            (
                der_of(&certificate)?,
                key.to_encrypted_pkcs8_pem(passphrase)?,
            )
        }
    };
    let record = store
        .replace_issuing_ca(
            &NewCaKey {
                algorithm: algorithm.slug(),
                role: "issuing",
                certificate_der: &certificate_der,
                private_key_pem: &stored_key,
                created_at: now,
            },
            now,
            note,
        )
        .await?;
    tracing::info!(
        algorithm = algorithm.label(),
        id = record.id,
        "new issuing CA in service"
    );
    Ok(record)
}

/// Creates the root and issuing CA of every algorithm that has none yet; answers which were
/// made. Safe to run from several processes at once: the store keeps the first hierarchy.
pub async fn ensure_hierarchies(
    store: &dyn CaRecords,
    passphrase: &Zeroizing<String>,
    name_prefix: &str,
) -> Result<Vec<Algorithm>, CaError> {
    Ok(
        ensure_hierarchies_with(store, passphrase, name_prefix, RootCustody::Online, None)
            .await?
            .into_iter()
            .map(|created| created.algorithm)
            .collect(),
    )
}

/// [`ensure_hierarchies`], with the roots' keys kept as `custody` says.
pub async fn ensure_hierarchies_with(
    store: &dyn CaRecords,
    passphrase: &Zeroizing<String>,
    name_prefix: &str,
    custody: RootCustody<'_>,
    token: Option<&TokenConfig>,
) -> Result<Vec<CreatedHierarchy>, CaError> {
    let existing = store.ca_keys().await?;
    let mut created = Vec::new();
    for algorithm in Algorithm::ALL {
        if existing.iter().any(|k| k.algorithm == algorithm.slug()) {
            continue;
        }
        // An offline root's key is kept before anything else is stored.
        let (root_key, resumed) = match &custody {
            RootCustody::Online => (SoftwareKey::generate(algorithm)?, false),
            RootCustody::Offline { passphrase, keeper } => match keeper
                .kept(algorithm)
                .map_err(CaError::Refused)?
            {
                Some(pem) => (
                    SoftwareKey::from_encrypted_pkcs8_pem(&pem, passphrase).map_err(|e| {
                        CaError::Refused(format!(
                            "the {} root key kept by an earlier init cannot be opened with CERTDESK_ROOT_KEY_PASSPHRASE: {e}",
                            algorithm.label()
                        ))
                    })?,
                    true,
                ),
                None => {
                    let key = SoftwareKey::generate(algorithm)?;
                    keeper
                        .keep(algorithm, &key.to_encrypted_pkcs8_pem(passphrase)?)
                        .map_err(CaError::Refused)?;
                    (key, false)
                }
            },
        };
        certdesk_store::failpoint("ca-init-after-root-key-kept");
        if root_key.algorithm() != algorithm {
            return Err(CaError::Refused(format!(
                "the kept {} root key is of another algorithm",
                algorithm.label()
            )));
        }
        let hierarchy = CaHierarchy::generate_with_root(root_key, name_prefix)?;
        let root_der = der_of(&hierarchy.root_cert)?;
        // A P-256 issuing key made on the token, certified by the new root, replaces the one
        // made in memory; the store then names the token's key instead of holding a PEM.
        let on_token = match token {
            Some(token) if algorithm == Algorithm::EcdsaP256Sha256 => Some(issuing_key_on_token(
                token,
                P256_ISSUING_KEY_LABEL,
                &hierarchy.root_key,
                &hierarchy.root_cert,
                name_prefix,
            )?),
            _ => None,
        };
        let issuing_der = match &on_token {
            Some((der, _)) => der.clone(),
            None => der_of(&hierarchy.issuing_cert)?,
        };
        let root_pem = match &custody {
            RootCustody::Online => hierarchy.root_key.to_encrypted_pkcs8_pem(passphrase)?,
            RootCustody::Offline { .. } => Zeroizing::new(OFFLINE_ROOT_KEY.to_string()),
        };
        let issuing_pem = match on_token {
            Some((_, reference)) => Zeroizing::new(reference),
            None => hierarchy.issuing_key.to_encrypted_pkcs8_pem(passphrase)?,
        };
        let now = unix_seconds(SystemTime::now());
        let stored = store
            .insert_ca_hierarchy(
                &NewCaKey {
                    algorithm: algorithm.slug(),
                    role: "root",
                    certificate_der: &root_der,
                    private_key_pem: &root_pem,
                    created_at: now,
                },
                &NewCaKey {
                    algorithm: algorithm.slug(),
                    role: "issuing",
                    certificate_der: &issuing_der,
                    private_key_pem: &issuing_pem,
                    created_at: now,
                },
            )
            .await;
        match stored {
            Ok(_) => {
                tracing::info!(algorithm = algorithm.label(), "CA hierarchy created");
                created.push(CreatedHierarchy { algorithm, resumed });
            }
            // Another process made it between our look and our insert: theirs stands.
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(created)
}

/// An issuing CA's key row, in service or retired (a retired row's role names its id, so that
/// the table's one-row-per-(algorithm, role) rule holds; `retired_at` says it is retired).
fn is_issuing_role(key: &certdesk_store::CaKeyRecord) -> bool {
    key.role == "issuing" || (key.retired_at.is_some() && key.role.starts_with("issuing-"))
}

/// One issuing CA, its key opened (decrypted, or found on its token).
fn load_ca(
    algorithm: Algorithm,
    root: &certdesk_store::CaKeyRecord,
    issuing: &certdesk_store::CaKeyRecord,
    publication_name: String,
    passphrase: &Zeroizing<String>,
    token: Option<&TokenConfig>,
) -> Result<LoadedCa, CaError> {
    let issuing_key: Box<dyn Signer> = match parse_token_key_reference(&issuing.private_key_pem) {
        Some((token_label, key_label)) => {
            let token = token.filter(|t| t.token_label == token_label).ok_or_else(|| {
                CaError::Refused(format!(
                    "the {} issuing key is on the PKCS#11 token {token_label:?}: give its module (--pkcs11-module) and its PIN (CERTDESK_PKCS11_PIN)",
                    algorithm.label()
                ))
            })?;
            Box::new(certdesk_pki::Pkcs11Key::open(
                &token.module,
                token_label,
                &token.pin,
                key_label,
            )?)
        }
        None => Box::new(
            SoftwareKey::from_encrypted_pkcs8_pem(&issuing.private_key_pem, passphrase).map_err(
                |source| CaError::KeyDecryption {
                    algorithm: algorithm.label(),
                    role: "issuing".to_string(),
                    source,
                },
            )?,
        ),
    };
    let root_cert = Certificate::from_der(&root.certificate_der)
        .map_err(|e| CaError::Corrupt(format!("{} root certificate: {e}", algorithm.label())))?;
    let issuing_cert = Certificate::from_der(&issuing.certificate_der)
        .map_err(|e| CaError::Corrupt(format!("{} issuing certificate: {e}", algorithm.label())))?;
    let issuer_hashes = ocsp::issuer_hashes(&issuing_cert)?;
    Ok(LoadedCa {
        issuer_hashes,
        algorithm,
        issuing_id: issuing.id,
        publication_name,
        retired: issuing.retired_at.is_some(),
        root_der: root.certificate_der.clone(),
        issuing_der: issuing.certificate_der.clone(),
        root_cert,
        issuing_cert,
        issuing_key,
    })
}

impl CertificateAuthority {
    /// Loads every CA hierarchy from the store and decrypts the issuing keys.
    pub async fn open(
        store: Arc<dyn CaRecords>,
        public_url: &str,
        passphrase: &Zeroizing<String>,
    ) -> Result<Self, CaError> {
        Self::open_with_token(store, public_url, passphrase, None).await
    }

    /// [`CertificateAuthority::open`], with the token that holds an issuing key kept in an HSM.
    pub async fn open_with_token(
        store: Arc<dyn CaRecords>,
        public_url: &str,
        passphrase: &Zeroizing<String>,
        token: Option<&TokenConfig>,
    ) -> Result<Self, CaError> {
        let keys = store.ca_keys().await?;
        let mut cas = Vec::new();
        for algorithm in Algorithm::ALL {
            let Some(root) = keys
                .iter()
                .find(|k| k.algorithm == algorithm.slug() && k.role == "root")
            else {
                continue;
            };
            // Oldest first: the first is published under the algorithm's slug.
            let mut issuing_keys: Vec<_> = keys
                .iter()
                .filter(|k| k.algorithm == algorithm.slug() && is_issuing_role(k))
                .collect();
            issuing_keys.sort_by_key(|k| k.id);
            let first_id = issuing_keys.first().map(|k| k.id);
            for issuing in issuing_keys {
                let publication_name = if Some(issuing.id) == first_id {
                    algorithm.slug().to_string()
                } else {
                    format!("{}-{}", algorithm.slug(), issuing.id)
                };
                cas.push(load_ca(
                    algorithm,
                    root,
                    issuing,
                    publication_name,
                    passphrase,
                    token,
                )?);
            }
        }
        let revocations_seen = store.revocation_counter().await?;
        Ok(CertificateAuthority {
            store,
            public_url: public_url.trim_end_matches('/').to_string(),
            cas,
            ocsp_cache: ocsp::OcspCache::new(revocations_seen),
            key_management: None,
            policy: PLACEHOLDER_POLICY_OID,
            crl_signing: tokio::sync::Mutex::new(()),
        })
    }

    /// Enables dual issuance and key recovery with this key-management key.
    pub fn with_key_management(mut self, kmk: KeyManagementKey) -> Self {
        self.key_management = Some(kmk);
        self
    }

    fn kmk(&self) -> Result<&KeyManagementKey, CaError> {
        self.key_management
            .as_ref()
            .ok_or_else(|| CaError::Refused("密钥管理密钥未配置，无法签发双证书".into()))
    }

    /// Writes this certificate policy into the certificates issued from now on (the OID the
    /// operator's CPS registers; `PLACEHOLDER_POLICY_OID` until it is set).
    pub fn with_policy(mut self, policy: ObjectIdentifier) -> Self {
        self.policy = policy;
        self
    }

    /// The certificate policy written into new certificates.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The loaded CAs, one per algorithm.
    pub fn cas(&self) -> &[LoadedCa] {
        &self.cas
    }

    /// The issuing CA of `algorithm` in service (not a retired one).
    pub fn ca(&self, algorithm: Algorithm) -> Result<&LoadedCa, CaError> {
        self.cas
            .iter()
            .find(|ca| ca.algorithm == algorithm && !ca.retired)
            .ok_or(CaError::NotInitialised(algorithm.label()))
    }

    /// Whether this CA would issue a certificate naming `org_name` for `validity_days` at
    /// `issue_at` (Unix seconds) with the issuing CA of `algorithm`: the same limits
    /// [`CertificateAuthority::issue`] holds every request to, for the RA to ask before it lets
    /// an order reach 制证中.
    pub fn check_limits(
        &self,
        algorithm: Algorithm,
        org_name: &str,
        validity_days: u32,
        issue_at: i64,
    ) -> Result<(), LimitError> {
        limits_under(
            self.ca(algorithm).ok().map(LoadedCa::issuing_until),
            algorithm,
            org_name,
            validity_days,
            issue_at,
        )
    }

    fn ca_by_id(&self, issuing_id: i64) -> Result<&LoadedCa, CaError> {
        self.cas
            .iter()
            .find(|ca| ca.issuing_id == issuing_id)
            .ok_or_else(|| CaError::Corrupt(format!("certificate names unknown CA {issuing_id}")))
    }

    /// Checks a key holder's request before anything is recorded or signed: the organisation,
    /// the validity (within the issuing CA's), the CSR's signature, and for an SM2 dual pair
    /// (`dual`) the key-management key and the algorithm. `request.profile` is ignored when
    /// `dual`: the pair has both.
    pub fn prepare(
        &self,
        request: &IssueRequest<'_>,
        dual: bool,
    ) -> Result<PreparedRequest, CaError> {
        if dual {
            self.kmk()?;
        }
        prepare_request(request, dual, |algorithm| {
            self.ca(algorithm).map(LoadedCa::issuing_until)
        })
    }

    /// Signs a prepared request under serials the caller drew (and, for an order, recorded
    /// first). Nothing is recorded here: the caller records what comes back, and a signature
    /// that is never recorded never left this process. A kept encryption key pair is recovered
    /// from its archive first, and only for the organisation it was certified to.
    pub async fn sign_prepared(
        &self,
        prepared: &PreparedRequest,
        serials: &IssuanceSerials,
    ) -> Result<SignedIssuance, CaError> {
        let kept = match prepared.kept_encryption_key_of() {
            None => None,
            Some(serial) => {
                let record = self.certificate_record(serial).await?;
                if record.profile != profile_name(LeafProfile::Enc)
                    || record.credit_code != prepared.checked.credit_code
                {
                    return Err(CaError::Refused(format!(
                        "证书 {serial} 不是本单位的加密证书，不能保留其密钥"
                    )));
                }
                Some(self.archived_key(&record).await?)
            }
        };
        self.sign_prepared_now(prepared, serials, kept.as_ref())
    }

    fn sign_prepared_now(
        &self,
        prepared: &PreparedRequest,
        serials: &IssuanceSerials,
        kept_encryption_key: Option<&SoftwareKey>,
    ) -> Result<SignedIssuance, CaError> {
        let ca = self.ca(prepared.csr.algorithm)?;
        let checked = &prepared.checked;
        let leaf = |profile, serial_hex: &str| -> Result<LeafRequest, CaError> {
            Ok(LeafRequest {
                profile,
                org_name: checked.org_name.clone(),
                credit_code: checked.credit_code.clone(),
                not_before: checked.not_before,
                not_after: checked.not_after,
                serial: serial_number(serial_hex)?,
                base_url: self.public_url.clone(),
                ca_name: Some(ca.publication_name.clone()),
                policy: self.policy,
            })
        };
        if !prepared.dual {
            let certificate = issue_leaf(
                ca.signer(),
                &ca.issuing_cert,
                &prepared.csr,
                &leaf(prepared.profile, &serials.signing)?,
            )?;
            return Ok(SignedIssuance {
                signing: SignedCertificate::new(
                    ca,
                    checked,
                    prepared.profile,
                    &serials.signing,
                    certificate,
                )?,
                encryption: None,
                envelope: None,
            });
        }
        let kmk = self.kmk()?;
        let encryption_serial = serials
            .encryption
            .as_deref()
            .ok_or_else(|| CaError::Corrupt("a dual pair needs two serial numbers".into()))?;
        let dual = issue_dual(
            ca.signer(),
            &ca.issuing_cert,
            &prepared.csr,
            &leaf(LeafProfile::Sign, &serials.signing)?,
            &leaf(LeafProfile::Enc, encryption_serial)?,
            kmk,
            match kept_encryption_key {
                Some(key) => EncryptionKeyPair::Kept(key),
                None => EncryptionKeyPair::Fresh,
            },
        )?;
        let mut encryption = SignedCertificate::new(
            ca,
            checked,
            LeafProfile::Enc,
            encryption_serial,
            dual.encryption_cert,
        )?;
        encryption.key_archive = Some(SealedArchive {
            kmk_id: dual.encryption_key_archive.kmk_id().to_string(),
            archive_der: dual.encryption_key_archive.to_der_bytes()?,
        });
        Ok(SignedIssuance {
            signing: SignedCertificate::new(
                ca,
                checked,
                LeafProfile::Sign,
                &serials.signing,
                dual.signing_cert,
            )?,
            encryption: Some(encryption),
            envelope: Some(dual.envelope),
        })
    }

    /// Issues a certificate for the key a CSR proves, by the issuing CA of the CSR's algorithm,
    /// and records it. Nothing is recorded when anything is refused; no certificate leaves
    /// without its record.
    pub async fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, CaError> {
        let prepared = self.prepare(request, false)?;
        for _ in 0..SERIAL_ATTEMPTS {
            let SignedIssuance { signing, .. } = self
                .sign_prepared(&prepared, &IssuanceSerials::draw(false)?)
                .await?;
            match self
                .store
                .insert_certificate(&signing.new_certificate())
                .await
            {
                Ok(record) => {
                    tracing::info!(serial = %record.serial_hex, algorithm = signing.algorithm.label(), profile = profile_name(signing.profile), "certificate issued");
                    return signing.issued(record);
                }
                // 2^-127 per pair, but the database is the judge: draw again.
                Err(StoreError::Conflict("serial")) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(CaError::Corrupt(
            "could not draw an unused serial number".into(),
        ))
    }

    /// Issues an SM2 dual pair: the signing certificate for the CSR's key, and an encryption
    /// certificate for a key pair made here, archived under the key-management key and sealed
    /// to the signing key. Both certificates and the archive are recorded together or not at
    /// all. `request.profile` is ignored: the pair has both.
    pub async fn issue_dual(&self, request: &IssueRequest<'_>) -> Result<IssuedDual, CaError> {
        let prepared = self.prepare(request, true)?;
        for _ in 0..SERIAL_ATTEMPTS {
            let signed = self
                .sign_prepared(&prepared, &IssuanceSerials::draw(true)?)
                .await?;
            let (Some(encryption), Some(envelope)) = (signed.encryption, signed.envelope) else {
                return Err(CaError::Corrupt("a dual issuance without its pair".into()));
            };
            let Some(archive) = encryption.key_archive.as_ref() else {
                return Err(CaError::Corrupt(
                    "an encryption key without its archive".into(),
                ));
            };
            let signing = signed.signing;
            let stored = self
                .store
                .insert_dual_certificates(
                    &signing.new_certificate(),
                    &encryption.new_certificate(),
                    &archive.kmk_id,
                    &archive.archive_der,
                )
                .await;
            match stored {
                Ok((sign_record, enc_record)) => {
                    tracing::info!(signing = %sign_record.serial_hex, encryption = %enc_record.serial_hex, "SM2 dual certificates issued; encryption key archived");
                    return Ok(IssuedDual {
                        signing: signing.issued(sign_record)?,
                        encryption: encryption.issued(enc_record)?,
                        envelope,
                    });
                }
                Err(StoreError::Conflict("serial")) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(CaError::Corrupt(
            "could not draw unused serial numbers".into(),
        ))
    }

    /// Signs a certificate (with its SM2 encryption partner when `dual`) for a key pair made
    /// here and held here, for mobile products (移动版): the user has no UKey, so the key pair
    /// never leaves the CA side. The signing key comes back sealed under the key-management key
    /// with its certificate, so that the caller records the certificates and the keys in one
    /// transaction: a held certificate without its key would be of no use to anyone. Nothing is
    /// recorded here.
    pub async fn sign_held(
        &self,
        held: &HeldRequest<'_>,
        serials: &IssuanceSerials,
    ) -> Result<SignedIssuance, CaError> {
        let kmk = self.kmk()?;
        let key = match held.keep_signing_key_of {
            None => SoftwareKey::generate(held.algorithm)?,
            Some(serial) => {
                let record = self.certificate_record(serial).await?;
                if record.profile != profile_name(LeafProfile::Sign)
                    || record.credit_code != held.credit_code
                {
                    return Err(CaError::Refused(format!(
                        "证书 {serial} 不是本单位托管密钥的签名证书，不能续费"
                    )));
                }
                self.archived_key(&record).await?
            }
        };
        let subject = certdesk_pki::x509_cert::name::Name::from_str("CN=mobile")
            .map_err(|e| CaError::Corrupt(format!("subject of a held key's request: {e}")))?;
        let csr = certdesk_pki::make_csr(&key, subject)?;
        let mut prepared = self.prepare(
            &IssueRequest {
                csr: &csr,
                profile: LeafProfile::Sign,
                org_name: held.org_name,
                credit_code: held.credit_code,
                validity_days: held.validity_days,
            },
            held.dual,
        )?;
        if let Some(serial) = held.keep_encryption_key_of {
            prepared = prepared.keeping_encryption_key_of(serial)?;
        }
        let mut signed = self.sign_prepared(&prepared, serials).await?;
        signed.signing.key_archive = Some(SealedArchive {
            kmk_id: kmk.id().to_string(),
            archive_der: KeyArchive::seal(&key, kmk)?.to_der_bytes()?,
        });
        // The envelope is for a UKey to import the encryption key; here the CA holds both.
        signed.envelope = None;
        Ok(signed)
    }

    /// Seals the audit chain's head with the audit seal key (derived from the key-management
    /// key, so held only in the CA zone) and keeps the seal; answers it, or `None` while the log
    /// is empty. A rewritten chain or a cut-off tail then shows against the seal.
    pub async fn seal_audit_head(&self, sealed_at: i64) -> Result<Option<AuditSeal>, CaError> {
        let key = certdesk_pki::AuditSealKey::from_kmk(self.kmk()?);
        let Some((sequence, hash)) = self.store.audit_head().await? else {
            return Ok(None);
        };
        let seal = AuditSeal {
            sealed_at,
            sequence,
            seal: key.seal(sequence, &hash, sealed_at),
            hash,
        };
        self.store.add_audit_seal(&seal).await?;
        Ok(Some(seal))
    }

    /// After revocations written to the store directly (issuance recovery, or certificates
    /// signed for an order that could no longer take them): forgets this process's cached OCSP
    /// answers and signs a new CRL for each CA concerned.
    pub async fn publish_revocations(&self, revoked: &[CertificateRecord]) -> Result<(), CaError> {
        if revoked.is_empty() {
            return Ok(());
        }
        self.ocsp_cache.clear();
        let mut signed: Vec<i64> = Vec::new();
        for record in revoked {
            if signed.contains(&record.issuer_ca_id) {
                continue;
            }
            signed.push(record.issuer_ca_id);
            self.sign_crl(self.ca_by_id(record.issuer_ca_id)?).await?;
        }
        Ok(())
    }

    /// The record of the certificate with `serial` (hex, colons and spaces allowed).
    pub async fn certificate_record(&self, serial: &str) -> Result<CertificateRecord, CaError> {
        let serial_hex = normalise_serial(serial)?;
        self.store
            .certificate_by_serial(&serial_hex)
            .await?
            .ok_or(CaError::UnknownSerial(serial_hex))
    }

    /// Recovers the archived encryption private key of an encryption certificate. The caller
    /// has checked that an authorised officer asks, and records the recovery in the audit log.
    pub async fn recover_encryption_key(&self, serial: &str) -> Result<SoftwareKey, CaError> {
        let record = self.certificate_record(serial).await?;
        let key = self.archived_key(&record).await?;
        tracing::warn!(serial = %record.serial_hex, "archived encryption key recovered");
        Ok(key)
    }

    async fn archived_key(&self, record: &CertificateRecord) -> Result<SoftwareKey, CaError> {
        let kmk = self.kmk()?;
        let archive = self.store.key_archive(record.id).await?.ok_or_else(|| {
            CaError::Refused(format!(
                "证书 {} 没有托管的加密密钥（只有SM2双证书的加密证书有）",
                record.serial_hex
            ))
        })?;
        Ok(KeyArchive::from_der_bytes(&archive.archive_der)?.recover(kmk)?)
    }

    /// Revokes a certificate and publishes a new CRL for its CA. Revoking twice keeps the
    /// first date and reason and answers the record as it stands.
    pub async fn revoke(
        &self,
        serial: &str,
        reason: CrlReason,
    ) -> Result<CertificateRecord, CaError> {
        if reason == CrlReason::RemoveFromCRL {
            return Err(CaError::Refused(
                "removeFromCRL 只用于增量CRL，不能作为吊销原因".into(),
            ));
        }
        let serial_hex = normalise_serial(serial)?;
        let now = unix_seconds(SystemTime::now());
        let record = match self
            .store
            .revoke_certificate(&serial_hex, now, crl_reason_name(reason))
            .await?
        {
            RevokeOutcome::Revoked(record) => {
                // This process's cached answers go at once; other processes follow within
                // REVOCATION_CHECK_INTERVAL.
                self.ocsp_cache.clear();
                tracing::info!(serial = %serial_hex, reason = crl_reason_name(reason), "certificate revoked");
                record
            }
            RevokeOutcome::AlreadyRevoked(record) => record,
            RevokeOutcome::NotFound => return Err(CaError::UnknownSerial(serial_hex)),
        };
        let ca = self.ca_by_id(record.issuer_ca_id)?;
        self.sign_crl(ca).await?;
        Ok(record)
    }

    /// The CRL to publish for the issuing CA in service of an algorithm.
    pub async fn current_crl(&self, algorithm: Algorithm) -> Result<CrlRecord, CaError> {
        self.current_crl_of(self.ca(algorithm)?).await
    }

    /// The issuing CA (in service or retired) published as `name` (`p256`, `p256-7`).
    pub fn ca_named(&self, name: &str) -> Option<&LoadedCa> {
        self.cas.iter().find(|ca| ca.publication_name == name)
    }

    /// The CRL to publish for an issuing CA: the latest one, or a new one when there is none
    /// or less than half of its validity is left.
    pub async fn current_crl_of(&self, ca: &LoadedCa) -> Result<CrlRecord, CaError> {
        let now = unix_seconds(SystemTime::now());
        if let Some(latest) = self.store.latest_crl(&ca.publication_name).await? {
            let half = (latest.next_update - latest.this_update) / 2;
            if now < latest.this_update + half {
                return Ok(latest);
            }
        }
        self.sign_crl(ca).await
    }

    /// Signs and stores a new full CRL with the next CRL number.
    pub async fn sign_crl(&self, ca: &LoadedCa) -> Result<CrlRecord, CaError> {
        let _signing = self.crl_signing.lock().await;
        for _ in 0..SERIAL_ATTEMPTS {
            let number = self.store.next_crl_number(&ca.publication_name).await?;
            // Read after the number is taken: CRL number − 1 was stored, so every revocation
            // it listed is committed and read here too. A newer CRL never lists less, whoever
            // (serve's schedule, `certdesk ca revoke`) signs it.
            let revoked: Vec<RevokedEntry> = self
                .store
                .revoked_certificates(ca.issuing_id)
                .await?
                .iter()
                .map(revoked_entry)
                .collect::<Result<_, _>>()?;
            let this_update = SystemTime::now();
            let next_update = this_update + CRL_VALIDITY;
            let crl = build_crl(
                ca.signer(),
                &ca.issuing_cert,
                &CrlRequest {
                    crl_number: u64::try_from(number)
                        .map_err(|_| CaError::Corrupt("negative CRL number".into()))?,
                    this_update,
                    next_update,
                    revoked: revoked.clone(),
                },
            )?;
            let record = CrlRecord {
                algorithm: ca.publication_name.clone(),
                crl_number: number,
                this_update: unix_seconds(this_update),
                next_update: unix_seconds(next_update),
                der: crl.to_der().map_err(|e| CaError::Corrupt(e.to_string()))?,
            };
            match self.store.insert_crl(&record).await {
                Ok(()) => {
                    tracing::info!(
                        algorithm = ca.algorithm.label(),
                        crl_number = number,
                        revoked = revoked.len(),
                        "CRL signed"
                    );
                    return Ok(record);
                }
                // Another process took this number: take the next one.
                Err(StoreError::Conflict(_)) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(CaError::Corrupt("could not take a CRL number".into()))
    }
}

/// The checks every issuance makes before touching keys, and the validity it will get.
#[derive(Debug, Clone)]
struct CheckedRequest {
    credit_code: String,
    org_name: String,
    validity_days: u32,
    now: SystemTime,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl CheckedRequest {
    fn of(request: &IssueRequest<'_>) -> Result<Self, CaError> {
        let credit_code = certdesk_domain::validate_credit_code(request.credit_code)
            .map_err(|e| CaError::Refused(e.to_string()))?;
        let org_name = request.org_name.trim().to_string();
        // The messages read "名称…": the organisation's name.
        check_subject_name(&org_name).map_err(|e| CaError::Refused(format!("机构{e}")))?;
        certdesk_domain::limits::check_validity_days(request.validity_days)
            .map_err(|e| CaError::Refused(e.to_string()))?;
        let now = SystemTime::now();
        Ok(CheckedRequest {
            credit_code,
            org_name,
            validity_days: request.validity_days,
            now,
            not_before: now - BACKDATE,
            not_after: now + Duration::from_secs(u64::from(request.validity_days) * 24 * 60 * 60),
        })
    }

    /// A certificate may not outlive the CA that signs it (RFC 5280 path validation would
    /// reject it after the CA expires while it still claimed to be valid).
    fn fits_under(&self, issuing_until: i64) -> Result<(), CaError> {
        check_fits_issuing_ca(self.validity_days, issuing_until, unix_seconds(self.now))
            .map_err(|e| CaError::Refused(e.to_string()))
    }
}

fn revoked_entry(record: &CertificateRecord) -> Result<RevokedEntry, CaError> {
    let serial = serial_number(&record.serial_hex)?;
    let reason = record
        .revocation_reason
        .as_deref()
        .and_then(crl_reason_from_name)
        .unwrap_or(CrlReason::Unspecified);
    Ok(RevokedEntry {
        serial,
        revoked_at: UNIX_EPOCH + Duration::from_secs(record.revoked_at.unwrap_or(0).max(0) as u64),
        reason,
    })
}

/// A serial as the store keeps it (lower-case hex of the content bytes), as X.509 encodes it.
fn serial_number(serial_hex: &str) -> Result<SerialNumber, CaError> {
    let bytes = hex::decode(serial_hex)
        .map_err(|e| CaError::Corrupt(format!("serial {serial_hex}: {e}")))?;
    SerialNumber::new(&bytes).map_err(|e| CaError::Corrupt(format!("serial {serial_hex}: {e}")))
}

/// A serial as users write it (hex, any case, with or without colons or spaces, `0x`),
/// as the store keeps it: lower-case hex of the DER INTEGER's content bytes.
pub fn normalise_serial(input: &str) -> Result<String, CaError> {
    let trimmed = input.trim();
    let without_prefix = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let digits: String = without_prefix
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    if digits.is_empty() || digits.len() > 42 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CaError::Refused(format!(
            "证书序列号“{trimmed}”无效：应为十六进制数字，例如 5A3F09C1…"
        )));
    }
    let digits = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    Ok(digits)
}

/// The profile [`profile_name`] names, if any.
pub fn profile_from_name(name: &str) -> Option<LeafProfile> {
    [LeafProfile::Sign, LeafProfile::Enc]
        .into_iter()
        .find(|p| profile_name(*p) == name)
}

pub fn profile_name(profile: LeafProfile) -> &'static str {
    match profile {
        LeafProfile::Sign => "sign",
        LeafProfile::Enc => "enc",
    }
}

fn der_of(certificate: &Certificate) -> Result<Vec<u8>, CaError> {
    certificate
        .to_der()
        .map_err(|e| CaError::Corrupt(format!("encoding a certificate: {e}")))
}

pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests;
