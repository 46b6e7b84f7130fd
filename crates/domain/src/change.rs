//! 变更 (DOMAIN.md, business type 4): what an organisation may change on its certificate and
//! registration, checked before anything is kept.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **A change of credit code is refused**: a new 统一社会信用代码 is a new legal entity, which
//!   registers and applies anew (新办).
//! - **Something must change**: the name differs from the one the certificate carries, or the
//!   legal representative differs from the one registered. A key whose certificate still
//!   carries an old name after the organisation's name was changed for another key may be
//!   changed to the registered name (CA信息变更 / UKey信息同步).
//! - **New key pairs**: the new certificate is for a key pair made on the UKey again, so files
//!   sealed to the old encryption certificate must be sealed again (guide 004: 变更后旧加密文件
//!   需重新加密).

use crate::application::validate_mobile;
use crate::identifiers::{validate_credit_code, validate_resident_id};
use crate::limits::check_subject_name;

/// What the certificate and registration say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentFacts<'a> {
    pub certificate_org_name: &'a str,
    pub registered_org_name: &'a str,
    pub credit_code: &'a str,
    pub legal_rep_id_number: &'a str,
}

/// What the organisation asks to change to (empty: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AskedChange {
    pub org_name: String,
    pub credit_code: String,
    pub legal_rep_name: String,
    pub legal_rep_id_number: String,
    pub legal_rep_mobile: String,
}

/// The change, checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedChange {
    /// The name the new certificate carries.
    pub org_name: String,
    /// Whether the registration's name changes with it.
    pub renames: bool,
    /// The (new) legal representative, who passes the identity check.
    pub legal_rep_name: String,
    pub legal_rep_id_number: String,
    pub legal_rep_mobile: String,
    pub changes_legal_rep: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error(
        "统一社会信用代码变更即为新的法律主体，不能办理变更，请以新单位注册并重新申领（新办）"
    )]
    CreditCodeChanged,
    #[error("单位名称：{0}")]
    InvalidName(String),
    #[error("请填写法定代表人姓名（2至30个字）")]
    InvalidLegalRepName,
    #[error("法定代表人{0}")]
    InvalidLegalRepId(String),
    #[error("法定代表人手机号：{0}")]
    InvalidLegalRepMobile(String),
    #[error("没有需要变更的信息：单位名称与证书一致，法定代表人与登记的一致")]
    NothingChanged,
}

/// Checks what is asked against what is (see the module's rules).
pub fn check_change(
    current: &CurrentFacts<'_>,
    asked: &AskedChange,
) -> Result<CheckedChange, ChangeError> {
    let code = asked.credit_code.trim();
    if !code.is_empty() {
        let normalised = validate_credit_code(code).map_err(|_| ChangeError::CreditCodeChanged)?;
        if normalised != current.credit_code {
            return Err(ChangeError::CreditCodeChanged);
        }
    }
    let name = asked.org_name.trim();
    let org_name = if name.is_empty() {
        current.registered_org_name.to_string()
    } else {
        check_subject_name(name).map_err(|e| ChangeError::InvalidName(e.to_string()))?;
        name.to_string()
    };
    let rep_name = asked.legal_rep_name.trim();
    if !(2..=30).contains(&rep_name.chars().count()) {
        return Err(ChangeError::InvalidLegalRepName);
    }
    let rep_id = validate_resident_id(&asked.legal_rep_id_number)
        .map_err(|e| ChangeError::InvalidLegalRepId(e.to_string()))?;
    let rep_mobile =
        validate_mobile(&asked.legal_rep_mobile).map_err(ChangeError::InvalidLegalRepMobile)?;
    let renames = org_name != current.registered_org_name;
    let changes_legal_rep = rep_id != current.legal_rep_id_number;
    if org_name == current.certificate_org_name && !changes_legal_rep {
        return Err(ChangeError::NothingChanged);
    }
    Ok(CheckedChange {
        org_name,
        renames,
        legal_rep_name: rep_name.to_string(),
        legal_rep_id_number: rep_id,
        legal_rep_mobile: rep_mobile,
        changes_legal_rep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> CurrentFacts<'static> {
        CurrentFacts {
            certificate_org_name: "福州测试科技有限公司",
            registered_org_name: "福州测试科技有限公司",
            credit_code: "91350100M000100Y43",
            legal_rep_id_number: "11010519491231002X",
        }
    }

    fn asked(name: &str, rep_id: &str) -> AskedChange {
        AskedChange {
            org_name: name.into(),
            credit_code: String::new(),
            legal_rep_name: "张三".into(),
            legal_rep_id_number: rep_id.into(),
            legal_rep_mobile: "13800138000".into(),
        }
    }

    #[test]
    fn a_new_name_or_legal_representative_is_a_change_and_a_new_credit_code_is_not() {
        let renamed = check_change(
            &current(),
            &asked("福州新名称科技有限公司", "11010519491231002X"),
        )
        .unwrap();
        assert!(renamed.renames && !renamed.changes_legal_rep);
        assert_eq!(renamed.org_name, "福州新名称科技有限公司");
        let new_rep = check_change(&current(), &asked("", "440524188001010014")).unwrap();
        assert!(!new_rep.renames && new_rep.changes_legal_rep);
        assert_eq!(new_rep.org_name, "福州测试科技有限公司");
        assert_eq!(
            check_change(&current(), &asked("", "11010519491231002X")),
            Err(ChangeError::NothingChanged)
        );
        let mut new_code = asked("福州新名称科技有限公司", "11010519491231002X");
        new_code.credit_code = "91110108MA01W4JK85".into();
        assert_eq!(
            check_change(&current(), &new_code),
            Err(ChangeError::CreditCodeChanged)
        );
        new_code.credit_code = "91350100M000100Y43".into();
        assert!(check_change(&current(), &new_code).is_ok());
        assert!(matches!(
            check_change(&current(), &asked("名", "not an id")),
            Err(ChangeError::InvalidLegalRepId(_))
        ));
        // A key still carrying the old name after the registration was renamed: synced.
        let synced = CurrentFacts {
            registered_org_name: "福州新名称科技有限公司",
            ..current()
        };
        let sync = check_change(&synced, &asked("", "11010519491231002X")).unwrap();
        assert_eq!(sync.org_name, "福州新名称科技有限公司");
        assert!(!sync.renames);
    }
}
