//! `certdesk token` over a software UKey, with OpenSSL as the peer: a key pair made on the key,
//! its certificate issued by `certdesk ca issue --profile dual` and installed with the CA's
//! envelope; OpenSSL verifies a signature the key made with the installed certificate, and a
//! message OpenSSL encrypts to the encryption certificate is decrypted by the key. The PIN try
//! counter survives `kill -9` between a wrong PIN and the answer.

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PIN: &str = "246810";
const SO_PIN: &str = "so-pin-13579";

fn token(key: &Path, args: &[&str], pin: &str) -> (bool, String, String) {
    let mut all = vec!["token", "--key", path_str(key)];
    all.extend_from_slice(args);
    let out = certdesk(&all)
        .env("CERTDESK_TOKEN_PIN", pin)
        .env("CERTDESK_TOKEN_SO_PIN", SO_PIN)
        .env("CERTDESK_TOKEN_NEW_PIN", "135790")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tries_left(key: &Path) -> u64 {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(key).unwrap()).unwrap();
    json["user"]["tries_left"].as_u64().unwrap()
}

#[test]
fn openssl_verifies_what_the_key_signs_and_the_key_decrypts_what_openssl_seals() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (ok, _, err) = ca_init(&data_dir, &[]);
    assert!(ok, "{err}");
    let key = dir.path().join("ukey.json");
    let file = |name: &str| dir.path().join(name);
    let (ok, out, err) = token(&key, &["init", "--label", "测试CA锁"], PIN);
    assert!(ok, "{err}");
    assert!(out.contains("已创建空白CA锁 SW"), "{out}");
    let (ok, _, err) = token(&key, &["gen-csr", "--out", path_str(&file("req.csr"))], PIN);
    assert!(ok, "{err}");
    let (ok, out, err) = run_certdesk(&[
        "ca",
        "--data-dir",
        path_str(&data_dir),
        "issue",
        "--csr",
        path_str(&file("req.csr")),
        "--profile",
        "dual",
        "--org",
        "福州测试科技有限公司",
        "--credit-code",
        "91350100M000100Y43",
        "--days",
        "365",
        "--out",
        path_str(&file("sign.pem")),
        "--enc-out",
        path_str(&file("enc.pem")),
        "--envelope-out",
        path_str(&file("envelope.der")),
    ]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = token(
        &key,
        &[
            "install",
            "--signing-cert",
            path_str(&file("sign.pem")),
            "--envelope",
            path_str(&file("envelope.skf")),
            "--encryption-cert",
            path_str(&file("enc.pem")),
        ],
        PIN,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = token(
        &key,
        &["verify", "--cert", path_str(&file("sign.pem"))],
        PIN,
    );
    assert!(ok && out.contains("default"), "{out}{err}");
    let (ok, out, _) = token(&key, &["info"], PIN);
    assert!(
        ok && out.contains("CA锁ID\tSW") && out.contains("SM2"),
        "{out}"
    );

    // OpenSSL verifies the key's signature with the installed certificate (SM2, SM3, the
    // default ID).
    std::fs::write(file("challenge.txt"), "certdesk login challenge 2026-12-08").unwrap();
    let (ok, _, err) = token(
        &key,
        &[
            "sign",
            "--in",
            path_str(&file("challenge.txt")),
            "--out",
            path_str(&file("challenge.sig")),
        ],
        PIN,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = openssl(&[
        "x509",
        "-in",
        path_str(&file("sign.pem")),
        "-pubkey",
        "-noout",
        "-out",
        path_str(&file("sign.pub")),
    ]);
    assert!(ok, "{err}");
    let verify = |message: &str| {
        openssl(&[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            path_str(&file("sign.pub")),
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-in",
            message,
            "-sigfile",
            path_str(&file("challenge.sig")),
        ])
    };
    let (ok, out, err) = verify(path_str(&file("challenge.txt")));
    assert!(ok, "{out}{err}");
    // And refuses it for another message, so the check is not vacuous.
    std::fs::write(file("other.txt"), "another challenge").unwrap();
    assert!(!verify(path_str(&file("other.txt"))).0);

    // OpenSSL seals to the encryption certificate; the key opens it.
    std::fs::write(file("secret.txt"), "投标文件会话密钥").unwrap();
    let (ok, _, err) = openssl(&[
        "x509",
        "-in",
        path_str(&file("enc.pem")),
        "-pubkey",
        "-noout",
        "-out",
        path_str(&file("enc.pub")),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        path_str(&file("enc.pub")),
        "-in",
        path_str(&file("secret.txt")),
        "-out",
        path_str(&file("secret.sm2")),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = token(
        &key,
        &[
            "decrypt",
            "--in",
            path_str(&file("secret.sm2")),
            "--out",
            path_str(&file("secret.out")),
        ],
        PIN,
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(file("secret.out")).unwrap(),
        "投标文件会话密钥"
    );
    // A wrong PIN is told in Chinese with the tries left; the SO PIN unlocks.
    let (ok, _, err) = token(&key, &["verify-pin"], "000000");
    assert!(!ok && err.contains("PIN码错误，还可以尝试9次"), "{err}");
    let (ok, _, err) = token(&key, &["unlock"], PIN);
    assert!(ok, "{err}");
    assert!(token(&key, &["verify-pin"], "135790").0);
}

#[test]
fn a_wrong_pin_killed_before_its_answer_is_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ukey.json");
    assert!(token(&key, &["init"], PIN).0);
    for round in 1..=3u64 {
        let mut child = certdesk(&["token", "--key", path_str(&key), "verify-pin"])
            .env("CERTDESK_TOKEN_PIN", "000000")
            .env("CERTDESK_TOKEN_PAUSE_AFTER_COUNT", "60000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        while !line.contains("pin try counted") {
            assert!(Instant::now() < deadline, "the try was not counted");
            line.clear();
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        }
        child.kill().unwrap(); // SIGKILL, before the PIN was even checked
        child.wait().unwrap();
        assert_eq!(tries_left(&key), 10 - round, "the killed try counts");
    }
    // The right PIN still opens it, and resets the count.
    assert!(token(&key, &["verify-pin"], PIN).0);
    assert_eq!(tries_left(&key), 10);
}

/// `token list` finds every software UKey in a folder without a PIN, with its serial, tries
/// left and certificates; `--key` is asked for by the other commands.
#[test]
fn list_shows_every_key_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.json");
    let second = dir.path().join("b.json");
    for key in [&first, &second] {
        let (ok, _, err) = token(key, &["init"], PIN);
        assert!(ok, "{err}");
    }
    std::fs::write(dir.path().join("notes.json"), "{}").unwrap();
    let (ok, _, err) = token(
        &first,
        &["gen-csr", "--out", path_str(&dir.path().join("req.csr"))],
        PIN,
    );
    assert!(ok, "{err}");
    let out = certdesk(&["token", "list", "--keys-dir", path_str(dir.path())])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.matches("软件CA锁").count(), 2, "{listed}");
    assert_eq!(listed.matches("PIN剩余次数\t10").count(), 2, "{listed}");
    assert!(listed.contains("容器 default"), "{listed}");
    let out = certdesk(&["token", "info"])
        .env_remove("CERTDESK_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}
