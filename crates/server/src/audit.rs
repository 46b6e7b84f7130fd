//! Appending to the audit log from request handlers.

use crate::AppState;

/// Appends an audit entry. A failure to append is logged loudly but does not undo the change
/// it describes, which has already happened.
pub(crate) async fn record(
    state: &AppState,
    actor: Option<i64>,
    org_id: Option<i64>,
    action: &str,
    object: &str,
    detail: &str,
) {
    // Until the audit store lands this writes the structured log only.
    tracing::info!(target: "certdesk::audit", actor, org_id, action, object, detail, "audit");
    let _ = state;
}
