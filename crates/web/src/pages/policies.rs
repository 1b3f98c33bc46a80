//! The policy pages: search, the monthly update list by department, posting, a policy with
//! its document and the county's follow-up.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use liandong_domain::scoring::Level;
use liandong_domain::Month;
use liandong_store::PolicyFilter;
use serde::Deserialize;

use super::{flash, render, FormData, Layout};
use crate::api::policies::{policy_dto, policy_input, NewPolicyRequest, PolicyDto};
use crate::api::scoring::parse_month;
use crate::auth::{AnyUser, PageAuth, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

#[derive(Deserialize)]
pub struct PolicyQuery {
    q: Option<String>,
    month: Option<String>,
    msg: Option<String>,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    l: Layout,
    flash: Option<&'static str>,
    q: String,
    month_label: String,
    prev: String,
    next: String,
    results: Option<Vec<PolicyDto>>,
    updates: Vec<(String, Vec<PolicyDto>)>,
    can_post: bool,
    departments: Vec<(i64, String)>,
    levels: Vec<(&'static str, &'static str)>,
    today: String,
}

pub async fn list(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<PolicyQuery>,
) -> AppResult<Response> {
    let p = u.principal();
    let today = liandong_domain::deadline::county_date(Utc::now());
    let month = match q.month.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_month(s, "month")?,
        None => Month::of(today),
    };
    let text = q.q.clone().unwrap_or_default();
    let results = if text.trim().is_empty() {
        None
    } else {
        Some(
            st.app
                .store
                .policies(&PolicyFilter {
                    text: Some(text.clone()),
                    limit: 200,
                    ..Default::default()
                })
                .await?
                .iter()
                .map(policy_dto)
                .collect(),
        )
    };
    let office = p.user.role.is_office();
    let scope = p.write_scope();
    render(&PoliciesPage {
        l: Layout::new("政策共享", "/policies", &auth),
        flash: flash(q.msg.as_deref()),
        q: text,
        month_label: month.label(),
        prev: month.prev().to_string(),
        next: month.next().to_string(),
        results,
        updates: st
            .app
            .policy_updates(month)
            .await?
            .into_iter()
            .map(|(d, list)| (d, list.iter().map(policy_dto).collect()))
            .collect(),
        can_post: !p.user.role.read_only()
            && (office || p.user.role == liandong_domain::Role::Department),
        departments: st
            .app
            .store
            .departments()
            .await?
            .into_iter()
            .filter(|d| office || scope.allows(d.id))
            .map(|d| (d.id, d.name))
            .collect(),
        levels: Level::ALL.iter().map(|l| (l.code(), l.label())).collect(),
        today: today.to_string(),
    })
}

pub async fn create(
    State(st): State<AppState>,
    u: Require<Writer>,
    form: FormData,
) -> AppResult<Response> {
    let req = NewPolicyRequest {
        department_id: form
            .text("department_id")
            .parse()
            .map_err(|_| AppError::invalid("department_id", "请选择发布单位"))?,
        level: form.text("level"),
        issuer: form.text("issuer"),
        doc_no: form.text("doc_no"),
        issued_on: form.text("issued_on"),
        title: form.text("title"),
        summary: form.text("summary"),
        follow_up: form.text("follow_up"),
    };
    let p = st
        .app
        .post_policy(u.principal(), policy_input(req)?, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/policies/{}?msg=posted", p.id)).into_response())
}

#[derive(Deserialize)]
pub struct Msg {
    msg: Option<String>,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    l: Layout,
    flash: Option<&'static str>,
    p: PolicyDto,
    files: Vec<(i64, String)>,
    editable: bool,
}

pub async fn show(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let policy = st.app.store.policy(id).await?;
    let p = u.principal();
    let editable = !p.user.role.read_only()
        && (p.user.role.is_office() || p.write_scope().allows(policy.department_id));
    render(&PolicyPage {
        l: Layout::new(&policy.title, "/policies", &auth),
        flash: flash(q.msg.as_deref()),
        files: st
            .app
            .store
            .attachments_of(&[format!("policy:{id}")])
            .await?
            .into_iter()
            .map(|a| (a.id, a.file_name))
            .collect(),
        editable,
        p: policy_dto(&policy),
    })
}

pub async fn follow_up(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .follow_up_policy(u.principal(), id, &form.text("follow_up"), Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/policies/{id}?msg=saved")).into_response())
}

pub async fn attach(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> AppResult<Response> {
    let (name, bytes) = super::monthly::upload(form).await?;
    st.app
        .attach_to_policy(u.principal(), id, &name, &bytes, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/policies/{id}?msg=saved")).into_response())
}
