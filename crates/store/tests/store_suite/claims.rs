//! 单位认领 on both engines: one open claim per organisation, decided once, and an approval
//! that hands the organisation over whole or not at all.

use certdesk_domain::{AuditAction, ClaimStatus, Role};
use certdesk_store::testing::test_audit_note;
use certdesk_store::{NewAccount, NewOrganisationClaim, Session, Store, StoreError};

on_both_engines!(
    a_claim_hands_the_organisation_over_in_one_step,
    an_organisation_has_one_open_claim_and_a_user_name_one_claimant,
    a_claim_decided_at_once_by_many_is_decided_once,
    a_claim_whose_user_name_was_taken_meanwhile_changes_nothing,
);

/// An organisation registered by someone else, with an employee, a session and an API token.
async fn squatted(store: &Store, code: &str) -> (i64, i64, i64) {
    let (org, admin) = store
        .register_organisation(
            "抢注公司",
            code,
            &NewAccount {
                username: &format!("squatter.{code}"),
                display_name: "抢注人",
                role: Role::OrgAdmin,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            "test",
        )
        .await
        .unwrap();
    let employee = store
        .create_account(
            &NewAccount {
                username: &format!("helper.{code}"),
                display_name: "员工",
                role: Role::Employee,
                org_id: Some(org.id),
                password_hash: "x",
                created_at: 0,
            },
            &test_audit_note(),
        )
        .await
        .unwrap();
    store
        .create_session(
            &Session {
                token_hash: format!("session-of-{code}"),
                account_id: admin.id,
                csrf_token: "c".into(),
                created_at: 0,
                expires_at: i64::MAX / 2,
            },
            &test_audit_note().event(AuditAction::LoginSucceeded, "test"),
        )
        .await
        .unwrap();
    store
        .create_api_token(
            employee.id,
            "t",
            &format!("token-of-{code}"),
            0,
            i64::MAX / 2,
            &test_audit_note(),
        )
        .await
        .unwrap();
    (org.id, admin.id, employee.id)
}

fn claim<'a>(org_id: i64, username: &'a str, query_code_hash: &'a str) -> NewOrganisationClaim<'a> {
    NewOrganisationClaim {
        org_id,
        organisation_name: "真实公司有限公司",
        claimant_name: "李四",
        claimant_mobile_sealed: "sealed",
        statement: "营业执照附后",
        username,
        password_hash: "claimant-hash",
        licence_blob: "aa",
        letter_blob: "bb",
        query_code_hash,
        created_at: 100,
    }
}

async fn a_claim_hands_the_organisation_over_in_one_step(store: &Store) {
    let (org_id, squatter, employee) = squatted(store, "91350100M000100Y43").await;
    let filed = store
        .file_organisation_claim(&claim(org_id, "real.admin", "q1"), &test_audit_note())
        .await
        .unwrap();
    assert_eq!(filed.status, ClaimStatus::Pending);
    assert_eq!(
        store
            .organisation_claim_by_query_code("q1")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(filed.id)
    );
    let handover = store
        .approve_organisation_claim(filed.id, 200, &test_audit_note())
        .await
        .unwrap()
        .expect("an open claim is approved");
    assert_eq!(handover.claim.status, ClaimStatus::Approved);
    assert_eq!(handover.claim.new_account_id, Some(handover.new_admin.id));
    assert_eq!(handover.disabled_accounts, 2);
    assert_eq!(handover.new_admin.username, "real.admin");
    assert_eq!(handover.new_admin.org_id, Some(org_id));
    assert_eq!(handover.new_admin.role, Role::OrgAdmin);
    assert_eq!(handover.new_admin.password_hash, "claimant-hash");
    for earlier in [squatter, employee] {
        assert!(
            store
                .account_by_id(earlier)
                .await
                .unwrap()
                .unwrap()
                .disabled
        );
    }
    // The squatter's session and the employee's token no longer work.
    assert!(store
        .live_session("session-of-91350100M000100Y43", 300)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .account_by_api_token("token-of-91350100M000100Y43", 300)
        .await
        .unwrap()
        .is_none());
    let organisation = store.organisation_by_id(org_id).await.unwrap().unwrap();
    assert_eq!(organisation.name, "真实公司有限公司");
    let actions: Vec<AuditAction> = store
        .audit_chain()
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e.action.parse().ok())
        .collect();
    assert!(actions.contains(&AuditAction::OrganisationClaimFiled));
    assert!(actions.contains(&AuditAction::OrganisationClaimApproved));
    // Decided once.
    assert!(store
        .approve_organisation_claim(filed.id, 300, &test_audit_note())
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .reject_organisation_claim(filed.id, "迟了", 300, &test_audit_note())
        .await
        .unwrap());
    // The claim's documents are in use: the blob store keeps them.
    assert!(store.blob_is_referenced("aa").await.unwrap());
    assert!(store.blob_is_referenced("bb").await.unwrap());
}

async fn an_organisation_has_one_open_claim_and_a_user_name_one_claimant(store: &Store) {
    let (org_id, _, _) = squatted(store, "91110108MA01W4JK2X").await;
    let (other_org, _, _) = squatted(store, "91350100M000100Y43").await;
    let first = store
        .file_organisation_claim(&claim(org_id, "claimant.one", "q1"), &test_audit_note())
        .await
        .unwrap();
    let second = store
        .file_organisation_claim(&claim(org_id, "claimant.two", "q2"), &test_audit_note())
        .await;
    assert!(
        matches!(second, Err(StoreError::Conflict("pending_claim"))),
        "{second:?}"
    );
    let same_name = store
        .file_organisation_claim(&claim(other_org, "claimant.one", "q3"), &test_audit_note())
        .await;
    assert!(
        matches!(same_name, Err(StoreError::Conflict("username"))),
        "{same_name:?}"
    );
    let account_name = store
        .file_organisation_claim(
            &claim(other_org, "helper.91110108MA01W4JK2X", "q4"),
            &test_audit_note(),
        )
        .await;
    assert!(
        matches!(account_name, Err(StoreError::Conflict("username"))),
        "{account_name:?}"
    );
    // Once the first is rejected the organisation may be claimed again.
    assert!(store
        .reject_organisation_claim(first.id, "公章不清晰", 150, &test_audit_note())
        .await
        .unwrap());
    let rejected = store.organisation_claim(first.id).await.unwrap().unwrap();
    assert_eq!(rejected.status, ClaimStatus::Rejected);
    assert_eq!(rejected.reject_reason, "公章不清晰");
    store
        .file_organisation_claim(&claim(org_id, "claimant.one", "q5"), &test_audit_note())
        .await
        .unwrap();
    let listed = store.organisation_claims(10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].status, ClaimStatus::Pending, "open claims first");
}

async fn a_claim_decided_at_once_by_many_is_decided_once(store: &Store) {
    let (org_id, _, _) = squatted(store, "91350100M000100Y43").await;
    let filed = store
        .file_organisation_claim(&claim(org_id, "race.admin", "q1"), &test_audit_note())
        .await
        .unwrap();
    let tries: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                if n % 2 == 0 {
                    store
                        .approve_organisation_claim(filed.id, 200, &test_audit_note())
                        .await
                        .unwrap()
                        .is_some()
                } else {
                    store
                        .reject_organisation_claim(filed.id, "否", 200, &test_audit_note())
                        .await
                        .unwrap()
                }
            })
        })
        .collect();
    let mut decided = 0;
    for attempt in tries {
        decided += usize::from(attempt.await.unwrap());
    }
    assert_eq!(decided, 1);
    let admins = store
        .accounts_of(Some(org_id))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.username == "race.admin")
        .count();
    let status = store
        .organisation_claim(filed.id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(admins, usize::from(status == ClaimStatus::Approved));
    let decisions = store
        .audit_chain()
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e.action.starts_with("organisation_claim_") && e.action != "organisation_claim_filed"
        })
        .count();
    assert_eq!(decisions, 1);
}

async fn a_claim_whose_user_name_was_taken_meanwhile_changes_nothing(store: &Store) {
    let (org_id, squatter, _) = squatted(store, "91350100M000100Y43").await;
    let filed = store
        .file_organisation_claim(&claim(org_id, "wanted.name", "q1"), &test_audit_note())
        .await
        .unwrap();
    store
        .create_account(
            &NewAccount {
                username: "wanted.name",
                display_name: "别人",
                role: Role::Employee,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            &test_audit_note(),
        )
        .await
        .unwrap();
    let approval = store
        .approve_organisation_claim(filed.id, 200, &test_audit_note())
        .await;
    assert!(
        matches!(approval, Err(StoreError::Conflict("username"))),
        "{approval:?}"
    );
    assert_eq!(
        store
            .organisation_claim(filed.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ClaimStatus::Pending
    );
    assert!(
        !store
            .account_by_id(squatter)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(
        store
            .organisation_by_id(org_id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "抢注公司"
    );
}
