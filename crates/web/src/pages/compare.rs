//! The comparison workbench (信息比对): runs with live progress, the feed ledger with
//! uploads and templates, clues with filters, export, verification and hand-off, the review
//! queue and the rule library.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use liandong_compare::DataKind;
use liandong_domain::Role;
use liandong_service::App;
use serde::Deserialize;

use super::{flash, render, township_choices, FormData, Layout};
use crate::api::compare::{
    clue_dto, feed_dto, kind_dto, ledger_dto, month_or_current, parse_kind, parse_month,
    parse_outcome, review_dto, review_status, rules_dto, run_dto, run_job_dto, ClueDto,
    ExportFilter, FeedDto, KindDto, LedgerDto, ReviewDto, RulesDto, RunDto, RunJobDto, CLUE_PAGE,
};
use crate::api::monthly::parse_date;
use crate::auth::{AnyUser, Auth, Office, PageAuth, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

fn back(to: &str, msg: &str) -> AppResult<Response> {
    let sep = if to.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{to}{sep}msg={msg}")).into_response())
}

#[derive(Deserialize)]
pub struct Msg {
    msg: Option<String>,
}

fn message(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "delivered" => "数据已报送，检查通过。",
        "duplicate" => "这些文件此前已报送过，数据没有改动。",
        "settled" => "核实结果已保存。",
        "handed" => "已转为预警，推送到乡镇和相关部门。",
        "placed" => "已指派乡镇，由该乡镇核实。",
        "decided" => "已处理，下次比对将沿用此结论。",
        "rules" => "比对规则新版本已保存。",
        other => return flash(Some(other)),
    })
}

fn layout(title: &str, auth: &Auth) -> Layout {
    Layout::new(title, "/compare", auth)
}

// ---- workbench ----

#[derive(Template)]
#[template(path = "compare.html")]
struct WorkbenchPage {
    l: Layout,
    flash: Option<&'static str>,
    office: bool,
    today: String,
    runs: Vec<RunDto>,
    open_clues: i64,
    pending_reviews: i64,
}

pub async fn workbench(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let office = p.user.role.is_office();
    let runs = st.app.compare_runs(20).await?;
    let (_, open_clues) = st
        .app
        .clues_for(
            p,
            liandong_store::ClueFilter {
                status: Some("open".into()),
                limit: 1,
                ..Default::default()
            },
        )
        .await?;
    let pending_reviews = if office {
        st.app.reviews(p, Some("pending"), 0, 1).await?.1
    } else {
        0
    };
    render(&WorkbenchPage {
        l: layout("信息比对", &auth),
        flash: message(q.msg.as_deref()),
        office,
        today: liandong_domain::deadline::county_date(now()).to_string(),
        runs: runs.iter().map(run_dto).collect(),
        open_clues,
        pending_reviews,
    })
}

pub async fn start_run(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let as_of = form.text("as_of");
    let as_of = if as_of.trim().is_empty() {
        None
    } else {
        Some(parse_date(&as_of, "as_of")?)
    };
    let token = st.app.start_compare(u.principal(), as_of, now()).await?;
    Ok(Redirect::to(&format!("/compare/jobs/{token}")).into_response())
}

#[derive(Template)]
#[template(path = "compare_job.html")]
struct JobPage {
    l: Layout,
    job: RunJobDto,
    percent: usize,
}

pub async fn job(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let j = st.app.compare_job(u.principal(), &token)?;
    let job = run_job_dto(&token, &j);
    if let Some(id) = job.run_id {
        return Ok(Redirect::to(&format!("/compare/runs/{id}")).into_response());
    }
    let percent = (job.done * 100).checked_div(job.total).unwrap_or(0);
    render(&JobPage {
        l: layout("比对进度", &auth),
        job,
        percent,
    })
}

#[derive(Template)]
#[template(path = "compare_run.html")]
struct RunPage {
    l: Layout,
    run: RunDto,
    feeds: Vec<FeedDto>,
}

pub async fn run(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let run = run_dto(&st.app.compare_run(id).await?);
    let all = st.app.feed_deliveries(None, 10_000).await?;
    let feeds = all
        .iter()
        .filter(|d| run.deliveries.contains(&d.id))
        .map(|d| feed_dto(d, false))
        .collect();
    render(&RunPage {
        l: layout(&format!("比对第 {id} 次"), &auth),
        run,
        feeds,
    })
}

// ---- feeds ----

#[derive(Template)]
#[template(path = "compare_feeds.html")]
struct FeedsPage {
    l: Layout,
    flash: Option<&'static str>,
    month: String,
    prev: String,
    next: String,
    ledger: Vec<LedgerDto>,
    kinds: Vec<KindDto>,
    /// Kinds the user may deliver.
    mine: Vec<(&'static str, &'static str)>,
    deliveries: Vec<FeedDto>,
}

#[derive(Deserialize)]
pub struct FeedsQuery {
    month: Option<String>,
    msg: Option<String>,
}

pub async fn feeds(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<FeedsQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let month = month_or_current(q.month.as_deref())?;
    let ledger = st.app.feed_ledger(month, now()).await?;
    let mine = ledger
        .iter()
        .filter(|l| {
            p.user.role.is_office()
                || (p.user.role == Role::Department && p.user.unit_ids().contains(&l.department_id))
        })
        .map(|l| (l.kind.code(), l.kind.label()))
        .collect();
    let deliveries = st.app.feed_deliveries(None, 100).await?;
    render(&FeedsPage {
        l: layout("数据报送台账", &auth),
        flash: message(q.msg.as_deref()),
        month: month.to_string(),
        prev: month.prev().to_string(),
        next: month.next().to_string(),
        ledger: ledger.iter().map(ledger_dto).collect(),
        kinds: DataKind::ALL.iter().map(|k| kind_dto(*k)).collect(),
        mine,
        deliveries: deliveries.iter().map(|d| feed_dto(d, false)).collect(),
    })
}

pub async fn deliver(
    State(st): State<AppState>,
    u: Require<Writer>,
    mut form: Multipart,
) -> AppResult<Response> {
    let mut kind: Option<DataKind> = None;
    let mut due = String::new();
    let mut files = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?
    {
        match field.name().unwrap_or_default() {
            "kind" => {
                let k = parse_kind(&field.text().await.unwrap_or_default())?;
                // Before any file is read: a large upload from someone who may not deliver
                // this kind is refused.
                st.app.check_may_deliver(u.principal(), k).await?;
                kind = Some(k);
            }
            "due_month" => due = field.text().await.unwrap_or_default(),
            "file" if kind.is_none() => {
                return Err(AppError::invalid("kind", "请选择数据类型"));
            }
            "file" => {
                let name = field.file_name().unwrap_or("数据.csv").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?;
                if !bytes.is_empty() {
                    files.push((name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| AppError::invalid("kind", "请选择数据类型"))?;
    let due = if due.trim().is_empty() {
        None
    } else {
        Some(parse_month(&due, "due_month")?)
    };
    let d = st
        .app
        .deliver_feed(u.principal(), kind, due, files, now())
        .await?;
    back(
        &format!("/compare/feeds?month={}", d.delivery.due_month),
        if d.duplicate {
            "duplicate"
        } else {
            "delivered"
        },
    )
}

// ---- clues ----

#[derive(Template)]
#[template(path = "compare_clues.html")]
struct CluesPage {
    l: Layout,
    flash: Option<&'static str>,
    rows: Vec<ClueDto>,
    total: i64,
    page: i64,
    pages: i64,
    query: String,
    rule: String,
    status: String,
    township_id: String,
    method: String,
    run_id: String,
    rules: Vec<String>,
    townships: Vec<(i64, String)>,
    may_unmask: bool,
}

#[derive(Deserialize)]
pub struct CluesQuery {
    rule: Option<String>,
    status: Option<String>,
    township_id: Option<String>,
    method: Option<String>,
    run_id: Option<String>,
    #[serde(default)]
    page: i64,
    msg: Option<String>,
}

pub async fn clues(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<CluesQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let mut filter = ExportFilter {
        rule: q.rule.clone(),
        status: q.status.clone(),
        township_id: q.township_id.clone(),
        method: q.method.clone(),
        run_id: q.run_id.clone(),
    }
    .filter()?;
    let page = q.page.clamp(0, 100_000);
    filter.offset = page * CLUE_PAGE;
    let (list, total) = st.app.clues_for(p, filter).await?;
    let enc = |s: &Option<String>| {
        url::form_urlencoded::byte_serialize(s.as_deref().unwrap_or_default().as_bytes())
            .collect::<String>()
    };
    let query = format!(
        "rule={}&status={}&township_id={}&method={}&run_id={}",
        enc(&q.rule),
        enc(&q.status),
        enc(&q.township_id),
        enc(&q.method),
        enc(&q.run_id)
    );
    let today = liandong_domain::deadline::county_date(now());
    let (rules, _) = st.app.ruleset_for(today).await?;
    render(&CluesPage {
        l: layout("风险线索", &auth),
        flash: message(q.msg.as_deref()),
        rows: list.iter().map(|c| clue_dto(&st, c)).collect(),
        total,
        page,
        pages: (total + CLUE_PAGE - 1) / CLUE_PAGE,
        query,
        rule: q.rule.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        township_id: q.township_id.unwrap_or_default(),
        method: q.method.unwrap_or_default(),
        run_id: q.run_id.unwrap_or_default(),
        rules: rules.rules.iter().map(|r| r.code.clone()).collect(),
        townships: township_choices(&st).await?,
        may_unmask: matches!(
            p.user.role,
            Role::OfficeAdmin | Role::OfficeStaff | Role::Township
        ),
    })
}

#[derive(Template)]
#[template(path = "compare_clue.html")]
struct CluePage {
    l: Layout,
    flash: Option<&'static str>,
    c: ClueDto,
    can_settle: bool,
    can_hand_off: bool,
    /// Townships the office may place the clue in (empty when it may not).
    townships: Vec<(i64, String)>,
}

/// The export of the filtered clues, masked.
pub async fn export(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ExportFilter>,
) -> AppResult<Response> {
    let bytes = st
        .app
        .clues_export(u.principal(), q.filter()?, None, now())
        .await?;
    Ok(crate::api::compare::xlsx(bytes))
}

/// The export with full ID numbers, posted with its reason; logged.
pub async fn export_unmasked(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    form: FormData,
) -> AppResult<Response> {
    let text = |k: &str| Some(form.text(k));
    let filter = ExportFilter {
        rule: text("rule"),
        status: text("status"),
        township_id: text("township_id"),
        method: text("method"),
        run_id: text("run_id"),
    }
    .filter()?;
    let reason = form.text("reason");
    if reason.trim().is_empty() {
        return Err(AppError::invalid("reason", "请填写导出完整身份证号的用途"));
    }
    let bytes = st
        .app
        .clues_export(u.principal(), filter, Some(&reason), now())
        .await?;
    Ok(crate::api::compare::xlsx(bytes))
}

pub async fn clue(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let c = st.app.clue_for(p, id).await?;
    let can_hand_off = st.app.can_hand_off_clue(p, &c).await;
    let townships = if App::can_assign_clue_township(p, &c) {
        township_choices(&st).await?
    } else {
        Vec::new()
    };
    render(&CluePage {
        l: layout(&format!("线索第 {id} 号"), &auth),
        flash: message(q.msg.as_deref()),
        can_settle: st.app.can_settle_clue(p, &c).await,
        can_hand_off,
        townships,
        c: clue_dto(&st, &c),
    })
}

pub async fn assign_township(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let text = form.text("township_id");
    let town = text
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("township_id", "请选择乡镇"))?;
    st.app
        .assign_clue_township(u.principal(), id, town, now())
        .await?;
    back(&format!("/compare/clues/{id}"), "placed")
}

pub async fn settle(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let confirmed = parse_outcome(&form.text("result"))?;
    st.app
        .settle_clue(u.principal(), id, confirmed, &form.text("note"), now())
        .await?;
    back(&format!("/compare/clues/{id}"), "settled")
}

pub async fn hand_off(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    st.app.clue_to_warning(u.principal(), id, now()).await?;
    back(&format!("/compare/clues/{id}"), "handed")
}

// ---- review queue ----

#[derive(Template)]
#[template(path = "compare_reviews.html")]
struct ReviewsPage {
    l: Layout,
    flash: Option<&'static str>,
    status: String,
    rows: Vec<ReviewDto>,
    total: i64,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct ReviewsQuery {
    status: Option<String>,
    msg: Option<String>,
    #[serde(default)]
    page: i64,
}

/// Review items per page on the page (each is a card with its candidates).
const REVIEW_CARDS: i64 = 50;

pub async fn reviews(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Office>,
    Query(q): Query<ReviewsQuery>,
) -> AppResult<Response> {
    let status = review_status(q.status.as_deref())?;
    let page = q.page.max(0);
    let (rows, total) = st
        .app
        .reviews(u.principal(), status, page, REVIEW_CARDS)
        .await?;
    render(&ReviewsPage {
        l: layout("待确认匹配", &auth),
        flash: message(q.msg.as_deref()),
        status: status.unwrap_or("all").to_owned(),
        rows: rows.iter().map(review_dto).collect(),
        total,
        page,
        pages: (total + REVIEW_CARDS - 1) / REVIEW_CARDS,
    })
}

pub async fn decide(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let choice = form.text("person_id");
    let person = match choice.trim() {
        "" => {
            return Err(AppError::invalid(
                "person_id",
                "请选择候选人，或选择“都不是”",
            ))
        }
        "none" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::invalid("person_id", "候选人无效"))?,
        ),
    };
    st.app
        .decide_review(u.principal(), id, person, now())
        .await?;
    back("/compare/reviews", "decided")
}

// ---- rules ----

#[derive(Template)]
#[template(path = "compare_rules.html")]
struct RulesPage {
    l: Layout,
    flash: Option<&'static str>,
    office: bool,
    r: RulesDto,
    /// (code, title, kind, test, finding, severity, enabled, confirmed, dismissed, open, precision)
    rows: Vec<RuleRow>,
    body: String,
}

struct RuleRow {
    code: String,
    title: String,
    kind: String,
    test: &'static str,
    finding: String,
    severity: &'static str,
    enabled: bool,
    confirmed: i64,
    dismissed: i64,
    open: i64,
    precision: String,
}

pub async fn rules(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let r = rules_dto(&st).await?;
    let spec: Option<liandong_compare::rules::RuleSetSpec> =
        serde_json::from_value(r.rules.clone()).ok();
    let rows = spec
        .map(|s| s.rules)
        .unwrap_or_default()
        .into_iter()
        .map(|rule| {
            let t = r.tallies.iter().find(|t| t.rule == rule.code);
            RuleRow {
                kind: rule.data.label().to_owned(),
                test: match rule.test {
                    liandong_compare::rules::Test::Match => "比中",
                    liandong_compare::rules::Test::Absence => "反向比对（缺失）",
                },
                finding: liandong_service::compare::finding_label(&rule.finding).to_owned(),
                severity: rule.severity.label(),
                enabled: rule.enabled,
                confirmed: t.map_or(0, |t| t.confirmed),
                dismissed: t.map_or(0, |t| t.dismissed),
                open: t.map_or(0, |t| t.open),
                precision: t
                    .and_then(|t| t.precision)
                    .map_or("—".to_owned(), |p| format!("{:.0}%", p * 100.0)),
                code: rule.code,
                title: rule.title,
            }
        })
        .collect();
    render(&RulesPage {
        l: layout("比对规则", &auth),
        flash: message(q.msg.as_deref()),
        office: u.principal().user.role.is_office(),
        body: serde_json::to_string_pretty(&r.rules).unwrap_or_default(),
        rows,
        r,
    })
}

pub async fn save_rules(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .save_ruleset(
            u.principal(),
            &form.text("rules"),
            &form.text("note"),
            now(),
        )
        .await?;
    back("/compare/rules", "rules")
}
