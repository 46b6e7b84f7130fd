//! `certdesk audit`: checks of the audit log for operators and scripts.

use crate::database::{open_store, DataArgs};
use anyhow::{bail, Context, Result};
use certdesk_domain::ChainVerifier;
use certdesk_store::{Store, MAX_AUDIT_PAGE};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; name the first entry that was changed, removed or moved.
    #[command(
        after_help = "Prints `audit chain intact: N entries` and exits 0, or names the first broken \
entry and exits 1. Entries cut off at the end cannot be seen from the chain alone: compare the \
last hash printed with one recorded earlier."
    )]
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub fn run(args: AuditArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_async(args))
}

async fn run_async(args: AuditArgs) -> Result<()> {
    let AuditCommand::Verify { data } = args.command;
    // Opening a missing SQLite file would create an empty log that "verifies": refuse instead.
    if data.database_url.is_none() && !data.data_dir.join("certdesk.db").exists() {
        bail!(
            "no certdesk database in {}: pass --data-dir or --database-url",
            data.data_dir.display()
        );
    }
    let store = open_store(&data.data_dir, data.database_url.as_deref()).await?;
    let outcome = verify(&store).await;
    store.close().await;
    let verifier = outcome?;
    println!("audit chain intact: {} entries", verifier.verified());
    if verifier.verified() > 0 {
        println!("last hash: {}", verifier.last_hash());
    }
    Ok(())
}

/// Reads the chain page by page, so a long log never sits in memory whole.
async fn verify(store: &Store) -> Result<ChainVerifier> {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store
            .audit_chain_page(after, MAX_AUDIT_PAGE)
            .await
            .context("cannot read the audit log")?;
        for entry in &page {
            verifier.push(entry)?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == MAX_AUDIT_PAGE => after = last.sequence,
            _ => return Ok(verifier),
        }
    }
}
