//! Audit entries: `note_by` for the entries the store writes in the same transaction as the
//! change they record (every stored change: order steps, issuance, bindings, sessions, passwords,
//! API tokens, products, vouchers, registrations, transfers, identity checks), `record` only for
//! what stores nothing else (a refused login while locked, a face check refused for the day,
//! the logout of an API token that has no session).

use crate::AppState;
use certdesk_domain::AuditAction;
use certdesk_store::{Account, AuditNote, NewAuditEvent};

/// Who (`actor`, on its organisation) and when, for an audit entry the store writes in the
/// same transaction as the change it records.
pub(crate) fn note_by<'a>(state: &AppState, actor: &'a Account, detail: &'a str) -> AuditNote<'a> {
    AuditNote {
        at: state.now(),
        actor_account_id: Some(actor.id),
        actor_label: &actor.username,
        org_id: actor.org_id,
        detail,
    }
}

/// [`note_by`], the entry filed on organisation `org_id` (the order's or voucher's, not the
/// actor's: staff acting on a supplier's order).
pub(crate) fn note_on<'a>(
    state: &AppState,
    actor: &'a Account,
    org_id: Option<i64>,
    detail: &'a str,
) -> AuditNote<'a> {
    AuditNote {
        org_id,
        ..note_by(state, actor, detail)
    }
}

/// Appends an audit entry for a request that changed nothing else; a failure to append is
/// logged as an error.
pub(crate) async fn record(
    state: &AppState,
    actor: Option<&Account>,
    org_id: Option<i64>,
    action: AuditAction,
    object: &str,
    detail: &str,
) {
    // The user name is kept with the entry, so that the log reads without joins.
    let label = actor.map(|a| a.username.as_str()).unwrap_or("-");
    let appended = state
        .store
        .append_audit(&NewAuditEvent {
            at: state.now(),
            actor_account_id: actor.map(|a| a.id),
            actor_label: label,
            org_id,
            action,
            object,
            detail,
        })
        .await;
    if let Err(err) = appended {
        tracing::error!(error = %err, action = action.as_str(), object, "audit entry could not be appended");
    }
}
