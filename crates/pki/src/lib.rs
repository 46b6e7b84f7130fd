//! certdesk-pki: the CA side of certdesk.
//!
//! Algorithms (SM2-with-SM3, ECDSA P-256; RSA verified only), the [`Signer`]
//! trait and its software backend, CA hierarchies, PKCS#10 checks, leaf issuance, CRLs, OCSP
//! responses, key management for dual certificates (SM2 encryption, GM/T 0009 / GM/T 0016
//! envelopes, key archive) and a PKCS#11 signer backend. Everything here is synchronous and does no I/O besides what a
//! [`Signer`] backend does.

mod algorithm;
mod audit_seal;
mod ca;
mod cert;
mod crl;
mod csr;
mod envelope;
mod error;
mod kms;
mod leaf;
mod ocsp;
mod personal_data;
mod pkcs11;
mod signer;

#[cfg(test)]
mod test_support;

pub use algorithm::{
    Algorithm, MAX_RSA_BITS, MIN_RSA_BITS, OID_CURVE_P256, OID_CURVE_SM2, OID_ECDSA_WITH_SHA256,
    OID_EC_PUBLIC_KEY, OID_RSA_ENCRYPTION, OID_SHA256_WITH_RSA_ENCRYPTION, OID_SM2_WITH_SM3,
    SM2_DEFAULT_DISTID,
};
pub use audit_seal::AuditSealKey;
pub use ca::{certify_issuing_ca, CaHierarchy};
pub use cert::{
    certificate_from_der_or_pem, certificate_to_pem, random_serial, verify_certificate_signature,
};
pub use crl::{
    build_crl, crl_from_der_or_pem, crl_to_pem, verify_crl_signature, CrlRequest, RevokedEntry,
};
pub use csr::{csr_to_pem, make_csr, parse_and_verify_csr, parse_and_verify_csr_for, VerifiedCsr};
pub use envelope::{
    open_gmt0009_envelope, open_skf_envelope, seal_encryption_key, sm2_encrypt, SealedKey,
    OID_SM4_ECB, SGD_SM4_ECB,
};
pub use error::PkiError;
pub use kms::{
    issue_dual, DualIssuance, EncryptionKeyPair, KeyArchive, KeyManagementKey, OID_SM4_GCM,
};
pub use leaf::{
    issue_leaf, parse_policy_oid, LeafProfile, LeafRequest, OID_CREDIT_CODE_EXTENSION,
    PLACEHOLDER_POLICY_OID,
};
pub use ocsp::{
    error_ocsp_response, parse_ocsp_request, sign_ocsp_response, verify_ocsp_response, CertIdInfo,
    IssuerHashes, OcspErrorStatus, OcspHash, OcspRequestInfo, OcspStatus, OcspTimes,
    VerifiedOcspResponse, MAX_OCSP_REQUEST_BYTES, OID_OCSP_BASIC, OID_OCSP_NONCE,
};
pub use personal_data::PersonalDataKey;
pub use pkcs11::{
    pkcs11_certificates, pkcs11_change_pin, pkcs11_store_certificate, pkcs11_token_labels,
    pkcs11_token_serial, Pkcs11Key, TokenPin,
};
pub use signer::{Signer, SoftwareKey};

/// Re-exported so callers name the same types this crate's API uses.
pub use der;
pub use spki;
pub use x509_cert;
/// RFC 5280 revocation reason codes, as used in [`RevokedEntry`].
pub use x509_cert::ext::pkix::CrlReason;
