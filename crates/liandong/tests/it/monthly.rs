//! The monthly activities through the API: a hand-built month closed with exactly the events
//! its facts imply, the problem ledger's life and data scope, photos, imports, township
//! scores, meetings, assignments, verification and required submissions.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use liandong_domain::monthly::{Attendance, FindingOutcome, ReportKind};
use liandong_domain::{Month, Role};
use liandong_service::monthly::FindingTarget;
use liandong_store::{Actor, NewAssignment, NewMeeting, NewProblem, Scope};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::*;

const EDU: i64 = 1; // close-type
const HEALTH: i64 = 2; // close-type
const DISCIPLINE: i64 = 10; // related
const FINANCE: i64 = 14; // related
const RURAL: i64 = 24; // related
const POLICE: i64 = 25; // emergency

fn at(s: &str) -> i64 {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
    liandong_domain::deadline::from_county_time(t).timestamp()
}

fn day(s: &str) -> chrono::NaiveDate {
    s.parse().expect("date")
}

async fn bare() -> TestApp {
    TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await
}

async fn townships(app: &TestApp, token: &str) -> Vec<i64> {
    let list = json(app.get(token, "/api/v1/townships").await).await;
    list.as_array()
        .expect("array")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect()
}

fn problem(dept: i64, month: Month, duty_no: i64, deadline: &str, long_term: bool) -> NewProblem {
    NewProblem {
        department_id: dept,
        month,
        duty_no,
        duty_text: "职责".into(),
        source: liandong_domain::monthly::ProblemSource::SelfInspection,
        description: "测试问题".into(),
        measure: "整改".into(),
        responsible: "张三".into(),
        deadline: day(deadline),
        long_term,
    }
}

/// A month built by hand, fact by fact, and what closing it must propose: nothing more.
#[tokio::test]
async fn closing_a_month_proposes_exactly_the_events_its_facts_imply() {
    let app = bare().await;
    let admin = app.admin().await;
    let store = &app.app.store;
    let sys = Actor::system("test");
    let m: Month = "2025-03".parse().expect("month");
    let towns = townships(&app, &admin).await;
    let deps = store.departments().await.expect("departments");

    // Everyone but HEALTH and DISCIPLINE reports on time with one problem due long after;
    // close-type departments score every township.
    for d in &deps {
        if d.id == DISCIPLINE {
            continue;
        }
        let when = if d.id == HEALTH {
            at("2025-04-06 09:00") // a day late
        } else {
            at("2025-04-05 23:00")
        };
        store
            .save_monthly_report(&sys, when, d.id, m, ReportKind::Inspection, "自查情况")
            .await
            .expect("report");
        if d.id != HEALTH {
            store
                .add_problems(
                    &sys,
                    when,
                    &[problem(d.id, m, 1, "2025-06-30", false)],
                    None,
                )
                .await
                .expect("problem");
        }
        if d.category == liandong_domain::Category::Close {
            let n = if d.id == HEALTH { 10 } else { towns.len() };
            let scores: Vec<(i64, Decimal, String)> = towns
                .iter()
                .take(n)
                .map(|t| (*t, Decimal::from(90), String::new()))
                .collect();
            store
                .save_township_scores(&sys, when, d.id, m, &scores)
                .await
                .expect("scores");
        }
    }
    // EDU: one problem overdue and open, one rectified the day before its deadline.
    let overdue = store
        .add_problems(
            &sys,
            at("2025-03-05 10:00"),
            &[problem(EDU, m, 2, "2025-03-20", false)],
            None,
        )
        .await
        .expect("p")[0]
        .id;
    let on_time = store
        .add_problems(
            &sys,
            at("2025-03-05 10:00"),
            &[problem(EDU, m, 3, "2025-03-25", false)],
            None,
        )
        .await
        .expect("p")[0]
        .id;
    store
        .rectify_problem(&sys, at("2025-03-24 16:00"), on_time, "已整改")
        .await
        .expect("rectify");
    // A long-term problem of FINANCE, overdue and open: never counted.
    store
        .add_problems(
            &sys,
            at("2025-03-05 10:00"),
            &[problem(FINANCE, m, 1, "2025-03-15", true)],
            None,
        )
        .await
        .expect("p");
    // An overdue problem of last month's: its deadline passed in February, not March.
    store
        .add_problems(
            &sys,
            at("2025-02-05 10:00"),
            &[problem(
                RURAL,
                "2025-02".parse().expect("m"),
                1,
                "2025-02-27",
                false,
            )],
            None,
        )
        .await
        .expect("p");

    // The March meeting: POLICE absent, RURAL not as required.
    let meeting = store
        .create_meeting(
            &sys,
            at("2025-03-20 09:00"),
            &NewMeeting {
                month: m,
                kind: liandong_domain::monthly::MeetingKind::Progress,
                held_on: day("2025-03-20"),
                title: "推进会".into(),
                agenda: String::new(),
                minutes: String::new(),
            },
        )
        .await
        .expect("meeting");
    let attendance: Vec<(i64, Attendance, String)> = deps
        .iter()
        .map(|d| {
            let a = match d.id {
                POLICE => Attendance::Absent,
                RURAL => Attendance::Improper,
                _ => Attendance::Present,
            };
            (d.id, a, String::new())
        })
        .collect();
    store
        .record_meeting(
            &sys,
            at("2025-03-20 12:00"),
            meeting.id,
            "纪要",
            &attendance,
        )
        .await
        .expect("attendance");

    // A submission due in March: EDU on time, HEALTH late, FINANCE missing; one due in April.
    let march = store
        .create_requirement(
            &sys,
            at("2025-03-01 09:00"),
            "三月报表",
            "",
            at("2025-03-20 17:00"),
            &[EDU, HEALTH, FINANCE],
        )
        .await
        .expect("requirement");
    store
        .submit_requirement(&sys, at("2025-03-20 16:59"), march, EDU, "")
        .await
        .expect("submit");
    store
        .submit_requirement(&sys, at("2025-03-21 08:00"), march, HEALTH, "")
        .await
        .expect("submit");
    store
        .create_requirement(
            &sys,
            at("2025-03-01 09:00"),
            "四月报表",
            "",
            at("2025-04-10 17:00"),
            &[EDU, FINANCE],
        )
        .await
        .expect("requirement");

    // Assignments: FINANCE's still open after its deadline; DISCIPLINE's confirmed rectified.
    let open = store
        .create_assignment(
            &sys,
            at("2025-03-01 09:00"),
            &NewAssignment {
                kind: liandong_domain::monthly::AssignmentKind::Assigned,
                department_id: FINANCE,
                title: "核实补贴发放".into(),
                detail: String::new(),
                deadline: day("2025-03-28"),
            },
        )
        .await
        .expect("assignment");
    let done = store
        .create_assignment(
            &sys,
            at("2025-03-01 09:00"),
            &NewAssignment {
                kind: liandong_domain::monthly::AssignmentKind::Petition,
                department_id: DISCIPLINE,
                title: "信访件".into(),
                detail: String::new(),
                deadline: day("2025-03-10"),
            },
        )
        .await
        .expect("assignment");
    let v = store
        .create_verification(&sys, at("2025-03-25 09:00"), m, "核查组", "")
        .await
        .expect("verification");
    app.app
        .record_finding(
            &sys,
            v.id,
            DISCIPLINE,
            FindingTarget::Assignment(done.id),
            FindingOutcome::Rectified,
            None,
            "已整改属实",
            "",
            chrono::Utc::now(),
        )
        .await
        .expect("finding");

    let expected: BTreeSet<(i64, String, String)> = [
        (EDU, "selfcheck.unrectified", format!("problem:{overdue}")),
        (
            HEALTH,
            "report.late",
            format!("inspection:{HEALTH}:2025-03"),
        ),
        (
            HEALTH,
            "selfcheck.no_problems",
            format!("inspection:{HEALTH}:2025-03"),
        ),
        (
            HEALTH,
            "selfcheck.township_unscored",
            format!("township-scores:{HEALTH}:2025-03"),
        ),
        (
            DISCIPLINE,
            "selfcheck.not_conducted",
            format!("inspection:{DISCIPLINE}:2025-03"),
        ),
        (
            POLICE,
            "meeting.absent",
            format!("meeting:{}:{POLICE}", meeting.id),
        ),
        (
            RURAL,
            "meeting.improper",
            format!("meeting:{}:{RURAL}", meeting.id),
        ),
        (
            HEALTH,
            "report.late",
            format!("submission:{march}:{HEALTH}"),
        ),
        (
            FINANCE,
            "report.missing",
            format!("submission:{march}:{FINANCE}"),
        ),
        (
            FINANCE,
            "assigned.unrectified",
            format!("assignment:{}", open.id),
        ),
    ]
    .into_iter()
    .map(|(d, r, f)| (d, r.to_owned(), f))
    .collect();
    let triple = |e: &Value| {
        (
            e["department_id"].as_i64().expect("dept"),
            e["rule"].as_str().expect("rule").to_owned(),
            e["fact"].as_str().expect("fact").to_owned(),
        )
    };

    // The preview says what closing would do, with a link to each fact.
    let preview = json(
        app.get(&admin, "/api/v1/monthly/2025-03/close-preview")
            .await,
    )
    .await;
    let got: BTreeSet<_> = preview
        .as_array()
        .expect("array")
        .iter()
        .map(triple)
        .collect();
    assert_eq!(got, expected);
    let link = preview
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["rule"] == "selfcheck.unrectified")
        .expect("unrectified");
    assert_eq!(link["fact_url"], format!("/problems/{overdue}"));
    assert_eq!(link["points"], -2.0);

    // A department cannot close a month.
    app.user("edu", Role::Department, vec![EDU]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let res = app
        .send(
            Method::POST,
            &edu,
            "/api/v1/monthly/2025-03/close",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/monthly/2025-03/close",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let events = json(res).await;
    let got: BTreeSet<_> = events
        .as_array()
        .expect("array")
        .iter()
        .map(triple)
        .collect();
    assert_eq!(got, expected);
    assert!(events
        .as_array()
        .expect("array")
        .iter()
        .all(|e| e["status"] == "proposed" && e["counts"] == false));

    // Closed once; the month's reports and problems are then frozen.
    let (code, msg) = error_code(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/monthly/2025-03/close",
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict");
    assert!(msg.contains("已经关账"), "{msg}");
    let res = app
        .send(
            Method::PUT,
            &edu,
            &format!("/api/v1/monthly/2025-03/departments/{EDU}/reports/inspection"),
            json!({"body": "补报"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Proposals count once the office confirms them; a rejection needs no points.
    let ev = |rule: &str| {
        events
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["rule"] == rule)
            .expect("event")["id"]
            .as_i64()
            .expect("id")
    };
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!(
                "/api/v1/score-events/{}/decision",
                ev("selfcheck.not_conducted")
            ),
            json!({"confirm": true, "note": "属实"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/score-events/{}/decision", ev("meeting.improper")),
            json!({"confirm": false, "note": "已请假，经批准由他人代会"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ranking = json(app.get(&admin, "/api/v1/rankings?period=2025-Q1").await).await;
    let score = |d: i64| {
        ranking
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["department_id"] == d)
            .expect("row")["office_score"]
            .as_f64()
            .expect("score")
    };
    assert_eq!(score(DISCIPLINE), 92.0);
    assert_eq!(score(RURAL), 100.0);
    assert_eq!(score(POLICE), 100.0);
}

#[tokio::test]
async fn a_month_cannot_close_before_its_report_deadline() {
    let app = bare().await;
    let admin = app.admin().await;
    let this = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let (code, msg) = error_code(
        app.send(
            Method::POST,
            &admin,
            &format!("/api/v1/monthly/{this}/close"),
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "conflict");
    assert!(msg.contains("截止后才能关账"), "{msg}");
    assert!(app
        .app
        .store
        .month_closed(this)
        .await
        .expect("read")
        .is_none());
}

async fn new_problem(app: &TestApp, token: &str, dept: i64) -> Value {
    let this = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let res = app
        .send(
            Method::POST,
            token,
            "/api/v1/problems",
            json!({"department_id": dept, "period": this.to_string(), "duty_no": 1,
                   "description": "2 户监测对象信息未更新", "measure": "逐户核实", "responsible": "李四",
                   "deadline": this.last_day().to_string()}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    json(res).await
}

#[tokio::test]
async fn a_department_sees_and_changes_only_its_own_problems() {
    let app = bare().await;
    app.user("edu", Role::Department, vec![EDU]).await;
    app.user("health", Role::Department, vec![HEALTH]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let health = app.token("health", GOOD_PASSWORD).await;
    let p = new_problem(&app, &edu, EDU).await;
    let id = p["id"].as_i64().expect("id");
    new_problem(&app, &health, HEALTH).await;

    let mine = json(app.get(&health, "/api/v1/problems").await).await;
    assert_eq!(mine.as_array().expect("array").len(), 1);
    assert!(mine
        .as_array()
        .expect("array")
        .iter()
        .all(|p| p["department_id"] == HEALTH));
    let res = app.get(&health, &format!("/api/v1/problems/{id}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(
            Method::POST,
            &health,
            &format!("/api/v1/problems/{id}/rectify"),
            json!({"evidence": "冒充"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(Method::POST, &health, "/api/v1/problems", json!({"department_id": EDU, "period": p["period"], "duty_no": 1, "description": "x", "measure": "x", "responsible": "x", "deadline": p["deadline"]}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nor through the pages and the export.
    let res = app.get(&health, &format!("/problems/{id}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let xlsx = app.get(&health, "/problems/export.xlsx").await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = xlsx.bytes().await.expect("bytes");
    let cells = xlsx_cells(&bytes);
    assert!(cells.iter().any(|c| c == "县卫健委"), "{cells:?}");
    assert!(!cells.iter().any(|c| c == "县教育局"), "{cells:?}");
    // The office sees both.
    let all = json(app.get(&app.admin().await, "/api/v1/problems").await).await;
    assert_eq!(all.as_array().expect("array").len(), 2);
    // The store's scope says the same.
    let scoped = app
        .app
        .store
        .problems(&Scope::Units(vec![HEALTH]), &Default::default())
        .await
        .expect("problems");
    assert!(scoped.iter().all(|p| p.department_id == HEALTH));
}

#[tokio::test]
async fn a_problem_is_rectified_by_its_department_closed_by_the_office_and_reopened_by_verification(
) {
    let app = bare().await;
    let admin = app.admin().await;
    app.user("edu", Role::Department, vec![EDU]).await;
    app.user("checker", Role::Verifier, vec![]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let checker = app.token("checker", GOOD_PASSWORD).await;

    // Bad input names its field and stores nothing.
    let this = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let res = app
        .send(Method::POST, &edu, "/api/v1/problems", json!({"department_id": EDU, "period": this.to_string(), "duty_no": 99, "description": "x", "measure": "x", "responsible": "x", "deadline": this.last_day().to_string()}))
        .await;
    let body = json(res).await;
    assert_eq!(body["error"]["field"], "duty_no");
    assert!(body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("没有第 99 条"));
    assert!(json(app.get(&edu, "/api/v1/problems").await)
        .await
        .as_array()
        .expect("a")
        .is_empty());

    let p = new_problem(&app, &edu, EDU).await;
    let id = p["id"].as_i64().expect("id");
    assert_eq!(p["status"], "open");
    assert_eq!(p["duty_no"], 1);
    assert!(!p["duty_text"].as_str().expect("duty").is_empty());

    // The office cannot close what is not reported rectified; the department cannot close.
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/problems/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/problems/{id}/rectify"),
            json!({"evidence": "已入户核实并更新"}),
        )
        .await;
    assert_eq!(json(res).await["status"], "rectified");
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/problems/{id}/close"),
            json!({}),
        )
        .await;
    let (_, msg) = error_code(res, StatusCode::FORBIDDEN).await;
    assert!(msg.contains("不能自行销号"), "{msg}");
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/problems/{id}/close"),
            json!({}),
        )
        .await;
    let closed = json(res).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["closed_by"], "admin");

    // Verification finds it open again: reopened, and its deduction proposed.
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/verifications",
            json!({"period": this.to_string(), "team": "赵组长、钱组员"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(Method::POST, &checker, &format!("/api/v1/verifications/{v}/findings"),
            json!({"department_id": EDU, "outcome": "unrectified", "problem_id": id, "description": "入户发现信息仍未更新", "evidence": "走访 2 户"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let finding = json(res).await;
    assert_eq!(finding["rule"], "selfcheck.unrectified");
    let event_id = finding["event_id"].as_i64().expect("event");
    let p = json(app.get(&edu, &format!("/api/v1/problems/{id}")).await).await;
    assert_eq!(p["status"], "open");
    assert_eq!(p["reopened"], 1);
    let proposals = json(app.get(&admin, "/api/v1/score-events/proposals").await).await;
    let e = proposals
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["id"] == event_id)
        .expect("proposed");
    assert_eq!(e["fact"], format!("problem:{id}"));
    assert_eq!(e["points"], -2.0);
    // A department may not record findings, and a finding must fit its target.
    let res = app
        .send(Method::POST, &edu, &format!("/api/v1/verifications/{v}/findings"),
            json!({"department_id": EDU, "outcome": "rectified", "problem_id": id, "description": "自证"}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &checker,
            &format!("/api/v1/verifications/{v}/findings"),
            json!({"department_id": EDU, "outcome": "other", "description": "无条目"}),
        )
        .await;
    assert_eq!(json(res).await["error"]["field"], "rule");

    // The draw is recorded with its seed; a re-draw is recorded too.
    for _ in 0..2 {
        let res = app
            .send(
                Method::POST,
                &admin,
                &format!("/api/v1/verifications/{v}/draw"),
                json!({"departments": 4, "problems": 2}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let detail = json(
        app.get(&checker, &format!("/api/v1/verifications/{v}"))
            .await,
    )
    .await;
    let draws = detail["draws"].as_array().expect("draws");
    assert_eq!(draws.len(), 2);
    for d in draws {
        let seed: u64 = d["seed"].as_str().expect("seed").parse().expect("u64");
        let all: Vec<i64> = (1..=26).collect();
        let expected = liandong_domain::monthly::draw(seed, &all, 4);
        let got: Vec<i64> = d["departments"]
            .as_array()
            .expect("a")
            .iter()
            .map(|x| x.as_i64().expect("i"))
            .collect();
        assert_eq!(got, expected, "the seed reproduces the draw");
    }
}

/// A JPEG with an Exif block holding a GPS position.
fn jpeg_with_gps() -> Vec<u8> {
    let img = image::DynamicImage::new_rgb8(64, 48);
    let mut plain = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut plain),
        image::ImageFormat::Jpeg,
    )
    .expect("jpeg");
    let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS-31.4159N-112.4321E");
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((tiff.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&plain[2..]);
    out
}

#[tokio::test]
async fn photos_lose_their_location_get_thumbnails_and_stay_in_scope() {
    let app = bare().await;
    app.user("edu", Role::Department, vec![EDU]).await;
    app.user("health", Role::Department, vec![HEALTH]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let health = app.token("health", GOOD_PASSWORD).await;
    let id = new_problem(&app, &edu, EDU).await["id"]
        .as_i64()
        .expect("id");
    let upload = |token: &str, name: &str, bytes: Vec<u8>| {
        app.client
            .post(app.url(&format!("/api/v1/problems/{id}/photos?name={name}")))
            .bearer_auth(token)
            .body(bytes)
            .send()
    };
    let res = upload(&edu, "现场.jpg", jpeg_with_gps())
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let photo = json(res).await;
    let full = app.get(&edu, photo["url"].as_str().expect("url")).await;
    assert_eq!(full.status(), StatusCode::OK);
    let bytes = full.bytes().await.expect("bytes");
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "EXIF kept");
    assert!(!bytes.windows(3).any(|w| w == b"GPS"), "location kept");
    let thumb = app
        .get(&edu, photo["thumbnail_url"].as_str().expect("thumb"))
        .await;
    assert_eq!(thumb.status(), StatusCode::OK);
    // Another department sees neither the photo nor its thumbnail.
    for url in [&photo["url"], &photo["thumbnail_url"]] {
        let res = app.get(&health, url.as_str().expect("url")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    // A PDF named .jpg is refused, by its content.
    let res = upload(&edu, "伪装.jpg", b"%PDF-1.7 fake".to_vec())
        .await
        .expect("send");
    let body = json(res).await;
    assert_eq!(body["error"]["field"], "file");
    let list = json(
        app.get(&edu, &format!("/api/v1/problems/{id}/photos"))
            .await,
    )
    .await;
    assert_eq!(list.as_array().expect("array").len(), 1);
}

#[tokio::test]
async fn a_problem_list_imports_whole_or_not_at_all() {
    let app = bare().await;
    app.user("edu", Role::Department, vec![EDU]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let template = app.get(&edu, "/problems/template.xlsx").await;
    assert_eq!(template.status(), StatusCode::OK);
    let cells = xlsx_cells(&template.bytes().await.expect("bytes"));
    for h in [
        "单位",
        "月份",
        "职责序号",
        "问题描述",
        "整改措施",
        "责任人",
        "整改时限",
        "需长期整改",
    ] {
        assert!(cells.iter().any(|c| c == h), "{h}");
    }
    let this = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let header = [
        "单位",
        "月份",
        "职责序号",
        "问题描述",
        "整改措施",
        "责任人",
        "整改时限",
        "需长期整改",
    ];
    let good = |desc: &str| {
        vec![
            "县教育局".to_owned(),
            this.to_string(),
            "2".into(),
            desc.into(),
            "整改".into(),
            "王五".into(),
            this.last_day().to_string(),
            "否".into(),
        ]
    };
    let mut bad_rows = vec![good("问题甲"), good("问题乙")];
    bad_rows[1][2] = "99".into();
    bad_rows.push(vec![
        "县卫生健康委".into(),
        this.to_string(),
        "1".into(),
        "越权".into(),
        "x".into(),
        "x".into(),
        this.last_day().to_string(),
        "".into(),
    ]);
    let bad = xlsx(&header, &bad_rows);
    let import = |bytes: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/problems/import"))
            .bearer_auth(&edu)
            .body(bytes)
            .send()
    };
    let res = import(bad).await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(res).await;
    let details: Vec<String> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d.as_str().expect("s").to_owned())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("第 3 行") && d.contains("职责序号")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("第 4 行") && d.contains("单位")),
        "{details:?}"
    );
    assert!(json(app.get(&edu, "/api/v1/problems").await)
        .await
        .as_array()
        .expect("a")
        .is_empty());

    let fixed = xlsx(&header, &[good("问题甲"), good("问题乙")]);
    let res = import(fixed.clone()).await.expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(json(res).await["imported"], 2);
    let res = import(fixed).await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await["duplicate"], true);
    assert_eq!(
        json(app.get(&edu, "/api/v1/problems").await)
            .await
            .as_array()
            .expect("a")
            .len(),
        2
    );
}

#[tokio::test]
async fn close_type_departments_rank_townships_and_townships_see_the_ranking() {
    let app = bare().await;
    let admin = app.admin().await;
    let towns = townships(&app, &admin).await;
    app.user("edu", Role::Department, vec![EDU]).await;
    app.user("discipline", Role::Department, vec![DISCIPLINE])
        .await;
    app.user("town", Role::Township, vec![towns[1]]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let this = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let path = format!("/api/v1/township-scores/{this}/{EDU}");
    let res = app
        .send(
            Method::PUT,
            &edu,
            &path,
            json!({"scores": [
            {"township_id": towns[0], "score": 95.5},
            {"township_id": towns[1], "score": 97},
            {"township_id": towns[2], "score": 95.5},
            {"township_id": towns[3], "score": 80, "note": "台账不全"}]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ranking = json(res).await;
    let ranks: Vec<(i64, u64)> = ranking[0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["township_id"].as_i64().expect("id"),
                r["rank"].as_u64().expect("rank"),
            )
        })
        .collect();
    assert_eq!(
        ranks,
        vec![(towns[1], 1), (towns[0], 2), (towns[2], 2), (towns[3], 4)]
    );
    // Out of range names the entry; nothing changes.
    let res = app
        .send(
            Method::PUT,
            &edu,
            &path,
            json!({"scores": [{"township_id": towns[0], "score": 101}]}),
        )
        .await;
    let body = json(res).await;
    assert_eq!(body["error"]["field"], "scores[0]");
    // A related department does not rank townships.
    let discipline = app.token("discipline", GOOD_PASSWORD).await;
    let res = app
        .send(
            Method::PUT,
            &discipline,
            &format!("/api/v1/township-scores/{this}/{DISCIPLINE}"),
            json!({"scores": []}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The township reads every close-type department's ranking of it.
    let town = app.token("town", GOOD_PASSWORD).await;
    let all = json(
        app.get(&town, &format!("/api/v1/township-scores/{this}"))
            .await,
    )
    .await;
    let edu_rows = all
        .as_array()
        .expect("array")
        .iter()
        .find(|g| g["department_id"] == EDU)
        .expect("edu");
    assert_eq!(edu_rows["rows"].as_array().expect("rows").len(), 4);
    let page = app
        .get(&town, &format!("/monthly/townships?month={this}"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("text").contains("97"));
}

#[tokio::test]
async fn meetings_assignments_submissions_and_reminders() {
    let app = bare().await;
    let admin = app.admin().await;
    app.user("edu", Role::Department, vec![EDU]).await;
    app.user("checker", Role::Verifier, vec![]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let today = liandong_domain::deadline::county_date(chrono::Utc::now());
    let this = Month::of(today);

    // A meeting with attendance and a decision for EDU, which EDU reports done.
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/meetings",
            json!({"kind": "observation", "held_on": today.to_string(), "title": "观摩会"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let m = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(Method::PUT, &admin, &format!("/api/v1/meetings/{m}/record"),
            json!({"minutes": "议定事项", "attendance": [{"department_id": EDU, "attendance": "absent"}, {"department_id": HEALTH, "attendance": "sometimes"}]}))
        .await;
    assert_eq!(
        json(res).await["error"]["field"],
        "attendance[1].attendance"
    );
    let res = app
        .send(Method::PUT, &admin, &format!("/api/v1/meetings/{m}/record"),
            json!({"minutes": "议定事项", "attendance": [{"department_id": EDU, "attendance": "absent", "note": "未请假"}]}))
        .await;
    assert_eq!(json(res).await["attendance"][0]["attendance"], "absent");
    let res = app
        .send(Method::POST, &admin, &format!("/api/v1/meetings/{m}/tasks"),
            json!({"department_id": EDU, "title": "完成数据比对核实", "due_on": (today + chrono::Duration::days(2)).to_string()}))
        .await;
    let task = json(res).await["id"].as_i64().expect("task");
    // Reminders list what is due for the department.
    let reminders = json(app.get(&edu, "/api/v1/reminders").await).await;
    assert!(
        reminders
            .as_array()
            .expect("array")
            .iter()
            .any(
                |r| r["what"].as_str().expect("w").contains("完成数据比对核实")
                    && r["urgency"] == "soon"
            ),
        "{reminders}"
    );
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/tasks/{task}/done"),
            json!({"result": "已完成"}),
        )
        .await;
    assert_eq!(json(res).await["status"], "done");

    // An assignment: EDU reports it; verification finds it open, which proposes the deduction.
    let res = app
        .send(Method::POST, &admin, "/api/v1/assignments",
            json!({"kind": "petition", "department_id": EDU, "title": "信访件：助学金未发放", "deadline": today.to_string()}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let a = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/assignments/{a}/report"),
            json!({"report": "已发放"}),
        )
        .await;
    assert_eq!(json(res).await["status"], "reported");
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/verifications",
            json!({"period": this.to_string(), "team": "核查组"}),
        )
        .await;
    let v = json(res).await["id"].as_i64().expect("v");
    let checker = app.token("checker", GOOD_PASSWORD).await;
    let res = app
        .send(Method::POST, &checker, &format!("/api/v1/verifications/{v}/findings"),
            json!({"department_id": EDU, "outcome": "unrectified", "assignment_id": a, "description": "抽查 1 户未到账"}))
        .await;
    let f = json(res).await;
    assert_eq!(f["rule"], "assigned.unrectified");
    let res = app.get(&edu, &format!("/api/v1/assignments/{a}")).await;
    assert_eq!(json(res).await["status"], "open");
    let events = json(
        app.get(
            &admin,
            &format!("/api/v1/score-events?department_id={EDU}&period={this}"),
        )
        .await,
    )
    .await;
    assert!(events
        .as_array()
        .expect("a")
        .iter()
        .any(|e| e["fact"] == format!("assignment:{a}") && e["points"] == -3.0));
    // The department cannot see the verification itself.
    let res = app.get(&edu, &format!("/api/v1/verifications/{v}")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A required submission: on time now, and only once.
    let due = (today + chrono::Duration::days(3)).to_string();
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/submissions",
            json!({"title": "月报", "due": due, "departments": [EDU, HEALTH]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let r = json(res).await;
    let rid = r["id"].as_i64().expect("id");
    assert_eq!(r["targets"].as_array().expect("t").len(), 2);
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/submissions/{rid}/submit"),
            json!({"department_id": HEALTH}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/submissions/{rid}/submit"),
            json!({"department_id": EDU, "note": "已报"}),
        )
        .await;
    let r = json(res).await;
    assert_eq!(
        r["targets"].as_array().expect("t").len(),
        1,
        "a department sees its own part only"
    );
    assert_eq!(r["targets"][0]["state"], "on_time");
    let res = app
        .send(
            Method::POST,
            &edu,
            &format!("/api/v1/submissions/{rid}/submit"),
            json!({"department_id": EDU}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // The assignment ledger exports, in scope.
    let xlsx = app.get(&edu, "/assignments/export.xlsx").await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let cells = xlsx_cells(&xlsx.bytes().await.expect("bytes"));
    assert!(
        cells.iter().any(|c| c == "信访件：助学金未发放"),
        "{cells:?}"
    );
    assert!(cells.iter().any(|c| c == "待整改"), "{cells:?}");
    // And the office's dashboard asks it to verify nothing left: the assignment is open again.
    let office = json(app.get(&admin, "/api/v1/reminders").await).await;
    assert!(!office
        .as_array()
        .expect("a")
        .iter()
        .any(|r| r["url"] == format!("/assignments/{a}")));
}

#[tokio::test]
async fn the_demo_county_has_a_month_on_every_page() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let dept = app.token("dept-edu", DEMO_PASSWORD).await;
    let town = app.token("town-chengguan", DEMO_PASSWORD).await;
    let last = Month::of(liandong_domain::deadline::county_date(chrono::Utc::now())).prev();
    for (token, path, needle) in [
        (&office, format!("/monthly/{last}"), "month-status"),
        (&office, "/problems".to_owned(), "class=\"problem\""),
        (&office, "/meetings".to_owned(), "class=\"meeting\""),
        (&office, "/assignments".to_owned(), "class=\"assignment\""),
        (
            &office,
            "/verifications".to_owned(),
            "class=\"verification\"",
        ),
        (&office, "/submissions".to_owned(), "class=\"requirement\""),
        (&office, format!("/plans/{EDU}"), "id=\"plan\""),
        (
            &dept,
            format!("/monthly/{last}/departments/{EDU}"),
            "id=\"inspection-state\"",
        ),
        (
            &town,
            format!("/monthly/townships?month={last}"),
            "township-ranking",
        ),
    ] {
        let res = app.get(token, &path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let html = res.text().await.expect("text");
        assert!(html.contains(needle), "{path} lacks {needle}");
    }
    let v = json(app.get(&office, "/api/v1/verifications").await).await;
    assert!(!v[0]["draws"].as_array().expect("draws").is_empty());
}
