//! `certdesk ca`: the certificate authority for operators and scripts, on the same data
//! directory or database as `serve`.

use crate::database::{open_store, prepare_data_dir, DataArgs};
use crate::secrets::{self, Missing};
use anyhow::{bail, Context, Result};
use certdesk_ca::{
    algorithm_from_slug, crl_reason_from_name, ensure_hierarchies, parse_policy_oid,
    CertificateAuthority, IssueRequest, CRL_REASON_NAMES, PLACEHOLDER_POLICY_OID,
};
use certdesk_domain::AuditAction;
use certdesk_pki::der::asn1::ObjectIdentifier;
use certdesk_pki::{certificate_to_pem, Algorithm, LeafProfile};
use certdesk_store::Store;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const PUBLIC_URL_SETTING: &str = "public_url";
/// The certificate policy OID the operator set (`serve --policy-oid`), for `certdesk ca` too.
const POLICY_OID_SETTING: &str = "certificate_policy_oid";
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_CA_NAME: &str = "certdesk";

#[derive(Args)]
pub struct CaArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(subcommand)]
    command: CaCommand,
}

/// The passphrase a recovered key is encrypted under.
const RECOVERY_PASSPHRASE_ENV: &str = "CERTDESK_RECOVERY_PASSPHRASE";

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
    },
    /// Issue a certificate from a PKCS#10 request; the issuing CA follows the request's key type.
    Issue {
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
    },
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
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_async(args))
}

async fn run_async(args: CaArgs) -> Result<()> {
    let data_dir = args.data.data_dir.clone();
    let creating = matches!(args.command, CaCommand::Init { .. });
    if creating {
        prepare_data_dir(&data_dir)?;
    } else if args.data.database_url.is_none() && !data_dir.join("certdesk.db").exists() {
        bail!("no certdesk database in {}: run `certdesk ca init` or `certdesk serve` first, or pass --data-dir", data_dir.display());
    }
    let store = open_store(&data_dir, args.data.database_url.as_deref()).await?;
    let missing = if creating {
        Missing::Create
    } else {
        Missing::Refuse
    };
    let passphrase = secrets::ca_key_passphrase(&data_dir, missing)?;

    if let CaCommand::Init { name, policy_oid } = &args.command {
        let created = ensure_hierarchies(&store, &passphrase, name).await?;
        let policy = certificate_policy(&store, *policy_oid).await?;
        println!("certificate policy: {policy}");
        warn_if_placeholder_policy(policy);
        secrets::key_management_key(&data_dir, Missing::Create)?;
        if created.is_empty() {
            println!("CA already initialised: nothing to do");
        }
        for algorithm in created {
            crate::audit_entry(
                &store,
                AuditAction::CaInitialised,
                &format!("ca:{}", algorithm.slug()),
                "",
            )
            .await?;
            println!("created the {} root and issuing CA", algorithm.label());
        }
        store.close().await;
        return Ok(());
    }

    let public_url = match &args.command {
        CaCommand::Issue {
            public_url: Some(url),
            ..
        } => url.clone(),
        _ => recorded_public_url(&store).await?,
    };
    let policy = certificate_policy(&store, None).await?;
    let issuing = matches!(args.command, CaCommand::Issue { .. });
    let mut ca = CertificateAuthority::open(store.clone(), &public_url, &passphrase)
        .await?
        .with_policy(policy);
    if ca.cas().is_empty() {
        bail!("the CA has not been initialised: run `certdesk ca init` first");
    }
    if matches!(
        &args.command,
        CaCommand::Issue {
            profile: ProfileArg::Dual,
            ..
        } | CaCommand::RecoverKey { .. }
    ) {
        ca = ca.with_key_management(secrets::key_management_key(&data_dir, Missing::Refuse)?);
    }
    let result = run_command(&ca, args.command).await;
    store.close().await;
    if issuing && result.is_ok() {
        warn_if_placeholder_policy(policy);
    }
    result
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

fn policy_oid_arg(text: &str) -> Result<ObjectIdentifier, String> {
    parse_policy_oid(text).map_err(|e| e.to_string())
}

async fn recorded_public_url(store: &Store) -> Result<String> {
    Ok(store
        .setting(PUBLIC_URL_SETTING)
        .await?
        .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_string()))
}

async fn run_command(ca: &CertificateAuthority, command: CaCommand) -> Result<()> {
    match command {
        CaCommand::Init { .. } => Ok(()),
        CaCommand::Issue {
            csr,
            profile,
            org,
            credit_code,
            days,
            out,
            chain_out,
            enc_out,
            envelope_out,
            ..
        } => {
            let csr_bytes =
                std::fs::read(&csr).with_context(|| format!("cannot read {}", csr.display()))?;
            // Every output must be writable before anything is issued: no certificate is made
            // that cannot be handed over.
            let mut outputs = vec![OutputFile::prepare(&out)?];
            let chain = chain_out.as_deref().map(OutputFile::prepare).transpose()?;
            let request = IssueRequest {
                csr: &csr_bytes,
                profile: match profile {
                    ProfileArg::Enc => LeafProfile::Enc,
                    ProfileArg::Sign | ProfileArg::Dual => LeafProfile::Sign,
                },
                org_name: &org,
                credit_code: &credit_code,
                validity_days: days,
            };
            let algorithm = match profile {
                ProfileArg::Dual => {
                    let enc_out = enc_out.context("--enc-out is required with --profile dual")?;
                    let envelope_out =
                        envelope_out.context("--envelope-out is required with --profile dual")?;
                    let skf_out = envelope_out.with_extension("skf");
                    outputs.push(OutputFile::prepare(&enc_out)?);
                    outputs.push(OutputFile::prepare(&envelope_out)?);
                    outputs.push(OutputFile::prepare(&skf_out)?);
                    let dual = ca.issue_dual(&request).await.map_err(refusal)?;
                    for issued in [&dual.signing, &dual.encryption] {
                        audit_issued(ca, issued).await?;
                    }
                    let [signing, encryption, envelope, skf] = <[OutputFile; 4]>::try_from(outputs)
                        .map_err(|_| anyhow::anyhow!("internal: output files"))?;
                    signing.commit(dual.signing.pem.as_bytes())?;
                    encryption.commit(dual.encryption.pem.as_bytes())?;
                    envelope.commit(&dual.envelope.gmt0009_der)?;
                    skf.commit(&dual.envelope.skf_blob)?;
                    println!(
                        "signing certificate    {}  -> {}",
                        dual.signing.record.serial_hex,
                        out.display()
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
                    Algorithm::Sm2Sm3
                }
                _ => {
                    let issued = ca.issue(&request).await.map_err(refusal)?;
                    audit_issued(ca, &issued).await?;
                    let [certificate] = <[OutputFile; 1]>::try_from(outputs)
                        .map_err(|_| anyhow::anyhow!("internal: output files"))?;
                    certificate.commit(issued.pem.as_bytes())?;
                    println!(
                        "issued {} ({} {})  -> {}",
                        issued.record.serial_hex,
                        issued.record.algorithm,
                        issued.record.profile,
                        out.display()
                    );
                    algorithm_from_slug(&issued.record.algorithm).unwrap_or(Algorithm::Sm2Sm3)
                }
            };
            if let Some(chain) = chain {
                chain.commit(ca.ca(algorithm)?.chain_pem()?.as_bytes())?;
            }
            Ok(())
        }
        CaCommand::Revoke { serial, reason } => {
            let reason = crl_reason_from_name(&reason).context("unknown reason")?;
            let record = ca.revoke(&serial, reason).await.map_err(refusal)?;
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
        CaCommand::RecoverKey {
            serial,
            officer,
            reason,
            out,
        } => {
            let (officer, reason) = (officer.trim(), reason.trim());
            if officer.is_empty() || reason.is_empty() {
                anyhow::bail!("密钥恢复须写明申请恢复的审核员（--officer）和原因（--reason），它们会记入审计日志");
            }
            let passphrase =
                zeroize::Zeroizing::new(std::env::var(RECOVERY_PASSPHRASE_ENV).unwrap_or_default());
            if passphrase.chars().count() < 12 {
                anyhow::bail!(
                    "请在环境变量 {RECOVERY_PASSPHRASE_ENV} 中给出至少12个字符的口令，恢复出的私钥将用它加密保存"
                );
            }
            let file = OutputFile::prepare(&out)?;
            let key = ca.recover_encryption_key(&serial).await.map_err(refusal)?;
            let pem = key.to_encrypted_pkcs8_pem(&passphrase)?;
            let serial_hex = certdesk_ca::normalise_serial(&serial).map_err(refusal)?;
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
        CaCommand::Crl { alg, out } => {
            let file = OutputFile::prepare(&out)?;
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
        CaCommand::Cert { alg, out, root } => {
            let file = OutputFile::prepare(&out)?;
            let loaded = ca.ca(alg.algorithm())?;
            let cert = if root {
                &loaded.root_cert
            } else {
                &loaded.issuing_cert
            };
            file.commit(certificate_to_pem(cert)?.as_bytes())?;
            Ok(())
        }
        CaCommand::List { limit } => {
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
                    record.serial_hex,
                    record.algorithm,
                    record.profile,
                    status,
                    expires,
                    record.org_name
                )?;
            }
            Ok(())
        }
    }
}

async fn audit_issued(ca: &CertificateAuthority, issued: &certdesk_ca::Issued) -> Result<()> {
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
