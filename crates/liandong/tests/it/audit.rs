//! The operation log: every change recorded with who, role, source, before and after;
//! no secrets in it; exports that never run formulas.

use calamine::Reader;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn changes_are_logged_with_actor_role_source_and_before_after() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/townships",
            json!({"code": "xinzhen", "name": "新镇"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/townships/{id}"),
            json!({"name": "新镇乡", "active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let log = json(app.get(&admin, "/api/v1/audit?action=township.").await).await;
    assert_eq!(log["total"], 2);
    let update = &log["entries"][0];
    assert_eq!(update["action"], "township.update");
    assert_eq!(update["actor"], "admin");
    assert_eq!(update["role"], "office_admin");
    assert_eq!(update["source"], "127.0.0.1");
    assert_eq!(update["target"], format!("unit:{id}"));
    assert_eq!(update["before"]["name"], "新镇");
    assert_eq!(update["after"]["name"], "新镇乡");
    assert_eq!(update["after"]["active"], false);
}

#[tokio::test]
async fn no_password_hash_or_token_reaches_the_log() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/users",
            json!({"username": "zhaoliu", "password": GOOD_PASSWORD, "role": "leader"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = json(res).await["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/users/{id}/password"),
            json!({"password": "Another#Secret-99"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (entries, _) = app
        .app
        .store
        .audit_entries(&liandong_store::AuditFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("log");
    let all = serde_json::to_string(&entries).expect("json");
    for secret in [GOOD_PASSWORD, "Another#Secret-99", "$argon2", &admin] {
        assert!(!all.contains(secret), "the log must not contain {secret}");
    }
    assert!(entries
        .iter()
        .any(|e| e.action == "user.password_reset" && e.target == format!("user:{id}")));
}

#[tokio::test]
async fn the_log_pages_and_export_are_for_administrators_and_auditors() {
    let app = TestApp::spawn().await;
    let auditor = form_sign_in(&app, "auditor", DEMO_PASSWORD).await;
    let html = auditor
        .get(app.url("/audit?action=user."))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(
        select_count(&html, "tr.audit-entry") > 40,
        "the demo created many users"
    );
    let res = auditor
        .get(app.url("/audit/export.xlsx?action=user."))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes");
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let range = book.worksheet_range("操作日志").expect("sheet");
    assert_eq!(
        range.get_value((2, 0)).map(|v| v.to_string()),
        Some("序号".into())
    );
    assert_eq!(
        range.get_value((3, 5)).map(|v| v.to_string()),
        Some("user.create".into())
    );
    // The export itself is logged.
    let admin = app.admin().await;
    let log = json(app.get(&admin, "/api/v1/audit?action=audit.export").await).await;
    assert_eq!(log["total"], 1);
    assert_eq!(log["entries"][0]["actor"], "auditor");

    let edu = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    assert_eq!(
        edu.get(app.url("/audit")).send().await.expect("r").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        edu.get(app.url("/audit/export.xlsx"))
            .send()
            .await
            .expect("r")
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn formula_like_values_are_exported_as_text() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/townships",
            json!({"code": "evil", "name": "=HYPERLINK(\"http://x\")"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .client
        .get(app.url("/audit/export.xlsx?action=township.create"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes").to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
    let formulas = book.worksheet_formula("操作日志").expect("formulas");
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
    let range = book.worksheet_range("操作日志").expect("sheet");
    let after = range
        .get_value((3, 8))
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(after.contains("HYPERLINK"), "{after}");
}
