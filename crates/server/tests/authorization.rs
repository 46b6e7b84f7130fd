//! Walks every route × every role (and no account) × own/other organisation, and checks the
//! answer against the permission table of certdesk-domain. Routes can only be registered with
//! an action, so a route without a row in the table cannot exist; the OpenAPI document is
//! checked against the route table too.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use certdesk_domain::permissions::{access, authorize, reach, Access, Refusal, Relation};
use certdesk_domain::Role;
use certdesk_server::{bootstrap_admin, route_table};
use certdesk_store::{Account, NewAccount, NewBinding, Store};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Actor {
    label: &'static str,
    /// `None`: no account at all.
    account: Option<Account>,
    token: Option<String>,
}

struct World {
    router: Router,
    store: Store,
    org_a: i64,
    org_b: i64,
    a_employee: Account,
    b_employee: Account,
    b_admin: Account,
    provider_id: i64,
    blobs: certdesk_store::BlobStore,
    product_id: i64,
    /// A mobile sealed under the server's data key, for the claims the walk files.
    sealed_mobile: String,
    _dir: tempfile::TempDir,
}

async fn account(store: &Store, username: &str, role: Role, org_id: Option<i64>) -> Account {
    store
        .create_account(
            &NewAccount {
                username,
                display_name: username,
                role,
                org_id,
                password_hash: "x",
                created_at: 0,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap()
}

async fn with_token(store: &Store, label: &'static str, account: Account) -> Actor {
    let token = format!("cdk_test_{}", account.username);
    common::give_api_token(store, account.id, &token).await;
    Actor {
        label,
        account: Some(account),
        token: Some(token),
    }
}

async fn world() -> (World, Vec<Actor>) {
    let common::TestServer {
        store,
        router: app_router,
        dir,
        state,
        ..
    } = common::test_server().await;
    bootstrap_admin(&store, Some("authz-admin-pass-1".into()))
        .await
        .unwrap();
    let admin = |username| NewAccount {
        username,
        display_name: username,
        role: Role::OrgAdmin,
        org_id: None,
        password_hash: "x",
        created_at: 0,
    };
    let (org_a, a_admin) = store
        .register_organisation("甲公司", "91350100M000100Y43", &admin("a_admin"), "test")
        .await
        .unwrap();
    let (org_b, b_admin) = store
        .register_organisation("乙公司", "91110108MA01W4JK2X", &admin("b_admin"), "test")
        .await
        .unwrap();
    let a_employee = account(&store, "a_employee", Role::Employee, Some(org_a.id)).await;
    let b_employee = account(&store, "b_employee", Role::Employee, Some(org_b.id)).await;
    let operator = account(&store, "operator", Role::PlatformOperator, None).await;
    let officer = account(&store, "officer", Role::CaOfficer, None).await;
    let sysadmin = store.account_by_username("admin").await.unwrap().unwrap();
    let provider_id = store.ca_providers().await.unwrap()[1].id;
    certdesk_server::products::ensure_default_products(&store)
        .await
        .unwrap();
    let product_id = store.products(true).await.unwrap()[0].id;
    let actors = vec![
        Actor {
            label: "anonymous",
            account: None,
            token: None,
        },
        with_token(&store, "org admin", a_admin).await,
        with_token(&store, "employee", a_employee.clone()).await,
        with_token(&store, "platform operator", operator).await,
        with_token(&store, "CA officer", officer).await,
        with_token(&store, "system admin", sysadmin).await,
    ];
    let world = World {
        router: app_router,
        store,
        org_a: org_a.id,
        org_b: org_b.id,
        a_employee,
        b_employee,
        b_admin,
        provider_id,
        blobs: state.blobs.clone(),
        product_id,
        sealed_mobile: state.config.personal_data.seal("13800138000").unwrap(),
        _dir: dir,
    };
    (world, actors)
}

/// An object a path parameter names, and whose it is.
struct Object {
    id: String,
    owner_account: Option<i64>,
    owner_org: Option<i64>,
}

async fn binding_for(world: &World, account: &Account, org_id: i64) -> Object {
    let fingerprint = format!("{:064x}", rand_u64());
    let binding = world
        .store
        .create_binding(
            &NewBinding {
                account_id: account.id,
                org_id,
                provider_id: world.provider_id,
                fingerprint: &fingerprint,
                serial_hex: "01",
                key_id: "AA",
                subject_name: "x",
                not_after: i64::MAX / 2,
                certificate_der: &[0x30],
                bound_by: account.id,
                bound_at: 0,
            },
            &certdesk_store::AuditNote {
                at: 0,
                actor_account_id: Some(account.id),
                actor_label: "test",
                org_id: Some(org_id),
                detail: "",
            },
        )
        .await
        .unwrap();
    Object {
        id: binding.id.to_string(),
        owner_account: Some(account.id),
        owner_org: Some(org_id),
    }
}

fn rand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn token_of(world: &World, account: &Account) -> Object {
    let token = world
        .store
        .create_api_token(
            account.id,
            "victim",
            &format!("{:064x}", rand_u64() + 1_000_000),
            0,
            i64::MAX,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    Object {
        id: token.id.to_string(),
        owner_account: Some(account.id),
        owner_org: account.org_id,
    }
}

/// The object for a route's path parameter: in the actor's organisation ("own") or another.
async fn object_for(world: &World, path: &str, actor: &Actor, own: bool) -> Option<Object> {
    let me = actor.account.as_ref();
    if path.contains("{account_id}") {
        // An employee of organisation A, or of organisation B: another account, never the
        // actor's own (acting on oneself is refused by a rule, not by the table).
        let account = if own {
            &world.a_employee
        } else {
            &world.b_employee
        };
        return Some(Object {
            id: account.id.to_string(),
            owner_account: None,
            owner_org: account.org_id,
        });
    }
    if path.contains("{binding_id}") {
        return Some(if own {
            // An employee's own binding; for everyone else, an employee's binding in organisation A.
            binding_for(world, &world.a_employee, world.org_a).await
        } else {
            binding_for(world, &world.b_employee, world.org_b).await
        });
    }
    if path.contains("{token_id}") {
        return Some(match (own, me) {
            (true, Some(me)) => token_of(world, me).await,
            _ => token_of(world, &world.b_admin).await,
        });
    }
    if path.contains("{order_no}") {
        let (org_id, creator) = if own {
            (world.org_a, &world.a_employee)
        } else {
            (world.org_b, &world.b_admin)
        };
        let order_no = format!("2026112310000000{:04}", rand_u64());
        let order = world
            .store
            .create_application_order_in_status(
                "awaiting_initial_review",
                &certdesk_store::NewOrder {
                    order_no: &order_no,
                    org_id,
                    kind: certdesk_domain::BusinessType::NewCertificate,
                    amount_fen: 0,
                    created_by: creator.id,
                    on_behalf: false,
                    created_at: 0,
                },
                &certdesk_store::NewApplication {
                    provider_id: world.provider_id,
                    product_id: 1,
                    years: 1,
                    voucher_code: None,
                    delivery_method: "mail",
                    form_json: "{}",
                },
            )
            .await
            .unwrap();
        // Its business licence, so that the document routes have something to answer with.
        let blob = world.blobs.put(b"licence bytes").unwrap();
        world
            .store
            .put_order_upload(
                order.id,
                &certdesk_store::OrderUpload {
                    kind: "business_licence".into(),
                    blob_id: blob.as_str().to_string(),
                    file_name: "licence.png".into(),
                    format: "PNG".into(),
                    size_bytes: 13,
                    uploaded_at: 0,
                },
            )
            .await
            .unwrap();
        return Some(Object {
            id: order_no,
            owner_account: None,
            owner_org: Some(org_id),
        });
    }
    if path.contains("{token}") || path.contains("{transfer_id}") {
        // A sandbox trade, or a bank-transfer receipt, of an order waiting for payment.
        let (org_id, creator) = if own {
            (world.org_a, &world.a_employee)
        } else {
            (world.org_b, &world.b_admin)
        };
        let order = world
            .store
            .create_order_in_status(
                "awaiting_payment",
                &certdesk_store::NewOrder {
                    order_no: &format!("2026112311000000{:04}", rand_u64()),
                    org_id,
                    kind: certdesk_domain::BusinessType::NewCertificate,
                    amount_fen: 39_900,
                    created_by: creator.id,
                    on_behalf: false,
                    created_at: 0,
                },
            )
            .await
            .unwrap();
        let id = if path.contains("{token}") {
            let token = format!("sandbox-token-{}", rand_u64());
            world
                .store
                .sandbox_trade_for_order(&certdesk_store::NewSandboxTrade {
                    order_id: order.id,
                    token: &token,
                    trade_no: &format!("T{token}"),
                    amount_fen: order.amount_fen,
                    created_at: 0,
                })
                .await
                .unwrap();
            token
        } else {
            let blob = world.blobs.put(b"receipt").unwrap();
            world
                .store
                .submit_offline_transfer(
                    &certdesk_store::NewOfflineTransfer {
                        order_id: order.id,
                        receipt_blob: blob.as_str(),
                        receipt_name: "receipt.png",
                        amount_fen: order.amount_fen,
                        submitted_by: creator.id,
                        submitted_at: 0,
                    },
                    &certdesk_store::testing::test_audit_note(),
                    "order:test",
                )
                .await
                .unwrap()
                .id
                .to_string()
        };
        return Some(Object {
            id,
            owner_account: None,
            owner_org: Some(org_id),
        });
    }
    if path.contains("{claim_id}") {
        // 单位认领 claims are the platform's: a claim on a fresh organisation each time (one open
        // claim per organisation), with a document to show.
        let n = rand_u64();
        let admin = format!("claimed.{n}");
        let (org, _) = world
            .store
            .register_organisation(
                "被认领公司",
                &format!("CLAIM{n:013}"),
                &NewAccount {
                    username: &admin,
                    display_name: "原注册人",
                    role: Role::OrgAdmin,
                    org_id: None,
                    password_hash: "x",
                    created_at: 0,
                },
                "test",
            )
            .await
            .unwrap();
        let blob = world.blobs.put(b"licence image").unwrap();
        let mobile = world.sealed_mobile.clone();
        let claim = world
            .store
            .file_organisation_claim(
                &certdesk_store::NewOrganisationClaim {
                    org_id: org.id,
                    organisation_name: "被认领公司",
                    claimant_name: "认领人",
                    claimant_mobile_sealed: &mobile,
                    statement: "执照附后",
                    username: &format!("claimant.{n}"),
                    password_hash: "x",
                    licence_blob: blob.as_str(),
                    letter_blob: blob.as_str(),
                    query_code_hash: &format!("{n:064x}"),
                    created_at: 0,
                },
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap();
        return Some(Object {
            id: claim.id.to_string(),
            owner_account: None,
            owner_org: None,
        });
    }
    if path.contains("{outbox_id}") {
        // An outbox message is the platform's: answered as a conflict when it is no dead letter.
        return Some(Object {
            id: "1".into(),
            owner_account: None,
            owner_org: None,
        });
    }
    if path.contains("{product_id}") {
        return Some(Object {
            id: world.product_id.to_string(),
            owner_account: None,
            owner_org: None,
        });
    }
    if path.contains("{provider_id}") {
        return Some(Object {
            id: world.provider_id.to_string(),
            owner_account: None,
            owner_org: None,
        });
    }
    None
}

/// The relation, written independently of the server's: the spec of "own" and "other".
fn relation(actor: &Account, object: &Object) -> Relation {
    if object.owner_account == Some(actor.id) {
        Relation::OwnAccount
    } else {
        match (object.owner_org, actor.org_id) {
            (None, _) => Relation::Platform,
            (Some(theirs), Some(mine)) if theirs == mine => Relation::OwnOrganisation,
            _ => Relation::OtherOrganisation,
        }
    }
}

/// The path parameters that name an object (an id or number).
const OBJECT_PARAMS: [&str; 10] = [
    "{outbox_id}",
    "{claim_id}",
    "{binding_id}",
    "{token_id}",
    "{provider_id}",
    "{order_no}",
    "{token}",
    "{transfer_id}",
    "{product_id}",
    "{account_id}",
];

/// What a route answered.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    text: String,
}

/// `method uri` as `actor` (with its API token, if any); a POST or PUT carries an empty JSON
/// object, or with `as_form` an urlencoded form with a (wrong) CSRF field.
async fn ask(world: &World, actor: &Actor, method: &Method, uri: &str, as_form: bool) -> Answer {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(token) = &actor.token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match (method, as_form) {
        (&Method::POST | &Method::PUT, false) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from("{}")
        }
        (&Method::POST | &Method::PUT, true) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from("csrf=x")
        }
        _ => Body::empty(),
    };
    let response = world
        .router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or_default().to_string())
    };
    let (status, location, content_type) = (
        response.status(),
        header_text(header::LOCATION),
        header_text(header::CONTENT_TYPE).unwrap_or_default(),
    );
    let text = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
        .into_owned();
    Answer {
        status,
        location,
        content_type,
        text,
    }
}

fn concrete_path(path: &str, object: Option<&Object>) -> String {
    let mut out = path.to_string();
    if let Some(object) = object {
        for param in OBJECT_PARAMS {
            out = out.replace(param, &object.id);
        }
    }
    // Enabling an enabled account changes nothing: the walk's actors stay as they are.
    let out = out
        .replace("{change}", "enable")
        .replace("{document}", "service-agreement");
    let file = if path.starts_with("/ca/") {
        "sm2.cer"
    } else {
        "sm2.crl"
    };
    out.replace("{file}", file)
        .replace("{*request}", "MAA=")
        .replace("{kind}", "business_licence")
        .replace("{method}", "mobile")
}

#[derive(Debug, PartialEq)]
enum Expected {
    Allowed,
    Unauthenticated,
    Forbidden,
    NotFound,
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_permission_table_says() {
    let (world, actors) = world().await;
    let routes = route_table();
    assert!(routes.len() >= 40, "{} routes", routes.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for route in &routes {
        for actor in &actors {
            for own in [true, false] {
                let object = object_for(&world, route.path, actor, own).await;
                if object.is_none() && !own {
                    continue; // No object: "own" and "other" are the same request.
                }
                let expected = match (access(route.action), &actor.account) {
                    (Access::Public, _) => Expected::Allowed,
                    (Access::Granted(_), None) => Expected::Unauthenticated,
                    (Access::Granted(_), Some(account)) => {
                        match reach(account.role, route.action) {
                            None => Expected::Forbidden,
                            Some(_) => match &object {
                                None => Expected::Allowed,
                                Some(object) => match authorize(
                                    account.role,
                                    route.action,
                                    relation(account, object),
                                ) {
                                    Ok(()) => Expected::Allowed,
                                    Err(Refusal::Forbidden) => Expected::Forbidden,
                                    Err(Refusal::NotFound) => Expected::NotFound,
                                },
                            },
                        }
                    }
                };
                let uri = concrete_path(route.path, object.as_ref());
                let Answer {
                    status,
                    location,
                    text,
                    ..
                } = ask(&world, actor, &route.method, &uri, false).await;
                let api = uri.starts_with("/api/");
                let ok = match expected {
                    Expected::Allowed => !matches!(
                        status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                    ),
                    Expected::Unauthenticated if api => status == StatusCode::UNAUTHORIZED,
                    Expected::Unauthenticated => {
                        status == StatusCode::SEE_OTHER && location.as_deref() == Some("/login")
                    }
                    Expected::Forbidden => status == StatusCode::FORBIDDEN,
                    Expected::NotFound => status == StatusCode::NOT_FOUND,
                };
                checked += 1;
                // A page never answers with the API's JSON, whatever it refuses.
                let ok = ok && !(is_page(route.path) && text.trim_start().starts_with('{'));
                if !ok {
                    failures.push(format!(
                        "{} {} as {} ({} org): expected {:?}, got {} {}",
                        route.method,
                        uri,
                        actor.label,
                        if own { "own" } else { "other" },
                        expected,
                        status,
                        text.chars().take(160).collect::<String>()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Organisation B's objects were never touched by organisation A's accounts.
    let _ = world.org_b;
}

#[test]
fn routes_are_registered_once_and_the_api_is_documented() {
    let routes = route_table();
    let mut seen = std::collections::HashSet::new();
    for route in &routes {
        assert!(
            seen.insert((route.method.clone(), route.path)),
            "{} {} registered twice",
            route.method,
            route.path
        );
    }
    let doc = serde_json::to_value(certdesk_server::ApiDoc::openapi()).unwrap();
    let documented: std::collections::HashSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {}", method.to_uppercase(), path))
        })
        .collect();
    for route in routes
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
    {
        let key = format!("{} {}", route.method, route.path);
        assert!(
            documented.contains(&key),
            "{key} is not in the OpenAPI document"
        );
    }
    for key in &documented {
        assert!(
            routes
                .iter()
                .any(|r| format!("{} {}", r.method, r.path) == *key),
            "{key} is documented but not routed"
        );
    }
}

/// Separation of duties (issue 11), as the walk above enforces it on every route: no staff role
/// hands in a key (the CSR) for an order or takes what was issued for it, and none reads the
/// codes the sandbox "sent" to a supplier. (The 初审 of a 代办 order by the operator who made it
/// is refused by the review itself: tests/applications.rs.)
#[test]
fn staff_hand_in_no_key_and_read_no_supplier_codes() {
    let routes = route_table();
    let keyed: Vec<_> = routes.iter().filter(|r| r.path.ends_with("/csr")).collect();
    assert_eq!(keyed.len(), 2, "the CSR page form and API");
    let outbox: Vec<_> = routes
        .iter()
        .filter(|r| r.path.ends_with("/identity/sandbox"))
        .collect();
    assert_eq!(outbox.len(), 1);
    for route in keyed.into_iter().chain(outbox) {
        for role in [
            Role::PlatformOperator,
            Role::CaOfficer,
            Role::SystemAdmin,
            Role::Employee,
        ] {
            assert!(
                reach(role, route.action).is_none(),
                "{role:?} may {} {}",
                route.method,
                route.path
            );
        }
        assert!(reach(Role::OrgAdmin, route.action).is_some());
    }
}

/// English an error of axum, serde or ours would leak (never on a page).
const ENGLISH_ERRORS: [&str; 8] = [
    "Failed to",
    "Cannot parse",
    "Invalid ",
    "missing field",
    "unknown variant",
    "expected ",
    "internal error",
    "not found",
];

/// A path with every parameter replaced by `value` (an unknown id, or one that cannot be).
fn path_with(path: &str, value: &str) -> String {
    let mut out = path.to_string();
    let others = [
        "{file}",
        "{kind}",
        "{method}",
        "{change}",
        "{document}",
        "{*request}",
    ];
    for param in OBJECT_PARAMS.iter().chain(others.iter()) {
        out = out.replace(param, value);
    }
    out
}

/// Whether a route is a page (not the API, not the public PKI files).
fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/crl/")
        || path.starts_with("/ca/")
        || path.starts_with("/ocsp")
        || path == "/healthz")
}

#[tokio::test]
async fn no_page_shows_json_or_english_and_every_api_error_has_the_shape() {
    let (world, actors) = world().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in route_table() {
        let with_params = route.path.contains('{');
        let mut uris: Vec<String> = Vec::new();
        if with_params {
            for value in [
                "20991231235959000000",
                "abc",
                "99999999999999999999999",
                "-1",
            ] {
                uris.push(path_with(route.path, value));
            }
        }
        // Malformed query strings, on every route (most ignore them).
        let base = if with_params {
            path_with(route.path, "20991231235959000000")
        } else {
            route.path.to_string()
        };
        uris.push(format!(
            "{base}?page=abc&actor=abc&from=abc&to=abc&status=zz&provider=x&limit=-1&years=x&kind=%FF"
        ));
        for uri in &uris {
            for actor in &actors {
                let page = is_page(route.path);
                let Answer {
                    status,
                    content_type,
                    text,
                    ..
                } = ask(&world, actor, &route.method, uri, page).await;
                checked += 1;
                let mut wrong = Vec::new();
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    wrong.push("a 500");
                }
                if page && status.as_u16() >= 400 {
                    if content_type.contains("json") || text.trim_start().starts_with('{') {
                        wrong.push("JSON on a page");
                    }
                    if !content_type.contains("text/html") {
                        wrong.push("not an HTML page");
                    }
                    if ENGLISH_ERRORS.iter().any(|e| text.contains(e)) {
                        wrong.push("English error text");
                    }
                }
                if !page && route.path.starts_with("/api/") && status.as_u16() >= 400 {
                    let shaped = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .is_some_and(|v| {
                            v["error"]["code"].is_string() && v["error"]["message"].is_string()
                        });
                    if !shaped {
                        wrong.push("an API error without the shape");
                    }
                }
                if !wrong.is_empty() {
                    failures.push(format!(
                        "{} {uri} as {}: {} ({status} {content_type}) {}",
                        route.method,
                        actor.label,
                        wrong.join(", "),
                        text.chars().take(120).collect::<String>()
                    ));
                }
            }
        }
    }
    failures.sort();
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} of {checked} answers wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
