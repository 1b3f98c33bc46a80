//! The monthly activities in the API: self-inspection plans and reports, the problem ledger,
//! township scores, meetings and tasks, assignments, verifications, required submissions,
//! the month close and each user's reminders.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveDate, NaiveDateTime, Utc};
use liandong_domain::monthly::{
    AssignmentKind, Attendance, FactRef, FindingOutcome, MeetingKind, ProblemStatus, ReportKind,
};
use liandong_domain::scoring::{Points, RuleCode};
use liandong_service::monthly::{FindingTarget, ProblemInput};
use liandong_service::photos::{Photo, PhotoOwner};
use liandong_store::{
    Assignment, AttendanceRecord, Draw, Finding, FollowUpTask, Meeting, MonthlyReport,
    NewAssignment, Problem, ProblemFilter, SubmissionRequirement,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::scoring::{event_dto, parse_month, NameQuery, ScoreEventDto};
use crate::auth::{AnyUser, Office, Require, VerificationTeam, Writer};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::AppState;

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

pub fn parse_date(s: &str, field: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, format!("日期“{s}”格式应为 2023-05-20")))
}

/// A county-time deadline: `2023-05-20` (end of that day) or `2023-05-20T17:00`.
pub fn parse_deadline(s: &str, field: &str) -> Result<NaiveDateTime, AppError> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(23, 59, 59).unwrap_or_default())
        })
        .map_err(|_| {
            AppError::invalid(
                field,
                format!("截止时间“{s}”格式应为 2023-05-20 或 2023-05-20T17:00"),
            )
        })
}

pub fn parse_code<T>(
    s: &str,
    field: &str,
    from: fn(&str) -> Option<T>,
    all: &[T],
    code: fn(&T) -> &'static str,
) -> Result<T, AppError> {
    from(s.trim()).ok_or_else(|| {
        let allowed: Vec<&str> = all.iter().map(code).collect();
        AppError::invalid(
            field,
            format!("“{s}”无效，应为 {} 之一", allowed.join("、")),
        )
    })
}

fn ts(t: Option<i64>) -> Option<String> {
    t.map(crate::pages::fmt_time)
}

// ---- DTOs ----

#[derive(Serialize, ToSchema)]
pub struct ProblemDto {
    id: i64,
    department_id: i64,
    department: String,
    period: String,
    duty_no: i64,
    duty_text: String,
    /// `self` (found by the department) or `verification`
    source: String,
    description: String,
    measure: String,
    responsible: String,
    deadline: String,
    long_term: bool,
    /// `open`, `rectified` (waiting for the office) or `closed` (销号)
    status: String,
    status_label: String,
    evidence: Option<String>,
    rectified_at: Option<String>,
    closed_by: Option<String>,
    closed_at: Option<String>,
    reopened: i64,
}

pub fn problem_dto(p: &Problem) -> ProblemDto {
    ProblemDto {
        id: p.id,
        department_id: p.department_id,
        department: p.department.clone(),
        period: p.month.to_string(),
        duty_no: p.duty_no,
        duty_text: p.duty_text.clone(),
        source: p.source.code().into(),
        description: p.description.clone(),
        measure: p.measure.clone(),
        responsible: p.responsible.clone(),
        deadline: p.deadline.to_string(),
        long_term: p.long_term,
        status: p.status.code().into(),
        status_label: p.status.label().into(),
        evidence: p.evidence.clone(),
        rectified_at: ts(p.rectified_at),
        closed_by: p.closed_by.clone(),
        closed_at: ts(p.closed_at),
        reopened: p.reopened,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReportDto {
    id: i64,
    department_id: i64,
    department: String,
    period: String,
    /// `inspection` (月自查报告) or `summary` (月小结)
    kind: String,
    body: String,
    submitted_by: String,
    submitted_at: String,
    updated_at: String,
}

fn report_dto(r: &MonthlyReport) -> ReportDto {
    ReportDto {
        id: r.id,
        department_id: r.department_id,
        department: r.department.clone(),
        period: r.month.to_string(),
        kind: r.kind.code().into(),
        body: r.body.clone(),
        submitted_by: r.submitted_by.clone(),
        submitted_at: crate::pages::fmt_time(r.submitted_at),
        updated_at: crate::pages::fmt_time(r.updated_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentMonthDto {
    department_id: i64,
    department: String,
    category: String,
    /// `on_time`, `late`, `missing` or `not_yet_due`
    inspection: String,
    inspection_label: String,
    summary_submitted: bool,
    problems: usize,
    open_problems: usize,
    /// Close-type departments: townships scored.
    townships_scored: Option<usize>,
    townships_total: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct MonthDto {
    period: String,
    /// When the self-inspection reports are due (county time).
    report_due: String,
    closed: bool,
    closed_by: Option<String>,
    departments: Vec<DepartmentMonthDto>,
}

fn submission_code(s: liandong_domain::deadline::Submission) -> &'static str {
    use liandong_domain::deadline::Submission::*;
    match s {
        OnTime => "on_time",
        Late => "late",
        Missing => "missing",
        NotYetDue => "not_yet_due",
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProposalDto {
    department_id: i64,
    department: String,
    rule: String,
    rule_label: String,
    #[schema(value_type = f64)]
    points: Points,
    /// The fact it rests on, e.g. `problem:17`, and the page that shows it.
    fact: String,
    fact_url: String,
    note: String,
}

#[derive(Serialize, ToSchema)]
pub struct TownshipRankDto {
    township_id: i64,
    township: String,
    #[schema(value_type = f64)]
    score: Decimal,
    rank: u32,
}

#[derive(Serialize, ToSchema)]
pub struct TownshipRankingDto {
    department_id: i64,
    department: String,
    rows: Vec<TownshipRankDto>,
}

#[derive(Serialize, ToSchema)]
pub struct AttendanceDto {
    department_id: i64,
    department: String,
    /// `present`, `absent` or `improper`
    attendance: String,
    note: String,
}

fn attendance_dto(a: &AttendanceRecord) -> AttendanceDto {
    AttendanceDto {
        department_id: a.department_id,
        department: a.department.clone(),
        attendance: a.attendance.code().into(),
        note: a.note.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct TaskDto {
    id: i64,
    meeting_id: i64,
    department_id: i64,
    department: String,
    title: String,
    due_on: String,
    /// `open` or `done`
    status: String,
    result: Option<String>,
}

fn task_dto(t: &FollowUpTask) -> TaskDto {
    TaskDto {
        id: t.id,
        meeting_id: t.meeting_id,
        department_id: t.department_id,
        department: t.department.clone(),
        title: t.title.clone(),
        due_on: t.due_on.to_string(),
        status: t.status.code().into(),
        result: t.result.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeetingDto {
    id: i64,
    period: String,
    /// `exchange` (交流会), `progress` (推进会) or `observation` (观摩会)
    kind: String,
    held_on: String,
    title: String,
    agenda: String,
    minutes: String,
    attendance: Vec<AttendanceDto>,
    tasks: Vec<TaskDto>,
}

fn meeting_dto(m: &Meeting, attendance: &[AttendanceRecord], tasks: &[FollowUpTask]) -> MeetingDto {
    MeetingDto {
        id: m.id,
        period: m.month.to_string(),
        kind: m.kind.code().into(),
        held_on: m.held_on.to_string(),
        title: m.title.clone(),
        agenda: m.agenda.clone(),
        minutes: m.minutes.clone(),
        attendance: attendance.iter().map(attendance_dto).collect(),
        tasks: tasks.iter().map(task_dto).collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentDto {
    id: i64,
    /// `assigned` (交办问题), `petition` (信访件) or `opinion` (舆情件)
    kind: String,
    department_id: i64,
    department: String,
    title: String,
    detail: String,
    deadline: String,
    /// `open`, `reported` (waiting for verification) or `confirmed`
    status: String,
    status_label: String,
    report: Option<String>,
    reported_at: Option<String>,
    confirmed_at: Option<String>,
}

fn assignment_dto(a: &Assignment) -> AssignmentDto {
    AssignmentDto {
        id: a.id,
        kind: a.kind.code().into(),
        department_id: a.department_id,
        department: a.department.clone(),
        title: a.title.clone(),
        detail: a.detail.clone(),
        deadline: a.deadline.to_string(),
        status: a.status.code().into(),
        status_label: a.status.label().into(),
        report: a.report.clone(),
        reported_at: ts(a.reported_at),
        confirmed_at: ts(a.confirmed_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DrawDto {
    id: i64,
    /// The seed the draw was made with: the same seed gives the same sample.
    seed: String,
    departments: Vec<i64>,
    problems: Vec<i64>,
    drawn_by: String,
    drawn_at: String,
}

fn draw_dto(d: &Draw) -> DrawDto {
    DrawDto {
        id: d.id,
        seed: d.seed.clone(),
        departments: d.departments.clone(),
        problems: d.problems.clone(),
        drawn_by: d.drawn_by.clone(),
        drawn_at: crate::pages::fmt_time(d.drawn_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct FindingDto {
    id: i64,
    department_id: i64,
    department: String,
    problem_id: Option<i64>,
    assignment_id: Option<i64>,
    /// `rectified`, `unrectified`, `new_problem` or `other`
    outcome: String,
    rule: Option<String>,
    description: String,
    evidence: String,
    /// The score event the finding proposed.
    event_id: Option<i64>,
}

fn finding_dto(f: &Finding) -> FindingDto {
    FindingDto {
        id: f.id,
        department_id: f.department_id,
        department: f.department.clone(),
        problem_id: f.problem_id,
        assignment_id: f.assignment_id,
        outcome: f.outcome.code().into(),
        rule: f.rule.map(|r| r.code().into()),
        description: f.description.clone(),
        evidence: f.evidence.clone(),
        event_id: f.event_id,
    }
}

#[derive(Serialize, ToSchema)]
pub struct VerificationDto {
    id: i64,
    period: String,
    team: String,
    note: String,
    /// Every draw, the one in force first.
    draws: Vec<DrawDto>,
    findings: Vec<FindingDto>,
}

#[derive(Serialize, ToSchema)]
pub struct SubmissionTargetDto {
    department_id: i64,
    department: String,
    /// `on_time`, `late`, `missing` or `not_yet_due`
    state: String,
    submitted_at: Option<String>,
    note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequirementDto {
    id: i64,
    title: String,
    detail: String,
    due: String,
    targets: Vec<SubmissionTargetDto>,
}

fn requirement_dto(r: &SubmissionRequirement) -> RequirementDto {
    RequirementDto {
        id: r.id,
        title: r.title.clone(),
        detail: r.detail.clone(),
        due: crate::pages::fmt_time(r.due_at),
        targets: r
            .targets
            .iter()
            .map(|t| SubmissionTargetDto {
                department_id: t.department_id,
                department: t.department.clone(),
                state: submission_code(liandong_service::App::submission_state(
                    r.due_at,
                    t.submitted_at,
                    now(),
                ))
                .into(),
                submitted_at: ts(t.submitted_at),
                note: t.note.clone(),
            })
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct PhotoDto {
    id: i64,
    file_name: String,
    url: String,
    thumbnail_url: Option<String>,
}

fn photo_dto(p: &Photo) -> PhotoDto {
    PhotoDto {
        id: p.image.id,
        file_name: p.image.file_name.clone(),
        url: format!("/api/v1/attachments/{}", p.image.id),
        thumbnail_url: p.thumb_id.map(|t| format!("/api/v1/attachments/{t}")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReminderDto {
    what: String,
    url: String,
    due: String,
    /// `ok`, `soon` or `overdue`
    urgency: String,
}

// ---- the month ----

/// Every department's month in scope: self-inspection report on time, late or missing;
/// problems; township scores.
#[utoipa::path(get, path = "/api/v1/monthly/{period}", tag = "monthly", responses((status = 200, body = MonthDto)))]
pub async fn month(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Json<MonthDto>> {
    let m = parse_month(&period, "period")?;
    let status = st
        .app
        .month_status(&u.principal().scope(), m, now())
        .await?;
    let closed = st.app.store.month_closed(m).await?;
    Ok(Json(MonthDto {
        period: m.to_string(),
        report_due: st.app.report_due(m).format("%Y-%m-%d %H:%M").to_string(),
        closed: closed.is_some(),
        closed_by: closed.map(|c| c.closed_by),
        departments: status
            .iter()
            .map(|s| DepartmentMonthDto {
                department_id: s.department.id,
                department: s.department.name.clone(),
                category: s.department.category.code().into(),
                inspection: submission_code(s.inspection_state).into(),
                inspection_label: s.inspection_state.label().into(),
                summary_submitted: s.summary.is_some(),
                problems: s.problems,
                open_problems: s.open_problems,
                townships_scored: s.townships_scored.map(|x| x.0),
                townships_total: s.townships_scored.map(|x| x.1),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReportRequest {
    body: String,
}

/// Submits or revises a department's self-inspection report (`inspection`) or monthly
/// summary (`summary`); the first submission decides whether it was on time.
#[utoipa::path(put, path = "/api/v1/monthly/{period}/departments/{department_id}/reports/{kind}", tag = "monthly",
    request_body = ReportRequest, responses((status = 200, body = ReportDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn put_report(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path((period, department_id, kind)): Path<(String, i64, String)>,
    AppJson(req): AppJson<ReportRequest>,
) -> AppResult<Json<ReportDto>> {
    let m = parse_month(&period, "period")?;
    let kind = parse_code(&kind, "kind", ReportKind::from_code, ReportKind::ALL, |k| {
        k.code()
    })?;
    let r = st
        .app
        .save_report(u.principal(), department_id, m, kind, &req.body, now())
        .await?;
    Ok(Json(report_dto(&r)))
}

/// The reports of a month in scope.
#[utoipa::path(get, path = "/api/v1/monthly/{period}/reports", tag = "monthly", responses((status = 200, body = [ReportDto])))]
pub async fn reports(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Json<Vec<ReportDto>>> {
    let m = parse_month(&period, "period")?;
    let list = st
        .app
        .store
        .monthly_reports(&u.principal().scope(), m)
        .await?;
    Ok(Json(list.iter().map(report_dto).collect()))
}

/// What closing the month would propose now (nothing is written).
#[utoipa::path(get, path = "/api/v1/monthly/{period}/close-preview", tag = "monthly", responses((status = 200, body = [ProposalDto])))]
pub async fn close_preview(
    State(st): State<AppState>,
    _u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Json<Vec<ProposalDto>>> {
    let m = parse_month(&period, "period")?;
    let list = st.app.month_close_preview(m).await?;
    Ok(Json(
        list.iter()
            .map(|p| ProposalDto {
                department_id: p.event.department_id,
                department: p.department.clone(),
                rule: p.event.rule.code().into(),
                rule_label: p.event.rule.label().into(),
                points: p.event.points,
                fact: p.proposal.fact.to_string(),
                fact_url: p.proposal.fact.href(),
                note: p.proposal.note.clone(),
            })
            .collect(),
    ))
}

/// Closes the month (after its report deadline): proposes every automatic score event from
/// the month's facts, each waiting for the office to confirm or reject it. Closed once.
#[utoipa::path(post, path = "/api/v1/monthly/{period}/close", tag = "monthly",
    responses((status = 201, body = [ScoreEventDto]), (status = 409, body = crate::error::ErrorBody)))]
pub async fn close(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<(StatusCode, Json<Vec<ScoreEventDto>>)> {
    let m = parse_month(&period, "period")?;
    let events = st.app.close_month(&u.principal().actor(), m, now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(events.iter().map(event_dto).collect()),
    ))
}

// ---- plans ----

#[derive(Serialize, ToSchema)]
pub struct PlanDto {
    id: i64,
    department_id: i64,
    title: String,
    body: String,
    saved_by: String,
    saved_at: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PlanRequest {
    title: String,
    body: String,
}

/// The versions of a close-type department's 自查方案和评分细则, newest first.
#[utoipa::path(get, path = "/api/v1/inspection-plans/{department_id}", tag = "monthly", responses((status = 200, body = [PlanDto])))]
pub async fn plans(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(department_id): Path<i64>,
) -> AppResult<Json<Vec<PlanDto>>> {
    let list = st.app.store.inspection_plans(department_id).await?;
    Ok(Json(
        list.into_iter()
            .map(|p| PlanDto {
                id: p.id,
                department_id: p.department_id,
                title: p.title,
                body: p.body,
                saved_by: p.saved_by,
                saved_at: crate::pages::fmt_time(p.saved_at),
            })
            .collect(),
    ))
}

/// Saves a new version of the department's plan.
#[utoipa::path(post, path = "/api/v1/inspection-plans/{department_id}", tag = "monthly", request_body = PlanRequest,
    responses((status = 201, body = PlanDto)))]
pub async fn save_plan(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(department_id): Path<i64>,
    AppJson(req): AppJson<PlanRequest>,
) -> AppResult<(StatusCode, Json<PlanDto>)> {
    let p = st
        .app
        .save_plan(u.principal(), department_id, &req.title, &req.body, now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PlanDto {
            id: p.id,
            department_id: p.department_id,
            title: p.title,
            body: p.body,
            saved_by: p.saved_by,
            saved_at: crate::pages::fmt_time(p.saved_at),
        }),
    ))
}

// ---- problems ----

#[derive(Deserialize, IntoParams)]
pub struct ProblemQuery {
    department_id: Option<i64>,
    /// The month the problems were found, e.g. `2023-04`.
    period: Option<String>,
    /// `open`, `rectified` or `closed`
    status: Option<String>,
}

pub fn problem_filter(
    department_id: Option<i64>,
    period: Option<&str>,
    status: Option<&str>,
) -> Result<ProblemFilter, AppError> {
    Ok(ProblemFilter {
        department_id,
        month: period
            .filter(|s| !s.is_empty())
            .map(|s| parse_month(s, "period"))
            .transpose()?,
        status: status
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_code(
                    s,
                    "status",
                    ProblemStatus::from_code,
                    ProblemStatus::ALL,
                    |x| x.code(),
                )
            })
            .transpose()?,
    })
}

/// The problem list and rectification ledger in scope.
#[utoipa::path(get, path = "/api/v1/problems", tag = "monthly", params(ProblemQuery), responses((status = 200, body = [ProblemDto])))]
pub async fn problems(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ProblemQuery>,
) -> AppResult<Json<Vec<ProblemDto>>> {
    let f = problem_filter(q.department_id, q.period.as_deref(), q.status.as_deref())?;
    let list = st.app.problems_for(u.principal(), &f).await?;
    Ok(Json(list.iter().map(problem_dto).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewProblemRequest {
    department_id: i64,
    /// The month it was found, e.g. `2023-04`.
    period: String,
    /// The number of the duty in the department's duty list.
    duty_no: i64,
    description: String,
    /// 整改措施
    measure: String,
    /// 责任人
    responsible: String,
    /// 整改时限, e.g. `2023-05-20`.
    deadline: String,
    /// 需长期整改
    #[serde(default)]
    long_term: bool,
}

/// Adds a problem a department found in its self-inspection.
#[utoipa::path(post, path = "/api/v1/problems", tag = "monthly", request_body = NewProblemRequest,
    responses((status = 201, body = ProblemDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_problem(
    State(st): State<AppState>,
    u: Require<Writer>,
    AppJson(req): AppJson<NewProblemRequest>,
) -> AppResult<(StatusCode, Json<ProblemDto>)> {
    let input = ProblemInput {
        department_id: req.department_id,
        month: parse_month(&req.period, "period")?,
        duty_no: req.duty_no,
        description: req.description,
        measure: req.measure,
        responsible: req.responsible,
        deadline: parse_date(&req.deadline, "deadline")?,
        long_term: req.long_term,
    };
    let p = st.app.add_problem(u.principal(), input, now()).await?;
    Ok((StatusCode::CREATED, Json(problem_dto(&p))))
}

#[utoipa::path(get, path = "/api/v1/problems/{id}", tag = "monthly", responses((status = 200, body = ProblemDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn problem(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<ProblemDto>> {
    Ok(Json(problem_dto(
        &st.app.problem_for(u.principal(), id).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct RectifyRequest {
    /// What was done, with the closing evidence (整改佐证).
    evidence: String,
}

/// The department reports the problem rectified; the office then closes it.
#[utoipa::path(post, path = "/api/v1/problems/{id}/rectify", tag = "monthly", request_body = RectifyRequest,
    responses((status = 200, body = ProblemDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn rectify(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<RectifyRequest>,
) -> AppResult<Json<ProblemDto>> {
    let p = st
        .app
        .rectify_problem(u.principal(), id, &req.evidence, now())
        .await?;
    Ok(Json(problem_dto(&p)))
}

/// The office closes (销号) a rectified problem; departments cannot.
#[utoipa::path(post, path = "/api/v1/problems/{id}/close", tag = "monthly",
    responses((status = 200, body = ProblemDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn close_problem(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<Json<ProblemDto>> {
    let p = st.app.close_problem(u.principal(), id, now()).await?;
    Ok(Json(problem_dto(&p)))
}

/// Imports a problem list from an .xlsx (the body, as uploaded): all rows or none; 422 lists
/// every error by row and column.
#[utoipa::path(post, path = "/api/v1/problems/import", tag = "monthly",
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses((status = 201, body = super::scoring::ImportResult), (status = 200, description = "同一文件已导入过", body = super::scoring::ImportResult), (status = 422, body = crate::error::ErrorBody)))]
pub async fn import_problems(
    State(st): State<AppState>,
    u: Require<Writer>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<super::scoring::ImportResult>)> {
    let outcome = st.app.import_problems(u.principal(), &body, now()).await?;
    super::scoring::import_answer(outcome)
}

/// Adds a photo (JPEG, PNG or WebP, judged by content, at most 10 MB) to a problem; its
/// metadata (EXIF location included) is removed and a thumbnail made.
#[utoipa::path(post, path = "/api/v1/problems/{id}/photos", tag = "monthly", params(NameQuery),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = PhotoDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn problem_photo(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    Query(q): Query<NameQuery>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<PhotoDto>)> {
    let p = st
        .app
        .add_photo(
            u.principal(),
            PhotoOwner::Problem(id),
            &q.name,
            &body,
            now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(photo_dto(&p))))
}

/// The photos of a problem.
#[utoipa::path(get, path = "/api/v1/problems/{id}/photos", tag = "monthly", responses((status = 200, body = [PhotoDto])))]
pub async fn problem_photos(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<PhotoDto>>> {
    st.app.problem_for(u.principal(), id).await?;
    let list = st.app.photos(PhotoOwner::Problem(id)).await?;
    Ok(Json(list.iter().map(photo_dto).collect()))
}

/// Adds a photo to a monthly report.
#[utoipa::path(post, path = "/api/v1/reports/{id}/photos", tag = "monthly", params(NameQuery),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = PhotoDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn report_photo(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    Query(q): Query<NameQuery>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<PhotoDto>)> {
    let p = st
        .app
        .add_photo(u.principal(), PhotoOwner::Report(id), &q.name, &body, now())
        .await?;
    Ok((StatusCode::CREATED, Json(photo_dto(&p))))
}

// ---- township scores ----

#[derive(Deserialize, ToSchema)]
pub struct TownshipScoreItem {
    township_id: i64,
    #[schema(value_type = f64)]
    score: Decimal,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TownshipScoresRequest {
    scores: Vec<TownshipScoreItem>,
}

/// Replaces a close-type department's township scores of a month (0–100).
#[utoipa::path(put, path = "/api/v1/township-scores/{period}/{department_id}", tag = "monthly",
    request_body = TownshipScoresRequest, responses((status = 200, body = [TownshipRankingDto]), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_township_scores(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path((period, department_id)): Path<(String, i64)>,
    AppJson(req): AppJson<TownshipScoresRequest>,
) -> AppResult<Json<Vec<TownshipRankingDto>>> {
    let m = parse_month(&period, "period")?;
    let scores: Vec<(i64, Decimal, String)> = req
        .scores
        .into_iter()
        .map(|s| (s.township_id, s.score, s.note))
        .collect();
    st.app
        .save_township_scores(u.principal(), department_id, m, &scores, now())
        .await?;
    township_rankings_of(&st, m, Some(department_id))
        .await
        .map(Json)
}

async fn township_rankings_of(
    st: &AppState,
    m: liandong_domain::Month,
    only: Option<i64>,
) -> AppResult<Vec<TownshipRankingDto>> {
    Ok(st
        .app
        .township_rankings(m)
        .await?
        .into_iter()
        .filter(|(d, _)| only.is_none_or(|o| o == d.id))
        .map(|(d, rows)| TownshipRankingDto {
            department_id: d.id,
            department: d.name,
            rows: rows
                .into_iter()
                .map(|r| TownshipRankDto {
                    township_id: r.township_id,
                    township: r.township,
                    score: r.score,
                    rank: r.rank,
                })
                .collect(),
        })
        .collect())
}

/// Each close-type department's township ranking of a month; open to townships too.
#[utoipa::path(get, path = "/api/v1/township-scores/{period}", tag = "monthly", responses((status = 200, body = [TownshipRankingDto])))]
pub async fn township_rankings(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Json<Vec<TownshipRankingDto>>> {
    let m = parse_month(&period, "period")?;
    township_rankings_of(&st, m, None).await.map(Json)
}

// ---- meetings ----

#[derive(Deserialize, ToSchema)]
pub struct NewMeetingRequest {
    /// `exchange` (交流会), `progress` (推进会) or `observation` (观摩会)
    kind: String,
    held_on: String,
    title: String,
    #[serde(default)]
    agenda: String,
}

fn meeting_kind(s: &str) -> Result<MeetingKind, AppError> {
    parse_code(s, "kind", MeetingKind::from_code, MeetingKind::ALL, |k| {
        k.code()
    })
}

/// The office's meetings, newest first.
#[utoipa::path(get, path = "/api/v1/meetings", tag = "monthly", responses((status = 200, body = [MeetingDto])))]
pub async fn meetings(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<MeetingDto>>> {
    let scope = u.principal().scope();
    let mut out = Vec::new();
    for m in st.app.store.meetings(None).await? {
        out.push(meeting_of(&st, &scope, m.id).await?);
    }
    Ok(Json(out))
}

/// Schedules a meeting (office).
#[utoipa::path(post, path = "/api/v1/meetings", tag = "monthly", request_body = NewMeetingRequest, responses((status = 201, body = MeetingDto)))]
pub async fn create_meeting(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<NewMeetingRequest>,
) -> AppResult<(StatusCode, Json<MeetingDto>)> {
    let m = st
        .app
        .create_meeting(
            &u.principal().actor(),
            meeting_kind(&req.kind)?,
            parse_date(&req.held_on, "held_on")?,
            &req.title,
            &req.agenda,
            now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(meeting_dto(&m, &[], &[]))))
}

async fn meeting_of(
    st: &AppState,
    scope: &liandong_store::Scope,
    id: i64,
) -> AppResult<MeetingDto> {
    let m = st.app.store.meeting(id).await?;
    let att: Vec<AttendanceRecord> = st
        .app
        .store
        .attendance(id)
        .await?
        .into_iter()
        .filter(|a| scope.allows(a.department_id))
        .collect();
    let tasks = st.app.store.tasks(scope, Some(id)).await?;
    Ok(meeting_dto(&m, &att, &tasks))
}

/// A meeting with the attendance and tasks in scope.
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "monthly", responses((status = 200, body = MeetingDto)))]
pub async fn meeting(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<MeetingDto>> {
    Ok(Json(meeting_of(&st, &u.principal().scope(), id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct AttendanceItem {
    department_id: i64,
    /// `present`, `absent` (缺席) or `improper` (未按要求参会)
    attendance: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RecordMeetingRequest {
    #[serde(default)]
    minutes: String,
    attendance: Vec<AttendanceItem>,
}

/// Records a meeting's minutes and attendance (office).
#[utoipa::path(put, path = "/api/v1/meetings/{id}/record", tag = "monthly", request_body = RecordMeetingRequest, responses((status = 200, body = MeetingDto)))]
pub async fn record_meeting(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<RecordMeetingRequest>,
) -> AppResult<Json<MeetingDto>> {
    let att = req
        .attendance
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Ok((
                a.department_id,
                parse_code(
                    &a.attendance,
                    &format!("attendance[{i}].attendance"),
                    Attendance::from_code,
                    Attendance::ALL,
                    |x| x.code(),
                )?,
                a.note.clone(),
            ))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    st.app
        .record_meeting(&u.principal().actor(), id, &req.minutes, &att, now())
        .await?;
    Ok(Json(meeting_of(&st, &u.principal().scope(), id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewTaskRequest {
    department_id: i64,
    title: String,
    due_on: String,
}

/// Turns a meeting decision into a follow-up task for a department (office).
#[utoipa::path(post, path = "/api/v1/meetings/{id}/tasks", tag = "monthly", request_body = NewTaskRequest, responses((status = 201, body = TaskDto)))]
pub async fn create_task(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<NewTaskRequest>,
) -> AppResult<(StatusCode, Json<TaskDto>)> {
    let t = st
        .app
        .add_task(
            &u.principal().actor(),
            id,
            req.department_id,
            &req.title,
            parse_date(&req.due_on, "due_on")?,
            now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(task_dto(&t))))
}

#[derive(Deserialize, ToSchema)]
pub struct TaskDoneRequest {
    result: String,
}

/// The department reports a task done.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/done", tag = "monthly", request_body = TaskDoneRequest, responses((status = 200, body = TaskDto)))]
pub async fn task_done(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<TaskDoneRequest>,
) -> AppResult<Json<TaskDto>> {
    let t = st
        .app
        .complete_task(u.principal(), id, &req.result, now())
        .await?;
    Ok(Json(task_dto(&t)))
}

// ---- assignments ----

#[derive(Deserialize, ToSchema)]
pub struct NewAssignmentRequest {
    /// `assigned` (交办问题), `petition` (信访件) or `opinion` (舆情件)
    kind: String,
    department_id: i64,
    title: String,
    #[serde(default)]
    detail: String,
    deadline: String,
}

/// Assignments in scope, open ones first.
#[utoipa::path(get, path = "/api/v1/assignments", tag = "monthly", responses((status = 200, body = [AssignmentDto])))]
pub async fn assignments(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<AssignmentDto>>> {
    let list = st.app.store.assignments(&u.principal().scope()).await?;
    Ok(Json(list.iter().map(assignment_dto).collect()))
}

/// Hands a problem, petition or opinion incident to a department (office).
#[utoipa::path(post, path = "/api/v1/assignments", tag = "monthly", request_body = NewAssignmentRequest, responses((status = 201, body = AssignmentDto)))]
pub async fn create_assignment(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<NewAssignmentRequest>,
) -> AppResult<(StatusCode, Json<AssignmentDto>)> {
    let a = NewAssignment {
        kind: parse_code(
            &req.kind,
            "kind",
            AssignmentKind::from_code,
            AssignmentKind::ALL,
            |k| k.code(),
        )?,
        department_id: req.department_id,
        title: req.title,
        detail: req.detail,
        deadline: parse_date(&req.deadline, "deadline")?,
    };
    let a = st
        .app
        .create_assignment(&u.principal().actor(), a, now())
        .await?;
    Ok((StatusCode::CREATED, Json(assignment_dto(&a))))
}

#[utoipa::path(get, path = "/api/v1/assignments/{id}", tag = "monthly", responses((status = 200, body = AssignmentDto)))]
pub async fn assignment(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<AssignmentDto>> {
    Ok(Json(assignment_dto(
        &st.app.assignment_for(u.principal(), id).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct AssignmentReportRequest {
    report: String,
}

/// The department reports the assignment rectified; verification confirms it or finds it open.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/report", tag = "monthly", request_body = AssignmentReportRequest, responses((status = 200, body = AssignmentDto)))]
pub async fn report_assignment(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<AssignmentReportRequest>,
) -> AppResult<Json<AssignmentDto>> {
    let a = st
        .app
        .report_assignment(u.principal(), id, &req.report, now())
        .await?;
    Ok(Json(assignment_dto(&a)))
}

// ---- verification ----

#[derive(Deserialize, ToSchema)]
pub struct NewVerificationRequest {
    period: String,
    /// The team's members.
    team: String,
    #[serde(default)]
    note: String,
}

async fn verification_dto(st: &AppState, id: i64) -> AppResult<VerificationDto> {
    let v = st.app.store.verification(id).await?;
    let draws = st.app.store.draws(id).await?;
    let findings = st
        .app
        .store
        .findings(Some(id), &liandong_store::Scope::All)
        .await?;
    Ok(VerificationDto {
        id: v.id,
        period: v.month.to_string(),
        team: v.team,
        note: v.note,
        draws: draws.iter().map(draw_dto).collect(),
        findings: findings.iter().map(finding_dto).collect(),
    })
}

/// Verifications, newest first (office and verification team).
#[utoipa::path(get, path = "/api/v1/verifications", tag = "monthly", responses((status = 200, body = [VerificationDto])))]
pub async fn verifications(
    State(st): State<AppState>,
    _u: Require<VerificationTeam>,
) -> AppResult<Json<Vec<VerificationDto>>> {
    let mut out = Vec::new();
    for v in st.app.store.verifications().await? {
        out.push(verification_dto(&st, v.id).await?);
    }
    Ok(Json(out))
}

/// Forms a verification team for a month (office).
#[utoipa::path(post, path = "/api/v1/verifications", tag = "monthly", request_body = NewVerificationRequest, responses((status = 201, body = VerificationDto)))]
pub async fn create_verification(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<NewVerificationRequest>,
) -> AppResult<(StatusCode, Json<VerificationDto>)> {
    let m = parse_month(&req.period, "period")?;
    let team = liandong_service::monthly::required("team", "核查组成员", &req.team, 500)?;
    let v = st
        .app
        .store
        .create_verification(
            &u.principal().actor(),
            now().timestamp(),
            m,
            &team,
            req.note.trim(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(verification_dto(&st, v.id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/verifications/{id}", tag = "monthly", responses((status = 200, body = VerificationDto)))]
pub async fn verification(
    State(st): State<AppState>,
    _u: Require<VerificationTeam>,
    Path(id): Path<i64>,
) -> AppResult<Json<VerificationDto>> {
    Ok(Json(verification_dto(&st, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct DrawRequest {
    /// How many departments to spot-check.
    departments: usize,
    /// How many ledger problems of each drawn department.
    #[serde(default = "three")]
    problems: usize,
}

fn three() -> usize {
    3
}

/// Draws (or re-draws) the sample at random; every draw is recorded with its seed.
#[utoipa::path(post, path = "/api/v1/verifications/{id}/draw", tag = "monthly", request_body = DrawRequest, responses((status = 201, body = DrawDto)))]
pub async fn draw(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<DrawRequest>,
) -> AppResult<(StatusCode, Json<DrawDto>)> {
    let d = st
        .app
        .draw_sample(
            &u.principal().actor(),
            id,
            req.departments,
            req.problems,
            now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(draw_dto(&d))))
}

#[derive(Deserialize, ToSchema)]
pub struct FindingRequest {
    department_id: i64,
    /// `rectified`, `unrectified`, `new_problem` or `other`
    outcome: String,
    problem_id: Option<i64>,
    assignment_id: Option<i64>,
    /// For a new problem: its duty number and deadline.
    duty_no: Option<i64>,
    deadline: Option<String>,
    #[serde(default)]
    long_term: bool,
    /// A rule code to propose; defaults to the rule the outcome implies.
    rule: Option<String>,
    description: String,
    #[serde(default)]
    evidence: String,
}

/// Records a finding: problems or assignments found open are reopened and their deduction
/// proposed; assignments found rectified are confirmed; new problems enter the ledger.
#[utoipa::path(post, path = "/api/v1/verifications/{id}/findings", tag = "monthly", request_body = FindingRequest,
    responses((status = 201, body = FindingDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_finding(
    State(st): State<AppState>,
    u: Require<VerificationTeam>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<FindingRequest>,
) -> AppResult<(StatusCode, Json<FindingDto>)> {
    let f = record_finding(&st, &u.principal().actor(), id, req).await?;
    Ok((StatusCode::CREATED, Json(finding_dto(&f))))
}

/// Shared by the API and the page: parses a finding and records it.
pub async fn record_finding(
    st: &AppState,
    actor: &liandong_store::Actor,
    id: i64,
    req: FindingRequest,
) -> AppResult<Finding> {
    let outcome = parse_code(
        &req.outcome,
        "outcome",
        FindingOutcome::from_code,
        FindingOutcome::ALL,
        |x| x.code(),
    )?;
    let target = match (req.problem_id, req.assignment_id, outcome) {
        (_, _, FindingOutcome::NewProblem) => FindingTarget::NewProblem {
            duty_no: req
                .duty_no
                .ok_or_else(|| AppError::invalid("duty_no", "发现新问题须填写职责序号"))?,
            deadline: parse_date(req.deadline.as_deref().unwrap_or(""), "deadline")?,
            long_term: req.long_term,
        },
        (Some(p), None, _) => FindingTarget::Problem(p),
        (None, Some(a), _) => FindingTarget::Assignment(a),
        (None, None, _) => FindingTarget::None,
        (Some(_), Some(_), _) => {
            return Err(AppError::invalid(
                "assignment_id",
                "一条核查发现只能针对一个问题或一个交办事项",
            ))
        }
    };
    let rule = req
        .rule
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<RuleCode>()
                .map_err(|_| AppError::invalid("rule", format!("“{s}”不是评分细则中的代码")))
        })
        .transpose()?;
    Ok(st
        .app
        .record_finding(
            actor,
            id,
            req.department_id,
            target,
            outcome,
            rule,
            &req.description,
            &req.evidence,
            now(),
        )
        .await?)
}

impl FindingRequest {
    /// A finding from form fields (the page posts the same names as the API).
    pub fn from_form(f: &crate::pages::FormData) -> Result<FindingRequest, AppError> {
        let int = |name: &str| -> Result<Option<i64>, AppError> {
            match f.text(name).as_str() {
                "" => Ok(None),
                s => s
                    .parse()
                    .map(Some)
                    .map_err(|_| AppError::invalid(name, format!("“{s}”不是有效的编号"))),
            }
        };
        Ok(FindingRequest {
            department_id: int("department_id")?
                .ok_or_else(|| AppError::invalid("department_id", "请选择被核查单位"))?,
            outcome: f.text("outcome"),
            problem_id: int("problem_id")?,
            assignment_id: int("assignment_id")?,
            duty_no: int("duty_no")?,
            deadline: Some(f.text("deadline")).filter(|s| !s.is_empty()),
            long_term: f.get("long_term") == Some("1"),
            rule: Some(f.text("rule")).filter(|s| !s.is_empty()),
            description: f.text("description"),
            evidence: f.text("evidence"),
        })
    }
}

// ---- required submissions ----

#[derive(Deserialize, ToSchema)]
pub struct NewRequirementRequest {
    title: String,
    #[serde(default)]
    detail: String,
    /// County time: `2023-05-20` (end of day) or `2023-05-20T17:00`.
    due: String,
    /// Departments that must submit; empty means all 26.
    #[serde(default)]
    departments: Vec<i64>,
}

/// Required submissions in scope, with each department's state.
#[utoipa::path(get, path = "/api/v1/submissions", tag = "monthly", responses((status = 200, body = [RequirementDto])))]
pub async fn requirements(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<RequirementDto>>> {
    let list = st.app.store.requirements(&u.principal().scope()).await?;
    Ok(Json(list.iter().map(requirement_dto).collect()))
}

/// Defines what must be submitted by when (office).
#[utoipa::path(post, path = "/api/v1/submissions", tag = "monthly", request_body = NewRequirementRequest, responses((status = 201, body = RequirementDto)))]
pub async fn create_requirement(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<NewRequirementRequest>,
) -> AppResult<(StatusCode, Json<RequirementDto>)> {
    let due = parse_deadline(&req.due, "due")?;
    let id = st
        .app
        .create_requirement(
            &u.principal().actor(),
            &req.title,
            &req.detail,
            due,
            &req.departments,
            now(),
        )
        .await?;
    let r = st
        .app
        .store
        .requirement(&liandong_store::Scope::All, id)
        .await?;
    Ok((StatusCode::CREATED, Json(requirement_dto(&r))))
}

#[derive(Deserialize, ToSchema)]
pub struct SubmitRequest {
    department_id: i64,
    #[serde(default)]
    note: String,
}

/// A department submits its part of a requirement.
#[utoipa::path(post, path = "/api/v1/submissions/{id}/submit", tag = "monthly", request_body = SubmitRequest, responses((status = 200, body = RequirementDto)))]
pub async fn submit(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<SubmitRequest>,
) -> AppResult<Json<RequirementDto>> {
    st.app
        .submit_requirement(u.principal(), id, req.department_id, &req.note, now())
        .await?;
    let r = st.app.store.requirement(&u.principal().scope(), id).await?;
    Ok(Json(requirement_dto(&r)))
}

// ---- reminders ----

/// What the signed-in user must do, soonest first, with its state.
#[utoipa::path(get, path = "/api/v1/reminders", tag = "monthly", responses((status = 200, body = [ReminderDto])))]
pub async fn reminders(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<ReminderDto>>> {
    let list = st.app.reminders(u.principal(), now()).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| ReminderDto {
                what: r.what,
                url: r.href,
                due: r.due.format("%Y-%m-%d %H:%M").to_string(),
                urgency: r.urgency.css().into(),
            })
            .collect(),
    ))
}

/// A fact of a proposed event as a link, when it is one of the monthly facts.
pub fn fact_link(fact: Option<&str>) -> Option<(String, String)> {
    let f: FactRef = fact?.parse().ok()?;
    Some((f.href(), f.label()))
}
