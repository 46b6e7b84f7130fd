//! The outbox on both engines: one message per event, leased by one worker at a time (two
//! leasing at the same instant take disjoint batches), a lease that ran out taken over, tries
//! counted when leased and backed off, a dead letter after the last, retried by staff once.

use certdesk_domain::outbox::MAX_ATTEMPTS;
use certdesk_store::testing::test_audit_note;
use certdesk_store::{Channel, FailedTry, NewOutboxMessage, Store};
use std::collections::HashSet;

on_both_engines!(
    the_outbox_leases_each_message_to_one_worker_and_backs_off,
    a_message_tried_to_the_end_is_a_dead_letter_until_retried
);

fn mail<'a>(key: &'a str) -> NewOutboxMessage<'a> {
    NewOutboxMessage {
        channel: Channel::Email,
        kind: "review_passed",
        recipient: "boss@example.com",
        subject: "审核通过",
        body: "您的申请已审核通过",
        attachment: None,
        dedupe_key: key,
    }
}

async fn the_outbox_leases_each_message_to_one_worker_and_backs_off(store: &Store) {
    let now = 1_000;
    for i in 0..8 {
        assert!(store
            .enqueue(&mail(&format!("event-{i}")), now)
            .await
            .unwrap());
    }
    // The same event again: nothing more to send.
    assert!(!store.enqueue(&mail("event-0"), now).await.unwrap());

    // Two workers at the same instant take disjoint batches, together all eight.
    let leases: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|owner| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .lease_outbox(Channel::Email, owner, now, 300, 5)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut batches = Vec::new();
    for lease in leases {
        let batch = lease.await.unwrap();
        for message in &batch {
            assert!(
                seen.insert(message.id),
                "message {} leased twice",
                message.id
            );
            assert_eq!(message.attempts, 1, "the try is counted when leased");
        }
        batches.push(batch);
    }
    assert_eq!(seen.len(), 8);
    // Nothing left for a third while the leases run.
    assert!(store
        .lease_outbox(Channel::Email, "worker-c", now + 10, 300, 5)
        .await
        .unwrap()
        .is_empty());

    // Worker a sends its first; another worker cannot mark it.
    let (a, b) = (&batches[0], &batches[1]);
    let (first, owner_a) = if a.is_empty() {
        (&b[0], "worker-b")
    } else {
        (&a[0], "worker-a")
    };
    assert!(!store
        .mark_outbox_sent(first.id, "worker-c", now + 1)
        .await
        .unwrap());
    assert!(store
        .mark_outbox_sent(first.id, owner_a, now + 1)
        .await
        .unwrap());
    assert!(
        !store
            .mark_outbox_sent(first.id, owner_a, now + 2)
            .await
            .unwrap(),
        "once"
    );

    // A failed try waits 30 s before the next.
    let failing = a.iter().chain(b.iter()).find(|m| m.id != first.id).unwrap();
    let holder = if a.iter().any(|m| m.id == failing.id) {
        "worker-a"
    } else {
        "worker-b"
    };
    assert_eq!(
        store
            .mark_outbox_failed(failing.id, holder, now + 5, "421 try again later")
            .await
            .unwrap(),
        FailedTry::RetryAt(now + 35)
    );
    // The rest were held by a worker that died: their leases run out and another takes them.
    let later = store
        .lease_outbox(Channel::Email, "worker-d", now + 301, 300, 20)
        .await
        .unwrap();
    let ids: HashSet<i64> = later.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 7, "all but the sent one: {ids:?}");
    assert!(!ids.contains(&first.id));
    let again = later.iter().find(|m| m.id == failing.id).unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error.as_deref(), Some("421 try again later"));
    // The dead worker's late mark is refused: the message is worker d's now.
    assert_eq!(
        store
            .mark_outbox_failed(again.id, holder, now + 302, "late")
            .await
            .unwrap(),
        FailedTry::NotHeld
    );
}

async fn a_message_tried_to_the_end_is_a_dead_letter_until_retried(store: &Store) {
    let mut now = 5_000;
    store.enqueue(&mail("doomed"), now).await.unwrap();
    let id = loop {
        let leased = store
            .lease_outbox(Channel::Email, "worker", now, 300, 1)
            .await
            .unwrap();
        let message = leased.first().expect("due again after its backoff");
        match store
            .mark_outbox_failed(message.id, "worker", now, "550 mailbox unavailable")
            .await
            .unwrap()
        {
            FailedTry::RetryAt(at) => {
                assert!(store
                    .lease_outbox(Channel::Email, "worker", at - 1, 300, 1)
                    .await
                    .unwrap()
                    .is_empty());
                now = at;
            }
            FailedTry::Dead => {
                assert_eq!(message.attempts, MAX_ATTEMPTS);
                break message.id;
            }
            FailedTry::NotHeld => panic!("the worker held it"),
        }
    };
    assert!(store
        .lease_outbox(Channel::Email, "worker", now + 86_400, 300, 1)
        .await
        .unwrap()
        .is_empty());
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("550 mailbox unavailable")
    );

    // Staff retry it at once from two places: once.
    let note = test_audit_note();
    let retries: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.retry_dead_letter(id, now, &note).await.unwrap() })
        })
        .collect();
    let mut revived = 0;
    for r in retries {
        revived += usize::from(r.await.unwrap());
    }
    assert_eq!(revived, 1);
    let leased = store
        .lease_outbox(Channel::Email, "worker", now, 300, 1)
        .await
        .unwrap();
    assert_eq!(leased[0].id, id);
    assert_eq!(leased[0].attempts, 1, "its tries start over");
    assert!(store.mark_outbox_sent(id, "worker", now).await.unwrap());
    assert!(store.dead_letters(10).await.unwrap().is_empty());
}
