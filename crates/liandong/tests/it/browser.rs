//! Real headless Chromium, driven through ChromeDriver (WebDriver).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts ChromeDriver, or says why the browser tests cannot run. CI installs Chromium and
/// sets LIANDONG_BROWSER_TESTS=required so that a missing browser fails instead of skipping.
fn driver() -> Option<Driver> {
    let required = std::env::var("LIANDONG_BROWSER_TESTS").as_deref() == Ok("required");
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    match Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => Some(Driver { child, port }),
        Err(e) => {
            assert!(
                !required,
                "ChromeDriver ({bin}) is required but could not start: {e}"
            );
            eprintln!("skipping browser test: {bin} not available ({e})");
            None
        }
    }
}

async fn browser(port: u16, width: u32) -> fantoccini::Client {
    // The test binary links two TLS providers; the WebDriver client needs one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut options = json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        format!("--window-size={},900", width.max(800))]});
    // Headless windows are never narrower than 500 px: phones are emulated instead.
    if width < 500 {
        options["mobileEmulation"] =
            json!({"deviceMetrics": {"width": width, "height": 740, "pixelRatio": 2.0}});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not connect to ChromeDriver");
}

#[tokio::test]
async fn sign_in_and_see_the_26_departments_grouped_9_15_2() {
    let Some(driver) = driver() else { return };
    let app = TestApp::spawn().await;
    let c = browser(driver.port, 1280).await;
    c.goto(&app.url("/departments")).await.expect("goto");
    // Redirected to the sign-in page first.
    assert!(c
        .current_url()
        .await
        .expect("url")
        .path()
        .starts_with("/login"));
    c.find(Locator::Id("username"))
        .await
        .expect("username")
        .send_keys("dept-edu")
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(DEMO_PASSWORD)
        .await
        .expect("type");
    c.find(Locator::Id("login-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    // Back where we wanted to go (the sign-in page has an h1 too: wait for the list).
    c.wait()
        .for_element(Locator::Id("category-close"))
        .await
        .expect("departments");
    let heading = c
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "成员单位（26 个）");
    for (id, n) in [("close", 9), ("related", 15), ("emergency", 2)] {
        let rows = c
            .find_all(Locator::Css(&format!("#category-{id} tr.department")))
            .await
            .expect("rows");
        assert_eq!(rows.len(), n, "{id}");
        let count = c
            .find(Locator::Css(&format!("#category-{id} .count")))
            .await
            .expect("count")
            .text()
            .await
            .expect("text");
        assert_eq!(count, n.to_string());
    }
    if let Ok(dir) = std::env::var("LIANDONG_SCREENSHOTS") {
        std::fs::write(
            format!("{dir}/departments.png"),
            c.screenshot().await.expect("png"),
        )
        .expect("write");
    }
    c.close().await.expect("close");
}

#[tokio::test]
async fn the_pages_fit_a_360_pixel_phone() {
    let Some(driver) = driver() else { return };
    let app = TestApp::spawn().await;
    let c = browser(driver.port, 360).await;
    c.goto(&app.url("/login")).await.expect("goto");
    c.find(Locator::Id("username"))
        .await
        .expect("u")
        .send_keys("office")
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("p")
        .send_keys(DEMO_PASSWORD)
        .await
        .expect("type");
    c.find(Locator::Id("login-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("header .me"))
        .await
        .expect("home");
    for page in [
        "/",
        "/departments",
        "/departments/1",
        "/notices",
        "/townships",
        "/compare",
        "/compare/feeds",
        "/compare/clues",
        "/compare/clues/1",
        "/compare/runs/1",
        "/compare/reviews",
        "/compare/rules",
    ] {
        c.goto(&app.url(page)).await.expect("goto");
        let overflow = c
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .expect("script");
        assert!(
            overflow.as_i64().unwrap_or(999) <= 0,
            "{page} scrolls sideways by {overflow}px at 360px"
        );
    }
    if let Ok(dir) = std::env::var("LIANDONG_SCREENSHOTS") {
        c.goto(&app.url("/")).await.expect("goto");
        std::fs::write(
            format!("{dir}/home-360.png"),
            c.screenshot().await.expect("png"),
        )
        .expect("write");
    }
    c.close().await.expect("close");
}

async fn sign_in(c: &fantoccini::Client, app: &TestApp, user: &str, password: &str) {
    c.goto(&app.url("/login")).await.expect("goto");
    c.find(Locator::Id("username"))
        .await
        .expect("u")
        .send_keys(user)
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("p")
        .send_keys(password)
        .await
        .expect("type");
    c.find(Locator::Id("login-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    // The sign-in page has an h1 too: wait for what only a signed-in page shows.
    c.wait()
        .for_element(Locator::Css("header .me"))
        .await
        .expect("signed in");
}

async fn sign_out(c: &fantoccini::Client) {
    c.find(Locator::Css("header .me button"))
        .await
        .expect("logout")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Id("username"))
        .await
        .expect("signed out");
}

async fn click(c: &fantoccini::Client, id: &str) {
    let Ok(button) = c.find(Locator::Id(id)).await else {
        let page = c.source().await.unwrap_or_default();
        panic!("#{id} missing:\n{page}");
    };
    button.click().await.expect("click");
    c.wait()
        .for_element(Locator::Css("p.msg.ok"))
        .await
        .expect("saved");
}

#[tokio::test]
async fn the_quarterly_bulletin_flow_from_submission_to_acknowledgement() {
    let Some(driver) = driver() else { return };
    let app = TestApp::with(Options {
        tweak: |s| s.appeal_days = 0,
        ..Options::default()
    })
    .await;
    // A quarter the demo county never touched: a draft, with its evaluations entered.
    let period = "2024-Q2";
    let quarter: liandong_domain::Quarter = period.parse().expect("quarter");
    let actor = liandong_store::Actor::system("test");
    for d in app.app.store.departments().await.expect("departments") {
        let kind = if d.category == liandong_domain::Category::Close {
            liandong_store::EvaluationKind::Extended
        } else if liandong_service::scoring::RANKED_EXTERNALLY.contains(&d.code.as_str()) {
            liandong_store::EvaluationKind::External
        } else {
            continue;
        };
        app.app
            .record_evaluation(&actor, quarter, d.id, kind, 95.into(), chrono::Utc::now())
            .await
            .expect("evaluation");
    }
    let c = browser(driver.port, 1280).await;
    let page = app.url(&format!("/rankings?period={period}"));
    sign_in(&c, &app, "office", DEMO_PASSWORD).await;
    c.goto(&page).await.expect("goto");
    click(&c, "submit-ranking").await;
    sign_out(&c).await;

    sign_in(&c, &app, "leader", DEMO_PASSWORD).await;
    c.goto(&page).await.expect("goto");
    click(&c, "approve-ranking").await;
    let status = c
        .find(Locator::Id("ranking-status"))
        .await
        .expect("status")
        .text()
        .await
        .expect("text");
    assert!(
        status.contains("已审定") && status.contains("leader"),
        "{status}"
    );
    sign_out(&c).await;

    sign_in(&c, &app, "office", DEMO_PASSWORD).await;
    c.goto(&page).await.expect("goto");
    click(&c, "publish-ranking").await;
    assert!(
        c.find(Locator::Id("bulletin-download")).await.is_ok(),
        "the bulletin can be generated"
    );
    let unacked = c
        .find(Locator::Id("acknowledgements"))
        .await
        .expect("acks")
        .text()
        .await
        .expect("text");
    assert!(unacked.contains("县教育局"), "{unacked}");
    sign_out(&c).await;

    sign_in(&c, &app, "dept-edu", DEMO_PASSWORD).await;
    c.goto(&page).await.expect("goto");
    assert_eq!(
        c.find_all(Locator::Css("tr.ranking-row"))
            .await
            .expect("rows")
            .len(),
        26,
        "published: all 26 visible"
    );
    click(&c, "acknowledge-ranking").await;
    assert!(
        c.find(Locator::Id("acknowledge-ranking")).await.is_err(),
        "acknowledged once"
    );
    c.close().await.expect("close");
    let acks = app
        .app
        .store
        .acknowledgements(period.parse().expect("quarter"))
        .await
        .expect("acks");
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].acknowledged_by, "dept-edu");
}

/// Submits a form by its button and waits for the next page's confirmation (not the old one's).
async fn submit_form(c: &fantoccini::Client, form: &str) {
    c.execute("document.body.setAttribute('data-old', '1')", vec![])
        .await
        .expect("mark");
    let Ok(button) = c
        .find(Locator::Css(&format!("#{form} button[type=submit]")))
        .await
    else {
        let page = c.source().await.unwrap_or_default();
        panic!("#{form} missing:\n{page}");
    };
    button.click().await.expect("click");
    if c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("body:not([data-old]) p.msg.ok"))
        .await
        .is_err()
    {
        let page = c.source().await.unwrap_or_default();
        panic!("#{form} was not saved:\n{page}");
    }
}

async fn fill(c: &fantoccini::Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.expect(id);
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

/// Date inputs take keyboard input in the browser's locale: set the value itself.
async fn set_value(c: &fantoccini::Client, id: &str, value: &str) {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1]",
        vec![json!(id), json!(value)],
    )
    .await
    .expect("set value");
}

async fn text_of(c: &fantoccini::Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect("text")
}

/// A month played through by the department, the verification team and the office: report,
/// problem, township scores, rectification, 销号, a finding that reopens the problem, the
/// meeting's attendance, the month close and the office's decision on a proposal.
#[tokio::test]
async fn a_month_played_through_by_department_verifier_and_office() {
    let Some(driver) = driver() else { return };
    let app = TestApp::with(Options {
        demo: false,
        ..Options::default()
    })
    .await;
    app.user("edu", liandong_domain::Role::Department, vec![1])
        .await;
    app.user("checker", liandong_domain::Role::Verifier, vec![])
        .await;
    // Two months back: its report deadline has passed, so the office can close it.
    let this =
        liandong_domain::Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()));
    let m = this.prev().prev();
    let c = browser(driver.port, 1280).await;

    // The department: self-inspection report, a problem, two township scores.
    sign_in(&c, &app, "edu", GOOD_PASSWORD).await;
    c.goto(&app.url("/monthly")).await.expect("goto");
    c.goto(&app.url(&format!("/monthly/{m}/departments/1")))
        .await
        .expect("goto");
    assert_eq!(text_of(&c, "#inspection-state").await, "未报送");
    fill(
        &c,
        "inspection-body",
        "本月检查 3 个乡镇 9 个村，发现问题 1 个。",
    )
    .await;
    submit_form(&c, "inspection-form").await;
    assert_eq!(text_of(&c, "#inspection-state").await, "逾期报送");
    fill(&c, "description", "2 名适龄儿童辍学未劝返").await;
    fill(&c, "measure", "联合乡镇入户劝返").await;
    fill(&c, "responsible", "张老师").await;
    set_value(&c, "deadline", &m.day_clamped(20).to_string()).await;
    submit_form(&c, "problem-form").await;
    let id = text_of(&c, "tr.problem td a").await;
    let inputs = c
        .find_all(Locator::Css("#township-form input[name^=score_]"))
        .await
        .expect("scores");
    assert_eq!(inputs.len(), 16);
    inputs[0].send_keys("96").await.expect("type");
    inputs[1].send_keys("88.5").await.expect("type");
    submit_form(&c, "township-form").await;
    // Rectified, as the department says.
    c.goto(&app.url(&format!("/problems/{id}")))
        .await
        .expect("goto");
    fill(&c, "evidence", "2 名儿童已返校，附返校证明").await;
    submit_form(&c, "rectify-form").await;
    assert_eq!(text_of(&c, "#problem-status").await, "已整改待销号");
    assert!(
        c.find(Locator::Id("close-problem-form")).await.is_err(),
        "a department cannot close its own problem"
    );
    sign_out(&c).await;

    // The office closes the problem and forms the verification team.
    sign_in(&c, &app, "admin", ADMIN_PASSWORD).await;
    c.goto(&app.url(&format!("/problems/{id}")))
        .await
        .expect("goto");
    submit_form(&c, "close-problem-form").await;
    assert_eq!(text_of(&c, "#problem-status").await, "已销号");
    c.goto(&app.url("/verifications")).await.expect("goto");
    fill(&c, "v-month", &m.to_string()).await;
    fill(&c, "v-team", "赵组长、钱组员").await;
    submit_form(&c, "verification-form").await;
    submit_form(&c, "draw-form").await;
    assert!(text_of(&c, "#sample").await.contains("随机种子"));
    let verification = c.current_url().await.expect("url").path().to_owned();
    sign_out(&c).await;

    // The verification team finds the problem still open: it is reopened.
    sign_in(&c, &app, "checker", GOOD_PASSWORD).await;
    c.goto(&app.url(&verification)).await.expect("goto");
    fill(&c, "f-problem", &id).await;
    c.find(Locator::Css("#f-outcome option[value=unrectified]"))
        .await
        .expect("option")
        .click()
        .await
        .expect("select");
    fill(&c, "f-desc", "回访发现 1 名儿童仍未返校").await;
    submit_form(&c, "finding-form").await;
    assert!(text_of(&c, "#findings").await.contains("已提议"));
    sign_out(&c).await;

    // The office records the meeting, then closes the month.
    sign_in(&c, &app, "admin", ADMIN_PASSWORD).await;
    c.goto(&app.url("/meetings")).await.expect("goto");
    set_value(&c, "held_on", &m.day_clamped(22).to_string()).await;
    fill(&c, "title", "推进会").await;
    submit_form(&c, "meeting-form").await;
    c.find(Locator::Css("select[name=att_1] option[value=absent]"))
        .await
        .expect("option")
        .click()
        .await
        .expect("select");
    submit_form(&c, "attendance-form").await;
    c.goto(&app.url(&format!("/monthly/{m}")))
        .await
        .expect("goto");
    let preview = text_of(&c, "#close-preview").await;
    assert!(preview.contains("例会缺席"), "{preview}");
    assert!(preview.contains("紧密型部门对乡镇未评分排名"), "{preview}");
    assert!(
        !preview.contains(&format!("问题第 {id} 号")),
        "already proposed by the finding: {preview}"
    );
    submit_form(&c, "close-form").await;
    let proposals = c
        .find_all(Locator::Css("#proposals tr.proposal"))
        .await
        .expect("proposals");
    // 25 departments without a report, the 8 other close-type departments' unscored
    // townships, EDU's late report, unscored townships and absence, and the reopened problem.
    assert_eq!(proposals.len(), 37);
    let facts = text_of(&c, "#proposals").await;
    assert!(facts.contains(&format!("依据：问题第 {id} 号")), "{facts}");
    // Confirm the first proposal.
    c.find(Locator::Css("#proposals tr.proposal button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("p.msg.ok"))
        .await
        .expect("decided");
    c.close().await.expect("close");
    let events = app
        .app
        .store
        .score_events(&liandong_store::Scope::All, &[m], None)
        .await
        .expect("events");
    assert_eq!(events.iter().filter(|e| e.status == "confirmed").count(), 1);
    assert_eq!(events.iter().filter(|e| e.status == "proposed").count(), 36);
}

/// Two users in two browsers: a department pushes a warning; the township, with a page open,
/// sees it arrive (list and badge) without reloading.
#[tokio::test]
async fn a_pushed_warning_appears_in_another_browser_without_a_reload() {
    let Some(driver) = driver() else { return };
    let app = TestApp::spawn().await;
    let town = browser(driver.port, 1280).await;
    let dept = browser(driver.port, 1280).await;
    sign_in(&town, &app, "town-chengguan", DEMO_PASSWORD).await;
    town.goto(&app.url("/warnings")).await.expect("goto");
    let before = town.current_url().await.expect("url");
    assert!(
        town.find(Locator::Css("#warning-badge[hidden]"))
            .await
            .is_ok(),
        "no badge yet"
    );
    // Let the page's event stream connect.
    tokio::time::sleep(Duration::from_millis(800)).await;

    sign_in(&dept, &app, "dept-emergency", DEMO_PASSWORD).await;
    dept.goto(&app.url("/warnings")).await.expect("goto");
    fill(&dept, "w-no", "41132010002").await;
    dept.find(Locator::Css("#w-risk option[value=disaster]"))
        .await
        .expect("option")
        .click()
        .await
        .expect("select");
    fill(&dept, "w-summary", "山洪冲毁院墙，房屋出现裂缝").await;
    submit_form(&dept, "warning-form").await;

    let item = town
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#live-warnings li.live-warning a"))
        .await
        .expect("the warning arrives without a reload");
    let text = item.text().await.expect("text");
    assert!(
        text.contains("因灾预警") && text.contains("城关镇"),
        "{text}"
    );
    assert_eq!(text_of(&town, "#warning-badge").await, "1");
    assert_eq!(town.current_url().await.expect("url"), before, "no reload");
    // The township follows the link and signs for it.
    item.click().await.expect("open");
    submit_form(&town, "sign-form").await;
    let receipts = text_of(&town, "#receipts").await;
    assert!(
        receipts.contains("城关镇") && receipts.contains("已签收"),
        "{receipts}"
    );
    town.close().await.expect("close");
    dept.close().await.expect("close");
}

/// The comparison workbench in the browser: the office runs a comparison and the page's
/// script follows the progress to the run's report; a township verifies one of its clues and
/// hands it off as a warning.
#[tokio::test]
async fn a_comparison_run_followed_live_then_a_clue_verified_and_handed_off() {
    let Some(driver) = driver() else { return };
    let app = TestApp::spawn().await;
    let c = browser(driver.port, 1280).await;
    sign_in(&c, &app, "office", DEMO_PASSWORD).await;
    c.goto(&app.url("/compare")).await.expect("goto");
    c.find(Locator::Css("#run-form button[type=submit]"))
        .await
        .expect("run button")
        .click()
        .await
        .expect("click");
    // The progress page turns into the run's report by itself.
    if c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("run-summary"))
        .await
        .is_err()
    {
        let page = c.source().await.unwrap_or_default();
        panic!("the run's report did not open:\n{page}");
    }
    let summary = text_of(&c, "#run-summary").await;
    assert!(summary.contains("不重复推送"), "{summary}");
    assert!(c
        .current_url()
        .await
        .expect("url")
        .path()
        .starts_with("/compare/runs/"));
    sign_out(&c).await;

    // A clue about an illness, and the township it belongs to.
    let (open, _) = app
        .app
        .store
        .clues(&liandong_store::ClueFilter {
            rule: Some("medical_oop_monitored".into()),
            status: Some("open".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("clues");
    let clue = &open[0];
    let towns = app.app.store.townships().await.expect("townships");
    let town = towns
        .iter()
        .find(|t| Some(t.id) == clue.township_id)
        .expect("its township");
    sign_in(&c, &app, &format!("town-{}", town.code), DEMO_PASSWORD).await;
    c.goto(&app.url("/compare/clues?status=open&rule=medical_oop_monitored"))
        .await
        .expect("goto");
    c.find(Locator::Css(&format!(
        "tr.clue td a[href='/compare/clues/{}']",
        clue.id
    )))
    .await
    .expect("the clue is listed for its township")
    .click()
    .await
    .expect("click");
    c.wait()
        .for_element(Locator::Id("outcome-form"))
        .await
        .expect("outcome form");
    fill(&c, "o-note", "入户核实，情况属实").await;
    submit_form(&c, "outcome-form").await;
    assert_eq!(text_of(&c, "#clue-status").await, "属实");
    submit_form(&c, "hand-off-form").await;
    assert!(text_of(&c, "#clue-warning")
        .await
        .starts_with("已转为预警第"));
    c.close().await.expect("close");
}
