//! Keys an organisation holds, for the after-issuance tests (续费, 补办): a server whose clock
//! the test moves, an organisation with its admin, a paid SM2 product, and SM2 dual pairs the
//! CA issues and links to a completed 新办 order whose form names the legal representative.

use super::{organisation_with_admin, test_server, TestServer};
use certdesk_ca::{IssueRequest, LeafProfile};
use certdesk_domain::BusinessType;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{csr_to_pem, make_csr, Algorithm, SoftwareKey};
use certdesk_store::{NewApplication, NewOrder};
use std::str::FromStr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

pub const CREDIT_CODE: &str = "91350100M000100Y43";
pub const ORG_NAME: &str = "福州测试科技有限公司";
pub const DAY: i64 = 86_400;

/// A key pair the organisation holds: its UKey's signing key and the CA's SM2 dual pair.
pub struct HeldKey {
    pub key: SoftwareKey,
    pub serial: String,
    pub encryption_pem: String,
}

pub struct Setup {
    pub server: TestServer,
    pub clock: Arc<AtomicI64>,
    pub admin: String,
    pub org_id: i64,
    pub admin_id: i64,
    pub product_id: i64,
}

/// A server whose clock the test moves, an organisation and its admin, a paid SM2 product.
pub async fn setup() -> Setup {
    let mut server = test_server().await;
    let clock = Arc::new(AtomicI64::new(jiff::Timestamp::now().as_second()));
    server.state = server.state.clone().with_clock(clock.clone());
    server.router = certdesk_server::router(server.state.clone());
    let (org_id, admin) =
        organisation_with_admin(&server.store, ORG_NAME, CREDIT_CODE, "renewal_admin").await;
    let admin_id = server
        .store
        .account_by_username("renewal_admin")
        .await
        .unwrap()
        .unwrap()
        .id;
    let product_id = super::paid_sm2_dual_product(&server).await;
    Setup {
        server,
        clock,
        admin,
        org_id,
        admin_id,
        product_id,
    }
}

/// An SM2 dual pair the CA issues for `days`, held by the organisation through a completed
/// 新办 order of the product, whose form names the legal representative.
pub async fn held_key(s: &Setup, days: u32) -> HeldKey {
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = make_csr(&key, Name::from_str("CN=ukey").unwrap()).unwrap();
    let issued = s
        .server
        .ca
        .issue_dual(&IssueRequest {
            csr: &csr,
            profile: LeafProfile::Sign,
            org_name: ORG_NAME,
            credit_code: CREDIT_CODE,
            validity_days: days,
        })
        .await
        .unwrap();
    let mut form = certdesk_domain::ApplicationForm::default();
    form.legal_rep.name = "张三".into();
    form.legal_rep.id_number = "11010519491231002X".into();
    form.legal_rep.mobile = "13800138000".into();
    let sealed = s
        .server
        .state
        .config
        .personal_data
        .seal(&serde_json::to_string(&form).unwrap())
        .unwrap();
    let provider_id = s.server.store.ca_providers().await.unwrap()[0].id;
    let serial = issued.signing.record.serial_hex.clone();
    let order = s
        .server
        .store
        .create_application_order_in_status(
            "completed",
            &NewOrder {
                order_no: &format!("NEW{serial}"),
                org_id: s.org_id,
                kind: BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: s.admin_id,
                on_behalf: false,
                created_at: 0,
            },
            &NewApplication {
                provider_id,
                product_id: s.product_id,
                years: 1,
                voucher_code: None,
                delivery_method: "mail",
                form_json: &sealed,
            },
        )
        .await
        .unwrap();
    certdesk_store::testing::link_key_pair(
        &s.server.store,
        order.id,
        issued.signing.record.id,
        Some(issued.encryption.record.id),
        &serial,
    )
    .await;
    HeldKey {
        key,
        serial,
        encryption_pem: issued.encryption.pem,
    }
}

pub fn csr_of(key: &SoftwareKey) -> String {
    csr_to_pem(&make_csr(key, Name::from_str("CN=ukey").unwrap()).unwrap()).unwrap()
}
