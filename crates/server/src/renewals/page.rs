//! 续费与延期, the page: each key and its renewal window, the form that renews one or many
//! (批量续费), and the organisation's renewal orders with what is left to do on each (提交, 支付,
//! 插入CA锁写入新证书).

use super::{
    create_renewal, install, renewal_for, renewal_view, submit, InstallRequest, RenewalError,
    RenewalRequestBody, RenewalView,
};
use crate::web::auth::CurrentUser;
use crate::web::extract::{Path, Query};
use crate::web::flash::Slot;
use crate::web::pages::{form_fields, render, Chrome, PageFailure, PageUser};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use certdesk_domain::renewal::{renewal_check, RenewalCheck};
use certdesk_domain::{Action, BusinessType, OrderStatus};

/// One of the organisation's keys as the page lists it.
struct KeyRow {
    serial: String,
    /// Checked when the page was opened for it (续费 in 我的证书).
    chosen: bool,
    valid_to: String,
    standing: String,
    open: bool,
    lapsed: bool,
}

/// One renewal order and what may be done on it now.
struct OrderRow {
    view: RenewalView,
    may_submit: bool,
    may_pay: bool,
    may_install: bool,
    /// A lapsed renewal still waiting for the legal representative's SMS check / the licence.
    needs_identity: bool,
    needs_licence: bool,
    /// The mobile the SMS check goes to, masked.
    legal_rep_mobile: String,
}

#[derive(Template)]
#[template(path = "renewals.html")]
struct RenewalsPage {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    orders: Vec<OrderRow>,
    sandbox: Vec<crate::identity::SandboxNotice>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct KeyQuery {
    /// A certificate to preselect (from 我的证书).
    #[serde(default)]
    key: String,
}

pub(super) async fn renewals_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<KeyQuery>,
) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    match page(&state, &user, &query.key, flash.notice, flash.error).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    chosen: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<RenewalsPage, RenewalError> {
    let org_id = user
        .account()
        .org_id
        .ok_or(certdesk_domain::Refusal::Forbidden)?;
    let now = state.now();
    let keys = state
        .store
        .org_certificates(org_id)
        .await?
        .into_iter()
        .filter(|c| c.profile == "sign" && c.revoked_at.is_none() && !c.renewed)
        .map(|c| {
            let (standing, open) = match renewal_check(c.not_after, now) {
                RenewalCheck::NotYet { opens } => (
                    format!("尚未到续费期，{} 起可续费", crate::format_beijing(opens)),
                    false,
                ),
                RenewalCheck::Open { closes } => (
                    format!("可续费，续费截止 {}", crate::format_beijing(closes)),
                    true,
                ),
                RenewalCheck::Closed { closed } => (
                    format!(
                        "已超过续费期限（{}），证书将被吊销，请重新申领（新办）",
                        crate::format_beijing(closed)
                    ),
                    false,
                ),
            };
            KeyRow {
                chosen: c.serial_hex.eq_ignore_ascii_case(chosen.trim()),
                serial: c.serial_hex.to_uppercase(),
                valid_to: crate::format_beijing(c.not_after),
                standing,
                open,
                lapsed: c.not_after <= now,
            }
        })
        .collect();
    let orders = state
        .store
        .orders(&certdesk_store::OrderFilter {
            org_id: Some(org_id),
            kind: Some(BusinessType::Renewal),
            limit: 20,
            ..Default::default()
        })
        .await?;
    let mut rows = Vec::with_capacity(orders.len());
    for order in &orders {
        if let Some(renewal) = state.store.renewal(order.id).await? {
            // Only a lapsed renewal still being prepared needs the legal representative.
            let (needs_identity, needs_licence, legal_rep_mobile) =
                if renewal.lapsed && order.status.is_editable() {
                    let legal_rep = super::registered_legal_rep_person(state, order).await?;
                    let (identity, licence) =
                        super::still_needed(state, order, legal_rep.as_ref()).await?;
                    let mobile = legal_rep
                        .map(|(_, _, mobile)| certdesk_domain::mask_mobile(&mobile))
                        .unwrap_or_default();
                    (identity, licence, mobile)
                } else {
                    (false, false, String::new())
                };
            rows.push(OrderRow {
                view: renewal_view(state, order, &renewal).await?,
                may_submit: order.status.is_editable(),
                may_pay: order.status == OrderStatus::AwaitingPayment,
                may_install: order.status == OrderStatus::Issuing,
                needs_identity,
                needs_licence,
                legal_rep_mobile,
            });
        }
    }
    Ok(RenewalsPage {
        chrome: Chrome::new(user, "ca_renewals"),
        keys,
        orders: rows,
        sandbox: crate::identity::sandbox_notices_of(state, &orders),
        notice,
        error,
    })
}

/// The page's form: the checked certificates (`certificate`, repeated) and the choices.
fn renewal_form(body: &[u8]) -> RenewalRequestBody {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
    };
    RenewalRequestBody {
        certificates: pairs
            .iter()
            .filter(|(n, _)| n == "certificate")
            .map(|(_, v)| v.clone())
            .collect(),
        years: field("years").and_then(|y| y.parse().ok()).unwrap_or(0),
        voucher: field("voucher").filter(|v| !v.is_empty()),
        bids_in_progress: field("bids_in_progress").is_some(),
        confirm_bids: field("confirm_bids").is_some(),
        for_credit_code: None,
    }
}

pub(super) async fn create_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    body: Bytes,
) -> Response {
    let result = create_renewal(&state, &user, &renewal_form(&body))
        .await
        .map(|order| {
            format!(
                "已生成续费业务单 {}，请核对后点击“提交并支付”",
                order.order_no
            )
        })
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/renewals", result, Slot::Error).await
}

pub(super) async fn submit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    match submit(&state, &user, &order_no).await {
        // To the cashier at once: paying is the next thing to do.
        Ok(order) if order.status == OrderStatus::AwaitingPayment => {
            Redirect::to(&format!("/orders/{}/pay", order.order_no)).into_response()
        }
        result => {
            let told = result
                .map(|o| {
                    format!(
                        "续费业务单 {} 已提交，现为“{}”，CA审核1-2个工作日",
                        o.order_no,
                        o.status.label_zh()
                    )
                })
                .map_err(PageFailure::from);
            crate::web::flash::back_with(&state, &user, "/ca/renewals", told, Slot::Error).await
        }
    }
}

pub(super) async fn install_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let form: InstallRequest = form_fields(&body);
    let result = async {
        renewal_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
        let installed = install(&state, &user, &order_no, &form).await?;
        Ok::<_, RenewalError>(format!(
            "CA锁 {} 已续费：新证书有效期 {} 至 {}",
            form.key_serial.trim().to_uppercase(),
            installed.valid_from,
            installed.valid_to
        ))
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/renewals", result, Slot::Error).await
}

/// What a renewed key received: `sign.pem`, `enc.pem`, `envelope-gmt0009.der`,
/// `envelope-skf.bin` (the key holder's, as with 新办's downloads).
pub(super) async fn download_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, serial, file)): Path<(String, String, String)>,
) -> Result<Response, PageFailure> {
    let (order, _) =
        renewal_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
    let item = state
        .store
        .renewal_items(order.id)
        .await?
        .into_iter()
        .find(|i| {
            i.serial_hex.eq_ignore_ascii_case(&serial) && i.new_signing_certificate_id.is_some()
        })
        .ok_or(RenewalError::KeyNotInOrder(serial.to_uppercase()))?;
    let pem = |id: Option<i64>| {
        let state = state.clone();
        async move {
            match id {
                Some(id) => crate::issuance::certificate_pem(&state, id)
                    .await
                    .map(|p| Some(p.into_bytes()))
                    .map_err(PageFailure::from),
                None => Ok(None),
            }
        }
    };
    let (bytes, mime) = match file.as_str() {
        "sign.pem" => (
            pem(item.new_signing_certificate_id).await?,
            "application/x-pem-file",
        ),
        "enc.pem" => (
            pem(item.new_encryption_certificate_id).await?,
            "application/x-pem-file",
        ),
        "envelope-gmt0009.der" | "envelope-skf.bin" => {
            let (gmt0009, skf) = state
                .store
                .renewal_envelopes(order.id, item.certificate_id)
                .await?;
            let bytes = if file == "envelope-skf.bin" {
                skf
            } else {
                gmt0009
            };
            (bytes, "application/octet-stream")
        }
        _ => (None, ""),
    };
    let bytes = bytes.ok_or(PageFailure::from_kind(crate::web::error::Failure::NotFound))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-{file}\"", item.serial_hex),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// 法定代表人手机号实名核验 of a lapsed renewal from the page: the code goes to the legal
/// representative registered with the keys.
pub(super) async fn identity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let fields: crate::identity::MobileCheckForm = form_fields(&body);
    let result = async {
        let (order, _) = renewal_for(&state, &user, &order_no, Action::RunIdentityCheck).await?;
        let (name, id_number, mobile) = super::registered_legal_rep_person(&state, &order)
            .await?
            .ok_or(RenewalError::IdentityNotChecked)?;
        let seal = |text: &str| {
            state
                .config
                .personal_data
                .seal(text)
                .map_err(|e| crate::pipeline::StepError::Inconsistent(format!("sealing: {e}")))
        };
        let (id_sealed, mobile_sealed) = (seal(&id_number)?, seal(&mobile)?);
        let person = crate::identity::SealedPerson {
            name: &name,
            id_number: &id_sealed,
            mobile: &mobile_sealed,
        };
        Ok::<_, RenewalError>(
            crate::identity::mobile_check_from_page(&state, &user, &order_no, person, &fields)
                .await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/renewals", result, Slot::Error).await
}

/// The business licence of a lapsed renewal, from the page.
pub(super) async fn licence_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let result = async {
        let (order, _) = renewal_for(&state, &user, &order_no, Action::EditApplication).await?;
        Ok::<_, RenewalError>(
            crate::applications::store_page_licence(&state, &order, request).await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/renewals", result, Slot::Error).await
}
