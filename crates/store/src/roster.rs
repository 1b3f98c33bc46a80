//! Storage of the household roster: households, their members (with ID and phone numbers
//! sealed by the service), the monitoring lifecycle, and the application of an imported
//! export in one transaction.

use std::collections::HashMap;

use chrono::NaiveDate;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;

use crate::audit::append;
use crate::{conflict, flag, get, Actor, Result, Store, StoreError};

fn invalid(s: &str) -> StoreError {
    StoreError::Invalid(s.to_owned())
}

fn opt_date(r: &AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    let s: Option<String> = get(r, col)?;
    s.map(|s| s.parse().map_err(|_| invalid(&s))).transpose()
}

/// What a household is, as an export states it (the desired state of an import).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdRecord {
    pub household_no: String,
    pub township_id: i64,
    pub village: String,
    pub village_group: String,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
    pub identified_on: Option<NaiveDate>,
    pub assisted_on: Option<NaiveDate>,
    pub cleared_on: Option<NaiveDate>,
    pub risk_types: Vec<RiskType>,
    pub measures: String,
    pub cadre: String,
}

/// A member as an export states it, its numbers already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub household_no: String,
    pub name: String,
    pub id_lookup: String,
    pub id_sealed: String,
    pub id_masked: String,
    pub relation: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub phone_lookup: Option<String>,
    pub phone_sealed: Option<String>,
    pub phone_masked: Option<String>,
    pub health: String,
    pub disability: String,
    pub labour: String,
    pub schooling: String,
}

impl PersonRecord {
    /// Whether two records say the same (sealed values differ each time; lookups do not).
    pub fn same_as(&self, other: &PersonRecord) -> bool {
        self.household_no == other.household_no
            && self.name == other.name
            && self.id_lookup == other.id_lookup
            && self.relation == other.relation
            && self.phone_lookup == other.phone_lookup
            && self.health == other.health
            && self.disability == other.disability
            && self.labour == other.labour
            && self.schooling == other.schooling
    }
}

/// The roster as stored, for comparing an export with it: (id, active, record).
#[derive(Debug, Clone, Default)]
pub struct RosterSnapshot {
    pub households: Vec<(i64, bool, HouseholdRecord)>,
    pub persons: Vec<(i64, bool, PersonRecord)>,
}

/// What an import changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterChanges {
    pub households_added: Vec<HouseholdRecord>,
    /// Changed, or listed again after being gone.
    pub households_changed: Vec<(i64, HouseholdRecord)>,
    pub households_gone: Vec<i64>,
    pub persons_added: Vec<PersonRecord>,
    pub persons_changed: Vec<(i64, PersonRecord)>,
    pub persons_gone: Vec<i64>,
}

impl RosterChanges {
    pub fn is_empty(&self) -> bool {
        self.households_added.is_empty()
            && self.households_changed.is_empty()
            && self.households_gone.is_empty()
            && self.persons_added.is_empty()
            && self.persons_changed.is_empty()
            && self.persons_gone.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Household {
    pub id: i64,
    pub township: String,
    pub active: bool,
    pub members: i64,
    pub updated_at: i64,
    #[serde(flatten)]
    pub record: HouseholdRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: i64,
    pub household_id: i64,
    pub name: String,
    /// Masked (4113**********1234): the full number is only ever opened by the service.
    pub id_masked: String,
    #[serde(skip)]
    pub id_sealed: String,
    pub relation: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub phone_masked: Option<String>,
    #[serde(skip)]
    pub phone_sealed: Option<String>,
    pub health: String,
    pub disability: String,
    pub labour: String,
    pub schooling: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageChange {
    pub stage: MonitoringStage,
    pub on_date: NaiveDate,
    pub note: String,
    pub changed_by: String,
    pub changed_at: i64,
}

fn risks(s: &str) -> Vec<RiskType> {
    s.split(',').filter_map(RiskType::from_code).collect()
}

fn risk_codes(r: &[RiskType]) -> String {
    r.iter().map(|x| x.code()).collect::<Vec<_>>().join(",")
}

fn household_record(r: &AnyRow) -> Result<HouseholdRecord> {
    let kind: String = get(r, "kind")?;
    let stage: String = get(r, "stage")?;
    Ok(HouseholdRecord {
        household_no: get(r, "household_no")?,
        township_id: get(r, "township_id")?,
        village: get(r, "village")?,
        village_group: get(r, "village_group")?,
        kind: HouseholdKind::from_code(&kind).ok_or_else(|| invalid(&kind))?,
        stage: MonitoringStage::from_code(&stage).ok_or_else(|| invalid(&stage))?,
        identified_on: opt_date(r, "identified_on")?,
        assisted_on: opt_date(r, "assisted_on")?,
        cleared_on: opt_date(r, "cleared_on")?,
        risk_types: risks(&get::<String>(r, "risk_types")?),
        measures: get(r, "measures")?,
        cadre: get(r, "cadre")?,
    })
}

fn person_record(r: &AnyRow) -> Result<PersonRecord> {
    let birth: String = get(r, "birth_date")?;
    Ok(PersonRecord {
        household_no: get(r, "household_no")?,
        name: get(r, "name")?,
        id_lookup: get(r, "id_lookup")?,
        id_sealed: get(r, "id_sealed")?,
        id_masked: get(r, "id_masked")?,
        relation: get(r, "relation")?,
        sex: get(r, "sex")?,
        birth_date: birth.parse().map_err(|_| invalid(&birth))?,
        phone_lookup: get(r, "phone_lookup")?,
        phone_sealed: get(r, "phone_sealed")?,
        phone_masked: get(r, "phone_masked")?,
        health: get(r, "health")?,
        disability: get(r, "disability")?,
        labour: get(r, "labour")?,
        schooling: get(r, "schooling")?,
    })
}

fn person_row(r: &AnyRow) -> Result<Person> {
    let birth: String = get(r, "birth_date")?;
    Ok(Person {
        id: get(r, "id")?,
        household_id: get(r, "household_id")?,
        name: get(r, "name")?,
        id_masked: get(r, "id_masked")?,
        id_sealed: get(r, "id_sealed")?,
        relation: get(r, "relation")?,
        sex: get(r, "sex")?,
        birth_date: birth.parse().map_err(|_| invalid(&birth))?,
        phone_masked: get(r, "phone_masked")?,
        phone_sealed: get(r, "phone_sealed")?,
        health: get(r, "health")?,
        disability: get(r, "disability")?,
        labour: get(r, "labour")?,
        schooling: get(r, "schooling")?,
        active: flag(r, "active")?,
    })
}

fn household_row(r: &AnyRow) -> Result<Household> {
    Ok(Household {
        id: get(r, "id")?,
        township: get(r, "township")?,
        active: flag(r, "active")?,
        members: get(r, "members")?,
        updated_at: get(r, "updated_at")?,
        record: household_record(r)?,
    })
}

const HOUSEHOLD_SELECT: &str = "SELECT h.*, t.name AS township,
        (SELECT COUNT(*) FROM person p WHERE p.household_id = h.id AND p.active = 1) AS members
     FROM household h JOIN unit t ON t.id = h.township_id";

/// Which households to list.
#[derive(Debug, Clone, Default)]
pub struct HouseholdFilter {
    /// Townships the reader may see; `None` for all.
    pub townships: Option<Vec<i64>>,
    pub township_id: Option<i64>,
    pub kind: Option<HouseholdKind>,
    pub stage: Option<MonitoringStage>,
    /// A household number or village, in part.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const HOUSEHOLD_COLUMNS: &str = "household_no, township_id, village, village_group, kind, stage, identified_on, assisted_on, cleared_on, risk_types, measures, cadre, active, updated_at";
const PERSON_COLUMNS: &str = "household_id, name, id_lookup, id_sealed, id_masked, relation, sex, birth_date, phone_lookup, phone_sealed, phone_masked, health, disability, labour, schooling, active";

/// The VALUES lists of a multi-row insert. SQLite gets anonymous `?` parameters: looking up
/// a numbered parameter's name is linear in the statement's parameter count, which makes a
/// 2,000-parameter insert quadratic. (PostgreSQL's numbered `$n` belong here with its backend.)
fn values_lists(backend: crate::Backend, rows: usize, cols: usize) -> String {
    let mark = match backend {
        crate::Backend::Sqlite => "?",
    };
    let row = format!("({})", vec![mark; cols].join(", "));
    vec![row; rows].join(", ")
}

impl Store {
    /// The roster as stored, active or not, for comparing an export with it.
    pub async fn roster_snapshot(&self) -> Result<RosterSnapshot> {
        let rows = sqlx::query("SELECT * FROM household ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        let households = rows
            .iter()
            .map(|r| Ok((get(r, "id")?, flag(r, "active")?, household_record(r)?)))
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT p.*, h.household_no FROM person p JOIN household h ON h.id = p.household_id ORDER BY p.id",
        )
        .fetch_all(&self.read)
        .await?;
        let persons = rows
            .iter()
            .map(|r| Ok((get(r, "id")?, flag(r, "active")?, person_record(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(RosterSnapshot {
            households,
            persons,
        })
    }

    /// Applies an import's changes in one transaction, recording the file so that the same
    /// file cannot be applied twice.
    pub async fn apply_roster(
        &self,
        actor: &Actor,
        at: i64,
        file_hash: &str,
        c: &RosterChanges,
    ) -> Result<()> {
        // A county's roster is a few hundred MB of pages: with the writer's usual cache the
        // person index is evicted and written to the WAL again and again. The cache is given
        // back afterwards, whether the import went through or not.
        sqlx::query("PRAGMA cache_size = -1048576")
            .execute(&self.write)
            .await?;
        let applied = self.write_roster(actor, at, file_hash, c).await;
        // A failure here must not report a committed import as failed: the cache size only
        // matters for memory, and the next connection starts with the usual one.
        if let Err(e) = sqlx::query(crate::SQLITE_WRITER_PRAGMAS)
            .execute(&self.write)
            .await
        {
            tracing::warn!(error = %e, "could not give back the roster import's page cache");
        }
        applied
    }

    async fn write_roster(
        &self,
        actor: &Actor,
        at: i64,
        file_hash: &str,
        c: &RosterChanges,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO import_batch (kind, file_hash, rows, imported_by, imported_at) VALUES ('roster', $1, $2, $3, $4)")
            .bind(file_hash)
            .bind((c.persons_added.len() + c.persons_changed.len()) as i64)
            .bind(&actor.username)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, "该文件已导入过"))?;
        for chunk in c.households_added.chunks(200) {
            let sql = format!(
                "INSERT INTO household ({HOUSEHOLD_COLUMNS}) VALUES {}",
                values_lists(self.backend, chunk.len(), 14)
            );
            let mut q = sqlx::query(&sql);
            for h in chunk {
                q = q
                    .bind(h.household_no.as_str())
                    .bind(h.township_id)
                    .bind(h.village.as_str())
                    .bind(h.village_group.as_str())
                    .bind(h.kind.code())
                    .bind(h.stage.code())
                    .bind(h.identified_on.map(|d| d.to_string()))
                    .bind(h.assisted_on.map(|d| d.to_string()))
                    .bind(h.cleared_on.map(|d| d.to_string()))
                    .bind(risk_codes(&h.risk_types))
                    .bind(h.measures.as_str())
                    .bind(h.cadre.as_str())
                    .bind(1_i64)
                    .bind(at);
            }
            q.execute(&mut *tx).await?;
        }
        for (id, h) in &c.households_changed {
            sqlx::query(
                "UPDATE household SET township_id = $1, village = $2, village_group = $3, kind = $4, stage = $5,
                   identified_on = $6, assisted_on = $7, cleared_on = $8, risk_types = $9, measures = $10, cadre = $11,
                   active = 1, updated_at = $12 WHERE id = $13",
            )
            .bind(h.township_id)
            .bind(h.village.as_str())
            .bind(h.village_group.as_str())
            .bind(h.kind.code())
            .bind(h.stage.code())
            .bind(h.identified_on.map(|d| d.to_string()))
            .bind(h.assisted_on.map(|d| d.to_string()))
            .bind(h.cleared_on.map(|d| d.to_string()))
            .bind(risk_codes(&h.risk_types))
            .bind(h.measures.as_str())
            .bind(h.cadre.as_str())
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in c.households_gone.chunks(500) {
            let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
            sqlx::query(&format!(
                "UPDATE household SET active = 0, updated_at = $1 WHERE id IN ({})",
                ids.join(", ")
            ))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        // Household ids by number, for the members.
        let rows = sqlx::query("SELECT id, household_no FROM household")
            .fetch_all(&mut *tx)
            .await?;
        let mut ids = HashMap::with_capacity(rows.len());
        for r in &rows {
            ids.insert(get::<String>(r, "household_no")?, get::<i64>(r, "id")?);
        }
        let household_of = |no: &str| {
            ids.get(no)
                .copied()
                .ok_or_else(|| invalid(&format!("household {no}")))
        };
        // In the export's order, so that members keep it (household head first).
        for chunk in c.persons_added.chunks(120) {
            let sql = format!(
                "INSERT INTO person ({PERSON_COLUMNS}) VALUES {}",
                values_lists(self.backend, chunk.len(), 16)
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(household_of(&p.household_no)?)
                    .bind(p.name.as_str())
                    .bind(p.id_lookup.as_str())
                    .bind(p.id_sealed.as_str())
                    .bind(p.id_masked.as_str())
                    .bind(p.relation.as_str())
                    .bind(p.sex.as_str())
                    .bind(p.birth_date.to_string())
                    .bind(p.phone_lookup.as_deref())
                    .bind(p.phone_sealed.as_deref())
                    .bind(p.phone_masked.as_deref())
                    .bind(p.health.as_str())
                    .bind(p.disability.as_str())
                    .bind(p.labour.as_str())
                    .bind(p.schooling.as_str())
                    .bind(1_i64);
            }
            q.execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, "同一身份证号在文件中出现多次"))?;
        }
        for (id, p) in &c.persons_changed {
            sqlx::query(
                "UPDATE person SET household_id = $1, name = $2, id_sealed = $3, id_masked = $4, relation = $5, sex = $6,
                   birth_date = $7, phone_lookup = $8, phone_sealed = $9, phone_masked = $10, health = $11, disability = $12,
                   labour = $13, schooling = $14, active = 1 WHERE id = $15",
            )
            .bind(household_of(&p.household_no)?)
            .bind(p.name.as_str())
            .bind(p.id_sealed.as_str())
            .bind(p.id_masked.as_str())
            .bind(p.relation.as_str())
            .bind(p.sex.as_str())
            .bind(p.birth_date.to_string())
            .bind(p.phone_lookup.as_deref())
            .bind(p.phone_sealed.as_deref())
            .bind(p.phone_masked.as_deref())
            .bind(p.health.as_str())
            .bind(p.disability.as_str())
            .bind(p.labour.as_str())
            .bind(p.schooling.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in c.persons_gone.chunks(500) {
            let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
            sqlx::query(&format!(
                "UPDATE person SET active = 0 WHERE id IN ({})",
                ids.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "roster.import",
            "roster",
            None,
            Some(&json!({
                "file_hash": file_hash,
                "households_added": c.households_added.len(),
                "households_changed": c.households_changed.len(),
                "households_gone": c.households_gone.len(),
                "persons_added": c.persons_added.len(),
                "persons_changed": c.persons_changed.len(),
                "persons_gone": c.persons_gone.len(),
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Households by filter, with the total count.
    pub async fn households(&self, f: &HouseholdFilter) -> Result<(Vec<Household>, i64)> {
        let scope = match &f.townships {
            None => "1 = 1".to_owned(),
            Some(ids) if ids.is_empty() => "1 = 0".to_owned(),
            Some(ids) => format!(
                "h.township_id IN ({})",
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let cond = format!(
            "{scope} AND h.active = 1 AND (CAST($1 AS BIGINT) IS NULL OR h.township_id = $1)
               AND (CAST($2 AS TEXT) IS NULL OR h.kind = $2) AND (CAST($3 AS TEXT) IS NULL OR h.stage = $3)
               AND (CAST($4 AS TEXT) IS NULL OR h.household_no LIKE $4 OR h.village LIKE $4)"
        );
        let like = f
            .text
            .as_ref()
            .map(|t| format!("%{}%", t.replace(['%', '_'], "")));
        let total: i64 = get(
            &sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM household h WHERE {cond}"
            ))
            .bind(f.township_id)
            .bind(f.kind.map(HouseholdKind::code))
            .bind(f.stage.map(MonitoringStage::code))
            .bind(like.as_deref())
            .fetch_one(&self.read)
            .await?,
            "n",
        )?;
        let rows = sqlx::query(&format!(
            "{HOUSEHOLD_SELECT} WHERE {cond} ORDER BY t.sort_order, h.village, h.household_no LIMIT $5 OFFSET $6"
        ))
        .bind(f.township_id)
        .bind(f.kind.map(HouseholdKind::code))
        .bind(f.stage.map(MonitoringStage::code))
        .bind(like.as_deref())
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.read)
        .await?;
        Ok((
            rows.iter().map(household_row).collect::<Result<_>>()?,
            total,
        ))
    }

    pub async fn household(&self, id: i64) -> Result<Household> {
        let r = sqlx::query(&format!("{HOUSEHOLD_SELECT} WHERE h.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该农户"))?;
        household_row(&r)
    }

    /// The id of the household with this number, if any.
    pub async fn household_id_by_no(&self, no: &str) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT id FROM household WHERE household_no = $1")
            .bind(no.trim())
            .fetch_optional(&self.read)
            .await?;
        r.map(|r| get(&r, "id")).transpose()
    }

    pub async fn members(&self, household_id: i64) -> Result<Vec<Person>> {
        let rows =
            sqlx::query("SELECT * FROM person WHERE household_id = $1 AND active = 1 ORDER BY id")
                .bind(household_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(person_row).collect()
    }

    pub async fn person(&self, id: i64) -> Result<Person> {
        let r = sqlx::query("SELECT * FROM person WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该人员"))?;
        person_row(&r)
    }

    /// The person with this keyed hash of an ID number, if any.
    pub async fn person_by_lookup(&self, lookup: &str) -> Result<Option<Person>> {
        let r = sqlx::query("SELECT * FROM person WHERE id_lookup = $1")
            .bind(lookup)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(person_row).transpose()
    }

    /// Records that someone saw a full ID or phone number, and why.
    pub async fn log_unmask(
        &self,
        actor: &Actor,
        at: i64,
        person_id: i64,
        what: &str,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        append(
            &mut tx,
            actor,
            at,
            "person.unmask",
            &format!("person:{person_id}"),
            None,
            Some(&json!({"field": what, "reason": reason})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a household to the next stage of monitoring on `on_date`.
    pub async fn set_stage(
        &self,
        actor: &Actor,
        at: i64,
        household_id: i64,
        stage: MonitoringStage,
        on_date: NaiveDate,
        note: &str,
    ) -> Result<Household> {
        let before = self.household(household_id).await?;
        if !before.record.stage.can_move_to(stage) {
            return Err(StoreError::Conflict(format!(
                "农户当前为“{}”，不能直接转为“{}”",
                before.record.stage.label(),
                stage.label()
            )));
        }
        let column = match stage {
            MonitoringStage::Identified => "identified_on",
            MonitoringStage::Assisted => "assisted_on",
            MonitoringStage::Cleared => "cleared_on",
            MonitoringStage::None => return Err(StoreError::Conflict("不能退出监测状态".into())),
        };
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(&format!(
            "UPDATE household SET stage = $1, {column} = $2, updated_at = $3 WHERE id = $4 AND stage = $5"
        ))
        .bind(stage.code())
        .bind(on_date.to_string())
        .bind(at)
        .bind(household_id)
        .bind(before.record.stage.code())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "农户状态已被他人修改，请刷新后重试".into(),
            ));
        }
        sqlx::query("INSERT INTO household_stage (household_id, stage, on_date, note, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(household_id)
            .bind(stage.code())
            .bind(on_date.to_string())
            .bind(note)
            .bind(&actor.username)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            actor,
            at,
            "household.stage",
            &format!("household:{household_id}"),
            Some(&json!({"stage": before.record.stage})),
            Some(&json!({"stage": stage, "on": on_date, "note": note})),
        )
        .await?;
        tx.commit().await?;
        self.household(household_id).await
    }

    pub async fn stage_history(&self, household_id: i64) -> Result<Vec<StageChange>> {
        let rows = sqlx::query("SELECT * FROM household_stage WHERE household_id = $1 ORDER BY id")
            .bind(household_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let stage: String = get(r, "stage")?;
                let on: String = get(r, "on_date")?;
                Ok(StageChange {
                    stage: MonitoringStage::from_code(&stage).ok_or_else(|| invalid(&stage))?,
                    on_date: on.parse().map_err(|_| invalid(&on))?,
                    note: get(r, "note")?,
                    changed_by: get(r, "changed_by")?,
                    changed_at: get(r, "changed_at")?,
                })
            })
            .collect()
    }
}
