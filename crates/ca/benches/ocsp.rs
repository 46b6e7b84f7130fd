//! OCSP answers from the responder's cache, per algorithm: one iteration is
//! `CertificateAuthority::answer_ocsp` for a request without a nonce (what browsers and
//! OpenSSL send by default) about a certificate the CA issued, answered from the cache.
//! The real cached path includes parsing the request and, at most every
//! `REVOCATION_CHECK_INTERVAL` (200 ms), one look at the store's revocation counter.
//!
//! Run, pinned to one core for per-core figures (see docs/BENCHMARKS.md):
//! `taskset -c 1 cargo bench -p certdesk-ca --bench ocsp -- --warm-up-time 2 --measurement-time 5`

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use certdesk_ca::{ensure_hierarchies, CertificateAuthority, IssueRequest};
use certdesk_pki::der::asn1::{Any, Null, ObjectIdentifier, OctetString, Uint};
use certdesk_pki::der::{Encode, Tag};
use certdesk_pki::spki::AlgorithmIdentifierOwned;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{
    make_csr, verify_ocsp_response, Algorithm, IssuerHashes, LeafProfile, OcspHash, OcspStatus,
    SoftwareKey,
};
use certdesk_store::testing::sqlite_store;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zeroize::Zeroizing;

/// `SEQUENCE { parts... }`, DER.
fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    Any::new(Tag::Sequence, parts.concat())
        .expect("sequence")
        .to_der()
        .expect("DER")
}

/// An RFC 6960 OCSPRequest for one serial of `issuer_hashes`' CA, SHA-1 CertID and no nonce,
/// byte for byte what `openssl ocsp -issuer … -cert … -no_nonce -reqout` writes.
fn ocsp_request(issuer_hashes: &IssuerHashes, serial: &[u8]) -> Vec<u8> {
    let id = issuer_hashes.cert_id(OcspHash::Sha1, serial);
    let hash_algorithm = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
        parameters: Some(Any::from(Null)),
    };
    let cert_id = sequence(&[
        hash_algorithm.to_der().expect("DER"),
        OctetString::new(id.issuer_name_hash)
            .and_then(|o| o.to_der())
            .expect("DER"),
        OctetString::new(id.issuer_key_hash)
            .and_then(|o| o.to_der())
            .expect("DER"),
        Uint::new(&id.serial).and_then(|u| u.to_der()).expect("DER"),
    ]);
    let request = sequence(&[cert_id]);
    let request_list = sequence(&[request]);
    let tbs_request = sequence(&[request_list]);
    sequence(&[tbs_request])
}

fn ocsp(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let passphrase = Zeroizing::new("bench-ca-passphrase".to_string());
    let (ca, _dir) = rt.block_on(async {
        let (store, dir) = sqlite_store().await;
        ensure_hierarchies(&store, &passphrase, "certdesk bench")
            .await
            .expect("hierarchies");
        let ca = CertificateAuthority::open(
            std::sync::Arc::new(store),
            "http://ca.example.cn",
            &passphrase,
        )
        .await
        .expect("open CA");
        (ca, dir)
    });

    let mut group = c.benchmark_group("ocsp_cached_answer");
    group.throughput(Throughput::Elements(1));
    for algorithm in Algorithm::ALL {
        let loaded = ca.ca(algorithm).expect("CA loaded");
        let key = SoftwareKey::generate(algorithm).expect("applicant key");
        let csr = make_csr(&key, Name::from_str("CN=applicant").expect("name")).expect("csr");
        let issued = rt
            .block_on(ca.issue(&IssueRequest {
                csr: &csr,
                profile: LeafProfile::Sign,
                org_name: "福州测试科技有限公司",
                credit_code: "91350100M000100Y43",
                validity_days: 365,
            }))
            .expect("issue");
        let serial = issued
            .certificate
            .tbs_certificate()
            .serial_number()
            .as_bytes();
        let request = ocsp_request(
            &IssuerHashes::of(&loaded.issuing_cert).expect("issuer hashes"),
            serial,
        );

        // Warm the cache, and make sure what we time is a signed "good" answer from it.
        let cached_before = ca.cached_ocsp_answers();
        let first = rt.block_on(ca.answer_ocsp(&request));
        let verified = verify_ocsp_response(&first, &loaded.issuing_cert).expect("answer");
        assert_eq!(verified.statuses.len(), 1);
        assert_eq!(verified.statuses[0].1, OcspStatus::Good);
        assert_eq!(ca.cached_ocsp_answers(), cached_before + 1, "answer cached");
        assert_eq!(
            *rt.block_on(ca.answer_ocsp(&request)),
            *first,
            "from the cache"
        );

        group.bench_function(algorithm.label(), |b| {
            b.iter_custom(|iterations| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        black_box(ca.answer_ocsp(black_box(&request)).await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ocsp);
criterion_main!(benches);
