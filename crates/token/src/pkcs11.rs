//! A UKey or HSM reached through its vendor's PKCS#11 module (cryptoki, in `certdesk-pki`):
//! P-256 key pairs made on the token, never extractable, their certificates stored beside them
//! under the container's name. Tested on SoftHSM2 (which has no SM2: SM2 UKeys are reached
//! through their SKF drivers, or the software UKey, for now).

use crate::{ContainerInfo, Slot, Token, TokenError};
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::{
    pkcs11_certificates, pkcs11_change_pin, pkcs11_store_certificate, pkcs11_token_serial,
    Algorithm, Pkcs11Key, PkiError, Signer, TokenPin,
};
use std::path::PathBuf;

pub struct Pkcs11Token {
    module: PathBuf,
    token_label: String,
}

impl Pkcs11Token {
    /// The token labelled `token_label` behind the PKCS#11 `module` (a `.so`).
    pub fn new(module: PathBuf, token_label: &str) -> Self {
        Pkcs11Token {
            module,
            token_label: token_label.to_string(),
        }
    }

    fn key(&self, pin: &str, container: &str) -> Result<Pkcs11Key, TokenError> {
        Pkcs11Key::open(
            &self.module,
            &self.token_label,
            &TokenPin::new(pin),
            container,
        )
        .map_err(pin_error)
    }
}

/// The token's wrong-PIN answer as the software UKey's (PKCS#11 does not say how many tries
/// are left; the token counts and locks by itself).
fn pin_error(err: PkiError) -> TokenError {
    match err {
        PkiError::WrongPin { .. } => TokenError::WrongPinOnToken,
        other => TokenError::Pki(other),
    }
}

impl Token for Pkcs11Token {
    fn serial(&self) -> Result<String, TokenError> {
        Ok(pkcs11_token_serial(&self.module, &self.token_label)?)
    }

    fn verify_pin(&self, pin: &str) -> Result<(), TokenError> {
        // Listing logs in: a wrong PIN is refused by the token itself.
        pkcs11_certificates(&self.module, &self.token_label, Some(&TokenPin::new(pin)))
            .map(drop)
            .map_err(pin_error)
    }

    fn generate_key_pair(
        &self,
        pin: &str,
        container: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<u8>, TokenError> {
        if algorithm != Algorithm::EcdsaP256Sha256 {
            return Err(TokenError::Unsupported(
                "该PKCS#11令牌只支持 ECDSA P-256 密钥",
            ));
        }
        let key = Pkcs11Key::generate_p256(
            &self.module,
            &self.token_label,
            &TokenPin::new(pin),
            container,
        )
        .map_err(pin_error)?;
        key.public_key_spki()
            .to_der()
            .map_err(|e| TokenError::Corrupt(e.to_string()))
    }

    fn certificate_request(
        &self,
        pin: &str,
        container: &str,
        subject: &str,
    ) -> Result<Vec<u8>, TokenError> {
        let key = self.key(pin, container)?;
        let name = subject
            .parse()
            .map_err(|e| TokenError::Corrupt(format!("subject {subject}: {e}")))?;
        Ok(certdesk_pki::make_csr(&key, name)?)
    }

    fn sign(&self, pin: &str, container: &str, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        Ok(self.key(pin, container)?.sign(message)?)
    }

    fn install_certificate(
        &self,
        pin: &str,
        container: &str,
        slot: Slot,
        der: &[u8],
    ) -> Result<(), TokenError> {
        if slot == Slot::Encryption {
            return Err(TokenError::Unsupported("该PKCS#11令牌没有加密密钥槽"));
        }
        let certificate = certdesk_pki::x509_cert::Certificate::from_der(der)
            .map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let key = self.key(pin, container)?;
        if certificate.tbs_certificate().subject_public_key_info() != key.public_key_spki() {
            return Err(TokenError::CertificateMismatch);
        }
        pkcs11_store_certificate(
            &self.module,
            &self.token_label,
            &TokenPin::new(pin),
            container,
            der,
        )
        .map_err(pin_error)
    }

    fn containers(&self) -> Result<Vec<ContainerInfo>, TokenError> {
        Ok(pkcs11_certificates(&self.module, &self.token_label, None)?
            .into_iter()
            .map(|(label, der)| ContainerInfo {
                name: label,
                algorithm: Some(Algorithm::EcdsaP256Sha256),
                has_signing_key: true,
                has_encryption_key: false,
                signing_certificate: Some(der),
                encryption_certificate: None,
            })
            .collect())
    }

    fn change_pin(&self, old: &str, new: &str) -> Result<(), TokenError> {
        pkcs11_change_pin(
            &self.module,
            &self.token_label,
            &TokenPin::new(old),
            &TokenPin::new(new),
        )
        .map_err(pin_error)
    }

    fn certificates(&self, pin: &str) -> Result<Vec<(String, Slot, Vec<u8>)>, TokenError> {
        Ok(
            pkcs11_certificates(&self.module, &self.token_label, Some(&TokenPin::new(pin)))
                .map_err(pin_error)?
                .into_iter()
                .map(|(label, der)| (label, Slot::Signing, der))
                .collect(),
        )
    }
}
