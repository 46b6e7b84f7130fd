//! The CA as its own process (issue 11): `certdesk ca serve` holds the CA keys, the passphrase
//! and the key-management key; `certdesk serve --ca unix:PATH` on the same database holds none
//! of them, and still issues, answers OCSP and serves CRLs through it.

mod common;

use certdesk_pki::Algorithm;
use common::*;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The JSON body of an HTTP reply.
fn body_json(reply: &str) -> serde_json::Value {
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"))
}

fn wait_for_socket(socket: &Path, ca: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        if let Ok(Some(status)) = ca.try_wait() {
            panic!(
                "certdesk ca serve exited early with {status}: {}",
                read_all(ca.stderr.take())
            );
        }
        assert!(Instant::now() < deadline, "the CA socket did not appear");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The key holder's CSR for a fresh key of `algorithm`, sent for `order_no`: (status, reply).
fn send_csr(port: u16, order_no: &str, algorithm: Algorithm) -> (u16, String) {
    post_reply(
        port,
        &format!("/api/v1/orders/{order_no}/csr"),
        SUPPLIER_TOKEN,
        &csr_json(algorithm),
    )
    .expect("an answer")
}

/// A DER certificate from the web process, as a PEM file for OpenSSL.
fn fetch_certificate(port: u16, path: &str, out: &Path) {
    let (status, der) = http_get_bytes(port, path);
    assert_eq!(status, 200, "{path}");
    let der_file = out.with_extension("der");
    std::fs::write(&der_file, der).unwrap();
    let (ok, _, err) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        path_str(&der_file),
        "-out",
        path_str(out),
    ]);
    assert!(ok, "{err}");
}

/// `certdesk ca serve` for the CA zone's data directory, on `socket_address`.
fn ca_service(ca_zone: &Path, socket_address: &str, public_url: &str) -> Child {
    certdesk(&[
        "ca",
        "--data-dir",
        path_str(ca_zone),
        "serve",
        "--listen",
        socket_address,
        "--public-url",
        public_url,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// `certdesk serve --ca` on the CA zone's database, with no CA secret (`certdesk()` clears
/// every CERTDESK_ variable), `extra` arguments and `FAILPOINTS` if given.
fn web_process(
    port: u16,
    web_zone: &Path,
    ca_zone: &Path,
    socket_address: &str,
    extra: &[&str],
    failpoints: Option<&str>,
) -> Child {
    let listen = format!("127.0.0.1:{port}");
    let database = database_url(ca_zone);
    let mut args = vec![
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        path_str(web_zone),
        "--database-url",
        &database,
        "--ca",
        socket_address,
    ];
    args.extend_from_slice(extra);
    let mut cmd = certdesk(&args);
    cmd.env_remove("FAILPOINTS");
    if let Some(spec) = failpoints {
        cmd.env("FAILPOINTS", spec);
    }
    cmd.env("CERTDESK_ADMIN_PASSWORD", "Two-Process-Admin-1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_web_process_without_ca_secrets_issues_through_the_ca_service() {
    let dir = tempfile::tempdir().unwrap();
    let ca_zone = dir.path().join("ca-zone");
    let web_zone = dir.path().join("web-zone");
    let (ok, _, err) = ca_init(&ca_zone, &[]);
    assert!(ok, "{err}");
    let setup = set_up(&ca_zone);
    let p256_order = new_order(&ca_zone, &setup, "issuing", setup.p256_product, 1);
    let dual_order = new_order(&ca_zone, &setup, "issuing", setup.csr_product, 2);
    let held_order = new_order(
        &ca_zone,
        &setup,
        "awaiting_second_review",
        setup.held_product,
        3,
    );

    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let socket = dir.path().join("ca.sock");
    let socket_address = format!("unix:{}", socket.display());
    let mut ca = ca_service(&ca_zone, &socket_address, &public_url);
    wait_for_socket(&socket, &mut ca);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "the socket is for its owner and group");
    }

    // `certdesk()` clears every CERTDESK_ variable: no passphrase, no key-management key.
    let mut web = web_process(port, &web_zone, &ca_zone, &socket_address, &[], None);
    wait_until_healthy(port, &mut web);

    // P-256, from the key holder's CSR: the chain verifies up to the root the web serves.
    let (status, reply) = send_csr(port, &p256_order, Algorithm::EcdsaP256Sha256);
    assert_eq!(status, 201, "{reply}");
    let issued = body_json(&reply);
    assert_eq!(issued["order"]["status"], "issued", "{reply}");
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&leaf, issued["signing_certificate"].as_str().unwrap()).unwrap();
    let issuing = dir.path().join("p256.pem");
    let root = dir.path().join("p256-root.pem");
    fetch_certificate(port, "/ca/p256.cer", &issuing);
    fetch_certificate(port, "/ca/p256-root.cer", &root);
    assert_chain_verifies(&root, &issuing, &leaf);

    // OCSP and the CRL are the CA service's, served by the web process.
    let (_, out, err) = openssl(&[
        "ocsp",
        "-issuer",
        path_str(&issuing),
        "-cert",
        path_str(&leaf),
        "-url",
        &format!("{public_url}/ocsp"),
        "-CAfile",
        path_str(&root),
        "-timeout",
        "10",
    ]);
    assert!(
        out.contains(": good") && err.contains("Response verify OK"),
        "{out}{err}"
    );
    let (status, crl) = http_get_bytes(port, "/crl/p256.crl");
    assert_eq!(status, 200);
    let crl_file = dir.path().join("p256.crl");
    std::fs::write(&crl_file, crl).unwrap();
    let (ok, out, err) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path_str(&crl_file),
        "-CAfile",
        path_str(&issuing),
        "-noout",
    ]);
    assert!(
        ok && format!("{out}{err}").contains("verify OK"),
        "{out}{err}"
    );

    // A P-256 key for an SM2 product is refused before anything is signed.
    let (status, reply) = send_csr(port, &dual_order, Algorithm::EcdsaP256Sha256);
    assert_eq!(status, 422, "{reply}");

    // SM2 dual from a CSR: the encryption certificate and its sealed key cross too.
    let (status, reply) = send_csr(port, &dual_order, Algorithm::Sm2Sm3);
    assert_eq!(status, 201, "{reply}");
    let issued = body_json(&reply);
    assert!(issued["encryption_certificate"].is_string(), "{reply}");
    assert!(issued["envelope_gmt0009"].is_string(), "{reply}");
    assert!(issued["envelope_skf"].is_string(), "{reply}");

    // Issued once: a second CSR is refused and changes nothing.
    let (status, reply) = send_csr(port, &dual_order, Algorithm::Sm2Sm3);
    assert_eq!(status, 409, "{reply}");

    // Held keys (移动版): the CA officer's 复审 has the CA service make and keep the keys.
    let (status, reply) = post_reply(
        port,
        &format!("/api/v1/orders/{held_order}/review"),
        OFFICER_TOKEN,
        r#"{"decision":"approve"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(body_json(&reply)["status"], "issued", "{reply}");

    assert!(
        terminate(&mut web).success(),
        "{}",
        read_all(web.stderr.take())
    );
    assert!(
        terminate(&mut ca).success(),
        "{}",
        read_all(ca.stderr.take())
    );
    assert!(!socket.exists(), "the CA service removes its socket");

    // The web zone never had a CA secret: only the sandbox payment secret is there.
    let secrets: Vec<String> = std::fs::read_dir(web_zone.join("secrets"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for secret in ["ca-key-passphrase", "kmk.hex"] {
        assert!(
            !secrets.iter().any(|s| s == secret),
            "{secret} in the web zone: {secrets:?}"
        );
    }

    // The CA service sealed the audit chain (at start and at shutdown), and it checks out.
    let (ok, out, err) = run_certdesk(&["audit", "verify", "--data-dir", path_str(&ca_zone)]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("sealed through entry"), "{out}");
}

/// Killed between the CA service's signature and the record of it: the web process dies with
/// the only copy of what was signed; a restarted one (recovering after 10 s) gives the order's
/// claim back and the key holder is issued a certificate, once.
#[test]
fn a_web_process_killed_after_the_ca_service_signed_recovers_the_order() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let ca_zone = dir.path().join("ca-zone");
    let web_zone = dir.path().join("web-zone");
    let (ok, _, err) = ca_init(&ca_zone, &[]);
    assert!(ok, "{err}");
    let setup = set_up(&ca_zone);
    let order = new_order(&ca_zone, &setup, "issuing", setup.csr_product, 1);
    let port = free_port();
    let socket = dir.path().join("ca.sock");
    let socket_address = format!("unix:{}", socket.display());
    let mut ca = ca_service(
        &ca_zone,
        &socket_address,
        &format!("http://127.0.0.1:{port}"),
    );
    wait_for_socket(&socket, &mut ca);

    let held_off = ["--issuance-recovery-secs", "86400"];
    let mut web = web_process(
        port,
        &web_zone,
        &ca_zone,
        &socket_address,
        &held_off,
        Some("issuance-after-sign=sleep(120000)"),
    );
    wait_until_healthy(port, &mut web);
    let stderr = std::io::BufReader::new(web.stderr.take().unwrap());
    let request = {
        let order = order.clone();
        std::thread::spawn(move || {
            post_reply(
                port,
                &format!("/api/v1/orders/{order}/csr"),
                SUPPLIER_TOKEN,
                &csr_json(Algorithm::Sm2Sm3),
            )
        })
    };
    let reached = stderr
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("failpoint issuance-after-sign reached"));
    assert!(reached, "the failpoint was reached");
    web.kill().unwrap();
    web.wait().unwrap();
    assert!(
        request.join().unwrap().is_none(),
        "the request died with the process"
    );

    let recovering = ["--issuance-recovery-secs", "10"];
    let mut web = web_process(
        port,
        &web_zone,
        &ca_zone,
        &socket_address,
        &recovering,
        None,
    );
    wait_until_healthy(port, &mut web);
    let deadline = Instant::now() + Duration::from_secs(90);
    let issued = loop {
        let (status, reply) = send_csr(port, &order, Algorithm::Sm2Sm3);
        if status == 201 {
            break body_json(&reply);
        }
        // Still claimed by the dead request until recovery gives it back.
        assert_eq!(status, 409, "{reply}");
        assert!(
            Instant::now() < deadline,
            "recovery did not give the order back"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(issued["order"]["status"], "issued");
    // Only the pair that was recorded exists: what the dead process held never left it.
    let certificates = runtime().block_on(async {
        let store = certdesk_store::Store::open(&database_url(&ca_zone))
            .await
            .unwrap();
        let count = store.count_certificates().await.unwrap();
        store.close().await;
        count
    });
    assert_eq!(certificates, 2);
    assert!(terminate(&mut web).success());
    assert!(terminate(&mut ca).success());
}
