//! `certdesk`: the one binary. Subcommands: `serve` (the web service), `ca` (the certificate
//! authority for operators).

mod admin;
mod agent;
mod audit;
mod ca;
mod config;
mod database;
mod housekeeping;
mod secrets;
mod serve;
mod token;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "certdesk",
    version,
    about = "certdesk — CA证书自助服务台 (self-service desk for organisations' CA certificates)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service (pages, JSON API, health check).
    #[command(
        after_help = "Environment: every option can also be set as CERTDESK_<OPTION> (e.g. CERTDESK_LISTEN). \
CERTDESK_ADMIN_PASSWORD sets the password of the system admin `admin` made on first start; \
without it a one-time password is generated and printed once on standard output."
    )]
    Serve(Box<config::ServeArgs>),
    /// The certificate authority: init, issue, revoke, crl, list, cert.
    Ca(ca::CaArgs),
    /// Platform settings: CA providers and their recognised CA certificates.
    Admin(admin::AdminArgs),
    /// The audit log: verify.
    Audit(audit::AuditArgs),
    /// The key holder's software UKey: init, info, gen-csr, install, change-pin, unlock,
    /// verify, sign, decrypt. PINs come from CERTDESK_TOKEN_PIN (…_NEW_PIN, …_SO_PIN) or the
    /// terminal, never from the command line.
    Token(token::TokenArgs),
    /// The loopback service certdesk's pages talk to (127.0.0.1 only): lists the software
    /// UKeys and signs this site's challenges, asking for the PIN on its own terminal.
    ///
    /// Example: certdesk agent --site https://certdesk.example.com --keys-dir ~/.certdesk/keys
    Agent(agent::AgentArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Ca(args) => ca::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Token(args) => token::run(args),
        Command::Agent(args) => agent::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("certdesk: error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, as operators grep and scripts read it.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // Libraries often repeat their cause in their own message; say each thing once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Appends an audit entry for an operator command; the actor is recorded as `cli`.
pub(crate) async fn audit_entry(
    store: &certdesk_store::Store,
    action: certdesk_domain::AuditAction,
    object: &str,
    detail: &str,
) -> anyhow::Result<()> {
    store
        .append_audit(&certdesk_store::NewAuditEvent {
            at: jiff::Timestamp::now().as_second(),
            actor_account_id: None,
            actor_label: "cli",
            org_id: None,
            action,
            object,
            detail,
        })
        .await?;
    Ok(())
}
