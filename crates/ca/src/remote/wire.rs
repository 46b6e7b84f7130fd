//! The CA service's messages (protobuf, package `certdesk.ca`), and their conversions from and
//! to the CA's own types. Field numbers are the wire: never renumber, only add.

use crate::trust::{CertificateProblem, ForeignCa, PresentedCertificate, Recognition};
use crate::{
    algorithm_from_slug, CaCertificates, CaError, HeldRequest, IssuanceSerials, IssueRequest,
    PreparedRequest, SealedArchive, SignedCertificate, SignedIssuance,
};
use certdesk_pki::{certificate_from_der_or_pem, LeafProfile, SealedKey};
use certdesk_store::{CertificateRecord, CrlRecord};

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Bytes {
    #[prost(bytes = "vec", tag = "1")]
    pub der: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CaList {
    #[prost(message, repeated, tag = "1")]
    pub cas: Vec<CaCertificatesMessage>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CaCertificatesMessage {
    #[prost(string, tag = "1")]
    pub algorithm: String,
    #[prost(bytes = "vec", tag = "2")]
    pub root_der: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub issuing_der: Vec<u8>,
    #[prost(int64, tag = "4")]
    pub issuing_until: i64,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(bool, tag = "6")]
    pub retired: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SerialsMessage {
    #[prost(string, tag = "1")]
    pub signing: String,
    #[prost(string, optional, tag = "2")]
    pub encryption: Option<String>,
}

/// A key holder's request, as the RA checked it: the CA checks it again.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub csr: Vec<u8>,
    #[prost(string, tag = "2")]
    pub profile: String,
    #[prost(string, tag = "3")]
    pub org_name: String,
    #[prost(string, tag = "4")]
    pub credit_code: String,
    #[prost(uint32, tag = "5")]
    pub validity_days: u32,
    #[prost(bool, tag = "6")]
    pub dual: bool,
    #[prost(message, optional, tag = "7")]
    pub serials: Option<SerialsMessage>,
    /// The encryption certificate whose archived key pair is certified again (renewal).
    #[prost(string, optional, tag = "8")]
    pub keep_encryption_key_of: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeldRequestMessage {
    #[prost(string, tag = "1")]
    pub algorithm: String,
    #[prost(bool, tag = "2")]
    pub dual: bool,
    #[prost(string, tag = "3")]
    pub org_name: String,
    #[prost(string, tag = "4")]
    pub credit_code: String,
    #[prost(uint32, tag = "5")]
    pub validity_days: u32,
    #[prost(message, optional, tag = "6")]
    pub serials: Option<SerialsMessage>,
    /// A renewal: the held keys certified again.
    #[prost(string, optional, tag = "7")]
    pub keep_signing_key_of: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub keep_encryption_key_of: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedCertificateMessage {
    #[prost(bytes = "vec", tag = "1")]
    pub der: Vec<u8>,
    #[prost(string, tag = "2")]
    pub serial_hex: String,
    #[prost(int64, tag = "3")]
    pub issuer_ca_id: i64,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub profile: String,
    #[prost(string, tag = "6")]
    pub org_name: String,
    #[prost(string, tag = "7")]
    pub credit_code: String,
    #[prost(int64, tag = "8")]
    pub not_before: i64,
    #[prost(int64, tag = "9")]
    pub not_after: i64,
    #[prost(int64, tag = "10")]
    pub issued_at: i64,
    /// The certificate's private key sealed under the key-management key, when the CA keeps it.
    #[prost(string, optional, tag = "11")]
    pub archive_kmk_id: Option<String>,
    #[prost(bytes = "vec", optional, tag = "12")]
    pub archive_der: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedIssuanceMessage {
    #[prost(message, optional, tag = "1")]
    pub signing: Option<SignedCertificateMessage>,
    #[prost(message, optional, tag = "2")]
    pub encryption: Option<SignedCertificateMessage>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub envelope_gmt0009: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub envelope_skf: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Serials {
    #[prost(string, repeated, tag = "1")]
    pub serials: Vec<String>,
}

/// An issuing CA's publication name (`sm2`, `p256`, `p256-7`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CaName {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CrlMessage {
    #[prost(string, tag = "1")]
    pub algorithm: String,
    #[prost(int64, tag = "2")]
    pub crl_number: i64,
    #[prost(int64, tag = "3")]
    pub this_update: i64,
    #[prost(int64, tag = "4")]
    pub next_update: i64,
    #[prost(bytes = "vec", tag = "5")]
    pub der: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PresentedRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub der_or_pem: Vec<u8>,
    /// Unix seconds.
    #[prost(int64, tag = "2")]
    pub now: i64,
}

/// A presented certificate's check: recognised (`der` set), or refused for `problem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PresentedAnswer {
    #[prost(bytes = "vec", tag = "1")]
    pub der: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub provider_id: i64,
    #[prost(int64, optional, tag = "3")]
    pub foreign_ca_id: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub foreign_ca_der: Option<Vec<u8>>,
    /// [`problem_code`] of the refusal, empty when recognised.
    #[prost(string, tag = "5")]
    pub problem: String,
    #[prost(string, tag = "6")]
    pub problem_detail: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RevokeRequest {
    #[prost(string, tag = "1")]
    pub serial: String,
    /// RFC 5280 reason name (`keyCompromise`, …).
    #[prost(string, tag = "2")]
    pub reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CertificateMessage {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(string, tag = "2")]
    pub serial_hex: String,
    #[prost(int64, tag = "3")]
    pub issuer_ca_id: i64,
    #[prost(string, tag = "4")]
    pub algorithm: String,
    #[prost(string, tag = "5")]
    pub profile: String,
    #[prost(string, tag = "6")]
    pub org_name: String,
    #[prost(string, tag = "7")]
    pub credit_code: String,
    #[prost(int64, tag = "8")]
    pub not_before: i64,
    #[prost(int64, tag = "9")]
    pub not_after: i64,
    #[prost(bytes = "vec", tag = "10")]
    pub der: Vec<u8>,
    #[prost(int64, tag = "11")]
    pub issued_at: i64,
    #[prost(int64, optional, tag = "12")]
    pub revoked_at: Option<i64>,
    #[prost(string, optional, tag = "13")]
    pub revocation_reason: Option<String>,
}

/// A message that does not hold what it must: the other side is not this version's CA.
fn malformed(what: &str) -> CaError {
    CaError::Corrupt(format!("the CA service sent {what}"))
}

fn algorithm(slug: &str) -> Result<certdesk_pki::Algorithm, CaError> {
    algorithm_from_slug(slug).ok_or_else(|| malformed(&format!("an unknown algorithm {slug:?}")))
}

fn profile(name: &str) -> Result<LeafProfile, CaError> {
    crate::profile_from_name(name).ok_or_else(|| malformed(&format!("an unknown profile {name:?}")))
}

impl From<&CaCertificates> for CaCertificatesMessage {
    fn from(ca: &CaCertificates) -> Self {
        CaCertificatesMessage {
            algorithm: ca.algorithm.slug().to_string(),
            root_der: ca.root_der.clone(),
            issuing_der: ca.issuing_der.clone(),
            issuing_until: ca.issuing_until,
            name: ca.name.clone(),
            retired: ca.retired,
        }
    }
}

impl TryFrom<CaCertificatesMessage> for CaCertificates {
    type Error = CaError;
    fn try_from(m: CaCertificatesMessage) -> Result<Self, CaError> {
        Ok(CaCertificates {
            algorithm: algorithm(&m.algorithm)?,
            root_der: m.root_der,
            issuing_der: m.issuing_der,
            issuing_until: m.issuing_until,
            name: m.name,
            retired: m.retired,
        })
    }
}

impl From<&IssuanceSerials> for SerialsMessage {
    fn from(s: &IssuanceSerials) -> Self {
        SerialsMessage {
            signing: s.signing.clone(),
            encryption: s.encryption.clone(),
        }
    }
}

impl TryFrom<Option<SerialsMessage>> for IssuanceSerials {
    type Error = CaError;
    fn try_from(m: Option<SerialsMessage>) -> Result<Self, CaError> {
        let m = m.ok_or_else(|| malformed("a request without serial numbers"))?;
        Ok(IssuanceSerials {
            signing: m.signing,
            encryption: m.encryption,
        })
    }
}

impl SignRequest {
    pub fn new(prepared: &PreparedRequest, serials: &IssuanceSerials) -> Self {
        let request = prepared.request();
        SignRequest {
            csr: request.csr.to_vec(),
            profile: crate::profile_name(request.profile).to_string(),
            org_name: request.org_name.to_string(),
            credit_code: request.credit_code.to_string(),
            validity_days: request.validity_days,
            dual: prepared.is_dual(),
            serials: Some(serials.into()),
            keep_encryption_key_of: prepared.kept_encryption_key_of().map(str::to_string),
        }
    }

    pub fn issue_request(&self) -> Result<IssueRequest<'_>, CaError> {
        Ok(IssueRequest {
            csr: &self.csr,
            profile: profile(&self.profile)?,
            org_name: &self.org_name,
            credit_code: &self.credit_code,
            validity_days: self.validity_days,
        })
    }
}

impl HeldRequestMessage {
    pub fn new(held: &HeldRequest<'_>, serials: &IssuanceSerials) -> Self {
        HeldRequestMessage {
            algorithm: held.algorithm.slug().to_string(),
            dual: held.dual,
            org_name: held.org_name.to_string(),
            credit_code: held.credit_code.to_string(),
            validity_days: held.validity_days,
            serials: Some(serials.into()),
            keep_signing_key_of: held.keep_signing_key_of.map(str::to_string),
            keep_encryption_key_of: held.keep_encryption_key_of.map(str::to_string),
        }
    }

    pub fn held_request(&self) -> Result<HeldRequest<'_>, CaError> {
        Ok(HeldRequest {
            algorithm: algorithm(&self.algorithm)?,
            dual: self.dual,
            org_name: &self.org_name,
            credit_code: &self.credit_code,
            validity_days: self.validity_days,
            keep_signing_key_of: self.keep_signing_key_of.as_deref(),
            keep_encryption_key_of: self.keep_encryption_key_of.as_deref(),
        })
    }
}

impl From<&SignedCertificate> for SignedCertificateMessage {
    fn from(c: &SignedCertificate) -> Self {
        SignedCertificateMessage {
            der: c.der.clone(),
            serial_hex: c.serial_hex.clone(),
            issuer_ca_id: c.issuer_ca_id,
            algorithm: c.algorithm.slug().to_string(),
            profile: crate::profile_name(c.profile).to_string(),
            org_name: c.org_name.clone(),
            credit_code: c.credit_code.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            issued_at: c.issued_at,
            archive_kmk_id: c.key_archive.as_ref().map(|a| a.kmk_id.clone()),
            archive_der: c.key_archive.as_ref().map(|a| a.archive_der.clone()),
        }
    }
}

impl TryFrom<SignedCertificateMessage> for SignedCertificate {
    type Error = CaError;
    fn try_from(m: SignedCertificateMessage) -> Result<Self, CaError> {
        let key_archive = match (m.archive_kmk_id, m.archive_der) {
            (Some(kmk_id), Some(archive_der)) => Some(SealedArchive {
                kmk_id,
                archive_der,
            }),
            (None, None) => None,
            _ => return Err(malformed("a key archive without its key or key id")),
        };
        Ok(SignedCertificate {
            certificate: certificate_from_der_or_pem(&m.der)?,
            der: m.der,
            serial_hex: m.serial_hex,
            issuer_ca_id: m.issuer_ca_id,
            algorithm: algorithm(&m.algorithm)?,
            profile: profile(&m.profile)?,
            org_name: m.org_name,
            credit_code: m.credit_code,
            not_before: m.not_before,
            not_after: m.not_after,
            issued_at: m.issued_at,
            key_archive,
        })
    }
}

impl From<&SignedIssuance> for SignedIssuanceMessage {
    fn from(s: &SignedIssuance) -> Self {
        SignedIssuanceMessage {
            signing: Some((&s.signing).into()),
            encryption: s.encryption.as_ref().map(Into::into),
            envelope_gmt0009: s.envelope.as_ref().map(|e| e.gmt0009_der.clone()),
            envelope_skf: s.envelope.as_ref().map(|e| e.skf_blob.clone()),
        }
    }
}

impl TryFrom<SignedIssuanceMessage> for SignedIssuance {
    type Error = CaError;
    fn try_from(m: SignedIssuanceMessage) -> Result<Self, CaError> {
        let signing = m
            .signing
            .ok_or_else(|| malformed("an issuance without its certificate"))?;
        let envelope = match (m.envelope_gmt0009, m.envelope_skf) {
            (Some(gmt0009_der), Some(skf_blob)) => Some(SealedKey {
                gmt0009_der,
                skf_blob,
            }),
            (None, None) => None,
            _ => return Err(malformed("a sealed key in one form only")),
        };
        Ok(SignedIssuance {
            signing: signing.try_into()?,
            encryption: m.encryption.map(TryInto::try_into).transpose()?,
            envelope,
        })
    }
}

impl From<&CrlRecord> for CrlMessage {
    fn from(c: &CrlRecord) -> Self {
        CrlMessage {
            algorithm: c.algorithm.clone(),
            crl_number: c.crl_number,
            this_update: c.this_update,
            next_update: c.next_update,
            der: c.der.clone(),
        }
    }
}

impl From<CrlMessage> for CrlRecord {
    fn from(m: CrlMessage) -> Self {
        CrlRecord {
            algorithm: m.algorithm,
            crl_number: m.crl_number,
            this_update: m.this_update,
            next_update: m.next_update,
            der: m.der,
        }
    }
}

impl From<&CertificateRecord> for CertificateMessage {
    fn from(r: &CertificateRecord) -> Self {
        CertificateMessage {
            id: r.id,
            serial_hex: r.serial_hex.clone(),
            issuer_ca_id: r.issuer_ca_id,
            algorithm: r.algorithm.clone(),
            profile: r.profile.clone(),
            org_name: r.org_name.clone(),
            credit_code: r.credit_code.clone(),
            not_before: r.not_before,
            not_after: r.not_after,
            der: r.der.clone(),
            issued_at: r.issued_at,
            revoked_at: r.revoked_at,
            revocation_reason: r.revocation_reason.clone(),
        }
    }
}

impl From<CertificateMessage> for CertificateRecord {
    fn from(m: CertificateMessage) -> Self {
        CertificateRecord {
            id: m.id,
            serial_hex: m.serial_hex,
            issuer_ca_id: m.issuer_ca_id,
            algorithm: m.algorithm,
            profile: m.profile,
            org_name: m.org_name,
            credit_code: m.credit_code,
            not_before: m.not_before,
            not_after: m.not_after,
            der: m.der,
            issued_at: m.issued_at,
            revoked_at: m.revoked_at,
            revocation_reason: m.revocation_reason,
        }
    }
}

/// The wire name of a refusal, and its detail (the expiry of an expired certificate, the
/// reason the revocation status is unknown).
pub fn problem_code(problem: &CertificateProblem) -> (&'static str, String) {
    match problem {
        CertificateProblem::Malformed => ("malformed", String::new()),
        CertificateProblem::UnrecognisedCa => ("unrecognised_ca", String::new()),
        CertificateProblem::NotYetValid => ("not_yet_valid", String::new()),
        CertificateProblem::Expired(at) => ("expired", at.clone()),
        CertificateProblem::Revoked => ("revoked", String::new()),
        CertificateProblem::BadSignature => ("bad_signature", String::new()),
        CertificateProblem::NotForSigning => ("not_for_signing", String::new()),
        CertificateProblem::RevocationUnknown(why) => ("revocation_unknown", why.clone()),
    }
}

pub fn problem_from_code(code: &str, detail: String) -> Result<CertificateProblem, CaError> {
    Ok(match code {
        "malformed" => CertificateProblem::Malformed,
        "unrecognised_ca" => CertificateProblem::UnrecognisedCa,
        "not_yet_valid" => CertificateProblem::NotYetValid,
        "expired" => CertificateProblem::Expired(detail),
        "revoked" => CertificateProblem::Revoked,
        "bad_signature" => CertificateProblem::BadSignature,
        "not_for_signing" => CertificateProblem::NotForSigning,
        "revocation_unknown" => CertificateProblem::RevocationUnknown(detail),
        other => {
            return Err(malformed(&format!(
                "an unknown certificate problem {other:?}"
            )))
        }
    })
}

impl PresentedAnswer {
    pub fn recognised(presented: &PresentedCertificate, recognition: &Recognition) -> Self {
        PresentedAnswer {
            der: presented.der.clone(),
            provider_id: recognition.provider_id,
            foreign_ca_id: recognition.foreign_ca.as_ref().map(|f| f.id),
            foreign_ca_der: recognition
                .foreign_ca
                .as_ref()
                .and_then(|f| certdesk_pki::der::Encode::to_der(&f.certificate).ok()),
            problem: String::new(),
            problem_detail: String::new(),
        }
    }

    pub fn refused(problem: &CertificateProblem) -> Self {
        let (code, detail) = problem_code(problem);
        PresentedAnswer {
            problem: code.to_string(),
            problem_detail: detail,
            ..Default::default()
        }
    }

    /// The check's outcome: the presented certificate and who vouches for it, or the refusal.
    pub fn outcome(
        self,
    ) -> Result<Result<(PresentedCertificate, Recognition), CertificateProblem>, CaError> {
        if !self.problem.is_empty() {
            return Ok(Err(problem_from_code(&self.problem, self.problem_detail)?));
        }
        let presented = crate::trust::describe(&self.der)?;
        let foreign_ca = match (self.foreign_ca_id, self.foreign_ca_der) {
            (Some(id), Some(der)) => Some(ForeignCa {
                id,
                certificate: certificate_from_der_or_pem(&der)?,
            }),
            (None, None) => None,
            _ => return Err(malformed("a foreign CA without its certificate")),
        };
        Ok(Ok((
            presented,
            Recognition {
                provider_id: self.provider_id,
                foreign_ca,
            },
        )))
    }
}
