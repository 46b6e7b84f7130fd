//! Configuration of `certdesk serve`: flags, then `CERTDESK_*` environment variables, then the
//! TOML file given with `--config`, then the defaults. Every mistake is refused at start with one
//! line that says what is wrong.

use anyhow::{bail, Context, Result};
use certdesk_pki::der::asn1::ObjectIdentifier;
use certdesk_pki::parse_policy_oid;
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./certdesk-data";
pub const DEFAULT_SESSION_HOURS: i64 = 8;
/// How old an unfinished issuance is before `serve` recovers it, in seconds.
pub const DEFAULT_ISSUANCE_RECOVERY_SECS: i64 = 300;
/// A renewed key's old certificates stay valid this long after the new ones are installed.
pub const DEFAULT_RENEWAL_GRACE_SECS: i64 = 86_400;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file. Keys: listen, data_dir, database_url, public_url, policy_oid,
    /// trusted_proxies, session_hours, issuance_recovery_secs, renewal_grace_secs, payee_name, payee_bank,
    /// payee_account, payment_gateway, identity_provider, demo, log, ca, platform_name, agent_url,
    /// smtp_url, mail_from. Unknown keys are an error.
    #[arg(long, env = "CERTDESK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "CERTDESK_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Directory for the embedded SQLite database and stored files; created when missing
    /// [default: ./certdesk-data]
    #[arg(long, env = "CERTDESK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use this database instead of the embedded SQLite one: postgres://USER:PASSWORD@HOST/DB
    /// (or sqlite://PATH)
    #[arg(long, env = "CERTDESK_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// The URL users and certificate checkers reach this server at, written into certificates
    /// (CRL and OCSP addresses) [default: http:// + the listen address]
    #[arg(long, env = "CERTDESK_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// The OID of this CA's certificate policy (the one its CPS registers), written into every
    /// certificate from now on [default: 1.3.6.1.4.1.32473.1, a documentation-only placeholder]
    #[arg(long, env = "CERTDESK_POLICY_OID", value_name = "OID")]
    pub policy_oid: Option<String>,
    /// Reverse proxies in front of this server whose X-Forwarded-For names the client, as
    /// addresses or networks separated by commas, e.g. `127.0.0.1,10.0.0.0/8` [default: none:
    /// the connection's address is the client's]
    #[arg(long, env = "CERTDESK_TRUSTED_PROXIES", value_name = "ADDRS")]
    pub trusted_proxies: Option<String>,
    /// How long a login session lasts, in hours (1–720) [default: 8]
    #[arg(long, env = "CERTDESK_SESSION_HOURS", value_name = "HOURS")]
    pub session_hours: Option<i64>,
    /// How old an unfinished issuance (a crash, a request that died) must be before it is
    /// recovered: certificates signed under it and linked to no order are revoked, the order
    /// may be issued again. In seconds, 10–86400 [default: 300]
    #[arg(long, env = "CERTDESK_ISSUANCE_RECOVERY_SECS", value_name = "SECS")]
    pub issuance_recovery_secs: Option<i64>,
    /// How long a renewed key's old certificates stay valid after the new ones are written to
    /// the key, before they are revoked (superseded). In seconds, 0–2592000 [default: 86400]
    #[arg(long, env = "CERTDESK_RENEWAL_GRACE_SECS", value_name = "SECS")]
    pub renewal_grace_secs: Option<i64>,
    /// 收款单位 shown at the cashier and on offline-transfer instructions [default: a sample
    /// payee marked 演示账户]; set together with --payee-bank and --payee-account
    #[arg(long, env = "CERTDESK_PAYEE_NAME", value_name = "NAME")]
    pub payee_name: Option<String>,
    /// 开户银行 of the payee's account
    #[arg(long, env = "CERTDESK_PAYEE_BANK", value_name = "BANK")]
    pub payee_bank: Option<String>,
    /// 银行账号 of the payee (8–32 digits; spaces allowed)
    #[arg(long, env = "CERTDESK_PAYEE_ACCOUNT", value_name = "ACCOUNT")]
    pub payee_account: Option<String>,
    /// The payment gateway: `sandbox` (the built-in demo gateway: payments are simulated) or
    /// `none` (offline bank transfers only) [default: sandbox]
    #[arg(long, env = "CERTDESK_PAYMENT_GATEWAY", value_name = "GATEWAY")]
    pub payment_gateway: Option<String>,
    /// The identity provider: `sandbox` (the built-in demo provider: checks are simulated) or
    /// `none` (no online identity checks) [default: sandbox]
    #[arg(long, env = "CERTDESK_IDENTITY_PROVIDER", value_name = "PROVIDER")]
    pub identity_provider: Option<String>,
    /// Run as a demonstration although the public URL is not on this machine: needed to use a
    /// sandbox there; every page then says 演示环境
    #[arg(long, env = "CERTDESK_DEMO")]
    pub demo: bool,
    /// Log filter, e.g. `info` or `certdesk_server=debug` [default: info]
    #[arg(long, env = "CERTDESK_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The platform's name in page titles, headers and SMS signatures [default: CA证书服务台]
    #[arg(long, env = "CERTDESK_PLATFORM_NAME", value_name = "NAME")]
    pub platform_name: Option<String>,
    /// Where the key holder's agent (`certdesk agent`) listens on their PC, as the pages reach
    /// it [default: http://127.0.0.1:24680]
    #[arg(long, env = "CERTDESK_AGENT_URL", value_name = "URL")]
    pub agent_url: Option<String>,
    /// The SMTP server the outbox's e-mail goes through: smtp://user:password@host:587?tls=required
    /// (STARTTLS) or smtps://user:password@host:465 (TLS). Without it e-mail waits in the outbox.
    #[arg(
        long,
        env = "CERTDESK_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,
    /// The sender of that e-mail, e.g. "CA证书服务台 <noreply@example.com>"
    #[arg(long, env = "CERTDESK_MAIL_FROM", value_name = "MAILBOX")]
    pub mail_from: Option<String>,
    /// The CA service to sign with, `unix:PATH` (a `certdesk ca serve` on the same database):
    /// this process then holds no CA key, passphrase or key-management key. Without it the CA
    /// runs inside this process (the embedded default).
    #[arg(long, env = "CERTDESK_CA", value_name = "unix:PATH")]
    pub ca: Option<String>,
    #[command(flatten)]
    pub token: crate::ca::TokenArgs,
    /// Password for the system admin `admin` made on first start; without it a one-time
    /// password is generated and printed once.
    #[arg(
        long = "admin-password-env-only",
        env = "CERTDESK_ADMIN_PASSWORD",
        hide = true,
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
}

/// The keys a configuration file may hold.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    policy_oid: Option<String>,
    trusted_proxies: Option<String>,
    session_hours: Option<i64>,
    issuance_recovery_secs: Option<i64>,
    renewal_grace_secs: Option<i64>,
    payee_name: Option<String>,
    payee_bank: Option<String>,
    payee_account: Option<String>,
    payment_gateway: Option<String>,
    identity_provider: Option<String>,
    demo: Option<bool>,
    log: Option<String>,
    ca: Option<String>,
    platform_name: Option<String>,
    agent_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
}

/// Everything `serve` needs, checked.
#[derive(Debug)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite database in the data directory.
    pub database_url: Option<String>,
    pub public_url: String,
    /// `None`: keep the policy recorded by an earlier start (the placeholder if none was).
    pub policy_oid: Option<ObjectIdentifier>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub session_hours: i64,
    /// See [`ServeArgs::issuance_recovery_secs`].
    pub issuance_recovery_secs: i64,
    /// See [`ServeArgs::renewal_grace_secs`].
    pub renewal_grace_secs: i64,
    /// Who is paid (name, bank, account); `None`: the sample payee marked 演示账户.
    pub payee: Option<(String, String, String)>,
    /// The sandbox payment gateway is in use.
    pub sandbox_payments: bool,
    /// The sandbox identity provider is in use.
    pub sandbox_identity: bool,
    /// The PKCS#11 token holding the P-256 issuing key, if named.
    pub token: crate::ca::TokenArgs,
    pub log: String,
    pub admin_password: Option<String>,
    /// The Unix socket of the CA service, when the CA runs as its own process.
    pub ca_socket: Option<PathBuf>,
    pub platform_name: String,
    pub agent_url: String,
    /// Where the outbox's e-mail goes, when configured.
    pub mail: Option<certdesk_server::outbox::MailSettings>,
}

impl ServeSettings {
    pub fn resolve(args: ServeArgs) -> Result<ServeSettings> {
        let file = match &args.config {
            Some(path) => read_config_file(path)?,
            None => FileConfig::default(),
        };
        let listen_text = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            anyhow::anyhow!(
                "invalid listen address '{listen_text}': expected ADDR:PORT such as 127.0.0.1:8080"
            )
        })?;
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("invalid public URL '{public_url}': it must start with http:// or https://");
        }
        let public_url = public_url.trim_end_matches('/').to_string();
        let policy_oid = args
            .policy_oid
            .or(file.policy_oid)
            .map(|text| parse_policy_oid(&text))
            .transpose()
            .map_err(|e| anyhow::anyhow!("invalid policy_oid: {e}"))?;
        let trusted_proxies = parse_trusted_proxies(
            args.trusted_proxies
                .or(file.trusted_proxies)
                .as_deref()
                .unwrap_or(""),
        )?;
        let session_hours = args
            .session_hours
            .or(file.session_hours)
            .unwrap_or(DEFAULT_SESSION_HOURS);
        if !(1..=720).contains(&session_hours) {
            bail!("invalid session_hours {session_hours}: it must be between 1 and 720");
        }
        let issuance_recovery_secs = args
            .issuance_recovery_secs
            .or(file.issuance_recovery_secs)
            .unwrap_or(DEFAULT_ISSUANCE_RECOVERY_SECS);
        if !(10..=86_400).contains(&issuance_recovery_secs) {
            bail!(
                "invalid issuance_recovery_secs {issuance_recovery_secs}: it must be between 10 and 86400"
            );
        }
        let renewal_grace_secs = args
            .renewal_grace_secs
            .or(file.renewal_grace_secs)
            .unwrap_or(DEFAULT_RENEWAL_GRACE_SECS);
        if !(0..=2_592_000).contains(&renewal_grace_secs) {
            bail!(
                "invalid renewal_grace_secs {renewal_grace_secs}: it must be between 0 and 2592000 (30 days)"
            );
        }
        let payee = match (
            args.payee_name.or(file.payee_name),
            args.payee_bank.or(file.payee_bank),
            args.payee_account.or(file.payee_account),
        ) {
            (None, None, None) => None,
            (Some(name), Some(bank), Some(account)) => {
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 60 {
                    bail!("invalid payee_name: the payee's name must be 1 to 60 characters");
                }
                let bank = certdesk_domain::identity::validate_bank_name(&bank)
                    .map_err(|e| anyhow::anyhow!("invalid payee_bank: {e}"))?;
                let account = certdesk_domain::identity::validate_corporate_account(&account)
                    .map_err(|e| anyhow::anyhow!("invalid payee_account: {e}"))?;
                Some((name, bank, account))
            }
            _ => {
                bail!("payee_name, payee_bank and payee_account go together: set all three or none")
            }
        };
        let sandbox_payments = sandbox_choice(
            "payment_gateway",
            args.payment_gateway.or(file.payment_gateway),
        )?;
        let sandbox_identity = sandbox_choice(
            "identity_provider",
            args.identity_provider.or(file.identity_provider),
        )?;
        let demo = args.demo || file.demo.unwrap_or(false);
        if (sandbox_payments || sandbox_identity) && !is_loopback_url(&public_url) && !demo {
            bail!(
                "a sandbox (payment_gateway or identity_provider = sandbox, the default) would simulate payments and identity checks at {public_url}: set both to none, or pass --demo to run a demonstration there"
            );
        }
        if let Some(password) = &args.admin_password {
            if let Err(why) = certdesk_domain::validate_new_password(password) {
                bail!("CERTDESK_ADMIN_PASSWORD is not acceptable: {why}");
            }
        }
        let ca_socket = args
            .ca
            .or(file.ca)
            .map(|text| unix_socket_address(&text))
            .transpose()
            .context("invalid ca")?;
        if ca_socket.is_some() && args.token.pkcs11_module.is_some() {
            bail!(
                "--pkcs11-module goes to `certdesk ca serve`: with --ca this process signs nothing"
            );
        }
        if ca_socket.is_some() && policy_oid.is_some() {
            bail!("policy_oid goes to `certdesk ca init` (or a serve without --ca): with --ca the CA service writes its recorded policy");
        }
        let platform_name = args
            .platform_name
            .or(file.platform_name)
            .map(|name| name.trim().to_string())
            .unwrap_or_else(|| certdesk_server::DEFAULT_PLATFORM_NAME.to_string());
        if platform_name.is_empty()
            || platform_name.chars().count() > 30
            || platform_name.chars().any(char::is_control)
        {
            bail!("invalid platform_name: 1 to 30 characters, shown in page titles and SMS signatures");
        }
        let agent_url = args
            .agent_url
            .or(file.agent_url)
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", certdesk_token::agent::DEFAULT_PORT));
        let agent_url = agent_url.trim().trim_end_matches('/').to_string();
        let agent_host = agent_url
            .strip_prefix("http://")
            .and_then(|rest| rest.rsplit_once(':'))
            .map(|(host, port)| (host, port.parse::<u16>().is_ok()));
        if !matches!(agent_host, Some(("127.0.0.1" | "localhost", true))) {
            bail!("invalid agent_url {agent_url:?}: the agent listens on http://127.0.0.1:<port> of the key holder's PC");
        }
        let mail = match (
            args.smtp_url.or(file.smtp_url),
            args.mail_from.or(file.mail_from),
        ) {
            // Checked when `serve` makes its mailer, before it answers anything.
            (Some(smtp_url), Some(from)) => {
                Some(certdesk_server::outbox::MailSettings { smtp_url, from })
            }
            (None, None) => None,
            _ => bail!("smtp_url and mail_from go together: set both for e-mail, or neither"),
        };
        Ok(ServeSettings {
            listen,
            ca_socket,
            platform_name,
            agent_url,
            mail,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: args.database_url.or(file.database_url),
            public_url,
            policy_oid,
            trusted_proxies,
            session_hours,
            issuance_recovery_secs,
            renewal_grace_secs,
            payee,
            sandbox_payments,
            sandbox_identity,
            token: args.token,
            log: args.log.or(file.log).unwrap_or_else(|| "info".to_string()),
            admin_password: args.admin_password,
        })
    }
}

/// The socket path of a `unix:PATH` address (the CA service's).
pub fn unix_socket_address(text: &str) -> Result<PathBuf> {
    match text.trim().strip_prefix("unix:") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => bail!("'{text}' is not a Unix socket address: write unix:PATH, e.g. unix:/run/certdesk/ca.sock"),
    }
}

/// Whether `choice` (of `key`) is the sandbox: `sandbox` (the default) or `none`.
fn sandbox_choice(key: &str, choice: Option<String>) -> Result<bool> {
    match choice.as_deref().map(str::trim) {
        None | Some("sandbox") => Ok(true),
        Some("none") => Ok(false),
        Some(other) => bail!("invalid {key} '{other}': it must be sandbox or none"),
    }
}

/// Whether a public URL names this machine (127.0.0.0/8, ::1 or localhost): then only its own
/// users can reach a demonstration.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `127.0.0.1, 10.0.0.0/8, ::1`: addresses (one host each) and networks.
fn parse_trusted_proxies(text: &str) -> Result<Vec<ipnet::IpNet>> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "invalid trusted_proxies entry '{entry}': expected an IP address or a network such as 10.0.0.0/8"
                    )
                })
        })
        .collect()
}

fn read_config_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|err| {
        let line = err
            .span()
            .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
        let message = err.message().trim().to_string();
        match line {
            Some(line) => anyhow::anyhow!("config file {}, line {line}: {message}", path.display()),
            None => anyhow::anyhow!("config file {}: {message}", path.display()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults() {
        let s = ServeSettings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./certdesk-data"));
        assert_eq!(s.database_url, None);
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.session_hours, 8);
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = file_with("listen = \"127.0.0.1:9000\"\nsession_hours = 2\npublic_url = \"https://ca.example.cn/\"\ndemo = true\n");
        let s = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.session_hours, 2);
        assert_eq!(s.public_url, "https://ca.example.cn");
    }

    #[test]
    fn the_payee_is_all_three_fields_or_the_sample() {
        assert_eq!(
            ServeSettings::resolve(ServeArgs::default()).unwrap().payee,
            None
        );
        let file = file_with(
            "payee_name = \"福建省招标平台\"\npayee_bank = \"中国银行福州分行\"\npayee_account = \"4071 2345 6789 0123\"\n",
        );
        let s = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            s.payee,
            Some((
                "福建省招标平台".to_string(),
                "中国银行福州分行".to_string(),
                "4071234567890123".to_string()
            ))
        );
        let half = ServeSettings::resolve(ServeArgs {
            payee_name: Some("福建省招标平台".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(half.contains("set all three or none"), "{half}");
        let bad_account = ServeSettings::resolve(ServeArgs {
            payee_name: Some("福建省招标平台".into()),
            payee_bank: Some("中国银行".into()),
            payee_account: Some("12AB".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            bad_account.starts_with("invalid payee_account"),
            "{bad_account}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let file = file_with("listen = \"127.0.0.1:9000\"\nlisten_port = 9\n");
        let err = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("unknown field `listen_port`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn the_policy_oid_comes_from_the_flag_or_the_file_and_is_checked() {
        let file = file_with("policy_oid = \"1.2.156.112562.1.1\"\n");
        let from_file = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            from_file.policy_oid.map(|oid| oid.to_string()).as_deref(),
            Some("1.2.156.112562.1.1")
        );
        let flag_wins = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            policy_oid: Some(" 1.2.156.112562.2.1 ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            flag_wins.policy_oid.map(|oid| oid.to_string()).as_deref(),
            Some("1.2.156.112562.2.1")
        );
        assert!(ServeSettings::resolve(ServeArgs::default())
            .unwrap()
            .policy_oid
            .is_none());

        for (text, says) in [
            ("1.2.156.x", "not a dotted OID"),
            ("", "not a dotted OID"),
            ("2.5.29.32.0", "anyPolicy"),
        ] {
            let err = ServeSettings::resolve(ServeArgs {
                policy_oid: Some(text.into()),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("invalid policy_oid: "), "{err}");
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let file = file_with("trusted_proxies = \"127.0.0.1, 10.0.0.0/8, ::1\"\n");
        let settings = ServeSettings::resolve(ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap();
        let shown: Vec<String> = settings
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert!(ServeSettings::resolve(ServeArgs::default())
            .unwrap()
            .trusted_proxies
            .is_empty());
        let err = ServeSettings::resolve(ServeArgs {
            trusted_proxies: Some("127.0.0.1,10.0.0.0/33".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("'10.0.0.0/33'"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            ServeArgs {
                listen: Some("localhost".into()),
                ..Default::default()
            },
            ServeArgs {
                public_url: Some("ftp://x".into()),
                ..Default::default()
            },
            ServeArgs {
                session_hours: Some(0),
                ..Default::default()
            },
            ServeArgs {
                policy_oid: Some("1.2.156.x".into()),
                ..Default::default()
            },
            ServeArgs {
                trusted_proxies: Some("127.0.0.1, nginx".into()),
                ..Default::default()
            },
            ServeArgs {
                admin_password: Some("short".into()),
                ..Default::default()
            },
            ServeArgs {
                config: Some("/nonexistent/certdesk.toml".into()),
                ..Default::default()
            },
        ] {
            assert!(ServeSettings::resolve(args).is_err());
        }
    }
}

#[cfg(test)]
mod public_url_tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_urls_are_this_machine_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "https://[::1]:8443",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://ca.example.cn",
            "http://10.0.0.5:8080",
            "https://[2001:db8::1]",
            "http://localhost.example.cn",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
