//! `certdesk serve`: check the configuration, prepare the data directory and database, listen,
//! and on SIGINT/SIGTERM let in-flight requests finish before closing the database.

use crate::ca::{
    certificate_policy, warn_if_placeholder_policy, DEFAULT_CA_NAME, PUBLIC_URL_SETTING,
};
use crate::config::{ServeArgs, ServeSettings};
use crate::database::{open_store, prepare_data_dir};
use crate::secrets::{self, Missing};
use anyhow::{bail, Context, Result};
use certdesk_ca::remote::RemoteCa;
use certdesk_ca::{ensure_hierarchies, CaService, CertificateAuthority};
use certdesk_server::{bootstrap_admin, router, AppState, Payee, ServerConfig};
use certdesk_store::{BlobStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// How often the CRLs are looked at; a new one is signed when half of the current one's
/// validity has passed.
const CRL_CHECK_INTERVAL: Duration = Duration::from_secs(10 * 60);

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
    // Only a build with the store's `failpoints` feature (the crash tests') has any.
    let failpoints = certdesk_store::configure_failpoints_from_env()
        .map_err(|e| anyhow::anyhow!("invalid FAILPOINTS: {e}"))?;
    if failpoints > 0 {
        tracing::warn!(
            failpoints,
            "failpoints are set: this process may stop on purpose"
        );
    }
    certdesk_server::set_platform_name(&settings.platform_name);
    certdesk_server::set_agent_url(&settings.agent_url);
    prepare_data_dir(&settings.data_dir)?;
    // Bind before touching the database, so that a port in use changes nothing.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let store = open_store(&settings.data_dir, settings.database_url.as_deref()).await?;
    tracing::info!(engine = store.engine().name(), "database ready");

    // `certdesk ca` run later on this installation writes the same addresses into certificates.
    store
        .set_setting(PUBLIC_URL_SETTING, &settings.public_url)
        .await?;
    // With `--ca`, the CA is another process: this one reads no CA secret at all.
    let (ca, in_process): (Arc<dyn CaService>, Option<InProcessCa>) = match &settings.ca_socket {
        Some(socket) => (Arc::new(connect_ca_service(socket).await?), None),
        None => {
            let local = open_in_process_ca(&store, &settings).await?;
            (local.ca.clone(), Some(local))
        }
    };

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

    let made = certdesk_server::products::ensure_default_products(&store)
        .await
        .context("cannot create the default products")?;
    if made > 0 {
        tracing::info!(products = made, "default products created");
    }

    let state = AppState::new(
        store.clone(),
        ca,
        ServerConfig::new(settings.public_url.clone(), settings.session_hours * 3600)
            .with_sandbox_payment_secret(secrets::sandbox_payment_secret(&settings.data_dir)?)
            .with_personal_data_key(secrets::personal_data_key(&settings.data_dir)?)
            .with_sandbox_notify_base(loopback_url(listener.local_addr()?))
            .with_trusted_proxies(settings.trusted_proxies.clone())
            .with_sandboxes(settings.sandbox_payments, settings.sandbox_identity)
            .with_payee(match &settings.payee {
                Some((name, bank, account_no)) => Payee {
                    name: name.clone(),
                    bank: bank.clone(),
                    account_no: account_no.clone(),
                },
                None => Payee::default(),
            }),
        BlobStore::open(settings.data_dir.join("blobs")).with_context(|| {
            format!(
                "上传文件目录无法使用: {}",
                settings.data_dir.join("blobs").display()
            )
        })?,
    );
    let order_job = tokio::spawn(close_unpaid_orders_regularly(state.clone()));
    let purge_job = tokio::spawn(crate::housekeeping::purge_expired_logins_regularly(
        state.clone(),
    ));
    let reminder_job = tokio::spawn(send_expiry_reminders_regularly(state.clone()));
    let supersede_job = tokio::spawn(supersede_renewed_regularly(
        state.clone(),
        settings.renewal_grace_secs,
    ));
    let recovery_job = tokio::spawn(recover_issuance_regularly(
        state.clone(),
        settings.issuance_recovery_secs,
    ));
    let mailer = match &settings.mail {
        Some(mail) => Some(certdesk_server::outbox::Mailer::new(mail)?),
        None => None,
    };
    let outbox_job = tokio::spawn(deliver_outbox_regularly(state.clone(), mailer));
    let app = router(state);
    tracing::info!(listen = %settings.listen, public_url = %settings.public_url, "certdesk serving");
    println!("certdesk 已启动: {}", settings.public_url);
    // The client's address is part of login throttling.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the server stopped with an error")?;
    if let Some(local) = in_process {
        local.stop().await;
    }
    order_job.abort();
    purge_job.abort();
    recovery_job.abort();
    reminder_job.abort();
    supersede_job.abort();
    outbox_job.abort();
    tracing::info!("in-flight requests finished; closing the database");
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// This server as reached from this machine: the sandbox payment gateway notifies it there,
/// whatever the public URL (an https one behind a proxy included).
fn loopback_url(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, listen.port()))
}

/// Closes orders left unpaid past their 30 minutes, once a minute.
async fn close_unpaid_orders_regularly(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match certdesk_server::payments::close_unpaid_orders(&state, state.now()).await {
            Ok(0) => {}
            Ok(closed) => tracing::info!(closed, "unpaid orders closed"),
            Err(err) => tracing::error!(error = %err, "closing unpaid orders failed"),
        }
    }
}

/// Delivers the outbox every five seconds. Each process is a worker of its own (its name in
/// the leases: host, process, a random part), so several processes on one PostgreSQL database
/// share the outbox, each message leased by one of them.
async fn deliver_outbox_regularly(
    state: AppState,
    mailer: Option<certdesk_server::outbox::Mailer>,
) {
    let owner = format!(
        "{}-{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "certdesk".into()),
        std::process::id(),
        hex::encode(rand::random::<[u8; 4]>())
    );
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        match certdesk_server::outbox::deliver_due(
            &state.store,
            &state.blobs,
            mailer.as_ref(),
            &owner,
            state.now(),
        )
        .await
        {
            Ok(run) if run == Default::default() => {}
            Ok(run) => tracing::info!(
                sent = run.sent,
                retried = run.retried,
                dead = run.dead,
                "outbox delivered"
            ),
            Err(err) => tracing::error!(error = %err, "outbox delivery failed"),
        }
    }
}

/// Revokes (superseded) the old certificates of renewed keys once the grace is over, and those
/// of replaced keys a crash left unrevoked: checked as often as the grace is long, from every
/// second to every hour.
async fn supersede_renewed_regularly(state: AppState, grace_secs: i64) {
    let every = u64::try_from(grace_secs.clamp(1, 3600)).unwrap_or(3600);
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    loop {
        tick.tick().await;
        match certdesk_server::renewals::supersede_renewed(&state, grace_secs).await {
            Ok(0) => {}
            Ok(keys) => tracing::info!(keys, "renewed keys' old certificates revoked (superseded)"),
            Err(err) => {
                tracing::error!(error = %err, "revoking renewed keys' old certificates failed")
            }
        }
        // Renewals of keys the CA holds that a crash (or a CA away) left unsigned.
        match certdesk_server::renewals::renew_held_pending(&state).await {
            Ok(0) => {}
            Ok(orders) => tracing::info!(orders, "renewals of held keys completed"),
            Err(err) => tracing::error!(error = %err, "renewing held keys failed"),
        }
        // 补办s and 变更s whose old certificates a crash left valid after the new ones were
        // issued.
        match certdesk_server::issuance::revoke_replaced(&state).await {
            Ok(0) => {}
            Ok(keys) => tracing::info!(keys, "replaced keys' old certificates revoked"),
            Err(err) => {
                tracing::error!(error = %err, "revoking replaced keys' old certificates failed")
            }
        }
    }
}

/// Revokes the certificates past their renewal window, and sends the expiry reminders due (30,
/// 15, 7 and 1 days before), at start and then hourly; each reminder is sent once however many
/// processes share the database.
async fn send_expiry_reminders_regularly(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        tick.tick().await;
        match certdesk_server::revocations::revoke_lapsed(&state).await {
            Ok(0) => {}
            Ok(keys) => tracing::info!(keys, "certificates past their renewal window revoked"),
            Err(err) => tracing::error!(error = %err, "revoking lapsed certificates failed"),
        }
        match certdesk_server::messages::send_expiry_reminders(&state).await {
            Ok(run) if run.reminders == 0 => {}
            Ok(run) => tracing::info!(
                reminders = run.reminders,
                messages = run.messages,
                "expiry reminders sent"
            ),
            Err(err) => tracing::error!(error = %err, "sending expiry reminders failed"),
        }
    }
}

/// Recovers issuance left unfinished for `after_secs` (a crash, a request that died), at start
/// and then every `after_secs` (at most every minute).
async fn recover_issuance_regularly(state: AppState, after_secs: i64) {
    let every = Duration::from_secs(u64::try_from(after_secs.clamp(1, 60)).unwrap_or(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match certdesk_server::issuance::recover_abandoned(&state, after_secs).await {
            Ok(recovery) if recovery == Default::default() => {}
            Ok(recovery) => tracing::warn!(
                released = recovery.released,
                revoked = recovery.revoked,
                reissued = recovery.reissued,
                "unfinished issuance recovered"
            ),
            Err(err) => tracing::error!(error = %err, "recovering unfinished issuance failed"),
        }
    }
}

/// The CA inside this process (the embedded default) and its jobs: CRLs kept fresh, the audit
/// chain sealed.
struct InProcessCa {
    ca: Arc<CertificateAuthority>,
    jobs: CaJobs,
}

impl InProcessCa {
    async fn stop(self) {
        self.jobs.stop(&self.ca).await;
    }
}

/// Creates the hierarchies on first start, and opens the CA with this installation's secrets.
async fn open_in_process_ca(store: &Store, settings: &ServeSettings) -> Result<InProcessCa> {
    let passphrase = secrets::ca_key_passphrase(&settings.data_dir, Missing::Create)?;
    let kmk = secrets::key_management_key(&settings.data_dir, Missing::Create)?;
    for algorithm in ensure_hierarchies(store, &passphrase, DEFAULT_CA_NAME).await? {
        crate::audit_entry(
            store,
            certdesk_domain::AuditAction::CaInitialised,
            &format!("ca:{}", algorithm.slug()),
            "",
        )
        .await?;
        println!(
            "已创建 {} 根CA与签发CA (created the {} root and issuing CA)",
            algorithm.label(),
            algorithm.label()
        );
    }
    let policy = certificate_policy(store, settings.policy_oid).await?;
    warn_if_placeholder_policy(policy);
    crate::ca::warn_if_root_keys_online(store).await?;
    let token = settings.token.config()?;
    let ca = Arc::new(
        CertificateAuthority::open_with_token(
            Arc::new(store.clone()),
            &settings.public_url,
            &passphrase,
            token.as_ref(),
        )
        .await?
        .with_key_management(kmk)
        .with_policy(policy),
    );
    drop(passphrase);
    let jobs = CaJobs::start(&ca);
    Ok(InProcessCa { ca, jobs })
}

/// How long `serve --ca` waits for the CA service to answer at start (it may be starting too).
const CA_SERVICE_WAIT: Duration = Duration::from_secs(30);

/// Connects to the CA service, waiting while it starts.
async fn connect_ca_service(socket: &std::path::Path) -> Result<RemoteCa> {
    let deadline = tokio::time::Instant::now() + CA_SERVICE_WAIT;
    loop {
        match RemoteCa::connect_unix(socket).await {
            Ok(ca) => {
                tracing::info!(socket = %socket.display(), "signing with the CA service");
                return Ok(ca);
            }
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %err, "the CA service is not answering yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(err) => bail!(
                "cannot reach the CA service at unix:{}: {err} (start `certdesk ca serve --listen unix:{}` first)",
                socket.display(),
                socket.display()
            ),
        }
    }
}

/// The CA's own jobs, wherever it runs (here, or in `certdesk ca serve`).
pub(crate) struct CaJobs {
    crl: tokio::task::JoinHandle<()>,
    seal: tokio::task::JoinHandle<()>,
}

impl CaJobs {
    pub(crate) fn start(ca: &Arc<CertificateAuthority>) -> Self {
        CaJobs {
            crl: tokio::spawn(keep_crls_fresh(ca.clone())),
            seal: tokio::spawn(seal_audit_regularly(ca.clone())),
        }
    }

    /// Stops the jobs and seals the last entries of this run: a tail cut off after shutdown
    /// shows.
    pub(crate) async fn stop(self, ca: &CertificateAuthority) {
        self.crl.abort();
        self.seal.abort();
        match ca.seal_audit_head(jiff::Timestamp::now().as_second()).await {
            Ok(_) => tracing::info!("audit chain head sealed"),
            Err(err) => {
                tracing::error!(error = %err, "sealing the audit chain head at shutdown failed")
            }
        }
    }
}

/// How often the audit chain's head is sealed (also at start and at shutdown).
const AUDIT_SEAL_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Seals the audit chain's head at start and then hourly.
async fn seal_audit_regularly(ca: Arc<CertificateAuthority>) {
    let mut tick = tokio::time::interval(AUDIT_SEAL_INTERVAL);
    loop {
        tick.tick().await;
        if let Err(err) = ca.seal_audit_head(jiff::Timestamp::now().as_second()).await {
            tracing::error!(error = %err, "sealing the audit chain head failed");
        }
    }
}

/// Signs new CRLs before the published ones go stale, for as long as the server runs.
async fn keep_crls_fresh(ca: Arc<CertificateAuthority>) {
    let mut tick = tokio::time::interval(CRL_CHECK_INTERVAL);
    loop {
        tick.tick().await;
        // Retired issuing CAs too: their certificates are checked against their CRLs.
        for loaded in ca.cas() {
            if let Err(err) = ca.current_crl_of(loaded).await {
                tracing::error!(error = %err, ca = %loaded.publication_name, "CRL refresh failed");
            }
        }
    }
}

pub(crate) async fn shutdown_signal() {
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
