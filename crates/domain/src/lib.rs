//! Pure rules of certdesk. Nothing in this crate performs I/O or awaits: every function is a
//! deterministic rule over values, so it can be tested exhaustively.

pub mod account;

pub use account::{validate_new_password, validate_username, UnknownRole};
pub use account::{PasswordPolicyError, Role, UsernameError};
pub mod identifiers;
pub use identifiers::{
    validate_credit_code, validate_resident_id, CreditCodeError, ResidentIdError,
};
pub mod permissions;
pub use permissions::{access, authorize, permits, Access, Action, Reach, Refusal, Relation};
pub mod calendar;
pub use calendar::{
    CalendarDataError, CalendarWarning, DayKind, Deadline, Holiday, WorkCalendar, YearCalendar,
    DAILY_CUT_OFF,
};
pub mod order;
pub use order::{
    order_number, payment_window_expired, reviews_own_order, Actor, DeliveryMethod, OrderAction,
    OrderFacts, OrderStatus, PAYMENT_WINDOW,
};
pub mod workflow;
pub use workflow::{
    BusinessType, SideEffect, Step, TransitionError, UnknownBusinessType, UnmetRequirement,
    Workflow,
};
pub mod audit;
pub use audit::{
    entry_hash, mask_bank_card, mask_credit_code, mask_mobile, mask_resident_id, verify_chain,
    AuditAction, AuditEntry, AuditFields, BreakReason, BrokenEntry, ChainVerifier,
    UnknownAuditAction, GENESIS_PREV_HASH,
};
pub mod upload;
pub use upload::{ImageFormat, Impostor, UnknownUploadKind, UploadKind, UploadRefusal};
pub mod application;
pub use application::{ApplicationForm, DeliveryChoice, FieldError};
pub mod certificate;
pub use certificate::{certificate_state, CertificateState};
pub mod product;
pub use product::{
    quote, validate_product, DiscountKind, DiscountLine, KeyAlgorithm, Medium, ProductError,
    ProductSpec, Quote, QuoteError, QuoteRequest, VoucherFacts,
};
pub mod identity;
pub use identity::{CheckStatus, CodeOutcome, IdentityInputError, IdentityMethod, PendingCode};
pub mod change;
pub mod claim;
pub mod limits;
pub mod outbox;
pub mod renewal;
pub mod replacement;
pub mod revocation;
pub mod unlock;
pub use claim::{ClaimDecision, ClaimStatus};
pub use limits::LimitError;
