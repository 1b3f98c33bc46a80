//! Policy sharing in the API: posting, full-text search in Chinese, the monthly update list,
//! the county's follow-up and the policy document.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use liandong_domain::scoring::Level;
use liandong_service::policies::PolicyInput;
use liandong_store::{Policy, PolicyFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::monthly::{parse_code, parse_date};
use super::scoring::{attachment_dto, AttachmentDto, NameQuery};
use crate::auth::{AnyUser, Require, Writer};
use crate::error::AppResult;
use crate::json::AppJson;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct PolicyDto {
    pub(crate) id: i64,
    pub(crate) department_id: i64,
    pub(crate) department: String,
    /// national, province, city or county
    pub(crate) level: String,
    pub(crate) level_label: String,
    pub(crate) issuer: String,
    pub(crate) doc_no: String,
    pub(crate) issued_on: String,
    pub(crate) title: String,
    pub(crate) summary: String,
    pub(crate) follow_up: String,
    pub(crate) posted_at: String,
}

pub fn policy_dto(p: &Policy) -> PolicyDto {
    PolicyDto {
        id: p.id,
        department_id: p.department_id,
        department: p.department.clone(),
        level: p.level.code().into(),
        level_label: p.level.label().into(),
        issuer: p.issuer.clone(),
        doc_no: p.doc_no.clone(),
        issued_on: p.issued_on.to_string(),
        title: p.title.clone(),
        summary: p.summary.clone(),
        follow_up: p.follow_up.clone(),
        posted_at: crate::pages::fmt_time(p.created_at),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct PolicyQuery {
    /// Words to find (all of them), in Chinese or not.
    q: Option<String>,
    department_id: Option<i64>,
}

/// Policies, newest first; with `q`, those containing every word.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", params(PolicyQuery), responses((status = 200, body = [PolicyDto])))]
pub async fn list(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Query(q): Query<PolicyQuery>,
) -> AppResult<Json<Vec<PolicyDto>>> {
    let list = st
        .app
        .store
        .policies(&PolicyFilter {
            text: q.q.filter(|s| !s.trim().is_empty()),
            department_id: q.department_id,
            posted: None,
            limit: 200,
        })
        .await?;
    Ok(Json(list.iter().map(policy_dto).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPolicyRequest {
    pub(crate) department_id: i64,
    /// national, province, city or county
    pub(crate) level: String,
    pub(crate) issuer: String,
    #[serde(default)]
    pub(crate) doc_no: String,
    pub(crate) issued_on: String,
    pub(crate) title: String,
    pub(crate) summary: String,
    #[serde(default)]
    pub(crate) follow_up: String,
}

pub fn policy_input(r: NewPolicyRequest) -> Result<PolicyInput, crate::error::AppError> {
    Ok(PolicyInput {
        department_id: r.department_id,
        level: parse_code(&r.level, "level", Level::from_code, &Level::ALL, |l| {
            l.code()
        })?,
        issuer: r.issuer,
        doc_no: r.doc_no,
        issued_on: parse_date(&r.issued_on, "issued_on")?,
        title: r.title,
        summary: r.summary,
        follow_up: r.follow_up,
    })
}

/// Posts a policy for the user's department (the office for any).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = NewPolicyRequest, responses((status = 201, body = PolicyDto)))]
pub async fn create(
    State(st): State<AppState>,
    u: Require<Writer>,
    AppJson(req): AppJson<NewPolicyRequest>,
) -> AppResult<(StatusCode, Json<PolicyDto>)> {
    let p = st
        .app
        .post_policy(u.principal(), policy_input(req)?, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(policy_dto(&p))))
}

#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies", responses((status = 200, body = PolicyDto)))]
pub async fn get_one(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<PolicyDto>> {
    Ok(Json(policy_dto(&st.app.store.policy(id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct FollowUpRequest {
    follow_up: String,
}

/// Records the county's follow-up of a policy.
#[utoipa::path(put, path = "/api/v1/policies/{id}/follow-up", tag = "policies", request_body = FollowUpRequest, responses((status = 200, body = PolicyDto)))]
pub async fn follow_up(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(req): AppJson<FollowUpRequest>,
) -> AppResult<Json<PolicyDto>> {
    let p = st
        .app
        .follow_up_policy(u.principal(), id, &req.follow_up, Utc::now())
        .await?;
    Ok(Json(policy_dto(&p)))
}

/// Attaches the policy document (the body is the file).
#[utoipa::path(post, path = "/api/v1/policies/{id}/attachments", tag = "policies", params(NameQuery),
    request_body(content = Vec<u8>, content_type = "application/pdf"), responses((status = 201, body = AttachmentDto)))]
pub async fn attach(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    Query(q): Query<NameQuery>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<AttachmentDto>)> {
    let a = st
        .app
        .attach_to_policy(u.principal(), id, &q.name, &body, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(attachment_dto(&a))))
}
