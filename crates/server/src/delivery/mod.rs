//! Delivery of a UKey after issuance: by courier (快递, with a tracking number) or at the
//! counter (自取), and the supplier's confirmation of receipt.

mod error;

pub(crate) use error::DeliveryError;

use crate::pipeline::{act_on_order, checked_step, order_for, CheckedStep, OrderView, StepActor};
use crate::pipeline::{back_to_order, StepError};
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::pages::{form_fields, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use certdesk_domain::{Action, OrderAction, OrderStatus};
use certdesk_store::Order;
use serde::Deserialize;
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .post("/orders/{order_no}/ship", DeliverOrder, ship_page)
        .post("/orders/{order_no}/pickup", DeliverOrder, pickup_page)
        .post("/orders/{order_no}/receipt", ConfirmReceipt, receipt_page)
        .post("/api/v1/orders/{order_no}/ship", DeliverOrder, ship_api)
        .post(
            "/api/v1/orders/{order_no}/ready-for-pickup",
            DeliverOrder,
            pickup_api,
        )
        .post(
            "/api/v1/orders/{order_no}/confirm-receipt",
            ConfirmReceipt,
            receipt_api,
        )
}

/// Ships a key by courier (已发证 → 配送中), with the courier and tracking number.
pub(crate) async fn ship(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    courier: &str,
    tracking_no: &str,
) -> Result<OrderStatus, DeliveryError> {
    let (courier, tracking_no) = (courier.trim(), tracking_no.trim());
    if courier.is_empty() || courier.chars().count() > 30 {
        return Err(DeliveryError::CourierInvalid);
    }
    if tracking_no.len() < 6
        || tracking_no.len() > 40
        || !tracking_no
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(DeliveryError::TrackingNoInvalid);
    }
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::Ship).await?;
    let who = StepActor::of(Some(user), &step);
    let note = format!("{courier} {tracking_no}");
    let moved = state
        .store
        .ship_order(
            order.id,
            courier,
            tracking_no,
            &who.record(state.now(), order, step, &note),
        )
        .await?;
    if !moved {
        return Err(StepError::OrderChanged.into());
    }
    Ok(step.to())
}

/// 确认收货: the supplier has its key (or downloaded its mobile certificate).
pub(crate) async fn confirm_receipt(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
) -> Result<OrderStatus, DeliveryError> {
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::ConfirmReceipt).await?;
    let who = StepActor::of(Some(user), &step);
    let moved = state
        .store
        .confirm_receipt(order.id, &who.record(state.now(), order, step, ""))
        .await?;
    if !moved {
        return Err(StepError::OrderChanged.into());
    }
    Ok(step.to())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    #[serde(default)]
    pub courier: String,
    #[serde(default)]
    pub tracking_no: String,
}

/// 邮寄发货: the operator enters the courier and tracking number.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/ship", params(("order_no" = String, Path)), request_body = ShipRequest,
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn ship_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<ShipRequest>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
    let status = ship(&state, &user, &order, &req.courier, &req.tracking_no).await?;
    Ok(Json(OrderView::from(&Order { status, ..order })))
}

/// 通知现场领取.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/ready-for-pickup", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn pickup_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
    let (after, _) =
        act_on_order(&state, Some(&user), &order, OrderAction::ReadyForPickup, "").await?;
    Ok(Json(OrderView::from(&after)))
}

/// 确认收货.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/confirm-receipt", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn receipt_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::ConfirmReceipt).await?;
    let status = confirm_receipt(&state, &user, &order).await?;
    Ok(Json(OrderView::from(&Order { status, ..order })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ShipForm {
    courier: String,
    tracking_no: String,
}

async fn ship_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result: Result<String, DeliveryError> = async {
        let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
        let form: ShipForm = form_fields(&body);
        ship(&state, &user, &order, &form.courier, &form.tracking_no).await?;
        Ok("已登记发货".to_string())
    }
    .await;
    back_to_order(&state, &user, &order_no, result).await
}

async fn pickup_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let result: Result<String, DeliveryError> = async {
        let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
        act_on_order(&state, Some(&user), &order, OrderAction::ReadyForPickup, "").await?;
        Ok("已通知申请人现场领取".to_string())
    }
    .await;
    back_to_order(&state, &user, &order_no, result).await
}

async fn receipt_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let result: Result<String, DeliveryError> = async {
        let order = order_for(&state, &user, &order_no, Action::ConfirmReceipt).await?;
        confirm_receipt(&state, &user, &order).await?;
        Ok("已确认收货，证书已生效".to_string())
    }
    .await;
    back_to_order(&state, &user, &order_no, result).await
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(ship_api, pickup_api, receipt_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
