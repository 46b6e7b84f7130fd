//! 身份核验 over HTTP with the sandbox provider: SMS codes (happy path, 5 wrong tries, expiry),
//! the face-try limit per person and day, the micro-deposit memo code, bank cards (Luhn, four
//! elements), other organisations, and no ID number in answers or logs.

mod common;

use axum::http::StatusCode;
use certdesk_domain::IdentityMethod;
use certdesk_domain::Role;
use certdesk_server::identity::{
    passed_identity_check, SANDBOX_CARD_OF_SOMEONE_ELSE, SANDBOX_CLOSED_ACCOUNT,
    SANDBOX_FACE_MISMATCH_ID, SANDBOX_MOBILE_OF_SOMEONE_ELSE,
};
use certdesk_server::{router, AppState};
use certdesk_store::{NewAccount, NewOrder, Store};
use common::call;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const ORG_A: &str = "cdk_test_id_org_a";
const ORG_B: &str = "cdk_test_id_org_b";
const OPERATOR: &str = "cdk_test_id_operator";
const EMPLOYEE: &str = "cdk_test_id_employee";
const LEGAL_REP_ID: &str = "11010519491231002X";
/// 2026-11-23 10:00:00 Beijing time.
const START: i64 = 1_795_399_200;

struct Fixture {
    store: Store,
    state: AppState,
    app: axum::Router,
    clock: Arc<AtomicI64>,
    org_a: (i64, i64),
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn order(&self, no: &str, status: &str) -> i64 {
        self.store
            .create_order_in_status(
                status,
                &NewOrder {
                    order_no: no,
                    org_id: self.org_a.0,
                    kind: certdesk_domain::BusinessType::NewCertificate,
                    amount_fen: 0,
                    created_by: self.org_a.1,
                    on_behalf: false,
                    created_at: START,
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn post(&self, token: &str, uri: String, body: Value) -> (StatusCode, Value) {
        call(&self.app, "POST", &uri, Some(token), Some(body)).await
    }

    /// The newest SMS code the sandbox "sent" for an order.
    async fn sms_code(&self, order_no: &str) -> String {
        let (status, outbox) = call(
            &self.app,
            "GET",
            &format!("/api/v1/orders/{order_no}/identity/sandbox"),
            Some(ORG_A),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{outbox}");
        let text = outbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|n| n["kind"] == "sms")
            .unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string();
        let start = text.find("验证码").unwrap() + "验证码".len();
        text[start..].chars().take(6).collect()
    }

    fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }
}

async fn fixture() -> Fixture {
    log();
    let common::TestServer {
        store, state, dir, ..
    } = common::test_server().await;
    let clock = Arc::new(AtomicI64::new(START));
    let state = state.with_clock(clock.clone());
    let app = router(state.clone());
    let admin = |username| NewAccount {
        username,
        display_name: "管理员",
        role: Role::OrgAdmin,
        org_id: None,
        password_hash: "x",
        created_at: 0,
    };
    let (a, a_admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            "91350100M000100Y43",
            &admin("a.admin"),
            "test",
        )
        .await
        .unwrap();
    let (_, b_admin) = store
        .register_organisation("乙公司", "91110108MA01W4JK2X", &admin("b.admin"), "test")
        .await
        .unwrap();
    common::give_api_token(&store, a_admin.id, ORG_A).await;
    common::give_api_token(&store, b_admin.id, ORG_B).await;
    let operator = store
        .create_account(
            &NewAccount {
                role: Role::PlatformOperator,
                ..admin("operator")
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    common::give_api_token(&store, operator.id, OPERATOR).await;
    let employee = store
        .create_account(
            &NewAccount {
                role: Role::Employee,
                org_id: Some(a.id),
                ..admin("a.employee")
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    common::give_api_token(&store, employee.id, EMPLOYEE).await;
    Fixture {
        store,
        state,
        app,
        clock,
        org_a: (a.id, a_admin.id),
        _dir: dir,
    }
}

fn start(no: &str, method: &str) -> String {
    format!("/api/v1/orders/{no}/identity/{method}/start")
}

fn verify(no: &str, method: &str) -> String {
    format!("/api/v1/orders/{no}/identity/{method}/verify")
}

fn mobile_body(mobile: &str) -> Value {
    json!({"name": "张三", "id_number": LEGAL_REP_ID, "mobile": mobile})
}

/// A 120×120 24-bit BMP: a real, decodable photo.
fn photo() -> String {
    photo_of(120, 120)
}

/// A `w`×`h` 24-bit BMP, Base64.
fn photo_of(w: u32, h: u32) -> String {
    use base64::Engine;
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = Vec::new();
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&(row * h).to_le_bytes());
    b.extend_from_slice(&[0; 16]);
    for y in 0..h {
        for x in 0..row {
            b.push(((x + y) % 251) as u8);
        }
    }
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test]
async fn an_sms_code_passes_the_check_and_the_submit_step_sees_it() {
    let f = fixture().await;
    let no = "20261123100000000001";
    let id = f.order(no, "draft").await;
    let (status, check) = f
        .post(ORG_A, start(no, "mobile"), mobile_body("138 1234 5678"))
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["status"], "pending");
    assert_eq!(check["target"], "138****5678");
    assert_eq!(check["id_number"], "110***********002X");
    assert_eq!(check["tries_left"], 5);
    let code = f.sms_code(no).await;
    assert_eq!(code.len(), 6);
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        None
    );

    f.advance(299);
    let (status, check) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["status"], "passed");
    assert_eq!(check["method_label"], "法人手机号实名核验");
    assert_eq!(
        passed_identity_check(&f.state, id, "11010519491231002x")
            .await
            .unwrap(),
        Some(IdentityMethod::Mobile)
    );
    // Another person's ID number: no check passed for them.
    assert_eq!(
        passed_identity_check(&f.state, id, "440524188001010014")
            .await
            .unwrap(),
        None
    );
    let (_, view) = call(
        &f.app,
        "GET",
        &format!("/api/v1/orders/{no}/identity"),
        Some(ORG_A),
        None,
    )
    .await;
    assert_eq!(view["passed"], true);
    assert_eq!(view["sandbox"], true);
    // Typing it again is refused: it passed already.
    let (status, _) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A mobile registered to someone else fails, and no SMS goes out.
    let other = "20261123100000000002";
    f.order(other, "rejected").await;
    let (status, check) = f
        .post(
            ORG_A,
            start(other, "mobile"),
            mobile_body(SANDBOX_MOBILE_OF_SOMEONE_ELSE),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["status"], "failed");
    assert!(check["failure"]
        .as_str()
        .unwrap()
        .contains("不是法定代表人本人"));
    let (_, outbox) = call(
        &f.app,
        "GET",
        &format!("/api/v1/orders/{other}/identity/sandbox"),
        Some(ORG_A),
        None,
    )
    .await;
    assert!(outbox["notices"].as_array().unwrap().is_empty());
    assert!(outbox["label"].as_str().unwrap().contains("沙箱短信"));
}

#[tokio::test]
async fn the_fifth_wrong_code_kills_it_and_an_expired_code_is_refused() {
    let f = fixture().await;
    let no = "20261123100000000003";
    let id = f.order(no, "draft").await;
    f.post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
        .await;
    let code = f.sms_code(no).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in (1..=4).rev() {
        let (status, body) = f
            .post(ORG_A, verify(no, "mobile"), json!({"code": wrong}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "wrong_code");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("还可以再试{remaining}次")),
            "{body}"
        );
    }
    let (_, body) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": wrong}))
        .await;
    assert_eq!(body["error"]["code"], "code_locked");
    // Dead: even the right code is refused now.
    let (_, body) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": code}))
        .await;
    assert_eq!(body["error"]["code"], "code_locked");
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        None
    );
    // A malformed code is not a try.
    let (status, body) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": "12"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_code"))
    );

    // A new code only after a minute; then it expires at exactly 300 seconds.
    let (status, body) = f
        .post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    f.advance(60);
    let (status, _) = f
        .post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let code = f.sms_code(no).await;
    f.advance(300);
    let (status, body) = f
        .post(ORG_A, verify(no, "mobile"), json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "code_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("已过期"));
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn eleven_face_tries_a_day_are_refused_and_the_next_day_allowed() {
    let f = fixture().await;
    let no = "20261123100000000004";
    let id = f.order(no, "draft").await;
    let face = |id_number: &str| json!({"name": "张三", "id_number": id_number, "photo": photo()});
    // Not a photo: refused by name, and not counted.
    let (status, body) = f
        .post(
            ORG_A,
            start(no, "face"),
            json!({"name": "张三", "id_number": LEGAL_REP_ID, "photo": "aGVsbG8="}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_photo");
    for n in 1..=10 {
        let (status, check) = f.post(ORG_A, start(no, "face"), face(LEGAL_REP_ID)).await;
        assert_eq!(status, StatusCode::OK, "try {n}: {check}");
        assert_eq!(check["status"], "passed");
        assert_eq!(check["face_tries_left_today"], 10 - n);
    }
    let (status, body) = f.post(ORG_A, start(no, "face"), face(LEGAL_REP_ID)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "face_daily_limit");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("每人每天最多10次"));
    // The next Beijing day (00:00 is 14 hours after 10:00) counts again.
    f.advance(14 * 3600 - 1);
    let (status, _) = f.post(ORG_A, start(no, "face"), face(LEGAL_REP_ID)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "still the same day");
    f.advance(1);
    let (status, check) = f.post(ORG_A, start(no, "face"), face(LEGAL_REP_ID)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["face_tries_left_today"], 9);
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        Some(IdentityMethod::Face)
    );
    // A big photo (3.6 MB, 4.8 MB as Base64) gets through.
    let big = photo_of(1200, 1000);
    assert!(big.len() > 4_000_000);
    let (status, body) = f
        .post(
            ORG_A,
            start(no, "face"),
            json!({"name": "张三", "id_number": LEGAL_REP_ID, "photo": big}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The sandbox's mismatching person fails.
    let (status, check) = f
        .post(ORG_A, start(no, "face"), face(SANDBOX_FACE_MISMATCH_ID))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["status"], "failed");
    assert!(check["failure"]
        .as_str()
        .unwrap()
        .contains("人脸比对不一致"));
}

#[tokio::test]
async fn a_micro_deposit_carries_the_code_in_its_memo() {
    let f = fixture().await;
    let no = "20261123100000000005";
    let id = f.order(no, "draft").await;
    let body = |account: &str| json!({"name": "张三", "id_number": LEGAL_REP_ID, "account_number": account, "bank_name": "中国工商银行福州分行"});
    let (status, err) = f
        .post(ORG_A, start(no, "micro_deposit"), body("12ab"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("对公账号"));
    let (_, check) = f
        .post(
            ORG_A,
            start(no, "micro_deposit"),
            body(SANDBOX_CLOSED_ACCOUNT),
        )
        .await;
    assert_eq!(check["status"], "failed");
    assert!(check["failure"].as_str().unwrap().contains("已销户"));

    let (status, check) = f
        .post(
            ORG_A,
            start(no, "micro_deposit"),
            body("3100 0012 3456 7890"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["status"], "pending");
    assert_eq!(check["target"], "3100********7890");
    assert_eq!(check["tries_left"], 3);
    // Each start sends money: no second deposit while this one's code can still be typed.
    let (status, again) = f
        .post(
            ORG_A,
            start(no, "micro_deposit"),
            body("3100 0012 3456 7890"),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{again}");
    assert_eq!(again["error"]["code"], "micro_deposit_pending");
    assert!(again["error"]["message"]
        .as_str()
        .unwrap()
        .contains("3100********7890"));
    let (_, statement) = call(
        &f.app,
        "GET",
        &format!("/api/v1/orders/{no}/identity/sandbox"),
        Some(ORG_A),
        None,
    )
    .await;
    let transfer = statement["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "bank_transfer")
        .unwrap();
    let text = transfer["text"].as_str().unwrap();
    assert!(
        text.contains("0.01 元") && text.contains("福州测试科技有限公司"),
        "{text}"
    );
    let memo: String = text.rsplit("附言：").next().unwrap().to_string();
    assert_eq!(memo.len(), 6);
    // A day later the memo code still works, typed in lower case.
    f.advance(24 * 3600);
    let (status, check) = f
        .post(
            ORG_A,
            verify(no, "micro_deposit"),
            json!({"code": memo.to_lowercase()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["status"], "passed");
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        Some(IdentityMethod::MicroDeposit)
    );
}

#[tokio::test]
async fn bank_cards_are_luhn_checked_and_matched() {
    let f = fixture().await;
    let no = "20261123100000000006";
    let id = f.order(no, "draft").await;
    let body = |card: &str| json!({"name": "张三", "id_number": LEGAL_REP_ID, "card_number": card, "mobile": "13812345678"});
    let (status, err) = f
        .post(ORG_A, start(no, "bank_card"), body("6222020200112345671"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["code"], "invalid_card_number");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("Luhn"),
        "{err}"
    );
    assert!(
        f.store
            .identity_checks_of_order(id)
            .await
            .unwrap()
            .is_empty(),
        "nothing recorded"
    );
    let (_, check) = f
        .post(
            ORG_A,
            start(no, "bank_card"),
            body(SANDBOX_CARD_OF_SOMEONE_ELSE),
        )
        .await;
    assert_eq!(check["status"], "failed");
    let (status, check) = f
        .post(ORG_A, start(no, "bank_card"), body("4111 1111 1111 1111"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["status"], "passed");
    assert_eq!(check["target"], "4111********1111");
    // Bad ID numbers and names are refused by field.
    let (_, err) = f
        .post(ORG_A, start(no, "bank_card"), json!({"name": "张三", "id_number": "110105194912310021", "card_number": "4111111111111111", "mobile": "13812345678"}))
        .await;
    assert_eq!(err["error"]["code"], "invalid_id_number");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("身份证号码"));
    let (_, err) = f
        .post(
            ORG_A,
            start(no, "bank_card"),
            json!({"id_number": LEGAL_REP_ID}),
        )
        .await;
    assert_eq!(err["error"]["code"], "invalid_name");
    let (status, _) = f
        .post(ORG_A, start(no, "fingerprint"), body("4111111111111111"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        passed_identity_check(&f.state, id, LEGAL_REP_ID)
            .await
            .unwrap(),
        Some(IdentityMethod::BankCard)
    );
}

#[tokio::test]
async fn only_the_orders_organisation_and_operators_reach_its_checks() {
    let f = fixture().await;
    let no = "20261123100000000007";
    f.order(no, "draft").await;
    f.post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
        .await;
    let code = f.sms_code(no).await;
    // Another organisation's admin: the order does not exist for it, nor its sandbox SMS.
    for (method, uri, body) in [
        ("GET", format!("/api/v1/orders/{no}/identity"), None),
        ("GET", format!("/api/v1/orders/{no}/identity/sandbox"), None),
        (
            "POST",
            start(no, "mobile"),
            Some(mobile_body("13812345678")),
        ),
        ("POST", verify(no, "mobile"), Some(json!({"code": code}))),
    ] {
        let (status, answer) = call(&f.app, method, &uri, Some(ORG_B), body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {answer}");
        assert!(!answer.to_string().contains(&code));
        let (status, _) = call(&f.app, method, &uri, Some(EMPLOYEE), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    // An operator acts for the supplier (代办), recorded as such.
    let (status, check) = f
        .post(OPERATOR, verify(no, "mobile"), json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    let audit = f.store.audit_chain().await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.detail.contains("操作员代办") && e.detail.contains("输入验证码")));
    // Not on an order past review.
    let later = "20261123100000000008";
    f.order(later, "awaiting_initial_review").await;
    let (status, body) = f
        .post(ORG_A, start(later, "mobile"), mobile_body("13812345678"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("待初审"));
}

/// Captures what the server logs, in every test of this file: one global subscriber (a
/// per-test one can miss events when tests run in parallel).
fn log() -> &'static LogBuffer {
    static LOG: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        log
    })
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn id_numbers_cards_and_mobiles_never_show_unmasked_nor_in_logs() {
    let f = fixture().await;
    let no = "20261123100000000009";
    let id = f.order(no, "draft").await;
    let card = "6217001234567890122".to_string();
    assert!(certdesk_domain::identity::luhn_valid(&card), "{card}");
    let mut answers = Vec::new();
    answers.push(
        f.post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
            .await
            .1,
    );
    let code = f.sms_code(no).await;
    answers.push(
        f.post(ORG_A, verify(no, "mobile"), json!({"code": "000001"}))
            .await
            .1,
    );
    answers.push(
        f.post(ORG_A, verify(no, "mobile"), json!({"code": code}))
            .await
            .1,
    );
    answers.push(
        f.post(ORG_A, start(no, "bank_card"), json!({"name": "张三", "id_number": LEGAL_REP_ID, "card_number": card, "mobile": "13812345678"}))
            .await
            .1,
    );
    answers.push(
        f.post(
            ORG_A,
            start(no, "face"),
            json!({"name": "张三", "id_number": LEGAL_REP_ID, "photo": photo()}),
        )
        .await
        .1,
    );
    answers.push(
        call(
            &f.app,
            "GET",
            &format!("/api/v1/orders/{no}/identity"),
            Some(ORG_A),
            None,
        )
        .await
        .1,
    );
    let everything = format!("{answers:?}");
    assert!(everything.contains("110***********002X"));
    let logged = String::from_utf8(log().0.lock().unwrap().clone()).unwrap();
    assert!(!logged.is_empty(), "the subscriber saw the requests");
    let stored = format!("{:?}", f.store.identity_checks_of_order(id).await.unwrap());
    let audit = format!("{:?}", f.store.audit_chain().await.unwrap());
    // (The SMS code itself is meant to be seen, in the sandbox outbox only.)
    for secret in [LEGAL_REP_ID, "11010519491231", "13812345678", card.as_str()] {
        assert!(!everything.contains(secret), "{secret} in an answer");
        assert!(!logged.contains(secret), "{secret} in the log");
        assert!(!stored.contains(secret), "{secret} stored");
        assert!(!audit.contains(secret), "{secret} in the audit log");
    }
}

/// Codes sent for one person are limited per Beijing day over all applications, so that many
/// drafts do not multiply the guesses at a code.
#[tokio::test]
async fn ten_sms_codes_a_day_for_one_person_over_all_applications() {
    let f = fixture().await;
    let (first, second) = ("20261123100000000021", "20261123100000000022");
    f.order(first, "draft").await;
    f.order(second, "draft").await;
    for sent in 0..10 {
        let no = if sent % 2 == 0 { first } else { second };
        let (status, body) = f
            .post(ORG_A, start(no, "mobile"), mobile_body("13812345678"))
            .await;
        assert_eq!(status, StatusCode::OK, "code {sent}: {body}");
        f.advance(61);
    }
    let (status, body) = f
        .post(ORG_A, start(second, "mobile"), mobile_body("13812345678"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("sms_daily_limit")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("其他核验方式"));
    // The next Beijing day it may be sent again.
    f.advance(24 * 3600);
    let (status, body) = f
        .post(ORG_A, start(second, "mobile"), mobile_body("13812345678"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Starts of `method` for each order of `orders`, `per_order` at once each, all together: the
/// statuses.
async fn starts_at_once(
    f: &Fixture,
    orders: &[&str],
    per_order: usize,
    method: &'static str,
    body: Value,
) -> Vec<StatusCode> {
    let mut tries = Vec::new();
    for no in orders {
        for _ in 0..per_order {
            let app = f.app.clone();
            let uri = start(no, method);
            let body = body.clone();
            tries.push(tokio::spawn(async move {
                call(&app, "POST", &uri, Some(ORG_A), Some(body)).await.0
            }));
        }
    }
    let mut statuses = Vec::new();
    for attempt in tries {
        statuses.push(attempt.await.unwrap());
    }
    statuses
}

/// The sandbox's notices of `kind` for an order.
async fn notices(f: &Fixture, no: &str, kind: &str) -> usize {
    let (status, outbox) = call(
        &f.app,
        "GET",
        &format!("/api/v1/orders/{no}/identity/sandbox"),
        Some(ORG_A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    outbox["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn starts_arriving_together_send_one_transfer_and_one_sms() {
    let f = fixture().await;
    let no = "20261123100000000031";
    f.order(no, "draft").await;
    let deposit = json!({"name": "张三", "id_number": LEGAL_REP_ID,
        "account_number": "3100 0012 3456 7890", "bank_name": "中国工商银行福州分行"});
    let statuses = starts_at_once(&f, &[no], 10, "micro_deposit", deposit).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(notices(&f, no, "bank_transfer").await, 1);

    let no = "20261123100000000032";
    f.order(no, "draft").await;
    let statuses = starts_at_once(&f, &[no], 10, "mobile", mobile_body("13812345678")).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(notices(&f, no, "sms").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirteen_sms_starts_at_once_for_one_person_send_ten() {
    let f = fixture().await;
    let orders: Vec<String> = (0..13)
        .map(|n| format!("202611231000000001{n:02}"))
        .collect();
    for no in &orders {
        f.order(no, "draft").await;
    }
    let numbers: Vec<&str> = orders.iter().map(String::as_str).collect();
    let statuses = starts_at_once(&f, &numbers, 1, "mobile", mobile_body("13812345678")).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        10,
        "{statuses:?}"
    );
    let mut sent = 0;
    for no in &numbers {
        sent += notices(&f, no, "sms").await;
    }
    assert_eq!(sent, 10);
}
