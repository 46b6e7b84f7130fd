//! The web process's side: [`RemoteCa`] implements [`CaService`] by asking `certdesk ca serve`.
//! What needs no secret is answered here from the CA certificates fetched at connect (the
//! request checks, the limits); everything that signs goes to the CA process, which checks
//! again.

use super::generated::ca_service_client::CaServiceClient;
use super::wire::{
    Bytes, CaList, CaName, Empty, HeldRequestMessage, PresentedRequest, RevokeRequest, Serials,
    SignRequest,
};
use crate::service::{CaCertificates, CaFuture};
use crate::trust::{CheckError, PresentedCertificate, Recognition};
use crate::{
    crl_reason_name, limits_under, prepare_request, unix_seconds, CaError, CaService, HeldRequest,
    IssuanceSerials, IssueRequest, PreparedRequest, SignedIssuance,
};
use certdesk_domain::limits::LimitError;
use certdesk_pki::{Algorithm, CrlReason, SoftwareKey};
use certdesk_store::{CertificateRecord, CrlRecord};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// How long one call to the CA may take before the RA gives up on it (signing is quick; a CRL
/// with many entries takes longest).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The CA service in another process, reached over its Unix socket.
pub struct RemoteCa {
    client: CaServiceClient<Channel>,
    cas: Vec<CaCertificates>,
}

impl RemoteCa {
    /// Connects to the CA service on the Unix socket at `path` and fetches its CA certificates.
    pub async fn connect_unix(path: &Path) -> Result<Self, CaError> {
        let path: Arc<PathBuf> = Arc::new(path.to_path_buf());
        let shown = path.display().to_string();
        // The URI is required by the API and unused: the connector opens the socket.
        let channel = Endpoint::from_static("http://ca.invalid")
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path.as_path()).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|e| CaError::Unreachable(format!("{shown}: {}", source_chain(&e))))?;
        let mut client = CaServiceClient::new(channel);
        let list: CaList = client
            .certificates(Empty {})
            .await
            .map_err(error_of)?
            .into_inner();
        let cas = list
            .cas
            .into_iter()
            .map(CaCertificates::try_from)
            .collect::<Result<_, _>>()?;
        Ok(RemoteCa { client, cas })
    }

    fn issuing_until(&self, algorithm: Algorithm) -> Option<i64> {
        self.certificates(algorithm).map(|ca| ca.issuing_until)
    }

    /// A client for one call (tonic clients are cheap clones of one connection).
    fn client(&self) -> CaServiceClient<Channel> {
        self.client.clone()
    }
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// A CA service status as the CA error it stands for.
fn error_of(status: Status) -> CaError {
    let message = status.message().to_string();
    match status.code() {
        Code::InvalidArgument => CaError::Refused(message),
        Code::NotFound => CaError::UnknownSerial(message),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            CaError::Unreachable(message)
        }
        _ => CaError::Remote(message),
    }
}

impl CaService for RemoteCa {
    fn prepare(&self, request: &IssueRequest<'_>, dual: bool) -> Result<PreparedRequest, CaError> {
        prepare_request(request, dual, |algorithm| {
            self.issuing_until(algorithm)
                .ok_or(CaError::NotInitialised(algorithm.label()))
        })
    }

    fn sign_prepared<'a>(
        &'a self,
        prepared: &'a PreparedRequest,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>> {
        let message = SignRequest::new(prepared, serials);
        let mut client = self.client();
        Box::pin(async move {
            let answer = client
                .sign_prepared(message)
                .await
                .map_err(error_of)?
                .into_inner();
            SignedIssuance::try_from(answer)
        })
    }

    fn sign_held<'a>(
        &'a self,
        held: &'a HeldRequest<'a>,
        serials: &'a IssuanceSerials,
    ) -> CaFuture<'a, Result<SignedIssuance, CaError>> {
        let message = HeldRequestMessage::new(held, serials);
        let mut client = self.client();
        Box::pin(async move {
            let answer = client
                .sign_held(message)
                .await
                .map_err(error_of)?
                .into_inner();
            SignedIssuance::try_from(answer)
        })
    }

    fn check_limits(
        &self,
        algorithm: Algorithm,
        org_name: &str,
        validity_days: u32,
        issue_at: i64,
    ) -> Result<(), LimitError> {
        limits_under(
            self.issuing_until(algorithm),
            algorithm,
            org_name,
            validity_days,
            issue_at,
        )
    }

    fn certificates(&self, algorithm: Algorithm) -> Option<CaCertificates> {
        self.cas
            .iter()
            .find(|ca| ca.algorithm == algorithm && !ca.retired)
            .cloned()
    }

    fn published(&self, name: &str) -> Option<CaCertificates> {
        self.cas.iter().find(|ca| ca.name == name).cloned()
    }

    fn publish_revocations<'a>(
        &'a self,
        revoked: &'a [CertificateRecord],
    ) -> CaFuture<'a, Result<(), CaError>> {
        let message = Serials {
            serials: revoked.iter().map(|r| r.serial_hex.clone()).collect(),
        };
        let mut client = self.client();
        Box::pin(async move {
            client
                .publish_revocations(message)
                .await
                .map_err(error_of)?;
            Ok(())
        })
    }

    fn current_crl<'a>(&'a self, name: &'a str) -> CaFuture<'a, Result<CrlRecord, CaError>> {
        let message = CaName {
            name: name.to_string(),
        };
        let mut client = self.client();
        Box::pin(async move {
            Ok(client
                .current_crl(message)
                .await
                .map_err(error_of)?
                .into_inner()
                .into())
        })
    }

    fn answer_ocsp<'a>(&'a self, request_der: &'a [u8]) -> CaFuture<'a, Arc<[u8]>> {
        let message = Bytes {
            der: request_der.to_vec(),
        };
        let mut client = self.client();
        Box::pin(async move {
            match client.answer_ocsp(message).await {
                Ok(answer) => Arc::from(answer.into_inner().der),
                Err(status) => {
                    tracing::error!(error = %status, "the CA service did not answer an OCSP request");
                    // RFC 6960 tryLater: the responder is there, its answer is not.
                    Arc::from(certdesk_pki::error_ocsp_response(
                        certdesk_pki::OcspErrorStatus::TryLater,
                    ))
                }
            }
        })
    }

    fn check_presented_certificate<'a>(
        &'a self,
        der_or_pem: &'a [u8],
        now: SystemTime,
    ) -> CaFuture<'a, Result<(PresentedCertificate, Recognition), CheckError>> {
        let message = PresentedRequest {
            der_or_pem: der_or_pem.to_vec(),
            now: unix_seconds(now),
        };
        let mut client = self.client();
        Box::pin(async move {
            let answer = client
                .check_presented(message)
                .await
                .map_err(error_of)?
                .into_inner();
            answer.outcome()?.map_err(CheckError::Problem)
        })
    }

    fn revoke<'a>(
        &'a self,
        serial: &'a str,
        reason: CrlReason,
    ) -> CaFuture<'a, Result<CertificateRecord, CaError>> {
        let message = RevokeRequest {
            serial: serial.to_string(),
            reason: crl_reason_name(reason).to_string(),
        };
        let mut client = self.client();
        Box::pin(async move {
            Ok(client
                .revoke(message)
                .await
                .map_err(error_of)?
                .into_inner()
                .into())
        })
    }

    /// Archived keys never cross the boundary: an officer recovers them in the CA zone.
    fn recover_archived_key<'a>(
        &'a self,
        _serial: &'a str,
    ) -> CaFuture<'a, Result<SoftwareKey, CaError>> {
        Box::pin(std::future::ready(Err(CaError::Refused(
            "托管密钥只能在CA区内恢复：请在CA服务器上运行 certdesk ca recover-key".into(),
        ))))
    }
}
