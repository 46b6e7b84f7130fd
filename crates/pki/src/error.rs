//! The one error type of this crate.

use crate::Algorithm;

/// Why a PKI operation was refused or failed.
///
/// Variants about *input* (malformed data, bad signature, weak key, mismatch) are meant to be
/// shown to whoever supplied that input; the others point at our side.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The input could not be parsed as the structure named in `what`.
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },

    /// The structure parsed, but its signature does not verify under the key it names.
    #[error("bad signature: {0}")]
    BadSignature(&'static str),

    /// The key's algorithm is known but too weak to certify (e.g. RSA below 2048 bits).
    #[error("weak key: {0}")]
    WeakKey(String),

    /// The algorithm (key type, curve or signature algorithm) is not one we issue for.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),

    /// The input uses a supported algorithm, but not the one that was asked for.
    #[error("algorithm mismatch: expected {expected}, found {found}")]
    AlgorithmMismatch {
        expected: Algorithm,
        found: Algorithm,
    },

    /// An encrypted private key could not be decrypted with the passphrase given.
    #[error("wrong passphrase, or the encrypted key is corrupted")]
    WrongPassphrase,

    /// Decryption or unwrapping failed: the ciphertext is not for this key, was altered, or
    /// (for key archives) the key-management key is wrong.
    #[error("decryption failed: {0}")]
    Decryption(String),

    /// A request for issuance is inconsistent or out of bounds (names, dates, URLs).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The signing backend failed to produce a signature.
    #[error("signing failed: {0}")]
    Signing(String),

    /// The PKCS#11 token refused the user PIN. The PIN itself is never part of any message.
    #[error("wrong PIN for token {token:?}")]
    WrongPin { token: String },

    /// A PKCS#11 module or token failed, or does not hold the key asked for.
    #[error("PKCS#11 token: {0}")]
    Token(String),

    /// Encoding our own output failed; a bug or an out-of-range value on our side.
    #[error("encoding failed: {0}")]
    Encoding(String),
}

impl PkiError {
    pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Self {
        PkiError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn encoding(detail: impl std::fmt::Display) -> Self {
        PkiError::Encoding(detail.to_string())
    }
}
