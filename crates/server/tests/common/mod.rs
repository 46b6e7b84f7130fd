//! The set-up every server test shares: a SQLite store with both CA hierarchies, and the
//! application on it.
#![allow(dead_code)]

use axum::Router;
use certdesk_ca::{ensure_hierarchies, CertificateAuthority};
use certdesk_server::{router, AppState, ServerConfig};
use certdesk_store::testing::sqlite_store;
use certdesk_store::Store;
use std::sync::Arc;

pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The sandbox payment gateway's secret in tests.
pub const SANDBOX_SECRET: &[u8] = b"sandbox-test-secret";

pub struct TestServer {
    pub store: Store,
    pub ca: Arc<CertificateAuthority>,
    pub state: AppState,
    pub router: Router,
    /// The SQLite file lives as long as this.
    pub dir: tempfile::TempDir,
}

pub async fn test_server() -> TestServer {
    let (store, dir) = sqlite_store().await;
    let passphrase = zeroize::Zeroizing::new("server-test-passphrase".to_string());
    ensure_hierarchies(&store, &passphrase, "certdesk test")
        .await
        .unwrap();
    let ca = Arc::new(
        CertificateAuthority::open(store.clone(), PUBLIC_URL, &passphrase)
            .await
            .unwrap(),
    );
    let config = ServerConfig::new(PUBLIC_URL.into(), 3600)
        .with_sandbox_payment_secret(SANDBOX_SECRET.to_vec());
    let state = AppState::new(store.clone(), ca.clone(), config);
    TestServer {
        router: router(state.clone()),
        store,
        ca,
        state,
        dir,
    }
}

/// Gives an account an API token with this exact text (stored hashed, as the server does).
pub async fn give_api_token(store: &Store, account_id: i64, token: &str) {
    store
        .create_api_token(
            account_id,
            "test",
            &certdesk_server::auth::token_hash(token),
            0,
        )
        .await
        .unwrap();
}
