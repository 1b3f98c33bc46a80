//! Data scope: a department user reads and changes only its own unit's records.

use liandong_domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const EDU: i64 = 1;
const HEALTH: i64 = 2;
const WATER: i64 = 5;

async fn notice_for(app: &TestApp, office: &str, unit: i64, title: &str) -> i64 {
    let res = app
        .send(
            Method::POST,
            office,
            "/api/v1/notices",
            json!({"title": title, "body": "正文", "targets": [unit]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    json(res).await["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_department_cannot_read_another_departments_notice_by_api_or_page() {
    let app = TestApp::spawn().await;
    let office = app.token("office", DEMO_PASSWORD).await;
    let for_health = notice_for(&app, &office, HEALTH, "卫健委专项通知").await;
    let for_edu = notice_for(&app, &office, EDU, "教育局专项通知").await;

    let edu = app.token("dept-edu", DEMO_PASSWORD).await;
    let (code, _) = error_code(
        app.get(&edu, &format!("/api/v1/notices/{for_health}"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
    assert_eq!(
        app.get(&edu, &format!("/api/v1/notices/{for_edu}"))
            .await
            .status(),
        StatusCode::OK
    );
    let titles: Vec<String> = json(app.get(&edu, "/api/v1/notices").await)
        .await
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        titles.contains(&"教育局专项通知".to_owned())
            && !titles.contains(&"卫健委专项通知".to_owned()),
        "{titles:?}"
    );

    let browser = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    let res = browser
        .get(app.url(&format!("/notices/{for_health}")))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = browser
        .get(app.url("/notices"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(html.contains("教育局专项通知") && !html.contains("卫健委专项通知"));

    // The office and the auditor see both.
    let auditor = app.token("auditor", DEMO_PASSWORD).await;
    assert_eq!(
        app.get(&auditor, &format!("/api/v1/notices/{for_health}"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_department_cannot_change_another_departments_people_by_api_or_form() {
    let app = TestApp::spawn().await;
    let edu = app.token("dept-edu", DEMO_PASSWORD).await;
    let people = json!([{"kind": "principal", "name": "测试人", "post": "局长"}]);
    let before = app.app.store.department(HEALTH).await.expect("dep").people;
    let (code, _) = error_code(
        app.send(
            Method::PUT,
            &edu,
            &format!("/api/v1/departments/{HEALTH}/people"),
            people.clone(),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(code, "forbidden");
    let res = app
        .send(
            Method::PUT,
            &edu,
            &format!("/api/v1/departments/{EDU}/people"),
            people,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json(res).await["responsible_persons"][0]["name"], "测试人");

    let browser = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    let csrf = csrf_of(&browser, &app, &format!("/departments/{EDU}")).await;
    let res = browser
        .post(app.url(&format!("/departments/{HEALTH}/people")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("principal_name", "冒名者"),
            ("principal_post", "局长"),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.app.store.department(HEALTH).await.expect("dep").people,
        before,
        "nothing changed"
    );
    // The page of another department offers no edit form.
    let html = browser
        .get(app.url(&format!("/departments/{HEALTH}")))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "#people-form"), 0);
    let html = browser
        .get(app.url(&format!("/departments/{EDU}")))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "#people-form"), 1);
}

#[tokio::test]
async fn roles_without_the_right_are_refused() {
    let app = TestApp::spawn().await;
    let edu = app.token("dept-edu", DEMO_PASSWORD).await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/users", json!(null)),
        (
            Method::POST,
            "/api/v1/users",
            json!({"username": "x", "password": GOOD_PASSWORD, "role": "leader"}),
        ),
        (Method::GET, "/api/v1/audit", json!(null)),
        (
            Method::POST,
            "/api/v1/townships",
            json!({"code": "x", "name": "某乡"}),
        ),
        (
            Method::POST,
            "/api/v1/notices",
            json!({"title": "t", "body": "b"}),
        ),
        (
            Method::PUT,
            "/api/v1/departments/1/duties",
            json!({"duties": ["x"]}),
        ),
    ] {
        let (code, _) = error_code(
            app.send(method, &edu, path, body).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(code, "forbidden", "{path}");
    }
    // The auditor reads everything and changes nothing.
    let auditor = app.token("auditor", DEMO_PASSWORD).await;
    assert_eq!(
        app.get(&auditor, "/api/v1/audit").await.status(),
        StatusCode::OK
    );
    let res = app
        .send(
            Method::PUT,
            &auditor,
            "/api/v1/departments/1/people",
            json!([]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_user_of_several_units_reads_their_union_and_writes_each_checked() {
    let app = TestApp::spawn().await;
    app.user("two-hats", Role::Department, vec![EDU, HEALTH])
        .await;
    let office = app.token("office", DEMO_PASSWORD).await;
    notice_for(&app, &office, EDU, "给教育局").await;
    notice_for(&app, &office, HEALTH, "给卫健委").await;
    let water_only = notice_for(&app, &office, WATER, "给水利局").await;
    let token = app.token("two-hats", GOOD_PASSWORD).await;
    let titles: Vec<String> = json(app.get(&token, "/api/v1/notices").await)
        .await
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        titles.contains(&"给教育局".into())
            && titles.contains(&"给卫健委".into())
            && !titles.contains(&"给水利局".into()),
        "{titles:?}"
    );
    assert_eq!(
        app.get(&token, &format!("/api/v1/notices/{water_only}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let people = json!([{"kind": "direct", "name": "李四", "post": "股长"}]);
    for (unit, expected) in [
        (EDU, StatusCode::OK),
        (HEALTH, StatusCode::OK),
        (WATER, StatusCode::FORBIDDEN),
    ] {
        let res = app
            .send(
                Method::PUT,
                &token,
                &format!("/api/v1/departments/{unit}/people"),
                people.clone(),
            )
            .await;
        assert_eq!(res.status(), expected, "unit {unit}");
    }
}
