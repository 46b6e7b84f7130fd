//! `certdesk token …`: the key holder's software UKey from the command line. PINs are never
//! taken from the command line (it shows in process lists and shell history): they come from
//! the environment (`CERTDESK_TOKEN_PIN`, `CERTDESK_TOKEN_NEW_PIN`, `CERTDESK_TOKEN_SO_PIN`) or
//! are asked for on the terminal.

use anyhow::{Context, Result};
use certdesk_pki::Algorithm;
use certdesk_token::{Slot, SoftwareUKey, Token, TokenKind};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TokenArgs {
    /// The software UKey's file (every command but list)
    #[arg(long, env = "CERTDESK_TOKEN", value_name = "FILE")]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Every key reachable: the software UKeys in a folder and the tokens of PKCS#11 modules,
    /// with their serials (CA锁ID), PIN tries left and certificates (no PIN needed).
    ///
    /// Example: certdesk token list --keys-dir ~/.certdesk/keys --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
    List {
        #[arg(long, value_name = "DIR", default_value = ".")]
        keys_dir: PathBuf,
        #[arg(long = "pkcs11-module", value_name = "SO")]
        pkcs11_modules: Vec<PathBuf>,
    },
    /// Make a blank software UKey (PIN and SO PIN asked for).
    ///
    /// Example: certdesk token --key ukey.json init --label 测试CA锁
    Init {
        #[arg(long, default_value = "CA锁")]
        label: String,
    },
    /// The key's serial (CA锁ID), PIN tries left, and its containers and certificates.
    Info,
    /// Check the PIN (the try is counted first, as on a real key).
    VerifyPin,
    /// Make a signing key pair in a new container and write its certificate request (PEM).
    GenCsr {
        #[arg(long, default_value = "default")]
        container: String,
        #[arg(long, value_enum, default_value = "sm2")]
        algorithm: AlgorithmArg,
        /// The request's subject (the CA sets the certificate's own)
        #[arg(long, default_value = "CN=ukey")]
        subject: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write certificates (PEM or DER) and the CA's encryption-key envelope into a container.
    Install {
        #[arg(long, default_value = "default")]
        container: String,
        #[arg(long, value_name = "FILE")]
        signing_cert: Option<PathBuf>,
        /// The GM/T 0016 ENVELOPEDKEYBLOB of the encryption key pair (SM2 dual certificates)
        #[arg(long, value_name = "FILE")]
        envelope: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        encryption_cert: Option<PathBuf>,
    },
    /// Change the PIN (old and new asked for).
    ChangePin,
    /// Set a new PIN with the SO PIN, unlocking a locked key.
    Unlock,
    /// Whether this key holds the private key of a certificate (guide 000's serial check).
    Verify {
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
    },
    /// Sign a file with a container's signing key; the signature (DER) goes to --out.
    Sign {
        #[arg(long, default_value = "default")]
        container: String,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Decrypt an SM2 ciphertext (GM/T 0009 DER) with a container's encryption key, to --out.
    Decrypt {
        #[arg(long, default_value = "default")]
        container: String,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// A key as `info` and `list` show it.
fn describe(token: &dyn Token) -> Result<()> {
    println!("CA锁ID\t{}", token.serial()?);
    if let Some(left) = token.pin_tries_left()? {
        println!("PIN剩余次数\t{left}");
    }
    for container in token.containers()? {
        println!(
            "容器 {}\t{}\t签名证书 {}\t加密证书 {}",
            container.name,
            container.algorithm.map(|a| a.label()).unwrap_or("-"),
            serial_of(container.signing_certificate.as_deref()),
            serial_of(container.encryption_certificate.as_deref()),
        );
    }
    Ok(())
}

fn list(keys_dir: &Path, pkcs11_modules: &[PathBuf]) -> Result<()> {
    let found = certdesk_token::discover(keys_dir, pkcs11_modules);
    if found.is_empty() {
        println!(
            "没有找到CA锁（{} 中没有CA锁文件，也没有PKCS#11令牌）",
            keys_dir.display()
        );
    }
    for (token, kind) in found {
        println!(
            "— {}",
            match kind {
                TokenKind::Software => "软件CA锁",
                TokenKind::Pkcs11 => "PKCS#11令牌",
            }
        );
        describe(token.as_ref())?;
    }
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgorithmArg {
    Sm2,
    P256,
}

pub fn run(args: TokenArgs) -> Result<()> {
    if let TokenCommand::List {
        keys_dir,
        pkcs11_modules,
    } = &args.command
    {
        return list(keys_dir, pkcs11_modules);
    }
    let Some(path) = args.key.as_deref() else {
        anyhow::bail!("请用 --key 指定CA锁文件（或设置 CERTDESK_TOKEN）");
    };
    match args.command {
        TokenCommand::List { .. } => unreachable!("answered above"),
        TokenCommand::Init { label } => {
            let pin = secret("CERTDESK_TOKEN_PIN", "新PIN码")?;
            let so_pin = secret("CERTDESK_TOKEN_SO_PIN", "管理员PIN码（SO PIN）")?;
            let ukey = SoftwareUKey::init(path, &label, &pin, &so_pin)?;
            println!("已创建空白CA锁 {}（{}）", ukey.serial()?, path.display());
        }
        TokenCommand::Info => {
            let ukey = SoftwareUKey::open(path)?;
            describe(&ukey)?;
        }
        TokenCommand::VerifyPin => {
            let ukey = SoftwareUKey::open(path)?;
            ukey.verify_pin(&secret("CERTDESK_TOKEN_PIN", "PIN码")?)?;
            println!("PIN码正确");
        }
        TokenCommand::GenCsr {
            container,
            algorithm,
            subject,
            out,
        } => {
            let ukey = SoftwareUKey::open(path)?;
            let pin = secret("CERTDESK_TOKEN_PIN", "PIN码")?;
            let algorithm = match algorithm {
                AlgorithmArg::Sm2 => Algorithm::Sm2Sm3,
                AlgorithmArg::P256 => Algorithm::EcdsaP256Sha256,
            };
            ukey.generate_key_pair(&pin, &container, algorithm)?;
            let csr = ukey.certificate_request(&pin, &container, &subject)?;
            write(&out, certdesk_pki::csr_to_pem(&csr)?.as_bytes())?;
            println!("证书请求已写入 {}", out.display());
        }
        TokenCommand::Install {
            container,
            signing_cert,
            envelope,
            encryption_cert,
        } => {
            let ukey = SoftwareUKey::open(path)?;
            if let Some(envelope) = envelope {
                let pin = secret("CERTDESK_TOKEN_PIN", "PIN码")?;
                ukey.import_enveloped_key(&pin, &container, &read(&envelope)?)?;
                println!("加密密钥已导入");
            }
            for (slot, file) in [
                (Slot::Signing, signing_cert),
                (Slot::Encryption, encryption_cert),
            ] {
                if let Some(file) = file {
                    let der = certificate_der(&file)?;
                    ukey.install_certificate(&container, slot, &der)?;
                    println!("证书已写入（{}）", file.display());
                }
            }
        }
        TokenCommand::ChangePin => {
            let ukey = SoftwareUKey::open(path)?;
            let old = secret("CERTDESK_TOKEN_PIN", "原PIN码")?;
            let new = secret("CERTDESK_TOKEN_NEW_PIN", "新PIN码")?;
            ukey.change_pin(&old, &new)?;
            println!("PIN码已修改");
        }
        TokenCommand::Unlock => {
            let ukey = SoftwareUKey::open(path)?;
            let so_pin = secret("CERTDESK_TOKEN_SO_PIN", "管理员PIN码（SO PIN）")?;
            let new = secret("CERTDESK_TOKEN_NEW_PIN", "新PIN码")?;
            ukey.unlock_with_so_pin(&so_pin, &new)?;
            println!("CA锁已解锁，PIN码已重设");
        }
        TokenCommand::Verify { cert } => {
            let der = certificate_der(&cert)?;
            let ukey = SoftwareUKey::open(path)?;
            let found = ukey.containers()?.into_iter().find(|c| {
                c.signing_certificate.as_deref() == Some(der.as_slice())
                    || c.encryption_certificate.as_deref() == Some(der.as_slice())
            });
            match found {
                Some(container) => println!("该证书在本CA锁的容器 {} 中", container.name),
                None => anyhow::bail!("本CA锁（{}）中没有该证书", ukey.serial()?),
            }
        }
        TokenCommand::Sign {
            container,
            input,
            out,
        } => {
            let ukey = SoftwareUKey::open(path)?;
            let pin = secret("CERTDESK_TOKEN_PIN", "PIN码")?;
            write(&out, &ukey.sign(&pin, &container, &read(&input)?)?)?;
        }
        TokenCommand::Decrypt {
            container,
            input,
            out,
        } => {
            let ukey = SoftwareUKey::open(path)?;
            let pin = secret("CERTDESK_TOKEN_PIN", "PIN码")?;
            write(&out, &ukey.decrypt(&pin, &container, &read(&input)?)?)?;
        }
    }
    Ok(())
}

/// A PIN from the environment variable `var`, or asked for on the terminal (the line typed,
/// without its end); never from the command line.
fn secret(var: &str, prompt: &str) -> Result<zeroize::Zeroizing<String>> {
    if let Ok(value) = std::env::var(var) {
        return Ok(zeroize::Zeroizing::new(value));
    }
    eprint!("请输入{prompt}：");
    std::io::stderr().flush().ok();
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the PIN from standard input")?;
    Ok(zeroize::Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn certificate_der(path: &Path) -> Result<Vec<u8>> {
    use certdesk_pki::der::Encode as _;
    let certificate = certdesk_pki::certificate_from_der_or_pem(&read(path)?)
        .map_err(|e| anyhow::anyhow!("{}: not a certificate: {e}", path.display()))?;
    certificate
        .to_der()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn serial_of(der: Option<&[u8]>) -> String {
    der.and_then(|d| certdesk_pki::certificate_from_der_or_pem(d).ok())
        .map(|c| hex::encode(c.tbs_certificate().serial_number().as_bytes()))
        .unwrap_or_else(|| "-".into())
}
