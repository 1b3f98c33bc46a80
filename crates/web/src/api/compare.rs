//! Data comparison in the API: data kinds and their templates, deliveries (a raw file body or
//! a multipart form with several files), the feed ledger, the rule library's versions, runs
//! with progress, risk clues with their outcome and hand-off to warnings, and the review
//! queue.

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::Utc;
use liandong_compare::kinds::FieldType;
use liandong_compare::DataKind;
use liandong_domain::Month;
use liandong_service::compare::{
    clue_status_label, finding_label, ledger_status_label, severity_label, ClueSubject, LedgerLine,
    ReviewCandidate, RunState,
};
use liandong_service::App;
use liandong_store::{ClueFilter, CompareRun, FeedDelivery, MatchReview, RiskClue};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::monthly::{parse_code, parse_date};
use super::roster::WarningDto;
use crate::auth::{AnyUser, Office, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::pages::fmt_time;
use crate::AppState;

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

pub fn parse_kind(s: &str) -> Result<DataKind, AppError> {
    parse_code(s, "kind", DataKind::from_code, DataKind::ALL, |k| k.code())
}

pub fn parse_month(s: &str, field: &str) -> Result<Month, AppError> {
    s.trim()
        .parse()
        .map_err(|e: liandong_domain::PeriodError| AppError::invalid(field, e.to_string()))
}

// ---- kinds ----

#[derive(Serialize, ToSchema)]
pub struct ColumnDto {
    pub(crate) header: &'static str,
    pub(crate) field: &'static str,
    /// `id`, `text`, `date`, `money` or `int`
    pub(crate) r#type: &'static str,
    pub(crate) required: bool,
}

#[derive(Serialize, ToSchema)]
pub struct KindDto {
    pub(crate) code: &'static str,
    pub(crate) label: &'static str,
    /// Registry code of the delivering department.
    pub(crate) department: &'static str,
    pub(crate) cadence: String,
    /// Whether deliveries add up (claims, victims) rather than replace the last list.
    pub(crate) accumulates: bool,
    pub(crate) columns: Vec<ColumnDto>,
}

pub fn kind_dto(k: DataKind) -> KindDto {
    KindDto {
        code: k.code(),
        label: k.label(),
        department: k.department(),
        cadence: k.cadence().label(),
        accumulates: k.accumulates(),
        columns: k
            .columns()
            .iter()
            .map(|c| ColumnDto {
                header: c.header,
                field: c.field,
                r#type: match c.ty {
                    FieldType::Id => "id",
                    FieldType::Text => "text",
                    FieldType::Date => "date",
                    FieldType::Money => "money",
                    FieldType::Int => "int",
                },
                required: c.required,
            })
            .collect(),
    }
}

/// The data kinds departments deliver, with their cadence and column templates.
#[utoipa::path(get, path = "/api/v1/compare/kinds", tag = "compare", responses((status = 200, body = Vec<KindDto>)))]
pub async fn kinds(_u: Require<AnyUser>) -> Json<Vec<KindDto>> {
    Json(DataKind::ALL.iter().map(|k| kind_dto(*k)).collect())
}

// ---- deliveries ----

#[derive(Serialize, ToSchema)]
pub struct FeedDto {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) kind_label: String,
    pub(crate) department_id: i64,
    pub(crate) department: String,
    /// The month whose deadline it answers.
    pub(crate) due_month: String,
    pub(crate) files: Vec<String>,
    pub(crate) rows: i64,
    pub(crate) bytes: i64,
    pub(crate) sha256: String,
    /// What reading it found: rows, IDs normalised by step, refused by class.
    pub(crate) report: String,
    pub(crate) delivered_by: String,
    pub(crate) delivered_at: String,
    /// True when these very files were delivered before: nothing was written.
    pub(crate) duplicate: bool,
}

pub fn feed_dto(d: &FeedDelivery, duplicate: bool) -> FeedDto {
    FeedDto {
        id: d.id,
        kind: d.kind.clone(),
        kind_label: DataKind::from_code(&d.kind)
            .map_or("", DataKind::label)
            .to_owned(),
        department_id: d.department_id,
        department: d.department.clone(),
        due_month: d.due_month.clone(),
        files: d.files.clone(),
        rows: d.row_count,
        bytes: d.byte_count,
        sha256: d.sha256.clone(),
        report: d.report.clone(),
        delivered_by: d.delivered_by.clone(),
        delivered_at: fmt_time(d.delivered_at),
        duplicate,
    }
}

#[derive(Deserialize, IntoParams)]
pub struct DeliverQuery {
    /// The data kind (`medical_expense`…).
    pub(crate) kind: String,
    /// The month whose deadline this answers (`2024-04`); by default the current deadline.
    pub(crate) due_month: Option<String>,
    /// The file's name, when the body is the file itself.
    pub(crate) file_name: Option<String>,
}

/// Reads the files of a delivery: every `file` field of a multipart form, or the body itself.
pub async fn delivery_files(req: Request, default_name: &str) -> AppResult<Vec<(String, Vec<u8>)>> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body = axum::body::Bytes::from_request(req, &())
            .await
            .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?;
        if body.is_empty() {
            return Err(AppError::invalid(
                "file",
                "请求体为空：请上传 .csv 或 .xlsx 文件",
            ));
        }
        return Ok(vec![(default_name.to_owned(), body.to_vec())]);
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| AppError::invalid("file", "上传的表单无法读取"))?;
    let mut files = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or(default_name).to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::invalid("file", "上传的文件无法读取或超过大小上限"))?;
            if !bytes.is_empty() {
                files.push((name, bytes.to_vec()));
            }
        }
    }
    Ok(files)
}

/// Delivers a data set: the body is one .csv or .xlsx file, or a multipart form with one or
/// more `file` fields (a year of claims in twelve files, a workbook of several sheets). The
/// whole delivery is checked first: any bad cell refuses it, naming file, row and column,
/// and nothing is written. The same files delivered again change nothing (`duplicate`).
#[utoipa::path(post, path = "/api/v1/compare/feeds", tag = "compare", params(DeliverQuery),
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 201, body = FeedDto), (status = 200, body = FeedDto, description = "already delivered"),
        (status = 422, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn deliver(
    State(st): State<AppState>,
    u: Require<Writer>,
    Query(q): Query<DeliverQuery>,
    req: Request,
) -> AppResult<(StatusCode, Json<FeedDto>)> {
    let kind = parse_kind(&q.kind)?;
    // Before the body is read: a large upload from someone who may not deliver is refused.
    st.app.check_may_deliver(u.principal(), kind).await?;
    let due = q
        .due_month
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_month(s, "due_month"))
        .transpose()?;
    let default_name = q
        .file_name
        .clone()
        .unwrap_or_else(|| format!("{}.csv", kind.code()));
    let files = delivery_files(req, &default_name).await?;
    let d = st
        .app
        .deliver_feed(u.principal(), kind, due, files, now())
        .await?;
    let status = if d.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(feed_dto(&d.delivery, d.duplicate))))
}

#[derive(Deserialize, IntoParams)]
pub struct FeedsQuery {
    pub(crate) kind: Option<String>,
}

/// Deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/compare/feeds", tag = "compare", params(FeedsQuery), responses((status = 200, body = Vec<FeedDto>)))]
pub async fn feeds(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Query(q): Query<FeedsQuery>,
) -> AppResult<Json<Vec<FeedDto>>> {
    let kind = q.kind.as_deref().map(parse_kind).transpose()?;
    let list = st.app.feed_deliveries(kind, 500).await?;
    Ok(Json(list.iter().map(|d| feed_dto(d, false)).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerDto {
    pub(crate) kind: &'static str,
    pub(crate) kind_label: &'static str,
    pub(crate) department_id: i64,
    pub(crate) department: String,
    pub(crate) cadence: String,
    pub(crate) due: Option<String>,
    pub(crate) delivered_at: Option<String>,
    pub(crate) delivered_by: Option<String>,
    pub(crate) rows: Option<i64>,
    /// `on_time`, `late`, `missing`, `not_due`, `not_started` (before the county's first
    /// delivery) or `none` (no deadline this month)
    pub(crate) status: &'static str,
    pub(crate) status_label: &'static str,
}

pub fn ledger_dto(l: &LedgerLine) -> LedgerDto {
    LedgerDto {
        kind: l.kind.code(),
        kind_label: l.kind.label(),
        department_id: l.department_id,
        department: l.department.clone(),
        cadence: l.kind.cadence().label(),
        due: l.due.map(|d| d.to_string()),
        delivered_at: l.delivered.as_ref().map(|d| fmt_time(d.delivered_at)),
        delivered_by: l.delivered.as_ref().map(|d| d.delivered_by.clone()),
        rows: l.delivered.as_ref().map(|d| d.row_count),
        status: l.status,
        status_label: ledger_status_label(l.status),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct LedgerQuery {
    /// `2024-04`; the current month by default.
    pub(crate) month: Option<String>,
}

pub fn month_or_current(s: Option<&str>) -> Result<Month, AppError> {
    match s.filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_month(s, "month"),
        None => Ok(Month::of(liandong_domain::deadline::county_date(now()))),
    }
}

/// The feed ledger of a month: each kind's deadline, first delivery and status (a late or
/// missing one is proposed as `report.late` / `report.missing` when the office closes the
/// month).
#[utoipa::path(get, path = "/api/v1/compare/ledger", tag = "compare", params(LedgerQuery), responses((status = 200, body = Vec<LedgerDto>)))]
pub async fn ledger(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Query(q): Query<LedgerQuery>,
) -> AppResult<Json<Vec<LedgerDto>>> {
    let month = month_or_current(q.month.as_deref())?;
    let lines = st.app.feed_ledger(month, now()).await?;
    Ok(Json(lines.iter().map(ledger_dto).collect()))
}

// ---- rules ----

#[derive(Serialize, ToSchema)]
pub struct RuleVersionDto {
    pub(crate) policy_year: i32,
    pub(crate) version: i64,
    pub(crate) note: String,
    pub(crate) saved_by: String,
    pub(crate) saved_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RuleTallyDto {
    pub(crate) rule: String,
    pub(crate) confirmed: i64,
    pub(crate) dismissed: i64,
    pub(crate) open: i64,
    /// confirmed / (confirmed + dismissed); null before any clue is verified.
    pub(crate) precision: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct RulesDto {
    /// The library a run today uses, e.g. "2024 年第 2 版" or "内置默认规则".
    pub(crate) in_use: String,
    /// That library as JSON.
    #[schema(value_type = Object)]
    pub(crate) rules: serde_json::Value,
    pub(crate) versions: Vec<RuleVersionDto>,
    pub(crate) tallies: Vec<RuleTallyDto>,
}

pub async fn rules_dto(st: &AppState) -> AppResult<RulesDto> {
    let today = liandong_domain::deadline::county_date(now());
    let (_, in_use, body) = st.app.ruleset_text_for(today).await?;
    let versions = st.app.rulesets().await?;
    let tallies = st.app.clue_tallies().await?;
    Ok(RulesDto {
        in_use,
        rules: serde_json::from_str(&body).unwrap_or_default(),
        versions: versions
            .iter()
            .map(|v| RuleVersionDto {
                policy_year: v.policy_year,
                version: v.version,
                note: v.note.clone(),
                saved_by: v.saved_by.clone(),
                saved_at: fmt_time(v.saved_at),
            })
            .collect(),
        tallies: tallies
            .iter()
            .map(|t| RuleTallyDto {
                rule: t.rule.clone(),
                confirmed: t.confirmed,
                dismissed: t.dismissed,
                open: t.open,
                precision: (t.confirmed + t.dismissed > 0)
                    .then(|| t.confirmed as f64 / (t.confirmed + t.dismissed) as f64),
            })
            .collect(),
    })
}

/// The rule library in use, its saved versions, and each rule's verified clues and precision.
#[utoipa::path(get, path = "/api/v1/compare/rules", tag = "compare", responses((status = 200, body = RulesDto)))]
pub async fn rules(State(st): State<AppState>, _u: Require<AnyUser>) -> AppResult<Json<RulesDto>> {
    Ok(Json(rules_dto(&st).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct SaveRulesRequest {
    /// The library: `{"policy_year": 2024, "version": 1, "rules": [...]}`.
    #[schema(value_type = Object)]
    pub(crate) rules: serde_json::Value,
    #[serde(default)]
    pub(crate) note: String,
}

/// Saves a new version of the year's rule library (office), checked against the templates:
/// a mistake names the rule and the field.
#[utoipa::path(post, path = "/api/v1/compare/rules", tag = "compare", request_body = SaveRulesRequest,
    responses((status = 201, body = RulesDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn save_rules(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<SaveRulesRequest>,
) -> AppResult<(StatusCode, Json<RulesDto>)> {
    let body = serde_json::to_string_pretty(&req.rules).map_err(AppError::internal)?;
    st.app
        .save_ruleset(u.principal(), &body, &req.note, now())
        .await?;
    Ok((StatusCode::CREATED, Json(rules_dto(&st).await?)))
}

// ---- runs ----

#[derive(Deserialize, ToSchema, Default)]
pub struct StartRunRequest {
    /// The reference date (`2024-11-30`): windows end on it, ages are counted on it; today by
    /// default.
    pub(crate) as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunJobDto {
    pub(crate) token: String,
    /// `running`, `done` or `failed`
    pub(crate) state: &'static str,
    pub(crate) phase: String,
    /// Rules run so far, of `total`.
    pub(crate) done: usize,
    pub(crate) total: usize,
    pub(crate) run_id: Option<i64>,
    pub(crate) error: Option<String>,
}

pub fn run_job_dto(token: &str, job: &liandong_service::compare::CompareJob) -> RunJobDto {
    use std::sync::atomic::Ordering;
    let (state, run_id, error) = match job.state() {
        RunState::Running => ("running", None, None),
        RunState::Done(id) => ("done", Some(id), None),
        RunState::Failed(e) => ("failed", None, Some(e)),
    };
    RunJobDto {
        token: token.to_owned(),
        state,
        phase: job.phase(),
        done: job.done.load(Ordering::Relaxed),
        total: job.total.load(Ordering::Relaxed),
        run_id,
        error,
    }
}

/// Starts a comparison run (office) over the roster and the latest deliveries; poll the job.
#[utoipa::path(post, path = "/api/v1/compare/runs", tag = "compare", request_body = StartRunRequest,
    responses((status = 202, body = RunJobDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn start_run(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(req): AppJson<StartRunRequest>,
) -> AppResult<(StatusCode, Json<RunJobDto>)> {
    let as_of = req
        .as_of
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_date(s, "as_of"))
        .transpose()?;
    let token = st.app.start_compare(u.principal(), as_of, now()).await?;
    let job = st.app.compare_job(u.principal(), &token)?;
    Ok((StatusCode::ACCEPTED, Json(run_job_dto(&token, &job))))
}

/// Where a run stands: its phase, rules done, then the run's id or why it failed.
#[utoipa::path(get, path = "/api/v1/compare/jobs/{token}", tag = "compare", responses((status = 200, body = RunJobDto)))]
pub async fn run_job(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Json<RunJobDto>> {
    let job = st.app.compare_job(u.principal(), &token)?;
    Ok(Json(run_job_dto(&token, &job)))
}

#[derive(Serialize, ToSchema)]
pub struct RunDto {
    pub(crate) id: i64,
    pub(crate) as_of: String,
    pub(crate) ruleset: String,
    /// Ids of the deliveries read.
    pub(crate) deliveries: Vec<i64>,
    /// Rows read, normalised, refused by class, matched, clues per rule, seconds.
    pub(crate) summary: String,
    pub(crate) clues: i64,
    pub(crate) reviews: i64,
    pub(crate) seconds: f64,
    pub(crate) started_by: String,
    pub(crate) started_at: String,
}

pub fn run_dto(r: &CompareRun) -> RunDto {
    RunDto {
        id: r.id,
        as_of: r.as_of.clone(),
        ruleset: r.ruleset.clone(),
        deliveries: r
            .deliveries
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect(),
        summary: r.summary.clone(),
        clues: r.clue_count,
        reviews: r.review_count,
        seconds: r.millis as f64 / 1000.0,
        started_by: r.started_by.clone(),
        started_at: fmt_time(r.started_at),
    }
}

/// Comparison runs, newest first.
#[utoipa::path(get, path = "/api/v1/compare/runs", tag = "compare", responses((status = 200, body = Vec<RunDto>)))]
pub async fn runs(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
) -> AppResult<Json<Vec<RunDto>>> {
    let list = st.app.compare_runs(100).await?;
    Ok(Json(list.iter().map(run_dto).collect()))
}

#[utoipa::path(get, path = "/api/v1/compare/runs/{id}", tag = "compare", responses((status = 200, body = RunDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn run(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<RunDto>> {
    Ok(Json(run_dto(&st.app.compare_run(id).await?)))
}

// ---- clues ----

#[derive(Serialize, ToSchema)]
pub struct SubjectDto {
    pub(crate) name: String,
    /// Always masked.
    pub(crate) id_number: String,
    /// `exact`, `normalized` or `fuzzy`
    pub(crate) method: String,
    pub(crate) method_label: &'static str,
    pub(crate) confidence: f32,
}

/// A match method in Chinese.
pub fn method_label(code: &str) -> &'static str {
    match code {
        "exact" => "精确",
        "normalized" => "规范化后",
        "fuzzy" => "模糊",
        _ => "",
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClueDto {
    pub(crate) id: i64,
    pub(crate) run_id: i64,
    pub(crate) rule: String,
    pub(crate) title: String,
    /// A risk type code, or `eligibility_doubt`.
    pub(crate) finding: String,
    pub(crate) finding_label: String,
    /// `high`, `medium` or `low`
    pub(crate) severity: String,
    pub(crate) severity_label: String,
    pub(crate) household_id: Option<i64>,
    pub(crate) household_no: Option<String>,
    pub(crate) township_id: Option<i64>,
    pub(crate) township: Option<String>,
    pub(crate) subjects: Vec<SubjectDto>,
    /// The weakest match among its people.
    pub(crate) method: String,
    pub(crate) method_label: &'static str,
    pub(crate) confidence: f64,
    /// The values against the thresholds and the rows behind them, in words.
    pub(crate) evidence: String,
    /// Departments it goes to.
    pub(crate) departments: String,
    /// `open`, `confirmed` (属实) or `dismissed` (不属实)
    pub(crate) status: String,
    pub(crate) status_label: String,
    pub(crate) outcome_by: Option<String>,
    pub(crate) outcome_at: Option<String>,
    pub(crate) outcome_note: Option<String>,
    pub(crate) warning_id: Option<i64>,
    pub(crate) created_at: String,
    /// When the township must have verified it (county time).
    pub(crate) verify_due: String,
    /// `ok`, `soon` or `overdue` while open; `ok` once verified.
    pub(crate) verify_state: &'static str,
}

pub fn clue_dto(st: &AppState, c: &RiskClue) -> ClueDto {
    let due = st.app.clue_verify_due(c);
    let now = liandong_domain::deadline::county_time(now());
    let soon = chrono::Duration::days(st.app.settings.due_soon_days);
    let verify_state = match () {
        _ if c.status != "open" => "ok",
        _ if now > due => "overdue",
        _ if now + soon > due => "soon",
        _ => "ok",
    };
    ClueDto {
        id: c.id,
        run_id: c.run_id,
        rule: c.rule.clone(),
        title: c.title.clone(),
        finding: c.finding.clone(),
        finding_label: finding_label(&c.finding).to_owned(),
        severity: c.severity.clone(),
        severity_label: severity_label(&c.severity).to_owned(),
        household_id: c.household_id,
        household_no: c.household_no.clone(),
        township_id: c.township_id,
        township: c.township.clone(),
        subjects: App::clue_subjects(c)
            .into_iter()
            .map(|s: ClueSubject| SubjectDto {
                name: s.name,
                id_number: s.id_masked,
                method_label: method_label(&s.method),
                method: s.method,
                confidence: s.confidence,
            })
            .collect(),
        method: c.method.clone(),
        method_label: method_label(&c.method),
        confidence: c.confidence as f64 / 1000.0,
        evidence: c.evidence.clone(),
        departments: c.departments.clone(),
        status: c.status.clone(),
        status_label: clue_status_label(&c.status).to_owned(),
        outcome_by: c.outcome_by.clone(),
        outcome_at: c.outcome_at.map(fmt_time),
        outcome_note: c.outcome_note.clone(),
        warning_id: c.warning_id,
        created_at: fmt_time(c.created_at),
        verify_due: due.format("%Y-%m-%d %H:%M").to_string(),
        verify_state,
    }
}

#[derive(Deserialize, IntoParams, Default)]
pub struct ClueQuery {
    pub(crate) rule: Option<String>,
    /// `open`, `confirmed` or `dismissed`
    pub(crate) status: Option<String>,
    pub(crate) township_id: Option<i64>,
    /// `exact`, `normalized` or `fuzzy`
    pub(crate) method: Option<String>,
    /// Only the clues this run raised.
    pub(crate) run_id: Option<i64>,
    #[serde(default)]
    pub(crate) page: i64,
}

pub const CLUE_PAGE: i64 = 50;

pub fn clue_filter(q: &ClueQuery) -> Result<ClueFilter, AppError> {
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let status = nonempty(&q.status);
    if let Some(s) = &status {
        if !["open", "confirmed", "dismissed"].contains(&s.as_str()) {
            return Err(AppError::invalid(
                "status",
                format!("“{s}”无效，应为 open、confirmed、dismissed 之一"),
            ));
        }
    }
    let method = nonempty(&q.method);
    if let Some(m) = &method {
        if !["exact", "normalized", "fuzzy"].contains(&m.as_str()) {
            return Err(AppError::invalid(
                "method",
                format!("“{m}”无效，应为 exact、normalized、fuzzy 之一"),
            ));
        }
    }
    Ok(ClueFilter {
        rule: nonempty(&q.rule),
        status,
        township_id: q.township_id,
        method,
        run_id: q.run_id,
        units: None,
        limit: CLUE_PAGE,
        offset: q.page.clamp(0, 100_000) * CLUE_PAGE,
    })
}

#[derive(Serialize, ToSchema)]
pub struct ClueList {
    pub(crate) total: i64,
    pub(crate) items: Vec<ClueDto>,
}

/// Risk clues the user may see (the office all; a township its own; a department those
/// routed to it), newest first, 50 a page.
#[utoipa::path(get, path = "/api/v1/clues", tag = "compare", params(ClueQuery), responses((status = 200, body = ClueList)))]
pub async fn clues(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ClueQuery>,
) -> AppResult<Json<ClueList>> {
    let (list, total) = st.app.clues_for(u.principal(), clue_filter(&q)?).await?;
    Ok(Json(ClueList {
        total,
        items: list.iter().map(|c| clue_dto(&st, c)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/clues/{id}", tag = "compare", responses((status = 200, body = ClueDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn clue(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<ClueDto>> {
    Ok(Json(clue_dto(
        &st,
        &st.app.clue_for(u.principal(), id).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct OutcomeRequest {
    /// `confirmed` (属实) or `dismissed` (不属实)
    pub(crate) result: String,
    /// What verification found.
    pub(crate) note: String,
}

pub fn parse_outcome(s: &str) -> Result<bool, AppError> {
    match s.trim() {
        "confirmed" => Ok(true),
        "dismissed" => Ok(false),
        other => Err(AppError::invalid(
            "result",
            format!("“{other}”无效，应为 confirmed（属实）或 dismissed（不属实）"),
        )),
    }
}

/// Records what verification found (the clue's township or the office): each rule's
/// precision is counted from these.
#[utoipa::path(post, path = "/api/v1/clues/{id}/outcome", tag = "compare", request_body = OutcomeRequest,
    responses((status = 200, body = ClueDto), (status = 409, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn outcome(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<OutcomeRequest>,
) -> AppResult<Json<ClueDto>> {
    let confirmed = parse_outcome(&req.result)?;
    let c = st
        .app
        .settle_clue(u.principal(), id, confirmed, &req.note, now())
        .await?;
    Ok(Json(clue_dto(&st, &c)))
}

#[derive(Deserialize, ToSchema)]
pub struct ClueTownshipRequest {
    /// The township where verification found the person lives.
    pub(crate) township_id: i64,
}

/// The office places a clue about someone outside the roster in a township (指派乡镇); that
/// township then verifies it and may hand it off as a warning.
#[utoipa::path(post, path = "/api/v1/clues/{id}/township", tag = "compare", request_body = ClueTownshipRequest,
    responses((status = 200, body = ClueDto), (status = 422, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn assign_township(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<ClueTownshipRequest>,
) -> AppResult<Json<ClueDto>> {
    let c = st
        .app
        .assign_clue_township(u.principal(), id, req.township_id, now())
        .await?;
    Ok(Json(clue_dto(&st, &c)))
}

/// Hands a clue off as an early warning to its household's township and the departments
/// responsible for its risk type.
#[utoipa::path(post, path = "/api/v1/clues/{id}/warning", tag = "compare",
    responses((status = 201, body = WarningDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn to_warning(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<(StatusCode, Json<WarningDto>)> {
    let w = st.app.clue_to_warning(u.principal(), id, now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(super::roster::warning_dto(&st, &w).await?),
    ))
}

/// Filters of an export, as a form or a query string sends them (empty fields mean all).
#[derive(Deserialize, IntoParams, Default)]
pub struct ExportFilter {
    pub(crate) rule: Option<String>,
    /// `open`, `confirmed` or `dismissed`
    pub(crate) status: Option<String>,
    pub(crate) township_id: Option<String>,
    /// `exact`, `normalized` or `fuzzy`
    pub(crate) method: Option<String>,
    /// Only the clues this run raised.
    pub(crate) run_id: Option<String>,
}

impl ExportFilter {
    pub fn filter(&self) -> Result<ClueFilter, AppError> {
        let int = |s: &Option<String>, field: &str| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| AppError::invalid(field, format!("“{s}”不是有效的编号")))
                })
                .transpose()
        };
        clue_filter(&ClueQuery {
            rule: self.rule.clone(),
            status: self.status.clone(),
            township_id: int(&self.township_id, "township_id")?,
            method: self.method.clone(),
            run_id: int(&self.run_id, "run_id")?,
            page: 0,
        })
    }
}

/// An .xlsx of clues as a download.
pub(crate) fn xlsx(bytes: Vec<u8>) -> Response {
    crate::pages::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "risk-clues.xlsx",
    )
}

/// The clues as a print-ready .xlsx, ID numbers masked.
#[utoipa::path(get, path = "/api/v1/clues/export.xlsx", tag = "compare", params(ExportFilter),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn export(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ExportFilter>,
) -> AppResult<Response> {
    let bytes = st
        .app
        .clues_export(u.principal(), q.filter()?, None, now())
        .await?;
    Ok(xlsx(bytes))
}

#[derive(Deserialize, ToSchema)]
pub struct UnmaskedExportRequest {
    pub(crate) rule: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) township_id: Option<i64>,
    pub(crate) method: Option<String>,
    pub(crate) run_id: Option<i64>,
    /// Why full ID numbers are needed (up to 200 characters); written to the operation log
    /// with the filter and the number of people.
    pub(crate) reason: String,
}

/// The clues as a print-ready .xlsx with full ID numbers, for the office and townships, with
/// a reason; logged.
#[utoipa::path(post, path = "/api/v1/clues/export.xlsx", tag = "compare", request_body = UnmaskedExportRequest,
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn export_unmasked(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    AppJson(req): AppJson<UnmaskedExportRequest>,
) -> AppResult<Response> {
    if req.reason.trim().is_empty() {
        return Err(AppError::invalid("reason", "请填写导出完整身份证号的用途"));
    }
    let bytes = st
        .app
        .clues_export(
            u.principal(),
            clue_filter(&ClueQuery {
                rule: req.rule,
                status: req.status,
                township_id: req.township_id,
                method: req.method,
                run_id: req.run_id,
                page: 0,
            })?,
            Some(&req.reason),
            now(),
        )
        .await?;
    Ok(xlsx(bytes))
}

// ---- review queue ----

#[derive(Serialize, ToSchema)]
pub struct CandidateDto {
    pub(crate) person_id: i64,
    pub(crate) name: String,
    pub(crate) id_number: String,
    pub(crate) household_no: String,
    pub(crate) confidence: f32,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewDto {
    pub(crate) id: i64,
    pub(crate) run_id: i64,
    pub(crate) kind: String,
    pub(crate) kind_label: String,
    pub(crate) source: String,
    pub(crate) row: i64,
    /// The ID as the file gave it, masked.
    pub(crate) raw_id: String,
    pub(crate) name: String,
    pub(crate) candidates: Vec<CandidateDto>,
    /// `pending`, `confirmed` or `rejected`
    pub(crate) status: String,
    pub(crate) person_id: Option<i64>,
    pub(crate) decided_by: Option<String>,
    pub(crate) decided_at: Option<String>,
}

pub fn review_dto(r: &MatchReview) -> ReviewDto {
    ReviewDto {
        id: r.id,
        run_id: r.run_id,
        kind: r.kind.clone(),
        kind_label: DataKind::from_code(&r.kind)
            .map_or("", DataKind::label)
            .to_owned(),
        source: r.source.clone(),
        row: r.row_no,
        raw_id: r.raw_masked.clone(),
        name: r.name.clone(),
        candidates: App::review_candidates(r)
            .into_iter()
            .map(|c: ReviewCandidate| CandidateDto {
                person_id: c.person_id,
                name: c.name,
                id_number: c.id_masked,
                household_no: c.household_no,
                confidence: c.confidence,
            })
            .collect(),
        status: r.status.clone(),
        person_id: r.person_id,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at.map(fmt_time),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ReviewQuery {
    /// `pending` (default), `confirmed`, `rejected` or `all`
    pub(crate) status: Option<String>,
    /// Page number, from 0 (500 items a page, newest first).
    #[serde(default)]
    pub(crate) page: i64,
}

/// Review items per page.
pub const REVIEW_PAGE: i64 = 500;

pub fn review_status(s: Option<&str>) -> Result<Option<&str>, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("pending") => Ok(Some("pending")),
        Some("all") => Ok(None),
        Some(s @ ("confirmed" | "rejected")) => Ok(Some(s)),
        Some(other) => Err(AppError::invalid(
            "status",
            format!("“{other}”无效，应为 pending、confirmed、rejected、all 之一"),
        )),
    }
}

/// Rows whose ID failed and that fit roster members without certainty: a person picks the
/// member, or rejects them all.
#[utoipa::path(get, path = "/api/v1/match-reviews", tag = "compare", params(ReviewQuery), responses((status = 200, body = Vec<ReviewDto>)))]
pub async fn reviews(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<ReviewQuery>,
) -> AppResult<Json<Vec<ReviewDto>>> {
    let status = review_status(q.status.as_deref())?;
    let (list, _) = st
        .app
        .reviews(u.principal(), status, q.page, REVIEW_PAGE)
        .await?;
    Ok(Json(list.iter().map(review_dto).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// The candidate the row is; null when it is none of them.
    pub(crate) person_id: Option<i64>,
}

/// Confirms a review item as one of its candidates, or rejects them all; later runs
/// remember the decision for the same ID text and name.
#[utoipa::path(post, path = "/api/v1/match-reviews/{id}/decision", tag = "compare", request_body = DecisionRequest,
    responses((status = 200, body = ReviewDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn decide(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<DecisionRequest>,
) -> AppResult<Json<ReviewDto>> {
    let r = st
        .app
        .decide_review(u.principal(), id, req.person_id, now())
        .await?;
    Ok(Json(review_dto(&r)))
}

/// A kind's blank template (.xlsx with a sheet of notes).
#[utoipa::path(get, path = "/api/v1/compare/kinds/{kind}/template", tag = "compare",
    params(("kind" = String, Path, description = "the data kind (`medical_expense`…), optionally with `.xlsx`")),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn template(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(kind): Path<String>,
) -> AppResult<Response> {
    let kind = parse_kind(kind.trim_end_matches(".xlsx"))?;
    let bytes = st.app.feed_template(kind)?;
    Ok(crate::pages::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("{}-template.xlsx", kind.code()),
    ))
}
