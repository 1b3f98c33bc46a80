//! The department registry and townships pages.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use liandong_domain::{Category, Role};
use liandong_store::{PersonKind, ResponsiblePerson, Township};

use super::home::Msg;
use super::{flash, render, FormData, Layout};
use crate::auth::{Admin, AnyUser, PageAuth, Require, Writer};
use crate::error::{AppError, AppResult};
use crate::AppState;

pub struct DepartmentLine {
    pub id: i64,
    pub name: String,
    pub duties: usize,
    pub principal: String,
}

pub struct Group {
    pub code: &'static str,
    pub label: &'static str,
    pub items: Vec<DepartmentLine>,
}

#[derive(Template)]
#[template(path = "departments.html")]
struct DepartmentsPage {
    l: Layout,
    total: usize,
    groups: Vec<Group>,
}

pub async fn departments(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    _u: Require<AnyUser>,
) -> AppResult<Response> {
    let deps = st.app.store.departments().await?;
    let groups = Category::ALL
        .into_iter()
        .map(|c| Group {
            code: c.code(),
            label: c.label(),
            items: deps
                .iter()
                .filter(|d| d.category == c)
                .map(|d| DepartmentLine {
                    id: d.id,
                    name: d.name.clone(),
                    duties: d.duties.len(),
                    principal: d
                        .people
                        .iter()
                        .find(|p| p.kind == PersonKind::Principal)
                        .map(|p| format!("{}（{}）", p.name, p.post))
                        .unwrap_or_else(|| "未填写".into()),
                })
                .collect(),
        })
        .collect();
    render(&DepartmentsPage {
        l: Layout::new("成员单位", "/departments", &auth),
        total: deps.len(),
        groups,
    })
}

#[derive(Template)]
#[template(path = "department.html")]
struct DepartmentPage {
    l: Layout,
    flash: Option<&'static str>,
    d: liandong_store::Department,
    category_code: &'static str,
    category_label: &'static str,
    /// (label, name, post, form-field prefix)
    people: Vec<(&'static str, String, String, &'static str)>,
    can_edit_people: bool,
    can_edit_duties: bool,
    duties_text: String,
    /// The last finished quarter, for the link to the score breakdown (not for townships).
    score_period: Option<String>,
}

/// Whether a user may edit a department's responsible persons: administrators, and a
/// department's own users.
fn may_edit_people(role: Role, own_units: &[i64], department: i64) -> bool {
    role.administers() || (role == Role::Department && own_units.contains(&department))
}

pub async fn department(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Path(id): Path<i64>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let d = st.app.store.department(id).await?;
    let p = u.principal();
    let people = PersonKind::ALL
        .into_iter()
        .map(|k| {
            let found = d.people.iter().find(|x| x.kind == k);
            (
                k.label(),
                found.map(|x| x.name.clone()).unwrap_or_default(),
                found.map(|x| x.post.clone()).unwrap_or_default(),
                k.code(),
            )
        })
        .collect();
    render(&DepartmentPage {
        l: Layout::new(&d.name, "/departments", &auth),
        flash: flash(q.msg.as_deref()),
        category_code: d.category.code(),
        category_label: d.category.label(),
        people,
        can_edit_people: may_edit_people(p.user.role, &p.user.unit_ids(), d.id),
        can_edit_duties: p.user.role.administers(),
        score_period: (p.user.role != Role::Township).then(|| {
            liandong_domain::Month::of(liandong_domain::deadline::county_date(chrono::Utc::now()))
                .quarter()
                .prev()
                .to_string()
        }),
        duties_text: d
            .duties
            .iter()
            .map(|x| x.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        d,
    })
}

/// Parses the three responsible persons of the people form; a blank name removes the entry.
pub fn people_from_form(form: &FormData) -> Result<Vec<ResponsiblePerson>, AppError> {
    let mut out = Vec::new();
    for kind in PersonKind::ALL {
        let name = form.text(&format!("{}_name", kind.code()));
        let post = form.text(&format!("{}_post", kind.code()));
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > 30 || post.chars().count() > 30 {
            return Err(AppError::invalid(
                kind.code(),
                format!("{}的姓名和职务各不超过 30 个字", kind.label()),
            ));
        }
        out.push(ResponsiblePerson { kind, name, post });
    }
    Ok(out)
}

pub async fn save_people(
    State(st): State<AppState>,
    u: Require<Writer>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let p = u.principal();
    let people = people_from_form(&form)?;
    // Administrators may edit every department; others only their own (checked by the store).
    let scope = p.write_scope();
    st.app
        .store
        .set_responsible_persons(
            &p.actor(),
            &scope,
            chrono::Utc::now().timestamp(),
            id,
            &people,
        )
        .await?;
    Ok(Redirect::to(&format!("/departments/{id}?msg=saved")).into_response())
}

pub fn duties_from_text(text: &str) -> Result<Vec<String>, AppError> {
    let duties: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if duties.is_empty() {
        return Err(AppError::invalid("duties", "职责清单至少需要一条"));
    }
    if let Some((i, _)) = duties
        .iter()
        .enumerate()
        .find(|(_, d)| d.chars().count() > 1000)
    {
        return Err(AppError::invalid(
            "duties",
            format!("第 {} 条职责超过 1000 字", i + 1),
        ));
    }
    Ok(duties)
}

pub async fn save_duties(
    State(st): State<AppState>,
    u: Require<Admin>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let duties = duties_from_text(form.get("duties").unwrap_or(""))?;
    st.app
        .store
        .set_duties(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            &duties,
        )
        .await?;
    Ok(Redirect::to(&format!("/departments/{id}?msg=saved")).into_response())
}

#[derive(Template)]
#[template(path = "townships.html")]
struct TownshipsPage {
    l: Layout,
    flash: Option<&'static str>,
    townships: Vec<Township>,
    active: usize,
    can_edit: bool,
}

pub async fn townships(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    u: Require<AnyUser>,
    Query(q): Query<Msg>,
) -> AppResult<Response> {
    let townships = st.app.store.townships().await?;
    render(&TownshipsPage {
        l: Layout::new("乡镇", "/townships", &auth),
        flash: flash(q.msg.as_deref()),
        active: townships.iter().filter(|t| t.active).count(),
        townships,
        can_edit: u.principal().user.role.administers(),
    })
}

pub fn check_township(code: &str, name: &str) -> Result<(), AppError> {
    if code.is_empty()
        || code.len() > 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(AppError::invalid(
            "code",
            "乡镇代码须为 1-32 位小写字母、数字或 -",
        ));
    }
    check_township_name(name)
}

pub fn check_township_name(name: &str) -> Result<(), AppError> {
    if name.is_empty() || name.chars().count() > 30 {
        return Err(AppError::invalid("name", "乡镇名称须为 1-30 个字"));
    }
    Ok(())
}

pub async fn create_township(
    State(st): State<AppState>,
    u: Require<Admin>,
    form: FormData,
) -> AppResult<Response> {
    let (code, name) = (form.text("code"), form.text("name"));
    check_township(&code, &name)?;
    st.app
        .store
        .create_township(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            &code,
            &name,
        )
        .await?;
    Ok(Redirect::to("/townships?msg=created").into_response())
}

pub async fn update_township(
    State(st): State<AppState>,
    u: Require<Admin>,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let name = form.text("name");
    check_township_name(&name)?;
    st.app
        .store
        .update_township(
            &u.principal().actor(),
            chrono::Utc::now().timestamp(),
            id,
            &name,
            form.get("active") != Some("0"),
        )
        .await?;
    Ok(Redirect::to("/townships?msg=saved").into_response())
}
