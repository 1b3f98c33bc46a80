//! Storage of early warnings: the warning, one receipt per receiving unit, the township's
//! verification and the office's closing (which may propose the `warning.verified` event),
//! and the routing table from risk types to departments.

use chrono::NaiveDate;
use liandong_domain::roster::{RiskType, WarningStatus};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::scoring::{insert_proposal, lock_of};
use crate::{get, Actor, NewScoreEvent, Result, Store, StoreError};

fn invalid(s: &str) -> StoreError {
    StoreError::Invalid(s.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub id: i64,
    pub household_id: Option<i64>,
    pub household_no: Option<String>,
    pub person_id: Option<i64>,
    /// The person's name and masked ID number, when the warning is about a person.
    pub person: Option<String>,
    pub township_id: i64,
    pub township: String,
    pub risk_type: RiskType,
    pub summary: String,
    pub occurred_on: NaiveDate,
    pub evidence: String,
    pub raised_by_unit: Option<i64>,
    pub raised_by: Option<String>,
    pub source: String,
    pub status: WarningStatus,
    pub sign_due: i64,
    pub verify_due: i64,
    pub verified_by: Option<String>,
    pub verified_at: Option<i64>,
    pub verify_note: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    pub event_id: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub warning_id: i64,
    pub unit_id: i64,
    pub unit: String,
    pub signed_by: Option<String>,
    pub signed_at: Option<i64>,
}

/// A warning to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWarning {
    pub household_id: Option<i64>,
    pub person_id: Option<i64>,
    pub township_id: i64,
    pub risk_type: RiskType,
    pub summary: String,
    pub occurred_on: NaiveDate,
    pub evidence: String,
    pub raised_by_unit: Option<i64>,
    pub source: String,
    pub sign_due: i64,
    pub verify_due: i64,
    /// Every unit that must sign for it.
    pub receivers: Vec<i64>,
}

const WARNING_SELECT: &str =
    "SELECT w.*, t.name AS township, r.name AS raised_by, h.household_no AS household_no,
        CASE WHEN p.id IS NULL THEN NULL ELSE p.name || '（' || p.id_masked || '）' END AS person
     FROM warning w JOIN unit t ON t.id = w.township_id LEFT JOIN unit r ON r.id = w.raised_by_unit
     LEFT JOIN household h ON h.id = w.household_id LEFT JOIN person p ON p.id = w.person_id";

fn warning_row(r: &AnyRow) -> Result<Warning> {
    let risk: String = get(r, "risk_type")?;
    let status: String = get(r, "status")?;
    let occurred: String = get(r, "occurred_on")?;
    Ok(Warning {
        id: get(r, "id")?,
        household_id: get(r, "household_id")?,
        household_no: get(r, "household_no")?,
        person_id: get(r, "person_id")?,
        person: get(r, "person")?,
        township_id: get(r, "township_id")?,
        township: get(r, "township")?,
        risk_type: RiskType::from_code(&risk).ok_or_else(|| invalid(&risk))?,
        summary: get(r, "summary")?,
        occurred_on: occurred.parse().map_err(|_| invalid(&occurred))?,
        evidence: get(r, "evidence")?,
        raised_by_unit: get(r, "raised_by_unit")?,
        raised_by: get(r, "raised_by")?,
        source: get(r, "source")?,
        status: WarningStatus::from_code(&status).ok_or_else(|| invalid(&status))?,
        sign_due: get(r, "sign_due")?,
        verify_due: get(r, "verify_due")?,
        verified_by: get(r, "verified_by")?,
        verified_at: get(r, "verified_at")?,
        verify_note: get(r, "verify_note")?,
        closed_by: get(r, "closed_by")?,
        closed_at: get(r, "closed_at")?,
        close_reason: get(r, "close_reason")?,
        event_id: get(r, "event_id")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

async fn warning_in(conn: &mut AnyConnection, id: i64) -> Result<Warning> {
    let r = sqlx::query(&format!("{WARNING_SELECT} WHERE w.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("该预警"))?;
    warning_row(&r)
}

impl Store {
    /// The routing table: (risk type, department id).
    pub async fn warning_routes(&self) -> Result<Vec<(RiskType, i64)>> {
        let rows = sqlx::query(
            "SELECT risk_type, department_id FROM warning_route ORDER BY risk_type, department_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let risk: String = get(r, "risk_type")?;
                Ok((
                    RiskType::from_code(&risk).ok_or_else(|| invalid(&risk))?,
                    get(r, "department_id")?,
                ))
            })
            .collect()
    }

    /// Replaces the routing table.
    pub async fn set_warning_routes(
        &self,
        actor: &Actor,
        at: i64,
        routes: &[(RiskType, i64)],
    ) -> Result<()> {
        let before = self.warning_routes().await?;
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM warning_route")
            .execute(&mut *tx)
            .await?;
        for (risk, dept) in routes {
            sqlx::query("INSERT INTO warning_route (risk_type, department_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(risk.code())
                .bind(dept)
                .execute(&mut *tx)
                .await?;
        }
        let show = |r: &[(RiskType, i64)]| -> Vec<serde_json::Value> {
            r.iter().map(|(k, d)| json!([k.code(), d])).collect()
        };
        append(
            &mut tx,
            actor,
            at,
            "warning.routes",
            "warning_route",
            Some(&json!(show(&before))),
            Some(&json!(show(routes))),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_warning(&self, actor: &Actor, at: i64, w: &NewWarning) -> Result<Warning> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO warning (household_id, person_id, township_id, risk_type, summary, occurred_on, evidence, raised_by_unit, source, status, sign_due, verify_due, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12, $13) RETURNING id",
        )
        .bind(w.household_id)
        .bind(w.person_id)
        .bind(w.township_id)
        .bind(w.risk_type.code())
        .bind(&w.summary)
        .bind(w.occurred_on.to_string())
        .bind(&w.evidence)
        .bind(w.raised_by_unit)
        .bind(&w.source)
        .bind(w.sign_due)
        .bind(w.verify_due)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        for unit in &w.receivers {
            sqlx::query("INSERT INTO warning_receipt (warning_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(unit)
                .execute(&mut *tx)
                .await?;
        }
        let stored = warning_in(&mut tx, id).await?;
        append(
            &mut tx,
            actor,
            at,
            "warning.create",
            &format!("warning:{id}"),
            None,
            Some(&json!({"risk_type": w.risk_type, "township_id": w.township_id, "household_id": w.household_id, "receivers": w.receivers, "source": w.source})),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn warning(&self, id: i64) -> Result<Warning> {
        let mut conn = self.read.acquire().await?;
        warning_in(&mut conn, id).await
    }

    /// Warnings that concern any of `units` (received or raised by them, or in their
    /// township), or all with `None`, newest first.
    pub async fn warnings(&self, units: Option<&[i64]>, limit: i64) -> Result<Vec<Warning>> {
        let cond = match units {
            None => "1 = 1".to_owned(),
            Some([]) => "1 = 0".to_owned(),
            Some(ids) => {
                let list = ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "(w.township_id IN ({list}) OR w.raised_by_unit IN ({list}) OR EXISTS
                       (SELECT 1 FROM warning_receipt x WHERE x.warning_id = w.id AND x.unit_id IN ({list})))"
                )
            }
        };
        let rows = sqlx::query(&format!(
            "{WARNING_SELECT} WHERE {cond} ORDER BY w.id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(warning_row).collect()
    }

    pub async fn receipts(&self, warning_id: i64) -> Result<Vec<Receipt>> {
        let rows = sqlx::query(
            "SELECT x.*, u.name AS unit FROM warning_receipt x JOIN unit u ON u.id = x.unit_id
             WHERE x.warning_id = $1 ORDER BY u.kind DESC, u.sort_order",
        )
        .bind(warning_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Receipt {
                    warning_id: get(r, "warning_id")?,
                    unit_id: get(r, "unit_id")?,
                    unit: get(r, "unit")?,
                    signed_by: get(r, "signed_by")?,
                    signed_at: get(r, "signed_at")?,
                })
            })
            .collect()
    }

    /// Unsigned receipts of any of `units`: (warning id, unit id, sign due).
    pub async fn unsigned_receipts(&self, units: &[i64]) -> Result<Vec<(i64, i64, i64)>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let list = units
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT x.warning_id, x.unit_id, w.sign_due FROM warning_receipt x JOIN warning w ON w.id = x.warning_id
             WHERE x.signed_at IS NULL AND x.unit_id IN ({list}) ORDER BY w.sign_due"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "warning_id")?,
                    get(r, "unit_id")?,
                    get(r, "sign_due")?,
                ))
            })
            .collect()
    }

    /// A receiving unit signs for a warning (签收), once.
    pub async fn sign_warning(&self, actor: &Actor, at: i64, id: i64, unit: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE warning_receipt SET signed_by = $1, signed_at = $2 WHERE warning_id = $3 AND unit_id = $4 AND signed_at IS NULL",
        )
        .bind(&actor.username)
        .bind(at)
        .bind(id)
        .bind(unit)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "该单位不是此预警的接收单位，或已签收".into(),
            ));
        }
        append(
            &mut tx,
            actor,
            at,
            "warning.sign",
            &format!("warning:{id}"),
            None,
            Some(&json!({"unit_id": unit})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The township's verification: true moves it on to the office; false dismisses it.
    pub async fn verify_warning(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        found_true: bool,
        note: &str,
    ) -> Result<Warning> {
        let mut tx = self.write.begin().await?;
        let to = if found_true {
            WarningStatus::Verified
        } else {
            WarningStatus::Dismissed
        };
        let n = sqlx::query(
            "UPDATE warning SET status = $1, verified_by = $2, verified_at = $3, verify_note = $4,
               closed_by = CASE WHEN $1 = 'dismissed' THEN $2 ELSE NULL END,
               closed_at = CASE WHEN $1 = 'dismissed' THEN $3 ELSE NULL END,
               close_reason = CASE WHEN $1 = 'dismissed' THEN $4 ELSE NULL END
             WHERE id = $5 AND status = 'open'",
        )
        .bind(to.code())
        .bind(&actor.username)
        .bind(at)
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict("该预警已核实或已办结".into()));
        }
        append(
            &mut tx,
            actor,
            at,
            "warning.verify",
            &format!("warning:{id}"),
            Some(&json!({"status": "open"})),
            Some(&json!({"status": to, "note": note})),
        )
        .await?;
        let w = warning_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(w)
    }

    /// The office ends a verified warning: in assistance (proposing `proposal`, if any, for
    /// the department that raised it) or dismissed with a reason.
    pub async fn close_warning(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        assisted: bool,
        reason: &str,
        proposal: Option<&NewScoreEvent>,
    ) -> Result<Warning> {
        let mut tx = self.write.begin().await?;
        let to = if assisted {
            WarningStatus::Assisted
        } else {
            WarningStatus::Dismissed
        };
        let n = sqlx::query(
            "UPDATE warning SET status = $1, closed_by = $2, closed_at = $3, close_reason = $4 WHERE id = $5 AND status = 'verified'",
        )
        .bind(to.code())
        .bind(&actor.username)
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "只有乡镇核实属实、尚未办结的预警才能办结".into(),
            ));
        }
        if let (true, Some(e)) = (assisted, proposal) {
            if let Some(state) = lock_of(&mut tx, e.month.quarter()).await? {
                return Err(StoreError::Locked(Box::new(state)));
            }
            let event = insert_proposal(&mut tx, actor, at, e, &format!("warning:{id}")).await?;
            sqlx::query("UPDATE warning SET event_id = $1 WHERE id = $2")
                .bind(event.id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "warning.close",
            &format!("warning:{id}"),
            Some(&json!({"status": "verified"})),
            Some(&json!({"status": to, "reason": reason})),
        )
        .await?;
        let w = warning_in(&mut tx, id).await?;
        tx.commit().await?;
        if proposal.is_some() && assisted {
            self.scoring_changed();
        }
        Ok(w)
    }
}
