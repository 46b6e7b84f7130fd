//! What relying parties fetch, at the addresses written into every certificate: the CRLs
//! (`/crl/sm2.crl`, `/crl/p256.crl`), the CA certificates (`/ca/sm2.cer`, `/ca/sm2-root.cer`, …)
//! and the OCSP responder (`POST /ocsp`, `GET /ocsp/{base64 request}`). These routes carry no
//! session and no CSRF check: they are public and change nothing.

use crate::web::extract::Path;
use crate::web::routes::Registry;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use certdesk_ca::CaCertificates;
use certdesk_domain::Action;

const OCSP_REQUEST_LIMIT: usize = 64 * 1024;

pub(crate) fn register(registry: Registry) -> Registry {
    registry
        .get("/crl/{file}", Action::PublishPki, crl)
        .get("/ca/{file}", Action::PublishPki, ca_certificate)
        .post("/ocsp", Action::PublishPki, ocsp_post)
        .get("/ocsp/{*request}", Action::PublishPki, ocsp_get)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The issuing CA published as `file` without `suffix` (`p256.crl` → `p256`, `p256-7.crl` →
/// `p256-7`, an issuing CA that replaced another), if there is one.
fn published_as(state: &AppState, file: &str, suffix: &str) -> Option<CaCertificates> {
    state.ca.published(file.strip_suffix(suffix)?)
}

async fn crl(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(ca) = published_as(&state, &file, ".crl") else {
        return not_found();
    };
    match state.ca.current_crl(&ca.name).await {
        Ok(crl) => (
            [
                (CONTENT_TYPE, "application/pkix-crl"),
                (CACHE_CONTROL, "public, max-age=300"),
            ],
            crl.der,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "CRL unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "CRL temporarily unavailable\n",
            )
                .into_response()
        }
    }
}

async fn ca_certificate(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let (ca, root) = match (
        published_as(&state, &file, "-root.cer"),
        published_as(&state, &file, ".cer"),
    ) {
        (Some(ca), _) => (ca, true),
        (None, Some(ca)) => (ca, false),
        _ => return not_found(),
    };
    let der = if root { ca.root_der } else { ca.issuing_der };
    (
        [
            (CONTENT_TYPE, "application/pkix-cert"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        der,
    )
        .into_response()
}

fn ocsp_response(der: std::sync::Arc<[u8]>) -> Response {
    (
        [
            (CONTENT_TYPE, "application/ocsp-response"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Bytes::from_owner(der),
    )
        .into_response()
}

async fn ocsp_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > OCSP_REQUEST_LIMIT {
        return (StatusCode::PAYLOAD_TOO_LARGE, "OCSP request too large\n").into_response();
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/ocsp-request") {
        tracing::debug!(content_type, "OCSP request with an unexpected content type");
    }
    ocsp_response(state.ca.answer_ocsp(&body).await)
}

/// RFC 6960 appendix A.1: the DER request, base64, URL-encoded, after the path.
async fn ocsp_get(State(state): State<AppState>, Path(request): Path<String>) -> Response {
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = engine.decode(request.trim_start_matches('/')).or_else(|_| {
        base64::engine::general_purpose::URL_SAFE.decode(request.trim_start_matches('/'))
    });
    // Undecodable input is still answered in OCSP's own terms: malformedRequest.
    let der = decoded.unwrap_or_default();
    ocsp_response(state.ca.answer_ocsp(&der).await)
}
