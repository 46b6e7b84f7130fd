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
    /// Record a key pair this CA issued outside an order (at the counter with `certdesk ca
    /// issue`, or before certdesk handled the organisation's orders) as the organisation's, so
    /// that it is renewed, unlocked and revoked here: a completed 新办 order (操作员代办) of the
    /// product links the certificates to the organisation.
    ///
    /// Example: certdesk admin adopt-key --credit-code 91350100M000100Y43 --product "SM2 双证书
    /// UKey（标准价）" --cert sign.pem --encryption-cert enc.pem
    AdoptKey {
        /// The organisation's 统一社会信用代码 (it must have registered)
        #[arg(long)]
        credit_code: String,
        /// The product the key was sold as, by its name in the catalogue
        #[arg(long)]
        product: String,
        /// The signing certificate (PEM or DER), issued by this CA to the organisation
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The encryption certificate of an SM2 dual pair
        #[arg(long, value_name = "FILE")]
        encryption_cert: Option<PathBuf>,
    },
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
                AdminCommand::AdoptKey { credit_code, product, cert, encryption_cert } => {
                    adopt_key(&store, &credit_code, &product, &cert, encryption_cert.as_deref()).await
                }
            };
            store.close().await;
            result
        })
}

/// `certdesk admin adopt-key`: checks that the certificates are this CA's, the organisation's
/// and of the product's kind, then records them as the organisation's key pair.
async fn adopt_key(
    store: &certdesk_store::Store,
    credit_code: &str,
    product: &str,
    cert: &std::path::Path,
    encryption_cert: Option<&std::path::Path>,
) -> Result<()> {
    let credit_code = certdesk_domain::validate_credit_code(credit_code)
        .map_err(|e| anyhow::anyhow!("--credit-code: {e}"))?;
    let organisation = store
        .organisation_by_credit_code(&credit_code)
        .await?
        .with_context(|| format!("no organisation registered with credit code {credit_code}"))?;
    let admin = store
        .accounts_of(Some(organisation.id))
        .await?
        .into_iter()
        .find(|a| a.role == certdesk_domain::Role::OrgAdmin)
        .with_context(|| format!("{} has no admin account", organisation.name))?;
    let found = store
        .products(false)
        .await?
        .into_iter()
        .find(|p| p.spec.name == product)
        .with_context(|| format!("no product named '{product}' (see the 产品管理 page)"))?;
    let signing = adoptable(store, cert, "sign", &credit_code).await?;
    let encryption = match encryption_cert {
        Some(path) => Some(adoptable(store, path, "enc", &credit_code).await?),
        None => None,
    };
    if signing.algorithm != found.spec.algorithm.as_str() || encryption.is_some() != found.spec.dual
    {
        anyhow::bail!(
            "the certificates do not fit {product}: it is {} {}",
            found.spec.algorithm.label(),
            if found.spec.dual {
                "with an encryption certificate (--encryption-cert)"
            } else {
                "without an encryption certificate"
            }
        );
    }
    // The order's form names the organisation as it registered (no personal data: nothing to
    // seal); the legal representative is not known for a key issued at the counter.
    let mut form = certdesk_domain::ApplicationForm::default();
    form.organisation.name = organisation.name.clone();
    form.organisation.credit_code = organisation.credit_code.clone();
    form.delivery.method = "pickup".into();
    let form_json = serde_json::to_string(&form)?;
    let now = jiff::Timestamp::now();
    let order_no = certdesk_domain::order_number(now, rand::random::<u32>() % 1_000_000_000);
    let adopted = store
        .adopt_key_pair(
            &certdesk_store::AdoptedKey {
                order_no: &order_no,
                org_id: organisation.id,
                created_by: admin.id,
                provider_id: found.provider_id,
                product_id: found.id,
                signing_certificate_id: signing.id,
                encryption_certificate_id: encryption.as_ref().map(|e| e.id),
                serial_hex: &signing.serial_hex,
                form_json: &form_json,
                at: now.as_second(),
            },
            &certdesk_store::AuditNote {
                actor_label: "cli",
                org_id: Some(organisation.id),
                ..certdesk_store::AuditNote::system(
                    now.as_second(),
                    "adopted a key pair issued outside an order",
                )
            },
        )
        .await;
    match adopted {
        Ok(order) => {
            println!(
                "{} 的CA锁（证书 {}）已登记为业务单 {}",
                organisation.name,
                signing.serial_hex.to_uppercase(),
                order.order_no
            );
            Ok(())
        }
        Err(certdesk_store::StoreError::Conflict("certificate")) => {
            anyhow::bail!(
                "certificate {} already belongs to an order",
                signing.serial_hex
            )
        }
        Err(err) => Err(err.into()),
    }
}

/// The certificate in `path`, as this CA recorded it: the organisation's (`credit_code`), of
/// `profile`, not revoked.
async fn adoptable(
    store: &certdesk_store::Store,
    path: &std::path::Path,
    profile: &str,
    credit_code: &str,
) -> Result<certdesk_store::CertificateRecord> {
    use certdesk_pki::der::Encode as _;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let certificate = certdesk_pki::certificate_from_der_or_pem(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a certificate: {e}", path.display()))?;
    let serial = hex::encode(certificate.tbs_certificate().serial_number().as_bytes());
    let record = store
        .certificate_by_serial(&serial)
        .await?
        .with_context(|| {
            format!(
                "{}: this CA issued no certificate with serial {serial}",
                path.display()
            )
        })?;
    if certificate.to_der().ok().as_deref() != Some(record.der.as_slice()) {
        anyhow::bail!(
            "{}: differs from the certificate this CA issued with serial {serial}",
            path.display()
        );
    }
    if record.credit_code != credit_code {
        anyhow::bail!(
            "{}: issued to credit code {}, not {credit_code}",
            path.display(),
            record.credit_code
        );
    }
    if record.profile != profile {
        anyhow::bail!(
            "{}: a {} certificate, not a {profile} one",
            path.display(),
            record.profile
        );
    }
    if record.revoked_at.is_some() {
        anyhow::bail!("{}: revoked", path.display());
    }
    Ok(record)
}
