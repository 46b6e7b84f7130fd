//! 制证 (issue 14): the CA's station makes an order's keys on a blank UKey through the key
//! holder's agent (`certdesk agent` on the station's PC), so the supplier never sees a CSR.
//!
//! The page (`/ca/production/{order_no}`) asks the agent for a key pair and its request on the
//! chosen key, hands the request here (`POST /api/v1/orders/{order_no}/production`), and gives
//! the agent back what was issued: the certificates, the SM2 encryption key's GM/T 0016
//! envelope, and the SO PIN the CA set for the key, sealed to the agent's one-time key for it.
//! The key's CA锁ID is recorded before the CA signs (the first key chosen stays the order's),
//! so a repeat after any failure gives the same certificates for the same key; the SO PIN is
//! kept sealed for the 解锁授权码's answer (the unlocks feature). The operator then ships.

mod error;

pub(crate) use error::ProductionError;

use crate::pipeline::{order_for, OrderView};
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::json::ApiJson;
use crate::web::pages::{render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use certdesk_domain::{Action, OrderStatus};
use certdesk_store::{KeyProduction, Order, OrderFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::ProduceKey;
    registry
        .get("/ca/production", ProduceKey, queue_page)
        .get("/ca/production/{order_no}", ProduceKey, order_page)
        .post(
            "/api/v1/orders/{order_no}/production",
            ProduceKey,
            produce_api,
        )
        .post(
            "/api/v1/orders/{order_no}/production/written",
            ProduceKey,
            written_api,
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    /// CA锁ID of the key the agent made the key pair on.
    pub key_serial: String,
    /// The key's PKCS#10 request, DER base64, as the agent made it.
    pub csr: String,
    /// The agent's one-time SM2 key for this key (DER SubjectPublicKeyInfo, base64), for keys
    /// that take an SO PIN from the CA; the answer seals the SO PIN to it.
    #[serde(default)]
    pub challenge: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProducedView {
    pub order: OrderView,
    pub key_serial: String,
    /// DER, base64, for the agent to write into the key.
    pub signing_certificate: String,
    pub encryption_certificate: Option<String>,
    /// GM/T 0016 ENVELOPEDKEYBLOB, base64.
    pub envelope_skf: Option<String>,
    /// The key's SO PIN, sealed (SM2) to the agent's one-time key.
    pub so_pin_sealed: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrittenRequest {
    pub key_serial: String,
}

fn checked_key_serial(serial: &str) -> Result<String, ProductionError> {
    let serial = serial.trim();
    let fits = (1..=64).contains(&serial.len())
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    fits.then(|| serial.to_string())
        .ok_or(ProductionError::InvalidKeySerial)
}

/// A fresh SO PIN: 16 characters of the 解锁授权码's alphabet (80 bits), within the keys' PIN
/// policy (6–16).
fn new_so_pin() -> String {
    let code = certdesk_domain::unlock::format_code(&rand::random::<[u8; 10]>());
    code.replace('-', "")
}

fn unbase64(field: &str, text: &str) -> Result<Vec<u8>, ProductionError> {
    B64.decode(text.trim())
        .map_err(|e| ProductionError::Malformed(format!("{field}: {e}")))
}

/// The SO PIN of a 制证 record, sealed to the agent's one-time key `challenge` (base64 SPKI).
pub(crate) fn so_pin_for_agent(
    state: &AppState,
    production: &KeyProduction,
    challenge: &str,
) -> Result<Option<String>, ProductionError> {
    use certdesk_pki::der::Decode;
    let Some(sealed) = &production.so_pin_sealed else {
        return Ok(None);
    };
    let so_pin = state
        .config
        .personal_data
        .open(sealed)
        .map_err(|e| ProductionError::Inconsistent(format!("opening the SO PIN: {e}")))?;
    let spki =
        certdesk_pki::spki::SubjectPublicKeyInfoOwned::from_der(&unbase64("challenge", challenge)?)
            .map_err(|e| ProductionError::Malformed(format!("challenge: {e}")))?;
    let sealed = certdesk_pki::sm2_encrypt(&spki, so_pin.as_bytes())
        .map_err(|e| ProductionError::Malformed(format!("challenge: {e}")))?;
    Ok(Some(B64.encode(sealed)))
}

async fn produce(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    req: &ProduceRequest,
) -> Result<ProducedView, ProductionError> {
    let order = order_for(state, user, order_no, Action::ProduceKey).await?;
    let key_serial = checked_key_serial(&req.key_serial)?;
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(crate::issuance::IssuanceError::NoApplication)?;
    let product = crate::products::product_facts(state, application.product_id).await?;
    if product.mobile {
        return Err(ProductionError::HeldKeys);
    }
    let recorded = state.store.key_production(order.id).await?;
    if order.status != OrderStatus::Issuing && recorded.is_none() {
        return Err(match state.store.issuance(order.id).await? {
            Some(i) if i.signing_certificate_id.is_some() => ProductionError::IssuedElsewhere,
            _ => ProductionError::NotIssuing(order.status.label_zh()),
        });
    }
    // What was sent is checked before anything is recorded.
    let csr_pem = certdesk_pki::csr_to_pem(&unbase64("csr", &req.csr)?)
        .map_err(|e| ProductionError::Malformed(format!("csr: {e}")))?;
    if let Some(challenge) = &req.challenge {
        use certdesk_pki::der::Decode;
        certdesk_pki::spki::SubjectPublicKeyInfoOwned::from_der(&unbase64("challenge", challenge)?)
            .map_err(|e| ProductionError::Malformed(format!("challenge: {e}")))?;
    }
    // The SO PIN is made (and sealed at rest) only for keys that take one from the CA.
    let so_pin_sealed = match &req.challenge {
        Some(_) => Some(
            state
                .config
                .personal_data
                .seal(&new_so_pin())
                .map_err(|e| ProductionError::Inconsistent(format!("sealing: {e}")))?,
        ),
        None => None,
    };
    let detail = format!("CA锁ID {key_serial}");
    let production = state
        .store
        .choose_production_key(
            order.id,
            &key_serial,
            so_pin_sealed.as_deref(),
            &crate::web::audit_trail::note_by(state, user.account(), &detail),
            &format!("order:{}", order.order_no),
        )
        .await?;
    if production.key_serial != key_serial {
        return Err(ProductionError::OtherKey(production.key_serial));
    }
    let mut order = order;
    if order.status == OrderStatus::Issuing {
        order.status =
            crate::issuance::issue_for_order(state, user, &order, csr_pem.as_bytes()).await?;
    }
    produced_view(state, &order, &production, req.challenge.as_deref()).await
}

/// What was issued for the order, for the agent to write into the key.
async fn produced_view(
    state: &AppState,
    order: &Order,
    production: &KeyProduction,
    challenge: Option<&str>,
) -> Result<ProducedView, ProductionError> {
    let issuance = state
        .store
        .issuance(order.id)
        .await?
        .ok_or(crate::issuance::IssuanceError::NotIssued)?;
    let der_of = |id: Option<i64>| async move {
        match id {
            Some(id) => Ok::<_, ProductionError>(
                state
                    .store
                    .certificate_der_by_id(id)
                    .await?
                    .map(|der| B64.encode(der)),
            ),
            None => Ok(None),
        }
    };
    Ok(ProducedView {
        order: OrderView::from(order),
        key_serial: production.key_serial.clone(),
        signing_certificate: der_of(issuance.signing_certificate_id)
            .await?
            .ok_or(crate::issuance::IssuanceError::NotIssued)?,
        encryption_certificate: der_of(issuance.encryption_certificate_id).await?,
        envelope_skf: issuance.envelope_skf.map(|b| B64.encode(b)),
        so_pin_sealed: match challenge {
            Some(challenge) => so_pin_for_agent(state, production, challenge)?,
            None => None,
        },
    })
}

/// The key's request for an order in 制证中: recorded, issued, and what the agent writes.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/production", params(("order_no" = String, Path)), request_body = ProduceRequest,
    responses((status = 200, body = ProducedView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn produce_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    ApiJson(req): ApiJson<ProduceRequest>,
) -> Result<Json<ProducedView>, ApiError> {
    Ok(Json(produce(&state, &user, &order_no, &req).await?))
}

/// The agent wrote the certificates into the key: 制证 is done, the order may ship.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/production/written", params(("order_no" = String, Path)), request_body = WrittenRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn written_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    ApiJson(req): ApiJson<WrittenRequest>,
) -> Result<StatusCode, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::ProduceKey).await?;
    let key_serial = checked_key_serial(&req.key_serial)?;
    let production = state
        .store
        .key_production(order.id)
        .await?
        .ok_or(ProductionError::NotIssuing(order.status.label_zh()))?;
    if production.key_serial != key_serial {
        return Err(ProductionError::OtherKey(production.key_serial).into());
    }
    let detail = format!("CA锁ID {key_serial}");
    state
        .store
        .mark_key_written(
            order.id,
            &key_serial,
            &crate::web::audit_trail::note_by(&state, user.account(), &detail),
            &format!("order:{}", order.order_no),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(produce_api, written_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- pages ------------------------------------------------------------------------------------

/// An order waiting at the 制证 station.
pub(crate) struct QueueRow {
    pub order: OrderView,
    pub org_name: String,
    pub product: String,
    /// The key chosen, when one was.
    pub key_serial: Option<String>,
    pub written: bool,
}

#[derive(Template)]
#[template(path = "production.html")]
struct ProductionPage {
    chrome: Chrome,
    rows: Vec<QueueRow>,
    /// The order being made, on its own page.
    current: Option<Current>,
}

struct Current {
    order: OrderView,
    org_name: String,
    product: String,
    /// The algorithm the key pair must be, as the CA and the agent name it (`sm2`, `p256`).
    algorithm_slug: &'static str,
    algorithm_label: &'static str,
    dual: bool,
    key_serial: Option<String>,
    written: bool,
    issuing: bool,
}

/// An order's row at the station, with its product's facts; refused for an order with no
/// application or of a 移动版 product (no key to make).
async fn row_of(
    state: &AppState,
    order: &Order,
) -> Result<(QueueRow, crate::products::ProductFacts), ProductionError> {
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(crate::issuance::IssuanceError::NoApplication)?;
    let product = crate::products::product_facts(state, application.product_id).await?;
    if product.mobile {
        return Err(ProductionError::HeldKeys);
    }
    let organisation = crate::pipeline::registered_organisation(state, order).await?;
    let production = state.store.key_production(order.id).await?;
    let row = QueueRow {
        order: OrderView::from(order),
        org_name: organisation.name,
        product: product.name.clone(),
        written: production.as_ref().is_some_and(|p| p.written_at.is_some()),
        key_serial: production.map(|p| p.key_serial),
    };
    Ok((row, product))
}

async fn queue_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let page = async {
        let orders = state
            .store
            .orders(&OrderFilter {
                status: Some(OrderStatus::Issuing),
                limit: 100,
                ..Default::default()
            })
            .await?;
        let mut rows = Vec::new();
        for order in &orders {
            match row_of(&state, order).await {
                Ok((row, _)) => rows.push(row),
                // Nothing to make for it: not a station's order.
                Err(
                    ProductionError::HeldKeys
                    | ProductionError::Issuance(crate::issuance::IssuanceError::NoApplication),
                ) => {}
                Err(err) => return Err(err),
            }
        }
        Ok::<_, ProductionError>(ProductionPage {
            chrome: Chrome::new(&user, "ca_production"),
            rows,
            current: None,
        })
    }
    .await;
    match page {
        Ok(page) => render(&page, StatusCode::OK),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

async fn order_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let page = async {
        let order = order_for(&state, &user, &order_no, Action::ProduceKey).await?;
        let (row, product) = row_of(&state, &order).await?;
        Ok::<_, ProductionError>(ProductionPage {
            chrome: Chrome::new(&user, "ca_production"),
            rows: Vec::new(),
            current: Some(Current {
                issuing: order.status == OrderStatus::Issuing,
                order: row.order,
                org_name: row.org_name,
                product: row.product,
                algorithm_slug: product.algorithm,
                algorithm_label: crate::issuance::algorithm_label(product.algorithm),
                dual: product.dual,
                key_serial: row.key_serial,
                written: row.written,
            }),
        })
    }
    .await;
    match page {
        Ok(page) => render(&page, StatusCode::OK),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_serials_and_so_pins_fit_the_keys() {
        assert_eq!(checked_key_serial(" SW0A1B ").unwrap(), "SW0A1B");
        for bad in ["", "有中文", "a b", &"x".repeat(65)] {
            assert!(checked_key_serial(bad).is_err(), "{bad:?}");
        }
        let pin = new_so_pin();
        assert_eq!(pin.len(), 16);
        assert_ne!(pin, new_so_pin());
    }
}
