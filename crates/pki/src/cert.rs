//! Pieces shared by every certificate we build: names, serial numbers, times, key
//! identifiers, extension encoding, and signing a TBSCertificate through a [`Signer`].

use std::time::SystemTime;

use der::asn1::{
    GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, PrintableStringRef, UtcTime,
    Utf8StringRef,
};
use der::{Any, Decode, Encode, EncodePem};
use rand::{CryptoRng, RngExt};
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::signer::{sign_to_bitstring, BuilderKey};
use crate::{Algorithm, PkiError, Signer};

pub(crate) const OID_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
pub(crate) const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
pub(crate) const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
pub(crate) const OID_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");

/// Upper bounds from RFC 5280 Appendix A.1 (ub-organization-name, ub-common-name): both 64,
/// the one name limit the RA and the CA share.
pub(crate) const MAX_ORGANIZATION_CHARS: usize = certdesk_domain::limits::MAX_SUBJECT_NAME_CHARS;
pub(crate) const MAX_COMMON_NAME_CHARS: usize = certdesk_domain::limits::MAX_SUBJECT_NAME_CHARS;

/// Bytes of randomness in a serial number: 128 bits, well above RFC 5280's "at least 64".
const SERIAL_RANDOM_BYTES: usize = 16;

/// One attribute value in a distinguished name, with the string type it must be encoded as.
pub(crate) enum NameValue<'a> {
    Printable(&'a str),
    Utf8(&'a str),
}

/// Builds a Name with one attribute per RDN, in the order given (most significant first).
pub(crate) fn build_name(
    attributes: &[(ObjectIdentifier, NameValue<'_>)],
) -> Result<Name, PkiError> {
    let mut rdns = RdnSequence::default();
    for (oid, value) in attributes {
        let value = match value {
            NameValue::Printable(s) => {
                let s = PrintableStringRef::new(s).map_err(|_| {
                    PkiError::InvalidRequest(format!(
                        "{s:?} is not a PrintableString (letters, digits, space and '()+,-./:=?)"
                    ))
                })?;
                Any::encode_from(&s)
            }
            NameValue::Utf8(s) => Any::encode_from(
                &Utf8StringRef::new(s).map_err(|e| PkiError::InvalidRequest(e.to_string()))?,
            ),
        }
        .map_err(PkiError::encoding)?;
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue { oid: *oid, value })
            .map_err(PkiError::encoding)?;
        rdns.push(rdn);
    }
    // x509-cert only lets a Name be made from parts under its `hazmat` feature; a DER
    // round trip gives the same result through the checked decoder.
    let der = rdns.to_der().map_err(PkiError::encoding)?;
    Name::from_der(&der).map_err(PkiError::encoding)
}

/// A fresh random certificate serial number: 16 random bytes, positive and minimally encoded.
pub fn random_serial() -> Result<SerialNumber, PkiError> {
    serial_from_rng(&mut rand::rng())
}

pub(crate) fn serial_from_rng<R: CryptoRng + ?Sized>(
    rng: &mut R,
) -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; SERIAL_RANDOM_BYTES];
    rng.fill_bytes(&mut bytes);
    // Top bit clear keeps the INTEGER positive without a 0x00 pad; a non-zero first byte keeps
    // the encoding exactly 16 bytes (a leading zero would be stripped as non-minimal).
    bytes[0] &= 0x7f;
    while bytes[0] == 0 {
        bytes[0] = rng.random::<u8>() & 0x7f;
    }
    SerialNumber::new(&bytes).map_err(PkiError::encoding)
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on; whole seconds.
pub(crate) fn x509_time(at: SystemTime) -> Result<Time, PkiError> {
    let date = der::DateTime::from_system_time(at)
        .map_err(|_| PkiError::InvalidRequest("time out of range for X.509".into()))?;
    if date.year() < 2050 {
        Ok(Time::UtcTime(
            UtcTime::from_date_time(date).map_err(PkiError::encoding)?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(date)))
    }
}

/// Key identifier per RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits. Used for both SKI and AKI so they match by construction.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<OctetString, PkiError> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    OctetString::new(&digest[..20]).map_err(PkiError::encoding)
}

/// An extension whose value is the DER of `value`.
pub(crate) fn extension<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, PkiError> {
    let der = value.to_der().map_err(PkiError::encoding)?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(der).map_err(PkiError::encoding)?,
    })
}

/// A URI GeneralName; URLs must be ASCII (IA5String).
pub(crate) fn uri(url: &str) -> Result<GeneralName, PkiError> {
    let ia5 = Ia5String::new(url)
        .map_err(|_| PkiError::InvalidRequest(format!("URL {url:?} is not ASCII")))?;
    Ok(GeneralName::UniformResourceIdentifier(ia5))
}

/// Everything that goes into one certificate besides the issuer's signature.
pub(crate) struct CertificateTemplate {
    pub(crate) subject: Name,
    pub(crate) issuer: Name,
    pub(crate) subject_public_key: SubjectPublicKeyInfoOwned,
    pub(crate) serial: SerialNumber,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
    pub(crate) extensions: Vec<Extension>,
}

/// Names are fixed by the caller; extensions are all added explicitly, so the builder's
/// profile contributes none of its own.
struct ExplicitProfile {
    subject: Name,
    issuer: Name,
}

impl BuilderProfile for ExplicitProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}

/// Builds the TBSCertificate, has `issuer_signer` sign it, and assembles the certificate.
pub(crate) fn sign_certificate(
    template: CertificateTemplate,
    issuer_signer: &dyn Signer,
) -> Result<Certificate, PkiError> {
    if template.not_after <= template.not_before {
        return Err(PkiError::InvalidRequest(
            "notAfter must be later than notBefore".into(),
        ));
    }
    let validity = Validity::new(
        x509_time(template.not_before)?,
        x509_time(template.not_after)?,
    );
    let profile = ExplicitProfile {
        subject: template.subject,
        issuer: template.issuer,
    };
    let mut builder = CertificateBuilder::new(
        profile,
        template.serial,
        validity,
        template.subject_public_key,
    )
    .map_err(PkiError::encoding)?;
    for ext in template.extensions {
        builder.add_extension(ext).map_err(PkiError::encoding)?;
    }
    let key = BuilderKey(issuer_signer);
    let tbs = builder.finalize(&key).map_err(PkiError::encoding)?;
    let signature = sign_to_bitstring(issuer_signer, &tbs)?;
    builder
        .assemble(signature, &key)
        .map_err(PkiError::encoding)
}

/// PEM (`CERTIFICATE`) for files and for `openssl`.
pub fn certificate_to_pem(cert: &Certificate) -> Result<String, PkiError> {
    cert.to_pem(der::pem::LineEnding::LF)
        .map_err(PkiError::encoding)
}

/// Parses one certificate given as DER or PEM.
pub fn certificate_from_der_or_pem(input: &[u8]) -> Result<Certificate, PkiError> {
    let der = der_or_pem(input, &["CERTIFICATE"], "certificate")?;
    Certificate::from_der(&der).map_err(|e| PkiError::malformed("certificate", e))
}

/// Checks that `cert` was signed by the key of `issuer`. This is our own verifier: OpenSSL 3.0
/// cannot be told the SM2 ID for a self-signed root's signature, so SM2 roots are checked here.
pub fn verify_certificate_signature(
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<(), PkiError> {
    let issuer_spki = issuer.tbs_certificate().subject_public_key_info();
    let algorithm = Algorithm::of_public_key(issuer_spki)?;
    if cert.signature_algorithm() != cert.tbs_certificate().signature() {
        return Err(PkiError::malformed(
            "certificate",
            "outer and inner signature algorithms differ",
        ));
    }
    let tbs = cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| PkiError::malformed("certificate", e))?;
    let signature = cert
        .signature()
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("certificate", "signature has unused bits"))?;
    algorithm.verify(issuer_spki, cert.signature_algorithm(), &tbs, signature)
}

/// Accepts DER, or PEM with one of `labels`; anything else is `Malformed`.
pub(crate) fn der_or_pem(
    input: &[u8],
    labels: &[&str],
    what: &'static str,
) -> Result<Vec<u8>, PkiError> {
    let trimmed = input.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN ") {
        return Ok(input.to_vec());
    }
    let (label, der) = der::pem::decode_vec(trimmed).map_err(|e| PkiError::malformed(what, e))?;
    if !labels.contains(&label) {
        return Err(PkiError::malformed(
            what,
            format!("PEM label {label:?}, expected one of {labels:?}"),
        ));
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{openssl, TempDir};
    use der::Tagged;
    use rand::SeedableRng;

    #[test]
    fn verifies_certificates_of_rsa_cas_made_by_openssl() {
        // Other providers' CAs may be RSA: their certificates are verified, though we hold
        // no RSA key ourselves.
        let dir = TempDir::new("cert-rsa");
        let key = dir.path("rsa-ca.key");
        let cert_path = dir.path("rsa-ca.pem");
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-sha256",
            "-days",
            "30",
            "-subj",
            "/CN=peer RSA CA",
            "-keyout",
            key.as_str(),
            "-out",
            cert_path.as_str(),
        ]);
        let pem = std::fs::read(&cert_path).expect("read");
        let cert = certificate_from_der_or_pem(&pem).expect("parse");
        assert_eq!(
            Algorithm::of_public_key(cert.tbs_certificate().subject_public_key_info())
                .expect("algorithm"),
            Algorithm::RsaSha256
        );
        verify_certificate_signature(&cert, &cert).expect("self-signature");

        let mut der = cert.to_der().expect("der");
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let altered = Certificate::from_der(&der).expect("still parses");
        let err = verify_certificate_signature(&altered, &cert).expect_err("altered");
        assert!(matches!(err, PkiError::BadSignature(_)), "{err}");
    }

    #[test]
    fn serials_are_positive_minimal_and_128_bits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let serial = serial_from_rng(&mut rng).expect("serial");
            let bytes = serial.as_bytes();
            assert_eq!(bytes.len(), 16, "{bytes:02x?}");
            assert!(bytes[0] != 0 && bytes[0] < 0x80, "{bytes:02x?}");
            let der = serial.to_der().expect("der");
            assert_eq!(der[..2], [0x02, 16]);
        }
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z.
        assert!(matches!(x509_time(at(2_524_607_999)), Ok(Time::UtcTime(_))));
        assert!(matches!(
            x509_time(at(2_524_608_000)),
            Ok(Time::GeneralTime(_))
        ));
    }

    #[test]
    fn names_use_the_requested_string_types() {
        let name = build_name(&[
            (OID_COUNTRY, NameValue::Printable("CN")),
            (OID_ORGANIZATION, NameValue::Utf8("福州某某科技有限公司")),
            (
                OID_SERIAL_NUMBER,
                NameValue::Printable("91350100M000100Y43"),
            ),
        ])
        .expect("name");
        let tags: Vec<der::Tag> = name.iter().map(|atv| atv.value.tag()).collect();
        assert_eq!(
            tags,
            [
                der::Tag::PrintableString,
                der::Tag::Utf8String,
                der::Tag::PrintableString
            ]
        );
        let err = build_name(&[(OID_COUNTRY, NameValue::Printable("C*"))]).expect_err("*");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn der_or_pem_refuses_other_labels() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = der_or_pem(pem, &["CERTIFICATE"], "certificate").expect_err("label");
        assert!(matches!(err, PkiError::Malformed { .. }), "{err}");
    }
}
