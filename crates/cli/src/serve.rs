//! `certdesk serve`: check the configuration, prepare the data directory and database, listen,
//! and on SIGINT/SIGTERM let in-flight requests finish before closing the database.

use crate::config::{ServeArgs, ServeSettings};
use anyhow::{Context, Result};
use certdesk_server::{bootstrap_admin, router, AppState, ServerConfig};
use certdesk_store::Store;
use std::path::Path;
use tracing_subscriber::EnvFilter;

pub fn run(args: ServeArgs) -> Result<()> {
    let settings = ServeSettings::resolve(args)?;
    let filter = EnvFilter::try_new(format!("{},sqlx=warn", settings.log))
        .with_context(|| format!("invalid log filter '{}'", settings.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(settings))
}

async fn serve(settings: ServeSettings) -> Result<()> {
    prepare_data_dir(&settings.data_dir)?;
    // Bind before touching the database, so that a port in use changes nothing.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let database_url = match &settings.database_url {
        Some(url) => url.clone(),
        None => embedded_database_url(&settings.data_dir)?,
    };
    let store = Store::open(&database_url).await?;
    tracing::info!(engine = store.engine().name(), "database ready");

    if let Some(admin) = bootstrap_admin(&store, settings.admin_password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the system admin: {}", e.message))?
    {
        match admin.generated_password {
            Some(password) => println!(
                "系统管理员账号已创建 (system admin created): 用户名 {} 一次性密码 {password}\n\
                 此密码只显示这一次，请立即保存。 (Shown once: keep it safe.)",
                admin.username
            ),
            None => println!(
                "系统管理员账号已创建 (system admin created): 用户名 {}，密码取自 CERTDESK_ADMIN_PASSWORD",
                admin.username
            ),
        }
    }

    let state = AppState::new(
        store.clone(),
        ServerConfig::new(settings.public_url.clone(), settings.session_hours * 3600),
    );
    let app = router(state);
    tracing::info!(listen = %settings.listen, public_url = %settings.public_url, "certdesk serving");
    println!("certdesk 已启动: {}", settings.public_url);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server stopped with an error")?;
    tracing::info!("in-flight requests finished; closing the database");
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Creates the data directory and proves it is writable, so that a read-only disk is found at
/// start rather than at the first upload.
fn prepare_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let probe = dir.join(".certdesk-write-check");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    Ok(())
}

fn embedded_database_url(data_dir: &Path) -> Result<String> {
    let dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve data directory {}", data_dir.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        dir.join("certdesk.db").display()
    ))
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received: finishing in-flight requests"),
        () = terminate => tracing::info!("SIGTERM received: finishing in-flight requests"),
    }
}
