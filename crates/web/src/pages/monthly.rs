//! The monthly pages (月度工作): the month's overview and close, a department's month
//! (self-inspection report, summary, problems, photos, township scores), the inspection plan,
//! the problem ledger with Excel import and export, meetings, assignments, verifications and
//! required submissions.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use liandong_domain::deadline::{county_time, Submission, Urgency};
use liandong_domain::monthly::{
    AssignmentKind, AssignmentStatus, Attendance, FindingOutcome, MeetingKind, ProblemStatus,
    ReportKind, TaskStatus,
};
use liandong_domain::scoring::RuleCode;
use liandong_domain::{Category, Month};
use liandong_service::monthly::ProblemInput;
use liandong_service::photos::{Photo, PhotoOwner};
use liandong_service::Principal;
use liandong_store::{NewAssignment, Problem, ProblemFilter, Scope};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{flash, fmt_time, render, FormData, Layout};
use crate::api::monthly::{parse_code, parse_date, parse_deadline, problem_filter};
use crate::api::scoring::parse_month;
use crate::auth::{AnyUser, Office, PageAuth, Require, VerificationTeam, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn local_now() -> chrono::NaiveDateTime {
    county_time(now())
}

fn back(to: &str, msg: &str) -> AppResult<Response> {
    let sep = if to.contains('?') { '&' } else { '?' };
    let (path, anchor) = to.split_once('#').unwrap_or((to, ""));
    let anchor = if anchor.is_empty() {
        String::new()
    } else {
        format!("#{anchor}")
    };
    Ok(Redirect::to(&format!("{path}{sep}msg={msg}{anchor}")).into_response())
}

fn int(f: &FormData, name: &str) -> Result<i64, AppError> {
    f.text(name)
        .parse()
        .map_err(|_| AppError::invalid(name, format!("“{}”不是有效的编号", f.text(name))))
}

/// The sub-navigation of the monthly pages, by role.
pub fn tabs(p: &Principal, active: &str) -> Vec<(&'static str, &'static str, bool)> {
    let role = p.user.role;
    let mut out = vec![("/monthly", "本月概况")];
    if role != liandong_domain::Role::Township {
        out.push(("/problems", "问题整改台账"));
    }
    out.push(("/monthly/townships", "乡镇评分排名"));
    out.push(("/meetings", "例会"));
    if role != liandong_domain::Role::Township {
        out.push(("/assignments", "交办与信访舆情"));
        out.push(("/submissions", "资料报送"));
    }
    if role.is_office() || role == liandong_domain::Role::Verifier {
        out.push(("/verifications", "月核查"));
    }
    out.into_iter().map(|(h, l)| (h, l, h == active)).collect()
}

fn submission_css(s: Submission) -> &'static str {
    match s {
        Submission::OnTime => "ok",
        Submission::Late => "soon",
        Submission::NotYetDue => "",
        Submission::Missing => "overdue",
    }
}

/// The month a department is working on: the previous one until its report deadline passes.
fn working_month(st: &AppState) -> Month {
    let t = local_now();
    let this = Month::of(t.date());
    if t <= st.app.report_due(this.prev()) {
        this.prev()
    } else {
        this
    }
}

#[derive(Deserialize)]
pub struct Msg {
    msg: Option<String>,
}

// ---- the month ----

pub struct DeptRow {
    pub id: i64,
    pub name: String,
    pub category: &'static str,
    pub state: &'static str,
    pub css: &'static str,
    pub submitted: String,
    pub summary: bool,
    pub problems: usize,
    pub open: usize,
    pub townships: String,
}

pub struct ProposalLine {
    pub department: String,
    pub rule: &'static str,
    pub points: String,
    pub note: String,
    pub href: String,
    pub fact: String,
}

#[derive(Template)]
#[template(path = "monthly.html")]
struct MonthPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    month: String,
    label: String,
    prev: String,
    next: String,
    due: String,
    rows: Vec<DeptRow>,
    office: bool,
    closed: Option<String>,
    closable: bool,
    preview: Vec<ProposalLine>,
}

pub async fn current(State(st): State<AppState>, _u: Require<AnyUser>) -> Response {
    Redirect::to(&format!("/monthly/{}", working_month(&st))).into_response()
}

pub async fn month_page(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(month): Path<String>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    let p = u.principal();
    let status = st.app.month_status(&p.scope(), m, now()).await?;
    let office = p.user.role.is_office();
    let closed = st.app.store.month_closed(m).await?;
    let due = st.app.report_due(m);
    let preview = if office && closed.is_none() {
        st.app
            .month_close_preview(m)
            .await?
            .into_iter()
            .map(|c| ProposalLine {
                department: c.department,
                rule: c.event.rule.label(),
                points: c.event.points.to_string(),
                note: c.proposal.note.clone(),
                href: c.proposal.fact.href(),
                fact: c.proposal.fact.label(),
            })
            .collect()
    } else {
        Vec::new()
    };
    render(&MonthPage {
        l: Layout::new("月度工作", "/monthly", &auth),
        tabs: tabs(p, "/monthly"),
        flash: flash(q.msg.as_deref()),
        month: m.to_string(),
        label: m.label(),
        prev: m.prev().to_string(),
        next: m.next().to_string(),
        due: due.format("%Y-%m-%d %H:%M").to_string(),
        rows: status
            .into_iter()
            .map(|s| DeptRow {
                id: s.department.id,
                name: s.department.name.clone(),
                category: s.department.category.label(),
                state: s.inspection_state.label(),
                css: submission_css(s.inspection_state),
                submitted: s
                    .inspection
                    .as_ref()
                    .map(|r| fmt_time(r.submitted_at))
                    .unwrap_or_default(),
                summary: s.summary.is_some(),
                problems: s.problems,
                open: s.open_problems,
                townships: s
                    .townships_scored
                    .map(|(a, b)| format!("{a}/{b}"))
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        office,
        closed: closed.map(|c| format!("已由 {} 于 {} 关账", c.closed_by, fmt_time(c.closed_at))),
        closable: local_now() > due,
        preview,
    })
}

pub async fn close_month(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(month): Path<String>,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    st.app.close_month(&u.principal().actor(), m, now()).await?;
    Ok(Redirect::to(&format!("/scoring/events?month={m}&msg=closed#proposals")).into_response())
}

// ---- a department's month ----

pub struct ProblemLine {
    pub id: i64,
    pub duty: String,
    pub description: String,
    pub measure: String,
    pub responsible: String,
    pub deadline: String,
    pub long_term: bool,
    pub status: &'static str,
    pub css: &'static str,
}

fn problem_css(p: &Problem, t: chrono::NaiveDateTime, soon: i64) -> &'static str {
    match p.status {
        ProblemStatus::Closed => "ok",
        ProblemStatus::Rectified => "",
        ProblemStatus::Open if p.long_term => "",
        ProblemStatus::Open => Urgency::of(
            p.deadline.and_hms_opt(23, 59, 59).unwrap_or_default(),
            t,
            chrono::Duration::days(soon),
        )
        .css(),
    }
}

fn problem_line(p: &Problem, soon: i64) -> ProblemLine {
    ProblemLine {
        id: p.id,
        duty: format!("{}. {}", p.duty_no, p.duty_text),
        description: p.description.clone(),
        measure: p.measure.clone(),
        responsible: p.responsible.clone(),
        deadline: p.deadline.to_string(),
        long_term: p.long_term,
        status: p.status.label(),
        css: problem_css(p, local_now(), soon),
    }
}

pub struct PhotoLine {
    pub full: String,
    pub thumb: String,
    pub name: String,
}

fn photo_lines(list: &[Photo]) -> Vec<PhotoLine> {
    list.iter()
        .map(|p| PhotoLine {
            full: format!("/api/v1/attachments/{}", p.image.id),
            thumb: format!("/api/v1/attachments/{}", p.thumb_id.unwrap_or(p.image.id)),
            name: p.image.file_name.clone(),
        })
        .collect()
}

pub struct ReportBox {
    pub id: i64,
    pub body: String,
    pub when: String,
    pub photos: Vec<PhotoLine>,
}

pub struct TownshipLine {
    pub id: i64,
    pub name: String,
    pub score: String,
    pub note: String,
    pub rank: String,
}

#[derive(Template)]
#[template(path = "monthly_department.html")]
struct DepartmentMonthPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    month: String,
    label: String,
    id: i64,
    name: String,
    close_type: bool,
    writable: bool,
    closed: bool,
    due: String,
    state: &'static str,
    css: &'static str,
    inspection: Option<ReportBox>,
    summary: Option<ReportBox>,
    problems: Vec<ProblemLine>,
    duties: Vec<(i64, String)>,
    townships: Vec<TownshipLine>,
}

pub async fn department_month(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path((month, id)): Path<(String, i64)>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    let p = u.principal();
    if !p.scope().allows(id) {
        return Err(AppError::not_found("未找到该单位的月度工作"));
    }
    let dept = st.app.store.department(id).await?;
    let status = st
        .app
        .month_status(&Scope::Units(vec![id]), m, now())
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("未找到该单位的月度工作"))?;
    let soon = st.app.settings.due_soon_days;
    let problems = st
        .app
        .store
        .problems(
            &Scope::Units(vec![id]),
            &ProblemFilter {
                month: Some(m),
                ..Default::default()
            },
        )
        .await?;
    let boxed = |r: Option<liandong_store::MonthlyReport>| async {
        match r {
            None => Ok::<_, AppError>(None),
            Some(r) => Ok(Some(ReportBox {
                id: r.id,
                photos: photo_lines(&st.app.photos(PhotoOwner::Report(r.id)).await?),
                when: format!(
                    "{} 由 {} 首次提交{}",
                    fmt_time(r.submitted_at),
                    r.submitted_by,
                    if r.updated_at != r.submitted_at {
                        format!("，{} 修改", fmt_time(r.updated_at))
                    } else {
                        String::new()
                    }
                ),
                body: r.body,
            })),
        }
    };
    let townships = if dept.category == Category::Close {
        let scores = st.app.store.township_scores(m, Some(id)).await?;
        let ranks = st
            .app
            .township_rankings(m)
            .await?
            .into_iter()
            .find(|(d, _)| d.id == id)
            .map(|(_, r)| r)
            .unwrap_or_default();
        st.app
            .store
            .townships()
            .await?
            .into_iter()
            .filter(|t| t.active)
            .map(|t| {
                let s = scores.iter().find(|s| s.township_id == t.id);
                TownshipLine {
                    id: t.id,
                    score: s
                        .map(|s| s.score.normalize().to_string())
                        .unwrap_or_default(),
                    note: s.map(|s| s.note.clone()).unwrap_or_default(),
                    rank: ranks
                        .iter()
                        .find(|r| r.township_id == t.id)
                        .map(|r| r.rank.to_string())
                        .unwrap_or_else(|| "—".into()),
                    name: t.name,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    render(&DepartmentMonthPage {
        l: Layout::new(&format!("{}{}", dept.name, m.label()), "/monthly", &auth),
        tabs: tabs(p, "/monthly"),
        flash: flash(q.msg.as_deref()),
        month: m.to_string(),
        label: m.label(),
        id,
        name: dept.name.clone(),
        close_type: dept.category == Category::Close,
        writable: !p.user.role.read_only() && p.write_scope().allows(id),
        closed: st.app.store.month_closed(m).await?.is_some(),
        due: st.app.report_due(m).format("%Y-%m-%d %H:%M").to_string(),
        state: status.inspection_state.label(),
        css: submission_css(status.inspection_state),
        inspection: boxed(status.inspection).await?,
        summary: boxed(status.summary).await?,
        problems: problems.iter().map(|p| problem_line(p, soon)).collect(),
        duties: dept.duties.iter().map(|d| (d.no, d.text.clone())).collect(),
        townships,
    })
}

pub async fn save_report(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path((month, id, kind)): Path<(String, i64, String)>,
    form: FormData,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    let kind = parse_code(&kind, "kind", ReportKind::from_code, ReportKind::ALL, |k| {
        k.code()
    })?;
    st.app
        .save_report(u.principal(), id, m, kind, &form.text("body"), now())
        .await?;
    back(
        &format!("/monthly/{m}/departments/{id}#{}", kind.code()),
        "saved",
    )
}

pub async fn add_problem(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path((month, id)): Path<(String, i64)>,
    form: FormData,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    let input = ProblemInput {
        department_id: id,
        month: m,
        duty_no: int(&form, "duty_no")?,
        description: form.text("description"),
        measure: form.text("measure"),
        responsible: form.text("responsible"),
        deadline: parse_date(&form.text("deadline"), "deadline")?,
        long_term: form.get("long_term") == Some("1"),
    };
    st.app.add_problem(u.principal(), input, now()).await?;
    back(
        &format!("/monthly/{m}/departments/{id}#problems"),
        "created",
    )
}

pub async fn save_township_scores(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path((month, id)): Path<(String, i64)>,
    form: FormData,
) -> AppResult<Response> {
    let m = parse_month(&month, "month")?;
    let mut scores = Vec::new();
    for t in st.app.store.townships().await?.iter().filter(|t| t.active) {
        let raw = form.text(&format!("score_{}", t.id));
        if raw.is_empty() {
            continue;
        }
        let score: Decimal = raw.parse().map_err(|_| {
            AppError::invalid(
                &format!("score_{}", t.id),
                format!("{}的分数“{raw}”不是数字", t.name),
            )
        })?;
        scores.push((t.id, score, form.text(&format!("note_{}", t.id))));
    }
    st.app
        .save_township_scores(u.principal(), id, m, &scores, now())
        .await?;
    back(&format!("/monthly/{m}/departments/{id}#townships"), "saved")
}

/// Reads the `file` field of a multipart form: (file name, bytes).
pub async fn upload(mut form: Multipart) -> AppResult<(String, axum::body::Bytes)> {
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| AppError::invalid("file", "上传的文件无法读取"))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("附件").to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?;
            if bytes.is_empty() {
                break;
            }
            return Ok((name, bytes));
        }
    }
    Err(AppError::invalid("file", "请选择文件"))
}

pub async fn report_photo(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> AppResult<Response> {
    let (name, bytes) = upload(form).await?;
    st.app
        .add_photo(u.principal(), PhotoOwner::Report(id), &name, &bytes, now())
        .await?;
    let r = st.app.store.monthly_report(id).await?;
    back(
        &format!(
            "/monthly/{}/departments/{}#{}",
            r.month,
            r.department_id,
            r.kind.code()
        ),
        "saved",
    )
}

pub async fn township_rankings(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let m = match q.month.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_month(s, "month")?,
        None => working_month(&st),
    };
    let rankings = st.app.township_rankings(m).await?;
    let townships = st.app.store.townships().await?;
    let mine: Vec<i64> = u.principal().user.unit_ids();
    render(&TownshipRankingsPage {
        l: Layout::new("乡镇评分排名", "/monthly", &auth),
        tabs: tabs(u.principal(), "/monthly/townships"),
        flash: None,
        month: m.to_string(),
        label: m.label(),
        prev: m.prev().to_string(),
        next: m.next().to_string(),
        groups: rankings
            .into_iter()
            .map(|(d, rows)| {
                let chart = if rows.len() > 1 {
                    let items: Vec<(String, f64)> = rows
                        .iter()
                        .map(|r| {
                            (
                                r.township.clone(),
                                r.score.to_string().parse().unwrap_or(0.0),
                            )
                        })
                        .collect();
                    let floor = items.iter().map(|i| i.1).fold(100.0, f64::min).floor() - 2.0;
                    crate::svg::bars(&format!("{}对乡镇评分", d.name), &items, floor)
                } else {
                    String::new()
                };
                let unscored: Vec<String> = townships
                    .iter()
                    .filter(|t| t.active && !rows.iter().any(|r| r.township_id == t.id))
                    .map(|t| t.name.clone())
                    .collect();
                TownshipGroup {
                    name: d.name,
                    rows: rows
                        .into_iter()
                        .map(|r| {
                            (
                                r.rank,
                                r.township,
                                r.score.to_string(),
                                mine.contains(&r.township_id),
                            )
                        })
                        .collect(),
                    unscored: unscored.join("、"),
                    chart,
                }
            })
            .collect(),
    })
}

pub struct TownshipGroup {
    pub name: String,
    /// (rank, township, score, the viewer's own township)
    pub rows: Vec<(u32, String, String, bool)>,
    pub unscored: String,
    pub chart: String,
}

#[derive(Template)]
#[template(path = "township_rankings.html")]
struct TownshipRankingsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    month: String,
    label: String,
    prev: String,
    next: String,
    groups: Vec<TownshipGroup>,
}

#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

// ---- inspection plans ----

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    id: i64,
    name: String,
    writable: bool,
    current: Option<(String, String, String)>,
    history: Vec<(String, String)>,
}

pub async fn plan(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let dept = st.app.store.department(id).await?;
    if dept.category != Category::Close {
        return Err(AppError::not_found("自查方案和评分细则由紧密型部门制定"));
    }
    let p = u.principal();
    let plans = st.app.store.inspection_plans(id).await?;
    render(&PlanPage {
        l: Layout::new("自查方案和评分细则", "/monthly", &auth),
        tabs: tabs(p, "/monthly"),
        flash: flash(q.msg.as_deref()),
        id,
        name: dept.name,
        writable: !p.user.role.read_only() && p.write_scope().allows(id),
        current: plans.first().map(|x| {
            (
                x.title.clone(),
                x.body.clone(),
                format!("{} 由 {} 保存", fmt_time(x.saved_at), x.saved_by),
            )
        }),
        history: plans
            .iter()
            .skip(1)
            .map(|x| {
                (
                    x.title.clone(),
                    format!("{} {}", fmt_time(x.saved_at), x.saved_by),
                )
            })
            .collect(),
    })
}

pub async fn save_plan(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .save_plan(
            u.principal(),
            id,
            &form.text("title"),
            &form.text("body"),
            now(),
        )
        .await?;
    back(&format!("/plans/{id}"), "saved")
}

// ---- problem ledger ----

#[derive(Deserialize)]
pub struct ProblemQuery {
    department_id: Option<String>,
    month: Option<String>,
    status: Option<String>,
    msg: Option<String>,
}

fn ledger_filter(q: &ProblemQuery) -> Result<ProblemFilter, AppError> {
    let dept = match q.department_id.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse()
                .map_err(|_| AppError::invalid("department_id", "单位编号无效"))?,
        ),
        None => None,
    };
    problem_filter(dept, q.month.as_deref(), q.status.as_deref())
}

pub struct LedgerLine {
    pub line: ProblemLine,
    pub department: String,
    pub month: String,
}

#[derive(Template)]
#[template(path = "problems.html")]
struct ProblemsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    departments: Vec<(i64, String)>,
    department_id: String,
    month: String,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    query: String,
    rows: Vec<LedgerLine>,
    can_import: bool,
}

pub async fn problems(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<ProblemQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let f = ledger_filter(&q)?;
    let list = st.app.problems_for(p, &f).await?;
    let scope = p.scope();
    let soon = st.app.settings.due_soon_days;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("department_id", q.department_id.as_deref().unwrap_or(""))
        .append_pair("month", q.month.as_deref().unwrap_or(""))
        .append_pair("status", q.status.as_deref().unwrap_or(""))
        .finish();
    render(&ProblemsPage {
        l: Layout::new("问题整改台账", "/monthly", &auth),
        tabs: tabs(p, "/problems"),
        flash: flash(q.msg.as_deref()),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .filter(|d| scope.allows(d.id))
            .map(|d| (d.id, d.name))
            .collect(),
        department_id: q.department_id.clone().unwrap_or_default(),
        month: q.month.clone().unwrap_or_default(),
        status: q.status.clone().unwrap_or_default(),
        statuses: ProblemStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        query,
        rows: list
            .iter()
            .map(|x| LedgerLine {
                line: problem_line(x, soon),
                department: x.department.clone(),
                month: x.month.to_string(),
            })
            .collect(),
        can_import: !p.user.role.read_only()
            && (p.user.role.administers() || !p.user.unit_ids().is_empty()),
    })
}

/// The ledger as a print-ready workbook, with the same filters as the page.
pub async fn export_problems(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ProblemQuery>,
) -> AppResult<Response> {
    use liandong_office::{Cell, Column};
    let f = ledger_filter(&q)?;
    let list = st.app.problems_for(u.principal(), &f).await?;
    let columns = [
        Column {
            header: "编号",
            width: 6.0,
        },
        Column {
            header: "单位",
            width: 16.0,
        },
        Column {
            header: "月份",
            width: 9.0,
        },
        Column {
            header: "职责",
            width: 28.0,
        },
        Column {
            header: "问题",
            width: 34.0,
        },
        Column {
            header: "整改措施",
            width: 30.0,
        },
        Column {
            header: "责任人",
            width: 9.0,
        },
        Column {
            header: "整改时限",
            width: 11.0,
        },
        Column {
            header: "需长期整改",
            width: 8.0,
        },
        Column {
            header: "状态",
            width: 11.0,
        },
        Column {
            header: "整改佐证",
            width: 24.0,
        },
        Column {
            header: "销号",
            width: 18.0,
        },
    ];
    let rows: Vec<Vec<Cell>> = list
        .iter()
        .map(|x| {
            vec![
                x.id.into(),
                x.department.clone().into(),
                x.month.to_string().into(),
                format!("{}. {}", x.duty_no, x.duty_text).into(),
                x.description.clone().into(),
                x.measure.clone().into(),
                x.responsible.clone().into(),
                x.deadline.to_string().into(),
                (if x.long_term { "是" } else { "否" }).into(),
                x.status.label().into(),
                x.evidence.clone().unwrap_or_default().into(),
                x.closed_at
                    .map(|t| {
                        format!(
                            "{} {}",
                            x.closed_by.clone().unwrap_or_default(),
                            fmt_time(t)
                        )
                    })
                    .unwrap_or_default()
                    .into(),
            ]
        })
        .collect();
    ledger_download(
        "整改台账",
        "问题清单和整改台账",
        &columns,
        &rows,
        "problems.xlsx",
    )
}

/// A ledger as a print-ready workbook: a title, the export time and count, the table.
fn ledger_download(
    sheet: &str,
    title: &str,
    columns: &[liandong_office::Column<'_>],
    rows: &[Vec<liandong_office::Cell>],
    file: &str,
) -> AppResult<Response> {
    let subtitle = format!(
        "导出时间：{}　共 {} 条",
        local_now().format("%Y-%m-%d %H:%M"),
        rows.len()
    );
    let bytes = liandong_office::workbook(&[liandong_office::Sheet {
        name: sheet,
        title,
        subtitle: &subtitle,
        columns,
        rows,
    }])
    .map_err(AppError::internal)?;
    Ok(super::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        file,
    ))
}

/// The assignments in scope as a print-ready workbook (交办台账).
pub async fn export_assignments(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Response> {
    use liandong_office::{Cell, Column};
    let list = st.app.store.assignments(&u.principal().scope()).await?;
    let columns = [
        Column {
            header: "编号",
            width: 6.0,
        },
        Column {
            header: "类型",
            width: 9.0,
        },
        Column {
            header: "承办单位",
            width: 16.0,
        },
        Column {
            header: "事项",
            width: 34.0,
        },
        Column {
            header: "整改时限",
            width: 11.0,
        },
        Column {
            header: "状态",
            width: 13.0,
        },
        Column {
            header: "整改情况",
            width: 34.0,
        },
        Column {
            header: "核查确认",
            width: 18.0,
        },
    ];
    let rows: Vec<Vec<Cell>> = list
        .iter()
        .map(|a| {
            vec![
                a.id.into(),
                a.kind.label().into(),
                a.department.clone().into(),
                a.title.clone().into(),
                a.deadline.to_string().into(),
                a.status.label().into(),
                a.report.clone().unwrap_or_default().into(),
                a.confirmed_at
                    .map(|t| {
                        format!(
                            "{} {}",
                            a.confirmed_by.clone().unwrap_or_default(),
                            fmt_time(t)
                        )
                    })
                    .unwrap_or_default()
                    .into(),
            ]
        })
        .collect();
    ledger_download(
        "交办台账",
        "交办问题和信访舆情件台账",
        &columns,
        &rows,
        "assignments.xlsx",
    )
}

pub async fn problem_template(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Response> {
    let scope = u.principal().scope();
    let deps: Vec<_> = st
        .app
        .store
        .departments()
        .await?
        .into_iter()
        .filter(|d| scope.allows(d.id))
        .collect();
    let bytes = st.app.problem_template(&deps)?;
    Ok(super::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "problem-template.xlsx",
    ))
}

pub async fn import_problems(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Writer>,
    form: Multipart,
) -> AppResult<Response> {
    let (_, bytes) = upload(form).await?;
    let p = u.principal();
    let outcome = st.app.import_problems(p, &bytes, now()).await?;
    super::scoring::import_outcome(&st, &auth, p, outcome, ("/problems", "问题整改台账"))
}

// ---- one problem ----

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    p: liandong_store::Problem,
    line: ProblemLine,
    source: &'static str,
    rectified: String,
    closed: String,
    can_rectify: bool,
    can_close: bool,
    can_photo: bool,
    photos: Vec<PhotoLine>,
}

pub async fn problem(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let x = st.app.problem_for(p, id).await?;
    let writable = !p.user.role.read_only() && p.write_scope().allows(x.department_id);
    render(&ProblemPage {
        l: Layout::new(&format!("问题第 {id} 号"), "/monthly", &auth),
        tabs: tabs(p, "/problems"),
        flash: flash(q.msg.as_deref()),
        line: problem_line(&x, st.app.settings.due_soon_days),
        source: x.source.label(),
        rectified: x
            .rectified_at
            .map(|t| {
                format!(
                    "{} 于 {} 报整改",
                    x.rectified_by.clone().unwrap_or_default(),
                    fmt_time(t)
                )
            })
            .unwrap_or_default(),
        closed: x
            .closed_at
            .map(|t| {
                format!(
                    "{} 于 {} 销号",
                    x.closed_by.clone().unwrap_or_default(),
                    fmt_time(t)
                )
            })
            .unwrap_or_default(),
        can_rectify: writable && x.status == ProblemStatus::Open,
        can_close: p.user.role.is_office() && x.status == ProblemStatus::Rectified,
        can_photo: writable,
        photos: photo_lines(&st.app.photos(PhotoOwner::Problem(id)).await?),
        p: x,
    })
}

pub async fn rectify_problem(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .rectify_problem(u.principal(), id, &form.text("evidence"), now())
        .await?;
    back(&format!("/problems/{id}"), "saved")
}

pub async fn close_problem(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    st.app.close_problem(u.principal(), id, now()).await?;
    back(&format!("/problems/{id}"), "saved")
}

pub async fn problem_photo(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> AppResult<Response> {
    let (name, bytes) = upload(form).await?;
    st.app
        .add_photo(u.principal(), PhotoOwner::Problem(id), &name, &bytes, now())
        .await?;
    back(&format!("/problems/{id}#photos"), "saved")
}

// ---- meetings ----

#[derive(Template)]
#[template(path = "meetings.html")]
struct MeetingsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    office: bool,
    kinds: Vec<(&'static str, &'static str)>,
    today: String,
    /// (id, date, kind, title, absences)
    meetings: Vec<(i64, String, &'static str, String, usize)>,
    tasks: Vec<TaskLine>,
}

pub struct TaskLine {
    pub id: i64,
    pub meeting_id: i64,
    pub department: String,
    pub title: String,
    pub due: String,
    pub css: &'static str,
    pub done: bool,
    pub result: String,
    pub can_finish: bool,
}

fn task_lines(p: &Principal, tasks: &[liandong_store::FollowUpTask], soon: i64) -> Vec<TaskLine> {
    tasks
        .iter()
        .map(|t| TaskLine {
            id: t.id,
            meeting_id: t.meeting_id,
            department: t.department.clone(),
            title: t.title.clone(),
            due: t.due_on.to_string(),
            css: if t.status == TaskStatus::Done {
                "ok"
            } else {
                Urgency::of(
                    t.due_on.and_hms_opt(23, 59, 59).unwrap_or_default(),
                    local_now(),
                    chrono::Duration::days(soon),
                )
                .css()
            },
            done: t.status == TaskStatus::Done,
            result: t.result.clone().unwrap_or_default(),
            can_finish: t.status == TaskStatus::Open
                && !p.user.role.read_only()
                && p.write_scope().allows(t.department_id),
        })
        .collect()
}

pub async fn meetings(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let mut list = Vec::new();
    for m in st.app.store.meetings(None).await? {
        let absences = st
            .app
            .store
            .attendance(m.id)
            .await?
            .iter()
            .filter(|a| a.attendance != Attendance::Present)
            .count();
        list.push((
            m.id,
            m.held_on.to_string(),
            m.kind.label(),
            m.title,
            absences,
        ));
    }
    let tasks = st.app.store.tasks(&p.scope(), None).await?;
    render(&MeetingsPage {
        l: Layout::new("例会", "/monthly", &auth),
        tabs: tabs(p, "/meetings"),
        flash: flash(q.msg.as_deref()),
        office: p.user.role.is_office(),
        kinds: MeetingKind::ALL
            .iter()
            .map(|k| (k.code(), k.label()))
            .collect(),
        today: local_now().date().to_string(),
        meetings: list,
        tasks: task_lines(p, &tasks, st.app.settings.due_soon_days),
    })
}

pub async fn create_meeting(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let kind = parse_code(
        &form.text("kind"),
        "kind",
        MeetingKind::from_code,
        MeetingKind::ALL,
        |k| k.code(),
    )?;
    let m = st
        .app
        .create_meeting(
            &u.principal().actor(),
            kind,
            parse_date(&form.text("held_on"), "held_on")?,
            &form.text("title"),
            &form.text("agenda"),
            now(),
        )
        .await?;
    back(&format!("/meetings/{}", m.id), "created")
}

pub struct AttendanceLine {
    pub id: i64,
    pub name: String,
    pub attendance: &'static str,
    pub label: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    m: liandong_store::Meeting,
    kind: &'static str,
    office: bool,
    closed: bool,
    recorded: bool,
    attendance: Vec<AttendanceLine>,
    choices: Vec<(&'static str, &'static str)>,
    tasks: Vec<TaskLine>,
    departments: Vec<(i64, String)>,
}

pub async fn meeting(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let m = st.app.store.meeting(id).await?;
    let att = st.app.store.attendance(id).await?;
    let scope = p.scope();
    let office = p.user.role.is_office();
    let deps = st.app.store.departments().await?;
    let attendance = deps
        .iter()
        .filter(|d| office || scope.allows(d.id))
        .map(|d| {
            let a = att.iter().find(|a| a.department_id == d.id);
            let code = a.map(|a| a.attendance).unwrap_or(Attendance::Present);
            AttendanceLine {
                id: d.id,
                name: d.name.clone(),
                attendance: code.code(),
                label: if a.is_some() {
                    code.label()
                } else {
                    "未记录"
                },
                note: a.map(|a| a.note.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let tasks = st.app.store.tasks(&scope, Some(id)).await?;
    render(&MeetingPage {
        l: Layout::new(&m.title, "/monthly", &auth),
        tabs: tabs(p, "/meetings"),
        flash: flash(q.msg.as_deref()),
        kind: m.kind.label(),
        office,
        closed: st.app.store.month_closed(m.month).await?.is_some(),
        recorded: !att.is_empty(),
        attendance,
        choices: Attendance::ALL
            .iter()
            .map(|a| (a.code(), a.label()))
            .collect(),
        tasks: task_lines(p, &tasks, st.app.settings.due_soon_days),
        departments: deps.into_iter().map(|d| (d.id, d.name)).collect(),
        m,
    })
}

pub async fn record_meeting(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let mut att = Vec::new();
    for d in st.app.store.departments().await? {
        let name = format!("att_{}", d.id);
        let a = parse_code(
            &form.text(&name),
            &name,
            Attendance::from_code,
            Attendance::ALL,
            |x| x.code(),
        )?;
        att.push((d.id, a, form.text(&format!("note_{}", d.id))));
    }
    st.app
        .record_meeting(
            &u.principal().actor(),
            id,
            &form.text("minutes"),
            &att,
            now(),
        )
        .await?;
    back(&format!("/meetings/{id}"), "saved")
}

pub async fn add_task(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .add_task(
            &u.principal().actor(),
            id,
            int(&form, "department_id")?,
            &form.text("title"),
            parse_date(&form.text("due_on"), "due_on")?,
            now(),
        )
        .await?;
    back(&format!("/meetings/{id}#tasks"), "created")
}

pub async fn finish_task(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let t = st
        .app
        .complete_task(u.principal(), id, &form.text("result"), now())
        .await?;
    back(&format!("/meetings/{}#tasks", t.meeting_id), "saved")
}

// ---- assignments ----

pub struct AssignmentLine {
    pub id: i64,
    pub kind: &'static str,
    pub department: String,
    pub title: String,
    pub deadline: String,
    pub status: &'static str,
    pub css: &'static str,
}

fn assignment_line(a: &liandong_store::Assignment, soon: i64) -> AssignmentLine {
    AssignmentLine {
        id: a.id,
        kind: a.kind.label(),
        department: a.department.clone(),
        title: a.title.clone(),
        deadline: a.deadline.to_string(),
        status: a.status.label(),
        css: match a.status {
            AssignmentStatus::Confirmed => "ok",
            AssignmentStatus::Reported => "",
            AssignmentStatus::Open => Urgency::of(
                a.deadline.and_hms_opt(23, 59, 59).unwrap_or_default(),
                local_now(),
                chrono::Duration::days(soon),
            )
            .css(),
        },
    }
}

#[derive(Template)]
#[template(path = "assignments.html")]
struct AssignmentsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    office: bool,
    kinds: Vec<(&'static str, &'static str)>,
    departments: Vec<(i64, String)>,
    rows: Vec<AssignmentLine>,
}

pub async fn assignments(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let list = st.app.store.assignments(&p.scope()).await?;
    let soon = st.app.settings.due_soon_days;
    render(&AssignmentsPage {
        l: Layout::new("交办与信访舆情", "/monthly", &auth),
        tabs: tabs(p, "/assignments"),
        flash: flash(q.msg.as_deref()),
        office: p.user.role.is_office(),
        kinds: AssignmentKind::ALL
            .iter()
            .map(|k| (k.code(), k.label()))
            .collect(),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect(),
        rows: list.iter().map(|a| assignment_line(a, soon)).collect(),
    })
}

pub async fn create_assignment(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let a = NewAssignment {
        kind: parse_code(
            &form.text("kind"),
            "kind",
            AssignmentKind::from_code,
            AssignmentKind::ALL,
            |k| k.code(),
        )?,
        department_id: int(&form, "department_id")?,
        title: form.text("title"),
        detail: form.text("detail"),
        deadline: parse_date(&form.text("deadline"), "deadline")?,
    };
    let a = st
        .app
        .create_assignment(&u.principal().actor(), a, now())
        .await?;
    back(&format!("/assignments/{}", a.id), "created")
}

#[derive(Template)]
#[template(path = "assignment.html")]
struct AssignmentPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    a: liandong_store::Assignment,
    line: AssignmentLine,
    reported: String,
    confirmed: String,
    can_report: bool,
    /// (verification id, outcome)
    findings: Vec<(i64, &'static str, String)>,
}

pub async fn assignment(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let a = st.app.assignment_for(p, id).await?;
    let findings = st
        .app
        .store
        .findings(None, &p.scope())
        .await?
        .into_iter()
        .filter(|f| f.assignment_id == Some(id))
        .map(|f| (f.verification_id, f.outcome.label(), f.description))
        .collect();
    render(&AssignmentPage {
        l: Layout::new(&format!("交办事项第 {id} 号"), "/monthly", &auth),
        tabs: tabs(p, "/assignments"),
        flash: flash(q.msg.as_deref()),
        line: assignment_line(&a, st.app.settings.due_soon_days),
        reported: a
            .reported_at
            .map(|t| {
                format!(
                    "{} 于 {} 报送",
                    a.reported_by.clone().unwrap_or_default(),
                    fmt_time(t)
                )
            })
            .unwrap_or_default(),
        confirmed: a
            .confirmed_at
            .map(|t| {
                format!(
                    "{} 于 {} 核查确认",
                    a.confirmed_by.clone().unwrap_or_default(),
                    fmt_time(t)
                )
            })
            .unwrap_or_default(),
        can_report: a.status == AssignmentStatus::Open
            && !p.user.role.read_only()
            && p.write_scope().allows(a.department_id),
        findings,
        a,
    })
}

pub async fn report_assignment(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .report_assignment(u.principal(), id, &form.text("report"), now())
        .await?;
    back(&format!("/assignments/{id}"), "saved")
}

// ---- verification ----

#[derive(Template)]
#[template(path = "verifications.html")]
struct VerificationsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    office: bool,
    month: String,
    /// (id, month, team, findings)
    rows: Vec<(i64, String, String, usize)>,
}

pub async fn verifications(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<VerificationTeam>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let findings = st.app.store.findings(None, &Scope::All).await?;
    render(&VerificationsPage {
        l: Layout::new("月核查", "/monthly", &auth),
        tabs: tabs(p, "/verifications"),
        flash: flash(q.msg.as_deref()),
        office: p.user.role.is_office(),
        month: working_month(&st).to_string(),
        rows: st
            .app
            .store
            .verifications()
            .await?
            .into_iter()
            .map(|v| {
                let n = findings
                    .iter()
                    .filter(|f| f.verification_id == v.id)
                    .count();
                (v.id, v.month.label(), v.team, n)
            })
            .collect(),
    })
}

pub async fn create_verification(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let m = parse_month(&form.text("month"), "month")?;
    let team = liandong_service::monthly::required("team", "核查组成员", &form.text("team"), 500)?;
    let v = st
        .app
        .store
        .create_verification(
            &u.principal().actor(),
            now().timestamp(),
            m,
            &team,
            &form.text("note"),
        )
        .await?;
    back(&format!("/verifications/{}", v.id), "created")
}

/// A drawn department and its drawn problems: (id, description, status).
pub struct SampleLine {
    pub department: String,
    pub problems: Vec<(i64, String, &'static str)>,
}

pub struct FindingLine {
    pub id: i64,
    pub department: String,
    pub target: String,
    pub target_href: String,
    pub outcome: &'static str,
    pub description: String,
    pub evidence: String,
    pub event: String,
}

#[derive(Template)]
#[template(path = "verification.html")]
struct VerificationPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    v: liandong_store::Verification,
    month_label: String,
    office: bool,
    draw: Option<(String, String)>,
    draws: usize,
    sample: Vec<SampleLine>,
    findings: Vec<FindingLine>,
    departments: Vec<(i64, String)>,
    outcomes: Vec<(&'static str, &'static str)>,
    rules: Vec<(&'static str, &'static str)>,
    /// Assignments that can be checked: (id, department, title, status)
    assignments: Vec<(i64, String, String, &'static str)>,
}

pub async fn verification(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<VerificationTeam>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let v = st.app.store.verification(id).await?;
    let draws = st.app.store.draws(id).await?;
    let deps = st.app.store.departments().await?;
    let name = |d: i64| {
        deps.iter()
            .find(|x| x.id == d)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    let mut sample = Vec::new();
    if let Some(d) = draws.first() {
        let ledger = st
            .app
            .store
            .problems(
                &Scope::All,
                &ProblemFilter {
                    month: Some(v.month),
                    ..Default::default()
                },
            )
            .await?;
        for dep in &d.departments {
            let picked = ledger
                .iter()
                .filter(|x| x.department_id == *dep && d.problems.contains(&x.id))
                .map(|x| (x.id, x.description.clone(), x.status.label()))
                .collect();
            sample.push(SampleLine {
                department: name(*dep),
                problems: picked,
            });
        }
    }
    let findings = st
        .app
        .store
        .findings(Some(id), &Scope::All)
        .await?
        .into_iter()
        .map(|f| {
            let (target, target_href) = match (f.problem_id, f.assignment_id) {
                (Some(pid), _) => (format!("问题第 {pid} 号"), format!("/problems/{pid}")),
                (_, Some(aid)) => (
                    format!("交办事项第 {aid} 号"),
                    format!("/assignments/{aid}"),
                ),
                _ => (String::new(), String::new()),
            };
            FindingLine {
                id: f.id,
                department: f.department,
                target,
                target_href,
                outcome: f.outcome.label(),
                description: f.description,
                evidence: f.evidence,
                event: match (f.event_id, f.rule) {
                    (Some(e), Some(r)) => format!("已提议第 {e} 号：{}", r.label()),
                    _ => String::new(),
                },
            }
        })
        .collect();
    render(&VerificationPage {
        l: Layout::new("月核查", "/monthly", &auth),
        tabs: tabs(p, "/verifications"),
        flash: flash(q.msg.as_deref()),
        month_label: v.month.label(),
        office: p.user.role.is_office(),
        draw: draws.first().map(|d| {
            (
                format!("{} 由 {} 抽取", fmt_time(d.drawn_at), d.drawn_by),
                d.seed.clone(),
            )
        }),
        draws: draws.len(),
        sample,
        findings,
        outcomes: FindingOutcome::ALL
            .iter()
            .map(|o| (o.code(), o.label()))
            .collect(),
        rules: RuleCode::ALL
            .iter()
            .filter(|r| !r.is_bonus() || **r == RuleCode::WarningVerified)
            .map(|r| (r.code(), r.label()))
            .collect(),
        assignments: st
            .app
            .store
            .assignments(&Scope::All)
            .await?
            .into_iter()
            .filter(|a| a.status != AssignmentStatus::Confirmed)
            .map(|a| (a.id, a.department, a.title, a.status.label()))
            .collect(),
        departments: deps.iter().map(|d| (d.id, d.name.clone())).collect(),
        v,
    })
}

pub async fn draw(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let n = |name: &str, default: usize| -> Result<usize, AppError> {
        match form.text(name).as_str() {
            "" => Ok(default),
            s => s
                .parse()
                .map_err(|_| AppError::invalid(name, format!("“{s}”不是数字"))),
        }
    };
    st.app
        .draw_sample(
            &u.principal().actor(),
            id,
            n("departments", 5)?,
            n("problems", 3)?,
            now(),
        )
        .await?;
    back(&format!("/verifications/{id}#sample"), "saved")
}

pub async fn add_finding(
    State(st): State<AppState>,
    u: Require<VerificationTeam>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let req = crate::api::monthly::FindingRequest::from_form(&form)?;
    let f = crate::api::monthly::record_finding(&st, &u.principal().actor(), id, req).await?;
    back(&format!("/verifications/{id}#finding-{}", f.id), "created")
}

// ---- required submissions ----

#[derive(Template)]
#[template(path = "submissions.html")]
struct SubmissionsPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    office: bool,
    departments: Vec<(i64, String)>,
    rows: Vec<RequirementLine>,
}

/// A requirement with how many departments are on time, late, missing or not yet due, and
/// (for a department) its own state.
pub struct RequirementLine {
    pub id: i64,
    pub title: String,
    pub due: String,
    pub on_time: usize,
    pub late: usize,
    pub missing: usize,
    pub pending: usize,
    pub mine: String,
}

pub async fn submissions(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let t = now();
    let rows = st
        .app
        .store
        .requirements(&p.scope())
        .await?
        .into_iter()
        .map(|r| {
            let states: Vec<Submission> = r
                .targets
                .iter()
                .map(|x| liandong_service::App::submission_state(r.due_at, x.submitted_at, t))
                .collect();
            let count = |s: Submission| states.iter().filter(|x| **x == s).count();
            let mine = if p.user.role.sees_all() {
                String::new()
            } else {
                states
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>()
                    .join("、")
            };
            RequirementLine {
                id: r.id,
                title: r.title,
                due: fmt_time(r.due_at),
                on_time: count(Submission::OnTime),
                late: count(Submission::Late),
                missing: count(Submission::Missing),
                pending: count(Submission::NotYetDue),
                mine,
            }
        })
        .collect();
    render(&SubmissionsPage {
        l: Layout::new("资料报送", "/monthly", &auth),
        tabs: tabs(p, "/submissions"),
        flash: flash(q.msg.as_deref()),
        office: p.user.role.is_office(),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect(),
        rows,
    })
}

pub async fn create_requirement(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let due = parse_deadline(&form.text("due"), "due")?;
    let id = st
        .app
        .create_requirement(
            &u.principal().actor(),
            &form.text("title"),
            &form.text("detail"),
            due,
            &form.ids("departments")?,
            now(),
        )
        .await?;
    back(&format!("/submissions/{id}"), "created")
}

pub struct TargetLine {
    pub department_id: i64,
    pub department: String,
    pub state: &'static str,
    pub css: &'static str,
    pub submitted: String,
    pub note: String,
    pub can_submit: bool,
}

#[derive(Template)]
#[template(path = "submission.html")]
struct SubmissionPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    flash: Option<&'static str>,
    r: liandong_store::SubmissionRequirement,
    due: String,
    targets: Vec<TargetLine>,
}

pub async fn submission(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let r = st.app.store.requirement(&p.scope(), id).await?;
    let t = now();
    let targets = r
        .targets
        .iter()
        .map(|x| {
            let s = liandong_service::App::submission_state(r.due_at, x.submitted_at, t);
            TargetLine {
                department_id: x.department_id,
                department: x.department.clone(),
                state: s.label(),
                css: submission_css(s),
                submitted: x
                    .submitted_at
                    .map(|at| {
                        format!(
                            "{} {}",
                            fmt_time(at),
                            x.submitted_by.clone().unwrap_or_default()
                        )
                    })
                    .unwrap_or_default(),
                note: x.note.clone().unwrap_or_default(),
                can_submit: x.submitted_at.is_none()
                    && !p.user.role.read_only()
                    && p.write_scope().allows(x.department_id),
            }
        })
        .collect();
    render(&SubmissionPage {
        l: Layout::new(&r.title, "/monthly", &auth),
        tabs: tabs(p, "/submissions"),
        flash: flash(q.msg.as_deref()),
        due: fmt_time(r.due_at),
        targets,
        r,
    })
}

pub async fn submit(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .submit_requirement(
            u.principal(),
            id,
            int(&form, "department_id")?,
            &form.text("note"),
            now(),
        )
        .await?;
    back(&format!("/submissions/{id}"), "saved")
}
