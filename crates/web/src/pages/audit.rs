//! The operation log and login log pages, and the operation log's Excel export.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use liandong_office::{workbook, Cell, Column, Sheet};
use liandong_store::{AuditEntry, AuditFilter, LoginFilter, LoginOutcome};
use serde::Deserialize;

use super::{fmt_time, render, Layout};
use crate::auth::{AuditReader, PageAuth, Require};
use crate::error::{AppError, AppResult};
use crate::AppState;

const PAGE: i64 = 50;
const EXPORT_MAX: i64 = 20_000;

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub page: Option<i64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A county-time date as the Unix time of its start.
fn day_start(s: &str, field: &str) -> Result<i64, AppError> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, format!("日期“{s}”格式应为 2023-04-01")))?;
    Ok(
        liandong_domain::deadline::from_county_time(d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .timestamp(),
    )
}

impl AuditQuery {
    pub fn filter(&self, limit: i64) -> Result<AuditFilter, AppError> {
        let page = self.page.unwrap_or(1).clamp(1, 100_000);
        Ok(AuditFilter {
            actor: nonempty(&self.actor),
            action: nonempty(&self.action),
            target: nonempty(&self.target),
            from: nonempty(&self.from)
                .map(|s| day_start(&s, "from"))
                .transpose()?,
            until: nonempty(&self.until)
                .map(|s| day_start(&s, "until").map(|t| t + 86_400))
                .transpose()?,
            limit,
            offset: (page - 1) * limit,
        })
    }

    fn query_string(&self, page: Option<i64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("from", &self.from),
            ("until", &self.until),
        ] {
            if let Some(v) = nonempty(v) {
                q.append_pair(k, &v);
            }
        }
        if let Some(p) = page {
            q.append_pair("page", &p.to_string());
        }
        q.finish()
    }
}

pub struct EntryLine {
    pub id: i64,
    pub when: String,
    pub actor: String,
    pub role: String,
    pub source: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
}

fn line(e: &AuditEntry) -> EntryLine {
    EntryLine {
        id: e.id,
        when: fmt_time(e.at),
        actor: e.actor.clone(),
        role: e
            .role
            .parse::<liandong_domain::Role>()
            .map(|r| r.label().to_owned())
            .unwrap_or_else(|_| e.role.clone()),
        source: e.source.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        before: e.before.clone().unwrap_or_default(),
        after: e.after.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    entries: Vec<EntryLine>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
    query: String,
    f_actor: String,
    f_action: String,
    f_target: String,
    f_from: String,
    f_until: String,
}

pub async fn entries(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _r: Require<AuditReader>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let filter = q.filter(PAGE)?;
    let (entries, total) = st.app.store.audit_entries(&filter).await?;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    render(&AuditPage {
        l: Layout::new("操作日志", "/audit", &auth),
        entries: entries.iter().map(line).collect(),
        total,
        page,
        prev: (page > 1).then(|| q.query_string(Some(page - 1))),
        next: (page * PAGE < total).then(|| q.query_string(Some(page + 1))),
        query: q.query_string(None),
        f_actor: q.actor.clone().unwrap_or_default(),
        f_action: q.action.clone().unwrap_or_default(),
        f_target: q.target.clone().unwrap_or_default(),
        f_from: q.from.clone().unwrap_or_default(),
        f_until: q.until.clone().unwrap_or_default(),
    })
}

/// The filtered operation log as a print-ready workbook.
pub async fn export(
    State(st): State<AppState>,
    r: Require<AuditReader>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let filter = AuditFilter {
        offset: 0,
        ..q.filter(EXPORT_MAX)?
    };
    let (entries, total) = st.app.store.audit_entries(&filter).await?;
    let rows: Vec<Vec<Cell>> = entries
        .iter()
        .map(line)
        .map(|e| {
            vec![
                Cell::from(e.id),
                e.when.into(),
                e.actor.into(),
                e.role.into(),
                e.source.into(),
                e.action.into(),
                e.target.into(),
                e.before.into(),
                e.after.into(),
            ]
        })
        .collect();
    let cols = [
        Column {
            header: "序号",
            width: 8.0,
        },
        Column {
            header: "时间",
            width: 17.0,
        },
        Column {
            header: "操作人",
            width: 12.0,
        },
        Column {
            header: "角色",
            width: 14.0,
        },
        Column {
            header: "来源地址",
            width: 14.0,
        },
        Column {
            header: "操作",
            width: 20.0,
        },
        Column {
            header: "对象",
            width: 14.0,
        },
        Column {
            header: "修改前",
            width: 40.0,
        },
        Column {
            header: "修改后",
            width: 40.0,
        },
    ];
    let now = chrono::Utc::now();
    let subtitle = format!(
        "导出时间：{}　导出人：{}　共 {} 条{}",
        fmt_time(now.timestamp()),
        r.principal().user.display_name,
        rows.len(),
        if total > EXPORT_MAX {
            format!("（筛选结果 {total} 条，仅导出最新 {EXPORT_MAX} 条）")
        } else {
            String::new()
        }
    );
    let bytes = workbook(&[Sheet {
        name: "操作日志",
        title: "“5+2”联动平台操作日志",
        subtitle: &subtitle,
        columns: &cols,
        rows: &rows,
    }])
    .map_err(AppError::internal)?;
    st.app
        .store
        .audit_read(
            &r.principal().actor(),
            now.timestamp(),
            "audit.export",
            "audit_log",
            &serde_json::json!({"rows": rows.len(), "filter": q.query_string(None)}),
        )
        .await?;
    let name = format!(
        "attachment; filename=\"audit-{}.xlsx\"",
        now.format("%Y%m%d%H%M")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    pub username: Option<String>,
    pub outcome: Option<String>,
    pub page: Option<i64>,
}

pub struct AttemptLine {
    pub when: String,
    pub username: String,
    pub outcome: &'static str,
    pub failed: bool,
    pub source: String,
    pub user_agent: String,
}

#[derive(Template)]
#[template(path = "logins.html")]
struct LoginsPage {
    l: Layout,
    attempts: Vec<AttemptLine>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
    f_username: String,
    outcomes: Vec<(&'static str, &'static str, bool)>,
}

pub const OUTCOMES: [&str; 5] = [
    "success",
    "bad_password",
    "unknown_user",
    "locked",
    "disabled",
];

pub async fn logins(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _r: Require<AuditReader>,
    Query(q): Query<LoginQuery>,
) -> AppResult<Response> {
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let outcome = nonempty(&q.outcome);
    let username = nonempty(&q.username);
    let (list, total) = st
        .app
        .store
        .login_attempts(&LoginFilter {
            username: username.clone(),
            outcome: outcome.clone(),
            limit: PAGE,
            offset: (page - 1) * PAGE,
        })
        .await?;
    let qs = |p: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(u) = &username {
            s.append_pair("username", u);
        }
        if let Some(o) = &outcome {
            s.append_pair("outcome", o);
        }
        s.append_pair("page", &p.to_string());
        s.finish()
    };
    let mut outcomes = vec![("", "全部", outcome.is_none())];
    outcomes.extend(OUTCOMES.iter().map(|o| {
        (
            *o,
            LoginOutcome::label_of(o),
            outcome.as_deref() == Some(*o),
        )
    }));
    render(&LoginsPage {
        l: Layout::new("登录日志", "/audit/logins", &auth),
        attempts: list
            .iter()
            .map(|a| AttemptLine {
                when: fmt_time(a.at),
                username: a.username.clone(),
                outcome: LoginOutcome::label_of(&a.outcome),
                failed: !matches!(a.outcome.as_str(), "success" | "signed_out"),
                source: a.source.clone(),
                user_agent: a.user_agent.clone(),
            })
            .collect(),
        total,
        page,
        prev: (page > 1).then(|| qs(page - 1)),
        next: (page * PAGE < total).then(|| qs(page + 1)),
        f_username: username.unwrap_or_default(),
        outcomes,
    })
}
