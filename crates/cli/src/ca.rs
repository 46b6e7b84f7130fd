//! `certdesk ca`: the certificate authority for operators and scripts, on the same data
//! directory or database as `serve`.

use crate::database::{open_store, prepare_data_dir, DataArgs};
use crate::secrets::{self, Missing};
use anyhow::{bail, Context, Result};
use certdesk_ca::{
    algorithm_from_slug, crl_reason_from_name, parse_policy_oid, CertificateAuthority,
    IssueRequest, CRL_REASON_NAMES, PLACEHOLDER_POLICY_OID,
};
use certdesk_domain::AuditAction;
use certdesk_pki::der::asn1::ObjectIdentifier;
use certdesk_pki::{certificate_to_pem, Algorithm, LeafProfile};
use certdesk_store::Store;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

pub const PUBLIC_URL_SETTING: &str = "public_url";
/// The certificate policy OID the operator set (`serve --policy-oid`), for `certdesk ca` too.
const POLICY_OID_SETTING: &str = "certificate_policy_oid";
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_CA_NAME: &str = "certdesk";

#[derive(Args)]
pub struct CaArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    token: TokenArgs,
    #[command(subcommand)]
    command: CaCommand,
}

/// The passphrase a recovered key is encrypted under.
const RECOVERY_PASSPHRASE_ENV: &str = "CERTDESK_RECOVERY_PASSPHRASE";

/// The PIN of the token holding the P-256 issuing key: from the environment only.
const PKCS11_PIN_ENV: &str = "CERTDESK_PKCS11_PIN";

/// The PKCS#11 token (an HSM) holding the P-256 issuing key, if any.
#[derive(Args, Debug, Default, Clone)]
pub struct TokenArgs {
    /// PKCS#11 module of the token that holds the P-256 issuing key, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so (its PIN in CERTDESK_PKCS11_PIN, never a flag)
    #[arg(long, env = "CERTDESK_PKCS11_MODULE", value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Label of that token
    #[arg(long, env = "CERTDESK_PKCS11_TOKEN", value_name = "LABEL")]
    pub pkcs11_token: Option<String>,
}

impl TokenArgs {
    /// The token, when one is named: module and label go together, the PIN is required.
    pub fn config(&self) -> Result<Option<certdesk_ca::TokenConfig>> {
        match (&self.pkcs11_module, &self.pkcs11_token) {
            (None, None) => Ok(None),
            (Some(module), Some(token_label)) => {
                let pin = std::env::var(PKCS11_PIN_ENV).unwrap_or_default();
                if pin.is_empty() {
                    bail!("set {PKCS11_PIN_ENV} to the PIN of the PKCS#11 token {token_label:?}");
                }
                Ok(Some(certdesk_ca::TokenConfig {
                    module: module.clone(),
                    token_label: token_label.clone(),
                    pin: certdesk_pki::TokenPin::new(pin),
                }))
            }
            _ => bail!("--pkcs11-module and --pkcs11-token go together"),
        }
    }
}

/// The passphrase a root CA's private key is encrypted under when it goes offline.
const ROOT_KEY_PASSPHRASE_ENV: &str = "CERTDESK_ROOT_KEY_PASSPHRASE";

#[derive(Subcommand)]
enum CaCommand {
    /// Create the SM2 and P-256 root and issuing CAs where they do not exist yet.
    Init {
        /// Organisation name in the CA certificates' subjects
        #[arg(long, default_value = DEFAULT_CA_NAME)]
        name: String,
        /// The OID of this CA's certificate policy, written into every certificate issued
        /// from now on (also settable later with `serve --policy-oid`)
        #[arg(long, env = "CERTDESK_POLICY_OID", value_name = "OID", value_parser = policy_oid_arg)]
        policy_oid: Option<ObjectIdentifier>,
        /// Where the new roots' private keys are written (root-sm2.key.pem, root-p256.key.pem:
        /// encrypted PKCS#8 under the passphrase in CERTDESK_ROOT_KEY_PASSPHRASE, never on the
        /// command line), for the operator to take offline; the database keeps only the root
        /// certificates.
        #[arg(long, value_name = "DIR")]
        root_key_dir: PathBuf,
    },
    /// Take the root keys of an installation made before roots were kept offline out of the
    /// database: written to DIR as `init` writes them, then deleted from the database.
    ExportRootKey {
        /// Where to write the keys (encrypted PKCS#8 under CERTDESK_ROOT_KEY_PASSPHRASE)
        #[arg(long, value_name = "DIR")]
        root_key_dir: PathBuf,
    },
    /// Put a new issuing CA in service under the root of ALG; the one it replaces is retired and
    /// goes on signing the CRLs and OCSP answers of what it issued. Needs the root's offline
    /// key file (`init --root-key-dir` wrote it; its passphrase in
    /// CERTDESK_ROOT_KEY_PASSPHRASE). Restart `serve` / `ca serve` afterwards.
    NewIssuing {
        #[arg(long, value_enum)]
        alg: AlgArg,
        /// The root's private key file (encrypted PKCS#8 PEM), e.g. root-p256.key.pem
        #[arg(long, value_name = "FILE")]
        root_key: PathBuf,
        /// Organisation name in the new CA certificate's subject
        #[arg(long, default_value = DEFAULT_CA_NAME)]
        name: String,
    },
    /// Run the CA as its own process: answer the web process (`certdesk serve --ca unix:PATH`)
    /// on a Unix socket. Only this process reads the CA keys, the passphrase and the
    /// key-management key; it also keeps the CRLs fresh and seals the audit chain.
    Serve {
        /// Where to answer, unix:PATH (the socket is made mode 0660: its directory and group
        /// decide which web process may ask for signatures)
        #[arg(long, env = "CERTDESK_CA_LISTEN", value_name = "unix:PATH")]
        listen: String,
        /// The server's public URL for the CRL and OCSP addresses [default: what `serve`
        /// recorded]
        #[arg(long, env = "CERTDESK_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
    },
    /// Issue a certificate from a PKCS#10 request; the issuing CA follows the request's key type.
    Issue(IssueArgs),
    /// Revoke a certificate and publish a new CRL.
    Revoke {
        /// Serial number in hex (colons and spaces allowed)
        serial: String,
        /// RFC 5280 reason
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(CRL_REASON_NAMES))]
        reason: String,
    },
    /// Recover an archived private key (the encryption key of an SM2 dual pair, or a key the CA
    /// holds for a mobile certificate) for an authorised officer. Written as encrypted PKCS#8
    /// under the passphrase in CERTDESK_RECOVERY_PASSPHRASE (never on the command line), and
    /// recorded in the audit log with the officer and the reason.
    RecoverKey {
        /// Serial number of the certificate whose key is recovered (hex)
        serial: String,
        /// The officer who asked for the recovery (recorded in the audit log)
        #[arg(long, value_name = "NAME")]
        officer: String,
        /// Why (e.g. the court order or the request number; recorded in the audit log)
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Where to write the key (encrypted PKCS#8 PEM, readable only by its owner)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write the current CRL of an issuing CA (DER).
    Crl {
        #[arg(long, value_enum)]
        alg: AlgArg,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// List the CAs and the most recently issued certificates.
    List {
        /// How many certificates to show
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Write an issuing CA certificate (PEM), or the root with --root.
    Cert {
        #[arg(long, value_enum)]
        alg: AlgArg,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        root: bool,
    },
}

#[derive(Args)]
struct IssueArgs {
    /// The certificate request (PEM or DER)
    #[arg(long, value_name = "FILE")]
    csr: PathBuf,
    /// sign: signing certificate; enc: encryption certificate; dual: SM2 signing plus
    /// encryption certificate with the encryption key made here and sealed to the CSR's key
    #[arg(long, value_enum)]
    profile: ProfileArg,
    /// Organisation name (subject O and CN)
    #[arg(long, value_name = "NAME")]
    org: String,
    /// Unified Social Credit Code (统一社会信用代码), checked with its check character
    #[arg(long, value_name = "CODE")]
    credit_code: String,
    /// Validity in days (1–3650)
    #[arg(long, value_name = "N")]
    days: u32,
    /// Where to write the certificate (PEM); for dual, the signing certificate
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the CA chain (issuing CA, then root), PEM
    #[arg(long, value_name = "FILE")]
    chain_out: Option<PathBuf>,
    /// dual only: where to write the encryption certificate (PEM)
    #[arg(long, value_name = "FILE", required_if_eq("profile", "dual"))]
    enc_out: Option<PathBuf>,
    /// dual only: where to write the sealed encryption key (GM/T 0009 SM2EnvelopedKey, DER);
    /// the GM/T 0016 ENVELOPEDKEYBLOB goes next to it with the extension .skf
    #[arg(long, value_name = "FILE", required_if_eq("profile", "dual"))]
    envelope_out: Option<PathBuf>,
    /// The server's public URL for the CRL and OCSP addresses [default: what `serve` recorded]
    #[arg(long, env = "CERTDESK_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Sign,
    Enc,
    Dual,
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgArg {
    Sm2,
    P256,
}

impl AlgArg {
    fn algorithm(self) -> Algorithm {
        let slug = match self {
            AlgArg::Sm2 => "sm2",
            AlgArg::P256 => "p256",
        };
        algorithm_from_slug(slug).unwrap_or(Algorithm::Sm2Sm3)
    }
}

pub fn run(args: CaArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTDESK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_async(args))
}

async fn run_async(args: CaArgs) -> Result<()> {
    // Only a build with the store's `failpoints` feature (the crash tests') has any.
    certdesk_store::configure_failpoints_from_env()
        .map_err(|e| anyhow::anyhow!("invalid FAILPOINTS: {e}"))?;
    let CaArgs {
        data,
        token,
        command,
    } = args;
    let token = token.config()?;
    let data_dir = data.data_dir.clone();
    // Only `init` may make a data directory and secrets; every other command works on what
    // `init` or `serve` made.
    let creating = matches!(command, CaCommand::Init { .. });
    if creating {
        prepare_data_dir(&data_dir)?;
    } else if data.database_url.is_none() && !data_dir.join("certdesk.db").exists() {
        bail!("no certdesk database in {}: run `certdesk ca init` or `certdesk serve` first, or pass --data-dir", data_dir.display());
    }
    let store = open_store(&data_dir, data.database_url.as_deref()).await?;
    let result = run_on_store(&store, &data_dir, creating, token.as_ref(), command).await;
    store.close().await;
    result
}

/// `init` on the store itself; every other command on the CA opened from it.
async fn run_on_store(
    store: &Store,
    data_dir: &Path,
    creating: bool,
    token: Option<&certdesk_ca::TokenConfig>,
    command: CaCommand,
) -> Result<()> {
    let missing = if creating {
        Missing::Create
    } else {
        Missing::Refuse
    };
    let passphrase = secrets::ca_key_passphrase(data_dir, missing)?;
    if let CaCommand::Init {
        name,
        policy_oid,
        root_key_dir,
    } = command
    {
        return init(
            store,
            &passphrase,
            data_dir,
            &name,
            policy_oid,
            &root_key_dir,
            token,
        )
        .await;
    }
    if let CaCommand::ExportRootKey { root_key_dir } = command {
        return export_root_keys(store, &passphrase, &root_key_dir).await;
    }
    if let CaCommand::NewIssuing {
        alg,
        root_key,
        name,
    } = command
    {
        return new_issuing(store, &passphrase, alg.algorithm(), &root_key, &name, token).await;
    }
    let ca = open_authority(store, data_dir, &passphrase, token, &command).await?;
    run_command(&ca, command).await
}

/// `certdesk ca new-issuing`: a new issuing CA, certified with the root's offline key.
async fn new_issuing(
    store: &Store,
    passphrase: &Zeroizing<String>,
    algorithm: Algorithm,
    root_key_file: &Path,
    name: &str,
    token: Option<&certdesk_ca::TokenConfig>,
) -> Result<()> {
    let root_key_pem =
        Zeroizing::new(std::fs::read_to_string(root_key_file).with_context(|| {
            format!(
                "cannot read the root key file {} (a new issuing CA needs the root's offline key)",
                root_key_file.display()
            )
        })?);
    let root_passphrase = root_key_passphrase()?;
    let detail = format!("new {} issuing CA", algorithm.label());
    let record = certdesk_ca::new_issuing_ca(
        store,
        algorithm,
        certdesk_ca::OfflineRootKey {
            pem: &root_key_pem,
            passphrase: &root_passphrase,
        },
        passphrase,
        name,
        token,
        &certdesk_store::AuditNote {
            at: jiff::Timestamp::now().as_second(),
            actor_account_id: None,
            actor_label: "cli",
            org_id: None,
            detail: &detail,
        },
    )
    .await?;
    println!(
        "new {} issuing CA in service (id {}); the one it replaced signs the CRLs of what it issued. Restart certdesk serve / ca serve to use it.",
        algorithm.label(),
        record.id
    );
    Ok(())
}

/// `certdesk ca init`: the hierarchies, the certificate policy and the key-management key.
async fn init(
    store: &Store,
    passphrase: &Zeroizing<String>,
    data_dir: &Path,
    name: &str,
    policy_oid: Option<ObjectIdentifier>,
    root_key_dir: &Path,
    token: Option<&certdesk_ca::TokenConfig>,
) -> Result<()> {
    let root_passphrase = root_key_passphrase()?;
    let created = certdesk_ca::ensure_hierarchies_with(
        store,
        passphrase,
        name,
        certdesk_ca::RootCustody::Offline {
            passphrase: &root_passphrase,
            keeper: &RootKeyDir(root_key_dir),
        },
        token,
    )
    .await?;
    if let Some(token) = token {
        if created
            .iter()
            .any(|h| h.algorithm == Algorithm::EcdsaP256Sha256)
        {
            println!(
                "P-256 issuing key made on the PKCS#11 token {:?} (not extractable)",
                token.token_label
            );
        }
    }
    for hierarchy in &created {
        let path = root_key_path(root_key_dir, hierarchy.algorithm);
        if hierarchy.resumed {
            println!(
                "root key {} kept by an earlier init that stopped short: its hierarchy is made now",
                path.display()
            );
        }
        println!(
            "root key written to {} (take it offline; the database keeps only the root certificate)",
            path.display()
        );
    }
    let created: Vec<_> = created.into_iter().map(|h| h.algorithm).collect();
    let policy = certificate_policy(store, policy_oid).await?;
    println!("certificate policy: {policy}");
    warn_if_placeholder_policy(policy);
    secrets::key_management_key(data_dir, Missing::Create)?;
    if created.is_empty() {
        println!("CA already initialised: nothing to do");
    }
    for algorithm in created {
        crate::audit_entry(
            store,
            AuditAction::CaInitialised,
            &format!("ca:{}", algorithm.slug()),
            "",
        )
        .await?;
        println!("created the {} root and issuing CA", algorithm.label());
    }
    Ok(())
}

/// The passphrase for root keys going offline: from the environment only, never a flag.
fn root_key_passphrase() -> Result<Zeroizing<String>> {
    let passphrase = Zeroizing::new(std::env::var(ROOT_KEY_PASSPHRASE_ENV).unwrap_or_default());
    if passphrase.chars().count() < 16 {
        bail!("set {ROOT_KEY_PASSPHRASE_ENV} (at least 16 characters): the root keys written offline are encrypted under it");
    }
    Ok(passphrase)
}

/// The operator's directory of offline root keys, written before their hierarchies are stored.
struct RootKeyDir<'a>(&'a Path);

impl certdesk_ca::RootKeyKeeper for RootKeyDir<'_> {
    fn kept(&self, algorithm: Algorithm) -> std::result::Result<Option<Zeroizing<String>>, String> {
        let path = root_key_path(self.0, algorithm);
        match std::fs::read_to_string(&path) {
            Ok(pem) => Ok(Some(Zeroizing::new(pem))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(format!("cannot read {}: {err}", path.display())),
        }
    }

    fn keep(&self, algorithm: Algorithm, pem: &str) -> std::result::Result<(), String> {
        write_root_key(self.0, algorithm, pem)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

/// Where a root key is written: `DIR/root-<algorithm>.key.pem`.
fn root_key_path(dir: &Path, algorithm: Algorithm) -> PathBuf {
    dir.join(format!("root-{}.key.pem", algorithm.slug()))
}

/// Writes a root key (encrypted PKCS#8 PEM) as `DIR/root-<algorithm>.key.pem`, readable by its
/// owner only; an existing file is never overwritten.
fn write_root_key(dir: &Path, algorithm: Algorithm, pem: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the root key directory {}", dir.display()))?;
    let path = root_key_path(dir, algorithm);
    crate::secrets::write_private(&path, pem.as_bytes())?;
    // The new name is durable too, before the hierarchy it belongs to is stored.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(path)
}

/// `certdesk ca export-root-key`: the online root keys written to `dir`, then deleted from the
/// database, one algorithm at a time (a key is deleted only once its file is written).
async fn export_root_keys(store: &Store, passphrase: &Zeroizing<String>, dir: &Path) -> Result<()> {
    let root_passphrase = root_key_passphrase()?;
    let mut exported = 0;
    for key in store.ca_keys().await? {
        if key.role != "root" || key.private_key_pem == certdesk_ca::OFFLINE_ROOT_KEY {
            continue;
        }
        let algorithm = algorithm_from_slug(&key.algorithm)
            .with_context(|| format!("unknown CA algorithm {}", key.algorithm))?;
        let path = root_key_path(dir, algorithm);
        if path.exists() {
            // An export cut short after writing the file: finish it if the file holds this key.
            let written = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if !certdesk_ca::same_root_key(
                &written,
                &root_passphrase,
                &key.private_key_pem,
                passphrase,
            )
            .with_context(|| format!("cannot read the root key in {}", path.display()))?
            {
                bail!(
                    "{} holds another key: move it away and export again",
                    path.display()
                );
            }
        } else {
            let pem = certdesk_ca::root_key_for_offline(
                &key.private_key_pem,
                passphrase,
                &root_passphrase,
            )
            .context("cannot read the root key with the CA key passphrase")?;
            write_root_key(dir, algorithm, &pem)?;
        }
        store.take_root_key_offline(key.id).await?;
        crate::audit_entry(
            store,
            AuditAction::CaRootKeyExported,
            &format!("ca:{}", algorithm.slug()),
            "root key taken offline",
        )
        .await?;
        println!(
            "{} root key written to {} and deleted from the database",
            algorithm.label(),
            path.display()
        );
        exported += 1;
    }
    if exported == 0 {
        println!("no root key is online: nothing to do");
    }
    Ok(())
}

/// The CA a command works with, and the installation's store beside it (the CA itself reads and
/// writes only its own records; the command also lists and audits).
struct Authority<'a> {
    ca: Arc<CertificateAuthority>,
    store: &'a Store,
}

impl std::ops::Deref for Authority<'_> {
    type Target = CertificateAuthority;
    fn deref(&self) -> &CertificateAuthority {
        &self.ca
    }
}

impl Authority<'_> {
    fn store(&self) -> &Store {
        self.store
    }
}

/// The initialised CA every command but `init` works with, writing the recorded policy (and,
/// for `issue`, the given public URL); it holds the key-management key only for the commands
/// that seal or unseal archived keys.
async fn open_authority<'a>(
    store: &'a Store,
    data_dir: &Path,
    passphrase: &Zeroizing<String>,
    token: Option<&certdesk_ca::TokenConfig>,
    command: &CaCommand,
) -> Result<Authority<'a>> {
    let public_url = match command {
        CaCommand::Issue(IssueArgs {
            public_url: Some(url),
            ..
        })
        | CaCommand::Serve {
            public_url: Some(url),
            ..
        } => url.trim_end_matches('/').to_string(),
        _ => recorded_public_url(store).await?,
    };
    let policy = certificate_policy(store, None).await?;
    let mut ca = CertificateAuthority::open_with_token(
        Arc::new(store.clone()),
        &public_url,
        passphrase,
        token,
    )
    .await?
    .with_policy(policy);
    if ca.cas().is_empty() {
        bail!("the CA has not been initialised: run `certdesk ca init` first");
    }
    if matches!(
        command,
        CaCommand::Issue(IssueArgs {
            profile: ProfileArg::Dual,
            ..
        }) | CaCommand::RecoverKey { .. }
            | CaCommand::Serve { .. }
    ) {
        ca = ca.with_key_management(secrets::key_management_key(data_dir, Missing::Refuse)?);
    }
    Ok(Authority {
        ca: Arc::new(ca),
        store,
    })
}

/// The certificate policy to write into certificates: `given` (recorded for later starts and
/// for `certdesk ca`), else the one recorded, else the documentation placeholder.
pub async fn certificate_policy(
    store: &Store,
    given: Option<ObjectIdentifier>,
) -> Result<ObjectIdentifier> {
    Ok(match given {
        Some(oid) => {
            store
                .set_setting(POLICY_OID_SETTING, &oid.to_string())
                .await?;
            oid
        }
        None => match store.setting(POLICY_OID_SETTING).await? {
            Some(text) => parse_policy_oid(&text).with_context(|| {
                format!("the certificate policy recorded in the database ({text}) is unusable")
            })?,
            None => PLACEHOLDER_POLICY_OID,
        },
    })
}

/// Certificates for real use must name this CA's own policy: say so while they do not.
pub fn warn_if_placeholder_policy(policy: ObjectIdentifier) {
    if policy == PLACEHOLDER_POLICY_OID {
        eprintln!(
            "注意: 未设置证书策略, 证书中写入的是仅供文档使用的占位 OID {policy} (RFC 5612)。\
             正式签发前请用 --policy-oid 设置本CA的证书策略 OID。 (No certificate policy set: \
             certificates carry a documentation-only placeholder; set --policy-oid.)"
        );
    }
}

/// Says, at every start, which root CA keys are still in the database, until
/// `certdesk ca export-root-key` has taken them offline.
pub async fn warn_if_root_keys_online(store: &Store) -> Result<()> {
    let online: Vec<String> = store
        .ca_keys()
        .await?
        .into_iter()
        .filter(|k| k.role == "root" && k.private_key_pem != certdesk_ca::OFFLINE_ROOT_KEY)
        .map(|k| k.algorithm)
        .collect();
    if !online.is_empty() {
        eprintln!(
            "注意: 根CA私钥（{}）仍保存在数据库中。请运行 certdesk ca export-root-key --root-key-dir 目录 将其导出离线保存。 \
             (Root CA keys are online: take them offline with certdesk ca export-root-key.)",
            online.join("、")
        );
    }
    Ok(())
}

fn policy_oid_arg(text: &str) -> Result<ObjectIdentifier, String> {
    parse_policy_oid(text).map_err(|e| e.to_string())
}

async fn recorded_public_url(store: &Store) -> Result<String> {
    Ok(store
        .setting(PUBLIC_URL_SETTING)
        .await?
        .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_string()))
}

/// `certdesk ca serve`: the CA service on its socket until SIGINT/SIGTERM, then the audit
/// chain sealed.
async fn serve_ca(ca: &Authority<'_>, listen: &str) -> Result<()> {
    let socket = crate::config::unix_socket_address(listen)?;
    warn_if_root_keys_online(ca.store()).await?;
    warn_if_placeholder_policy(ca.policy());
    let shared = ca.ca.clone();
    let jobs = crate::serve::CaJobs::start(&shared);
    println!(
        "CA 服务已启动 (CA service listening): unix:{}",
        socket.display()
    );
    let served =
        certdesk_ca::remote::serve_unix(shared.clone(), &socket, crate::serve::shutdown_signal())
            .await;
    jobs.stop(&shared).await;
    served.map_err(Into::into)
}

async fn run_command(ca: &Authority<'_>, command: CaCommand) -> Result<()> {
    match command {
        // Handled before the CA is opened: there is none yet.
        CaCommand::Init { .. } | CaCommand::ExportRootKey { .. } | CaCommand::NewIssuing { .. } => {
            Ok(())
        }
        CaCommand::Serve { listen, .. } => serve_ca(ca, &listen).await,
        CaCommand::Issue(args) => issue(ca, args).await,
        CaCommand::Revoke { serial, reason } => revoke(ca, &serial, &reason).await,
        CaCommand::RecoverKey {
            serial,
            officer,
            reason,
            out,
        } => recover_key(ca, &serial, &officer, &reason, &out).await,
        CaCommand::Crl { alg, out } => write_crl(ca, alg, &out).await,
        CaCommand::Cert { alg, out, root } => write_ca_certificate(ca, alg, &out, root),
        CaCommand::List { limit } => list(ca, limit).await,
    }
}

/// `certdesk ca issue`: a single certificate, or an SM2 dual pair with its sealed key.
async fn issue(ca: &Authority<'_>, args: IssueArgs) -> Result<()> {
    let csr_bytes =
        std::fs::read(&args.csr).with_context(|| format!("cannot read {}", args.csr.display()))?;
    // Every output must be writable before anything is issued: no certificate is made that
    // cannot be handed over.
    let certificate_file = OutputFile::prepare(&args.out)?;
    let chain_file = args
        .chain_out
        .as_deref()
        .map(OutputFile::prepare)
        .transpose()?;
    let request = IssueRequest {
        csr: &csr_bytes,
        profile: match args.profile {
            ProfileArg::Enc => LeafProfile::Enc,
            ProfileArg::Sign | ProfileArg::Dual => LeafProfile::Sign,
        },
        org_name: &args.org,
        credit_code: &args.credit_code,
        validity_days: args.days,
    };
    let algorithm = match args.profile {
        ProfileArg::Dual => issue_dual(ca, &request, certificate_file, &args).await?,
        ProfileArg::Sign | ProfileArg::Enc => {
            issue_single(ca, &request, certificate_file, &args.out).await?
        }
    };
    if let Some(chain) = chain_file {
        chain.commit(ca.ca(algorithm)?.chain_pem()?.as_bytes())?;
    }
    warn_if_placeholder_policy(ca.policy());
    Ok(())
}

/// Issues one certificate into `certificate_file`; answers the algorithm of its issuing CA.
async fn issue_single(
    ca: &Authority<'_>,
    request: &IssueRequest<'_>,
    certificate_file: OutputFile,
    out: &Path,
) -> Result<Algorithm> {
    let issued = ca.issue(request).await.map_err(refusal)?;
    audit_issued(ca, &issued).await?;
    certificate_file.commit(issued.pem.as_bytes())?;
    println!(
        "issued {} ({} {})  -> {}",
        issued.record.serial_hex,
        issued.record.algorithm,
        issued.record.profile,
        out.display()
    );
    Ok(algorithm_from_slug(&issued.record.algorithm).unwrap_or(Algorithm::Sm2Sm3))
}

/// Issues an SM2 dual pair: the signing certificate into `signing_file`, the encryption
/// certificate and its sealed key (GM/T 0009, and GM/T 0016 next to it) where `args` say.
async fn issue_dual(
    ca: &Authority<'_>,
    request: &IssueRequest<'_>,
    signing_file: OutputFile,
    args: &IssueArgs,
) -> Result<Algorithm> {
    let enc_out = args
        .enc_out
        .as_deref()
        .context("--enc-out is required with --profile dual")?;
    let envelope_out = args
        .envelope_out
        .as_deref()
        .context("--envelope-out is required with --profile dual")?;
    let skf_out = envelope_out.with_extension("skf");
    let encryption_file = OutputFile::prepare(enc_out)?;
    let envelope_file = OutputFile::prepare(envelope_out)?;
    let skf_file = OutputFile::prepare(&skf_out)?;
    let dual = ca.issue_dual(request).await.map_err(refusal)?;
    for issued in [&dual.signing, &dual.encryption] {
        audit_issued(ca, issued).await?;
    }
    signing_file.commit(dual.signing.pem.as_bytes())?;
    encryption_file.commit(dual.encryption.pem.as_bytes())?;
    envelope_file.commit(&dual.envelope.gmt0009_der)?;
    skf_file.commit(&dual.envelope.skf_blob)?;
    println!(
        "signing certificate    {}  -> {}",
        dual.signing.record.serial_hex,
        args.out.display()
    );
    println!(
        "encryption certificate {}  -> {}",
        dual.encryption.record.serial_hex,
        enc_out.display()
    );
    println!(
        "sealed encryption key  -> {} (GM/T 0009), {} (GM/T 0016)",
        envelope_out.display(),
        skf_out.display()
    );
    Ok(Algorithm::Sm2Sm3)
}

/// `certdesk ca revoke`: revokes, publishes a new CRL (the CA does) and records it.
async fn revoke(ca: &Authority<'_>, serial: &str, reason: &str) -> Result<()> {
    let reason = crl_reason_from_name(reason).context("unknown reason")?;
    let record = ca.revoke(serial, reason).await.map_err(refusal)?;
    crate::audit_entry(
        ca.store(),
        AuditAction::CertificateRevoked,
        &format!("certificate:{}", record.serial_hex),
        &format!(
            "reason={}",
            record.revocation_reason.as_deref().unwrap_or("unspecified")
        ),
    )
    .await?;
    println!(
        "revoked {} ({}, reason {}); new CRL published",
        record.serial_hex,
        record.org_name,
        record.revocation_reason.as_deref().unwrap_or("unspecified")
    );
    Ok(())
}

/// `certdesk ca recover-key`: an archived key, encrypted under the recovery passphrase, for a
/// named officer with a stated reason.
async fn recover_key(
    ca: &Authority<'_>,
    serial: &str,
    officer: &str,
    reason: &str,
    out: &Path,
) -> Result<()> {
    let (officer, reason) = (officer.trim(), reason.trim());
    if officer.is_empty() || reason.is_empty() {
        anyhow::bail!(
            "密钥恢复须写明申请恢复的审核员（--officer）和原因（--reason），它们会记入审计日志"
        );
    }
    let passphrase = Zeroizing::new(std::env::var(RECOVERY_PASSPHRASE_ENV).unwrap_or_default());
    if passphrase.chars().count() < 12 {
        anyhow::bail!(
            "请在环境变量 {RECOVERY_PASSPHRASE_ENV} 中给出至少12个字符的口令，恢复出的私钥将用它加密保存"
        );
    }
    let file = OutputFile::prepare(out)?;
    let key = ca.recover_encryption_key(serial).await.map_err(refusal)?;
    let pem = key.to_encrypted_pkcs8_pem(&passphrase)?;
    let serial_hex = certdesk_ca::normalise_serial(serial).map_err(refusal)?;
    // Recorded before the key leaves: a recovery that is not in the log does not happen.
    crate::audit_entry(
        ca.store(),
        AuditAction::KeyRecovered,
        &format!("certificate:{serial_hex}"),
        &format!("officer={officer} reason={reason}"),
    )
    .await?;
    file.commit(pem.as_bytes())?;
    println!(
        "recovered the key of certificate {serial_hex} -> {} (encrypted PKCS#8; recorded in the audit log)",
        out.display()
    );
    Ok(())
}

/// `certdesk ca crl`: the current CRL of one issuing CA (DER).
async fn write_crl(ca: &Authority<'_>, alg: AlgArg, out: &Path) -> Result<()> {
    let file = OutputFile::prepare(out)?;
    let crl = ca.current_crl(alg.algorithm()).await?;
    file.commit(&crl.der)?;
    println!(
        "CRL number {} ({}) -> {}",
        crl.crl_number,
        alg.algorithm().label(),
        out.display()
    );
    Ok(())
}

/// `certdesk ca cert`: an issuing CA certificate, or its root (PEM).
fn write_ca_certificate(ca: &Authority<'_>, alg: AlgArg, out: &Path, root: bool) -> Result<()> {
    let file = OutputFile::prepare(out)?;
    let loaded = ca.ca(alg.algorithm())?;
    let cert = if root {
        &loaded.root_cert
    } else {
        &loaded.issuing_cert
    };
    file.commit(certificate_to_pem(cert)?.as_bytes())
}

/// `certdesk ca list`: the CAs, the policy and the newest `limit` certificates.
async fn list(ca: &Authority<'_>, limit: i64) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    for loaded in ca.cas() {
        writeln!(
            stdout,
            "{} issuing CA: {}",
            loaded.algorithm.label(),
            loaded.issuing_cert.tbs_certificate().subject()
        )?;
        writeln!(
            stdout,
            "{} root CA:    {}",
            loaded.algorithm.label(),
            loaded.root_cert.tbs_certificate().subject()
        )?;
    }
    writeln!(stdout, "certificate policy: {}", ca.policy())?;
    let total = ca.store().count_certificates().await?;
    writeln!(
        stdout,
        "\n{total} certificates issued; the newest {}:",
        limit.min(total)
    )?;
    writeln!(
        stdout,
        "{:<34} {:<5} {:<5} {:<10} {:<12} organisation",
        "serial", "alg", "type", "status", "expires"
    )?;
    for record in ca.store().recent_certificates(limit).await? {
        let status = if record.revoked_at.is_some() {
            "revoked"
        } else {
            "valid"
        };
        let expires = jiff::Timestamp::from_second(record.not_after)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_else(|_| "?".into());
        writeln!(
            stdout,
            "{:<34} {:<5} {:<5} {:<10} {:<12} {}",
            record.serial_hex, record.algorithm, record.profile, status, expires, record.org_name
        )?;
    }
    Ok(())
}

async fn audit_issued(ca: &Authority<'_>, issued: &certdesk_ca::Issued) -> Result<()> {
    let record = &issued.record;
    crate::audit_entry(
        ca.store(),
        AuditAction::CertificateIssued,
        &format!("certificate:{}", record.serial_hex),
        &format!(
            "algorithm={} profile={} credit_code={}",
            record.algorithm,
            record.profile,
            certdesk_domain::mask_credit_code(&record.credit_code)
        ),
    )
    .await
}

/// The CA's refusals say what is wrong with the request; keep them as the whole message.
fn refusal(err: certdesk_ca::CaError) -> anyhow::Error {
    if err.is_input_error() {
        anyhow::anyhow!("request refused: {err}")
    } else {
        anyhow::Error::new(err)
    }
}

/// A file written whole or not at all: a temporary file next to the target, renamed over it
/// on commit, removed if dropped uncommitted.
struct OutputFile {
    target: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl OutputFile {
    fn prepare(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".certdesk-out-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(OutputFile {
            target: target.to_path_buf(),
            temp,
        })
    }

    fn commit(mut self, bytes: &[u8]) -> Result<()> {
        self.temp
            .write_all(bytes)
            .and_then(|_| self.temp.as_file().sync_all())
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        self.temp
            .persist(&self.target)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.target.display(), e.error))?;
        Ok(())
    }
}
