//! The HTML pages, checked by CSS selectors.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_departments_page_groups_9_15_2() {
    let app = TestApp::spawn().await;
    let browser = form_sign_in(&app, "town-chengguan", DEMO_PASSWORD).await;
    let html = browser
        .get(app.url("/departments"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "#category-close tr.department"), 9);
    assert_eq!(select_count(&html, "#category-related tr.department"), 15);
    assert_eq!(select_count(&html, "#category-emergency tr.department"), 2);
    let html = browser
        .get(app.url("/departments/6"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(
        select_texts(&html, "h1")[0].split_whitespace().next(),
        Some("县民政局")
    );
    assert_eq!(select_count(&html, "ol.duties li"), 9);
}

#[tokio::test]
async fn navigation_shows_only_what_the_role_can_use() {
    let app = TestApp::spawn().await;
    let nav = |html: &str| select_texts(html, "header nav a");
    let edu = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    let html = edu
        .get(app.url("/"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(
        nav(&html),
        [
            "工作台",
            "成员单位",
            "乡镇",
            "通知公告",
            "月度工作",
            "农户名单",
            "信息预警",
            "信息比对",
            "政策共享",
            "评分排序"
        ]
    );
    // The monthly tabs: a department has no verification tab, and the page refuses it.
    let month = edu
        .get(app.url("/meetings"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    let tabs = select_texts(&month, "nav.tabs a");
    assert!(tabs.iter().any(|t| t == "问题整改台账"), "{tabs:?}");
    assert!(!tabs.iter().any(|t| t == "月核查"), "{tabs:?}");
    let res = edu.get(app.url("/verifications")).send().await.expect("r");
    assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN);
    let admin = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let html = admin
        .get(app.url("/"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(
        nav(&html),
        [
            "工作台",
            "成员单位",
            "乡镇",
            "通知公告",
            "月度工作",
            "农户名单",
            "信息预警",
            "信息比对",
            "政策共享",
            "评分排序",
            "加减分录入",
            "评价录入",
            "用户管理",
            "操作日志",
            "登录日志"
        ]
    );
    // Every link of every navigation answers, the monthly tabs' too (a redirect once).
    let mut links = nav_links(&html);
    let meetings = admin
        .get(app.url("/meetings"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    links.extend(links_of(&meetings, "nav.tabs a"));
    for link in links {
        let res = admin.get(app.url(&link)).send().await.expect("r");
        let res = match res.headers().get("location") {
            Some(to) if res.status().is_redirection() => admin
                .get(app.url(to.to_str().expect("location")))
                .send()
                .await
                .expect("r"),
            _ => res,
        };
        assert_eq!(res.status(), StatusCode::OK, "{link}");
    }
}

fn links_of(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).expect("selector");
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .collect()
}

fn nav_links(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("header a").expect("selector");
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_demo_password_is_shown_only_in_demo_mode() {
    let demo = TestApp::spawn().await;
    let html = demo
        .client
        .get(demo.url("/login"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(select_texts(&html, "#demo-accounts")[0].contains(DEMO_PASSWORD));
    let real = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    let html = real
        .client
        .get(real.url("/login"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "#demo-accounts"), 0);
    assert!(!html.contains(DEMO_PASSWORD));
    assert_eq!(
        real.sign_in("office", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "no demo accounts"
    );
}

#[tokio::test]
async fn form_errors_and_unknown_pages_are_friendly_chinese_pages() {
    let app = TestApp::spawn().await;
    let browser = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let res = browser
        .get(app.url("/no-such-page"))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.expect("html");
    assert!(select_texts(&html, "#error-message")[0].contains("不存在"));
    let csrf = csrf_of(&browser, &app, "/users").await;
    let res = browser
        .post(app.url("/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "newbie"),
            ("role", "leader"),
            ("password", "short"),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("html");
    assert!(select_texts(&html, "#error-message")[0].contains("至少需要 12 个字符"));
    // A wrong password re-shows the form with the reason.
    let client = app.browser();
    let csrf = csrf_of(&client, &app, "/login").await;
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "office"),
            ("password", "nope"),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.expect("html");
    assert_eq!(select_texts(&html, "#login-error"), ["用户名或密码错误"]);
}

#[tokio::test]
async fn an_administrator_creates_a_user_who_must_change_the_password_first() {
    let app = TestApp::spawn().await;
    let admin = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = csrf_of(&admin, &app, "/users").await;
    let res = admin
        .post(app.url("/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "sunqi"),
            ("display_name", "孙七"),
            ("role", "department"),
            ("units", "1"),
            ("units", "3"),
            ("password", GOOD_PASSWORD),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let user = app
        .app
        .store
        .user_by_username("sunqi")
        .await
        .expect("q")
        .expect("created");
    assert_eq!(user.unit_ids(), [1, 3]);
    assert!(user.must_change_password);

    let client = app.browser();
    let csrf = csrf_of(&client, &app, "/login").await;
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "sunqi"),
            ("password", GOOD_PASSWORD),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.headers().get("location").map(|v| v.as_bytes()),
        Some(&b"/password"[..])
    );
    let res = client.get(app.url("/departments")).send().await.expect("r");
    assert_eq!(
        res.headers().get("location").map(|v| v.as_bytes()),
        Some(&b"/password"[..])
    );
    let csrf = csrf_of(&client, &app, "/password").await;
    let res = client
        .post(app.url("/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("old_password", GOOD_PASSWORD),
            ("new_password", "Brand#New-Pass-7"),
            ("confirm", "Brand#New-Pass-7"),
        ])
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        client
            .get(app.url("/departments"))
            .send()
            .await
            .expect("r")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_administrator_revises_the_rule_table_through_the_form() {
    let app = TestApp::spawn().await;
    let admin = form_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let html = admin
        .get(app.url("/scoring/rules"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "section.rule-version"), 1);
    assert_eq!(select_count(&html, "section.rule-version tr.rule"), 16);
    // Post the form as a browser would, with one value changed.
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#new-version input").expect("selector");
    let mut fields: Vec<(String, String)> = doc
        .select(&sel)
        .filter_map(|i| {
            Some((
                i.value().attr("name")?.to_owned(),
                i.value().attr("value").unwrap_or("").to_owned(),
            ))
        })
        .collect();
    assert_eq!(
        fields.iter().filter(|(n, _)| n.starts_with("p:")).count(),
        28
    );
    for (n, v) in fields.iter_mut() {
        match n.as_str() {
            "p:meeting.absent:" => *v = "2.5".into(),
            "effective_from" => *v = "2030-01-01".into(),
            "note" => *v = "2030 年修订".into(),
            _ => {}
        }
    }
    let res = admin
        .post(app.url("/scoring/rules"))
        .form(&fields)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let versions = app.app.store.rule_versions().await.expect("versions");
    assert_eq!(versions.len(), 2);
    let absent = versions[1]
        .table
        .rows()
        .into_iter()
        .find(|r| r.0 == liandong_domain::scoring::RuleCode::MeetingAbsent)
        .expect("rule");
    assert_eq!(absent.2.to_string(), "2.5");
    // A value that is not a multiple of 0.5 names its field.
    for (n, v) in fields.iter_mut() {
        match n.as_str() {
            "p:meeting.absent:" => *v = "2.3".into(),
            "effective_from" => *v = "2031-01-01".into(),
            _ => {}
        }
    }
    let res = admin
        .post(app.url("/scoring/rules"))
        .form(&fields)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Others see the table but no form.
    let office = form_sign_in(&app, "office", DEMO_PASSWORD).await;
    let html = office
        .get(app.url("/scoring/rules"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert_eq!(select_count(&html, "#new-version"), 0);
}

#[tokio::test]
async fn dashboards_list_what_each_role_must_act_on() {
    // The demo county: last quarter submitted with an appeal from 县教育局 pending.
    let app = TestApp::spawn().await;
    let todos = |html: &str| select_texts(html, "#todos li");
    let office = form_sign_in(&app, "office", DEMO_PASSWORD).await;
    let html = office
        .get(app.url("/"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(
        todos(&html).iter().any(|t| t.contains("件申诉待处理")),
        "{:?}",
        todos(&html)
    );
    let edu = form_sign_in(&app, "dept-edu", DEMO_PASSWORD).await;
    let html = edu
        .get(app.url("/"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(
        todos(&html)
            .iter()
            .any(|t| t.contains("申诉期至") && t.contains("县教育局")),
        "{:?}",
        todos(&html)
    );
    let town = form_sign_in(&app, "town-chengguan", DEMO_PASSWORD).await;
    let html = town
        .get(app.url("/"))
        .send()
        .await
        .expect("r")
        .text()
        .await
        .expect("html");
    assert!(
        todos(&html).iter().any(|t| t.contains("核实预警第")),
        "the township verifies its warnings: {:?}",
        todos(&html)
    );
}
