//! The outbox's e-mail against a real SMTP server (Python's aiosmtpd, installed by the test
//! command): each message delivered once with its Message-ID and attachment; a server that is
//! down costs a try and the message goes out on a later round; a message with no valid address
//! becomes a dead letter after its tries.

mod common;

use certdesk_server::outbox::{deliver_due, MailSettings, Mailer};
use certdesk_store::{Channel, NewOutboxMessage};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python with aiosmtpd the test command installs (`scripts/test`: CERTDESK_TEST_PYTHON).
fn python() -> PathBuf {
    let python = std::env::var_os("CERTDESK_TEST_PYTHON")
        .map(PathBuf::from)
        .expect(
            "CERTDESK_TEST_PYTHON is not set: run scripts/test, which installs aiosmtpd from PyPI",
        );
    let found = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        found.success(),
        "aiosmtpd is not installed for {}",
        python.display()
    );
    python
}

/// An SMTP server on `port` writing what it receives into the Maildir `dir`.
struct SmtpServer(Child);

impl SmtpServer {
    fn start(port: u16, dir: &Path) -> SmtpServer {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer(child)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the SMTP server received, one string per message.
fn received(dir: &Path) -> Vec<String> {
    let mut mails: Vec<String> = std::fs::read_dir(dir.join("new"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    mails.sort();
    mails
}

fn mail<'a>(
    key: &'a str,
    to: &'a str,
    attachment: Option<(&'a str, &'a str)>,
) -> NewOutboxMessage<'a> {
    NewOutboxMessage {
        channel: Channel::Email,
        kind: "invoice_issued",
        recipient: to,
        subject: "电子发票已开具",
        body: "您申请的电子发票已开具，见附件。",
        attachment,
        dedupe_key: key,
    }
}

#[tokio::test]
async fn the_outbox_mails_each_message_once_and_retries_a_server_that_is_down() {
    let server = common::test_server().await;
    let store = &server.store;
    let blobs = &server.state.blobs;
    let maildir = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, maildir.path());
    let mailer = Mailer::new(&MailSettings {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "CA证书服务台 <noreply@certdesk.example>".into(),
    })
    .unwrap();
    let pdf = b"%PDF-1.4\n% certdesk test invoice\n".to_vec();
    let blob = blobs.put(&pdf).unwrap();
    let now = 1_800_000_000;
    store
        .enqueue(&mail("review-1", "boss@example.com", None), now)
        .await
        .unwrap();
    store
        .enqueue(
            &mail(
                "invoice-1",
                "boss@example.com",
                Some((blob.as_str(), "发票.pdf")),
            ),
            now,
        )
        .await
        .unwrap();
    // Nothing is sent without a mailer, and no try is spent.
    let idle = deliver_due(store, blobs, None, "worker", now)
        .await
        .unwrap();
    assert_eq!(idle, Default::default());

    let run = deliver_due(store, blobs, Some(&mailer), "worker", now)
        .await
        .unwrap();
    let first = store.outbox_message(1).await.unwrap();
    assert_eq!(run.sent, 2, "{run:?} {first:?}");
    let mails = received(maildir.path());
    assert_eq!(mails.len(), 2);
    assert!(
        mails.iter().any(|m| m.contains("application/pdf")),
        "the invoice's PDF is attached"
    );
    assert!(
        mails.iter().all(|m| m.contains("Message-ID: <outbox-")),
        "{mails:?}"
    );
    // Sent once: another round sends nothing.
    let again = deliver_due(store, blobs, Some(&mailer), "worker", now + 600)
        .await
        .unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(received(maildir.path()).len(), 2);

    // The server goes down: the try is spent and the message waits its backoff.
    drop(smtp);
    store
        .enqueue(&mail("review-2", "boss@example.com", None), now)
        .await
        .unwrap();
    let down = deliver_due(store, blobs, Some(&mailer), "worker", now + 700)
        .await
        .unwrap();
    assert_eq!(down.retried, 1, "{down:?}");
    let _smtp = SmtpServer::start(port, maildir.path());
    let early = deliver_due(store, blobs, Some(&mailer), "worker", now + 701)
        .await
        .unwrap();
    assert_eq!(early.sent, 0, "not before its backoff");
    let later = deliver_due(store, blobs, Some(&mailer), "worker", now + 731)
        .await
        .unwrap();
    assert_eq!(later.sent, 1, "{later:?}");
    assert_eq!(received(maildir.path()).len(), 3);

    // An address that is not one: tried to the end, then a dead letter for staff.
    store
        .enqueue(&mail("bad-address", "不是邮箱", None), now)
        .await
        .unwrap();
    let mut at = now + 800;
    let mut dead = 0;
    for _ in 0..certdesk_domain::outbox::MAX_ATTEMPTS {
        dead += deliver_due(store, blobs, Some(&mailer), "worker", at)
            .await
            .unwrap()
            .dead;
        at += 3600;
    }
    assert_eq!(dead, 1);
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("收件地址"));
    assert_eq!(received(maildir.path()).len(), 3);
}

/// Staff (operators, the system admin) see the dead letters with the recipient masked and send
/// one again once; suppliers cannot.
#[tokio::test]
async fn staff_send_a_dead_letter_again_once() {
    use axum::http::StatusCode;
    use certdesk_domain::Role;
    let server = common::test_server().await;
    let store = &server.store;
    let operator = common::staff_token(store, "outbox_operator", Role::PlatformOperator).await;
    let (_, supplier) = common::organisation_with_admin(
        store,
        "福州测试科技有限公司",
        "91350100M000100Y43",
        "outbox_boss",
    )
    .await;
    store
        .enqueue(&mail("doomed", "boss@example.com", None), 0)
        .await
        .unwrap();
    let mut at = 0;
    loop {
        let leased = store
            .lease_outbox(Channel::Email, "worker", at, 300, 1)
            .await
            .unwrap();
        let Some(message) = leased.first() else {
            at += 3600;
            continue;
        };
        if store
            .mark_outbox_failed(message.id, "worker", at, "550 no such user")
            .await
            .unwrap()
            == certdesk_store::FailedTry::Dead
        {
            break;
        }
    }
    let app = &server.router;
    let (status, _) = common::call(
        app,
        "GET",
        "/api/v1/outbox/dead-letters",
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, letters) = common::call(
        app,
        "GET",
        "/api/v1/outbox/dead-letters",
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{letters}");
    assert_eq!(letters[0]["recipient"], "bo***@example.com");
    assert_eq!(letters[0]["last_error"], "550 no such user");
    let id = letters[0]["id"].as_i64().unwrap();
    let uri = format!("/api/v1/outbox/{id}/retry");
    let (status, _) = common::call(app, "POST", &uri, Some(&supplier), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = common::call(app, "POST", &uri, Some(&operator), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = common::call(app, "POST", &uri, Some(&operator), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "once: {body}");
    let (_, letters) = common::call(
        app,
        "GET",
        "/api/v1/outbox/dead-letters",
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(letters.as_array().unwrap().len(), 0);
    let message = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(message.attempts, 0, "its tries start over");
}
