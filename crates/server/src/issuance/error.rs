//! What issuance can fail with.

use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_ca::CaError;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("该订单没有申请资料，不能制证")]
    NoApplication,
    /// Mobile products: the CA makes and holds the keys; there is nothing to request.
    #[error("移动版证书的密钥由CA托管，无需提交证书请求")]
    HeldKeys,
    #[error("请粘贴证书请求（CSR，以 -----BEGIN CERTIFICATE REQUEST----- 开头）")]
    CsrRequired,
    #[error("证书请求的密钥算法与所购产品不符：产品为 {product}，请求为 {request}")]
    AlgorithmMismatch {
        product: &'static str,
        request: &'static str,
    },
    /// The CA refused what the key holder sent (a bad CSR, a name or validity it will not sign).
    #[error("证书请求（CSR）不能使用：{}", refusal_zh(.0))]
    CsrRefused(CaError),
    /// Another request holds the order's claim, or the order was issued.
    #[error("该订单正在制证或已经发证，请刷新页面查看")]
    AlreadyIssuing,
    /// 补办 with restore, but the old key has no encryption certificate to restore from.
    #[error("原CA锁没有加密证书，无法恢复加密密钥；请取消“恢复原加密密钥”后重新申请")]
    NothingToRestore,
    /// Nothing was issued for this order (yet).
    #[error("该订单尚未发证")]
    NotIssued,
    /// The CA failed on our side (a key, a record, an encoding).
    #[error("the CA failed: {0}")]
    Ca(CaError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal of the key holder's request in Chinese: the CA's own refusals are; the codec's
/// findings (English, DER offsets) are told by what they mean for the holder.
fn refusal_zh(err: &CaError) -> String {
    use certdesk_pki::PkiError;
    match err {
        CaError::Refused(message) => message.clone(),
        CaError::UnknownSerial(serial) => format!("找不到序列号为 {serial} 的证书"),
        CaError::Pki(PkiError::Malformed { .. }) => {
            "无法读取证书请求，内容不完整或不是PKCS#10格式，请从CA锁重新导出证书请求".into()
        }
        CaError::Pki(PkiError::BadSignature(_)) => {
            "证书请求的签名不正确（不是由其中的密钥签署），请从CA锁重新生成证书请求".into()
        }
        CaError::Pki(PkiError::WeakKey(_)) => {
            "证书请求中的密钥强度不足，请使用SM2或P-256密钥".into()
        }
        CaError::Pki(PkiError::UnsupportedAlgorithm(_) | PkiError::AlgorithmMismatch { .. }) => {
            "证书请求使用了本平台不签发的算法，请使用SM2或ECDSA P-256密钥".into()
        }
        CaError::Pki(PkiError::InvalidRequest(_)) => {
            "证书请求中的内容不符合要求，请从CA锁重新生成证书请求".into()
        }
        _ => "证书请求暂时无法处理，请稍后重试".into(),
    }
}

impl IssuanceError {
    /// A CA error as the key holder should read it: a refusal of what they sent, or ours.
    pub fn of_ca(err: CaError) -> Self {
        if err.is_input_error() {
            IssuanceError::CsrRefused(err)
        } else {
            IssuanceError::Ca(err)
        }
    }
}

impl FeatureError for IssuanceError {
    fn failure(&self) -> Failure {
        match self {
            IssuanceError::CsrRequired
            | IssuanceError::AlgorithmMismatch { .. }
            | IssuanceError::CsrRefused(_)
            | IssuanceError::NothingToRestore => Failure::Invalid,
            IssuanceError::NoApplication
            | IssuanceError::HeldKeys
            | IssuanceError::AlreadyIssuing => Failure::Conflict,
            IssuanceError::NotIssued => Failure::NotFound,
            IssuanceError::Ca(_) => Failure::Internal,
            IssuanceError::Step(err) => err.failure(),
            IssuanceError::Product(err) => err.failure(),
            IssuanceError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            IssuanceError::NoApplication => "no_application",
            IssuanceError::HeldKeys => "held_keys",
            IssuanceError::NothingToRestore => "nothing_to_restore",
            IssuanceError::CsrRequired => "csr_required",
            IssuanceError::AlgorithmMismatch { .. } => "csr_algorithm_mismatch",
            IssuanceError::CsrRefused(_) => "csr_refused",
            IssuanceError::AlreadyIssuing => "already_issuing",
            IssuanceError::NotIssued => "not_found",
            IssuanceError::Ca(_) => "internal_error",
            IssuanceError::Step(err) => err.code(),
            IssuanceError::Product(err) => err.code(),
            IssuanceError::Store(err) => err.code(),
        }
    }
}
