//! 新办 / CA证书申领: starting an application, filling it in as a draft, uploading its
//! documents, and submitting it for initial review (or resubmitting it after a rejection).
//! Pages and API share one service function per step.

mod terms;
pub use terms::{setting_name as terms_setting_name, TERMS};
mod error;

pub(crate) use error::ApplicationError;

use crate::identity::IdentityError;
use crate::pipeline::registered_organisation;
use crate::pipeline::{checked_step, CheckedStep, OrderView, StepActor};
use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::error::{Failure, FeatureError};
use crate::web::extract::{Form, Path, Query};
use crate::web::flash::Slot;
use crate::web::pages::PageFailure;
use crate::web::pages::{form_fields, render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::application::{
    ApplicationForm, DeliveryChoice, DeliveryPart, FieldError, OrganisationPart, PersonPart,
    ORGANISATION_TYPES,
};
use certdesk_domain::{
    mask_resident_id, Action, BusinessType, OrderAction, OrderStatus, UploadKind,
};
use certdesk_store::{
    FixedPrice, NewApplication, NewOrder, Order, OrderUpload, Redemption, Submission, UploadError,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/apply", ApplyForCertificate, apply_page)
        .post("/ca/apply", ApplyForCertificate, start_page)
        .get("/orders/{order_no}/edit", EditApplication, edit_page)
        .post("/orders/{order_no}/edit", EditApplication, save_page)
        .post(
            "/orders/{order_no}/uploads/{kind}",
            EditApplication,
            Handler::layer(
                upload_page,
                DefaultBodyLimit::max(crate::UPLOAD_PAGE_BODY_LIMIT),
            ),
        )
        .get(
            "/orders/{order_no}/uploads/{kind}",
            ViewOrderDocument,
            download_upload,
        )
        .get(
            "/orders/{order_no}/authorisation-letter",
            EditApplication,
            authorisation_letter,
        )
        .get("/terms/{document}", ReadTerms, terms::terms_page)
        .post(
            "/orders/{order_no}/identity/{method}",
            RunIdentityCheck,
            identity_page,
        )
        .post(
            "/orders/{order_no}/identity-photo",
            RunIdentityCheck,
            Handler::layer(
                face_page,
                DefaultBodyLimit::max(crate::UPLOAD_PAGE_BODY_LIMIT),
            ),
        )
        .post("/api/v1/applications", ApplyForCertificate, create_api)
        .put(
            "/api/v1/applications/{order_no}",
            EditApplication,
            update_api,
        )
        .get(
            "/api/v1/applications/{order_no}",
            ViewOrder,
            application_api,
        )
        .post(
            "/api/v1/applications/{order_no}/submit",
            EditApplication,
            submit_api,
        )
        .post(
            "/api/v1/applications/{order_no}/uploads/{kind}",
            EditApplication,
            Handler::layer(upload_api, DefaultBodyLimit::max(crate::UPLOAD_BODY_LIMIT)),
        )
}

// --- the service steps ----------------------------------------------------------------------

/// What the application needs to know of the product chosen, and what it costs.
pub(crate) struct ChosenProduct {
    pub provider_id: i64,
    pub product_id: i64,
    pub years: i64,
    pub voucher: Option<String>,
    pub amount_fen: i64,
    pub delivery: DeliveryChoice,
    /// The product's key algorithm: which issuing CA makes the certificate.
    pub algorithm: certdesk_domain::KeyAlgorithm,
    /// The price took 首张免费.
    pub first_free: bool,
}

/// Prices the product for the organisation (首张免费, the voucher) without redeeming anything.
async fn choose_product(
    state: &AppState,
    org_id: i64,
    product_id: i64,
    years: i64,
    voucher: Option<&str>,
    order_id: Option<i64>,
) -> Result<ChosenProduct, ApplicationError> {
    let voucher = voucher.map(str::trim).filter(|v| !v.is_empty());
    let (product, quote) = crate::products::price_order(
        state,
        &crate::products::OrderPricing {
            org_id,
            product_id,
            years: u32::try_from(years).unwrap_or(0),
            sub_certificates: 0,
            voucher,
            order_id,
            now: state.now(),
        },
    )
    .await?;
    if !product.spec.active {
        return Err(ApplicationError::ProductInactive);
    }
    Ok(ChosenProduct {
        provider_id: product.provider_id,
        product_id: product.id,
        years,
        voucher: voucher.map(str::to_string),
        amount_fen: quote.amount_due_fen,
        first_free: quote
            .discounts
            .iter()
            .any(|d| d.kind == certdesk_domain::product::DiscountKind::FirstFree),
        algorithm: product.spec.algorithm,
        delivery: if product.spec.medium == certdesk_domain::product::Medium::Mobile {
            DeliveryChoice::Mobile
        } else {
            DeliveryChoice::UKey
        },
    })
}

/// The form saved with an application: JSON of [`ApplicationForm`], kept as typed and sealed
/// under the data key (rows saved before sealing are plain JSON, and still read).
pub(crate) fn form_of(
    state: &AppState,
    application: &certdesk_store::Application,
) -> Result<ApplicationForm, ApplicationError> {
    let json = if certdesk_pki::PersonalDataKey::is_sealed(&application.form_json) {
        state
            .config
            .personal_data
            .open(&application.form_json)
            .map_err(|e| ApplicationError::Inconsistent(format!("the saved form: {e}")))?
    } else {
        application.form_json.clone()
    };
    serde_json::from_str(&json).map_err(|e| ApplicationError::Inconsistent(e.to_string()))
}

/// A form as it is saved: its JSON sealed under the data key (it holds ID numbers, mobiles and
/// bank cards).
pub(crate) fn sealed_form(
    state: &AppState,
    form: &ApplicationForm,
) -> Result<String, ApplicationError> {
    let json =
        serde_json::to_string(form).map_err(|e| ApplicationError::Inconsistent(e.to_string()))?;
    state
        .config
        .personal_data
        .seal(&json)
        .map_err(|e| ApplicationError::Inconsistent(format!("sealing the form: {e}")))
}

/// An order's application and its form; an order without one answers 404.
pub(crate) async fn application_of(
    state: &AppState,
    order: &Order,
) -> Result<(certdesk_store::Application, ApplicationForm), ApplicationError> {
    // Only a 新办's application is edited and submitted here (补办 copies one it never edits).
    if order.kind != certdesk_domain::BusinessType::NewCertificate {
        return Err(ApplicationError::NotFound);
    }
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    let form = form_of(state, &application)?;
    Ok((application, form))
}

/// The organisation an acting user applies for (新办, 续费, 补办, 变更): its own, or (an
/// operator's 代办) the one named by its credit code.
pub(crate) async fn applying_org(
    state: &AppState,
    user: &CurrentUser,
    for_credit_code: Option<&str>,
) -> Result<i64, ApplicationError> {
    if let Some(org_id) = user.account().org_id {
        return Ok(org_id);
    }
    let code = for_credit_code.map(str::trim).unwrap_or("");
    if code.is_empty() {
        return Err(ApplicationError::OrganisationRequired);
    }
    let org = state
        .store
        .organisation_by_credit_code(code)
        .await?
        .ok_or(ApplicationError::OrganisationUnknown)?;
    Ok(org.id)
}

/// Starts a draft: the order (草稿) and its application, with the organisation's name and
/// credit code filled in from its registration.
pub(crate) async fn start_application(
    state: &AppState,
    user: &CurrentUser,
    org_id: i64,
    product_id: i64,
    years: i64,
    voucher: Option<&str>,
    form: Option<ApplicationForm>,
) -> Result<Order, ApplicationError> {
    require(
        user,
        Action::ApplyForCertificate,
        relation_to(user, None, Some(org_id)),
    )?;
    let chosen = choose_product(state, org_id, product_id, years, voucher, None).await?;
    let org = state
        .store
        .organisation_by_id(org_id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    let mut form = form.unwrap_or_default().normalised();
    if form.organisation.name.is_empty() {
        form.organisation.name = org.name.clone();
    }
    if form.organisation.credit_code.is_empty() {
        form.organisation.credit_code = org.credit_code.clone();
    }
    if form.delivery.method.is_empty() && chosen.delivery == DeliveryChoice::Mobile {
        form.delivery.method = "online".into();
    }
    let form_json = sealed_form(state, &form)?;
    let now = state.now();
    let on_behalf = user.account().org_id.is_none();
    let detail = format!(
        "新建申请草稿：产品 {}，{}年{}",
        chosen.product_id,
        chosen.years,
        if on_behalf {
            "（操作员代办）"
        } else {
            ""
        }
    );
    let (chosen, form, form_json, detail) = (&chosen, &form, &form_json, &detail);
    let created = crate::pipeline::with_fresh_order_number(now, |order_no| async move {
        state
            .store
            .create_application_order(
                &NewOrder {
                    order_no: &order_no,
                    org_id,
                    kind: BusinessType::NewCertificate,
                    amount_fen: chosen.amount_fen,
                    created_by: user.account().id,
                    on_behalf,
                    created_at: now,
                },
                &NewApplication {
                    provider_id: chosen.provider_id,
                    product_id: chosen.product_id,
                    years: chosen.years,
                    voucher_code: chosen.voucher.as_deref(),
                    delivery_method: &form.delivery.method,
                    form_json,
                },
                &crate::web::audit_trail::note_by(state, user.account(), detail),
            )
            .await
    })
    .await?;
    Ok(created)
}

/// Loads an order of kind 新办 the user may edit, or the reason it may not be edited.
async fn editable_order(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, ApplicationError> {
    let order = crate::pipeline::order_for(state, user, order_no, Action::EditApplication).await?;
    if !order.status.is_editable() {
        return Err(ApplicationError::NotEditable(order.status));
    }
    Ok(order)
}

/// Saves the form (and product, period, voucher) of a draft or rejected application. A draft
/// keeps what was typed, right or wrong; the rules are checked on submitting.
pub(crate) async fn save_application(
    state: &AppState,
    order: &Order,
    product_id: i64,
    years: i64,
    voucher: Option<&str>,
    form: ApplicationForm,
) -> Result<(), ApplicationError> {
    let chosen = choose_product(
        state,
        order.org_id,
        product_id,
        years,
        voucher,
        Some(order.id),
    )
    .await?;
    let form = form.normalised();
    let form_json = sealed_form(state, &form)?;
    let changed = state
        .store
        .update_application(
            order.id,
            chosen.amount_fen,
            &NewApplication {
                provider_id: chosen.provider_id,
                product_id: chosen.product_id,
                years: chosen.years,
                voucher_code: chosen.voucher.as_deref(),
                delivery_method: &form.delivery.method,
                form_json: &form_json,
            },
            state.now(),
        )
        .await?;
    if !changed {
        return Err(crate::pipeline::StepError::OrderChanged.into());
    }
    Ok(())
}

/// Why an application cannot be submitted: the usual error, and every field and document that
/// is missing or wrong.
#[derive(Serialize, ToSchema)]
pub struct SubmitRefusal {
    pub error: crate::web::error::ErrorDetail,
    pub field_errors: Vec<FieldErrorView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorView {
    pub field: String,
    pub message: String,
}

impl From<FieldError> for FieldErrorView {
    fn from(e: FieldError) -> Self {
        FieldErrorView {
            field: e.field,
            message: e.message,
        }
    }
}

/// An application as it would be submitted: what it says, its price today, and everything
/// wrong with it before it may go to review (the form's rules, the documents, the identity
/// check).
struct SubmissionCheck {
    application: certdesk_store::Application,
    chosen: ChosenProduct,
    problems: Vec<FieldErrorView>,
}

async fn check_submission(
    state: &AppState,
    order: &Order,
) -> Result<SubmissionCheck, ApplicationError> {
    let (application, form) = application_of(state, order).await?;
    let chosen = choose_product(
        state,
        order.org_id,
        application.product_id,
        application.years,
        application.voucher_code.as_deref(),
        Some(order.id),
    )
    .await?;
    let mut field_errors = form.validate(chosen.delivery);
    let registered = registered_organisation(state, order).await?;
    for problem in form.registered_organisation_problems(&registered.name, &registered.credit_code)
    {
        // One message per field: a malformed code is told first.
        if !field_errors.iter().any(|e| e.field == problem.field) {
            field_errors.push(problem);
        }
    }
    let mut problems: Vec<FieldErrorView> =
        field_errors.into_iter().map(FieldErrorView::from).collect();
    // The years must be ones the CA can still issue: allowed, and within the issuing CA's
    // remaining life (a product made before a CA change may no longer fit).
    let years = u32::try_from(application.years).unwrap_or(0);
    if let Err(e) = crate::products::check_years(state, chosen.algorithm, years) {
        problems.push(FieldErrorView {
            field: "years".into(),
            message: format!("所选有效期不能签发：{e}"),
        });
    }
    let uploads = state.store.order_uploads(order.id).await?;
    for kind in UploadKind::ALL {
        if !uploads.iter().any(|u| u.kind == kind.as_str()) {
            problems.push(FieldErrorView {
                field: format!("uploads.{}", kind.as_str()),
                message: format!(
                    "请上传{}（加盖公章，JPG/PNG/BMP，不超过5MB）",
                    kind.label_zh()
                ),
            });
        }
    }
    if let Some(problem) = identity_problem(state, order, &form.legal_rep.id_number).await? {
        problems.push(FieldErrorView {
            field: "identity".into(),
            message: problem,
        });
    }
    Ok(SubmissionCheck {
        application,
        chosen,
        problems,
    })
}

/// Submits a draft (提交审核) or resubmits a rejected application (修改后重新提交).
pub(crate) async fn submit_application(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
) -> Result<Result<OrderStatus, Vec<FieldErrorView>>, ApplicationError> {
    let SubmissionCheck {
        application,
        chosen,
        problems,
    } = check_submission(state, order).await?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let action = if order.status == OrderStatus::Rejected {
        OrderAction::EditAndResubmit
    } else {
        OrderAction::Submit
    };
    // The price is fixed now, at today's prices: a draft saved before a price change, or
    // before the organisation's first certificate was issued (首张免费), is priced again.
    let voucher = match application
        .voucher_code
        .as_deref()
        .map(str::trim)
        .filter(|code| !code.is_empty())
    {
        Some(code) => match certdesk_domain::product::normalise_voucher_code(code) {
            Some(normalised) => Some(normalised),
            None => {
                return Ok(Err(vec![FieldErrorView {
                    field: "voucher".into(),
                    message: crate::products::voucher_refusal(code, &Redemption::UnknownCode),
                }]))
            }
        },
        None => None,
    };
    let CheckedStep { step, .. } = checked_step(state, Some(user), order, action).await?;
    let who = StepActor::of(Some(user), &step);
    // The step, the price, 首张免费 and the voucher are written together or not at all: a
    // refusal leaves nothing to give back.
    let submitted = state
        .store
        .submit_order(
            &who.record(state.now(), order, step, ""),
            &FixedPrice {
                amount_fen: chosen.amount_fen,
                first_free: chosen.first_free,
                voucher_code: voucher.as_deref(),
            },
        )
        .await?;
    match submitted {
        Submission::Submitted { .. } => Ok(Ok(step.to())),
        Submission::OrderChanged => Err(crate::pipeline::StepError::OrderChanged.into()),
        // Of two applications submitted in the same instant, one takes it and the other is
        // told to submit again (and is then priced in full).
        Submission::FirstFreeTaken => Err(ApplicationError::FirstFreeTaken),
        Submission::VoucherRefused(refusal) => {
            let code = voucher.unwrap_or_default();
            Ok(Err(vec![FieldErrorView {
                field: "voucher".into(),
                message: crate::products::voucher_refusal(&code, &refusal),
            }]))
        }
    }
}

/// The business licence of an after-issuance order (变更, an expired certificate's 续费) from a
/// page's multipart form (its `file` field), while the order may still be edited; answers what
/// to tell the user. The caller has checked that the order is its kind and the user may edit it.
pub(crate) async fn store_page_licence(
    state: &AppState,
    order: &Order,
    request: axum::extract::Request,
) -> Result<String, ApplicationError> {
    if !order.status.is_editable() {
        return Err(ApplicationError::NotEditable(order.status));
    }
    let multipart = crate::web::upload::open_page_upload(request, state)
        .await
        .map_err(ApplicationError::UploadFormInvalid)?;
    let mut sent = crate::web::upload::read_page_upload(multipart, &["file"]).await;
    let file = sent
        .take_file(&["file"])
        .map_err(ApplicationError::UploadFormInvalid)?;
    store_upload(
        state,
        order,
        UploadKind::BusinessLicence,
        &file.name,
        &file.bytes,
    )
    .await?;
    Ok(format!("{}已上传", UploadKind::BusinessLicence.label_zh()))
}

/// Checks an uploaded document and keeps it for the order; a refused file leaves nothing.
pub(crate) async fn store_upload(
    state: &AppState,
    order: &Order,
    kind: UploadKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<OrderUpload, ApplicationError> {
    let stored = crate::web::upload::keep_image(state, file_name, bytes.to_vec())
        .await
        .map_err(|e| match e {
            UploadError::Refused(refusal) => ApplicationError::UploadRefused(refusal),
            UploadError::Store(err) => ApplicationError::Store(err),
        })?;
    let upload = OrderUpload {
        kind: kind.as_str().to_string(),
        blob_id: stored.id.as_str().to_string(),
        file_name: certdesk_domain::upload::display_file_name(file_name),
        format: stored.format.label().to_string(),
        size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
        uploaded_at: state.now(),
    };
    let previous = match state.store.put_order_upload(order.id, &upload).await {
        Ok(previous) => previous,
        Err(err) => {
            crate::web::upload::forget_blob_if_unused(state, &upload.blob_id).await;
            return Err(err.into());
        }
    };
    // The replaced file goes when nothing else refers to it (it was read in the same
    // transaction that replaced it: parallel uploads each remove their own predecessor).
    if let Some(previous) = previous.filter(|p| *p != upload.blob_id) {
        crate::web::upload::forget_blob_if_unused(state, &previous).await;
    }
    Ok(upload)
}

fn upload_kind(kind: &str) -> Result<UploadKind, ApplicationError> {
    kind.parse::<UploadKind>()
        .map_err(|_| ApplicationError::UnknownUploadKind(kind.to_string()))
}

// --- API ------------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    #[serde(default)]
    pub product_id: i64,
    #[serde(default)]
    pub years: i64,
    #[serde(default)]
    pub voucher: Option<String>,
    /// 操作员代办: the credit code of the organisation applied for.
    #[serde(default)]
    pub for_credit_code: Option<String>,
    /// The form as far as it is filled in.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: Option<ApplicationForm>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    pub order: OrderView,
    pub product_id: i64,
    pub years: i64,
    pub voucher: Option<String>,
    /// The form; ID numbers masked.
    #[schema(value_type = Object)]
    pub form: ApplicationForm,
    pub uploads: Vec<UploadView>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadView {
    pub kind: String,
    pub label: String,
    pub file_name: String,
    pub format: String,
    pub size_bytes: i64,
}

async fn application_view(
    state: &AppState,
    order: &Order,
) -> Result<ApplicationView, ApplicationError> {
    let (application, mut form) = application_of(state, order).await?;
    for person in [&mut form.legal_rep, &mut form.handler] {
        if !person.id_number.is_empty() {
            person.id_number = mask_resident_id(&person.id_number);
        }
    }
    let uploads = state
        .store
        .order_uploads(order.id)
        .await?
        .into_iter()
        .map(|u| UploadView {
            label: u
                .kind
                .parse::<UploadKind>()
                .map(|k| k.label_zh().to_string())
                .unwrap_or_default(),
            kind: u.kind,
            file_name: u.file_name,
            format: u.format,
            size_bytes: u.size_bytes,
        })
        .collect();
    Ok(ApplicationView {
        order: OrderView::from(order),
        product_id: application.product_id,
        years: application.years,
        voucher: application.voucher_code,
        form,
        uploads,
    })
}

/// Starts a new-certificate application (草稿).
#[utoipa::path(post, path = "/api/v1/applications", request_body = ApplicationRequest,
    responses((status = 201, body = ApplicationView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<ApplicationRequest>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    let org_id = applying_org(&state, &user, req.for_credit_code.as_deref()).await?;
    let order = start_application(
        &state,
        &user,
        org_id,
        req.product_id,
        req.years,
        req.voucher.as_deref(),
        req.form,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(application_view(&state, &order).await?),
    ))
}

/// The application of an order, ID numbers masked.
#[utoipa::path(get, path = "/api/v1/applications/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = ErrorBody)))]
pub(crate) async fn application_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    let order = crate::pipeline::order_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(application_view(&state, &order).await?))
}

/// Saves a draft or rejected application.
#[utoipa::path(put, path = "/api/v1/applications/{order_no}", params(("order_no" = String, Path)), request_body = ApplicationRequest,
    responses((status = 200, body = ApplicationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<ApplicationRequest>,
) -> Result<Json<ApplicationView>, ApiError> {
    let order = editable_order(&state, &user, &order_no).await?;
    save_application(
        &state,
        &order,
        req.product_id,
        req.years,
        req.voucher.as_deref(),
        req.form.unwrap_or_default(),
    )
    .await?;
    let order = state
        .store
        .order_by_no(&order_no)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    Ok(Json(application_view(&state, &order).await?))
}

/// Submits the application for initial review; 422 with every wrong field when it is not
/// complete.
#[utoipa::path(post, path = "/api/v1/applications/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = SubmitRefusal)))]
pub(crate) async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Response, ApiError> {
    let order = editable_order(&state, &user, &order_no).await?;
    match submit_application(&state, &user, &order).await? {
        Ok(_) => {
            // As it stands now: priced again (and perhaps moved on already).
            let order = state
                .store
                .order_by_no(&order_no)
                .await?
                .ok_or(ApplicationError::NotFound)?;
            Ok(Json(OrderView::from(&order)).into_response())
        }
        Err(problems) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(SubmitRefusal {
                error: crate::web::error::ErrorDetail {
                    code: "application_incomplete".into(),
                    message: format!("申请资料还有{}处需要补充或更正", problems.len()),
                },
                field_errors: problems,
            }),
        )
            .into_response()),
    }
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    #[serde(default)]
    file_name: Option<String>,
}

/// Uploads one document of the application as the raw request body (`?file_name=` names it).
#[utoipa::path(post, path = "/api/v1/applications/{order_no}/uploads/{kind}",
    params(("order_no" = String, Path), ("kind" = String, Path), ("file_name" = Option<String>, Query)),
    responses((status = 201, body = UploadView), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn upload_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((order_no, kind)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let body = body.map_err(|_| ApplicationError::UploadTooLarge)?;
    let order = editable_order(&state, &user, &order_no).await?;
    let kind = upload_kind(&kind)?;
    let file_name = query
        .file_name
        .unwrap_or_else(|| kind.label_zh().to_string());
    let upload = store_upload(&state, &order, kind, &file_name, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadView {
            label: kind.label_zh().to_string(),
            kind: upload.kind,
            file_name: upload.file_name,
            format: upload.format,
            size_bytes: upload.size_bytes,
        }),
    ))
}

/// A document of an application, for the organisation and the reviewers.
async fn download_upload(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, kind)): Path<(String, String)>,
) -> Result<Response, PageFailure> {
    let order =
        crate::pipeline::order_for(&state, &user, &order_no, Action::ViewOrderDocument).await?;
    let upload = state
        .store
        .order_uploads(order.id)
        .await?
        .into_iter()
        .find(|u| u.kind == kind)
        .ok_or(ApplicationError::NotFound)?;
    crate::web::upload::stored_image(&state, &upload.blob_id)
        .await?
        .ok_or(ApplicationError::NotFound.into())
}

// --- pages ----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "apply.html")]
struct ApplyPage {
    chrome: Chrome,
    products: Vec<crate::products::ProductChoice>,
    error: Option<String>,
    is_staff: bool,
}

async fn apply_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    apply_page_with(&state, &user, None, StatusCode::OK).await
}

async fn apply_page_with(
    state: &AppState,
    user: &CurrentUser,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let products = match crate::products::choices(state).await {
        Ok(products) => products,
        Err(err) => return PageFailure::from(err).into_page(),
    };
    render(
        &ApplyPage {
            chrome: Chrome::new(user, "ca_apply"),
            products,
            error,
            is_staff: user.account().org_id.is_none(),
        },
        status,
    )
}

#[derive(Deserialize)]
struct StartForm {
    product_id: String,
    years: String,
    #[serde(default)]
    for_credit_code: String,
}

async fn start_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<StartForm>,
) -> Response {
    let (Ok(product_id), Ok(years)) = (form.product_id.parse(), form.years.parse()) else {
        return apply_page_with(
            &state,
            &user,
            Some("请选择产品和有效期".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let started = async {
        let org_id = applying_org(&state, &user, Some(&form.for_credit_code)).await?;
        start_application(&state, &user, org_id, product_id, years, None, None).await
    }
    .await;
    match started {
        Ok(order) => Redirect::to(&format!("/orders/{}/edit", order.order_no)).into_response(),
        Err(err) if PageFailure::from_kind(err.failure()).belongs_on_the_page() => {
            let status = err.failure().status();
            apply_page_with(&state, &user, Some(err.to_string()), status).await
        }
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

/// The form's fields as the page posts them (flat names).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EditForm {
    intent: String,
    product_id: String,
    years: String,
    voucher: String,
    org_name: String,
    credit_code: String,
    org_type: String,
    org_address: String,
    org_phone: String,
    registration_place: String,
    lr_name: String,
    lr_id_number: String,
    lr_mobile: String,
    lr_email: String,
    h_name: String,
    h_id_number: String,
    h_mobile: String,
    h_email: String,
    delivery_method: String,
    recipient: String,
    recipient_phone: String,
    delivery_address: String,
    terms_accepted: Option<String>,
}

impl EditForm {
    fn of(form: &ApplicationForm, product_id: i64, years: i64, voucher: Option<&str>) -> Self {
        EditForm {
            intent: String::new(),
            product_id: product_id.to_string(),
            years: years.to_string(),
            voucher: voucher.unwrap_or_default().to_string(),
            org_name: form.organisation.name.clone(),
            credit_code: form.organisation.credit_code.clone(),
            org_type: form.organisation.org_type.clone(),
            org_address: form.organisation.address.clone(),
            org_phone: form.organisation.phone.clone(),
            registration_place: form.organisation.registration_place.clone(),
            lr_name: form.legal_rep.name.clone(),
            lr_id_number: form.legal_rep.id_number.clone(),
            lr_mobile: form.legal_rep.mobile.clone(),
            lr_email: form.legal_rep.email.clone(),
            h_name: form.handler.name.clone(),
            h_id_number: form.handler.id_number.clone(),
            h_mobile: form.handler.mobile.clone(),
            h_email: form.handler.email.clone(),
            delivery_method: form.delivery.method.clone(),
            recipient: form.delivery.recipient.clone(),
            recipient_phone: form.delivery.phone.clone(),
            delivery_address: form.delivery.address.clone(),
            terms_accepted: form.terms_accepted.then(|| "on".to_string()),
        }
    }

    fn to_form(&self) -> ApplicationForm {
        ApplicationForm {
            organisation: OrganisationPart {
                name: self.org_name.clone(),
                credit_code: self.credit_code.clone(),
                org_type: self.org_type.clone(),
                address: self.org_address.clone(),
                phone: self.org_phone.clone(),
                registration_place: self.registration_place.clone(),
            },
            legal_rep: PersonPart {
                name: self.lr_name.clone(),
                id_number: self.lr_id_number.clone(),
                mobile: self.lr_mobile.clone(),
                email: self.lr_email.clone(),
            },
            handler: PersonPart {
                name: self.h_name.clone(),
                id_number: self.h_id_number.clone(),
                mobile: self.h_mobile.clone(),
                email: self.h_email.clone(),
            },
            delivery: DeliveryPart {
                method: self.delivery_method.clone(),
                recipient: self.recipient.clone(),
                phone: self.recipient_phone.clone(),
                address: self.delivery_address.clone(),
            },
            terms_accepted: self.terms_accepted.is_some(),
        }
    }
}

/// The page's field name for a form path (`legal_rep.id_number` → `lr_id_number`).
fn page_field(path: &str) -> String {
    let (part, field) = path.split_once('.').unwrap_or((path, ""));
    match (part, field) {
        ("organisation", "name") => "org_name".into(),
        ("organisation", "address") => "org_address".into(),
        ("organisation", "phone") => "org_phone".into(),
        ("organisation", f) => f.into(),
        ("legal_rep", f) => format!("lr_{f}"),
        ("handler", f) => format!("h_{f}"),
        ("delivery", "method") => "delivery_method".into(),
        ("delivery", "phone") => "recipient_phone".into(),
        ("delivery", "address") => "delivery_address".into(),
        ("delivery", f) => f.into(),
        ("uploads", kind) => format!("upload_{kind}"),
        ("voucher", _) => "product".into(),
        (other, _) => other.into(),
    }
}

pub(crate) struct UploadSlot {
    pub kind: &'static str,
    pub label: &'static str,
    pub uploaded: Option<String>,
}

#[derive(Template)]
#[template(path = "application.html")]
struct EditPage {
    chrome: Chrome,
    order: OrderView,
    rejection: Option<String>,
    form: EditForm,
    products: Vec<crate::products::ProductChoice>,
    org_types: [&'static str; 5],
    uploads: Vec<UploadSlot>,
    errors: HashMap<String, String>,
    error_count: usize,
    notice: Option<String>,
    /// Why the last upload was refused, and of which document (shown beside its row).
    upload_error: Option<(String, String)>,
    identity: IdentityPanel,
    /// How the amount is made: the list price, then each discount (首张免费, 子证书, 抵扣券).
    price_lines: Vec<String>,
}

impl EditPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

async fn edit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Result<Response, PageFailure> {
    let order = match editable_order(&state, &user, &order_no).await {
        Ok(order) => order,
        // Back (or a bookmark) to a form already submitted: the order, saying why.
        Err(err @ ApplicationError::NotEditable(_)) => {
            crate::web::flash::put(&state, &user, Slot::Notice, &err.to_string()).await;
            return Ok(Redirect::to(&format!("/orders/{order_no}")).into_response());
        }
        Err(err) => return Err(err.into()),
    };
    let (application, form) = application_of(&state, &order).await?;
    let fields = EditForm::of(
        &form,
        application.product_id,
        application.years,
        application.voucher_code.as_deref(),
    );
    edit_page_with(
        &state,
        &user,
        &order,
        fields,
        Vec::new(),
        PageMessages::from(crate::web::flash::take(&state, &user).await),
        StatusCode::OK,
    )
    .await
}

/// Between an upload refusal's document kind and its message in the session's notice.
const UPLOAD_KIND_SEPARATOR: char = '\u{1f}';

/// What the page says above its sections after a redirect (the session's one-time notices).
#[derive(Default)]
struct PageMessages {
    notice: Option<String>,
    /// (document kind, why its upload was refused).
    upload_error: Option<(String, String)>,
    identity_error: Option<String>,
}

impl From<crate::web::flash::Flash> for PageMessages {
    fn from(flash: crate::web::flash::Flash) -> Self {
        PageMessages {
            // An error of the whole form (none is put today) reads as the notice's place.
            notice: flash.notice.or(flash.error),
            upload_error: flash.upload_error.map(|stored| {
                match stored.split_once(UPLOAD_KIND_SEPARATOR) {
                    Some((kind, message)) => (kind.to_string(), message.to_string()),
                    None => (String::new(), stored),
                }
            }),
            identity_error: flash.identity_error,
        }
    }
}

/// The form shown again with what is wrong in it (422), nothing else said.
async fn form_again(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    fields: EditForm,
    problems: Vec<FieldErrorView>,
) -> Result<Response, PageFailure> {
    edit_page_with(
        state,
        user,
        order,
        fields,
        problems,
        PageMessages::default(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn edit_page_with(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    form: EditForm,
    problems: Vec<FieldErrorView>,
    messages: PageMessages,
    status: StatusCode,
) -> Result<Response, PageFailure> {
    let PageMessages {
        notice,
        upload_error,
        identity_error,
    } = messages;
    let uploads = state.store.order_uploads(order.id).await?;
    let slots = UploadKind::ALL
        .into_iter()
        .map(|kind| UploadSlot {
            kind: kind.as_str(),
            label: kind.label_zh(),
            uploaded: uploads.iter().find(|u| u.kind == kind.as_str()).map(|u| {
                format!(
                    "{}（{}，{} KB）",
                    u.file_name,
                    u.format,
                    (u.size_bytes + 1023) / 1024
                )
            }),
        })
        .collect();
    let rejection = if order.status == OrderStatus::Rejected {
        state
            .store
            .order_events(order.id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.to_status == OrderStatus::Rejected)
            .map(|e| e.note)
    } else {
        None
    };
    let errors: HashMap<String, String> = problems
        .iter()
        .map(|p| (page_field(&p.field), p.message.clone()))
        .collect();
    let mut identity = identity_panel(state, user, order).await?;
    identity.error = identity_error;
    let price_lines = price_lines(state, order, &form).await;
    Ok(render(
        &EditPage {
            chrome: Chrome::new(user, "ca_apply"),
            order: OrderView::from(order),
            rejection,
            form,
            products: crate::products::choices(state).await?,
            org_types: ORGANISATION_TYPES,
            uploads: slots,
            error_count: problems.len(),
            errors,
            notice,
            upload_error,
            identity,
            price_lines,
        },
        status,
    ))
}

/// The 授权委托书 to print, sign, stamp and upload, filled in from the saved form.
#[derive(Template)]
#[template(path = "authorisation_letter.html")]
struct AuthorisationLetter {
    platform: &'static str,
    org_name: String,
    credit_code: String,
    legal_rep: String,
    handler: String,
    handler_id: String,
}

async fn authorisation_letter(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Result<Response, PageFailure> {
    let order = editable_order(&state, &user, &order_no).await?;
    let (_, form) = application_of(&state, &order).await?;
    Ok(render(
        &AuthorisationLetter {
            platform: crate::web::pages::platform_name(),
            org_name: form.organisation.name.clone(),
            credit_code: form.organisation.credit_code.clone(),
            legal_rep: form.legal_rep.name.clone(),
            handler: form.handler.name.clone(),
            handler_id: form.handler.id_number.clone(),
        },
        StatusCode::OK,
    ))
}

/// The quote behind the amount shown on the form, line by line, so that ¥0.00 says why (首张
/// 免费) and a second certificate says it is priced as a 子证书; none when the form names no
/// product it can be priced for.
async fn price_lines(state: &AppState, order: &Order, form: &EditForm) -> Vec<String> {
    let (Ok(product_id), Ok(years)) = (form.product_id.parse(), form.years.parse()) else {
        return Vec::new();
    };
    let voucher = Some(form.voucher.trim()).filter(|v| !v.is_empty());
    let priced = crate::products::price_order(
        state,
        &crate::products::OrderPricing {
            org_id: order.org_id,
            product_id,
            years,
            sub_certificates: 0,
            voucher,
            order_id: Some(order.id),
            now: state.now(),
        },
    )
    .await;
    let Ok((_, quote)) = priced else {
        return Vec::new();
    };
    let yuan = certdesk_domain::product::yuan;
    let mut lines = vec![format!(
        "标准价 ¥{}/年 × {}年 = ¥{}",
        yuan(quote.price_per_year_fen),
        quote.years,
        yuan(quote.list_price_fen)
    )];
    lines.extend(
        quote
            .discounts
            .iter()
            .map(|d| format!("{}：-¥{}", d.label, yuan(d.amount_fen))),
    );
    lines
}

/// Saves the form's fields as the draft. The product, period and voucher decide the price: a
/// problem with them is answered for the product section, and nothing is saved.
async fn save_fields(
    state: &AppState,
    order: &Order,
    fields: &EditForm,
) -> Result<Result<(), Vec<FieldErrorView>>, PageFailure> {
    let saved = match (fields.product_id.parse(), fields.years.parse()) {
        (Ok(product_id), Ok(years)) => {
            let voucher = Some(fields.voucher.trim()).filter(|v| !v.is_empty());
            match save_application(state, order, product_id, years, voucher, fields.to_form()).await
            {
                Ok(()) => Ok(()),
                Err(err) if err.failure() == Failure::Invalid => Err(err.to_string()),
                Err(err) => return Err(err.into()),
            }
        }
        _ => Err("请选择产品和有效期".to_string()),
    };
    Ok(saved.map_err(|message| {
        vec![FieldErrorView {
            field: "product".into(),
            message,
        }]
    }))
}

async fn save_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Result<Response, PageFailure> {
    let order = editable_order(&state, &user, &order_no).await?;
    let fields: EditForm = form_fields(&body);
    if let Err(problems) = save_fields(&state, &order, &fields).await? {
        return form_again(&state, &user, &order, fields, problems).await;
    }
    if fields.intent != "submit" {
        crate::web::flash::put(&state, &user, Slot::Notice, "草稿已保存").await;
        return Ok(Redirect::to(&format!("/orders/{order_no}/edit")).into_response());
    }
    let order = state
        .store
        .order_by_no(&order_no)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    match submit_application(&state, &user, &order).await? {
        Ok(_) => {
            crate::web::flash::put(&state, &user, Slot::Notice, "申请已提交，等待平台初审").await;
            Ok(Redirect::to(&format!("/orders/{order_no}")).into_response())
        }
        Err(problems) => form_again(&state, &user, &order, fields, problems).await,
    }
}

async fn upload_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, kind)): Path<(String, String)>,
    request: Request,
) -> Result<Response, PageFailure> {
    let order = editable_order(&state, &user, &order_no).await?;
    let kind = upload_kind(&kind)?;
    let multipart = crate::web::upload::open_page_upload(request, &state)
        .await
        .map_err(ApplicationError::UploadFormInvalid)?;
    let file_field = format!("file_{}", kind.as_str());
    let mut sent =
        crate::web::upload::read_page_upload(multipart, &[file_field.as_str(), "file"]).await;
    // The form's other fields come with the file (the upload button belongs to the form):
    // they are saved first, so that nothing typed is lost by uploading.
    if !sent.fields.is_empty() {
        let fields: EditForm = form_fields(
            serde_urlencoded::to_string(&sent.fields)
                .unwrap_or_default()
                .as_bytes(),
        );
        if let Err(problems) = save_fields(&state, &order, &fields).await? {
            return form_again(&state, &user, &order, fields, problems).await;
        }
    }
    let outcome = match sent.take_file(&[file_field.as_str(), "file"]) {
        Ok(file) => match store_upload(&state, &order, kind, &file.name, &file.bytes).await {
            Ok(_) => Ok(format!("{}已上传", kind.label_zh())),
            Err(err) if PageFailure::from_kind(err.failure()).belongs_on_the_page() => {
                Err(err.to_string())
            }
            Err(err) => return Err(err.into()),
        },
        Err(refusal) => Err(refusal),
    };
    match &outcome {
        Ok(notice) => crate::web::flash::put(&state, &user, Slot::Notice, notice).await,
        // Told beside the row of the document it is about.
        Err(refusal) => {
            let message = format!("{}{UPLOAD_KIND_SEPARATOR}{refusal}", kind.as_str());
            crate::web::flash::put(&state, &user, Slot::UploadError, &message).await
        }
    }
    Ok(Redirect::to(&format!("/orders/{order_no}/edit#uploads")).into_response())
}

// --- the identity check, as the application needs it ------------------------------------------

/// Why the application cannot be submitted yet as far as the identity check goes, if it cannot:
/// a check must have passed for the legal representative named in the form.
async fn identity_problem(
    state: &AppState,
    order: &Order,
    legal_rep_id_number: &str,
) -> Result<Option<String>, ApplicationError> {
    if certdesk_domain::validate_resident_id(legal_rep_id_number).is_err() {
        // The form's own check names the ID number; the identity check waits for it.
        return Ok(Some(
            "请先填写正确的法定代表人身份证号码，再完成身份核验".to_string(),
        ));
    }
    Ok(
        match crate::identity::passed_identity_check(state, order.id, legal_rep_id_number).await? {
            Some(_) => None,
            None => Some(
                "请先完成法定代表人的身份核验（人脸识别、手机号实名核验、对公账户打款验证或银行卡核验任选其一）"
                    .to_string(),
            ),
        },
    )
}

/// The 身份核验 section of the application page.
pub(crate) struct IdentityPanel {
    pub passed: bool,
    pub checks: Vec<crate::identity::CheckView>,
    /// What the sandbox "sent" (codes), shown only with the sandbox provider.
    pub sandbox: Option<Vec<crate::identity::SandboxNotice>>,
    pub mobile_pending: bool,
    pub deposit_pending: bool,
    pub error: Option<String>,
}

async fn identity_panel(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
) -> Result<IdentityPanel, ApplicationError> {
    let view = crate::identity::identity_of_order(state, user, &order.order_no).await?;
    let pending = |method: &str| {
        view.checks
            .iter()
            .any(|c| c.method == method && c.status == "pending")
    };
    Ok(IdentityPanel {
        passed: view.passed,
        mobile_pending: pending("mobile"),
        deposit_pending: pending("micro_deposit"),
        // Staff never read what the sandbox "sent" to the supplier (separation of duties).
        sandbox: (view.sandbox
            && crate::web::authz::require(
                user,
                Action::ViewSandboxOutbox,
                crate::web::authz::relation_to(user, None, Some(order.org_id)),
            )
            .is_ok())
        .then(|| state.identity.sandbox_notices(order.id)),
        checks: view.checks,
        error: None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IdentityForm {
    /// `start` or `verify`.
    intent: String,
    code: String,
    card_number: String,
    card_mobile: String,
    account_number: String,
    bank_name: String,
}

/// The page's identity-check forms: start a check for the legal representative of the saved
/// form, or type the code it sent.
async fn identity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, method)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, PageFailure> {
    let order = editable_order(&state, &user, &order_no).await?;
    let fields: IdentityForm = form_fields(&body);
    let (_, form) = application_of(&state, &order).await?;
    let now = state.now();
    let filled = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let result = if fields.intent == "verify" {
        crate::identity::verify_check(
            &state,
            &user,
            &order_no,
            &method,
            filled(&fields.code).as_deref(),
            now,
        )
        .await
    } else {
        let (mobile, card_number) = match method.as_str() {
            "bank_card" => (filled(&fields.card_mobile), filled(&fields.card_number)),
            _ => (filled(&form.legal_rep.mobile), None),
        };
        crate::identity::start_check(
            &state,
            &user,
            &order_no,
            &method,
            crate::identity::StartRequest {
                name: filled(&form.legal_rep.name),
                id_number: filled(&form.legal_rep.id_number),
                mobile,
                card_number,
                account_number: filled(&fields.account_number),
                bank_name: filled(&fields.bank_name),
                photo: None,
            },
            now,
        )
        .await
    };
    back_to_identity(&state, &user, &order_no, result).await
}

/// Back to the application's 身份核验 section with what the check said, or why not.
async fn back_to_identity(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    result: Result<crate::identity::CheckView, IdentityError>,
) -> Result<Response, PageFailure> {
    let to = format!("/orders/{order_no}/edit#identity");
    let told = result
        .map(|check| check.next_step)
        .map_err(PageFailure::from);
    Ok(crate::web::flash::back_with(state, user, &to, told, Slot::IdentityError).await)
}

/// 人脸识别 from the page: the photo as a file (the API takes it in Base64).
async fn face_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    request: Request,
) -> Result<Response, PageFailure> {
    use base64::Engine as _;
    let order = editable_order(&state, &user, &order_no).await?;
    let (_, form) = application_of(&state, &order).await?;
    let photo = match face_photo(request, &state).await {
        Ok(photo) => photo,
        Err(message) => {
            let refused = Err(IdentityError::InvalidField {
                code: "photo_invalid",
                message,
            });
            return back_to_identity(&state, &user, &order_no, refused).await;
        }
    };
    let filled = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let result = crate::identity::start_check(
        &state,
        &user,
        &order_no,
        "face",
        crate::identity::StartRequest {
            name: filled(&form.legal_rep.name),
            id_number: filled(&form.legal_rep.id_number),
            photo: Some(base64::engine::general_purpose::STANDARD.encode(&photo)),
            ..crate::identity::StartRequest::default()
        },
        state.now(),
    )
    .await;
    back_to_identity(&state, &user, &order_no, result).await
}

/// The photo of a face-check form, or why there is none (a photo over the upload limit is read
/// to its end and refused in Chinese, like every page upload).
async fn face_photo(request: Request, state: &AppState) -> Result<Vec<u8>, String> {
    let multipart = crate::web::upload::open_page_upload(request, state).await?;
    let mut sent = crate::web::upload::read_page_upload(multipart, &["photo"]).await;
    sent.take_file(&["photo"])
        .map(|file| file.bytes)
        .map_err(|refusal| match refusal.as_str() {
            crate::web::upload::NO_FILE => "请选择人脸照片".to_string(),
            _ => refusal,
        })
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, application_api, update_api, submit_api, upload_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
