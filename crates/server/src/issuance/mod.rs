//! Issuance for an order in 制证中, in Boulder's order so that a crash anywhere is harmless:
//! the request is checked, the intent (serials, public-key hash) is recorded as the order's
//! claim, the CA signs, and the certificates, kept keys, link and step to 已发证 are written in
//! one transaction. A claim left unfinished (a crash, a request that died) is recovered by
//! [`recover_abandoned`]: a certificate it finds signed and unlinked is revoked, the claim
//! released, and a held-key order issued again.

mod csr;
mod error;

pub(crate) use error::IssuanceError;

pub(crate) use csr::{certificate_pem, certificate_pem_of_der};

pub(crate) fn register(registry: Registry) -> Registry {
    use certdesk_domain::Action::SubmitCertificateRequest;
    registry
        .post(
            "/orders/{order_no}/csr",
            SubmitCertificateRequest,
            csr::csr_page,
        )
        .post(
            "/api/v1/orders/{order_no}/csr",
            SubmitCertificateRequest,
            csr::csr_api,
        )
}

use crate::pipeline::{checked_step, CheckedStep, StepActor, StepError};
use crate::web::auth::CurrentUser;
use crate::web::routes::Registry;
use crate::AppState;
use certdesk_ca::{HeldRequest, IssuanceSerials, IssueRequest, LeafProfile};
use certdesk_domain::{OrderAction, OrderStatus, Step};
use certdesk_store::{failpoint, IssuanceIntent, IssuanceRecorded, Order};

/// The revocation reason of a certificate that was signed but could not be linked to its order
/// (RFC 5280 `cessationOfOperation`: it was never in service).
pub const UNLINKED_REASON: &str = "cessationOfOperation";

/// Issues the certificates of an order in 制证中 for the key the CSR proves: a signing
/// certificate, plus the encryption certificate and its sealed key for SM2 dual products. The
/// order moves to 已发证 with what was made, or nothing of it is kept.
pub async fn issue_for_order(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    csr: &[u8],
) -> Result<OrderStatus, IssuanceError> {
    let CheckedStep { step, .. } =
        checked_step(state, None, order, OrderAction::MarkIssued).await?;
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(IssuanceError::NoApplication)?;
    let product = crate::products::product_facts(state, application.product_id).await?;
    if product.mobile {
        return Err(IssuanceError::HeldKeys);
    }
    // The certificate names the organisation as it registered (the form was held to it).
    let organisation = crate::pipeline::registered_organisation(state, order).await?;
    let algorithm = certdesk_ca::csr_algorithm(csr).map_err(IssuanceError::of_ca)?;
    if algorithm != product.algorithm {
        return Err(IssuanceError::AlgorithmMismatch {
            product: algorithm_label(product.algorithm),
            request: algorithm_label(algorithm),
        });
    }
    // 补办: the new key's certificates end with the old ones, and on request the old
    // encryption key pair is restored into it.
    let replacement = state.store.replacement_request(order.id).await?;
    let days = match &replacement {
        Some(replaced) => {
            certdesk_domain::replacement::replacement_validity_days(replaced.not_after, state.now())
        }
        None => validity_days(application.years),
    };
    let mut prepared = state
        .ca
        .prepare(
            &IssueRequest {
                csr,
                profile: LeafProfile::Sign,
                org_name: &organisation.name,
                credit_code: &organisation.credit_code,
                validity_days: days,
            },
            product.dual,
        )
        .map_err(IssuanceError::of_ca)?;
    let mut note = format!("证书请求由 {} 提交，证书已签发", user.account().username);
    if let Some(replaced) = replacement.as_ref().filter(|r| r.restore_encryption_key) {
        let old_encryption = state
            .store
            .key_certificate_serials(replaced.certificate_id)
            .await?
            .into_iter()
            .find(|s| *s != replaced.serial_hex)
            .ok_or(IssuanceError::NothingToRestore)?;
        prepared = prepared
            .keeping_encryption_key_of(&old_encryption)
            .map_err(IssuanceError::of_ca)?;
        note.push_str(&format!(
            "；应申请恢复原加密证书 {} 的托管加密密钥至新CA锁",
            old_encryption.to_uppercase()
        ));
    }
    failpoint("issuance-before-intent");
    let serials = IssuanceSerials::draw(product.dual).map_err(IssuanceError::Ca)?;
    let intent = IssuanceIntent {
        serial_hex: &serials.signing,
        encryption_serial_hex: serials.encryption.as_deref(),
        public_key_sha256: Some(prepared.public_key_sha256()),
    };
    if !state
        .store
        .claim_issuance(order.id, &intent, state.now())
        .await?
    {
        return Err(IssuanceError::AlreadyIssuing);
    }
    failpoint("issuance-after-intent");
    let signed = signed_or_released(
        state,
        order,
        &serials,
        state.ca.sign_prepared(&prepared, &serials).await,
        IssuanceError::of_ca,
    )
    .await?;
    failpoint("issuance-after-sign");
    record_issuance(
        state,
        Some(user),
        order,
        step,
        &serials,
        &signed.for_order(),
        &note,
    )
    .await?;
    failpoint("issuance-after-commit");
    if let Some(replaced) = &replacement {
        if replaced.restore_encryption_key {
            crate::web::audit_trail::record(
                state,
                Some(user.account()),
                Some(order.org_id),
                certdesk_domain::AuditAction::KeyRecovered,
                &format!("order:{}", order.order_no),
                "补办：原加密证书的托管加密密钥已恢复至新CA锁（应申请）",
            )
            .await;
        }
        revoke_replaced_key(state, order, replaced).await?;
    }
    Ok(step.to())
}

/// The old certificates of a 补办 whose new ones are issued: revoked (keyCompromise for a lost
/// key, superseded otherwise), then marked. Revoking is idempotent, so a crash between the
/// two, or before, is mended by [`revoke_replaced`].
async fn revoke_replaced_key(
    state: &AppState,
    order: &Order,
    replaced: &certdesk_store::ReplacementRequest,
) -> Result<(), IssuanceError> {
    let reason = certdesk_domain::replacement::ReplacementReason::parse(&replaced.reason)
        .map(|r| r.crl_reason())
        .and_then(certdesk_ca::crl_reason_from_name)
        .ok_or_else(|| {
            StepError::Inconsistent(format!("replacement reason {}", replaced.reason))
        })?;
    revoke_key(state, replaced.certificate_id, &replaced.serial_hex, reason).await?;
    state.store.mark_replaced(order.id, state.now()).await?;
    Ok(())
}

/// Revokes the old certificates of every 补办 whose new ones were issued and whose old ones
/// are not yet marked revoked (a crash after the issuance); answers how many keys.
pub async fn revoke_replaced(state: &AppState) -> Result<u64, IssuanceError> {
    let mut done = 0;
    loop {
        let due = state.store.replaced_due(100).await?;
        if due.is_empty() {
            return Ok(done);
        }
        for key in &due {
            let Some(order) = state.store.order_by_id(key.order_id).await? else {
                continue;
            };
            let Some(replaced) = state.store.replacement_request(key.order_id).await? else {
                continue;
            };
            revoke_replaced_key(state, &order, &replaced).await?;
            done += 1;
        }
    }
}

/// For a mobile product (移动版), makes the certificates for key pairs the CA holds as soon as
/// the order reaches 制证中, and moves it to 已发证; answers the new status, or `None` for a
/// UKey product (whose key holder sends a CSR) or an order another request is issuing.
pub async fn issue_if_held(
    state: &AppState,
    order: &Order,
) -> Result<Option<OrderStatus>, IssuanceError> {
    let Some(application) = state.store.application(order.id).await? else {
        return Ok(None);
    };
    let product = crate::products::product_facts(state, application.product_id).await?;
    if !product.mobile {
        return Ok(None);
    }
    let CheckedStep { step, .. } =
        checked_step(state, None, order, OrderAction::MarkIssued).await?;
    let organisation = crate::pipeline::registered_organisation(state, order).await?;
    let algorithm = certdesk_ca::algorithm_from_slug(product.algorithm).ok_or_else(|| {
        StepError::Inconsistent(format!("product algorithm {}", product.algorithm))
    })?;
    failpoint("issuance-before-intent");
    let serials = IssuanceSerials::draw(product.dual).map_err(IssuanceError::Ca)?;
    // The key pair is made only when signing: the intent records the serials alone.
    let intent = IssuanceIntent {
        serial_hex: &serials.signing,
        encryption_serial_hex: serials.encryption.as_deref(),
        public_key_sha256: None,
    };
    if !state
        .store
        .claim_issuance(order.id, &intent, state.now())
        .await?
    {
        return Ok(None);
    }
    failpoint("issuance-after-intent");
    let held = HeldRequest {
        algorithm,
        dual: product.dual,
        org_name: &organisation.name,
        credit_code: &organisation.credit_code,
        validity_days: validity_days(application.years),
        keep_signing_key_of: None,
        keep_encryption_key_of: None,
    };
    let signed = signed_or_released(
        state,
        order,
        &serials,
        state.ca.sign_held(&held, &serials).await,
        IssuanceError::Ca,
    )
    .await?;
    failpoint("issuance-after-sign");
    record_issuance(
        state,
        None,
        order,
        step,
        &serials,
        &signed.for_order(),
        "移动版证书已签发，密钥由CA托管，请在手机上扫码下载",
    )
    .await?;
    failpoint("issuance-after-commit");
    Ok(Some(step.to()))
}

/// What the CA signed; when it refused, the claim is given back first (nothing was signed, the
/// key holder may try again), and the refusal told as `refusal` says.
async fn signed_or_released(
    state: &AppState,
    order: &Order,
    serials: &IssuanceSerials,
    signed: Result<certdesk_ca::SignedIssuance, certdesk_ca::CaError>,
    refusal: fn(certdesk_ca::CaError) -> IssuanceError,
) -> Result<certdesk_ca::SignedIssuance, IssuanceError> {
    match signed {
        Ok(signed) => Ok(signed),
        Err(err) => {
            state
                .store
                .release_issuance(order.id, &serials.signing)
                .await?;
            Err(refusal(err))
        }
    }
}

/// Records what issuance made with the order's step to 已发证 (the system's step; `user` is who
/// asked for it, if anyone), its keys, history and audit entries, in one transaction. When the
/// order was no longer the claim's, the certificates are on record revoked and the CA publishes
/// that; when recording failed, the claim is given back (nothing signed left this process).
async fn record_issuance(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    step: Step,
    serials: &IssuanceSerials,
    issued: &certdesk_store::IssuedForOrder<'_>,
    note: &str,
) -> Result<(), IssuanceError> {
    // The history names the system (the CA issues); the audit entry whoever asked for it.
    let who = StepActor::of(user, &step);
    let recorded = state
        .store
        .complete_issuance(
            order.id,
            issued,
            &who.record(state.now(), order, step, note),
            UNLINKED_REASON,
        )
        .await;
    match recorded {
        Ok(IssuanceRecorded::Linked { .. }) => Ok(()),
        Ok(IssuanceRecorded::Revoked(revoked)) => {
            tracing::warn!(order = %order.order_no, "certificates signed for an order that moved on were recorded revoked");
            state
                .ca
                .publish_revocations(&revoked)
                .await
                .map_err(IssuanceError::Ca)?;
            Err(StepError::OrderChanged.into())
        }
        Err(err) => {
            // Nothing was written; if the database is away, recovery releases the claim later.
            if let Err(release) = state
                .store
                .release_issuance(order.id, &serials.signing)
                .await
            {
                tracing::warn!(order = %order.order_no, error = %release, "an issuance claim could not be released; recovery will");
            }
            Err(err.into())
        }
    }
}

/// Revokes a key's certificates together at the CA: the signing one (`certificate_id`,
/// `key_serial`) and, for an SM2 pair, the encryption one. Idempotent: a certificate revoked
/// before keeps its first date and reason. Answers when the signing certificate was revoked.
pub(crate) async fn revoke_key(
    state: &AppState,
    certificate_id: i64,
    key_serial: &str,
    reason: certdesk_ca::CrlReason,
) -> Result<Option<i64>, IssuanceError> {
    let mut serials = state.store.key_certificate_serials(certificate_id).await?;
    if !serials.iter().any(|s| s == key_serial) {
        serials.push(key_serial.to_string());
    }
    let mut revoked_at = None;
    for serial in &serials {
        let record = state
            .ca
            .revoke(serial, reason)
            .await
            .map_err(IssuanceError::Ca)?;
        if serial == key_serial {
            revoked_at = record.revoked_at;
        }
    }
    Ok(revoked_at)
}

/// What one pass of [`recover_abandoned`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Orders whose unfinished claim was released (issuance may run again).
    pub released: usize,
    /// Certificates found signed for a released claim and linked to no order, now revoked.
    pub revoked: usize,
    /// Held-key (移动版) orders issued again.
    pub reissued: usize,
}

/// Recovers issuance left unfinished for `after_secs` or longer: claims are released (revoking,
/// and publishing the revocation of, any certificate signed under them and linked to no order),
/// then held-key orders still in 制证中 without a claim are issued. Safe to run beside live
/// requests: a claim finished or taken again meanwhile is left alone.
pub async fn recover_abandoned(
    state: &AppState,
    after_secs: i64,
) -> Result<Recovery, IssuanceError> {
    let now = state.now();
    let before = now.saturating_sub(after_secs);
    let recovered = state
        .store
        .recover_issuance_claims(before, now, UNLINKED_REASON)
        .await?;
    state
        .ca
        .publish_revocations(&recovered.revoked)
        .await
        .map_err(IssuanceError::Ca)?;
    let mut recovery = Recovery {
        released: recovered.released.len(),
        revoked: recovered.revoked.len(),
        reissued: 0,
    };
    for order in state
        .store
        .unclaimed_orders(OrderStatus::Issuing, before)
        .await?
    {
        match issue_if_held(state, &order).await {
            Ok(Some(_)) => recovery.reissued += 1,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(order = %order.order_no, error = %err, "a held-key order could not be issued on recovery");
            }
        }
    }
    Ok(recovery)
}

/// The application's years as the CA's days, by the one conversion RA and CA share; years out
/// of range give 0 days, which the CA refuses.
fn validity_days(years: i64) -> u32 {
    u32::try_from(years).map_or(0, certdesk_domain::limits::validity_days)
}

/// The organisation's key with this certificate serial (the signing certificate of a key it
/// holds, issued here), whatever its state; `None` when it has no such key.
pub(crate) async fn held_key(
    state: &AppState,
    org_id: i64,
    serial: &str,
) -> Result<Option<certdesk_store::OrgCertificate>, certdesk_store::StoreError> {
    let serial = serial.trim();
    Ok(state
        .store
        .org_certificates(org_id)
        .await?
        .into_iter()
        .find(|c| c.profile == "sign" && c.serial_hex.eq_ignore_ascii_case(serial)))
}

/// Why a key cannot have new certificates made for it (补办, 变更).
#[derive(Debug)]
pub(crate) enum KeyUnfit {
    /// The organisation has no key with this serial (upper-case).
    Unknown(String),
    Revoked,
    /// A renewal replaced its certificate: the new one is the key's now.
    Renewed,
    /// 移动版: the CA holds the keys.
    HeldKeys,
}

/// The organisation's key with `serial` that a 补办 or 变更 makes new certificates for, with the
/// application it was first issued under; or why it cannot be.
pub(crate) async fn replaceable_key(
    state: &AppState,
    org_id: i64,
    serial: &str,
) -> Result<
    Result<(certdesk_store::OrgCertificate, certdesk_store::Application), KeyUnfit>,
    IssuanceError,
> {
    let unknown = || KeyUnfit::Unknown(serial.trim().to_uppercase());
    let Some(held) = held_key(state, org_id, serial).await? else {
        return Ok(Err(unknown()));
    };
    if held.revoked_at.is_some() {
        return Ok(Err(KeyUnfit::Revoked));
    }
    if held.renewed {
        return Ok(Err(KeyUnfit::Renewed));
    }
    let Some(source) = state.store.application(held.source_order_id).await? else {
        return Ok(Err(unknown()));
    };
    if crate::products::product_facts(state, source.product_id)
        .await?
        .mobile
    {
        return Ok(Err(KeyUnfit::HeldKeys));
    }
    Ok(Ok((held, source)))
}

/// The organisation's keys a page offers for an after-issuance request (解锁, 吊销): each
/// signing certificate not revoked, as (serial, what it is).
pub(crate) async fn key_choices(
    state: &AppState,
    org_id: i64,
) -> Result<Vec<(String, String)>, certdesk_store::StoreError> {
    Ok(state
        .store
        .org_certificates(org_id)
        .await?
        .iter()
        .filter(|c| c.profile == "sign" && c.revoked_at.is_none())
        .map(|c| {
            (
                c.serial_hex.to_uppercase(),
                format!(
                    "{}（有效期至 {}）",
                    c.org_name,
                    crate::format_beijing(c.not_after)
                ),
            )
        })
        .collect())
}

pub(crate) fn algorithm_label(slug: &str) -> &'static str {
    match slug {
        "sm2" => "SM2",
        "p256" => "ECDSA P-256",
        _ => "其他",
    }
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(csr::csr_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
