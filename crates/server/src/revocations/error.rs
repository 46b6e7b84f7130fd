//! What 吊销 on request can fail with.

use crate::identity::IdentityError;
use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_ca::CaError;
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("本单位没有证书序列号为 {0} 的证书，请核对CA锁上显示的证书序列号")]
    UnknownKey(String),
    #[error("该证书已吊销，无需再次申请")]
    AlreadyRevoked,
    #[error("请选择吊销原因：密钥泄露或CA锁丢失、单位信息变更、证书已被替换、不再使用")]
    InvalidReason,
    #[error("补充说明最多200个字")]
    InvalidNote,
    #[error("请填写法定代表人姓名（不超过50个字）")]
    InvalidName,
    #[error("法定代表人{0}")]
    InvalidId(String),
    #[error("法定代表人手机号：{0}")]
    InvalidMobile(String),
    #[error("法定代表人身份证号与申领该证书时登记的不一致，请由登记的法定代表人确认（法定代表人已变更的，请先办理变更）")]
    NotTheLegalRep,
    #[error("请先由法定代表人完成手机短信确认（手机号实名核验），再提交吊销申请")]
    NotConfirmed,
    #[error("该业务单不是吊销申请")]
    NotARevocation,
    #[error("吊销申请不存在")]
    NotFound,
    #[error("CA吊销证书失败，请稍后重试：{0}")]
    Ca(CaError),
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Issuance(#[from] crate::issuance::IssuanceError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for RevocationError {
    fn failure(&self) -> Failure {
        use RevocationError::*;
        match self {
            UnknownKey(_) | InvalidReason | InvalidNote | InvalidName | InvalidId(_)
            | InvalidMobile(_) | NotConfirmed | NotTheLegalRep => Failure::Invalid,
            AlreadyRevoked | NotARevocation => Failure::Conflict,
            NotFound => Failure::NotFound,
            Ca(_) => Failure::Unavailable,
            Inconsistent(_) => Failure::Internal,
            Issuance(err) => err.failure(),
            Identity(err) => err.failure(),
            Step(err) => err.failure(),
            Refused(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use RevocationError::*;
        match self {
            UnknownKey(_) => "unknown_key",
            AlreadyRevoked => "already_revoked",
            InvalidReason => "invalid_reason",
            InvalidNote => "invalid_note",
            InvalidName => "invalid_name",
            InvalidId(_) => "invalid_id_number",
            InvalidMobile(_) => "invalid_mobile",
            NotConfirmed => "not_confirmed",
            NotTheLegalRep => "not_the_legal_representative",
            NotARevocation => "not_a_revocation",
            NotFound => "revocation_not_found",
            Ca(_) => "ca_unavailable",
            Inconsistent(_) => "internal",
            Issuance(err) => err.code(),
            Identity(err) => err.code(),
            Step(err) => err.code(),
            Refused(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
