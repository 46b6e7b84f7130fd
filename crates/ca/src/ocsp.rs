//! The OCSP responder (RFC 6960). Answers for certificates without a nonce are signed once
//! and kept, so that answering them again is a lookup; a request with a nonce gets a fresh
//! signature that echoes it. Every process sees revocations made by every other one: the
//! cache is dropped when the store's revocation counter moves, checked at most every
//! [`REVOCATION_CHECK_INTERVAL`].

use crate::{crl_reason_from_name, CaError, CertificateAuthority, LoadedCa};
use certdesk_pki::{
    error_ocsp_response, parse_ocsp_request, sign_ocsp_response, CertIdInfo, IssuerHashes,
    OcspErrorStatus, OcspStatus, OcspTimes,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an OCSP answer stays valid for relying parties (its nextUpdate).
pub const OCSP_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);
/// A cached answer is re-signed once it is older than this.
const OCSP_REFRESH_AFTER: Duration = Duration::from_secs(12 * 60 * 60);
/// How stale a revocation made by another process may be in this one's cache, at most.
pub const REVOCATION_CHECK_INTERVAL: Duration = Duration::from_millis(200);

struct CachedAnswer {
    der: Arc<[u8]>,
    signed_at: Instant,
}

/// Per-process state of the responder: the cache and what it last knew of revocations.
pub(crate) struct OcspCache {
    answers: RwLock<HashMap<CertIdInfo, CachedAnswer>>,
    /// The store's revocation counter when the cache was last known to be current.
    revocations_seen: AtomicI64,
    /// Milliseconds since `epoch` of the last look at the counter.
    last_check_ms: AtomicI64,
    epoch: Instant,
    /// Bumped by every `clear`: an answer whose status was read before a clear is not kept,
    /// or a "good" read just before a revocation would outlive the revocation's clear.
    generation: AtomicU64,
}

impl OcspCache {
    pub(crate) fn new(revocations_seen: i64) -> Self {
        OcspCache {
            answers: RwLock::new(HashMap::new()),
            revocations_seen: AtomicI64::new(revocations_seen),
            last_check_ms: AtomicI64::new(0),
            epoch: Instant::now(),
            generation: AtomicU64::new(0),
        }
    }

    /// Read before the status that goes into an answer; hand it back to `put`.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn get(&self, id: &CertIdInfo) -> Option<Arc<[u8]>> {
        let answers = self.answers.read().ok()?;
        let answer = answers.get(id)?;
        (answer.signed_at.elapsed() < OCSP_REFRESH_AFTER).then(|| answer.der.clone())
    }

    /// Keeps an answer, unless the cache was cleared since `generation` was read (checked under
    /// the write lock, which `clear` holds while it bumps the generation).
    fn put(&self, id: CertIdInfo, der: Arc<[u8]>, generation: u64) {
        if let Ok(mut answers) = self.answers.write() {
            if self.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            answers.insert(
                id,
                CachedAnswer {
                    der,
                    signed_at: Instant::now(),
                },
            );
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut answers) = self.answers.write() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            answers.clear();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.answers.read().map(|a| a.len()).unwrap_or(0)
    }
}

impl CertificateAuthority {
    /// Answers one DER OCSP request with DER OCSP response bytes. Never fails: a request we
    /// cannot parse gets `malformedRequest`, one about a CA we do not run `unauthorized`, and
    /// a failure on our side `internalError` (logged).
    pub async fn answer_ocsp(&self, request_der: &[u8]) -> Arc<[u8]> {
        match self.try_answer_ocsp(request_der).await {
            Ok(answer) => answer,
            Err(OcspFailure::Malformed) => {
                error_ocsp_response(OcspErrorStatus::MalformedRequest).into()
            }
            Err(OcspFailure::NotOurs) => error_ocsp_response(OcspErrorStatus::Unauthorized).into(),
            Err(OcspFailure::Internal(err)) => {
                tracing::error!(error = %err, "OCSP answer failed");
                error_ocsp_response(OcspErrorStatus::InternalError).into()
            }
        }
    }

    async fn try_answer_ocsp(&self, request_der: &[u8]) -> Result<Arc<[u8]>, OcspFailure> {
        let request = parse_ocsp_request(request_der).map_err(|_| OcspFailure::Malformed)?;
        self.sync_revocations()
            .await
            .map_err(OcspFailure::Internal)?;
        // Every certificate asked about must be one of a CA we run.
        let mut asked = Vec::with_capacity(request.cert_ids.len());
        for id in &request.cert_ids {
            let ca = self.ca_for_cert_id(id).ok_or(OcspFailure::NotOurs)?;
            asked.push((id, ca));
        }
        let [(only, ca)] = asked.as_slice() else {
            // Several certificates in one request: rare, answered fresh, one signature for all.
            return Ok(self.sign_fresh(&asked, request.nonce.as_deref()).await?.0);
        };
        if request.nonce.is_none() {
            if let Some(answer) = self.ocsp_cache.get(only) {
                return Ok(answer);
            }
        }
        let generation = self.ocsp_cache.generation();
        let (answer, all_known) = self
            .sign_fresh(&[(*only, *ca)], request.nonce.as_deref())
            .await?;
        // Answers about serials we never issued are not kept: anyone can ask for any number.
        if request.nonce.is_none() && all_known {
            self.ocsp_cache
                .put((*only).clone(), answer.clone(), generation);
        }
        Ok(answer)
    }

    fn ca_for_cert_id(&self, id: &CertIdInfo) -> Option<&LoadedCa> {
        self.cas.iter().find(|ca| ca.issuer_hashes.matches(id))
    }

    async fn sign_fresh(
        &self,
        asked: &[(&CertIdInfo, &LoadedCa)],
        nonce: Option<&[u8]>,
    ) -> Result<(Arc<[u8]>, bool), OcspFailure> {
        let Some((_, ca)) = asked.first() else {
            return Err(OcspFailure::Malformed);
        };
        // One response has one signer: every certificate must be of the same CA.
        if asked
            .iter()
            .any(|(_, other)| other.issuing_id != ca.issuing_id)
        {
            return Err(OcspFailure::NotOurs);
        }
        let mut responses = Vec::with_capacity(asked.len());
        for (id, _) in asked {
            let status = self
                .status_of(ca, &id.serial)
                .await
                .map_err(OcspFailure::Internal)?;
            responses.push(((*id).clone(), status));
        }
        let now = SystemTime::now();
        let times = OcspTimes {
            produced_at: now,
            this_update: now,
            next_update: now + OCSP_VALIDITY,
        };
        let all_known = responses
            .iter()
            .all(|(_, s)| !matches!(s, OcspStatus::Unknown));
        let der = sign_ocsp_response(ca.signer(), &ca.issuing_cert, &responses, times, nonce)
            .map_err(|e| OcspFailure::Internal(e.into()))?;
        Ok((der.into(), all_known))
    }

    /// What the store says of a serial under this CA.
    async fn status_of(&self, ca: &LoadedCa, serial: &[u8]) -> Result<OcspStatus, CaError> {
        let record = self
            .store
            .certificate_by_serial(&hex::encode(serial))
            .await?;
        Ok(match record {
            Some(record) if record.issuer_ca_id == ca.issuing_id => match record.revoked_at {
                None => OcspStatus::Good,
                Some(at) => OcspStatus::Revoked {
                    revoked_at: UNIX_EPOCH + Duration::from_secs(at.max(0) as u64),
                    reason: record
                        .revocation_reason
                        .as_deref()
                        .and_then(crl_reason_from_name),
                },
            },
            _ => OcspStatus::Unknown,
        })
    }

    /// Drops cached answers when a revocation happened anywhere since the last look; looks
    /// at most every [`REVOCATION_CHECK_INTERVAL`].
    async fn sync_revocations(&self) -> Result<(), CaError> {
        let now_ms = self.ocsp_cache.epoch.elapsed().as_millis() as i64;
        let last = self.ocsp_cache.last_check_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms - last < REVOCATION_CHECK_INTERVAL.as_millis() as i64 {
            return Ok(());
        }
        self.ocsp_cache
            .last_check_ms
            .store(now_ms.max(1), Ordering::Relaxed);
        let counter = self.store.revocation_counter().await?;
        if self
            .ocsp_cache
            .revocations_seen
            .swap(counter, Ordering::Relaxed)
            != counter
        {
            self.ocsp_cache.clear();
        }
        Ok(())
    }

    /// How many answers are cached (for operators and tests).
    pub fn cached_ocsp_answers(&self) -> usize {
        self.ocsp_cache.len()
    }
}

enum OcspFailure {
    Malformed,
    NotOurs,
    Internal(CaError),
}

/// The issuer hashes of a loaded CA, computed once.
pub(crate) fn issuer_hashes(
    ca_cert: &certdesk_pki::x509_cert::Certificate,
) -> Result<IssuerHashes, CaError> {
    Ok(IssuerHashes::of(ca_cert)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use certdesk_pki::OcspHash;

    fn id(serial: u8) -> CertIdInfo {
        CertIdInfo {
            hash: OcspHash::Sha1,
            issuer_name_hash: vec![1; 20],
            issuer_key_hash: vec![2; 20],
            serial: vec![serial],
        }
    }

    /// An answer whose status was read before a revocation cleared the cache is not kept:
    /// otherwise a "good" signed in that instant would be served for hours after it.
    #[test]
    fn an_answer_read_before_a_clear_is_not_kept() {
        let cache = OcspCache::new(0);
        let read_at = cache.generation();
        cache.clear();
        cache.put(id(1), Arc::from(&b"good"[..]), read_at);
        assert_eq!(cache.len(), 0);
        assert!(cache.get(&id(1)).is_none());

        let now = cache.generation();
        cache.put(id(1), Arc::from(&b"good"[..]), now);
        assert_eq!(cache.get(&id(1)).as_deref(), Some(&b"good"[..]));
    }
}
