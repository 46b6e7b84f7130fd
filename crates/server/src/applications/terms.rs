//! The documents an applicant agrees to: the 数字证书服务协议 and the CA's 电子认证业务规则
//! (CPS). Readable by anyone before signing up; their text is the operator's (the settings
//! `terms:service-agreement` and `terms:cps`, set with `certdesk admin terms set`), with a
//! built-in text until one is set.

use crate::web::extract::Path;
use crate::web::pages::{render, PageFailure};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// A document: its address name, title, and the text shown until the operator sets one.
pub struct TermsDocument {
    pub name: &'static str,
    pub title: &'static str,
    default_text: &'static str,
}

pub const TERMS: [TermsDocument; 2] = [
    TermsDocument {
        name: "service-agreement",
        title: "数字证书服务协议",
        default_text: "本协议由申请单位（以下简称“用户”）与本平台所对接的电子认证服务机构（以下简称“CA”）订立。\n\
用户申请数字证书时，应提交真实、完整、准确的单位与经办人信息，并对其真实性负责；信息变更时应及时办理变更。\n\
数字证书用于用户在电子招投标平台进行身份认证、电子签名和投标文件加密。用户应妥善保管存放证书的CA锁（UKey）及其PIN码，不得转借他人；因保管不善造成的损失由用户承担。\n\
证书或CA锁丢失、被盗，或私钥可能泄露时，用户应立即申请吊销证书并补办。\n\
证书有效期届满前，用户应及时办理续费（延期）；证书过期后将无法登录、签名和解密投标文件。\n\
CA按照其电子认证业务规则（CPS）签发和管理证书，并依法承担相应责任。",
    },
    TermsDocument {
        name: "cps",
        title: "电子认证业务规则（CPS）",
        default_text: "本电子认证业务规则说明CA签发、管理、吊销数字证书的规则和程序。\n\
证书申请须经平台初审和CA复审，审核通过后签发；SM2双证书包含签名证书与加密证书，加密密钥由CA托管以便依法恢复。\n\
证书吊销信息通过证书吊销列表（CRL）和在线证书状态协议（OCSP）服务公布。\n\
CA的根证书私钥离线保存，签发CA私钥受硬件或加密保护，所有操作记入防篡改的审计日志。\n\
运营方应以其经主管部门备案的电子认证业务规则替换本文。",
    },
];

/// The setting that holds a document's text.
pub fn setting_name(document: &str) -> String {
    format!("terms:{document}")
}

#[derive(Template)]
#[template(path = "terms.html")]
struct TermsPage {
    title: &'static str,
    paragraphs: Vec<String>,
}

pub(crate) async fn terms_page(
    State(state): State<AppState>,
    Path(document): Path<String>,
) -> Result<Response, PageFailure> {
    let Some(found) = TERMS.iter().find(|t| t.name == document) else {
        return Err(PageFailure::from_kind(crate::web::error::Failure::NotFound));
    };
    let text = state
        .store
        .setting(&setting_name(found.name))
        .await?
        .unwrap_or_else(|| found.default_text.to_string());
    Ok(render(
        &TermsPage {
            title: found.title,
            paragraphs: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        },
        StatusCode::OK,
    ))
}
