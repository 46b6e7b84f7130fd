//! 续费/延期 and 批量续费 (DOMAIN.md, business type 2): the organisation's admin (or an operator
//! for it) renews one or many certificates in one order with one payment; the CA reviews after
//! payment; then each key is renewed when its holder connects it — the key's certificate
//! serial must be one of the order's (guide 000's 证书序列号校验) and its request must carry the
//! same public key, since a renewal keeps the key pairs (the SM2 encryption key pair is
//! certified again from its archive, so bids sealed to the old certificate still open). The old
//! certificates are revoked (superseded) once the grace after installation is over
//! ([`supersede_renewed`]).

mod error;
mod page;

pub use error::RenewalError;

use crate::pipeline::{
    checked_step, order_for, with_fresh_order_number, CheckedStep, OrderView, StepActor,
};
use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::json::ApiJson;
use crate::web::routes::Registry;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use certdesk_ca::{IssuanceSerials, IssueRequest, LeafProfile};
use certdesk_domain::renewal::{renewal_check, renewed_validity_days, RenewalCheck};
use certdesk_domain::{Action, BusinessType, OrderAction, OrderStatus, UploadKind};
use certdesk_store::{
    IssuanceRecorded, NewOrder, NewRenewal, Order, OrgCertificate, Renewal, RenewalItem,
    RenewalTarget,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most certificates one order renews (批量续费); more are renewed in several orders.
pub const MAX_CERTIFICATES: usize = 200;

/// A claim on a key older than this died with its request and is taken over.
const STALE_CLAIM_SECS: i64 = 10 * 60;

/// The revocation reason of a certificate signed for a key whose renewal had moved on.
const UNLINKED_REASON: &str = "cessationOfOperation";

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/renewals", ListOrgCertificates, page::renewals_page)
        .post("/ca/renewals", ApplyForCertificate, page::create_page)
        .post(
            "/orders/{order_no}/renewal/submit",
            EditApplication,
            page::submit_page,
        )
        .post(
            "/orders/{order_no}/renewal/install",
            SubmitCertificateRequest,
            page::install_page,
        )
        .get(
            "/orders/{order_no}/renewal/{serial}/{file}",
            SubmitCertificateRequest,
            page::download_page,
        )
        .post(
            "/ca/renewals/{order_no}/identity",
            RunIdentityCheck,
            page::identity_page,
        )
        .post(
            "/ca/renewals/{order_no}/licence",
            EditApplication,
            axum::handler::Handler::layer(
                page::licence_page,
                axum::extract::DefaultBodyLimit::max(crate::UPLOAD_PAGE_BODY_LIMIT),
            ),
        )
        .post("/api/v1/renewals", ApplyForCertificate, create_api)
        .get("/api/v1/renewals/{order_no}", ViewOrder, view_api)
        .post(
            "/api/v1/renewals/{order_no}/submit",
            EditApplication,
            submit_api,
        )
        .post(
            "/api/v1/renewals/{order_no}/install",
            SubmitCertificateRequest,
            install_api,
        )
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RenewalRequestBody {
    /// The signing certificates' serials (证书序列号, hex), one or many (批量续费).
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Whole years, within the product's range.
    #[serde(default)]
    pub years: i64,
    /// 抵扣券.
    #[serde(default)]
    pub voucher: Option<String>,
    /// The supplier says bids are in progress (guide 002): then `confirm_bids` must be true.
    #[serde(default)]
    pub bids_in_progress: bool,
    #[serde(default)]
    pub confirm_bids: bool,
    /// For an operator's 代办: the organisation's credit code.
    #[serde(default)]
    pub for_credit_code: Option<String>,
}

/// The organisation an acting user renews for: its own, or (an operator's 代办) the one named.
async fn renewing_org(
    state: &AppState,
    user: &CurrentUser,
    for_credit_code: Option<&str>,
) -> Result<i64, RenewalError> {
    let org_id = crate::applications::applying_org(state, user, for_credit_code).await?;
    require(
        user,
        Action::ApplyForCertificate,
        relation_to(user, None, Some(org_id)),
    )?;
    Ok(org_id)
}

/// The certificate to renew with `serial`, checked: the organisation's signing certificate, not
/// revoked, inside its renewal window.
fn renewable<'a>(
    held: &'a [OrgCertificate],
    serial: &str,
    now: i64,
) -> Result<&'a OrgCertificate, RenewalError> {
    let serial = serial.trim();
    let certificate = held
        .iter()
        .find(|c| c.profile == "sign" && c.serial_hex.eq_ignore_ascii_case(serial))
        .ok_or_else(|| RenewalError::UnknownCertificate(serial.to_uppercase()))?;
    if certificate.revoked_at.is_some() {
        return Err(RenewalError::Revoked(serial.to_uppercase()));
    }
    if certificate.renewed {
        return Err(RenewalError::AlreadyRenewed(serial.to_uppercase()));
    }
    match renewal_check(certificate.not_after, now) {
        RenewalCheck::Open { .. } => Ok(certificate),
        RenewalCheck::NotYet { opens } => Err(RenewalError::TooEarly {
            serial: serial.to_uppercase(),
            expires: crate::format_beijing(certificate.not_after),
            opens: crate::format_beijing(opens),
        }),
        RenewalCheck::Closed { closed } => Err(RenewalError::TooLate {
            serial: serial.to_uppercase(),
            expired: crate::format_beijing(certificate.not_after),
            closed: crate::format_beijing(closed),
        }),
    }
}

async fn create_renewal(
    state: &AppState,
    user: &CurrentUser,
    req: &RenewalRequestBody,
) -> Result<Order, RenewalError> {
    let org_id = renewing_org(state, user, req.for_credit_code.as_deref()).await?;
    let mut serials: Vec<String> = req
        .certificates
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    serials.sort();
    serials.dedup();
    if serials.is_empty() {
        return Err(RenewalError::NothingChosen);
    }
    if serials.len() > MAX_CERTIFICATES {
        return Err(RenewalError::TooMany {
            max: MAX_CERTIFICATES,
        });
    }
    let years = u32::try_from(req.years).map_err(|_| RenewalError::InvalidYears)?;
    let now = state.now();
    let held = state.store.org_certificates(org_id).await?;
    let mut targets = Vec::with_capacity(serials.len());
    let mut product_id = None;
    let mut lapsed = false;
    for serial in &serials {
        let certificate = renewable(&held, serial, now)?;
        let application = state
            .store
            .application(certificate.source_order_id)
            .await?
            .ok_or_else(|| RenewalError::UnknownCertificate(serial.to_uppercase()))?;
        if product_id.is_some_and(|p| p != application.product_id) {
            return Err(RenewalError::MixedProducts);
        }
        product_id = Some(application.product_id);
        lapsed |= certificate.not_after <= now;
        targets.push(RenewalTarget {
            certificate_id: certificate.certificate_id,
            source_order_id: certificate.source_order_id,
        });
    }
    let product_id = product_id.ok_or(RenewalError::NothingChosen)?;
    if req.bids_in_progress && !req.confirm_bids {
        return Err(RenewalError::BidsNeedConfirmation);
    }
    let voucher = req
        .voucher
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let (_, quote) = crate::products::price_renewal(
        state,
        &crate::products::OrderPricing {
            org_id,
            product_id,
            years,
            sub_certificates: 0,
            voucher,
            order_id: None,
            now,
        },
        u32::try_from(targets.len()).unwrap_or(u32::MAX),
    )
    .await?;
    let voucher = voucher.and_then(certdesk_domain::product::normalise_voucher_code);
    let on_behalf = user.account().org_id.is_none();
    let detail = format!("续费 {} 张证书，{} 年", targets.len(), years);
    let created = with_fresh_order_number(now, |order_no| {
        let renewal = NewRenewal {
            product_id,
            years: i64::from(years),
            voucher_code: voucher.as_deref(),
            lapsed,
            bids_confirmed: req.bids_in_progress,
        };
        let targets = &targets;
        let detail = &detail;
        async move {
            state
                .store
                .create_renewal_order(
                    &NewOrder {
                        order_no: &order_no,
                        org_id,
                        kind: BusinessType::Renewal,
                        amount_fen: quote.amount_due_fen,
                        created_by: user.account().id,
                        on_behalf,
                        created_at: now,
                    },
                    &renewal,
                    targets,
                    &certdesk_store::AuditNote {
                        at: now,
                        actor_account_id: Some(user.account().id),
                        actor_label: &user.account().username,
                        org_id: Some(org_id),
                        detail,
                    },
                )
                .await
        }
    })
    .await;
    match created {
        Err(certdesk_store::StoreError::Conflict("renewal")) => Err(RenewalError::AlreadyRenewing(
            serials.join("、").to_uppercase(),
        )),
        other => Ok(other?),
    }
}

async fn renewal_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<(Order, Renewal), RenewalError> {
    let order = order_for(state, user, order_no, action).await?;
    if order.kind != BusinessType::Renewal {
        return Err(RenewalError::NotARenewal);
    }
    let renewal = state
        .store
        .renewal(order.id)
        .await?
        .ok_or(RenewalError::NotARenewal)?;
    Ok((order, renewal))
}

/// The registered legal representative of a renewal's keys (name, ID number, mobile), from
/// the 新办 form of its first key; `None` when none was registered (a key adopted from the
/// counter).
pub(super) async fn registered_legal_rep_person(
    state: &AppState,
    order: &Order,
) -> Result<Option<(String, String, String)>, RenewalError> {
    let items = state.store.renewal_items(order.id).await?;
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let Some(application) = state.store.application(first.source_order_id).await? else {
        return Ok(None);
    };
    let rep = crate::applications::form_of(state, &application)?.legal_rep;
    Ok(Some((rep.name, rep.id_number, rep.mobile)).filter(|(_, id, _)| !id.is_empty()))
}

/// What a lapsed renewal still needs before 提交: (the identity check of the registered legal
/// representative — of anyone checked on the order when none is registered —, the licence).
/// `legal_rep` is [`registered_legal_rep_person`]'s answer, read once by the caller.
pub(super) async fn still_needed(
    state: &AppState,
    order: &Order,
    legal_rep: Option<&(String, String, String)>,
) -> Result<(bool, bool), RenewalError> {
    let checked = match legal_rep {
        Some((_, id_number, _)) => {
            crate::identity::passed_identity_check(state, order.id, id_number)
                .await?
                .is_some()
        }
        None => state
            .store
            .identity_checks_of_order(order.id)
            .await?
            .iter()
            .any(|c| c.status == certdesk_domain::CheckStatus::Passed.as_str()),
    };
    let licence = state
        .store
        .order_uploads(order.id)
        .await?
        .iter()
        .any(|u| u.kind == UploadKind::BusinessLicence.as_str());
    Ok((!checked, !licence))
}

/// 提交 (or 修改后重新提交 after a rejection): the price fixed with the voucher redeemed; a
/// lapsed certificate's renewal needs the legal representative's identity check and the
/// business licence first. A free renewal goes straight to the CA's review.
async fn submit(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, RenewalError> {
    let (order, renewal) = renewal_for(state, user, order_no, Action::EditApplication).await?;
    let items = state.store.renewal_items(order.id).await?;
    if renewal.lapsed {
        let legal_rep = registered_legal_rep_person(state, &order).await?;
        let (identity, licence) = still_needed(state, &order, legal_rep.as_ref()).await?;
        if identity {
            return Err(RenewalError::IdentityNotChecked);
        }
        if licence {
            return Err(RenewalError::LicenceMissing);
        }
    }
    if order.status == OrderStatus::Rejected {
        let (after, _) = crate::pipeline::act_on_order(
            state,
            Some(user),
            &order,
            OrderAction::EditAndResubmit,
            "",
        )
        .await?;
        return Ok(after);
    }
    // Priced again now, at today's prices, for the certificates still in the window.
    let now = state.now();
    for item in &items {
        if let RenewalCheck::Closed { closed } = renewal_check(item.not_after, now) {
            return Err(RenewalError::TooLate {
                serial: item.serial_hex.to_uppercase(),
                expired: crate::format_beijing(item.not_after),
                closed: crate::format_beijing(closed),
            });
        }
    }
    let (_, quote) = crate::products::price_renewal(
        state,
        &crate::products::OrderPricing {
            org_id: order.org_id,
            product_id: renewal.product_id,
            years: u32::try_from(renewal.years).map_err(|_| RenewalError::InvalidYears)?,
            sub_certificates: 0,
            voucher: renewal.voucher_code.as_deref(),
            order_id: Some(order.id),
            now,
        },
        u32::try_from(items.len()).unwrap_or(u32::MAX),
    )
    .await?;
    crate::pipeline::submit_at_price(
        state,
        user,
        &order,
        quote.amount_due_fen,
        renewal.voucher_code.as_deref(),
    )
    .await?
    .map_err(RenewalError::VoucherRefused)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// The serial of the certificate in the key (as the key holder's agent reads it).
    #[serde(default)]
    pub key_serial: String,
    /// A PKCS#10 request made by the key with its signing key pair, PEM.
    #[serde(default)]
    pub csr: String,
}

/// What a renewed key receives, for the key holder's agent to write into it.
#[derive(Serialize, ToSchema)]
pub struct InstalledView {
    pub order: OrderView,
    /// The new signing certificate, PEM.
    pub signing_certificate: String,
    pub encryption_certificate: Option<String>,
    /// GM/T 0009 SM2EnvelopedKey of the (same) encryption key, sealed to the signing key,
    /// base64 DER.
    pub envelope_gmt0009: Option<String>,
    /// GM/T 0016 ENVELOPEDKEYBLOB, base64.
    pub envelope_skf: Option<String>,
    /// Beijing time.
    pub valid_from: String,
    pub valid_to: String,
}

/// Renews one key of an order in 制证中: the key's certificate serial must be the order's and
/// its request must carry the same public key; the CA signs for the same key pairs (the SM2
/// encryption key pair certified again from its archive); the certificates are recorded with
/// the item, and the order completes with its last key.
async fn install(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    req: &InstallRequest,
) -> Result<InstalledView, RenewalError> {
    use base64::Engine as _;
    let (order, renewal) =
        renewal_for(state, user, order_no, Action::SubmitCertificateRequest).await?;
    if req.csr.trim().is_empty() {
        return Err(RenewalError::CsrRequired);
    }
    let serial = req.key_serial.trim();
    let items = state.store.renewal_items(order.id).await?;
    let item = items
        .iter()
        .find(|i| i.serial_hex.eq_ignore_ascii_case(serial))
        .ok_or_else(|| RenewalError::KeyNotInOrder(serial.to_uppercase()))?;
    if item.new_signing_certificate_id.is_some() {
        return Err(RenewalError::AlreadyRenewed(serial.to_uppercase()));
    }
    let CheckedStep { step, .. } =
        checked_step(state, None, &order, OrderAction::MarkIssued).await?;
    let organisation = crate::pipeline::registered_organisation(state, &order).await?;
    let product = crate::products::product_facts(state, renewal.product_id).await?;
    if product.mobile {
        return Err(RenewalError::HeldKeys);
    }
    let now = state.now();
    let years = u32::try_from(renewal.years).map_err(|_| RenewalError::InvalidYears)?;
    let mut prepared = state
        .ca
        .prepare(
            &IssueRequest {
                csr: req.csr.as_bytes(),
                profile: LeafProfile::Sign,
                org_name: &organisation.name,
                credit_code: &organisation.credit_code,
                validity_days: renewed_validity_days(years, item.not_after, now),
            },
            product.dual,
        )
        .map_err(RenewalError::of_ca)?;
    // The same key: the request's public key is the old certificate's.
    let old_der = state
        .store
        .certificate_der_by_id(item.certificate_id)
        .await?
        .ok_or_else(|| RenewalError::UnknownCertificate(serial.to_uppercase()))?;
    let old_public_key =
        certdesk_ca::public_key_sha256_of(&old_der).map_err(RenewalError::of_ca)?;
    if old_public_key != prepared.public_key_sha256() {
        return Err(RenewalError::DifferentKey(serial.to_uppercase()));
    }
    if let Some(encryption_id) = old_encryption_of(state, item).await? {
        prepared = prepared
            .keeping_encryption_key_of(&encryption_id)
            .map_err(RenewalError::of_ca)?;
    }
    let serials = IssuanceSerials::draw(product.dual).map_err(RenewalError::of_ca)?;
    if !state
        .store
        .claim_renewal_item(
            order.id,
            item.certificate_id,
            &serials.signing,
            serials.encryption.as_deref(),
            now,
            now - STALE_CLAIM_SECS,
        )
        .await?
    {
        return Err(RenewalError::Installing);
    }
    let signed = match state.ca.sign_prepared(&prepared, &serials).await {
        Ok(signed) => signed,
        Err(err) => {
            state
                .store
                .release_renewal_item(order.id, item.certificate_id, &serials.signing)
                .await?;
            return Err(RenewalError::of_ca(err));
        }
    };
    let who = StepActor::of(None, &step);
    let note = format!(
        "证书 {} 已续费（{} 写入新证书）",
        item.serial_hex.to_uppercase(),
        user.account().username
    );
    let recorded = state
        .store
        .complete_renewal_item(
            item.certificate_id,
            &signed.for_order(),
            &who.record(now, &order, step, &note),
            UNLINKED_REASON,
        )
        .await;
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(err) => {
            state
                .store
                .release_renewal_item(order.id, item.certificate_id, &serials.signing)
                .await?;
            return Err(err.into());
        }
    };
    match recorded {
        IssuanceRecorded::Linked { .. } => {}
        IssuanceRecorded::Revoked(revoked) => {
            state
                .ca
                .publish_revocations(&revoked)
                .await
                .map_err(RenewalError::of_ca)?;
            return Err(crate::pipeline::StepError::OrderChanged.into());
        }
    }
    let after = state.store.order_by_id(order.id).await?.unwrap_or(order);
    let issued = signed.for_order();
    let b64 =
        |bytes: Option<&[u8]>| bytes.map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    Ok(InstalledView {
        order: OrderView::from(&after),
        signing_certificate: crate::issuance::certificate_pem_of_der(&signed.signing.der),
        encryption_certificate: signed
            .encryption
            .as_ref()
            .map(|e| crate::issuance::certificate_pem_of_der(&e.der)),
        envelope_gmt0009: b64(issued.envelope_gmt0009),
        envelope_skf: b64(issued.envelope_skf),
        valid_from: crate::format_beijing(signed.signing.not_before),
        valid_to: crate::format_beijing(signed.signing.not_after),
    })
}

/// Renews at once the keys of a renewal in 制证中 whose product's keys the CA holds (移动版):
/// each key not yet renewed is claimed, signed for the same key pairs and recorded, and the
/// order completes with the last. Answers the order's status, or `None` for a UKey product
/// (its key holders connect their keys). A key another request is renewing is left to it.
pub(crate) async fn renew_held_keys(
    state: &AppState,
    order: &Order,
) -> Result<Option<OrderStatus>, RenewalError> {
    let Some(renewal) = state.store.renewal(order.id).await? else {
        return Ok(None);
    };
    let product = crate::products::product_facts(state, renewal.product_id).await?;
    if !product.mobile {
        return Ok(None);
    }
    let algorithm = certdesk_ca::algorithm_from_slug(product.algorithm).ok_or_else(|| {
        crate::pipeline::StepError::Inconsistent(format!("product algorithm {}", product.algorithm))
    })?;
    let organisation = crate::pipeline::registered_organisation(state, order).await?;
    let years = u32::try_from(renewal.years).map_err(|_| RenewalError::InvalidYears)?;
    for item in state.store.renewal_items(order.id).await? {
        if item.new_signing_certificate_id.is_some() {
            continue;
        }
        let Ok(CheckedStep { step, .. }) =
            checked_step(state, None, order, OrderAction::MarkIssued).await
        else {
            break;
        };
        let now = state.now();
        let serials = IssuanceSerials::draw(product.dual).map_err(RenewalError::of_ca)?;
        if !state
            .store
            .claim_renewal_item(
                order.id,
                item.certificate_id,
                &serials.signing,
                serials.encryption.as_deref(),
                now,
                now - STALE_CLAIM_SECS,
            )
            .await?
        {
            continue;
        }
        let encryption = old_encryption_of(state, &item).await?;
        let held = certdesk_ca::HeldRequest {
            algorithm,
            dual: product.dual,
            org_name: &organisation.name,
            credit_code: &organisation.credit_code,
            validity_days: renewed_validity_days(years, item.not_after, now),
            keep_signing_key_of: Some(&item.serial_hex),
            keep_encryption_key_of: encryption.as_deref(),
        };
        let signed = match state.ca.sign_held(&held, &serials).await {
            Ok(signed) => signed,
            Err(err) => {
                state
                    .store
                    .release_renewal_item(order.id, item.certificate_id, &serials.signing)
                    .await?;
                return Err(RenewalError::of_ca(err));
            }
        };
        let who = StepActor::of(None, &step);
        let note = format!(
            "移动版证书 {} 已续费（密钥由CA托管）",
            item.serial_hex.to_uppercase()
        );
        let recorded = state
            .store
            .complete_renewal_item(
                item.certificate_id,
                &signed.for_order(),
                &who.record(now, order, step, &note),
                UNLINKED_REASON,
            )
            .await;
        match recorded {
            Ok(IssuanceRecorded::Linked { .. }) => {}
            Ok(IssuanceRecorded::Revoked(revoked)) => {
                state
                    .ca
                    .publish_revocations(&revoked)
                    .await
                    .map_err(RenewalError::of_ca)?;
                return Err(crate::pipeline::StepError::OrderChanged.into());
            }
            Err(err) => {
                state
                    .store
                    .release_renewal_item(order.id, item.certificate_id, &serials.signing)
                    .await?;
                return Err(err.into());
            }
        }
    }
    Ok(state.store.order_by_id(order.id).await?.map(|o| o.status))
}

/// Renewals of keys the CA holds left in 制证中 (a crash, a CA away at approval): renewed now.
/// Answers how many orders completed.
pub async fn renew_held_pending(state: &AppState) -> Result<u64, RenewalError> {
    let mut completed = 0;
    for order in state
        .store
        .orders_in_status_since(OrderStatus::Issuing, i64::MAX)
        .await?
        .into_iter()
        .filter(|o| o.kind == BusinessType::Renewal)
    {
        if renew_held_keys(state, &order).await? == Some(OrderStatus::Completed) {
            completed += 1;
        }
    }
    Ok(completed)
}

/// The serial of the encryption certificate issued with the renewed signing certificate.
async fn old_encryption_of(
    state: &AppState,
    item: &RenewalItem,
) -> Result<Option<String>, RenewalError> {
    let serials = state
        .store
        .key_certificate_serials(item.certificate_id)
        .await?;
    Ok(serials
        .into_iter()
        .find(|s| !s.eq_ignore_ascii_case(&item.serial_hex)))
}

/// Revokes (superseded) the old certificates of keys renewed at least `grace_secs` ago and
/// marks them; answers how many keys. Idempotent at the CA, so a crash between the two is
/// mended by the next run.
pub async fn supersede_renewed(state: &AppState, grace_secs: i64) -> Result<u64, RenewalError> {
    let now = state.now();
    let mut done = 0;
    loop {
        let due = state
            .store
            .superseded_due(now.saturating_sub(grace_secs), 100)
            .await?;
        if due.is_empty() {
            return Ok(done);
        }
        for key in &due {
            crate::issuance::revoke_key(
                state,
                key.certificate_id,
                &key.serial_hex,
                certdesk_ca::CrlReason::Superseded,
            )
            .await?;
            state
                .store
                .mark_superseded(key.order_id, key.certificate_id, now)
                .await?;
            crate::web::audit_trail::record(
                state,
                None,
                Some(key.org_id),
                certdesk_domain::AuditAction::CertificateRevoked,
                &format!("order:{}", key.order_no),
                "续费后原证书已吊销（superseded）",
            )
            .await;
            done += 1;
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RenewalItemView {
    /// The certificate renewed, upper-case hex.
    pub serial: String,
    pub valid_to: String,
    /// 待写入 or 已续费.
    pub status: String,
    pub new_serial: Option<String>,
    pub new_valid_to: Option<String>,
    pub renewed_at: Option<String>,
    /// Whether the old certificate was revoked (superseded) after the grace.
    pub superseded: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RenewalView {
    pub order: OrderView,
    pub years: i64,
    pub voucher: Option<String>,
    /// A certificate had expired: the identity check and the licence were asked for.
    pub lapsed: bool,
    pub bids_confirmed: bool,
    /// SM2 dual pairs: each key gets an encryption certificate and its envelope too.
    pub dual: bool,
    pub certificates: Vec<RenewalItemView>,
    /// How many keys are renewed of how many.
    pub renewed: usize,
}

async fn renewal_view(
    state: &AppState,
    order: &Order,
    renewal: &Renewal,
) -> Result<RenewalView, RenewalError> {
    let items = state.store.renewal_items(order.id).await?;
    let certificates: Vec<RenewalItemView> = items
        .iter()
        .map(|i| RenewalItemView {
            serial: i.serial_hex.to_uppercase(),
            valid_to: crate::format_beijing(i.not_after),
            status: if i.new_signing_certificate_id.is_some() {
                "已续费"
            } else {
                "待写入"
            }
            .to_string(),
            new_serial: i.new_serial_hex.as_ref().map(|s| s.to_uppercase()),
            new_valid_to: i.new_not_after.map(crate::format_beijing),
            renewed_at: i.renewed_at.map(crate::format_beijing),
            superseded: i.superseded_at.is_some(),
        })
        .collect();
    Ok(RenewalView {
        order: OrderView::from(order),
        years: renewal.years,
        voucher: renewal.voucher_code.clone(),
        lapsed: renewal.lapsed,
        bids_confirmed: renewal.bids_confirmed,
        dual: items
            .iter()
            .any(|i| i.new_encryption_certificate_id.is_some()),
        renewed: certificates
            .iter()
            .filter(|c| c.new_serial.is_some())
            .count(),
        certificates,
    })
}

/// For the order page: what the renewal is, as (label, value).
pub(crate) async fn summary(
    state: &AppState,
    order: &Order,
) -> Result<Vec<(&'static str, String)>, RenewalError> {
    let Some(renewal) = state.store.renewal(order.id).await? else {
        return Ok(Vec::new());
    };
    let view = renewal_view(state, order, &renewal).await?;
    let mut rows = vec![
        ("续费年限", format!("{} 年", view.years)),
        (
            "续费进度",
            format!(
                "已续费 {} / {} 个CA锁",
                view.renewed,
                view.certificates.len()
            ),
        ),
    ];
    for c in &view.certificates {
        let value = match (&c.new_serial, &c.new_valid_to) {
            (Some(new_serial), Some(to)) => format!(
                "原证书有效期至 {}；已续费，新证书 {new_serial} 有效期至 {to}{}",
                c.valid_to,
                if c.superseded {
                    "，原证书已吊销（已被替换）"
                } else {
                    ""
                }
            ),
            _ => format!("原证书有效期至 {}；待插入CA锁写入新证书", c.valid_to),
        };
        rows.push(("证书", format!("{}：{value}", c.serial)));
    }
    if view.lapsed {
        rows.push((
            "证书已过期",
            "需法定代表人身份核验并上传营业执照，由CA人工审核".into(),
        ));
    }
    if view.bids_confirmed {
        rows.push((
            "投标进行中",
            "用户已确认：续费保留原有密钥，已加密的投标文件仍可解密".into(),
        ));
    }
    Ok(rows)
}

/// Starts a renewal (草稿) of one or many of the organisation's certificates.
#[utoipa::path(post, path = "/api/v1/renewals", request_body = RenewalRequestBody,
    responses((status = 201, body = RenewalView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<RenewalRequestBody>,
) -> Result<(StatusCode, Json<RenewalView>), ApiError> {
    let order = create_renewal(&state, &user, &req).await?;
    let (order, renewal) = renewal_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok((
        StatusCode::CREATED,
        Json(renewal_view(&state, &order, &renewal).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/renewals/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = RenewalView), (status = 404, body = ErrorBody)))]
pub(crate) async fn view_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<RenewalView>, ApiError> {
    let (order, renewal) = renewal_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(renewal_view(&state, &order, &renewal).await?))
}

/// 提交 (or resubmit after a rejection).
#[utoipa::path(post, path = "/api/v1/renewals/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = RenewalView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<RenewalView>, ApiError> {
    let order = submit(&state, &user, &order_no).await?;
    let renewal = state
        .store
        .renewal(order.id)
        .await
        .map_err(RenewalError::from)?
        .ok_or(RenewalError::NotARenewal)?;
    Ok(Json(renewal_view(&state, &order, &renewal).await?))
}

/// Renews one key of the order (in 制证中): the key's certificate serial and a request made by
/// the key; answers the new certificates and the envelope for the key.
#[utoipa::path(post, path = "/api/v1/renewals/{order_no}/install", params(("order_no" = String, Path)), request_body = InstallRequest,
    responses((status = 201, body = InstalledView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn install_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    ApiJson(req): ApiJson<InstallRequest>,
) -> Result<(StatusCode, Json<InstalledView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(install(&state, &user, &order_no, &req).await?),
    ))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, view_api, submit_api, install_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
