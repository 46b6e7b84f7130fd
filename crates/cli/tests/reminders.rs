//! Expiry reminders with several `certdesk serve` processes on one PostgreSQL database: both
//! run the reminder job as they start, at the same moment, and again after a restart; each
//! reminder is sent once.

mod common;

use certdesk_domain::Role;
use certdesk_store::testing::{fresh_postgres_database, put_held_certificate, test_audit_note};
use certdesk_store::{NewAccount, NewBinding, Store};
use common::{certdesk, free_port, now, runtime, terminate, wait_until_healthy};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A `certdesk serve` that is stopped when dropped (a failing test leaves no server behind);
/// its standard error goes to a file, shown when it fails to start.
struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn healthy(&mut self, port: u16) {
        let child = &mut self.child;
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until_healthy(port, child)
        }));
        if let Err(panic) = started {
            eprintln!("{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            std::panic::resume_unwind(panic);
        }
    }

    fn stop(mut self) {
        assert!(terminate(&mut self.child).success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_on(database_url: &str, data_dir: &Path, port: u16) -> Server {
    let listen = format!("127.0.0.1:{port}");
    let log = data_dir.join(format!("serve-{port}.log"));
    let child = certdesk(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--database-url",
        database_url,
    ])
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    Server { child, log }
}

/// (reminders, messages) in the database.
fn counts(rt: &tokio::runtime::Runtime, store: &Store) -> (i64, i64) {
    rt.block_on(async {
        let reminders = store.count_expiry_reminders().await.unwrap();
        let admin = store.account_by_username("boss").await.unwrap().unwrap();
        let holder = store.account_by_username("holder").await.unwrap().unwrap();
        let messages = store.messages_of(admin.id, 100).await.unwrap().len()
            + store.messages_of(holder.id, 100).await.unwrap().len();
        (reminders, messages as i64)
    })
}

#[test]
fn two_servers_on_one_database_send_each_reminder_once() {
    let dir = tempfile::tempdir().unwrap();
    // One runtime for the test's own store: its connections live in it.
    let rt = runtime();
    let database_url = rt.block_on(fresh_postgres_database());
    // The first start makes the schema and the CA.
    let port = free_port();
    let mut first = serve_on(&database_url, dir.path(), port);
    first.healthy(port);
    first.stop();

    // A certificate that expires in ten days, held by an organisation whose employee has it
    // bound: the 15-day reminder is due, to the admin and the employee.
    let store = rt.block_on(async { Store::open(&database_url).await.unwrap() });
    rt.block_on(async {
        let (org, admin) = store
            .register_organisation(
                "福州测试科技有限公司",
                "91350100M000100Y43",
                &NewAccount {
                    username: "boss",
                    display_name: "管理员",
                    role: Role::OrgAdmin,
                    org_id: None,
                    password_hash: "x",
                    created_at: 0,
                },
                "test",
            )
            .await
            .unwrap();
        let holder = store
            .create_account(
                &NewAccount {
                    username: "holder",
                    display_name: "持锁员工",
                    role: Role::Employee,
                    org_id: Some(org.id),
                    password_hash: "x",
                    created_at: 0,
                },
                &test_audit_note(),
            )
            .await
            .unwrap();
        let expires = now() + 10 * 86_400;
        put_held_certificate(&store, org.id, admin.id, "5e4d3c2b", expires).await;
        store
            .create_binding(
                &NewBinding {
                    account_id: holder.id,
                    org_id: org.id,
                    provider_id: store.ca_providers().await.unwrap()[0].id,
                    fingerprint: &"cd".repeat(32),
                    serial_hex: "5e4d3c2b",
                    key_id: "01",
                    subject_name: "福州测试科技有限公司",
                    not_after: expires,
                    certificate_der: b"der",
                    bound_by: admin.id,
                    bound_at: 0,
                },
                &test_audit_note(),
            )
            .await
            .unwrap();
    });
    assert_eq!(counts(&rt, &store), (0, 0));

    // Two processes start together; each runs the job at start.
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = serve_on(&database_url, dir.path(), port_a);
    let mut b = serve_on(&database_url, dir.path(), port_b);
    a.healthy(port_a);
    b.healthy(port_b);
    // The job runs beside the server: wait until it has sent, then a while longer for a
    // second sending that must not come.
    let deadline = Instant::now() + Duration::from_secs(20);
    while counts(&rt, &store).0 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(counts(&rt, &store), (1, 2));
    // One restarts: its job runs again at start, and sends nothing.
    a.stop();
    let mut a = serve_on(&database_url, dir.path(), port_a);
    a.healthy(port_a);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(counts(&rt, &store), (1, 2));
    a.stop();
    b.stop();
    rt.block_on(store.close());
}
