//! `certdesk serve`'s clean-up of login state that has run out: expired sessions and old
//! challenges, which nothing reads again, would otherwise pile up for ever.

use certdesk_server::AppState;
use certdesk_store::{Store, StoreError};
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

/// Purges expired login state at start and then hourly, for as long as the server runs.
pub async fn purge_expired_logins_regularly(state: AppState) {
    // An interval's first tick is immediate: the first purge runs at start.
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tick.tick().await;
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
}
