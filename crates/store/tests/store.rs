//! The storage layer against a real SQLite file.

use liandong_domain::audit::ChainBreak;
use liandong_domain::{Category, Role};
use liandong_store::{
    Actor, NewNotice, NewUser, PersonKind, ResponsiblePerson, Scope, Store, StoreError, UserChanges,
};
use sqlx::Executor;

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_sqlite(&dir.path().join("liandong.sqlite3"))
        .await
        .expect("open");
    store.seed_registry(1_700_000_000).await.expect("seed");
    (dir, store)
}

fn admin() -> Actor {
    Actor {
        user_id: Some(1),
        username: "admin".into(),
        role: "office_admin".into(),
        source: "127.0.0.1".into(),
    }
}

fn new_user(name: &str, role: Role, units: Vec<i64>) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: name.into(),
        role,
        password_hash: "$argon2id$test".into(),
        must_change_password: false,
        units,
    }
}

#[tokio::test]
async fn seeding_loads_the_registry_once() {
    let (_dir, store) = open().await;
    let deps = store.departments().await.expect("departments");
    assert_eq!(deps.len(), 26);
    assert_eq!(
        deps.iter()
            .filter(|d| d.category == Category::Close)
            .count(),
        9
    );
    assert_eq!(deps.iter().map(|d| d.duties.len()).sum::<usize>(), 118);
    assert_eq!(deps[0].name, "县教育局");
    assert_eq!(deps[0].duties[0].no, 1);
    assert_eq!(store.townships().await.expect("townships").len(), 16);
    assert!(!store
        .seed_registry(1_700_000_001)
        .await
        .expect("seed again"));
    store.health().await.expect("healthy");
}

#[tokio::test]
async fn every_change_extends_a_verifiable_chain_and_tampering_is_named() {
    let (dir, store) = open().await;
    let u = store
        .create_user(
            &admin(),
            1_700_000_010,
            &new_user("zhang", Role::Department, vec![1]),
        )
        .await
        .expect("user");
    store
        .update_user(
            &admin(),
            1_700_000_020,
            u.id,
            &UserChanges {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("disable");
    let (entries, total) = store
        .audit_entries(&Default::default())
        .await
        .expect("entries");
    assert_eq!(total, 3);
    assert!(
        entries
            .iter()
            .all(|e| !e.after.as_deref().unwrap_or("").contains("argon2")),
        "no password hash in the log"
    );
    assert_eq!(store.verify_audit().await.expect("verify"), Ok(3));

    // Edit entry 2 behind the application's back, as an intruder with file access would.
    let path = dir.path().join("liandong.sqlite3");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("raw");
    raw.execute("DROP TRIGGER audit_log_no_update")
        .await
        .expect("drop trigger");
    raw.execute("UPDATE audit_log SET actor = 'someone' WHERE id = 2")
        .await
        .expect("tamper");
    assert_eq!(
        store.verify_audit().await.expect("verify"),
        Err(ChainBreak::Altered { id: 2 })
    );
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let (dir, store) = open().await;
    store
        .create_township(&admin(), 1_700_000_030, "test", "测试乡")
        .await
        .expect("township");
    let path = dir.path().join("liandong.sqlite3");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("raw");
    assert!(
        raw.execute("DELETE FROM audit_log WHERE id = 1")
            .await
            .is_err(),
        "delete must be refused"
    );
    assert!(
        raw.execute("UPDATE audit_log SET actor = 'x'")
            .await
            .is_err(),
        "update must be refused"
    );
    assert_eq!(store.verify_audit().await.expect("verify"), Ok(2));
}

#[tokio::test]
async fn a_failed_change_leaves_no_audit_entry() {
    let (_dir, store) = open().await;
    store
        .create_user(&admin(), 1, &new_user("li", Role::Leader, vec![]))
        .await
        .expect("first");
    let err = store
        .create_user(&admin(), 2, &new_user("li", Role::Leader, vec![]))
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let (_, total) = store
        .audit_entries(&Default::default())
        .await
        .expect("entries");
    assert_eq!(total, 2, "seed + first user only");
}

#[tokio::test]
async fn scope_limits_notices_and_writes() {
    let (_dir, store) = open().await;
    store
        .create_notice(
            &admin(),
            10,
            &NewNotice {
                title: "全体".into(),
                body: "b".into(),
                targets: vec![],
            },
        )
        .await
        .expect("n1");
    let for_edu = store
        .create_notice(
            &admin(),
            11,
            &NewNotice {
                title: "教育局".into(),
                body: "b".into(),
                targets: vec![1],
            },
        )
        .await
        .expect("n2");
    let edu = Scope::Units(vec![1]);
    let health = Scope::Units(vec![2]);
    assert_eq!(store.notices(&edu, 0).await.expect("edu").len(), 2);
    assert_eq!(store.notices(&health, 0).await.expect("health").len(), 1);
    assert_eq!(store.notices(&Scope::All, 0).await.expect("all").len(), 2);
    assert!(matches!(
        store.notice(&health, 0, for_edu.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .notices(&Scope::Units(vec![]), 0)
            .await
            .expect("none")
            .len(),
        1
    );

    let people = [ResponsiblePerson {
        kind: PersonKind::Principal,
        name: "王某".into(),
        post: "局长".into(),
    }];
    let err = store
        .set_responsible_persons(&admin(), &health, 12, 1, &people)
        .await;
    assert!(matches!(err, Err(StoreError::OutOfScope)));
    let d = store
        .set_responsible_persons(&admin(), &edu, 12, 1, &people)
        .await
        .expect("own department");
    assert_eq!(d.people, people);
}

#[tokio::test]
async fn failures_lock_a_name_after_the_threshold_and_reset_clears_them() {
    let (_dir, store) = open().await;
    let now = 1_700_000_000;
    for i in 0..4 {
        store
            .record_login_attempt(
                now + i,
                "ghost",
                None,
                "ip",
                "ua",
                liandong_store::LoginOutcome::UnknownUser,
            )
            .await
            .expect("log");
        assert_eq!(
            store
                .register_failure("ghost", now + i, 900, 5, 1800)
                .await
                .expect("fail"),
            None
        );
    }
    store
        .record_login_attempt(
            now + 4,
            "ghost",
            None,
            "ip",
            "ua",
            liandong_store::LoginOutcome::UnknownUser,
        )
        .await
        .expect("log");
    assert_eq!(
        store
            .register_failure("ghost", now + 4, 900, 5, 1800)
            .await
            .expect("fail"),
        Some(now + 1804)
    );
    assert_eq!(
        store
            .lock_state("ghost", now + 100)
            .await
            .expect("state")
            .locked_until,
        Some(now + 1804)
    );
    assert_eq!(
        store
            .lock_state("ghost", now + 1804)
            .await
            .expect("state")
            .locked_until,
        None
    );
    // Failures older than the window do not count.
    store
        .record_login_attempt(
            now + 5000,
            "ghost",
            None,
            "ip",
            "ua",
            liandong_store::LoginOutcome::UnknownUser,
        )
        .await
        .expect("log");
    assert_eq!(
        store
            .register_failure("ghost", now + 5000, 900, 5, 1800)
            .await
            .expect("fail"),
        None
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_with_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.sqlite3");
    std::fs::write(&path, vec![0x42_u8; 8192]).expect("write");
    let err = Store::open_sqlite(&path).await.expect_err("must refuse");
    let msg = err.to_string();
    assert!(msg.contains("broken.sqlite3"), "{msg}");
}

#[tokio::test]
async fn backup_is_a_checked_copy() {
    let (dir, store) = open().await;
    let dest = dir.path().join("copy.sqlite3");
    store.backup_to(&dest).await.expect("backup");
    liandong_store::check_sqlite_file(&dest)
        .await
        .expect("valid copy");
    let copy = Store::open_sqlite(&dest).await.expect("open copy");
    assert_eq!(copy.departments().await.expect("deps").len(), 26);
    assert_eq!(copy.verify_audit().await.expect("verify"), Ok(1));
}

fn clue(n: usize, township_id: Option<i64>) -> liandong_store::NewClue {
    liandong_store::NewClue {
        rule: "medical_oop_new".into(),
        title: "测试线索".into(),
        finding: "illness".into(),
        severity: "high".into(),
        clue_key: format!("k{n}"),
        household_id: None,
        township_id,
        subjects: "[]".into(),
        method: "exact".into(),
        confidence: 1000,
        evidence: "依据".into(),
        routes: vec![],
    }
}

fn run_of(summary: &str) -> liandong_store::NewRun {
    liandong_store::NewRun {
        as_of: "2024-11-30".into(),
        ruleset: "2024 年第 1 版".into(),
        deliveries: "[]".into(),
        summary: summary.into(),
        millis: 1,
    }
}

#[tokio::test]
async fn a_run_save_cut_short_leaves_nothing_seen_and_is_cleared_by_a_later_run() {
    let (dir, store) = open().await;
    let town = store.townships().await.expect("townships")[0].id;
    // The second batch of clues fails on its last row (no such township): the first batch
    // of 20,000 is already committed.
    let mut clues: Vec<_> = (0..20_000).map(|n| clue(n, Some(town))).collect();
    clues.push(clue(20_000, Some(999_999)));
    let at = 1_700_000_000;
    assert!(store
        .record_run(&admin(), at, &run_of("第一次"), &clues, &[])
        .await
        .is_err());
    let all = liandong_store::ClueFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.clues(&all).await.expect("clues").1, 0);
    assert!(store.standing_clue_keys(0).await.expect("keys").is_empty());
    assert!(store.clue_tallies().await.expect("tallies").is_empty());
    assert!(store.compare_runs(10).await.expect("runs").is_empty());
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("liandong.sqlite3").display()
    ))
    .await
    .expect("raw");
    let count = |sql: &'static str| {
        let raw = raw.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&raw)
                .await
                .expect("count")
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM risk_clue").await, 20_000);

    // A run within the day leaves the cut-short save alone; one after it clears it.
    let saved = store
        .record_run(
            &admin(),
            at + 3_600,
            &run_of("第二次"),
            &[clue(1, None)],
            &[],
        )
        .await
        .expect("second run");
    assert_eq!(count("SELECT COUNT(*) FROM risk_clue").await, 20_001);
    let (seen, n) = store.clues(&all).await.expect("clues");
    assert_eq!((n, seen[0].run_id), (1, saved.id));
    store
        .record_run(
            &admin(),
            at + 90_000,
            &run_of("第三次"),
            &[clue(2, None)],
            &[],
        )
        .await
        .expect("third run");
    assert_eq!(count("SELECT COUNT(*) FROM risk_clue").await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM compare_run").await, 2);
    assert_eq!(store.compare_runs(10).await.expect("runs").len(), 2);
}

#[tokio::test]
async fn review_items_come_a_page_at_a_time_with_their_true_total() {
    let (_dir, store) = open().await;
    let reviews: Vec<_> = (0..120)
        .map(|n| liandong_store::NewReview {
            kind: "medical_expense".into(),
            source: "claims.csv".into(),
            row_no: n + 2,
            raw_masked: "4.11321E+17".into(),
            name: format!("张{n}"),
            pair_key: format!("p{n}"),
            candidates: "[]".into(),
        })
        .collect();
    store
        .record_run(&admin(), 1_700_000_000, &run_of("一次"), &[], &reviews)
        .await
        .expect("run");
    let (first, total) = store.reviews(Some("pending"), 50, 0).await.expect("page");
    assert_eq!((first.len(), total), (50, 120));
    assert_eq!(first[0].row_no, 121, "newest first");
    let (last, total) = store.reviews(None, 50, 100).await.expect("page");
    assert_eq!((last.len(), total), (20, 120));
    assert_eq!(last[19].row_no, 2);
    let (none, total) = store.reviews(Some("confirmed"), 50, 0).await.expect("page");
    assert_eq!((none.len(), total), (0, 0));
}
