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
    /// (what, where, colour class)
    todos: Vec<(String, String, &'static str)>,
}

/// What the signed-in user must act on in the scoring workflow.
async fn todos(
    st: &AppState,
    p: &liandong_service::Principal,
) -> crate::error::AppResult<Vec<(String, String, &'static str)>> {
    use liandong_domain::{Category, Month, Role};
    use liandong_store::{EvaluationKind, RankingStatus, Scope};
    let now = chrono::Utc::now();
    let this_quarter = Month::of(liandong_domain::deadline::county_date(now)).quarter();
    let role = p.user.role;
    let store = &st.app.store;
    let mut out = Vec::new();
    if role.is_office() {
        let n = store.proposals().await?.len();
        if n > 0 {
            out.push((
                format!("{n} 项系统提议的加减分事项待确认"),
                "/scoring/events#proposals".to_owned(),
                "soon",
            ));
        }
    }
    for q in [this_quarter.prev().prev(), this_quarter.prev()] {
        let state = store.ranking_state(q).await?;
        let link = format!("/rankings?period={q}");
        let window_open = state.appeal_deadline.is_some_and(|d| now.timestamp() <= d);
        let pending = if state.status == RankingStatus::Submitted {
            store
                .appeals(&Scope::All, q)
                .await?
                .iter()
                .filter(|a| a.status == "pending")
                .count()
        } else {
            0
        };
        match (state.status, role) {
            (RankingStatus::Draft, r) if r.is_office() && q == this_quarter.prev() => {
                out.push((format!("{}排序尚未提交审定", q.label()), link, "soon"))
            }
            (RankingStatus::Submitted, r) if r.is_office() && pending > 0 => out.push((
                format!("{}有 {pending} 件申诉待处理", q.label()),
                format!("{link}#appeals"),
                "overdue",
            )),
            (RankingStatus::Submitted, Role::Leader) if !window_open && pending == 0 => {
                out.push((format!("{}排序待您审定", q.label()), link, "overdue"))
            }
            (RankingStatus::Submitted, Role::Department) if window_open => {
                for d in p.user.units.iter() {
                    out.push((
                        format!(
                            "{}排序申诉期至 {}：请核对{}的得分明细",
                            q.label(),
                            super::fmt_time(state.appeal_deadline.unwrap_or(0)),
                            d.name
                        ),
                        format!("/rankings/{q}/departments/{}", d.id),
                        "soon",
                    ));
                }
            }
            (RankingStatus::Approved, r) if r.is_office() => {
                out.push((format!("{}排序已审定，待通报", q.label()), link, "soon"))
            }
            (RankingStatus::Published, Role::Department) => {
                let acks = store.acknowledgements(q).await?;
                if p.user
                    .unit_ids()
                    .iter()
                    .any(|id| !acks.iter().any(|a| a.department_id == *id))
                {
                    out.push((
                        format!("{}排序结果已通报，请确认收到", q.label()),
                        link,
                        "overdue",
                    ));
                }
            }
            (RankingStatus::Draft | RankingStatus::Submitted, Role::Taskforce) => {
                let evals = store.evaluations(q).await?;
                let close = store
                    .departments()
                    .await?
                    .into_iter()
                    .filter(|d| d.category == Category::Close)
                    .count();
                let done = evals
                    .iter()
                    .filter(|e| e.kind == EvaluationKind::Extended)
                    .count();
                if done < close && q == this_quarter.prev() {
                    out.push((
                        format!("{}延伸评价已录入 {done}/{close} 个部门", q.label()),
                        format!("/scoring/evaluations?quarter={q}"),
                        "soon",
                    ));
                }
            }
            _ => {}
        }
    }
    for r in st.app.reminders(p, now).await? {
        out.push((
            format!(
                "{}（截止 {}，{}）",
                r.what,
                r.due.format("%Y-%m-%d %H:%M"),
                r.urgency.label()
            ),
            r.href,
            r.urgency.css(),
        ));
    }
    Ok(out)
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
        todos: todos(&st, p).await?,
    })
}
