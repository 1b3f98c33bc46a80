//! The roster and early warnings through the API: the two-step import with its preview,
//! encryption at rest, masking and logged unmasking, bad files, routing, the sign / verify /
//! close lifecycle with overdue marking and the proposed bonus, event streams and group robots.

use std::time::Duration;

use chrono::NaiveDate;
use liandong_domain::{IdNumber, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const HEALTH: i64 = 2;
const MEDINSURE: i64 = 3;
const CIVIL: i64 = 6;

fn id(seq: u16) -> String {
    IdNumber::from_parts(
        "411321",
        NaiveDate::from_ymd_opt(1970 + (seq % 40) as i32, 3, 9).expect("date"),
        seq,
    )
    .expect("id")
    .expose()
    .to_owned()
}

const HEADER: &str = "户编号,乡镇,村,姓名,身份证号,与户主关系,户类型,联系电话";

fn csv(rows: &[String]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.into_bytes()
}

fn row(no: &str, town: &str, name: &str, idn: &str, rel: &str, kind: &str, phone: &str) -> String {
    format!("{no},{town},东关村,{name},{idn},{rel},{kind},{phone}")
}

async fn start(app: &TestApp, token: &str, body: Vec<u8>) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/roster/imports"))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = json(res).await;
    let t = job["token"].as_str().expect("token").to_owned();
    for _ in 0..400 {
        let j = json(app.get(token, &format!("/api/v1/roster/imports/{t}")).await).await;
        if j["state"] != "checking" {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the import never finished checking");
}

async fn confirm(app: &TestApp, token: &str, job: &Value) -> Value {
    let t = job["token"].as_str().expect("token");
    let res = app
        .send(
            Method::POST,
            token,
            &format!("/api/v1/roster/imports/{t}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    json(res).await
}

async fn total(app: &TestApp, token: &str) -> i64 {
    json(app.get(token, "/api/v1/households").await).await["total"]
        .as_i64()
        .expect("total")
}

async fn bare() -> TestApp {
    TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await
}

/// Three households of 城关镇 and 留山镇, the first with a 15-digit, a full-width and a
/// lowercase-x number.
fn first_export() -> (Vec<u8>, Vec<String>) {
    let ids: Vec<String> = (1..=6).map(id).collect();
    // 15-digit legacy form of the first: drop the century and the check digit.
    let legacy = format!("{}{}", &ids[0][..6], &ids[0][8..17]);
    let full_width: String = ids[1]
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
        .collect();
    let rows = vec![
        row(
            "H001",
            "城关镇",
            "张一",
            &legacy,
            "户主",
            "脱贫户",
            "13812345678",
        ),
        row(
            "H001",
            "城关镇",
            "张二",
            &format!(" {full_width} "),
            "配偶",
            "脱贫户",
            "",
        ),
        row(
            "H001",
            "城关镇",
            "张三",
            &ids[2].to_lowercase(),
            "之子",
            "脱贫户",
            "",
        ),
        row(
            "H002",
            "城关镇",
            "李一",
            &ids[3],
            "户主",
            "边缘易致贫户",
            "13900001111",
        ),
        row(
            "H003",
            "留山镇",
            "王一",
            &ids[4],
            "户主",
            "脱贫不稳定户",
            "",
        ),
        row(
            "H003",
            "留山镇",
            "王二",
            &ids[5],
            "之女",
            "脱贫不稳定户",
            "",
        ),
    ];
    (csv(&rows), ids)
}

#[tokio::test]
async fn a_roster_imports_in_two_steps_sealed_and_masked() {
    let app = bare().await;
    let admin = app.admin().await;
    let (file, ids) = first_export();
    let job = start(&app, &admin, file.clone()).await;
    assert_eq!(job["state"], "ready", "{job}");
    assert_eq!(job["preview"]["households_added"], 3);
    assert_eq!(job["preview"]["persons_added"], 6);
    assert_eq!(job["done"], 6);
    assert_eq!(
        total(&app, &admin).await,
        0,
        "nothing written before confirmation"
    );
    let applied = confirm(&app, &admin, &job).await;
    assert_eq!(applied["state"], "applied");
    assert_eq!(total(&app, &admin).await, 3);

    // At rest: no full ID or phone number anywhere in the database files.
    let dir = app.dir.path();
    let mut bytes = std::fs::read(dir.join("liandong.sqlite3")).expect("db");
    if let Ok(wal) = std::fs::read(dir.join("liandong.sqlite3-wal")) {
        bytes.extend(wal);
    }
    for secret in ids
        .iter()
        .map(String::as_str)
        .chain(["13812345678", "13900001111"])
    {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} stored in clear"
        );
    }

    // Shown masked; normalised (15 digits upgraded, full width, lowercase x).
    let list = json(app.get(&admin, "/api/v1/households?q=H001").await).await;
    let hid = list["items"][0]["id"].as_i64().expect("id");
    let detail = json(app.get(&admin, &format!("/api/v1/households/{hid}")).await).await;
    let members = detail["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    for (m, full) in members.iter().zip(&ids) {
        let shown = m["id_number"].as_str().expect("id");
        assert_eq!(shown, format!("{}**********{}", &full[..4], &full[14..]));
    }
    assert_eq!(members[0]["phone"], "138****5678");
    assert_eq!(
        members[0]["sex"],
        if ids[0].as_bytes()[16] % 2 == 1 {
            "男"
        } else {
            "女"
        }
    );
    let page = app.get(&admin, &format!("/roster/households/{hid}")).await;
    let html = page.text().await.expect("html");
    assert!(!html.contains(&ids[0]) && html.contains("**********"));

    // The same file again changes nothing.
    let again = start(&app, &admin, file).await;
    assert_eq!(again["state"], "already_imported");

    // A newer export: H001 changes type, H002 is gone, H004 is new, H003 unchanged.
    let newer = csv(&[
        row(
            "H001",
            "城关镇",
            "张一",
            &ids[0],
            "户主",
            "边缘易致贫户",
            "13812345678",
        ),
        row(
            "H001",
            "城关镇",
            "张二",
            &ids[1],
            "配偶",
            "边缘易致贫户",
            "",
        ),
        row(
            "H001",
            "城关镇",
            "张三",
            &ids[2],
            "之子",
            "边缘易致贫户",
            "",
        ),
        row(
            "H003",
            "留山镇",
            "王一",
            &ids[4],
            "户主",
            "脱贫不稳定户",
            "",
        ),
        row(
            "H003",
            "留山镇",
            "王二",
            &ids[5],
            "之女",
            "脱贫不稳定户",
            "",
        ),
        row(
            "H004",
            "留山镇",
            "赵一",
            &id(7),
            "户主",
            "突发严重困难户",
            "",
        ),
    ]);
    let job = start(&app, &admin, newer).await;
    let p = &job["preview"];
    assert_eq!(
        (
            p["households_added"].as_i64(),
            p["households_changed"].as_i64(),
            p["households_gone"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{job}"
    );
    assert_eq!(
        (
            p["persons_added"].as_i64(),
            p["persons_changed"].as_i64(),
            p["persons_gone"].as_i64()
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(
        total(&app, &admin).await,
        3,
        "nothing changes before confirmation"
    );
    confirm(&app, &admin, &job).await;
    let list = json(app.get(&admin, "/api/v1/households").await).await;
    let nos: Vec<&str> = list["items"]
        .as_array()
        .expect("a")
        .iter()
        .map(|h| h["household_no"].as_str().expect("no"))
        .collect();
    assert!(nos.contains(&"H004") && !nos.contains(&"H002"), "{nos:?}");
    // A department cannot import.
    app.user("edu", Role::Department, vec![1]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let res = app
        .client
        .post(app.url("/api/v1/roster/imports"))
        .bearer_auth(&edu)
        .body(b"x".to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_roster_files_are_refused_with_their_reasons_and_change_nothing() {
    let app = bare().await;
    let admin = app.admin().await;
    // An .xlsx whose ID numbers Excel turned into numbers.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADER.split(',').enumerate() {
        ws.write_string(0, c as u16, h).expect("w");
    }
    for (c, v) in ["H1", "城关镇", "东关村", "张一"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).expect("w");
    }
    ws.write_number(1, 4, 4.11321e17).expect("w");
    ws.write_string(1, 5, "户主").expect("w");
    ws.write_string(1, 6, "脱贫户").expect("w");
    let xlsx = wb.save_to_buffer().expect("xlsx");
    let job = start(&app, &admin, xlsx).await;
    assert_eq!(job["state"], "rejected");
    let e = job["errors"][0].as_str().expect("e");
    assert!(
        e.contains("第 2 行") && e.contains("身份证号") && e.contains("表格软件"),
        "{e}"
    );

    // A GBK .csv (as the national system writes it) with a wrong check digit, an unknown
    // township and a duplicate: every row named.
    let good = id(1);
    let mut bad_check = good.clone();
    let last = bad_check.pop().expect("digit");
    bad_check.push(if last == '0' { '1' } else { '0' });
    let text = format!(
        "{HEADER}\nH1,城关镇,东关村,张一,{bad_check},户主,脱贫户,\nH2,无此镇,东关村,李一,{good},户主,脱贫户,\nH3,城关镇,东关村,王一,{good},户主,贫困户,\n"
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let job = start(&app, &admin, gbk.into_owned()).await;
    assert_eq!(job["state"], "rejected", "{job}");
    let errors: Vec<&str> = job["errors"]
        .as_array()
        .expect("a")
        .iter()
        .map(|e| e.as_str().expect("s"))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("第 2 行") && e.contains("校验码")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("第 3 行") && e.contains("乡镇")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("第 4 行") && e.contains("户类型")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("第 4 行") && e.contains("与第 3 行的身份证号相同")),
        "{errors:?}"
    );
    // The file back with an error column, for its uploader.
    let browser = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let t = job["token"].as_str().expect("t");
    let annotated = browser
        .get(app.url(&format!("/roster/imports/{t}/errors.xlsx")))
        .send()
        .await
        .expect("r");
    assert_eq!(annotated.status(), StatusCode::OK);
    let cells = xlsx_cells(&annotated.bytes().await.expect("b"));
    assert!(cells.iter().any(|c| c.contains("校验码")), "{cells:?}");

    // Missing columns, and something that is not a table at all.
    let job = start(&app, &admin, "户编号,姓名\nH1,张一\n".as_bytes().to_vec()).await;
    assert_eq!(job["state"], "failed");
    assert!(job["errors"][0]
        .as_str()
        .expect("e")
        .contains("缺少必需的列"));
    let job = start(&app, &admin, b"PK\x03\x04 not really a zip".to_vec()).await;
    assert_eq!(job["state"], "failed");
    assert!(job["errors"][0].as_str().expect("e").contains(".xlsx"));
    // A rejected job cannot be confirmed.
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/roster/imports/{t}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(total(&app, &admin).await, 0);
}

async fn imported(app: &TestApp, admin: &str) {
    let (file, _) = first_export();
    let job = start(app, admin, file).await;
    confirm(app, admin, &job).await;
}

async fn household_id(app: &TestApp, token: &str, no: &str) -> i64 {
    json(app.get(token, &format!("/api/v1/households?q={no}")).await).await["items"][0]["id"]
        .as_i64()
        .expect("id")
}

#[tokio::test]
async fn full_numbers_are_shown_only_to_roles_that_need_them_and_each_view_is_logged() {
    let app = bare().await;
    let admin = app.admin().await;
    imported(&app, &admin).await;
    let towns = json(app.get(&admin, "/api/v1/townships").await).await;
    let town = |name: &str| {
        towns
            .as_array()
            .expect("a")
            .iter()
            .find(|t| t["name"] == name)
            .expect("town")["id"]
            .as_i64()
            .expect("id")
    };
    app.user("chengguan", Role::Township, vec![town("城关镇")])
        .await;
    app.user("liushan", Role::Township, vec![town("留山镇")])
        .await;
    app.user("edu", Role::Department, vec![1]).await;
    let hid = household_id(&app, &admin, "H001").await;
    let person = json(app.get(&admin, &format!("/api/v1/households/{hid}")).await).await["members"]
        [0]["id"]
        .as_i64()
        .expect("person");
    let unmask = |token: String, reason: &'static str| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                &token,
                &format!("/api/v1/persons/{person}/unmask"),
                json!({"reason": reason}),
            )
            .await
        }
    };
    let edu = app.token("edu", GOOD_PASSWORD).await;
    assert_eq!(unmask(edu, "好奇").await.status(), StatusCode::FORBIDDEN);
    let liushan = app.token("liushan", GOOD_PASSWORD).await;
    assert_eq!(
        unmask(liushan.clone(), "核对").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&liushan, &format!("/api/v1/households/{hid}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let chengguan = app.token("chengguan", GOOD_PASSWORD).await;
    let res = unmask(chengguan.clone(), "").await;
    assert_eq!(json(res).await["error"]["field"], "reason");
    let res = unmask(chengguan, "入户核实医疗救助申请").await;
    assert_eq!(res.status(), StatusCode::OK);
    let full = json(res).await;
    let number = full["id_number"].as_str().expect("id");
    assert!(IdNumber::parse(number).is_ok(), "{number}");
    assert_eq!(full["phone"], "13812345678");
    let log = json(app.get(&admin, "/api/v1/audit?action=person.unmask").await).await;
    assert_eq!(log["total"], 1);
    assert_eq!(log["entries"][0]["actor"], "chengguan");
    assert!(log["entries"][0]["after"]
        .to_string()
        .contains("入户核实医疗救助申请"));
    assert!(
        !log["entries"][0]["after"].to_string().contains(number),
        "the number itself is not logged"
    );
}

#[tokio::test]
async fn a_warning_is_routed_signed_verified_closed_and_proposes_its_bonus() {
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.warning_sign_hours = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    imported(&app, &admin).await;
    let towns = json(app.get(&admin, "/api/v1/townships").await).await;
    let chengguan_id = towns
        .as_array()
        .expect("a")
        .iter()
        .find(|t| t["name"] == "城关镇")
        .expect("t")["id"]
        .as_i64()
        .expect("id");
    app.user("health", Role::Department, vec![HEALTH]).await;
    app.user("medinsure", Role::Department, vec![MEDINSURE])
        .await;
    app.user("civil", Role::Department, vec![CIVIL]).await;
    app.user("chengguan", Role::Township, vec![chengguan_id])
        .await;
    let health = app.token("health", GOOD_PASSWORD).await;
    let medinsure = app.token("medinsure", GOOD_PASSWORD).await;
    let chengguan = app.token("chengguan", GOOD_PASSWORD).await;
    let hid = household_id(&app, &admin, "H001").await;
    let today = liandong_domain::deadline::county_date(chrono::Utc::now()).to_string();

    // Bad input names its field and pushes nothing.
    let res = app
        .send(
            Method::POST,
            &health,
            "/api/v1/warnings",
            json!({"household_id": hid, "risk_type": "flu", "summary": "x", "occurred_on": today}),
        )
        .await;
    assert_eq!(json(res).await["error"]["field"], "risk_type");
    let res = app.send(Method::POST, &health, "/api/v1/warnings", json!({"id_number": "411321199001010000", "risk_type": "illness", "summary": "x", "occurred_on": today})).await;
    assert_eq!(json(res).await["error"]["field"], "id_number");

    let res = app
        .send(Method::POST, &health, "/api/v1/warnings", json!({"household_id": hid, "risk_type": "illness", "summary": "户主住院，自付费用较高", "occurred_on": today, "evidence": "医保结算数据"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let w = json(res).await;
    let wid = w["id"].as_i64().expect("id");
    let mut receivers: Vec<i64> = w["receipts"]
        .as_array()
        .expect("r")
        .iter()
        .map(|r| r["unit_id"].as_i64().expect("u"))
        .collect();
    receivers.sort_unstable();
    let mut expected = vec![chengguan_id, MEDINSURE, CIVIL];
    expected.sort_unstable();
    assert_eq!(
        receivers, expected,
        "the township and the routed departments, not the raiser"
    );
    assert_eq!(w["raised_by"], "县卫健委");

    // The receivers see it on their dashboards; the signing deadline (0 hours) has passed.
    let reminders = json(app.get(&medinsure, "/api/v1/reminders").await).await;
    assert!(
        reminders
            .as_array()
            .expect("a")
            .iter()
            .any(|r| r["url"] == format!("/warnings/{wid}") && r["urgency"] == "overdue"),
        "{reminders}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app
        .send(
            Method::POST,
            &medinsure,
            &format!("/api/v1/warnings/{wid}/sign"),
            json!({}),
        )
        .await;
    let signed = json(res).await;
    let state = |w: &Value, unit: i64| {
        w["receipts"]
            .as_array()
            .expect("r")
            .iter()
            .find(|r| r["unit_id"] == unit)
            .expect("receipt")["state_label"]
            .as_str()
            .expect("s")
            .to_owned()
    };
    assert_eq!(state(&signed, MEDINSURE), "逾期签收");
    assert_eq!(state(&signed, CIVIL), "逾期未签收");
    let res = app
        .send(
            Method::POST,
            &medinsure,
            &format!("/api/v1/warnings/{wid}/sign"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "signed once");
    let res = app
        .send(
            Method::POST,
            &health,
            &format!("/api/v1/warnings/{wid}/sign"),
            json!({}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "the raiser does not sign"
    );

    // Only the township (or the office) verifies; only the office closes.
    let res = app
        .send(
            Method::POST,
            &medinsure,
            &format!("/api/v1/warnings/{wid}/verify"),
            json!({"found_true": true, "note": "属实"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &chengguan,
            &format!("/api/v1/warnings/{wid}/verify"),
            json!({"found_true": true, "note": "入户核实属实"}),
        )
        .await;
    assert_eq!(json(res).await["status"], "verified");
    let res = app
        .send(
            Method::POST,
            &chengguan,
            &format!("/api/v1/warnings/{wid}/close"),
            json!({"assisted": true, "reason": "x"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &admin,
            &format!("/api/v1/warnings/{wid}/close"),
            json!({"assisted": true, "reason": "落实医疗救助"}),
        )
        .await;
    let closed = json(res).await;
    assert_eq!(closed["status"], "assisted");
    let event = closed["event_id"].as_i64().expect("proposed");
    let proposals = json(app.get(&admin, "/api/v1/score-events/proposals").await).await;
    let e = proposals
        .as_array()
        .expect("a")
        .iter()
        .find(|e| e["id"] == event)
        .expect("event");
    assert_eq!(e["rule"], "warning.verified");
    assert_eq!(e["department_id"], HEALTH);
    assert_eq!(e["points"], 2.0);
    assert_eq!(e["fact"], format!("warning:{wid}"));
    // The household (脱贫户, not monitored) enters monitoring.
    let h = json(app.get(&admin, &format!("/api/v1/households/{hid}")).await).await;
    assert_eq!(h["household"]["stage"], "identified");
    assert_eq!(h["household"]["identified_on"], today);

    // A second warning found untrue is dismissed with its reason, and proposes nothing.
    let res = app
        .send(Method::POST, &health, "/api/v1/warnings", json!({"household_id": hid, "risk_type": "illness", "summary": "疑似重病", "occurred_on": today}))
        .await;
    let w2 = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::POST,
            &chengguan,
            &format!("/api/v1/warnings/{w2}/verify"),
            json!({"found_true": false, "note": "已康复，无需帮扶"}),
        )
        .await;
    let d = json(res).await;
    assert_eq!(d["status"], "dismissed");
    assert_eq!(d["close_reason"], "已康复，无需帮扶");
    assert!(d["event_id"].is_null());
    // An unrelated department sees neither.
    app.user("edu", Role::Department, vec![1]).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    assert_eq!(
        app.get(&edu, &format!("/api/v1/warnings/{wid}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(json(app.get(&edu, "/api/v1/warnings").await)
        .await
        .as_array()
        .expect("a")
        .is_empty());
}

/// Reads server-sent events from a streaming response until `want` is seen or time runs out.
async fn read_until(res: &mut reqwest::Response, want: &str, within: Duration) -> Option<String> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(bytes))) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if seen.contains(want) {
                    return Some(seen);
                }
            }
            _ => return None,
        }
    }
}

#[tokio::test]
async fn warnings_reach_open_event_streams_of_their_units_and_the_group_robots() {
    // A local stand-in for the WeCom and DingTalk robots, recording what they receive.
    let robot = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let robot_addr = robot.local_addr().expect("addr");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = robot.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = Vec::new();
                let mut chunk = [0_u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            let _ =
                                tx.send(format!("{}\n{}", head.lines().next().unwrap_or(""), body));
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
                            return;
                        }
                    }
                }
            });
        }
    });
    std::env::set_var("LIANDONG_TEST_ROBOT", format!("http://{robot_addr}"));
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| {
            let base = std::env::var("LIANDONG_TEST_ROBOT").expect("robot");
            s.wecom_webhook = Some(format!("{base}/cgi-bin/webhook/send?key=test"));
            s.dingtalk_webhook = Some(format!("{base}/robot/send?access_token=test"));
        },
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    imported(&app, &admin).await;
    let towns = json(app.get(&admin, "/api/v1/townships").await).await;
    let town = |name: &str| {
        towns
            .as_array()
            .expect("a")
            .iter()
            .find(|t| t["name"] == name)
            .expect("town")["id"]
            .as_i64()
            .expect("id")
    };
    app.user("chengguan", Role::Township, vec![town("城关镇")])
        .await;
    app.user("liushan", Role::Township, vec![town("留山镇")])
        .await;
    app.user("emergency", Role::Department, vec![26]).await;
    let open = |user: &'static str| {
        let app = &app;
        async move {
            let token = app.token(user, GOOD_PASSWORD).await;
            let res = app.get(&token, "/api/v1/warnings/stream").await;
            assert_eq!(res.status(), StatusCode::OK);
            assert!(res.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/event-stream"));
            res
        }
    };
    let mut mine = open("chengguan").await;
    let mut other = open("liushan").await;
    // Give the streams a moment to subscribe before the push.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let emergency = app.token("emergency", GOOD_PASSWORD).await;
    let hid = household_id(&app, &admin, "H001").await;
    let today = liandong_domain::deadline::county_date(chrono::Utc::now()).to_string();
    let res = app
        .send(Method::POST, &emergency, "/api/v1/warnings", json!({"household_id": hid, "risk_type": "disaster", "summary": "暴雨致房屋受损", "occurred_on": today}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let wid = json(res).await["id"].as_i64().expect("id");
    let got = read_until(&mut mine, &format!("\"id\":{wid}"), Duration::from_secs(5))
        .await
        .expect("the township's stream receives it");
    assert!(
        got.contains("event: warning") && got.contains("因灾预警"),
        "{got}"
    );
    assert!(
        read_until(&mut other, "event: warning", Duration::from_millis(500))
            .await
            .is_none(),
        "another township's stream does not"
    );
    let mut posts = Vec::new();
    for _ in 0..2 {
        let p = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("robot called")
            .expect("post");
        posts.push(p);
    }
    posts.sort();
    assert!(
        posts[0].starts_with("POST /cgi-bin/webhook/send?key=test"),
        "{posts:?}"
    );
    assert!(
        posts[1].starts_with("POST /robot/send?access_token=test"),
        "{posts:?}"
    );
    for p in &posts {
        let body: Value = serde_json::from_str(p.split_once('\n').expect("body").1).expect("json");
        assert_eq!(body["msgtype"], "text");
        assert!(body["text"]["content"]
            .as_str()
            .expect("content")
            .contains("暴雨致房屋受损"));
    }
}

#[tokio::test]
async fn policies_are_posted_searched_in_chinese_listed_by_month_and_followed_up() {
    let app = bare().await;
    app.user("health", Role::Department, vec![HEALTH]).await;
    app.user("edu", Role::Department, vec![1]).await;
    let health = app.token("health", GOOD_PASSWORD).await;
    let edu = app.token("edu", GOOD_PASSWORD).await;
    let today = liandong_domain::deadline::county_date(chrono::Utc::now()).to_string();
    let post = |token: &String, dept: i64, title: &str, doc: &str| {
        let body = json!({"department_id": dept, "level": "province", "issuer": "河南省卫生健康委员会", "doc_no": doc,
            "issued_on": today, "title": title, "summary": "落实大病专项救治和家庭医生签约服务"});
        let app = &app;
        let token = token.clone();
        async move {
            app.send(Method::POST, &token, "/api/v1/policies", body)
                .await
        }
    };
    let res = post(
        &health,
        HEALTH,
        "关于做好农村低收入人口常态化健康帮扶工作的通知",
        "豫卫基层〔2023〕12号",
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = json(res).await["id"].as_i64().expect("id");
    let res = post(&edu, 1, "南召县控辍保学工作实施方案", "召教〔2023〕21号").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Not in another department's name.
    let res = post(&edu, HEALTH, "冒名", "x").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.send(Method::POST, &edu, "/api/v1/policies", json!({"department_id": 1, "level": "galaxy", "issuer": "x", "issued_on": today, "title": "x", "summary": "x"})).await;
    assert_eq!(json(res).await["error"]["field"], "level");

    let found = |q: &'static str| {
        let app = &app;
        let edu = edu.clone();
        async move {
            let list = json(
                app.get(&edu, &format!("/api/v1/policies?q={}", url_encode(q)))
                    .await,
            )
            .await;
            list.as_array()
                .expect("a")
                .iter()
                .map(|p| p["id"].as_i64().expect("id"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("健康帮扶").await,
        vec![id],
        "a two-character word, found without a dictionary"
    );
    assert_eq!(found("低收入 常态化").await, vec![id], "every word");
    assert_eq!(found("豫卫基层").await, vec![id], "the document number");
    assert_eq!(found("控辍保学").await.len(), 1);
    assert!(found("危房改造").await.is_empty());
    assert_eq!(found("签约服务").await.len(), 2, "both summaries");

    // The month's update list, by department.
    let page = app.get(&edu, "/policies").await.text().await.expect("html");
    assert!(
        page.contains("县卫健委")
            && page.contains("关于做好农村低收入人口常态化健康帮扶工作的通知")
    );
    // Follow-up only by the posting department or the office; the change is searchable.
    let res = app
        .send(
            Method::PUT,
            &edu,
            &format!("/api/v1/policies/{id}/follow-up"),
            json!({"follow_up": "x"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::PUT,
            &health,
            &format!("/api/v1/policies/{id}/follow-up"),
            json!({"follow_up": "已完成监测对象家庭医生签约全覆盖"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(found("全覆盖").await, vec![id]);
    // The document, readable by everyone.
    let pdf = app
        .client
        .post(app.url(&format!(
            "/api/v1/policies/{id}/attachments?name=policy.pdf"
        )))
        .bearer_auth(&health)
        .body(b"%PDF-1.4 policy".to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(pdf.status(), StatusCode::CREATED);
    let url = json(pdf).await["url"].as_str().expect("url").to_owned();
    assert_eq!(app.get(&edu, &url).await.status(), StatusCode::OK);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
