//! Storage of the scoring rules, score events, evaluations and the quarterly ranking
//! workflow. Every change to a quarter is refused once the quarter is approved (locked).

use chrono::NaiveDate;
use liandong_domain::scoring::{Level, Points, RuleCode, RuleTable};
use liandong_domain::{Category, Month, Quarter};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::{get, Actor, Result, Scope, Store, StoreError};

/// One version of the rule table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    pub id: i64,
    pub note: String,
    pub table: RuleTable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreEvent {
    pub id: i64,
    pub department_id: i64,
    pub department: String,
    pub category: Category,
    pub month: Month,
    pub rule: RuleCode,
    pub level: Option<Level>,
    pub count: u32,
    pub points: Points,
    pub rule_version_id: i64,
    pub note: String,
    pub doc_no: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    /// Set on a withdrawal entry: the event it cancels.
    pub withdraws: Option<i64>,
    /// Set on a withdrawn event: the entry that cancelled it.
    pub withdrawn_by: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    /// proposed, confirmed or rejected; only confirmed events count.
    pub status: String,
    /// What a proposed event rests on.
    pub fact: Option<String>,
    pub decision_note: Option<String>,
}

/// A score event to record; its points are computed by the caller from the rule table.
#[derive(Debug, Clone)]
pub struct NewScoreEvent {
    pub department_id: i64,
    pub month: Month,
    pub rule: RuleCode,
    pub level: Option<Level>,
    pub count: u32,
    pub points: Points,
    pub rule_version_id: i64,
    pub note: String,
    pub doc_no: Option<String>,
    pub occurred_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationKind {
    /// 延伸评价 of the county task-force office (close-type departments).
    Extended,
    /// The province's or city's evaluation that ranks 县乡村振兴局 and 县财政局.
    External,
}

impl EvaluationKind {
    pub fn code(self) -> &'static str {
        match self {
            EvaluationKind::Extended => "extended",
            EvaluationKind::External => "external",
        }
    }
    pub fn from_code(s: &str) -> Option<EvaluationKind> {
        match s {
            "extended" => Some(EvaluationKind::Extended),
            "external" => Some(EvaluationKind::External),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            EvaluationKind::Extended => "延伸评价",
            EvaluationKind::External => "上级评估结果",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub quarter: Quarter,
    pub department_id: i64,
    pub kind: EvaluationKind,
    pub score: Decimal,
    pub entered_by: String,
    pub entered_at: i64,
}

/// Where a quarter's ranking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RankingStatus {
    Draft,
    Submitted,
    Approved,
    Published,
}

impl RankingStatus {
    pub fn code(self) -> &'static str {
        match self {
            RankingStatus::Draft => "draft",
            RankingStatus::Submitted => "submitted",
            RankingStatus::Approved => "approved",
            RankingStatus::Published => "published",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RankingStatus::Draft => "草稿",
            RankingStatus::Submitted => "已提交（申诉期）",
            RankingStatus::Approved => "已审定",
            RankingStatus::Published => "已通报",
        }
    }
    /// Approved and published quarters are locked.
    pub fn locked(self) -> bool {
        matches!(self, RankingStatus::Approved | RankingStatus::Published)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RankingState {
    pub quarter: Quarter,
    pub status: RankingStatus,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<i64>,
    pub appeal_deadline: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub published_by: Option<String>,
    pub published_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appeal {
    pub id: i64,
    pub quarter: Quarter,
    pub event_id: i64,
    pub department_id: i64,
    pub reason: String,
    pub evidence: String,
    /// pending, upheld or rejected
    pub status: String,
    pub filed_by: String,
    pub filed_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    pub department_id: i64,
    pub acknowledged_by: String,
    pub acknowledged_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LapseFlag {
    pub department_id: i64,
    pub reason: String,
    pub flagged_by: String,
    pub flagged_at: i64,
}

fn invalid(what: &str) -> StoreError {
    StoreError::Invalid(what.to_owned())
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse().map_err(|_| invalid(s))
}

fn level_of(s: &str) -> Result<Option<Level>> {
    if s.is_empty() {
        Ok(None)
    } else {
        Level::from_code(s).map(Some).ok_or_else(|| invalid(s))
    }
}

fn event_row(r: &AnyRow) -> Result<ScoreEvent> {
    let level: Option<String> = get(r, "level")?;
    let occurred: Option<String> = get(r, "occurred_on")?;
    let category: String = get(r, "category")?;
    Ok(ScoreEvent {
        id: get(r, "id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        category: Category::from_code(&category).ok_or_else(|| invalid(&category))?,
        month: parse(&get::<String>(r, "month")?)?,
        rule: parse(&get::<String>(r, "rule")?)?,
        level: level_of(level.as_deref().unwrap_or(""))?,
        count: u32::try_from(get::<i64>(r, "count")?).map_err(|_| invalid("count"))?,
        points: Points::from_halves(get(r, "points_halves")?),
        rule_version_id: get(r, "rule_version_id")?,
        note: get(r, "note")?,
        doc_no: get(r, "doc_no")?,
        occurred_on: occurred.map(|d| parse(&d)).transpose()?,
        withdraws: get(r, "withdraws")?,
        withdrawn_by: get(r, "withdrawn_by")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
        status: get(r, "status")?,
        fact: get(r, "fact")?,
        decision_note: get(r, "decision_note")?,
    })
}

const EVENT_SELECT: &str = "SELECT e.*, u.name AS department, u.category AS category,
        (SELECT w.id FROM score_event w WHERE w.withdraws = e.id) AS withdrawn_by
     FROM score_event e JOIN unit u ON u.id = e.department_id";

/// An event as stored, read on the caller's transaction.
async fn event_in(conn: &mut AnyConnection, id: i64) -> Result<ScoreEvent> {
    event_row(
        &sqlx::query(&format!("{EVENT_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The lock of a quarter, checked inside the writing transaction.
pub(crate) async fn lock_of(
    conn: &mut AnyConnection,
    quarter: Quarter,
) -> Result<Option<RankingState>> {
    let row = sqlx::query("SELECT * FROM ranking_period WHERE quarter = $1")
        .bind(quarter.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let state = row.map(|r| state_row(quarter, &r)).transpose()?;
    // Submitted quarters are frozen too: what departments may appeal must not move under them.
    Ok(state.filter(|s| s.status != RankingStatus::Draft))
}

/// The state of a quarter that no longer takes changes, if it is one.
pub(crate) async fn frozen(
    conn: &mut AnyConnection,
    quarter: Quarter,
) -> Result<Option<RankingState>> {
    lock_of(conn, quarter).await
}

fn locked_error(state: RankingState) -> StoreError {
    StoreError::Locked(Box::new(state))
}

/// Why a frozen or locked quarter refuses a change.
pub(crate) fn locked_message(s: &RankingState) -> String {
    match s.status {
        RankingStatus::Submitted => format!(
            "{} 的排序已提交审定（申诉期），加减分事项和评价结果已冻结；如需修改，请联动办公室先撤回提交",
            s.quarter.label()
        ),
        _ => format!(
            "{} 的排序已由 {} 审定，期间已锁定，不能再修改",
            s.quarter.label(),
            s.approved_by.as_deref().unwrap_or("分管领导")
        ),
    }
}

/// Rules counted per month (未开展自查, 未评分排名, 自查无问题) count once a month: refuses a
/// second live event for the same department, month and rule.
async fn check_once_a_month(
    conn: &mut AnyConnection,
    e: &NewScoreEvent,
    except: Option<i64>,
) -> Result<()> {
    if e.rule.per() != liandong_domain::scoring::Per::Month {
        return Ok(());
    }
    let n: i64 = get(
        &sqlx::query(
            "SELECT COUNT(*) AS n FROM score_event s
             WHERE s.department_id = $1 AND s.month = $2 AND s.rule = $3 AND s.status IN ('proposed', 'confirmed')
               AND s.withdraws IS NULL AND NOT EXISTS (SELECT 1 FROM score_event w WHERE w.withdraws = s.id)
               AND s.id <> $4",
        )
        .bind(e.department_id)
        .bind(e.month.to_string())
        .bind(e.rule.code())
        .bind(except.unwrap_or(0))
        .fetch_one(&mut *conn)
        .await?,
        "n",
    )?;
    if n > 0 {
        return Err(StoreError::Conflict(format!(
            "{} 已有“{}”事项：按月计的事项每月只计一次",
            e.month.label(),
            e.rule.label()
        )));
    }
    Ok(())
}

fn state_row(quarter: Quarter, r: &AnyRow) -> Result<RankingState> {
    let status: String = get(r, "status")?;
    Ok(RankingState {
        quarter,
        status: match status.as_str() {
            "submitted" => RankingStatus::Submitted,
            "approved" => RankingStatus::Approved,
            "published" => RankingStatus::Published,
            _ => return Err(invalid(&status)),
        },
        submitted_by: get(r, "submitted_by")?,
        submitted_at: get(r, "submitted_at")?,
        appeal_deadline: get(r, "appeal_deadline")?,
        approved_by: get(r, "approved_by")?,
        approved_at: get(r, "approved_at")?,
        published_by: get(r, "published_by")?,
        published_at: get(r, "published_at")?,
    })
}

fn appeal_row(r: &AnyRow) -> Result<Appeal> {
    Ok(Appeal {
        id: get(r, "id")?,
        quarter: parse(&get::<String>(r, "quarter")?)?,
        event_id: get(r, "event_id")?,
        department_id: get(r, "department_id")?,
        reason: get(r, "reason")?,
        evidence: get(r, "evidence")?,
        status: get(r, "status")?,
        filed_by: get(r, "filed_by")?,
        filed_at: get(r, "filed_at")?,
        decided_by: get(r, "decided_by")?,
        decided_at: get(r, "decided_at")?,
        decision_reason: get(r, "decision_reason")?,
    })
}

async fn insert_event(
    conn: &mut AnyConnection,
    actor: &Actor,
    at: i64,
    e: &NewScoreEvent,
    withdraws: Option<i64>,
) -> Result<i64> {
    if withdraws.is_none() {
        check_once_a_month(conn, e, None).await?;
    }
    let row = sqlx::query(
        "INSERT INTO score_event (department_id, month, rule, level, count, points_halves, rule_version_id, note, doc_no, occurred_on, withdraws, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(e.department_id)
    .bind(e.month.to_string())
    .bind(e.rule.code())
    .bind(e.level.map(Level::code))
    .bind(i64::from(e.count))
    .bind(e.points.halves())
    .bind(e.rule_version_id)
    .bind(&e.note)
    .bind(e.doc_no.as_deref())
    .bind(e.occurred_on.map(|d| d.to_string()))
    .bind(withdraws)
    .bind(&actor.username)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    get(&row, "id")
}

/// Inserts an event the platform proposes from `fact`, with its operation-log entry, on the
/// caller's transaction (which has checked the quarter's lock).
pub(crate) async fn insert_proposal(
    conn: &mut AnyConnection,
    actor: &Actor,
    at: i64,
    e: &NewScoreEvent,
    fact: &str,
) -> Result<ScoreEvent> {
    let id = insert_event(conn, actor, at, e, None).await?;
    sqlx::query("UPDATE score_event SET status = 'proposed', fact = $1 WHERE id = $2")
        .bind(fact)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let stored = event_in(conn, id).await?;
    append(
        conn,
        actor,
        at,
        "score_event.propose",
        &format!("score_event:{id}"),
        None,
        Some(&json!(stored)),
    )
    .await?;
    Ok(stored)
}

impl Store {
    /// Loads the work plan's rule table as the first version, once.
    pub async fn seed_rules(&self, at: i64) -> Result<()> {
        let n: i64 = get(
            &sqlx::query("SELECT COUNT(*) AS n FROM rule_version")
                .fetch_one(&self.read)
                .await?,
            "n",
        )?;
        if n == 0 {
            self.add_rule_version(
                &Actor::system("startup"),
                at,
                "《奖优惩后评分细则》（2023年3月10日）",
                &RuleTable::work_plan_2023(),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn add_rule_version(
        &self,
        actor: &Actor,
        at: i64,
        note: &str,
        table: &RuleTable,
    ) -> Result<RuleVersion> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("INSERT INTO rule_version (effective_from, note, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(table.effective_from.to_string())
            .bind(note)
            .bind(&actor.username)
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| crate::conflict(e, format!("{} 起施行的评分细则版本已存在", table.effective_from)))?;
        let id: i64 = get(&row, "id")?;
        for (rule, level, points) in table.rows() {
            sqlx::query(
                "INSERT INTO rule_point (version_id, rule, level, halves) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(rule.code())
            .bind(level.map_or("", Level::code))
            .bind(points.halves())
            .execute(&mut *tx)
            .await?;
        }
        let rows: Vec<_> = table
            .rows()
            .iter()
            .map(|(r, l, p)| json!([r.code(), l.map(Level::code), p]))
            .collect();
        append(
            &mut tx,
            actor,
            at,
            "rules.version",
            &format!("rule_version:{id}"),
            None,
            Some(&json!({"effective_from": table.effective_from, "note": note, "points": rows})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(RuleVersion {
            id,
            note: note.to_owned(),
            table: table.clone(),
        })
    }

    /// All versions, oldest first.
    pub async fn rule_versions(&self) -> Result<Vec<RuleVersion>> {
        let versions = sqlx::query("SELECT * FROM rule_version ORDER BY effective_from")
            .fetch_all(&self.read)
            .await?;
        let points = sqlx::query("SELECT * FROM rule_point")
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::new();
        for v in &versions {
            let id: i64 = get(v, "id")?;
            let mut rows = Vec::new();
            for p in points
                .iter()
                .filter(|p| get::<i64>(p, "version_id").ok() == Some(id))
            {
                rows.push((
                    parse::<RuleCode>(&get::<String>(p, "rule")?)?,
                    level_of(&get::<String>(p, "level")?)?,
                    Points::from_halves(get(p, "halves")?),
                ));
            }
            let from: NaiveDate = parse(&get::<String>(v, "effective_from")?)?;
            let table = RuleTable::from_rows(from, &rows).map_err(|e| invalid(&e.to_string()))?;
            out.push(RuleVersion {
                id,
                note: get(v, "note")?,
                table,
            });
        }
        Ok(out)
    }

    /// Records an event, refused if its quarter is locked.
    pub async fn insert_score_event(
        &self,
        actor: &Actor,
        at: i64,
        e: &NewScoreEvent,
    ) -> Result<ScoreEvent> {
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, e.month.quarter()).await? {
            return Err(locked_error(state));
        }
        let id = insert_event(&mut tx, actor, at, e, None).await?;
        let stored = event_in(&mut tx, id).await?;
        append(
            &mut tx,
            actor,
            at,
            "score_event.create",
            &format!("score_event:{id}"),
            None,
            Some(&json!(stored)),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(stored)
    }

    /// A file imported before, by the hash of its content: (who, when).
    pub async fn imported_before(
        &self,
        kind: &str,
        file_hash: &str,
    ) -> Result<Option<(String, i64)>> {
        let row = sqlx::query(
            "SELECT imported_by, imported_at FROM import_batch WHERE kind = $1 AND file_hash = $2",
        )
        .bind(kind)
        .bind(file_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((get(&r, "imported_by")?, get(&r, "imported_at")?)))
            .transpose()
    }

    /// Records every event of an imported file in one transaction: all or nothing.
    pub async fn import_score_events(
        &self,
        actor: &Actor,
        at: i64,
        file_hash: &str,
        events: &[NewScoreEvent],
    ) -> Result<usize> {
        let mut tx = self.write.begin().await?;
        let mut quarters: Vec<Quarter> = events.iter().map(|e| e.month.quarter()).collect();
        quarters.sort_unstable();
        quarters.dedup();
        for q in quarters {
            if let Some(state) = lock_of(&mut tx, q).await? {
                return Err(locked_error(state));
            }
        }
        sqlx::query("INSERT INTO import_batch (kind, file_hash, rows, imported_by, imported_at) VALUES ('score_events', $1, $2, $3, $4)")
            .bind(file_hash)
            .bind(events.len() as i64)
            .bind(&actor.username)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::conflict(e, "该文件已导入过"))?;
        for e in events {
            let id = insert_event(&mut tx, actor, at, e, None).await?;
            let stored = event_in(&mut tx, id).await?;
            append(
                &mut tx,
                actor,
                at,
                "score_event.import",
                &format!("score_event:{id}"),
                None,
                Some(&json!(stored)),
            )
            .await?;
        }
        tx.commit().await?;
        self.scoring_changed();
        Ok(events.len())
    }

    /// Records an event the platform proposes from a fact it knows; it counts only once the
    /// office confirms it.
    pub async fn propose_score_event(
        &self,
        actor: &Actor,
        at: i64,
        e: &NewScoreEvent,
        fact: &str,
    ) -> Result<ScoreEvent> {
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, e.month.quarter()).await? {
            return Err(locked_error(state));
        }
        let stored = insert_proposal(&mut tx, actor, at, e, fact).await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(stored)
    }

    /// The office confirms or rejects a proposed event, with a note.
    pub async fn decide_proposal(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        confirm: bool,
        note: &str,
    ) -> Result<ScoreEvent> {
        let before = self.score_event(id).await?;
        if before.status != "proposed" {
            return Err(StoreError::Conflict(format!("第 {id} 号不是待确认的提议")));
        }
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, before.month.quarter()).await? {
            return Err(locked_error(state));
        }
        let status = if confirm { "confirmed" } else { "rejected" };
        let n = sqlx::query("UPDATE score_event SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 WHERE id = $5 AND status = 'proposed'")
            .bind(status)
            .bind(&actor.username)
            .bind(at)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("第 {id} 号不是待确认的提议")));
        }
        append(
            &mut tx,
            actor,
            at,
            "score_event.decide",
            &format!("score_event:{id}"),
            Some(&json!({"status": "proposed"})),
            Some(&json!({"status": status, "note": note})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.score_event(id).await
    }

    /// Proposed events waiting for the office, oldest first.
    pub async fn proposals(&self) -> Result<Vec<ScoreEvent>> {
        let rows = sqlx::query(&format!(
            "{EVENT_SELECT} WHERE e.status = 'proposed' ORDER BY e.month, e.id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Cancels an event with a new, audited entry of the opposite points.
    pub async fn withdraw_score_event(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        reason: &str,
    ) -> Result<ScoreEvent> {
        let original = self.score_event(id).await?;
        if original.withdraws.is_some() {
            return Err(StoreError::Conflict("撤销记录本身不能再撤销".into()));
        }
        if original.status != "confirmed" {
            return Err(StoreError::Conflict(format!(
                "第 {id} 号尚未确认或已被否决，无需撤销"
            )));
        }
        if original.withdrawn_by.is_some() {
            return Err(StoreError::Conflict(format!("第 {id} 号加减分事项已撤销")));
        }
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, original.month.quarter()).await? {
            return Err(locked_error(state));
        }
        let entry = NewScoreEvent {
            points: original.points.negated(),
            note: format!("撤销第 {id} 号：{reason}"),
            doc_no: None,
            occurred_on: None,
            ..NewScoreEvent {
                department_id: original.department_id,
                month: original.month,
                rule: original.rule,
                level: original.level,
                count: original.count,
                points: original.points,
                rule_version_id: original.rule_version_id,
                note: String::new(),
                doc_no: None,
                occurred_on: None,
            }
        };
        let new_id = insert_event(&mut tx, actor, at, &entry, Some(id))
            .await
            .map_err(|e| match e {
                StoreError::Db(db) => crate::conflict(db, format!("第 {id} 号加减分事项已撤销")),
                other => other,
            })?;
        let stored = event_in(&mut tx, new_id).await?;
        append(
            &mut tx,
            actor,
            at,
            "score_event.withdraw",
            &format!("score_event:{id}"),
            Some(&json!(original)),
            Some(&json!(stored)),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(stored)
    }

    pub async fn score_event(&self, id: i64) -> Result<ScoreEvent> {
        let row = sqlx::query(&format!("{EVENT_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该加减分事项"))?;
        event_row(&row)
    }

    /// Events of the given months in `scope`, optionally of one department, oldest first.
    pub async fn score_events(
        &self,
        scope: &Scope,
        months: &[Month],
        department_id: Option<i64>,
    ) -> Result<Vec<ScoreEvent>> {
        if months.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = months.iter().map(|m| format!("'{m}'")).collect();
        let rows = sqlx::query(&format!(
            "{EVENT_SELECT} WHERE e.month IN ({}) AND {} AND (CAST($1 AS BIGINT) IS NULL OR e.department_id = $1) ORDER BY e.month, e.id",
            list.join(", "),
            scope.condition("e.department_id")
        ))
        .bind(department_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// The sum of points per department over the given months, for rankings.
    pub async fn points_by_department(&self, months: &[Month]) -> Result<Vec<(i64, Points)>> {
        if months.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = months.iter().map(|m| format!("'{m}'")).collect();
        let rows = sqlx::query(&format!(
            "SELECT department_id, SUM(points_halves) AS halves FROM score_event WHERE status = 'confirmed' AND month IN ({}) GROUP BY department_id",
            list.join(", ")
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "department_id")?,
                    Points::from_halves(get(r, "halves")?),
                ))
            })
            .collect()
    }

    pub async fn evaluations(&self, quarter: Quarter) -> Result<Vec<Evaluation>> {
        let rows =
            sqlx::query("SELECT * FROM evaluation WHERE quarter = $1 ORDER BY department_id, kind")
                .bind(quarter.to_string())
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, "kind")?;
                Ok(Evaluation {
                    quarter,
                    department_id: get(r, "department_id")?,
                    kind: EvaluationKind::from_code(&kind).ok_or_else(|| invalid(&kind))?,
                    score: parse(&get::<String>(r, "score")?)?,
                    entered_by: get(r, "entered_by")?,
                    entered_at: get(r, "entered_at")?,
                })
            })
            .collect()
    }

    /// Records (or replaces) an evaluation, refused if the quarter is locked.
    pub async fn set_evaluation(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
        department_id: i64,
        kind: EvaluationKind,
        score: Decimal,
    ) -> Result<Evaluation> {
        let before = self
            .evaluations(quarter)
            .await?
            .into_iter()
            .find(|e| e.department_id == department_id && e.kind == kind);
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, quarter).await? {
            return Err(locked_error(state));
        }
        sqlx::query(
            "INSERT INTO evaluation (quarter, department_id, kind, score, entered_by, entered_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (quarter, department_id, kind) DO UPDATE SET score = $4, entered_by = $5, entered_at = $6",
        )
        .bind(quarter.to_string())
        .bind(department_id)
        .bind(kind.code())
        .bind(score.to_string())
        .bind(&actor.username)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let after = Evaluation {
            quarter,
            department_id,
            kind,
            score,
            entered_by: actor.username.clone(),
            entered_at: at,
        };
        append(
            &mut tx,
            actor,
            at,
            "evaluation.set",
            &format!("evaluation:{quarter}:{department_id}:{}", kind.code()),
            before.map(|b| json!(b)).as_ref(),
            Some(&json!(after)),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(after)
    }

    pub async fn ranking_state(&self, quarter: Quarter) -> Result<RankingState> {
        let row = sqlx::query("SELECT * FROM ranking_period WHERE quarter = $1")
            .bind(quarter.to_string())
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(r) => state_row(quarter, &r),
            None => Ok(RankingState {
                quarter,
                status: RankingStatus::Draft,
                submitted_by: None,
                submitted_at: None,
                appeal_deadline: None,
                approved_by: None,
                approved_at: None,
                published_by: None,
                published_at: None,
            }),
        }
    }

    /// Submits a draft for appeal until `appeal_deadline`.
    pub async fn submit_ranking(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
        appeal_deadline: i64,
    ) -> Result<RankingState> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "INSERT INTO ranking_period (quarter, status, submitted_by, submitted_at, appeal_deadline) VALUES ($1, 'submitted', $2, $3, $4)
             ON CONFLICT (quarter) DO NOTHING",
        )
        .bind(quarter.to_string())
        .bind(&actor.username)
        .bind(at)
        .bind(appeal_deadline)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "{} 的排序已提交，不能重复提交",
                quarter.label()
            )));
        }
        append(
            &mut tx,
            actor,
            at,
            "ranking.submit",
            &format!("ranking:{quarter}"),
            None,
            Some(&json!({"appeal_deadline": appeal_deadline})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.ranking_state(quarter).await
    }

    /// Approves a submitted quarter whose appeal window has closed with every appeal decided;
    /// from then on the quarter is locked. The conditions are checked in the transaction.
    pub async fn approve_ranking(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
    ) -> Result<RankingState> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("SELECT * FROM ranking_period WHERE quarter = $1")
            .bind(quarter.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(state) = row.map(|r| state_row(quarter, &r)).transpose()? else {
            return Err(StoreError::Conflict(format!(
                "{} 的排序尚未提交",
                quarter.label()
            )));
        };
        if state.status != RankingStatus::Submitted {
            return Err(locked_error(state));
        }
        if state.appeal_deadline.is_some_and(|d| at <= d) {
            return Err(StoreError::Conflict("申诉期尚未结束，暂不能审定".into()));
        }
        let pending: i64 = get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM appeal WHERE quarter = $1 AND status = 'pending'",
            )
            .bind(quarter.to_string())
            .fetch_one(&mut *tx)
            .await?,
            "n",
        )?;
        if pending > 0 {
            return Err(StoreError::Conflict(format!(
                "还有 {pending} 件申诉未处理，暂不能审定"
            )));
        }
        sqlx::query("UPDATE ranking_period SET status = 'approved', approved_by = $1, approved_at = $2 WHERE quarter = $3")
            .bind(&actor.username)
            .bind(at)
            .bind(quarter.to_string())
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            actor,
            at,
            "ranking.approve",
            &format!("ranking:{quarter}"),
            Some(&json!({"status": "submitted"})),
            Some(&json!({"status": "approved"})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.ranking_state(quarter).await
    }

    /// Publishes an approved quarter: it is delivered to every department's principal.
    pub async fn publish_ranking(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
    ) -> Result<RankingState> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("UPDATE ranking_period SET status = 'published', published_by = $1, published_at = $2 WHERE quarter = $3 AND status = 'approved'")
            .bind(&actor.username)
            .bind(at)
            .bind(quarter.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "{} 的排序尚未经分管领导审定，不能通报",
                quarter.label()
            )));
        }
        append(
            &mut tx,
            actor,
            at,
            "ranking.publish",
            &format!("ranking:{quarter}"),
            Some(&json!({"status": "approved"})),
            Some(&json!({"status": "published"})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.ranking_state(quarter).await
    }

    pub async fn appeals(&self, scope: &Scope, quarter: Quarter) -> Result<Vec<Appeal>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM appeal WHERE quarter = $1 AND {} ORDER BY id",
            scope.condition("department_id")
        ))
        .bind(quarter.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(appeal_row).collect()
    }

    pub async fn appeal(&self, id: i64) -> Result<Appeal> {
        let row = sqlx::query("SELECT * FROM appeal WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该申诉"))?;
        appeal_row(&row)
    }

    /// Files an appeal against an event of the user's own department (checked against `scope`)
    /// while the quarter is submitted and its window open.
    pub async fn file_appeal(
        &self,
        actor: &Actor,
        scope: &Scope,
        at: i64,
        event_id: i64,
        reason: &str,
        evidence: &str,
    ) -> Result<Appeal> {
        let event = self.score_event(event_id).await?;
        if !scope.allows(event.department_id) {
            return Err(StoreError::OutOfScope);
        }
        if event.status != "confirmed" || event.withdraws.is_some() || event.withdrawn_by.is_some()
        {
            return Err(StoreError::Conflict(format!(
                "第 {event_id} 号不是计分的加减分事项，无需申诉"
            )));
        }
        let quarter = event.month.quarter();
        let mut tx = self.write.begin().await?;
        let state = sqlx::query("SELECT * FROM ranking_period WHERE quarter = $1")
            .bind(quarter.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let state = state.map(|r| state_row(quarter, &r)).transpose()?;
        match state {
            Some(s)
                if s.status == RankingStatus::Submitted
                    && s.appeal_deadline.is_some_and(|d| at <= d) => {}
            Some(s) if s.status.locked() => return Err(locked_error(s)),
            Some(_) => return Err(StoreError::Conflict("申诉期已结束".into())),
            None => {
                return Err(StoreError::Conflict(format!(
                    "{} 的排序尚未提交，暂不能申诉",
                    quarter.label()
                )))
            }
        }
        let row = sqlx::query(
            "INSERT INTO appeal (quarter, event_id, department_id, reason, evidence, status, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING id",
        )
        .bind(quarter.to_string())
        .bind(event_id)
        .bind(event.department_id)
        .bind(reason)
        .bind(evidence)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::conflict(e, format!("第 {event_id} 号加减分事项已申诉过")))?;
        let id: i64 = get(&row, "id")?;
        append(
            &mut tx,
            actor,
            at,
            "appeal.file",
            &format!("appeal:{id}"),
            None,
            Some(&json!({"event_id": event_id, "reason": reason, "evidence": evidence})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.appeal(id).await
    }

    /// Decides a pending appeal; upholding it withdraws the event with a new entry, in the
    /// same transaction (a quarter approved in between cannot leave an upheld appeal counted).
    pub async fn decide_appeal(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        uphold: bool,
        reason: &str,
    ) -> Result<Appeal> {
        let appeal = self.appeal(id).await?;
        if appeal.status != "pending" {
            return Err(StoreError::Conflict(format!("第 {id} 号申诉已处理")));
        }
        let original = self.score_event(appeal.event_id).await?;
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, appeal.quarter)
            .await?
            .filter(|s| s.status.locked())
        {
            return Err(locked_error(state));
        }
        let status = if uphold { "upheld" } else { "rejected" };
        let n = sqlx::query(
            "UPDATE appeal SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(status)
        .bind(&actor.username)
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("第 {id} 号申诉已处理")));
        }
        append(
            &mut tx,
            actor,
            at,
            "appeal.decide",
            &format!("appeal:{id}"),
            Some(&json!({"status": "pending"})),
            Some(&json!({"status": status, "reason": reason})),
        )
        .await?;
        if uphold && original.withdrawn_by.is_none() {
            let entry = NewScoreEvent {
                department_id: original.department_id,
                month: original.month,
                rule: original.rule,
                level: original.level,
                count: original.count,
                points: original.points.negated(),
                rule_version_id: original.rule_version_id,
                note: format!("撤销第 {} 号：申诉成立，{reason}", original.id),
                doc_no: None,
                occurred_on: None,
            };
            let new_id = insert_event(&mut tx, actor, at, &entry, Some(original.id)).await?;
            append(
                &mut tx,
                actor,
                at,
                "score_event.withdraw",
                &format!("score_event:{}", original.id),
                Some(&json!(original)),
                Some(&json!({"withdrawal": new_id, "appeal": id})),
            )
            .await?;
        }
        tx.commit().await?;
        self.scoring_changed();
        self.appeal(id).await
    }

    /// Takes a submitted quarter back to draft (the office, to correct it); appeals filed stay.
    pub async fn reopen_ranking(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
    ) -> Result<RankingState> {
        let mut tx = self.write.begin().await?;
        let n =
            sqlx::query("DELETE FROM ranking_period WHERE quarter = $1 AND status = 'submitted'")
                .bind(quarter.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "{} 的排序不在申诉期，不能撤回",
                quarter.label()
            )));
        }
        append(
            &mut tx,
            actor,
            at,
            "ranking.reopen",
            &format!("ranking:{quarter}"),
            Some(&json!({"status": "submitted"})),
            Some(&json!({"status": "draft"})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        self.ranking_state(quarter).await
    }

    pub async fn acknowledgements(&self, quarter: Quarter) -> Result<Vec<Acknowledgement>> {
        let rows = sqlx::query("SELECT * FROM ranking_ack WHERE quarter = $1")
            .bind(quarter.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Acknowledgement {
                    department_id: get(r, "department_id")?,
                    acknowledged_by: get(r, "acknowledged_by")?,
                    acknowledged_at: get(r, "acknowledged_at")?,
                })
            })
            .collect()
    }

    /// A department acknowledges receipt of a published ranking (checked against `scope`).
    pub async fn acknowledge_ranking(
        &self,
        actor: &Actor,
        scope: &Scope,
        at: i64,
        quarter: Quarter,
        department_id: i64,
    ) -> Result<()> {
        if !scope.allows(department_id) {
            return Err(StoreError::OutOfScope);
        }
        if self.ranking_state(quarter).await?.status != RankingStatus::Published {
            return Err(StoreError::Conflict(format!(
                "{} 的排序尚未通报",
                quarter.label()
            )));
        }
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("INSERT INTO ranking_ack (quarter, department_id, acknowledged_by, acknowledged_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(quarter.to_string())
            .bind(department_id)
            .bind(&actor.username)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            append(
                &mut tx,
                actor,
                at,
                "ranking.acknowledge",
                &format!("ranking:{quarter}:{department_id}"),
                None,
                Some(&json!({"department_id": department_id})),
            )
            .await?;
        }
        tx.commit().await?;
        self.scoring_changed();
        Ok(())
    }

    pub async fn lapse_flags(&self, quarter: Quarter) -> Result<Vec<LapseFlag>> {
        let rows =
            sqlx::query("SELECT * FROM lapse_flag WHERE quarter = $1 ORDER BY department_id")
                .bind(quarter.to_string())
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(LapseFlag {
                    department_id: get(r, "department_id")?,
                    reason: get(r, "reason")?,
                    flagged_by: get(r, "flagged_by")?,
                    flagged_at: get(r, "flagged_at")?,
                })
            })
            .collect()
    }

    /// Flags a serious lapse for the county-wide bulletin by hand.
    pub async fn flag_lapse(
        &self,
        actor: &Actor,
        at: i64,
        quarter: Quarter,
        department_id: i64,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, quarter)
            .await?
            .filter(|s| s.status.locked())
        {
            return Err(locked_error(state));
        }
        sqlx::query(
            "INSERT INTO lapse_flag (quarter, department_id, reason, flagged_by, flagged_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (quarter, department_id) DO UPDATE SET reason = $3, flagged_by = $4, flagged_at = $5",
        )
        .bind(quarter.to_string())
        .bind(department_id)
        .bind(reason)
        .bind(&actor.username)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            actor,
            at,
            "ranking.flag_lapse",
            &format!("ranking:{quarter}:{department_id}"),
            None,
            Some(&json!({"reason": reason})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(())
    }
}
