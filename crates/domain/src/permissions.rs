//! Who may do what to whose objects: one table, read by the server for every route and page
//! and by the authorization test that walks every route.
//!
//! An action is either public (no account needed) or granted per role with a *reach*: only the
//! actor's own account, anything of the actor's organisation, or anything on the platform.
//! Asking about another organisation's object is answered as if it did not exist (404), so that
//! existence does not leak; a refusal within reach of the organisation is 403.

use crate::Role;

/// Everything a route or page can do. Adding a variant forces a row in [`access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // Public.
    Health,
    StaticAsset,
    PublishPki,
    ReadApiDescription,
    /// The 数字证书服务协议 and the 电子认证业务规则 (CPS), readable before signing up.
    ReadTerms,
    ViewLoginPage,
    LogIn,
    RegisterOrganisation,
    /// 单位认领: file a claim to a credit code someone else registered, and follow it with
    /// the query code given at filing.
    ClaimOrganisation,
    RequestLoginChallenge,
    LogInWithCertificate,
    /// The payment gateway's signed notifications: public, authenticated by their signature.
    ReceivePaymentNotification,
    /// The built-in sandbox gateway's payer page (what a phone shows after scanning the QR
    /// code): public, reached only through an unguessable trade token.
    UseSandboxGateway,
    // Any signed-in account, on itself.
    LogOut,
    ViewWorkbench,
    ViewOwnAccount,
    ChangeOwnPassword,
    ManageOwnApiTokens,
    /// 消息: the account's own in-app messages (expiry reminders, …).
    ReadOwnMessages,
    ListCaProviders,
    // Organisation and platform objects.
    ListAccounts,
    CreateAccount,
    /// Disable, enable or reset the password of another account.
    ManageAccount,
    ListBindings,
    RequestBindingChallenge,
    BindCertificate,
    UnbindCertificate,
    ImportProviderCa,
    SearchAudit,
    ListOrders,
    ViewOrder,
    /// 初审 (platform operators) and 复审 (CA officers); which review a role may do is the
    /// order state machine's rule.
    ReviewOrder,
    /// 新办: start an application (the organisation admin, or an operator for it: 代办).
    ApplyForCertificate,
    /// Fill in, upload to, and submit a draft or rejected application.
    EditApplication,
    /// See an application's uploaded documents.
    ViewOrderDocument,
    /// Hand in the key holder's CSR for an order in 制证中, and fetch what was issued.
    SubmitCertificateRequest,
    /// 解锁: ask to unlock one of the organisation's keys (its admin: the keys are its).
    RequestUnlock,
    /// 吊销: ask to revoke one of the organisation's certificates.
    RequestRevocation,
    /// Use a 解锁授权码 on the key it was issued for (the key holder's agent, signed in as the
    /// organisation's admin).
    UseUnlockCode,
    /// 制证: at the CA's station, make the key pairs on a blank UKey for an order in 制证中,
    /// issue, and write the certificates (and the SO PIN the CA keeps) into it.
    ProduceKey,
    /// Ship a key or mark it ready at the counter.
    DeliverOrder,
    /// 确认收货.
    ConfirmReceipt,
    /// The organisation's certificates (我的证书).
    ListOrgCertificates,
    /// The cashier (收银台) of an order: the organisation admin pays; an operator may look.
    ViewCashier,
    /// Paying an order: the organisation admin's own act (e.g. uploading a bank-transfer
    /// receipt). Operators do not pay for suppliers.
    PayOrder,
    /// Withdrawing an order (撤销): the organisation admin, or an operator on its behalf; the
    /// order state machine decides in which statuses.
    WithdrawOrder,
    /// Confirming or rejecting an offline bank transfer (线下转账) from its receipt.
    ConfirmOfflinePayment,
    /// Decide 单位认领 claims (and see their documents and the claimant's contact).
    ReviewOrganisationClaim,
    /// The outbox's dead letters (mail and SMS that could not be sent) and sending them again.
    ManageOutbox,
    /// Confirming that a refund paid outside any gateway (an offline transfer) has been made.
    ConfirmRefund,
    /// Ending an order that the CA can no longer issue (e.g. after a CA change) and refunding
    /// what was paid (无法制证退款).
    RefundUnissuableOrder,
    /// The products on offer (产品与价格), read by everyone who applies or helps.
    ListProducts,
    /// Create and change products and prices (停用 too).
    ManageProducts,
    /// Make and list vouchers (抵扣券).
    ManageVouchers,
    /// Price an order of a product for one's organisation.
    QuoteProduct,
    /// See an order's identity checks (masked).
    ViewIdentityChecks,
    /// The sandbox identity provider's outbox of an order (its 沙箱短信 and bank statement): what a
    /// real provider would send to the supplier's phone and bank, so the supplier's alone.
    ViewSandboxOutbox,
    /// Start an identity check of an order and type its code.
    RunIdentityCheck,
}

/// How far a role's grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Only the actor's own account and what belongs to it.
    OwnAccount,
    /// Anything of the actor's organisation.
    Organisation,
    /// Anything on the platform, every organisation's.
    Platform,
}

/// Where the object of a request stands relative to the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The actor's own account, or something belonging to it.
    OwnAccount,
    /// Another account or object of the actor's organisation.
    OwnOrganisation,
    /// An object of another organisation.
    OtherOrganisation,
    /// A platform object that belongs to no organisation (staff accounts, CA providers).
    Platform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Granted(&'static [(Role, Reach)]),
}

use Reach::{Organisation as Org, OwnAccount as Own, Platform as All};
use Role::{CaOfficer, Employee, OrgAdmin, PlatformOperator, SystemAdmin};

const EVERY_ROLE_ON_ITSELF: &[(Role, Reach)] = &[
    (OrgAdmin, Own),
    (Employee, Own),
    (PlatformOperator, Own),
    (CaOfficer, Own),
    (SystemAdmin, Own),
];
const STAFF_EVERYWHERE: &[(Role, Reach)] = &[
    (PlatformOperator, All),
    (CaOfficer, All),
    (SystemAdmin, All),
];

/// What an account whose password an admin reset may do before it sets its own: sign in and
/// out, see its account and change the password. Everything else waits.
pub const fn allowed_before_password_change(action: Action) -> bool {
    use Action::*;
    matches!(
        action,
        Health | StaticAsset | ViewLoginPage | LogIn | LogOut | ViewOwnAccount | ChangeOwnPassword
    )
}

/// The permission table.
pub const fn access(action: Action) -> Access {
    use Action::*;
    match action {
        Health
        | StaticAsset
        | PublishPki
        | ReadApiDescription
        | ReadTerms
        | ViewLoginPage
        | LogIn
        | RegisterOrganisation
        | ClaimOrganisation
        | RequestLoginChallenge
        | LogInWithCertificate
        | ReceivePaymentNotification
        | UseSandboxGateway => Access::Public,
        LogOut | ViewWorkbench | ViewOwnAccount | ChangeOwnPassword | ManageOwnApiTokens
        | ReadOwnMessages => Access::Granted(EVERY_ROLE_ON_ITSELF),
        // The providers and their hotlines are shown to everyone who applies or binds.
        ListCaProviders => Access::Granted(&[
            (OrgAdmin, All),
            (Employee, All),
            (PlatformOperator, All),
            (CaOfficer, All),
            (SystemAdmin, All),
        ]),
        // Organisation admins manage their employees; the system admin manages staff.
        ListAccounts | CreateAccount | ManageAccount => {
            Access::Granted(&[(OrgAdmin, Org), (SystemAdmin, All)])
        }
        // CA绑定与解绑: an admin for any account of its organisation, an employee for itself.
        ListBindings | RequestBindingChallenge | BindCertificate | UnbindCertificate => {
            Access::Granted(&[(OrgAdmin, Org), (Employee, Own)])
        }
        ImportProviderCa => Access::Granted(&[(SystemAdmin, All)]),
        // Products are platform objects everyone signed in may read; the system admin sets
        // them and their prices, and makes vouchers (DOMAIN.md, "Who uses it").
        ListProducts => Access::Granted(&[
            (OrgAdmin, All),
            (Employee, All),
            (PlatformOperator, All),
            (CaOfficer, All),
            (SystemAdmin, All),
        ]),
        ManageProducts | ManageVouchers => Access::Granted(&[(SystemAdmin, All)]),
        // The organisation admin applies and pays: it prices an order for its organisation.
        QuoteProduct => Access::Granted(&[(OrgAdmin, All)]),
        // 身份核验 belongs to the application: the organisation admin for its own orders, an
        // operator on the supplier's behalf (操作员代办).
        ViewIdentityChecks | RunIdentityCheck => {
            Access::Granted(&[(OrgAdmin, Org), (PlatformOperator, All)])
        }
        // Separation of duties: codes sent to the supplier's phone and bank are the supplier's;
        // staff never read them (a 代办 operator asks the supplier, as on the phone).
        ViewSandboxOutbox => Access::Granted(&[(OrgAdmin, Org)]),
        SearchAudit => Access::Granted(STAFF_EVERYWHERE),
        // 初审 and 复审: which of the two a role may do is the order state machine's rule.
        ReviewOrder => Access::Granted(&[(PlatformOperator, All), (CaOfficer, All)]),
        // 业务单: the organisation admin applies and pays for its organisation; operators and
        // CA officers work through every organisation's orders.
        ListOrders | ViewOrder => {
            Access::Granted(&[(OrgAdmin, Org), (PlatformOperator, All), (CaOfficer, All)])
        }
        // The supplier's steps: the organisation admin, or an operator on its behalf (代办).
        ApplyForCertificate | EditApplication | ConfirmReceipt => {
            Access::Granted(&[(OrgAdmin, Org), (PlatformOperator, All)])
        }
        // Separation of duties: only the organisation's admin hands in its key (the CSR) and
        // takes what was issued for it (certificates, the sealed encryption key); an operator
        // would otherwise get a certificate in the organisation's name for a key of their own.
        SubmitCertificateRequest => Access::Granted(&[(OrgAdmin, Org)]),
        // The key and its PIN are the organisation's: its admin asks and uses the code; the
        // operator reviews (and may submit or withdraw for it through the order's actions).
        RequestUnlock | UseUnlockCode | RequestRevocation => Access::Granted(&[(OrgAdmin, Org)]),
        ViewOrderDocument => {
            Access::Granted(&[(OrgAdmin, Org), (PlatformOperator, All), (CaOfficer, All)])
        }
        DeliverOrder => Access::Granted(&[(PlatformOperator, All)]),
        // The CA's 制证 station: its officers make keys for every organisation's orders; the
        // platform operator then ships what the CA made (separation of duties).
        ProduceKey => Access::Granted(&[(CaOfficer, All)]),
        ListOrgCertificates => Access::Granted(&[(OrgAdmin, Org)]),
        // 收银台: the organisation admin pays for its organisation (DOMAIN.md); operators see
        // the cashier to help on the phone, and withdraw on the supplier's behalf (代办).
        ViewCashier | WithdrawOrder => Access::Granted(&[(OrgAdmin, Org), (PlatformOperator, All)]),
        PayOrder => Access::Granted(&[(OrgAdmin, Org)]),
        // Platform operators process offline payments and refunds (DOMAIN.md).
        ConfirmOfflinePayment | ConfirmRefund | RefundUnissuableOrder => {
            Access::Granted(&[(PlatformOperator, All)])
        }
        // Platform operators check registrations; a claim hands an organisation over.
        ReviewOrganisationClaim => Access::Granted(&[(PlatformOperator, All)]),
        // Staff who answer the phone when a supplier says no mail came, and the engineers.
        ManageOutbox => Access::Granted(&[(PlatformOperator, All), (SystemAdmin, All)]),
    }
}

/// The reach a role has for an action, if any. `None` for public actions too: they need no
/// grant.
pub fn reach(role: Role, action: Action) -> Option<Reach> {
    match access(action) {
        Access::Public => None,
        Access::Granted(grants) => grants
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, reach)| *reach),
    }
}

/// Whether `role` may do `action` to an object standing in `relation` to it.
pub fn permits(role: Role, action: Action, relation: Relation) -> bool {
    match access(action) {
        Access::Public => true,
        Access::Granted(_) => match reach(role, action) {
            None => false,
            Some(Reach::Platform) => true,
            Some(Reach::Organisation) => {
                matches!(relation, Relation::OwnAccount | Relation::OwnOrganisation)
            }
            Some(Reach::OwnAccount) => relation == Relation::OwnAccount,
        },
    }
}

/// How a refusal is answered: another organisation's object does not exist for the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("请求的资源不存在")]
    NotFound,
    #[error("您没有权限进行此操作")]
    Forbidden,
}

/// `Ok` when permitted, otherwise how to refuse.
pub fn authorize(role: Role, action: Action, relation: Relation) -> Result<(), Refusal> {
    if permits(role, action, relation) {
        Ok(())
    } else if relation == Relation::OtherOrganisation {
        Err(Refusal::NotFound)
    } else {
        Err(Refusal::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_nest() {
        for role in Role::ALL {
            // Whoever may act on the whole platform may act on its own organisation and account.
            for action in [
                Action::ListAccounts,
                Action::BindCertificate,
                Action::SearchAudit,
            ] {
                if permits(role, action, Relation::OtherOrganisation) {
                    assert!(permits(role, action, Relation::OwnOrganisation));
                }
                if permits(role, action, Relation::OwnOrganisation) {
                    assert!(permits(role, action, Relation::OwnAccount));
                }
            }
        }
    }

    #[test]
    fn binding_rules_of_guide_002() {
        use Relation::*;
        assert!(permits(OrgAdmin, Action::BindCertificate, OwnOrganisation));
        assert!(permits(Employee, Action::BindCertificate, OwnAccount));
        assert!(!permits(Employee, Action::BindCertificate, OwnOrganisation));
        assert!(!permits(
            OrgAdmin,
            Action::BindCertificate,
            OtherOrganisation
        ));
        assert!(!permits(SystemAdmin, Action::BindCertificate, OwnAccount));
    }

    #[test]
    fn other_organisations_objects_do_not_exist() {
        assert_eq!(
            authorize(
                OrgAdmin,
                Action::UnbindCertificate,
                Relation::OtherOrganisation
            ),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            authorize(
                Employee,
                Action::UnbindCertificate,
                Relation::OwnOrganisation
            ),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            authorize(CaOfficer, Action::SearchAudit, Relation::Platform),
            Ok(())
        );
        assert_eq!(
            authorize(OrgAdmin, Action::SearchAudit, Relation::Platform),
            Err(Refusal::Forbidden)
        );
    }
}
