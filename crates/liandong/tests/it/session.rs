use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn sign_in_gives_a_token_and_a_safe_cookie_and_sign_out_ends_it() {
    let app = TestApp::spawn().await;
    let res = app.sign_in("dept-edu", DEMO_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .expect("cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("liandong_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body = json(res).await;
    assert_eq!(body["user"]["username"], "dept-edu");
    assert_eq!(body["user"]["role"], "department");
    assert_eq!(body["must_change_password"], false);
    let token = body["token"].as_str().expect("token");

    assert_eq!(
        app.get(token, "/api/v1/session").await.status(),
        StatusCode::OK
    );
    let res = app
        .client
        .delete(app.url("/api/v1/session"))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (code, _) = error_code(
        app.get(token, "/api/v1/departments").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "unauthenticated");
}

#[tokio::test]
async fn secure_cookies_are_host_prefixed() {
    let app = TestApp::with(Options {
        tweak: |s| s.secure_cookies = true,
        ..Options::default()
    })
    .await;
    let res = app.sign_in("admin", ADMIN_PASSWORD).await;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .expect("cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.starts_with("__Host-liandong_session=")
            && cookie.contains("; Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same_and_are_logged() {
    let app = TestApp::spawn().await;
    let (c1, m1) = error_code(
        app.sign_in("dept-edu", "Wrong#Password-1").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let (c2, m2) = error_code(
        app.sign_in("nobody-here", "Wrong#Password-1").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!((c1.as_str(), m1.as_str()), (c2.as_str(), m2.as_str()));
    assert_eq!(c1, "invalid_credentials");

    let admin = app.admin().await;
    let log = json(app.get(&admin, "/api/v1/audit/logins").await).await;
    let outcomes: Vec<(String, String)> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|a| {
            (
                a["username"].as_str().unwrap_or("").to_owned(),
                a["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("dept-edu".into(), "bad_password".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("nobody-here".into(), "unknown_user".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("admin".into(), "success".into())),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn five_failures_lock_the_account_whether_or_not_it_exists() {
    let app = TestApp::spawn().await;
    for name in ["dept-water", "ghost-user"] {
        for _ in 0..5 {
            assert_eq!(
                app.sign_in(name, "Wrong#Password-1").await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
    }
    let (code, real) = error_code(
        app.sign_in("dept-water", DEMO_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    assert_eq!(code, "too_many_attempts");
    assert!(real.contains("30 分钟"), "{real}");
    let (_, ghost) = error_code(
        app.sign_in("ghost-user", "Anything#12345").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    assert_eq!(
        real, ghost,
        "the same message whether or not the user exists"
    );
    // Another account is unaffected, and an administrator can unlock.
    let admin = app.admin().await;
    let users = json(app.get(&admin, "/api/v1/users").await).await;
    let id = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "dept-water")
        .expect("user")["id"]
        .as_i64()
        .expect("id");
    let res = app
        .send(
            Method::PUT,
            &admin,
            &format!("/api/v1/users/{id}/lock"),
            json!({"minutes": 0}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.sign_in("dept-water", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_generated_admin_can_only_change_its_password() {
    let app = TestApp::with(Options {
        demo: false,
        admin_password: None,
        ..Options::default()
    })
    .await;
    // The generated password was returned by prepare(); set a known one the way a reset would.
    let user = app
        .app
        .store
        .user_by_username("admin")
        .await
        .expect("query")
        .expect("admin");
    assert!(user.must_change_password);
    app.app
        .reset_password(
            &liandong_store::Actor::system("test"),
            user.id,
            ADMIN_PASSWORD,
            true,
            chrono::Utc::now(),
        )
        .await
        .expect("reset");

    let res = app.sign_in("admin", ADMIN_PASSWORD).await;
    let body = json(res).await;
    assert_eq!(body["must_change_password"], true);
    let token = body["token"].as_str().expect("token").to_owned();
    for path in ["/api/v1/departments", "/api/v1/users", "/api/v1/session"] {
        let (code, _) = error_code(app.get(&token, path).await, StatusCode::FORBIDDEN).await;
        assert_eq!(code, "password_change_required", "{path}");
    }
    let res = app
        .send(
            Method::PUT,
            &token,
            "/api/v1/session/password",
            json!({"old_password": ADMIN_PASSWORD, "new_password": "Password@2024"}),
        )
        .await;
    let (code, msg) = error_code(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "validation_failed");
    assert!(msg.contains("常见"), "{msg}");
    let res = app
        .send(
            Method::PUT,
            &token,
            "/api/v1/session/password",
            json!({"old_password": "not-it", "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(
            Method::PUT,
            &token,
            "/api/v1/session/password",
            json!({"old_password": ADMIN_PASSWORD, "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&token, "/api/v1/departments").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_password_policy_names_what_is_wrong() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (password, expected) in [
        ("Short#1a", "至少需要 12 个字符"),
        ("alllowercaseletters", "至少 3 类"),
        ("Admin@123456", "常见"),
        ("Wangwu#2023-xyz", "用户名"),
    ] {
        let res = app
            .send(
                Method::POST,
                &admin,
                "/api/v1/users",
                json!({"username": "wangwu", "password": password, "role": "leader"}),
            )
            .await;
        let (code, msg) = error_code(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "validation_failed");
        assert!(msg.contains(expected), "{password}: {msg}");
    }
}

#[tokio::test]
async fn idle_sessions_expire_and_disabling_a_user_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let token = app.token("dept-edu", DEMO_PASSWORD).await;
    let soon = chrono::Utc::now() + chrono::Duration::minutes(29);
    let auth = app
        .app
        .authenticate(&token, "test", soon)
        .await
        .expect("auth");
    assert!(auth.is_ok(), "active 29 minutes ago");
    let later = chrono::Utc::now() + chrono::Duration::minutes(29 + 31);
    let auth = app
        .app
        .authenticate(&token, "test", later)
        .await
        .expect("auth");
    assert_eq!(
        auth.map(|_| ()),
        Err(liandong_service::auth::NoSession::Expired),
        "idle for 31 minutes"
    );
    assert_eq!(
        app.get(&token, "/api/v1/departments").await.status(),
        StatusCode::UNAUTHORIZED,
        "the expired session was removed"
    );

    let token = app.token("dept-edu", DEMO_PASSWORD).await;
    let admin = app.admin().await;
    let id = app
        .app
        .store
        .user_by_username("dept-edu")
        .await
        .expect("q")
        .expect("user")
        .id;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            &format!("/api/v1/users/{id}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get(&token, "/api/v1/departments").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (code, _) = error_code(
        app.sign_in("dept-edu", DEMO_PASSWORD).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(code, "account_disabled");
}

#[tokio::test]
async fn an_expired_session_says_so_and_sends_pages_back_to_sign_in() {
    let app = TestApp::with(Options {
        tweak: |s| s.session_idle_minutes = 1,
        ..Options::default()
    })
    .await;
    let token = app.token("dept-edu", DEMO_PASSWORD).await;
    // Age the session as if the user had been away for two minutes.
    let db = app.dir.path().join("liandong.sqlite3");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("raw");
    sqlx::query("UPDATE session SET last_seen_at = last_seen_at - 120")
        .execute(&raw)
        .await
        .expect("age");
    let (code, msg) = error_code(
        app.get(&token, "/api/v1/departments").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "session_expired");
    assert!(msg.contains("超时"), "{msg}");

    let browser = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    sqlx::query("UPDATE session SET last_seen_at = last_seen_at - 120")
        .execute(&raw)
        .await
        .expect("age");
    let res = browser
        .get(app.url("/departments"))
        .send()
        .await
        .expect("r");
    let to = res
        .headers()
        .get(header::LOCATION)
        .expect("location")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(to, "/login?next=%2Fdepartments&expired=1");
    let html = browser
        .get(app.url(&to))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(select_texts(&html, "#login-error")[0].contains("超时"));
}

#[tokio::test]
async fn passwords_expire_after_the_configured_days() {
    let app = TestApp::spawn().await;
    let in_89_days = chrono::Utc::now() + chrono::Duration::days(89);
    let signed = app
        .app
        .sign_in("dept-edu", DEMO_PASSWORD, "test", "test", in_89_days)
        .await
        .expect("sign in");
    assert!(!signed.must_change_password);
    let in_91_days = chrono::Utc::now() + chrono::Duration::days(91);
    let signed = app
        .app
        .sign_in("dept-edu", DEMO_PASSWORD, "test", "test", in_91_days)
        .await
        .expect("sign in");
    assert!(
        signed.must_change_password,
        "a 91-day-old password must be changed"
    );
}

#[tokio::test]
async fn bad_requests_get_their_own_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before = app.app.store.count_users().await.expect("count");
    let post = |body: String, ctype: &'static str| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&admin)
            .header(header::CONTENT_TYPE, ctype)
            .body(body)
            .send()
    };
    let (code, _) = error_code(
        post("{not json".into(), "application/json")
            .await
            .expect("r"),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "invalid_json");
    let res = post(
        r#"{"username":"x1","role":"leader"}"#.into(),
        "application/json",
    )
    .await
    .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(res).await;
    assert_eq!(body["error"]["field"], "password", "{body}");
    let (code, _) = error_code(
        post("{}".into(), "text/plain").await.expect("r"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(code, "unsupported_media_type");
    let huge = format!(
        r#"{{"username":"x2","password":"{}","role":"leader"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let (code, _) = error_code(
        post(huge, "application/json").await.expect("r"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(code, "payload_too_large");
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/v1/users",
            json!({"username": "x3", "password": GOOD_PASSWORD, "role": "chief"}),
        )
        .await;
    let (_, msg) = error_code(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(msg.contains("未知角色"), "{msg}");
    let res = app.send(Method::POST, &admin, "/api/v1/users", json!({"username": "x4", "password": GOOD_PASSWORD, "role": "department", "units": [101]})).await;
    let (_, msg) = error_code(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(msg.contains("不是部门"), "{msg}");
    assert_eq!(
        app.app.store.count_users().await.expect("count"),
        before,
        "nothing was created"
    );
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_for_changes() {
    let app = TestApp::spawn().await;
    // Sign in through the API with a cookie-keeping client (as the browser would).
    let client = app.browser();
    let res = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "office", "password": DEMO_PASSWORD}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let me = json(
        client
            .get(app.url("/api/v1/session"))
            .send()
            .await
            .expect("r"),
    )
    .await;
    let csrf = me["csrf_token"].as_str().expect("csrf").to_owned();
    let notice = json!({"title": "测试通知", "body": "正文"});
    let res = client
        .post(app.url("/api/v1/notices"))
        .json(&notice)
        .send()
        .await
        .expect("r");
    let (code, _) = error_code(res, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "csrf_failed");
    let res = client
        .post(app.url("/api/v1/notices"))
        .header("x-csrf-token", "0".repeat(64))
        .json(&notice)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client
        .post(app.url("/api/v1/notices"))
        .header("x-csrf-token", &csrf)
        .json(&notice)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);

    // The sign-in form is protected too (double-submit cookie).
    let res = app
        .browser()
        .post(app.url("/login"))
        .form(&[("username", "office"), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn security_headers_are_on_every_answer() {
    let app = TestApp::spawn().await;
    for path in [
        "/login",
        "/api/v1/health",
        "/api/v1/departments",
        "/no-such-page",
    ] {
        let res = app.client.get(app.url(path)).send().await.expect("r");
        let h = res.headers();
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .expect("csp")
            .to_str()
            .expect("ascii");
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            h.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn everything_but_sign_in_health_and_the_document_needs_a_user() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/departments",
        "/api/v1/users",
        "/api/v1/townships",
        "/api/v1/notices",
        "/api/v1/audit",
        "/api/v1/session",
    ] {
        let (code, _) = error_code(
            app.client.get(app.url(path)).send().await.expect("r"),
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(code, "unauthenticated", "{path}");
    }
    for path in [
        "/",
        "/departments",
        "/departments/1",
        "/users",
        "/audit",
        "/notices",
        "/townships",
        "/password",
    ] {
        let res = app.client.get(app.url(path)).send().await.expect("r");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = res
            .headers()
            .get(header::LOCATION)
            .expect("location")
            .to_str()
            .expect("ascii");
        assert!(to.starts_with("/login?next="), "{path} -> {to}");
    }
    for path in [
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/login",
        "/static/app.css",
    ] {
        assert_eq!(
            app.client
                .get(app.url(path))
                .send()
                .await
                .expect("r")
                .status(),
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_lockout() {
    let app = TestApp::spawn().await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/session"));
        set.spawn(async move {
            let body = json!({"username": "dept-civil", "password": "Wrong#Password-1"});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("r")
                .status()
        });
    }
    let statuses = set.join_all().await;
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let locked = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((unauthorized, locked), (5, 7), "{statuses:?}");
}

#[tokio::test]
async fn sign_in_redirects_stay_on_the_site() {
    let app = TestApp::spawn().await;
    for next in [
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
    ] {
        let client = app.browser();
        let html = client
            .get(app.url(&format!("/login?next={next}")))
            .send()
            .await
            .expect("r")
            .text()
            .await
            .expect("html");
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("input[name=next]").expect("selector");
        let value = doc
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .expect("next field");
        assert_eq!(value, "/", "{next}");
    }
}

#[tokio::test]
async fn bad_ids_and_query_values_get_api_errors() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (code, _) = error_code(
        app.get(&admin, "/api/v1/departments/abc").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
    let res = app.get(&admin, "/api/v1/audit?page=x").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(res).await["error"]["field"], "page");
    let res = app
        .client
        .patch(app.url("/api/v1/health"))
        .send()
        .await
        .expect("r");
    let (code, _) = error_code(res, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(code, "method_not_allowed");
    let res = app
        .send(
            Method::PUT,
            &admin,
            "/api/v1/users/2/lock",
            json!({"minutes": i64::MAX / 2}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(
            Method::PUT,
            &admin,
            "/api/v1/departments/1/people",
            json!([{"kind": "principal", "name": "甲"}, {"kind": "principal", "name": "乙"}]),
        )
        .await;
    assert_eq!(json(res).await["error"]["field"], "[1].kind");
}

#[tokio::test]
async fn a_demo_database_is_never_served_as_a_real_county() {
    let app = TestApp::spawn().await;
    let mut settings = (*app.app.settings).clone();
    settings.demo = false;
    let real = liandong_service::App::new(app.app.store.clone(), settings);
    let err = liandong::prepare(&real, Some(ADMIN_PASSWORD))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("演示数据库"), "{err}");
}

#[tokio::test]
async fn guessing_the_old_password_counts_towards_the_lockout() {
    let app = TestApp::spawn().await;
    let token = app.token("dept-edu", DEMO_PASSWORD).await;
    for _ in 0..5 {
        let res = app
            .send(
                Method::PUT,
                &token,
                "/api/v1/session/password",
                json!({"old_password": "Guess#Number-1", "new_password": GOOD_PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(
        app.get(&token, "/api/v1/departments").await.status(),
        StatusCode::UNAUTHORIZED,
        "the lock ended the session"
    );
    assert_eq!(
        app.sign_in("dept-edu", DEMO_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
