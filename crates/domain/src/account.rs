//! Accounts: who a user is to the system, and the rules for their names and passwords.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The five roles of DOMAIN.md ("Who uses it"). Stored as the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 机构管理员
    OrgAdmin,
    /// 其他员工
    Employee,
    /// 平台审核员 / 客服
    PlatformOperator,
    /// CA审核员
    CaOfficer,
    /// 系统管理员
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::OrgAdmin,
        Role::Employee,
        Role::PlatformOperator,
        Role::CaOfficer,
        Role::SystemAdmin,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OrgAdmin => "org_admin",
            Role::Employee => "employee",
            Role::PlatformOperator => "platform_operator",
            Role::CaOfficer => "ca_officer",
            Role::SystemAdmin => "system_admin",
        }
    }

    /// The name users see.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::OrgAdmin => "机构管理员",
            Role::Employee => "其他员工",
            Role::PlatformOperator => "平台审核员",
            Role::CaOfficer => "CA审核员",
            Role::SystemAdmin => "系统管理员",
        }
    }

    /// Staff roles belong to the platform, not to a supplier organisation.
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Role::PlatformOperator | Role::CaOfficer | Role::SystemAdmin
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知角色: {0}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Why a user name is not acceptable. Messages are shown to users as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("用户名不能为空")]
    Empty,
    #[error("用户名长度应为 3 到 32 个字符")]
    Length,
    #[error("用户名只能包含字母、数字、下划线、点和短横线")]
    Characters,
}

/// Login names: 3–32 ASCII letters, digits, `_`, `.` or `-`. Kept ASCII so that they can be
/// typed on any keyboard and never confused by look-alike characters.
pub fn validate_username(name: &str) -> Result<(), UsernameError> {
    if name.is_empty() {
        return Err(UsernameError::Empty);
    }
    if !(3..=32).contains(&name.chars().count()) {
        return Err(UsernameError::Length);
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(UsernameError::Characters);
    }
    Ok(())
}

/// Why a new password is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("密码至少需要 10 个字符")]
    TooShort,
    #[error("密码不能超过 128 个字符")]
    TooLong,
    #[error("密码需同时包含字母和数字")]
    NeedsLettersAndDigits,
}

/// The password policy for new passwords: 10–128 characters with at least one letter and one
/// digit. Length matters more than symbol rules, so the policy stays short and explainable.
pub fn validate_new_password(password: &str) -> Result<(), PasswordPolicyError> {
    let len = password.chars().count();
    if len < 10 {
        return Err(PasswordPolicyError::TooShort);
    }
    if len > 128 {
        return Err(PasswordPolicyError::TooLong);
    }
    let has_letter = password.chars().any(|c| c.is_alphabetic());
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    if !(has_letter && has_digit) {
        return Err(PasswordPolicyError::NeedsLettersAndDigits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_stored_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn staff_roles_are_the_platform_ones() {
        let staff: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_staff()).collect();
        assert_eq!(
            staff,
            vec![Role::PlatformOperator, Role::CaOfficer, Role::SystemAdmin]
        );
    }

    #[test]
    fn usernames() {
        assert_eq!(validate_username("admin"), Ok(()));
        assert_eq!(validate_username("zhang.san-01"), Ok(()));
        assert_eq!(validate_username(""), Err(UsernameError::Empty));
        assert_eq!(validate_username("ab"), Err(UsernameError::Length));
        assert_eq!(
            validate_username(&"a".repeat(33)),
            Err(UsernameError::Length)
        );
        assert_eq!(validate_username("张三丰"), Err(UsernameError::Characters));
        assert_eq!(validate_username("a b c"), Err(UsernameError::Characters));
    }

    #[test]
    fn password_policy() {
        assert_eq!(validate_new_password("abc123defg"), Ok(()));
        assert_eq!(
            validate_new_password("abc123"),
            Err(PasswordPolicyError::TooShort)
        );
        assert_eq!(
            validate_new_password("abcdefghijkl"),
            Err(PasswordPolicyError::NeedsLettersAndDigits)
        );
        assert_eq!(
            validate_new_password("12345678901"),
            Err(PasswordPolicyError::NeedsLettersAndDigits)
        );
        assert_eq!(
            validate_new_password(&format!("a1{}", "x".repeat(127))),
            Err(PasswordPolicyError::TooLong)
        );
    }
}
