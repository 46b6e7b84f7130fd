//! `certdesk ca` and the public PKI endpoints of `certdesk serve`, checked by OpenSSL.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const CREDIT_CODE: &str = "91350100M000100Y43";
const DISTID: &str = "distid:1234567812345678";

/// A P-256 key and CSR made by OpenSSL.
fn p256_csr(dir: &Path, name: &str) -> std::path::PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let (ok, _, err) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        path_str(&key),
        "-out",
        path_str(&csr),
        "-subj",
        "/CN=applicant",
    ]);
    assert!(ok, "{err}");
    csr
}

/// An SM2 key and CSR made by OpenSSL, signed with the standard ID.
fn sm2_csr(dir: &Path, name: &str) -> std::path::PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let (ok, _, err) = openssl(&["genpkey", "-algorithm", "SM2", "-out", path_str(&key)]);
    assert!(ok, "{err}");
    let (ok, _, err) = openssl(&[
        "req",
        "-new",
        "-key",
        path_str(&key),
        "-sm3",
        "-sigopt",
        DISTID,
        "-subj",
        "/CN=applicant",
        "-out",
        path_str(&csr),
    ]);
    assert!(ok, "{err}");
    csr
}

fn issue(
    data: &Path,
    csr: &Path,
    profile: &str,
    out: &Path,
    extra: &[&str],
) -> (bool, String, String) {
    let mut args = vec![
        "ca",
        "--data-dir",
        path_str(data),
        "issue",
        "--csr",
        path_str(csr),
        "--profile",
        profile,
        "--org",
        "福州测试科技有限公司",
        "--credit-code",
        CREDIT_CODE,
        "--days",
        "365",
        "--out",
        path_str(out),
    ];
    args.extend_from_slice(extra);
    run_certdesk(&args)
}

fn serial_of(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(1)
        .expect("serial in the output")
        .to_string()
}

#[test]
fn issued_chains_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = ca_init(&data, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("SM2") && out.contains("P-256"), "{out}");
    let (ok, out, _) = ca_init(&data, &[]);
    assert!(ok && out.contains("nothing to do"), "{out}");

    // P-256: the whole chain up to our root.
    let leaf = dir.path().join("p256.pem");
    let chain = dir.path().join("p256-chain.pem");
    let (ok, _, err) = issue(
        &data,
        &p256_csr(dir.path(), "p256"),
        "sign",
        &leaf,
        &["--chain-out", path_str(&chain)],
    );
    assert!(ok, "{err}");
    let root = dir.path().join("p256-root.pem");
    let (ok, _, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "cert",
        "--alg",
        "p256",
        "--root",
        "--out",
        path_str(&root),
    ]);
    assert!(ok, "{err}");
    assert_chain_verifies(&root, &chain, &leaf);

    // SM2: OpenSSL takes the ID for the leaf's signature only, so the issuing CA is the anchor.
    let issuing = dir.path().join("sm2-issuing.pem");
    let (ok, _, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "cert",
        "--alg",
        "sm2",
        "--out",
        path_str(&issuing),
    ]);
    assert!(ok, "{err}");
    for profile in ["sign", "enc"] {
        let leaf = dir.path().join(format!("sm2-{profile}.pem"));
        let (ok, _, err) = issue(&data, &sm2_csr(dir.path(), profile), profile, &leaf, &[]);
        assert!(ok, "{err}");
        let (ok, out, err) = openssl(&[
            "verify",
            "-vfyopt",
            DISTID,
            "-partial_chain",
            "-CAfile",
            path_str(&issuing),
            path_str(&leaf),
        ]);
        assert!(ok && out.contains(": OK"), "{profile}: {out}{err}");
        let (_, text, _) = openssl(&["x509", "-in", path_str(&leaf), "-noout", "-text"]);
        assert!(
            text.contains("1.2.156.10260.4.1.4"),
            "credit-code extension: {text}"
        );
        assert!(text.contains(CREDIT_CODE), "{text}");
    }

    // Dual: the encryption certificate and both envelope forms are written.
    let sign = dir.path().join("dual-sign.pem");
    let enc = dir.path().join("dual-enc.pem");
    let envelope = dir.path().join("dual-envelope.der");
    let (ok, out, err) = issue(
        &data,
        &sm2_csr(dir.path(), "dual"),
        "dual",
        &sign,
        &[
            "--enc-out",
            path_str(&enc),
            "--envelope-out",
            path_str(&envelope),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("encryption certificate"), "{out}");
    for file in [&sign, &enc, &envelope, &envelope.with_extension("skf")] {
        assert!(
            std::fs::metadata(file).unwrap().len() > 100,
            "{}",
            file.display()
        );
    }
    let (ok, out, err) = openssl(&[
        "verify",
        "-vfyopt",
        DISTID,
        "-partial_chain",
        "-CAfile",
        path_str(&issuing),
        path_str(&enc),
    ]);
    assert!(ok && out.contains(": OK"), "{out}{err}");
}

#[test]
fn bad_csrs_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(ca_init(&data, &[]).0);

    let rsa_key = dir.path().join("rsa.key");
    let rsa_csr = dir.path().join("rsa.csr");
    let (ok, _, err) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        path_str(&rsa_key),
        "-out",
        path_str(&rsa_csr),
        "-subj",
        "/CN=weak",
    ]);
    assert!(ok, "{err}");
    let out = dir.path().join("refused.pem");
    let (ok, _, err) = issue(&data, &rsa_csr, "sign", &out, &[]);
    assert!(!ok);
    assert!(err.contains("weak key"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A CSR whose signature no longer matches: one byte of the DER changed near the end.
    let good = p256_csr(dir.path(), "good");
    let der = dir.path().join("good.der");
    assert!(
        openssl(&[
            "req",
            "-in",
            path_str(&good),
            "-outform",
            "DER",
            "-out",
            path_str(&der)
        ])
        .0
    );
    let mut bytes = std::fs::read(&der).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x40;
    let tampered = dir.path().join("tampered.der");
    std::fs::write(&tampered, bytes).unwrap();
    let (ok, _, err) = issue(&data, &tampered, "sign", &out, &[]);
    assert!(!ok, "a tampered CSR was accepted");
    assert!(err.contains("refused"), "{err}");

    let (ok, _, err) = issue(&data, &good, "sign", &out, &[]);
    assert!(ok, "{err}");
    let (ok, _, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "issue",
        "--csr",
        path_str(&good),
        "--profile",
        "sign",
        "--org",
        "x",
        "--credit-code",
        "91350100M000100Y44",
        "--days",
        "365",
        "--out",
        path_str(&dir.path().join("no.pem")),
    ]);
    assert!(!ok && err.contains("校验位"), "{err}");

    let (ok, list, _) = run_certdesk(&["ca", "--data-dir", path_str(&data), "list"]);
    assert!(ok);
    assert!(
        list.contains("\n1 certificates issued"),
        "only the good CSR left a record: {list}"
    );
    assert!(!dir.path().join("no.pem").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".certdesk-out-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary output files left behind");
}

/// `openssl ocsp` against the running server; answers its combined output.
fn ask_ocsp(port: u16, issuer: &Path, leaf: &Path, root: &Path, verify: bool) -> String {
    let url = format!("http://127.0.0.1:{port}/ocsp");
    let mut args = vec![
        "ocsp",
        "-issuer",
        path_str(issuer),
        "-cert",
        path_str(leaf),
        "-url",
        &url,
        "-timeout",
        "10",
    ];
    if verify {
        args.extend_from_slice(&["-CAfile", path_str(root)]);
    } else {
        args.push("-noverify");
    }
    let (_, out, err) = openssl(&args);
    format!("{out}{err}")
}

#[test]
fn ocsp_and_crl_of_a_running_server_follow_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = spawn_serve(&data, port, Some("ocsp-test-admin-1"));
    wait_until_healthy(port, &mut server);

    let mut serials = Vec::new();
    for (alg, csr) in [
        ("p256", p256_csr(dir.path(), "p")),
        ("sm2", sm2_csr(dir.path(), "s")),
    ] {
        let leaf = dir.path().join(format!("{alg}-leaf.pem"));
        let (ok, out, err) = issue(&data, &csr, "sign", &leaf, &[]);
        assert!(ok, "{err}");
        let issuer = dir.path().join(format!("{alg}-issuing.pem"));
        let root = dir.path().join(format!("{alg}-root.pem"));
        assert!(
            run_certdesk(&[
                "ca",
                "--data-dir",
                path_str(&data),
                "cert",
                "--alg",
                alg,
                "--out",
                path_str(&issuer)
            ])
            .0
        );
        assert!(
            run_certdesk(&[
                "ca",
                "--data-dir",
                path_str(&data),
                "cert",
                "--alg",
                alg,
                "--root",
                "--out",
                path_str(&root)
            ])
            .0
        );
        // The certificate points at this server.
        let (_, text, _) = openssl(&["x509", "-in", path_str(&leaf), "-noout", "-text"]);
        assert!(
            text.contains(&format!("http://127.0.0.1:{port}/ocsp")),
            "{text}"
        );
        assert!(
            text.contains(&format!("http://127.0.0.1:{port}/crl/{alg}.crl")),
            "{text}"
        );
        serials.push((alg, serial_of(&out), issuer, leaf, root));
    }

    for (alg, serial, issuer, leaf, root) in &serials {
        // P-256 responses are verified by OpenSSL; SM2 ones it cannot check (no ID option for
        // OCSP), so their signatures are checked in certdesk-pki's tests with pkeyutl.
        let verify = *alg == "p256";
        let answer = ask_ocsp(port, issuer, leaf, root, verify);
        assert!(
            answer.contains(&format!("{}: good", path_str(leaf))),
            "{alg}: {answer}"
        );
        if verify {
            assert!(answer.contains("Response verify OK"), "{answer}");
        }

        let (ok, out, err) = run_certdesk(&[
            "ca",
            "--data-dir",
            path_str(&data),
            "revoke",
            serial,
            "--reason",
            "keyCompromise",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains("revoked"), "{out}");

        // Revoked by another process: the server's answer follows within its re-check interval.
        let deadline = Instant::now() + Duration::from_secs(5);
        let answer = loop {
            let answer = ask_ocsp(port, issuer, leaf, root, verify);
            if answer.contains(": revoked") || Instant::now() > deadline {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            answer.contains(&format!("{}: revoked", path_str(leaf))),
            "{alg}: {answer}"
        );
        assert!(answer.contains("Reason: keyCompromise"), "{answer}");
        if verify {
            assert!(answer.contains("Response verify OK"), "{answer}");
        }

        // The CRL at the address in the certificate lists the serial.
        let (status, crl) = http_get_bytes(port, &format!("/crl/{alg}.crl"));
        assert_eq!(status, 200);
        let crl_file = dir.path().join(format!("{alg}.crl"));
        std::fs::write(&crl_file, crl).unwrap();
        let (ok, text, err) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            path_str(&crl_file),
            "-noout",
            "-text",
        ]);
        assert!(ok, "{err}");
        assert!(
            text.to_lowercase().contains(&serial.to_lowercase()),
            "{text}"
        );
        if verify {
            let (_, out, err) = openssl(&[
                "crl",
                "-inform",
                "DER",
                "-in",
                path_str(&crl_file),
                "-noout",
                "-CAfile",
                path_str(issuer),
            ]);
            assert!(format!("{out}{err}").contains("verify OK"), "{out}{err}");
        }
    }

    // RFC 6960 GET: the same request, base64 in the path.
    let (alg, _, issuer, leaf, _) = &serials[0];
    let request = dir.path().join("get-req.der");
    assert!(
        openssl(&[
            "ocsp",
            "-issuer",
            path_str(issuer),
            "-cert",
            path_str(leaf),
            "-no_nonce",
            "-reqout",
            path_str(&request)
        ])
        .0
    );
    let (ok, base64, _) = openssl(&["base64", "-A", "-in", path_str(&request)]);
    assert!(ok);
    let encoded = base64
        .trim()
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (status, body) = http_get_bytes(port, &format!("/ocsp/{encoded}"));
    assert_eq!(status, 200, "{alg}");
    let response = dir.path().join("get-resp.der");
    std::fs::write(&response, body).unwrap();
    let (_, out, err) = openssl(&[
        "ocsp",
        "-respin",
        path_str(&response),
        "-issuer",
        path_str(issuer),
        "-noverify",
        "-resp_text",
    ]);
    assert!(
        format!("{out}{err}").contains("Cert Status: revoked"),
        "{out}{err}"
    );

    terminate(&mut server);
}

#[test]
fn an_imported_provider_ca_is_recorded_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(ca_init(&data, &[]).0);
    let ca_key = dir.path().join("foreign-ca.key");
    let ca_pem = dir.path().join("foreign-ca.pem");
    let (ok, _, err) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        path_str(&ca_key),
        "-out",
        path_str(&ca_pem),
        "-subj",
        "/C=CN/O=CFCA/CN=CFCA Test OCA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    assert!(ok, "{err}");
    let import = |provider: &str, cert: &Path| {
        run_certdesk(&[
            "admin",
            "--data-dir",
            path_str(&data),
            "ca-provider",
            "import-ca",
            "--provider",
            provider,
            "--cert",
            path_str(cert),
        ])
    };

    let (ok, out, err) = import("CFCA", &ca_pem);
    assert!(ok, "{err}");
    assert!(
        out.contains("CFCA Test OCA") && out.contains("for CFCA"),
        "{out}"
    );
    let (ok, _, err) = import("CFCA", &ca_pem);
    assert!(!ok && err.lines().count() == 1, "imported twice: {err}");
    let (ok, _, err) = import("不存在的CA", &ca_pem);
    assert!(!ok && err.contains("no CA provider named"), "{err}");
    let leaf = dir.path().join("leaf.pem");
    assert!(issue(&data, &p256_csr(dir.path(), "leaf"), "sign", &leaf, &[]).0);
    let (ok, _, err) = import("CFCA", &leaf);
    assert!(!ok && err.contains("不是CA证书"), "{err}");

    let (ok, list, _) = run_certdesk(&[
        "admin",
        "--data-dir",
        path_str(&data),
        "ca-provider",
        "list",
    ]);
    assert!(
        ok && list.contains("汇信CA") && list.contains("400-888-4636"),
        "{list}"
    );

    let (ok, out, err) = run_certdesk(&["audit", "verify", "--data-dir", path_str(&data)]);
    assert!(ok, "{err}");
    // ca init (2 CAs), the import, and the issuance.
    assert!(out.contains("audit chain intact: 4 entries"), "{out}");
}

#[test]
fn an_archived_encryption_key_is_recovered_for_an_officer_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = ca_init(&data, &[]);
    assert!(ok, "{err}");
    let sign = dir.path().join("sign.pem");
    let enc = dir.path().join("enc.pem");
    let envelope = dir.path().join("envelope.der");
    let (ok, out, err) = issue(
        &data,
        &sm2_csr(dir.path(), "recover"),
        "dual",
        &sign,
        &[
            "--enc-out",
            path_str(&enc),
            "--envelope-out",
            path_str(&envelope),
        ],
    );
    assert!(ok, "{err}");
    let serial_on = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(2))
            .expect("serial in the output")
            .to_string()
    };
    let (sign_serial, enc_serial) = (
        serial_on("signing certificate"),
        serial_on("encryption certificate"),
    );
    let recovered = dir.path().join("recovered.pem");
    let recover = |serial: &str, passphrase: &str, officer: &str| {
        let output = common::certdesk(&[
            "ca",
            "--data-dir",
            path_str(&data),
            "recover-key",
            serial,
            "--officer",
            officer,
            "--reason",
            "司法协助 2026-118",
            "--out",
            path_str(&recovered),
        ])
        .env("CERTDESK_RECOVERY_PASSPHRASE", passphrase)
        .output()
        .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    // Refused without a proper passphrase or officer, and for a key that is not archived.
    let (ok, _, err) = recover(&enc_serial, "short", "王审核");
    assert!(!ok && err.contains("CERTDESK_RECOVERY_PASSPHRASE"), "{err}");
    let (ok, _, err) = recover(&enc_serial, "recovery-passphrase-1", " ");
    assert!(!ok && err.contains("--officer"), "{err}");
    let (ok, _, err) = recover(&sign_serial, "recovery-passphrase-1", "王审核");
    assert!(!ok && err.contains("没有托管的加密密钥"), "{err}");
    assert!(!recovered.exists(), "nothing written when refused");

    let (ok, out, err) = recover(&enc_serial, "recovery-passphrase-1", "王审核");
    assert!(ok, "{err}");
    assert!(out.contains("audit"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&recovered).unwrap().permissions().mode() & 0o077,
        0,
        "only its owner may read the recovered key"
    );
    // OpenSSL opens it with the passphrase, and it is the key of the encryption certificate.
    let (ok, key_pub, err) = openssl(&[
        "pkey",
        "-in",
        path_str(&recovered),
        "-passin",
        "pass:recovery-passphrase-1",
        "-pubout",
    ]);
    assert!(ok, "{err}");
    let (ok, cert_pub, err) = openssl(&["x509", "-in", path_str(&enc), "-noout", "-pubkey"]);
    assert!(ok, "{err}");
    assert_eq!(key_pub, cert_pub);

    let (ok, out, err) = run_certdesk(&["audit", "verify", "--data-dir", path_str(&data)]);
    assert!(ok, "{out}{err}");
    let audit = common::read_audit(&data);
    assert!(
        audit
            .iter()
            .any(|(action, object, detail)| action == "key_recovered"
                && object == &format!("certificate:{enc_serial}")
                && detail.contains("officer=王审核")),
        "{audit:?}"
    );
}

/// The text OpenSSL prints for a certificate file.
fn certificate_text(path: &Path) -> String {
    let (ok, out, err) = openssl(&["x509", "-in", path_str(path), "-noout", "-text"]);
    assert!(ok, "{err}");
    out
}

#[test]
fn the_certificate_policy_is_the_operators_once_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca = |args: &[&str]| {
        if args.first() == Some(&"init") {
            return ca_init(&data, &args[1..]);
        }
        let mut all = vec!["ca", "--data-dir", path_str(&data)];
        all.extend_from_slice(args);
        run_certdesk(&all)
    };
    const PLACEHOLDER: &str = "1.3.6.1.4.1.32473.1";

    // Until the operator names a policy, certificates carry the documentation-only OID and
    // every issuance says so.
    let (ok, out, err) = ca(&["init"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("certificate policy: {PLACEHOLDER}")),
        "{out}"
    );
    assert!(err.contains("--policy-oid"), "{err}");
    let first = dir.path().join("first.pem");
    let (ok, _, err) = issue(&data, &p256_csr(dir.path(), "first"), "sign", &first, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("--policy-oid"), "{err}");
    assert!(certificate_text(&first).contains(&format!("Policy: {PLACEHOLDER}")));

    // anyPolicy and malformed OIDs are refused, and the recorded policy stays.
    for bad in ["2.5.29.32.0", "1.2.156.abc"] {
        let (ok, _, err) = ca(&["init", "--policy-oid", bad]);
        assert!(!ok, "{bad} accepted");
        assert!(err.contains("certificate policy OID"), "{err}");
    }
    let (ok, out, err) = ca(&["list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("certificate policy: {PLACEHOLDER}")),
        "{out}"
    );

    // Set once, it is written into every certificate issued after, by `ca` as by `serve`.
    let (ok, out, err) = ca(&["init", "--policy-oid", "1.2.156.112562.1.1"]);
    assert!(ok, "{err}");
    assert!(out.contains("nothing to do"), "{out}");
    assert!(!err.contains("--policy-oid"), "{err}");
    for (profile, alg_csr) in [
        ("sign", sm2_csr(dir.path(), "sm2")),
        ("enc", p256_csr(dir.path(), "p256")),
    ] {
        let leaf = dir.path().join(format!("{profile}.pem"));
        let (ok, _, err) = issue(&data, &alg_csr, profile, &leaf, &[]);
        assert!(ok, "{err}");
        assert!(!err.contains("--policy-oid"), "{err}");
        let text = certificate_text(&leaf);
        assert!(text.contains("Policy: 1.2.156.112562.1.1"), "{text}");
        assert!(!text.contains(PLACEHOLDER), "{text}");
    }
    let (ok, out, err) = ca(&["list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("certificate policy: 1.2.156.112562.1.1"),
        "{out}"
    );
}

/// (table, public key DER) of a private key found in the database.
type KeyFound = (String, Vec<u8>);

/// Every private key PEM anywhere in the database that decrypts under the CA passphrase, as
/// (table, its public key DER); and the roots' public keys (from their certificates).
fn keys_in_database(data: &Path) -> (Vec<KeyFound>, Vec<Vec<u8>>) {
    use certdesk_pki::der::{Decode, Encode};
    use certdesk_pki::Signer;
    use sqlx::{Connection, Row, ValueRef};
    let passphrase =
        std::fs::read_to_string(data.join("secrets").join("ca-key-passphrase")).unwrap();
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&database_url(data))
            .await
            .unwrap();
        let tables: Vec<String> =
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("name"))
                .collect();
        let mut found = Vec::new();
        for table in &tables {
            let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for row in &rows {
                for (i, _) in row.columns().iter().enumerate() {
                    if row.try_get_raw(i).unwrap().is_null() {
                        continue;
                    }
                    let text = row
                        .try_get::<String, _>(i)
                        .ok()
                        .or_else(|| {
                            row.try_get::<Vec<u8>, _>(i)
                                .ok()
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                        })
                        .unwrap_or_default();
                    if text.contains("PRIVATE KEY") {
                        let key = certdesk_pki::SoftwareKey::from_encrypted_pkcs8_pem(
                            &text,
                            passphrase.trim(),
                        )
                        .unwrap_or_else(|e| panic!("a key in {table} that is not the CA's: {e}"));
                        found.push((table.clone(), key.public_key_spki().to_der().unwrap()));
                    }
                }
            }
        }
        let roots = sqlx::query("SELECT certificate_der FROM ca_keys WHERE role = 'root'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let der: Vec<u8> = r.get("certificate_der");
                let cert = certdesk_pki::x509_cert::Certificate::from_der(&der).unwrap();
                cert.tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .unwrap()
            })
            .collect();
        conn.close().await.unwrap();
        (found, roots)
    })
}

#[test]
fn init_keeps_the_root_keys_offline_and_an_old_installation_exports_them() {
    use certdesk_pki::der::Encode;
    use certdesk_pki::Signer;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Without the offline passphrase nothing is made.
    let (ok, _, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "init",
        "--root-key-dir",
        path_str(&dir.path().join("roots")),
    ]);
    assert!(!ok);
    assert!(err.contains("CERTDESK_ROOT_KEY_PASSPHRASE"), "{err}");

    let (ok, out, err) = ca_init(&data, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("root key written to"), "{out}");
    let (in_database, roots) = keys_in_database(&data);
    assert_eq!(roots.len(), 2, "SM2 and P-256 roots");
    assert_eq!(
        in_database.len(),
        2,
        "the two issuing keys: {in_database:?}"
    );
    for (table, public_key) in &in_database {
        assert!(
            !roots.contains(public_key),
            "a root private key is in table {table}"
        );
    }
    // The keys written out are the roots' and open with the offline passphrase only.
    for algorithm in ["sm2", "p256"] {
        let pem =
            std::fs::read_to_string(root_key_dir(&data).join(format!("root-{algorithm}.key.pem")))
                .unwrap();
        let key =
            certdesk_pki::SoftwareKey::from_encrypted_pkcs8_pem(&pem, ROOT_KEY_PASSPHRASE).unwrap();
        assert!(roots.contains(&key.public_key_spki().to_der().unwrap()));
    }

    // An installation made by `certdesk serve` (the demo) keeps its roots online and says so at
    // every start, until it exports them.
    let served = dir.path().join("served");
    let port = free_port();
    let mut child = spawn_serve(&served, port, Some("Served-Admin-Pass-1"));
    wait_until_healthy(port, &mut child);
    terminate(&mut child);
    let stderr = read_all(child.stderr.take());
    assert!(stderr.contains("export-root-key"), "{stderr}");
    let (online, roots) = keys_in_database(&served);
    assert!(online.iter().any(|(_, k)| roots.contains(k)));
    let export_dir = dir.path().join("exported");
    let export = |passphrase: &str| {
        let out = certdesk(&[
            "ca",
            "--data-dir",
            path_str(&served),
            "export-root-key",
            "--root-key-dir",
            path_str(&export_dir),
        ])
        .env("CERTDESK_ROOT_KEY_PASSPHRASE", passphrase)
        .output()
        .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // The online root keys as they were, to put back as a crash between writing the files and
    // deleting the keys would leave them.
    let online_roots = root_rows(&served);
    let (ok, out) = export(ROOT_KEY_PASSPHRASE);
    assert!(ok && out.contains("deleted from the database"), "{out}");
    for (id, pem) in &online_roots {
        tamper_sql(
            &served,
            &format!("UPDATE ca_keys SET private_key_pem = '{pem}' WHERE id = {id}"),
        );
    }
    // Run again, it finishes the export with the files already written (and refuses a file
    // that holds another key).
    let sm2_file = export_dir.join("root-sm2.key.pem");
    let sm2_written = std::fs::read_to_string(&sm2_file).unwrap();
    std::fs::write(
        &sm2_file,
        std::fs::read_to_string(root_key_dir(&data).join("root-sm2.key.pem")).unwrap(),
    )
    .unwrap();
    let (ok, _) = export(ROOT_KEY_PASSPHRASE);
    assert!(!ok, "a file holding another key was taken for the root key");
    std::fs::write(&sm2_file, sm2_written).unwrap();
    let (ok, out) = export(ROOT_KEY_PASSPHRASE);
    assert!(ok && out.contains("deleted from the database"), "{out}");
    let (left, roots) = keys_in_database(&served);
    assert!(left.iter().all(|(_, k)| !roots.contains(k)), "{left:?}");
    let (ok, out) = export(ROOT_KEY_PASSPHRASE);
    assert!(ok && out.contains("nothing to do"), "{out}");
    let mut child = spawn_serve(&served, port, Some("Served-Admin-Pass-1"));
    wait_until_healthy(port, &mut child);
    terminate(&mut child);
    let stderr = read_all(child.stderr.take());
    assert!(!stderr.contains("export-root-key"), "{stderr}");
}

/// A SoftHSM2 token for this test: (module, SOFTHSM2_CONF, the directory they live in).
fn softhsm_token(
    label: &str,
    pin: &str,
) -> (std::path::PathBuf, std::path::PathBuf, tempfile::TempDir) {
    let module = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
    .expect("SoftHSM2 is not installed: apt-get install -y softhsm2");
    let dir = tempfile::tempdir().unwrap();
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
    let out = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            "5678",
        ])
        .output()
        .expect("softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (module, conf, dir)
}

#[test]
fn the_p256_issuing_key_lives_on_a_token_and_signs_what_openssl_verifies() {
    const TOKEN: &str = "certdesk-ca";
    const PIN: &str = "4321";
    let (module, conf, _hsm) = softhsm_token(TOKEN, PIN);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_token = |args: &[&str], pin: Option<&str>| {
        let mut all = vec![
            "ca",
            "--data-dir",
            path_str(&data),
            "--pkcs11-module",
            path_str(&module),
            "--pkcs11-token",
            TOKEN,
        ];
        all.extend_from_slice(args);
        let mut cmd = certdesk(&all);
        cmd.env("SOFTHSM2_CONF", &conf)
            .env("CERTDESK_ROOT_KEY_PASSPHRASE", ROOT_KEY_PASSPHRASE);
        if let Some(pin) = pin {
            cmd.env("CERTDESK_PKCS11_PIN", pin);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let roots = root_key_dir(&data);
    let (ok, _, err) = with_token(&["init", "--root-key-dir", path_str(&roots)], None);
    assert!(!ok && err.contains("CERTDESK_PKCS11_PIN"), "{err}");
    let (ok, out, err) = with_token(&["init", "--root-key-dir", path_str(&roots)], Some(PIN));
    assert!(ok, "{err}");
    assert!(out.contains("on the PKCS#11 token"), "{out}");

    // Only the SM2 issuing key is in the database; P-256's is on the token.
    let (in_database, _) = keys_in_database(&data);
    assert_eq!(in_database.len(), 1, "{in_database:?}");

    // Without the token the CA does not open; with it, it signs.
    let csr = p256_csr(dir.path(), "hsm");
    let leaf = dir.path().join("hsm.pem");
    let chain = dir.path().join("hsm-chain.pem");
    let (ok, _, err) = issue(&data, &csr, "sign", &leaf, &[]);
    assert!(!ok && err.contains("--pkcs11-module"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let issue_args = [
        "issue",
        "--csr",
        path_str(&csr),
        "--profile",
        "sign",
        "--org",
        "福州测试科技有限公司",
        "--credit-code",
        CREDIT_CODE,
        "--days",
        "365",
        "--out",
        path_str(&leaf),
        "--chain-out",
        path_str(&chain),
    ];
    let (ok, _, err) = with_token(&issue_args, Some(PIN));
    assert!(ok, "{err}");
    let root = dir.path().join("hsm-root.pem");
    let (ok, _, err) = with_token(
        &["cert", "--alg", "p256", "--root", "--out", path_str(&root)],
        Some(PIN),
    );
    assert!(ok, "{err}");
    assert_chain_verifies(&root, &chain, &leaf);

    // The CRL the token's key signs verifies too.
    let crl = dir.path().join("hsm.crl");
    let (ok, _, err) = with_token(
        &["crl", "--alg", "p256", "--out", path_str(&crl)],
        Some(PIN),
    );
    assert!(ok, "{err}");
    let issuing = dir.path().join("hsm-issuing.pem");
    let (ok, _, err) = with_token(
        &["cert", "--alg", "p256", "--out", path_str(&issuing)],
        Some(PIN),
    );
    assert!(ok, "{err}");
    let (_, out, err) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path_str(&crl),
        "-noout",
        "-CAfile",
        path_str(&issuing),
    ]);
    assert!(format!("{out}{err}").contains("verify OK"), "{out}{err}");

    // `certdesk serve` signs with the token too: its OCSP answer verifies.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = certdesk(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        path_str(&data),
        "--pkcs11-module",
        path_str(&module),
        "--pkcs11-token",
        TOKEN,
    ])
    .env("SOFTHSM2_CONF", &conf)
    .env("CERTDESK_PKCS11_PIN", PIN)
    .env("CERTDESK_ADMIN_PASSWORD", "Token-Admin-Pass-1")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    wait_until_healthy(port, &mut server);
    let answer = ask_ocsp(port, &issuing, &leaf, &root, true);
    assert!(
        answer.contains("Response verify OK") && answer.contains(": good"),
        "{answer}"
    );
    assert!(terminate(&mut server).success());

    // The token itself says the key cannot leave it. (SOFTHSM2_CONF is read when the module
    // loads; no other test of this binary loads a PKCS#11 module.)
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let key = certdesk_pki::Pkcs11Key::open(
        &module,
        TOKEN,
        &certdesk_pki::TokenPin::new(PIN),
        "certdesk-issuing-p256",
    )
    .unwrap();
    assert!(!key.private_key_extractable().unwrap());

    // A new issuing CA is made on the token too, and what it signs verifies up to the root.
    let (ok, _, err) = with_token(
        &[
            "new-issuing",
            "--alg",
            "p256",
            "--root-key",
            path_str(&roots.join("root-p256.key.pem")),
        ],
        Some(PIN),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = with_token(&issue_args, Some(PIN));
    assert!(ok, "{err}");
    assert_chain_verifies(&root, &chain, &leaf);
    let (_, text, _) = openssl(&["x509", "-in", path_str(&leaf), "-noout", "-text"]);
    assert!(
        text.contains("/crl/p256-"),
        "signed by the new issuing CA: {text}"
    );
}

/// (id, private key PEM) of the root rows that hold their key online.
fn root_rows(data: &Path) -> Vec<(i64, String)> {
    use sqlx::{Connection, Row};
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&database_url(data))
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT id, private_key_pem FROM ca_keys WHERE role = 'root' AND private_key_pem <> ''",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<i64, _>("id"), r.get::<String, _>("private_key_pem")))
        .collect();
        conn.close().await.unwrap();
        rows
    })
}

/// One SQL statement on a data directory's database.
fn tamper_sql(data: &Path, sql: &str) {
    use sqlx::Connection;
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&database_url(data))
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    })
}

/// `certdesk ca cert --alg ALG [--root] --out FILE`.
fn write_ca_cert(data: &Path, alg: &str, root: bool, out: &Path) {
    let mut args = vec![
        "ca",
        "--data-dir",
        path_str(data),
        "cert",
        "--alg",
        alg,
        "--out",
        path_str(out),
    ];
    if root {
        args.push("--root");
    }
    let (ok, _, err) = run_certdesk(&args);
    assert!(ok, "{err}");
}

/// `certdesk ca new-issuing --alg ALG --root-key FILE`, the root passphrase in the environment.
fn new_issuing(data: &Path, alg: &str, root_key: &Path) -> (bool, String, String) {
    let out = certdesk(&[
        "ca",
        "--data-dir",
        path_str(data),
        "new-issuing",
        "--alg",
        alg,
        "--root-key",
        path_str(root_key),
    ])
    .env("CERTDESK_ROOT_KEY_PASSPHRASE", ROOT_KEY_PASSPHRASE)
    .stdin(std::process::Stdio::null())
    .output()
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_new_issuing_ca_needs_the_root_key_file_and_the_one_it_replaces_goes_on_publishing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = ca_init(&data, &[]);
    assert!(ok, "{err}");
    let port = free_port();
    // `serve` records its public URL, which `certdesk ca issue` writes into certificates.
    let mut server = spawn_serve(&data, port, Some("rollover-admin-1"));
    wait_until_healthy(port, &mut server);
    assert!(terminate(&mut server).success());

    let old_leaf = dir.path().join("old-leaf.pem");
    let (ok, out, err) = issue(&data, &p256_csr(dir.path(), "old"), "sign", &old_leaf, &[]);
    assert!(ok, "{err}");
    let old_serial = serial_of(&out);
    let old_issuing = dir.path().join("old-issuing.pem");
    let root = dir.path().join("root.pem");
    write_ca_cert(&data, "p256", false, &old_issuing);
    write_ca_cert(&data, "p256", true, &root);

    // Without the root's key file there is no new issuing CA: one line says why.
    let roots = root_key_dir(&data);
    let (ok, _, err) = new_issuing(&data, "p256", &roots.join("missing.key.pem"));
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot read the root key file"), "{err}");
    // Another root's key is not taken for it.
    let (ok, _, err) = new_issuing(&data, "p256", &roots.join("root-sm2.key.pem"));
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, out, err) = new_issuing(&data, "p256", &roots.join("root-p256.key.pem"));
    assert!(ok, "{err}");
    assert!(out.contains("in service"), "{out}");
    let audit = read_audit(&data);
    assert!(
        audit
            .iter()
            .any(|(action, object, _)| action == "ca_issuing_replaced" && object == "ca:p256"),
        "{audit:?}"
    );

    // New certificates come from the new issuing CA, under the same root, and name its CRL.
    let new_leaf = dir.path().join("new-leaf.pem");
    let (ok, _, err) = issue(&data, &p256_csr(dir.path(), "new"), "sign", &new_leaf, &[]);
    assert!(ok, "{err}");
    let new_issuing_cert = dir.path().join("new-issuing.pem");
    write_ca_cert(&data, "p256", false, &new_issuing_cert);
    assert_ne!(
        std::fs::read(&old_issuing).unwrap(),
        std::fs::read(&new_issuing_cert).unwrap()
    );
    for (leaf, issuing) in [(&old_leaf, &old_issuing), (&new_leaf, &new_issuing_cert)] {
        assert_chain_verifies(&root, issuing, leaf);
    }
    let (_, text, _) = openssl(&["x509", "-in", path_str(&new_leaf), "-noout", "-text"]);
    let new_crl_path = text
        .split_whitespace()
        .find_map(|word| {
            let url = word.strip_prefix("URI:")?;
            Some(url.split_once("/crl/")?.1.to_string())
        })
        .expect("a CRL distribution point");
    assert!(new_crl_path.starts_with("p256-"), "{text}");
    let new_name = new_crl_path.trim_end_matches(".crl").to_string();

    // The old certificate is revoked: the retired CA's CRL and OCSP answer say so.
    let (ok, _, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "revoke",
        &old_serial,
        "--reason",
        "keyCompromise",
    ]);
    assert!(ok, "{err}");
    let mut server = spawn_serve(&data, port, None);
    wait_until_healthy(port, &mut server);
    for (crl_name, issuing, revoked) in [
        ("p256", &old_issuing, true),
        (new_name.as_str(), &new_issuing_cert, false),
    ] {
        let (status, crl) = http_get_bytes(port, &format!("/crl/{crl_name}.crl"));
        assert_eq!(status, 200, "{crl_name}");
        let crl_file = dir.path().join(format!("{crl_name}.crl"));
        std::fs::write(&crl_file, crl).unwrap();
        let (ok, out, err) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            path_str(&crl_file),
            "-CAfile",
            path_str(issuing),
            "-noout",
            "-text",
        ]);
        assert!(ok && err.contains("verify OK"), "{crl_name}: {out}{err}");
        assert_eq!(
            out.to_ascii_lowercase()
                .contains(&old_serial.to_ascii_lowercase()),
            revoked,
            "{crl_name}: {out}"
        );
    }
    let (status, body) = http_get_bytes(port, &format!("/ca/{new_name}.cer"));
    assert_eq!(status, 200);
    let new_issuing_der = dir.path().join("new-issuing.der");
    let (ok, _, err) = openssl(&[
        "x509",
        "-in",
        path_str(&new_issuing_cert),
        "-outform",
        "DER",
        "-out",
        path_str(&new_issuing_der),
    ]);
    assert!(ok, "{err}");
    assert_eq!(body, std::fs::read(&new_issuing_der).unwrap());
    let old_answer = ask_ocsp(port, &old_issuing, &old_leaf, &root, true);
    assert!(old_answer.contains(": revoked"), "{old_answer}");
    let new_answer = ask_ocsp(port, &new_issuing_cert, &new_leaf, &root, true);
    assert!(new_answer.contains(": good"), "{new_answer}");
    assert!(terminate(&mut server).success());
}

/// `ca init` killed (SIGKILL) after it kept a root key and before the hierarchy was stored:
/// the key is not lost, and the next `init` builds the hierarchy around that very key.
#[test]
fn init_killed_after_keeping_a_root_key_resumes_with_that_key() {
    use certdesk_pki::der::Encode;
    use certdesk_pki::Signer;
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let roots_dir = root_key_dir(&data);
    let mut child = certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data),
        "init",
        "--root-key-dir",
        path_str(&roots_dir),
    ])
    .env("CERTDESK_ROOT_KEY_PASSPHRASE", ROOT_KEY_PASSPHRASE)
    .env("FAILPOINTS", "ca-init-after-root-key-kept=sleep(120000)")
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let reached = line.contains("failpoint ca-init-after-root-key-kept reached");
        seen.push(line);
        if reached {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("reached")),
        "the failpoint was not reached: {seen:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // One root key kept, no hierarchy stored.
    let kept: Vec<_> = std::fs::read_dir(&roots_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (_, stored_roots) = keys_in_database(&data);
    assert!(stored_roots.is_empty(), "no hierarchy yet");
    let kept_pem = std::fs::read_to_string(&kept[0]).unwrap();
    let kept_key =
        certdesk_pki::SoftwareKey::from_encrypted_pkcs8_pem(&kept_pem, ROOT_KEY_PASSPHRASE)
            .unwrap();

    let (ok, out, err) = ca_init(&data, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("kept by an earlier init"), "{out}");
    let (_, stored_roots) = keys_in_database(&data);
    assert_eq!(stored_roots.len(), 2);
    assert!(
        stored_roots.contains(&kept_key.public_key_spki().to_der().unwrap()),
        "the stored root is the kept key's"
    );
    // The kept file is unchanged, and it certifies a new issuing CA.
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), kept_pem);
    let alg = if kept[0].to_string_lossy().contains("sm2") {
        "sm2"
    } else {
        "p256"
    };
    let (ok, _, err) = new_issuing(&data, alg, &kept[0]);
    assert!(ok, "{err}");
}
