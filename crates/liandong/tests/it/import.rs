//! Importing score events from Excel: template, all-or-nothing, errors by row and column,
//! re-uploads that change nothing.

use calamine::Reader;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn workbook(rows: &[&[&str]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32, c as u16, *v).expect("write");
        }
    }
    wb.save_to_buffer().expect("save")
}

const HEADER: &[&str] = &[
    "序号",
    "单位",
    "月份",
    "评分细则",
    "级别",
    "次数",
    "发生日期",
    "文号",
    "说明",
];

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/score-events/import"))
        .bearer_auth(token)
        .header("content-type", XLSX)
        .body(bytes)
        .send()
        .await
        .expect("upload")
}

async fn event_count(app: &TestApp, token: &str) -> usize {
    json(app.get(token, "/api/v1/score-events?period=2023").await)
        .await
        .as_array()
        .expect("array")
        .len()
}

#[tokio::test]
async fn a_file_with_errors_imports_nothing_and_names_each_row_and_column() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let bad = workbook(&[
        HEADER,
        &[
            "1",
            "县教育局",
            "2023-04",
            "meeting.absent",
            "",
            "1",
            "2023-04-25",
            "",
            "缺席",
        ],
        &[
            "2",
            "县教育厅",
            "2023-04",
            "meeting.absent",
            "",
            "1",
            "",
            "",
            "",
        ],
        &[
            "3",
            "县卫健委",
            "2023-13",
            "report.late",
            "",
            "1",
            "",
            "",
            "",
        ],
        &["4", "县卫健委", "2023-05", "通报表扬", "", "1", "", "", ""],
        &[
            "5",
            "县卫健委",
            "2023-05",
            "被点名通报表扬（彰）",
            "",
            "1",
            "",
            "",
            "",
        ],
        &[
            "6",
            "县纪委监委",
            "2023-05",
            "selfcheck.township_unscored",
            "",
            "1",
            "",
            "",
            "",
        ],
        &[
            "7",
            "县卫健委",
            "2023-05",
            "report.late",
            "",
            "0",
            "2023-06-01",
            "",
            "",
        ],
    ]);
    let res = upload(&app, &admin, bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(res).await;
    assert_eq!(body["error"]["code"], "import_rejected");
    let details: Vec<String> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d.as_str().unwrap_or("").to_owned())
        .collect();
    for expected in [
        "第 3 行“单位”列",
        "第 4 行“月份”列",
        "第 5 行“评分细则”列",
        "第 6 行“级别”列",
        "第 7 行“评分细则”列：规则“selfcheck.township_unscored”只适用于紧密型部门",
        "第 8 行“次数”列",
        "第 8 行“发生日期”列",
    ] {
        assert!(
            details.iter().any(|d| d.starts_with(expected)),
            "{expected} not in {details:#?}"
        );
    }
    assert_eq!(details.len(), 7);
    assert_eq!(
        event_count(&app, &admin).await,
        0,
        "the valid first row was not imported either"
    );
}

#[tokio::test]
async fn a_good_file_imports_whole_and_again_changes_nothing() {
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    let good = workbook(&[
        HEADER,
        &[
            "1",
            "县教育局",
            "2023-04",
            "meeting.absent",
            "",
            "2",
            "2023-04-25",
            "",
            "缺席两次",
        ],
        &[
            "2",
            "县卫健委",
            "2023-05",
            "被点名通报表扬（彰）",
            "市级",
            "1",
            "",
            "宛巩固专班〔2023〕3号",
            "",
        ],
        &["", "", "", "", "", "", "", "", ""],
        &[
            "3",
            "县公安局",
            "2023-06",
            "warning.verified",
            "",
            "1",
            "",
            "",
            "交通事故预警属实",
        ],
    ]);
    let res = upload(&app, &admin, good.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(json(res).await, json!({"imported": 3, "duplicate": false}));
    let events = json(app.get(&admin, "/api/v1/score-events?period=2023").await).await;
    let points: Vec<f64> = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["points"].as_f64().expect("points"))
        .collect();
    assert_eq!(points, [-4.0, 2.0, 2.0]);
    let res = upload(&app, &admin, good).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await, json!({"imported": 0, "duplicate": true}));
    assert_eq!(event_count(&app, &admin).await, 3);
    // Not a spreadsheet, or missing columns: refused, named.
    let (code, msg) = error_code(
        upload(&app, &admin, b"hello".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    assert!(msg.contains(".xlsx"), "{msg}");
    let (_, msg) = error_code(
        upload(
            &app,
            &admin,
            workbook(&[&["单位", "月份"], &["县教育局", "2023-04"]]),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(msg.contains("评分细则") && msg.contains("次数"), "{msg}");
    // Only the office imports.
    app.user("edu-staff", liandong_domain::Role::Department, vec![1])
        .await;
    let edu = app.token("edu-staff", GOOD_PASSWORD).await;
    assert_eq!(
        upload(&app, &edu, workbook(&[HEADER])).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_locked_quarter_refuses_the_whole_import() {
    let app = TestApp::with(Options {
        demo: false,
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    let admin = app.admin().await;
    app.user("leader1", liandong_domain::Role::Leader, vec![])
        .await;
    let leader = app.token("leader1", GOOD_PASSWORD).await;
    crate::scoring::evaluate_all(&app, &admin, "2023-Q2").await;
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
    let file = workbook(&[
        HEADER,
        &[
            "1",
            "县教育局",
            "2023-07",
            "report.late",
            "",
            "1",
            "",
            "",
            "",
        ],
        &[
            "2",
            "县教育局",
            "2023-05",
            "report.late",
            "",
            "1",
            "",
            "",
            "",
        ],
    ]);
    let (code, _) = error_code(upload(&app, &admin, file).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "period_locked");
    assert_eq!(event_count(&app, &admin).await, 0);
}

#[tokio::test]
async fn the_page_offers_the_template_and_the_file_back_with_its_errors() {
    let app = TestApp::spawn().await;
    let office = form_sign_in(&app, "office", DEMO_PASSWORD).await;
    let template = office
        .get(app.url("/scoring/events/template.xlsx"))
        .send()
        .await
        .expect("r")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(template)).expect("template");
    let sheet = book.worksheet_range_at(0).expect("sheet").expect("range");
    let headers: Vec<String> = (0..8)
        .map(|c| {
            sheet
                .get_value((0, c))
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        headers,
        [
            "单位",
            "月份",
            "评分细则",
            "级别",
            "次数",
            "发生日期",
            "文号",
            "说明"
        ]
    );

    let csrf = csrf_of(&office, &app, "/scoring/events").await;
    let bad = workbook(&[
        HEADER,
        &[
            "1",
            "没有这个局",
            "2023-04",
            "report.late",
            "",
            "1",
            "",
            "",
            "",
        ],
    ]);
    let part = reqwest::multipart::Part::bytes(bad)
        .file_name("events.xlsx")
        .mime_str(XLSX)
        .expect("mime");
    let res = office
        .post(app.url(&format!("/scoring/events/import?_csrf={csrf}")))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("html");
    assert_eq!(select_count(&html, "tr.import-error"), 1);
    let link = {
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("#annotated-download").expect("sel");
        doc.select(&sel)
            .next()
            .and_then(|a| a.value().attr("href"))
            .expect("link")
            .to_owned()
    };
    let back = office
        .get(app.url(&link))
        .send()
        .await
        .expect("r")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(back)).expect("annotated");
    let sheet = book.worksheet_range_at(0).expect("sheet").expect("range");
    assert_eq!(
        sheet.get_value((0, 9)).map(|v| v.to_string()),
        Some("错误说明".into())
    );
    assert!(sheet
        .get_value((1, 9))
        .map(|v| v.to_string())
        .unwrap_or_default()
        .contains("不是成员单位"));
    // Someone else cannot fetch it.
    let other = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        other.get(app.url(&link)).send().await.expect("r").status(),
        StatusCode::NOT_FOUND
    );
}
