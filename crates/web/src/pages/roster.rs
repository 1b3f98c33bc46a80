//! The roster and warning pages: the household list with the two-step import (progress,
//! preview, confirmation), a household with masked members and logged unmasking, the
//! monitoring lifecycle, warnings with their steps, and the routing table.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType, WarningStatus};
use liandong_domain::Role;
use liandong_service::roster::JobState;
use liandong_service::warnings::{Subject, WarningInput};
use liandong_service::{App, Principal};
use serde::Deserialize;

use super::{flash, render, township_choices, FormData, Layout};
use crate::api::monthly::{parse_code, parse_date};
use crate::api::roster::{
    household_dto, household_filter, person_dto, warning_dto, HouseholdDto, PersonDto, WarningDto,
};
use crate::auth::{Admin, AnyUser, Office, PageAuth, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

/// Largest roster file accepted: a whole county's export.
pub const ROSTER_LIMIT: usize = 256 * 1024 * 1024;

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

fn back(to: &str, msg: &str) -> AppResult<Response> {
    Ok(Redirect::to(&format!("{to}?msg={msg}")).into_response())
}

fn codes<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(&'static str, &'static str)> {
    all.iter().map(|x| (code(*x), label(*x))).collect()
}

#[derive(Deserialize)]
pub struct RosterQuery {
    township_id: Option<String>,
    kind: Option<String>,
    stage: Option<String>,
    q: Option<String>,
    page: Option<i64>,
    msg: Option<String>,
}

#[derive(Template)]
#[template(path = "roster.html")]
struct RosterPage {
    l: Layout,
    flash: Option<&'static str>,
    office: bool,
    townships: Vec<(i64, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    stages: Vec<(&'static str, &'static str)>,
    township_id: String,
    kind: String,
    stage: String,
    q: String,
    total: i64,
    page: i64,
    pages: i64,
    query: String,
    rows: Vec<HouseholdDto>,
}

pub async fn roster(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<RosterQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let township_id = match q.township_id.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse()
                .map_err(|_| AppError::invalid("township_id", "乡镇编号无效"))?,
        ),
        None => None,
    };
    let page = q.page.unwrap_or(0).max(0);
    let f = household_filter(
        p,
        township_id,
        q.kind.as_deref(),
        q.stage.as_deref(),
        q.q.as_deref(),
        page,
    )?;
    let (list, total) = st.app.store.households(&f).await?;
    let visible = App::household_townships(p);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("township_id", q.township_id.as_deref().unwrap_or(""))
        .append_pair("kind", q.kind.as_deref().unwrap_or(""))
        .append_pair("stage", q.stage.as_deref().unwrap_or(""))
        .append_pair("q", q.q.as_deref().unwrap_or(""))
        .finish();
    render(&RosterPage {
        l: Layout::new("农户名单", "/roster", &auth),
        flash: flash(q.msg.as_deref()),
        office: p.user.role.is_office(),
        townships: st
            .app
            .store
            .townships()
            .await?
            .into_iter()
            .filter(|t| t.active && visible.as_ref().is_none_or(|v| v.contains(&t.id)))
            .map(|t| (t.id, t.name))
            .collect(),
        kinds: codes(
            HouseholdKind::ALL,
            HouseholdKind::code,
            HouseholdKind::label,
        ),
        stages: codes(
            MonitoringStage::ALL,
            MonitoringStage::code,
            MonitoringStage::label,
        ),
        township_id: q.township_id.clone().unwrap_or_default(),
        kind: q.kind.clone().unwrap_or_default(),
        stage: q.stage.clone().unwrap_or_default(),
        q: q.q.clone().unwrap_or_default(),
        total,
        page,
        pages: (total + 49) / 50,
        query,
        rows: list.iter().map(household_dto).collect(),
    })
}

pub async fn template(State(st): State<AppState>, _u: Require<AnyUser>) -> AppResult<Response> {
    let bytes = st.app.roster_template()?;
    Ok(super::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "roster-template.xlsx",
    ))
}

pub async fn import(
    State(st): State<AppState>,
    u: Require<Office>,
    form: Multipart,
) -> AppResult<Response> {
    let (_, bytes) = super::monthly::upload(form).await?;
    let token = st
        .app
        .start_roster_import(u.principal(), bytes.to_vec())
        .await?;
    Ok(Redirect::to(&format!("/roster/imports/{token}")).into_response())
}

#[derive(Template)]
#[template(path = "roster_import.html")]
struct ImportPage {
    l: Layout,
    token: String,
    state: &'static str,
    done: usize,
    total: usize,
    percent: usize,
    preview: Option<liandong_service::roster::RosterPreview>,
    errors: Vec<String>,
}

pub async fn import_job(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    use std::sync::atomic::Ordering;
    let job = st.app.roster_job(u.principal(), &token)?;
    let (state, preview, errors) = match job.state() {
        JobState::Checking => ("checking", None, vec![]),
        JobState::Ready(p) => ("ready", Some(p), vec![]),
        JobState::Applied(p) => ("applied", Some(p), vec![]),
        JobState::AlreadyImported(by, at) => (
            "already",
            None,
            vec![format!(
                "该文件已由 {by} 于 {} 导入，未重复导入，数据没有改动。",
                super::fmt_time(at)
            )],
        ),
        JobState::Rejected(e, _) => (
            "rejected",
            None,
            e.iter().map(ToString::to_string).collect(),
        ),
        JobState::Failed(m) => ("failed", None, vec![m]),
    };
    let done = job.done.load(Ordering::Relaxed);
    let total = job.total.load(Ordering::Relaxed);
    render(&ImportPage {
        l: Layout::new("名单导入", "/roster", &auth),
        token,
        state,
        done,
        total,
        percent: (done * 100).checked_div(total).unwrap_or(0),
        preview,
        errors,
    })
}

pub async fn import_errors(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let job = st.app.roster_job(u.principal(), &token)?;
    let JobState::Rejected(_, bytes) = job.state() else {
        return Err(AppError::not_found("该导入没有错误说明"));
    };
    Ok(super::scoring::download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "roster-errors.xlsx",
    ))
}

pub async fn confirm(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    st.app
        .confirm_roster_import(u.principal(), &token, now())
        .await?;
    Ok(Redirect::to(&format!("/roster/imports/{token}")).into_response())
}

// ---- a household ----

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage {
    l: Layout,
    flash: Option<&'static str>,
    h: HouseholdDto,
    risks: String,
    members: Vec<PersonDto>,
    can_unmask: bool,
    /// (person id, full ID number, full phone) just unmasked.
    unmasked: Option<(i64, String, String)>,
    can_stage: bool,
    next_stages: Vec<(&'static str, &'static str)>,
    today: String,
    history: Vec<(String, &'static str, String, String)>,
    warnings: Vec<(i64, &'static str, String, &'static str, String)>,
    risk_types: Vec<(&'static str, &'static str)>,
    can_push: bool,
}

async fn household_page(
    st: &AppState,
    auth: &crate::auth::Auth,
    p: &Principal,
    id: i64,
    msg: Option<&str>,
    unmasked: Option<(i64, String, String)>,
) -> AppResult<Response> {
    let h = st.app.household_for(p, id).await?;
    let members = st.app.store.members(id).await?;
    let role = p.user.role;
    let can_stage = !role.read_only()
        && (role.is_office()
            || (role == Role::Township && p.user.unit_ids().contains(&h.record.township_id)));
    let warnings = st
        .app
        .warnings_for(p, 500)
        .await?
        .into_iter()
        .filter(|w| w.household_id == Some(id))
        .map(|w| {
            (
                w.id,
                w.risk_type.label(),
                w.summary,
                w.status.label(),
                super::fmt_time(w.created_at),
            )
        })
        .collect();
    render(&HouseholdPage {
        l: Layout::new(&format!("农户 {}", h.record.household_no), "/roster", auth),
        flash: flash(msg),
        risks: h
            .record
            .risk_types
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、"),
        members: members.iter().map(person_dto).collect(),
        can_unmask: role.is_office() || role == Role::Township,
        unmasked,
        can_stage,
        next_stages: h
            .record
            .stage
            .next()
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        today: liandong_domain::deadline::county_date(now()).to_string(),
        history: st
            .app
            .store
            .stage_history(id)
            .await?
            .into_iter()
            .map(|c| (c.on_date.to_string(), c.stage.label(), c.note, c.changed_by))
            .collect(),
        warnings,
        risk_types: codes(RiskType::ALL, RiskType::code, RiskType::label),
        can_push: !role.read_only(),
        h: household_dto(&h),
    })
}

#[derive(Deserialize)]
pub struct Msg {
    msg: Option<String>,
}

pub async fn household(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    household_page(&st, &auth, u.principal(), id, q.msg.as_deref(), None).await
}

/// Shows a member's full numbers on the household page, once, and logs it with the reason.
pub async fn unmask(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let p = u.principal();
    let (person, number, phone) = st.app.unmask_id(p, id, &form.text("reason"), now()).await?;
    household_page(
        &st,
        &auth,
        p,
        person.household_id,
        None,
        Some((person.id, number, phone.unwrap_or_default())),
    )
    .await
}

pub async fn stage(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let stage = parse_code(
        &form.text("stage"),
        "stage",
        MonitoringStage::from_code,
        MonitoringStage::ALL,
        |k| k.code(),
    )?;
    let on = parse_date(&form.text("on_date"), "on_date")?;
    crate::api::roster::change_stage(&st, u.principal(), id, stage, on, &form.text("note")).await?;
    back(&format!("/roster/households/{id}"), "saved")
}

// ---- warnings ----

#[derive(Template)]
#[template(path = "warnings.html")]
struct WarningsPage {
    l: Layout,
    flash: Option<&'static str>,
    rows: Vec<WarningDto>,
    townships: Vec<(i64, String)>,
    risk_types: Vec<(&'static str, &'static str)>,
    today: String,
    can_push: bool,
}

pub async fn warnings(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let mut rows = Vec::new();
    for w in st.app.warnings_for(p, 200).await? {
        rows.push(warning_dto(&st, &w).await?);
    }
    render(&WarningsPage {
        l: Layout::new("信息预警", "/warnings", &auth),
        flash: flash(q.msg.as_deref()),
        rows,
        townships: township_choices(&st).await?,
        risk_types: codes(RiskType::ALL, RiskType::code, RiskType::label),
        today: liandong_domain::deadline::county_date(now()).to_string(),
        can_push: !p.user.role.read_only(),
    })
}

pub async fn push(
    State(st): State<AppState>,
    u: Require<Writer>,
    form: FormData,
) -> AppResult<Response> {
    let p = u.principal();
    let household_no = form.text("household_no");
    let id_number = form.text("id_number");
    let subject = if let Ok(h) = form.text("household_id").parse::<i64>() {
        Subject::Household(h)
    } else if !household_no.is_empty() {
        let h = st
            .app
            .store
            .household_id_by_no(&household_no)
            .await?
            .ok_or_else(|| {
                AppError::invalid("household_no", format!("名单中没有户编号 {household_no}"))
            })?;
        Subject::Household(h)
    } else if !id_number.is_empty() {
        Subject::IdNumber(id_number)
    } else if let Ok(t) = form.text("township_id").parse::<i64>() {
        Subject::Township(t)
    } else {
        return Err(AppError::invalid(
            "household_no",
            "请填写户编号或身份证号，不在名单中的请选择乡镇",
        ));
    };
    let input = WarningInput {
        subject,
        risk_type: parse_code(
            &form.text("risk_type"),
            "risk_type",
            RiskType::from_code,
            RiskType::ALL,
            |k| k.code(),
        )?,
        summary: form.text("summary"),
        occurred_on: parse_date(&form.text("occurred_on"), "occurred_on")?,
        evidence: form.text("evidence"),
    };
    let w = st
        .app
        .push_warning(&p.actor(), App::pushing_department(p), "ui", input, now())
        .await?;
    back(&format!("/warnings/{}", w.id), "pushed")
}

#[derive(Template)]
#[template(path = "warning.html")]
struct WarningPage {
    l: Layout,
    flash: Option<&'static str>,
    w: WarningDto,
    can_sign: bool,
    can_verify: bool,
    can_close: bool,
}

pub async fn warning(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let w = st.app.warning_for(p, id).await?;
    let mine = p.user.unit_ids();
    let receipts = st.app.store.receipts(id).await?;
    let role = p.user.role;
    render(&WarningPage {
        l: Layout::new(&format!("预警第 {id} 号"), "/warnings", &auth),
        flash: flash(q.msg.as_deref()),
        can_sign: !role.read_only()
            && receipts
                .iter()
                .any(|r| r.signed_at.is_none() && mine.contains(&r.unit_id)),
        can_verify: w.status == WarningStatus::Open
            && ((role == Role::Township && mine.contains(&w.township_id)) || role.is_office()),
        can_close: w.status == WarningStatus::Verified && role.is_office(),
        w: warning_dto(&st, &w).await?,
    })
}

pub async fn sign(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    st.app.sign_warning(u.principal(), id, now()).await?;
    back(&format!("/warnings/{id}"), "signed")
}

pub async fn verify(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .verify_warning(
            u.principal(),
            id,
            form.get("found_true") == Some("1"),
            &form.text("note"),
            now(),
        )
        .await?;
    back(&format!("/warnings/{id}"), "saved")
}

pub async fn close(
    State(st): State<AppState>,
    u: Require<Office>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .close_warning(
            u.principal(),
            id,
            form.get("assisted") == Some("1"),
            &form.text("reason"),
            now(),
        )
        .await?;
    back(&format!("/warnings/{id}"), "saved")
}

/// A department and, per risk type, whether its warnings reach it.
pub struct RouteRow {
    pub id: i64,
    pub name: String,
    pub risks: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "warning_routes.html")]
struct RoutesPage {
    l: Layout,
    flash: Option<&'static str>,
    editable: bool,
    risks: Vec<(&'static str, &'static str)>,
    departments: Vec<RouteRow>,
}

pub async fn routes(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let routes = st.app.store.warning_routes().await?;
    render(&RoutesPage {
        l: Layout::new("预警推送范围", "/warnings", &auth),
        flash: flash(q.msg.as_deref()),
        editable: u.principal().user.role.administers(),
        risks: codes(RiskType::ALL, RiskType::code, RiskType::label),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| {
                let mine = RiskType::ALL
                    .iter()
                    .map(|r| (r.code(), routes.contains(&(*r, d.id))))
                    .collect();
                RouteRow {
                    id: d.id,
                    name: d.name,
                    risks: mine,
                }
            })
            .collect(),
    })
}

pub async fn save_routes(
    State(st): State<AppState>,
    u: Require<Admin>,
    form: FormData,
) -> AppResult<Response> {
    let deps = st.app.store.departments().await?;
    let mut routes = Vec::new();
    for (k, v) in &form.0 {
        let Some(rest) = k.strip_prefix("route_") else {
            continue;
        };
        if v != "1" {
            continue;
        }
        let Some((risk, dept)) = rest.split_once('_') else {
            continue;
        };
        let risk = RiskType::from_code(risk).ok_or_else(|| AppError::invalid(k, "风险类型无效"))?;
        let dept: i64 = dept.parse().map_err(|_| AppError::invalid(k, "部门无效"))?;
        if deps.iter().any(|d| d.id == dept) {
            routes.push((risk, dept));
        }
    }
    st.app
        .store
        .set_warning_routes(&u.principal().actor(), now().timestamp(), &routes)
        .await?;
    back("/warnings/routes", "saved")
}
