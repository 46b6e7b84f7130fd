//! `certdesk audit`: checks of the audit log for operators and scripts.

use crate::database::{open_store, DataArgs};
use anyhow::{bail, Context, Result};
use certdesk_domain::ChainVerifier;
use certdesk_pki::AuditSealKey;
use certdesk_store::{AuditSeal, Store, MAX_AUDIT_PAGE};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and its seals; name the first entry that was changed, removed
    /// or moved, a chain rewritten up to a sealed entry, or entries cut off after one.
    #[command(
        after_help = "Prints `audit chain intact: N entries` and exits 0, or names what is broken \
and exits 1. The seals (made by `certdesk serve` at start, hourly and at shutdown with a key \
derived from the key-management key) are checked with that key (CERTDESK_KMK_HEX or \
<data-dir>/secrets/kmk.hex); without seals, entries cut off at the end cannot be seen: compare \
the last hash printed with one recorded earlier."
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
    let outcome = async {
        let seals = store
            .audit_seals()
            .await
            .context("cannot read the audit seals")?;
        let key = if seals.is_empty() {
            None
        } else {
            let kmk =
                crate::secrets::key_management_key(&data.data_dir, crate::secrets::Missing::Refuse)
                    .context("cannot check the audit seals")?;
            Some(AuditSealKey::from_kmk(&kmk))
        };
        verify(&store, &seals, key.as_ref()).await
    }
    .await;
    store.close().await;
    let (verifier, sealed) = outcome?;
    println!("audit chain intact: {} entries", verifier.verified());
    if verifier.verified() > 0 {
        println!("last hash: {}", verifier.last_hash());
    }
    match sealed {
        Some(seal) => println!(
            "sealed through entry {} (sealed {})",
            seal.sequence,
            certdesk_ca::trust::format_time(seal.sealed_at)
        ),
        None if verifier.verified() > 0 => println!(
            "no seal yet: entries cut off at the end cannot be seen (certdesk serve seals the chain)"
        ),
        None => {}
    }
    Ok(())
}

/// Reads the chain page by page, so a long log never sits in memory whole, and holds it to its
/// seals: each must verify under `key`, match the entry it seals, and no seal may lie beyond the
/// chain's end. Answers the verifier and the latest seal.
async fn verify(
    store: &Store,
    seals: &[AuditSeal],
    key: Option<&AuditSealKey>,
) -> Result<(ChainVerifier, Option<AuditSeal>)> {
    if let Some(key) = key {
        if let Some(forged) = seals
            .iter()
            .find(|s| !key.verify(s.sequence, &s.hash, s.sealed_at, &s.seal))
        {
            bail!(
                "the seal of entry {} (sealed {}) does not verify: seals were forged or altered",
                forged.sequence,
                certdesk_ca::trust::format_time(forged.sealed_at)
            );
        }
    }
    let mut verifier = ChainVerifier::new();
    // The last entry found to match a seal: a rewrite lies after it.
    let mut last_matching: i64 = 0;
    let mut after = 0;
    loop {
        let page = store
            .audit_chain_page(after, MAX_AUDIT_PAGE)
            .await
            .context("cannot read the audit log")?;
        for entry in &page {
            verifier.push(entry)?;
            for seal in seals.iter().filter(|s| s.sequence == entry.sequence) {
                if seal.hash != entry.hash {
                    bail!(
                        "the chain was rewritten between entries {} and {}: entry {} no longer matches its seal of {}",
                        last_matching + 1,
                        entry.sequence,
                        entry.sequence,
                        certdesk_ca::trust::format_time(seal.sealed_at)
                    );
                }
                last_matching = entry.sequence;
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == MAX_AUDIT_PAGE => after = last.sequence,
            _ => break,
        }
    }
    let end = i64::try_from(verifier.verified()).unwrap_or(i64::MAX);
    if let Some(beyond) = seals
        .iter()
        .filter(|s| s.sequence > end)
        .max_by_key(|s| s.sequence)
    {
        bail!(
            "entries after {end} were cut off: the seal of {} covers entry {}",
            certdesk_ca::trust::format_time(beyond.sealed_at),
            beyond.sequence
        );
    }
    let latest = seals
        .iter()
        .max_by_key(|s| (s.sequence, s.sealed_at))
        .cloned();
    Ok((verifier, latest))
}
