//! Whole certificates from CSRs, per algorithm: one iteration takes a PEM PKCS#10 request,
//! parses it and verifies its self-signature (proof of possession), draws a serial, builds
//! and signs the organisation certificate with the issuing CA's key, and DER-encodes it.
//!
//! Run, pinned to one core for per-core figures (see docs/BENCHMARKS.md):
//! `taskset -c 1 cargo bench -p certdesk-pki --bench issuance -- --warm-up-time 2 --measurement-time 5`

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use certdesk_pki::der::Encode;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{
    csr_to_pem, issue_leaf, make_csr, parse_and_verify_csr, random_serial, Algorithm, CaHierarchy,
    LeafProfile, LeafRequest, Signer, SoftwareKey, PLACEHOLDER_POLICY_OID,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Distinct applicants the benchmark rotates through, so no iteration reuses the previous
/// one's request.
const CSRS: usize = 8;

fn pem_csrs(algorithm: Algorithm) -> Vec<String> {
    (0..CSRS)
        .map(|i| {
            let key = SoftwareKey::generate(algorithm).expect("applicant key");
            let subject = Name::from_str(&format!("CN=applicant {i},O=bench,C=CN")).expect("name");
            csr_to_pem(&make_csr(&key, subject).expect("csr")).expect("pem")
        })
        .collect()
}

fn issuance(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue_from_csr");
    group.throughput(Throughput::Elements(1));
    for algorithm in Algorithm::ALL {
        let ca = CaHierarchy::generate(algorithm, "certdesk bench").expect("CA hierarchy");
        let csrs = pem_csrs(algorithm);
        let now = SystemTime::now();
        let mut next = 0usize;
        group.bench_function(algorithm.label(), |b| {
            b.iter(|| {
                let pem = &csrs[next % CSRS];
                next = next.wrapping_add(1);
                let csr = parse_and_verify_csr(black_box(pem.as_bytes())).expect("csr verifies");
                let certificate =
                    issue_leaf(&ca.issuing_key, &ca.issuing_cert, &csr, &leaf_request(now))
                        .expect("issue");
                black_box(certificate.to_der().expect("DER"))
            })
        });
    }
    group.finish();
}

/// The parts of one issuance, to show what limits the whole: a bare signature and a bare
/// verification by the same code paths, CSR parsing with proof of possession alone, and
/// building and signing the certificate alone.
fn parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue_parts");
    group.throughput(Throughput::Elements(1));
    for algorithm in Algorithm::ALL {
        let label = algorithm.label();
        let ca = CaHierarchy::generate(algorithm, "certdesk bench").expect("CA hierarchy");
        let message = [0x5au8; 512];
        let signature = ca.issuing_key.sign(&message).expect("sign");
        let sig_alg = algorithm.signature_algorithm_identifier();
        group.bench_function(format!("{label}/sign"), |b| {
            b.iter(|| ca.issuing_key.sign(black_box(&message)).expect("sign"))
        });
        group.bench_function(format!("{label}/verify"), |b| {
            b.iter(|| {
                algorithm
                    .verify(
                        ca.issuing_key.public_key_spki(),
                        &sig_alg,
                        black_box(&message),
                        &signature,
                    )
                    .expect("verify")
            })
        });
        let csrs = pem_csrs(algorithm);
        let mut next = 0usize;
        group.bench_function(format!("{label}/parse_and_verify_csr"), |b| {
            b.iter(|| {
                next = next.wrapping_add(1);
                parse_and_verify_csr(black_box(csrs[next % CSRS].as_bytes())).expect("csr")
            })
        });
        let csr = parse_and_verify_csr(csrs[0].as_bytes()).expect("csr");
        let now = SystemTime::now();
        group.bench_function(format!("{label}/issue_leaf"), |b| {
            b.iter(|| {
                issue_leaf(
                    &ca.issuing_key,
                    &ca.issuing_cert,
                    black_box(&csr),
                    &leaf_request(now),
                )
                .expect("issue")
            })
        });
    }
    group.finish();
}

fn leaf_request(now: SystemTime) -> LeafRequest {
    LeafRequest {
        profile: LeafProfile::Sign,
        org_name: "福州测试科技有限公司".to_string(),
        credit_code: "91350100M000100Y43".to_string(),
        not_before: now,
        not_after: now + Duration::from_secs(365 * 24 * 60 * 60),
        serial: random_serial().expect("serial"),
        base_url: "http://ca.example.cn".to_string(),
        ca_name: None,
        policy: PLACEHOLDER_POLICY_OID,
    }
}

criterion_group!(benches, issuance, parts);
criterion_main!(benches);
