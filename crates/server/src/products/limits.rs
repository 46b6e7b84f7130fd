//! The years a product may offer and an application ask for, by the CA's limits
//! ([`certdesk_domain::limits`]) and the issuing CA's remaining life.

use crate::AppState;
use certdesk_domain::limits::{check_years_issuable, LimitError};
use certdesk_domain::KeyAlgorithm;

/// When the issuing CA of `algorithm` ends (Unix seconds), if this installation has one.
pub(crate) fn issuing_ca_until(state: &AppState, algorithm: KeyAlgorithm) -> Option<i64> {
    let algorithm = certdesk_ca::algorithm_from_slug(algorithm.as_str())?;
    state.ca.certificates(algorithm).map(|ca| ca.issuing_until)
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
