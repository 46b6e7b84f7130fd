//! `certdesk agent`: the loopback service certdesk's pages talk to, on 127.0.0.1 only, over
//! the software UKeys in a directory and the tokens of PKCS#11 modules; PINs asked for in the
//! agent's own page (`--prompt page`, the default: the site's page opens it in a window) or on
//! its terminal (`--prompt terminal`).

use anyhow::{Context, Result};
use certdesk_token::agent::{agent_router, AgentConfig, PagePrompt, PinPrompt, DEFAULT_PORT};
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
    /// A PKCS#11 module whose tokens are keys too (a UKey vendor's .so, SoftHSM2); repeatable
    #[arg(long = "pkcs11-module", value_name = "SO")]
    pkcs11_modules: Vec<PathBuf>,
    /// Where the holder types PINs: the agent's own page (opened by the site's page) or this
    /// terminal
    #[arg(long, value_enum, default_value_t = Prompt::Page)]
    prompt: Prompt,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Prompt {
    Page,
    Terminal,
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

    fn new_pin_for(&self, serial: &str, purpose: &str) -> Option<zeroize::Zeroizing<String>> {
        let first = self.pin_for(serial, purpose)?;
        let again = self.pin_for(serial, "再次输入新PIN码")?;
        (first == again).then_some(first)
    }

    fn kind(&self) -> &'static str {
        "terminal"
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
            let (prompt, page_prompt): (Arc<dyn PinPrompt>, _) = match args.prompt {
                Prompt::Terminal => (Arc::new(TerminalPrompt), None),
                Prompt::Page => {
                    let page = Arc::new(PagePrompt::default());
                    println!(
                        "PIN码在证书助手的页面中输入：http://127.0.0.1:{}/pin",
                        args.port
                    );
                    (page.clone(), Some(page))
                }
            };
            let router = agent_router(AgentConfig {
                site_url: args.site,
                keys_dir: args.keys_dir,
                pkcs11_modules: args.pkcs11_modules,
                prompt,
                page_prompt,
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("the agent stopped")
        })
}
