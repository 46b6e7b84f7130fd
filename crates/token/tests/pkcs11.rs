//! The PKCS#11 token behind the same interface as the software UKey, on SoftHSM2 (P-256): a key
//! pair made on the token, its request, a certificate for it stored on the token (one for
//! another key refused) and a signature that verifies.

use certdesk_pki::der::Encode;
use certdesk_pki::{parse_and_verify_csr, Algorithm, CaHierarchy, LeafProfile, LeafRequest};
use certdesk_token::{Pkcs11Token, Slot, Token, TokenError};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

const MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];
const PIN: &str = "654321";

/// A SoftHSM2 token of its own (this test binary is the only user of the module).
fn softhsm_token(dir: &tempfile::TempDir) -> PathBuf {
    let module = MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("SoftHSM2 is not installed (no {MODULES:?}): apt-get install softhsm2")
        });
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // Read by the module when it initialises, before any PKCS#11 call of this process.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "certdesk-ukey",
            "--pin",
            PIN,
            "--so-pin",
            "so-1234",
        ])
        .output()
        .expect("softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    module
}

#[test]
fn a_p256_key_pair_is_made_certified_and_used_on_a_pkcs11_token() {
    let dir = tempfile::tempdir().unwrap();
    let module = softhsm_token(&dir);
    let token: Box<dyn Token> = Box::new(Pkcs11Token::new(module, "certdesk-ukey"));
    assert!(!token.serial().unwrap().is_empty());
    assert!(matches!(
        token.generate_key_pair(PIN, "login", Algorithm::Sm2Sm3),
        Err(TokenError::Unsupported(_))
    ));
    let spki = token
        .generate_key_pair(PIN, "login", Algorithm::EcdsaP256Sha256)
        .unwrap();
    let csr =
        parse_and_verify_csr(&token.certificate_request(PIN, "login", "CN=ukey").unwrap()).unwrap();
    assert_eq!(csr.public_key.to_der().unwrap(), spki);

    let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").unwrap();
    let now = SystemTime::now();
    let leaf = certdesk_pki::issue_leaf(
        &ca.issuing_key,
        &ca.issuing_cert,
        &csr,
        &LeafRequest {
            profile: LeafProfile::Sign,
            org_name: "福州测试科技有限公司".into(),
            credit_code: "91350100M000100Y43".into(),
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(86_400),
            serial: certdesk_pki::random_serial().unwrap(),
            base_url: "http://127.0.0.1:8080/".into(),
            ca_name: None,
            policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
        },
    )
    .unwrap();
    let der = leaf.to_der().unwrap();
    // A certificate of another key is refused; its own is stored.
    assert!(matches!(
        token.install_certificate(
            PIN,
            "login",
            Slot::Signing,
            &ca.issuing_cert.to_der().unwrap()
        ),
        Err(TokenError::CertificateMismatch)
    ));
    token
        .install_certificate(PIN, "login", Slot::Signing, &der)
        .unwrap();
    assert_eq!(
        token.certificates(PIN).unwrap(),
        vec![("login".to_string(), Slot::Signing, der)]
    );
    let signature = token.sign(PIN, "login", b"certdesk:site:login:1").unwrap();
    Algorithm::EcdsaP256Sha256
        .verify(
            leaf.tbs_certificate().subject_public_key_info(),
            &Algorithm::EcdsaP256Sha256.signature_algorithm_identifier(),
            b"certdesk:site:login:1",
            &signature,
        )
        .unwrap();
}
