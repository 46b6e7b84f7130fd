//! Notices after a page action: put for the session, shown once by the next page (issue 12).
//! Never text in the URL, which anyone could craft into an official-looking banner.

use crate::web::auth::CurrentUser;
use crate::web::pages::PageFailure;
use crate::AppState;
use axum::response::{IntoResponse, Redirect, Response};

/// Where a page shows a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// What was done (green).
    Notice,
    /// Why it was not (red), at the top.
    Error,
    /// Beside the uploads.
    UploadError,
    /// Beside the identity check.
    IdentityError,
}

impl Slot {
    fn as_str(self) -> &'static str {
        match self {
            Slot::Notice => "notice",
            Slot::Error => "error",
            Slot::UploadError => "upload_error",
            Slot::IdentityError => "identity_error",
        }
    }
}

/// The messages a page shows once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
    pub upload_error: Option<String>,
    pub identity_error: Option<String>,
}

/// Puts `message` for the user's session (nothing without one: an API token has no pages).
pub(crate) async fn put(state: &AppState, user: &CurrentUser, slot: Slot, message: &str) {
    let Some(session) = &user.session else {
        return;
    };
    if let Err(err) = state
        .store
        .put_flash(&session.token_hash, slot.as_str(), message, state.now())
        .await
    {
        // The action itself is done; only its notice is lost.
        tracing::warn!(error = %err, "a page notice could not be kept");
    }
}

/// Takes the session's messages (they are then gone).
pub(crate) async fn take(state: &AppState, user: &CurrentUser) -> Flash {
    let Some(session) = &user.session else {
        return Flash::default();
    };
    let taken = match state.store.take_flashes(&session.token_hash).await {
        Ok(taken) => taken,
        Err(err) => {
            tracing::warn!(error = %err, "page notices could not be read");
            return Flash::default();
        }
    };
    let mut flash = Flash::default();
    for (slot, message) in taken {
        let place = match slot.as_str() {
            "notice" => &mut flash.notice,
            "error" => &mut flash.error,
            "upload_error" => &mut flash.upload_error,
            "identity_error" => &mut flash.identity_error,
            _ => continue,
        };
        *place = Some(message);
    }
    flash
}

/// After a page form: back to `to`, with what was done as the notice, or why not (a rule
/// broken, a step not the user's) in `error_slot`; what cannot be told there (not found,
/// forbidden, a failure of ours) gets a page of its own.
pub(crate) async fn back_with(
    state: &AppState,
    user: &CurrentUser,
    to: &str,
    result: Result<String, PageFailure>,
    error_slot: Slot,
) -> Response {
    match result {
        Ok(done) => put(state, user, Slot::Notice, &done).await,
        Err(failure) if failure.belongs_on_the_page() => {
            put(state, user, error_slot, &failure.message).await
        }
        Err(failure) => return failure.into_page(),
    }
    Redirect::to(to).into_response()
}
