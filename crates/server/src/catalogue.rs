//! The product catalogue as applications see it. WIP: temporary until the products module lands.

use crate::applications::ChosenProduct;
use crate::error::ApiError;
use crate::AppState;
use certdesk_domain::DeliveryChoice;

pub(crate) struct ProductChoice {
    pub id: i64,
    pub label: String,
}

pub(crate) struct ProductFacts {
    pub name: String,
    /// `sm2` or `p256`.
    pub algorithm: &'static str,
    pub dual: bool,
    /// 移动版: the CA holds the key pairs.
    pub mobile: bool,
}

pub(crate) async fn choices(state: &AppState) -> Result<Vec<ProductChoice>, ApiError> {
    let _ = state;
    Ok(vec![ProductChoice {
        id: 1,
        label: "SM2 双证书 UKey ¥399/年".into(),
    }])
}

pub(crate) async fn product_facts(
    state: &AppState,
    product_id: i64,
) -> Result<ProductFacts, ApiError> {
    let _ = (state, product_id);
    Ok(ProductFacts {
        name: "SM2 双证书 UKey".into(),
        algorithm: "sm2",
        dual: true,
        mobile: false,
    })
}

pub(crate) async fn choose_for_application(
    state: &AppState,
    org_id: i64,
    product_id: i64,
    years: i64,
    voucher: Option<&str>,
) -> Result<ChosenProduct, ApiError> {
    let _ = org_id;
    let provider_id = state.store.ca_providers().await?[0].id;
    Ok(ChosenProduct {
        provider_id,
        product_id,
        years,
        voucher: voucher.map(str::to_string),
        amount_fen: 39_900 * years,
        delivery: DeliveryChoice::UKey,
    })
}
