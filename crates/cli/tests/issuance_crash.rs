//! Issuance survives a crash at any point (issue 10): `certdesk serve` is killed with SIGKILL at
//! each issuance failpoint, 50 times, for a key holder's CSR, for keys the CA holds (移动版) and
//! for 制证 at the CA's station (issue 14: the key recorded, then issued; a repeat for the same
//! key after recovery issues once and answers the same certificates).
//! Then a server that recovers unfinished issuance runs, and every order is issued and linked
//! or can be issued again; no valid certificate is linked to no order; no serial is used twice.

mod common;

use certdesk_domain::OrderStatus;
use certdesk_pki::Algorithm;
use certdesk_store::{Store, ISSUANCE_FAILPOINTS};
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KILLS: usize = 50;
/// The recovering server's age of an unfinished issuance (its smallest setting).
const RECOVERY_SECS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// The key holder sends a CSR for an order in 制证中.
    Csr,
    /// The CA officer's 复审 approval issues keys the CA holds.
    HeldKeys,
    /// 制证: the CA officer's station hands in the blank key's request (`…/production`).
    Production,
}

/// The key the 制证 station uses for `order_no`, and its request as the agent sends it.
fn production_json(order_no: &str) -> String {
    let pem: String = serde_json::from_str::<serde_json::Value>(&csr_json(Algorithm::Sm2Sm3))
        .unwrap()["csr"]
        .as_str()
        .unwrap()
        .to_string();
    // The agent sends DER in base64: the PEM's body.
    let der_base64: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    serde_json::json!({"key_serial": key_of(order_no), "csr": der_base64}).to_string()
}

fn key_of(order_no: &str) -> String {
    format!("SW{}", &order_no[order_no.len() - 6..])
}

/// Starts the work that issues the order, in a thread (it hangs until the kill).
fn start_issuance(
    port: u16,
    way: Way,
    order_no: &str,
) -> std::thread::JoinHandle<Option<(u16, String)>> {
    let order_no = order_no.to_string();
    std::thread::spawn(move || match way {
        Way::Csr => post_reply(
            port,
            &format!("/api/v1/orders/{order_no}/csr"),
            SUPPLIER_TOKEN,
            &csr_json(Algorithm::Sm2Sm3),
        ),
        Way::HeldKeys => post_reply(
            port,
            &format!("/api/v1/orders/{order_no}/review"),
            OFFICER_TOKEN,
            r#"{"decision":"approve"}"#,
        ),
        Way::Production => post_reply(
            port,
            &format!("/api/v1/orders/{order_no}/production"),
            OFFICER_TOKEN,
            &production_json(&order_no),
        ),
    })
}

/// `certdesk serve`; with `failpoints`, recovery is held off (a day) so that the failpoint
/// reached is the request's, not the recovery job's.
fn serve(data_dir: &Path, port: u16, failpoints: Option<&str>) -> Child {
    let recovery_secs = match failpoints {
        Some(_) => 86_400,
        None => RECOVERY_SECS,
    };
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = certdesk(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        path_str(data_dir),
        "--issuance-recovery-secs",
        &recovery_secs.to_string(),
    ]);
    cmd.env_remove("FAILPOINTS");
    if let Some(spec) = failpoints {
        cmd.env("FAILPOINTS", spec);
    }
    cmd.env("CERTDESK_ADMIN_PASSWORD", "Crash-Test-Admin-1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Standard error's lines, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// Waits for a line of standard error; answers what else it said when it did not come.
fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    wanted: &str,
    child: &mut Child,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(wanted) => return Ok(()),
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("certdesk serve exited with {status} before '{wanted}'");
        }
    }
    Err(seen.join("\n"))
}

fn issuance_state(
    store: &Store,
    order_no: &str,
) -> (OrderStatus, Option<certdesk_store::Issuance>) {
    runtime().block_on(async {
        let order = store.order_by_no(order_no).await.unwrap().unwrap();
        (order.status, store.issuance(order.id).await.unwrap())
    })
}

#[test]
fn issuance_killed_at_every_point_leaves_every_order_issued_or_claimable() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // A first start prepares the data directory, the CAs and the default products.
    let port = free_port();
    let mut child = serve(&data_dir, port, None);
    wait_until_healthy(port, &mut child);
    assert!(terminate(&mut child).success());
    let setup = set_up(&data_dir);

    let mut orders = Vec::new();
    for n in 0..KILLS {
        let point = ISSUANCE_FAILPOINTS[n % ISSUANCE_FAILPOINTS.len()];
        let way = match (n / ISSUANCE_FAILPOINTS.len()) % 3 {
            0 => Way::Csr,
            1 => Way::HeldKeys,
            _ => Way::Production,
        };
        let order_no = match way {
            Way::Csr | Way::Production => {
                new_order(&data_dir, &setup, "issuing", setup.csr_product, n)
            }
            Way::HeldKeys => new_order(
                &data_dir,
                &setup,
                "awaiting_second_review",
                setup.held_product,
                n,
            ),
        };
        let port = free_port();
        let mut child = serve(&data_dir, port, Some(&format!("{point}=sleep(120000)")));
        let lines = lines_of(&mut child);
        wait_until_healthy(port, &mut child);
        let request = start_issuance(port, way, &order_no);
        if let Err(seen) = wait_for_line(&lines, &format!("failpoint {point} reached"), &mut child)
        {
            let _ = child.kill();
            panic!(
                "{order_no}: '{point}' was not reached; the request had {:?}; the server said:\n{seen}",
                request.join().unwrap()
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(
            request.join().unwrap(),
            None,
            "{order_no}: answered before the kill"
        );
        orders.push((order_no, way, point));
    }

    // Right after the kills, nothing is half-made: an order is issued with its certificates
    // linked, or holds at most a claim with no certificate.
    let store = open_store(&data_dir);
    let mut left_claimed = Vec::new();
    for (order_no, way, point) in &orders {
        let (status, issuance) = issuance_state(&store, order_no);
        if status == OrderStatus::Issuing && issuance.is_some() {
            left_claimed.push(order_no.clone());
        }
        match status {
            OrderStatus::Issued => {
                let issuance = issuance.unwrap();
                assert!(issuance.signing_certificate_id.is_some(), "{order_no}");
                assert!(issuance.encryption_certificate_id.is_some(), "{order_no}");
            }
            OrderStatus::Issuing => assert!(
                issuance.is_none_or(|i| i.signing_certificate_id.is_none()),
                "{order_no} ({way:?} at {point}): linked but not issued"
            ),
            other => panic!("{order_no} ({way:?} at {point}) is {other:?}"),
        }
    }
    runtime().block_on(store.close());

    // A server that recovers: unfinished claims older than RECOVERY_SECS are released, held-key
    // orders issued again.
    let port = free_port();
    let mut child = serve(&data_dir, port, None);
    wait_until_healthy(port, &mut child);
    let store = open_store(&data_dir);
    let deadline = Instant::now() + Duration::from_secs(RECOVERY_SECS * 6);
    loop {
        let unfinished: Vec<&String> = orders
            .iter()
            .filter(|(order_no, way, _)| {
                let (status, issuance) = issuance_state(&store, order_no);
                match status {
                    OrderStatus::Issuing => *way == Way::HeldKeys || issuance.is_some(),
                    _ => false,
                }
            })
            .map(|(order_no, _, _)| order_no)
            .collect();
        if unfinished.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered within {} s: {unfinished:?}",
            RECOVERY_SECS * 6
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every CSR order left in 制证中 can be issued again, once; a 制证 order, for the key it
    // recorded before the kill (another key is refused), and a repeat answers the same.
    let mut issued_again = 0;
    let mut produced_again = 0;
    for (order_no, way, _) in &orders {
        if *way == Way::Production {
            let recorded = runtime().block_on(async {
                let order = store.order_by_no(order_no).await.unwrap().unwrap();
                store.key_production(order.id).await.unwrap()
            });
            assert_eq!(
                recorded.map(|p| p.key_serial),
                Some(key_of(order_no)),
                "{order_no}: the key is recorded before the CA signs"
            );
        }
        if issuance_state(&store, order_no).0 == OrderStatus::Issuing {
            if *way == Way::Production {
                let path = format!("/api/v1/orders/{order_no}/production");
                let other = production_json(order_no).replace(&key_of(order_no), "SW-OTHER");
                assert_eq!(post(port, &path, OFFICER_TOKEN, &other), Some(409));
                let first = post_reply(port, &path, OFFICER_TOKEN, &production_json(order_no));
                let again = post_reply(port, &path, OFFICER_TOKEN, &production_json(order_no));
                assert_eq!(first.as_ref().map(|r| r.0), Some(200), "{first:?}");
                let certificate = |reply: &Option<(u16, String)>| {
                    let whole = &reply.as_ref().unwrap().1;
                    let body = whole.split_once("\r\n\r\n").map_or("", |(_, body)| body);
                    let body: serde_json::Value = serde_json::from_str(body).unwrap();
                    body["signing_certificate"].clone()
                };
                assert_eq!(certificate(&first), certificate(&again));
                produced_again += 1;
            } else {
                assert_eq!(*way, Way::Csr);
                let path = format!("/api/v1/orders/{order_no}/csr");
                assert_eq!(
                    post(port, &path, SUPPLIER_TOKEN, &csr_json(Algorithm::Sm2Sm3)),
                    Some(201)
                );
                assert_eq!(
                    post(port, &path, SUPPLIER_TOKEN, &csr_json(Algorithm::Sm2Sm3)),
                    Some(409)
                );
                issued_again += 1;
            }
        }
        let (status, issuance) = issuance_state(&store, order_no);
        assert_eq!(status, OrderStatus::Issued, "{order_no}");
        assert!(issuance.unwrap().encryption_certificate_id.is_some());
    }
    assert!(issued_again > 0, "no CSR order was left to issue again");
    assert!(produced_again > 0, "no 制证 order was left to make again");
    // The kills after the intent left claims; recovery released each one.
    assert!(
        left_claimed.len() >= KILLS / 5,
        "only {left_claimed:?} were left claimed"
    );
    assert!(terminate(&mut child).success());

    // No valid certificate is linked to no order; no serial is used twice; every order has its
    // own two certificates.
    runtime().block_on(store.close());
    runtime().block_on(async {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::SqliteConnection::connect(&database_url(&data_dir))
            .await
            .unwrap();
        let pool = &mut conn;
        let unlinked: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM certificates c WHERE c.revoked_at IS NULL AND NOT EXISTS \
             (SELECT 1 FROM order_issuance i WHERE i.signing_certificate_id = c.id \
             OR i.encryption_certificate_id = c.id)",
        )
        .fetch_one(&mut *pool)
        .await
        .unwrap()
        .get("n");
        assert_eq!(unlinked, 0, "valid certificates linked to no order");
        let duplicates: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT serial_hex FROM certificates \
             GROUP BY serial_hex HAVING COUNT(*) > 1) d",
        )
        .fetch_one(&mut *pool)
        .await
        .unwrap()
        .get("n");
        assert_eq!(duplicates, 0, "a serial used twice");
        let linked: i64 = sqlx::query(
            "SELECT COUNT(DISTINCT c.id) AS n FROM certificates c JOIN order_issuance i \
             ON i.signing_certificate_id = c.id OR i.encryption_certificate_id = c.id \
             WHERE c.revoked_at IS NULL",
        )
        .fetch_one(&mut *pool)
        .await
        .unwrap()
        .get("n");
        assert_eq!(linked, 2 * KILLS as i64);
        // Held keys are kept with their certificates: both keys of every held-key order.
        let held_keys: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM key_archives k JOIN order_issuance i \
             ON i.signing_certificate_id = k.certificate_id",
        )
        .fetch_one(&mut *pool)
        .await
        .unwrap()
        .get("n");
        let held_orders = orders
            .iter()
            .filter(|(_, w, _)| *w == Way::HeldKeys)
            .count();
        assert_eq!(held_keys, held_orders as i64);
    });
}
