//! `/api/v1/users` and `/api/v1/audit`: accounts and logs.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use liandong_domain::Role;
use liandong_service::users::CreateUser;
use liandong_store::{LoginFilter, User, UserChanges};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Admin, AuditReader, Require};
use crate::error::{AppError, AppResult};
use crate::json::AppJson;
use crate::pages::audit::AuditQuery;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct UnitDto {
    id: i64,
    /// `department` or `township`
    kind: String,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    units: Vec<UnitDto>,
    disabled: bool,
    must_change_password: bool,
    /// RFC 3339
    created_at: String,
    password_changed_at: String,
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            t.with_timezone(&liandong_domain::deadline::county_offset())
                .to_rfc3339()
        })
        .unwrap_or_default()
}

fn user_dto(u: &User) -> UserDto {
    UserDto {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: u.role.code().to_owned(),
        units: u
            .units
            .iter()
            .map(|x| UnitDto {
                id: x.id,
                kind: x.kind.code().to_owned(),
                name: x.name.clone(),
            })
            .collect(),
        disabled: u.disabled,
        must_change_password: u.must_change_password,
        created_at: rfc3339(u.created_at),
        password_changed_at: rfc3339(u.password_changed_at),
    }
}

fn role(s: &str) -> Result<Role, AppError> {
    s.parse()
        .map_err(|e: liandong_domain::role::UnknownRole| AppError::invalid("role", e.to_string()))
}

/// All accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = [UserDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_users(
    State(st): State<AppState>,
    _a: Require<Admin>,
) -> AppResult<Json<Vec<UserDto>>> {
    Ok(Json(
        st.app.store.users().await?.iter().map(user_dto).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserRequest {
    username: String,
    password: String,
    /// office_admin, office_staff, department, township, leader, verifier, taskforce, auditor
    role: String,
    /// Department or township ids (required for `department` and `township`).
    #[serde(default)]
    units: Vec<i64>,
    #[serde(default)]
    display_name: Option<String>,
    /// Default true: the user chooses a new password at the first sign-in.
    #[serde(default)]
    must_change_password: Option<bool>,
}

/// Creates an account (office administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = UserDto), (status = 409, description = "用户名已被使用", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_user(
    State(st): State<AppState>,
    a: Require<Admin>,
    AppJson(body): AppJson<NewUserRequest>,
) -> AppResult<(StatusCode, Json<UserDto>)> {
    let req = CreateUser {
        display_name: body.display_name.unwrap_or_else(|| body.username.clone()),
        username: body.username,
        role: role(&body.role)?,
        password: body.password,
        units: body.units,
        must_change_password: body.must_change_password.unwrap_or(true),
    };
    let user = st
        .app
        .create_user(&a.principal().actor(), req, chrono::Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(user_dto(&user))))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", responses((status = 200, body = UserDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_user(
    State(st): State<AppState>,
    _a: Require<Admin>,
    Path(id): Path<i64>,
) -> AppResult<Json<UserDto>> {
    Ok(Json(user_dto(&st.app.store.user(id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    display_name: Option<String>,
    role: Option<String>,
    units: Option<Vec<i64>>,
    /// Disabling ends all the user's sessions at once.
    disabled: Option<bool>,
}

/// Changes role, units, name or the disabled flag.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserUpdate,
    responses((status = 200, body = UserDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_user(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<UserUpdate>,
) -> AppResult<Json<UserDto>> {
    let changes = UserChanges {
        display_name: body.display_name,
        role: body.role.as_deref().map(role).transpose()?,
        units: body.units,
        disabled: body.disabled,
    };
    Ok(Json(user_dto(
        &st.app
            .update_user(&a.principal().actor(), id, changes, chrono::Utc::now())
            .await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordReset {
    password: String,
    /// Default true.
    #[serde(default)]
    must_change_password: Option<bool>,
}

/// Sets a new password for a user.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", request_body = PasswordReset,
    responses((status = 204), (status = 422, body = crate::error::ErrorBody)))]
pub async fn reset_password(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<PasswordReset>,
) -> AppResult<StatusCode> {
    st.app
        .reset_password(
            &a.principal().actor(),
            id,
            &body.password,
            body.must_change_password.unwrap_or(true),
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct LockRequest {
    /// Minutes to lock the account for; 0 unlocks it.
    minutes: i64,
}

/// Locks or unlocks an account.
#[utoipa::path(put, path = "/api/v1/users/{id}/lock", tag = "users", request_body = LockRequest,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn lock_user(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<LockRequest>,
) -> AppResult<StatusCode> {
    if body.minutes < 0 {
        return Err(AppError::invalid("minutes", "锁定时长不能为负数"));
    }
    let user = st.app.store.user(id).await?;
    st.app
        .set_lock(
            &a.principal().actor(),
            &user.username,
            body.minutes,
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryDto {
    id: i64,
    at: String,
    actor: String,
    role: String,
    source: String,
    action: String,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    total: i64,
    entries: Vec<AuditEntryDto>,
}

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    actor: Option<String>,
    /// Action prefix, e.g. `user.`
    action: Option<String>,
    /// Target prefix, e.g. `user:3`
    target: Option<String>,
    /// From this county date (YYYY-MM-DD).
    from: Option<String>,
    /// Until this county date, inclusive.
    until: Option<String>,
    page: Option<i64>,
    /// Entries per page (default 50, at most 500).
    per_page: Option<i64>,
}

/// The operation log, newest first (office administrators and auditors).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams), responses((status = 200, body = AuditPage), (status = 403, body = crate::error::ErrorBody)))]
pub async fn audit(
    State(st): State<AppState>,
    _r: Require<AuditReader>,
    Query(p): Query<AuditParams>,
) -> AppResult<Json<AuditPage>> {
    let q = AuditQuery {
        actor: p.actor,
        action: p.action,
        target: p.target,
        from: p.from,
        until: p.until,
        page: p.page,
    };
    let (entries, total) = st
        .app
        .store
        .audit_entries(&q.filter(p.per_page.unwrap_or(50).clamp(1, 500))?)
        .await?;
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str(s).ok());
    Ok(Json(AuditPage {
        total,
        entries: entries
            .iter()
            .map(|e| AuditEntryDto {
                id: e.id,
                at: rfc3339(e.at),
                actor: e.actor.clone(),
                role: e.role.clone(),
                source: e.source.clone(),
                action: e.action.clone(),
                target: e.target.clone(),
                before: parse(&e.before),
                after: parse(&e.after),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LoginAttemptDto {
    at: String,
    username: String,
    /// success, bad_password, unknown_user, locked, disabled
    outcome: String,
    source: String,
    user_agent: String,
}

#[derive(Deserialize, IntoParams)]
pub struct LoginParams {
    username: Option<String>,
    outcome: Option<String>,
    page: Option<i64>,
}

/// The login log, newest first (office administrators and auditors).
#[utoipa::path(get, path = "/api/v1/audit/logins", tag = "audit", params(LoginParams), responses((status = 200, body = [LoginAttemptDto])))]
pub async fn logins(
    State(st): State<AppState>,
    _r: Require<AuditReader>,
    Query(p): Query<LoginParams>,
) -> AppResult<Json<Vec<LoginAttemptDto>>> {
    let page = p.page.unwrap_or(1).clamp(1, 100_000);
    let (list, _) = st
        .app
        .store
        .login_attempts(&LoginFilter {
            username: p.username,
            outcome: p.outcome,
            limit: 100,
            offset: (page - 1) * 100,
        })
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|a| LoginAttemptDto {
                at: rfc3339(a.at),
                username: a.username,
                outcome: a.outcome,
                source: a.source,
                user_agent: a.user_agent,
            })
            .collect(),
    ))
}
