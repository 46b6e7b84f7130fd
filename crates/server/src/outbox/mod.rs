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

use certdesk_store::blobs::{BlobId, BlobStore};
use certdesk_store::{Channel, FailedTry, OutboxMessage, Store};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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
