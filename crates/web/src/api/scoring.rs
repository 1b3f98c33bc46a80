//! The scoring API of api.md: score events, evaluations, rankings and their workflow,
//! appeals, rule versions.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use liandong_domain::scoring::{Level, Points, RuleCode};
use liandong_domain::{Month, Period, Quarter};
use liandong_service::scoring::{EventInput, Ranking};
use liandong_store::{EvaluationKind, ScoreEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AnyUser, Evaluator, Leader, Office, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::AppState;

pub fn parse_month(s: &str, field: &str) -> Result<Month, AppError> {
    s.parse()
        .map_err(|e: liandong_domain::PeriodError| AppError::invalid(field, e.to_string()))
}

pub fn parse_quarter(s: &str, field: &str) -> Result<Quarter, AppError> {
    s.parse()
        .map_err(|_| AppError::invalid(field, format!("季度“{s}”格式应为 2023-Q2")))
}

pub fn parse_period(s: &str, field: &str) -> Result<Period, AppError> {
    s.parse()
        .map_err(|e: liandong_domain::PeriodError| AppError::invalid(field, e.to_string()))
}

fn months_of(p: Period) -> Vec<Month> {
    match p {
        Period::Month(m) => vec![m],
        Period::Quarter(q) => q.months().to_vec(),
        Period::Year(y) => y.quarters().iter().flat_map(|q| q.months()).collect(),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewScoreEventRequest {
    department_id: i64,
    /// The month, e.g. `2023-04`.
    period: String,
    /// One of the 16 rule codes of domain.md §6.
    rule: String,
    /// national, province, city or county: only for rules that have levels.
    level: Option<String>,
    #[serde(default = "one")]
    count: i64,
    #[serde(default)]
    note: String,
    /// 文号
    doc_no: Option<String>,
    /// YYYY-MM-DD, within the month.
    occurred_on: Option<String>,
}

fn one() -> i64 {
    1
}

#[derive(Serialize, ToSchema)]
pub struct ScoreEventDto {
    id: i64,
    department_id: i64,
    department: String,
    period: String,
    rule: String,
    rule_label: String,
    level: Option<String>,
    count: u32,
    /// Negative for deductions, in steps of 0.5.
    #[schema(value_type = f64)]
    points: Points,
    rule_version_id: i64,
    note: String,
    doc_no: Option<String>,
    occurred_on: Option<String>,
    /// On a withdrawal entry: the event it cancels.
    withdraws: Option<i64>,
    /// On a withdrawn event: the entry that cancelled it.
    withdrawn_by: Option<i64>,
    created_by: String,
    /// proposed (by the platform, waiting for the office), confirmed or rejected
    status: String,
    /// What a proposed event rests on.
    fact: Option<String>,
    /// Whether the event's points count in the score (confirmed; withdrawal entries included).
    counts: bool,
}

pub fn event_dto(e: &ScoreEvent) -> ScoreEventDto {
    ScoreEventDto {
        id: e.id,
        department_id: e.department_id,
        department: e.department.clone(),
        period: e.month.to_string(),
        rule: e.rule.code().to_owned(),
        rule_label: e.rule.label().to_owned(),
        level: e.level.map(|l| l.code().to_owned()),
        count: e.count,
        points: e.points,
        rule_version_id: e.rule_version_id,
        note: e.note.clone(),
        doc_no: e.doc_no.clone(),
        occurred_on: e.occurred_on.map(|d| d.to_string()),
        withdraws: e.withdraws,
        withdrawn_by: e.withdrawn_by,
        created_by: e.created_by.clone(),
        status: e.status.clone(),
        fact: e.fact.clone(),
        counts: e.status == "confirmed",
    }
}

/// The event form of the entry page, as the API's request.
pub fn event_request_from_form(
    form: &crate::pages::FormData,
) -> Result<NewScoreEventRequest, AppError> {
    Ok(NewScoreEventRequest {
        department_id: form
            .text("department_id")
            .parse()
            .map_err(|_| AppError::invalid("department_id", "请选择单位"))?,
        period: form.text("period"),
        rule: form.text("rule"),
        level: Some(form.text("level")),
        count: form
            .text("count")
            .parse()
            .map_err(|_| AppError::invalid("count", "次数须为正整数"))?,
        note: form.text("note"),
        doc_no: Some(form.text("doc_no")),
        occurred_on: Some(form.text("occurred_on")),
    })
}

/// Parses an event request into the service's input, naming the offending field.
pub fn event_input(b: NewScoreEventRequest) -> Result<EventInput, AppError> {
    let rule: RuleCode = b
        .rule
        .parse()
        .map_err(|e: liandong_domain::scoring::ScoringError| {
            AppError::invalid("rule", e.to_string())
        })?;
    let level = match b.level.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(l) => Some(Level::from_code(l).ok_or_else(|| {
            AppError::invalid(
                "level",
                format!("级别“{l}”无效，可选 national、province、city、county"),
            )
        })?),
        None => None,
    };
    let count = u32::try_from(b.count)
        .ok()
        .filter(|c| *c >= 1)
        .ok_or_else(|| AppError::invalid("count", "次数须为正整数"))?;
    let occurred_on = match b
        .occurred_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            AppError::invalid("occurred_on", format!("日期“{d}”格式应为 2023-04-12"))
        })?),
        None => None,
    };
    Ok(EventInput {
        department_id: b.department_id,
        month: parse_month(&b.period, "period")?,
        rule,
        level,
        count,
        note: b.note.trim().to_owned(),
        doc_no: b.doc_no.map(|s| s.trim().to_owned()),
        occurred_on,
    })
}

/// Records a score event (the office); its points are computed from the rule table.
#[utoipa::path(post, path = "/api/v1/score-events", tag = "scoring", request_body = NewScoreEventRequest,
    responses((status = 201, body = ScoreEventDto), (status = 409, description = "期间已锁定", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_event(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(b): AppJson<NewScoreEventRequest>,
) -> AppResult<(StatusCode, Json<ScoreEventDto>)> {
    let e = st
        .app
        .record_event(&u.principal().actor(), event_input(b)?, chrono::Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(event_dto(&e))))
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    department_id: Option<i64>,
    /// A month, quarter or year: `2023-04`, `2023-Q2`, `2023`.
    period: String,
}

/// The events behind a score; department users see their own departments' only.
#[utoipa::path(get, path = "/api/v1/score-events", tag = "scoring", params(EventsQuery), responses((status = 200, body = [ScoreEventDto])))]
pub async fn list_events(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<EventsQuery>,
) -> AppResult<Json<Vec<ScoreEventDto>>> {
    let months = months_of(parse_period(&q.period, "period")?);
    let events = st
        .app
        .store
        .score_events(&u.principal().scope(), &months, q.department_id)
        .await?;
    Ok(Json(events.iter().map(event_dto).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct WithdrawRequest {
    reason: String,
}

/// Withdraws an event with a new, audited entry that cancels its points.
#[utoipa::path(post, path = "/api/v1/score-events/{id}/withdraw", tag = "scoring", request_body = WithdrawRequest,
    responses((status = 201, body = ScoreEventDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn withdraw_event(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(b): AppJson<WithdrawRequest>,
) -> AppResult<(StatusCode, Json<ScoreEventDto>)> {
    let reason = b.reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "请填写撤销理由"));
    }
    let e = st
        .app
        .store
        .withdraw_score_event(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(event_dto(&e))))
}

#[derive(Deserialize, ToSchema)]
pub struct EvaluationRequest {
    /// `extended` (延伸评价, close-type) or `external` (上级评估, 县乡村振兴局 and 县财政局)
    kind: String,
    #[schema(value_type = f64)]
    score: Decimal,
}

#[derive(Serialize, ToSchema)]
pub struct EvaluationDto {
    period: String,
    department_id: i64,
    kind: String,
    #[schema(value_type = f64)]
    #[serde(with = "rust_decimal::serde::float")]
    score: Decimal,
}

/// Records the extended or external evaluation of a department for a quarter.
#[utoipa::path(put, path = "/api/v1/evaluations/{period}/{department_id}", tag = "scoring", request_body = EvaluationRequest,
    responses((status = 200, body = EvaluationDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_evaluation(
    State(st): State<AppState>,
    u: Require<Evaluator>,
    Path((period, department_id)): Path<(String, i64)>,
    AppJson(b): AppJson<EvaluationRequest>,
) -> AppResult<Json<EvaluationDto>> {
    let quarter = parse_quarter(&period, "period")?;
    st.app.store.department(department_id).await?;
    let kind = EvaluationKind::from_code(&b.kind)
        .ok_or_else(|| AppError::invalid("kind", "评价类别须为 extended 或 external"))?;
    if kind == EvaluationKind::External && !u.principal().user.role.is_office() {
        return Err(AppError::forbidden("上级评估结果由联动办公室录入"));
    }
    let e = st
        .app
        .record_evaluation(
            &u.principal().actor(),
            quarter,
            department_id,
            kind,
            b.score,
            chrono::Utc::now(),
        )
        .await?;
    Ok(Json(EvaluationDto {
        period: quarter.to_string(),
        department_id,
        kind: kind.code().into(),
        score: e.score,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RankingItem {
    department_id: i64,
    department: String,
    /// close, related or emergency
    category: String,
    #[schema(value_type = f64)]
    #[serde(with = "rust_decimal::serde::float")]
    office_score: Decimal,
    /// The final score used to rank.
    #[schema(value_type = f64)]
    #[serde(with = "rust_decimal::serde::float")]
    score: Decimal,
    /// Within the category; ties share a rank.
    rank: u32,
    /// draft, approved or published (api.md); a submitted quarter is still a draft
    status: String,
    /// True while the quarter is submitted and departments may appeal.
    appeal_open: bool,
    /// office, combined, awaiting_extended, external or awaiting_external
    basis: String,
}

/// api.md's three states: a quarter submitted for appeal is still a draft.
fn contract_status(s: liandong_store::RankingStatus) -> &'static str {
    match s {
        liandong_store::RankingStatus::Draft | liandong_store::RankingStatus::Submitted => "draft",
        other => other.code(),
    }
}

fn ranking_items(r: &Ranking) -> Vec<RankingItem> {
    r.rows
        .iter()
        .map(|x| RankingItem {
            department_id: x.ranked.department_id,
            department: x.department.clone(),
            category: x.ranked.category.code().into(),
            office_score: x.ranked.office_score,
            score: x.ranked.score,
            rank: x.ranked.rank,
            status: contract_status(r.state.status).into(),
            appeal_open: r.state.status == liandong_store::RankingStatus::Submitted,
            basis: serde_json::to_value(x.ranked.basis)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        })
        .collect()
}

#[derive(Deserialize, IntoParams)]
pub struct RankingQuery {
    /// A quarter (`2023-Q2`, all departments) or a month (`2023-04`, close-type departments).
    period: String,
}

/// A ranking. Department and township users see a quarter's full ranking once it is
/// published, and only their own departments' rows before.
#[utoipa::path(get, path = "/api/v1/rankings", tag = "scoring", params(RankingQuery), responses((status = 200, body = [RankingItem])))]
pub async fn rankings(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<RankingQuery>,
) -> AppResult<Json<Vec<RankingItem>>> {
    let ranking = match parse_period(&q.period, "period")? {
        Period::Month(m) => st.app.monthly_ranking(m).await?,
        Period::Quarter(qr) => st.app.quarterly_ranking(qr).await?,
        Period::Year(_) => {
            return Err(AppError::invalid(
                "period",
                "排序按月（紧密型部门）或按季度查询；年度结果见 /api/v1/rankings/annual",
            ))
        }
    };
    let p = u.principal();
    let mut items = ranking_items(&ranking);
    if !p.user.role.sees_all() && ranking.state.status != liandong_store::RankingStatus::Published {
        let scope = p.scope();
        items.retain(|i| scope.allows(i.department_id));
    }
    Ok(Json(items))
}

#[derive(Serialize, ToSchema)]
pub struct RankingStateDto {
    period: String,
    status: String,
    submitted_by: Option<String>,
    /// End of the appeal window (RFC 3339).
    appeal_deadline: Option<String>,
    approved_by: Option<String>,
    approved_at: Option<String>,
    published_at: Option<String>,
}

fn ts(t: Option<i64>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| {
            t.with_timezone(&liandong_domain::deadline::county_offset())
                .to_rfc3339()
        })
}

pub fn state_dto(s: &liandong_store::RankingState) -> RankingStateDto {
    RankingStateDto {
        period: s.quarter.to_string(),
        status: s.status.code().into(),
        submitted_by: s.submitted_by.clone(),
        appeal_deadline: ts(s.appeal_deadline),
        approved_by: s.approved_by.clone(),
        approved_at: ts(s.approved_at),
        published_at: ts(s.published_at),
    }
}

/// Submits a quarter's draft ranking; the appeal window opens (LIANDONG_APPEAL_DAYS working days).
#[utoipa::path(post, path = "/api/v1/rankings/{period}/submit", tag = "scoring", responses((status = 200, body = RankingStateDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn submit(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Json<RankingStateDto>> {
    let q = parse_quarter(&period, "period")?;
    Ok(Json(state_dto(
        &st.app
            .submit_ranking(&u.principal().actor(), q, chrono::Utc::now())
            .await?,
    )))
}

/// Approves and locks a quarter (leaders); 409 while appeals are open or undecided.
#[utoipa::path(post, path = "/api/v1/rankings/{period}/approve", tag = "scoring", responses((status = 200, body = RankingStateDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn approve(
    State(st): State<AppState>,
    u: Require<Leader>,
    Path(period): Path<String>,
) -> AppResult<Json<RankingStateDto>> {
    let q = parse_quarter(&period, "period")?;
    Ok(Json(state_dto(
        &st.app
            .approve_ranking(&u.principal().actor(), q, chrono::Utc::now())
            .await?,
    )))
}

/// Publishes an approved quarter to every department's principal.
#[utoipa::path(post, path = "/api/v1/rankings/{period}/publish", tag = "scoring", responses((status = 200, body = RankingStateDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn publish(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Json<RankingStateDto>> {
    let q = parse_quarter(&period, "period")?;
    Ok(Json(state_dto(
        &st.app
            .publish_ranking(&u.principal().actor(), q, chrono::Utc::now())
            .await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct AckRequest {
    department_id: i64,
}

/// A department acknowledges a published ranking.
#[utoipa::path(post, path = "/api/v1/rankings/{period}/acknowledge", tag = "scoring", request_body = AckRequest, responses((status = 204), (status = 403, body = crate::error::ErrorBody)))]
pub async fn acknowledge(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(period): Path<String>,
    AppJson(b): AppJson<AckRequest>,
) -> AppResult<StatusCode> {
    let q = parse_quarter(&period, "period")?;
    let p = u.principal();
    let scope = p.own_units();
    st.app
        .store
        .acknowledge_ranking(
            &p.actor(),
            &scope,
            chrono::Utc::now().timestamp(),
            q,
            b.department_id,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct AppealRequest {
    event_id: i64,
    reason: String,
    #[serde(default)]
    evidence: String,
}

#[derive(Serialize, ToSchema)]
pub struct AppealDto {
    id: i64,
    period: String,
    event_id: i64,
    department_id: i64,
    reason: String,
    evidence: String,
    /// pending, upheld or rejected
    status: String,
    decision_reason: Option<String>,
}

fn appeal_dto(a: &liandong_store::Appeal) -> AppealDto {
    AppealDto {
        id: a.id,
        period: a.quarter.to_string(),
        event_id: a.event_id,
        department_id: a.department_id,
        reason: a.reason.clone(),
        evidence: a.evidence.clone(),
        status: a.status.clone(),
        decision_reason: a.decision_reason.clone(),
    }
}

/// A department appeals one event of its own while the quarter's window is open.
#[utoipa::path(post, path = "/api/v1/appeals", tag = "scoring", request_body = AppealRequest,
    responses((status = 201, body = AppealDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn file_appeal(
    State(st): State<AppState>,
    u: Require<Writer>,
    AppJson(b): AppJson<AppealRequest>,
) -> AppResult<(StatusCode, Json<AppealDto>)> {
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::invalid("reason", "申诉理由须为 1-2000 个字"));
    }
    let p = u.principal();
    let scope = p.own_units();
    let a = st
        .app
        .store
        .file_appeal(
            &p.actor(),
            &scope,
            chrono::Utc::now().timestamp(),
            b.event_id,
            reason,
            b.evidence.trim(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(appeal_dto(&a))))
}

/// Appeals of a quarter (a department sees its own).
#[utoipa::path(get, path = "/api/v1/rankings/{period}/appeals", tag = "scoring", responses((status = 200, body = [AppealDto])))]
pub async fn appeals(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Json<Vec<AppealDto>>> {
    let q = parse_quarter(&period, "period")?;
    Ok(Json(
        st.app
            .store
            .appeals(&u.principal().scope(), q)
            .await?
            .iter()
            .map(appeal_dto)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// true upholds the appeal (the event is withdrawn), false rejects it.
    uphold: bool,
    reason: String,
}

/// The office upholds or rejects an appeal, with a reason.
#[utoipa::path(post, path = "/api/v1/appeals/{id}/decision", tag = "scoring", request_body = DecisionRequest, responses((status = 200, body = AppealDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide_appeal(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(b): AppJson<DecisionRequest>,
) -> AppResult<Json<AppealDto>> {
    let reason = b.reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "请填写处理理由"));
    }
    let a = st
        .app
        .store
        .decide_appeal(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            b.uphold,
            reason,
        )
        .await?;
    Ok(Json(appeal_dto(&a)))
}

#[derive(Serialize, ToSchema)]
pub struct RulePointDto {
    rule: String,
    label: String,
    level: Option<String>,
    /// Signed: negative for deductions.
    #[schema(value_type = f64)]
    points: Points,
}

#[derive(Serialize, ToSchema)]
pub struct RuleVersionDto {
    id: i64,
    effective_from: String,
    note: String,
    points: Vec<RulePointDto>,
}

/// The versions of the rule table (评分细则), oldest first.
#[utoipa::path(get, path = "/api/v1/rules", tag = "scoring", responses((status = 200, body = [RuleVersionDto])))]
pub async fn rules(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
) -> AppResult<Json<Vec<RuleVersionDto>>> {
    let versions = st.app.store.rule_versions().await?;
    Ok(Json(versions.iter().map(version_dto).collect()))
}

fn version_dto(v: &liandong_store::RuleVersion) -> RuleVersionDto {
    RuleVersionDto {
        id: v.id,
        effective_from: v.table.effective_from.to_string(),
        note: v.note.clone(),
        points: v
            .table
            .rows()
            .into_iter()
            .map(|(r, l, p)| RulePointDto {
                rule: r.code().into(),
                label: r.label().into(),
                level: l.map(|l| l.code().into()),
                points: if r.is_bonus() { p } else { p.negated() },
            })
            .collect(),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewRuleVersion {
    /// YYYY-MM-DD
    effective_from: String,
    note: String,
    /// Every rule (and level) with its magnitude (positive, in steps of 0.5).
    points: Vec<NewRulePoint>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewRulePoint {
    rule: String,
    level: Option<String>,
    #[schema(value_type = f64)]
    points: Decimal,
}

/// Adds a version of the rule table effective from a date (office administrators).
#[utoipa::path(post, path = "/api/v1/rules", tag = "scoring", request_body = NewRuleVersion, responses((status = 201, body = RuleVersionDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_rules(
    State(st): State<AppState>,
    u: Require<crate::auth::Admin>,
    AppJson(b): AppJson<NewRuleVersion>,
) -> AppResult<(StatusCode, Json<RuleVersionDto>)> {
    let from = NaiveDate::parse_from_str(b.effective_from.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("effective_from", "施行日期格式应为 2024-01-01"))?;
    let mut rows = Vec::new();
    for (i, p) in b.points.iter().enumerate() {
        let field = format!("points[{i}]");
        let rule: RuleCode =
            p.rule
                .parse()
                .map_err(|e: liandong_domain::scoring::ScoringError| {
                    AppError::invalid(&field, e.to_string())
                })?;
        let level = match p.level.as_deref().filter(|s| !s.is_empty()) {
            Some(l) => Some(
                Level::from_code(l)
                    .ok_or_else(|| AppError::invalid(&field, format!("级别“{l}”无效")))?,
            ),
            None => None,
        };
        let points =
            Points::try_from(p.points).map_err(|e| AppError::invalid(&field, e.to_string()))?;
        rows.push((rule, level, points));
    }
    let table = liandong_domain::scoring::RuleTable::from_rows(from, &rows)
        .map_err(|e| AppError::invalid("points", e.to_string()))?;
    let note = b.note.trim();
    if note.is_empty() {
        return Err(AppError::invalid("note", "请注明修订依据"));
    }
    let v = st
        .app
        .store
        .add_rule_version(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            note,
            &table,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(version_dto(&v))))
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    /// Events imported; 0 when the same file was imported before.
    imported: usize,
    /// True when this exact file was imported before and nothing changed.
    duplicate: bool,
}

/// Imports score events from an .xlsx (the body, as uploaded) in one transaction: all rows or
/// none; 422 lists every error by row and column.
#[utoipa::path(post, path = "/api/v1/score-events/import", tag = "scoring",
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses((status = 201, body = ImportResult), (status = 200, description = "同一文件已导入过", body = ImportResult), (status = 422, body = crate::error::ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    u: Require<Office>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<ImportResult>)> {
    let outcome = st
        .app
        .import_events(&u.principal().actor(), &body, chrono::Utc::now())
        .await?;
    import_answer(outcome)
}

/// The API's answer to an import: 201 with the rows imported, 200 for a file imported before,
/// 422 listing every error by row and column.
pub fn import_answer(
    outcome: liandong_service::scoring::ImportOutcome,
) -> AppResult<(StatusCode, Json<ImportResult>)> {
    match outcome {
        liandong_service::scoring::ImportOutcome::Imported(n) => Ok((
            StatusCode::CREATED,
            Json(ImportResult {
                imported: n,
                duplicate: false,
            }),
        )),
        liandong_service::scoring::ImportOutcome::AlreadyImported(..) => Ok((
            StatusCode::OK,
            Json(ImportResult {
                imported: 0,
                duplicate: true,
            }),
        )),
        liandong_service::scoring::ImportOutcome::Rejected(errors, _) => {
            let mut e = AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "import_rejected",
                format!("文件中有 {} 处错误，整个文件未导入", errors.len()),
            );
            e.field = Some("file".into());
            e.details = errors.iter().map(ToString::to_string).collect();
            Err(e)
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BulletinItem {
    department_id: i64,
    department: String,
    /// `laggard` (last in its category quarters running) or `lapse` (flagged by the office)
    kind: String,
    reason: String,
}

/// The county-wide bulletin list of a quarter: consecutive laggards and flagged lapses.
#[utoipa::path(get, path = "/api/v1/rankings/{period}/bulletin-list", tag = "scoring", responses((status = 200, body = [BulletinItem])))]
pub async fn bulletin_list(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(period): Path<String>,
) -> AppResult<Json<Vec<BulletinItem>>> {
    let q = parse_quarter(&period, "period")?;
    if !u.principal().user.role.sees_all()
        && st.app.store.ranking_state(q).await?.status != liandong_store::RankingStatus::Published
    {
        return Err(AppError::forbidden("通报名单在排序结果通报后公开"));
    }
    let deps = st.app.store.departments().await?;
    let name = |id: i64| {
        deps.iter()
            .find(|d| d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let mut out: Vec<BulletinItem> = st
        .app
        .laggards(q)
        .await?
        .into_iter()
        .map(|id| BulletinItem {
            department_id: id,
            department: name(id),
            kind: "laggard".into(),
            reason: format!(
                "连续 {} 个季度在同类部门中排名末位",
                st.app.settings.laggard_quarters
            ),
        })
        .collect();
    out.extend(
        st.app
            .store
            .lapse_flags(q)
            .await?
            .into_iter()
            .map(|f| BulletinItem {
                department: name(f.department_id),
                department_id: f.department_id,
                kind: "lapse".into(),
                reason: f.reason,
            }),
    );
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct FlagRequest {
    department_id: i64,
    reason: String,
}

/// Flags a department by hand for the county-wide bulletin (因工作疏忽造成严重影响).
#[utoipa::path(post, path = "/api/v1/rankings/{period}/flags", tag = "scoring", request_body = FlagRequest, responses((status = 204), (status = 422, body = crate::error::ErrorBody)))]
pub async fn flag(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
    AppJson(b): AppJson<FlagRequest>,
) -> AppResult<StatusCode> {
    let q = parse_quarter(&period, "period")?;
    st.app
        .store
        .department(b.department_id)
        .await
        .map_err(|_| AppError::invalid("department_id", "单位不存在"))?;
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid("reason", "情况说明须为 1-500 个字"));
    }
    st.app
        .store
        .flag_lapse(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            q,
            b.department_id,
            reason,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentDto {
    id: i64,
    file_name: String,
    content_type: String,
    size: i64,
    uploaded_by: String,
    /// Where to download it.
    url: String,
}

pub fn attachment_dto(a: &liandong_store::Attachment) -> AttachmentDto {
    AttachmentDto {
        id: a.id,
        file_name: a.file_name.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        uploaded_by: a.uploaded_by.clone(),
        url: format!("/api/v1/attachments/{}", a.id),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct NameQuery {
    /// The file's name, e.g. `整改报告.pdf`.
    pub(crate) name: String,
}

/// Attaches evidence to an event (the body is the file: PDF, JPG/PNG/WebP, .docx or .xlsx,
/// judged by content, at most 10 MB).
#[utoipa::path(post, path = "/api/v1/score-events/{id}/attachments", tag = "scoring", params(NameQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn attach(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    Query(q): Query<NameQuery>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<AttachmentDto>)> {
    let a = st
        .app
        .attach_to_event(
            &u.principal().actor(),
            id,
            &q.name,
            &body,
            chrono::Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(attachment_dto(&a))))
}

/// The attachments of an event.
#[utoipa::path(get, path = "/api/v1/score-events/{id}/attachments", tag = "scoring", responses((status = 200, body = [AttachmentDto])))]
pub async fn attachments(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<AttachmentDto>>> {
    let e = st.app.store.score_event(id).await?;
    if !u.principal().scope().allows(e.department_id) {
        return Err(AppError::not_found("未找到该加减分事项"));
    }
    let list = st
        .app
        .store
        .attachments_of(&[format!("score_event:{id}")])
        .await?;
    Ok(Json(list.iter().map(attachment_dto).collect()))
}

/// Downloads an attachment the user may see.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "scoring", responses((status = 200, description = "文件内容"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn download_attachment(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (a, bytes) = st.app.read_attachment(&u.principal().scope(), id).await?;
    let encoded: String = url::form_urlencoded::byte_serialize(a.file_name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, a.content_type.clone()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"attachment\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ProposalDecision {
    /// true confirms the proposed event (it counts from now on), false rejects it.
    confirm: bool,
    #[serde(default)]
    note: String,
}

/// The office confirms or rejects an event the platform proposed.
#[utoipa::path(post, path = "/api/v1/score-events/{id}/decision", tag = "scoring", request_body = ProposalDecision,
    responses((status = 200, body = ScoreEventDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide_proposal(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(b): AppJson<ProposalDecision>,
) -> AppResult<Json<ScoreEventDto>> {
    let note = b.note.trim();
    if !b.confirm && note.is_empty() {
        return Err(AppError::invalid("note", "否决提议须说明理由"));
    }
    let e = st
        .app
        .store
        .decide_proposal(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            b.confirm,
            note,
        )
        .await?;
    Ok(Json(event_dto(&e)))
}

/// Events the platform proposed, waiting for the office.
#[utoipa::path(get, path = "/api/v1/score-events/proposals", tag = "scoring", responses((status = 200, body = [ScoreEventDto])))]
pub async fn proposals(
    State(st): State<AppState>,
    _u: Require<Office>,
) -> AppResult<Json<Vec<ScoreEventDto>>> {
    Ok(Json(
        st.app
            .store
            .proposals()
            .await?
            .iter()
            .map(event_dto)
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct AnnualItem {
    department_id: i64,
    department: String,
    category: String,
    /// Final scores of the four quarters, null where a quarter does not count (yet).
    #[schema(value_type = Vec<Option<f64>>)]
    quarters: Vec<Option<f64>>,
    /// The mean of the counted quarters (年度巩固脱贫成果绩效考评依据).
    #[schema(value_type = Option<f64>)]
    #[serde(with = "rust_decimal::serde::float_option")]
    mean: Option<Decimal>,
}

#[derive(Deserialize, IntoParams)]
pub struct YearParam {
    /// e.g. `2023`
    year: String,
}

/// The annual summary: each department's mean over the approved quarters of the year (for
/// department and township users, the published ones).
#[utoipa::path(get, path = "/api/v1/rankings/annual", tag = "scoring", params(YearParam), responses((status = 200, body = [AnnualItem])))]
pub async fn annual(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<YearParam>,
) -> AppResult<Json<Vec<AnnualItem>>> {
    let year: liandong_domain::Year = q
        .year
        .parse()
        .map_err(|e: liandong_domain::PeriodError| AppError::invalid("year", e.to_string()))?;
    let rows = st
        .app
        .annual(year, !u.principal().user.role.sees_all())
        .await?;
    let to_f64 = |d: Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
    Ok(Json(
        rows.into_iter()
            .map(|r| AnnualItem {
                department_id: r.department_id,
                department: r.department,
                category: r.category.code().into(),
                quarters: r.quarters.iter().map(|(_, s)| s.map(to_f64)).collect(),
                mean: r.mean,
            })
            .collect(),
    ))
}

/// Takes a submitted quarter back to draft (the office), to correct events or evaluations.
#[utoipa::path(post, path = "/api/v1/rankings/{period}/reopen", tag = "scoring", responses((status = 200, body = RankingStateDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn reopen(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(period): Path<String>,
) -> AppResult<Json<RankingStateDto>> {
    let q = parse_quarter(&period, "period")?;
    Ok(Json(state_dto(
        &st.app
            .reopen_ranking(&u.principal().actor(), q, chrono::Utc::now())
            .await?,
    )))
}
