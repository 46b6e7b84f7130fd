//! `certdesk serve`'s clean-up of what nothing reads again and would otherwise pile up for
//! ever: expired sessions, old challenges and rate windows, and uploaded files no record
//! refers to (a process killed between keeping a file and writing its record leaves one).

use certdesk_server::AppState;
use certdesk_store::{BlobStore, Store, StoreError};
use std::time::Duration;

/// How often expired login state is removed; the first run is at start.
const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// How long a challenge is kept after it expires: a late or replayed answer is still told
/// "used or expired" rather than "never issued".
const CHALLENGE_KEPT_AFTER_EXPIRY: i64 = 24 * 60 * 60;

/// What one purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub challenges: u64,
    pub rate_windows: u64,
}

/// How old an unreferenced upload must be before it is removed: an upload in progress keeps
/// its file a moment before it writes the record (and a file kept again is made young).
const UPLOAD_SETTLE: Duration = Duration::from_secs(60 * 60);

/// How long a rate-limit window is kept after it starts: longer than any limit's window (the
/// longest is a day).
const RATE_WINDOW_KEPT: i64 = 2 * 24 * 60 * 60;

/// Removes the sessions expired at `now` and the challenges expired a day before it.
pub async fn purge_expired_logins(store: &Store, now: i64) -> Result<Purged, StoreError> {
    Ok(Purged {
        sessions: store.delete_expired_sessions(now).await?,
        challenges: store
            .delete_expired_challenges(now - CHALLENGE_KEPT_AFTER_EXPIRY)
            .await?,
        rate_windows: store.purge_rate_limits(now - RATE_WINDOW_KEPT).await?,
    })
}

/// Removes uploaded files older than [`UPLOAD_SETTLE`] that no record refers to; answers how
/// many.
pub async fn forget_unreferenced_uploads(
    store: &Store,
    blobs: &BlobStore,
) -> Result<u64, StoreError> {
    let cutoff = std::time::SystemTime::now() - UPLOAD_SETTLE;
    let listed = blobs.clone();
    let candidates = tokio::task::spawn_blocking(move || listed.blobs_older_than(cutoff))
        .await
        .map_err(|e| StoreError::Corrupt(format!("listing uploads stopped: {e}")))??;
    let mut removed = 0;
    for id in candidates {
        if !store.blob_is_referenced(id.as_str()).await? && blobs.delete(&id)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Purges expired login state and unreferenced uploads at start and then hourly, for as long
/// as the server runs.
pub async fn purge_expired_logins_regularly(state: AppState) {
    // An interval's first tick is immediate: the first purge runs at start.
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tick.tick().await;
        match forget_unreferenced_uploads(&state.store, &state.blobs).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "uploaded files no record refers to removed"),
            Err(err) => tracing::error!(error = %err, "removing unreferenced uploads failed"),
        }
        match purge_expired_logins(&state.store, state.now()).await {
            Ok(purged) if purged == Purged::default() => {}
            Ok(purged) => tracing::info!(
                sessions = purged.sessions,
                challenges = purged.challenges,
                rate_windows = purged.rate_windows,
                "expired login state removed"
            ),
            Err(err) => tracing::error!(error = %err, "removing expired login state failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certdesk_domain::Role;
    use certdesk_store::{Challenge, NewAccount, Session};

    #[tokio::test]
    async fn purge_removes_what_expired_and_keeps_what_lives() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::database::open_store(dir.path(), None)
            .await
            .expect("store");
        let account = store
            .create_account(
                &NewAccount {
                    username: "zhao.liu",
                    display_name: "赵六",
                    role: Role::OrgAdmin,
                    org_id: None,
                    password_hash: "x",
                    created_at: 0,
                },
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .expect("account");
        let now = 100_000;
        for (token, expires_at) in [("expired", now), ("live", now + 1)] {
            store
                .create_session(
                    &Session {
                        token_hash: token.into(),
                        account_id: account.id,
                        csrf_token: "csrf".into(),
                        created_at: 0,
                        expires_at,
                    },
                    &certdesk_store::testing::test_audit_event(),
                )
                .await
                .expect("session");
        }
        for (id, expires_at) in [
            ("long-expired", now - CHALLENGE_KEPT_AFTER_EXPIRY),
            ("just-expired", now - 1),
            ("live", now + 300),
        ] {
            store
                .create_challenge(&Challenge {
                    id: id.into(),
                    purpose: "login".into(),
                    account_id: None,
                    holder_hash: "browser".into(),
                    created_at: expires_at - 300,
                    expires_at,
                })
                .await
                .expect("challenge");
        }

        let purged = purge_expired_logins(&store, now).await.expect("purge");

        assert_eq!(
            purged,
            Purged {
                sessions: 1,
                challenges: 1,
                rate_windows: 0,
            }
        );
        assert!(store.live_session("live", now).await.unwrap().is_some());
        assert!(!store
            .delete_session("expired", &certdesk_store::testing::test_audit_event())
            .await
            .unwrap());
        assert!(!store.challenge_exists("long-expired").await.unwrap());
        assert!(store.challenge_exists("just-expired").await.unwrap());
        assert!(store.challenge_exists("live").await.unwrap());
        store.close().await;
    }

    /// What a process killed between keeping an upload and writing its record leaves: a file
    /// nothing refers to. The sweep removes it once it is old, and keeps referenced files and
    /// young ones (an upload in progress).
    #[tokio::test]
    async fn uploads_left_by_a_crash_are_removed_and_referenced_ones_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::database::open_store(dir.path(), None)
            .await
            .expect("store");
        let blobs = BlobStore::open(dir.path().join("blobs")).expect("blobs");
        let referenced = blobs.put(b"a licence the claim refers to").expect("put");
        let orphan = blobs
            .put(b"a licence kept just before the kill")
            .expect("put");
        let young = blobs.put(b"an upload in progress").expect("put");
        let (org, _) = store
            .register_organisation(
                "抢注公司",
                "91350100M000100Y43",
                &NewAccount {
                    username: "squatter",
                    display_name: "抢注人",
                    role: Role::OrgAdmin,
                    org_id: None,
                    password_hash: "x",
                    created_at: 0,
                },
                "test",
            )
            .await
            .expect("organisation");
        store
            .file_organisation_claim(
                &certdesk_store::NewOrganisationClaim {
                    org_id: org.id,
                    organisation_name: "真实公司",
                    claimant_name: "王五",
                    claimant_mobile_sealed: "sealed",
                    statement: "执照附后",
                    username: "real.admin",
                    password_hash: "x",
                    licence_blob: referenced.as_str(),
                    letter_blob: referenced.as_str(),
                    query_code_hash: "q",
                    created_at: 0,
                },
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .expect("claim");
        let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 60 * 60);
        for id in [&referenced, &orphan] {
            let path = blobs.root().join(&id.as_str()[..2]).join(&id.as_str()[2..]);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(two_hours_ago))
                .expect("age the file");
        }

        assert_eq!(
            forget_unreferenced_uploads(&store, &blobs)
                .await
                .expect("sweep"),
            1
        );
        assert!(blobs.exists(&referenced).unwrap());
        assert!(!blobs.exists(&orphan).unwrap());
        assert!(blobs.exists(&young).unwrap());

        // An old file kept again by a new upload is young again: not swept before its record.
        let path = blobs
            .root()
            .join(&referenced.as_str()[..2])
            .join(&referenced.as_str()[2..]);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(two_hours_ago))
            .expect("age the file");
        blobs
            .put(b"a licence the claim refers to")
            .expect("put again");
        let listed = blobs
            .blobs_older_than(std::time::SystemTime::now() - UPLOAD_SETTLE)
            .expect("list");
        assert!(listed.is_empty(), "{listed:?}");
        store.close().await;
    }
}
