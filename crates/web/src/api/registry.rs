//! `/api/v1/departments`, `/api/v1/townships` and `/api/v1/notices`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use liandong_store::{Department, NewNotice, Notice, PersonKind, ResponsiblePerson, Township};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Admin, AnyUser, Office, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::pages::notices::{check_notice, check_targets};
use crate::pages::registry::{check_township, check_township_name, duties_from_text};
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct DutyDto {
    no: i64,
    text: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PersonDto {
    /// principal (第一责任人), in_charge (具体责任人) or direct (直接责任人)
    kind: String,
    name: String,
    /// 职务
    #[serde(default)]
    post: String,
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentDto {
    id: i64,
    code: String,
    /// The Chinese name as in the work plan.
    name: String,
    /// close (紧密型), related (相关) or emergency (紧急预警)
    category: String,
    category_label: String,
    duties: Vec<DutyDto>,
    responsible_persons: Vec<PersonDto>,
}

fn department_dto(d: &Department) -> DepartmentDto {
    DepartmentDto {
        id: d.id,
        code: d.code.clone(),
        name: d.name.clone(),
        category: d.category.code().to_owned(),
        category_label: d.category.label().to_owned(),
        duties: d
            .duties
            .iter()
            .map(|x| DutyDto {
                no: x.no,
                text: x.text.clone(),
            })
            .collect(),
        responsible_persons: d
            .people
            .iter()
            .map(|p| PersonDto {
                kind: p.kind.code().to_owned(),
                name: p.name.clone(),
                post: p.post.clone(),
            })
            .collect(),
    }
}

/// The 26 member departments in the work plan's order (9 close-type, 15 related, 2 emergency).
#[utoipa::path(get, path = "/api/v1/departments", tag = "registry", responses((status = 200, body = [DepartmentDto]), (status = 401, body = crate::error::ErrorBody)))]
pub async fn departments(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
) -> AppResult<Json<Vec<DepartmentDto>>> {
    Ok(Json(
        st.app
            .store
            .departments()
            .await?
            .iter()
            .map(department_dto)
            .collect(),
    ))
}

/// One department with its duties and responsible persons.
#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "registry", responses((status = 200, body = DepartmentDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn department(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<DepartmentDto>> {
    Ok(Json(department_dto(&st.app.store.department(id).await?)))
}

/// Replaces the responsible persons: office administrators for any department, department
/// users for their own.
#[utoipa::path(put, path = "/api/v1/departments/{id}/people", tag = "registry", request_body = [PersonDto],
    responses((status = 200, body = DepartmentDto), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_people(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<Vec<PersonDto>>,
) -> AppResult<Json<DepartmentDto>> {
    let mut people = Vec::new();
    for (i, p) in body.into_iter().enumerate() {
        let kind = PersonKind::from_code(&p.kind).ok_or_else(|| {
            AppError::invalid(
                &format!("[{i}].kind"),
                format!(
                    "责任人类别“{}”无效，可选 principal、in_charge、direct",
                    p.kind
                ),
            )
        })?;
        let name = p.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 30 || p.post.chars().count() > 30 {
            return Err(AppError::invalid(
                &format!("[{i}].name"),
                "姓名须为 1-30 个字，职务不超过 30 个字",
            ));
        }
        if people.iter().any(|x: &ResponsiblePerson| x.kind == kind) {
            return Err(AppError::invalid(
                &format!("[{i}].kind"),
                format!("{}只能填写一人", kind.label()),
            ));
        }
        people.push(ResponsiblePerson {
            kind,
            name,
            post: p.post.trim().to_owned(),
        });
    }
    let p = u.principal();
    let scope = p.write_scope();
    let d = st
        .app
        .store
        .set_responsible_persons(
            &p.actor(),
            &scope,
            chrono::Utc::now().timestamp(),
            id,
            &people,
        )
        .await?;
    Ok(Json(department_dto(&d)))
}

#[derive(Deserialize, ToSchema)]
pub struct DutiesRequest {
    duties: Vec<String>,
}

/// Replaces a department's duty list (office administrators).
#[utoipa::path(put, path = "/api/v1/departments/{id}/duties", tag = "registry", request_body = DutiesRequest,
    responses((status = 200, body = DepartmentDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_duties(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<DutiesRequest>,
) -> AppResult<Json<DepartmentDto>> {
    let duties = duties_from_text(&body.duties.join("\n"))?;
    let d = st
        .app
        .store
        .set_duties(
            &a.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            &duties,
        )
        .await?;
    Ok(Json(department_dto(&d)))
}

#[derive(Serialize, ToSchema)]
pub struct TownshipDto {
    id: i64,
    code: String,
    name: String,
    active: bool,
}

fn township_dto(t: Township) -> TownshipDto {
    TownshipDto {
        id: t.id,
        code: t.code,
        name: t.name,
        active: t.active,
    }
}

/// The county's townships.
#[utoipa::path(get, path = "/api/v1/townships", tag = "registry", responses((status = 200, body = [TownshipDto])))]
pub async fn townships(
    State(st): State<AppState>,
    _u: Require<AnyUser>,
) -> AppResult<Json<Vec<TownshipDto>>> {
    Ok(Json(
        st.app
            .store
            .townships()
            .await?
            .into_iter()
            .map(township_dto)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewTownship {
    code: String,
    name: String,
}

/// Adds a township (office administrators).
#[utoipa::path(post, path = "/api/v1/townships", tag = "registry", request_body = NewTownship,
    responses((status = 201, body = TownshipDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_township(
    State(st): State<AppState>,
    a: Require<Admin>,
    AppJson(b): AppJson<NewTownship>,
) -> AppResult<(StatusCode, Json<TownshipDto>)> {
    let (code, name) = (b.code.trim().to_owned(), b.name.trim().to_owned());
    check_township(&code, &name)?;
    let t = st
        .app
        .store
        .create_township(
            &a.principal().actor(),
            chrono::Utc::now().timestamp(),
            &code,
            &name,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(township_dto(t))))
}

#[derive(Deserialize, ToSchema)]
pub struct TownshipUpdate {
    name: String,
    active: bool,
}

/// Renames a township or takes it out of use.
#[utoipa::path(put, path = "/api/v1/townships/{id}", tag = "registry", request_body = TownshipUpdate, responses((status = 200, body = TownshipDto)))]
pub async fn update_township(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    AppJson(b): AppJson<TownshipUpdate>,
) -> AppResult<Json<TownshipDto>> {
    let name = b.name.trim().to_owned();
    check_township_name(&name)?;
    let t = st
        .app
        .store
        .update_township(
            &a.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            &name,
            b.active,
        )
        .await?;
    Ok(Json(township_dto(t)))
}

#[derive(Serialize, ToSchema)]
pub struct NoticeDto {
    id: i64,
    title: String,
    body: String,
    author: String,
    published_at: String,
    /// Unit ids; empty means every unit.
    targets: Vec<i64>,
    read: bool,
}

fn notice_dto(n: Notice) -> NoticeDto {
    NoticeDto {
        id: n.id,
        published_at: chrono::DateTime::from_timestamp(n.published_at, 0)
            .map(|t| {
                t.with_timezone(&liandong_domain::deadline::county_offset())
                    .to_rfc3339()
            })
            .unwrap_or_default(),
        title: n.title,
        body: n.body,
        author: n.author,
        targets: n.targets.iter().map(|t| t.id).collect(),
        read: n.read,
    }
}

/// Notices addressed to everyone or to one of the user's units.
#[utoipa::path(get, path = "/api/v1/notices", tag = "notices", responses((status = 200, body = [NoticeDto])))]
pub async fn notices(
    State(st): State<AppState>,
    u: Require<AnyUser>,
) -> AppResult<Json<Vec<NoticeDto>>> {
    let p = u.principal();
    Ok(Json(
        st.app
            .store
            .notices(&p.scope(), p.user.id)
            .await?
            .into_iter()
            .map(notice_dto)
            .collect(),
    ))
}

/// One notice; outside the user's data scope it is 404.
#[utoipa::path(get, path = "/api/v1/notices/{id}", tag = "notices", responses((status = 200, body = NoticeDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn notice(
    State(st): State<AppState>,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Json<NoticeDto>> {
    let p = u.principal();
    let n = st.app.store.notice(&p.scope(), p.user.id, id).await?;
    st.app
        .store
        .mark_notice_read(p.user.id, id, chrono::Utc::now().timestamp())
        .await?;
    Ok(Json(notice_dto(n)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewNoticeRequest {
    title: String,
    body: String,
    /// Unit ids; omit or leave empty for every unit.
    #[serde(default)]
    targets: Vec<i64>,
}

/// Publishes a notice (the linkage office).
#[utoipa::path(post, path = "/api/v1/notices", tag = "notices", request_body = NewNoticeRequest, responses((status = 201, body = NoticeDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn publish_notice(
    State(st): State<AppState>,
    u: Require<Office>,
    AppJson(b): AppJson<NewNoticeRequest>,
) -> AppResult<(StatusCode, Json<NoticeDto>)> {
    let new = NewNotice {
        title: b.title.trim().to_owned(),
        body: b.body.trim().to_owned(),
        targets: b.targets,
    };
    check_notice(&new.title, &new.body)?;
    check_targets(&st, &new.targets).await?;
    let n = st
        .app
        .store
        .create_notice(&u.principal().actor(), chrono::Utc::now().timestamp(), &new)
        .await?;
    Ok((StatusCode::CREATED, Json(notice_dto(n))))
}
