//! The department registry (26 member departments, duties, responsible persons) and the
//! county's townships.

use liandong_domain::registry::DEPARTMENTS;
use liandong_domain::{Category, UnitKind};
use serde::Serialize;
use serde_json::json;

use crate::audit::append;
use crate::{conflict, flag, get, Actor, Result, Scope, Store, StoreError};

/// A unit as users are bound to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    pub id: i64,
    pub kind: UnitKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duty {
    pub no: i64,
    pub text: String,
}

/// The three levels of responsibility the work plan names for every department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    /// 第一责任人: the department's principal.
    Principal,
    /// 具体责任人: the leader in charge.
    InCharge,
    /// 直接责任人: the section head.
    Direct,
}

impl PersonKind {
    pub const ALL: [PersonKind; 3] = [
        PersonKind::Principal,
        PersonKind::InCharge,
        PersonKind::Direct,
    ];
    pub fn code(self) -> &'static str {
        match self {
            PersonKind::Principal => "principal",
            PersonKind::InCharge => "in_charge",
            PersonKind::Direct => "direct",
        }
    }
    pub fn from_code(s: &str) -> Option<PersonKind> {
        PersonKind::ALL.into_iter().find(|k| k.code() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            PersonKind::Principal => "第一责任人",
            PersonKind::InCharge => "具体责任人",
            PersonKind::Direct => "直接责任人",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponsiblePerson {
    pub kind: PersonKind,
    pub name: String,
    /// 职务
    pub post: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub category: Category,
    pub duties: Vec<Duty>,
    pub people: Vec<ResponsiblePerson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Township {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub active: bool,
}

/// The county's townships (乡镇) as first loaded; afterwards they are data the office edits.
pub const DEFAULT_TOWNSHIPS: [(&str, &str); 16] = [
    ("chengguan", "城关镇"),
    ("liushan", "留山镇"),
    ("yunyang", "云阳镇"),
    ("huangludian", "皇路店镇"),
    ("nanhedian", "南河店镇"),
    ("banshanping", "板山坪镇"),
    ("qiaoduan", "乔端镇"),
    ("baitugang", "白土岗镇"),
    ("liqingdian", "李青店镇"),
    ("xiaodian", "小店乡"),
    ("cuizhuang", "崔庄乡"),
    ("sikeshu", "四棵树乡"),
    ("shimen", "石门乡"),
    ("taishanmiao", "太山庙乡"),
    ("mashiping", "马市坪乡"),
    ("chengjiao", "城郊乡"),
];

/// A unit from a row with `id`, `kind` and `name`.
pub(crate) fn unit_row(r: &sqlx::any::AnyRow) -> Result<Unit> {
    let kind: String = get(r, "kind")?;
    Ok(Unit {
        id: get(r, "id")?,
        kind: UnitKind::from_code(&kind).ok_or_else(|| StoreError::Invalid(kind.clone()))?,
        name: get(r, "name")?,
    })
}

fn category(s: &str) -> Result<Category> {
    Category::from_code(s).ok_or_else(|| StoreError::Invalid(format!("category {s}")))
}

impl Store {
    /// Loads the 26 departments and the default townships into an empty registry.
    pub async fn seed_registry(&self, at: i64) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let n: i64 = get(
            &sqlx::query("SELECT COUNT(*) AS n FROM unit")
                .fetch_one(&mut *tx)
                .await?,
            "n",
        )?;
        if n > 0 {
            return Ok(false);
        }
        for (i, d) in DEPARTMENTS.iter().enumerate() {
            let id = i as i64 + 1;
            sqlx::query(
                "INSERT INTO unit (id, kind, code, name, category, sort_order, active) VALUES ($1, 'department', $2, $3, $4, $5, 1)",
            )
            .bind(id)
            .bind(d.code)
            .bind(d.name)
            .bind(d.category.code())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            for (no, text) in d.duties.iter().enumerate() {
                sqlx::query("INSERT INTO duty (unit_id, no, text) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(no as i64 + 1)
                    .bind(*text)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for (i, (code, name)) in DEFAULT_TOWNSHIPS.iter().enumerate() {
            sqlx::query(
                "INSERT INTO unit (id, kind, code, name, category, sort_order, active) VALUES ($1, 'township', $2, $3, NULL, $4, 1)",
            )
            .bind(101 + i as i64)
            .bind(*code)
            .bind(*name)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &Actor::system("startup"),
            at,
            "registry.seed",
            "unit:*",
            None,
            Some(&json!({"departments": DEPARTMENTS.len(), "townships": DEFAULT_TOWNSHIPS.len()})),
        )
        .await?;
        tx.commit().await?;
        self.registry_changed();
        Ok(true)
    }

    /// All departments in the work plan's order, with duties and responsible persons.
    pub async fn departments(&self) -> Result<Vec<Department>> {
        if let Some(d) = self.registry.read().ok().and_then(|r| r.clone()) {
            return Ok(d);
        }
        let d = self.load_departments().await?;
        if let Ok(mut r) = self.registry.write() {
            *r = Some(d.clone());
        }
        Ok(d)
    }

    async fn load_departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query(
            "SELECT id, code, name, category FROM unit WHERE kind = 'department' ORDER BY sort_order, id",
        )
        .fetch_all(&self.read)
        .await?;
        let duties = sqlx::query("SELECT unit_id, no, text FROM duty ORDER BY unit_id, no")
            .fetch_all(&self.read)
            .await?;
        let people = sqlx::query("SELECT unit_id, kind, name, post FROM responsible_person")
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = get(r, "id")?;
            let mut d = Department {
                id,
                code: get(r, "code")?,
                name: get(r, "name")?,
                category: category(&get::<String>(r, "category")?)?,
                duties: Vec::new(),
                people: Vec::new(),
            };
            for du in duties
                .iter()
                .filter(|du| get::<i64>(du, "unit_id").ok() == Some(id))
            {
                d.duties.push(Duty {
                    no: get(du, "no")?,
                    text: get(du, "text")?,
                });
            }
            for kind in PersonKind::ALL {
                for p in people.iter().filter(|p| {
                    get::<i64>(p, "unit_id").ok() == Some(id)
                        && get::<String>(p, "kind").ok().as_deref() == Some(kind.code())
                }) {
                    d.people.push(ResponsiblePerson {
                        kind,
                        name: get(p, "name")?,
                        post: get(p, "post")?,
                    });
                }
            }
            out.push(d);
        }
        Ok(out)
    }

    pub async fn department(&self, id: i64) -> Result<Department> {
        self.departments()
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(StoreError::NotFound("该部门"))
    }

    /// Replaces a department's responsible persons. Department users may do this for their
    /// own department only: the write is checked against `scope`.
    pub async fn set_responsible_persons(
        &self,
        actor: &Actor,
        scope: &Scope,
        at: i64,
        department_id: i64,
        people: &[ResponsiblePerson],
    ) -> Result<Department> {
        let before = self.department(department_id).await?;
        if !scope.allows(department_id) {
            return Err(StoreError::OutOfScope);
        }
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM responsible_person WHERE unit_id = $1")
            .bind(department_id)
            .execute(&mut *tx)
            .await?;
        for p in people {
            sqlx::query("INSERT INTO responsible_person (unit_id, kind, name, post) VALUES ($1, $2, $3, $4)")
                .bind(department_id)
                .bind(p.kind.code())
                .bind(&p.name)
                .bind(&p.post)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, "每类责任人只能填写一人"))?;
        }
        append(
            &mut tx,
            actor,
            at,
            "department.people",
            &format!("unit:{department_id}"),
            Some(&json!(before.people)),
            Some(&json!(people)),
        )
        .await?;
        tx.commit().await?;
        self.registry_changed();
        self.department(department_id).await
    }

    /// Replaces a department's duty list (office administrators, when the county revises it).
    pub async fn set_duties(
        &self,
        actor: &Actor,
        at: i64,
        department_id: i64,
        duties: &[String],
    ) -> Result<Department> {
        let before = self.department(department_id).await?;
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM duty WHERE unit_id = $1")
            .bind(department_id)
            .execute(&mut *tx)
            .await?;
        for (i, text) in duties.iter().enumerate() {
            sqlx::query("INSERT INTO duty (unit_id, no, text) VALUES ($1, $2, $3)")
                .bind(department_id)
                .bind(i as i64 + 1)
                .bind(text)
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "department.duties",
            &format!("unit:{department_id}"),
            Some(&json!(before.duties)),
            Some(&json!(duties)),
        )
        .await?;
        tx.commit().await?;
        self.registry_changed();
        self.department(department_id).await
    }

    /// The townships in use, as (id, name): the choices of a form, the places a demo fills.
    pub async fn active_townships(&self) -> Result<Vec<(i64, String)>> {
        Ok(self
            .townships()
            .await?
            .into_iter()
            .filter(|t| t.active)
            .map(|t| (t.id, t.name))
            .collect())
    }

    pub async fn townships(&self) -> Result<Vec<Township>> {
        let rows = sqlx::query(
            "SELECT id, code, name, active FROM unit WHERE kind = 'township' ORDER BY active DESC, sort_order, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Township {
                    id: get(r, "id")?,
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    active: flag(r, "active")?,
                })
            })
            .collect()
    }

    pub async fn township(&self, id: i64) -> Result<Township> {
        self.townships()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(StoreError::NotFound("该乡镇"))
    }

    pub async fn create_township(
        &self,
        actor: &Actor,
        at: i64,
        code: &str,
        name: &str,
    ) -> Result<Township> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "INSERT INTO unit (kind, code, name, category, sort_order, active)
             VALUES ('township', $1, $2, NULL, (SELECT COALESCE(MAX(sort_order), 0) + 1 FROM unit WHERE kind = 'township'), 1)
             RETURNING id",
        )
        .bind(code)
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, format!("乡镇代码“{code}”或名称“{name}”已存在")))?;
        let id: i64 = get(&row, "id")?;
        let after = Township {
            id,
            code: code.into(),
            name: name.into(),
            active: true,
        };
        append(
            &mut tx,
            actor,
            at,
            "township.create",
            &format!("unit:{id}"),
            None,
            Some(&json!(after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn update_township(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        name: &str,
        active: bool,
    ) -> Result<Township> {
        let before = self.township(id).await?;
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE unit SET name = $1, active = $2 WHERE id = $3 AND kind = 'township'")
            .bind(name)
            .bind(i64::from(active))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, format!("乡镇名称“{name}”已存在")))?;
        let after = Township {
            name: name.into(),
            active,
            ..before.clone()
        };
        append(
            &mut tx,
            actor,
            at,
            "township.update",
            &format!("unit:{id}"),
            Some(&json!(before)),
            Some(&json!(after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Every unit (departments then townships), for binding users.
    pub async fn units(&self) -> Result<Vec<Unit>> {
        let rows = sqlx::query(
            "SELECT id, kind, name FROM unit WHERE active = 1 ORDER BY kind, sort_order, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(unit_row).collect()
    }
}
