//! Expiry reminders (到期提醒): 30, 15, 7 and 1 days before a certificate expires, to its
//! organisation's admins and the accounts it is bound to, as in-app messages. Each is sent
//! once: the store's reminder row is the claim, so reruns, restarts and several server
//! processes on one database send nothing twice.

use super::MessageError;
use crate::AppState;
use certdesk_domain::certificate::{reminder_due, REMINDER_DAYS};
use certdesk_store::{ExpiringCertificate, NewMessage};

/// What one run sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReminderRun {
    /// Reminders this run sent (not those sent before).
    pub reminders: u64,
    /// Messages they made.
    pub messages: u64,
}

/// Sends every reminder due now that has not been sent.
pub async fn send_expiry_reminders(state: &AppState) -> Result<ReminderRun, MessageError> {
    let now = state.now();
    let window = REMINDER_DAYS.iter().max().copied().unwrap_or(30) * 86_400;
    let mut run = ReminderRun::default();
    for certificate in state.store.certificates_expiring(now, now + window).await? {
        let Some(days) = reminder_due(certificate.not_after, now) else {
            continue;
        };
        let (title, body) = reminder_text(&certificate, days);
        let sent = state
            .store
            .send_expiry_reminder(
                &certificate,
                days,
                now,
                &NewMessage {
                    kind: "expiry_reminder",
                    title: &title,
                    body: &body,
                    link: "/certificates",
                },
            )
            .await?;
        if let Some(messages) = sent {
            run.reminders += 1;
            run.messages += messages;
        }
    }
    Ok(run)
}

fn reminder_text(certificate: &ExpiringCertificate, days: i64) -> (String, String) {
    let title = if days == 1 {
        "CA证书明天到期".to_string()
    } else {
        format!("CA证书将在{days}天内到期")
    };
    let body = format!(
        "「{}」的CA证书（证书序列号 {}，业务单 {}）将于 {} 到期。到期后将无法登录交易平台、签章和解密投标文件。\
         请在“我的证书”中办理续费；到期前3个月至到期后3个月内可续费，续费不更换密钥，已加密的投标文件仍可解密。",
        certificate.org_name,
        certificate.serial_hex.to_uppercase(),
        certificate.order_no,
        crate::format_beijing(certificate.not_after),
    );
    (title, body)
}
