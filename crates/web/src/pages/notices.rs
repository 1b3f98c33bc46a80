//! Notices (通知公告): read within the data scope, published by the office.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use liandong_store::{NewNotice, Notice};

use super::home::Msg;
use super::{flash, fmt_time, render, FormData, Layout};
use crate::auth::{AnyUser, Office, PageAuth, Require};
use crate::error::{AppError, AppResult};
use crate::AppState;

pub struct NoticeLine {
    pub id: i64,
    pub title: String,
    pub author: String,
    pub when: String,
    pub audience: String,
    pub read: bool,
}

pub fn audience(n: &Notice) -> String {
    if n.targets.is_empty() {
        "全部单位".into()
    } else if n.targets.len() > 3 {
        format!("{} 等 {} 个单位", n.targets[0].name, n.targets.len())
    } else {
        n.targets
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    l: Layout,
    flash: Option<&'static str>,
    notices: Vec<NoticeLine>,
    can_publish: bool,
    units: Vec<(i64, String)>,
}

pub async fn list(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = u.principal();
    let notices = st.app.store.notices(&p.scope(), p.user.id).await?;
    let can_publish = p.user.role.is_office();
    let units = if can_publish {
        st.app
            .store
            .units()
            .await?
            .into_iter()
            .map(|u| (u.id, format!("{}：{}", u.kind.label(), u.name)))
            .collect()
    } else {
        Vec::new()
    };
    render(&NoticesPage {
        l: Layout::new("通知公告", "/notices", &auth),
        flash: flash(q.msg.as_deref()),
        notices: notices
            .iter()
            .map(|n| NoticeLine {
                id: n.id,
                title: n.title.clone(),
                author: n.author.clone(),
                when: fmt_time(n.published_at),
                audience: audience(n),
                read: n.read,
            })
            .collect(),
        can_publish,
        units,
    })
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    l: Layout,
    n: Notice,
    when: String,
    audience: String,
    paragraphs: Vec<String>,
}

pub async fn show(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let p = u.principal();
    let n = st.app.store.notice(&p.scope(), p.user.id, id).await?;
    st.app
        .store
        .mark_notice_read(p.user.id, id, chrono::Utc::now().timestamp())
        .await?;
    render(&NoticePage {
        l: Layout::new(&n.title, "/notices", &auth),
        when: fmt_time(n.published_at),
        audience: audience(&n),
        paragraphs: n
            .body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        n,
    })
}

pub fn check_notice(title: &str, body: &str) -> Result<(), AppError> {
    if title.is_empty() || title.chars().count() > 100 {
        return Err(AppError::invalid("title", "标题须为 1-100 个字"));
    }
    if body.is_empty() || body.chars().count() > 20_000 {
        return Err(AppError::invalid("body", "正文须为 1-20000 个字"));
    }
    Ok(())
}

pub async fn publish(
    State(st): State<AppState>,
    u: Require<Office>,
    form: FormData,
) -> AppResult<Response> {
    let new = NewNotice {
        title: form.text("title"),
        body: form.text("body"),
        targets: form.ids("targets")?,
    };
    check_notice(&new.title, &new.body)?;
    check_targets(&st, &new.targets).await?;
    st.app
        .store
        .create_notice(&u.principal().actor(), chrono::Utc::now().timestamp(), &new)
        .await?;
    Ok(Redirect::to("/notices?msg=published").into_response())
}

/// Every target must be an existing unit.
pub async fn check_targets(st: &AppState, targets: &[i64]) -> Result<(), AppError> {
    let units = st.app.store.units().await?;
    match targets.iter().find(|t| !units.iter().any(|u| u.id == **t)) {
        Some(t) => Err(AppError::invalid("targets", format!("单位 {t} 不存在"))),
        None => Ok(()),
    }
}
