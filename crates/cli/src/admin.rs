//! `certdesk admin`: platform settings for the system admin's scripts.

use crate::database::{open_store, DataArgs};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// The 数字证书服务协议 and the 电子认证业务规则 shown to applicants.
    #[command(subcommand)]
    Terms(TermsCommand),
    /// CA providers (CA服务商).
    #[command(subcommand)]
    CaProvider(ProviderCommand),
}

#[derive(Subcommand)]
enum TermsCommand {
    /// Replace a document's text with a UTF-8 text file (one paragraph per line).
    Set {
        /// service-agreement (数字证书服务协议) or cps (电子认证业务规则)
        #[arg(long)]
        document: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// List the providers and their hotlines.
    List,
    /// Recognise a provider's CA certificate, so that its certificates can bind and log in.
    ImportCa {
        /// The provider's name, as `certdesk admin ca-provider list` shows it (e.g. CFCA)
        #[arg(long)]
        provider: String,
        /// The CA certificate (PEM or DER)
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
    },
}

pub fn run(args: AdminArgs) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(async {
            if args.data.database_url.is_none() && !args.data.data_dir.join("certdesk.db").exists() {
                anyhow::bail!("no certdesk database in {}: run `certdesk serve` or `certdesk ca init` first, or pass --data-dir", args.data.data_dir.display());
            }
            let store = open_store(&args.data.data_dir, args.data.database_url.as_deref()).await?;
            let result = match args.command {
                AdminCommand::Terms(TermsCommand::Set { document, file }) => {
                    let Some(found) = certdesk_server::TERMS.iter().find(|t| t.name == document) else {
                        anyhow::bail!("unknown document '{document}': service-agreement or cps");
                    };
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {} (UTF-8 text expected)", file.display()))?;
                    if text.trim().is_empty() {
                        anyhow::bail!("{} is empty", file.display());
                    }
                    store.set_setting(&certdesk_server::terms_setting_name(found.name), &text).await?;
                    crate::audit_entry(&store, certdesk_domain::AuditAction::ConfigurationChanged, &format!("terms:{}", found.name), &format!("{} replaced", found.title)).await?;
                    println!("{} updated", found.title);
                    Ok(())
                }
                AdminCommand::CaProvider(ProviderCommand::List) => {
                    for provider in store.ca_providers().await? {
                        let here = if provider.operated_here { "（本平台）" } else { "" };
                        println!("{}{here}\t{}\t{}", provider.name, provider.hotline, provider.media.join(","));
                    }
                    Ok(())
                }
                AdminCommand::CaProvider(ProviderCommand::ImportCa { provider, cert }) => {
                    let bytes = std::fs::read(&cert).with_context(|| format!("cannot read {}", cert.display()))?;
                    let found = store
                        .ca_provider_by_name(&provider)
                        .await?
                        .with_context(|| format!("no CA provider named '{provider}': see `certdesk admin ca-provider list`"))?;
                    let now = jiff::Timestamp::now().as_second();
                    let audit = certdesk_store::AuditNote { actor_label: "cli", ..certdesk_store::AuditNote::system(now, "") };
                    let imported = certdesk_ca::import_provider_ca(&store, found.id, &bytes, now, &audit)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot import {}: {e}", cert.display()))?;
                    println!("imported {} for {}", imported.subject, found.name);
                    Ok(())
                }
            };
            store.close().await;
            result
        })
}
