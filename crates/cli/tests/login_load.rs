//! Password logins under a burst (issue 12): 300 wrong passwords for one account arriving
//! together are checked no more often than the limit, never more at once than the cap, in
//! bounded memory, with one audit entry for the lock; the account's owner, from another
//! address, still gets in after the slow-down.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ADMIN_PASSWORD: &str = "Load-Test-Admin-1";

/// POST /api/v1/session for `admin` from `client` (as the trusted proxy names it); the status.
fn login(port: u16, client: &str, password: &str) -> Option<u16> {
    let body = format!(r#"{{"username":"admin","password":"{password}"}}"#);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    write!(
        stream,
        "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {client}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

/// The peak resident memory of a process, in kB (`VmHWM`).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn a_burst_of_wrong_passwords_is_checked_only_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = certdesk(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        path_str(&data),
        "--trusted-proxies",
        "127.0.0.1",
        "--log",
        "info,certdesk_server::web::auth=debug",
    ])
    .env("CERTDESK_ADMIN_PASSWORD", ADMIN_PASSWORD)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr = server.stderr.take().unwrap();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        })
    };
    wait_until_healthy(port, &mut server);

    let attempts: Vec<_> = (0..300)
        .map(|n| {
            std::thread::spawn(move || login(port, "198.51.100.7", &format!("wrong-pass-{n}")))
        })
        .collect();
    let statuses: Vec<u16> = attempts
        .into_iter()
        .map(|t| t.join().unwrap().expect("an answer"))
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked, 5, "checked tries: {statuses:?}");
    assert_eq!(locked, 295);

    // Memory stayed bounded, and hashing never ran more than the cap at once.
    let peak_kb = peak_rss_kb(server.id());
    assert!(peak_kb < 300 * 1024, "peak RSS {peak_kb} kB");
    let cap = std::thread::available_parallelism().map_or(2, |n| n.get());
    let most_at_once = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("password hashing started"))
        .filter_map(|l| {
            l.split("in_flight=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .expect("hashing was logged");
    assert!(most_at_once <= cap, "{most_at_once} at once, cap {cap}");

    // Other addresses try the account too: each is checked, and the account slows down.
    for n in 0..12 {
        assert_eq!(
            login(port, &format!("192.0.2.{n}"), "still-wrong-1"),
            Some(401)
        );
    }
    // Its owner, from another address, still gets in.
    assert_eq!(login(port, "203.0.113.5", ADMIN_PASSWORD), Some(200));
    assert!(terminate(&mut server).success());
    reader.join().unwrap();
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("password login slowed down")),
        "the account was slowed down"
    );

    let audit = read_audit(&data);
    let count = |action: &str| audit.iter().filter(|(a, _, _)| a == action).count();
    assert_eq!(count("login_failed"), 5 + 12);
    assert_eq!(count("login_locked"), 1, "one entry for the lock");
    assert_eq!(count("login_succeeded"), 1);
}
