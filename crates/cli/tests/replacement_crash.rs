//! 补办 survives a crash between issuing the new key's certificates and revoking the old ones:
//! `certdesk serve` is killed with SIGKILL right after the issuance committed; the old key is
//! still valid then (it was lost: someone may hold it), and the next `certdesk serve` revokes
//! it (keyCompromise) on its own, once.

mod common;

use certdesk_pki::Algorithm;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn body_of(reply: &str) -> serde_json::Value {
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

fn call(port: u16, path: &str, token: &str, json: &str) -> serde_json::Value {
    let (status, reply) = post_reply(port, path, token, json).expect("an answer");
    assert!((200..300).contains(&status), "{path}: {reply}");
    body_of(&reply)
}

#[test]
fn a_replacement_killed_after_issuance_has_the_lost_key_revoked_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut child = spawn_serve(&data_dir, port, Some("Crash-Test-Admin-1"));
    wait_until_healthy(port, &mut child);
    assert!(terminate(&mut child).success());
    let setup = set_up(&data_dir);

    // The organisation's key (a 新办 issued for a key holder's request), then its 补办 as
    // lost, free, approved by the CA: 制证中.
    let first = new_order(&data_dir, &setup, "issuing", setup.csr_product, 0);
    let port = free_port();
    let mut child = spawn_serve(&data_dir, port, None);
    wait_until_healthy(port, &mut child);
    let issued = call(
        port,
        &format!("/api/v1/orders/{first}/csr"),
        SUPPLIER_TOKEN,
        &csr_json(Algorithm::Sm2Sm3),
    );
    let pem = issued["signing_certificate"].as_str().unwrap();
    let certificate = certdesk_pki::certificate_from_der_or_pem(pem.as_bytes()).unwrap();
    let old_serial = hex::encode(certificate.tbs_certificate().serial_number().as_bytes());
    let draft = call(
        port,
        "/api/v1/replacements",
        SUPPLIER_TOKEN,
        &serde_json::json!({"key_serial": old_serial, "reason": "lost", "delivery": {"method": "pickup"}})
            .to_string(),
    );
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let submitted = call(
        port,
        &format!("/api/v1/replacements/{order_no}/submit"),
        SUPPLIER_TOKEN,
        "{}",
    );
    assert_eq!(
        submitted["order"]["status"], "awaiting_second_review",
        "free"
    );
    let approved = call(
        port,
        &format!("/api/v1/orders/{order_no}/review"),
        OFFICER_TOKEN,
        r#"{"decision":"approve"}"#,
    );
    assert_eq!(approved["status"], "issuing");
    assert!(terminate(&mut child).success());

    // The new key's request; the server dies right after the issuance committed.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = certdesk(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        path_str(&data_dir),
    ])
    .env("FAILPOINTS", "issuance-after-commit=sleep(120000)")
    .env("CERTDESK_ADMIN_PASSWORD", "Crash-Test-Admin-1")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_until_healthy(port, &mut child);
    let stderr = child.stderr.take().unwrap();
    let path = format!("/api/v1/orders/{order_no}/csr");
    let request = std::thread::spawn(move || {
        post_reply(port, &path, SUPPLIER_TOKEN, &csr_json(Algorithm::Sm2Sm3))
    });
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the failpoint was not reached");
        match lines.next() {
            Some(Ok(line)) if line.contains("failpoint issuance-after-commit reached") => break,
            Some(_) => {}
            None => panic!("certdesk serve closed its standard error"),
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(request.join().unwrap(), None, "answered before the kill");

    let store = open_store(&data_dir);
    let (status, revoked_at) = runtime().block_on(async {
        let order = store.order_by_no(&order_no).await.unwrap().unwrap();
        let old = store
            .certificate_by_serial(&old_serial)
            .await
            .unwrap()
            .unwrap();
        (order.status.as_str(), old.revoked_at)
    });
    assert_eq!(status, "issued", "the issuance committed");
    assert_eq!(
        revoked_at, None,
        "the crash came before the old key was revoked"
    );
    runtime().block_on(store.close());

    // The next start revokes it, as compromised, and marks the 补办 done.
    let port = free_port();
    let mut child = spawn_serve(&data_dir, port, None);
    wait_until_healthy(port, &mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let store = open_store(&data_dir);
    loop {
        let (reason, replaced_at) = runtime().block_on(async {
            let old = store
                .certificate_by_serial(&old_serial)
                .await
                .unwrap()
                .unwrap();
            let order = store.order_by_no(&order_no).await.unwrap().unwrap();
            let request = store.replacement_request(order.id).await.unwrap().unwrap();
            (old.revocation_reason, request.replaced_at)
        });
        if reason.is_some() && replaced_at.is_some() {
            assert_eq!(reason.as_deref(), Some("keyCompromise"));
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the lost key was not revoked after the restart ({reason:?}, {replaced_at:?}); the server said:\n{}",
                read_all(child.stderr.take())
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    runtime().block_on(store.close());
    assert!(terminate(&mut child).success());
}
