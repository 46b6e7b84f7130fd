//! The one way an order moves (issue 10): the facts a step is decided on, the step the order's
//! workflow table makes ([`act_on_order`], [`checked_step`]), and the record the store applies
//! with its side writes and audit entry in one transaction ([`StepActor::record`]). Every
//! feature that moves an order goes through here; nothing else builds a step.

mod error;

pub(crate) use error::StepError;

use crate::web::flash;
use crate::AppState;
use certdesk_domain::{
    Actor, DeliveryMethod, OrderAction, OrderFacts, OrderStatus, SideEffect, Step, TransitionError,
};
use certdesk_store::StepRecord;

use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::pages::PageFailure;
use certdesk_domain::Action;
use certdesk_store::Order;
use serde::Serialize;
use utoipa::ToSchema;

use axum::response::Response;
use certdesk_domain::limits::{validity_days, LimitError, RA_ISSUANCE_ALLOWANCE_SECS};

/// The order `order_no`, if the user may `action` on it; another organisation's answers 404,
/// as if it did not exist.
/// Creates an order under a freshly drawn number (the time and a random part), drawing again
/// when `create` finds the number taken: every business type numbers its orders this way.
pub(crate) async fn with_fresh_order_number<T, F, Fut>(
    now: i64,
    mut create: F,
) -> Result<T, certdesk_store::StoreError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, certdesk_store::StoreError>>,
{
    use certdesk_store::StoreError;
    let at = jiff::Timestamp::from_second(now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for _ in 0..3 {
        let order_no = certdesk_domain::order_number(at, rand::random::<u32>() % 1_000_000_000);
        match create(order_no).await {
            Err(StoreError::Conflict("order_no")) => continue,
            done => return done,
        }
    }
    Err(StoreError::Corrupt(
        "could not draw an unused order number".into(),
    ))
}

pub(crate) async fn order_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<Order, StepError> {
    let order = state
        .store
        .order_by_no(order_no)
        .await?
        .ok_or(StepError::OrderNotFound)?;
    require(user, action, relation_to(user, None, Some(order.org_id)))?;
    Ok(order)
}

/// The facts the state machine needs about an order: what is due, what was paid, how the
/// certificate is delivered (from its application; mail when it has none), and, waiting for
/// issuance, why the CA would refuse it.
pub(crate) async fn facts_of(state: &AppState, order: &Order) -> Result<OrderFacts, StepError> {
    let paid: i64 = state
        .store
        .payments_of_order(order.id)
        .await?
        .iter()
        .map(|p| p.amount_fen)
        .sum();
    let delivery = match state.store.application(order.id).await? {
        Some(application) => match application.delivery_method.as_str() {
            "pickup" => DeliveryMethod::Pickup,
            "online" => DeliveryMethod::Online,
            _ => DeliveryMethod::Mail,
        },
        None => DeliveryMethod::Mail,
    };
    Ok(OrderFacts {
        delivery,
        cannot_issue: crate::pipeline::cannot_issue(state, order).await?,
        ..money_facts(order, paid)
    })
}

/// The facts of an order for steps about money (paying, closing, withdrawing, refunding), where
/// the delivery method plays no part: what is due and what was paid.
pub(crate) fn money_facts(order: &Order, paid_fen: i64) -> OrderFacts {
    OrderFacts {
        amount_due_fen: u64::try_from(order.amount_fen).unwrap_or(0),
        paid_amount_fen: u64::try_from(paid_fen).unwrap_or(0),
        payment_window_expired: false,
        delivery: DeliveryMethod::Mail,
        cannot_issue: None,
    }
}

/// Who takes a step, as the history and the audit log name them.
pub(crate) struct StepActor {
    account_id: Option<i64>,
    /// The history's label: the account name, marked 操作员代办 when an operator takes a
    /// supplier's step; 系统 or 支付网关 without an account.
    history_label: String,
    /// The audit entry's: the account name, `-` without one.
    audit_label: String,
}

impl StepActor {
    /// `user`, or the system when there is none.
    pub(crate) fn of(user: Option<&CurrentUser>, step: &Step) -> StepActor {
        match user {
            None => StepActor::unnamed("系统"),
            Some(user) => {
                let name = &user.account().username;
                StepActor {
                    account_id: Some(user.account().id),
                    history_label: if step.on_behalf() {
                        format!("{name}（操作员代办）")
                    } else {
                        name.clone()
                    },
                    audit_label: name.clone(),
                }
            }
        }
    }

    /// A payment gateway's notification.
    pub(crate) fn gateway() -> StepActor {
        StepActor::unnamed("支付网关")
    }

    fn unnamed(label: &str) -> StepActor {
        StepActor {
            account_id: None,
            history_label: label.to_string(),
            audit_label: "-".to_string(),
        }
    }

    /// The step as the store applies it (with the data its writes need, in one call).
    pub(crate) fn record<'a>(
        &'a self,
        at: i64,
        order: &'a Order,
        step: Step,
        note: &'a str,
    ) -> StepRecord<'a> {
        StepRecord {
            order,
            step,
            at,
            actor_account_id: self.account_id,
            actor_label: &self.history_label,
            audit_actor: &self.audit_label,
            note,
        }
    }
}

/// The one place a step is made: `action` by `actor` on `order`, checked against its business
/// type's workflow table with `facts`.
pub(crate) fn step_for(
    order: &Order,
    action: OrderAction,
    actor: Actor,
    facts: &OrderFacts,
) -> Result<Step, TransitionError> {
    order
        .kind
        .workflow()
        .step(order.status, action, actor, facts)
}

/// Checks `action` by `user` (or the system) against the workflow and applies it with its
/// history entry, its store-made side writes and its audit record in one transaction; answers
/// the order after it, and the step (whose follow-ups the caller runs: the table names them).
/// Refusals change nothing. A free order that passes initial review skips the cashier at once
/// (the step's SkipPaymentIfFree). A step whose writes need data (payment, issuance, delivery,
/// refund) is applied by its feature's store call instead.
pub(crate) async fn act_on_order(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    action: OrderAction,
    note: &str,
) -> Result<(Order, Step), StepError> {
    let CheckedStep { step, facts } = checked_step(state, user, order, action).await?;
    if let Some(effect) = step
        .effects()
        .iter()
        .find(|e| e.is_write() && **e != SideEffect::ReleaseVoucher && step.has(**e))
    {
        return Err(StepError::Inconsistent(format!(
            "{} needs the data of {effect:?}: apply it with its store call",
            step.action()
        )));
    }
    let who = StepActor::of(user, &step);
    if !state
        .store
        .apply_step(&who.record(state.now(), order, step, note))
        .await?
    {
        return Err(StepError::OrderChanged);
    }
    let after = order.after(&step);
    if step.has(SideEffect::SkipPaymentIfFree) && facts.is_free() {
        let (free, _) = Box::pin(act_on_order(
            state,
            None,
            &after,
            OrderAction::SkipPaymentFree,
            "免费订单，无需支付",
        ))
        .await?;
        return Ok((free, step));
    }
    Ok((after, step))
}

/// 提交 of an order whose feature fixed its price (续费, 补办: no 首张免费): the step, the
/// price and the voucher redeemed in one transaction; a free order then skips the cashier.
/// Answers the order after it, or — the inner error — why the voucher cannot be used.
pub(crate) async fn submit_at_price(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    amount_fen: i64,
    voucher_code: Option<&str>,
) -> Result<Result<Order, String>, StepError> {
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::Submit).await?;
    let who = StepActor::of(Some(user), &step);
    let submitted = state
        .store
        .submit_order(
            &who.record(state.now(), order, step, ""),
            &certdesk_store::FixedPrice {
                amount_fen,
                first_free: false,
                voucher_code,
            },
        )
        .await?;
    match submitted {
        certdesk_store::Submission::Submitted { .. } => {}
        certdesk_store::Submission::OrderChanged => return Err(StepError::OrderChanged),
        certdesk_store::Submission::FirstFreeTaken => {
            return Err(StepError::Inconsistent(format!(
                "{} claimed 首张免费",
                order.order_no
            )))
        }
        certdesk_store::Submission::VoucherRefused(refusal) => {
            return Ok(Err(crate::products::voucher_refusal(
                voucher_code.unwrap_or_default(),
                &refusal,
            )))
        }
    }
    let priced = Order {
        amount_fen,
        ..order.after(&step)
    };
    if step.has(SideEffect::SkipPaymentIfFree) && amount_fen == 0 {
        let (free, _) = Box::pin(act_on_order(
            state,
            None,
            &priced,
            OrderAction::SkipPaymentFree,
            "免费订单，无需支付",
        ))
        .await?;
        return Ok(Ok(free));
    }
    Ok(Ok(priced))
}

/// A step the rules allow, not yet applied, with the facts it was checked against: for
/// callers that write more with it (issuance, delivery, payments) in the same transaction.
pub(crate) struct CheckedStep {
    pub step: Step,
    pub facts: OrderFacts,
}

pub(crate) async fn checked_step(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    action: OrderAction,
) -> Result<CheckedStep, StepError> {
    let facts = facts_of(state, order).await?;
    let actor = user.map_or(Actor::System, |u| Actor::Role(u.role()));
    let step = step_for(order, action, actor, &facts)?;
    Ok(CheckedStep { step, facts })
}

/// The page asked for in a list, from 1 up to a bound that keeps `(page - 1) × page size`
/// far from overflowing whatever number arrives in the query.
pub(crate) fn page_number(asked: Option<i64>) -> i64 {
    const MAX_PAGE: i64 = 1_000_000;
    asked.unwrap_or(1).clamp(1, MAX_PAGE)
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    pub order_no: String,
    pub kind: String,
    /// 新办, 续费, 补办, 变更, 解锁
    pub kind_label: String,
    pub status: String,
    pub status_label: String,
    /// Yuan, two decimals.
    pub amount: String,
    /// 用户申请 or 操作员代办
    pub made_by: String,
    /// Beijing time.
    pub created_at: String,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            order_no: o.order_no.clone(),
            kind: o.kind.as_str().to_string(),
            kind_label: o.kind.label_zh().to_string(),
            status: o.status.as_str().to_string(),
            status_label: o.status.label_zh().to_string(),
            amount: certdesk_domain::product::yuan(o.amount_fen),
            made_by: if o.on_behalf {
                "操作员代办"
            } else {
                "用户申请"
            }
            .to_string(),
            created_at: crate::format_beijing(o.created_at),
        }
    }
}

/// After a page form: back to the order, with what happened or why not (a rule broken, the
/// order moved on) as the session's one-time notice; what cannot be told there (not found,
/// forbidden, ours) gets a page of its own.
pub(crate) async fn back_to_order<E: Into<PageFailure>>(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    result: Result<String, E>,
) -> Response {
    let to = format!("/orders/{order_no}");
    flash::back_with(
        state,
        user,
        &to,
        result.map_err(Into::into),
        flash::Slot::Error,
    )
    .await
}

/// Why the CA would refuse the certificate of an order waiting for issuance, `None` when
/// nothing stands in the way. Only orders in 待复审 (asked with a week of room: the key holder
/// sends the CSR some days after 复审) and 制证中 (asked for now) are checked; for every other
/// status, and orders without an application, the answer is `None`.
pub(crate) async fn cannot_issue(
    state: &AppState,
    order: &Order,
) -> Result<Option<LimitError>, StepError> {
    let issue_at = match order.status {
        OrderStatus::AwaitingSecondReview => state.now().saturating_add(RA_ISSUANCE_ALLOWANCE_SECS),
        OrderStatus::Issuing => state.now(),
        _ => return Ok(None),
    };
    let Some(application) = state.store.application(order.id).await? else {
        return Ok(None);
    };
    let product = crate::products::product_facts(state, application.product_id).await?;
    let algorithm = certdesk_ca::algorithm_from_slug(product.algorithm).ok_or_else(|| {
        StepError::Inconsistent(format!("product algorithm {}", product.algorithm))
    })?;
    // The certificate names the organisation as it registered.
    let organisation = crate::pipeline::registered_organisation(state, order).await?;
    // Years out of range give 0 days, which the CA refuses too.
    let days = u32::try_from(application.years).map_or(0, validity_days);
    Ok(state
        .ca
        .check_limits(algorithm, &organisation.name, days, issue_at)
        .err())
}

/// The organisation an order is for, as it registered: what its certificate names.
pub(crate) async fn registered_organisation(
    state: &AppState,
    order: &Order,
) -> Result<certdesk_store::Organisation, StepError> {
    state
        .store
        .organisation_by_id(order.org_id)
        .await?
        .ok_or_else(|| {
            StepError::Inconsistent(format!("order {} has no organisation", order.order_no))
        })
}
