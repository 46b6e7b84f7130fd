//! The RA/CA boundary as a type (issue 11): what the registration authority (the web side) may
//! ask of the certificate authority, and nothing more. The server holds an
//! `Arc<dyn CaService>`; the in-process [`CertificateAuthority`] is one implementation, and a
//! CA run as its own process can be another. No method hands out a private key.

use crate::trust::{CheckError, PresentedCertificate, Recognition};
use crate::{
    CaError, CertificateAuthority, HeldRequest, IssuanceSerials, IssueRequest, LoadedCa,
    PreparedRequest, SignedIssuance,
};
use certdesk_domain::limits::LimitError;
use certdesk_pki::{Algorithm, CrlReason, SoftwareKey};
use certdesk_store::{CertificateRecord, CrlRecord};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

/// A future the CA answers with (boxed: the trait is used as an object).
pub type CaFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The certificates of one algorithm's CA, DER, as the public endpoints serve them.
#[derive(Debug, Clone)]
pub struct CaCertificates {
    pub algorithm: Algorithm,
    /// The issuing CA's publication name (`/ca/{name}.cer`, `/crl/{name}.crl`).
    pub name: String,
    /// Replaced by a newer issuing CA: it signs CRLs and OCSP answers, no new certificates.
    pub retired: bool,
    pub root_der: Vec<u8>,
    pub issuing_der: Vec<u8>,
    /// When the issuing CA's certificate ends (Unix seconds).
    pub issuing_until: i64,
}

/// What the RA asks of the CA.
pub trait CaService: Send + Sync {
    /// Checks a key holder's request before anything is recorded or signed.
    fn prepare(&self, request: &IssueRequest<'_>, dual: bool) -> Result<PreparedRequest, CaError>;
    /// Signs a prepared request under serials the RA recorded first.
    fn sign_prepared<'a>(
        &'a self,
        prepared: &'a PreparedRequest,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>>;
    /// Makes and signs a key pair the CA keeps (mobile products), the key sealed.
    fn sign_held<'a>(
        &'a self,
        held: &'a HeldRequest<'a>,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>>;
    /// Whether this CA would issue for `org_name` for `validity_days` at `issue_at`.
    fn check_limits(
        &self,
        algorithm: Algorithm,
        org_name: &str,
        validity_days: u32,
        issue_at: i64,
    ) -> Result<(), LimitError>;
    /// The CA certificates of `algorithm`'s issuing CA in service, if this installation has one.
    fn certificates(&self, algorithm: Algorithm) -> Option<CaCertificates>;
    /// The CA certificates of the issuing CA published as `name` (in service or retired).
    fn published(&self, name: &str) -> Option<CaCertificates>;
    /// Publishes revocations written to the store directly (a new CRL, fresh OCSP answers).
    fn publish_revocations<'a>(
        &'a self,
        revoked: &'a [CertificateRecord],
    ) -> CaFuture<'a, Result<(), CaError>>;
    /// The current CRL of the issuing CA published as `name`, signing a new one when due.
    fn current_crl<'a>(&'a self, name: &'a str) -> CaFuture<'a, Result<CrlRecord, CaError>>;
    /// The DER OCSP response to a DER request (an error response when it cannot be answered).
    fn answer_ocsp<'a>(&'a self, request_der: &'a [u8]) -> CaFuture<'a, Arc<[u8]>>;
    /// Recognises a presented certificate (ours or an imported CA's) valid at `now`.
    fn check_presented_certificate<'a>(
        &'a self,
        der_or_pem: &'a [u8],
        now: SystemTime,
    ) -> CaFuture<'a, Result<(PresentedCertificate, Recognition), CheckError>>;
    /// Revokes a certificate and publishes the revocation.
    fn revoke<'a>(
        &'a self,
        serial: &'a str,
        reason: CrlReason,
    ) -> CaFuture<'a, Result<CertificateRecord, CaError>>;
    /// Recovers the archived private key of a certificate (an SM2 encryption key, or a key the
    /// CA holds) for an authorised officer; the caller audits who and why.
    fn recover_archived_key<'a>(
        &'a self,
        serial: &'a str,
    ) -> CaFuture<'a, Result<SoftwareKey, CaError>>;
}

impl CaService for CertificateAuthority {
    fn prepare(&self, request: &IssueRequest<'_>, dual: bool) -> Result<PreparedRequest, CaError> {
        CertificateAuthority::prepare(self, request, dual)
    }

    fn sign_prepared<'a>(
        &'a self,
        prepared: &'a PreparedRequest,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>> {
        Box::pin(CertificateAuthority::sign_prepared(self, prepared, serials))
    }

    fn sign_held<'a>(
        &'a self,
        held: &'a HeldRequest<'a>,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>> {
        Box::pin(CertificateAuthority::sign_held(self, held, serials))
    }

    fn check_limits(
        &self,
        algorithm: Algorithm,
        org_name: &str,
        validity_days: u32,
        issue_at: i64,
    ) -> Result<(), LimitError> {
        CertificateAuthority::check_limits(self, algorithm, org_name, validity_days, issue_at)
    }

    fn certificates(&self, algorithm: Algorithm) -> Option<CaCertificates> {
        self.ca(algorithm).ok().map(LoadedCa::published)
    }

    fn published(&self, name: &str) -> Option<CaCertificates> {
        self.ca_named(name).map(LoadedCa::published)
    }

    fn publish_revocations<'a>(
        &'a self,
        revoked: &'a [CertificateRecord],
    ) -> CaFuture<'a, Result<(), CaError>> {
        Box::pin(CertificateAuthority::publish_revocations(self, revoked))
    }

    fn current_crl<'a>(&'a self, name: &'a str) -> CaFuture<'a, Result<CrlRecord, CaError>> {
        Box::pin(async move {
            let ca = self.ca_named(name).ok_or_else(|| {
                CaError::Refused(format!("no issuing CA is published as {name:?}"))
            })?;
            self.current_crl_of(ca).await
        })
    }

    fn answer_ocsp<'a>(&'a self, request_der: &'a [u8]) -> CaFuture<'a, Arc<[u8]>> {
        Box::pin(CertificateAuthority::answer_ocsp(self, request_der))
    }

    fn check_presented_certificate<'a>(
        &'a self,
        der_or_pem: &'a [u8],
        now: SystemTime,
    ) -> CaFuture<'a, Result<(PresentedCertificate, Recognition), CheckError>> {
        Box::pin(CertificateAuthority::check_presented_certificate(
            self, der_or_pem, now,
        ))
    }

    fn revoke<'a>(
        &'a self,
        serial: &'a str,
        reason: CrlReason,
    ) -> CaFuture<'a, Result<CertificateRecord, CaError>> {
        Box::pin(CertificateAuthority::revoke(self, serial, reason))
    }

    fn recover_archived_key<'a>(
        &'a self,
        serial: &'a str,
    ) -> CaFuture<'a, Result<SoftwareKey, CaError>> {
        Box::pin(CertificateAuthority::recover_encryption_key(self, serial))
    }
}
