//! The new-certificate application form (新办/申领, DOMAIN.md business type 1): what the
//! supplier fills in, and the rules each field must meet before the order can be submitted.
//!
//! A draft may be saved half-filled; [`ApplicationForm::validate`] is the gate for submitting,
//! and answers every field that is wrong at once, each with its own message, so the form can
//! show them next to the fields.

use crate::identifiers::{validate_credit_code, validate_resident_id};
use crate::limits::MAX_SUBJECT_NAME_CHARS;
use crate::order::DeliveryMethod;
use serde::{Deserialize, Serialize};

/// Organisation types offered by the form (the guides' 单位类型).
pub const ORGANISATION_TYPES: [&str; 5] =
    ["企业", "事业单位", "社会团体", "个体工商户", "其他组织"];

/// The whole form, as saved in a draft. Every field is text so a half-filled draft keeps what
/// the user typed, right or wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationForm {
    pub organisation: OrganisationPart,
    pub legal_rep: PersonPart,
    pub handler: PersonPart,
    pub delivery: DeliveryPart,
    /// 已阅读并同意: the service agreement and the certificate policy.
    pub terms_accepted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrganisationPart {
    pub name: String,
    pub credit_code: String,
    pub org_type: String,
    pub address: String,
    pub phone: String,
    pub registration_place: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonPart {
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    pub email: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryPart {
    /// `mail`, `pickup` or `online`.
    pub method: String,
    pub recipient: String,
    pub phone: String,
    pub address: String,
}

/// One wrong field: its dotted path in the form (e.g. `legal_rep.id_number`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Whether the product is a UKey (mail or pickup) or a mobile certificate (online only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryChoice {
    UKey,
    Mobile,
}

impl DeliveryPart {
    /// The delivery's field errors for a product of `choice`: a UKey is mailed (recipient,
    /// mobile, address) or collected; a mobile certificate is downloaded.
    pub fn validate(&self, choice: DeliveryChoice) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError {
                    field: field.to_string(),
                    message,
                });
            }
        };
        let d = self;
        match (choice, d.method.as_str()) {
            (DeliveryChoice::UKey, "mail") => {
                check("delivery.recipient", text(&d.recipient, "收件人", 2, 30));
                check(
                    "delivery.phone",
                    required(&d.phone, "收件人手机号码").and_then(|()| {
                        validate_mobile(&d.phone)
                            .map(drop)
                            .map_err(|e| prefixed("收件人", e))
                    }),
                );
                check("delivery.address", address(&d.address, "收件地址"));
            }
            (DeliveryChoice::UKey, "pickup") | (DeliveryChoice::Mobile, "online") => {}
            (DeliveryChoice::UKey, _) => check(
                "delivery.method",
                Err("请选择领取方式：邮寄或现场领取".to_string()),
            ),
            (DeliveryChoice::Mobile, _) => check(
                "delivery.method",
                Err("移动版证书在线下载，领取方式应为“在线下载”".to_string()),
            ),
        }
        errors
    }
}

impl ApplicationForm {
    /// Every field error of the form, in the order of the form; empty when it may be submitted.
    pub fn validate(&self, choice: DeliveryChoice) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError {
                    field: field.to_string(),
                    message,
                });
            }
        };
        let o = &self.organisation;
        // The certificate names the organisation: its name must fit a certificate subject.
        check(
            "organisation.name",
            text(&o.name, "单位名称", 2, MAX_SUBJECT_NAME_CHARS),
        );
        check(
            "organisation.credit_code",
            required(&o.credit_code, "统一社会信用代码").and_then(|()| {
                validate_credit_code(&o.credit_code)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        );
        check(
            "organisation.org_type",
            if ORGANISATION_TYPES.contains(&o.org_type.trim()) {
                Ok(())
            } else {
                Err(format!(
                    "请选择单位类型（{}）",
                    ORGANISATION_TYPES.join("、")
                ))
            },
        );
        check("organisation.address", address(&o.address, "单位地址"));
        check("organisation.phone", phone(&o.phone, "单位电话"));
        check(
            "organisation.registration_place",
            text(&o.registration_place, "注册地", 2, 50),
        );
        for (prefix, label, person) in [
            ("legal_rep", "法定代表人", &self.legal_rep),
            ("handler", "经办人", &self.handler),
        ] {
            check(
                &format!("{prefix}.name"),
                text(&person.name, &format!("{label}姓名"), 2, 30),
            );
            check(
                &format!("{prefix}.id_number"),
                required(&person.id_number, &format!("{label}身份证号码")).and_then(|()| {
                    validate_resident_id(&person.id_number)
                        .map(drop)
                        .map_err(|e| format!("{label}{e}"))
                }),
            );
            check(
                &format!("{prefix}.mobile"),
                required(&person.mobile, &format!("{label}手机号码")).and_then(|()| {
                    validate_mobile(&person.mobile)
                        .map(drop)
                        .map_err(|e| prefixed(label, e))
                }),
            );
            check(
                &format!("{prefix}.email"),
                required(&person.email, &format!("{label}电子邮箱")).and_then(|()| {
                    validate_email(&person.email)
                        .map(drop)
                        .map_err(|e| prefixed(label, e))
                }),
            );
        }
        let terms = if self.terms_accepted {
            Ok(())
        } else {
            Err("请阅读并同意《数字证书服务协议》后再提交".to_string())
        };
        check("terms_accepted", terms);
        // The delivery's errors come before the terms', in the order of the form.
        let terms_error = errors.pop_if(|e| e.field == "terms_accepted");
        errors.extend(self.delivery.validate(choice));
        errors.extend(terms_error);
        errors
    }

    /// The delivery method, once the form is valid.
    pub fn delivery_method(&self) -> Option<DeliveryMethod> {
        match self.delivery.method.as_str() {
            "mail" => Some(DeliveryMethod::Mail),
            "pickup" => Some(DeliveryMethod::Pickup),
            "online" => Some(DeliveryMethod::Online),
            _ => None,
        }
    }

    /// The certificate will name the organisation that applies, so the form's name and credit
    /// code must be the ones it registered with (a change of name is a 变更, not a new
    /// application). `registered_*` are the organisation's record.
    pub fn registered_organisation_problems(
        &self,
        registered_name: &str,
        registered_credit_code: &str,
    ) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.organisation.name.trim() != registered_name {
            problems.push(FieldError {
                field: "organisation.name".into(),
                message: format!(
                    "单位名称须与本单位注册的名称一致：{registered_name}（名称已变更请办理变更业务）"
                ),
            });
        }
        if !self
            .organisation
            .credit_code
            .trim()
            .eq_ignore_ascii_case(registered_credit_code)
        {
            problems.push(FieldError {
                field: "organisation.credit_code".into(),
                message: format!("统一社会信用代码须与本单位注册的一致：{registered_credit_code}"),
            });
        }
        problems
    }

    /// The form with surrounding spaces removed and identifiers in their canonical case, as
    /// it is saved.
    pub fn normalised(mut self) -> ApplicationForm {
        for value in [
            &mut self.organisation.name,
            &mut self.organisation.org_type,
            &mut self.organisation.address,
            &mut self.organisation.phone,
            &mut self.organisation.registration_place,
            &mut self.legal_rep.name,
            &mut self.legal_rep.mobile,
            &mut self.legal_rep.email,
            &mut self.handler.name,
            &mut self.handler.mobile,
            &mut self.handler.email,
            &mut self.delivery.method,
            &mut self.delivery.recipient,
            &mut self.delivery.phone,
            &mut self.delivery.address,
        ] {
            *value = value.trim().to_string();
        }
        for value in [
            &mut self.organisation.credit_code,
            &mut self.legal_rep.id_number,
            &mut self.handler.id_number,
        ] {
            *value = value.trim().to_ascii_uppercase();
        }
        self
    }
}

fn prefixed(label: &str, message: String) -> String {
    if message.starts_with(label) {
        message
    } else {
        format!("{label}{message}")
    }
}

fn required(value: &str, label: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("请填写{label}"))
    } else {
        Ok(())
    }
}

fn text(value: &str, label: &str, min: usize, max: usize) -> Result<(), String> {
    required(value, label)?;
    let chars = value.trim().chars().count();
    if chars < min {
        return Err(format!("{label}至少{min}个字"));
    }
    if chars > max {
        return Err(format!("{label}最多{max}个字，当前{chars}个"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{label}含有不可见的控制字符"));
    }
    Ok(())
}

fn address(value: &str, label: &str) -> Result<(), String> {
    text(value, label, 6, 120)
}

fn phone(value: &str, label: &str) -> Result<(), String> {
    required(value, label)?;
    if validate_mobile(value).is_ok() || validate_landline(value).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "{label}应为11位手机号码或带区号的固定电话（如 010-12345678）"
        ))
    }
}

/// An 11-digit mainland mobile number (1, then 3–9, then 9 digits); spaces and dashes are
/// tolerated. Answers the digits.
pub fn validate_mobile(input: &str) -> Result<String, String> {
    let digits: String = input
        .trim()
        .trim_start_matches("+86")
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("手机号码只能包含数字".to_string());
    }
    if digits.len() != 11 {
        return Err(format!("手机号码应为11位数字，当前为{}位", digits.len()));
    }
    let second = digits.as_bytes()[1];
    if digits.as_bytes()[0] != b'1' || !(b'3'..=b'9').contains(&second) {
        return Err("手机号码应以13–19开头".to_string());
    }
    Ok(digits)
}

/// A fixed-line number with its area code: 0 + 2–3 digits, then 7–8 digits, an optional
/// extension after `-` or `转`.
pub fn validate_landline(input: &str) -> Result<String, String> {
    let value = input.trim();
    let (main, _extension) = value
        .split_once('转')
        .map(|(m, e)| (m, Some(e)))
        .unwrap_or((value, None));
    let parts: Vec<&str> = main.split(['-', ' ']).filter(|p| !p.is_empty()).collect();
    let ok = match parts.as_slice() {
        [area, number] | [area, number, _] => {
            area.starts_with('0')
                && (3..=4).contains(&area.len())
                && (7..=8).contains(&number.len())
                && area
                    .chars()
                    .chain(number.chars())
                    .all(|c| c.is_ascii_digit())
        }
        _ => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err("固定电话应带区号，如 010-12345678".to_string())
    }
}

/// An e-mail address: one `@`, a local part, and a domain with a dot and no spaces.
pub fn validate_email(input: &str) -> Result<String, String> {
    let value = input.trim();
    let invalid = || Err("电子邮箱格式不正确，如 name@example.com".to_string());
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Some((local, domain)) = value.split_once('@') else {
        return invalid();
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return invalid();
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_the_organisation_that_registered() {
        let form = valid_form();
        assert!(form
            .registered_organisation_problems("福州测试科技有限公司", "91350100M000100Y43")
            .is_empty());
        let mut lower = valid_form();
        lower.organisation.credit_code = " 91350100m000100y43 ".into();
        assert!(lower
            .registered_organisation_problems("福州测试科技有限公司", "91350100M000100Y43")
            .is_empty());

        // Another organisation's valid name and code: both named, with the registered values.
        let problems =
            form.registered_organisation_problems("厦门另一家有限公司", "91350200MA2XXXXX7K");
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["organisation.name", "organisation.credit_code"]);
        assert!(problems[0].message.contains("厦门另一家有限公司"));
        assert!(problems[1].message.contains("91350200MA2XXXXX7K"));
    }

    pub(crate) fn valid_form() -> ApplicationForm {
        ApplicationForm {
            organisation: OrganisationPart {
                name: "福州测试科技有限公司".into(),
                credit_code: "91350100M000100Y43".into(),
                org_type: "企业".into(),
                address: "福建省福州市鼓楼区五四路100号".into(),
                phone: "0591-87654321".into(),
                registration_place: "福建省福州市".into(),
            },
            legal_rep: PersonPart {
                name: "张三".into(),
                id_number: "11010519491231002X".into(),
                mobile: "13800138000".into(),
                email: "boss@example.com".into(),
            },
            handler: PersonPart {
                name: "李四".into(),
                id_number: "440524188001010014".into(),
                mobile: "13900139000".into(),
                email: "handler@example.com".into(),
            },
            delivery: DeliveryPart {
                method: "mail".into(),
                recipient: "李四".into(),
                phone: "13900139000".into(),
                address: "福建省福州市鼓楼区五四路100号".into(),
            },
            terms_accepted: true,
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_complete_form_passes() {
        assert_eq!(valid_form().validate(DeliveryChoice::UKey), vec![]);
    }

    #[test]
    fn the_organisation_name_fits_a_certificate_subject() {
        let mut form = valid_form();
        form.organisation.name = "某".repeat(64);
        assert_eq!(form.validate(DeliveryChoice::UKey), vec![]);
        form.organisation.name = "某".repeat(70);
        assert_eq!(
            fields(&form.validate(DeliveryChoice::UKey)),
            vec!["organisation.name"]
        );
    }

    #[test]
    fn an_empty_form_names_every_required_field() {
        let errors = ApplicationForm::default().validate(DeliveryChoice::UKey);
        assert_eq!(
            fields(&errors),
            vec![
                "organisation.name",
                "organisation.credit_code",
                "organisation.org_type",
                "organisation.address",
                "organisation.phone",
                "organisation.registration_place",
                "legal_rep.name",
                "legal_rep.id_number",
                "legal_rep.mobile",
                "legal_rep.email",
                "handler.name",
                "handler.id_number",
                "handler.mobile",
                "handler.email",
                "delivery.method",
                "terms_accepted",
            ]
        );
        assert_eq!(errors[1].message, "请填写统一社会信用代码");
        assert_eq!(errors[8].message, "请填写法定代表人手机号码");
        assert_eq!(errors[13].message, "请填写经办人电子邮箱");
    }

    #[test]
    fn each_wrong_field_gets_its_own_message() {
        type Change = fn(&mut ApplicationForm);
        let cases: Vec<(Change, &str, &str)> = vec![
            (
                |f| f.organisation.name = "某".repeat(65),
                "organisation.name",
                "单位名称最多64个字，当前65个",
            ),
            (
                |f| f.organisation.credit_code = "91350100M000100Y44".into(),
                "organisation.credit_code",
                "统一社会信用代码校验位不正确",
            ),
            (
                |f| f.legal_rep.id_number = "110105194912310021".into(),
                "legal_rep.id_number",
                "法定代表人身份证号码校验位不正确",
            ),
            (
                |f| f.handler.id_number = "11010519491331002X".into(),
                "handler.id_number",
                "经办人身份证号码中的出生日期无效",
            ),
            (
                |f| f.legal_rep.mobile = "1380013800".into(),
                "legal_rep.mobile",
                "法定代表人手机号码应为11位数字，当前为10位",
            ),
            (
                |f| f.handler.mobile = "12800138000".into(),
                "handler.mobile",
                "经办人手机号码应以13–19开头",
            ),
            (
                |f| f.legal_rep.email = "boss@example".into(),
                "legal_rep.email",
                "法定代表人电子邮箱格式不正确",
            ),
            (
                |f| f.handler.email = "a b@example.com".into(),
                "handler.email",
                "经办人电子邮箱格式不正确",
            ),
            (
                |f| f.organisation.phone = "87654321".into(),
                "organisation.phone",
                "单位电话应为11位手机号码或带区号的固定电话",
            ),
            (
                |f| f.organisation.address = "福州".into(),
                "organisation.address",
                "单位地址至少6个字",
            ),
            (
                |f| f.organisation.org_type = "公司".into(),
                "organisation.org_type",
                "请选择单位类型",
            ),
            (
                |f| f.delivery.address = "".into(),
                "delivery.address",
                "请填写收件地址",
            ),
            (
                |f| f.delivery.method = "drone".into(),
                "delivery.method",
                "请选择领取方式",
            ),
            (
                |f| f.terms_accepted = false,
                "terms_accepted",
                "请阅读并同意",
            ),
        ];
        for (change, field, message) in cases {
            let mut form = valid_form();
            change(&mut form);
            let errors = form.validate(DeliveryChoice::UKey);
            assert_eq!(fields(&errors), vec![field], "{field}");
            assert!(
                errors[0].message.starts_with(message),
                "{field}: {:?} should start with {message:?}",
                errors[0].message
            );
        }
    }

    #[test]
    fn pickup_needs_no_address_and_mobile_products_are_online() {
        let mut form = valid_form();
        form.delivery = DeliveryPart {
            method: "pickup".into(),
            ..DeliveryPart::default()
        };
        assert_eq!(form.validate(DeliveryChoice::UKey), vec![]);
        assert_eq!(
            fields(&form.validate(DeliveryChoice::Mobile)),
            vec!["delivery.method"]
        );
        form.delivery.method = "online".into();
        assert_eq!(form.validate(DeliveryChoice::Mobile), vec![]);
        assert_eq!(form.delivery_method(), Some(DeliveryMethod::Online));
    }

    #[test]
    fn normalising_trims_and_upper_cases_identifiers() {
        let mut form = valid_form();
        form.organisation.credit_code = " 91350100m000100y43 ".into();
        form.legal_rep.id_number = "11010519491231002x".into();
        form.handler.name = "  李四 ".into();
        let form = form.normalised();
        assert_eq!(form.organisation.credit_code, "91350100M000100Y43");
        assert_eq!(form.legal_rep.id_number, "11010519491231002X");
        assert_eq!(form.handler.name, "李四");
    }

    #[test]
    fn mobile_landline_and_email_rules() {
        assert_eq!(
            validate_mobile("138 0013 8000").as_deref(),
            Ok("13800138000")
        );
        assert_eq!(
            validate_mobile("+8613800138000").as_deref(),
            Ok("13800138000")
        );
        assert!(validate_mobile("1380013800a").is_err());
        assert!(validate_landline("010-12345678").is_ok());
        assert!(validate_landline("0591-8765432").is_ok());
        assert!(validate_landline("0591-87654321转123").is_ok());
        assert!(validate_landline("591-87654321").is_err());
        assert!(validate_landline("010-123456").is_err());
        for ok in ["a@b.cn", "first.last@mail.example.com", "王@例子.中国"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.cn", "a@b", "a@@b.cn", "a@-b.cn", "a@b..cn", "a b@c.cn",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
