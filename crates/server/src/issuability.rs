//! Whether the CA would issue an order's certificate (issue 10), asked with the CA's own
//! limits ([`certdesk_ca::CertificateAuthority::check_limits`], the domain's
//! [`certdesk_domain::limits`]): before an order may reach 制证中 (复审通过 requires it), for an
//! operator to end one that can no longer be issued (无法制证退款), and for the years a product
//! offers or an application asks for.

use crate::error::ApiError;
use crate::AppState;
use certdesk_domain::limits::{
    check_years_issuable, validity_days, LimitError, RA_ISSUANCE_ALLOWANCE_SECS,
};
use certdesk_domain::{KeyAlgorithm, OrderStatus};
use certdesk_store::Order;

/// Why the CA would refuse the certificate of an order waiting for issuance, `None` when
/// nothing stands in the way. Only orders in 待复审 (asked with a week of room: the key holder
/// sends the CSR some days after 复审) and 制证中 (asked for now) are checked; for every other
/// status, and orders without an application, the answer is `None`.
pub(crate) async fn cannot_issue(
    state: &AppState,
    order: &Order,
) -> Result<Option<LimitError>, ApiError> {
    let issue_at = match order.status {
        OrderStatus::AwaitingSecondReview => state.now().saturating_add(RA_ISSUANCE_ALLOWANCE_SECS),
        OrderStatus::Issuing => state.now(),
        _ => return Ok(None),
    };
    let Some(application) = state.store.application(order.id).await? else {
        return Ok(None);
    };
    let product = crate::products::product_facts(state, application.product_id).await?;
    let algorithm = certdesk_ca::algorithm_from_slug(product.algorithm)
        .ok_or_else(|| ApiError::internal(format!("product algorithm {}", product.algorithm)))?;
    // The certificate names the organisation as it registered.
    let organisation = crate::applications::registered_organisation(state, order).await?;
    // Years out of range give 0 days, which the CA refuses too.
    let days = u32::try_from(application.years).map_or(0, validity_days);
    Ok(state
        .ca
        .check_limits(algorithm, &organisation.name, days, issue_at)
        .err())
}

/// When the issuing CA of `algorithm` ends (Unix seconds), if this installation has one.
pub(crate) fn issuing_ca_until(state: &AppState, algorithm: KeyAlgorithm) -> Option<i64> {
    let algorithm = certdesk_ca::algorithm_from_slug(algorithm.as_str())?;
    state.ca.ca(algorithm).ok().map(|ca| ca.issuing_until())
}

/// Whether certificates of `years` of `algorithm` may be asked of this installation's CA now:
/// the years are allowed, and fit the issuing CA's remaining life.
pub(crate) fn check_years(
    state: &AppState,
    algorithm: KeyAlgorithm,
    years: u32,
) -> Result<(), LimitError> {
    let ca_until = issuing_ca_until(state, algorithm).ok_or(LimitError::NoIssuingCa {
        algorithm: algorithm.label(),
    })?;
    check_years_issuable(years, ca_until, state.now())
}
