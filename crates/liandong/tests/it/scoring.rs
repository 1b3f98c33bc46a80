//! Scoring through the API of api.md: every point hand-computed, ties, the 50/50
//! combination, the external substitution, appeals, approval and the lock.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const EDU: i64 = 1; // close-type
const HEALTH: i64 = 2; // close-type
const DISCIPLINE: i64 = 10; // related
const FINANCE: i64 = 14; // related, ranked on the province's fund-performance evaluation
const RURAL: i64 = 24; // related, ranked on the post-evaluation
const POLICE: i64 = 25; // emergency

async fn event(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.send(Method::POST, token, "/api/v1/score-events", body)
        .await
}

async fn ok_event(
    app: &TestApp,
    token: &str,
    dept: i64,
    period: &str,
    rule: &str,
    level: Option<&str>,
    count: i64,
) -> Value {
    let res = event(app, token, json!({"department_id": dept, "period": period, "rule": rule, "level": level, "count": count, "note": "测试"})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{rule}");
    json(res).await
}

/// Enters every evaluation a quarter needs before it can be submitted.
pub async fn evaluate_all(app: &TestApp, token: &str, quarter: &str) {
    for dept in 1..=9 {
        let res = app
            .send(
                Method::PUT,
                token,
                &format!("/api/v1/evaluations/{quarter}/{dept}"),
                json!({"kind": "extended", "score": 100}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    for dept in [FINANCE, RURAL] {
        let res = app
            .send(
                Method::PUT,
                token,
                &format!("/api/v1/evaluations/{quarter}/{dept}"),
                json!({"kind": "external", "score": 100}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

fn row(ranking: &Value, dept: i64) -> &Value {
    ranking
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["department_id"] == dept)
        .expect("row")
}

#[tokio::test]
async fn events_score_by_the_rules_and_rankings_add_them_up() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    // 县教育局 in 2023-04: a national notice (-10), a county publicity (+0.5), absent twice (-4).
    assert_eq!(
        ok_event(
            &app,
            &admin,
            EDU,
            "2023-04",
            "notice.policy_unimplemented",
            Some("national"),
            1
        )
        .await["points"],
        -10.0
    );
    assert_eq!(
        ok_event(
            &app,
            &admin,
            EDU,
            "2023-04",
            "praise.publicity",
            Some("county"),
            1
        )
        .await["points"],
        0.5
    );
    assert_eq!(
        ok_event(&app, &admin, EDU, "2023-04", "meeting.absent", None, 2).await["points"],
        -4.0
    );
    // 县卫健委 in 2023-05: two verified warnings (+4), township unscored (-5).
    ok_event(&app, &admin, HEALTH, "2023-05", "warning.verified", None, 2).await;
    ok_event(
        &app,
        &admin,
        HEALTH,
        "2023-05",
        "selfcheck.township_unscored",
        None,
        1,
    )
    .await;

    let april = json(app.get(&admin, "/api/v1/rankings?period=2023-04").await).await;
    assert_eq!(
        april.as_array().expect("array").len(),
        9,
        "the monthly ranking is of close-type departments"
    );
    assert_eq!(row(&april, EDU)["score"], 86.5);
    assert_eq!(row(&april, EDU)["rank"], 9);
    assert_eq!(row(&april, HEALTH)["score"], 100.0);
    assert_eq!(row(&april, HEALTH)["rank"], 1, "ties share first place");

    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(q2.as_array().expect("array").len(), 26);
    assert_eq!(row(&q2, EDU)["office_score"], 86.5);
    assert_eq!(row(&q2, HEALTH)["office_score"], 99.0);
    assert_eq!(row(&q2, HEALTH)["status"], "draft");
    let events = json(
        app.get(
            &admin,
            &format!("/api/v1/score-events?department_id={EDU}&period=2023-Q2"),
        )
        .await,
    )
    .await;
    let sum: f64 = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["points"].as_f64().expect("points"))
        .sum();
    assert_eq!(
        sum, -13.5,
        "the events explain the score: 100 - 13.5 = 86.5"
    );

    // Rankings are cached until scoring data changes: a new event shows at once.
    ok_event(
        &app,
        &admin,
        EDU,
        "2023-06",
        "praise.commended",
        Some("province"),
        1,
    )
    .await;
    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(row(&q2, EDU)["office_score"], 89.5);
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q2/{EDU}"),
            json!({"kind": "extended", "score": 90.5}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(row(&q2, EDU)["score"], 90.0);
}

#[tokio::test]
async fn events_are_validated_against_their_rule() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    for (body, field) in [
        (
            json!({"department_id": EDU, "period": "2023-04", "rule": "notice.policy_unimplemented", "count": 1}),
            "level",
        ),
        (
            json!({"department_id": EDU, "period": "2023-04", "rule": "meeting.absent", "level": "city", "count": 1}),
            "level",
        ),
        (
            json!({"department_id": DISCIPLINE, "period": "2023-04", "rule": "selfcheck.township_unscored", "count": 1}),
            "rule",
        ),
        (
            json!({"department_id": EDU, "period": "2023-04", "rule": "report.late", "count": 0}),
            "count",
        ),
        (
            json!({"department_id": EDU, "period": "2023-13", "rule": "report.late", "count": 1}),
            "period",
        ),
        (
            json!({"department_id": 999, "period": "2023-04", "rule": "report.late", "count": 1}),
            "department_id",
        ),
        (
            json!({"department_id": EDU, "period": "2023-04", "rule": "no.such_rule", "count": 1}),
            "rule",
        ),
        (
            json!({"department_id": EDU, "period": "2023-04", "rule": "report.late", "count": 1, "occurred_on": "2023-05-02"}),
            "occurred_on",
        ),
    ] {
        let res = event(&app, &admin, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let b = json(res).await;
        assert_eq!(b["error"]["field"], field, "{b}");
    }
    let edu = app.token("admin", ADMIN_PASSWORD).await;
    let none = json(app.get(&edu, "/api/v1/score-events?period=2023").await).await;
    assert_eq!(
        none.as_array().expect("array").len(),
        0,
        "nothing was recorded"
    );
}

#[tokio::test]
async fn close_type_quarters_combine_50_50_and_external_evaluations_replace_the_score() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    // 县教育局: office 100 - 7.5 = 92.5, extended 95 -> 93.75; 县卫健委: office 97, extended 90.5 -> 93.75.
    ok_event(
        &app,
        &admin,
        EDU,
        "2023-07",
        "selfcheck.not_conducted",
        None,
        1,
    )
    .await;
    ok_event(
        &app,
        &admin,
        EDU,
        "2023-08",
        "praise.publicity",
        Some("county"),
        1,
    )
    .await;
    ok_event(&app, &admin, HEALTH, "2023-09", "report.late", None, 3).await;
    app.user("taskforce1", liandong_domain::Role::Taskforce, vec![])
        .await;
    let tf = app.token("taskforce1", GOOD_PASSWORD).await;
    for (dept, score) in [(EDU, 95.0), (HEALTH, 90.5)] {
        let res = app
            .send(
                Method::PUT,
                &tf,
                &format!("/api/v1/evaluations/2023-Q3/{dept}"),
                json!({"kind": "extended", "score": score}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Extended evaluations are for close-type departments only; external ones for 乡村振兴局 and 财政局.
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q3/{DISCIPLINE}"),
            json!({"kind": "extended", "score": 90}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q3/{DISCIPLINE}"),
            json!({"kind": "external", "score": 90}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q3/{RURAL}"),
            json!({"kind": "external", "score": 101}),
        )
        .await;
    assert_eq!(json(res).await["error"]["field"], "score");
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q3/{RURAL}"),
            json!({"kind": "external", "score": 96.5}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    ok_event(
        &app,
        &admin,
        RURAL,
        "2023-07",
        "notice.policy_unimplemented",
        Some("national"),
        2,
    )
    .await;

    let q3 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q3").await).await;
    assert_eq!(row(&q3, EDU)["office_score"], 92.5);
    assert_eq!(row(&q3, EDU)["score"], 93.75);
    assert_eq!(row(&q3, HEALTH)["score"], 93.75);
    assert_eq!(row(&q3, EDU)["rank"], row(&q3, HEALTH)["rank"]);
    assert_eq!(row(&q3, EDU)["basis"], "combined");
    assert_eq!(
        row(&q3, 3)["basis"],
        "awaiting_extended",
        "县医保局 has no extended evaluation yet"
    );
    assert_eq!(row(&q3, 3)["rank"], 1, "its 100 stands in until then");
    assert_eq!(row(&q3, RURAL)["office_score"], 80.0);
    assert_eq!(row(&q3, RURAL)["score"], 96.5);
    assert_eq!(row(&q3, RURAL)["basis"], "external");
    assert_eq!(
        row(&q3, RURAL)["rank"],
        15,
        "96.5 is below the 14 related departments at 100"
    );
    assert_eq!(row(&q3, FINANCE)["basis"], "awaiting_external");
    assert_eq!(row(&q3, POLICE)["category"], "emergency");
}

#[tokio::test]
async fn before_submission_departments_see_their_row_and_only_the_leader_approves() {
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let wrong = ok_event(&app, &admin, EDU, "2023-04", "report.missing", None, 1).await;
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;

    // Before submission a department sees only its own row.
    let mine = json(app.get(&edu, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(mine.as_array().expect("array").len(), 1);
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": wrong["id"], "reason": "已按时报送"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict", "no appeal before submission");

    // The leader cannot approve a draft, and only the leader approves.
    assert_eq!(
        app.send(
            Method::POST,
            &leader,
            "/api/v1/rankings/2023-Q2/approve",
            json!({})
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
    evaluate_all(&app, &admin, "2023-Q2").await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/submit",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await["status"], "submitted");
    assert_eq!(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/approve",
            json!({})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn appeals_hold_approval_until_decided_and_upheld_ones_withdraw_the_event() {
    // An appeal window that is still open blocks approval.
    let open = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 3,
        ..Options::default()
    })
    .await;
    let admin = open.admin().await;
    ok_event(&open, &admin, EDU, "2023-04", "report.missing", None, 1).await;
    open.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let leader = open.token("leader1", GOOD_PASSWORD).await;
    evaluate_all(&open, &admin, "2023-Q2").await;
    open.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q2/submit",
        json!({}),
    )
    .await;
    let (code, msg) = error_code(
        open.send(
            Method::POST,
            &leader,
            "/api/v1/rankings/2023-Q2/approve",
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict");
    assert!(msg.contains("申诉期"), "{msg}");

    // With the window closed (0 days), pending appeals still block until decided.
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let wrong = ok_event(&app, &admin, EDU, "2023-04", "report.missing", None, 1).await;
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;
    // With no appeal window, the quarter can go to the leader as soon as it is submitted.
    evaluate_all(&app, &admin, "2023-Q2").await;
    app.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q2/submit",
        json!({}),
    )
    .await;
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": wrong["id"], "reason": "已按时报送"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict", "the window is closed");
    let res = app
        .send(
            Method::POST,
            &leader,
            "/api/v1/rankings/2023-Q2/approve",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let state = json(res).await;
    assert_eq!(state["status"], "approved");
    assert_eq!(state["approved_by"], "leader1");

    // Locked: events and evaluations of the quarter answer 409 period_locked, saying who approved.
    let res = event(
        &app,
        &admin,
        json!({"department_id": EDU, "period": "2023-06", "rule": "report.late", "count": 1}),
    )
    .await;
    let (code, msg) = error_code(res, StatusCode::CONFLICT).await;
    assert_eq!(code, "period_locked");
    assert!(msg.contains("leader1"), "{msg}");
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/evaluations/2023-Q2/{EDU}"),
            json!({"kind": "extended", "score": 90}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await.0,
        "period_locked"
    );
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/score-events/{}/withdraw", wrong["id"]),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await.0,
        "period_locked"
    );
    // Other quarters are open.
    assert_eq!(
        event(
            &app,
            &admin,
            json!({"department_id": EDU, "period": "2023-07", "rule": "report.late", "count": 1})
        )
        .await
        .status(),
        StatusCode::CREATED
    );

    // Publish, then departments see the whole ranking and acknowledge it.
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/publish",
            json!({}),
        )
        .await;
    assert_eq!(json(res).await["status"], "published");
    let all = json(app.get(&edu, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(all.as_array().expect("array").len(), 26);
    assert_eq!(all[0]["status"], "published");
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/rankings/2023-Q2/acknowledge",
            json!({"department_id": HEALTH}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "only for one's own department"
    );
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/rankings/2023-Q2/acknowledge",
            json!({"department_id": EDU}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_upheld_appeal_withdraws_the_event_with_a_new_entry() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let wrong = ok_event(&app, &admin, EDU, "2023-04", "report.missing", None, 1).await;
    let fair = ok_event(&app, &admin, EDU, "2023-05", "report.late", None, 1).await;
    let health_event = ok_event(&app, &admin, HEALTH, "2023-05", "report.late", None, 1).await;
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    evaluate_all(&app, &admin, "2023-Q2").await;
    app.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q2/submit",
        json!({}),
    )
    .await;
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": health_event["id"], "reason": "替别人申诉"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": wrong["id"], "reason": "资料已于 5 日报送", "evidence": "报送回执"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let upheld = json(res).await;
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": fair["id"], "reason": "不服"}),
        )
        .await;
    let rejected = json(res).await;
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/appeals",
            json!({"event_id": wrong["id"], "reason": "再次申诉"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "one appeal per event");

    async fn decide(app: &TestApp, admin: &str, id: &Value, uphold: bool) -> reqwest::Response {
        app.send(
            Method::POST,
            admin,
            &format!("/api/v1/appeals/{id}/decision"),
            json!({"uphold": uphold, "reason": "经核实"}),
        )
        .await
    }
    assert_eq!(
        json(decide(&app, &admin, &upheld["id"], true).await).await["status"],
        "upheld"
    );
    assert_eq!(
        json(decide(&app, &admin, &rejected["id"], false).await).await["status"],
        "rejected"
    );
    assert_eq!(
        decide(&app, &admin, &rejected["id"], true).await.status(),
        StatusCode::CONFLICT,
        "decided once"
    );

    let events = json(
        app.get(
            &admin,
            &format!("/api/v1/score-events?department_id={EDU}&period=2023-Q2"),
        )
        .await,
    )
    .await;
    let events = events.as_array().expect("array");
    assert_eq!(
        events.len(),
        3,
        "the withdrawal is a new entry, the original is kept"
    );
    let original = events
        .iter()
        .find(|e| e["id"] == wrong["id"])
        .expect("original");
    let entry = events
        .iter()
        .find(|e| e["withdraws"] == wrong["id"])
        .expect("withdrawal");
    assert_eq!(original["withdrawn_by"], entry["id"]);
    assert_eq!(entry["points"], 2.0);
    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(
        row(&q2, EDU)["office_score"],
        99.0,
        "only the fair deduction remains"
    );
    let appeals = json(app.get(&edu, "/api/v1/rankings/2023-Q2/appeals").await).await;
    assert_eq!(appeals.as_array().expect("array").len(), 2);
}

#[tokio::test]
async fn a_new_rule_version_applies_from_its_date_and_old_events_keep_theirs() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let before = ok_event(&app, &admin, EDU, "2023-12", "meeting.absent", None, 1).await;
    let versions = json(app.get(&admin, "/api/v1/rules").await).await;
    assert_eq!(versions.as_array().expect("array").len(), 1);
    let mut points: Vec<Value> = versions[0]["points"].as_array().expect("points").iter().map(|p| json!({"rule": p["rule"], "level": p["level"], "points": p["points"].as_f64().expect("f").abs()})).collect();
    for p in points.iter_mut().filter(|p| p["rule"] == "meeting.absent") {
        p["points"] = json!(3);
    }
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rules",
            json!({"effective_from": "2024-01-01", "note": "2024 年修订", "points": points}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let after = ok_event(&app, &admin, EDU, "2024-01", "meeting.absent", None, 1).await;
    assert_eq!(before["points"], -2.0);
    assert_eq!(after["points"], -3.0);
    assert_ne!(before["rule_version_id"], after["rule_version_id"]);
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rules",
            json!({"effective_from": "2025-01-01", "note": "缺规则", "points": []}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let edu = app.token("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        app.get(&edu, "/api/v1/rules").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_ranking_workbook_and_the_bulletin_document() {
    use calamine::Reader;
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    ok_event(
        &app,
        &admin,
        EDU,
        "2023-04",
        "praise.publicity",
        Some("county"),
        1,
    )
    .await;
    ok_event(
        &app,
        &admin,
        DISCIPLINE,
        "2023-05",
        "meeting.absent",
        None,
        1,
    )
    .await;
    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&admin).send();

    let res = get("/rankings/2023-Q2/export.xlsx").await.expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes").to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
    assert_eq!(
        book.sheet_names(),
        ["紧密型部门", "相关部门", "紧急预警部门"]
    );
    let close = book.worksheet_range("紧密型部门").expect("sheet");
    assert_eq!(close.height(), 3 + 9);
    assert_eq!(
        close.get_value((3, 1)).map(|v| v.to_string()),
        Some("县教育局".into())
    );
    assert_eq!(
        close.get_value((3, 2)).map(|v| v.to_string()),
        Some("100.5".into())
    );

    // The bulletin exists only once the leader has approved.
    assert_eq!(
        get("/rankings/2023-Q2/bulletin.docx")
            .await
            .expect("r")
            .status(),
        StatusCode::CONFLICT
    );
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;
    evaluate_all(&app, &admin, "2023-Q2").await;
    app.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q2/submit",
        json!({}),
    )
    .await;
    assert_eq!(
        app.send(
            Method::POST,
            &leader,
            "/api/v1/rankings/2023-Q2/approve",
            json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let res = get("/rankings/2023-Q2/bulletin.docx?doc_no=召巩固拓展专班〔2023〕9号")
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes").to_vec();
    let doc = docx_rs::read_docx(&bytes).expect("a readable .docx").json();
    for needle in [
        "召巩固拓展专班〔2023〕9号",
        "关于2023年第二季度县直重点行业部门“5+2”联动机制排序情况的通报",
        "县纪委监委",
        "100.5",
        "紧急预警部门",
        "仿宋_GB2312",
        "南召县巩固拓展脱贫攻坚成果工作专班",
    ] {
        assert!(doc.contains(needle), "{needle} missing from the bulletin");
    }
}

#[tokio::test]
async fn laggards_two_quarters_running_and_flagged_lapses_make_the_bulletin_list() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    // 县公安局 last among the two emergency departments in 2023-Q1 and 2023-Q2; 县纪委监委 last
    // among the related in Q2 only.
    ok_event(&app, &admin, POLICE, "2023-02", "report.late", None, 1).await;
    ok_event(&app, &admin, POLICE, "2023-05", "report.late", None, 1).await;
    ok_event(
        &app,
        &admin,
        DISCIPLINE,
        "2023-05",
        "report.missing",
        None,
        1,
    )
    .await;
    let list = json(
        app.get(&admin, "/api/v1/rankings/2023-Q2/bulletin-list")
            .await,
    )
    .await;
    assert_eq!(
        list,
        json!([{"department_id": POLICE, "department": "县公安局", "kind": "laggard", "reason": "连续 2 个季度在同类部门中排名末位"}])
    );
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/flags",
            json!({"department_id": DISCIPLINE, "reason": "信访件处置不当引发负面舆情"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let list = json(
        app.get(&admin, "/api/v1/rankings/2023-Q2/bulletin-list")
            .await,
    )
    .await;
    assert_eq!(list.as_array().expect("array").len(), 2);
    assert_eq!(list[1]["kind"], "lapse");
    // Three quarters running, as a setting, clears 县公安局 (Q4 of 2022 was not scored).
    let strict = TestApp::with(Options {
        demo: false,
        tweak: |s| s.laggard_quarters = 3,
        ..Options::default()
    })
    .await;
    let admin = strict.admin().await;
    ok_event(&strict, &admin, POLICE, "2023-02", "report.late", None, 1).await;
    ok_event(&strict, &admin, POLICE, "2023-05", "report.late", None, 1).await;
    let list = json(
        strict
            .get(&admin, "/api/v1/rankings/2023-Q2/bulletin-list")
            .await,
    )
    .await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn events_carry_evidence_that_only_their_department_and_the_county_see() {
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let e = ok_event(
        &app,
        &admin,
        EDU,
        "2023-04",
        "notice.policy_unimplemented",
        Some("city"),
        1,
    )
    .await;
    let pdf = "%PDF-1.4\n% 市级督查通报\n".as_bytes().to_vec();
    let attach = |name: &str, body: Vec<u8>| {
        app.client
            .post(app.url(&format!(
                "/api/v1/score-events/{}/attachments?name={name}",
                e["id"]
            )))
            .bearer_auth(&admin)
            .body(body)
            .send()
    };
    let res = attach("督查通报.pdf", pdf.clone()).await.expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let a = json(res).await;
    assert_eq!(a["content_type"], "application/pdf");
    let (code, msg) = error_code(
        attach("通报.pdf", b"MZ\x90\x00 not a pdf".to_vec())
            .await
            .expect("r"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    assert!(msg.contains("PDF"), "{msg}");

    let url = a["url"].as_str().expect("url").to_owned();
    let res = app
        .client
        .get(app.url(&url))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res
        .headers()
        .get("content-disposition")
        .expect("disposition")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%E7%9D%A3"),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), pdf);

    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    app.user(
        "health-staff",
        liandong_domain::Role::Department,
        vec![HEALTH],
    )
    .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    let health = app.token("health-staff", GOOD_PASSWORD).await;
    assert_eq!(app.get(&edu, &url).await.status(), StatusCode::OK);
    assert_eq!(app.get(&health, &url).await.status(), StatusCode::NOT_FOUND);
    let list = json(
        app.get(
            &edu,
            &format!("/api/v1/score-events/{}/attachments", e["id"]),
        )
        .await,
    )
    .await;
    assert_eq!(list.as_array().expect("array").len(), 1);

    // Once the quarter is approved the evidence is part of the locked record.
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;
    evaluate_all(&app, &admin, "2023-Q2").await;
    app.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q2/submit",
        json!({}),
    )
    .await;
    app.send(
        Method::POST,
        &leader,
        "/api/v1/rankings/2023-Q2/approve",
        json!({}),
    )
    .await;
    let (code, _) = error_code(
        attach("补充.pdf", pdf).await.expect("r"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "period_locked");
}

#[tokio::test]
async fn proposed_events_count_only_once_the_office_confirms_them() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let system = liandong_store::Actor::system("month-close");
    let propose = |rule: liandong_domain::scoring::RuleCode, fact: &'static str| {
        let input = liandong_service::scoring::EventInput {
            department_id: EDU,
            month: "2023-04".parse().expect("month"),
            rule,
            level: None,
            count: 1,
            note: "月结自动提出".into(),
            doc_no: None,
            occurred_on: None,
        };
        let (app, system) = (app.app.clone(), system.clone());
        async move {
            app.propose_event(&system, input, fact, chrono::Utc::now())
                .await
                .expect("propose")
        }
    };
    let a = propose(
        liandong_domain::scoring::RuleCode::SelfcheckNoProblems,
        "2023-04 自查报告未列出问题",
    )
    .await;
    let b = propose(
        liandong_domain::scoring::RuleCode::ReportLate,
        "2023-04 自查报告 5 月 7 日报送",
    )
    .await;
    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(
        row(&q2, EDU)["office_score"],
        100.0,
        "proposals do not count"
    );
    let list = json(app.get(&admin, "/api/v1/score-events/proposals").await).await;
    assert_eq!(list.as_array().expect("array").len(), 2);
    assert_eq!(list[0]["status"], "proposed");
    assert_eq!(list[0]["fact"], "2023-04 自查报告未列出问题");

    async fn decide_on(app: &TestApp, admin: &str, id: i64, body: Value) -> reqwest::Response {
        app.send(
            Method::POST,
            admin,
            &format!("/api/v1/score-events/{id}/decision"),
            body,
        )
        .await
    }
    let decide = |id: i64, body: Value| decide_on(&app, &admin, id, body);
    assert_eq!(
        decide(b.id, json!({"confirm": false})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason"
    );
    assert_eq!(
        json(decide(a.id, json!({"confirm": true})).await).await["status"],
        "confirmed"
    );
    assert_eq!(
        json(
            decide(
                b.id,
                json!({"confirm": false, "note": "5 日已报送，系统记录有误"})
            )
            .await
        )
        .await["status"],
        "rejected"
    );
    assert_eq!(
        decide(b.id, json!({"confirm": true})).await.status(),
        StatusCode::CONFLICT,
        "decided once"
    );
    let q2 = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(
        row(&q2, EDU)["office_score"],
        97.0,
        "only the confirmed -3 counts"
    );
    assert_eq!(
        json(app.get(&admin, "/api/v1/score-events/proposals").await).await,
        json!([])
    );
    let log = json(
        app.get(&admin, "/api/v1/audit?action=score_event.decide")
            .await,
    )
    .await;
    assert_eq!(log["total"], 2);
}

#[tokio::test]
async fn the_annual_summary_is_the_mean_of_the_approved_quarters() {
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    // 县纪委监委: Q1 100 - 3 = 97, Q2 100 + 0.5 = 100.5, Q3 not approved.
    ok_event(
        &app,
        &admin,
        DISCIPLINE,
        "2023-02",
        "assigned.unrectified",
        None,
        1,
    )
    .await;
    ok_event(
        &app,
        &admin,
        DISCIPLINE,
        "2023-05",
        "praise.publicity",
        Some("county"),
        1,
    )
    .await;
    ok_event(
        &app,
        &admin,
        DISCIPLINE,
        "2023-08",
        "report.missing",
        None,
        1,
    )
    .await;
    for q in ["2023-Q1", "2023-Q2"] {
        evaluate_all(&app, &admin, q).await;
        app.send(
            Method::POST,
            &admin,
            &format!("/api/v1/rankings/{q}/submit"),
            json!({}),
        )
        .await;
        assert_eq!(
            app.send(
                Method::POST,
                &leader,
                &format!("/api/v1/rankings/{q}/approve"),
                json!({})
            )
            .await
            .status(),
            StatusCode::OK
        );
    }
    let annual = json(app.get(&admin, "/api/v1/rankings/annual?year=2023").await).await;
    let d = row(&annual, DISCIPLINE);
    assert_eq!(d["quarters"], json!([97.0, 100.5, null, null]));
    assert_eq!(d["mean"], 98.75);
    // Departments count only published quarters.
    app.send(
        Method::POST,
        &admin,
        "/api/v1/rankings/2023-Q1/publish",
        json!({}),
    )
    .await;
    let theirs = json(app.get(&edu, "/api/v1/rankings/annual?year=2023").await).await;
    assert_eq!(
        row(&theirs, DISCIPLINE)["quarters"],
        json!([97.0, null, null, null])
    );
    assert_eq!(row(&theirs, DISCIPLINE)["mean"], 97.0);
}

#[tokio::test]
async fn a_submitted_quarter_is_complete_frozen_and_can_be_taken_back() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    // Evaluations missing: submission refused, naming them.
    let (code, msg) = error_code(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/submit",
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict");
    assert!(
        msg.contains("县教育局（延伸评价）") && msg.contains("县乡村振兴局（上级评估结果）"),
        "{msg}"
    );
    // Once a month, once: a second "未开展自查" for the same month is refused.
    ok_event(
        &app,
        &admin,
        EDU,
        "2023-04",
        "selfcheck.not_conducted",
        None,
        1,
    )
    .await;
    let (code, msg) = error_code(event(&app, &admin, json!({"department_id": EDU, "period": "2023-04", "rule": "selfcheck.not_conducted", "count": 1})).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "conflict");
    assert!(msg.contains("每月只计一次"), "{msg}");
    evaluate_all(&app, &admin, "2023-Q2").await;
    assert_eq!(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/submit",
            json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    // Frozen while departments may appeal.
    let (code, msg) = error_code(
        event(
            &app,
            &admin,
            json!({"department_id": EDU, "period": "2023-05", "rule": "report.late", "count": 1}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "period_locked");
    assert!(msg.contains("申诉期"), "{msg}");
    // The bulletin list stays with the county until publication.
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    assert_eq!(
        app.get(&edu, "/api/v1/rankings/2023-Q2/bulletin-list")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // The office takes it back, corrects, and may submit again.
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/reopen",
            json!({}),
        )
        .await;
    assert_eq!(json(res).await["status"], "draft");
    assert_eq!(
        event(
            &app,
            &admin,
            json!({"department_id": EDU, "period": "2023-05", "rule": "report.late", "count": 1})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let ranking = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(row(&ranking, EDU)["status"], "draft");
    assert_eq!(row(&ranking, EDU)["appeal_open"], false);
    assert_eq!(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/rankings/2023-Q2/submit",
            json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let ranking = json(app.get(&admin, "/api/v1/rankings?period=2023-Q2").await).await;
    assert_eq!(
        row(&ranking, EDU)["status"],
        "draft",
        "api.md knows draft, approved and published"
    );
    assert_eq!(row(&ranking, EDU)["appeal_open"], true);
}

#[tokio::test]
async fn departments_list_only_their_events_and_auditors_change_nothing() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    ok_event(&app, &admin, EDU, "2023-04", "report.late", None, 1).await;
    let other = ok_event(&app, &admin, HEALTH, "2023-04", "report.late", None, 1).await;
    app.user("edu-staff", liandong_domain::Role::Department, vec![EDU])
        .await;
    app.user("auditor1", liandong_domain::Role::Auditor, vec![])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    let auditor = app.token("auditor1", GOOD_PASSWORD).await;
    let mine = json(app.get(&edu, "/api/v1/score-events?period=2023-04").await).await;
    let ids: Vec<i64> = mine
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["department_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [EDU]);
    let theirs = json(
        app.get(
            &edu,
            &format!("/api/v1/score-events?period=2023-04&department_id={HEALTH}"),
        )
        .await,
    )
    .await;
    assert_eq!(theirs, json!([]));
    assert_eq!(
        app.get(
            &edu,
            &format!("/api/v1/score-events/{}/attachments", other["id"])
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    // The auditor reads all of it and can change none of it.
    assert_eq!(
        json(
            app.get(&auditor, "/api/v1/score-events?period=2023-04")
                .await
        )
        .await
        .as_array()
        .expect("array")
        .len(),
        2
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/score-events".to_owned(),
            json!({"department_id": EDU, "period": "2023-04", "rule": "report.late", "count": 1}),
        ),
        (
            Method::POST,
            format!("/api/v1/score-events/{}/withdraw", other["id"]),
            json!({"reason": "x"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/evaluations/2023-Q2/{EDU}"),
            json!({"kind": "extended", "score": 90}),
        ),
        (
            Method::POST,
            "/api/v1/rankings/2023-Q2/submit".to_owned(),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/rankings/2023-Q2/approve".to_owned(),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/appeals".to_owned(),
            json!({"event_id": other["id"], "reason": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/rankings/2023-Q2/flags".to_owned(),
            json!({"department_id": EDU, "reason": "x"}),
        ),
    ] {
        assert_eq!(
            app.send(method, &auditor, &path, body).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        json(app.get(&admin, "/api/v1/score-events?period=2023-04").await)
            .await
            .as_array()
            .expect("array")
            .len(),
        2,
        "nothing changed"
    );
}
