//! Organisations and accounts: registration with the first admin, employees and staff,
//! password changes, API tokens. JSON API and pages share the functions at the top.

mod error;
mod login;

pub(crate) use error::AccountError;

pub(crate) use login::{signed_in, LoginResponse};

use crate::web::auth::AccountView;
use crate::web::auth::{self, CurrentUser};
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Form, Path};
use crate::web::json::ApiJson;
use crate::web::pages::PageFailure;
use crate::web::pages::{render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::{
    validate_credit_code, validate_new_password, validate_username, Action, Relation, Role,
};
use certdesk_store::{NewAccount, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    let registry = login::register(registry);
    use Action::*;
    registry
        .post("/api/v1/organisations", RegisterOrganisation, register_api)
        .get("/api/v1/accounts", ListAccounts, list_accounts_api)
        .post("/api/v1/accounts", CreateAccount, create_account_api)
        .post(
            "/api/v1/accounts/{account_id}/{change}",
            ManageAccount,
            manage_account_api,
        )
        .put(
            "/api/v1/me/password",
            ChangeOwnPassword,
            change_password_api,
        )
        .get("/api/v1/tokens", ManageOwnApiTokens, list_tokens_api)
        .post("/api/v1/tokens", ManageOwnApiTokens, create_token_api)
        .delete(
            "/api/v1/tokens/{token_id}",
            ManageOwnApiTokens,
            revoke_token_api,
        )
        .get("/register", RegisterOrganisation, register_page)
        .post("/register", RegisterOrganisation, register_submit)
        .get("/accounts", ListAccounts, accounts_page)
        .post("/accounts", CreateAccount, create_account_submit)
        .post(
            "/accounts/{account_id}/{change}",
            ManageAccount,
            manage_account_submit,
        )
        .get("/account", ViewOwnAccount, account_page)
        .post(
            "/account/password",
            ChangeOwnPassword,
            change_password_submit,
        )
        .post("/account/tokens", ManageOwnApiTokens, create_token_submit)
        .post(
            "/account/tokens/{token_id}/revoke",
            ManageOwnApiTokens,
            revoke_token_submit,
        )
}

// --- shared rules -----------------------------------------------------------------------------

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// 单位名称
    pub organisation_name: String,
    /// 统一社会信用代码
    pub credit_code: String,
    /// 管理员登录用户名
    pub admin_username: String,
    /// 管理员姓名
    pub admin_name: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: i64,
    pub name: String,
    /// Masked, e.g. `91****Y43`.
    pub credit_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegistrationResponse {
    pub organisation: OrganisationView,
    pub account: AccountView,
}

/// Registrations one client address may make in [`REGISTRATION_WINDOW_SECS`].
pub const REGISTRATIONS_PER_CLIENT: i64 = 5;
pub const REGISTRATION_WINDOW_SECS: i64 = 60 * 60;

async fn register_organisation(
    state: &AppState,
    req: RegistrationRequest,
    client: &str,
) -> Result<RegistrationResponse, AccountError> {
    let name = req.organisation_name.trim();
    // Certificates name the organisation as it registers: the name must fit a certificate.
    certdesk_domain::limits::check_subject_name(name)
        .map_err(AccountError::InvalidOrganisationName)?;
    let credit_code = validate_credit_code(&req.credit_code)
        .map_err(|e| AccountError::InvalidCreditCode(e.to_string()))?;
    let (username, display_name) =
        check_new_account(&req.admin_username, &req.admin_name, &req.password)?;
    // Counted once the request is well formed, before the password is hashed: a client cannot
    // register organisations (or claim credit codes) without limit.
    let now = state.now();
    if let certdesk_store::Slot::Full { until } = state
        .store
        .take_rate_slot(
            &format!("register:client:{client}"),
            certdesk_store::RateLimit {
                max: REGISTRATIONS_PER_CLIENT,
                window_secs: REGISTRATION_WINDOW_SECS,
            },
            now,
        )
        .await?
    {
        return Err(AccountError::TooManyRegistrations {
            minutes: ((until - now).max(1) + 59) / 60,
        });
    }
    let hash = auth::hash_password(req.password)
        .await
        .map_err(AccountError::Hashing)?;
    let detail = format!(
        "统一社会信用代码 {}",
        certdesk_domain::audit::mask_credit_code(&credit_code)
    );
    let (organisation, account) = state
        .store
        .register_organisation(
            name,
            &credit_code,
            &NewAccount {
                username: &username,
                display_name: &display_name,
                role: Role::OrgAdmin,
                org_id: None,
                password_hash: &hash,
                created_at: state.now(),
            },
            &detail,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict("credit_code") => AccountError::OrganisationExists,
            StoreError::Conflict("username") => AccountError::UsernameTaken,
            other => AccountError::Store(other),
        })?;
    Ok(RegistrationResponse {
        organisation: OrganisationView {
            id: organisation.id,
            name: organisation.name,
            credit_code: certdesk_domain::audit::mask_credit_code(&organisation.credit_code),
        },
        account: AccountView::from(&account),
    })
}

/// Checks a new account's name, holder's name and password; answers them trimmed.
pub(crate) fn check_new_account(
    username: &str,
    display_name: &str,
    password: &str,
) -> Result<(String, String), AccountError> {
    let username = username.trim();
    validate_username(username).map_err(|e| AccountError::InvalidUsername(e.to_string()))?;
    let display_name = display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 50 {
        return Err(AccountError::InvalidName);
    }
    validate_new_password(password).map_err(|e| AccountError::WeakPassword(e.to_string()))?;
    Ok((username.to_string(), display_name.to_string()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewAccountRequest {
    pub username: String,
    pub display_name: String,
    pub password: String,
    /// For the system admin: platform_operator, ca_officer or system_admin. Organisation
    /// admins create employees and may leave it out.
    #[serde(default)]
    pub role: Option<String>,
}

/// Where new accounts of this actor go: the actor's organisation (employees), or the platform
/// (staff, for the system admin).
fn account_scope(user: &CurrentUser) -> Relation {
    relation_to(user, None, user.account().org_id)
}

/// What an admin does to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountChange {
    Disable,
    Enable,
    ResetPassword,
}

impl AccountChange {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(AccountChange::Disable),
            "enable" => Some(AccountChange::Enable),
            "reset-password" => Some(AccountChange::ResetPassword),
            _ => None,
        }
    }
}

/// The answer to an admin's change: a reset's one-time password, shown to the admin once.
#[derive(Serialize, ToSchema)]
pub struct AccountChanged {
    pub account: AccountView,
    /// Only for reset-password: give it to the user; they must change it at the next login.
    pub one_time_password: Option<String>,
}

async fn manage_account(
    state: &AppState,
    user: &CurrentUser,
    account_id: i64,
    change: &str,
) -> Result<AccountChanged, AccountError> {
    let change = AccountChange::parse(change).ok_or(AccountError::AccountNotFound)?;
    let target = state
        .store
        .account_by_id(account_id)
        .await?
        .ok_or(AccountError::AccountNotFound)?;
    require(
        user,
        Action::ManageAccount,
        relation_to(user, None, target.org_id),
    )?;
    if target.id == user.account().id {
        return Err(AccountError::OwnAccount);
    }
    let now = state.now();
    let note = crate::web::audit_trail::note_by(state, user.account(), "");
    let mut one_time_password = None;
    match change {
        AccountChange::Disable | AccountChange::Enable => {
            state
                .store
                .set_account_disabled(target.id, change == AccountChange::Disable, now, &note)
                .await?;
        }
        AccountChange::ResetPassword => {
            let password = auth::random_token()[..16].to_string();
            let hash = auth::hash_password(password.clone())
                .await
                .map_err(AccountError::Hashing)?;
            state
                .store
                .reset_password(target.id, &hash, now, &note)
                .await?;
            one_time_password = Some(password);
        }
    }
    let account = state
        .store
        .account_by_id(target.id)
        .await?
        .ok_or(AccountError::AccountNotFound)?;
    Ok(AccountChanged {
        account: AccountView::from(&account),
        one_time_password,
    })
}

/// Disable or enable an account, or reset its password (`disable`, `enable`,
/// `reset-password`): an organisation admin for its organisation's accounts, the system admin
/// for staff. Disabling and resetting end the account's sessions and tokens.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/{change}",
    responses((status = 200, body = AccountChanged), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn manage_account_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((account_id, change)): Path<(i64, String)>,
) -> Result<Json<AccountChanged>, ApiError> {
    Ok(Json(
        manage_account(&state, &user, account_id, &change).await?,
    ))
}

async fn manage_account_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((account_id, change)): Path<(i64, String)>,
) -> Response {
    let told = manage_account(&state, &user, account_id, &change)
        .await
        .map(|changed| match (&changed.one_time_password, changed.account.disabled) {
            (Some(password), _) => format!(
                "已重置 {} 的密码，一次性密码：{password}（只显示这一次，请交给本人，登录后须修改）",
                changed.account.username
            ),
            (None, true) => format!("已停用 {}", changed.account.username),
            (None, false) => format!("已启用 {}", changed.account.username),
        })
        .map_err(PageFailure::from);
    crate::web::flash::back_with(
        &state,
        &user,
        "/accounts",
        told,
        crate::web::flash::Slot::Error,
    )
    .await
}

async fn create_account(
    state: &AppState,
    user: &CurrentUser,
    req: NewAccountRequest,
) -> Result<AccountView, AccountError> {
    require(user, Action::CreateAccount, account_scope(user))?;
    let (username, display_name) =
        check_new_account(&req.username, &req.display_name, &req.password)?;
    let role = match (user.role(), req.role.as_deref()) {
        (Role::OrgAdmin, None | Some("employee")) => Role::Employee,
        (Role::OrgAdmin, Some(_)) => {
            return Err(AccountError::InvalidRole("机构管理员只能创建其他员工账号"))
        }
        (_, Some(role)) => match role.parse::<Role>() {
            Ok(role) if role.is_staff() => role,
            _ => {
                return Err(AccountError::InvalidRole(
                    "请选择平台审核员、CA审核员或系统管理员",
                ))
            }
        },
        (_, None) => return Err(AccountError::InvalidRole("请选择要创建的账号角色")),
    };
    let hash = auth::hash_password(req.password)
        .await
        .map_err(AccountError::Hashing)?;
    let detail = format!("角色：{}", role.label_zh());
    let account = state
        .store
        .create_account(
            &NewAccount {
                username: &username,
                display_name: &display_name,
                role,
                org_id: if role.is_staff() {
                    None
                } else {
                    user.account().org_id
                },
                password_hash: &hash,
                created_at: state.now(),
            },
            &crate::web::audit_trail::note_by(state, user.account(), &detail),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AccountError::UsernameTaken,
            other => AccountError::Store(other),
        })?;
    Ok(AccountView::from(&account))
}

async fn list_accounts(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<AccountView>, AccountError> {
    require(user, Action::ListAccounts, account_scope(user))?;
    let accounts = state.store.accounts_of(user.account().org_id).await?;
    Ok(accounts.iter().map(AccountView::from).collect())
}

async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    current: String,
    new: String,
) -> Result<(), AccountError> {
    require(user, Action::ChangeOwnPassword, Relation::OwnAccount)?;
    validate_new_password(&new).map_err(|e| AccountError::WeakPassword(e.to_string()))?;
    if !auth::verify_password(current, Some(user.account().password_hash.clone())).await {
        return Err(AccountError::WrongPassword);
    }
    let hash = auth::hash_password(new)
        .await
        .map_err(AccountError::Hashing)?;
    state
        .store
        .set_password_hash(
            user.account().id,
            &hash,
            user.session.as_ref().map(|s| s.token_hash.as_str()),
            state.now(),
            &crate::web::audit_trail::note_by(state, user.account(), ""),
        )
        .await?;
    // The one-time password printed at first start is no more: the login page stops pointing
    // at it.
    state
        .store
        .clear_setting_if(
            crate::ONE_TIME_PASSWORD_SETTING,
            &user.account().id.to_string(),
        )
        .await?;
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
    /// When it stops working (Unix seconds).
    pub expires_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NewApiToken {
    pub id: i64,
    pub name: String,
    /// Shown this once; keep it secret. Send as `Authorization: Bearer …`.
    pub token: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

/// How long an API token works unless asked otherwise, and at most.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
pub const MAX_TOKEN_DAYS: i64 = 365;

async fn create_token(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<NewApiToken, AccountError> {
    require(user, Action::ManageOwnApiTokens, Relation::OwnAccount)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AccountError::InvalidTokenName);
    }
    let days = expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(AccountError::InvalidTokenExpiry(MAX_TOKEN_DAYS));
    }
    let expires_at = state.now() + days * 24 * 60 * 60;
    let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::random_token());
    let stored = state
        .store
        .create_api_token(
            user.account().id,
            name,
            &auth::token_hash(&token),
            state.now(),
            expires_at,
            &crate::web::audit_trail::note_by(state, user.account(), ""),
        )
        .await?;
    Ok(NewApiToken {
        id: stored.id,
        name: stored.name,
        token,
        expires_at,
    })
}

async fn revoke_token(
    state: &AppState,
    user: &CurrentUser,
    token_id: i64,
) -> Result<(), AccountError> {
    let token = state
        .store
        .api_token_by_id(token_id)
        .await?
        .ok_or(AccountError::TokenNotFound)?;
    let owner = state
        .store
        .account_by_id(token.account_id)
        .await?
        .ok_or(AccountError::TokenNotFound)?;
    require(
        user,
        Action::ManageOwnApiTokens,
        relation_to(user, Some(owner.id), owner.org_id),
    )?;
    state
        .store
        .revoke_api_token(
            user.account().id,
            token_id,
            state.now(),
            &crate::web::audit_trail::note_by(state, user.account(), ""),
        )
        .await?;
    Ok(())
}

// --- JSON API ---------------------------------------------------------------------------------

/// Register an organisation with its first admin (机构管理员).
#[utoipa::path(post, path = "/api/v1/organisations", request_body = RegistrationRequest,
    responses((status = 201, body = RegistrationResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_api(
    State(state): State<AppState>,
    client: auth::ClientAddr,
    ApiJson(req): ApiJson<RegistrationRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(register_organisation(&state, req, &client.0).await?),
    )
        .into_response())
}

/// The accounts of the caller's organisation (organisation admin), or the staff (system admin).
#[utoipa::path(get, path = "/api/v1/accounts", responses((status = 200, body = [AccountView]), (status = 403, body = ErrorBody)))]
async fn list_accounts_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(list_accounts(&state, &user).await?))
}

/// Create an employee (organisation admin) or a staff account (system admin).
#[utoipa::path(post, path = "/api/v1/accounts", request_body = NewAccountRequest,
    responses((status = 201, body = AccountView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewAccountRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_account(&state, &user, req).await?),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change the caller's password.
#[utoipa::path(put, path = "/api/v1/me/password", request_body = PasswordChange,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    change_password(&state, &user, req.current_password, req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [ApiTokenView])))]
async fn list_tokens_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    Ok(Json(token_views(&state, &user).await?))
}

async fn token_views(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<ApiTokenView>, AccountError> {
    require(user, Action::ManageOwnApiTokens, Relation::OwnAccount)?;
    Ok(state
        .store
        .api_tokens_of(user.account().id)
        .await?
        .into_iter()
        .map(|t| ApiTokenView {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked: t.revoked_at.is_some(),
            expires_at: t.expires_at,
        })
        .collect())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewApiTokenRequest {
    pub name: String,
    /// How many days it works, 1 to 365 (90 when not given).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// Create an API token for scripts; the token is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewApiTokenRequest, responses((status = 201, body = NewApiToken)))]
async fn create_token_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewApiTokenRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_token(&state, &user, &req.name, req.expires_in_days).await?),
    )
        .into_response())
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{token_id}", params(("token_id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(token_id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    revoke_token(&state, &user, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- pages ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    csrf: String,
    error: Option<String>,
    organisation_name: String,
    credit_code: String,
    admin_username: String,
    admin_name: String,
}

/// The registration form, with a fresh pre-login CSRF token in its cookie and hidden field.
fn registration_form(state: &AppState, page: RegisterPage, status: StatusCode) -> Response {
    let mut response = render(&page, status);
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        auth::prelogin_csrf_cookie(state, &page.csrf),
    );
    response
}

async fn register_page(State(state): State<AppState>) -> Response {
    let page = RegisterPage {
        csrf: auth::random_token(),
        error: None,
        organisation_name: String::new(),
        credit_code: String::new(),
        admin_username: String::new(),
        admin_name: String::new(),
    };
    registration_form(&state, page, StatusCode::OK)
}

#[derive(Deserialize)]
struct RegisterForm {
    organisation_name: String,
    credit_code: String,
    admin_username: String,
    admin_name: String,
    password: String,
    password_again: String,
}

async fn register_submit(
    State(state): State<AppState>,
    client: auth::ClientAddr,
    Form(form): Form<RegisterForm>,
) -> Response {
    let again = |error: String, status| {
        registration_form(
            &state,
            RegisterPage {
                csrf: auth::random_token(),
                error: Some(error),
                organisation_name: form.organisation_name.clone(),
                credit_code: form.credit_code.clone(),
                admin_username: form.admin_username.clone(),
                admin_name: form.admin_name.clone(),
            },
            status,
        )
    };
    if form.password != form.password_again {
        return again(
            "两次输入的密码不一致".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let req = RegistrationRequest {
        organisation_name: form.organisation_name.clone(),
        credit_code: form.credit_code.clone(),
        admin_username: form.admin_username.clone(),
        admin_name: form.admin_name.clone(),
        password: form.password.clone(),
    };
    match register_organisation(&state, req, &client.0).await {
        Ok(_) => Redirect::to("/login?registered=1").into_response(),
        Err(err) => {
            let failure = PageFailure::from(err);
            if failure.belongs_on_the_page() {
                again(failure.message, failure.failure.status())
            } else {
                failure.into_page()
            }
        }
    }
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<AccountView>,
    staff_roles: bool,
    error: Option<String>,
    notice: Option<String>,
}

async fn accounts_view(
    state: &AppState,
    user: CurrentUser,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    match list_accounts(state, &user).await {
        Ok(accounts) => {
            let staff_roles = user.role() == Role::SystemAdmin;
            render(
                &AccountsPage {
                    chrome: Chrome::new(&user, "accounts"),
                    accounts,
                    staff_roles,
                    error,
                    notice,
                },
                status,
            )
        }
        Err(err) => PageFailure::from(err).into_page(),
    }
}

async fn accounts_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    accounts_view(&state, user, flash.error, flash.notice, StatusCode::OK).await
}

#[derive(Deserialize)]
struct NewAccountForm {
    username: String,
    display_name: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
}

async fn create_account_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<NewAccountForm>,
) -> Response {
    let req = NewAccountRequest {
        username: form.username,
        display_name: form.display_name,
        password: form.password,
        role: form.role.filter(|r| !r.is_empty()),
    };
    match create_account(&state, &user, req).await {
        Ok(account) => {
            accounts_view(
                &state,
                user,
                None,
                Some(format!(
                    "已创建账号 {}（{}）",
                    account.username, account.display_name
                )),
                StatusCode::OK,
            )
            .await
        }
        Err(err) => {
            let failure = PageFailure::from(err);
            if failure.belongs_on_the_page() {
                let status = failure.failure.status();
                accounts_view(&state, user, Some(failure.message), None, status).await
            } else {
                failure.into_page()
            }
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    tokens: Vec<ApiTokenView>,
    new_token: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

async fn account_view(
    state: &AppState,
    user: CurrentUser,
    new_token: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    match token_views(state, &user).await {
        Ok(tokens) => render(
            &AccountPage {
                chrome: Chrome::new(&user, "account"),
                tokens,
                new_token,
                error,
                notice,
            },
            status,
        ),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

async fn account_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    account_view(&state, user, None, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_again: String,
}

async fn change_password_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<PasswordForm>,
) -> Response {
    if form.new_password != form.new_password_again {
        return account_view(
            &state,
            user,
            None,
            Some("两次输入的新密码不一致".into()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match change_password(&state, &user, form.current_password, form.new_password).await {
        Ok(()) => {
            account_view(
                &state,
                user,
                None,
                None,
                Some("密码已修改".into()),
                StatusCode::OK,
            )
            .await
        }
        Err(err) => account_refused(&state, user, err).await,
    }
}

/// The account page again with why a form was refused, or a page of its own for what does not
/// belong there.
async fn account_refused(state: &AppState, user: CurrentUser, err: AccountError) -> Response {
    let failure = PageFailure::from(err);
    if !failure.belongs_on_the_page() {
        return failure.into_page();
    }
    let status = failure.failure.status();
    account_view(state, user, None, Some(failure.message), None, status).await
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
}

async fn create_token_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<TokenForm>,
) -> Response {
    match create_token(&state, &user, &form.name, None).await {
        Ok(token) => {
            account_view(&state, user, Some(token.token), None, None, StatusCode::OK).await
        }
        Err(err) => account_refused(&state, user, err).await,
    }
}

async fn revoke_token_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(token_id): Path<i64>,
) -> Response {
    match revoke_token(&state, &user, token_id).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(
        paths(
            login::login,
            login::logout,
            login::me,
            register_api,
            list_accounts_api,
            manage_account_api,
            create_account_api,
            change_password_api,
            list_tokens_api,
            create_token_api,
            revoke_token_api
        ),
        components(schemas(login::LoginRequest, LoginResponse, AccountView))
    )]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
