use certdesk_pki::PkiError;
use certdesk_store::StoreError;
use thiserror::Error;

/// Why the CA refused or failed. `Refused` and `Pki` input errors are for whoever sent the
/// request; the rest point at our side.
#[derive(Debug, Error)]
pub enum CaError {
    /// The request itself is wrong: the message says what (in Chinese, for users).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("no certificate with serial number {0}")]
    UnknownSerial(String),
    #[error("the {0} CA has not been initialised: run `certdesk ca init`")]
    NotInitialised(&'static str),
    #[error("cannot decrypt the {algorithm} {role} CA key: {source} (check CERTDESK_CA_KEY_PASSPHRASE or the passphrase file)")]
    KeyDecryption {
        algorithm: &'static str,
        role: String,
        #[source]
        source: PkiError,
    },
    #[error("stored CA data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The CA runs as its own process and cannot be reached (`certdesk ca serve` not running,
    /// the socket's permissions).
    #[error("the CA service cannot be reached: {0}")]
    Unreachable(String),
    /// The CA process failed on its side; its log says more.
    #[error("the CA service failed: {0}")]
    Remote(String),
}

impl CaError {
    /// Whether the error is about the caller's input (shown to them) rather than our side.
    pub fn is_input_error(&self) -> bool {
        match self {
            CaError::Refused(_) | CaError::UnknownSerial(_) => true,
            CaError::Pki(e) => matches!(
                e,
                PkiError::Malformed { .. }
                    | PkiError::BadSignature(_)
                    | PkiError::WeakKey(_)
                    | PkiError::UnsupportedAlgorithm(_)
                    | PkiError::AlgorithmMismatch { .. }
                    | PkiError::InvalidRequest(_)
            ),
            _ => false,
        }
    }
}
