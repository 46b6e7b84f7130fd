//! `certdesk serve` as an operator runs it: the real binary, a real port, real signals.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

#[test]
fn serve_answers_health_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_serve(data.path(), port, None);
    wait_until_healthy(port, &mut child);
    let (status, page) = http_get(port, "/login").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("登录"));

    let status = terminate(&mut child);
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    assert!(status.success(), "exit {status}; stderr: {stderr}");
    assert!(stderr.contains("closing the database"), "{stderr}");
    // The one-time password is printed once, to standard output, and never logged.
    let line = stdout
        .lines()
        .find(|l| l.contains("一次性密码"))
        .expect("one-time password printed");
    let password = line
        .split("一次性密码")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(password.len() >= 20, "{line}");
    assert!(!stderr.contains(password), "password in the log");
    assert!(data.path().join("certdesk.db").exists());

    // A second start on the same data keeps the admin and prints no password.
    let mut again = spawn_serve(data.path(), port, None);
    wait_until_healthy(port, &mut again);
    terminate(&mut again);
    let stdout = read_all(again.stdout.take());
    assert!(!stdout.contains("一次性密码"), "{stdout}");
}

#[test]
fn every_log_line_of_a_request_carries_its_id() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_serve(data.path(), port, Some("preset-pass-123"));
    wait_until_healthy(port, &mut child);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nx-request-id: req-abc-123\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("x-request-id: req-abc-123"), "{reply}");
    terminate(&mut child);
    let stderr = read_all(child.stderr.take());
    let request_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("/api/v1/me"))
        .collect();
    assert!(!request_lines.is_empty(), "{stderr}");
    assert!(
        request_lines.iter().all(|l| l.contains("req-abc-123")),
        "{stderr}"
    );
    assert!(!stderr.contains("preset-pass-123"));
}

/// Runs `serve` expecting a refusal; answers its one line of error.
fn refused(cmd: &mut Command) -> String {
    let output = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        !output.status.success(),
        "serve should have refused to start"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line of error, got: {stderr}");
    assert!(lines[0].starts_with("certdesk: error: "), "{stderr}");
    lines[0].to_string()
}

#[test]
fn an_unknown_config_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("certdesk.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndatabase = \"x\"\n").unwrap();
    let line = refused(&mut certdesk(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]));
    assert!(line.contains("unknown field `database`"), "{line}");
    assert!(line.contains("line 2"), "{line}");
}

#[test]
fn an_unreachable_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let line = refused(&mut certdesk(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        "postgres://certdesk:hunter2@127.0.0.1:1/certdesk",
    ]));
    assert!(line.contains("cannot connect to database"), "{line}");
    assert!(!line.contains("hunter2"), "password leaked: {line}");
}

#[test]
fn a_port_in_use_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let line = refused(&mut certdesk(&[
        "serve",
        "--listen",
        &addr,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]));
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
    assert!(line.to_lowercase().contains("in use"), "{line}");
    assert!(
        !dir.path().join("certdesk.db").exists(),
        "a database was made anyway"
    );
}

#[test]
fn an_unwritable_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A path through a regular file can be neither created nor written, even by root.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let inside_file = file.join("data");
    let line = refused(&mut certdesk(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        inside_file.to_str().unwrap(),
    ]));
    assert!(line.contains("cannot create data directory"), "{line}");
    // /proc takes no new directories or files, whoever asks.
    let line = refused(&mut certdesk(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        "/proc/certdesk-test",
    ]));
    assert!(
        line.contains("data directory /proc/certdesk-test"),
        "{line}"
    );
}

#[test]
fn a_bad_listen_address_is_refused() {
    let line = refused(&mut certdesk(&["serve", "--listen", "localhost"]));
    assert!(
        line.contains("invalid listen address 'localhost'"),
        "{line}"
    );
}

#[test]
fn help_documents_every_option() {
    let output = certdesk(&["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--config",
        "--listen",
        "--data-dir",
        "--database-url",
        "--public-url",
        "--session-hours",
        "--payment-gateway",
        "--identity-provider",
        "--demo",
        "--log",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    for var in ["CERTDESK_LISTEN", "CERTDESK_DATABASE_URL"] {
        assert!(help.contains(var), "--help lacks {var}");
    }
}

/// A sandbox simulates payments and identity checks: at a public URL that is not this machine it
/// is refused with one line, unless the operator asks for a demonstration, whose every page then
/// says 演示环境. With no sandbox, nothing is simulated and no ribbon is shown.
#[test]
fn a_sandbox_runs_in_public_only_as_a_marked_demonstration() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let data_dir = data.path().to_str().unwrap().to_string();
    let public = ["--public-url", "https://ca.example.cn"];
    let base = ["serve", "--listen", &listen, "--data-dir", &data_dir];
    let line = refused(&mut certdesk(&[&base[..], &public[..]].concat()));
    assert!(
        line.contains("--demo") && line.contains("sandbox"),
        "{line}"
    );
    assert!(
        !data.path().join("certdesk.db").exists(),
        "a refused start changes nothing"
    );

    for (flags, demo) in [
        (vec!["--demo"], true),
        (
            vec!["--payment-gateway", "none", "--identity-provider", "none"],
            false,
        ),
    ] {
        let mut child = certdesk(&[&base[..], &public[..], &flags[..]].concat())
            .env("CERTDESK_ADMIN_PASSWORD", "Demo-Admin-Pass-1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_healthy(port, &mut child);
        for path in ["/login", "/no-such-page"] {
            let (_, page) = http_get(port, path).unwrap();
            assert_eq!(page.contains("演示环境"), demo, "{flags:?} {path}: {page}");
        }
        assert!(terminate(&mut child).success());
    }
    let line = refused(&mut certdesk(
        &[&base[..], &["--payment-gateway", "paypal"][..]].concat(),
    ));
    assert!(line.contains("invalid payment_gateway 'paypal'"), "{line}");
}

/// The platform's name comes from the configuration, not the crate name (issue 12).
#[test]
fn the_platform_name_is_the_operators() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = certdesk(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        path_str(&dir.path().join("data")),
        "--platform-name",
        "福建招投标CA服务台",
    ])
    .env("CERTDESK_ADMIN_PASSWORD", "Platform-Name-Admin-1")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    wait_until_healthy(port, &mut server);
    let (status, page) = http_get(port, "/login").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("<title>登录 · 福建招投标CA服务台</title>"),
        "{page}"
    );
    assert!(!page.contains("certdesk <span>"), "{page}");
    assert!(terminate(&mut server).success());
    // A name that cannot be shown is refused at start.
    let (ok, _, err) = run_certdesk(&[
        "serve",
        "--data-dir",
        path_str(&dir.path().join("data")),
        "--platform-name",
        "",
    ]);
    assert!(!ok);
    assert!(err.contains("platform_name"), "{err}");
}

/// The service agreement and the CPS are readable before signing up, and their text is the
/// operator's (issue 12).
#[test]
fn the_terms_are_readable_and_the_operators() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = spawn_serve(&data, port, Some("Terms-Test-Admin-1"));
    wait_until_healthy(port, &mut server);
    let (status, page) = http_get(port, "/terms/cps").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("电子认证业务规则") && page.contains("证书吊销列表"),
        "{page}"
    );
    let text = dir.path().join("agreement.txt");
    std::fs::write(
        &text,
        "第一条 本协议由运营方拟定。\n第二条 用户应妥善保管CA锁。\n",
    )
    .unwrap();
    let (ok, out, err) = run_certdesk(&[
        "admin",
        "--data-dir",
        path_str(&data),
        "terms",
        "set",
        "--document",
        "service-agreement",
        "--file",
        path_str(&text),
    ]);
    assert!(ok, "{out}{err}");
    let (status, page) = http_get(port, "/terms/service-agreement").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("<p>第二条 用户应妥善保管CA锁。</p>"),
        "{page}"
    );
    let (status, _) = http_get(port, "/terms/nothing").unwrap();
    assert_eq!(status, 404);
    let (ok, _, err) = run_certdesk(&[
        "admin",
        "--data-dir",
        path_str(&data),
        "terms",
        "set",
        "--document",
        "nothing",
        "--file",
        path_str(&text),
    ]);
    assert!(!ok && err.contains("service-agreement or cps"), "{err}");
    assert!(terminate(&mut server).success());
}
