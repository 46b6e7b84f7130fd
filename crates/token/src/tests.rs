//! The software UKey: PINs counted before they are checked, locked after ten, unlocked with the
//! SO PIN; SM2 dual certificates end to end (a CSR from the key, the CA's envelope imported,
//! certificates installed, a signature OpenSSL-free verified here and decryption of what is
//! sealed to the encryption certificate); nothing private on disk in clear.

use super::*;
use certdesk_pki::{
    issue_dual, parse_and_verify_csr, CaHierarchy, EncryptionKeyPair, LeafProfile, LeafRequest,
};
use std::time::{Duration, SystemTime};

const PIN: &str = "123456";
const SO_PIN: &str = "admin-888888";

fn blank(dir: &tempfile::TempDir) -> SoftwareUKey {
    SoftwareUKey::init(&dir.path().join("ukey.json"), "测试CA锁", PIN, SO_PIN).unwrap()
}

fn leaf(profile: LeafProfile) -> LeafRequest {
    let now = SystemTime::now();
    LeafRequest {
        profile,
        org_name: "福州测试科技有限公司".into(),
        credit_code: "91350100M000100Y43".into(),
        not_before: now - Duration::from_secs(60),
        not_after: now + Duration::from_secs(365 * 86_400),
        serial: certdesk_pki::random_serial().unwrap(),
        base_url: "http://127.0.0.1:8080/".into(),
        ca_name: None,
        policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
    }
}

#[test]
fn ten_wrong_pins_lock_the_key_and_the_so_pin_unlocks_it() {
    let dir = tempfile::tempdir().unwrap();
    let ukey = blank(&dir);
    assert!(ukey.serial().unwrap().starts_with("SW"));
    assert!(matches!(
        SoftwareUKey::init(&dir.path().join("ukey.json"), "x", PIN, SO_PIN),
        Err(TokenError::Io { .. })
    ));
    ukey.verify_pin(PIN).unwrap();
    for left in (1..MAX_PIN_TRIES).rev() {
        assert!(
            matches!(ukey.verify_pin("000000"), Err(TokenError::WrongPin { left: l }) if l == left)
        );
        // Counted on disk, as it happened.
        assert_eq!(
            SoftwareUKey::open(&dir.path().join("ukey.json"))
                .unwrap()
                .pin_tries_left()
                .unwrap(),
            left
        );
    }
    assert!(matches!(ukey.verify_pin("000000"), Err(TokenError::Locked)));
    // Locked: even the right PIN is refused now.
    assert!(matches!(ukey.verify_pin(PIN), Err(TokenError::Locked)));
    assert!(matches!(
        ukey.unlock_with_so_pin("wrong-so-pin", "654321"),
        Err(TokenError::WrongSoPin { left: 9 })
    ));
    ukey.unlock_with_so_pin(SO_PIN, "654321").unwrap();
    assert_eq!(ukey.pin_tries_left().unwrap(), MAX_PIN_TRIES);
    assert!(matches!(
        ukey.verify_pin(PIN),
        Err(TokenError::WrongPin { .. })
    ));
    ukey.verify_pin("654321").unwrap();
    // A right PIN resets the count; a PIN change needs the old one.
    ukey.change_pin("654321", "112233").unwrap();
    ukey.verify_pin("112233").unwrap();
    assert!(matches!(
        ukey.change_pin("654321", "445566"),
        Err(TokenError::WrongPin { .. })
    ));
    assert!(matches!(
        ukey.change_pin("112233", "12"),
        Err(TokenError::PinPolicy)
    ));
}

#[test]
fn an_sm2_dual_pair_is_made_installed_and_used_on_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ukey = blank(&dir);
    let spki = ukey
        .generate_key_pair(PIN, "bid", Algorithm::Sm2Sm3)
        .unwrap();
    assert!(matches!(
        ukey.generate_key_pair(PIN, "bid", Algorithm::Sm2Sm3),
        Err(TokenError::ContainerExists(_))
    ));
    let csr =
        parse_and_verify_csr(&ukey.certificate_request(PIN, "bid", "CN=ukey").unwrap()).unwrap();
    assert_eq!(csr.public_key.to_der().unwrap(), spki);

    // The CA issues the pair and seals the encryption key to the signing key.
    let ca = CaHierarchy::generate(Algorithm::Sm2Sm3, "certdesk").unwrap();
    let kmk = KeyManagementKey::generate("kmk").unwrap();
    let dual = issue_dual(
        &ca.issuing_key,
        &ca.issuing_cert,
        &csr,
        &leaf(LeafProfile::Sign),
        &leaf(LeafProfile::Enc),
        &kmk,
        EncryptionKeyPair::Fresh,
    )
    .unwrap();
    // The encryption certificate cannot go in before its key.
    let enc_der = dual.encryption_cert.to_der().unwrap();
    assert!(matches!(
        ukey.install_certificate("bid", Slot::Encryption, &enc_der),
        Err(TokenError::Empty(..))
    ));
    ukey.import_enveloped_key(PIN, "bid", &dual.envelope.skf_blob)
        .unwrap();
    ukey.install_certificate("bid", Slot::Signing, &dual.signing_cert.to_der().unwrap())
        .unwrap();
    ukey.install_certificate("bid", Slot::Encryption, &enc_der)
        .unwrap();
    // A certificate for another key is refused.
    assert!(matches!(
        ukey.install_certificate("bid", Slot::Signing, &enc_der),
        Err(TokenError::CertificateMismatch)
    ));
    let info = &ukey.containers().unwrap()[0];
    assert!(info.has_signing_key && info.has_encryption_key);
    assert_eq!(info.algorithm, Some(Algorithm::Sm2Sm3));
    assert_eq!(
        info.encryption_certificate.as_deref(),
        Some(enc_der.as_slice())
    );

    // It signs what the certificate verifies, and opens what is sealed to the encryption
    // certificate.
    let signature = ukey.sign(PIN, "bid", b"login challenge").unwrap();
    Algorithm::Sm2Sm3
        .verify(
            dual.signing_cert
                .tbs_certificate()
                .subject_public_key_info(),
            &Algorithm::Sm2Sm3.signature_algorithm_identifier(),
            b"login challenge",
            &signature,
        )
        .unwrap();
    let sealed = certdesk_pki::sm2_encrypt(
        dual.encryption_cert
            .tbs_certificate()
            .subject_public_key_info(),
        b"bid session key",
    )
    .unwrap();
    assert_eq!(
        &ukey.decrypt(PIN, "bid", &sealed).unwrap()[..],
        b"bid session key"
    );
    assert!(matches!(
        ukey.sign("000000", "bid", b"x"),
        Err(TokenError::WrongPin { .. })
    ));

    // Nothing private is in the file in clear: the keys' scalars do not appear.
    let file = std::fs::read_to_string(dir.path().join("ukey.json")).unwrap();
    assert!(!file.contains("PRIVATE KEY"));
    assert!(file.contains("\"serial\""));
}

/// Wrong PINs tried at once (the agent serves pages in parallel; two programs may share a
/// key): each is counted, none forgiven, and the eleventh and later find the key locked.
#[test]
fn wrong_pins_tried_at_the_same_instant_are_each_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ukey.json");
    blank(&dir);
    let tries: Vec<_> = (0..12)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || SoftwareUKey::open(&path).unwrap().verify_pin("000000"))
        })
        .collect();
    let answers: Vec<_> = tries.into_iter().map(|t| t.join().unwrap()).collect();
    let wrong = answers
        .iter()
        .filter(|a| matches!(a, Err(TokenError::WrongPin { .. })))
        .count();
    let locked = answers
        .iter()
        .filter(|a| matches!(a, Err(TokenError::Locked)))
        .count();
    // Nine told how many are left, the tenth locks it, and two more find it locked.
    assert_eq!((wrong, locked), (9, 3), "{answers:?}");
    assert_eq!(
        SoftwareUKey::open(&path).unwrap().pin_tries_left().unwrap(),
        0
    );
    // Every "tries left" was told once: no two tries counted from the same number.
    let mut left: Vec<u32> = answers
        .iter()
        .filter_map(|a| match a {
            Err(TokenError::WrongPin { left }) => Some(*left),
            _ => None,
        })
        .collect();
    left.sort_unstable();
    assert_eq!(left, (1..=9).collect::<Vec<_>>());
}
