//! 补办 (DOMAIN.md, business type 3): why a key is replaced, what its new certificates are
//! valid for, and what it costs.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **The new certificates end when the old ones would have** (补办 replaces the key, it does
//!   not extend it; 续费 does that). An old certificate with less than a day left gets a day.
//! - **The price is one product year** of the product (a new UKey made and delivered), less a
//!   voucher; no 首张免费 and no 子证书 price.
//! - **The old certificates are revoked when the new ones are issued**: `keyCompromise` for a
//!   lost key (someone may hold it), `superseded` for a damaged key or a CA upgrade.

use crate::product::{ProductSpec, Quote, QuoteError, VoucherFacts};

/// Why a key is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacementReason {
    /// 原CA锁丢失.
    Lost,
    /// CA锁损坏.
    Damaged,
    /// CA证书升级: the old key can no longer renew (guide 004).
    CaUpgrade,
    /// 变更: the certificate is replaced by one with the changed facts (not a 补办 reason).
    InformationChanged,
}

impl ReplacementReason {
    pub const ALL: [ReplacementReason; 4] = [
        ReplacementReason::Lost,
        ReplacementReason::Damaged,
        ReplacementReason::CaUpgrade,
        ReplacementReason::InformationChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplacementReason::Lost => "lost",
            ReplacementReason::Damaged => "damaged",
            ReplacementReason::CaUpgrade => "ca_upgrade",
            ReplacementReason::InformationChanged => "changed",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReplacementReason::Lost => "原CA锁丢失",
            ReplacementReason::Damaged => "CA锁损坏",
            ReplacementReason::CaUpgrade => "CA证书升级，原锁无法续费",
            ReplacementReason::InformationChanged => "单位信息变更",
        }
    }

    pub fn parse(name: &str) -> Option<ReplacementReason> {
        ReplacementReason::ALL
            .into_iter()
            .find(|r| r.as_str() == name.trim())
    }

    /// The RFC 5280 reason the old certificates are revoked with once the new ones are issued.
    pub fn crl_reason(self) -> &'static str {
        match self {
            ReplacementReason::Lost => "keyCompromise",
            ReplacementReason::Damaged
            | ReplacementReason::CaUpgrade
            | ReplacementReason::InformationChanged => "superseded",
        }
    }

    /// Whether a supplier may give it for a 补办 order.
    pub fn is_for_replacement_orders(self) -> bool {
        self != ReplacementReason::InformationChanged
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Days from `now` to the old certificate's end, rounded up; at least 1.
pub fn replacement_validity_days(old_not_after: i64, now: i64) -> u32 {
    let left = old_not_after.saturating_sub(now).max(0);
    u32::try_from((left + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// What replacing one key of `product` costs: one product year, less a voucher.
pub fn replacement_quote(
    product: &ProductSpec,
    voucher: Option<&VoucherFacts>,
    org_id: i64,
    order_id: Option<i64>,
    now: i64,
) -> Result<Quote, QuoteError> {
    let one_year = ProductSpec {
        min_years: 1,
        max_years: 1,
        ..product.clone()
    };
    crate::renewal::renewal_quote(&one_year, 1, 1, voucher, org_id, order_id, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_key_is_revoked_as_compromised_and_the_rest_as_superseded() {
        for reason in ReplacementReason::ALL {
            assert_eq!(ReplacementReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(ReplacementReason::Lost.crl_reason(), "keyCompromise");
        assert_eq!(ReplacementReason::Damaged.crl_reason(), "superseded");
        assert_eq!(ReplacementReason::CaUpgrade.crl_reason(), "superseded");
        assert_eq!(ReplacementReason::parse("stolen"), None);
    }

    #[test]
    fn the_new_certificates_end_with_the_old() {
        assert_eq!(replacement_validity_days(1_000 + 200 * 86_400, 1_000), 200);
        assert_eq!(replacement_validity_days(1_000 + 86_400 + 1, 1_000), 2);
        assert_eq!(replacement_validity_days(500, 1_000), 1);
    }

    #[test]
    fn a_replacement_costs_one_product_year() {
        let product = ProductSpec {
            name: "SM2".into(),
            medium: crate::product::Medium::UKey,
            algorithm: crate::product::KeyAlgorithm::Sm2,
            dual: true,
            min_years: 2,
            max_years: 3,
            price_per_year_fen: 39_900,
            sub_price_per_year_fen: 20_000,
            first_free: true,
            active: true,
        };
        let quote = replacement_quote(&product, None, 1, None, 0).unwrap();
        assert_eq!(quote.amount_due_fen, 39_900);
    }
}
