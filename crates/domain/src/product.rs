//! Products, prices and vouchers (DOMAIN.md, "CA providers and products"): what a CA provider
//! offers, and the pure pricing of an order ([`quote`]).
//!
//! Rules decided here, where the guides leave room:
//!
//! - **首张免费** (guide 002: "免费新领仅限首次"): when a product says the first certificate of a
//!   legal entity is free and the organisation has never had a certificate issued, the first
//!   year of the main certificate is waived. Further years, and sub-certificates, are paid.
//! - **抵扣券** (guide 004: "¥ 0.00 ~~¥ 399.00~~ 会员赠送CA抵扣券"): one voucher per order, worth
//!   a fixed amount, applied after 首张免费; it never takes the amount due below 0, and the
//!   part of it not used is lost (the voucher is used up either way).
//! - Money is whole fen (分) everywhere; yuan are only for display ([`yuan`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest validity any product may offer, in years: the RA's and the CA's one limit.
pub use crate::limits::MAX_PRODUCT_YEARS;
/// The highest price per year a product may carry: ¥100 000.
pub const MAX_PRICE_PER_YEAR_FEN: i64 = 10_000_000;
/// The highest value of one voucher: ¥100 000.
pub const MAX_VOUCHER_FEN: i64 = 10_000_000;
/// How many sub-certificates (子证书) one order may add.
pub const MAX_SUB_CERTIFICATES: u32 = 20;

/// Where the keys live (介质).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    /// 实体UKey: a USB key holding the keys, delivered by mail or at the counter.
    UKey,
    /// 移动版: no hardware; the keys are held for the user, who scans a QR code.
    Mobile,
}

impl Medium {
    pub const ALL: [Medium; 2] = [Medium::UKey, Medium::Mobile];

    /// The stored name; the same words as `ca_providers.media`.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::UKey => "ukey",
            Medium::Mobile => "mobile",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Medium::UKey => "实体UKey",
            Medium::Mobile => "移动版",
        }
    }
}

/// The key algorithm of a product's certificates. The names are `certdesk-pki`'s
/// `Algorithm::slug` of the algorithms we issue (`sm2`, `p256`); the domain does not depend on
/// the PKI crate, so the two are matched by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// SM2 with SM3 (国密), the default.
    #[default]
    Sm2,
    /// ECDSA on NIST P-256 with SHA-256.
    P256,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 2] = [KeyAlgorithm::Sm2, KeyAlgorithm::P256];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Sm2 => "sm2",
            KeyAlgorithm::P256 => "p256",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KeyAlgorithm::Sm2 => "SM2",
            KeyAlgorithm::P256 => "ECDSA P-256",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的{what}：{value}")]
pub struct UnknownProductValue {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for Medium {
    type Err = UnknownProductValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Medium::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownProductValue {
                what: "介质类型（应为 ukey 或 mobile）",
                value: s.to_string(),
            })
    }
}

impl FromStr for KeyAlgorithm {
    type Err = UnknownProductValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownProductValue {
                what: "证书算法（应为 sm2 或 p256）",
                value: s.to_string(),
            })
    }
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a product is and costs, as the system admin sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub name: String,
    pub medium: Medium,
    pub algorithm: KeyAlgorithm,
    /// 双证书: a signing and an encryption certificate.
    pub dual: bool,
    pub min_years: u32,
    pub max_years: u32,
    pub price_per_year_fen: i64,
    /// 子证书 (or a second certificate), per certificate and year.
    pub sub_price_per_year_fen: i64,
    /// The first certificate of a legal entity is free (首张免费).
    pub first_free: bool,
    pub active: bool,
}

/// A product spec the system admin may not save; each names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("产品名称不能为空，且不超过60个字")]
    Name,
    #[error("有效期年限应为1至{MAX_PRODUCT_YEARS}年的整数，且最短年限不大于最长年限")]
    Years,
    /// More years than a certificate may have ([`crate::limits`]).
    #[error("有效期年限最多{MAX_PRODUCT_YEARS}年（CA所能签发的最长有效期），最长年限当前为{0}年")]
    MaxYears(u32),
    #[error("每年价格应为0至100000元之间的金额（最多两位小数）")]
    Price,
    #[error("子证书每年价格应为0至100000元之间的金额（最多两位小数）")]
    SubPrice,
}

impl ProductError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ProductError::Name => "name",
            ProductError::Years => "min_years",
            ProductError::MaxYears(_) => "max_years",
            ProductError::Price => "price_per_year",
            ProductError::SubPrice => "sub_price_per_year",
        }
    }
}

/// Checks a product spec field by field, in the order of the form.
pub fn validate_product(spec: &ProductSpec) -> Result<(), ProductError> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(ProductError::Name);
    }
    if spec.max_years > MAX_PRODUCT_YEARS {
        return Err(ProductError::MaxYears(spec.max_years));
    }
    if spec.min_years < 1 || spec.max_years < 1 || spec.min_years > spec.max_years {
        return Err(ProductError::Years);
    }
    if !(0..=MAX_PRICE_PER_YEAR_FEN).contains(&spec.price_per_year_fen) {
        return Err(ProductError::Price);
    }
    if !(0..=MAX_PRICE_PER_YEAR_FEN).contains(&spec.sub_price_per_year_fen) {
        return Err(ProductError::SubPrice);
    }
    Ok(())
}

/// An amount in yuan as people write it ("399", "399.00", "0.5", "¥399") → fen. At most two
/// decimals, not negative, at most ¥100 000 000.
pub fn parse_yuan(input: &str) -> Option<i64> {
    let s = input.trim().trim_start_matches(['¥', '￥']).trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 9
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(whole * 100 + frac)
}

/// Fen as yuan with two decimals: `39900` → `"399.00"`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// A voucher (抵扣券) as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherFacts {
    pub code: String,
    pub amount_fen: i64,
    /// Unix seconds; the voucher is good until then (exclusive).
    pub valid_until: i64,
    /// `None`: any organisation may use it.
    pub org_id: Option<i64>,
    /// The order it was redeemed for, if any.
    pub redeemed_order_id: Option<i64>,
}

/// What is being priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest<'a> {
    pub org_id: i64,
    pub years: u32,
    /// 子证书 added to the order.
    pub sub_certificates: u32,
    /// Whether the organisation has ever had a certificate issued (then 首张免费 is spent).
    pub org_has_had_certificate: bool,
    pub voucher: Option<&'a VoucherFacts>,
    /// The order the voucher would be used for, when it exists already: a voucher redeemed for
    /// this very order still prices it (a draft priced again).
    pub order_id: Option<i64>,
    pub now: i64,
}

/// What kind of reduction a quote line is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DiscountKind {
    /// 首张免费
    FirstFree,
    /// 子证书（第二张证书）: the organisation has a certificate (or one on its way), so this
    /// one is priced at the product's 子证书 price.
    SecondCertificate,
    /// 抵扣券, with its code.
    Voucher { code: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscountLine {
    #[serde(flatten)]
    pub kind: DiscountKind,
    /// What users read, e.g. "首张免费（首年）" or "抵扣券 CDK2026".
    pub label: String,
    /// The reduction actually applied, in fen (never more than what was left to pay).
    pub amount_fen: i64,
}

/// The price of an order: the list price, the reductions, and what is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub years: u32,
    pub sub_certificates: u32,
    pub price_per_year_fen: i64,
    pub sub_price_per_year_fen: i64,
    /// years × (price + sub-certificates × sub-price).
    pub list_price_fen: i64,
    pub discounts: Vec<DiscountLine>,
    /// What the supplier pays; 0 is a free order.
    pub amount_due_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("该产品已停用，不能申领")]
    InactiveProduct,
    #[error("有效期应为{min}至{max}年，当前选择{years}年")]
    YearsOutOfRange { years: u32, min: u32, max: u32 },
    #[error("子证书数量应为0至{MAX_SUB_CERTIFICATES}个")]
    TooManySubCertificates,
    #[error("抵扣券 {0} 已过期")]
    VoucherExpired(String),
    #[error("抵扣券 {0} 已被使用")]
    VoucherUsed(String),
    /// Told as unknown: a code is a bearer secret, and the answer must not confirm that
    /// another organisation's voucher exists.
    #[error("抵扣券 {0} 不存在")]
    VoucherOtherOrganisation(String),
}

impl QuoteError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            QuoteError::InactiveProduct => "product_id",
            QuoteError::YearsOutOfRange { .. } => "years",
            QuoteError::TooManySubCertificates => "sub_certificates",
            QuoteError::VoucherExpired(_)
            | QuoteError::VoucherUsed(_)
            | QuoteError::VoucherOtherOrganisation(_) => "voucher",
        }
    }
}

/// Whether `voucher` may be used by organisation `org_id` for order `order_id` at `now`.
pub fn check_voucher(
    voucher: &VoucherFacts,
    org_id: i64,
    order_id: Option<i64>,
    now: i64,
) -> Result<(), QuoteError> {
    if voucher.org_id.is_some_and(|owner| owner != org_id) {
        return Err(QuoteError::VoucherOtherOrganisation(voucher.code.clone()));
    }
    if let Some(used_for) = voucher.redeemed_order_id {
        if Some(used_for) != order_id {
            return Err(QuoteError::VoucherUsed(voucher.code.clone()));
        }
    }
    if now >= voucher.valid_until {
        return Err(QuoteError::VoucherExpired(voucher.code.clone()));
    }
    Ok(())
}

/// Prices an order of `product` (see the module's rules).
pub fn quote(product: &ProductSpec, request: &QuoteRequest<'_>) -> Result<Quote, QuoteError> {
    if !product.active {
        return Err(QuoteError::InactiveProduct);
    }
    if !(product.min_years..=product.max_years).contains(&request.years) {
        return Err(QuoteError::YearsOutOfRange {
            years: request.years,
            min: product.min_years,
            max: product.max_years,
        });
    }
    if request.sub_certificates > MAX_SUB_CERTIFICATES {
        return Err(QuoteError::TooManySubCertificates);
    }
    if let Some(voucher) = request.voucher {
        check_voucher(voucher, request.org_id, request.order_id, request.now)?;
    }
    let years = i64::from(request.years);
    let per_year = product.price_per_year_fen
        + i64::from(request.sub_certificates) * product.sub_price_per_year_fen;
    let list_price_fen = years * per_year;
    let mut due = list_price_fen;
    let mut discounts = Vec::new();
    // 子证书（或第二张证书）: an organisation that has its certificate pays the 子证书 price
    // for another (guide 002's price table). A product without a lower 子证书 price has none.
    let second_price = product.sub_price_per_year_fen;
    if request.org_has_had_certificate
        && second_price > 0
        && second_price < product.price_per_year_fen
    {
        let amount = (years * (product.price_per_year_fen - second_price)).min(due);
        due -= amount;
        discounts.push(DiscountLine {
            kind: DiscountKind::SecondCertificate,
            label: format!("子证书价（第二张证书，¥{}/年）", yuan(second_price)),
            amount_fen: amount,
        });
    }
    if product.first_free && !request.org_has_had_certificate {
        let amount = product.price_per_year_fen.min(due);
        due -= amount;
        discounts.push(DiscountLine {
            kind: DiscountKind::FirstFree,
            label: "首张免费（首年）".into(),
            amount_fen: amount,
        });
    }
    if let Some(voucher) = request.voucher {
        let amount = voucher.amount_fen.max(0).min(due);
        due -= amount;
        discounts.push(DiscountLine {
            kind: DiscountKind::Voucher {
                code: voucher.code.clone(),
            },
            label: format!("抵扣券 {}", voucher.code),
            amount_fen: amount,
        });
    }
    Ok(Quote {
        years: request.years,
        sub_certificates: request.sub_certificates,
        price_per_year_fen: product.price_per_year_fen,
        sub_price_per_year_fen: product.sub_price_per_year_fen,
        list_price_fen,
        discounts,
        amount_due_fen: due,
    })
}

/// A voucher code as typed: trimmed, upper-case; 4–32 letters, digits or '-'.
pub fn normalise_voucher_code(input: &str) -> Option<String> {
    let code = input.trim().to_ascii_uppercase();
    let ok = (4..=32).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sm2_ukey() -> ProductSpec {
        ProductSpec {
            name: "SM2 双证书 UKey".into(),
            medium: Medium::UKey,
            algorithm: KeyAlgorithm::Sm2,
            dual: true,
            min_years: 1,
            max_years: 3,
            price_per_year_fen: 39_900,
            sub_price_per_year_fen: 20_000,
            first_free: true,
            active: true,
        }
    }

    const NOW: i64 = 1_795_000_000;
    const ORG: i64 = 7;

    fn voucher(amount_fen: i64) -> VoucherFacts {
        VoucherFacts {
            code: "CDK-2026".into(),
            amount_fen,
            valid_until: NOW + 86_400,
            org_id: None,
            redeemed_order_id: None,
        }
    }

    fn request(years: u32, had: bool, voucher: Option<&VoucherFacts>) -> QuoteRequest<'_> {
        QuoteRequest {
            org_id: ORG,
            years,
            sub_certificates: 0,
            org_has_had_certificate: had,
            voucher,
            order_id: None,
            now: NOW,
        }
    }

    #[test]
    fn prices_follow_the_table() {
        let v100 = voucher(10_000);
        let v1000 = voucher(100_000);
        // (years, had a certificate, voucher, list, discounts, due)
        type Row<'a> = (u32, bool, Option<&'a VoucherFacts>, i64, Vec<i64>, i64);
        let table: Vec<Row<'_>> = vec![
            // A second certificate of the organisation: 子证书 ¥200/年 instead of ¥399/年.
            (1, true, None, 39_900, vec![19_900], 20_000),
            (3, true, None, 119_700, vec![59_700], 60_000),
            (1, false, None, 39_900, vec![39_900], 0),
            (2, false, None, 79_800, vec![39_900], 39_900),
            (1, true, Some(&v100), 39_900, vec![19_900, 10_000], 10_000),
            (2, false, Some(&v100), 79_800, vec![39_900, 10_000], 29_900),
            // Never below zero: the voucher covers what is left and no more.
            (1, true, Some(&v1000), 39_900, vec![19_900, 20_000], 0),
            (1, false, Some(&v100), 39_900, vec![39_900, 0], 0),
        ];
        for (years, had, voucher, list, discounts, due) in table {
            let q = quote(&sm2_ukey(), &request(years, had, voucher)).unwrap();
            assert_eq!(q.list_price_fen, list, "{years} {had} {voucher:?}");
            assert_eq!(
                q.discounts.iter().map(|d| d.amount_fen).collect::<Vec<_>>(),
                discounts,
                "{years} {had} {voucher:?}"
            );
            assert_eq!(q.amount_due_fen, due, "{years} {had} {voucher:?}");
            assert!(q.amount_due_fen >= 0);
        }
    }

    #[test]
    fn sub_certificates_are_priced_per_year_and_never_free() {
        let mut r = request(2, false, None);
        r.sub_certificates = 2;
        let q = quote(&sm2_ukey(), &r).unwrap();
        assert_eq!(q.list_price_fen, 2 * (39_900 + 2 * 20_000));
        assert_eq!(q.amount_due_fen, q.list_price_fen - 39_900);
        r.sub_certificates = MAX_SUB_CERTIFICATES + 1;
        assert_eq!(
            quote(&sm2_ukey(), &r),
            Err(QuoteError::TooManySubCertificates)
        );
    }

    #[test]
    fn discount_lines_name_themselves() {
        let v = voucher(5_000);
        let q = quote(&sm2_ukey(), &request(1, false, Some(&v))).unwrap();
        assert_eq!(q.discounts[0].kind, DiscountKind::FirstFree);
        assert_eq!(q.discounts[0].label, "首张免费（首年）");
        assert_eq!(
            q.discounts[1].kind,
            DiscountKind::Voucher {
                code: "CDK-2026".into()
            }
        );
    }

    #[test]
    fn a_product_without_first_free_charges_the_first_certificate() {
        let mut p = sm2_ukey();
        p.first_free = false;
        assert_eq!(
            quote(&p, &request(1, false, None)).unwrap().amount_due_fen,
            39_900
        );
    }

    #[test]
    fn refusals_say_why() {
        let mut inactive = sm2_ukey();
        inactive.active = false;
        assert_eq!(
            quote(&inactive, &request(1, true, None)),
            Err(QuoteError::InactiveProduct)
        );
        for years in [0, 4, 10] {
            let err = quote(&sm2_ukey(), &request(years, true, None)).unwrap_err();
            assert_eq!(
                err,
                QuoteError::YearsOutOfRange {
                    years,
                    min: 1,
                    max: 3
                }
            );
            assert_eq!(err.field(), "years");
            assert!(err.to_string().contains("有效期应为1至3年"));
        }
        let mut expired = voucher(100);
        expired.valid_until = NOW; // good until then, exclusive
        assert_eq!(
            quote(&sm2_ukey(), &request(1, true, Some(&expired))),
            Err(QuoteError::VoucherExpired("CDK-2026".into()))
        );
        let mut used = voucher(100);
        used.redeemed_order_id = Some(99);
        assert_eq!(
            quote(&sm2_ukey(), &request(1, true, Some(&used))),
            Err(QuoteError::VoucherUsed("CDK-2026".into()))
        );
        // Redeemed for this very order: it still prices it.
        let mut r = request(1, true, Some(&used));
        r.order_id = Some(99);
        // 子证书 ¥200 less the ¥1 voucher.
        assert_eq!(quote(&sm2_ukey(), &r).unwrap().amount_due_fen, 19_900);
        let mut theirs = voucher(100);
        theirs.org_id = Some(ORG + 1);
        let err = quote(&sm2_ukey(), &request(1, true, Some(&theirs))).unwrap_err();
        assert_eq!(err, QuoteError::VoucherOtherOrganisation("CDK-2026".into()));
        assert_eq!(err.field(), "voucher");
        let mut mine = voucher(100);
        mine.org_id = Some(ORG);
        assert!(quote(&sm2_ukey(), &request(1, true, Some(&mine))).is_ok());
    }

    #[test]
    fn product_specs_are_checked_field_by_field() {
        assert_eq!(validate_product(&sm2_ukey()), Ok(()));
        type Change = fn(&mut ProductSpec);
        let cases: Vec<(Change, ProductError)> = vec![
            (|p| p.name = "  ".into(), ProductError::Name),
            (|p| p.name = "x".repeat(61), ProductError::Name),
            (|p| p.min_years = 0, ProductError::Years),
            (
                |p| p.max_years = MAX_PRODUCT_YEARS + 1,
                ProductError::MaxYears(MAX_PRODUCT_YEARS + 1),
            ),
            (|p| p.max_years = 10, ProductError::MaxYears(10)),
            (|p| p.max_years = 0, ProductError::Years),
            (
                |p| {
                    p.min_years = 3;
                    p.max_years = 2
                },
                ProductError::Years,
            ),
            (|p| p.price_per_year_fen = -1, ProductError::Price),
            (
                |p| p.price_per_year_fen = MAX_PRICE_PER_YEAR_FEN + 1,
                ProductError::Price,
            ),
            (|p| p.sub_price_per_year_fen = -1, ProductError::SubPrice),
        ];
        for (change, expected) in cases {
            let mut p = sm2_ukey();
            change(&mut p);
            assert_eq!(validate_product(&p), Err(expected));
        }
        assert_eq!(ProductError::Price.field(), "price_per_year");
        assert_eq!(ProductError::MaxYears(10).field(), "max_years");
    }

    #[test]
    fn yuan_are_parsed_and_shown() {
        let table = [
            ("399", Some(39_900)),
            ("399.00", Some(39_900)),
            ("¥399.5", Some(39_950)),
            ("0.01", Some(1)),
            (".5", Some(50)),
            ("0", Some(0)),
            ("", None),
            ("-1", None),
            ("1.234", None),
            ("abc", None),
            ("1e3", None),
        ];
        for (input, fen) in table {
            assert_eq!(parse_yuan(input), fen, "{input}");
        }
        assert_eq!(yuan(39_900), "399.00");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(0), "0.00");
    }

    #[test]
    fn names_round_trip() {
        for m in Medium::ALL {
            assert_eq!(m.as_str().parse::<Medium>(), Ok(m));
        }
        for a in KeyAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<KeyAlgorithm>(), Ok(a));
        }
        assert!("rsa".parse::<KeyAlgorithm>().is_err());
        assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::Sm2);
        assert_eq!(
            normalise_voucher_code(" cdk-2026 "),
            Some("CDK-2026".into())
        );
        assert_eq!(normalise_voucher_code("a b"), None);
    }
}
