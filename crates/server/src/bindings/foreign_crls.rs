//! Revocation of other providers' certificates (CA mutual recognition, 互认): their CA's CRL,
//! fetched from the address the certificate names, checked against the imported CA
//! certificate and kept until it is due again. Binding and certificate login refuse a
//! certificate that CRL revokes, and refuse to guess when no current CRL can be had: the
//! user can still log in with a password, while a revoked key must not open an account.

use crate::web::http_client;
use crate::AppState;
use axum::http::{Method, StatusCode};
use certdesk_ca::trust::{
    crl_url, read_foreign_crl, CertificateProblem, CheckError, ForeignCa, ForeignCrlList,
    PresentedCertificate,
};
use certdesk_ca::CaError;
use certdesk_store::ForeignCrl;
use std::time::Duration;

/// A kept CRL is fetched again after this long even before its nextUpdate, so that a
/// revocation published between two scheduled CRLs is seen within the hour.
const REFETCH_AFTER_SECONDS: i64 = 3600;
/// How long one fetch may take before the kept CRL (or a refusal) answers instead.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest CRL accepted (large national CAs publish CRLs of a few MB).
const MAX_CRL_BYTES: usize = 20 * 1024 * 1024;

/// Refuses `presented`, issued by the imported CA `ca`, when its CA's CRL revokes it or when
/// no current CRL of that CA can be had.
pub(crate) async fn check_not_revoked(
    state: &AppState,
    presented: &PresentedCertificate,
    ca: &ForeignCa,
    now: i64,
) -> Result<(), CheckError> {
    let unknown = |why: String| CheckError::Problem(CertificateProblem::RevocationUnknown(why));
    let url = crl_url(&presented.certificate)
        .ok_or_else(|| unknown("证书没有给出可用的吊销列表（CRL）地址".into()))?;
    let kept = kept_crl(state, &url, ca, now).await?;
    let crl = match kept {
        Some((crl, fetched_at)) if now - fetched_at < REFETCH_AFTER_SECONDS => crl,
        kept => match fetch(state, &url, ca, now).await {
            Ok(fresh) => fresh,
            Err(why) => match kept {
                // The CA's server is down, but what we kept is still within its nextUpdate.
                Some((crl, _)) => {
                    tracing::warn!(%url, %why, "foreign CRL not refreshed; the kept one is used");
                    crl
                }
                None => return Err(unknown(why)),
            },
        },
    };
    if crl.revokes(&presented.serial_hex) {
        return Err(CheckError::Problem(CertificateProblem::Revoked));
    }
    Ok(())
}

/// The CRL kept for `url`, with when it was fetched, if it is the CA's and still current.
async fn kept_crl(
    state: &AppState,
    url: &str,
    ca: &ForeignCa,
    now: i64,
) -> Result<Option<(ForeignCrlList, i64)>, CheckError> {
    let Some(kept) = state.store.foreign_crl(url).await.map_err(CaError::from)? else {
        return Ok(None);
    };
    if kept.provider_ca_id != ca.id {
        return Ok(None);
    }
    Ok(read_foreign_crl(&kept.der, &ca.certificate, url)
        .ok()
        .filter(|crl| crl.is_current(now))
        .map(|crl| (crl, kept.fetched_at)))
}

/// Fetches, checks and keeps the CRL at `url`; the error says why it cannot be used.
async fn fetch(
    state: &AppState,
    url: &str,
    ca: &ForeignCa,
    now: i64,
) -> Result<ForeignCrlList, String> {
    let answer = tokio::time::timeout(
        FETCH_TIMEOUT,
        http_client::exchange(Method::GET, url, &[], Vec::new(), MAX_CRL_BYTES),
    )
    .await
    .map_err(|_| format!("获取吊销列表超时：{url}"))??;
    if answer.status != StatusCode::OK {
        return Err(format!("吊销列表地址应答 {}：{url}", answer.status));
    }
    let crl = read_foreign_crl(&answer.body, &ca.certificate, url)?;
    if !crl.is_current(now) {
        return Err("CA服务商发布的吊销列表已过期".into());
    }
    let record = ForeignCrl {
        url: url.to_string(),
        provider_ca_id: ca.id,
        der: answer.body.to_vec(),
        this_update: crl.this_update,
        next_update: crl.next_update,
        fetched_at: now,
    };
    match state.store.keep_foreign_crl(&record).await {
        Ok(true) => Ok(crl),
        // An older CRL than the one kept: a replay or a lagging mirror; the kept one stands.
        Ok(false) => match kept_crl(state, url, ca, now).await {
            Ok(Some((kept, _))) => Ok(kept),
            _ => Err("吊销列表比已保存的旧".into()),
        },
        Err(err) => {
            tracing::error!(%url, error = %err, "cannot keep a foreign CRL");
            Ok(crl)
        }
    }
}
