//! The department registry against the work plan, and townships as editable data.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// The county's work plan, which CI lays beside the checkout.
fn seed_document() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seed/000_e4f7c0e668f73aea.txt");
    std::fs::read_to_string(path).ok()
}

#[tokio::test]
async fn the_26_departments_match_the_work_plan() {
    let app = TestApp::spawn().await;
    let token = app.token("dept-edu", DEMO_PASSWORD).await;
    let list = json(app.get(&token, "/api/v1/departments").await).await;
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 26);
    let count = |c: &str| list.iter().filter(|d| d["category"] == c).count();
    assert_eq!(
        (count("close"), count("related"), count("emergency")),
        (9, 15, 2)
    );
    let names: Vec<&str> = list
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        &names[..9],
        [
            "县教育局",
            "县卫健委",
            "县医保局",
            "县住建局",
            "县水利局",
            "县民政局",
            "县人社局",
            "县农业农村局",
            "县残联"
        ]
    );
    assert_eq!(&names[24..], ["县公安局", "县应急管理局"]);
    for d in list {
        let nos: Vec<i64> = d["duties"]
            .as_array()
            .expect("duties")
            .iter()
            .map(|x| x["no"].as_i64().expect("no"))
            .collect();
        assert_eq!(
            nos,
            (1..=nos.len() as i64).collect::<Vec<_>>(),
            "{} duties numbered 1..n",
            d["name"]
        );
    }
    let fin: Vec<_> = list
        .iter()
        .filter(|d| {
            ["县金融工作局", "南召银保监分局", "人行南召县支行"]
                .contains(&d["name"].as_str().unwrap_or(""))
        })
        .map(|d| d["duties"].clone())
        .collect();
    assert_eq!(fin.len(), 3);
    assert!(
        fin[0] == fin[1] && fin[1] == fin[2],
        "the three financial bodies share one duty list"
    );

    match seed_document() {
        Some(doc) => {
            let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            let doc = squash(&doc);
            for d in list {
                assert!(doc.contains(&squash(d["name"].as_str().expect("name"))));
                for duty in d["duties"].as_array().expect("duties") {
                    let text = squash(duty["text"].as_str().expect("text"));
                    assert!(
                        doc.contains(&text),
                        "{}: {text} is not in the work plan",
                        d["name"]
                    );
                }
            }
        }
        None => assert!(
            std::env::var("CI").is_err(),
            "CI must check the duty lists against the work plan"
        ),
    }
}

#[tokio::test]
async fn townships_are_data_the_administrator_edits() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let list = json(app.get(&admin, "/api/v1/townships").await).await;
    assert_eq!(list.as_array().expect("array").len(), 16);
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/townships",
            json!({"code": "chengguan", "name": "另一个城关"}),
        )
        .await;
    let (code, msg) = error_code(res, StatusCode::CONFLICT).await;
    assert_eq!(code, "conflict");
    assert!(msg.contains("chengguan"), "{msg}");
    let (code, _) = error_code(
        app.send(
            Method::POST,
            &admin,
            "/api/v1/townships",
            json!({"code": "Bad Code", "name": "某乡"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/townships",
            json!({"code": "xinzhen", "name": "新镇"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        json(app.get(&admin, "/api/v1/townships").await)
            .await
            .as_array()
            .expect("array")
            .len(),
        17
    );

    // Through the page as well.
    let browser = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = csrf_of(&browser, &app, "/townships").await;
    let res = browser
        .post(app.url("/townships"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("code", "page-town"),
            ("name", "页面乡"),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = browser
        .get(app.url("/townships"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "tr.township"), 18);
}

#[tokio::test]
async fn the_administrator_revises_duties_and_the_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = app
        .send(
            Method::PUT,
            &admin,
            "/api/v1/departments/1/duties",
            json!({"duties": ["第一条", "  ", "第二条"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let d = json(res).await;
    assert_eq!(
        d["duties"],
        json!([{"no": 1, "text": "第一条"}, {"no": 2, "text": "第二条"}])
    );
    let log = json(
        app.get(&admin, "/api/v1/audit?action=department.duties")
            .await,
    )
    .await;
    assert_eq!(
        log["entries"][0]["before"][0]["text"],
        "承担因学返贫致贫风险的监测预警工作；"
    );
    let (code, _) = error_code(
        app.send(
            Method::PUT,
            &admin,
            "/api/v1/departments/1/duties",
            json!({"duties": []}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "validation_failed");
    let (code, _) = error_code(
        app.get(&admin, "/api/v1/departments/999").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
}
