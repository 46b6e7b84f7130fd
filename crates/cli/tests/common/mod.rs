//! Helpers shared by the binary's end-to-end tests: run `certdesk`, talk HTTP over plain TCP,
//! and call OpenSSL as the independent peer.
#![allow(dead_code)]

use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec};
use certdesk_domain::{BusinessType, Role};
use certdesk_pki::{csr_to_pem, make_csr, Algorithm, SoftwareKey};
use certdesk_store::{NewAccount, NewApplication, NewOrder, Store};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
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

/// OpenSSL verifies `leaf` up to `root` through the issuing CA(s) in `chain` (PEM files).
pub fn assert_chain_verifies(root: &Path, chain: &Path, leaf: &Path) {
    let (ok, out, err) = openssl(&[
        "verify",
        "-CAfile",
        path_str(root),
        "-untrusted",
        path_str(chain),
        path_str(leaf),
    ]);
    assert!(ok && out.contains(": OK"), "{out}{err}");
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

/// The key holder's API token in [`set_up`]'s organisation.
pub const SUPPLIER_TOKEN: &str = "cdk_test_supplier";
/// The CA officer's API token of [`set_up`].
pub const OFFICER_TOKEN: &str = "cdk_test_officer";

/// An organisation whose admin (the key holder) has [`SUPPLIER_TOKEN`], a CA officer with
/// [`OFFICER_TOKEN`], and three free products.
pub struct Setup {
    /// SM2 dual certificate on a UKey: the key holder sends a CSR.
    pub csr_product: i64,
    /// SM2 dual mobile certificate: the CA holds the keys.
    pub held_product: i64,
    /// ECDSA P-256 single certificate on a UKey.
    pub p256_product: i64,
    pub provider: i64,
    pub org_id: i64,
    pub admin_id: i64,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn open_store(data_dir: &Path) -> Store {
    runtime().block_on(async { Store::open(&database_url(data_dir)).await.unwrap() })
}

/// The organisation, its admin (the key holder), a CA officer and two products.
pub fn set_up(data_dir: &Path) -> Setup {
    let store = open_store(data_dir);
    let setup = runtime().block_on(async {
        let account = |username, role| NewAccount {
            username,
            display_name: username,
            role,
            org_id: None,
            password_hash: "x",
            created_at: 0,
        };
        let (org, admin) = store
            .register_organisation(
                "北京测试科技有限公司",
                "91350100M000100Y43",
                &account("test.admin", Role::OrgAdmin),
                "test",
            )
            .await
            .unwrap();
        let officer = store
            .create_account(
                &account("test.officer", Role::CaOfficer),
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap();
        for (account_id, token) in [(admin.id, SUPPLIER_TOKEN), (officer.id, OFFICER_TOKEN)] {
            store
                .create_api_token(
                    account_id,
                    "test token",
                    &certdesk_server::auth::token_hash(token),
                    0,
                    i64::MAX,
                    &certdesk_store::testing::test_audit_note(),
                )
                .await
                .unwrap();
        }
        let provider = store.ca_providers().await.unwrap()[0].id;
        let product = |name: &str, medium, algorithm| ProductSpec {
            name: name.into(),
            medium,
            algorithm,
            dual: algorithm == KeyAlgorithm::Sm2,
            min_years: 1,
            max_years: 3,
            price_per_year_fen: 0,
            sub_price_per_year_fen: 0,
            first_free: false,
            active: true,
        };
        let csr_product = store
            .create_product(
                provider,
                &product("SM2 双证书 UKey（测试）", Medium::UKey, KeyAlgorithm::Sm2),
                0,
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap()
            .id;
        let held_product = store
            .create_product(
                provider,
                &product("SM2 移动版（测试）", Medium::Mobile, KeyAlgorithm::Sm2),
                0,
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap()
            .id;
        let p256_product = store
            .create_product(
                provider,
                &product("ECDSA P-256 UKey（测试）", Medium::UKey, KeyAlgorithm::P256),
                0,
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap()
            .id;
        Setup {
            csr_product,
            p256_product,
            held_product,
            provider,
            org_id: org.id,
            admin_id: admin.id,
        }
    });
    runtime().block_on(store.close());
    setup
}

/// A free 新办 order for `product_id`, put straight into `status` (e.g. `issuing`: 制证中,
/// `awaiting_second_review`: 待复审), made now; answers its number.
pub fn new_order(
    data_dir: &Path,
    setup: &Setup,
    status: &str,
    product_id: i64,
    n: usize,
) -> String {
    let store = open_store(data_dir);
    let order_no = format!("TEST{n:04}");
    let form =
        serde_json::to_string(&certdesk_domain::application::ApplicationForm::default()).unwrap();
    runtime().block_on(async {
        store
            .create_application_order_in_status(
                status,
                &NewOrder {
                    order_no: &order_no,
                    org_id: setup.org_id,
                    kind: BusinessType::NewCertificate,
                    amount_fen: 0,
                    created_by: setup.admin_id,
                    on_behalf: false,
                    created_at: now(),
                },
                &NewApplication {
                    provider_id: setup.provider,
                    product_id,
                    years: 1,
                    voucher_code: None,
                    delivery_method: "mail",
                    form_json: &form,
                },
            )
            .await
            .unwrap();
        store.close().await;
    });
    order_no
}

/// POSTs JSON with a bearer token; answers the status, or `None` when the connection died.
pub fn post(port: u16, path: &str, token: &str, json: &str) -> Option<u16> {
    post_reply(port, path, token, json).map(|(status, _)| status)
}

/// [`post`], with the whole reply.
pub fn post_reply(port: u16, path: &str, token: &str, json: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some((reply.split_whitespace().nth(1)?.parse().ok()?, reply))
}

/// `{"csr": PEM}` for a fresh key of `algorithm`.
pub fn csr_json(algorithm: Algorithm) -> String {
    let key = SoftwareKey::generate(algorithm).unwrap();
    let name = certdesk_pki::x509_cert::name::Name::from_str("CN=ukey").unwrap();
    let pem = csr_to_pem(&make_csr(&key, name).unwrap()).unwrap();
    serde_json::json!({ "csr": pem }).to_string()
}
