use std::net::SocketAddr;

use liandong_domain::Role;
use liandong_service::users::CreateUser;
use liandong_service::{App, Settings};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "Office#Chief-2023x";
pub const DEMO_PASSWORD: &str = liandong_service::demo::DEMO_PASSWORD;
pub const GOOD_PASSWORD: &str = "River#Stone-2023x";

/// One running server with its own temporary data directory.
pub struct TestApp {
    pub base: String,
    pub app: App,
    pub dir: tempfile::TempDir,
    pub client: Client,
}

pub struct Options {
    pub demo: bool,
    pub admin_password: Option<&'static str>,
    pub tweak: fn(&mut Settings),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            demo: true,
            admin_password: Some(ADMIN_PASSWORD),
            tweak: |_| {},
        }
    }
}

impl TestApp {
    /// A demo county with the administrator password set.
    pub async fn spawn() -> TestApp {
        TestApp::with(Options::default()).await
    }

    pub async fn with(opts: Options) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::with_data_dir(dir.path().to_owned());
        settings.demo = opts.demo;
        (opts.tweak)(&mut settings);
        let store = liandong::open(&settings).await.expect("open store");
        let app = App::new(store, settings);
        let generated = liandong::prepare(&app, opts.admin_password)
            .await
            .expect("prepare");
        assert_eq!(generated.is_some(), opts.admin_password.is_none());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let served = app.clone();
        tokio::spawn(async move {
            liandong_web::serve(listener, served).await.expect("serve");
        });
        TestApp {
            base: format!("http://{addr}"),
            app,
            dir,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client that keeps cookies.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/session"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("request")
    }

    /// Signs in and returns the bearer token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let res = self.sign_in(username, password).await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in of {username}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn admin(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a user directly through the service (no forced password change).
    pub async fn user(&self, username: &str, role: Role, units: Vec<i64>) {
        self.app
            .create_user(
                &liandong_store::Actor::system("test"),
                CreateUser {
                    username: username.into(),
                    display_name: username.into(),
                    role,
                    password: GOOD_PASSWORD.into(),
                    units,
                    must_change_password: false,
                },
                chrono::Utc::now(),
            )
            .await
            .expect("create user");
    }
}

pub async fn json(res: Response) -> Value {
    res.json().await.expect("json body")
}

/// Asserts api.md's error shape and returns the code.
pub async fn error_code(res: Response, status: StatusCode) -> (String, String) {
    assert_eq!(res.status(), status);
    let body = json(res).await;
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    let msg = body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_owned();
    assert!(
        msg.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "message in Chinese: {msg}"
    );
    (code, msg)
}

/// The CSRF token of a signed-in browser session, read from a page's form.
pub async fn csrf_of(client: &Client, app: &TestApp, page: &str) -> String {
    let html = client
        .get(app.url(page))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("input[name=_csrf]").expect("selector");
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .expect("csrf field")
        .to_owned()
}

/// Signs a cookie-keeping client in through the HTML form.
pub async fn form_sign_in(app: &TestApp, username: &str, password: &str) -> Client {
    let client = app.browser();
    let csrf = csrf_of(&client, app, "/login").await;
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "form sign-in of {username}"
    );
    client
}

pub fn select_count(html: &str, selector: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).expect("selector");
    doc.select(&sel).count()
}

pub fn select_texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// Every non-empty cell of every sheet of an .xlsx, as text.
pub fn xlsx_cells(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let mut out = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("sheet");
        for row in range.rows() {
            for c in row {
                let s = c.to_string();
                if !s.is_empty() {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// An .xlsx of one sheet: the header row, then the rows, all as text.
pub fn xlsx(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, v) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *v).expect("write");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).expect("write");
        }
    }
    wb.save_to_buffer().expect("save")
}
