//! 身份核验 of an application: the four checks (人脸识别, 法人手机号实名核验, 对公账户打款验证,
//! 法人银行卡核验) behind one [`IdentityProvider`], the built-in [`SandboxIdentityProvider`],
//! the API on an order's checks, and [`passed_identity_check`] for the submit step.
//!
//! Our side keeps the rules (`certdesk_domain::identity`): it makes the SMS and memo codes,
//! keeps only their salted hashes, counts tries and expiry, and caps face tries per person and
//! day. The provider does what needs the outside world: match a face with the public-security
//! photo, tell whether a mobile is registered to a person, send an SMS, make the 0.01元 transfer,
//! match a bank card's four elements. Resident ID numbers, mobiles and card numbers reach the
//! provider, never the log, the database (hashed or masked there) or an answer (masked).

mod error;

pub(crate) use error::IdentityError;

use crate::web::auth::CurrentUser;
use crate::web::json::ApiJson;

use crate::pipeline::order_for;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::routes::Registry;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use base64::Engine;
use certdesk_domain::audit::{mask_bank_card, mask_mobile, mask_resident_id};
use certdesk_domain::identity::{
    beijing_day, beijing_day_start, code_hash, decide_code, face_try_allowed, memo_code,
    normalise_code, sms_code, validate_bank_card, validate_bank_name, validate_corporate_account,
    validate_mobile, validate_person_name, CheckStatus, CodeOutcome, IdentityInputError,
    IdentityMethod, PendingCode, FACE_TRIES_PER_DAY, MICRO_DEPOSIT_CODE_LEN, MICRO_DEPOSIT_FEN,
    SMS_CODES_PER_DAY, SMS_CODE_VALIDITY_SECS,
};
use certdesk_domain::{validate_resident_id, Action, AuditAction, Role};
use certdesk_store::{IdentityCheck, NewIdentityCheck, Order, RateLimit, Slot};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use utoipa::ToSchema;

// --- the provider interface -------------------------------------------------------------------

/// What an outside service answered about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Not the person (or not the person's): the reason, in Chinese, for the applicant.
    Failed(String),
}

/// The outside service could not be reached or answered nonsense: try again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("身份核验服务暂时不可用：{0}")]
pub struct ProviderError(pub String);

pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// 人脸识别: a live photo against the person's public-security photo.
#[derive(Debug, Clone, Copy)]
pub struct FaceMatch<'a> {
    pub order_id: i64,
    pub name: &'a str,
    pub id_number: &'a str,
    /// A checked JPG/PNG/BMP image.
    pub photo: &'a [u8],
}

/// 手机号实名: is the mobile registered to this person (运营商三要素)?
#[derive(Debug, Clone, Copy)]
pub struct MobileRealName<'a> {
    pub order_id: i64,
    pub name: &'a str,
    pub id_number: &'a str,
    pub mobile: &'a str,
}

/// An SMS to send.
#[derive(Debug, Clone, Copy)]
pub struct Sms<'a> {
    pub order_id: i64,
    pub mobile: &'a str,
    pub text: &'a str,
}

/// 对公打款: transfer `amount_fen` to the corporate account with `memo` as the 附言.
#[derive(Debug, Clone, Copy)]
pub struct MicroDeposit<'a> {
    pub order_id: i64,
    pub account_name: &'a str,
    pub account_number: &'a str,
    pub bank_name: &'a str,
    pub amount_fen: i64,
    pub memo: &'a str,
}

/// 银行卡四要素: card, name, ID number and the mobile the bank holds for the card.
#[derive(Debug, Clone, Copy)]
pub struct BankCardMatch<'a> {
    pub order_id: i64,
    pub name: &'a str,
    pub id_number: &'a str,
    pub card_number: &'a str,
    pub mobile: &'a str,
}

/// One message of the sandbox's outbox (沙箱短信) or bank statement (沙箱银行流水).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct SandboxNotice {
    /// sms | bank_transfer
    pub kind: String,
    /// 沙箱短信 | 沙箱银行流水
    pub label: String,
    /// The masked mobile or account it went to.
    pub to: String,
    pub text: String,
    pub at: i64,
}

/// The outside services identity checks need. A real provider implements this and is plugged
/// in with `AppState::with_identity_provider`; [`SandboxIdentityProvider`] is the built-in one.
pub trait IdentityProvider: Send + Sync {
    /// Shown to staff and in answers, e.g. "沙箱".
    fn name(&self) -> &'static str;
    /// Whether this is a sandbox whose messages may be shown to the applicant.
    fn is_sandbox(&self) -> bool {
        false
    }
    fn face_match<'a>(&'a self, request: FaceMatch<'a>) -> ProviderFuture<'a, Verdict>;
    fn mobile_real_name<'a>(&'a self, request: MobileRealName<'a>) -> ProviderFuture<'a, Verdict>;
    fn send_sms<'a>(&'a self, sms: Sms<'a>) -> ProviderFuture<'a, ()>;
    /// `Failed` when the transfer cannot be made (no such account, closed, name mismatch).
    fn micro_deposit<'a>(&'a self, request: MicroDeposit<'a>) -> ProviderFuture<'a, Verdict>;
    fn bank_card<'a>(&'a self, request: BankCardMatch<'a>) -> ProviderFuture<'a, Verdict>;
    /// The sandbox's SMS and bank statement for an order, newest last; nothing for a real
    /// provider.
    fn sandbox_notices(&self, _order_id: i64) -> Vec<SandboxNotice> {
        Vec::new()
    }
}

/// The built-in sandbox (沙箱): it behaves like the outside services, deterministically, for
/// tests and demos. Nothing leaves the process.
///
/// - **人脸识别** passes for every valid ID number with a real, decodable photo (our side checks
///   the photo first), except for the test person [`SANDBOX_FACE_MISMATCH_ID`], whose face never
///   matches ("人脸比对不一致").
/// - **手机号实名** passes, except for [`SANDBOX_MOBILE_OF_SOMEONE_ELSE`], which is registered to
///   another person.
/// - **短信** is not sent: it goes to the order's sandbox outbox (沙箱短信), which the order's
///   own organisation reads at `GET /api/v1/orders/{order_no}/identity/sandbox`.
/// - **对公打款** "transfers" 0.01元 with the memo code into the order's sandbox bank statement,
///   except to [`SANDBOX_CLOSED_ACCOUNT`] ("账户已销户").
/// - **银行卡四要素** passes for any card that passed the Luhn check, except
///   [`SANDBOX_CARD_OF_SOMEONE_ELSE`], which belongs to another person.
#[derive(Default)]
pub struct SandboxIdentityProvider {
    notices: Mutex<HashMap<i64, Vec<SandboxNotice>>>,
}

/// The sandbox person whose face never matches (a valid resident ID, GB 11643).
pub const SANDBOX_FACE_MISMATCH_ID: &str = "440524188001010014";
/// A mobile the sandbox says is registered to someone else.
pub const SANDBOX_MOBILE_OF_SOMEONE_ELSE: &str = "13900000000";
/// A corporate account the sandbox bank says is closed.
pub const SANDBOX_CLOSED_ACCOUNT: &str = "6200000000000000";
/// A Luhn-valid card the sandbox says belongs to someone else.
pub const SANDBOX_CARD_OF_SOMEONE_ELSE: &str = "6222020200112345679";
/// Messages kept per order in the sandbox.
const SANDBOX_NOTICES_PER_ORDER: usize = 20;

impl SandboxIdentityProvider {
    fn post(&self, order_id: i64, notice: SandboxNotice) {
        let mut all = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.entry(order_id).or_default();
        list.push(notice);
        if list.len() > SANDBOX_NOTICES_PER_ORDER {
            list.remove(0);
        }
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, ProviderError>) -> ProviderFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// No identity provider configured (a deployment without the sandbox that has not plugged in a
/// real one): every check is refused with that reason, and nothing is sent anywhere.
pub struct NoIdentityProvider;

/// Why checks cannot run without a provider.
pub const NO_PROVIDER: &str = "本平台尚未接入身份核验服务，暂时无法在线核验身份，请联系平台客服";

impl IdentityProvider for NoIdentityProvider {
    fn name(&self) -> &'static str {
        "未配置"
    }

    fn face_match<'a>(&'a self, _request: FaceMatch<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Err(ProviderError(NO_PROVIDER.into())))
    }

    fn mobile_real_name<'a>(&'a self, _request: MobileRealName<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Err(ProviderError(NO_PROVIDER.into())))
    }

    fn send_sms<'a>(&'a self, _sms: Sms<'a>) -> ProviderFuture<'a, ()> {
        ready(Err(ProviderError(NO_PROVIDER.into())))
    }

    fn micro_deposit<'a>(&'a self, _request: MicroDeposit<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Err(ProviderError(NO_PROVIDER.into())))
    }

    fn bank_card<'a>(&'a self, _request: BankCardMatch<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Err(ProviderError(NO_PROVIDER.into())))
    }
}

impl IdentityProvider for SandboxIdentityProvider {
    fn name(&self) -> &'static str {
        "沙箱"
    }

    fn is_sandbox(&self) -> bool {
        true
    }

    fn face_match<'a>(&'a self, request: FaceMatch<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Ok(if request.id_number == SANDBOX_FACE_MISMATCH_ID {
            Verdict::Failed("人脸比对不一致，请正对镜头、光线充足后重试，或选择其他核验方式".into())
        } else {
            Verdict::Passed
        }))
    }

    fn mobile_real_name<'a>(&'a self, request: MobileRealName<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Ok(if request.mobile == SANDBOX_MOBILE_OF_SOMEONE_ELSE {
            Verdict::Failed("该手机号不是法定代表人本人实名登记的号码".into())
        } else {
            Verdict::Passed
        }))
    }

    fn send_sms<'a>(&'a self, sms: Sms<'a>) -> ProviderFuture<'a, ()> {
        self.post(
            sms.order_id,
            SandboxNotice {
                kind: "sms".into(),
                label: "沙箱短信".into(),
                to: mask_mobile(sms.mobile),
                text: sms.text.to_string(),
                at: now_unix(),
            },
        );
        ready(Ok(()))
    }

    fn micro_deposit<'a>(&'a self, request: MicroDeposit<'a>) -> ProviderFuture<'a, Verdict> {
        if request.account_number == SANDBOX_CLOSED_ACCOUNT {
            return ready(Ok(Verdict::Failed(
                "打款失败：该对公账户不存在或已销户，请核对账号".into(),
            )));
        }
        self.post(
            request.order_id,
            SandboxNotice {
                kind: "bank_transfer".into(),
                label: "沙箱银行流水".into(),
                to: mask_bank_card(request.account_number),
                text: format!(
                    "{}（{}）收到转账 {}.{:02} 元，付款方：certdesk 沙箱银行，附言：{}",
                    request.account_name,
                    request.bank_name,
                    request.amount_fen / 100,
                    request.amount_fen % 100,
                    request.memo
                ),
                at: now_unix(),
            },
        );
        ready(Ok(Verdict::Passed))
    }

    fn bank_card<'a>(&'a self, request: BankCardMatch<'a>) -> ProviderFuture<'a, Verdict> {
        ready(Ok(if request.card_number == SANDBOX_CARD_OF_SOMEONE_ELSE {
            Verdict::Failed("银行卡与法定代表人姓名、身份证号或预留手机号不一致".into())
        } else {
            Verdict::Passed
        }))
    }

    fn sandbox_notices(&self, order_id: i64) -> Vec<SandboxNotice> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&order_id)
            .cloned()
            .unwrap_or_default()
    }
}

// --- routes -----------------------------------------------------------------------------------

/// The identity routes; the sandbox's outbox only when the sandbox is in use.
pub(crate) fn register(registry: Registry, sandbox: bool) -> Registry {
    use Action::*;
    let registry = if sandbox {
        registry.get(
            "/api/v1/orders/{order_no}/identity/sandbox",
            ViewSandboxOutbox,
            sandbox_api,
        )
    } else {
        registry
    };
    registry
        .get(
            "/api/v1/orders/{order_no}/identity",
            ViewIdentityChecks,
            identity_api,
        )
        .post(
            "/api/v1/orders/{order_no}/identity/{method}/start",
            RunIdentityCheck,
            // A 5 MB photo is about 6.7 MB as Base64: more than axum's 2 MB default.
            axum::handler::Handler::layer(
                start_api,
                axum::extract::DefaultBodyLimit::max(START_BODY_LIMIT),
            ),
        )
        .post(
            "/api/v1/orders/{order_no}/identity/{method}/verify",
            RunIdentityCheck,
            verify_api,
        )
}

/// The largest start request: a photo of at most 5 MB in Base64, and the other fields.
const START_BODY_LIMIT: usize = 8 * 1024 * 1024;

fn field_error(code: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::InvalidField {
        code,
        message: message.into(),
    }
}

fn input_error(e: IdentityInputError) -> IdentityError {
    let code = match e.field() {
        "name" => "invalid_name",
        "mobile" => "invalid_mobile",
        "card_number" => "invalid_card_number",
        "account_number" => "invalid_account_number",
        "bank_name" => "invalid_bank_name",
        _ => "invalid_code",
    };
    field_error(code, e.to_string())
}

/// Identity checks belong to the application: only while it is 草稿 or 审核未通过.
fn require_editable(order: &Order) -> Result<(), IdentityError> {
    if order.status.is_editable() {
        return Ok(());
    }
    Err(IdentityError::NotEditable(order.status))
}

fn parse_method(method: &str) -> Result<IdentityMethod, IdentityError> {
    method
        .parse::<IdentityMethod>()
        .map_err(|e| IdentityError::UnknownMethod(e.to_string()))
}

fn actor_note(user: &CurrentUser) -> &'static str {
    if user.role() == Role::PlatformOperator {
        "（操作员代办）"
    } else {
        ""
    }
}

/// The audit entry of an identity check step on `order` (`object` is `order:<number>`), for
/// the store to write with the change.
fn audit_event<'a>(
    state: &AppState,
    user: &'a CurrentUser,
    order: &Order,
    object: &'a str,
    detail: &'a str,
) -> certdesk_store::NewAuditEvent<'a> {
    crate::web::audit_trail::note_on(state, user.account(), Some(order.org_id), detail)
        .event(AuditAction::IdentityCheck, object)
}

/// An identity check refused before anything was recorded (the day's face tries used).
async fn audit_refusal(state: &AppState, user: &CurrentUser, order: &Order, detail: String) {
    crate::web::audit_trail::record(
        state,
        Some(user.account()),
        Some(order.org_id),
        AuditAction::IdentityCheck,
        &format!("order:{}", order.order_no),
        &format!("{detail}{}", actor_note(user)),
    )
    .await;
}

// --- views ------------------------------------------------------------------------------------

/// One check as the applicant sees it: masked values only.
#[derive(Serialize, ToSchema)]
pub struct CheckView {
    /// face | mobile | micro_deposit | bank_card
    pub method: String,
    pub method_label: String,
    /// pending | passed | failed | locked
    pub status: String,
    pub status_label: String,
    /// The legal representative's name.
    pub name: String,
    /// Masked, e.g. 110***********002X.
    pub id_number: String,
    /// The masked mobile, card or account number (empty for a face match).
    pub target: String,
    /// Why the service said no (empty otherwise).
    pub failure: String,
    /// When a pending code expires, Beijing time.
    pub expires_at: Option<String>,
    /// Wrong codes still allowed, for a pending code.
    pub tries_left: Option<i64>,
    /// For a face match: tries left today for this person.
    pub face_tries_left_today: Option<i64>,
    /// What to do next, in Chinese.
    pub next_step: String,
}

fn check_view(check: &IdentityCheck, face_tries_left: Option<i64>) -> CheckView {
    let method = check.method.parse::<IdentityMethod>().ok();
    let status = check.status.parse::<CheckStatus>().ok();
    let pending = status == Some(CheckStatus::Pending);
    let next_step = match (status, method) {
        (Some(CheckStatus::Passed), _) => "身份核验已通过，可以提交申请".to_string(),
        (Some(CheckStatus::Pending), Some(IdentityMethod::MicroDeposit)) => {
            "请查看对公账户收到的0.01元转账，输入附言中的6位验证码".to_string()
        }
        (Some(CheckStatus::Pending), _) => {
            "请输入法定代表人手机收到的6位短信验证码（5分钟内有效）".to_string()
        }
        (Some(CheckStatus::Locked), _) => "验证码已失效，请重新获取".to_string(),
        _ => "核验未通过，可以重试或选择其他核验方式".to_string(),
    };
    CheckView {
        method: check.method.clone(),
        method_label: method.map_or("", |m| m.label_zh()).to_string(),
        status: check.status.clone(),
        status_label: status.map_or("", |s| s.label_zh()).to_string(),
        name: check.subject_name.clone(),
        id_number: check.masked_id.clone(),
        target: check.masked_target.clone(),
        failure: check.failure.clone(),
        expires_at: check
            .expires_at
            .filter(|_| pending)
            .map(crate::format_beijing),
        tries_left: method
            .filter(|_| pending)
            .map(|m| (m.max_wrong_codes() - check.attempts).max(0)),
        face_tries_left_today: face_tries_left,
        next_step,
    }
}

#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub order_no: String,
    /// Whether some check of this order passed.
    pub passed: bool,
    /// The provider, e.g. 沙箱.
    pub provider: String,
    pub sandbox: bool,
    /// The newest check of each method tried.
    pub checks: Vec<CheckView>,
}

#[derive(Serialize, ToSchema)]
pub struct SandboxView {
    /// Always labelled: these messages exist only in the sandbox.
    pub label: String,
    pub notices: Vec<SandboxNotice>,
}

// --- starting a check -------------------------------------------------------------------------

/// What a check needs; which fields depends on the method (all take name and id_number).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// 法定代表人姓名
    #[serde(default)]
    pub name: Option<String>,
    /// 法定代表人身份证号码
    #[serde(default)]
    pub id_number: Option<String>,
    /// mobile: the legal representative's mobile; bank_card: the card's reserved mobile.
    #[serde(default)]
    pub mobile: Option<String>,
    /// face: the photo, Base64 (JPG/PNG/BMP, at most 5 MB).
    #[serde(default)]
    pub photo: Option<String>,
    /// bank_card: 16–19 digits.
    #[serde(default)]
    pub card_number: Option<String>,
    /// micro_deposit: 对公账号.
    #[serde(default)]
    pub account_number: Option<String>,
    /// micro_deposit: 开户银行.
    #[serde(default)]
    pub bank_name: Option<String>,
}

fn required<'a>(
    value: &'a Option<String>,
    code: &'static str,
    message: &str,
) -> Result<&'a str, IdentityError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| field_error(code, message.to_string()))
}

/// The checked inputs of a start request.
struct Subject {
    name: String,
    id_number: String,
}

fn subject(req: &StartRequest) -> Result<Subject, IdentityError> {
    let name = validate_person_name(required(&req.name, "invalid_name", "请填写法定代表人姓名")?)
        .map_err(input_error)?;
    let id_number = validate_resident_id(required(
        &req.id_number,
        "invalid_id_number",
        "请填写法定代表人身份证号码",
    )?)
    .map_err(|e| field_error("invalid_id_number", format!("法定代表人{e}")))?;
    Ok(Subject { name, id_number })
}

fn random_salt() -> String {
    crate::web::auth::random_token()[..32].to_string()
}

/// Starts a check of `method` on order `order_no` at `now` (see the module and the sandbox's
/// rules). Face and bank card answer at once (passed or failed); mobile and micro-deposit
/// answer `pending` and wait for the code.
pub async fn start_check(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    method: &str,
    req: StartRequest,
    now: i64,
) -> Result<CheckView, IdentityError> {
    let order = order_for(state, user, order_no, Action::RunIdentityCheck).await?;
    let method = parse_method(method)?;
    require_editable(&order)?;
    let who = subject(&req)?;
    let start = Start {
        state,
        user,
        order: &order,
        method,
        subject_hash: state.config.personal_data.subject_hash(&who.id_number),
        who,
        req: &req,
        now,
    };
    let started = match method {
        IdentityMethod::Face => start.face().await?,
        IdentityMethod::Mobile => start.mobile().await?,
        IdentityMethod::MicroDeposit => start.micro_deposit().await?,
        IdentityMethod::BankCard => start.bank_card().await?,
    };
    let check = start.record(&started).await?;
    Ok(check_view(&check, started.face_tries_left))
}

/// One start request, its order and its checked subject, shared by the methods' steps.
struct Start<'a> {
    state: &'a AppState,
    user: &'a CurrentUser,
    order: &'a Order,
    method: IdentityMethod,
    who: Subject,
    /// Keys the per-person limits (face tries, SMS codes per day) without the ID number.
    subject_hash: String,
    req: &'a StartRequest,
    now: i64,
}

/// What a method's start gave, before it is recorded.
struct Started {
    /// The masked mobile, card or account number (empty for a face match).
    masked_target: String,
    /// Why the provider said no; empty when it did not.
    failure: String,
    /// The code sent (SMS, micro-deposit memo), salted and hashed: the check waits for it.
    code: Option<SaltedCodeHash>,
    /// For a face match: tries left today for this person.
    face_tries_left: Option<i64>,
}

struct SaltedCodeHash {
    salt: String,
    hash: String,
}

impl SaltedCodeHash {
    fn of(code: &str) -> Self {
        let salt = random_salt();
        let hash = code_hash(&salt, code);
        SaltedCodeHash { salt, hash }
    }
}

fn failure_of(verdict: Verdict) -> String {
    match verdict {
        Verdict::Passed => String::new(),
        Verdict::Failed(reason) => reason,
    }
}

impl Start<'_> {
    /// The provider could not be asked: the applicant may retry later; the log says why.
    fn provider_unavailable(&self, e: ProviderError) -> IdentityError {
        if e.0 == NO_PROVIDER {
            return IdentityError::NoProvider;
        }
        tracing::warn!(error = %e, method = self.method.as_str(), "identity provider failed");
        IdentityError::ProviderUnavailable
    }

    /// 人脸识别: the photo against the public-security photo, within the daily tries.
    async fn face(&self) -> Result<Started, IdentityError> {
        let photo = checked_photo(self.req).await?;
        let tries_left = self.take_face_try().await?;
        let verdict = self
            .state
            .identity
            .face_match(FaceMatch {
                order_id: self.order.id,
                name: &self.who.name,
                id_number: &self.who.id_number,
                photo: &photo,
            })
            .await
            .map_err(|e| self.provider_unavailable(e))?;
        Ok(Started {
            masked_target: String::new(),
            failure: failure_of(verdict),
            code: None,
            face_tries_left: Some(tries_left),
        })
    }

    /// Counts a face try for this person today; answers the tries left, or refuses (and
    /// records the refusal) once the day's tries are used.
    async fn take_face_try(&self) -> Result<i64, IdentityError> {
        let day = beijing_day(self.now);
        let tries = self
            .state
            .store
            .take_face_try(&self.subject_hash, &day, FACE_TRIES_PER_DAY)
            .await?;
        let Some(tries) = tries.filter(|t| face_try_allowed(t - 1)) else {
            audit_refusal(
                self.state,
                self.user,
                self.order,
                "人脸识别：今日次数已用完，未发起".into(),
            )
            .await;
            return Err(IdentityError::FaceDailyLimit(FACE_TRIES_PER_DAY));
        };
        Ok(FACE_TRIES_PER_DAY - tries)
    }

    /// 法人手机号实名核验: the mobile must be the person's; then an SMS code is sent.
    async fn mobile(&self) -> Result<Started, IdentityError> {
        let mobile = validate_mobile(required(
            &self.req.mobile,
            "invalid_mobile",
            "请填写法定代表人手机号",
        )?)
        .map_err(input_error)?;
        let slots = self.take_sms_slots().await?;
        let verdict = match self
            .state
            .identity
            .mobile_real_name(MobileRealName {
                order_id: self.order.id,
                name: &self.who.name,
                id_number: &self.who.id_number,
                mobile: &mobile,
            })
            .await
        {
            Ok(verdict) => verdict,
            Err(e) => {
                self.give_back(&slots).await;
                return Err(self.provider_unavailable(e));
            }
        };
        let failure = failure_of(verdict);
        let code = if failure.is_empty() {
            match self.send_sms_code(&mobile).await {
                Ok(code) => Some(code),
                Err(e) => {
                    self.give_back(&slots).await;
                    return Err(e);
                }
            }
        } else {
            // No SMS went out: the slots are not used up.
            self.give_back(&slots).await;
            None
        };
        Ok(Started {
            masked_target: mask_mobile(&mobile),
            failure,
            code,
            face_tries_left: None,
        })
    }

    /// SMS codes are rationed: one a minute per order, ten a day per person. Both slots are
    /// taken before anything is sent (one atomic step each), so that starts arriving together
    /// send no more than the rules allow.
    async fn take_sms_slots(&self) -> Result<Vec<String>, IdentityError> {
        let now = self.now;
        let per_order = format!("sms:order:{}", self.order.id);
        if let Slot::Full { until } = self
            .state
            .store
            .take_rate_slot(
                &per_order,
                RateLimit {
                    max: 1,
                    window_secs: SMS_RESEND_SECS,
                },
                now,
            )
            .await?
        {
            return Err(IdentityError::SmsTooSoon((until - now).max(1)));
        }
        let per_person = format!(
            "sms:subject:{}:{}",
            self.subject_hash,
            beijing_day_start(now)
        );
        if let Slot::Full { .. } = self
            .state
            .store
            .take_rate_slot(
                &per_person,
                RateLimit {
                    max: SMS_CODES_PER_DAY,
                    window_secs: 24 * 60 * 60,
                },
                now,
            )
            .await?
        {
            self.give_back(std::slice::from_ref(&per_order)).await;
            return Err(IdentityError::SmsDailyLimit(SMS_CODES_PER_DAY));
        }
        Ok(vec![per_order, per_person])
    }

    /// Gives back slots taken for work that did not happen (logged if the store is away: the
    /// slot then runs out with its window).
    async fn give_back(&self, keys: &[String]) {
        for key in keys {
            if let Err(err) = self.state.store.give_back_rate_slot(key).await {
                tracing::warn!(error = %err, "a rate slot could not be given back");
            }
        }
    }

    /// Sends a fresh code to `mobile`; only its salted hash is kept.
    async fn send_sms_code(&self, mobile: &str) -> Result<SaltedCodeHash, IdentityError> {
        let code = sms_code(rand::rngs::OsRng.next_u32());
        let salted = SaltedCodeHash::of(&code);
        let text = format!(
            "【{}】您正在办理CA证书申领身份核验，验证码{code}，{}分钟内有效。请勿告诉他人。",
            crate::web::pages::platform_name(),
            SMS_CODE_VALIDITY_SECS / 60
        );
        self.state
            .identity
            .send_sms(Sms {
                order_id: self.order.id,
                mobile,
                text: &text,
            })
            .await
            .map_err(|e| self.provider_unavailable(e))?;
        Ok(salted)
    }

    /// 对公账户打款验证: 0.01元 to the organisation's account, a code in the memo.
    async fn micro_deposit(&self) -> Result<Started, IdentityError> {
        let account = validate_corporate_account(required(
            &self.req.account_number,
            "invalid_account_number",
            "请填写单位对公账号",
        )?)
        .map_err(input_error)?;
        let bank = validate_bank_name(required(
            &self.req.bank_name,
            "invalid_bank_name",
            "请填写开户银行",
        )?)
        .map_err(input_error)?;
        // A deposit whose code can still be typed says so; then one start at a time per order
        // (each sends real money), its slot taken before anything is sent.
        self.no_deposit_waiting().await?;
        let slot = format!("deposit:order:{}", self.order.id);
        if let Slot::Full { until } = self
            .state
            .store
            .take_rate_slot(
                &slot,
                RateLimit {
                    max: 1,
                    window_secs: DEPOSIT_START_SECS,
                },
                self.now,
            )
            .await?
        {
            return Err(IdentityError::DepositStarting((until - self.now).max(1)));
        }
        let started = self.micro_deposit_to(&account, &bank).await;
        // No transfer went out (refused, or the provider said no): the slot is not used up.
        if !matches!(&started, Ok(s) if s.failure.is_empty()) {
            self.give_back(std::slice::from_ref(&slot)).await;
        }
        started
    }

    async fn micro_deposit_to(&self, account: &str, bank: &str) -> Result<Started, IdentityError> {
        let org_name = self
            .state
            .store
            .organisation_by_id(self.order.org_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let mut random = [0u8; MICRO_DEPOSIT_CODE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let memo = memo_code(random);
        let verdict = self
            .state
            .identity
            .micro_deposit(MicroDeposit {
                order_id: self.order.id,
                account_name: &org_name,
                account_number: account,
                bank_name: bank,
                amount_fen: MICRO_DEPOSIT_FEN,
                memo: &memo,
            })
            .await
            .map_err(|e| self.provider_unavailable(e))?;
        let failure = failure_of(verdict);
        let code = failure.is_empty().then(|| SaltedCodeHash::of(&memo));
        Ok(Started {
            masked_target: mask_bank_card(account),
            failure,
            code,
            face_tries_left: None,
        })
    }

    /// Each start sends real money: one deposit at a time per order, until its code is typed,
    /// used up, or expired.
    async fn no_deposit_waiting(&self) -> Result<(), IdentityError> {
        let now = self.now;
        let Some(last) = self
            .state
            .store
            .latest_identity_check(self.order.id, self.method.as_str())
            .await?
        else {
            return Ok(());
        };
        let waiting = last.status == CheckStatus::Pending.as_str()
            && last.expires_at.is_some_and(|at| now < at);
        if waiting {
            return Err(IdentityError::MicroDepositPending {
                account: last.masked_target.clone(),
                until: certdesk_ca::trust::format_time(last.expires_at.unwrap_or(now)),
            });
        }
        Ok(())
    }

    /// 法人银行卡核验: the card's four elements (name, ID, card, reserved mobile).
    async fn bank_card(&self) -> Result<Started, IdentityError> {
        let card = validate_bank_card(required(
            &self.req.card_number,
            "invalid_card_number",
            "请填写法定代表人本人的银行卡号",
        )?)
        .map_err(input_error)?;
        let mobile = validate_mobile(required(
            &self.req.mobile,
            "invalid_mobile",
            "请填写银行卡预留手机号",
        )?)
        .map_err(input_error)?;
        let verdict = self
            .state
            .identity
            .bank_card(BankCardMatch {
                order_id: self.order.id,
                name: &self.who.name,
                id_number: &self.who.id_number,
                card_number: &card,
                mobile: &mobile,
            })
            .await
            .map_err(|e| self.provider_unavailable(e))?;
        Ok(Started {
            masked_target: mask_bank_card(&card),
            failure: failure_of(verdict),
            code: None,
            face_tries_left: None,
        })
    }

    /// Records the check: failed when the provider said no, pending while a code is awaited,
    /// else passed.
    async fn record(&self, started: &Started) -> Result<IdentityCheck, IdentityError> {
        let status = if !started.failure.is_empty() {
            CheckStatus::Failed
        } else if started.code.is_some() {
            CheckStatus::Pending
        } else {
            CheckStatus::Passed
        };
        let object = format!("order:{}", self.order.order_no);
        let detail = format!(
            "{}：发起，{}{}",
            self.method.label_zh(),
            status.label_zh(),
            actor_note(self.user)
        );
        let check = self
            .state
            .store
            .create_identity_check(
                &NewIdentityCheck {
                    order_id: self.order.id,
                    method: self.method.as_str(),
                    subject_hash: &self.subject_hash,
                    subject_name: &self.who.name,
                    masked_id: &mask_resident_id(&self.who.id_number),
                    masked_target: &started.masked_target,
                    status: status.as_str(),
                    failure: &started.failure,
                    code_salt: started.code.as_ref().map(|c| c.salt.as_str()),
                    code_hash: started.code.as_ref().map(|c| c.hash.as_str()),
                    expires_at: started
                        .code
                        .as_ref()
                        .map(|_| self.now + self.method.code_validity_secs()),
                    created_at: self.now,
                },
                &audit_event(self.state, self.user, self.order, &object, &detail),
            )
            .await?;
        Ok(check)
    }
}

/// The face photo of the request: Base64 of a JPG, PNG or BMP that passes the image checks.
async fn checked_photo(req: &StartRequest) -> Result<Vec<u8>, IdentityError> {
    let encoded = required(&req.photo, "invalid_photo", "请上传法定代表人的人脸照片")?;
    let photo = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| {
            field_error(
                "invalid_photo",
                "人脸照片应为 Base64 编码的 JPG、PNG 或 BMP 图片",
            )
        })?;
    let checked = photo.clone();
    crate::web::blocking::image_work(move || certdesk_store::inspect_image("人脸照片", &checked))
        .await
        .ok_or_else(|| IdentityError::Inconsistent("checking a photo stopped".into()))?
        .map_err(|e| field_error("invalid_photo", e.to_string()))?;
    Ok(photo)
}

/// Between two SMS codes of one order.
pub const SMS_RESEND_SECS: i64 = 60;

/// A micro-deposit start holds its order's slot this long: starts arriving together send one
/// transfer; after it, the pending code refuses more until it is typed, used up or expired.
const DEPOSIT_START_SECS: i64 = 60;

// --- typing the code --------------------------------------------------------------------------

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The SMS code (6 digits) or the memo code (6 characters).
    #[serde(default)]
    pub code: Option<String>,
}

/// Checks a typed code of the order's newest `method` check at `now`: expiry, tries left, then
/// the code. A wrong code is counted (and the last one kills the code) although the answer is
/// an error.
pub async fn verify_check(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    method: &str,
    code: Option<&str>,
    now: i64,
) -> Result<CheckView, IdentityError> {
    let order = order_for(state, user, order_no, Action::RunIdentityCheck).await?;
    let method = parse_method(method)?;
    require_editable(&order)?;
    if !method.needs_code() {
        return Err(IdentityError::NoCodeForMethod(method));
    }
    let code = normalise_code(method, code.unwrap_or_default()).map_err(input_error)?;
    let check = state
        .store
        .latest_identity_check(order.id, method.as_str())
        .await?;
    let Some(check) = check.filter(|c| c.code_hash.is_some()) else {
        return Err(IdentityError::NoPendingCode);
    };
    match check.status.parse::<CheckStatus>().ok() {
        Some(CheckStatus::Pending) => {}
        Some(CheckStatus::Passed) => return Err(IdentityError::AlreadyPassed),
        _ => return Err(locked()),
    }
    let (Some(salt), Some(stored), Some(expires_at)) =
        (&check.code_salt, &check.code_hash, check.expires_at)
    else {
        return Err(IdentityError::Inconsistent(
            "pending identity check without its code".into(),
        ));
    };
    let matches = code_hash(salt, &code) == *stored;
    let outcome = decide_code(
        &PendingCode {
            expires_at,
            wrong_attempts: check.attempts,
            max_wrong: method.max_wrong_codes(),
        },
        now,
        matches,
    );
    let (attempts, status) = match outcome {
        CodeOutcome::Passed => (check.attempts, CheckStatus::Passed),
        CodeOutcome::Wrong { .. } => (check.attempts + 1, CheckStatus::Pending),
        CodeOutcome::WrongAndLocked => (check.attempts + 1, CheckStatus::Locked),
        CodeOutcome::Expired | CodeOutcome::AlreadyLocked => (check.attempts, CheckStatus::Locked),
    };
    let object = format!("order:{}", order.order_no);
    let detail = format!(
        "{}：输入验证码，{}{}",
        method.label_zh(),
        outcome.label_zh(),
        actor_note(user)
    );
    let recorded = state
        .store
        .record_code_attempt(
            check.id,
            check.attempts,
            attempts,
            status.as_str(),
            now,
            &audit_event(state, user, &order, &object, &detail),
        )
        .await?;
    if !recorded {
        return Err(IdentityError::CodeChanged);
    }
    match outcome {
        CodeOutcome::Passed => {
            let check = state
                .store
                .latest_identity_check(order.id, method.as_str())
                .await?
                .ok_or_else(|| IdentityError::Inconsistent("identity check vanished".into()))?;
            Ok(check_view(&check, None))
        }
        CodeOutcome::Wrong { remaining } => Err(IdentityError::WrongCode { remaining }),
        CodeOutcome::WrongAndLocked | CodeOutcome::AlreadyLocked => Err(locked()),
        CodeOutcome::Expired => Err(field_error(
            "code_expired",
            if method == IdentityMethod::MicroDeposit {
                "打款验证码已过期（48小时内有效），请重新发起对公打款".to_string()
            } else {
                "短信验证码已过期（5分钟内有效），请重新获取".to_string()
            },
        )),
    }
}

fn locked() -> IdentityError {
    IdentityError::CodeLocked
}

// --- reading ----------------------------------------------------------------------------------

/// The order's checks, newest of each method, masked.
pub async fn identity_of_order(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<IdentityView, IdentityError> {
    let order = order_for(state, user, order_no, Action::ViewIdentityChecks).await?;
    let all = state.store.identity_checks_of_order(order.id).await?;
    let day = beijing_day(state.now());
    let mut checks = Vec::new();
    for method in IdentityMethod::ALL {
        if let Some(check) = all.iter().rev().find(|c| c.method == method.as_str()) {
            let face_left = if method == IdentityMethod::Face {
                let used = state.store.face_tries(&check.subject_hash, &day).await?;
                Some((FACE_TRIES_PER_DAY - used).max(0))
            } else {
                None
            };
            checks.push(check_view(check, face_left));
        }
    }
    Ok(IdentityView {
        order_no: order.order_no,
        passed: all.iter().any(|c| c.status == CheckStatus::Passed.as_str()),
        provider: state.identity.name().to_string(),
        sandbox: state.identity.is_sandbox(),
        checks,
    })
}

/// Whether a check of order `order_id` passed for the person with `legal_rep_id_number`: the
/// method of the newest one that did, or `None`. The submit step of an application requires
/// `Some`; an invalid ID number is a 422 naming the field.
pub async fn passed_identity_check(
    state: &AppState,
    order_id: i64,
    legal_rep_id_number: &str,
) -> Result<Option<IdentityMethod>, IdentityError> {
    let id = validate_resident_id(legal_rep_id_number)
        .map_err(|e| field_error("invalid_id_number", format!("法定代表人{e}")))?;
    Ok(state
        .store
        .passed_identity_check(order_id, &state.config.personal_data.subject_hash(&id))
        .await?
        .and_then(|c| c.method.parse::<IdentityMethod>().ok()))
}

/// What the sandbox "sent" for the editable ones of `orders` (the codes a page shows the
/// supplier in the sandbox); nothing with a real provider.
pub(crate) fn sandbox_notices_of(state: &AppState, orders: &[Order]) -> Vec<SandboxNotice> {
    if !state.identity.is_sandbox() {
        return Vec::new();
    }
    orders
        .iter()
        .filter(|o| o.status.is_editable())
        .flat_map(|o| state.identity.sandbox_notices(o.id))
        .collect()
}

/// A page's SMS confirmation form: `intent=start` sends the code, `intent=verify` checks it.
#[derive(Deserialize, Default)]
pub(crate) struct MobileCheckForm {
    #[serde(default)]
    intent: String,
    #[serde(default)]
    code: String,
}

impl MobileCheckForm {
    /// The code typed, when the form checks one.
    fn code(&self) -> Option<&str> {
        (self.intent == "verify").then_some(self.code.as_str())
    }
}

/// A person an order names for its SMS confirmation, their ID number and mobile as stored
/// (sealed with the data key).
pub(crate) struct SealedPerson<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    pub mobile: &'a str,
}

/// The mobile real-name check (手机号实名核验) of an order from a page, for the person the order
/// names: the form's `start` sends the code to their mobile, its `verify` checks the code typed.
/// Answers what to tell the user next.
pub(crate) async fn mobile_check_from_page(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    person: SealedPerson<'_>,
    form: &MobileCheckForm,
) -> Result<String, IdentityError> {
    let now = state.now();
    let check = match form.code() {
        Some(code) => verify_check(state, user, order_no, "mobile", Some(code.trim()), now).await?,
        None => {
            let open = |sealed: &str| {
                state
                    .config
                    .personal_data
                    .open(sealed)
                    .map_err(|e| IdentityError::Inconsistent(format!("opening: {e}")))
            };
            start_check(
                state,
                user,
                order_no,
                "mobile",
                StartRequest {
                    name: Some(person.name.to_string()),
                    id_number: Some(open(person.id_number)?),
                    mobile: Some(open(person.mobile)?),
                    ..StartRequest::default()
                },
                now,
            )
            .await?
        }
    };
    Ok(check.next_step)
}

// --- JSON API ---------------------------------------------------------------------------------

/// The identity checks of an order (法定代表人 details masked).
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/identity", params(("order_no" = String, Path)),
    responses((status = 200, body = IdentityView), (status = 404, body = ErrorBody)))]
pub(crate) async fn identity_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<IdentityView>, ApiError> {
    Ok(Json(identity_of_order(&state, &user, &order_no).await?))
}

/// 沙箱短信 and the sandbox bank statement of an order: what the sandbox "sent". Only with the
/// sandbox provider (404 otherwise), only for the order's own organisation (and operators).
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/identity/sandbox", params(("order_no" = String, Path)),
    responses((status = 200, body = SandboxView), (status = 404, body = ErrorBody)))]
pub(crate) async fn sandbox_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<SandboxView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::ViewSandboxOutbox).await?;
    if !state.identity.is_sandbox() {
        return Err(IdentityError::NoSandbox.into());
    }
    Ok(Json(SandboxView {
        label: "沙箱短信与沙箱银行流水：仅用于测试和演示，真实环境中验证码发送到法定代表人手机或单位对公账户".into(),
        notices: state.identity.sandbox_notices(order.id),
    }))
}

/// Start an identity check: face (photo), mobile (sends an SMS code), micro_deposit (transfers
/// 0.01元 with a memo code), bank_card. Only on a 草稿 or 审核未通过 order.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/identity/{method}/start",
    params(("order_no" = String, Path), ("method" = String, Path, description = "face | mobile | micro_deposit | bank_card")),
    request_body = StartRequest,
    responses((status = 200, body = CheckView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn start_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((order_no, method)): Path<(String, String)>,
    ApiJson(req): ApiJson<StartRequest>,
) -> Result<Json<CheckView>, ApiError> {
    let now = state.now();
    Ok(Json(
        start_check(&state, &user, &order_no, &method, req, now).await?,
    ))
}

/// Type the SMS or memo code of the newest check of a method.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/identity/{method}/verify",
    params(("order_no" = String, Path), ("method" = String, Path, description = "mobile | micro_deposit")),
    request_body = VerifyRequest,
    responses((status = 200, body = CheckView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn verify_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((order_no, method)): Path<(String, String)>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<CheckView>, ApiError> {
    let now = state.now();
    Ok(Json(
        verify_check(&state, &user, &order_no, &method, req.code.as_deref(), now).await?,
    ))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(identity_api, sandbox_api, start_api, verify_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
