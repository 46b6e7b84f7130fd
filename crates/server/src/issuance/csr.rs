//! The key holder's certificate request (CSR) for an order in 制证中, by API and page, and what
//! issuance made, as the key holder downloads it.

use super::IssuanceError;
use crate::issuance::issue_for_order;
use crate::pipeline::back_to_order;
use crate::pipeline::{order_for, OrderView};
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::pages::{form_fields, PageUser};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use certdesk_domain::Action;
use certdesk_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrRequest {
    /// PKCS#10, PEM.
    #[serde(default)]
    pub csr: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct IssuedView {
    pub order: OrderView,
    /// The signing certificate, PEM.
    pub signing_certificate: String,
    pub encryption_certificate: Option<String>,
    /// GM/T 0009 SM2EnvelopedKey of the encryption key, base64 DER.
    pub envelope_gmt0009: Option<String>,
    /// GM/T 0016 ENVELOPEDKEYBLOB, base64.
    pub envelope_skf: Option<String>,
}

pub(crate) async fn issued_view(
    state: &AppState,
    order: &Order,
) -> Result<IssuedView, IssuanceError> {
    use base64::Engine as _;
    let issuance = state
        .store
        .issuance(order.id)
        .await?
        .ok_or(IssuanceError::NotIssued)?;
    let pem_of = |id: Option<i64>| async move {
        match id {
            Some(id) => Ok::<_, IssuanceError>(Some(certificate_pem(state, id).await?)),
            None => Ok(None),
        }
    };
    Ok(IssuedView {
        order: OrderView::from(order),
        signing_certificate: pem_of(issuance.signing_certificate_id)
            .await?
            .unwrap_or_default(),
        encryption_certificate: pem_of(issuance.encryption_certificate_id).await?,
        envelope_gmt0009: issuance
            .envelope_gmt0009
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        envelope_skf: issuance
            .envelope_skf
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
    })
}

pub(crate) async fn certificate_pem(
    state: &AppState,
    certificate_id: i64,
) -> Result<String, IssuanceError> {
    let der = state
        .store
        .certificate_der_by_id(certificate_id)
        .await?
        .ok_or(IssuanceError::NotIssued)?;
    Ok(certificate_pem_of_der(&der))
}

/// A certificate's DER as PEM, 64 characters a line.
pub(crate) fn certificate_pem_of_der(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The key holder's CSR for an order in 制证中: the CA issues, the order moves to 已发证.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/csr", params(("order_no" = String, Path)), request_body = CsrRequest,
    responses((status = 201, body = IssuedView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn csr_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<CsrRequest>,
) -> Result<(StatusCode, Json<IssuedView>), ApiError> {
    let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
    let status = issue_for_order(&state, &user, &order, req.csr.as_bytes()).await?;
    let order = Order { status, ..order };
    Ok((
        StatusCode::CREATED,
        Json(issued_view(&state, &order).await?),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CsrForm {
    csr: String,
}

pub(crate) async fn csr_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result: Result<String, IssuanceError> = async {
        let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
        let form: CsrForm = form_fields(&body);
        if form.csr.trim().is_empty() {
            return Err(IssuanceError::CsrRequired);
        }
        issue_for_order(&state, &user, &order, form.csr.as_bytes()).await?;
        Ok("证书已签发：请下载证书，用该CA锁厂商的工具写入".to_string())
    }
    .await;
    back_to_order(&state, &user, &order_no, result).await
}
