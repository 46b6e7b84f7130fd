//! 消息: each account's in-app messages, and the expiry reminders that send them
//! (`reminders.rs`, run by `certdesk serve` at start and hourly).

mod error;
mod reminders;

pub(crate) use error::MessageError;
pub use reminders::{send_expiry_reminders, ReminderRun};

use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::flash::Slot;
use crate::web::pages::{render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use certdesk_domain::Action;
use serde::Serialize;
use utoipa::ToSchema;

/// Messages shown at once (newest first).
const MESSAGES_SHOWN: i64 = 200;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/messages", ReadOwnMessages, messages_page)
        .post("/messages/read", ReadOwnMessages, mark_read_page)
        .get("/api/v1/messages", ReadOwnMessages, messages_api)
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    /// `expiry_reminder`, …
    pub kind: String,
    pub title: String,
    pub body: String,
    /// A page of certdesk the message leads to, or "".
    pub link: String,
    /// Beijing time.
    pub created_at: String,
    pub read: bool,
}

impl From<&certdesk_store::Message> for MessageView {
    fn from(m: &certdesk_store::Message) -> Self {
        MessageView {
            id: m.id,
            kind: m.kind.clone(),
            title: m.title.clone(),
            body: m.body.clone(),
            link: m.link.clone(),
            created_at: crate::format_beijing(m.created_at),
            read: m.read_at.is_some(),
        }
    }
}

async fn messages_of(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<MessageView>, MessageError> {
    let messages = state
        .store
        .messages_of(user.account().id, MESSAGES_SHOWN)
        .await?;
    Ok(messages.iter().map(MessageView::from).collect())
}

/// The caller's messages, newest first.
#[utoipa::path(get, path = "/api/v1/messages",
    responses((status = 200, body = [MessageView]), (status = 401, body = ErrorBody)))]
async fn messages_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    Ok(Json(messages_of(&state, &user).await?))
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    chrome: Chrome,
    messages: Vec<MessageView>,
    unread: usize,
    notice: Option<String>,
}

async fn messages_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
) -> Result<Response, PageFailure> {
    let messages = messages_of(&state, &user).await?;
    let unread = messages.iter().filter(|m| !m.read).count();
    let flash = crate::web::flash::take(&state, &user).await;
    Ok(render(
        &MessagesPage {
            chrome: Chrome::new(&user, "messages"),
            messages,
            unread,
            notice: flash.notice,
        },
        StatusCode::OK,
    ))
}

async fn mark_read_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let told = state
        .store
        .mark_messages_read(user.account().id, state.now())
        .await
        .map(|n| format!("已将 {n} 条消息标为已读"))
        .map_err(|e| PageFailure::from(MessageError::from(e)));
    crate::web::flash::back_with(&state, &user, "/messages", told, Slot::Error).await
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(messages_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
