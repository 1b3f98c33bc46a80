//! The scoring pages: rankings with their workflow, a department's breakdown, event entry,
//! evaluations, the rule table and the annual summary.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use liandong_domain::scoring::{Level, Points, RankingKind, RuleCode};
use liandong_domain::{Category, Month, Period, Quarter, Year};
use liandong_service::scoring::{Ranking, RANKED_EXTERNALLY};
use liandong_service::Principal;
use liandong_store::{EvaluationKind, RankingStatus, Scope};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{flash, fmt_time, render, FormData, Layout};
use crate::api::scoring::{parse_month, parse_period, parse_quarter};
use crate::auth::{AnyUser, Evaluator, Leader, Office, PageAuth, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

#[derive(Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    msg: Option<String>,
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn current_month() -> Month {
    Month::of(liandong_domain::deadline::county_date(now()))
}

/// Whether the user sees every department's scores in this state of the ranking.
fn sees_everything(p: &Principal, status: RankingStatus) -> bool {
    p.user.role.sees_all() || status == RankingStatus::Published
}

pub struct Row {
    pub id: i64,
    pub rank: u32,
    pub name: String,
    pub office: String,
    pub evaluation: String,
    pub score: String,
    pub basis: &'static str,
    pub flagged: bool,
}

pub struct Group {
    pub code: &'static str,
    pub label: String,
    pub eval_header: &'static str,
    pub rows: Vec<Row>,
    pub chart: String,
}

pub struct AppealLine {
    pub id: i64,
    pub department: String,
    pub event: String,
    pub reason: String,
    pub evidence: String,
    pub status: &'static str,
    pub decision: String,
    pub decidable: bool,
}

#[derive(Template)]
#[template(path = "rankings.html")]
struct RankingsPage {
    l: Layout,
    flash: Option<&'static str>,
    heading: String,
    period: String,
    period_kind: &'static str,
    prev_period: String,
    prev_label: String,
    next_period: String,
    next_label: String,
    month_links: Vec<(String, String)>,
    year: i32,
    quarterly: bool,
    status_label: &'static str,
    status_facts: Vec<String>,
    lock_note: Option<String>,
    actions: Vec<(String, &'static str, &'static str)>,
    can_export: bool,
    can_bulletin: bool,
    default_doc_no: String,
    visibility_note: Option<&'static str>,
    groups: Vec<Group>,
    appeals: Vec<AppealLine>,
    acknowledged: usize,
    unacknowledged: String,
    bulletin: Vec<String>,
    can_flag: bool,
    departments: Vec<(i64, String)>,
}

fn appeal_status(s: &str) -> &'static str {
    match s {
        "pending" => "待处理",
        "upheld" => "申诉成立",
        _ => "申诉不成立",
    }
}

/// The bulletin list of a quarter: consecutive laggards and hand-flagged lapses.
pub async fn bulletin_lines(st: &AppState, q: Quarter) -> AppResult<(Vec<String>, Vec<i64>)> {
    let deps = st.app.store.departments().await?;
    let name = |id: i64| {
        deps.iter()
            .find(|d| d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    for id in st.app.laggards(q).await? {
        lines.push(format!(
            "{}：连续 {} 个季度在同类部门中排名末位",
            name(id),
            st.app.settings.laggard_quarters
        ));
        ids.push(id);
    }
    for f in st.app.store.lapse_flags(q).await? {
        lines.push(format!("{}：{}", name(f.department_id), f.reason));
        ids.push(f.department_id);
    }
    Ok((lines, ids))
}

fn groups(
    ranking: &Ranking,
    p: &Principal,
    flagged: &[i64],
    evals: &[liandong_store::Evaluation],
) -> Vec<Group> {
    let everything = sees_everything(p, ranking.state.status);
    let scope = p.scope();
    let quarterly = ranking.kind == RankingKind::Quarterly;
    let cats: &[Category] = if quarterly {
        &Category::ALL
    } else {
        &[Category::Close]
    };
    cats.iter()
        .map(|&c| {
            let rows: Vec<Row> = ranking
                .rows
                .iter()
                .filter(|r| {
                    r.ranked.category == c && (everything || scope.allows(r.ranked.department_id))
                })
                .map(|r| {
                    let id = r.ranked.department_id;
                    let evaluation = evals
                        .iter()
                        .filter(|e| e.department_id == id)
                        .map(|e| e.score.to_string())
                        .next()
                        .unwrap_or_else(|| {
                            if c == Category::Close || RANKED_EXTERNALLY.contains(&r.code.as_str())
                            {
                                "待录入".into()
                            } else {
                                "—".into()
                            }
                        });
                    Row {
                        id,
                        rank: r.ranked.rank,
                        name: r.department.clone(),
                        office: r.ranked.office_score.to_string(),
                        evaluation,
                        score: r.ranked.score.to_string(),
                        basis: r.ranked.basis.label(),
                        flagged: flagged.contains(&id),
                    }
                })
                .collect();
            let chart = if everything && rows.len() > 1 {
                let items: Vec<(String, f64)> = rows
                    .iter()
                    .map(|r| (r.name.clone(), r.score.parse().unwrap_or(0.0)))
                    .collect();
                let floor = items.iter().map(|i| i.1).fold(100.0, f64::min).floor() - 2.0;
                crate::svg::bars(&format!("{}最终得分", c.label()), &items, floor)
            } else {
                String::new()
            };
            Group {
                code: c.code(),
                label: if quarterly {
                    format!("{}（{} 个）", c.label(), rows.len())
                } else {
                    "紧密型部门月度排名".into()
                },
                eval_header: if c == Category::Close {
                    "延伸评价"
                } else {
                    "上级评估"
                },
                rows,
                chart,
            }
        })
        .filter(|g| !g.rows.is_empty())
        .collect()
}

pub async fn rankings(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let period = match q.period.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_period(s, "period")?,
        None => Period::Quarter(current_month().quarter().prev()),
    };
    let (ranking, quarter, evals, month_links, prev, next) = match period {
        Period::Quarter(qr) => {
            let r = st.app.quarterly_ranking(qr).await?;
            let evals = st.app.store.evaluations(qr).await?;
            let links = qr
                .months()
                .iter()
                .map(|m| (m.to_string(), format!("{}月度", m.label())))
                .collect();
            (
                r,
                qr,
                evals,
                links,
                qr.prev().to_string(),
                next_quarter(qr).to_string(),
            )
        }
        Period::Month(m) => {
            let r = st.app.monthly_ranking(m).await?;
            let links = vec![(
                m.quarter().to_string(),
                format!("{}排序", m.quarter().label()),
            )];
            (
                r,
                m.quarter(),
                Vec::new(),
                links,
                m.prev().to_string(),
                m.next().to_string(),
            )
        }
        Period::Year(y) => {
            return Ok(Redirect::to(&format!("/rankings/annual?year={y}")).into_response())
        }
    };
    let quarterly = ranking.kind == RankingKind::Quarterly;
    let state = &ranking.state;
    let role = p.user.role;
    let (bulletin, flagged) =
        if quarterly && (role.sees_all() || state.status == RankingStatus::Published) {
            bulletin_lines(&st, quarter).await?
        } else {
            (Vec::new(), Vec::new())
        };
    let mut actions = Vec::new();
    let base = format!("/rankings/{quarter}");
    let at = now().timestamp();
    let window_open = state.appeal_deadline.is_some_and(|d| at <= d);
    match state.status {
        RankingStatus::Draft if role.is_office() => actions.push((
            format!("{base}/submit"),
            "提交审定（开始申诉期）",
            "submit-ranking",
        )),
        RankingStatus::Submitted if role == liandong_domain::Role::Leader && !window_open => {
            actions.push((format!("{base}/approve"), "审定并锁定", "approve-ranking"))
        }
        RankingStatus::Submitted if role.is_office() => actions.push((
            format!("{base}/reopen"),
            "撤回提交（修改后重新提交）",
            "reopen-ranking",
        )),
        RankingStatus::Approved if role.is_office() => actions.push((
            format!("{base}/publish"),
            "通报送达各单位",
            "publish-ranking",
        )),
        _ => {}
    }
    let acks = st.app.store.acknowledgements(quarter).await?;
    let deps = st.app.store.departments().await?;
    if state.status == RankingStatus::Published && role == liandong_domain::Role::Department {
        for d in deps.iter().filter(|d| {
            p.user.unit_ids().contains(&d.id) && !acks.iter().any(|a| a.department_id == d.id)
        }) {
            actions.push((
                format!("{base}/acknowledge?department_id={}", d.id),
                "确认收到排序结果",
                "acknowledge-ranking",
            ));
        }
    }
    let mut facts = Vec::new();
    if let Some(t) = state.submitted_at {
        facts.push(format!("{} 提交", fmt_time(t)));
    }
    if let Some(d) = state
        .appeal_deadline
        .filter(|_| state.status == RankingStatus::Submitted)
    {
        facts.push(format!("申诉截止 {}", fmt_time(d)));
    }
    if let (Some(by), Some(t)) = (&state.approved_by, state.approved_at) {
        facts.push(format!("{by} 于 {} 审定", fmt_time(t)));
    }
    if let Some(t) = state.published_at {
        facts.push(format!("{} 通报", fmt_time(t)));
    }
    let scope = p.scope();
    let appeals = if quarterly {
        st.app.store.appeals(&scope, quarter).await?
    } else {
        Vec::new()
    };
    let mut appeal_lines = Vec::new();
    for a in &appeals {
        let e = st.app.store.score_event(a.event_id).await?;
        appeal_lines.push(AppealLine {
            id: a.id,
            department: e.department.clone(),
            event: format!("第 {} 号 {} {} 分", e.id, e.rule.label(), e.points),
            reason: a.reason.clone(),
            evidence: a.evidence.clone(),
            status: appeal_status(&a.status),
            decision: a.decision_reason.clone().unwrap_or_default(),
            decidable: a.status == "pending" && role.is_office(),
        });
    }
    let unacknowledged: Vec<&str> = if state.status == RankingStatus::Published && role.sees_all() {
        deps.iter()
            .filter(|d| !acks.iter().any(|a| a.department_id == d.id))
            .map(|d| d.name.as_str())
            .collect()
    } else {
        Vec::new()
    };
    let everything = sees_everything(p, state.status);
    render(&RankingsPage {
        l: Layout::new("排序", "/rankings", &auth),
        flash: flash(q.msg.as_deref()),
        heading: format!("{}排序", ranking.label),
        period: match period {
            Period::Month(m) => m.to_string(),
            _ => quarter.to_string(),
        },
        period_kind: if quarterly {
            "季度排序（全部 26 个单位）"
        } else {
            "月度排序（紧密型部门）"
        },
        prev_label: if quarterly {
            "上一季度".into()
        } else {
            "上一月".into()
        },
        next_label: if quarterly {
            "下一季度".into()
        } else {
            "下一月".into()
        },
        prev_period: prev,
        next_period: next,
        month_links,
        year: quarter.year(),
        quarterly,
        status_label: state.status.label(),
        status_facts: facts,
        lock_note: liandong_service::App::status_note(state),
        actions,
        can_export: everything,
        can_bulletin: quarterly && state.status.locked() && (role.sees_all() || everything),
        default_doc_no: format!("召巩固拓展专班〔{}〕{}号", quarter.year(), quarter.number()),
        visibility_note: (!everything)
            .then_some("排序结果经分管领导审定并通报后公开；在此之前您只能看到本单位的得分。"),
        groups: groups(&ranking, p, &flagged, &evals),
        appeals: appeal_lines,
        acknowledged: acks.len(),
        unacknowledged: unacknowledged.join("、"),
        bulletin,
        can_flag: quarterly && role.is_office() && !state.status.locked(),
        departments: deps.iter().map(|d| (d.id, d.name.clone())).collect(),
    })
}

fn next_quarter(q: Quarter) -> Quarter {
    let m = q.months()[2].next();
    m.quarter()
}

async fn workflow(st: &AppState, p: &Principal, period: &str, what: &str) -> AppResult<Response> {
    let q = parse_quarter(period, "period")?;
    let actor = p.actor();
    match what {
        "submit" => st.app.submit_ranking(&actor, q, now()).await.map(|_| ())?,
        "approve" => st.app.approve_ranking(&actor, q, now()).await.map(|_| ())?,
        "reopen" => st.app.reopen_ranking(&actor, q, now()).await.map(|_| ())?,
        _ => st.app.publish_ranking(&actor, q, now()).await.map(|_| ())?,
    }
    Ok(Redirect::to(&format!("/rankings?period={q}&msg=saved")).into_response())
}

pub async fn submit(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Response> {
    workflow(&st, u.principal(), &period, "submit").await
}

pub async fn approve(
    State(st): State<AppState>,
    u: Require<Leader>,
    Path(period): Path<String>,
) -> AppResult<Response> {
    workflow(&st, u.principal(), &period, "approve").await
}

pub async fn reopen(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Response> {
    workflow(&st, u.principal(), &period, "reopen").await
}

pub async fn publish(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Response> {
    workflow(&st, u.principal(), &period, "publish").await
}

#[derive(Deserialize)]
pub struct DeptQuery {
    department_id: i64,
}

pub async fn acknowledge(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(period): Path<String>,
    Query(d): Query<DeptQuery>,
) -> AppResult<Response> {
    let q = parse_quarter(&period, "period")?;
    let p = u.principal();
    st.app
        .store
        .acknowledge_ranking(
            &p.actor(),
            &p.own_units(),
            now().timestamp(),
            q,
            d.department_id,
        )
        .await?;
    Ok(Redirect::to(&format!("/rankings?period={q}&msg=saved")).into_response())
}

pub async fn flag(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let q = parse_quarter(&period, "period")?;
    let dept: i64 = form
        .text("department_id")
        .parse()
        .map_err(|_| AppError::invalid("department_id", "请选择单位"))?;
    st.app.store.department(dept).await?;
    let reason = form.text("reason");
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid("reason", "情况说明须为 1-500 个字"));
    }
    st.app
        .store
        .flag_lapse(&u.principal().actor(), now().timestamp(), q, dept, &reason)
        .await?;
    Ok(Redirect::to(&format!("/rankings?period={q}&msg=saved")).into_response())
}

pub struct EventLine {
    pub id: i64,
    pub month: String,
    pub department: String,
    pub rule: &'static str,
    pub level: &'static str,
    pub count: u32,
    pub points: String,
    pub note: String,
    pub doc_no: String,
    pub struck: bool,
    pub appealable: bool,
    pub appeal: String,
    pub withdrawable: bool,
    pub state: String,
    /// (download URL, file name)
    pub files: Vec<(String, String)>,
    /// The page of the fact a proposed event rests on, and its name.
    pub fact: Option<(String, String)>,
}

fn event_line(e: &liandong_store::ScoreEvent) -> EventLine {
    EventLine {
        fact: crate::api::monthly::fact_link(e.fact.as_deref()),
        id: e.id,
        month: e.month.to_string(),
        department: e.department.clone(),
        rule: e.rule.label(),
        level: e.level.map_or("—", Level::label),
        count: e.count,
        points: e.points.to_string(),
        note: e.note.clone(),
        doc_no: e.doc_no.clone().unwrap_or_default(),
        struck: e.withdrawn_by.is_some() || e.status != "confirmed",
        appealable: false,
        appeal: String::new(),
        withdrawable: e.status == "confirmed" && e.withdraws.is_none() && e.withdrawn_by.is_none(),
        state: match (e.withdraws, e.withdrawn_by) {
            _ if e.status == "rejected" => format!(
                "提议已否决：{}",
                e.decision_note.clone().unwrap_or_default()
            ),
            (Some(w), _) => format!("撤销第 {w} 号"),
            (_, Some(b)) => format!("已由第 {b} 号撤销"),
            _ => String::new(),
        },
        files: Vec::new(),
    }
}

/// Fills each line's attachment links.
async fn with_files(st: &AppState, mut lines: Vec<EventLine>) -> AppResult<Vec<EventLine>> {
    let owners: Vec<String> = lines
        .iter()
        .map(|l| format!("score_event:{}", l.id))
        .collect();
    let files = st.app.store.attachments_of(&owners).await?;
    for l in &mut lines {
        let owner = format!("score_event:{}", l.id);
        l.files = files
            .iter()
            .filter(|f| f.owner == owner)
            .map(|f| (format!("/api/v1/attachments/{}", f.id), f.file_name.clone()))
            .collect();
    }
    Ok(lines)
}

#[derive(Template)]
#[template(path = "ranking_department.html")]
struct BreakdownPage {
    l: Layout,
    flash: Option<&'static str>,
    period: String,
    period_label: String,
    department: String,
    total: String,
    office: String,
    final_line: Option<String>,
    appeal_note: Option<String>,
    events: Vec<EventLine>,
    score_chart: String,
    rank_chart: String,
}

pub async fn breakdown(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path((period, id)): Path<(String, i64)>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let dept = st.app.store.department(id).await?;
    let period = parse_period(&period, "period")?;
    let (months, quarter, ranking) = match period {
        Period::Month(m) => (vec![m], m.quarter(), st.app.monthly_ranking(m).await?),
        Period::Quarter(qr) => (
            qr.months().to_vec(),
            qr,
            st.app.quarterly_ranking(qr).await?,
        ),
        Period::Year(_) => return Err(AppError::invalid("period", "明细按月或按季度查看")),
    };
    if !sees_everything(p, ranking.state.status) && !p.scope().allows(id) {
        return Err(AppError::forbidden(
            "排序结果通报前，只能查看本单位的得分明细",
        ));
    }
    let events = st
        .app
        .store
        .score_events(&Scope::All, &months, Some(id))
        .await?;
    let appeals = st.app.store.appeals(&Scope::All, quarter).await?;
    let at = now().timestamp();
    let window_open = ranking.state.status == RankingStatus::Submitted
        && ranking.state.appeal_deadline.is_some_and(|d| at <= d);
    let own = p.user.role == liandong_domain::Role::Department && p.user.unit_ids().contains(&id);
    let lines: Vec<EventLine> = events
        .iter()
        .map(|e| {
            let mut l = event_line(e);
            let appeal = appeals.iter().find(|a| a.event_id == e.id);
            l.appealable = own
                && window_open
                && appeal.is_none()
                && e.withdraws.is_none()
                && e.withdrawn_by.is_none();
            l.appeal = appeal
                .map(|a| appeal_status(&a.status).to_owned())
                .unwrap_or_default();
            l
        })
        .collect();
    let total: Points = events
        .iter()
        .filter(|e| e.status == "confirmed")
        .map(|e| e.points)
        .sum();
    let row = ranking.rows.iter().find(|r| r.ranked.department_id == id);
    // History: the last eight quarters.
    let mut qs = vec![quarter];
    for _ in 0..7 {
        let first = *qs.first().unwrap_or(&quarter);
        qs.insert(0, first.prev());
    }
    let mut scores = Vec::new();
    let mut ranks = Vec::new();
    for hq in &qs {
        let r = st.app.quarterly_ranking(*hq).await?;
        let visible = sees_everything(p, r.state.status) || p.scope().allows(id);
        let mine = r
            .rows
            .iter()
            .find(|x| x.ranked.department_id == id)
            .filter(|_| visible);
        let touched = !st
            .app
            .store
            .score_events(&Scope::All, &hq.months(), Some(id))
            .await?
            .is_empty();
        scores.push(
            mine.filter(|_| touched || r.state.status != RankingStatus::Draft)
                .map(|x| decimal_f64(x.ranked.score)),
        );
        ranks.push(
            mine.filter(|_| touched || r.state.status != RankingStatus::Draft)
                .map(|x| f64::from(x.ranked.rank)),
        );
    }
    let labels: Vec<String> = qs
        .iter()
        .map(|q| format!("{}Q{}", q.year() % 100, q.number()))
        .collect();
    render(&BreakdownPage {
        l: Layout::new("得分明细", "/rankings", &auth),
        flash: flash(q.msg.as_deref()),
        period: period.to_string(),
        period_label: ranking.label.clone(),
        department: dept.name.clone(),
        total: total.to_string(),
        office: row
            .map(|r| r.ranked.office_score.to_string())
            .unwrap_or_default(),
        final_line: row
            .filter(|r| r.ranked.score != r.ranked.office_score)
            .map(|r| {
                format!(
                    "最终得分 {}（{}），同类排名第 {} 名",
                    r.ranked.score,
                    r.ranked.basis.label(),
                    r.ranked.rank
                )
            })
            .or_else(|| row.map(|r| format!("同类排名第 {} 名", r.ranked.rank))),
        appeal_note: window_open.then(|| {
            format!(
                "申诉期至 {}：对有异议的事项可在此提出申诉，联动办公室逐项处理后再报分管领导审定。",
                fmt_time(ranking.state.appeal_deadline.unwrap_or(0))
            )
        }),
        events: with_files(&st, lines).await?,
        score_chart: crate::svg::lines(
            "近八个季度最终得分",
            &labels,
            &[("最终得分".into(), scores)],
            false,
        ),
        rank_chart: crate::svg::lines(
            "近八个季度同类名次（第 1 名在上）",
            &labels,
            &[("名次".into(), ranks)],
            true,
        ),
    })
}

fn decimal_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

pub async fn file_appeal(
    State(st): State<AppState>,
    u: Require<Writer>,
    form: FormData,
) -> AppResult<Response> {
    let p = u.principal();
    let event_id: i64 = form
        .text("event_id")
        .parse()
        .map_err(|_| AppError::invalid("event_id", "请选择要申诉的事项"))?;
    let reason = form.text("reason");
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::invalid("reason", "申诉理由须为 1-2000 个字"));
    }
    let a = st
        .app
        .store
        .file_appeal(
            &p.actor(),
            &p.own_units(),
            now().timestamp(),
            event_id,
            &reason,
            &form.text("evidence"),
        )
        .await?;
    Ok(Redirect::to(&format!(
        "/rankings/{}/departments/{}?msg=saved",
        a.quarter, a.department_id
    ))
    .into_response())
}

pub async fn decide_appeal(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let reason = form.text("reason");
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "请填写处理理由"));
    }
    let a = st
        .app
        .store
        .decide_appeal(
            &u.principal().actor(),
            now().timestamp(),
            id,
            form.get("uphold") == Some("1"),
            &reason,
        )
        .await?;
    Ok(Redirect::to(&format!("/rankings?period={}&msg=saved", a.quarter)).into_response())
}

#[derive(Template)]
#[template(path = "scoring_events.html")]
struct EventsPage {
    l: Layout,
    flash: Option<&'static str>,
    month: String,
    month_label: String,
    departments: Vec<(i64, String)>,
    rules: Vec<(&'static str, String)>,
    levels: Vec<(&'static str, &'static str)>,
    events: Vec<EventLine>,
    proposals: Vec<EventLine>,
}

#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
    msg: Option<String>,
}

pub async fn events_page(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _u: Require<Office>,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let month = match q.month.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_month(s, "month")?,
        None => current_month().prev(),
    };
    let events = st
        .app
        .store
        .score_events(&Scope::All, &[month], None)
        .await?;
    render(&EventsPage {
        l: Layout::new("加减分录入", "/scoring/events", &auth),
        flash: flash(q.msg.as_deref()),
        month: month.to_string(),
        month_label: month.label(),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect(),
        rules: RuleCode::ALL
            .iter()
            .map(|r| {
                (
                    r.code(),
                    format!(
                        "{}（{}，每{}）",
                        r.label(),
                        if r.is_bonus() { "加分" } else { "扣分" },
                        r.per().label()
                    ),
                )
            })
            .collect(),
        levels: Level::ALL.iter().map(|l| (l.code(), l.label())).collect(),
        events: with_files(
            &st,
            events
                .iter()
                .filter(|e| e.status != "proposed")
                .map(event_line)
                .collect(),
        )
        .await?,
        proposals: st
            .app
            .store
            .proposals()
            .await?
            .iter()
            .map(|e| {
                let mut l = event_line(e);
                l.state = e
                    .fact
                    .clone()
                    .map(|f| format!("依据：{f}"))
                    .unwrap_or_default();
                l
            })
            .collect(),
    })
}

pub async fn decide_proposal(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let confirm = form.get("confirm") == Some("1");
    let note = form.text("note");
    if !confirm && note.is_empty() {
        return Err(AppError::invalid("note", "否决提议须说明理由"));
    }
    let e = st
        .app
        .store
        .decide_proposal(
            &u.principal().actor(),
            now().timestamp(),
            id,
            confirm,
            &note,
        )
        .await?;
    Ok(Redirect::to(&format!("/scoring/events?month={}&msg=saved", e.month)).into_response())
}

pub async fn attach(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    mut form: axum::extract::Multipart,
) -> AppResult<Response> {
    let mut file = None;
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
            file = Some((name, bytes));
        }
    }
    let (name, bytes) = file.ok_or_else(|| AppError::invalid("file", "请选择文件"))?;
    st.app
        .attach_to_event(&u.principal().actor(), id, &name, &bytes, now())
        .await?;
    let e = st.app.store.score_event(id).await?;
    Ok(Redirect::to(&format!("/scoring/events?month={}&msg=saved", e.month)).into_response())
}

pub async fn create_event(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let body = crate::api::scoring::event_request_from_form(&form)?;
    let input = crate::api::scoring::event_input(body)?;
    let month = input.month;
    st.app
        .record_event(&u.principal().actor(), input, now())
        .await?;
    Ok(Redirect::to(&format!("/scoring/events?month={month}&msg=saved")).into_response())
}

pub async fn withdraw_event(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let reason = form.text("reason");
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "请填写撤销理由"));
    }
    let e = st
        .app
        .store
        .withdraw_score_event(&u.principal().actor(), now().timestamp(), id, &reason)
        .await?;
    Ok(Redirect::to(&format!("/scoring/events?month={}&msg=saved", e.month)).into_response())
}

pub struct EvalLine {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub current: String,
    pub editable: bool,
    pub locked_note: String,
}

#[derive(Template)]
#[template(path = "evaluations.html")]
struct EvaluationsPage {
    l: Layout,
    flash: Option<&'static str>,
    quarter: String,
    quarter_label: String,
    office_weight: u32,
    extended_weight: u32,
    rows: Vec<EvalLine>,
}

#[derive(Deserialize)]
pub struct QuarterQuery {
    quarter: Option<String>,
    msg: Option<String>,
}

pub async fn evaluations_page(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Evaluator>,
    Query(q): Query<QuarterQuery>,
) -> AppResult<Response> {
    let quarter = match q.quarter.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_quarter(s, "quarter")?,
        None => current_month().quarter().prev(),
    };
    let evals = st.app.store.evaluations(quarter).await?;
    let state = st.app.store.ranking_state(quarter).await?;
    let office = u.principal().user.role.is_office();
    let note = liandong_service::App::status_note(&state).unwrap_or_default();
    let mut rows = Vec::new();
    for d in st.app.store.departments().await? {
        let kind = if d.category == Category::Close {
            EvaluationKind::Extended
        } else if RANKED_EXTERNALLY.contains(&d.code.as_str()) {
            EvaluationKind::External
        } else {
            continue;
        };
        rows.push(EvalLine {
            id: d.id,
            name: d.name,
            kind: kind.code(),
            kind_label: kind.label(),
            current: evals
                .iter()
                .find(|e| e.department_id == d.id && e.kind == kind)
                .map(|e| e.score.to_string())
                .unwrap_or_default(),
            editable: !state.status.locked() && (office || kind == EvaluationKind::Extended),
            locked_note: if state.status.locked() {
                note.clone()
            } else {
                "由联动办公室录入".into()
            },
        });
    }
    let w = st.app.settings.weights.office_percent();
    render(&EvaluationsPage {
        l: Layout::new("评价录入", "/scoring/evaluations", &auth),
        flash: flash(q.msg.as_deref()),
        quarter: quarter.to_string(),
        quarter_label: quarter.label(),
        office_weight: w,
        extended_weight: 100 - w,
        rows,
    })
}

pub async fn save_evaluation(
    State(st): State<AppState>,
    u: Require<Evaluator>,
    form: FormData,
) -> AppResult<Response> {
    let quarter = parse_quarter(&form.text("quarter"), "quarter")?;
    let dept: i64 = form
        .text("department_id")
        .parse()
        .map_err(|_| AppError::invalid("department_id", "单位无效"))?;
    let kind = EvaluationKind::from_code(&form.text("kind"))
        .ok_or_else(|| AppError::invalid("kind", "评价类别无效"))?;
    if kind == EvaluationKind::External && !u.principal().user.role.is_office() {
        return Err(AppError::forbidden("上级评估结果由联动办公室录入"));
    }
    let score: Decimal = form
        .text("score")
        .parse()
        .map_err(|_| AppError::invalid("score", "分数须为数字，如 92.5"))?;
    st.app
        .record_evaluation(&u.principal().actor(), quarter, dept, kind, score, now())
        .await?;
    Ok(Redirect::to(&format!("/scoring/evaluations?quarter={quarter}&msg=saved")).into_response())
}

pub struct RuleLine {
    pub code: &'static str,
    pub label: &'static str,
    pub per: &'static str,
    pub national: String,
    pub province: String,
    pub city: String,
    pub county: String,
}

pub struct VersionView {
    pub title: String,
    pub rows: Vec<RuleLine>,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    l: Layout,
    versions: Vec<VersionView>,
    can_edit: bool,
    /// (form field, rule wording, level label, current magnitude)
    fields: Vec<(String, &'static str, &'static str, String)>,
}

/// The form field of a rule (and level) in the revision form.
fn rule_field(r: RuleCode, l: Option<Level>) -> String {
    format!("p:{}:{}", r.code(), l.map_or("", Level::code))
}

pub async fn add_rule_version(
    State(st): State<AppState>,
    u: Require<crate::auth::Admin>,
    form: FormData,
) -> AppResult<Response> {
    let from = chrono::NaiveDate::parse_from_str(&form.text("effective_from"), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("effective_from", "施行日期格式应为 2024-01-01"))?;
    let note = form.text("note");
    if note.is_empty() || note.chars().count() > 200 {
        return Err(AppError::invalid("note", "请注明修订依据（不超过 200 字）"));
    }
    let mut rows = Vec::new();
    for r in RuleCode::ALL {
        let levels: Vec<Option<Level>> = if r.has_levels() {
            Level::ALL.map(Some).to_vec()
        } else {
            vec![None]
        };
        for l in levels {
            let field = rule_field(r, l);
            let value = form.text(&field);
            let points: Points = value.parse().map_err(|_| {
                AppError::invalid(
                    &field,
                    format!(
                        "“{}”{}的分值“{value}”须为 0.5 的整数倍",
                        r.label(),
                        l.map_or("", Level::label)
                    ),
                )
            })?;
            rows.push((r, l, points));
        }
    }
    let table = liandong_domain::scoring::RuleTable::from_rows(from, &rows)
        .map_err(|e| AppError::invalid("points", e.to_string()))?;
    st.app
        .store
        .add_rule_version(&u.principal().actor(), now().timestamp(), &note, &table)
        .await?;
    Ok(Redirect::to("/scoring/rules?msg=saved").into_response())
}

pub async fn rules_page(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
) -> AppResult<Response> {
    let versions = st.app.store.rule_versions().await?;
    let views = versions
        .iter()
        .rev()
        .map(|v| {
            let rows = v.table.rows();
            let signed = |r: RuleCode, l: Option<Level>| {
                rows.iter()
                    .find(|x| x.0 == r && x.1 == l)
                    .map(|x| {
                        if r.is_bonus() {
                            format!("+{}", x.2)
                        } else {
                            x.2.negated().to_string()
                        }
                    })
                    .unwrap_or_else(|| "—".into())
            };
            VersionView {
                title: format!("{} 起施行：{}", v.table.effective_from, v.note),
                rows: RuleCode::ALL
                    .iter()
                    .map(|&r| RuleLine {
                        code: r.code(),
                        label: r.label(),
                        per: r.per().label(),
                        national: if r.has_levels() {
                            signed(r, Some(Level::National))
                        } else {
                            "—".into()
                        },
                        province: if r.has_levels() {
                            signed(r, Some(Level::Province))
                        } else {
                            "—".into()
                        },
                        city: if r.has_levels() {
                            signed(r, Some(Level::City))
                        } else {
                            "—".into()
                        },
                        county: if r.has_levels() {
                            signed(r, Some(Level::County))
                        } else {
                            signed(r, None)
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    let current = versions.last().map(|v| v.table.rows()).unwrap_or_default();
    let fields = RuleCode::ALL
        .iter()
        .flat_map(|&r| {
            let levels: Vec<Option<Level>> = if r.has_levels() {
                Level::ALL.map(Some).to_vec()
            } else {
                vec![None]
            };
            let current = &current;
            levels.into_iter().map(move |l| {
                let value = current
                    .iter()
                    .find(|x| x.0 == r && x.1 == l)
                    .map(|x| x.2.to_string())
                    .unwrap_or_default();
                (
                    rule_field(r, l),
                    r.label(),
                    l.map_or("不分级别", Level::label),
                    value,
                )
            })
        })
        .collect();
    render(&RulesPage {
        l: Layout::new("评分细则", "/rankings", &auth),
        versions: views,
        can_edit: u.principal().user.role.administers(),
        fields,
    })
}

/// (code, label, rows of (name, quarter scores, mean))
type AnnualGroup = (
    &'static str,
    &'static str,
    Vec<(String, Vec<String>, String)>,
);

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    l: Layout,
    year: i32,
    quarter_labels: Vec<String>,
    groups: Vec<AnnualGroup>,
}

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<String>,
}

pub async fn annual(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<YearQuery>,
) -> AppResult<Response> {
    let year: Year = match q.year.as_deref() {
        Some(y) => y
            .parse()
            .map_err(|e: liandong_domain::PeriodError| AppError::invalid("year", e.to_string()))?,
        None => Year::new(current_month().year())
            .map_err(|e| AppError::invalid("year", e.to_string()))?,
    };
    let p = u.principal();
    let rows = st.app.annual(year, !p.user.role.sees_all()).await?;
    let groups = Category::ALL
        .iter()
        .map(|&c| {
            let mut list: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r.category == c
                        && (p.user.role.sees_all()
                            || p.scope().allows(r.department_id)
                            || r.mean.is_some())
                })
                .map(|r| {
                    (
                        r.department.clone(),
                        r.quarters
                            .iter()
                            .map(|(_, s)| s.map(|s| s.to_string()).unwrap_or_else(|| "—".into()))
                            .collect(),
                        r.mean.map(|m| m.to_string()).unwrap_or_else(|| "—".into()),
                    )
                })
                .collect::<Vec<_>>();
            list.sort_by(|a, b| {
                b.2.parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&a.2.parse::<f64>().unwrap_or(0.0))
            });
            (c.code(), c.label(), list)
        })
        .collect();
    render(&AnnualPage {
        l: Layout::new("年度汇总", "/rankings", &auth),
        year: year.value(),
        quarter_labels: year
            .quarters()
            .iter()
            .map(|q| format!("第{}季度", q.number()))
            .collect(),
        groups,
    })
}

fn rows_of(
    ranking: &Ranking,
    c: Category,
    evals: &[liandong_store::Evaluation],
) -> Vec<Vec<String>> {
    ranking
        .rows
        .iter()
        .filter(|r| r.ranked.category == c)
        .map(|r| {
            let e = evals
                .iter()
                .find(|e| e.department_id == r.ranked.department_id)
                .map(|e| e.score.to_string())
                .unwrap_or_else(|| "—".into());
            vec![
                r.ranked.rank.to_string(),
                r.department.clone(),
                r.ranked.office_score.to_string(),
                e,
                r.ranked.score.to_string(),
                r.ranked.basis.label().to_owned(),
            ]
        })
        .collect()
}

/// The ranking as a print-ready workbook, one sheet per category.
pub async fn export(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Response> {
    let period = parse_period(&period, "period")?;
    let (ranking, evals) = match period {
        Period::Quarter(q) => (
            st.app.quarterly_ranking(q).await?,
            st.app.store.evaluations(q).await?,
        ),
        Period::Month(m) => (st.app.monthly_ranking(m).await?, Vec::new()),
        Period::Year(_) => return Err(AppError::invalid("period", "按月或按季度导出")),
    };
    if !sees_everything(u.principal(), ranking.state.status) {
        return Err(AppError::forbidden("排序结果通报前不能导出全部单位的得分"));
    }
    let cats: &[Category] = if ranking.kind == RankingKind::Quarterly {
        &Category::ALL
    } else {
        &[Category::Close]
    };
    let sheets_rows: Vec<(Category, Vec<Vec<liandong_office::Cell>>)> = cats
        .iter()
        .map(|&c| {
            (
                c,
                rows_of(&ranking, c, &evals)
                    .into_iter()
                    .map(|r| r.into_iter().map(liandong_office::Cell::from).collect())
                    .collect(),
            )
        })
        .collect();
    let subtitle = format!(
        "状态：{}　导出时间：{}",
        ranking.state.status.label(),
        fmt_time(now().timestamp())
    );
    let titles: Vec<String> = cats
        .iter()
        .map(|c| format!("{}{}排序", ranking.label, c.label()))
        .collect();
    let columns = |c: Category| {
        [
            liandong_office::Column {
                header: "名次",
                width: 8.0,
            },
            liandong_office::Column {
                header: "单位",
                width: 20.0,
            },
            liandong_office::Column {
                header: "联动办公室评分",
                width: 14.0,
            },
            liandong_office::Column {
                header: if c == Category::Close {
                    "延伸评价"
                } else {
                    "上级评估"
                },
                width: 12.0,
            },
            liandong_office::Column {
                header: "最终得分",
                width: 12.0,
            },
            liandong_office::Column {
                header: "依据",
                width: 36.0,
            },
        ]
    };
    let cols: Vec<_> = cats.iter().map(|&c| columns(c)).collect();
    let sheets: Vec<liandong_office::Sheet<'_>> = sheets_rows
        .iter()
        .enumerate()
        .map(|(i, (c, rows))| liandong_office::Sheet {
            name: c.label(),
            title: &titles[i],
            subtitle: &subtitle,
            columns: &cols[i],
            rows,
        })
        .collect();
    let bytes = liandong_office::workbook(&sheets).map_err(AppError::internal)?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("ranking-{period}.xlsx"),
    ))
}

pub(crate) fn download(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct BulletinQuery {
    doc_no: Option<String>,
}

/// The quarterly bulletin (季通报) as a Word document, once the leader has approved the quarter.
pub async fn bulletin(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
    Query(q): Query<BulletinQuery>,
) -> AppResult<Response> {
    let quarter = parse_quarter(&period, "period")?;
    let ranking = st.app.quarterly_ranking(quarter).await?;
    let state = &ranking.state;
    if !state.status.locked() {
        return Err(AppError::new(
            axum::http::StatusCode::CONFLICT,
            "conflict",
            "排序结果经分管领导审定后才能生成通报",
        ));
    }
    if !sees_everything(u.principal(), state.status) {
        return Err(AppError::forbidden("通报前不能下载"));
    }
    let doc_no = q
        .doc_no
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("召巩固拓展专班〔{}〕{}号", quarter.year(), quarter.number()));
    if doc_no.chars().count() > 40 {
        return Err(AppError::invalid("doc_no", "文号最多 40 个字"));
    }
    let evals = st.app.store.evaluations(quarter).await?;
    let approved_on = state
        .approved_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(liandong_domain::deadline::county_date)
        .unwrap_or_else(|| liandong_domain::deadline::county_date(now()));
    let (bulletin_list, _) = bulletin_lines(&st, quarter).await?;
    let numbers = ["一", "二", "三"];
    let tables = Category::ALL
        .iter()
        .enumerate()
        .map(|(i, &c)| liandong_office::bulletin::BulletinTable {
            heading: format!(
                "{}、{}（{} 个）",
                numbers[i],
                c.label(),
                ranking
                    .rows
                    .iter()
                    .filter(|r| r.ranked.category == c)
                    .count()
            ),
            header: [
                "名次",
                "单位",
                "联动办公室评分",
                if c == Category::Close {
                    "延伸评价"
                } else {
                    "上级评估"
                },
                "最终得分",
                "依据",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows_of(&ranking, c, &evals),
        })
        .collect();
    let mut closing = vec!["四、需全县通报的单位".to_owned()];
    if bulletin_list.is_empty() {
        closing.push("本季度无连续处于落后位次或因工作疏忽造成严重影响的单位。".into());
    } else {
        closing.extend(
            bulletin_list
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{}. {l}。", i + 1)),
        );
    }
    closing.push("请各单位对照排序结果，对查摆的问题深挖根源、举一反三，以高标准推动问题销号清零。排名落后的单位要认真分析原因，制定整改措施，确保下一季度工作有明显提升。".into());
    let b = liandong_office::bulletin::Bulletin {
        issuer: "南召县巩固拓展脱贫攻坚成果工作专班".into(),
        doc_no,
        title: format!("关于{}县直重点行业部门“5+2”联动机制排序情况的通报", quarter.label()),
        addressee: "各乡镇、县直有关单位：".into(),
        opening: vec![format!(
            "为进一步压紧压实县直重点行业部门巩固拓展脱贫攻坚成果工作责任，根据《南召县巩固拓展脱贫攻坚成果同乡村振兴有效衔接重点行业部门“5+2”联动机制工作方案》和《奖优惩后评分细则》，县联动办公室对{}各行业部门“五个一”活动开展情况进行了评分排序，经县委县政府分管领导于{}审定同意，现将排序情况通报如下。",
            quarter.label(),
            liandong_office::bulletin::chinese_date(approved_on)
        )],
        tables,
        closing,
        date: liandong_office::bulletin::chinese_date(approved_on),
    };
    let bytes = liandong_office::bulletin::bulletin_docx(&b).map_err(AppError::internal)?;
    st.app
        .store
        .audit_read(
            &u.principal().actor(),
            now().timestamp(),
            "ranking.bulletin",
            &format!("ranking:{quarter}"),
            &serde_json::json!({"doc_no": b.doc_no}),
        )
        .await?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &format!("bulletin-{quarter}.docx"),
    ))
}

/// Largest import file accepted (the spreadsheet limits are checked again inside).
pub const IMPORT_LIMIT: usize = 12 * 1024 * 1024;

pub async fn template(State(st): State<AppState>, _u: Require<Office>) -> AppResult<Response> {
    let bytes = st.app.event_template().await?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "score-events-template.xlsx",
    ))
}

#[derive(Template)]
#[template(path = "import_result.html")]
struct ImportResultPage {
    l: Layout,
    errors: Vec<liandong_service::scoring::RowError>,
    download: String,
    back: (&'static str, &'static str),
}

pub async fn import(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Office>,
    form: axum::extract::Multipart,
) -> AppResult<Response> {
    let (_, bytes) = super::monthly::upload(form).await?;
    let p = u.principal();
    let outcome = st.app.import_events(&p.actor(), &bytes, now()).await?;
    import_outcome(&st, &auth, p, outcome, ("/scoring/events", "加减分录入"))
}

/// The page after an import: back to `back` when imported; the errors, with the file back
/// with an error column, when rejected; a conflict when the same file came before.
pub fn import_outcome(
    st: &AppState,
    auth: &crate::auth::Auth,
    p: &Principal,
    outcome: liandong_service::scoring::ImportOutcome,
    back: (&'static str, &'static str),
) -> AppResult<Response> {
    match outcome {
        liandong_service::scoring::ImportOutcome::Imported(n) => {
            Ok(Redirect::to(&format!("{}?msg=imported&n={n}", back.0)).into_response())
        }
        liandong_service::scoring::ImportOutcome::AlreadyImported(by, at) => Err(AppError::new(
            axum::http::StatusCode::CONFLICT,
            "already_imported",
            format!(
                "该文件已由 {by} 于 {} 导入，未重复导入，数据没有改动",
                fmt_time(at)
            ),
        )),
        liandong_service::scoring::ImportOutcome::Rejected(errors, annotated) => {
            let token = liandong_service::auth::random_token();
            let expires = now().timestamp() + 1800;
            if let Ok(mut cache) = st.rejected.lock() {
                let at = now().timestamp();
                cache.retain(|_, v| v.1 > at);
                cache.insert(token.clone(), (p.user.id, expires, annotated));
            }
            let page = ImportResultPage {
                l: Layout::new("导入结果", back.0, auth),
                errors,
                download: format!("/imports/rejected/{token}"),
                back,
            };
            let html = page.render().map_err(AppError::internal)?;
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                axum::response::Html(html),
            )
                .into_response())
        }
    }
}

/// The rejected file with its error column, for the user who uploaded it.
pub async fn rejected(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let found = st.rejected.lock().ok().and_then(|c| {
        c.get(&token)
            .filter(|v| v.0 == u.principal().user.id && v.1 > now().timestamp())
            .map(|v| v.2.clone())
    });
    let bytes =
        found.ok_or_else(|| AppError::not_found("该文件已过期，请重新上传以获得错误说明"))?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "import-errors.xlsx",
    ))
}
