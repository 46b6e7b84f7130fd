//! What 续费 can fail with.

use crate::applications::ApplicationError;
use crate::identity::IdentityError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("请选择要续费的证书")]
    NothingChosen,
    #[error("一次最多续费{max}张证书，请分批办理")]
    TooMany { max: usize },
    #[error("本单位没有证书序列号为 {0} 的签名证书，请核对CA锁上显示的证书序列号")]
    UnknownCertificate(String),
    #[error("证书 {0} 已吊销或已被替换，不能续费；请办理补办或新办")]
    Revoked(String),
    #[error("证书 {serial} 于 {expires} 到期，{opens} 起才可续费（到期前3个月内）")]
    TooEarly {
        serial: String,
        expires: String,
        opens: String,
    },
    #[error("证书 {serial} 已于 {expired} 到期，续费期限已于 {closed} 截止，证书已吊销；请重新申领（新办）")]
    TooLate {
        serial: String,
        expired: String,
        closed: String,
    },
    #[error("证书 {0} 已在办理中的续费业务单里，请勿重复申请")]
    AlreadyRenewing(String),
    #[error("批量续费的证书须为同一产品，请按产品分别办理")]
    MixedProducts,
    #[error("移动版证书的密钥由CA托管，续费审核通过后自动更新，无需插入CA锁")]
    HeldKeys,
    #[error(
        "您表示有投标正在进行。续费保留原有密钥，已加密的投标文件仍可解密；请勾选确认后再提交"
    )]
    BidsNeedConfirmation,
    #[error("有效期须为整数年")]
    InvalidYears,
    #[error("证书已过期，续费前请先完成法定代表人的身份核验")]
    IdentityNotChecked,
    #[error("证书已过期，续费前请上传加盖公章的营业执照")]
    LicenceMissing,
    #[error("该业务单不是续费业务")]
    NotARenewal,
    #[error("业务单里没有证书序列号为 {0} 的证书，请插入要续费的CA锁")]
    KeyNotInOrder(String),
    #[error("证书 {0} 已续费完成")]
    AlreadyRenewed(String),
    #[error("该CA锁正在写入新证书，请稍候再试")]
    Installing,
    #[error("续费须使用原有密钥：该证书请求的公钥与证书 {0} 的不一致，请插入原CA锁")]
    DifferentKey(String),
    #[error("请提供CA锁生成的证书请求")]
    CsrRequired,
    #[error("CA拒绝签发：{0}")]
    CaRefused(String),
    #[error("CA服务暂不可用：{0}")]
    CaUnavailable(String),
    #[error("{0}")]
    VoucherRefused(String),
    #[error("CA出错：{0}")]
    Ca(certdesk_ca::CaError),
    #[error(transparent)]
    Issuance(#[from] crate::issuance::IssuanceError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Application(#[from] ApplicationError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RenewalError {
    pub(crate) fn of_ca(err: certdesk_ca::CaError) -> Self {
        use certdesk_ca::CaError;
        if err.is_input_error() {
            RenewalError::CaRefused(err.to_string())
        } else if matches!(err, CaError::Unreachable(_)) {
            RenewalError::CaUnavailable(err.to_string())
        } else {
            RenewalError::Ca(err)
        }
    }
}

impl FeatureError for RenewalError {
    fn failure(&self) -> Failure {
        use RenewalError::*;
        match self {
            NothingChosen
            | UnknownCertificate(_)
            | TooEarly { .. }
            | TooLate { .. }
            | MixedProducts
            | BidsNeedConfirmation
            | InvalidYears
            | IdentityNotChecked
            | LicenceMissing
            | KeyNotInOrder(_)
            | DifferentKey(_)
            | CsrRequired
            | CaRefused(_)
            | VoucherRefused(_) => Failure::Invalid,
            TooMany { .. } => Failure::TooLarge,
            Revoked(_) | AlreadyRenewing(_) | HeldKeys | NotARenewal | AlreadyRenewed(_)
            | Installing => Failure::Conflict,
            CaUnavailable(_) => Failure::Unavailable,
            Ca(_) => Failure::Internal,
            Issuance(e) => e.failure(),
            Product(e) => e.failure(),
            Application(e) => e.failure(),
            Identity(e) => e.failure(),
            Step(e) => e.failure(),
            Refused(e) => e.failure(),
            Store(e) => e.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use RenewalError::*;
        match self {
            NothingChosen => "nothing_chosen",
            TooMany { .. } => "too_many_certificates",
            UnknownCertificate(_) => "unknown_certificate",
            Revoked(_) => "certificate_revoked",
            TooEarly { .. } => "renewal_not_open",
            TooLate { .. } => "renewal_closed",
            AlreadyRenewing(_) => "already_renewing",
            MixedProducts => "mixed_products",
            HeldKeys => "held_keys",
            BidsNeedConfirmation => "bids_need_confirmation",
            InvalidYears => "invalid_years",
            IdentityNotChecked => "identity_not_checked",
            LicenceMissing => "licence_missing",
            NotARenewal => "not_a_renewal",
            KeyNotInOrder(_) => "key_not_in_order",
            AlreadyRenewed(_) => "already_renewed",
            Installing => "installing",
            DifferentKey(_) => "different_key",
            CsrRequired => "csr_required",
            CaRefused(_) => "ca_refused",
            CaUnavailable(_) => "ca_unavailable",
            VoucherRefused(_) => "invalid_voucher",
            Ca(_) => "ca_error",
            Issuance(e) => e.code(),
            Product(e) => e.code(),
            Application(e) => e.code(),
            Identity(e) => e.code(),
            Step(e) => e.code(),
            Refused(e) => e.code(),
            Store(e) => e.code(),
        }
    }
}
