//! The Chinese HTML pages. Every page extends `base.html`; its navigation shows only what
//! the signed-in role can use.

pub(crate) mod audit;
pub(crate) mod compare;
mod home;
pub(crate) mod monthly;
pub(crate) mod notices;
pub(crate) mod policies;
pub(crate) mod registry;
pub(crate) mod roster;
pub(crate) mod scoring;
mod session;
mod users;

use askama::Template;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use liandong_service::Principal;

use crate::auth::Auth;
use crate::error::{AppError, AppResult, ErrorDetail};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/password",
            get(session::password_form).post(session::change_password),
        )
        .route("/departments", get(registry::departments))
        .route("/departments/{id}", get(registry::department))
        .route("/departments/{id}/people", post(registry::save_people))
        .route("/departments/{id}/duties", post(registry::save_duties))
        .route(
            "/townships",
            get(registry::townships).post(registry::create_township),
        )
        .route("/townships/{id}", post(registry::update_township))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).post(users::update))
        .route("/users/{id}/password", post(users::reset_password))
        .route("/users/{id}/lock", post(users::lock))
        .route("/audit", get(audit::entries))
        .route("/audit/export.xlsx", get(audit::export))
        .route("/audit/logins", get(audit::logins))
        .route("/notices", get(notices::list).post(notices::publish))
        .route("/notices/{id}", get(notices::show))
        .route("/rankings", get(scoring::rankings))
        .route("/rankings/annual", get(scoring::annual))
        .route("/rankings/{period}/submit", post(scoring::submit))
        .route("/rankings/{period}/approve", post(scoring::approve))
        .route("/rankings/{period}/publish", post(scoring::publish))
        .route("/rankings/{period}/reopen", post(scoring::reopen))
        .route("/rankings/{period}/acknowledge", post(scoring::acknowledge))
        .route("/rankings/{period}/flags", post(scoring::flag))
        .route(
            "/rankings/{period}/departments/{id}",
            get(scoring::breakdown),
        )
        .route("/rankings/{period}/export.xlsx", get(scoring::export))
        .route("/rankings/{period}/bulletin.docx", get(scoring::bulletin))
        .route("/appeals", post(scoring::file_appeal))
        .route("/appeals/{id}/decision", post(scoring::decide_appeal))
        .route(
            "/scoring/events",
            get(scoring::events_page).post(scoring::create_event),
        )
        .route(
            "/scoring/events/{id}/withdraw",
            post(scoring::withdraw_event),
        )
        .route("/scoring/events/template.xlsx", get(scoring::template))
        .route("/scoring/proposals/{id}", post(scoring::decide_proposal))
        .route(
            "/scoring/events/{id}/attachments",
            post(scoring::attach)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route(
            "/scoring/events/import",
            post(scoring::import)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route("/imports/rejected/{token}", get(scoring::rejected))
        .route(
            "/scoring/evaluations",
            get(scoring::evaluations_page).post(scoring::save_evaluation),
        )
        .route(
            "/scoring/rules",
            get(scoring::rules_page).post(scoring::add_rule_version),
        )
        .route("/monthly", get(monthly::current))
        .route("/monthly/townships", get(monthly::township_rankings))
        .route("/monthly/{month}", get(monthly::month_page))
        .route("/monthly/{month}/close", post(monthly::close_month))
        .route(
            "/monthly/{month}/departments/{id}",
            get(monthly::department_month),
        )
        .route(
            "/monthly/{month}/departments/{id}/reports/{kind}",
            post(monthly::save_report),
        )
        .route(
            "/monthly/{month}/departments/{id}/problems",
            post(monthly::add_problem),
        )
        .route(
            "/monthly/{month}/departments/{id}/townships",
            post(monthly::save_township_scores),
        )
        .route(
            "/reports/{id}/photos",
            post(monthly::report_photo)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route("/plans/{id}", get(monthly::plan).post(monthly::save_plan))
        .route("/problems", get(monthly::problems))
        .route("/problems/export.xlsx", get(monthly::export_problems))
        .route("/problems/template.xlsx", get(monthly::problem_template))
        .route(
            "/problems/import",
            post(monthly::import_problems)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route("/problems/{id}", get(monthly::problem))
        .route("/problems/{id}/rectify", post(monthly::rectify_problem))
        .route("/problems/{id}/close", post(monthly::close_problem))
        .route(
            "/problems/{id}/photos",
            post(monthly::problem_photo)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route(
            "/meetings",
            get(monthly::meetings).post(monthly::create_meeting),
        )
        .route("/meetings/{id}", get(monthly::meeting))
        .route("/meetings/{id}/record", post(monthly::record_meeting))
        .route("/meetings/{id}/tasks", post(monthly::add_task))
        .route("/tasks/{id}/done", post(monthly::finish_task))
        .route(
            "/assignments",
            get(monthly::assignments).post(monthly::create_assignment),
        )
        .route("/assignments/export.xlsx", get(monthly::export_assignments))
        .route("/assignments/{id}", get(monthly::assignment))
        .route("/assignments/{id}/report", post(monthly::report_assignment))
        .route(
            "/verifications",
            get(monthly::verifications).post(monthly::create_verification),
        )
        .route("/verifications/{id}", get(monthly::verification))
        .route("/verifications/{id}/draw", post(monthly::draw))
        .route("/verifications/{id}/findings", post(monthly::add_finding))
        .route(
            "/submissions",
            get(monthly::submissions).post(monthly::create_requirement),
        )
        .route("/submissions/{id}", get(monthly::submission))
        .route("/submissions/{id}/submit", post(monthly::submit))
        .route("/roster", get(roster::roster))
        .route("/roster/template.xlsx", get(roster::template))
        .route(
            "/roster/import",
            post(roster::import).layer(axum::extract::DefaultBodyLimit::max(roster::ROSTER_LIMIT)),
        )
        .route("/roster/imports/{token}", get(roster::import_job))
        .route(
            "/roster/imports/{token}/errors.xlsx",
            get(roster::import_errors),
        )
        .route("/roster/imports/{token}/confirm", post(roster::confirm))
        .route("/roster/households/{id}", get(roster::household))
        .route("/roster/households/{id}/stage", post(roster::stage))
        .route("/persons/{id}/unmask", post(roster::unmask))
        .route("/warnings", get(roster::warnings).post(roster::push))
        .route(
            "/warnings/routes",
            get(roster::routes).post(roster::save_routes),
        )
        .route("/policies", get(policies::list).post(policies::create))
        .route("/policies/{id}", get(policies::show))
        .route("/policies/{id}/follow-up", post(policies::follow_up))
        .route(
            "/policies/{id}/attachments",
            post(policies::attach)
                .layer(axum::extract::DefaultBodyLimit::max(scoring::IMPORT_LIMIT)),
        )
        .route("/compare", get(compare::workbench))
        .route("/compare/runs", post(compare::start_run))
        .route("/compare/jobs/{token}", get(compare::job))
        .route("/compare/runs/{id}", get(compare::run))
        .route(
            "/compare/feeds",
            get(compare::feeds)
                .post(compare::deliver)
                .layer(axum::extract::DefaultBodyLimit::max(crate::api::FEED_LIMIT)),
        )
        .route(
            "/compare/kinds/{kind}/template.xlsx",
            get(crate::api::compare::template),
        )
        .route("/compare/clues", get(compare::clues))
        .route(
            "/compare/clues/export.xlsx",
            get(compare::export).post(compare::export_unmasked),
        )
        .route("/compare/clues/{id}", get(compare::clue))
        .route("/compare/clues/{id}/outcome", post(compare::settle))
        .route("/compare/clues/{id}/warning", post(compare::hand_off))
        .route(
            "/compare/clues/{id}/township",
            post(compare::assign_township),
        )
        .route("/compare/reviews", get(compare::reviews))
        .route("/compare/reviews/{id}/decision", post(compare::decide))
        .route(
            "/compare/rules",
            get(compare::rules).post(compare::save_rules),
        )
        .route("/warnings/{id}", get(roster::warning))
        .route("/warnings/{id}/sign", post(roster::sign))
        .route("/warnings/{id}/verify", post(roster::verify))
        .route("/warnings/{id}/close", post(roster::close))
}

/// What `base.html` needs.
pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
}

pub struct LayoutUser {
    pub display_name: String,
    pub role_label: &'static str,
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

impl Layout {
    pub fn new(title: &str, active: &str, auth: &Auth) -> Layout {
        let p = auth.principal.as_ref().filter(|p| !p.must_change_password);
        let mut nav = Vec::new();
        if let Some(p) = p {
            let role = p.user.role;
            let mut add = |href: &'static str, label: &'static str| {
                nav.push(NavItem {
                    href,
                    label,
                    active: href == active,
                })
            };
            add("/", "工作台");
            add("/departments", "成员单位");
            add("/townships", "乡镇");
            add("/notices", "通知公告");
            add("/monthly", "月度工作");
            add("/roster", "农户名单");
            add("/warnings", "信息预警");
            add("/compare", "信息比对");
            add("/policies", "政策共享");
            if role != liandong_domain::Role::Township {
                add("/rankings", "评分排序");
            }
            if role.is_office() {
                add("/scoring/events", "加减分录入");
            }
            if role.is_office() || role == liandong_domain::Role::Taskforce {
                add("/scoring/evaluations", "评价录入");
            }
            if role.administers() {
                add("/users", "用户管理");
            }
            if role.reads_audit() {
                add("/audit", "操作日志");
                add("/audit/logins", "登录日志");
            }
        }
        Layout {
            title: title.to_owned(),
            user: auth.principal.as_ref().map(|p| LayoutUser {
                display_name: p.user.display_name.clone(),
                role_label: p.user.role.label(),
            }),
            nav,
            csrf: auth.csrf.clone(),
        }
    }
}

/// The townships in use, as (id, name) choices for a form's list.
pub async fn township_choices(st: &AppState) -> AppResult<Vec<(i64, String)>> {
    Ok(st.app.store.active_townships().await?)
}

pub fn render<T: Template>(t: &T) -> AppResult<Response> {
    let html = t.render().map_err(AppError::internal)?;
    Ok(Html(html).into_response())
}

/// A county-time "YYYY-MM-DD HH:MM" for a Unix timestamp.
pub fn fmt_time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            liandong_domain::deadline::county_time(t)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The short confirmation shown after a form was saved (post/redirect/get).
pub fn flash(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "saved" => "已保存。",
        "created" => "已创建。",
        "password" => "密码已修改。",
        "reset" => "密码已重置，用户须在下次登录时修改。",
        "locked" => "账号已锁定。",
        "unlocked" => "账号已解锁。",
        "published" => "通知已发布。",
        "imported" => "导入成功。",
        "pushed" => "预警已推送。",
        "posted" => "政策已发布。",
        "signed" => "已签收。",
        "closed" => "已关账，系统提议的加减分事项列在下方，请逐项确认或否决。",
        _ => return None,
    })
}

/// Form fields as sent by a browser, repeated keys kept (multi-selects).
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_owned()
    }
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, AppError> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| {
                v.parse()
                    .map_err(|_| AppError::invalid(name, format!("“{v}”不是有效的编号")))
            })
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "提交的内容过大",
                )
            })?;
        Ok(FormData(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    heading: &'static str,
    message: String,
    back: String,
}

/// Turns API-shaped errors on page routes into pages: a sign-in redirect, the password
/// change page, or a Chinese error page with a way back.
pub async fn render_errors(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    // The way back is the referring page, if it is one of ours.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest.to_owned()))
        .and_then(|rest| rest.strip_prefix(host.as_str()).map(str::to_owned))
        .filter(|p| !host.is_empty() && p.starts_with('/'))
        .map(|p| session::safe_next(&p))
        .unwrap_or_else(|| "/".into());
    let res = next.run(req).await;
    let Some(detail) = res.extensions().get::<ErrorDetail>().cloned() else {
        return res;
    };
    let auth = res.extensions().get::<Auth>().cloned().unwrap_or_default();
    let status = res.status();
    match detail.code.as_str() {
        "unauthenticated" | "session_expired" => {
            let next = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
            let expired = if detail.code == "session_expired" {
                "&expired=1"
            } else {
                ""
            };
            return Redirect::to(&format!("/login?next={next}{expired}")).into_response();
        }
        "password_change_required" => return Redirect::to("/password").into_response(),
        _ => {}
    }
    let heading = match status {
        StatusCode::NOT_FOUND => "未找到",
        StatusCode::FORBIDDEN => "无权访问",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "填写有误",
        StatusCode::CONFLICT => "操作冲突",
        StatusCode::TOO_MANY_REQUESTS => "请求过于频繁",
        s if s.is_server_error() => "服务器错误",
        _ => "操作失败",
    };
    let page = ErrorPage {
        l: Layout::new(heading, "", &auth),
        heading,
        message: detail.message,
        back,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => res,
    }
}

pub fn principal(auth: &Auth) -> Option<&Principal> {
    auth.principal.as_ref()
}
