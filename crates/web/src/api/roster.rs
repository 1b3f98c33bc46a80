//! The roster and early warnings in the API: importing an export in two steps (check with
//! progress, then confirm), households with masked members, unmasking with a reason, the
//! monitoring lifecycle, warnings with their sign / verify / close steps, the routing table
//! and the live event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType};
use liandong_service::roster::{JobState, RosterPreview};
use liandong_service::warnings::{Subject, WarningInput};
use liandong_service::App;
use liandong_store::{Household, HouseholdFilter, Person, Warning};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use utoipa::{IntoParams, ToSchema};

use super::monthly::{parse_code, parse_date};
use crate::auth::{AnyUser, Office, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::AppState;

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

// ---- roster import ----

#[derive(Serialize, ToSchema)]
pub struct PreviewDto {
    pub(crate) rows: usize,
    pub(crate) households_added: usize,
    pub(crate) households_changed: usize,
    pub(crate) households_gone: usize,
    pub(crate) persons_added: usize,
    pub(crate) persons_changed: usize,
    pub(crate) persons_gone: usize,
}

fn preview_dto(p: &RosterPreview) -> PreviewDto {
    PreviewDto {
        rows: p.rows,
        households_added: p.households_added,
        households_changed: p.households_changed,
        households_gone: p.households_gone,
        persons_added: p.persons_added,
        persons_changed: p.persons_changed,
        persons_gone: p.persons_gone,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ImportJobDto {
    pub(crate) token: String,
    /// `checking`, `ready` (confirm to apply), `already_imported`, `rejected`, `failed` or `applied`
    pub(crate) state: &'static str,
    /// Rows checked so far, of `total`.
    pub(crate) done: usize,
    pub(crate) total: usize,
    pub(crate) preview: Option<PreviewDto>,
    /// Why it was refused: one line per row and column, or the reason for the whole file.
    pub(crate) errors: Vec<String>,
}

pub fn job_dto(token: &str, job: &liandong_service::roster::RosterJob) -> ImportJobDto {
    use std::sync::atomic::Ordering;
    let (state, preview, errors) = match job.state() {
        JobState::Checking => ("checking", None, vec![]),
        JobState::Ready(p) => ("ready", Some(preview_dto(&p)), vec![]),
        JobState::AlreadyImported(by, at) => (
            "already_imported",
            None,
            vec![format!(
                "该文件已由 {by} 于 {} 导入，数据没有改动",
                crate::pages::fmt_time(at)
            )],
        ),
        JobState::Rejected(e, _) => (
            "rejected",
            None,
            e.iter().map(ToString::to_string).collect(),
        ),
        JobState::Failed(m) => ("failed", None, vec![m]),
        JobState::Applied(p) => ("applied", Some(preview_dto(&p)), vec![]),
    };
    ImportJobDto {
        token: token.to_owned(),
        state,
        done: job.done.load(Ordering::Relaxed),
        total: job.total.load(Ordering::Relaxed),
        preview,
        errors,
    }
}

/// Starts an import of the national system's export (.csv in UTF-8 or GBK, or .xlsx; the
/// body is the file). Nothing is written: poll the job, then confirm it.
#[utoipa::path(post, path = "/api/v1/roster/imports", tag = "roster",
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 202, body = ImportJobDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn start_import(
    State(st): State<AppState>,
    u: Require<Office>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<ImportJobDto>)> {
    let token = st
        .app
        .start_roster_import(u.principal(), body.to_vec())
        .await?;
    let job = st.app.roster_job(u.principal(), &token)?;
    Ok((StatusCode::ACCEPTED, Json(job_dto(&token, &job))))
}

/// Where an import stands: progress, then what it would change or why it was refused.
#[utoipa::path(get, path = "/api/v1/roster/imports/{token}", tag = "roster", responses((status = 200, body = ImportJobDto)))]
pub async fn import_job(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Json<ImportJobDto>> {
    let job = st.app.roster_job(u.principal(), &token)?;
    Ok(Json(job_dto(&token, &job)))
}

/// Applies a checked import, in one transaction.
#[utoipa::path(post, path = "/api/v1/roster/imports/{token}/confirm", tag = "roster",
    responses((status = 200, body = ImportJobDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn confirm_import(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Json<ImportJobDto>> {
    st.app
        .confirm_roster_import(u.principal(), &token, now())
        .await?;
    let job = st.app.roster_job(u.principal(), &token)?;
    Ok(Json(job_dto(&token, &job)))
}

// ---- households ----

#[derive(Serialize, ToSchema)]
pub struct HouseholdDto {
    pub(crate) id: i64,
    pub(crate) household_no: String,
    pub(crate) township_id: i64,
    pub(crate) township: String,
    pub(crate) village: String,
    pub(crate) village_group: String,
    /// `exited` (脱贫户), `unstable`, `marginal` or `sudden_hardship`
    pub(crate) kind: String,
    pub(crate) kind_label: String,
    /// `none`, `identified`, `assisted` or `cleared`
    pub(crate) stage: String,
    pub(crate) stage_label: String,
    pub(crate) identified_on: Option<String>,
    pub(crate) assisted_on: Option<String>,
    pub(crate) cleared_on: Option<String>,
    pub(crate) risk_types: Vec<String>,
    /// The risk types in Chinese, joined.
    pub(crate) risk_labels: String,
    pub(crate) measures: String,
    pub(crate) cadre: String,
    pub(crate) members: i64,
}

pub fn household_dto(h: &Household) -> HouseholdDto {
    let r = &h.record;
    HouseholdDto {
        id: h.id,
        household_no: r.household_no.clone(),
        township_id: r.township_id,
        township: h.township.clone(),
        village: r.village.clone(),
        village_group: r.village_group.clone(),
        kind: r.kind.code().into(),
        kind_label: r.kind.label().into(),
        stage: r.stage.code().into(),
        stage_label: r.stage.label().into(),
        identified_on: r.identified_on.map(|d| d.to_string()),
        assisted_on: r.assisted_on.map(|d| d.to_string()),
        cleared_on: r.cleared_on.map(|d| d.to_string()),
        risk_types: r.risk_types.iter().map(|x| x.code().to_owned()).collect(),
        risk_labels: r
            .risk_types
            .iter()
            .map(|x| x.label())
            .collect::<Vec<_>>()
            .join("、"),
        measures: r.measures.clone(),
        cadre: r.cadre.clone(),
        members: h.members,
    }
}

#[derive(Serialize, ToSchema)]
pub struct PersonDto {
    pub(crate) id: i64,
    pub(crate) name: String,
    /// Always masked (4113**********1234); see `POST /api/v1/persons/{id}/unmask`.
    pub(crate) id_number: String,
    pub(crate) relation: String,
    pub(crate) sex: String,
    pub(crate) age: i32,
    pub(crate) phone: Option<String>,
    pub(crate) health: String,
    pub(crate) disability: String,
    pub(crate) labour: String,
    pub(crate) schooling: String,
}

pub fn person_dto(p: &Person) -> PersonDto {
    let today = liandong_domain::deadline::county_date(now());
    let mut age = today.years_since(p.birth_date).map_or(0, |y| y as i32);
    if p.birth_date > today {
        age = 0;
    }
    PersonDto {
        id: p.id,
        name: p.name.clone(),
        id_number: p.id_masked.clone(),
        relation: p.relation.clone(),
        sex: p.sex.clone(),
        age,
        phone: p.phone_masked.clone(),
        health: p.health.clone(),
        disability: p.disability.clone(),
        labour: p.labour.clone(),
        schooling: p.schooling.clone(),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct HouseholdQuery {
    pub(crate) township_id: Option<i64>,
    pub(crate) kind: Option<String>,
    pub(crate) stage: Option<String>,
    /// Household number or village, in part.
    pub(crate) q: Option<String>,
    #[serde(default)]
    pub(crate) page: i64,
}

pub fn household_filter(
    p: &liandong_service::Principal,
    township_id: Option<i64>,
    kind: Option<&str>,
    stage: Option<&str>,
    q: Option<&str>,
    page: i64,
) -> Result<HouseholdFilter, AppError> {
    Ok(HouseholdFilter {
        townships: App::household_townships(p),
        township_id,
        kind: kind
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_code(
                    s,
                    "kind",
                    HouseholdKind::from_code,
                    HouseholdKind::ALL,
                    |k| k.code(),
                )
            })
            .transpose()?,
        stage: stage
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_code(
                    s,
                    "stage",
                    MonitoringStage::from_code,
                    MonitoringStage::ALL,
                    |k| k.code(),
                )
            })
            .transpose()?,
        text: q
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        limit: 50,
        offset: page.max(0) * 50,
    })
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdPage {
    pub(crate) total: i64,
    pub(crate) items: Vec<HouseholdDto>,
}

/// Households in scope (townships their own), 50 a page.
#[utoipa::path(get, path = "/api/v1/households", tag = "roster", params(HouseholdQuery), responses((status = 200, body = HouseholdPage)))]
pub async fn households(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Query(q): Query<HouseholdQuery>,
) -> AppResult<Json<HouseholdPage>> {
    let f = household_filter(
        u.principal(),
        q.township_id,
        q.kind.as_deref(),
        q.stage.as_deref(),
        q.q.as_deref(),
        q.page,
    )?;
    let (list, total) = st.app.store.households(&f).await?;
    Ok(Json(HouseholdPage {
        total,
        items: list.iter().map(household_dto).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdDetail {
    pub(crate) household: HouseholdDto,
    pub(crate) members: Vec<PersonDto>,
}

/// A household with its members, their ID and phone numbers masked.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "roster", responses((status = 200, body = HouseholdDetail)))]
pub async fn household(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<HouseholdDetail>> {
    let h = st.app.household_for(u.principal(), id).await?;
    let members = st.app.store.members(id).await?;
    Ok(Json(HouseholdDetail {
        household: household_dto(&h),
        members: members.iter().map(person_dto).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct StageRequest {
    /// `identified`, `assisted` or `cleared`
    pub(crate) stage: String,
    pub(crate) on_date: String,
    #[serde(default)]
    pub(crate) note: String,
}

/// Moves a household through monitoring: 识别纳入 → 帮扶 → 风险消除 (office or its township).
#[utoipa::path(post, path = "/api/v1/households/{id}/stage", tag = "roster", request_body = StageRequest,
    responses((status = 200, body = HouseholdDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn set_stage(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<StageRequest>,
) -> AppResult<Json<HouseholdDto>> {
    let stage = parse_code(
        &req.stage,
        "stage",
        MonitoringStage::from_code,
        MonitoringStage::ALL,
        |k| k.code(),
    )?;
    let on = parse_date(&req.on_date, "on_date")?;
    let h = change_stage(&st, u.principal(), id, stage, on, &req.note).await?;
    Ok(Json(household_dto(&h)))
}

pub async fn change_stage(
    st: &AppState,
    p: &liandong_service::Principal,
    id: i64,
    stage: MonitoringStage,
    on: chrono::NaiveDate,
    note: &str,
) -> AppResult<Household> {
    let h = st.app.household_for(p, id).await?;
    let role = p.user.role;
    if !(role.is_office()
        || (role == liandong_domain::Role::Township
            && p.user.unit_ids().contains(&h.record.township_id)))
    {
        return Err(AppError::forbidden("监测状态由联动办公室或所在乡镇变更"));
    }
    if on > liandong_domain::deadline::county_date(now()) {
        return Err(AppError::invalid("on_date", "日期不能晚于今天"));
    }
    Ok(st
        .app
        .store
        .set_stage(&p.actor(), now().timestamp(), id, stage, on, note.trim())
        .await?)
}

#[derive(Deserialize, ToSchema)]
pub struct UnmaskRequest {
    /// Why the full number is needed; written to the operation log.
    pub(crate) reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct UnmaskedDto {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) id_number: String,
    pub(crate) phone: Option<String>,
}

/// The full ID and phone numbers of a member, for the office and the member's township; the
/// view is written to the operation log with its reason.
#[utoipa::path(post, path = "/api/v1/persons/{id}/unmask", tag = "roster", request_body = UnmaskRequest,
    responses((status = 200, body = UnmaskedDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn unmask(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<UnmaskRequest>,
) -> AppResult<Json<UnmaskedDto>> {
    let (p, number, phone) = st
        .app
        .unmask_id(u.principal(), id, &req.reason, now())
        .await?;
    Ok(Json(UnmaskedDto {
        id: p.id,
        name: p.name,
        id_number: number,
        phone,
    }))
}

// ---- warnings ----

#[derive(Serialize, ToSchema)]
pub struct ReceiptDto {
    pub(crate) unit_id: i64,
    pub(crate) unit: String,
    pub(crate) signed_by: Option<String>,
    pub(crate) signed_at: Option<String>,
    /// `ok` (signed on time), `soon` (late or due soon) or `overdue` (unsigned past its deadline)
    pub(crate) state: String,
    pub(crate) state_label: String,
}

#[derive(Serialize, ToSchema)]
pub struct WarningDto {
    pub(crate) id: i64,
    pub(crate) household_id: Option<i64>,
    pub(crate) household_no: Option<String>,
    /// The person's name and masked ID number.
    pub(crate) person: Option<String>,
    pub(crate) township_id: i64,
    pub(crate) township: String,
    pub(crate) risk_type: String,
    pub(crate) risk_label: String,
    pub(crate) summary: String,
    pub(crate) occurred_on: String,
    pub(crate) evidence: String,
    pub(crate) raised_by: Option<String>,
    /// `ui` or `api`
    pub(crate) source: String,
    /// `open`, `verified`, `assisted` or `dismissed`
    pub(crate) status: String,
    pub(crate) status_label: String,
    pub(crate) sign_due: String,
    pub(crate) verify_due: String,
    pub(crate) verify_overdue: bool,
    pub(crate) verified_by: Option<String>,
    pub(crate) verify_note: Option<String>,
    pub(crate) close_reason: Option<String>,
    /// The `warning.verified` event proposed when the office confirmed it.
    pub(crate) event_id: Option<i64>,
    pub(crate) created_at: String,
    pub(crate) receipts: Vec<ReceiptDto>,
}

pub async fn warning_dto(st: &AppState, w: &Warning) -> AppResult<WarningDto> {
    let t = liandong_domain::deadline::county_time(now());
    let local = |ts: i64| {
        liandong_domain::deadline::county_time(
            chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default(),
        )
    };
    let soon = chrono::Duration::hours(4);
    let receipts = st
        .app
        .store
        .receipts(w.id)
        .await?
        .into_iter()
        .map(|r| {
            let s = liandong_domain::roster::sign_state(
                local(w.sign_due),
                r.signed_at.map(local),
                t,
                soon,
            );
            ReceiptDto {
                unit_id: r.unit_id,
                unit: r.unit,
                signed_by: r.signed_by,
                signed_at: r.signed_at.map(crate::pages::fmt_time),
                state: s.css().into(),
                state_label: s.label().into(),
            }
        })
        .collect();
    Ok(WarningDto {
        id: w.id,
        household_id: w.household_id,
        household_no: w.household_no.clone(),
        person: w.person.clone(),
        township_id: w.township_id,
        township: w.township.clone(),
        risk_type: w.risk_type.code().into(),
        risk_label: w.risk_type.label().into(),
        summary: w.summary.clone(),
        occurred_on: w.occurred_on.to_string(),
        evidence: w.evidence.clone(),
        raised_by: w.raised_by.clone(),
        source: w.source.clone(),
        status: w.status.code().into(),
        status_label: w.status.label().into(),
        sign_due: crate::pages::fmt_time(w.sign_due),
        verify_due: crate::pages::fmt_time(w.verify_due),
        verify_overdue: w.verified_at.is_none()
            && !w.status.closed()
            && now().timestamp() > w.verify_due,
        verified_by: w.verified_by.clone(),
        verify_note: w.verify_note.clone(),
        close_reason: w.close_reason.clone(),
        event_id: w.event_id,
        created_at: crate::pages::fmt_time(w.created_at),
        receipts,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct NewWarningRequest {
    /// One of: a household, a person's ID number, or (someone not on the roster) a township.
    pub(crate) household_id: Option<i64>,
    pub(crate) id_number: Option<String>,
    pub(crate) township_id: Option<i64>,
    /// A risk type code: illness, disability, schooling, disaster, accident, employment,
    /// industry, labour, housing, water or other.
    pub(crate) risk_type: String,
    /// What happened.
    pub(crate) summary: String,
    /// When, e.g. `2023-04-12`.
    pub(crate) occurred_on: String,
    #[serde(default)]
    pub(crate) evidence: String,
}

pub fn warning_input(req: NewWarningRequest) -> Result<WarningInput, AppError> {
    let subject = match (
        req.household_id,
        req.id_number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        req.township_id,
    ) {
        (Some(h), None, _) => Subject::Household(h),
        (None, Some(id), _) => Subject::IdNumber(id.to_owned()),
        (None, None, Some(t)) => Subject::Township(t),
        (Some(_), Some(_), _) => {
            return Err(AppError::invalid("id_number", "农户和身份证号只填一项"))
        }
        (None, None, None) => {
            return Err(AppError::invalid(
                "household_id",
                "请指明农户、身份证号或（不在名单中的）所在乡镇",
            ))
        }
    };
    Ok(WarningInput {
        subject,
        risk_type: parse_code(
            &req.risk_type,
            "risk_type",
            RiskType::from_code,
            RiskType::ALL,
            |k| k.code(),
        )?,
        summary: req.summary,
        occurred_on: parse_date(&req.occurred_on, "occurred_on")?,
        evidence: req.evidence,
    })
}

/// Pushes a warning. It reaches at once the household's township and the departments whose
/// duties cover the risk type (and group robots, if configured). A department user pushes for
/// its department; another system pushes with its own account's bearer token.
#[utoipa::path(post, path = "/api/v1/warnings", tag = "warnings", request_body = NewWarningRequest,
    responses((status = 201, body = WarningDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn push(
    State(st): State<AppState>,
    u: Require<Writer>,
    AppJson(req): AppJson<NewWarningRequest>,
) -> AppResult<(StatusCode, Json<WarningDto>)> {
    let p = u.principal();
    let input = warning_input(req)?;
    let w = st
        .app
        .push_warning(&p.actor(), App::pushing_department(p), "api", input, now())
        .await?;
    Ok((StatusCode::CREATED, Json(warning_dto(&st, &w).await?)))
}

/// Warnings that concern the user, newest first.
#[utoipa::path(get, path = "/api/v1/warnings", tag = "warnings", responses((status = 200, body = [WarningDto])))]
pub async fn list(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<WarningDto>>> {
    let mut out = Vec::new();
    for w in st.app.warnings_for(u.principal(), 200).await? {
        out.push(warning_dto(&st, &w).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/v1/warnings/{id}", tag = "warnings", responses((status = 200, body = WarningDto)))]
pub async fn get_one(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<WarningDto>> {
    let w = st.app.warning_for(u.principal(), id).await?;
    Ok(Json(warning_dto(&st, &w).await?))
}

/// The user's unit signs for the warning (签收).
#[utoipa::path(post, path = "/api/v1/warnings/{id}/sign", tag = "warnings", responses((status = 200, body = WarningDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn sign(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<Json<WarningDto>> {
    st.app.sign_warning(u.principal(), id, now()).await?;
    let w = st.app.store.warning(id).await?;
    Ok(Json(warning_dto(&st, &w).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// true: the warning is true (the office then closes it); false: dismissed with the note.
    pub(crate) found_true: bool,
    pub(crate) note: String,
}

/// The household's township verifies the warning.
#[utoipa::path(post, path = "/api/v1/warnings/{id}/verify", tag = "warnings", request_body = VerifyRequest, responses((status = 200, body = WarningDto)))]
pub async fn verify(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<VerifyRequest>,
) -> AppResult<Json<WarningDto>> {
    let w = st
        .app
        .verify_warning(u.principal(), id, req.found_true, &req.note, now())
        .await?;
    Ok(Json(warning_dto(&st, &w).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CloseWarningRequest {
    /// true: assistance (the household enters or stays in monitoring, and `warning.verified`
    /// is proposed for the department that raised it); false: dismissed.
    pub(crate) assisted: bool,
    pub(crate) reason: String,
}

/// The office ends a verified warning.
#[utoipa::path(post, path = "/api/v1/warnings/{id}/close", tag = "warnings", request_body = CloseWarningRequest, responses((status = 200, body = WarningDto)))]
pub async fn close(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<CloseWarningRequest>,
) -> AppResult<Json<WarningDto>> {
    let w = st
        .app
        .close_warning(u.principal(), id, req.assisted, &req.reason, now())
        .await?;
    Ok(Json(warning_dto(&st, &w).await?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RouteDto {
    pub(crate) risk_type: String,
    pub(crate) department_ids: Vec<i64>,
}

/// Which departments receive warnings of each risk type.
#[utoipa::path(get, path = "/api/v1/warning-routes", tag = "warnings", responses((status = 200, body = [RouteDto])))]
pub async fn routes(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
) -> AppResult<Json<Vec<RouteDto>>> {
    routes_of(&st).await
}

/// Replaces the routing table (office administrators).
#[utoipa::path(put, path = "/api/v1/warning-routes", tag = "warnings", request_body = [RouteDto], responses((status = 200, body = [RouteDto])))]
pub async fn set_routes(
    State(st): State<AppState>,
    u: Require<crate::auth::Admin>,
    AppJson(req): AppJson<Vec<RouteDto>>,
) -> AppResult<Json<Vec<RouteDto>>> {
    let deps = st.app.store.departments().await?;
    let mut routes = Vec::new();
    for (i, r) in req.iter().enumerate() {
        let risk = parse_code(
            &r.risk_type,
            &format!("[{i}].risk_type"),
            RiskType::from_code,
            RiskType::ALL,
            |k| k.code(),
        )?;
        for d in &r.department_ids {
            if !deps.iter().any(|x| x.id == *d) {
                return Err(AppError::invalid(
                    &format!("[{i}].department_ids"),
                    format!("部门 {d} 不存在"),
                ));
            }
            routes.push((risk, *d));
        }
    }
    st.app
        .store
        .set_warning_routes(&u.principal().actor(), now().timestamp(), &routes)
        .await?;
    routes_of(&st).await
}

async fn routes_of(st: &AppState) -> AppResult<Json<Vec<RouteDto>>> {
    let all = st.app.store.warning_routes().await?;
    Ok(Json(
        RiskType::ALL
            .iter()
            .map(|r| RouteDto {
                risk_type: r.code().into(),
                department_ids: all
                    .iter()
                    .filter(|(k, _)| k == r)
                    .map(|(_, d)| *d)
                    .collect(),
            })
            .collect(),
    ))
}

/// New warnings for the user, as they are pushed (server-sent events, event `warning`, data
/// `{"id", "title", "url", "at_ms"}`).
#[utoipa::path(get, path = "/api/v1/warnings/stream", tag = "warnings", responses((status = 200, description = "text/event-stream")))]
pub async fn stream(State(st): State<AppState>, u: Require<AnyUser>) -> Response {
    let p = u.0;
    let rx = st.app.warnings.subscribe();
    // Each notice is already a whole event: the stream hands on a shared reference to it.
    let warnings = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |n| {
        let n = n.ok()?;
        App::notice_is_for(&p, &n).then(|| Ok::<_, Infallible>(n.event.clone()))
    });
    // A comment every 20 s keeps proxies from closing a quiet stream. It ticks on its own
    // rather than restarting after every event, which would cost every stream a timer
    // update per warning.
    let every = Duration::from_secs(20);
    let keep_alive = tokio_stream::wrappers::IntervalStream::new(tokio::time::interval_at(
        tokio::time::Instant::now() + every,
        every,
    ))
    .map(|_| Ok(Bytes::from_static(b":\n\n")));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(warnings.merge(keep_alive)),
    )
        .into_response()
}
