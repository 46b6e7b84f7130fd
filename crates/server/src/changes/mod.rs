//! 变更 (DOMAIN.md, business type 4): after the organisation's name or legal representative
//! changed, the organisation's admin (or an operator for it) asks for a new certificate for
//! one of its keys with the changed facts (`certdesk_domain::change` checks them: a change of
//! credit code is refused), uploads the licence showing them and has the (new) legal
//! representative pass the mobile identity check; the platform checks the documents (初审), the
//! CA approves (复审) — and only then is the registration updated (`Store::apply_change`, with
//! the step). The key holder then makes new key pairs on the UKey and sends the request: the
//! certificate is issued as a 新办's is (`issuance::issue_for_order`, naming the organisation as
//! now registered), and the old certificates are revoked (superseded) with the issuance, as for
//! 补办 (the order's `replacement_requests` row, reason `changed`).

mod error;

pub use error::ChangeError;

use crate::pipeline::{
    checked_step, order_for, with_fresh_order_number, CheckedStep, OrderView, StepActor,
};
use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Path, Query};
use crate::web::flash::Slot;
use crate::web::json::ApiJson;
use crate::web::pages::{form_fields, render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use certdesk_domain::change::{check_change, AskedChange, CurrentFacts};
use certdesk_domain::{Action, BusinessType, OrderAction, OrderStatus, UploadKind};
use certdesk_store::{ChangeRequest, NewApplication, NewChange, NewOrder, NewReplacement, Order};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/change", ListOrgCertificates, change_page)
        .post("/ca/change", ApplyForCertificate, create_page)
        .post(
            "/ca/change/{order_no}/identity",
            RunIdentityCheck,
            identity_page,
        )
        .post(
            "/ca/change/{order_no}/licence",
            EditApplication,
            Handler::layer(
                licence_page,
                DefaultBodyLimit::max(crate::UPLOAD_PAGE_BODY_LIMIT),
            ),
        )
        .post("/ca/change/{order_no}/submit", EditApplication, submit_page)
        .post("/api/v1/changes", ApplyForCertificate, create_api)
        .get("/api/v1/changes/{order_no}", ViewOrder, view_api)
        .post(
            "/api/v1/changes/{order_no}/submit",
            EditApplication,
            submit_api,
        )
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestBody {
    /// The key's signing certificate serial (证书序列号), hex.
    #[serde(default)]
    pub key_serial: String,
    /// The new name (empty: unchanged); it goes into the certificate's O and CN.
    #[serde(default)]
    pub org_name: String,
    /// Only to be refused when it differs: a new credit code is a new legal entity.
    #[serde(default)]
    pub credit_code: String,
    /// The (new) legal representative, who passes the identity check.
    #[serde(default)]
    pub legal_rep_name: String,
    #[serde(default)]
    pub legal_rep_id_number: String,
    #[serde(default)]
    pub legal_rep_mobile: String,
    /// For an operator's 代办: the organisation's credit code.
    #[serde(default)]
    pub for_credit_code: Option<String>,
}

async fn changing_org(
    state: &AppState,
    user: &CurrentUser,
    for_credit_code: Option<&str>,
) -> Result<certdesk_store::Organisation, ChangeError> {
    let org_id = crate::applications::applying_org(state, user, for_credit_code).await?;
    require(
        user,
        Action::ApplyForCertificate,
        relation_to(user, None, Some(org_id)),
    )?;
    Ok(state
        .store
        .organisation_by_id(org_id)
        .await?
        .ok_or(crate::applications::ApplicationError::OrganisationUnknown)?)
}

fn seal(state: &AppState, text: &str) -> Result<String, ChangeError> {
    state
        .config
        .personal_data
        .seal(text)
        .map_err(|e| ChangeError::Inconsistent(format!("sealing: {e}")))
}

fn open(state: &AppState, sealed: &str) -> Result<String, ChangeError> {
    state
        .config
        .personal_data
        .open(sealed)
        .map_err(|e| ChangeError::Inconsistent(format!("opening: {e}")))
}

async fn create_change(
    state: &AppState,
    user: &CurrentUser,
    req: &ChangeRequestBody,
) -> Result<Order, ChangeError> {
    let organisation = changing_org(state, user, req.for_credit_code.as_deref()).await?;
    let serial = req.key_serial.trim();
    let (held, source) = crate::issuance::replaceable_key(state, organisation.id, serial).await??;
    let form = crate::applications::form_of(state, &source)?;
    let checked = check_change(
        &CurrentFacts {
            certificate_org_name: &held.org_name,
            registered_org_name: &organisation.name,
            credit_code: &organisation.credit_code,
            legal_rep_id_number: &form.legal_rep.id_number,
        },
        &AskedChange {
            org_name: req.org_name.clone(),
            credit_code: req.credit_code.clone(),
            legal_rep_name: req.legal_rep_name.clone(),
            legal_rep_id_number: req.legal_rep_id_number.clone(),
            legal_rep_mobile: req.legal_rep_mobile.clone(),
        },
    )?;
    let id_sealed = seal(state, &checked.legal_rep_id_number)?;
    let mobile_sealed = seal(state, &checked.legal_rep_mobile)?;
    let now = state.now();
    let on_behalf = user.account().org_id.is_none();
    let detail = format!(
        "变更：证书 {}{}{}",
        held.serial_hex.to_uppercase(),
        if checked.renames {
            format!("，单位名称变更为“{}”", checked.org_name)
        } else {
            String::new()
        },
        if checked.changes_legal_rep {
            "，法定代表人变更"
        } else {
            ""
        }
    );
    let created = with_fresh_order_number(now, |order_no| {
        let application = NewApplication {
            provider_id: source.provider_id,
            product_id: source.product_id,
            years: source.years,
            voucher_code: None,
            delivery_method: "online",
            form_json: &source.form_json,
        };
        let change = NewChange {
            org_name: &checked.org_name,
            renames: checked.renames,
            legal_rep_name: &checked.legal_rep_name,
            legal_rep_id_sealed: &id_sealed,
            legal_rep_mobile_sealed: &mobile_sealed,
            changes_legal_rep: checked.changes_legal_rep,
        };
        let detail = &detail;
        let certificate_id = held.certificate_id;
        let org_id = organisation.id;
        async move {
            state
                .store
                .create_change_order(
                    &NewOrder {
                        order_no: &order_no,
                        org_id,
                        kind: BusinessType::Change,
                        amount_fen: 0,
                        created_by: user.account().id,
                        on_behalf,
                        created_at: now,
                    },
                    &application,
                    &NewReplacement {
                        certificate_id,
                        reason: certdesk_domain::replacement::ReplacementReason::InformationChanged
                            .as_str(),
                        restore_encryption_key: false,
                    },
                    &change,
                    &certdesk_store::AuditNote {
                        at: now,
                        actor_account_id: Some(user.account().id),
                        actor_label: &user.account().username,
                        org_id: Some(org_id),
                        detail,
                    },
                )
                .await
        }
    })
    .await;
    match created {
        Err(certdesk_store::StoreError::Conflict("replacement")) => {
            Err(ChangeError::AlreadyChanging)
        }
        other => Ok(other?),
    }
}

async fn change_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<(Order, ChangeRequest), ChangeError> {
    let order = order_for(state, user, order_no, action).await?;
    if order.kind != BusinessType::Change {
        return Err(ChangeError::NotAChange);
    }
    let request = state
        .store
        .change_request(order.id)
        .await?
        .ok_or(ChangeError::NotAChange)?;
    Ok((order, request))
}

/// 提交 (or 修改后重新提交): the (new) legal representative passed the identity check and the
/// licence is uploaded.
async fn submit(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, ChangeError> {
    let (order, request) = change_for(state, user, order_no, Action::EditApplication).await?;
    let id_number = open(state, &request.legal_rep_id)?;
    if crate::identity::passed_identity_check(state, order.id, &id_number)
        .await?
        .is_none()
    {
        return Err(ChangeError::IdentityNotChecked);
    }
    if !state
        .store
        .order_uploads(order.id)
        .await?
        .iter()
        .any(|u| u.kind == UploadKind::BusinessLicence.as_str())
    {
        return Err(ChangeError::LicenceMissing);
    }
    let action = if order.status == OrderStatus::Rejected {
        OrderAction::EditAndResubmit
    } else {
        OrderAction::Submit
    };
    let (after, _) = crate::pipeline::act_on_order(state, Some(user), &order, action, "").await?;
    Ok(after)
}

/// 复审通过 of a 变更 (called by the review): the registration and the key's application are
/// updated with the step, in one transaction; the order goes to 制证中 for the new key pairs.
pub(crate) async fn approve(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    note: &str,
) -> Result<Order, ChangeError> {
    let request = state
        .store
        .change_request(order.id)
        .await?
        .ok_or(ChangeError::NotAChange)?;
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::ApproveSecond).await?;
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(ChangeError::NotAChange)?;
    let mut form = crate::applications::form_of(state, &application)?;
    form.organisation.name = request.org_name.clone();
    form.legal_rep.name = request.legal_rep_name.clone();
    form.legal_rep.id_number = open(state, &request.legal_rep_id)?;
    form.legal_rep.mobile = open(state, &request.legal_rep_mobile)?;
    form.delivery.method = "online".into();
    let form_json = crate::applications::sealed_form(state, &form)?;
    let told = if request.renames {
        format!("单位名称已变更为“{}”。{note}", request.org_name)
    } else {
        note.to_string()
    };
    let who = StepActor::of(Some(user), &step);
    if !state
        .store
        .apply_change(
            &who.record(state.now(), order, step, told.trim()),
            request.renames.then_some(request.org_name.as_str()),
            &form_json,
        )
        .await?
    {
        return Err(crate::pipeline::StepError::OrderChanged.into());
    }
    Ok(order.after(&step))
}

#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    pub order: OrderView,
    /// The key's signing certificate, upper-case hex.
    pub key_serial: String,
    /// The name the new certificate carries.
    pub org_name: String,
    pub renames: bool,
    pub legal_rep_name: String,
    /// Masked.
    pub legal_rep_id_number: String,
    pub legal_rep_mobile: String,
    pub changes_legal_rep: bool,
    /// The registration was updated (with the CA's approval), Beijing time.
    pub applied_at: Option<String>,
    /// The identity check of the (new) legal representative passed.
    pub confirmed: bool,
    pub licence_uploaded: bool,
    /// When the old certificates were revoked (once the new one was issued), Beijing time.
    pub replaced_at: Option<String>,
}

async fn change_view(
    state: &AppState,
    order: &Order,
    request: &ChangeRequest,
) -> Result<ChangeView, ChangeError> {
    let id_number = open(state, &request.legal_rep_id)?;
    let mobile = open(state, &request.legal_rep_mobile)?;
    let replaced = state.store.replacement_request(order.id).await?;
    Ok(ChangeView {
        order: OrderView::from(order),
        key_serial: replaced
            .as_ref()
            .map(|r| r.serial_hex.to_uppercase())
            .unwrap_or_default(),
        org_name: request.org_name.clone(),
        renames: request.renames,
        legal_rep_name: request.legal_rep_name.clone(),
        legal_rep_id_number: certdesk_domain::mask_resident_id(&id_number),
        legal_rep_mobile: certdesk_domain::mask_mobile(&mobile),
        changes_legal_rep: request.changes_legal_rep,
        applied_at: request.applied_at.map(crate::format_beijing),
        confirmed: crate::identity::passed_identity_check(state, order.id, &id_number)
            .await?
            .is_some(),
        licence_uploaded: state
            .store
            .order_uploads(order.id)
            .await?
            .iter()
            .any(|u| u.kind == UploadKind::BusinessLicence.as_str()),
        replaced_at: replaced
            .and_then(|r| r.replaced_at)
            .map(crate::format_beijing),
    })
}

/// For the order page: what the 变更 is, as (label, value).
pub(crate) async fn summary(
    state: &AppState,
    order: &Order,
) -> Result<Vec<(&'static str, String)>, ChangeError> {
    let Some(request) = state.store.change_request(order.id).await? else {
        return Ok(Vec::new());
    };
    let view = change_view(state, order, &request).await?;
    let mut rows = vec![("变更的CA锁", view.key_serial.clone())];
    if view.renames {
        rows.push(("新单位名称", view.org_name.clone()));
    }
    if view.changes_legal_rep {
        rows.push((
            "新法定代表人",
            format!("{} {}", view.legal_rep_name, view.legal_rep_id_number),
        ));
    }
    rows.push((
        "登记信息",
        match &view.applied_at {
            Some(at) => format!("已于 {at} 更新"),
            None => "CA审核通过后更新".into(),
        },
    ));
    rows.push((
        "加密文件",
        "变更后使用新的密钥，原加密文件需重新加密后再上传".into(),
    ));
    Ok(rows)
}

#[utoipa::path(post, path = "/api/v1/changes", request_body = ChangeRequestBody,
    responses((status = 201, body = ChangeView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ChangeRequestBody>,
) -> Result<(StatusCode, Json<ChangeView>), ApiError> {
    let order = create_change(&state, &user, &req).await?;
    let (order, request) = change_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok((
        StatusCode::CREATED,
        Json(change_view(&state, &order, &request).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/changes/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = ChangeView), (status = 404, body = ErrorBody)))]
pub(crate) async fn view_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<ChangeView>, ApiError> {
    let (order, request) = change_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(change_view(&state, &order, &request).await?))
}

#[utoipa::path(post, path = "/api/v1/changes/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = ChangeView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<ChangeView>, ApiError> {
    let order = submit(&state, &user, &order_no).await?;
    let request = state
        .store
        .change_request(order.id)
        .await
        .map_err(ChangeError::from)?
        .ok_or(ChangeError::NotAChange)?;
    Ok(Json(change_view(&state, &order, &request).await?))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, view_api, submit_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- the page -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "change.html")]
struct ChangePage {
    chrome: Chrome,
    keys: Vec<(String, String)>,
    chosen: String,
    registered_name: String,
    requests: Vec<ChangeView>,
    sandbox: Vec<crate::identity::SandboxNotice>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct KeyQuery {
    #[serde(default)]
    key: String,
}

async fn change_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<KeyQuery>,
) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    let page = async {
        let org_id = user
            .account()
            .org_id
            .ok_or(certdesk_domain::Refusal::Forbidden)?;
        let organisation = state
            .store
            .organisation_by_id(org_id)
            .await?
            .ok_or(ChangeError::NotAChange)?;
        let orders = state
            .store
            .orders(&certdesk_store::OrderFilter {
                org_id: Some(org_id),
                kind: Some(BusinessType::Change),
                limit: 20,
                ..Default::default()
            })
            .await?;
        let mut requests = Vec::with_capacity(orders.len());
        for order in &orders {
            if let Some(request) = state.store.change_request(order.id).await? {
                requests.push(change_view(&state, order, &request).await?);
            }
        }
        Ok::<_, ChangeError>(ChangePage {
            chrome: Chrome::new(&user, "ca_change"),
            keys: crate::issuance::key_choices(&state, org_id).await?,
            chosen: query.key.trim().to_uppercase(),
            registered_name: organisation.name,
            sandbox: crate::identity::sandbox_notices_of(&state, &orders),
            requests,
            notice: flash.notice,
            error: flash.error,
        })
    };
    match page.await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

const BACK: &str = "/ca/change";

async fn create_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    body: Bytes,
) -> Response {
    let form: ChangeRequestBody = form_fields(&body);
    let result = create_change(&state, &user, &form)
        .await
        .map(|order| {
            format!(
                "已生成变更业务单 {}：请上传变更后的营业执照，由法定代表人完成短信核验后提交",
                order.order_no
            )
        })
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, BACK, result, Slot::Error).await
}

async fn identity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let fields: crate::identity::MobileCheckForm = form_fields(&body);
    let result = async {
        let (_, request) = change_for(&state, &user, &order_no, Action::RunIdentityCheck).await?;
        let person = crate::identity::SealedPerson {
            name: &request.legal_rep_name,
            id_number: &request.legal_rep_id,
            mobile: &request.legal_rep_mobile,
        };
        Ok::<_, ChangeError>(
            crate::identity::mobile_check_from_page(&state, &user, &order_no, person, &fields)
                .await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, BACK, result, Slot::Error).await
}

async fn licence_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    request: Request,
) -> Response {
    let result = async {
        let (order, _) = change_for(&state, &user, &order_no, Action::EditApplication).await?;
        Ok::<_, ChangeError>(
            crate::applications::store_page_licence(&state, &order, request).await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, BACK, result, Slot::Error).await
}

async fn submit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let told = submit(&state, &user, &order_no)
        .await
        .map(|o| format!("变更申请 {} 已提交，等待平台审核（1个工作日）", o.order_no))
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, BACK, told, Slot::Error).await
}
