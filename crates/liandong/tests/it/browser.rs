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
