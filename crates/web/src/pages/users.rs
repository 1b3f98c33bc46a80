//! User administration pages (office administrators).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use liandong_domain::Role;
use liandong_service::users::CreateUser;
use liandong_store::{User, UserChanges};

use super::home::Msg;
use super::{flash, fmt_time, render, FormData, Layout};
use crate::auth::{Admin, PageAuth, Require};
use crate::error::{AppError, AppResult};
use crate::AppState;

pub struct UserLine {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub units: String,
    pub status: &'static str,
}

fn status(u: &User) -> &'static str {
    if u.disabled {
        "已停用"
    } else if u.must_change_password {
        "待修改初始密码"
    } else {
        "正常"
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    l: Layout,
    flash: Option<&'static str>,
    users: Vec<UserLine>,
    roles: Vec<(&'static str, &'static str)>,
    units: Vec<(i64, String)>,
    policy: String,
}

pub fn parse_role(s: &str) -> Result<Role, AppError> {
    s.parse()
        .map_err(|e: liandong_domain::role::UnknownRole| AppError::invalid("role", e.to_string()))
}

pub async fn list(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _u: Require<Admin>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let users = st.app.store.users().await?;
    let units = st.app.store.units().await?;
    render(&UsersPage {
        l: Layout::new("用户管理", "/users", &auth),
        flash: flash(q.msg.as_deref()),
        users: users
            .iter()
            .map(|u| UserLine {
                id: u.id,
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                role: u.role.label(),
                units: u
                    .units
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
                status: status(u),
            })
            .collect(),
        roles: Role::ALL.iter().map(|r| (r.code(), r.label())).collect(),
        units: units
            .into_iter()
            .map(|u| (u.id, format!("{}：{}", u.kind.label(), u.name)))
            .collect(),
        policy: st.app.settings.password_policy.describe(),
    })
}

pub async fn create(
    State(st): State<AppState>,
    u: Require<Admin>,
    form: FormData,
) -> AppResult<Response> {
    let req = CreateUser {
        username: form.text("username"),
        display_name: form.text("display_name"),
        role: parse_role(&form.text("role"))?,
        password: form.get("password").unwrap_or("").to_owned(),
        units: form.ids("units")?,
        must_change_password: true,
    };
    let user = st
        .app
        .create_user(&u.principal().actor(), req, chrono::Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/users/{}?msg=created", user.id)).into_response())
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    l: Layout,
    flash: Option<&'static str>,
    u: User,
    role_label: &'static str,
    status: &'static str,
    created: String,
    password_changed: String,
    roles: Vec<(&'static str, &'static str, bool)>,
    units: Vec<(i64, String, bool)>,
    locked_until: Option<String>,
    policy: String,
}

pub async fn show(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _a: Require<Admin>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let store = &st.app.store;
    let u = store.user(id).await?;
    let own = u.unit_ids();
    let units = store
        .units()
        .await?
        .into_iter()
        .map(|x| {
            (
                x.id,
                format!("{}：{}", x.kind.label(), x.name),
                own.contains(&x.id),
            )
        })
        .collect();
    let lock = store
        .lock_state(&u.username, chrono::Utc::now().timestamp())
        .await?;
    render(&UserPage {
        l: Layout::new("用户", "/users", &auth),
        flash: flash(q.msg.as_deref()),
        role_label: u.role.label(),
        status: status(&u),
        created: fmt_time(u.created_at),
        password_changed: fmt_time(u.password_changed_at),
        roles: Role::ALL
            .iter()
            .map(|r| (r.code(), r.label(), *r == u.role))
            .collect(),
        units,
        locked_until: lock.locked_until.map(fmt_time),
        policy: st.app.settings.password_policy.describe(),
        u,
    })
}

pub async fn update(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let changes = UserChanges {
        display_name: Some(form.text("display_name")),
        role: Some(parse_role(&form.text("role"))?),
        units: Some(form.ids("units")?),
        disabled: Some(form.get("disabled") == Some("1")),
    };
    st.app
        .update_user(&a.principal().actor(), id, changes, chrono::Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/users/{id}?msg=saved")).into_response())
}

pub async fn reset_password(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    st.app
        .reset_password(
            &a.principal().actor(),
            id,
            form.get("password").unwrap_or(""),
            true,
            chrono::Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/users/{id}?msg=reset")).into_response())
}

pub async fn lock(
    State(st): State<AppState>,
    a: Require<Admin>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let minutes: i64 = form
        .text("minutes")
        .parse()
        .map_err(|_| AppError::invalid("minutes", "锁定时长须为分钟数"))?;
    let user = st.app.store.user(id).await?;
    st.app
        .set_lock(
            &a.principal().actor(),
            &user.username,
            minutes,
            chrono::Utc::now(),
        )
        .await?;
    let msg = if minutes > 0 { "locked" } else { "unlocked" };
    Ok(Redirect::to(&format!("/users/{id}?msg={msg}")).into_response())
}
