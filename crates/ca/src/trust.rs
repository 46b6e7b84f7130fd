//! Certificates presented by key holders (certificate login, binding): is it from a CA we
//! recognise — our own issuing CAs or a provider's imported CA (CA mutual recognition, 互认) —,
//! within its validity, not revoked, and does its key sign our challenge?

use crate::{unix_seconds, CaError, CertificateAuthority};
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use certdesk_pki::x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use certdesk_pki::x509_cert::ext::pkix::{
    BasicConstraints, CrlDistributionPoints, KeyUsage, SubjectKeyIdentifier,
};
use certdesk_pki::x509_cert::Certificate;
use certdesk_pki::{
    certificate_from_der_or_pem, crl_from_der_or_pem, verify_certificate_signature,
    verify_crl_signature, Algorithm,
};
use sha2::{Digest, Sha256};
use std::time::SystemTime;

const OID_SUBJECT_KEY_ID: &str = "2.5.29.14";
const OID_ORGANIZATION: &str = "2.5.4.10";
const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_SERIAL_NUMBER: &str = "2.5.4.5";
const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";

/// A certificate a key holder showed us, with what the desk displays of it.
#[derive(Debug, Clone)]
pub struct PresentedCertificate {
    pub certificate: Certificate,
    pub der: Vec<u8>,
    /// SHA-256 of the DER, hex: identifies the certificate across CAs.
    pub fingerprint: String,
    pub serial_hex: String,
    /// CA锁ID: the subject key identifier, upper-case hex.
    pub key_id: String,
    /// The organisation (O), or the common name when there is no O.
    pub subject_name: String,
    /// The subject's serialNumber: for organisation certificates, the credit code.
    pub subject_serial: Option<String>,
    pub not_after: i64,
    pub algorithm: Algorithm,
}

/// Who vouches for a presented certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognition {
    /// The CA provider whose CA issued it.
    pub provider_id: i64,
    /// `None` when one of our own issuing CAs issued it (we hold its revocation data); else the
    /// imported CA certificate that signed it, whose CRL says whether it is revoked.
    pub foreign_ca: Option<ForeignCa>,
}

impl Recognition {
    pub fn is_ours(&self) -> bool {
        self.foreign_ca.is_none()
    }
}

/// An imported CA certificate of another provider (`provider_cas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignCa {
    pub id: i64,
    pub certificate: Certificate,
}

/// Why a presented certificate is refused. Messages are for users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    #[error("证书格式无效，无法读取")]
    Malformed,
    #[error("证书不是由平台认可的CA服务商签发的")]
    UnrecognisedCa,
    #[error("证书尚未生效")]
    NotYetValid,
    #[error("证书已过期（到期时间 {0}）")]
    Expired(String),
    #[error("证书已吊销，不能使用")]
    Revoked,
    #[error("签名验证失败：签名不是由该证书的私钥对本次挑战值生成的")]
    BadSignature,
    /// An encryption certificate (its key may be held in escrow) or a CA certificate: neither
    /// proves that its holder signed.
    #[error(
        "该证书不是签名证书（如加密证书或CA证书），不能用于登录或绑定，请使用UKey中的签名证书"
    )]
    NotForSigning,
    /// Another provider's certificate whose CRL could not be had, or could not be trusted.
    #[error("暂时无法确认证书的吊销状态（{0}），请稍后重试，或先用账号密码登录")]
    RevocationUnknown(String),
}

/// The message a key holder signs for a challenge: naming the site (the host it is served at) and
/// the purpose, so that a signature made to bind cannot be replayed to log in, nor one made for
/// another site here.
pub fn challenge_message(site: &str, purpose: &str, challenge_id: &str) -> String {
    format!("certdesk:{site}:{purpose}:{challenge_id}")
}

pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

impl CertificateAuthority {
    /// Parses and checks a presented certificate against the recognised CAs, its validity at
    /// `now` and our revocation records.
    pub async fn check_presented_certificate(
        &self,
        der_or_pem: &[u8],
        now: SystemTime,
    ) -> Result<(PresentedCertificate, Recognition), CheckError> {
        let presented =
            describe(der_or_pem).map_err(|_| CheckError::Problem(CertificateProblem::Malformed))?;
        if !made_for_signing(&presented.certificate) {
            return Err(CheckError::Problem(CertificateProblem::NotForSigning));
        }
        let recognition = self.recognise(&presented.certificate, now).await?;
        let validity = presented.certificate.tbs_certificate().validity();
        let not_before = validity.not_before.to_system_time();
        let not_after = validity.not_after.to_system_time();
        if now < not_before {
            return Err(CheckError::Problem(CertificateProblem::NotYetValid));
        }
        if now > not_after {
            return Err(CheckError::Problem(CertificateProblem::Expired(
                format_time(presented.not_after),
            )));
        }
        if recognition.is_ours() {
            let record = self
                .store
                .certificate_by_serial(&presented.serial_hex)
                .await
                .map_err(CaError::from)?;
            if record.is_some_and(|r| r.revoked_at.is_some()) {
                return Err(CheckError::Problem(CertificateProblem::Revoked));
            }
        }
        Ok((presented, recognition))
    }

    async fn recognise(
        &self,
        certificate: &Certificate,
        now: SystemTime,
    ) -> Result<Recognition, CheckError> {
        let issuer = certificate.tbs_certificate().issuer();
        let operated_here = self
            .store
            .ca_providers()
            .await
            .map_err(CaError::from)?
            .into_iter()
            .find(|p| p.operated_here)
            .map(|p| p.id);
        for ca in self.cas() {
            if ca.issuing_cert.tbs_certificate().subject() == issuer
                && verify_certificate_signature(certificate, &ca.issuing_cert).is_ok()
            {
                let provider_id = operated_here.ok_or_else(|| {
                    CaError::Corrupt("no provider is marked as operated here".into())
                })?;
                return Ok(Recognition {
                    provider_id,
                    foreign_ca: None,
                });
            }
        }
        for imported in self.store.provider_cas().await.map_err(CaError::from)? {
            let Ok(ca_cert) = Certificate::from_der(&imported.certificate_der) else {
                continue;
            };
            // An imported CA certificate vouches only while it is itself valid.
            let ca_validity = ca_cert.tbs_certificate().validity();
            let ca_current = ca_validity.not_before.to_system_time() <= now
                && now <= ca_validity.not_after.to_system_time();
            if ca_current
                && ca_cert.tbs_certificate().subject() == issuer
                && verify_certificate_signature(certificate, &ca_cert).is_ok()
            {
                return Ok(Recognition {
                    provider_id: imported.provider_id,
                    foreign_ca: Some(ForeignCa {
                        id: imported.id,
                        certificate: ca_cert,
                    }),
                });
            }
        }
        Err(CheckError::Problem(CertificateProblem::UnrecognisedCa))
    }
}

/// Whether a certificate may prove its holder by signing: an end entity whose keyUsage (when
/// it has one) includes digitalSignature. An SM2 encryption certificate's key is archived by
/// the CA, so a signature with it proves nothing about the key holder.
fn made_for_signing(certificate: &Certificate) -> bool {
    let extension = |oid: &str| {
        certificate
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .find(|ext| ext.extn_id.to_string() == oid)
    };
    let is_ca = extension(OID_BASIC_CONSTRAINTS)
        .and_then(|ext| BasicConstraints::from_der(ext.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca);
    let signs = match extension(OID_KEY_USAGE) {
        Some(ext) => KeyUsage::from_der(ext.extn_value.as_bytes())
            .is_ok_and(|usage| usage.digital_signature()),
        None => true,
    };
    !is_ca && signs
}

/// Where a certificate says its CRL is: the first http:// URI of its CRL distribution points.
/// (LDAP and HTTPS addresses are not fetched.)
pub fn crl_url(certificate: &Certificate) -> Option<String> {
    let points = certificate
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|ext| ext.extn_id.to_string() == OID_CRL_DISTRIBUTION_POINTS)
        .and_then(|ext| CrlDistributionPoints::from_der(ext.extn_value.as_bytes()).ok())?;
    points
        .0
        .iter()
        .filter_map(|point| match &point.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .find_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri)
                if uri.as_str().to_ascii_lowercase().starts_with("http://") =>
            {
                Some(uri.as_str().to_string())
            }
            _ => None,
        })
}

/// How far a CRL's thisUpdate may lie ahead of our clock.
const CRL_CLOCK_SKEW_SECONDS: i64 = 300;

/// A foreign CA's CRL whose signature, issuer and extensions were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignCrlList {
    pub this_update: i64,
    pub next_update: i64,
    /// Serial numbers (hex of the DER content bytes, as `PresentedCertificate::serial_hex`).
    revoked: Vec<String>,
}

impl ForeignCrlList {
    /// Whether the CRL may still be relied on at `now`: issued, and not past its nextUpdate.
    pub fn is_current(&self, now: i64) -> bool {
        self.this_update <= now + CRL_CLOCK_SKEW_SECONDS && now < self.next_update
    }

    pub fn revokes(&self, serial_hex: &str) -> bool {
        self.revoked.iter().any(|s| s == serial_hex)
    }
}

/// Reads a CRL that `ca` should have signed, fetched from `url` (the certificate's CRL
/// distribution point). It must speak for every end-entity certificate published at `url`:
/// a CRL scoped to CA certificates, to some reasons, to another partition, or indirect, is
/// refused, as is any critical extension we do not read. The answer in `Err` is for users
/// (why the revocation status cannot be known).
pub fn read_foreign_crl(
    der_or_pem: &[u8],
    ca: &Certificate,
    url: &str,
) -> Result<ForeignCrlList, String> {
    let crl = crl_from_der_or_pem(der_or_pem).map_err(|_| "吊销列表格式无效".to_string())?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != *ca.tbs_certificate().subject() {
        return Err("吊销列表不是该证书的签发CA发布的".into());
    }
    verify_crl_signature(&crl, ca).map_err(|_| "吊销列表的签名验证失败".to_string())?;
    // A delta CRL, or any critical extension we do not read, cannot tell the whole status.
    let unreadable = tbs
        .crl_extensions
        .iter()
        .flatten()
        .any(|ext| ext.critical && ext.extn_id.to_string() != OID_ISSUING_DISTRIBUTION_POINT);
    let entry_unreadable = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .flat_map(|entry| entry.crl_entry_extensions.iter().flatten())
        .any(|ext| ext.critical);
    if unreadable || entry_unreadable {
        return Err("吊销列表含有无法识别的关键扩展（如增量或间接吊销列表）".into());
    }
    let scope = tbs
        .crl_extensions
        .iter()
        .flatten()
        .find(|ext| ext.extn_id.to_string() == OID_ISSUING_DISTRIBUTION_POINT);
    if let Some(scope) = scope {
        let idp = IssuingDistributionPoint::from_der(scope.extn_value.as_bytes())
            .map_err(|_| "吊销列表的发布范围扩展无法读取".to_string())?;
        let partial = idp.only_contains_ca_certs
            || idp.only_contains_attribute_certs
            || idp.only_some_reasons.is_some()
            || idp.indirect_crl;
        let names_url = match &idp.distribution_point {
            None => true,
            Some(DistributionPointName::FullName(names)) => names.iter().any(|name| {
                matches!(name, GeneralName::UniformResourceIdentifier(uri) if uri.as_str() == url)
            }),
            Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => false,
        };
        if partial || !names_url {
            return Err("吊销列表只覆盖部分证书，不是该证书所指的吊销列表".into());
        }
    }
    let next_update = tbs
        .next_update
        .ok_or_else(|| "吊销列表没有给出下次更新时间".to_string())?;
    Ok(ForeignCrlList {
        this_update: unix_seconds(tbs.this_update.to_system_time()),
        next_update: unix_seconds(next_update.to_system_time()),
        revoked: tbs
            .revoked_certificates
            .iter()
            .flatten()
            .map(|entry| hex::encode(entry.serial_number.as_bytes()))
            .collect(),
    })
}

/// Checks that `signature` (DER, as UKeys and OpenSSL produce) over the challenge message was
/// made by the certificate's key: SM2 with SM3 and the default ID, or ECDSA P-256 with SHA-256.
pub fn verify_challenge_signature(
    presented: &PresentedCertificate,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CertificateProblem> {
    let spki = presented
        .certificate
        .tbs_certificate()
        .subject_public_key_info();
    presented
        .algorithm
        .verify(
            spki,
            &presented.algorithm.signature_algorithm_identifier(),
            message,
            signature,
        )
        .map_err(|_| CertificateProblem::BadSignature)
}

/// Why a check did not pass: the certificate's fault, or ours.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Problem(CertificateProblem),
    #[error(transparent)]
    Internal(#[from] CaError),
}

/// Reads what the desk shows of a certificate.
pub fn describe(der_or_pem: &[u8]) -> Result<PresentedCertificate, CaError> {
    let certificate = certificate_from_der_or_pem(der_or_pem)?;
    let der = certificate
        .to_der()
        .map_err(|e| CaError::Corrupt(e.to_string()))?;
    let tbs = certificate.tbs_certificate();
    let algorithm = Algorithm::of_public_key(tbs.subject_public_key_info())?;
    let attribute = |oid: &str| {
        tbs.subject()
            .iter()
            .find(|atv| atv.oid.to_string() == oid)
            .and_then(|atv| {
                // Directory strings of any kind, read as text.
                atv.value.decode_as::<String>().ok().or_else(|| {
                    certdesk_pki::der::asn1::PrintableStringRef::try_from(&atv.value)
                        .ok()
                        .map(|s| s.as_str().to_string())
                })
            })
    };
    let subject_name = attribute(OID_ORGANIZATION)
        .or_else(|| attribute(OID_COMMON_NAME))
        .unwrap_or_default();
    let subject_serial = attribute(OID_SERIAL_NUMBER);
    let key_id = tbs
        .extensions()
        .into_iter()
        .flatten()
        .find(|ext| ext.extn_id.to_string() == OID_SUBJECT_KEY_ID)
        .and_then(|ext| SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok())
        .map(|ski| hex::encode_upper(ski.0.as_bytes()))
        .unwrap_or_else(|| {
            // No SKI: the first 20 bytes of the key's SHA-256 stand in.
            let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
            hex::encode_upper(&Sha256::digest(key)[..20])
        });
    let not_after = unix_seconds(tbs.validity().not_after.to_system_time());
    Ok(PresentedCertificate {
        fingerprint: fingerprint(&der),
        serial_hex: hex::encode(tbs.serial_number().as_bytes()),
        key_id,
        subject_name,
        subject_serial,
        not_after,
        algorithm,
        der,
        certificate,
    })
}

/// Beijing time, as users read dates.
pub fn format_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| unix.to_string())
}

/// Adds a provider's CA certificate to the recognised ones. Only CA certificates
/// (basicConstraints CA:true) are taken.
pub async fn import_provider_ca(
    store: &dyn crate::CaRecords,
    provider_id: i64,
    der_or_pem: &[u8],
    now: i64,
    audit: &certdesk_store::AuditNote<'_>,
) -> Result<certdesk_store::ProviderCa, CaError> {
    let certificate = certificate_from_der_or_pem(der_or_pem)?;
    let is_ca = certificate
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|ext| ext.extn_id.to_string() == OID_BASIC_CONSTRAINTS)
        .and_then(|ext| BasicConstraints::from_der(ext.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca);
    if !is_ca {
        return Err(CaError::Refused(
            "这不是CA证书（basicConstraints 没有 CA:TRUE）".into(),
        ));
    }
    let der = certificate
        .to_der()
        .map_err(|e| CaError::Corrupt(e.to_string()))?;
    let subject = certificate.tbs_certificate().subject().to_string();
    let not_after = unix_seconds(
        certificate
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time(),
    );
    Ok(store
        .add_provider_ca(
            &certdesk_store::NewProviderCa {
                provider_id,
                subject: &subject,
                fingerprint: &fingerprint(&der),
                certificate_der: &der,
                not_after,
                created_at: now,
            },
            audit,
        )
        .await?)
}
