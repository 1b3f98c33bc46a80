//! The dashboard (工作台) of the signed-in role.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use liandong_domain::Category;
use liandong_store::LoginFilter;
use serde::Deserialize;

use super::{flash, fmt_time, render, Layout};
use crate::auth::{AnyUser, PageAuth, Require};
use crate::error::AppResult;
use crate::AppState;

pub struct NoticeLine {
    pub id: i64,
    pub title: String,
    pub when: String,
    pub read: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    flash: Option<&'static str>,
    name: String,
    role: &'static str,
    units: String,
    scope_note: &'static str,
    departments: usize,
    close: usize,
    related: usize,
    emergency: usize,
    townships: usize,
    notices: usize,
    unread: usize,
    latest_notices: Vec<NoticeLine>,
    users: Option<i64>,
    failed_logins: Option<i64>,
}

#[derive(Deserialize)]
pub struct Msg {
    pub msg: Option<String>,
}

pub async fn home(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    user: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let p = user.principal();
    let store = &st.app.store;
    let deps = store.departments().await?;
    let count = |c| deps.iter().filter(|d| d.category == c).count();
    let notices = store.notices(&p.scope(), p.user.id).await?;
    let role = p.user.role;
    let users = if role.administers() {
        Some(store.count_users().await?)
    } else {
        None
    };
    let failed_logins = if role.reads_audit() {
        let since = chrono::Utc::now().timestamp() - 86_400;
        let (list, _) = store
            .login_attempts(&LoginFilter {
                limit: 1000,
                ..Default::default()
            })
            .await?;
        Some(
            list.iter()
                .filter(|a| {
                    a.at >= since && !matches!(a.outcome.as_str(), "success" | "signed_out")
                })
                .count() as i64,
        )
    } else {
        None
    };
    render(&HomePage {
        l: Layout::new("工作台", "/", &auth),
        flash: flash(q.msg.as_deref()),
        name: p.user.display_name.clone(),
        role: role.label(),
        units: p
            .user
            .units
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>()
            .join("、"),
        scope_note: if role.sees_all() {
            "您可以查看全县各单位的数据。"
        } else {
            "您只能查看和办理本单位的数据，以及发给本单位的信息。"
        },
        departments: deps.len(),
        close: count(Category::Close),
        related: count(Category::Related),
        emergency: count(Category::Emergency),
        townships: store.townships().await?.iter().filter(|t| t.active).count(),
        unread: notices.iter().filter(|n| !n.read).count(),
        notices: notices.len(),
        latest_notices: notices
            .iter()
            .take(5)
            .map(|n| NoticeLine {
                id: n.id,
                title: n.title.clone(),
                when: fmt_time(n.published_at),
                read: n.read,
            })
            .collect(),
        users,
        failed_logins,
    })
}
