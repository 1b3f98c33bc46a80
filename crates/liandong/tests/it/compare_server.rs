//! Data comparison in the server, through the API and the pages of the demo county:
//! deliveries checked whole and refused with row and column, the feed ledger and its month
//! close proposals, runs with progress, clues raised once, routed, verified and handed off,
//! the review queue remembered by the next run, and the rule library's versions.

use std::time::Duration;

use chrono::Datelike;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn this_month() -> String {
    let today = liandong_domain::deadline::county_date(chrono::Utc::now());
    format!("{}-{:02}", today.year(), today.month())
}

async fn deliver(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/compare/feeds?{query}")))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("send")
}

/// Starts a run and waits for it; the run as the API shows it.
async fn run(app: &TestApp, office: &str) -> Value {
    run_with(app, office, json!({})).await
}

async fn run_with(app: &TestApp, office: &str, body: Value) -> Value {
    let res = app
        .send(Method::POST, office, "/api/v1/compare/runs", body)
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = json(res).await;
    let token = job["token"].as_str().expect("token").to_owned();
    for _ in 0..600 {
        let j = json(
            app.get(office, &format!("/api/v1/compare/jobs/{token}"))
                .await,
        )
        .await;
        match j["state"].as_str() {
            Some("done") => {
                let id = j["run_id"].as_i64().expect("run id");
                return json(app.get(office, &format!("/api/v1/compare/runs/{id}")).await).await;
            }
            Some("failed") => panic!("run failed: {j}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("run did not finish");
}

async fn clues(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app.get(token, &format!("/api/v1/clues?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    json(res).await
}

#[tokio::test]
async fn deliveries_are_checked_whole_recorded_once_and_refused_with_row_and_column() {
    let app = TestApp::spawn().await;
    let medinsure = app.token("dept-medinsure", DEMO_PASSWORD).await;
    let edu = app.token("dept-edu", DEMO_PASSWORD).await;
    let month = this_month();
    let before = json(app.get(&medinsure, "/api/v1/compare/feeds").await).await;
    let n = before.as_array().expect("list").len();

    let good =
        "身份证号,姓名,结算日期,总费用,个人自付\n411321197001010013,张三,2024-03-05,1200.50,300\n";
    let q = format!("kind=medical_expense&due_month={month}&file_name=march.csv");
    let res = deliver(&app, &medinsure, &q, good.into()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let d = json(res).await;
    assert_eq!(d["rows"], 1);
    assert_eq!(d["due_month"], month.as_str());
    assert_eq!(d["department"], "县医保局");
    assert_eq!(d["files"], json!(["march.csv"]));
    assert_eq!(d["duplicate"], false);
    // The file is sealed on disk: its bytes are nowhere in clear.
    let sealed = std::fs::read(
        app.dir
            .path()
            .join("feeds")
            .join(format!("{}.sealed", d["sha256"].as_str().expect("sha"))),
    )
    .expect("sealed file");
    assert!(!sealed.windows(18).any(|w| w == b"411321197001010013"));

    let again = deliver(&app, &medinsure, &q, good.into()).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again = json(again).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], d["id"]);

    let bad = "身份证号,姓名,结算日期,总费用,个人自付\n411321197001010013,张三,2024-03-05,1200,300\n411321197001010021,李四,2024-13-40,80,20\n";
    let (code, message) = error_code(
        deliver(&app, &medinsure, &q, bad.into()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    assert!(
        message.contains("march.csv 第 3 行“结算日期”列"),
        "{message}"
    );

    let missing = "身份证号,姓名,总费用\n411321197001010013,张三,1200\n";
    let (_, message) = error_code(
        deliver(&app, &medinsure, &q, missing.into()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains("缺少必需的列：结算日期、个人自付"),
        "{message}"
    );

    // Another department's data is not this one's to deliver.
    let (_, message) = error_code(
        deliver(&app, &edu, &q, good.replace("300", "301").into()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(message.contains("县医保局"), "{message}");
    // A quarterly kind has no deadline in the second month of a quarter.
    let (code, _) = error_code(
        deliver(
            &app,
            &app.token("dept-housing", DEMO_PASSWORD).await,
            "kind=unsafe_housing&due_month=2024-05",
            "身份证号,姓名,鉴定等级,鉴定日期\n411321197001010013,张三,C级,2024-03-05\n".into(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");

    // Nothing was written by the refusals.
    let after = json(app.get(&medinsure, "/api/v1/compare/feeds").await).await;
    assert_eq!(after.as_array().expect("list").len(), n + 1);
    // Refused before its body is read: a leader delivers nothing.
    let clerk = app.token("leader", DEMO_PASSWORD).await;
    let res = deliver(&app, &clerk, &q, vec![b'x'; 4 * 1024 * 1024]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Several files in one delivery, as a multipart form.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(good.replace("1200.50", "99").into_bytes())
                .file_name("一月.csv"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(good.replace("2024-03-05", "2024-04-01").into_bytes())
                .file_name("二月.csv"),
        );
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/compare/feeds?kind=medical_expense&due_month={month}"
        )))
        .bearer_auth(&medinsure)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let d = json(res).await;
    assert_eq!(d["rows"], 2);
    assert_eq!(d["files"], json!(["一月.csv", "二月.csv"]));

    // An unchanged list delivered for another month is that month's delivery.
    let next_month =
        liandong_domain::Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()))
            .next()
            .to_string();
    let res = deliver(
        &app,
        &medinsure,
        &format!("kind=medical_expense&due_month={next_month}&file_name=march.csv"),
        good.into(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(json(res).await["due_month"], next_month.as_str());
    // Nothing happened this month: an accident list with no rows is a delivery of nothing.
    let police = app.token("dept-police", DEMO_PASSWORD).await;
    let res = deliver(
        &app,
        &police,
        &format!("kind=accident_victims&due_month={month}"),
        "身份证号,姓名,事故类型,发生日期\n".into(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let d = json(res).await;
    assert_eq!(d["rows"], 0);
    assert!(d["report"].as_str().expect("report").contains("本期无数据"));
    // A list that is never empty is refused without rows.
    let (_, message) = error_code(
        deliver(
            &app,
            &medinsure,
            &format!("kind=insurance_enrollment&due_month={month}"),
            "身份证号,姓名,参保年度\n".into(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("没有数据行"), "{message}");

    // The ledger of the month shows the delivery as on time (the deadline is a later day or
    // it was delivered late, never missing).
    let ledger = json(
        app.get(&edu, &format!("/api/v1/compare/ledger?month={month}"))
            .await,
    )
    .await;
    let line = ledger
        .as_array()
        .expect("ledger")
        .iter()
        .find(|l| l["kind"] == "medical_expense")
        .expect("medical line")
        .clone();
    assert!(line["delivered_at"].is_string());
    assert_ne!(line["status"], "missing");
}

#[tokio::test]
async fn missing_feeds_are_proposed_when_the_month_closes() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    // The demo delivers nothing of 残疾人证 (monthly by the 10th): last month missed it. Before
    // the county's first delivery nothing is due.
    let today = liandong_domain::deadline::county_date(chrono::Utc::now());
    let last = liandong_domain::Month::of(today).prev();
    let res = app
        .get(&office, &format!("/api/v1/monthly/{last}/close-preview"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let proposals = json(res).await;
    let feed: Vec<&Value> = proposals
        .as_array()
        .expect("list")
        .iter()
        .filter(|p| p["fact"].as_str().is_some_and(|f| f.starts_with("feed:")))
        .collect();
    let disability = feed
        .iter()
        .find(|p| p["department"] == "县残联")
        .expect("残联's missing feed proposed");
    assert_eq!(disability["rule"], "report.missing");
    assert!(disability["note"]
        .as_str()
        .expect("note")
        .contains(&format!("比对数据“残疾人证”截至 {last}-10 23:59 未报送")));
    assert_eq!(
        disability["fact_url"],
        format!("/compare/feeds?month={last}")
    );
    let early = json(
        app.get(&office, "/api/v1/monthly/2024-02/close-preview")
            .await,
    )
    .await;
    assert!(!early.to_string().contains("feed:"), "{early}");
    let ledger = json(
        app.get(&office, "/api/v1/compare/ledger?month=2024-02")
            .await,
    )
    .await;
    assert!(!ledger.to_string().contains("\"missing\""), "{ledger}");
}

#[tokio::test]
async fn runs_raise_each_clue_once_route_it_and_count_each_rules_precision() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let all = clues(&app, &office, "").await;
    let total = all["total"].as_i64().expect("total");
    assert!(total > 20, "the demo run raised clues: {total}");
    // Every clue carries its evidence and masked people.
    for c in all["items"].as_array().expect("items") {
        assert!(!c["evidence"].as_str().expect("evidence").is_empty());
        for s in c["subjects"].as_array().expect("subjects") {
            assert!(s["id_number"].as_str().expect("id").contains("**********"));
        }
    }

    // The same data again: nothing new, everything counted as already open.
    let second = run(&app, &office).await;
    assert_eq!(second["clues"], 0, "{}", second["summary"]);
    assert!(second["summary"]
        .as_str()
        .expect("summary")
        .contains("近期已核实，不重复推送"));
    assert_eq!(clues(&app, &office, "").await["total"], total);

    // A township sees its own; a department what is routed to it.
    let towns = json(app.get(&office, "/api/v1/townships").await).await;
    let town = towns
        .as_array()
        .expect("townships")
        .iter()
        .find(|t| t["name"] == "城关镇")
        .expect("城关镇")
        .clone();
    let town_token = app
        .token(
            &format!("town-{}", town["code"].as_str().expect("code")),
            DEMO_PASSWORD,
        )
        .await;
    let mine = clues(&app, &town_token, "status=open").await;
    let mine_items = mine["items"].as_array().expect("items").clone();
    assert!(!mine_items.is_empty());
    assert!(mine["total"].as_i64().expect("n") < total);
    assert!(mine_items.iter().all(|c| c["township"] == "城关镇"));
    // People outside the roster: a clue goes to the township its address names, and one
    // with no address stays with the office.
    let new = clues(&app, &office, "rule=medical_oop_new").await;
    let places: Vec<&Value> = new["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| &c["township"])
        .collect();
    assert_eq!(places.len(), 3, "{new}");
    assert_eq!(places.iter().filter(|t| t.is_null()).count(), 1, "{new}");
    assert!(places.contains(&&json!("城关镇")), "{new}");
    let ours = clues(&app, &town_token, "rule=medical_oop_new").await;
    assert_eq!(ours["total"], 1, "{ours}");
    assert!(ours["items"][0]["evidence"]
        .as_str()
        .expect("evidence")
        .contains("按住址归属城关镇"));

    // The office places the one without an address once its township is known.
    let unplaced = new["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["township"].is_null())
        .expect("unplaced")
        .clone();
    let place = |token: String, body: Value| {
        let app = &app;
        let id = unplaced["id"].clone();
        async move {
            app.send(
                Method::POST,
                &token,
                &format!("/api/v1/clues/{id}/township"),
                body,
            )
            .await
        }
    };
    let res = place(town_token.clone(), json!({"township_id": town["id"]})).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a township does not place clues"
    );
    let res = place(office.clone(), json!({"township_id": 999_999})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(res).await;
    assert_eq!(body["error"]["field"], "township_id", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("999999"));
    assert_eq!(
        clues(&app, &town_token, "rule=medical_oop_new").await["total"],
        1,
        "a refused request changes nothing"
    );
    let admin = app.admin().await;
    let retired = towns
        .as_array()
        .expect("townships")
        .iter()
        .find(|t| t["name"] == "城郊乡")
        .expect("城郊乡")
        .clone();
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/townships/{}", retired["id"]),
            json!({"name": "城郊乡", "active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = place(office.clone(), json!({"township_id": retired["id"]})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(res).await["error"]["message"]
        .as_str()
        .expect("message")
        .contains("城郊乡已停用"));
    let placed = json(place(office.clone(), json!({"township_id": town["id"]})).await).await;
    assert_eq!(placed["township"], "城关镇", "{placed}");
    assert_eq!(
        clues(&app, &town_token, "rule=medical_oop_new").await["total"],
        2
    );
    let household_clue = mine_items
        .iter()
        .find(|c| !c["household_id"].is_null())
        .expect("a household clue");
    let res = app
        .send(
            Method::POST,
            &office,
            &format!("/api/v1/clues/{}/township", household_clue["id"]),
            json!({"township_id": town["id"]}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a roster household's clue keeps its household's township"
    );
    // The township can now hand it off as a warning about someone in its township.
    let res = app
        .send(
            Method::POST,
            &town_token,
            &format!("/api/v1/clues/{}/warning", unplaced["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(json(res).await["township"], "城关镇");
    let res = place(office.clone(), json!({"township_id": town["id"]})).await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a clue handed off stays where it went"
    );
    let ops = json(app.get(&admin, "/api/v1/audit?action=clue.township").await).await;
    assert!(
        ops.to_string()
            .contains(&format!("risk_clue:{}", unplaced["id"])),
        "{ops}"
    );

    let edu = app.token("dept-edu", DEMO_PASSWORD).await;
    let routed = clues(&app, &edu, "").await;
    assert!(routed["total"].as_i64().expect("n") >= 2, "{routed}");
    assert!(routed["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|c| c["departments"].as_str().expect("d").contains("县教育局")));
    let others = clues(&app, &office, "status=open").await;
    let foreign = others["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["township"] != "城关镇" && !c["township"].is_null())
        .expect("a clue elsewhere")
        .clone();
    let res = app
        .get(&town_token, &format!("/api/v1/clues/{}", foreign["id"]))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The township verifies one of its clues; once.
    let risky = mine_items
        .iter()
        .find(|c| c["finding"] != "eligibility_doubt")
        .expect("a risk clue")
        .clone();
    let id = risky["id"].as_i64().expect("id");
    let path = format!("/api/v1/clues/{id}/outcome");
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &town_token,
            &path,
            json!({"result": "confirmed", "note": " "}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    let res = app
        .send(
            Method::POST,
            &town_token,
            &path,
            json!({"result": "confirmed", "note": "入户核实属实"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await["status"], "confirmed");
    let res = app
        .send(
            Method::POST,
            &town_token,
            &path,
            json!({"result": "dismissed", "note": "再核"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let rules = json(app.get(&office, "/api/v1/compare/rules").await).await;
    let tally = rules["tallies"]
        .as_array()
        .expect("tallies")
        .iter()
        .find(|t| t["rule"] == risky["rule"])
        .expect("tally")
        .clone();
    assert!(tally["confirmed"].as_i64().expect("n") >= 1);
    let p = tally["precision"].as_f64().expect("precision");
    let expected = tally["confirmed"].as_f64().expect("c")
        / (tally["confirmed"].as_f64().expect("c") + tally["dismissed"].as_f64().expect("d"));
    assert!((p - expected).abs() < 1e-9);

    // Handed off as a warning, once; a doubt about eligibility is not a risk to warn of.
    let res = app
        .send(
            Method::POST,
            &town_token,
            &format!("/api/v1/clues/{id}/warning"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let w = json(res).await;
    assert_eq!(w["township"], "城关镇");
    assert!(w["summary"]
        .as_str()
        .expect("summary")
        .contains(&format!("比对线索第 {id} 号")));
    let res = app
        .send(
            Method::POST,
            &town_token,
            &format!("/api/v1/clues/{id}/warning"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        json(app.get(&office, &format!("/api/v1/clues/{id}")).await).await["warning_id"],
        w["id"]
    );
    let doubt = clues(&app, &office, "rule=vehicle_owner").await["items"][0].clone();
    let res = app
        .send(
            Method::POST,
            &office,
            &format!("/api/v1/clues/{}/warning", doubt["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // A clue found untrue is not handed off.
    let other = mine_items
        .iter()
        .find(|c| c["finding"] != "eligibility_doubt" && c["id"] != risky["id"])
        .expect("another risk clue")
        .clone();
    let res = app
        .send(
            Method::POST,
            &town_token,
            &format!("/api/v1/clues/{}/outcome", other["id"]),
            json!({"result": "dismissed", "note": "已由其他渠道解决"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .send(
            Method::POST,
            &town_token,
            &format!("/api/v1/clues/{}/warning", other["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // The export is masked; full numbers need a POST with a reason, which is logged with the
    // filter and the number of people. A reason on a GET changes nothing.
    let res = app
        .get(
            &office,
            "/api/v1/clues/export.xlsx?status=open&township_id=&reason=x",
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cells = xlsx_cells(&res.bytes().await.expect("bytes"));
    assert!(cells.iter().any(|c| c.contains("**********")));
    assert!(!cells
        .iter()
        .any(|c| c.len() == 18 && c.starts_with("411321")));
    let res = app
        .send(
            Method::POST,
            &office,
            "/api/v1/clues/export.xlsx",
            json!({"status": "open", "reason": "入户核实"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cells = xlsx_cells(&res.bytes().await.expect("bytes"));
    assert!(cells
        .iter()
        .any(|c| c.len() == 18 && c.starts_with("411321")));
    let admin = app.admin().await;
    let log = json(
        app.get(&admin, "/api/v1/audit?action=clue.export_unmasked")
            .await,
    )
    .await;
    let log = log.to_string();
    assert!(log.contains("入户核实") && log.contains("people"), "{log}");
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &edu,
            "/api/v1/clues/export.xlsx",
            json!({"reason": "x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(code, "forbidden");
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &office,
            "/api/v1/clues/export.xlsx",
            json!({"reason": " "}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");

    // A run's own clues.
    let of_second = clues(&app, &office, &format!("run_id={}", second["id"])).await;
    assert_eq!(of_second["total"], 0);
    assert_eq!(clues(&app, &office, "run_id=1").await["total"], total);
}

fn fuzzy_taken(run: &Value) -> u64 {
    let summary = run["summary"].as_str().expect("summary");
    let at = summary.find("模糊匹配采用 ").expect("fuzzy line") + "模糊匹配采用 ".len();
    summary[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("count")
}

#[tokio::test]
async fn a_confirmed_match_is_remembered_by_the_next_run() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let pending = json(app.get(&office, "/api/v1/match-reviews").await).await;
    let items = pending.as_array().expect("list").clone();
    // `4.11321E+17` is the same text for anyone of the region: each such row is its own
    // question. A mistyped number keeps enough to be asked once.
    let weak: Vec<&Value> = items
        .iter()
        .filter(|i| i["raw_id"].as_str().expect("raw").contains("E+"))
        .collect();
    assert_eq!(weak.len(), 3, "{pending}");
    // No number at all, but an address naming the village: the namesake there is asked
    // about, not taken.
    let blank: Vec<&Value> = items.iter().filter(|i| i["raw_id"] == "").collect();
    assert_eq!(blank.len(), 1, "{pending}");
    let offered = blank[0]["candidates"].as_array().expect("candidates");
    assert_eq!(offered.len(), 1, "{pending}");
    assert_eq!(offered[0]["name"], blank[0]["name"]);
    assert!(offered[0]["confidence"].as_f64().expect("confidence") < 0.99);
    let item = items
        .iter()
        .find(|i| {
            let raw = i["raw_id"].as_str().expect("raw");
            raw.len() == 18 && raw.contains('*')
        })
        .expect("a mistyped number to confirm")
        .clone();
    assert!(item["raw_id"].as_str().expect("raw").contains('*'));
    let candidates = item["candidates"].as_array().expect("candidates");
    assert!(!candidates.is_empty());
    let path = format!("/api/v1/match-reviews/{}/decision", item["id"]);
    let (code, _) = error_code(
        app.send(Method::POST, &office, &path, json!({"person_id": 999_999}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    let medinsure = app.token("dept-medinsure", DEMO_PASSWORD).await;
    let res = app
        .send(
            Method::POST,
            &medinsure,
            &path,
            json!({"person_id": candidates[0]["person_id"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            &office,
            &path,
            json!({"person_id": candidates[0]["person_id"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await["status"], "confirmed");
    let res = app
        .send(Method::POST, &office, &path, json!({"person_id": null}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let first = json(app.get(&office, "/api/v1/compare/runs/1").await).await;
    let next = run(&app, &office).await;
    assert_eq!(next["reviews"], 0, "{}", next["summary"]);
    assert_eq!(
        fuzzy_taken(&next),
        fuzzy_taken(&first) + 1,
        "{}",
        next["summary"]
    );
    let left = json(app.get(&office, "/api/v1/match-reviews").await).await;
    let left = left.as_array().expect("list");
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|i| {
        let raw = i["raw_id"].as_str().expect("raw");
        raw.contains("E+") || raw.is_empty()
    }));
}

#[tokio::test]
async fn rule_libraries_are_checked_versioned_and_used_by_the_next_run() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let current = json(app.get(&office, "/api/v1/compare/rules").await).await;
    assert_eq!(current["in_use"], "内置默认规则");
    let mut rules = current["rules"].clone();
    let year = liandong_domain::deadline::county_date(chrono::Utc::now()).year();
    rules["policy_year"] = json!(year);
    let list = rules["rules"].as_array_mut().expect("rules");
    let medical = list
        .iter_mut()
        .find(|r| r["code"] == "medical_oop_monitored")
        .expect("rule");
    medical["aggregate"]["at_least"] = json!(1000);

    let mut broken = rules.clone();
    broken["rules"][0]["filters"] = json!([{"op": "within_days", "field": "nonsense", "days": 10}]);
    let (code, message) = error_code(
        app.send(
            Method::POST,
            &office,
            "/api/v1/compare/rules",
            json!({"rules": broken}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    assert!(message.contains("nonsense"), "{message}");
    let dept = app.token("dept-medinsure", DEMO_PASSWORD).await;
    let res = app
        .send(
            Method::POST,
            &dept,
            "/api/v1/compare/rules",
            json!({"rules": rules}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let save = |rules: &Value, note: &str| {
        app.send(
            Method::POST,
            &office,
            "/api/v1/compare/rules",
            json!({"rules": rules, "note": note}),
        )
    };
    let res = save(&rules, "门槛降至 1000 元").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let saved = json(res).await;
    assert_eq!(saved["in_use"], format!("{year} 年第 1 版"));
    assert_eq!(saved["versions"][0]["note"], "门槛降至 1000 元");

    let before = clues(&app, &office, "rule=medical_oop_monitored").await["total"]
        .as_i64()
        .expect("n");
    let next = run(&app, &office).await;
    assert_eq!(next["ruleset"], format!("{year} 年第 1 版"));
    let after = clues(&app, &office, "rule=medical_oop_monitored").await["total"]
        .as_i64()
        .expect("n");
    assert!(
        after > before,
        "a lower threshold finds more: {before} -> {after}"
    );

    // A library saved for last year is the one a run as of a day of last year uses; a run as
    // of today keeps this year's.
    let mut last_year = rules.clone();
    last_year["policy_year"] = json!(year - 1);
    assert_eq!(
        save(&last_year, "上年规则").await.status(),
        StatusCode::CREATED
    );
    let past = run_with(
        &app,
        &office,
        json!({"as_of": format!("{}-12-31", year - 1)}),
    )
    .await;
    assert_eq!(past["ruleset"], format!("{} 年第 1 版", year - 1));
    assert_eq!(
        run(&app, &office).await["ruleset"],
        format!("{year} 年第 1 版")
    );
}

#[tokio::test]
async fn the_workbench_pages_show_the_county_and_take_uploads() {
    let app = TestApp::spawn().await;
    let office = form_sign_in(&app, "office", DEMO_PASSWORD).await;
    for (page, selector) in [
        ("/compare", "tr.run"),
        ("/compare/feeds", "tr.ledger-line"),
        ("/compare/clues", "tr.clue"),
        ("/compare/reviews", "div.review"),
        ("/compare/rules", "tr.rule"),
        ("/compare/runs/1", "#run-feeds tr"),
    ] {
        let res = office.get(app.url(page)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let html = res.text().await.expect("html");
        assert!(select_count(&html, selector) > 0, "{page} shows {selector}");
    }
    let html = office
        .get(app.url("/compare/clues/1"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(select_count(&html, "#clue-evidence") == 1);
    let token = app.token("office", DEMO_PASSWORD).await;
    let listed = json(app.get(&token, "/api/v1/match-reviews?status=all").await).await;
    let html = office
        .get(app.url("/compare/reviews?status=all"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let n = listed.as_array().expect("list").len();
    assert!(n > 0);
    assert_eq!(
        select_texts(&html, "#review-total"),
        [format!("共 {n} 条。")]
    );
    assert_eq!(select_count(&html, "div.review"), n.min(50));
    // The row with no ID number says so rather than leaving a gap.
    assert!(html.contains("身份证号 （空）"), "{html}");
    let html = office
        .get(app.url("/compare/clues/1"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert_eq!(
        select_count(&html, "#township-form"),
        0,
        "a roster household's clue is not placed by hand"
    );

    // The office places a clue about someone outside the roster from its page.
    let unplaced = clues(&app, &token, "rule=medical_oop_new").await["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["township"].is_null())
        .expect("unplaced")["id"]
        .clone();
    let page = format!("/compare/clues/{unplaced}");
    let html = office
        .get(app.url(&page))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let options = select_texts(&html, "#t-town option");
    assert!(options.contains(&"城关镇".to_owned()), "{options:?}");
    let town_id = {
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("#t-town option").expect("selector");
        doc.select(&sel)
            .find(|o| o.text().collect::<String>() == "石门乡")
            .and_then(|o| o.value().attr("value"))
            .expect("石门乡")
            .to_owned()
    };
    let csrf = csrf_of(&office, &app, &page).await;
    let res = office
        .post(app.url(&format!("{page}/township")))
        .form(&[("_csrf", csrf.as_str()), ("township_id", town_id.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = office
        .get(app.url(res.headers()["location"].to_str().expect("loc")))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(html.contains("已指派乡镇，由该乡镇核实。"), "{html}");
    assert!(html.contains("<b>乡镇：</b>石门乡"));
    assert_eq!(
        select_count(&html, "#township-form"),
        1,
        "still open: it may be moved"
    );

    // A department uploads through the form: checked, then listed.
    let dept = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    let csrf = csrf_of(&dept, &app, "/compare/feeds").await;
    let html = dept
        .get(app.url("/compare/feeds"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert_eq!(select_texts(&html, "#f-kind option"), ["学生学籍"]);
    let form = reqwest::multipart::Form::new()
        .text("kind", "school_enrollment")
        .text("due_month", "2024-09")
        .part(
            "file",
            reqwest::multipart::Part::bytes(
                "身份证号,姓名,学校,学籍状态\n411321201501010012,王小,城关小学,在读\n"
                    .as_bytes()
                    .to_vec(),
            )
            .file_name("学籍.csv"),
        );
    let res = dept
        .post(app.url(&format!("/compare/feeds?_csrf={csrf}")))
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().expect("loc").to_owned();
    assert!(to.starts_with("/compare/feeds?month=2024-09"), "{to}");
    let html = dept
        .get(app.url(&to))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(html.contains("数据已报送，检查通过。"));
    let line = select_texts(&html, "tr.ledger-line[data-kind=school_enrollment] td");
    assert!(line.iter().any(|c| c == "dept-edu"), "{line:?}");

    // The office starts a run from the page and lands on the progress page.
    let csrf = csrf_of(&office, &app, "/compare").await;
    let res = office
        .post(app.url("/compare/runs"))
        .form(&[("_csrf", csrf.as_str()), ("as_of", "")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().expect("loc").to_owned();
    assert!(to.starts_with("/compare/jobs/"), "{to}");
    let mut landed = String::new();
    for _ in 0..200 {
        let res = office.get(app.url(&to)).send().await.expect("get");
        if res.status() == StatusCode::SEE_OTHER {
            landed = res.headers()["location"].to_str().expect("loc").to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(landed.starts_with("/compare/runs/"), "{landed}");
}

#[tokio::test]
async fn dashboards_remind_townships_of_clues_and_departments_of_feeds() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let open =
        clues(&app, &office, "status=open&rule=medical_oop_monitored").await["items"][0].clone();
    let town_id = open["township_id"].as_i64().expect("township");
    let towns = json(app.get(&office, "/api/v1/townships").await).await;
    let code = towns
        .as_array()
        .expect("townships")
        .iter()
        .find(|t| t["id"] == town_id)
        .expect("its township")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let town = app.token(&format!("town-{code}"), DEMO_PASSWORD).await;
    let reminders = json(app.get(&town, "/api/v1/reminders").await).await;
    let href = format!("/compare/clues/{}", open["id"]);
    let r = reminders
        .as_array()
        .expect("reminders")
        .iter()
        .find(|r| r["url"] == href.as_str())
        .unwrap_or_else(|| panic!("a reminder to verify {href}: {reminders}"))
        .clone();
    assert!(r["what"]
        .as_str()
        .expect("what")
        .starts_with("核实比对线索第"));
    // Verified, it leaves the dashboard.
    let res = app
        .send(
            Method::POST,
            &town,
            &format!("/api/v1/clues/{}/outcome", open["id"]),
            json!({"result": "dismissed", "note": "已由其他渠道解决"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let reminders = json(app.get(&town, "/api/v1/reminders").await).await;
    assert!(!reminders.to_string().contains(&href));
    // 县残联 has delivered nothing: this month's deadline is on its dashboard.
    let disabled = app.token("dept-disabled", DEMO_PASSWORD).await;
    let reminders = json(app.get(&disabled, "/api/v1/reminders").await).await;
    assert!(
        reminders.to_string().contains("报送比对数据“残疾人证”"),
        "{reminders}"
    );
}

#[tokio::test]
async fn a_delivery_report_names_the_rows_whose_id_cannot_be_used() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let feeds = json(
        app.get(&office, "/api/v1/compare/feeds?kind=medical_expense")
            .await,
    )
    .await;
    let report = feeds[0]["report"].as_str().expect("report");
    assert!(report.contains("身份证号无法使用的行："), "{report}");
    assert!(report.contains("行（被表格软件转成数字）"), "{report}");
    assert!(
        !report.contains("E+17"),
        "the cells themselves are not repeated"
    );
    let browser = form_sign_in(&app, "office", DEMO_PASSWORD).await;
    let html = browser
        .get(app.url("/compare/feeds"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(
        select_texts(&html, "tr.delivery td.small")
            .iter()
            .any(|t| t.contains("身份证号无法使用的行：")),
        "the feeds page shows where they are"
    );
}

/// The workbench's forms as a browser posts them: a review decided, the rule library saved
/// (a broken one refused with nothing saved), the clues exported masked and, with a reason,
/// unmasked.
#[tokio::test]
async fn the_workbench_forms_decide_save_and_export() {
    let app = TestApp::spawn().await;
    let token = app.token("office", DEMO_PASSWORD).await;
    let office = form_sign_in(&app, "office", DEMO_PASSWORD).await;

    let pending = json(app.get(&token, "/api/v1/match-reviews").await).await;
    let id = pending[0]["id"].as_i64().expect("a pending review");
    let csrf = csrf_of(&office, &app, "/compare/reviews").await;
    let res = office
        .post(app.url(&format!("/compare/reviews/{id}/decision")))
        .form(&[("_csrf", csrf.as_str()), ("person_id", "none")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let rejected = json(
        app.get(&token, "/api/v1/match-reviews?status=rejected")
            .await,
    )
    .await;
    let decided = rejected
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["id"].as_i64() == Some(id))
        .expect("decided through the form");
    assert_eq!(decided["decided_by"], "office");

    let rules = json(app.get(&token, "/api/v1/compare/rules").await).await;
    let versions = rules["versions"].as_array().expect("versions").len();
    let mut library = rules["rules"].clone();
    let first = library["rules"]
        .as_array_mut()
        .expect("rules")
        .iter_mut()
        .find(|r| r["code"] == "medical_oop_monitored")
        .expect("rule");
    first["aggregate"]["at_least"] = json!(4000);
    let csrf = csrf_of(&office, &app, "/compare/rules").await;
    let post = |text: String| {
        office
            .post(app.url("/compare/rules"))
            .form(&[
                ("_csrf", csrf.clone()),
                ("rules", text),
                ("note", "自付门槛调为 4,000 元".to_owned()),
            ])
            .send()
    };
    let res = post("{\"policy_year\": 2024, \"rules\": [".to_owned())
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = json(app.get(&token, "/api/v1/compare/rules").await).await;
    assert_eq!(after["versions"].as_array().expect("v").len(), versions);
    let res = post(library.to_string()).await.expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after = json(app.get(&token, "/api/v1/compare/rules").await).await;
    let listed = after["versions"].as_array().expect("v");
    assert_eq!(listed.len(), versions + 1);
    assert!(listed.iter().any(|v| v["note"] == "自付门槛调为 4,000 元"));

    let res = office
        .get(app.url("/compare/clues/export.xlsx?rule=medical_oop_monitored"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    let cells = xlsx_cells(&res.bytes().await.expect("bytes"));
    assert!(cells.iter().any(|c| c.contains("**********")), "masked");
    let full_id = |cells: &[String]| {
        cells
            .iter()
            .any(|c| liandong_domain::IdNumber::parse(c).is_ok())
    };
    assert!(!full_id(&cells));
    let csrf = csrf_of(&office, &app, "/compare/clues").await;
    let unmasked = |reason: &'static str| {
        office
            .post(app.url("/compare/clues/export.xlsx"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("rule", "medical_oop_monitored"),
                ("reason", reason),
            ])
            .send()
    };
    let res = unmasked("").await.expect("post");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = unmasked("入户核实需要完整号码").await.expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(full_id(&xlsx_cells(&res.bytes().await.expect("bytes"))));
}

/// `liandong deliver`, as a department's script runs it against the server: delivered and
/// listed, the same files again changing nothing, a bad file refused with its place named and
/// nothing written, and no token no delivery.
#[tokio::test]
async fn a_script_delivers_with_the_deliver_command() {
    let app = TestApp::spawn().await;
    let token = app.token("dept-medinsure", DEMO_PASSWORD).await;
    let dir = tempfile::tempdir().expect("dir");
    let birth = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
    let a = liandong_domain::IdNumber::from_parts("411321", birth, 11).expect("id");
    let header = "身份证号,姓名,结算日期,总费用,个人自付\n";
    let good = dir.path().join("claims-2024-10.csv");
    std::fs::write(
        &good,
        format!("{header}{},张大,2024-10-01,900,600\n", a.expose()),
    )
    .expect("write");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{header}{},张大,2024-10-01,九百,600\n", a.expose()),
    )
    .expect("write");
    let count = |v: &Value| v.as_array().expect("list").len();
    let listed = || async {
        json(
            app.get(&token, "/api/v1/compare/feeds?kind=medical_expense")
                .await,
        )
        .await
    };
    let before = count(&listed().await);
    let deliver = |file: &std::path::Path, token: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_liandong"));
        cmd.args([
            "deliver",
            "--server",
            &app.url("/"),
            "--kind",
            "medical_expense",
        ])
        .args(["--due-month", "2024-10"])
        .arg(file)
        .env_remove("LIANDONG_TOKEN");
        if let Some(t) = token {
            cmd.env("LIANDONG_TOKEN", t);
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
    };
    let out = deliver(&good, Some(token.as_str())).await.expect("join");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("已报送：医疗费用结算，1 行，计入 2024-10 的报送"),
        "{stdout}"
    );
    assert!(stdout.contains("读取 1 行"), "{stdout}");
    let after = listed().await;
    assert_eq!(count(&after), before + 1);
    assert!(after
        .as_array()
        .expect("list")
        .iter()
        .any(|d| d["files"][0] == "claims-2024-10.csv" && d["due_month"] == "2024-10"));

    let out = deliver(&good, Some(token.as_str())).await.expect("join");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("此前已报送"));

    let out = deliver(&bad, Some(token.as_str())).await.expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.csv") && stderr.contains("第 2 行") && stderr.contains("总费用"),
        "{stderr}"
    );
    let out = deliver(&bad, None).await.expect("join");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIANDONG_TOKEN"));
    assert_eq!(count(&listed().await), before + 1, "refusals write nothing");
}
