//! The CA service across a real Unix socket: the same checks as in-process, and what the
//! boundary adds (keys never cross it, the service gone is told as such).

use super::{serve_unix, RemoteCa};
use crate::tests::answers_through_the_boundary;
use crate::{CaError, CaService, CertificateAuthority};
use certdesk_pki::Algorithm;
use std::sync::Arc;

type Served = (
    RemoteCa,
    certdesk_store::Store,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), super::ServeError>>,
    tempfile::TempDir,
);

async fn served_ca() -> Served {
    served_ca_with(None).await
}

/// The CA served on a socket; with `kmk`, it archives and keeps SM2 encryption keys.
async fn served_ca_with(kmk: Option<certdesk_pki::KeyManagementKey>) -> Served {
    let (local, dir) = crate::tests::ca().await;
    let store = local.store().clone();
    let opened = CertificateAuthority::open(
        Arc::new(store.clone()),
        "http://127.0.0.1:8080/",
        &crate::tests::passphrase(),
    )
    .await
    .unwrap();
    let ca = Arc::new(match kmk {
        Some(kmk) => opened.with_key_management(kmk),
        None => opened,
    });
    let socket = dir.path().join("ca.sock");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let socket = socket.clone();
        async move {
            serve_unix(ca, &socket, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let mut remote = None;
    for _ in 0..100 {
        match RemoteCa::connect_unix(&socket).await {
            Ok(ca) => {
                remote = Some(ca);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    (
        remote.expect("the CA service answers"),
        store,
        stop,
        server,
        dir,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_ca_answers_as_the_one_in_process() {
    let (remote, store, stop, server, _dir) = served_ca().await;
    answers_through_the_boundary(&remote, &store).await;
    assert!(remote.certificates(Algorithm::Sm2Sm3).is_some());

    // Archived keys are recovered in the CA zone only.
    assert!(matches!(
        remote.recover_archived_key("00ff").await,
        Err(CaError::Refused(_))
    ));
    // The CA takes no revocation from the RA's word: an unrevoked certificate is not published.
    let key = certdesk_pki::SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let csr = crate::tests::csr_for(&key);
    let prepared = remote.prepare(&crate::tests::request(&csr), false).unwrap();
    let serials = crate::IssuanceSerials::draw(false).unwrap();
    let signed = remote.sign_prepared(&prepared, &serials).await.unwrap();
    let record = store
        .insert_certificate(&signed.signing.new_certificate())
        .await
        .unwrap();
    assert!(matches!(
        remote.publish_revocations(&[record]).await,
        Err(CaError::Remote(_))
    ));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // The service gone is told as unreachable, not as a refusal.
    let signed = remote.sign_prepared(&prepared, &serials).await;
    assert!(matches!(signed, Err(CaError::Unreachable(_))), "{signed:?}");
}

#[tokio::test]
async fn a_second_service_on_a_live_socket_is_refused() {
    let (_remote, _store, stop, _server, dir) = served_ca().await;
    let (local, _other) = crate::tests::ca().await;
    let store = local.store().clone();
    let ca = Arc::new(
        CertificateAuthority::open(
            Arc::new(store),
            "http://127.0.0.1:8080/",
            &crate::tests::passphrase(),
        )
        .await
        .unwrap(),
    );
    let second = serve_unix(ca, &dir.path().join("ca.sock"), async {}).await;
    assert!(matches!(second, Err(super::ServeError::InUse(_))));
    stop.send(()).unwrap();
}

/// A renewal across the socket: the CA certifies the archived encryption key pair again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_encryption_key_crosses_the_socket() {
    use certdesk_pki::{KeyManagementKey, Signer, SoftwareKey};
    let kmk = || KeyManagementKey::from_bytes("kmk-remote", &[7u8; 16]).unwrap();
    let (remote, store, stop, server, _dir) = served_ca_with(Some(kmk())).await;
    let local = CertificateAuthority::open(
        Arc::new(store.clone()),
        "http://127.0.0.1:8080/",
        &crate::tests::passphrase(),
    )
    .await
    .unwrap()
    .with_key_management(kmk());
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = crate::tests::csr_for(&key);
    let first = local
        .issue_dual(&crate::tests::request(&csr))
        .await
        .unwrap();
    let prepared = remote
        .prepare(&crate::tests::request(&csr), true)
        .unwrap()
        .keeping_encryption_key_of(&first.encryption.record.serial_hex)
        .unwrap();
    let renewed = remote
        .sign_prepared(&prepared, &crate::IssuanceSerials::draw(true).unwrap())
        .await
        .unwrap();
    assert_eq!(
        renewed
            .encryption
            .as_ref()
            .unwrap()
            .certificate
            .tbs_certificate()
            .subject_public_key_info(),
        first
            .encryption
            .certificate
            .tbs_certificate()
            .subject_public_key_info()
    );
    // The signing key stays the key holder's; the envelope opens with it.
    let delivered =
        certdesk_pki::open_skf_envelope(&renewed.envelope.as_ref().unwrap().skf_blob, &key)
            .unwrap();
    assert_eq!(
        delivered.public_key_spki(),
        first
            .encryption
            .certificate
            .tbs_certificate()
            .subject_public_key_info()
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
