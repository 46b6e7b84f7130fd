//! The CA on a real store: issuance, refusals that record nothing, revocation and CRLs.

use super::*;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{
    crl_from_der_or_pem, make_csr, verify_certificate_signature, verify_crl_signature,
};
use certdesk_store::testing::sqlite_store;
use std::str::FromStr;

const CREDIT_CODE: &str = "91350100M000100Y43";

pub(crate) fn passphrase() -> Zeroizing<String> {
    Zeroizing::new("test-ca-passphrase".to_string())
}

/// The CA under test, with the whole store beside it for the tests' own reads and writes (the
/// CA itself sees only its records).
pub(crate) struct TestCa {
    ca: CertificateAuthority,
    store: certdesk_store::Store,
}

impl std::ops::Deref for TestCa {
    type Target = CertificateAuthority;
    fn deref(&self) -> &CertificateAuthority {
        &self.ca
    }
}

impl TestCa {
    pub(crate) fn store(&self) -> &certdesk_store::Store {
        &self.store
    }

    fn with_key_management(self, kmk: KeyManagementKey) -> TestCa {
        TestCa {
            ca: self.ca.with_key_management(kmk),
            store: self.store,
        }
    }
}

pub(crate) async fn ca() -> (TestCa, tempfile::TempDir) {
    let (store, dir) = sqlite_store().await;
    let created = ensure_hierarchies(&store, &passphrase(), "certdesk test")
        .await
        .unwrap();
    assert_eq!(created, Algorithm::ALL.to_vec());
    let ca = CertificateAuthority::open(
        std::sync::Arc::new(store.clone()),
        "http://127.0.0.1:8080/",
        &passphrase(),
    )
    .await
    .unwrap();
    (TestCa { ca, store }, dir)
}

pub(crate) fn csr_for(key: &SoftwareKey) -> Vec<u8> {
    make_csr(key, Name::from_str("CN=applicant").unwrap()).unwrap()
}

pub(crate) fn request(csr: &[u8]) -> IssueRequest<'_> {
    IssueRequest {
        csr,
        profile: LeafProfile::Sign,
        org_name: "福州测试科技有限公司",
        credit_code: CREDIT_CODE,
        validity_days: 365,
    }
}

#[tokio::test]
async fn hierarchies_are_made_once_and_need_the_passphrase() {
    let (ca, _dir) = ca().await;
    assert!(ensure_hierarchies(ca.store(), &passphrase(), "x")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(ca.cas().len(), 2);
    for loaded in ca.cas() {
        verify_certificate_signature(&loaded.issuing_cert, &loaded.root_cert).unwrap();
    }
    let wrong = CertificateAuthority::open(
        std::sync::Arc::new(ca.store().clone()),
        "http://x",
        &Zeroizing::new("wrong".into()),
    )
    .await;
    let err = wrong
        .err()
        .expect("a wrong passphrase must not open the CA");
    assert!(matches!(err, CaError::KeyDecryption { .. }), "{err}");
    assert!(!err.to_string().contains("test-ca-passphrase"));
}

#[tokio::test]
async fn issues_from_csrs_of_both_algorithms_and_records_each() {
    let (ca, _dir) = ca().await;
    for algorithm in Algorithm::ALL {
        let key = SoftwareKey::generate(algorithm).unwrap();
        let csr = csr_for(&key);
        for profile in [LeafProfile::Sign, LeafProfile::Enc] {
            let issued = ca
                .issue(&IssueRequest {
                    profile,
                    ..request(&csr)
                })
                .await
                .unwrap();
            let loaded = ca.ca(algorithm).unwrap();
            verify_certificate_signature(&issued.certificate, &loaded.issuing_cert).unwrap();
            assert_eq!(issued.record.algorithm, algorithm.slug());
            assert_eq!(issued.record.profile, profile_name(profile));
            assert_eq!(issued.record.credit_code, CREDIT_CODE);
            assert_eq!(issued.record.der, der_of(&issued.certificate).unwrap());
            // At least 64 bits of serial, positive.
            let serial = issued
                .certificate
                .tbs_certificate()
                .serial_number()
                .as_bytes()
                .to_vec();
            assert!(serial.len() >= 8 && serial[0] & 0x80 == 0, "{serial:?}");
            assert_eq!(issued.record.serial_hex, hex::encode(&serial));
            let days = (issued.record.not_after - issued.record.not_before) / 86400;
            assert_eq!(
                days, 365,
                "validity as requested (plus the few minutes of back-dating)"
            );
            assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        }
    }
    assert_eq!(ca.store().count_certificates().await.unwrap(), 4);
}

#[tokio::test]
async fn refused_requests_record_nothing() {
    let (ca, _dir) = ca().await;
    let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let csr = csr_for(&key);

    let mut tampered = csr.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert!(ca
        .issue(&request(&tampered))
        .await
        .unwrap_err()
        .is_input_error());

    let bad_code = ca
        .issue(&IssueRequest {
            credit_code: "91350100M000100Y44",
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(bad_code.to_string().contains("校验位"), "{bad_code}");
    let no_days = ca
        .issue(&IssueRequest {
            validity_days: 0,
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(no_days.is_input_error());
    let too_long = ca
        .issue(&IssueRequest {
            validity_days: MAX_VALIDITY_DAYS + 1,
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(too_long.is_input_error());
    // The issuing CA lives ten years from its making; once a second has passed, a ten-year
    // certificate would outlive it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let outlives = ca
        .issue(&IssueRequest {
            validity_days: MAX_VALIDITY_DAYS,
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(outlives.is_input_error());
    assert!(
        outlives.to_string().contains("不能超过签发CA的有效期"),
        "{outlives}"
    );
    let no_name = ca
        .issue(&IssueRequest {
            org_name: "  ",
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(no_name.is_input_error());
    // The name limit is the domain's, counted in characters: 65 are refused before anything is
    // signed (64 are issued: the_ra_can_ask_what_the_ca_would_refuse).
    let too_long_name = "字".repeat(certdesk_domain::limits::MAX_SUBJECT_NAME_CHARS + 1);
    let long_name = ca
        .issue(&IssueRequest {
            org_name: &too_long_name,
            ..request(&csr)
        })
        .await
        .unwrap_err();
    assert!(long_name.is_input_error());
    assert!(
        long_name.to_string().contains("机构名称最多64个字"),
        "{long_name}"
    );

    // 1,000 random byte strings, from a fixed seed so a failure can be replayed.
    let mut state: u64 = 0x5eed_cafe_f00d_d00d;
    for i in 0..1000 {
        let len = (i % 300) + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let err = ca
            .issue(&request(&bytes))
            .await
            .expect_err("random bytes are not a CSR");
        assert!(err.is_input_error(), "{err}");
    }
    assert_eq!(ca.store().count_certificates().await.unwrap(), 0);
}

#[tokio::test]
async fn revocation_puts_the_serial_on_a_new_crl() {
    let (ca, _dir) = ca().await;
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let issued = ca.issue(&request(&csr_for(&key))).await.unwrap();
    let first = ca.current_crl(Algorithm::Sm2Sm3).await.unwrap();
    assert_eq!(
        ca.current_crl(Algorithm::Sm2Sm3).await.unwrap().crl_number,
        first.crl_number,
        "a fresh CRL is reused"
    );

    // Users paste serials with colons and capitals.
    let typed = issued
        .record
        .serial_hex
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let record = ca.revoke(&typed, CrlReason::KeyCompromise).await.unwrap();
    assert_eq!(record.revocation_reason.as_deref(), Some("keyCompromise"));

    let after = ca.current_crl(Algorithm::Sm2Sm3).await.unwrap();
    assert!(after.crl_number > first.crl_number);
    let crl = crl_from_der_or_pem(&after.der).unwrap();
    verify_crl_signature(&crl, &ca.ca(Algorithm::Sm2Sm3).unwrap().issuing_cert).unwrap();
    let listed: Vec<String> = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .map(|r| hex::encode(r.serial_number.as_bytes()))
        .collect();
    assert_eq!(listed, vec![issued.record.serial_hex.clone()]);

    // Revoking again keeps the first reason; an unknown serial is named in the error.
    let again = ca
        .revoke(&issued.record.serial_hex, CrlReason::Superseded)
        .await
        .unwrap();
    assert_eq!(again.revocation_reason.as_deref(), Some("keyCompromise"));
    assert!(
        matches!(ca.revoke("0badbeef", CrlReason::Superseded).await, Err(CaError::UnknownSerial(s)) if s == "0badbeef")
    );
    assert!(ca
        .revoke("not hex", CrlReason::Superseded)
        .await
        .unwrap_err()
        .is_input_error());
    assert!(ca
        .revoke(&issued.record.serial_hex, CrlReason::RemoveFromCRL)
        .await
        .is_err());
}

#[test]
fn serials_are_normalised() {
    assert_eq!(normalise_serial("5A:3F:09").unwrap(), "5a3f09");
    assert_eq!(normalise_serial("0x5a3f0").unwrap(), "05a3f0");
    assert_eq!(normalise_serial(" 5a 3f ").unwrap(), "5a3f");
    assert!(normalise_serial("").is_err());
    assert!(normalise_serial("xyz").is_err());
}

/// An OCSP request made by OpenSSL, the way relying parties make them.
fn openssl_ocsp_request(
    dir: &std::path::Path,
    ca: &LoadedCa,
    leaf_pem: &str,
    nonce: bool,
) -> Vec<u8> {
    let issuer = dir.join("issuer.pem");
    let leaf = dir.join("leaf.pem");
    let request = dir.join("req.der");
    std::fs::write(&issuer, certificate_to_pem(&ca.issuing_cert).unwrap()).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let mut args = vec![
        "ocsp",
        "-issuer",
        issuer.to_str().unwrap(),
        "-cert",
        leaf.to_str().unwrap(),
        "-reqout",
        request.to_str().unwrap(),
    ];
    if !nonce {
        args.push("-no_nonce");
    }
    let out = std::process::Command::new("openssl")
        .args(&args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&request).unwrap()
}

fn single_status(der: &[u8], ca: &LoadedCa) -> certdesk_pki::OcspStatus {
    let verified = certdesk_pki::verify_ocsp_response(der, &ca.issuing_cert).unwrap();
    assert_eq!(verified.statuses.len(), 1);
    verified.statuses[0].1.clone()
}

#[tokio::test]
async fn ocsp_answers_good_then_revoked_and_caches_what_it_can() {
    let (ca, dir) = ca().await;
    for algorithm in Algorithm::ALL {
        let loaded = ca.ca(algorithm).unwrap();
        let key = SoftwareKey::generate(algorithm).unwrap();
        let issued = ca.issue(&request(&csr_for(&key))).await.unwrap();
        let plain = openssl_ocsp_request(dir.path(), loaded, &issued.pem, false);

        let first = ca.answer_ocsp(&plain).await;
        assert!(matches!(
            single_status(&first, loaded),
            certdesk_pki::OcspStatus::Good
        ));
        let second = ca.answer_ocsp(&plain).await;
        assert!(
            std::sync::Arc::ptr_eq(&first, &second),
            "a request without nonce is answered from the cache"
        );

        let with_nonce = openssl_ocsp_request(dir.path(), loaded, &issued.pem, true);
        let fresh = ca.answer_ocsp(&with_nonce).await;
        let verified = certdesk_pki::verify_ocsp_response(&fresh, &loaded.issuing_cert).unwrap();
        assert!(verified.nonce.is_some(), "the nonce is echoed");

        ca.revoke(&issued.record.serial_hex, CrlReason::KeyCompromise)
            .await
            .unwrap();
        let after = ca.answer_ocsp(&plain).await;
        assert!(
            matches!(
                single_status(&after, loaded),
                certdesk_pki::OcspStatus::Revoked {
                    reason: Some(CrlReason::KeyCompromise),
                    ..
                }
            ),
            "{algorithm}"
        );
    }
}

#[tokio::test]
async fn revocations_by_another_process_reach_the_cache() {
    let (ca, dir) = ca().await;
    let loaded = ca.ca(Algorithm::EcdsaP256Sha256).unwrap();
    let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let issued = ca.issue(&request(&csr_for(&key))).await.unwrap();
    let plain = openssl_ocsp_request(dir.path(), loaded, &issued.pem, false);
    assert!(matches!(
        single_status(&ca.answer_ocsp(&plain).await, loaded),
        certdesk_pki::OcspStatus::Good
    ));
    assert_eq!(ca.cached_ocsp_answers(), 1);

    // A second CA instance on the same store stands for `certdesk ca revoke` in another process.
    let other = CertificateAuthority::open(
        std::sync::Arc::new(ca.store().clone()),
        ca.public_url(),
        &passphrase(),
    )
    .await
    .unwrap();
    other
        .revoke(&issued.record.serial_hex, CrlReason::Superseded)
        .await
        .unwrap();
    tokio::time::sleep(REVOCATION_CHECK_INTERVAL + std::time::Duration::from_millis(50)).await;
    assert!(matches!(
        single_status(&ca.answer_ocsp(&plain).await, loaded),
        certdesk_pki::OcspStatus::Revoked { .. }
    ));
}

#[tokio::test]
async fn ocsp_refuses_what_it_cannot_answer() {
    let (ca, dir) = ca().await;
    let malformed =
        certdesk_pki::error_ocsp_response(certdesk_pki::OcspErrorStatus::MalformedRequest);
    assert_eq!(&*ca.answer_ocsp(b"").await, malformed.as_slice());
    assert_eq!(
        &*ca.answer_ocsp(b"\x30\x03\x02\x01\x01").await,
        malformed.as_slice()
    );
    let mut state: u32 = 12345;
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect();
        assert_eq!(&*ca.answer_ocsp(&bytes).await, malformed.as_slice());
    }

    // A certificate of a CA we do not run: unauthorized.
    let foreign = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "elsewhere").unwrap();
    let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let verified = certdesk_pki::parse_and_verify_csr(&csr_for(&key)).unwrap();
    let foreign_leaf = issue_leaf(
        &foreign.issuing_key,
        &foreign.issuing_cert,
        &verified,
        &LeafRequest {
            profile: LeafProfile::Sign,
            org_name: "外部机构".into(),
            credit_code: CREDIT_CODE.into(),
            not_before: SystemTime::now(),
            not_after: SystemTime::now() + Duration::from_secs(86400),
            serial: random_serial().unwrap(),
            base_url: "http://elsewhere".into(),
            ca_name: None,
            policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
        },
    )
    .unwrap();
    let foreign_ca = LoadedCa {
        algorithm: Algorithm::EcdsaP256Sha256,
        issuing_id: -1,
        publication_name: "elsewhere".into(),
        retired: false,
        root_der: vec![],
        issuing_der: vec![],
        root_cert: foreign.root_cert.clone(),
        issuer_hashes: certdesk_pki::IssuerHashes::of(&foreign.issuing_cert).unwrap(),
        issuing_cert: foreign.issuing_cert.clone(),
        issuing_key: Box::new(SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap()),
    };
    let foreign_request = openssl_ocsp_request(
        dir.path(),
        &foreign_ca,
        &certificate_to_pem(&foreign_leaf).unwrap(),
        false,
    );
    let unauthorized =
        certdesk_pki::error_ocsp_response(certdesk_pki::OcspErrorStatus::Unauthorized);
    assert_eq!(
        &*ca.answer_ocsp(&foreign_request).await,
        unauthorized.as_slice()
    );

    // A serial of our CA that we never issued: unknown.
    let ours = ca.ca(Algorithm::EcdsaP256Sha256).unwrap();
    let never_issued = issue_leaf(
        ours.signer(),
        &ours.issuing_cert,
        &verified,
        &LeafRequest {
            profile: LeafProfile::Sign,
            org_name: "未登记".into(),
            credit_code: CREDIT_CODE.into(),
            not_before: SystemTime::now(),
            not_after: SystemTime::now() + Duration::from_secs(86400),
            serial: random_serial().unwrap(),
            base_url: "http://127.0.0.1:8080".into(),
            ca_name: None,
            policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
        },
    )
    .unwrap();
    let request = openssl_ocsp_request(
        dir.path(),
        ours,
        &certificate_to_pem(&never_issued).unwrap(),
        false,
    );
    assert!(matches!(
        single_status(&ca.answer_ocsp(&request).await, ours),
        certdesk_pki::OcspStatus::Unknown
    ));
    assert_eq!(
        ca.cached_ocsp_answers(),
        0,
        "answers about unknown serials are not kept"
    );
}

#[tokio::test]
async fn sm2_dual_pairs_are_issued_archived_and_recoverable() {
    let (ca, _dir) = ca().await;
    let csr = csr_for(&SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap());
    let refused = ca.issue_dual(&request(&csr)).await.unwrap_err();
    assert!(refused.to_string().contains("密钥管理密钥"), "{refused}");

    let ca = ca.with_key_management(KeyManagementKey::generate("kmk-test").unwrap());
    let signing_key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let dual = ca
        .issue_dual(&request(&csr_for(&signing_key)))
        .await
        .unwrap();
    assert_eq!(
        (
            dual.signing.record.profile.as_str(),
            dual.encryption.record.profile.as_str()
        ),
        ("sign", "enc")
    );
    let enc_spki = dual
        .encryption
        .certificate
        .tbs_certificate()
        .subject_public_key_info()
        .clone();

    for opened in [
        certdesk_pki::open_gmt0009_envelope(&dual.envelope.gmt0009_der, &signing_key).unwrap(),
        certdesk_pki::open_skf_envelope(&dual.envelope.skf_blob, &signing_key).unwrap(),
        ca.recover_encryption_key(&dual.encryption.record.serial_hex)
            .await
            .unwrap(),
    ] {
        assert_eq!(opened.public_key_spki(), &enc_spki);
    }
    assert!(ca
        .recover_encryption_key(&dual.signing.record.serial_hex)
        .await
        .unwrap_err()
        .is_input_error());
    assert_eq!(ca.store().count_certificates().await.unwrap(), 2);

    let p256 = csr_for(&SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap());
    assert!(ca
        .issue_dual(&request(&p256))
        .await
        .unwrap_err()
        .is_input_error());
    assert_eq!(
        ca.store().count_certificates().await.unwrap(),
        2,
        "a refused pair records nothing"
    );
}

#[tokio::test]
async fn prepared_requests_are_signed_under_the_serials_drawn_and_record_nothing() {
    let (ca, _dir) = ca().await;
    let ca = ca.with_key_management(KeyManagementKey::generate("kmk-test").unwrap());
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = csr_for(&key);
    let prepared = ca.prepare(&request(&csr), true).unwrap();
    // The intent's public-key hash is the SHA-256 of the SubjectPublicKeyInfo.
    let spki = key.public_key_spki().to_der().unwrap();
    assert_eq!(
        prepared.public_key_sha256(),
        hex::encode(Sha256::digest(&spki))
    );
    let serials = IssuanceSerials::draw(true).unwrap();
    assert_eq!(serials.signing.len(), 32);
    assert_ne!(Some(&serials.signing), serials.encryption.as_ref());
    let signed = ca.sign_prepared(&prepared, &serials).await.unwrap();
    let encryption = signed.encryption.as_ref().unwrap();
    assert_eq!(
        signed.serials().collect::<Vec<_>>(),
        vec![
            serials.signing.as_str(),
            serials.encryption.as_deref().unwrap()
        ]
    );
    assert_eq!(
        hex::encode(
            signed
                .signing
                .certificate
                .tbs_certificate()
                .serial_number()
                .as_bytes()
        ),
        serials.signing
    );
    assert!(signed.envelope.is_some());
    assert!(signed.signing.key_archive.is_none());
    assert_eq!(encryption.key_archive.as_ref().unwrap().kmk_id, "kmk-test");
    assert_eq!(
        ca.store().count_certificates().await.unwrap(),
        0,
        "signing records nothing: the RA records it with the order"
    );
    // A dual pair is refused for a P-256 key before anything is signed or recorded.
    let p256 = csr_for(&SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap());
    assert!(ca
        .prepare(&request(&p256), true)
        .unwrap_err()
        .is_input_error());
    // The records the store receives carry the serials and DER, and no key in the clear.
    let records = signed.for_order();
    assert_eq!(records.signing.certificate.serial_hex, serials.signing);
    assert_eq!(
        records.signing.certificate.der,
        signed.signing.der.as_slice()
    );
    assert!(records.envelope_skf.is_some());
}

#[tokio::test]
async fn held_keys_come_back_sealed_with_their_certificates() {
    let (ca, _dir) = ca().await;
    let ca = ca.with_key_management(KeyManagementKey::generate("kmk-test").unwrap());
    let serials = IssuanceSerials::draw(true).unwrap();
    let signed = ca
        .sign_held(
            &HeldRequest {
                algorithm: Algorithm::Sm2Sm3,
                dual: true,
                org_name: "福州测试科技有限公司",
                credit_code: CREDIT_CODE,
                validity_days: 365,
                keep_signing_key_of: None,
                keep_encryption_key_of: None,
            },
            &serials,
        )
        .await
        .unwrap();
    assert!(signed.envelope.is_none(), "the CA holds both keys");
    for certificate in std::iter::once(&signed.signing).chain(signed.encryption.as_ref()) {
        let archive = certificate.key_archive.as_ref().expect("key kept");
        let key = KeyArchive::from_der_bytes(&archive.archive_der)
            .unwrap()
            .recover(ca.kmk().unwrap())
            .unwrap();
        assert_eq!(
            key.public_key_spki(),
            certificate
                .certificate
                .tbs_certificate()
                .subject_public_key_info()
        );
    }
    assert_eq!(ca.store().count_certificates().await.unwrap(), 0);
}

#[tokio::test]
async fn revocations_written_by_the_store_are_published() {
    let (ca, _dir) = ca().await;
    let issued = ca
        .issue(&request(&csr_for(
            &SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap(),
        )))
        .await
        .unwrap();
    let RevokeOutcome::Revoked(record) = ca
        .store()
        .revoke_certificate(&issued.record.serial_hex, 1, "cessationOfOperation")
        .await
        .unwrap()
    else {
        panic!("not revoked");
    };
    ca.publish_revocations(&[record.clone(), record])
        .await
        .unwrap();
    let crl = ca
        .store()
        .latest_crl(Algorithm::EcdsaP256Sha256.slug())
        .await
        .unwrap()
        .unwrap();
    let crl = crl_from_der_or_pem(&crl.der).unwrap();
    let listed = crl.tbs_cert_list.revoked_certificates.unwrap_or_default();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        hex::encode(listed[0].serial_number.as_bytes()),
        issued.record.serial_hex
    );
}

#[tokio::test]
async fn presented_certificates_are_recognised_checked_and_prove_their_key() {
    use crate::trust::{
        challenge_message, verify_challenge_signature, CertificateProblem, CheckError,
    };
    use certdesk_pki::Signer;
    let (ca, _dir) = ca().await;
    let now = SystemTime::now();
    for algorithm in Algorithm::ALL {
        let key = SoftwareKey::generate(algorithm).unwrap();
        let issued = ca.issue(&request(&csr_for(&key))).await.unwrap();
        let (presented, recognition) = ca
            .check_presented_certificate(issued.pem.as_bytes(), now)
            .await
            .unwrap();
        assert!(recognition.is_ours());
        assert_eq!(presented.subject_name, "福州测试科技有限公司");
        assert_eq!(presented.subject_serial.as_deref(), Some(CREDIT_CODE));
        assert_eq!(presented.key_id.len(), 40);
        let message = challenge_message("ca.example.cn", "login", "abc");
        let signature = key.sign(message.as_bytes()).unwrap();
        verify_challenge_signature(&presented, message.as_bytes(), &signature).unwrap();
        for other in [
            "certdesk:ca.example.cn:bind:abc",
            "certdesk:evil.example:login:abc",
        ] {
            assert_eq!(
                verify_challenge_signature(&presented, other.as_bytes(), &signature),
                Err(CertificateProblem::BadSignature)
            );
        }

        ca.revoke(&issued.record.serial_hex, CrlReason::KeyCompromise)
            .await
            .unwrap();
        let revoked = ca
            .check_presented_certificate(&issued.record.der, now)
            .await
            .unwrap_err();
        assert!(
            matches!(revoked, CheckError::Problem(CertificateProblem::Revoked)),
            "{revoked}"
        );
    }

    // An encryption certificate (whose key the CA may hold) and a CA certificate do not prove
    // a key holder, however valid.
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = csr_for(&key);
    let encryption = ca
        .issue(&IssueRequest {
            profile: LeafProfile::Enc,
            ..request(&csr)
        })
        .await
        .unwrap();
    let issuing_ca_der = ca.ca(Algorithm::Sm2Sm3).unwrap().issuing_der.clone();
    for der in [&encryption.record.der, &issuing_ca_der] {
        let refused = ca.check_presented_certificate(der, now).await.unwrap_err();
        assert!(
            matches!(
                refused,
                CheckError::Problem(CertificateProblem::NotForSigning)
            ),
            "{refused}"
        );
    }

    // A certificate of a CA nobody imported is refused; once its CA is imported, it is recognised.
    let foreign = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "other CA").unwrap();
    let leaf = foreign_leaf(&foreign, random_serial().unwrap(), now);
    let leaf_der = der_of(&leaf).unwrap();
    let refused = ca
        .check_presented_certificate(&leaf_der, now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            CheckError::Problem(CertificateProblem::UnrecognisedCa)
        ),
        "{refused}"
    );
    let cfca = ca
        .store()
        .ca_provider_by_name("CFCA")
        .await
        .unwrap()
        .unwrap();
    let ca_der = der_of(&foreign.issuing_cert).unwrap();
    ca.store()
        .add_provider_ca(
            &certdesk_store::NewProviderCa {
                provider_id: cfca.id,
                subject: "CN=other",
                fingerprint: &crate::trust::fingerprint(&ca_der),
                certificate_der: &ca_der,
                not_after: 0,
                created_at: 0,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let (_, recognition) = ca
        .check_presented_certificate(&leaf_der, now)
        .await
        .unwrap();
    assert_eq!(
        recognition,
        crate::trust::Recognition {
            provider_id: cfca.id,
            foreign_ca: Some(crate::trust::ForeignCa {
                id: ca.store().provider_cas().await.unwrap()[0].id,
                certificate: foreign.issuing_cert.clone(),
            }),
        }
    );

    let expired = ca
        .check_presented_certificate(&leaf_der, now + Duration::from_secs(2 * 86400))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, CheckError::Problem(CertificateProblem::Expired(_))),
        "{expired}"
    );
    // Once the imported CA certificate has expired, it vouches for nothing.
    let ca_expired = ca
        .check_presented_certificate(&leaf_der, now + Duration::from_secs(11 * 365 * 86400))
        .await
        .unwrap_err();
    assert!(
        matches!(
            ca_expired,
            CheckError::Problem(CertificateProblem::UnrecognisedCa)
        ),
        "{ca_expired}"
    );
    let garbage = ca
        .check_presented_certificate(b"not a certificate", now)
        .await
        .unwrap_err();
    assert!(matches!(
        garbage,
        CheckError::Problem(CertificateProblem::Malformed)
    ));
}

/// A day's certificate from another provider's CA `foreign` for a new key of its algorithm,
/// naming its CRL at `http://other.example`.
fn foreign_leaf(
    foreign: &CaHierarchy,
    serial: certdesk_pki::x509_cert::serial_number::SerialNumber,
    now: SystemTime,
) -> Certificate {
    let key = SoftwareKey::generate(foreign.algorithm).unwrap();
    let csr = certdesk_pki::parse_and_verify_csr(&csr_for(&key)).unwrap();
    issue_leaf(
        &foreign.issuing_key,
        &foreign.issuing_cert,
        &csr,
        &LeafRequest {
            profile: LeafProfile::Sign,
            org_name: "外地供应商有限公司".into(),
            credit_code: CREDIT_CODE.into(),
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(86400),
            serial,
            base_url: "http://other.example".into(),
            ca_name: None,
            policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
        },
    )
    .unwrap()
}

/// Another provider's CA, a certificate it issued (its CRL at `http://other.example`), and
/// CRLs of that CA: what binding and certificate login read for foreign certificates.
#[test]
fn foreign_crls_are_read_only_when_their_ca_signed_them_whole() {
    use crate::trust::{crl_url, read_foreign_crl};
    use certdesk_pki::x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
    use certdesk_pki::x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    use certdesk_pki::{build_crl, CrlRequest, RevokedEntry};
    let foreign = CaHierarchy::generate(Algorithm::Sm2Sm3, "other CA").unwrap();
    let now = SystemTime::now();
    let serial = random_serial().unwrap();
    let leaf = foreign_leaf(&foreign, serial.clone(), now);
    const URL: &str = "http://other.example/crl/sm2.crl";
    assert_eq!(crl_url(&leaf).as_deref(), Some(URL));
    assert_eq!(crl_url(&foreign.issuing_cert), None, "no CRL named");

    let crl = |signer: &dyn certdesk_pki::Signer, issuer: &Certificate, revoked: Vec<_>| {
        build_crl(
            signer,
            issuer,
            &CrlRequest {
                crl_number: 7,
                this_update: now,
                next_update: now + Duration::from_secs(3600),
                revoked,
            },
        )
        .unwrap()
        .to_der()
        .unwrap()
    };
    let serial_hex = hex::encode(serial.as_bytes());
    let clean = read_foreign_crl(
        &crl(&foreign.issuing_key, &foreign.issuing_cert, vec![]),
        &foreign.issuing_cert,
        URL,
    )
    .unwrap();
    assert!(!clean.revokes(&serial_hex));
    let stamp = unix_seconds(now);
    assert!(clean.is_current(stamp));
    assert!(clean.is_current(stamp + 3599));
    assert!(!clean.is_current(stamp + 3600), "past nextUpdate");
    assert!(!clean.is_current(stamp - 3600), "not issued yet");

    let revoking = read_foreign_crl(
        &crl(
            &foreign.issuing_key,
            &foreign.issuing_cert,
            vec![RevokedEntry {
                serial: serial.clone(),
                revoked_at: now,
                reason: CrlReason::KeyCompromise,
            }],
        ),
        &foreign.issuing_cert,
        URL,
    )
    .unwrap();
    assert!(revoking.revokes(&serial_hex));
    assert!(!revoking.revokes("01"));

    // A CRL of another CA, one whose signature was altered, and garbage are all refused.
    let stranger = CaHierarchy::generate(Algorithm::Sm2Sm3, "stranger").unwrap();
    let err = read_foreign_crl(
        &crl(&stranger.issuing_key, &stranger.issuing_cert, vec![]),
        &foreign.issuing_cert,
        URL,
    )
    .unwrap_err();
    assert!(err.contains("不是该证书的签发CA"), "{err}");
    let mut forged = crl(&foreign.issuing_key, &foreign.issuing_cert, vec![]);
    let last = forged.len() - 2;
    forged[last] ^= 0x01;
    let err = read_foreign_crl(&forged, &foreign.issuing_cert, URL).unwrap_err();
    assert!(err.contains("签名"), "{err}");
    let err = read_foreign_crl(b"<html>503</html>", &foreign.issuing_cert, URL).unwrap_err();
    assert!(err.contains("格式无效"), "{err}");

    // A CRL scoped by its issuingDistributionPoint speaks only for what it names: one for CA
    // certificates only, or for another partition, is refused; one naming this address is read.
    let scoped = |idp: IssuingDistributionPoint| {
        let mut list = build_crl(
            &foreign.issuing_key,
            &foreign.issuing_cert,
            &CrlRequest {
                crl_number: 8,
                this_update: now,
                next_update: now + Duration::from_secs(3600),
                revoked: vec![],
            },
        )
        .unwrap();
        list.tbs_cert_list
            .crl_extensions
            .get_or_insert_with(Vec::new)
            .push(certdesk_pki::x509_cert::ext::Extension {
                extn_id: "2.5.29.28".parse().unwrap(),
                critical: true,
                extn_value: certdesk_pki::der::asn1::OctetString::new(idp.to_der().unwrap())
                    .unwrap(),
            });
        let tbs = list.tbs_cert_list.to_der().unwrap();
        let signature = certdesk_pki::Signer::sign(&foreign.issuing_key, &tbs).unwrap();
        list.signature = certdesk_pki::der::asn1::BitString::from_bytes(&signature).unwrap();
        list.to_der().unwrap()
    };
    let at = |url: &str| IssuingDistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(
                certdesk_pki::der::asn1::Ia5String::new(url).unwrap(),
            ),
        ])),
        only_contains_user_certs: false,
        only_contains_ca_certs: false,
        only_some_reasons: None,
        indirect_crl: false,
        only_contains_attribute_certs: false,
    };
    assert!(read_foreign_crl(&scoped(at(URL)), &foreign.issuing_cert, URL).is_ok());
    for refused in [
        at("http://other.example/crl/partition-2.crl"),
        IssuingDistributionPoint {
            only_contains_ca_certs: true,
            ..at(URL)
        },
        IssuingDistributionPoint {
            indirect_crl: true,
            ..at(URL)
        },
    ] {
        let err = read_foreign_crl(&scoped(refused), &foreign.issuing_cert, URL).unwrap_err();
        assert!(err.contains("只覆盖部分证书"), "{err}");
    }
}

#[tokio::test]
async fn the_ra_can_ask_what_the_ca_would_refuse() {
    use certdesk_domain::limits::{validity_days, LimitError};
    let (ca, _dir) = ca().await;
    let sm2 = Algorithm::Sm2Sm3;
    // 64 Han characters (192 bytes) fit a certificate subject: the CA and pki issue them.
    let key = SoftwareKey::generate(sm2).unwrap();
    let csr = csr_for(&key);
    let longest = "字".repeat(certdesk_domain::limits::MAX_SUBJECT_NAME_CHARS);
    let issued = ca
        .issue(&IssueRequest {
            org_name: &longest,
            ..request(&csr)
        })
        .await
        .unwrap();
    assert_eq!(issued.record.org_name, longest);
    let until = ca.ca(sm2).unwrap().issuing_until();
    let now = unix_seconds(SystemTime::now());
    assert_eq!(
        ca.check_limits(sm2, "福州测试科技有限公司", 365, now),
        Ok(())
    );
    assert_eq!(
        ca.check_limits(sm2, &"字".repeat(65), 365, now),
        Err(LimitError::NameTooLong { chars: 65 })
    );
    assert_eq!(
        ca.check_limits(sm2, "福州测试科技有限公司", validity_days(10), now),
        Err(LimitError::DaysOutOfRange { days: 3652 })
    );
    // A year before the issuing CA ends, a one-year certificate still fits and a second later
    // it does not.
    let year = 365 * 24 * 60 * 60;
    assert_eq!(ca.check_limits(sm2, "某公司", 365, until - year), Ok(()));
    assert!(matches!(
        ca.check_limits(sm2, "某公司", 365, until - year + 1),
        Err(LimitError::OutlivesIssuingCa { .. })
    ));
}

#[tokio::test]
async fn the_ca_answers_through_its_service_boundary() {
    let (ca, _dir) = ca().await;
    answers_through_the_boundary(&ca.ca, ca.store()).await;
}

/// What any [`crate::CaService`] must do, in-process or across the process boundary: prepare,
/// sign under the RA's serials, hand out its certificates, revoke, publish a CRL, answer OCSP
/// and recognise a presented certificate.
pub(crate) async fn answers_through_the_boundary(
    service: &dyn crate::CaService,
    store: &certdesk_store::Store,
) {
    let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let csr = csr_for(&key);
    let prepared = service.prepare(&request(&csr), false).unwrap();
    let serials = crate::IssuanceSerials::draw(false).unwrap();
    let signed = service.sign_prepared(&prepared, &serials).await.unwrap();
    assert_eq!(signed.signing.serial_hex, serials.signing);
    // The service signs; recording is the RA's (here, as the RA would).
    store
        .insert_certificate(&signed.signing.new_certificate())
        .await
        .unwrap();
    let certificates = service
        .certificates(Algorithm::EcdsaP256Sha256)
        .expect("a P-256 CA");
    verify_certificate_signature(
        &signed.signing.certificate,
        &certdesk_pki::x509_cert::Certificate::from_der(&certificates.issuing_der).unwrap(),
    )
    .unwrap();
    let (presented, recognition) = service
        .check_presented_certificate(&signed.signing.der, std::time::SystemTime::now())
        .await
        .unwrap();
    assert_eq!(presented.serial_hex, serials.signing);
    assert!(recognition.is_ours());
    assert!(matches!(
        service
            .check_presented_certificate(b"not a certificate", std::time::SystemTime::now())
            .await,
        Err(crate::trust::CheckError::Problem(
            crate::trust::CertificateProblem::Malformed
        ))
    ));
    // A dual pair is for SM2 only: refused before anything is signed.
    assert!(matches!(
        service.prepare(&request(&csr), true),
        Err(CaError::Refused(_))
    ));
    let revoked = service
        .revoke(&serials.signing, CrlReason::KeyCompromise)
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    service
        .publish_revocations(std::slice::from_ref(&revoked))
        .await
        .unwrap();
    assert!(matches!(
        service.revoke("00ff00ff", CrlReason::KeyCompromise).await,
        Err(CaError::UnknownSerial(_))
    ));
    assert_eq!(certificates.name, "p256");
    assert!(!certificates.retired);
    assert!(service.published("p256-999").is_none());
    let crl = service.current_crl("p256").await.unwrap();
    assert!(crl.crl_number >= 1 && !crl.der.is_empty());
    // An OCSP request that is not one is answered with malformedRequest (RFC 6960 4.2.1).
    assert_eq!(
        &service.answer_ocsp(b"junk").await[..],
        &[0x30, 0x03, 0x0a, 0x01, 0x01]
    );
}

#[tokio::test]
async fn a_renewal_certifies_the_archived_encryption_key_again_for_its_organisation_only() {
    let (ca, _dir) = ca().await;
    let ca = ca.with_key_management(KeyManagementKey::generate("kmk-test").unwrap());
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = csr_for(&key);
    let first = ca.issue_dual(&request(&csr)).await.unwrap();
    let old_spki = first
        .encryption
        .certificate
        .tbs_certificate()
        .subject_public_key_info()
        .clone();
    let sealed = certdesk_pki::sm2_encrypt(&old_spki, b"last year's bid").unwrap();

    let prepared = ca
        .prepare(&request(&csr), true)
        .unwrap()
        .keeping_encryption_key_of(&first.encryption.record.serial_hex.to_uppercase())
        .unwrap();
    let renewed = ca
        .sign_prepared(&prepared, &IssuanceSerials::draw(true).unwrap())
        .await
        .unwrap();
    let encryption = renewed.encryption.as_ref().unwrap();
    assert_eq!(
        encryption
            .certificate
            .tbs_certificate()
            .subject_public_key_info(),
        &old_spki
    );
    // The key holder's UKey gets the same key pair again, and last year's file opens.
    let delivered =
        certdesk_pki::open_skf_envelope(&renewed.envelope.as_ref().unwrap().skf_blob, &key)
            .unwrap();
    assert_eq!(
        &delivered.sm2_decrypt(&sealed).unwrap()[..],
        b"last year's bid"
    );

    // Another organisation cannot have this key certified to it, nor a signing certificate's
    // serial stand for an encryption key, nor a single certificate keep one.
    let mut other = request(&csr);
    other.credit_code = "91110108MA01W4JK85";
    for (request, serial) in [
        (other, first.encryption.record.serial_hex.as_str()),
        (request(&csr), first.signing.record.serial_hex.as_str()),
    ] {
        let prepared = ca
            .prepare(&request, true)
            .unwrap()
            .keeping_encryption_key_of(serial)
            .unwrap();
        let refused = ca
            .sign_prepared(&prepared, &IssuanceSerials::draw(true).unwrap())
            .await;
        assert!(matches!(refused, Err(CaError::Refused(_))), "{refused:?}");
    }
    let single = ca.prepare(&request(&csr), false).unwrap();
    assert!(matches!(
        single.keeping_encryption_key_of(&first.encryption.record.serial_hex),
        Err(CaError::Refused(_))
    ));
}
