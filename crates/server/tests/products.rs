//! Products, prices and vouchers over HTTP: the system admin manages them, organisation admins
//! read and price them (首张免费, 抵扣券), a voucher is used once, bad fields change nothing.

mod common;

use axum::http::StatusCode;
use certdesk_domain::Role;
use certdesk_server::products::{price_order, OrderPricing};
use certdesk_server::{bootstrap_admin, AppState};
use certdesk_store::Redemption;
use certdesk_store::{NewAccount, NewOrder, Store};
use common::call;
use serde_json::json;

const ADMIN: &str = "cdk_test_sysadmin";
const ORG_A: &str = "cdk_test_org_a";
const ORG_B: &str = "cdk_test_org_b";
const EMPLOYEE: &str = "cdk_test_employee";

struct Fixture {
    store: Store,
    state: AppState,
    app: axum::Router,
    org_a: (i64, i64),
    org_b: (i64, i64),
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let common::TestServer {
        store,
        state,
        router: app,
        dir,
        ..
    } = common::test_server().await;
    bootstrap_admin(&store, Some("products-admin-pass-1".into()))
        .await
        .unwrap();
    let sysadmin = store.account_by_username("admin").await.unwrap().unwrap();
    common::give_api_token(&store, sysadmin.id, ADMIN).await;
    let admin = |username| NewAccount {
        username,
        display_name: "管理员",
        role: Role::OrgAdmin,
        org_id: None,
        password_hash: "x",
        created_at: 0,
    };
    let (a, a_admin) = store
        .register_organisation("甲公司", "91350100M000100Y43", &admin("a.admin"), "test")
        .await
        .unwrap();
    let (b, b_admin) = store
        .register_organisation("乙公司", "91110108MA01W4JK2X", &admin("b.admin"), "test")
        .await
        .unwrap();
    common::give_api_token(&store, a_admin.id, ORG_A).await;
    common::give_api_token(&store, b_admin.id, ORG_B).await;
    let employee = store
        .create_account(
            &NewAccount {
                username: "a.employee",
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
        org_a: (a.id, a_admin.id),
        org_b: (b.id, b_admin.id),
        _dir: dir,
    }
}

fn sm2_ukey() -> serde_json::Value {
    json!({
        "name": "SM2 双证书 UKey",
        "medium": "ukey",
        "algorithm": "sm2",
        "dual": true,
        "min_years": 1,
        "max_years": 3,
        "price_per_year": "399.00",
        "sub_price_per_year": 200,
        "first_free": true
    })
}

async fn order(store: &Store, no: &str, org: (i64, i64), status: &str) -> i64 {
    store
        .create_order_in_status(
            status,
            &NewOrder {
                order_no: no,
                org_id: org.0,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: org.1,
                on_behalf: false,
                created_at: 0,
            },
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn the_system_admin_manages_products_and_others_only_read_them() {
    let f = fixture().await;
    let (status, created) = call(
        &f.app,
        "POST",
        "/api/v1/products",
        Some(ADMIN),
        Some(sm2_ukey()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["price_per_year"], "399.00");
    assert_eq!(created["sub_price_per_year"], "200.00");
    assert_eq!(created["medium_label"], "实体UKey");
    assert_eq!(created["provider_name"], "certdesk CA（本平台）");
    assert_eq!(created["active"], true);
    let id = created["id"].as_i64().unwrap();

    // Organisation admins and employees read the catalogue but cannot change it.
    for token in [ORG_A, EMPLOYEE] {
        let (status, list) = call(&f.app, "GET", "/api/v1/products", Some(token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (status, body) = call(
            &f.app,
            "POST",
            "/api/v1/products",
            Some(token),
            Some(sm2_ukey()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = call(
            &f.app,
            "PUT",
            &format!("/api/v1/products/{id}"),
            Some(token),
            Some(json!({"price_per_year": "1"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(f.store.products(false).await.unwrap().len(), 1);

    // The admin changes the price, then stops the product (停用): it leaves the list.
    let (status, updated) = call(
        &f.app,
        "PUT",
        &format!("/api/v1/products/{id}"),
        Some(ADMIN),
        Some(json!({"price_per_year": 299.5})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["price_per_year"], "299.50");
    assert_eq!(updated["name"], "SM2 双证书 UKey", "other fields kept");
    let (status, _) = call(
        &f.app,
        "PUT",
        &format!("/api/v1/products/{id}"),
        Some(ADMIN),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = call(&f.app, "GET", "/api/v1/products", Some(ORG_A), None).await;
    assert!(list.as_array().unwrap().is_empty());
    let (status, one) = call(
        &f.app,
        "GET",
        &format!("/api/v1/products/{id}"),
        Some(ORG_A),
        None,
    )
    .await;
    assert_eq!(
        (status, one["active"].clone()),
        (StatusCode::OK, json!(false))
    );
    // An inactive product cannot be priced.
    let (status, body) = call(
        &f.app,
        "GET",
        &format!("/api/v1/products/{id}/quote?years=1"),
        Some(ORG_A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("已停用"));
    let (status, _) = call(&f.app, "GET", "/api/v1/products/9999", Some(ORG_A), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every change is in the audit log.
    let audit = f.store.audit_chain().await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.object == format!("product:{id}"))
            .count(),
        3
    );
}

#[tokio::test]
async fn bad_fields_are_refused_by_name_and_nothing_is_saved() {
    let f = fixture().await;
    let with = |field: &str, value: serde_json::Value| {
        let mut body = sm2_ukey();
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!("  ")), "invalid_name", "产品名称"),
        (with("medium", json!("usb")), "invalid_medium", "介质类型"),
        (
            with("algorithm", json!("rsa")),
            "invalid_algorithm",
            "证书算法",
        ),
        (with("max_years", json!(11)), "invalid_years", "有效期年限"),
        (with("min_years", json!(0)), "invalid_years", "有效期年限"),
        (
            with("price_per_year", json!("-1")),
            "invalid_price_per_year",
            "每年价格",
        ),
        (
            with("price_per_year", json!("3.999")),
            "invalid_price_per_year",
            "每年价格",
        ),
        (
            with("sub_price_per_year", json!("abc")),
            "invalid_sub_price_per_year",
            "子证书每年价格",
        ),
        (
            with("provider_id", json!(9999)),
            "invalid_provider_id",
            "CA服务商",
        ),
    ];
    for (body, code, words) in cases {
        let (status, answer) =
            call(&f.app, "POST", "/api/v1/products", Some(ADMIN), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(words),
            "{answer}"
        );
    }
    let mut no_price = sm2_ukey();
    no_price.as_object_mut().unwrap().remove("price_per_year");
    let (status, answer) = call(
        &f.app,
        "POST",
        "/api/v1/products",
        Some(ADMIN),
        Some(no_price),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("每年价格"));
    assert!(f.store.products(false).await.unwrap().is_empty());

    // A bad update leaves the product as it was.
    let (_, created) = call(
        &f.app,
        "POST",
        "/api/v1/products",
        Some(ADMIN),
        Some(sm2_ukey()),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let before = f.store.product_by_id(id).await.unwrap().unwrap();
    let (status, _) = call(
        &f.app,
        "PUT",
        &format!("/api/v1/products/{id}"),
        Some(ADMIN),
        Some(json!({"min_years": 3, "max_years": 2, "price_per_year": "1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(f.store.product_by_id(id).await.unwrap().unwrap(), before);

    // Vouchers too.
    for (body, code) in [
        (
            json!({"amount": "0", "valid_until": "2099-12-31"}),
            "invalid_amount",
        ),
        (
            json!({"amount": "10", "valid_until": "31/12/2099"}),
            "invalid_valid_until",
        ),
        (
            json!({"amount": "10", "valid_until": "2000-01-01"}),
            "invalid_valid_until",
        ),
        (
            json!({"code": "a b", "amount": "10", "valid_until": "2099-12-31"}),
            "invalid_code",
        ),
        (
            json!({"amount": "10", "valid_until": "2099-12-31", "org_id": 9999}),
            "invalid_org_id",
        ),
    ] {
        let (status, answer) =
            call(&f.app, "POST", "/api/v1/vouchers", Some(ADMIN), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], code);
    }
    assert!(f.store.vouchers().await.unwrap().is_empty());
}

#[tokio::test]
async fn quotes_apply_first_free_and_vouchers_and_a_voucher_is_used_once() {
    let f = fixture().await;
    let (_, created) = call(
        &f.app,
        "POST",
        "/api/v1/products",
        Some(ADMIN),
        Some(sm2_ukey()),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let (status, voucher) = call(
        &f.app,
        "POST",
        "/api/v1/vouchers",
        Some(ADMIN),
        Some(json!({"code": "cdk-100", "amount": "100", "valid_until": "2099-12-31"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{voucher}");
    assert_eq!(voucher["code"], "CDK-100");
    assert_eq!(voucher["status_label"], "未使用");
    assert_eq!(voucher["valid_until"], "2099-12-31 23:59:59");
    assert_eq!(voucher["amount"], "100.00");
    let (status, _) = call(
        &f.app,
        "POST",
        "/api/v1/vouchers",
        Some(ADMIN),
        Some(json!({"code": "CDK-100", "amount": "1", "valid_until": "2099-12-31"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&f.app, "GET", "/api/v1/vouchers", Some(ORG_A), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _) = call(
        &f.app,
        "POST",
        "/api/v1/vouchers",
        Some(ADMIN),
        Some(json!({"code": "FOR-B", "amount": "50", "valid_until": "2099-12-31", "org_id": f.org_b.0})),
    )
    .await;

    let quote = |query: String| {
        let app = f.app.clone();
        async move {
            call(
                &app,
                "GET",
                &format!("/api/v1/products/{id}/quote?{query}"),
                Some(ORG_A),
                None,
            )
            .await
        }
    };
    // First certificate: the first year is free; the voucher takes 100 off the rest.
    let (status, q) = quote("years=2&voucher=cdk-100".into()).await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(q["list_price"], "798.00");
    assert_eq!(q["discounts"][0]["kind"], "first_free");
    assert_eq!(q["discounts"][0]["amount"], "399.00");
    assert_eq!(q["discounts"][1]["kind"], "voucher");
    assert_eq!(q["discounts"][1]["code"], "CDK-100");
    assert_eq!(q["discounts"][1]["amount"], "100.00");
    assert_eq!(q["amount_due"], "299.00");
    let (_, q) = quote("years=1".into()).await;
    assert_eq!(q["amount_due"], "0.00");
    // Years out of range, unknown and foreign vouchers: 422 naming the field.
    for (query, code, words) in [
        ("years=4", "invalid_years", "有效期应为1至3年"),
        ("years=x", "invalid_years", "有效期年限"),
        ("", "invalid_years", "有效期年限"),
        ("years=1&voucher=NOPE", "invalid_voucher", "不存在"),
        // Another organisation's voucher reads as an unknown one.
        (
            "years=1&voucher=FOR-B",
            "invalid_voucher",
            "抵扣券 FOR-B 不存在",
        ),
    ] {
        let (status, body) = quote(query.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{body}"
        );
    }
    // Staff do not price for an organisation.
    let (status, _) = call(
        &f.app,
        "GET",
        &format!("/api/v1/products/{id}/quote?years=1"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Once the organisation has had a certificate issued, the first year is paid, at the
    // 子证书 price: this one is its second certificate (子证书 ¥200/年).
    order(&f.store, "20261123000000000009", f.org_a, "completed").await;
    let (_, q) = quote("years=1".into()).await;
    assert_eq!(q["amount_due"], "200.00");
    assert_eq!(q["discounts"][0]["kind"], "second_certificate");
    assert_eq!(q["discounts"].as_array().unwrap().len(), 1);
    // Organisation B never had one.
    let (_, q) = call(
        &f.app,
        "GET",
        &format!("/api/v1/products/{id}/quote?years=1"),
        Some(ORG_B),
        None,
    )
    .await;
    assert_eq!(q["amount_due"], "0.00");

    // The order flow: price, then redeem; the voucher is used once.
    let now = f.state.now();
    let first = order(&f.store, "20261123000000000010", f.org_a, "draft").await;
    let second = order(&f.store, "20261123000000000011", f.org_a, "draft").await;
    let pricing = OrderPricing {
        org_id: f.org_a.0,
        product_id: id,
        years: 1,
        sub_certificates: 1,
        voucher: Some("CDK-100"),
        order_id: Some(first),
        now,
    };
    let (_, q) = price_order(&f.state, &pricing).await.unwrap();
    assert_eq!(q.list_price_fen, 39_900 + 20_000);
    // A second certificate (子证书 price) with one sub-certificate, less the voucher.
    assert_eq!(q.amount_due_fen, 20_000 + 20_000 - 10_000);
    let redeem = |order_id: i64, org_id: i64, code: &'static str| {
        let store = f.store.clone();
        async move {
            store
                .redeem_voucher(code, org_id, order_id, now)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        redeem(first, f.org_a.0, "CDK-100").await,
        Redemption::Redeemed(_)
    ));
    // Priced again for the same order, it still counts.
    assert!(price_order(&f.state, &pricing).await.is_ok());
    assert!(matches!(
        redeem(second, f.org_a.0, "CDK-100").await,
        Redemption::AlreadyUsed
    ));
    let err = price_order(
        &f.state,
        &OrderPricing {
            order_id: Some(second),
            ..pricing
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("已被使用"), "{err}");
    let (_, q) = quote("years=1&voucher=CDK-100".into()).await;
    assert_eq!(q["error"]["code"], "invalid_voucher");
    let (_, list) = call(&f.app, "GET", "/api/v1/vouchers", Some(ADMIN), None).await;
    let used = list
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["code"] == "CDK-100")
        .unwrap();
    assert_eq!(used["status_label"], "已使用");
    assert_eq!(used["redeemed_order_id"], first);
    // Withdrawn: the voucher comes back with the withdrawal's step.
    let withdrawn = f.store.order_by_id(first).await.unwrap().unwrap();
    assert!(f
        .store
        .apply_step(&certdesk_store::testing::test_step(
            &withdrawn,
            certdesk_domain::OrderAction::Withdraw,
            0
        ))
        .await
        .unwrap());
    assert!(matches!(
        redeem(second, f.org_a.0, "CDK-100").await,
        Redemption::Redeemed(_)
    ));
    assert!(matches!(
        redeem(first, f.org_a.0, "FOR-B").await,
        Redemption::OtherOrganisation
    ));

    // The audit log names vouchers by id: their codes are bearer secrets, and staff read it.
    let chain = f.store.audit_chain().await.unwrap();
    assert!(chain.iter().any(|e| e.object.starts_with("voucher:")));
    for code in ["CDK-100", "FOR-B"] {
        assert!(
            chain
                .iter()
                .all(|e| !e.object.contains(code) && !e.detail.contains(code)),
            "{code} in the audit log"
        );
    }
}

#[tokio::test]
async fn the_default_catalogue_is_made_once_and_the_admin_pages_show_it() {
    let f = fixture().await;
    assert_eq!(
        certdesk_server::products::ensure_default_products(&f.store)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        certdesk_server::products::ensure_default_products(&f.store)
            .await
            .unwrap(),
        0
    );
    let products = f.store.products(true).await.unwrap();
    let names: Vec<&str> = products.iter().map(|p| p.spec.name.as_str()).collect();
    assert_eq!(
        names,
        ["SM2 双证书 UKey", "SM2 移动版", "ECDSA P-256 单证书 UKey"]
    );
    assert!(products
        .iter()
        .all(|p| p.provider_name == "certdesk CA（本平台）"));
    assert_eq!(products[0].spec.price_per_year_fen, 39_900);
    assert!(products[0].spec.first_free);

    let page = |path: &'static str, token: &'static str| {
        let app = f.app.clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let response = app
                .oneshot(
                    axum::http::Request::get(path)
                        .header("authorization", format!("Bearer {token}"))
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (status, html) = page("/admin/products", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("产品与价格") && html.contains("SM2 移动版") && html.contains("¥399.00"));
    assert!(html.contains("href=\"/admin/vouchers\""), "menu entry");
    let (status, html) = page("/admin/vouchers", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("新建抵扣券"));
    let (status, _) = page("/admin/products", ORG_A).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = page("/", ORG_A).await;
    assert!(
        !html.contains("/admin/products"),
        "no menu entry for org admins"
    );
}

/// Posts a form as the system admin (a bearer token needs no CSRF field); answers status and
/// page.
async fn post_form(app: &axum::Router, path: &str, form: &str) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::post(path)
                .header("authorization", format!("Bearer {ADMIN}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(form.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_admin_pages_create_edit_and_stop_products_and_make_vouchers() {
    let f = fixture().await;
    let form = "provider_id=&name=SM2+%E5%8F%8C%E8%AF%81%E4%B9%A6&medium=ukey&algorithm=sm2\
                &min_years=1&max_years=3&price_per_year=399&sub_price_per_year=200.00\
                &dual=1&first_free=1&active=1";
    let (status, html) = post_form(&f.app, "/admin/products", form).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("已创建产品“SM2 双证书”"), "{html}");
    let product = f.store.products(false).await.unwrap().remove(0);
    assert_eq!(product.spec.price_per_year_fen, 39_900);
    assert!(product.spec.dual && product.spec.first_free && product.spec.active);

    // 停用: the edit form without the "active" box.
    let edit = "name=SM2+%E5%8F%8C%E8%AF%81%E4%B9%A6&medium=ukey&algorithm=sm2&min_years=1\
                &max_years=2&price_per_year=299&sub_price_per_year=200&dual=1";
    let (status, _) = post_form(&f.app, &format!("/admin/products/{}", product.id), edit).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let stopped = f.store.product_by_id(product.id).await.unwrap().unwrap();
    assert!(!stopped.spec.active && !stopped.spec.first_free);
    assert_eq!(
        (stopped.spec.max_years, stopped.spec.price_per_year_fen),
        (2, 29_900)
    );

    // A refused new product: the reason, the form as typed (name, price, ticks), nothing saved.
    let count = f.store.products(false).await.unwrap().len();
    let (status, html) = post_form(
        &f.app,
        "/admin/products",
        "provider_id=&name=%E7%A7%BB%E5%8A%A8%E7%89%88%E8%AF%95%E7%94%A8&medium=mobile&algorithm=p256\
         &min_years=1&max_years=2&price_per_year=12x&sub_price_per_year=50.00&first_free=1",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("每年价格应为"), "{html}");
    let new_form = html.split("<h2>新建产品</h2>").nth(1).unwrap();
    assert!(new_form.contains(r#"value="移动版试用""#), "{new_form}");
    assert!(new_form.contains(r#"value="12x""#) && new_form.contains(r#"value="50.00""#));
    assert!(new_form.contains(r#"<option value="mobile" selected>"#));
    assert!(new_form.contains(r#"<option value="p256" selected>"#));
    assert!(new_form.contains(r#"name="first_free" value="1" checked"#));
    assert!(!new_form.contains(r#"name="dual" value="1" checked"#));
    assert_eq!(f.store.products(false).await.unwrap().len(), count);

    // A bad price: the page again with the reason; nothing changed.
    let bad = edit.replace("price_per_year=299", "price_per_year=abc");
    let (status, html) = post_form(&f.app, &format!("/admin/products/{}", product.id), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("每年价格应为"), "{html}");
    assert_eq!(
        f.store.product_by_id(product.id).await.unwrap().unwrap(),
        stopped
    );

    let (status, html) = post_form(
        &f.app,
        "/admin/vouchers",
        "code=DEMO-399&amount=399&valid_until=2099-12-31&org_id=",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("已创建抵扣券 DEMO-399（399.00元）"), "{html}");
    let (status, html) = post_form(
        &f.app,
        "/admin/vouchers",
        "code=&amount=10&valid_until=2099-12-31&org_id=abc",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("机构编号应为数字"));
    // The form comes back as typed.
    let new_form = html.split("<h2>新建抵扣券</h2>").nth(1).unwrap();
    assert!(new_form.contains(r#"name="amount" required placeholder="例如 399.00" value="10""#));
    assert!(new_form.contains(r#"value="2099-12-31""#) && new_form.contains(r#"value="abc""#));
    assert_eq!(f.store.vouchers().await.unwrap().len(), 1);
}
