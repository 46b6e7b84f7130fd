//! Helpers shared by the binary's end-to-end tests: run `certdesk`, talk HTTP over plain TCP,
//! and call OpenSSL as the independent peer.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_certdesk");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn certdesk(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    // The tests decide; the developer's environment does not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("CERTDESK_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// GET over plain TCP: answers the status code, or `None` while nothing listens.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let status = reply.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, reply))
}

pub fn wait_until_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some((200, _)) = http_get(port, "/healthz") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("certdesk serve exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("certdesk serve did not become healthy within 30 s");
}

pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "certdesk did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn spawn_serve(data_dir: &Path, port: u16, admin_password: Option<&str>) -> Child {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = certdesk(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    if let Some(password) = admin_password {
        cmd.env("CERTDESK_ADMIN_PASSWORD", password);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn read_all(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_string(&mut text).unwrap();
    }
    text
}

/// GET returning the raw body bytes (for DER downloads).
pub fn http_get_bytes(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end")
        + 4;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked body: {head}"
    );
    (status, reply[split..].to_vec())
}

/// Runs `certdesk` to completion; answers (success, stdout, stderr).
pub fn run_certdesk(args: &[&str]) -> (bool, String, String) {
    let out = certdesk(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `openssl`; answers (success, stdout, stderr). Both streams matter: OpenSSL prints
/// verdicts on either, and its exit code alone can mislead.
pub fn openssl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (apt-get install openssl)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The embedded database of a data directory.
pub fn database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("certdesk.db").display()
    )
}

/// The audit log of a data directory: (action, object, detail) of every entry, oldest first.
pub fn read_audit(data_dir: &Path) -> Vec<(String, String, String)> {
    runtime().block_on(async {
        let store = certdesk_store::Store::open(&database_url(data_dir))
            .await
            .unwrap();
        let entries = store.audit_chain().await.unwrap();
        store.close().await;
        entries
            .into_iter()
            .map(|e| (e.action, e.object, e.detail))
            .collect()
    })
}

/// The passphrase the tests' offline root keys are encrypted under.
pub const ROOT_KEY_PASSPHRASE: &str = "offline-root-passphrase-2026";

/// Where `ca_init` writes the roots' keys: beside the data directory, as an operator would
/// before taking them away.
pub fn root_key_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.with_file_name("root-keys")
}

/// `certdesk ca --data-dir DIR init --root-key-dir … [extra]`, the passphrase in the environment.
pub fn ca_init(data_dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let roots = root_key_dir(data_dir);
    let mut args = vec![
        "ca",
        "--data-dir",
        path_str(data_dir),
        "init",
        "--root-key-dir",
        path_str(&roots),
    ];
    args.extend_from_slice(extra);
    let out = certdesk(&args)
        .env("CERTDESK_ROOT_KEY_PASSPHRASE", ROOT_KEY_PASSPHRASE)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
