//! The records the CA keeps (issue 11): a narrow store interface of the CA's own, not the
//! whole `Store`, so that the CA zone reads and writes only its keys, certificates, CRLs,
//! archived keys, recognised CAs and the audit seals. `certdesk_store::Store` implements it.

use certdesk_store::{
    AuditNote, AuditSeal, CaKeyRecord, CaProvider, CertificateRecord, CrlRecord, KeyArchiveRecord,
    NewCaKey, NewCertificate, NewProviderCa, ProviderCa, RevokeOutcome, Store, StoreError,
};
use std::future::Future;
use std::pin::Pin;

/// A future of the CA's records.
pub type RecordsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What the CA keeps, and nothing else of the installation's data.
pub trait CaRecords: Send + Sync {
    fn ca_keys(&self) -> RecordsFuture<'_, Vec<CaKeyRecord>>;
    fn insert_ca_hierarchy<'a>(
        &'a self,
        root: &'a NewCaKey<'a>,
        issuing: &'a NewCaKey<'a>,
    ) -> RecordsFuture<'a, (CaKeyRecord, CaKeyRecord)>;
    fn replace_issuing_ca<'a>(
        &'a self,
        issuing: &'a NewCaKey<'a>,
        retired_at: i64,
        note: &'a AuditNote<'a>,
    ) -> RecordsFuture<'a, CaKeyRecord>;
    fn insert_certificate<'a>(
        &'a self,
        new: &'a NewCertificate<'a>,
    ) -> RecordsFuture<'a, CertificateRecord>;
    fn insert_dual_certificates<'a>(
        &'a self,
        signing: &'a NewCertificate<'a>,
        encryption: &'a NewCertificate<'a>,
        kmk_id: &'a str,
        archive_der: &'a [u8],
    ) -> RecordsFuture<'a, (CertificateRecord, CertificateRecord)>;
    fn certificate_by_serial<'a>(
        &'a self,
        serial_hex: &'a str,
    ) -> RecordsFuture<'a, Option<CertificateRecord>>;
    fn revoke_certificate<'a>(
        &'a self,
        serial_hex: &'a str,
        revoked_at: i64,
        reason: &'a str,
    ) -> RecordsFuture<'a, RevokeOutcome>;
    fn revoked_certificates(&self, issuer_ca_id: i64) -> RecordsFuture<'_, Vec<CertificateRecord>>;
    fn latest_crl<'a>(&'a self, algorithm: &'a str) -> RecordsFuture<'a, Option<CrlRecord>>;
    fn next_crl_number<'a>(&'a self, algorithm: &'a str) -> RecordsFuture<'a, i64>;
    fn insert_crl<'a>(&'a self, crl: &'a CrlRecord) -> RecordsFuture<'a, ()>;
    fn key_archive(&self, certificate_id: i64) -> RecordsFuture<'_, Option<KeyArchiveRecord>>;
    fn revocation_counter(&self) -> RecordsFuture<'_, i64>;
    fn audit_head(&self) -> RecordsFuture<'_, Option<(i64, String)>>;
    fn add_audit_seal<'a>(&'a self, seal: &'a AuditSeal) -> RecordsFuture<'a, ()>;
    fn provider_cas(&self) -> RecordsFuture<'_, Vec<ProviderCa>>;
    fn ca_providers(&self) -> RecordsFuture<'_, Vec<CaProvider>>;
    fn add_provider_ca<'a>(
        &'a self,
        new: &'a NewProviderCa<'a>,
        audit: &'a AuditNote<'a>,
    ) -> RecordsFuture<'a, ProviderCa>;
}

impl CaRecords for Store {
    fn replace_issuing_ca<'a>(
        &'a self,
        issuing: &'a NewCaKey<'a>,
        retired_at: i64,
        note: &'a AuditNote<'a>,
    ) -> RecordsFuture<'a, CaKeyRecord> {
        Box::pin(Store::replace_issuing_ca(self, issuing, retired_at, note))
    }

    fn ca_keys(&self) -> RecordsFuture<'_, Vec<CaKeyRecord>> {
        Box::pin(Store::ca_keys(self))
    }
    fn insert_ca_hierarchy<'a>(
        &'a self,
        root: &'a NewCaKey<'a>,
        issuing: &'a NewCaKey<'a>,
    ) -> RecordsFuture<'a, (CaKeyRecord, CaKeyRecord)> {
        Box::pin(Store::insert_ca_hierarchy(self, root, issuing))
    }
    fn insert_certificate<'a>(
        &'a self,
        new: &'a NewCertificate<'a>,
    ) -> RecordsFuture<'a, CertificateRecord> {
        Box::pin(Store::insert_certificate(self, new))
    }
    fn insert_dual_certificates<'a>(
        &'a self,
        signing: &'a NewCertificate<'a>,
        encryption: &'a NewCertificate<'a>,
        kmk_id: &'a str,
        archive_der: &'a [u8],
    ) -> RecordsFuture<'a, (CertificateRecord, CertificateRecord)> {
        Box::pin(Store::insert_dual_certificates(
            self,
            signing,
            encryption,
            kmk_id,
            archive_der,
        ))
    }
    fn certificate_by_serial<'a>(
        &'a self,
        serial_hex: &'a str,
    ) -> RecordsFuture<'a, Option<CertificateRecord>> {
        Box::pin(Store::certificate_by_serial(self, serial_hex))
    }
    fn revoke_certificate<'a>(
        &'a self,
        serial_hex: &'a str,
        revoked_at: i64,
        reason: &'a str,
    ) -> RecordsFuture<'a, RevokeOutcome> {
        Box::pin(Store::revoke_certificate(
            self, serial_hex, revoked_at, reason,
        ))
    }
    fn revoked_certificates(&self, issuer_ca_id: i64) -> RecordsFuture<'_, Vec<CertificateRecord>> {
        Box::pin(Store::revoked_certificates(self, issuer_ca_id))
    }
    fn latest_crl<'a>(&'a self, algorithm: &'a str) -> RecordsFuture<'a, Option<CrlRecord>> {
        Box::pin(Store::latest_crl(self, algorithm))
    }
    fn next_crl_number<'a>(&'a self, algorithm: &'a str) -> RecordsFuture<'a, i64> {
        Box::pin(Store::next_crl_number(self, algorithm))
    }
    fn insert_crl<'a>(&'a self, crl: &'a CrlRecord) -> RecordsFuture<'a, ()> {
        Box::pin(Store::insert_crl(self, crl))
    }
    fn key_archive(&self, certificate_id: i64) -> RecordsFuture<'_, Option<KeyArchiveRecord>> {
        Box::pin(Store::key_archive(self, certificate_id))
    }
    fn revocation_counter(&self) -> RecordsFuture<'_, i64> {
        Box::pin(Store::revocation_counter(self))
    }
    fn audit_head(&self) -> RecordsFuture<'_, Option<(i64, String)>> {
        Box::pin(Store::audit_head(self))
    }
    fn add_audit_seal<'a>(&'a self, seal: &'a AuditSeal) -> RecordsFuture<'a, ()> {
        Box::pin(Store::add_audit_seal(self, seal))
    }
    fn provider_cas(&self) -> RecordsFuture<'_, Vec<ProviderCa>> {
        Box::pin(Store::provider_cas(self))
    }
    fn ca_providers(&self) -> RecordsFuture<'_, Vec<CaProvider>> {
        Box::pin(Store::ca_providers(self))
    }
    fn add_provider_ca<'a>(
        &'a self,
        new: &'a NewProviderCa<'a>,
        audit: &'a AuditNote<'a>,
    ) -> RecordsFuture<'a, ProviderCa> {
        Box::pin(Store::add_provider_ca(self, new, audit))
    }
}
