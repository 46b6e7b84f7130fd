//! `certdesk ca serve`: the CA's side of the gRPC service. It checks every request again (the
//! RA's checks are not trusted across the boundary), signs with keys only this process holds,
//! and answers certificates, CRLs and OCSP responses, never a private key.

use super::generated::ca_service_server::{CaService as CaRpc, CaServiceServer};
use super::wire::{
    Bytes, CaList, CaName, CertificateMessage, CrlMessage, Empty, HeldRequestMessage,
    PresentedAnswer, PresentedRequest, RevokeRequest, Serials, SignRequest, SignedIssuanceMessage,
};
use crate::trust::CheckError;
use crate::{crl_reason_from_name, CaError, CaService, CertificateAuthority, IssuanceSerials};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::{Request, Response, Status};

/// The CA service answering on a Unix socket.
pub struct CaRpcService {
    ca: Arc<CertificateAuthority>,
}

impl CaRpcService {
    pub fn new(ca: Arc<CertificateAuthority>) -> Self {
        CaRpcService { ca }
    }
}

/// The status a CA error travels as: a refusal keeps its message for the user; the RA's own
/// faults and ours are told apart by the code.
pub(super) fn status_of(err: CaError) -> Status {
    match &err {
        CaError::UnknownSerial(serial) => Status::not_found(serial.clone()),
        _ if err.is_input_error() => Status::invalid_argument(err.to_string()),
        CaError::NotInitialised(_) => Status::failed_precondition(err.to_string()),
        _ => {
            tracing::error!(error = %err, "a CA service request failed");
            Status::internal(err.to_string())
        }
    }
}

#[tonic::async_trait]
impl CaRpc for CaRpcService {
    async fn certificates(&self, _: Request<Empty>) -> Result<Response<CaList>, Status> {
        let cas = self
            .ca
            .cas()
            .iter()
            .map(|ca| (&ca.published()).into())
            .collect();
        Ok(Response::new(CaList { cas }))
    }

    async fn sign_prepared(
        &self,
        request: Request<SignRequest>,
    ) -> Result<Response<SignedIssuanceMessage>, Status> {
        let message = request.into_inner();
        let issue = message.issue_request().map_err(status_of)?;
        let serials = IssuanceSerials::try_from(message.serials.clone()).map_err(status_of)?;
        // Checked again here: the CA does not take the RA's word for the CSR or the limits.
        let mut prepared = self.ca.prepare(&issue, message.dual).map_err(status_of)?;
        if let Some(serial) = &message.keep_encryption_key_of {
            prepared = prepared
                .keeping_encryption_key_of(serial)
                .map_err(status_of)?;
        }
        let signed = self
            .ca
            .sign_prepared(&prepared, &serials)
            .await
            .map_err(status_of)?;
        tracing::info!(serial = %serials.signing, "signed for the RA");
        Ok(Response::new((&signed).into()))
    }

    async fn sign_held(
        &self,
        request: Request<HeldRequestMessage>,
    ) -> Result<Response<SignedIssuanceMessage>, Status> {
        let message = request.into_inner();
        let held = message.held_request().map_err(status_of)?;
        let serials = IssuanceSerials::try_from(message.serials.clone()).map_err(status_of)?;
        let signed = self
            .ca
            .sign_held(&held, &serials)
            .await
            .map_err(status_of)?;
        tracing::info!(serial = %serials.signing, "signed a held key's certificate for the RA");
        Ok(Response::new((&signed).into()))
    }

    async fn publish_revocations(
        &self,
        request: Request<Serials>,
    ) -> Result<Response<Empty>, Status> {
        // The revocations are read from the records, not taken from the request.
        let mut revoked = Vec::new();
        for serial in request.into_inner().serials {
            let record = self
                .ca
                .certificate_record(&serial)
                .await
                .map_err(status_of)?;
            if record.revoked_at.is_none() {
                return Err(Status::failed_precondition(format!(
                    "certificate {serial} is not revoked"
                )));
            }
            revoked.push(record);
        }
        self.ca
            .publish_revocations(&revoked)
            .await
            .map_err(status_of)?;
        Ok(Response::new(Empty {}))
    }

    async fn current_crl(&self, request: Request<CaName>) -> Result<Response<CrlMessage>, Status> {
        let name = request.into_inner().name;
        let crl = CaService::current_crl(self.ca.as_ref(), &name)
            .await
            .map_err(status_of)?;
        Ok(Response::new((&crl).into()))
    }

    async fn answer_ocsp(&self, request: Request<Bytes>) -> Result<Response<Bytes>, Status> {
        let answer = self.ca.answer_ocsp(&request.into_inner().der).await;
        Ok(Response::new(Bytes {
            der: answer.to_vec(),
        }))
    }

    async fn check_presented(
        &self,
        request: Request<PresentedRequest>,
    ) -> Result<Response<PresentedAnswer>, Status> {
        let message = request.into_inner();
        let now = SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(message.now).unwrap_or_default());
        match self
            .ca
            .check_presented_certificate(&message.der_or_pem, now)
            .await
        {
            Ok((presented, recognition)) => Ok(Response::new(PresentedAnswer::recognised(
                &presented,
                &recognition,
            ))),
            Err(CheckError::Problem(problem)) => {
                Ok(Response::new(PresentedAnswer::refused(&problem)))
            }
            Err(CheckError::Internal(err)) => Err(status_of(err)),
        }
    }

    async fn revoke(
        &self,
        request: Request<RevokeRequest>,
    ) -> Result<Response<CertificateMessage>, Status> {
        let message = request.into_inner();
        let reason = crl_reason_from_name(&message.reason).ok_or_else(|| {
            Status::invalid_argument(format!("unknown revocation reason {:?}", message.reason))
        })?;
        let record = self
            .ca
            .revoke(&message.serial, reason)
            .await
            .map_err(status_of)?;
        Ok(Response::new((&record).into()))
    }
}

/// Serves the CA on the Unix socket at `path` until `shutdown` completes. The socket is made
/// readable and writable by its owner and group only: whoever can open it can ask the CA to
/// sign, so the directory and group decide which web process may.
pub async fn serve_unix(
    ca: Arc<CertificateAuthority>,
    path: &Path,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    if path.exists() {
        // A socket left by a process that is gone; a live one answers and is not removed.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServeError::InUse(path.display().to_string()));
        }
        std::fs::remove_file(path).map_err(|e| ServeError::Io(path.display().to_string(), e))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| ServeError::Io(path.display().to_string(), e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| ServeError::Io(path.display().to_string(), e))?;
    }
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    let result = tonic::transport::Server::builder()
        .add_service(CaServiceServer::new(CaRpcService::new(ca)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    // Nothing answers there any more.
    let _ = std::fs::remove_file(path);
    result.map_err(ServeError::Transport)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("another CA service is answering on {0}")]
    InUse(String),
    #[error("cannot use the socket {0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("the CA service stopped with an error: {0}")]
    Transport(#[source] tonic::transport::Error),
}
