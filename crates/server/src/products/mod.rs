//! Products, prices and vouchers (抵扣券): the catalogue API for everyone signed in, the system
//! admin's product and voucher management (API and pages), quotes for organisation admins, the
//! default catalogue made at first start, and [`price_order`] / [`redeem_voucher_for_order`]
//! for the order flow.

mod error;
mod limits;

pub(crate) use error::ProductError;
pub(crate) use limits::check_years;

use crate::web::audit_trail::note_by;
use crate::web::auth::CurrentUser;
use crate::web::authz::require;
use crate::web::error::FeatureError;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Form, Path, Query};
use crate::web::json::ApiJson;
use crate::web::pages::{render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::product::{
    normalise_voucher_code, parse_yuan, quote, validate_product, yuan, DiscountKind, KeyAlgorithm,
    Medium, ProductSpec, Quote, QuoteRequest, MAX_PRODUCT_YEARS, MAX_VOUCHER_FEN,
};
use certdesk_domain::{Action, Relation};
use certdesk_store::{NewVoucher, Product, Redemption, Store, StoreError, Voucher};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/api/v1/products", ListProducts, list_products_api)
        .post("/api/v1/products", ManageProducts, create_product_api)
        .get("/api/v1/products/{product_id}", ListProducts, product_api)
        .put(
            "/api/v1/products/{product_id}",
            ManageProducts,
            update_product_api,
        )
        .get(
            "/api/v1/products/{product_id}/quote",
            QuoteProduct,
            quote_api,
        )
        .get("/api/v1/vouchers", ManageVouchers, list_vouchers_api)
        .post("/api/v1/vouchers", ManageVouchers, create_voucher_api)
        .get("/admin/products", ManageProducts, products_page)
        .post("/admin/products", ManageProducts, create_product_submit)
        .post(
            "/admin/products/{product_id}",
            ManageProducts,
            update_product_submit,
        )
        .get("/admin/vouchers", ManageVouchers, vouchers_page)
        .post("/admin/vouchers", ManageVouchers, create_voucher_submit)
}

fn field_error(code: &'static str, message: impl Into<String>) -> ProductError {
    ProductError::InvalidField {
        code,
        message: message.into(),
    }
}

// --- views ------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema, Clone)]
pub struct ProductView {
    pub id: i64,
    pub provider_id: i64,
    /// CA服务商
    pub provider_name: String,
    pub name: String,
    /// ukey | mobile
    pub medium: String,
    /// 实体UKey | 移动版
    pub medium_label: String,
    /// sm2 | p256
    pub algorithm: String,
    pub algorithm_label: String,
    /// 双证书
    pub dual: bool,
    pub min_years: u32,
    pub max_years: u32,
    /// Yuan, two decimals, e.g. "399.00".
    pub price_per_year: String,
    pub price_per_year_fen: i64,
    /// 子证书 per certificate and year, yuan.
    pub sub_price_per_year: String,
    pub sub_price_per_year_fen: i64,
    /// 首张免费
    pub first_free: bool,
    pub active: bool,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        let s = &p.spec;
        ProductView {
            id: p.id,
            provider_id: p.provider_id,
            provider_name: p.provider_name.clone(),
            name: s.name.clone(),
            medium: s.medium.as_str().into(),
            medium_label: s.medium.label_zh().into(),
            algorithm: s.algorithm.as_str().into(),
            algorithm_label: s.algorithm.label().into(),
            dual: s.dual,
            min_years: s.min_years,
            max_years: s.max_years,
            price_per_year: yuan(s.price_per_year_fen),
            price_per_year_fen: s.price_per_year_fen,
            sub_price_per_year: yuan(s.sub_price_per_year_fen),
            sub_price_per_year_fen: s.sub_price_per_year_fen,
            first_free: s.first_free,
            active: s.active,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VoucherView {
    pub id: i64,
    pub code: String,
    /// Yuan.
    pub amount: String,
    pub amount_fen: i64,
    /// Beijing time, the last moment it can be used (e.g. "2099-12-31 23:59:59").
    pub valid_until: String,
    /// Unix seconds at which it stops being good (exclusive).
    pub valid_until_unix: i64,
    /// `None`: any organisation.
    pub org_id: Option<i64>,
    /// 未使用 | 已使用 | 已过期
    pub status_label: String,
    pub redeemed_order_id: Option<i64>,
}

fn voucher_view(v: &Voucher, now: i64) -> VoucherView {
    let status = if v.redeemed_order_id.is_some() {
        "已使用"
    } else if now >= v.valid_until {
        "已过期"
    } else {
        "未使用"
    };
    VoucherView {
        id: v.id,
        code: v.code.clone(),
        amount: yuan(v.amount_fen),
        amount_fen: v.amount_fen,
        // The last second it is good for: the end of the day the admin chose.
        valid_until: crate::format_beijing(v.valid_until - 1),
        valid_until_unix: v.valid_until,
        org_id: v.org_id,
        status_label: status.into(),
        redeemed_order_id: v.redeemed_order_id,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DiscountView {
    /// first_free | voucher
    pub kind: String,
    /// The voucher's code, for a voucher.
    pub code: Option<String>,
    pub label: String,
    /// Yuan.
    pub amount: String,
    pub amount_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct QuoteView {
    pub product_id: i64,
    pub product_name: String,
    pub years: u32,
    pub sub_certificates: u32,
    /// Yuan: years × (price + sub-certificates × sub-price).
    pub list_price: String,
    pub list_price_fen: i64,
    pub discounts: Vec<DiscountView>,
    /// Yuan; "0.00" is a free order.
    pub amount_due: String,
    pub amount_due_fen: i64,
}

fn quote_view(product: &Product, q: &Quote) -> QuoteView {
    QuoteView {
        product_id: product.id,
        product_name: product.spec.name.clone(),
        years: q.years,
        sub_certificates: q.sub_certificates,
        list_price: yuan(q.list_price_fen),
        list_price_fen: q.list_price_fen,
        discounts: q
            .discounts
            .iter()
            .map(|d| {
                let (kind, code) = match &d.kind {
                    DiscountKind::FirstFree => ("first_free", None),
                    DiscountKind::SecondCertificate => ("second_certificate", None),
                    DiscountKind::Voucher { code } => ("voucher", Some(code.clone())),
                };
                DiscountView {
                    kind: kind.into(),
                    code,
                    label: d.label.clone(),
                    amount: yuan(d.amount_fen),
                    amount_fen: d.amount_fen,
                }
            })
            .collect(),
        amount_due: yuan(q.amount_due_fen),
        amount_due_fen: q.amount_due_fen,
    }
}

// --- product rules ----------------------------------------------------------------------------

/// A product as the system admin sends it. On update, a field left out keeps its value.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProductRequest {
    /// The CA provider; by default the one this installation runs.
    #[serde(default)]
    pub provider_id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    /// ukey | mobile
    #[serde(default)]
    pub medium: Option<String>,
    /// sm2 (default) | p256
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub dual: Option<bool>,
    #[serde(default)]
    pub min_years: Option<u32>,
    #[serde(default)]
    pub max_years: Option<u32>,
    /// Yuan per year, as text ("399.00") or a number.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub price_per_year: Option<serde_json::Value>,
    /// Yuan per sub-certificate and year.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sub_price_per_year: Option<serde_json::Value>,
    #[serde(default)]
    pub first_free: Option<bool>,
    #[serde(default)]
    pub active: Option<bool>,
}

fn money(
    value: &Option<serde_json::Value>,
    current: Option<i64>,
    code: &'static str,
    label: &str,
) -> Result<i64, ProductError> {
    let text = match value {
        None | Some(serde_json::Value::Null) => {
            return current.ok_or_else(|| field_error(code, format!("请填写{label}（元）")))
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
    };
    parse_yuan(&text).ok_or_else(|| {
        field_error(
            code,
            format!("{label}应为不小于0的金额，单位元，最多两位小数，例如 399.00"),
        )
    })
}

/// The spec a request makes of `current` (or of nothing, for a new product), checked field by
/// field; the provider too.
async fn product_spec(
    state: &AppState,
    req: &ProductRequest,
    current: Option<&Product>,
) -> Result<(i64, ProductSpec), ProductError> {
    let cur = current.map(|p| &p.spec);
    let name = match (&req.name, cur) {
        (Some(n), _) => n.trim().to_string(),
        (None, Some(c)) => c.name.clone(),
        (None, None) => String::new(),
    };
    let medium = match (&req.medium, cur) {
        (Some(m), _) => m.trim().parse::<Medium>().map_err(|_| {
            field_error(
                "invalid_medium",
                "介质类型应为 ukey（实体UKey）或 mobile（移动版）",
            )
        })?,
        (None, Some(c)) => c.medium,
        (None, None) => {
            return Err(field_error(
                "invalid_medium",
                "请选择介质类型：ukey（实体UKey）或 mobile（移动版）",
            ))
        }
    };
    let algorithm = match (&req.algorithm, cur) {
        (Some(a), _) => a.trim().parse::<KeyAlgorithm>().map_err(|_| {
            field_error(
                "invalid_algorithm",
                "证书算法应为 sm2（SM2，默认）或 p256（ECDSA P-256）",
            )
        })?,
        (None, Some(c)) => c.algorithm,
        (None, None) => KeyAlgorithm::default(),
    };
    let min_years = req.min_years.or(cur.map(|c| c.min_years));
    let max_years = req.max_years.or(cur.map(|c| c.max_years));
    let spec = ProductSpec {
        name,
        medium,
        algorithm,
        dual: req.dual.or(cur.map(|c| c.dual)).unwrap_or(false),
        min_years: min_years.unwrap_or(1),
        max_years: max_years.unwrap_or(0),
        price_per_year_fen: 0,
        sub_price_per_year_fen: 0,
        first_free: req
            .first_free
            .or(cur.map(|c| c.first_free))
            .unwrap_or(false),
        active: req.active.or(cur.map(|c| c.active)).unwrap_or(true),
    };
    // Name and years first, in the order of the form, then the money.
    let years_only = ProductSpec {
        price_per_year_fen: 0,
        sub_price_per_year_fen: 0,
        ..spec.clone()
    };
    validate_product(&years_only).map_err(product_error)?;
    let spec = ProductSpec {
        price_per_year_fen: money(
            &req.price_per_year,
            cur.map(|c| c.price_per_year_fen),
            "invalid_price_per_year",
            "每年价格",
        )?,
        sub_price_per_year_fen: money(
            &req.sub_price_per_year,
            cur.map(|c| c.sub_price_per_year_fen).or(Some(0)),
            "invalid_sub_price_per_year",
            "子证书每年价格",
        )?,
        ..spec
    };
    validate_product(&spec).map_err(product_error)?;
    let provider_id = match (req.provider_id, current) {
        (Some(id), _) => id,
        (None, Some(p)) => p.provider_id,
        (None, None) => own_provider_id(&state.store)
            .await?
            .ok_or_else(|| field_error("invalid_provider_id", "请选择CA服务商（provider_id）"))?,
    };
    if let Some(p) = current {
        if provider_id != p.provider_id {
            return Err(field_error(
                "invalid_provider_id",
                "产品创建后不能更换CA服务商，请新建产品",
            ));
        }
    } else if !state
        .store
        .ca_providers()
        .await?
        .iter()
        .any(|p| p.id == provider_id)
    {
        return Err(field_error(
            "invalid_provider_id",
            "CA服务商（provider_id）不存在",
        ));
    }
    // A product on sale of this installation's own CA must be issuable by it for its longest
    // years; other providers' CAs are not ours to ask.
    if spec.active && own_provider_id(&state.store).await? == Some(provider_id) {
        crate::products::check_years(state, spec.algorithm, spec.max_years)
            .map_err(|e| field_error("invalid_years", format!("最长年限不能签发：{e}")))?;
    }
    Ok((provider_id, spec))
}

fn product_error(e: certdesk_domain::ProductError) -> ProductError {
    use certdesk_domain::ProductError as E;
    let code = match e {
        E::Name => "invalid_name",
        E::Years | E::MaxYears(_) => "invalid_years",
        E::Price => "invalid_price_per_year",
        E::SubPrice => "invalid_sub_price_per_year",
    };
    field_error(code, e.to_string())
}

async fn own_provider_id(store: &Store) -> Result<Option<i64>, StoreError> {
    Ok(store
        .ca_providers()
        .await?
        .into_iter()
        .find(|p| p.operated_here)
        .map(|p| p.id))
}

async fn create_product(
    state: &AppState,
    user: &CurrentUser,
    req: ProductRequest,
) -> Result<ProductView, ProductError> {
    require(user, Action::ManageProducts, Relation::Platform)?;
    let (provider_id, spec) = product_spec(state, &req, None).await?;
    let detail = format!(
        "新建产品 {}，每年 ¥{}，{}",
        spec.name,
        certdesk_domain::product::yuan(spec.price_per_year_fen),
        if spec.active { "上架" } else { "停用" }
    );
    let product = state
        .store
        .create_product(
            provider_id,
            &spec,
            state.now(),
            &note_by(state, user.account(), &detail),
        )
        .await?;
    Ok(ProductView::from(&product))
}

async fn update_product(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    req: ProductRequest,
) -> Result<ProductView, ProductError> {
    require(user, Action::ManageProducts, Relation::Platform)?;
    let current = state
        .store
        .product_by_id(id)
        .await?
        .ok_or(ProductError::NotFound)?;
    let (_, spec) = product_spec(state, &req, Some(&current)).await?;
    let detail = format!(
        "修改产品 {}，每年 ¥{}，{}",
        spec.name,
        certdesk_domain::product::yuan(spec.price_per_year_fen),
        if spec.active { "上架" } else { "停用" }
    );
    let product = state
        .store
        .update_product(
            id,
            &spec,
            state.now(),
            &note_by(state, user.account(), &detail),
        )
        .await?
        .ok_or(ProductError::NotFound)?;
    Ok(ProductView::from(&product))
}

async fn product_views(
    state: &AppState,
    user: &CurrentUser,
    all: bool,
) -> Result<Vec<ProductView>, ProductError> {
    require(user, Action::ListProducts, Relation::Platform)?;
    Ok(state
        .store
        .products(!all)
        .await?
        .iter()
        .map(ProductView::from)
        .collect())
}

// --- vouchers ---------------------------------------------------------------------------------

/// A voucher as the system admin makes it.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VoucherRequest {
    /// 4–32 letters, digits or '-'; made up when left out.
    #[serde(default)]
    pub code: Option<String>,
    /// Yuan, as text or a number.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub amount: Option<serde_json::Value>,
    /// The last day it can be used, Beijing time, YYYY-MM-DD.
    #[serde(default)]
    pub valid_until: Option<String>,
    /// Only this organisation may use it; left out, any organisation.
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// The end of a Beijing calendar day (the start of the next one), Unix seconds.
fn end_of_beijing_day(date: &str) -> Option<i64> {
    let d: jiff::civil::Date = date.trim().parse().ok()?;
    let next = d.tomorrow().ok()?;
    let zoned = next
        .to_datetime(jiff::civil::Time::midnight())
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .ok()?;
    Some(zoned.timestamp().as_second())
}

async fn create_voucher(
    state: &AppState,
    user: &CurrentUser,
    req: VoucherRequest,
) -> Result<VoucherView, ProductError> {
    require(user, Action::ManageVouchers, Relation::Platform)?;
    let code = match req.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => normalise_voucher_code(code).ok_or_else(|| {
            field_error("invalid_code", "抵扣券券码应为4至32位字母、数字或短横线“-”")
        })?,
        None => {
            let random = crate::web::auth::random_token().to_ascii_uppercase();
            let body: String = random
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(10)
                .collect();
            format!("CDK-{body}")
        }
    };
    let amount_fen = money(&req.amount, None, "invalid_amount", "抵扣金额")?;
    if amount_fen <= 0 || amount_fen > MAX_VOUCHER_FEN {
        return Err(field_error(
            "invalid_amount",
            "抵扣金额应大于0元且不超过100000元",
        ));
    }
    let now = state.now();
    let valid_until = req
        .valid_until
        .as_deref()
        .and_then(end_of_beijing_day)
        .ok_or_else(|| {
            field_error(
                "invalid_valid_until",
                "有效期至应为日期，格式 YYYY-MM-DD，例如 2026-12-31",
            )
        })?;
    if valid_until <= now {
        return Err(field_error("invalid_valid_until", "有效期至不能早于今天"));
    }
    if let Some(org_id) = req.org_id {
        if state.store.organisation_by_id(org_id).await?.is_none() {
            return Err(field_error(
                "invalid_org_id",
                "指定的机构（org_id）不存在；不指定则所有机构可用",
            ));
        }
    }
    let detail = format!(
        "新建抵扣券，面额 ¥{}，有效期至 {}",
        certdesk_domain::product::yuan(amount_fen),
        crate::format_beijing(valid_until)
    );
    let voucher = state
        .store
        .create_voucher(
            &NewVoucher {
                code: &code,
                amount_fen,
                valid_until,
                org_id: req.org_id,
                created_at: now,
            },
            // On the organisation it is for, if any.
            &crate::web::audit_trail::note_on(state, user.account(), req.org_id, &detail),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ProductError::VoucherExists(code.to_string()),
            other => other.into(),
        })?;
    Ok(voucher_view(&voucher, now))
}

async fn voucher_views(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<VoucherView>, ProductError> {
    require(user, Action::ManageVouchers, Relation::Platform)?;
    let now = state.now();
    Ok(state
        .store
        .vouchers()
        .await?
        .iter()
        .map(|v| voucher_view(v, now))
        .collect())
}

// --- pricing for the order flow ---------------------------------------------------------------

fn quote_error(e: certdesk_domain::QuoteError) -> ProductError {
    let code = match e.field() {
        "years" => "invalid_years",
        "voucher" => "invalid_voucher",
        "sub_certificates" => "invalid_sub_certificates",
        _ => "product_inactive",
    };
    field_error(code, e.to_string())
}

/// What [`price_order`] prices.
#[derive(Debug, Clone, Copy)]
pub struct OrderPricing<'a> {
    pub org_id: i64,
    pub product_id: i64,
    pub years: u32,
    /// 子证书 added to the order (0 for most).
    pub sub_certificates: u32,
    /// The 抵扣券 code the applicant typed, if any.
    pub voucher: Option<&'a str>,
    /// The order being priced, once it exists.
    pub order_id: Option<i64>,
    pub now: i64,
}

/// Prices an order of `product_id` for organisation `org_id` at `now`: the product's price for
/// `years` (and `sub_certificates`), 首张免费 when the organisation never had a certificate
/// issued, and the voucher `voucher` if given. Redeems nothing. `order_id` is the order being
/// priced once it exists (a voucher already redeemed for it still counts).
///
/// Errors are 422 naming the field (`invalid_years`, `invalid_voucher`, …) or 404 for an
/// unknown product. The order flow calls this when an order is created or submitted, stores
/// `amount_due_fen`, then calls [`redeem_voucher_for_order`].
pub async fn price_order(
    state: &AppState,
    pricing: &OrderPricing<'_>,
) -> Result<(Product, Quote), ProductError> {
    let OrderPricing {
        org_id,
        product_id,
        years,
        sub_certificates,
        voucher,
        order_id,
        now,
    } = *pricing;
    let product = state
        .store
        .product_by_id(product_id)
        .await?
        .ok_or_else(|| field_error("invalid_product_id", "所选产品不存在"))?;
    let voucher = voucher_facts(state, voucher).await?;
    let org_has_had_certificate = state.store.first_free_taken(org_id, order_id).await?;
    let q = quote(
        &product.spec,
        &QuoteRequest {
            org_id,
            years,
            sub_certificates,
            org_has_had_certificate,
            voucher: voucher.as_ref(),
            order_id,
            now,
        },
    )
    .map_err(quote_error)?;
    Ok((product, q))
}

/// The voucher typed, if any; an unknown one is a 422 naming the field.
async fn voucher_facts(
    state: &AppState,
    voucher: Option<&str>,
) -> Result<Option<certdesk_domain::product::VoucherFacts>, ProductError> {
    match voucher.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(code) => {
            let unknown = || field_error("invalid_voucher", format!("抵扣券 {code} 不存在"));
            let normalised = normalise_voucher_code(code).ok_or_else(unknown)?;
            Ok(Some(
                state
                    .store
                    .voucher_by_code(&normalised)
                    .await?
                    .ok_or_else(unknown)?
                    .facts(),
            ))
        }
    }
}

/// Prices the renewal of `certificates` certificates of `pricing.product_id` (see
/// [`certdesk_domain::renewal::renewal_quote`]): per certificate and year, vouchers apply.
pub async fn price_renewal(
    state: &AppState,
    pricing: &OrderPricing<'_>,
    certificates: u32,
) -> Result<(Product, Quote), ProductError> {
    let product = state
        .store
        .product_by_id(pricing.product_id)
        .await?
        .ok_or(ProductError::Missing(pricing.product_id))?;
    let voucher = voucher_facts(state, pricing.voucher).await?;
    let q = certdesk_domain::renewal::renewal_quote(
        &product.spec,
        pricing.years,
        certificates,
        voucher.as_ref(),
        pricing.org_id,
        pricing.order_id,
        pricing.now,
    )
    .map_err(quote_error)?;
    Ok((product, q))
}

/// Prices a 补办 of one key of `product_id` (see
/// [`certdesk_domain::replacement::replacement_quote`]): one product year, vouchers apply.
pub async fn price_replacement(
    state: &AppState,
    pricing: &OrderPricing<'_>,
) -> Result<(Product, Quote), ProductError> {
    let product = state
        .store
        .product_by_id(pricing.product_id)
        .await?
        .ok_or(ProductError::Missing(pricing.product_id))?;
    let voucher = voucher_facts(state, pricing.voucher).await?;
    let q = certdesk_domain::replacement::replacement_quote(
        &product.spec,
        voucher.as_ref(),
        pricing.org_id,
        pricing.order_id,
        pricing.now,
    )
    .map_err(quote_error)?;
    Ok((product, q))
}

/// Why voucher `code` cannot be used, as the application form says it. (Submitting redeems it,
/// compare-and-set, in the submission's transaction: `Store::submit_order`.)
pub(crate) fn voucher_refusal(code: &str, refusal: &Redemption) -> String {
    match refusal {
        // Another organisation's voucher is told as unknown: a code is a bearer secret, and
        // the answer must not confirm that it exists (issue 12).
        Redemption::Redeemed(_) | Redemption::UnknownCode | Redemption::OtherOrganisation => {
            format!("抵扣券 {code} 不存在")
        }
        Redemption::AlreadyUsed => format!("抵扣券 {code} 已被使用"),
        Redemption::Expired => format!("抵扣券 {code} 已过期"),
    }
}

// --- the default catalogue --------------------------------------------------------------------

/// Creates the default products of this installation's own CA when there are no products at
/// all; answers how many were made (0 when products exist: it never overwrites the admin's).
pub async fn ensure_default_products(store: &Store) -> Result<usize, StoreError> {
    if !store.products(false).await?.is_empty() {
        return Ok(0);
    }
    let Some(provider_id) = own_provider_id(store).await? else {
        return Ok(0);
    };
    let product = |name: &str, medium, algorithm, dual, first_free| ProductSpec {
        name: name.to_string(),
        medium,
        algorithm,
        dual,
        min_years: 1,
        max_years: 3,
        price_per_year_fen: 39_900,
        sub_price_per_year_fen: 20_000,
        first_free,
        active: true,
    };
    let defaults = [
        product(
            "SM2 双证书 UKey",
            Medium::UKey,
            KeyAlgorithm::Sm2,
            true,
            true,
        ),
        product("SM2 移动版", Medium::Mobile, KeyAlgorithm::Sm2, true, true),
        product(
            "ECDSA P-256 单证书 UKey",
            Medium::UKey,
            KeyAlgorithm::P256,
            false,
            false,
        ),
    ];
    let now = jiff::Timestamp::now().as_second();
    for spec in &defaults {
        let detail = format!(
            "新建产品 {}，每年 ¥{}（首次启动的默认产品）",
            spec.name,
            certdesk_domain::product::yuan(spec.price_per_year_fen)
        );
        store
            .create_product(
                provider_id,
                spec,
                now,
                &certdesk_store::AuditNote::system(now, &detail),
            )
            .await?;
    }
    Ok(defaults.len())
}

// --- JSON API ---------------------------------------------------------------------------------

/// The products on offer (active ones), with their CA provider and prices in yuan.
#[utoipa::path(get, path = "/api/v1/products", responses((status = 200, body = [ProductView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_products_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ProductView>>, ApiError> {
    Ok(Json(product_views(&state, &user, false).await?))
}

/// One product (inactive ones too: orders made earlier still name them).
#[utoipa::path(get, path = "/api/v1/products/{product_id}", params(("product_id" = i64, Path)),
    responses((status = 200, body = ProductView), (status = 404, body = ErrorBody)))]
pub(crate) async fn product_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(product_id): Path<i64>,
) -> Result<Json<ProductView>, ApiError> {
    require(&user, Action::ListProducts, Relation::Platform)?;
    let product = state
        .store
        .product_by_id(product_id)
        .await?
        .ok_or(ProductError::NotFound)?;
    Ok(Json(ProductView::from(&product)))
}

/// Create a product (system admin). Prices in yuan.
#[utoipa::path(post, path = "/api/v1/products", request_body = ProductRequest,
    responses((status = 201, body = ProductView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_product_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ProductRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_product(&state, &user, req).await?),
    )
        .into_response())
}

/// Change a product (system admin); fields left out keep their values. `active: false` stops
/// new orders of it (停用).
#[utoipa::path(put, path = "/api/v1/products/{product_id}", params(("product_id" = i64, Path)), request_body = ProductRequest,
    responses((status = 200, body = ProductView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_product_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(product_id): Path<i64>,
    ApiJson(req): ApiJson<ProductRequest>,
) -> Result<Json<ProductView>, ApiError> {
    Ok(Json(update_product(&state, &user, product_id, req).await?))
}

#[derive(Deserialize, Default)]
pub(crate) struct QuoteQuery {
    #[serde(default)]
    years: Option<String>,
    #[serde(default)]
    voucher: Option<String>,
    #[serde(default)]
    sub_certificates: Option<String>,
}

/// The price of an order of this product for the caller's organisation: list price, 首张免费,
/// 抵扣券, amount due. Redeems nothing.
#[utoipa::path(get, path = "/api/v1/products/{product_id}/quote",
    params(("product_id" = i64, Path), ("years" = u32, Query), ("voucher" = Option<String>, Query), ("sub_certificates" = Option<u32>, Query)),
    responses((status = 200, body = QuoteView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn quote_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(product_id): Path<i64>,
    Query(query): Query<QuoteQuery>,
) -> Result<Json<QuoteView>, ApiError> {
    require(&user, Action::QuoteProduct, Relation::Platform)?;
    let org_id = user.account().org_id.ok_or(ProductError::Refused(
        certdesk_domain::permissions::Refusal::Forbidden,
    ))?;
    if state.store.product_by_id(product_id).await?.is_none() {
        return Err(ProductError::NotFound.into());
    }
    let years = match query.years.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(field_error("invalid_years", "请选择有效期年限（years）").into())
        }
        Some(y) => y
            .parse::<u32>()
            .map_err(|_| field_error("invalid_years", "有效期年限（years）应为整数年"))?,
    };
    let subs = match query.sub_certificates.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(n) => n.parse::<u32>().map_err(|_| {
            field_error(
                "invalid_sub_certificates",
                "子证书数量（sub_certificates）应为整数",
            )
        })?,
    };
    let (product, q) = price_order(
        &state,
        &OrderPricing {
            org_id,
            product_id,
            years,
            sub_certificates: subs,
            voucher: query.voucher.as_deref(),
            order_id: None,
            now: state.now(),
        },
    )
    .await?;
    Ok(Json(quote_view(&product, &q)))
}

/// Every voucher (system admin).
#[utoipa::path(get, path = "/api/v1/vouchers", responses((status = 200, body = [VoucherView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_vouchers_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<VoucherView>>, ApiError> {
    Ok(Json(voucher_views(&state, &user).await?))
}

/// Make a voucher (system admin).
#[utoipa::path(post, path = "/api/v1/vouchers", request_body = VoucherRequest,
    responses((status = 201, body = VoucherView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_voucher_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<VoucherRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_voucher(&state, &user, req).await?),
    )
        .into_response())
}

// --- pages ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_products.html")]
struct ProductsPage {
    chrome: Chrome,
    products: Vec<ProductView>,
    providers: Vec<(i64, String)>,
    error: Option<String>,
    notice: Option<String>,
    /// The 新建产品 form: empty, or as the admin typed it when it was refused.
    draft: ProductForm,
}

async fn products_view(
    state: &AppState,
    user: CurrentUser,
    (error, notice): (Option<String>, Option<String>),
    draft: ProductForm,
    status: StatusCode,
) -> Response {
    let products = match product_views(state, &user, true).await {
        Ok(p) => p,
        Err(err) => return crate::web::pages::PageFailure::from(err).into_page(),
    };
    let providers = match state.store.ca_providers().await {
        Ok(p) => p.into_iter().map(|p| (p.id, p.name)).collect(),
        Err(err) => return crate::web::pages::PageFailure::from(err).into_page(),
    };
    render(
        &ProductsPage {
            chrome: Chrome::new(&user, "admin_products"),
            products,
            providers,
            error,
            notice,
            draft,
        },
        status,
    )
}

async fn products_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    products_view(
        &state,
        user,
        (None, None),
        ProductForm::default(),
        StatusCode::OK,
    )
    .await
}

/// The product form: checkboxes are absent when not ticked.
#[derive(Deserialize, Clone)]
struct ProductForm {
    #[serde(default)]
    provider_id: Option<String>,
    name: String,
    medium: String,
    algorithm: String,
    min_years: String,
    max_years: String,
    price_per_year: String,
    sub_price_per_year: String,
    #[serde(default)]
    dual: Option<String>,
    #[serde(default)]
    first_free: Option<String>,
    #[serde(default)]
    active: Option<String>,
}

impl Default for ProductForm {
    /// What the 新建产品 form starts with.
    fn default() -> Self {
        ProductForm {
            provider_id: None,
            name: String::new(),
            medium: "ukey".into(),
            algorithm: "sm2".into(),
            min_years: "1".into(),
            max_years: "3".into(),
            price_per_year: String::new(),
            sub_price_per_year: "200.00".into(),
            dual: Some("1".into()),
            first_free: None,
            active: Some("1".into()),
        }
    }
}

fn form_request(form: ProductForm) -> Result<ProductRequest, ProductError> {
    let years = |v: &str, which: &str| {
        v.trim().parse::<u32>().map_err(|_| {
            field_error(
                "invalid_years",
                format!("{which}应为1至{MAX_PRODUCT_YEARS}之间的整数"),
            )
        })
    };
    Ok(ProductRequest {
        provider_id: match form.provider_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => Some(
                id.parse()
                    .map_err(|_| field_error("invalid_provider_id", "请选择CA服务商"))?,
            ),
        },
        name: Some(form.name),
        medium: Some(form.medium),
        algorithm: Some(form.algorithm),
        dual: Some(form.dual.is_some()),
        min_years: Some(years(&form.min_years, "最短年限")?),
        max_years: Some(years(&form.max_years, "最长年限")?),
        price_per_year: Some(serde_json::Value::String(form.price_per_year)),
        sub_price_per_year: Some(serde_json::Value::String(form.sub_price_per_year)),
        first_free: Some(form.first_free.is_some()),
        active: Some(form.active.is_some()),
    })
}

async fn create_product_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<ProductForm>,
) -> Response {
    let typed = form.clone();
    let result = match form_request(form) {
        Ok(req) => create_product(&state, &user, req).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(p) => {
            let notice = format!("已创建产品“{}”", p.name);
            products_view(
                &state,
                user,
                (None, Some(notice)),
                ProductForm::default(),
                StatusCode::OK,
            )
            .await
        }
        // Refused: the form again as typed, with the reason; nothing was saved.
        Err(err) if err.failure().status().is_client_error() => {
            let status = err.failure().status();
            products_view(&state, user, (Some(err.to_string()), None), typed, status).await
        }
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

async fn update_product_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(product_id): Path<i64>,
    Form(form): Form<ProductForm>,
) -> Response {
    let result = match form_request(form) {
        Ok(req) => update_product(&state, &user, product_id, req).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Redirect::to("/admin/products").into_response(),
        Err(err) if err.failure().status().is_client_error() => {
            let status = err.failure().status();
            products_view(
                &state,
                user,
                (Some(err.to_string()), None),
                ProductForm::default(),
                status,
            )
            .await
        }
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

#[derive(Template)]
#[template(path = "admin_vouchers.html")]
struct VouchersPage {
    chrome: Chrome,
    vouchers: Vec<VoucherView>,
    error: Option<String>,
    notice: Option<String>,
    /// The 新建抵扣券 form: empty, or as the admin typed it when it was refused.
    draft: VoucherForm,
}

async fn vouchers_view(
    state: &AppState,
    user: CurrentUser,
    (error, notice): (Option<String>, Option<String>),
    draft: VoucherForm,
    status: StatusCode,
) -> Response {
    match voucher_views(state, &user).await {
        Ok(vouchers) => render(
            &VouchersPage {
                chrome: Chrome::new(&user, "admin_vouchers"),
                vouchers,
                error,
                notice,
                draft,
            },
            status,
        ),
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

async fn vouchers_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    vouchers_view(
        &state,
        user,
        (None, None),
        VoucherForm::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Clone, Default)]
struct VoucherForm {
    #[serde(default)]
    code: String,
    amount: String,
    valid_until: String,
    #[serde(default)]
    org_id: String,
}

async fn create_voucher_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<VoucherForm>,
) -> Response {
    let typed = form.clone();
    let org_id = match form.org_id.trim() {
        "" => Ok(None),
        id => id
            .parse::<i64>()
            .map(Some)
            .map_err(|_| field_error("invalid_org_id", "机构编号应为数字；不填则所有机构可用")),
    };
    let result = match org_id {
        Ok(org_id) => {
            create_voucher(
                &state,
                &user,
                VoucherRequest {
                    code: Some(form.code),
                    amount: Some(serde_json::Value::String(form.amount)),
                    valid_until: Some(form.valid_until),
                    org_id,
                },
            )
            .await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(v) => {
            let notice = format!("已创建抵扣券 {}（{}元）", v.code, v.amount);
            vouchers_view(
                &state,
                user,
                (None, Some(notice)),
                VoucherForm::default(),
                StatusCode::OK,
            )
            .await
        }
        // Refused: the form again as typed, with the reason; nothing was saved.
        Err(err) if err.failure().status().is_client_error() => {
            let status = err.failure().status();
            vouchers_view(&state, user, (Some(err.to_string()), None), typed, status).await
        }
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

// --- the products as the order flow reads them ------------------------------------------------

/// A product offered on the application pages.
pub(crate) struct ProductChoice {
    pub id: i64,
    /// Name, provider and price per year, as the list shows it.
    pub label: String,
}

/// The active products, in the catalogue's order.
pub(crate) async fn choices(state: &AppState) -> Result<Vec<ProductChoice>, ProductError> {
    Ok(state
        .store
        .products(true)
        .await?
        .into_iter()
        .map(|p| ProductChoice {
            id: p.id,
            label: format!(
                "{}（{}）¥{}/年",
                p.spec.name,
                p.provider_name,
                yuan(p.spec.price_per_year_fen)
            ),
        })
        .collect())
}

/// What issuance needs to know of a product.
pub(crate) struct ProductFacts {
    pub name: String,
    /// `sm2` or `p256`, as the CA names its algorithms.
    pub algorithm: &'static str,
    pub dual: bool,
    /// 移动版: the CA holds the key pairs.
    pub mobile: bool,
}

pub(crate) async fn product_facts(
    state: &AppState,
    product_id: i64,
) -> Result<ProductFacts, ProductError> {
    let product = state
        .store
        .product_by_id(product_id)
        .await?
        .ok_or(ProductError::Missing(product_id))?;
    Ok(ProductFacts {
        name: product.spec.name,
        algorithm: product.spec.algorithm.as_str(),
        dual: product.spec.dual,
        mobile: product.spec.medium == Medium::Mobile,
    })
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        list_products_api,
        product_api,
        create_product_api,
        update_product_api,
        quote_api,
        list_vouchers_api,
        create_voucher_api
    ))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
