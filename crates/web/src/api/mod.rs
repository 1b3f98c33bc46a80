//! The JSON API under `/api/v1` (api.md) and its OpenAPI document, generated from the code.

mod admin;
pub(crate) mod compare;
pub(crate) mod monthly;
pub(crate) mod policies;
mod registry;
pub(crate) mod roster;
pub(crate) mod scoring;
mod session;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route(
            "/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/session/password", put(session::change_password))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route(
            "/users/{id}",
            get(admin::get_user).patch(admin::update_user),
        )
        .route("/users/{id}/password", put(admin::reset_password))
        .route("/users/{id}/lock", put(admin::lock_user))
        .route("/audit", get(admin::audit))
        .route("/audit/logins", get(admin::logins))
        .route("/departments", get(registry::departments))
        .route("/departments/{id}", get(registry::department))
        .route("/departments/{id}/people", put(registry::set_people))
        .route("/departments/{id}/duties", put(registry::set_duties))
        .route(
            "/townships",
            get(registry::townships).post(registry::create_township),
        )
        .route("/townships/{id}", put(registry::update_township))
        .route(
            "/notices",
            get(registry::notices).post(registry::publish_notice),
        )
        .route("/notices/{id}", get(registry::notice))
        .route(
            "/score-events",
            get(scoring::list_events).post(scoring::create_event),
        )
        .route("/score-events/{id}/withdraw", post(scoring::withdraw_event))
        .route(
            "/score-events/import",
            post(scoring::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::pages::scoring::IMPORT_LIMIT,
            )),
        )
        .route(
            "/evaluations/{period}/{department_id}",
            put(scoring::put_evaluation),
        )
        .route("/rankings", get(scoring::rankings))
        .route("/rankings/{period}/submit", post(scoring::submit))
        .route("/rankings/{period}/approve", post(scoring::approve))
        .route("/rankings/{period}/publish", post(scoring::publish))
        .route("/rankings/{period}/acknowledge", post(scoring::acknowledge))
        .route("/rankings/{period}/appeals", get(scoring::appeals))
        .route(
            "/rankings/{period}/bulletin-list",
            get(scoring::bulletin_list),
        )
        .route("/rankings/{period}/flags", post(scoring::flag))
        .route(
            "/score-events/{id}/attachments",
            get(scoring::attachments).post(scoring::attach).layer(
                axum::extract::DefaultBodyLimit::max(crate::pages::scoring::IMPORT_LIMIT),
            ),
        )
        .route("/attachments/{id}", get(scoring::download_attachment))
        .route("/score-events/proposals", get(scoring::proposals))
        .route("/rankings/annual", get(scoring::annual))
        .route("/rankings/{period}/reopen", post(scoring::reopen))
        .route(
            "/score-events/{id}/decision",
            post(scoring::decide_proposal),
        )
        .route("/appeals", post(scoring::file_appeal))
        .route("/appeals/{id}/decision", post(scoring::decide_appeal))
        .route("/rules", get(scoring::rules).post(scoring::add_rules))
        .route("/monthly/{period}", get(monthly::month))
        .route("/monthly/{period}/reports", get(monthly::reports))
        .route(
            "/monthly/{period}/departments/{department_id}/reports/{kind}",
            put(monthly::put_report),
        )
        .route(
            "/monthly/{period}/close-preview",
            get(monthly::close_preview),
        )
        .route("/monthly/{period}/close", post(monthly::close))
        .route(
            "/inspection-plans/{department_id}",
            get(monthly::plans).post(monthly::save_plan),
        )
        .route(
            "/problems",
            get(monthly::problems).post(monthly::create_problem),
        )
        .route(
            "/problems/import",
            post(monthly::import_problems).layer(axum::extract::DefaultBodyLimit::max(
                crate::pages::scoring::IMPORT_LIMIT,
            )),
        )
        .route("/problems/{id}", get(monthly::problem))
        .route("/problems/{id}/rectify", post(monthly::rectify))
        .route("/problems/{id}/close", post(monthly::close_problem))
        .route(
            "/problems/{id}/photos",
            get(monthly::problem_photos)
                .post(monthly::problem_photo)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::pages::scoring::IMPORT_LIMIT,
                )),
        )
        .route(
            "/reports/{id}/photos",
            post(monthly::report_photo).layer(axum::extract::DefaultBodyLimit::max(
                crate::pages::scoring::IMPORT_LIMIT,
            )),
        )
        .route("/township-scores/{period}", get(monthly::township_rankings))
        .route(
            "/township-scores/{period}/{department_id}",
            put(monthly::put_township_scores),
        )
        .route(
            "/meetings",
            get(monthly::meetings).post(monthly::create_meeting),
        )
        .route("/meetings/{id}", get(monthly::meeting))
        .route("/meetings/{id}/record", put(monthly::record_meeting))
        .route("/meetings/{id}/tasks", post(monthly::create_task))
        .route("/tasks/{id}/done", post(monthly::task_done))
        .route(
            "/assignments",
            get(monthly::assignments).post(monthly::create_assignment),
        )
        .route("/assignments/{id}", get(monthly::assignment))
        .route("/assignments/{id}/report", post(monthly::report_assignment))
        .route(
            "/verifications",
            get(monthly::verifications).post(monthly::create_verification),
        )
        .route("/verifications/{id}", get(monthly::verification))
        .route("/verifications/{id}/draw", post(monthly::draw))
        .route(
            "/verifications/{id}/findings",
            post(monthly::create_finding),
        )
        .route(
            "/submissions",
            get(monthly::requirements).post(monthly::create_requirement),
        )
        .route("/submissions/{id}/submit", post(monthly::submit))
        .route("/reminders", get(monthly::reminders))
        .route(
            "/roster/imports",
            post(roster::start_import).layer(axum::extract::DefaultBodyLimit::max(
                crate::pages::roster::ROSTER_LIMIT,
            )),
        )
        .route("/roster/imports/{token}", get(roster::import_job))
        .route(
            "/roster/imports/{token}/confirm",
            post(roster::confirm_import),
        )
        .route("/households", get(roster::households))
        .route("/households/{id}", get(roster::household))
        .route("/households/{id}/stage", post(roster::set_stage))
        .route("/persons/{id}/unmask", post(roster::unmask))
        .route("/warnings", get(roster::list).post(roster::push))
        .route("/warnings/stream", get(roster::stream))
        .route("/warnings/{id}", get(roster::get_one))
        .route("/warnings/{id}/sign", post(roster::sign))
        .route("/warnings/{id}/verify", post(roster::verify))
        .route("/warnings/{id}/close", post(roster::close))
        .route("/policies", get(policies::list).post(policies::create))
        .route("/policies/{id}", get(policies::get_one))
        .route("/policies/{id}/follow-up", put(policies::follow_up))
        .route(
            "/policies/{id}/attachments",
            post(policies::attach).layer(axum::extract::DefaultBodyLimit::max(
                crate::pages::scoring::IMPORT_LIMIT,
            )),
        )
        .route(
            "/warning-routes",
            get(roster::routes).put(roster::set_routes),
        )
        .route("/compare/kinds", get(compare::kinds))
        .route("/compare/kinds/{kind}/template", get(compare::template))
        .route(
            "/compare/feeds",
            get(compare::feeds)
                .post(compare::deliver)
                .layer(axum::extract::DefaultBodyLimit::max(FEED_LIMIT)),
        )
        .route("/compare/ledger", get(compare::ledger))
        .route(
            "/compare/rules",
            get(compare::rules).post(compare::save_rules),
        )
        .route("/compare/runs", get(compare::runs).post(compare::start_run))
        .route("/compare/runs/{id}", get(compare::run))
        .route("/compare/jobs/{token}", get(compare::run_job))
        .route("/clues", get(compare::clues))
        .route(
            "/clues/export.xlsx",
            get(compare::export).post(compare::export_unmasked),
        )
        .route("/clues/{id}", get(compare::clue))
        .route("/clues/{id}/outcome", post(compare::outcome))
        .route("/clues/{id}/warning", post(compare::to_warning))
        .route("/clues/{id}/township", post(compare::assign_township))
        .route("/match-reviews", get(compare::reviews))
        .route("/match-reviews/{id}/decision", post(compare::decide))
}

/// Largest delivery of data for comparison accepted in one request.
pub const FEED_LIMIT: usize = liandong_service::compare::FEED_MAX_BYTES;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database can be read and written.
    status: &'static str,
}

/// Answers 200 when the server can read and write its database.
#[utoipa::path(get, path = "/api/v1/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
async fn health(State(st): State<AppState>) -> Response {
    match st.app.store.health().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            crate::error::AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "数据库不可读写",
            )
            .into_response()
        }
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "liandong API", version = "1", description = "南召县巩固拓展脱贫攻坚成果“5+2”联动平台接口。除登录、健康检查与本文档外，所有接口都需要 `Authorization: Bearer <token>`。"),
    paths(
        health,
        session::sign_in, session::current, session::sign_out, session::change_password,
        admin::list_users, admin::create_user, admin::get_user, admin::update_user, admin::reset_password, admin::lock_user,
        admin::audit, admin::logins,
        registry::departments, registry::department, registry::set_people, registry::set_duties,
        registry::townships, registry::create_township, registry::update_township,
        registry::notices, registry::notice, registry::publish_notice,
        scoring::create_event, scoring::list_events, scoring::withdraw_event, scoring::put_evaluation,
        scoring::rankings, scoring::submit, scoring::approve, scoring::publish, scoring::acknowledge,
        scoring::file_appeal, scoring::appeals, scoring::decide_appeal, scoring::rules, scoring::add_rules, scoring::import, scoring::bulletin_list, scoring::flag, scoring::attach, scoring::attachments, scoring::download_attachment, scoring::proposals, scoring::decide_proposal, scoring::annual, scoring::reopen,
        monthly::month, monthly::reports, monthly::put_report, monthly::close_preview, monthly::close,
        monthly::plans, monthly::save_plan,
        monthly::problems, monthly::create_problem, monthly::problem, monthly::rectify, monthly::close_problem, monthly::import_problems, monthly::problem_photo, monthly::problem_photos, monthly::report_photo,
        monthly::township_rankings, monthly::put_township_scores,
        monthly::meetings, monthly::create_meeting, monthly::meeting, monthly::record_meeting, monthly::create_task, monthly::task_done,
        monthly::assignments, monthly::create_assignment, monthly::assignment, monthly::report_assignment,
        monthly::verifications, monthly::create_verification, monthly::verification, monthly::draw, monthly::create_finding,
        monthly::requirements, monthly::create_requirement, monthly::submit,
        monthly::reminders,
        roster::start_import, roster::import_job, roster::confirm_import,
        roster::households, roster::household, roster::set_stage, roster::unmask,
        roster::push, roster::list, roster::get_one, roster::sign, roster::verify, roster::close,
        roster::routes, roster::set_routes, roster::stream,
        policies::list, policies::create, policies::get_one, policies::follow_up, policies::attach,
        compare::kinds, compare::template, compare::deliver, compare::feeds, compare::ledger, compare::rules, compare::save_rules,
        compare::start_run, compare::run_job, compare::runs, compare::run,
        compare::clues, compare::clue, compare::outcome, compare::to_warning, compare::assign_township, compare::export, compare::export_unmasked,
        compare::reviews, compare::decide,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "system", description = "健康检查"),
        (name = "session", description = "登录与会话"),
        (name = "users", description = "用户管理（联动办公室管理员）"),
        (name = "audit", description = "操作日志与登录日志"),
        (name = "registry", description = "成员单位、乡镇"),
        (name = "notices", description = "通知公告"),
        (name = "monthly", description = "月度工作：自查、问题整改台账、乡镇评分、例会、核查、交办、资料报送、月度关账"),
        (name = "roster", description = "脱贫户和监测对象名单：导入、脱敏与查看、动态监测"),
        (name = "warnings", description = "信息预警：推送、签收、核实、办结，实时推送"),
        (name = "compare", description = "信息比对：数据报送台账、比对规则、比对运行、风险线索核实与转预警、待确认匹配"),
        (name = "policies", description = "政策共享：发布、中文全文检索、月度更新清单、落实情况"),
        (name = "scoring", description = "评分、排序、申诉与审定（附件4《奖优惩后评分细则》）"),
    )
)]
pub struct ApiDoc;
