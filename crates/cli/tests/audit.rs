//! `certdesk audit verify` against a real data directory whose database is then tampered with.

mod common;

use certdesk_domain::{entry_hash, AuditAction};
use certdesk_store::{NewAuditEvent, Store};
use common::*;
use std::path::Path;

/// A data directory whose audit log holds `n` entries, appended the way the service does.
fn data_dir_with_entries(n: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = Store::open(&database_url(dir.path())).await.unwrap();
        for i in 1..=n {
            let object = format!("certificate:{i:04x}");
            let detail = format!(r#"{{"n":{i},"credit_code":"91****Y43"}}"#);
            store
                .append_audit(&NewAuditEvent {
                    at: 1_763_000_000 + i,
                    actor_account_id: Some(1),
                    actor_label: "admin",
                    org_id: Some(7),
                    action: AuditAction::CertificateIssued,
                    object: &object,
                    detail: &detail,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
    dir
}

/// Runs one SQL statement on the data directory's database, as an intruder with file access.
fn tamper(data_dir: &Path, sql: &str) -> u64 {
    use sqlx::Connection;
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&database_url(data_dir))
            .await
            .unwrap();
        let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        done.rows_affected()
    })
}

fn stored_row_bytes(data_dir: &Path, sequence: i64) -> Vec<u8> {
    runtime().block_on(async {
        let store = Store::open(&database_url(data_dir)).await.unwrap();
        let chain = store.audit_chain().await.unwrap();
        store.close().await;
        let e = chain.iter().find(|e| e.sequence == sequence).unwrap();
        [
            e.actor_label.as_bytes(),
            e.object.as_bytes(),
            e.detail.as_bytes(),
        ]
        .concat()
    })
}

fn verify(data_dir: &Path) -> (bool, String, String) {
    run_certdesk(&["audit", "verify", "--data-dir", path_str(data_dir)])
}

#[test]
fn an_untouched_log_verifies() {
    let dir = data_dir_with_entries(5);
    let (ok, out, err) = verify(dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit chain intact: 5 entries"), "{out}");
}

#[test]
fn one_changed_byte_is_named() {
    let dir = data_dir_with_entries(5);
    let before = stored_row_bytes(dir.path(), 3);
    // `"n":3` becomes `"n":4` in row 3's detail: one byte.
    let changed = tamper(
        dir.path(),
        r#"UPDATE audit_events SET detail = replace(detail, '"n":3', '"n":4') WHERE sequence = 3"#,
    );
    assert_eq!(changed, 1);
    let after = stored_row_bytes(dir.path(), 3);
    assert_eq!(before.len(), after.len());
    let differing = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1, "exactly one byte was changed");

    let (ok, out, err) = verify(dir.path());
    assert!(!ok, "tampered log verified: {out}");
    assert!(
        err.contains("audit chain broken at entry 3: hash does not match its contents"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn one_changed_byte_of_the_object_is_named() {
    let dir = data_dir_with_entries(4);
    tamper(
        dir.path(),
        "UPDATE audit_events SET object = 'certificate:0005' WHERE sequence = 4",
    );
    let (ok, _, err) = verify(dir.path());
    assert!(!ok);
    assert!(
        err.contains("broken at entry 4: hash does not match"),
        "{err}"
    );
}

#[test]
fn a_deleted_row_is_named() {
    let dir = data_dir_with_entries(5);
    assert_eq!(
        tamper(dir.path(), "DELETE FROM audit_events WHERE sequence = 3"),
        1
    );
    let (ok, _, err) = verify(dir.path());
    assert!(!ok);
    assert!(
        err.contains("audit chain broken at entry 3: entry 3 missing"),
        "{err}"
    );
}

#[test]
fn a_forged_row_with_a_recomputed_hash_breaks_the_next_link() {
    let dir = data_dir_with_entries(5);
    let mut row = runtime().block_on(async {
        let store = Store::open(&database_url(dir.path())).await.unwrap();
        let chain = store.audit_chain().await.unwrap();
        store.close().await;
        chain[1].clone()
    });
    row.detail = r#"{"n":2,"credit_code":"91****Y44"}"#.into();
    let forged_hash = entry_hash(&row.prev_hash, &row.fields());
    tamper(
        dir.path(),
        &format!(
            "UPDATE audit_events SET detail = '{}', hash = '{forged_hash}' WHERE sequence = 2",
            row.detail
        ),
    );
    let (ok, _, err) = verify(dir.path());
    assert!(!ok);
    assert!(
        err.contains("audit chain broken at entry 3: previous-hash link broken"),
        "{err}"
    );
}

#[test]
fn a_missing_database_is_an_error_not_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = verify(dir.path());
    assert!(!ok, "{out}");
    assert!(err.contains("no certdesk database"), "{err}");
    assert!(!dir.path().join("certdesk.db").exists());
}

/// A data directory `certdesk serve` has run on once (so its chain is sealed at start and at
/// shutdown), with `n` more entries appended afterwards by the service's own call and sealed the
/// way the service seals: answers the directory and the chain's length.
fn sealed_data_dir(n: i64) -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_serve(dir.path(), port, Some("Sealed-Admin-Pass-1"));
    wait_until_healthy(port, &mut child);
    assert!(terminate(&mut child).success());
    let mut child = spawn_serve(dir.path(), port, Some("Sealed-Admin-Pass-1"));
    wait_until_healthy(port, &mut child);
    // Entries while it runs, then a stop: the stop seals them.
    runtime().block_on(async {
        let store = Store::open(&database_url(dir.path())).await.unwrap();
        for i in 1..=n {
            store
                .append_audit(&NewAuditEvent {
                    at: 1_763_000_000 + i,
                    actor_account_id: Some(1),
                    actor_label: "admin",
                    org_id: Some(7),
                    action: AuditAction::CertificateIssued,
                    object: &format!("certificate:{i:04x}"),
                    detail: &format!(r#"{{"n":{i}}}"#),
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
    assert!(terminate(&mut child).success());
    let length = runtime().block_on(async {
        let store = Store::open(&database_url(dir.path())).await.unwrap();
        let length = store.audit_chain().await.unwrap().len() as i64;
        let sealed = store.audit_seals().await.unwrap();
        store.close().await;
        assert!(
            sealed.iter().any(|s| s.sequence == length),
            "the stop sealed the head: {sealed:?}"
        );
        length
    });
    (dir, length)
}

#[test]
fn a_sealed_chain_shows_a_rewrite_and_a_cut_off_tail() {
    let (dir, length) = sealed_data_dir(6);
    let (ok, out, err) = verify(dir.path());
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("sealed through entry {length}")),
        "{out}"
    );

    // The whole chain recomputed from one entry on, by someone who can write the table but
    // holds no seal key: every link holds, the seal does not.
    let (dir, length) = sealed_data_dir(6);
    let from = length - 3;
    let chain = runtime().block_on(async {
        let store = Store::open(&database_url(dir.path())).await.unwrap();
        let chain = store.audit_chain().await.unwrap();
        store.close().await;
        chain
    });
    let mut prev = chain[(from - 2) as usize].hash.clone();
    for mut entry in chain.into_iter().filter(|e| e.sequence >= from) {
        if entry.sequence == from {
            entry.detail = format!("{} (rewritten)", entry.detail);
        }
        entry.prev_hash = prev.clone();
        let hash = entry_hash(&entry.prev_hash, &entry.fields());
        tamper(
            dir.path(),
            &format!(
                "UPDATE audit_events SET detail = '{}', prev_hash = '{}', hash = '{hash}' WHERE sequence = {}",
                entry.detail.replace('\'', "''"),
                entry.prev_hash,
                entry.sequence
            ),
        );
        prev = hash;
    }
    let (ok, out, err) = verify(dir.path());
    assert!(!ok, "a recomputed chain verified: {out}");
    assert!(
        err.contains("the chain was rewritten between entries")
            && err.contains(&format!(
                "and {length}: entry {length} no longer matches its seal"
            )),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // The last three entries deleted: the chain alone still holds; the seal names the cut.
    let (dir, length) = sealed_data_dir(6);
    assert_eq!(
        tamper(
            dir.path(),
            &format!("DELETE FROM audit_events WHERE sequence > {}", length - 3)
        ),
        3
    );
    let (ok, out, err) = verify(dir.path());
    assert!(!ok, "a cut-off chain verified: {out}");
    assert!(
        err.contains(&format!("entries after {} were cut off", length - 3))
            && err.contains(&format!("covers entry {length}")),
        "{err}"
    );

    // One changed byte is named by the chain itself.
    let (dir, _) = sealed_data_dir(6);
    tamper(
        dir.path(),
        r#"UPDATE audit_events SET detail = replace(detail, '"n":3', '"n":4') WHERE detail LIKE '%"n":3%'"#,
    );
    let (ok, _, err) = verify(dir.path());
    assert!(!ok);
    assert!(err.contains("hash does not match its contents"), "{err}");

    // A forged seal is refused.
    let (dir, _) = sealed_data_dir(1);
    tamper(dir.path(), "UPDATE audit_seals SET seal = replace(seal, substr(seal, 1, 1), CASE substr(seal, 1, 1) WHEN '0' THEN '1' ELSE '0' END)");
    let (ok, _, err) = verify(dir.path());
    assert!(!ok);
    assert!(
        err.contains("does not verify: seals were forged or altered"),
        "{err}"
    );
}
