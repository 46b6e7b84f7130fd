//! OCSP (RFC 6960): parsing requests and signing responses as the issuing CA itself.
//!
//! Responses are signed by the CA that issued the certificates asked about (no delegated
//! responder), name the responder by key hash, and carry no certificates: a client already
//! holds the issuer, and pkilint's OCSP profile does not ask for it. A response without a
//! nonce depends only on the certificate's status and the update times, so the server can
//! sign one per serial in advance and answer from a cache; requests with a nonce get a fresh
//! response that echoes it (RFC 8954).

use std::time::SystemTime;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Encode, Enumerated, Sequence, Tagged};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::certificate::{Certificate, Version};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::Name;

use crate::signer::sign_to_bitstring;
use crate::{Algorithm, PkiError, Signer};

/// id-pkix-ocsp-basic: the only response type we produce.
pub const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1, RFC 8954).
pub const OID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-sha1 (RFC 3279), the CertID hash most clients, OpenSSL included, use by default.
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-sha256 (RFC 5754).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// Requests are small (a few hundred bytes); anything this large is refused before parsing.
pub const MAX_OCSP_REQUEST_BYTES: usize = 64 * 1024;

/// RFC 8954 §2.1: nonces of 1 to 32 octets are answered with the nonce; longer ones are
/// answered without it, as the RFC allows.
const MAX_NONCE_BYTES: usize = 32;

// ---------------------------------------------------------------------------------------------
// RFC 6960 ASN.1 types (the module uses EXPLICIT TAGS, the `der` derive default).
// ---------------------------------------------------------------------------------------------

/// OCSPRequest ::= SEQUENCE { tbsRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct OcspRequest {
    pub(crate) tbs_request: TbsRequest,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) optional_signature: Option<RequestSignature>,
}

/// TBSRequest ::= SEQUENCE { version [0] DEFAULT v1, requestorName [1] OPTIONAL,
/// requestList SEQUENCE OF Request, requestExtensions [2] OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct TbsRequest {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub(crate) version: Version,
    #[asn1(context_specific = "1", optional = "true")]
    pub(crate) requestor_name: Option<GeneralName>,
    pub(crate) request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true")]
    pub(crate) request_extensions: Option<Extensions>,
}

/// Signature ::= SEQUENCE { signatureAlgorithm, signature BIT STRING,
/// certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct RequestSignature {
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) certs: Option<Vec<Certificate>>,
}

/// Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct Request {
    pub(crate) req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) single_request_extensions: Option<Extensions>,
}

/// CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct CertId {
    pub(crate) hash_algorithm: AlgorithmIdentifierOwned,
    pub(crate) issuer_name_hash: OctetString,
    pub(crate) issuer_key_hash: OctetString,
    /// `Uint` refuses negative and non-minimal encodings, which no valid serial has.
    pub(crate) serial_number: Uint,
}

/// OCSPResponseStatus ::= ENUMERATED (RFC 6960 §4.2.1); 4 is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[repr(u8)]
pub(crate) enum ResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

/// OCSPResponse ::= SEQUENCE { responseStatus, responseBytes [0] EXPLICIT OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct OcspResponse {
    pub(crate) response_status: ResponseStatus,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) response_bytes: Option<ResponseBytes>,
}

/// ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct ResponseBytes {
    pub(crate) response_type: ObjectIdentifier,
    pub(crate) response: OctetString,
}

/// BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature,
/// certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct BasicOcspResponse {
    pub(crate) tbs_response_data: ResponseData,
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) certs: Option<Vec<Certificate>>,
}

/// ResponseData ::= SEQUENCE { version [0] DEFAULT v1, responderID, producedAt,
/// responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct ResponseData {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub(crate) version: Version,
    pub(crate) responder_id: ResponderId,
    pub(crate) produced_at: GeneralizedTime,
    pub(crate) responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true")]
    pub(crate) response_extensions: Option<Extensions>,
}

/// ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (explicitly tagged, so the
/// tags are constructed).
#[derive(Clone, Debug, PartialEq, Eq, der::Choice)]
pub(crate) enum ResponderId {
    #[asn1(context_specific = "1", constructed = "true")]
    ByName(Name),
    /// SHA-1 of the responder's subjectPublicKey BIT STRING contents.
    #[asn1(context_specific = "2", constructed = "true")]
    ByKey(OctetString),
}

/// SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate,
/// nextUpdate [0] EXPLICIT OPTIONAL, singleExtensions [1] EXPLICIT OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct SingleResponse {
    pub(crate) cert_id: CertId,
    pub(crate) cert_status: CertStatus,
    pub(crate) this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true")]
    pub(crate) single_extensions: Option<Extensions>,
}

/// CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo,
/// unknown [2] IMPLICIT NULL }
#[derive(Clone, Debug, PartialEq, Eq, der::Choice)]
pub(crate) enum CertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct RevokedInfo {
    pub(crate) revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    pub(crate) revocation_reason: Option<CrlReason>,
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// The hash a CertID uses for the issuer's name and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspHash {
    Sha1,
    Sha256,
}

impl OcspHash {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            OcspHash::Sha1 => OID_SHA1,
            OcspHash::Sha256 => OID_SHA256,
        }
    }

    fn output_len(self) -> usize {
        match self {
            OcspHash::Sha1 => 20,
            OcspHash::Sha256 => 32,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            OcspHash::Sha1 => Sha1::digest(data).to_vec(),
            OcspHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn of_algorithm(id: &AlgorithmIdentifierOwned) -> Result<Self, PkiError> {
        let hash = [OcspHash::Sha1, OcspHash::Sha256]
            .into_iter()
            .find(|h| h.oid() == id.oid)
            .ok_or_else(|| {
                PkiError::UnsupportedAlgorithm(format!("OCSP CertID hash {}", id.oid))
            })?;
        // RFC 3279/5754: parameters absent or NULL; nothing else makes sense for a hash.
        match &id.parameters {
            None => Ok(hash),
            Some(any) if any.tag() == der::Tag::Null && any.value().is_empty() => Ok(hash),
            Some(_) => Err(PkiError::malformed(
                "OCSP request",
                "hash algorithm with parameters",
            )),
        }
    }

    /// Written with NULL parameters, as OpenSSL writes CertIDs.
    fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(der::Any::from(Null)),
        }
    }
}

/// One certificate a client asks about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertIdInfo {
    pub hash: OcspHash,
    pub issuer_name_hash: Vec<u8>,
    pub issuer_key_hash: Vec<u8>,
    /// The serial number's positive, minimally encoded big-endian bytes (as
    /// `SerialNumber::as_bytes` gives them for our certificates).
    pub serial: Vec<u8>,
}

impl CertIdInfo {
    fn from_asn1(id: &CertId) -> Result<Self, PkiError> {
        let hash = OcspHash::of_algorithm(&id.hash_algorithm)?;
        let name_hash = id.issuer_name_hash.as_bytes();
        let key_hash = id.issuer_key_hash.as_bytes();
        if name_hash.len() != hash.output_len() || key_hash.len() != hash.output_len() {
            return Err(PkiError::malformed(
                "OCSP request",
                "CertID hash length does not match its algorithm",
            ));
        }
        Ok(CertIdInfo {
            hash,
            issuer_name_hash: name_hash.to_vec(),
            issuer_key_hash: key_hash.to_vec(),
            serial: id.serial_number.as_bytes().to_vec(),
        })
    }

    fn to_asn1(&self) -> Result<CertId, PkiError> {
        Ok(CertId {
            hash_algorithm: self.hash.algorithm_identifier(),
            issuer_name_hash: OctetString::new(self.issuer_name_hash.clone())
                .map_err(PkiError::encoding)?,
            issuer_key_hash: OctetString::new(self.issuer_key_hash.clone())
                .map_err(PkiError::encoding)?,
            serial_number: Uint::new(&self.serial).map_err(PkiError::encoding)?,
        })
    }
}

/// What a client asked: the certificates, and the nonce to echo if it sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequestInfo {
    pub cert_ids: Vec<CertIdInfo>,
    /// The nonce's octets (the content of the RFC 8954 `Nonce ::= OCTET STRING`); `None`
    /// when absent or longer than 32 octets (answered without a nonce, RFC 8954 §2.1).
    pub nonce: Option<Vec<u8>>,
}

/// Parses a DER OCSPRequest. Anything malformed, oversized, or with an unknown critical
/// extension is an error (answer it with [`OcspErrorStatus::MalformedRequest`]). A request
/// signature, if present, is not checked: we do not require signed requests.
pub fn parse_ocsp_request(der: &[u8]) -> Result<OcspRequestInfo, PkiError> {
    if der.len() > MAX_OCSP_REQUEST_BYTES {
        return Err(PkiError::malformed(
            "OCSP request",
            format!("larger than {MAX_OCSP_REQUEST_BYTES} bytes"),
        ));
    }
    let request = OcspRequest::from_der(der).map_err(|e| PkiError::malformed("OCSP request", e))?;
    let tbs = &request.tbs_request;
    if tbs.version != Version::V1 {
        return Err(PkiError::malformed("OCSP request", "version is not v1"));
    }
    if tbs.request_list.is_empty() {
        return Err(PkiError::malformed("OCSP request", "no certificate asked"));
    }
    let mut cert_ids = Vec::with_capacity(tbs.request_list.len());
    for single in &tbs.request_list {
        refuse_unknown_critical(single.single_request_extensions.as_deref(), &[])?;
        cert_ids.push(CertIdInfo::from_asn1(&single.req_cert)?);
    }
    let extensions = tbs.request_extensions.as_deref();
    refuse_unknown_critical(extensions, &[OID_OCSP_NONCE])?;
    let nonce = match extensions
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == OID_OCSP_NONCE)
    {
        None => None,
        Some(ext) => {
            let nonce = OctetString::from_der(ext.extn_value.as_bytes())
                .map_err(|_| PkiError::malformed("OCSP request", "nonce is not an OCTET STRING"))?;
            match nonce.as_bytes().len() {
                0 => return Err(PkiError::malformed("OCSP request", "empty nonce")),
                len if len > MAX_NONCE_BYTES => None,
                _ => Some(nonce.as_bytes().to_vec()),
            }
        }
    };
    Ok(OcspRequestInfo { cert_ids, nonce })
}

fn refuse_unknown_critical(
    extensions: Option<&[Extension]>,
    understood: &[ObjectIdentifier],
) -> Result<(), PkiError> {
    match extensions
        .unwrap_or_default()
        .iter()
        .find(|e| e.critical && !understood.contains(&e.extn_id))
    {
        Some(ext) => Err(PkiError::malformed(
            "OCSP request",
            format!("unknown critical extension {}", ext.extn_id),
        )),
        None => Ok(()),
    }
}

/// The name and key hashes by which CertIDs refer to one issuing CA, in both hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerHashes {
    sha1_name: Vec<u8>,
    sha1_key: Vec<u8>,
    sha256_name: Vec<u8>,
    sha256_key: Vec<u8>,
}

impl IssuerHashes {
    /// Hashes the DER of the issuer's subject name and the contents of its subjectPublicKey
    /// BIT STRING (RFC 6960 §4.1.1).
    pub fn of(issuer_cert: &Certificate) -> Result<Self, PkiError> {
        let tbs = issuer_cert.tbs_certificate();
        let name = tbs.subject().to_der().map_err(PkiError::encoding)?;
        let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        Ok(IssuerHashes {
            sha1_name: OcspHash::Sha1.digest(&name),
            sha1_key: OcspHash::Sha1.digest(key),
            sha256_name: OcspHash::Sha256.digest(&name),
            sha256_key: OcspHash::Sha256.digest(key),
        })
    }

    /// Whether `id` names this issuer (any serial).
    pub fn matches(&self, id: &CertIdInfo) -> bool {
        let (name, key) = self.hashes(id.hash);
        id.issuer_name_hash == name && id.issuer_key_hash == key
    }

    /// The CertID for one of this issuer's serials, e.g. to pre-sign a response for the cache.
    /// `serial` is as [`CertIdInfo::serial`] describes.
    pub fn cert_id(&self, hash: OcspHash, serial: &[u8]) -> CertIdInfo {
        let (name, key) = self.hashes(hash);
        CertIdInfo {
            hash,
            issuer_name_hash: name.to_vec(),
            issuer_key_hash: key.to_vec(),
            serial: serial.to_vec(),
        }
    }

    fn hashes(&self, hash: OcspHash) -> (&[u8], &[u8]) {
        match hash {
            OcspHash::Sha1 => (&self.sha1_name, &self.sha1_key),
            OcspHash::Sha256 => (&self.sha256_name, &self.sha256_key),
        }
    }
}

/// A certificate's status as the CA knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspStatus {
    Good,
    /// `reason` `None` or `Some(Unspecified)` is written without a reason (RFC 5280 §5.3.1
    /// asks not to write unspecified); `RemoveFromCRL` is refused.
    Revoked {
        revoked_at: SystemTime,
        reason: Option<CrlReason>,
    },
    /// Not a serial this CA issued (RFC 6960 §2.2).
    Unknown,
}

/// The unsuccessful response statuses (RFC 6960 §4.2.1), each answered without a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspErrorStatus {
    /// The request did not parse or broke the syntax rules.
    MalformedRequest,
    /// The responder is in an inconsistent internal state.
    InternalError,
    /// Try again later (e.g. the status store is unreachable).
    TryLater,
    /// The client must sign its request.
    SigRequired,
    /// The responder does not answer for this CA (RFC 5019 §2.2.3).
    Unauthorized,
}

impl OcspErrorStatus {
    fn to_asn1(self) -> ResponseStatus {
        match self {
            OcspErrorStatus::MalformedRequest => ResponseStatus::MalformedRequest,
            OcspErrorStatus::InternalError => ResponseStatus::InternalError,
            OcspErrorStatus::TryLater => ResponseStatus::TryLater,
            OcspErrorStatus::SigRequired => ResponseStatus::SigRequired,
            OcspErrorStatus::Unauthorized => ResponseStatus::Unauthorized,
        }
    }
}

/// An unsuccessful OCSPResponse: `SEQUENCE { ENUMERATED status }`, five constant bytes.
pub fn error_ocsp_response(status: OcspErrorStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, status.to_asn1() as u8]
}

/// Times shared by every SingleResponse of one OCSP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspTimes {
    /// When the response is signed.
    pub produced_at: SystemTime,
    /// When the status was last known correct; at or before `produced_at`.
    pub this_update: SystemTime,
    /// When newer status will be available; clients cache until then.
    pub next_update: SystemTime,
}

/// Builds and signs a successful basic OCSP response for `responses`, signed by the issuing CA
/// of `issuer_cert` with `signer`, echoing `nonce` when given.
///
/// Every CertID must name `issuer_cert` (check with [`IssuerHashes::matches`] first and answer
/// others with [`OcspErrorStatus::Unauthorized`]). With no nonce the result depends only on
/// its arguments and can be cached as bytes until `next_update`.
pub fn sign_ocsp_response(
    signer: &dyn Signer,
    issuer_cert: &Certificate,
    responses: &[(CertIdInfo, OcspStatus)],
    times: OcspTimes,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, PkiError> {
    let issuer_spki = issuer_cert.tbs_certificate().subject_public_key_info();
    if issuer_spki != signer.public_key_spki() {
        return Err(PkiError::InvalidRequest(
            "the issuer certificate does not belong to the signing key".into(),
        ));
    }
    if responses.is_empty() {
        return Err(PkiError::InvalidRequest(
            "an OCSP response needs at least one certificate status".into(),
        ));
    }
    if times.next_update <= times.this_update {
        return Err(PkiError::InvalidRequest(
            "nextUpdate must be later than thisUpdate".into(),
        ));
    }
    let issuer = IssuerHashes::of(issuer_cert)?;
    let this_update = generalized_time(times.this_update)?;
    let next_update = generalized_time(times.next_update)?;
    let mut single_responses = Vec::with_capacity(responses.len());
    for (id, status) in responses {
        if !issuer.matches(id) {
            return Err(PkiError::InvalidRequest(
                "a CertID names another issuer than the signing CA".into(),
            ));
        }
        single_responses.push(SingleResponse {
            cert_id: id.to_asn1()?,
            cert_status: cert_status(status)?,
            this_update,
            next_update: Some(next_update),
            single_extensions: None,
        });
    }
    let response_extensions = match nonce {
        None => None,
        Some(nonce) if nonce.is_empty() || nonce.len() > MAX_NONCE_BYTES => {
            return Err(PkiError::InvalidRequest(
                "an OCSP nonce has 1 to 32 octets".into(),
            ))
        }
        Some(nonce) => {
            let value = OctetString::new(nonce).map_err(PkiError::encoding)?;
            Some(vec![crate::cert::extension(OID_OCSP_NONCE, false, &value)?])
        }
    };
    let key_hash = OcspHash::Sha1.digest(issuer_spki.subject_public_key.raw_bytes());
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key_hash).map_err(PkiError::encoding)?),
        produced_at: generalized_time(times.produced_at)?,
        responses: single_responses,
        response_extensions,
    };
    let tbs_der = tbs.to_der().map_err(PkiError::encoding)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: signer.algorithm().signature_algorithm_identifier(),
        signature: sign_to_bitstring(signer, &tbs_der)?,
        certs: None,
    };
    OcspResponse {
        response_status: ResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: OID_OCSP_BASIC,
            response: OctetString::new(basic.to_der().map_err(PkiError::encoding)?)
                .map_err(PkiError::encoding)?,
        }),
    }
    .to_der()
    .map_err(PkiError::encoding)
}

fn cert_status(status: &OcspStatus) -> Result<CertStatus, PkiError> {
    Ok(match status {
        OcspStatus::Good => CertStatus::Good(Null),
        OcspStatus::Unknown => CertStatus::Unknown(Null),
        OcspStatus::Revoked { revoked_at, reason } => CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized_time(*revoked_at)?,
            revocation_reason: match reason {
                None | Some(CrlReason::Unspecified) => None,
                Some(CrlReason::RemoveFromCRL) => {
                    return Err(PkiError::InvalidRequest(
                        "removeFromCRL is not a revocation reason for OCSP".into(),
                    ))
                }
                Some(reason) => Some(*reason),
            },
        }),
    })
}

/// RFC 6960 uses GeneralizedTime throughout; whole seconds, as RFC 5280 §4.1.2.5.2 asks.
fn generalized_time(at: SystemTime) -> Result<GeneralizedTime, PkiError> {
    GeneralizedTime::from_system_time(at)
        .map_err(|_| PkiError::InvalidRequest("time out of range for OCSP".into()))
}

/// What a successful response says, after its signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedOcspResponse {
    pub statuses: Vec<(CertIdInfo, OcspStatus)>,
    pub nonce: Option<Vec<u8>>,
}

/// Parses a successful basic OCSP response and checks that `issuer_cert`'s key signed it
/// (our own verifier: OpenSSL 3.0 cannot be given the SM2 ID for OCSP).
pub fn verify_ocsp_response(
    der: &[u8],
    issuer_cert: &Certificate,
) -> Result<VerifiedOcspResponse, PkiError> {
    let response =
        OcspResponse::from_der(der).map_err(|e| PkiError::malformed("OCSP response", e))?;
    let bytes = match (response.response_status, response.response_bytes) {
        (ResponseStatus::Successful, Some(bytes)) => bytes,
        (status, _) => {
            return Err(PkiError::malformed(
                "OCSP response",
                format!("status {status:?} without a basic response"),
            ))
        }
    };
    if bytes.response_type != OID_OCSP_BASIC {
        return Err(PkiError::UnsupportedAlgorithm(format!(
            "OCSP response type {}",
            bytes.response_type
        )));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| PkiError::malformed("OCSP response", e))?;
    let spki = issuer_cert.tbs_certificate().subject_public_key_info();
    let algorithm = Algorithm::of_public_key(spki)?;
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| PkiError::malformed("OCSP response", e))?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("OCSP response", "signature has unused bits"))?;
    algorithm.verify(spki, &basic.signature_algorithm, &tbs, signature)?;

    let data = basic.tbs_response_data;
    let names_issuer = match &data.responder_id {
        ResponderId::ByKey(hash) => {
            hash.as_bytes() == OcspHash::Sha1.digest(spki.subject_public_key.raw_bytes())
        }
        ResponderId::ByName(name) => name == issuer_cert.tbs_certificate().subject(),
    };
    if !names_issuer {
        return Err(PkiError::malformed(
            "OCSP response",
            "the responder ID does not name the issuer",
        ));
    }
    let mut statuses = Vec::with_capacity(data.responses.len());
    for single in &data.responses {
        let status = match &single.cert_status {
            CertStatus::Good(_) => OcspStatus::Good,
            CertStatus::Unknown(_) => OcspStatus::Unknown,
            CertStatus::Revoked(info) => OcspStatus::Revoked {
                revoked_at: info.revocation_time.to_system_time(),
                reason: info.revocation_reason,
            },
        };
        statuses.push((CertIdInfo::from_asn1(&single.cert_id)?, status));
    }
    let nonce = match data
        .response_extensions
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == OID_OCSP_NONCE)
    {
        None => None,
        Some(ext) => Some(
            OctetString::from_der(ext.extn_value.as_bytes())
                .map_err(|_| PkiError::malformed("OCSP response", "nonce is not an OCTET STRING"))?
                .into_bytes()
                .into_vec(),
        ),
    };
    Ok(VerifiedOcspResponse { statuses, nonce })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::certificate_to_pem;
    use crate::csr::{make_csr, parse_and_verify_csr};
    use crate::leaf::tests::leaf_request;
    use crate::test_support::{
        openssl, openssl_sm2_verify_raw, openssl_status, pkilint, pkilint_finding_lines, TempDir,
    };
    use crate::{issue_leaf, CaHierarchy, LeafProfile, SoftwareKey};
    use rand::{RngExt, SeedableRng};
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn leaf_of(ca: &CaHierarchy) -> Certificate {
        let key = SoftwareKey::generate(ca.algorithm).expect("key");
        let csr = parse_and_verify_csr(&make_csr(&key, crate::csr::tests::subject()).expect("csr"))
            .expect("verified");
        issue_leaf(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &leaf_request(LeafProfile::Sign),
        )
        .expect("leaf")
    }

    fn times() -> OcspTimes {
        let now = SystemTime::now();
        OcspTimes {
            produced_at: now,
            this_update: now - HOUR,
            next_update: now + 24 * HOUR,
        }
    }

    fn revoked() -> OcspStatus {
        OcspStatus::Revoked {
            revoked_at: SystemTime::now() - 2 * HOUR,
            reason: Some(CrlReason::KeyCompromise),
        }
    }

    fn write_pem(dir: &TempDir, name: &str, cert: &Certificate) -> String {
        dir.write(name, certificate_to_pem(cert).expect("pem").as_bytes())
    }

    /// OpenSSL writes requests, we answer, and OpenSSL checks the answer against its request
    /// (signature, CertID, nonce) and reports the status.
    #[test]
    fn openssl_requests_get_verified_answers() {
        let dir = TempDir::new("ocsp-p256");
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let leaf = leaf_of(&ca);
        let root = write_pem(&dir, "root.pem", &ca.root_cert);
        let issuing = write_pem(&dir, "issuing.pem", &ca.issuing_cert);
        let leaf_path = write_pem(&dir, "leaf.pem", &leaf);
        let issuer = IssuerHashes::of(&ca.issuing_cert).expect("hashes");
        let serial = leaf.tbs_certificate().serial_number().as_bytes().to_vec();

        for (variant, extra, hash, with_nonce) in [
            ("nonce", &[][..], OcspHash::Sha1, true),
            ("no-nonce", &["-no_nonce"][..], OcspHash::Sha1, false),
            ("sha256", &["-sha256"][..], OcspHash::Sha256, true),
        ] {
            let req_path = dir.path(&format!("{variant}-req.der"));
            // Digest options must come before -cert.
            let mut args = vec!["ocsp", "-issuer", issuing.as_str()];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["-cert", leaf_path.as_str(), "-reqout", req_path.as_str()]);
            openssl(&args);
            let request =
                parse_ocsp_request(&std::fs::read(&req_path).expect("req")).expect(variant);
            assert_eq!(request.cert_ids.len(), 1, "{variant}");
            let id = &request.cert_ids[0];
            assert_eq!(id.hash, hash, "{variant}");
            assert!(issuer.matches(id), "{variant}");
            assert!(!IssuerHashes::of(&ca.root_cert).expect("root").matches(id));
            assert_eq!(id.serial, serial, "{variant}");
            assert_eq!(*id, issuer.cert_id(hash, &serial), "{variant}");
            assert_eq!(request.nonce.is_some(), with_nonce, "{variant}");

            for (status, expected) in [(OcspStatus::Good, "good"), (revoked(), "revoked")] {
                let response = sign_ocsp_response(
                    &ca.issuing_key,
                    &ca.issuing_cert,
                    &[(id.clone(), status.clone())],
                    times(),
                    request.nonce.as_deref(),
                )
                .expect("sign");
                let verified = verify_ocsp_response(&response, &ca.issuing_cert).expect("verify");
                assert_eq!(verified.nonce, request.nonce);
                assert_eq!(verified.statuses.len(), 1);
                assert_eq!(verified.statuses[0].0, *id);
                let resp_path = dir.write(&format!("{variant}-{expected}-resp.der"), &response);
                // Against the request file: signature, CertID and nonce. (With `-cert` too,
                // OpenSSL would build a new request with a new nonce and ignore `-reqin`.)
                let (_, stdout, stderr) = openssl_status(&[
                    "ocsp",
                    "-respin",
                    resp_path.as_str(),
                    "-issuer",
                    issuing.as_str(),
                    "-CAfile",
                    root.as_str(),
                    "-reqin",
                    req_path.as_str(),
                    "-resp_text",
                ]);
                let all = format!("{stdout}\n{stderr}");
                assert!(all.contains("Response verify OK"), "{variant}: {all}");
                assert!(
                    all.contains(&format!("Cert Status: {expected}")),
                    "{variant}: {all}"
                );
                // OpenSSL only warns when a nonce is missing, and says "Nonce Verify error"
                // (skipping the signature check) when it differs.
                assert!(!all.contains("Nonce Verify error"), "{variant}: {all}");
                assert!(!all.contains("WARNING"), "{variant}: {all}");
                assert!(!all.contains("Certificates:"), "no certs expected: {all}");
                if expected == "revoked" {
                    assert!(all.contains("Reason: keyCompromise"), "{all}");
                }
                // Against the leaf certificate: OpenSSL finds the status by its own CertID.
                let mut args = vec![
                    "ocsp",
                    "-respin",
                    resp_path.as_str(),
                    "-issuer",
                    issuing.as_str(),
                    "-CAfile",
                    root.as_str(),
                    "-no_nonce",
                ];
                if hash == OcspHash::Sha256 {
                    args.push("-sha256");
                }
                args.extend_from_slice(&["-cert", leaf_path.as_str()]);
                let (_, stdout, stderr) = openssl_status(&args);
                let all = format!("{stdout}\n{stderr}");
                assert!(all.contains("Response verify OK"), "{variant}: {all}");
                assert!(
                    all.contains(&format!("{leaf_path}: {expected}")),
                    "{variant}: {all}"
                );
            }
        }

        // A response that drops the client's nonce is flagged by OpenSSL: the check is real.
        let req_path = dir.path("nonce-req.der");
        let request = parse_ocsp_request(&std::fs::read(&req_path).expect("req")).expect("req");
        let response = sign_ocsp_response(
            &ca.issuing_key,
            &ca.issuing_cert,
            &[(request.cert_ids[0].clone(), OcspStatus::Good)],
            times(),
            None,
        )
        .expect("sign");
        let resp_path = dir.write("dropped-nonce.der", &response);
        let (_, stdout, stderr) = openssl_status(&[
            "ocsp",
            "-respin",
            resp_path.as_str(),
            "-issuer",
            issuing.as_str(),
            "-CAfile",
            root.as_str(),
            "-reqin",
            req_path.as_str(),
        ]);
        assert!(
            format!("{stdout}{stderr}").contains("WARNING: no nonce in response"),
            "{stdout}{stderr}"
        );

        // Another CA's root does not make our response verify.
        let other = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "other").expect("other");
        let other_root = write_pem(&dir, "other-root.pem", &other.root_cert);
        let other_issuing = write_pem(&dir, "other-issuing.pem", &other.issuing_cert);
        let (_, stdout, stderr) = openssl_status(&[
            "ocsp",
            "-respin",
            resp_path.as_str(),
            "-issuer",
            other_issuing.as_str(),
            "-CAfile",
            other_root.as_str(),
            "-no_nonce",
        ]);
        let all = format!("{stdout}{stderr}");
        assert!(
            !all.contains("Response verify OK") && all.contains("Response Verify Failure"),
            "{all}"
        );
    }

    /// OpenSSL 3.0 cannot be given the SM2 ID for OCSP: check the signature by hand with
    /// `pkeyutl` and with our own verifier.
    #[test]
    fn sm2_responses_verify_by_hand() {
        let dir = TempDir::new("ocsp-sm2");
        let ca = CaHierarchy::generate(Algorithm::Sm2Sm3, "certdesk").expect("ca");
        let leaf = leaf_of(&ca);
        let issuer = IssuerHashes::of(&ca.issuing_cert).expect("hashes");
        let id = issuer.cert_id(
            OcspHash::Sha256,
            leaf.tbs_certificate().serial_number().as_bytes(),
        );
        let nonce = [0x5a; 16];
        let response = sign_ocsp_response(
            &ca.issuing_key,
            &ca.issuing_cert,
            &[(id.clone(), revoked())],
            times(),
            Some(&nonce),
        )
        .expect("sign");
        let verified = verify_ocsp_response(&response, &ca.issuing_cert).expect("own verify");
        assert_eq!(verified.nonce.as_deref(), Some(&nonce[..]));
        assert_eq!(verified.statuses[0].0, id);
        assert!(matches!(
            verified.statuses[0].1,
            OcspStatus::Revoked {
                reason: Some(CrlReason::KeyCompromise),
                ..
            }
        ));
        assert!(verify_ocsp_response(&response, &ca.root_cert).is_err());

        let outer = OcspResponse::from_der(&response).expect("outer");
        let basic =
            BasicOcspResponse::from_der(outer.response_bytes.expect("bytes").response.as_bytes())
                .expect("basic");
        assert_eq!(basic.signature_algorithm.oid, crate::OID_SM2_WITH_SM3);
        let tbs = basic.tbs_response_data.to_der().expect("tbs");
        let spki = ca.issuing_cert.tbs_certificate().subject_public_key_info();
        let signature = basic.signature.raw_bytes();
        assert!(openssl_sm2_verify_raw(&dir, spki, &tbs, signature));
        let mut tampered = tbs.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(!openssl_sm2_verify_raw(&dir, spki, &tampered, signature));

        // OpenSSL still reads the structure and status (without checking the signature).
        let path = dir.write("sm2-resp.der", &response);
        let text = openssl(&["ocsp", "-respin", path.as_str(), "-resp_text", "-noverify"]);
        assert!(text.contains("Cert Status: revoked"), "{text}");
        assert!(text.contains("OCSP Nonce"), "{text}");
    }

    #[test]
    fn pkilint_accepts_our_responses() {
        let lint = pkilint("lint_ocsp_response");
        let dir = TempDir::new("ocsp-pkilint");
        let mut files = vec![(
            "malformed".to_string(),
            dir.write(
                "malformed.der",
                &error_ocsp_response(OcspErrorStatus::MalformedRequest),
            ),
        )];
        for algorithm in Algorithm::ALL {
            let ca = CaHierarchy::generate(algorithm, "certdesk").expect("ca");
            let leaf = leaf_of(&ca);
            let issuer = IssuerHashes::of(&ca.issuing_cert).expect("hashes");
            let id = issuer.cert_id(
                OcspHash::Sha1,
                leaf.tbs_certificate().serial_number().as_bytes(),
            );
            for (name, status, nonce) in [
                ("good", OcspStatus::Good, None),
                ("revoked", revoked(), Some(&[7u8; 16][..])),
                ("unknown", OcspStatus::Unknown, None),
            ] {
                let response = sign_ocsp_response(
                    &ca.issuing_key,
                    &ca.issuing_cert,
                    &[(id.clone(), status)],
                    times(),
                    nonce,
                )
                .expect("sign");
                let label = format!("{}-{name}", algorithm.slug());
                let path = dir.write(&format!("{label}.der"), &response);
                files.push((label, path));
            }
        }
        for (label, path) in files {
            let findings = pkilint_finding_lines(&lint, &["lint", "-s", "NOTICE", path.as_str()]);
            let bad: Vec<&String> = findings
                .iter()
                .filter(|f| f.contains("(ERROR)") || f.contains("(FATAL)"))
                .collect();
            assert!(bad.is_empty(), "{label}: {findings:#?}");
            if !findings.is_empty() {
                eprintln!("{label}: pkilint notes {findings:#?}");
            }
        }
        // The lint really runs: status 4 is unassigned in RFC 6960 and pkilint says so.
        let unassigned = dir.write("status-4.der", &[0x30, 0x03, 0x0a, 0x01, 0x04]);
        let findings = pkilint_finding_lines(&lint, &["lint", "-s", "NOTICE", unassigned.as_str()]);
        assert!(
            findings
                .iter()
                .any(|f| f.contains("ocsp_response_status_code_4 (ERROR)")),
            "{findings:#?}"
        );
    }

    #[test]
    fn error_responses_are_what_openssl_expects() {
        let dir = TempDir::new("ocsp-errors");
        for (status, text) in [
            (OcspErrorStatus::MalformedRequest, "malformedrequest (1)"),
            (OcspErrorStatus::InternalError, "internalerror (2)"),
            (OcspErrorStatus::TryLater, "trylater (3)"),
            (OcspErrorStatus::SigRequired, "sigrequired (5)"),
            (OcspErrorStatus::Unauthorized, "unauthorized (6)"),
        ] {
            let der = error_ocsp_response(status);
            let decoded = OcspResponse::from_der(&der).expect("decode");
            assert_eq!(decoded.response_status, status.to_asn1());
            assert!(decoded.response_bytes.is_none());
            let path = dir.write("err.der", &der);
            let (_, stdout, stderr) =
                openssl_status(&["ocsp", "-respin", path.as_str(), "-resp_text"]);
            let all = format!("{stdout}{stderr}").to_lowercase();
            assert!(all.contains(text), "{status:?}: {all}");
        }
    }

    #[test]
    fn signing_refuses_inconsistent_input() {
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let issuer = IssuerHashes::of(&ca.issuing_cert).expect("hashes");
        let ours = issuer.cert_id(OcspHash::Sha1, &[0x01, 0x02]);
        let foreign = IssuerHashes::of(&ca.root_cert)
            .expect("root")
            .cert_id(OcspHash::Sha1, &[0x01, 0x02]);
        let sign = |signer: &dyn Signer,
                    id: &CertIdInfo,
                    status: OcspStatus,
                    times: OcspTimes,
                    nonce: Option<&[u8]>| {
            sign_ocsp_response(
                signer,
                &ca.issuing_cert,
                &[(id.clone(), status)],
                times,
                nonce,
            )
        };
        let invalid = |r: Result<Vec<u8>, PkiError>| matches!(r, Err(PkiError::InvalidRequest(_)));
        assert!(sign(&ca.issuing_key, &ours, OcspStatus::Good, times(), None).is_ok());
        assert!(invalid(sign(
            &ca.issuing_key,
            &foreign,
            OcspStatus::Good,
            times(),
            None
        )));
        assert!(invalid(sign(
            &ca.root_key,
            &ours,
            OcspStatus::Good,
            times(),
            None
        )));
        let mut reversed = times();
        std::mem::swap(&mut reversed.this_update, &mut reversed.next_update);
        assert!(invalid(sign(
            &ca.issuing_key,
            &ours,
            OcspStatus::Good,
            reversed,
            None
        )));
        for nonce in [&[][..], &[1u8; 33][..]] {
            assert!(invalid(sign(
                &ca.issuing_key,
                &ours,
                OcspStatus::Good,
                times(),
                Some(nonce)
            )));
        }
        let remove = OcspStatus::Revoked {
            revoked_at: SystemTime::now(),
            reason: Some(CrlReason::RemoveFromCRL),
        };
        assert!(invalid(sign(&ca.issuing_key, &ours, remove, times(), None)));
        assert!(invalid(sign_ocsp_response(
            &ca.issuing_key,
            &ca.issuing_cert,
            &[],
            times(),
            None
        )));
        // Unspecified is written as no reason at all.
        let unspecified = OcspStatus::Revoked {
            revoked_at: SystemTime::now(),
            reason: Some(CrlReason::Unspecified),
        };
        let der = sign(&ca.issuing_key, &ours, unspecified, times(), None).expect("sign");
        let verified = verify_ocsp_response(&der, &ca.issuing_cert).expect("verify");
        assert!(matches!(
            verified.statuses[0].1,
            OcspStatus::Revoked { reason: None, .. }
        ));
    }

    /// A request built with our own types, for cases OpenSSL will not write.
    fn request_der(extensions: Option<Extensions>, cert_ids: Vec<CertId>) -> Vec<u8> {
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: cert_ids
                    .into_iter()
                    .map(|req_cert| Request {
                        req_cert,
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions: extensions,
            },
            optional_signature: None,
        }
        .to_der()
        .expect("der")
    }

    fn sample_cert_id() -> CertId {
        CertIdInfo {
            hash: OcspHash::Sha1,
            issuer_name_hash: vec![1; 20],
            issuer_key_hash: vec![2; 20],
            serial: vec![0x7f, 0x01],
        }
        .to_asn1()
        .expect("cert id")
    }

    fn nonce_extension(critical: bool, value: &[u8]) -> Extension {
        Extension {
            extn_id: OID_OCSP_NONCE,
            critical,
            extn_value: OctetString::new(value).expect("octets"),
        }
    }

    #[test]
    fn parsing_applies_the_rfc_rules() {
        let one = || vec![sample_cert_id()];
        let parsed = parse_ocsp_request(&request_der(None, one())).expect("plain");
        assert_eq!(parsed.cert_ids[0].serial, [0x7f, 0x01]);
        assert_eq!(parsed.nonce, None);

        let wrapped = |n: &[u8]| OctetString::new(n).expect("o").to_der().expect("der");
        let with_nonce = |ext| parse_ocsp_request(&request_der(Some(vec![ext]), one()));
        assert_eq!(
            with_nonce(nonce_extension(false, &wrapped(&[9; 32])))
                .expect("32")
                .nonce,
            Some(vec![9; 32])
        );
        // A critical nonce is understood, so it is fine.
        assert!(with_nonce(nonce_extension(true, &wrapped(&[9; 16]))).is_ok());
        // Longer than RFC 8954 allows: answered without a nonce.
        assert_eq!(
            with_nonce(nonce_extension(false, &wrapped(&[9; 33])))
                .expect("33")
                .nonce,
            None
        );
        let malformed =
            |r: Result<OcspRequestInfo, PkiError>| matches!(r, Err(PkiError::Malformed { .. }));
        assert!(malformed(with_nonce(nonce_extension(false, &wrapped(&[])))));
        // Raw bytes instead of an OCTET STRING.
        assert!(malformed(with_nonce(nonce_extension(false, &[9; 16]))));
        let unknown_critical = Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.2.3.4"),
            critical: true,
            extn_value: OctetString::new(vec![0x05, 0x00]).expect("octets"),
        };
        assert!(malformed(with_nonce(unknown_critical)));
        assert!(malformed(parse_ocsp_request(&request_der(None, vec![]))));

        let mut sha256_with_sha1_length = sample_cert_id();
        sha256_with_sha1_length.hash_algorithm = OcspHash::Sha256.algorithm_identifier();
        assert!(malformed(parse_ocsp_request(&request_der(
            None,
            vec![sha256_with_sha1_length]
        ))));
        let mut md5 = sample_cert_id();
        md5.hash_algorithm.oid = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
        assert!(matches!(
            parse_ocsp_request(&request_der(None, vec![md5])),
            Err(PkiError::UnsupportedAlgorithm(_))
        ));

        let mut trailing = request_der(None, one());
        trailing.push(0);
        assert!(malformed(parse_ocsp_request(&trailing)));
        assert!(malformed(parse_ocsp_request(&vec![
            0u8;
            MAX_OCSP_REQUEST_BYTES
                + 1
        ])));
    }

    /// Random and mutated input never panics and never parses into something inconsistent.
    #[test]
    fn fuzzed_requests_are_errors_not_panics() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6960);
        let nonce = OctetString::new(vec![3u8; 16])
            .expect("o")
            .to_der()
            .expect("der");
        let valid = request_der(
            Some(vec![nonce_extension(false, &nonce)]),
            vec![sample_cert_id(), sample_cert_id()],
        );
        assert!(parse_ocsp_request(&valid).is_ok());
        let mut parsed_ok = 0;
        for round in 0..1000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let len = rng.random_range(0..512);
                (0..len).map(|_| rng.random::<u8>()).collect()
            } else {
                let mut bytes = valid.clone();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..bytes.len());
                    match rng.random_range(0..4) {
                        0 => bytes[at] = rng.random(),
                        1 => bytes.truncate(at),
                        2 => bytes.insert(at, rng.random()),
                        _ => bytes[at] ^= 1 << rng.random_range(0..8),
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
                bytes
            };
            if let Ok(request) = parse_ocsp_request(&input) {
                parsed_ok += 1;
                assert!(!request.cert_ids.is_empty());
                for id in &request.cert_ids {
                    assert_eq!(id.issuer_name_hash.len(), id.hash.output_len());
                }
            }
        }
        // Most mutations break the DER; a few (hash bytes, nonce bytes) do not.
        assert!(parsed_ok < 500, "{parsed_ok} of 1000 parsed");
    }
}
