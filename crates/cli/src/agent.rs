//! `certdesk agent`: the loopback service certdesk's pages talk to, on 127.0.0.1 only, over
//! the software UKeys in a directory; PINs asked for on the agent's terminal.

use anyhow::{Context, Result};
use certdesk_token::agent::{agent_router, AgentConfig, PinPrompt, DEFAULT_PORT};
use clap::Args;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct AgentArgs {
    /// The certdesk site whose pages the agent serves, e.g. https://certdesk.example.com
    #[arg(long, env = "CERTDESK_AGENT_SITE")]
    site: String,
    /// Where the software UKeys are (*.json)
    #[arg(long, env = "CERTDESK_AGENT_KEYS", value_name = "DIR")]
    keys_dir: PathBuf,
    /// The port on 127.0.0.1
    #[arg(long, env = "CERTDESK_AGENT_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
}

/// Asks on the agent's own terminal (the controlling tty), never through the page.
struct TerminalPrompt;

impl PinPrompt for TerminalPrompt {
    fn pin_for(&self, serial: &str, purpose: &str) -> Option<zeroize::Zeroizing<String>> {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let mut out = tty.try_clone().ok()?;
        write!(
            out,
            "证书助手：{purpose}，请输入CA锁 {serial} 的PIN码（直接回车取消）："
        )
        .ok()?;
        out.flush().ok()?;
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::BufReader::new(tty).read_line(&mut line).ok()?;
        let pin = line.trim_end_matches(['\r', '\n']).to_string();
        (!pin.is_empty()).then(|| zeroize::Zeroizing::new(pin))
    }
}

pub fn run(args: AgentArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
            println!(
                "证书助手已启动：127.0.0.1:{}，为 {} 服务，CA锁目录 {}",
                args.port,
                args.site,
                args.keys_dir.display()
            );
            let router = agent_router(AgentConfig {
                site_url: args.site,
                keys_dir: args.keys_dir,
                prompt: Arc::new(TerminalPrompt),
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("the agent stopped")
        })
}
