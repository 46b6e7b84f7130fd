//! The CA service's gRPC stubs, generated from the Rust message types in `src/remote/wire.rs`
//! (no `.proto` file and no protoc: tonic-build's manual service description).

fn main() {
    let methods = [
        ("certificates", "Certificates", "Empty", "CaList"),
        (
            "sign_prepared",
            "SignPrepared",
            "SignRequest",
            "SignedIssuanceMessage",
        ),
        (
            "sign_held",
            "SignHeld",
            "HeldRequestMessage",
            "SignedIssuanceMessage",
        ),
        (
            "publish_revocations",
            "PublishRevocations",
            "Serials",
            "Empty",
        ),
        ("current_crl", "CurrentCrl", "CaName", "CrlMessage"),
        ("answer_ocsp", "AnswerOcsp", "Bytes", "Bytes"),
        (
            "check_presented",
            "CheckPresented",
            "PresentedRequest",
            "PresentedAnswer",
        ),
        ("revoke", "Revoke", "RevokeRequest", "CertificateMessage"),
    ];
    let mut service = tonic_build::manual::Service::builder()
        .name("CaService")
        .package("certdesk.ca");
    for (name, route, input, output) in methods {
        service = service.method(
            tonic_build::manual::Method::builder()
                .name(name)
                .route_name(route)
                .input_type(format!("crate::remote::wire::{input}"))
                .output_type(format!("crate::remote::wire::{output}"))
                .codec_path("tonic_prost::ProstCodec")
                .build(),
        );
    }
    tonic_build::manual::Builder::new().compile(&[service.build()]);
    println!("cargo:rerun-if-changed=build.rs");
}
