//! What certificate login, binding and the providers' CAs can fail with.

use crate::web::error::{Failure, FeatureError};
use certdesk_ca::trust::CertificateProblem;
use certdesk_ca::CaError;
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("挑战值已使用或已过期，不能重复使用，请重新获取")]
    ChallengeUsed,
    #[error("挑战值无效，请重新获取")]
    ChallengeInvalid,
    #[error("挑战值不是为当前账号生成的，请刷新页面重新获取")]
    ChallengeOfAnotherAccount,
    #[error("签名值应为 Base64 编码的 DER 签名")]
    SignatureNotBase64,
    /// The presented certificate or its signature is refused (the message says why).
    #[error(transparent)]
    Certificate(CertificateProblem),
    #[error("该证书尚未绑定账号：请先用账号密码登录，在“CA绑定与解绑”中绑定后再使用证书登录")]
    CertificateUnbound,
    #[error("证书绑定的账号已停用")]
    AccountDisabled,
    #[error("该证书不属于本单位：证书中的统一社会信用代码与本单位不一致")]
    NotOfOrganisation,
    /// The certificate is bound already (to `whom`: an account here, or another organisation's).
    #[error("该证书已绑定{whom}，请先解除绑定")]
    AlreadyBound { whom: String },
    #[error("该CA证书已导入")]
    CaAlreadyImported,
    #[error("不是有效的CA证书：{0}")]
    NotACaCertificate(CaError),
    #[error("请求的资源不存在")]
    NotFound,
    /// The CA failed on our side.
    #[error("the CA failed: {0}")]
    Ca(CaError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BindingError {
    pub fn certificate_code(problem: &CertificateProblem) -> &'static str {
        match problem {
            CertificateProblem::Malformed => "certificate_malformed",
            CertificateProblem::UnrecognisedCa => "certificate_unrecognised",
            CertificateProblem::NotYetValid => "certificate_not_yet_valid",
            CertificateProblem::Expired(_) => "certificate_expired",
            CertificateProblem::Revoked => "certificate_revoked",
            CertificateProblem::BadSignature => "signature_invalid",
            CertificateProblem::RevocationUnknown(_) => "certificate_revocation_unknown",
            CertificateProblem::NotForSigning => "certificate_not_for_signing",
        }
    }
}

impl From<certdesk_ca::trust::CheckError> for BindingError {
    fn from(err: certdesk_ca::trust::CheckError) -> Self {
        match err {
            certdesk_ca::trust::CheckError::Problem(problem) => BindingError::Certificate(problem),
            certdesk_ca::trust::CheckError::Internal(err) => BindingError::Ca(err),
        }
    }
}

impl FeatureError for BindingError {
    fn failure(&self) -> Failure {
        use BindingError::*;
        match self {
            ChallengeUsed | ChallengeInvalid | ChallengeOfAnotherAccount => Failure::Malformed,
            SignatureNotBase64 | Certificate(_) | NotOfOrganisation | NotACaCertificate(_) => {
                Failure::Invalid
            }
            CertificateUnbound | AccountDisabled => Failure::Unauthenticated,
            AlreadyBound { .. } | CaAlreadyImported => Failure::Conflict,
            NotFound => Failure::NotFound,
            Ca(_) => Failure::Internal,
            Refused(refusal) => refusal.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use BindingError::*;
        match self {
            ChallengeUsed => "challenge_used",
            ChallengeInvalid | ChallengeOfAnotherAccount => "challenge_invalid",
            SignatureNotBase64 => "signature_invalid",
            Certificate(problem) => BindingError::certificate_code(problem),
            CertificateUnbound => "certificate_unbound",
            AccountDisabled => "account_disabled",
            NotOfOrganisation => "certificate_not_of_organisation",
            AlreadyBound { .. } => "certificate_already_bound",
            CaAlreadyImported => "ca_already_imported",
            NotACaCertificate(_) => "certificate_invalid",
            NotFound => "not_found",
            Ca(_) => "internal_error",
            Refused(refusal) => refusal.code(),
            Store(err) => err.code(),
        }
    }
}
