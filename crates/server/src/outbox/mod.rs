//! The outbox's delivery (issue 15, first part): a worker leases due messages from the outbox
//! (`certdesk_store::outbox`), sends each through its channel, and marks it sent — or failed,
//! to be tried again with backoff and, after the last try, kept as a dead letter. E-mail goes
//! over SMTP ([`Mailer`]: `smtp://…?tls=required` for STARTTLS, `smtps://…` for TLS). A channel
//! with no settings is not leased: its messages wait, their tries unspent.
//!
//! Each message carries a `Message-ID` made from its outbox row, the same on every try: a
//! worker killed after the SMTP server took a message and before it was marked sent sends it
//! again once its lease runs out, and the copy is recognisable as the same message.

mod error;

pub use error::OutboxError;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::ManageOutbox;
    registry
        .get("/admin/outbox", ManageOutbox, dead_letters_page)
        .post("/admin/outbox/{outbox_id}/retry", ManageOutbox, retry_page)
        .get(
            "/api/v1/outbox/dead-letters",
            ManageOutbox,
            dead_letters_api,
        )
        .post("/api/v1/outbox/{outbox_id}/retry", ManageOutbox, retry_api)
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(dead_letters_api, retry_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::flash::Slot;
use crate::web::pages::{render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::Action;
use certdesk_store::blobs::{BlobId, BlobStore};
use certdesk_store::{Channel, FailedTry, OutboxMessage, Store};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use utoipa::ToSchema;

/// Messages one worker takes at a time.
const BATCH: i64 = 20;

/// Where e-mail goes: the SMTP server and the sender.
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://…:465` (TLS), or
    /// `smtp://host:port` without TLS (a relay on the same host, tests).
    pub smtp_url: String,
    /// `名称 <address>` or an address.
    pub from: String,
}

/// Shown without the URL's user and password (settings are logged at start).
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = match self.smtp_url.split_once("://") {
            Some((scheme, rest)) => {
                format!(
                    "{scheme}://{}",
                    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
                )
            }
            None => "(invalid)".into(),
        };
        f.debug_struct("MailSettings")
            .field("smtp", &server)
            .field("from", &self.from)
            .finish()
    }
}

/// Sends e-mail over SMTP.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The host part of Message-IDs.
    domain: String,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Mailer, OutboxError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
            // The URL may hold a password: only what is wrong is told.
            .map_err(|e| OutboxError::Settings(format!("smtp url: {e}")))?
            .build();
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| OutboxError::Settings(format!("mail from {:?}: {e}", settings.from)))?;
        let domain = from.email.domain().to_string();
        Ok(Mailer {
            transport,
            from,
            domain,
        })
    }

    async fn send(
        &self,
        message: &OutboxMessage,
        attachment: Option<Vec<u8>>,
    ) -> Result<(), OutboxError> {
        let to: Mailbox = message.recipient.parse().map_err(|e| {
            OutboxError::Delivery(format!("收件地址 {} 无效：{e}", message.recipient))
        })?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<outbox-{}@{}>", message.id, self.domain)));
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone());
        let email = match (attachment, message.attachment_name.as_deref()) {
            (Some(bytes), Some(name)) => {
                let kind = ContentType::parse(content_type_of(name))
                    .map_err(|e| OutboxError::Delivery(e.to_string()))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(name.to_string()).body(bytes, kind)),
                )
            }
            _ => builder.singlepart(text),
        }
        .map_err(|e| OutboxError::Delivery(e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map(drop)
            .map_err(|e| OutboxError::Delivery(format!("SMTP: {e}")))
    }
}

fn content_type_of(name: &str) -> &'static str {
    if name.to_ascii_lowercase().ends_with(".pdf") {
        "application/pdf"
    } else {
        "application/octet-stream"
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRun {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Leases the due e-mail (when a mailer is set) and sends it, marking each sent or failed;
/// `owner` names this worker in the leases.
pub async fn deliver_due(
    store: &Store,
    blobs: &BlobStore,
    mailer: Option<&Mailer>,
    owner: &str,
    now: i64,
) -> Result<DeliveryRun, OutboxError> {
    let mut run = DeliveryRun::default();
    let Some(mailer) = mailer else {
        return Ok(run);
    };
    let leased = store
        .lease_outbox(
            Channel::Email,
            owner,
            now,
            certdesk_domain::outbox::LEASE_SECS,
            BATCH,
        )
        .await?;
    for message in leased {
        let attachment = match &message.attachment_blob {
            Some(id) => {
                let id: Result<BlobId, _> = id.parse();
                match id.map(|id| blobs.get(&id)) {
                    Ok(Ok(Some(bytes))) => Some(bytes),
                    _ => None,
                }
            }
            None => None,
        };
        let outcome = if message.attachment_blob.is_some() && attachment.is_none() {
            Err(OutboxError::Delivery("附件不存在".into()))
        } else {
            mailer.send(&message, attachment).await
        };
        match outcome {
            Ok(()) => {
                if store.mark_outbox_sent(message.id, owner, now).await? {
                    run.sent += 1;
                }
            }
            Err(err) => {
                tracing::warn!(message = message.id, error = %err, "outbox delivery failed");
                match store
                    .mark_outbox_failed(message.id, owner, now, &err.to_string())
                    .await?
                {
                    FailedTry::RetryAt(_) => run.retried += 1,
                    FailedTry::Dead => run.dead += 1,
                    FailedTry::NotHeld => {}
                }
            }
        }
    }
    Ok(run)
}

// --- dead letters -------------------------------------------------------------------------------

/// Dead letters shown at once (newest first).
const DEAD_LETTERS_SHOWN: i64 = 200;

#[derive(Serialize, ToSchema)]
pub struct DeadLetterView {
    pub id: i64,
    /// `email` or `sms`.
    pub channel: String,
    /// What it announced.
    pub kind: String,
    /// Masked: staff see whom it was for, not the whole address or number.
    pub recipient: String,
    pub subject: String,
    pub attempts: i64,
    pub last_error: String,
    /// Beijing time.
    pub dead_at: String,
}

/// An address or number with its middle hidden (`bo***@example.com`, `138****8000`).
fn masked_recipient(recipient: &str) -> String {
    if recipient.contains('@') {
        certdesk_domain::audit::mask_email(recipient)
    } else {
        certdesk_domain::audit::mask_mobile(recipient)
    }
}

fn dead_letter_view(message: &OutboxMessage) -> DeadLetterView {
    DeadLetterView {
        id: message.id,
        channel: message.channel.as_str().into(),
        kind: message.kind.clone(),
        recipient: masked_recipient(&message.recipient),
        subject: message.subject.clone(),
        attempts: message.attempts,
        last_error: message.last_error.clone().unwrap_or_default(),
        dead_at: message
            .dead_at
            .map(crate::format_beijing)
            .unwrap_or_default(),
    }
}

/// Sends a dead letter again (its tries start over); `false` when it is not one (any more).
async fn retry(state: &AppState, user: &CurrentUser, id: i64) -> Result<bool, OutboxError> {
    let detail = format!("重发失败消息 {id}");
    Ok(state
        .store
        .retry_dead_letter(
            id,
            state.now(),
            &crate::web::audit_trail::note_by(state, user.account(), &detail),
        )
        .await?)
}

/// The outbox's dead letters: messages that could not be sent after every try.
#[utoipa::path(get, path = "/api/v1/outbox/dead-letters", responses((status = 200, body = [DeadLetterView]), (status = 403, body = ErrorBody)))]
async fn dead_letters_api(
    State(state): State<AppState>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let letters = state
        .store
        .dead_letters(DEAD_LETTERS_SHOWN)
        .await
        .map_err(OutboxError::from)?;
    Ok(Json(letters.iter().map(dead_letter_view).collect()))
}

/// Sends a dead letter again.
#[utoipa::path(post, path = "/api/v1/outbox/{outbox_id}/retry", params(("outbox_id" = i64, Path)),
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn retry_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if retry(&state, &user, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OutboxError::NotDead.into())
    }
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct DeadLettersPage {
    chrome: Chrome,
    letters: Vec<DeadLetterView>,
    notice: Option<String>,
    error: Option<String>,
}

async fn dead_letters_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    match state.store.dead_letters(DEAD_LETTERS_SHOWN).await {
        Ok(letters) => render(
            &DeadLettersPage {
                chrome: Chrome::new(&user, "outbox"),
                letters: letters.iter().map(dead_letter_view).collect(),
                notice: flash.notice,
                error: flash.error,
            },
            StatusCode::OK,
        ),
        Err(err) => PageFailure::from(OutboxError::from(err)).into_page(),
    }
}

async fn retry_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    let (slot, message) = match retry(&state, &user, id).await {
        Ok(true) => (Slot::Notice, format!("消息 {id} 已重新排队发送")),
        Ok(false) => (Slot::Error, OutboxError::NotDead.to_string()),
        Err(err) => (Slot::Error, PageFailure::from(err).message),
    };
    crate::web::flash::put(&state, &user, slot, &message).await;
    Redirect::to("/admin/outbox").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_settings_are_shown_without_the_password() {
        let settings = MailSettings {
            smtp_url: "smtp://mailer:s3cret@mail.example.com:587?tls=required".into(),
            from: "CA证书服务台 <noreply@example.com>".into(),
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("mailer"),
            "{shown}"
        );
        assert!(shown.contains("mail.example.com:587"), "{shown}");
        assert!(Mailer::new(&settings).is_ok());
        let bad = MailSettings {
            from: "not a mailbox".into(),
            ..settings
        };
        assert!(matches!(Mailer::new(&bad), Err(OutboxError::Settings(_))));
    }
}
