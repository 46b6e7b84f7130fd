//! What applications (新办: drafts, uploads, submission) can fail with.

use crate::identity::IdentityError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::upload::UploadRefusal;
use certdesk_domain::OrderStatus;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("该产品已停用，请选择其他产品")]
    ProductInactive,
    #[error("操作员代办时请填写申请单位的统一社会信用代码")]
    OrganisationRequired,
    #[error("没有以该统一社会信用代码注册的单位")]
    OrganisationUnknown,
    #[error("订单当前为“{}”状态，不能再修改申请", .0.label_zh())]
    NotEditable(OrderStatus),
    #[error(
        "首张免费已被本单位另一份同时提交的申请使用，本申请需按标准价格支付：请刷新页面后重新提交"
    )]
    FirstFreeTaken,
    #[error("未知的资料类型“{}”，应为：{}", .0, certdesk_domain::UploadKind::ALL.map(|k| k.as_str()).join("、"))]
    UnknownUploadKind(String),
    #[error("文件超过 5 MB 的上限，请压缩后重新上传")]
    UploadTooLarge,
    #[error("上传表单格式错误：{0}")]
    UploadFormInvalid(String),
    #[error(transparent)]
    UploadRefused(#[from] UploadRefusal),
    #[error("请求的资源不存在")]
    NotFound,
    /// Records that do not fit (a form that does not read back, a clock out of range): ours.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] certdesk_domain::permissions::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ApplicationError {
    fn failure(&self) -> Failure {
        use ApplicationError::*;
        match self {
            ProductInactive | OrganisationRequired | OrganisationUnknown | UnknownUploadKind(_)
            | UploadRefused(_) => Failure::Invalid,
            NotEditable(_) | FirstFreeTaken => Failure::Conflict,
            UploadTooLarge => Failure::TooLarge,
            UploadFormInvalid(_) => Failure::Malformed,
            NotFound => Failure::NotFound,
            Inconsistent(_) => Failure::Internal,
            Identity(err) => err.failure(),
            Product(err) => err.failure(),
            Step(err) => err.failure(),
            Refused(refusal) => refusal.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use ApplicationError::*;
        match self {
            ProductInactive => "product_inactive",
            OrganisationRequired => "org_required",
            OrganisationUnknown => "org_unknown",
            NotEditable(_) => "not_editable",
            FirstFreeTaken => "first_free_taken",
            UnknownUploadKind(_) => "unknown_upload_kind",
            UploadTooLarge => "upload_too_large",
            UploadFormInvalid(_) => "upload_form_invalid",
            UploadRefused(refusal) => refusal.code(),
            NotFound => "not_found",
            Inconsistent(_) => "internal_error",
            Identity(err) => err.code(),
            Product(err) => err.code(),
            Step(err) => err.code(),
            Refused(refusal) => refusal.code(),
            Store(err) => err.code(),
        }
    }
}
