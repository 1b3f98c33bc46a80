//! Storage of data comparison (信息比对): the feed ledger of deliveries, the rule library's
//! versions, runs with the clues and review items they produce (stored in one transaction),
//! clue outcomes and hand-offs, and the review queue's decisions.

use std::collections::HashMap;

use liandong_domain::roster::{HouseholdKind, MonitoringStage};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;

use crate::audit::append;
use crate::{get, Actor, Result, Store, StoreError};

fn invalid(s: &str) -> StoreError {
    StoreError::Invalid(s.to_owned())
}

/// A delivery of a data set by a department (数据报送台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedDelivery {
    pub id: i64,
    pub kind: String,
    pub department_id: i64,
    pub department: String,
    /// The month whose deadline it answers ("2024-04").
    pub due_month: String,
    pub files: Vec<String>,
    pub row_count: i64,
    pub byte_count: i64,
    pub sha256: String,
    #[serde(skip)]
    pub stored_as: String,
    pub report: String,
    pub delivered_by: String,
    pub delivered_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedDelivery {
    pub kind: String,
    pub department_id: i64,
    pub due_month: String,
    pub files: Vec<String>,
    pub row_count: i64,
    pub byte_count: i64,
    pub sha256: String,
    pub stored_as: String,
    pub report: String,
}

fn feed_row(r: &AnyRow) -> Result<FeedDelivery> {
    let files: String = get(r, "files")?;
    Ok(FeedDelivery {
        id: get(r, "id")?,
        kind: get(r, "kind")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        due_month: get(r, "due_month")?,
        files: files.lines().map(str::to_owned).collect(),
        row_count: get(r, "row_count")?,
        byte_count: get(r, "byte_count")?,
        sha256: get(r, "sha256")?,
        stored_as: get(r, "stored_as")?,
        report: get(r, "report")?,
        delivered_by: get(r, "delivered_by")?,
        delivered_at: get(r, "delivered_at")?,
    })
}

const FEED_SELECT: &str =
    "SELECT f.*, u.name AS department FROM feed_delivery f JOIN unit u ON u.id = f.department_id";

/// A saved version of the rule library (a JSON document), per policy year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesetVersion {
    pub id: i64,
    pub policy_year: i32,
    pub version: i64,
    pub body: String,
    pub note: String,
    pub saved_by: String,
    pub saved_at: i64,
}

/// A comparison run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompareRun {
    pub id: i64,
    pub as_of: String,
    pub ruleset: String,
    pub deliveries: String,
    pub summary: String,
    pub clue_count: i64,
    pub review_count: i64,
    pub millis: i64,
    pub started_by: String,
    pub started_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub as_of: String,
    pub ruleset: String,
    pub deliveries: String,
    pub summary: String,
    pub millis: i64,
}

/// A clue to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClue {
    pub rule: String,
    pub title: String,
    pub finding: String,
    pub severity: String,
    pub clue_key: String,
    pub household_id: Option<i64>,
    pub township_id: Option<i64>,
    /// JSON array of the people.
    pub subjects: String,
    pub method: String,
    pub confidence: i64,
    pub evidence: String,
    /// Departments it goes to.
    pub routes: Vec<i64>,
}

/// A stored risk clue (风险线索).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskClue {
    pub id: i64,
    pub run_id: i64,
    pub rule: String,
    pub title: String,
    pub finding: String,
    pub severity: String,
    pub household_id: Option<i64>,
    pub household_no: Option<String>,
    pub township_id: Option<i64>,
    pub township: Option<String>,
    #[serde(skip)]
    pub subjects: String,
    pub method: String,
    pub confidence: i64,
    pub evidence: String,
    pub status: String,
    pub outcome_by: Option<String>,
    pub outcome_at: Option<i64>,
    pub outcome_note: Option<String>,
    pub warning_id: Option<i64>,
    pub created_at: i64,
    /// Names of the departments it goes to, joined.
    pub departments: String,
}

/// The runs whose save finished: only their clues and review items are seen. Visibility
/// follows the run rather than a flag on each row, which would have to be rewritten, evidence
/// and all, at the end of every save.
const SAVED_RUNS: &str = "(SELECT id FROM compare_run WHERE summary <> '')";

const CLUE_SELECT: &str = "SELECT c.*, h.household_no AS household_no, t.name AS township
     FROM risk_clue c LEFT JOIN household h ON h.id = c.household_id
     LEFT JOIN unit t ON t.id = c.township_id";

fn clue_row(r: &AnyRow) -> Result<RiskClue> {
    Ok(RiskClue {
        id: get(r, "id")?,
        run_id: get(r, "run_id")?,
        rule: get(r, "rule")?,
        title: get(r, "title")?,
        finding: get(r, "finding")?,
        severity: get(r, "severity")?,
        household_id: get(r, "household_id")?,
        household_no: get(r, "household_no")?,
        township_id: get(r, "township_id")?,
        township: get(r, "township")?,
        subjects: get(r, "subjects")?,
        method: get(r, "method")?,
        confidence: get(r, "confidence")?,
        evidence: get(r, "evidence")?,
        status: get(r, "status")?,
        outcome_by: get(r, "outcome_by")?,
        outcome_at: get(r, "outcome_at")?,
        outcome_note: get(r, "outcome_note")?,
        warning_id: get(r, "warning_id")?,
        created_at: get(r, "created_at")?,
        departments: String::new(),
    })
}

/// Which clues to list.
#[derive(Debug, Clone, Default)]
pub struct ClueFilter {
    pub rule: Option<String>,
    pub status: Option<String>,
    pub township_id: Option<i64>,
    pub method: Option<String>,
    /// Only the clues a run raised.
    pub run_id: Option<i64>,
    /// Only clues in these townships or routed to these departments (`None`: all).
    pub units: Option<Vec<i64>>,
    pub limit: i64,
    pub offset: i64,
}

/// A row put up for a person to match by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub kind: String,
    pub source: String,
    pub row_no: i64,
    pub raw_masked: String,
    pub name: String,
    pub pair_key: String,
    pub candidates: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchReview {
    pub id: i64,
    pub run_id: i64,
    pub kind: String,
    pub source: String,
    pub row_no: i64,
    pub raw_masked: String,
    pub name: String,
    #[serde(skip)]
    pub pair_key: String,
    #[serde(skip)]
    pub candidates: String,
    pub status: String,
    pub person_id: Option<i64>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

fn review_row(r: &AnyRow) -> Result<MatchReview> {
    Ok(MatchReview {
        id: get(r, "id")?,
        run_id: get(r, "run_id")?,
        kind: get(r, "kind")?,
        source: get(r, "source")?,
        row_no: get(r, "row_no")?,
        raw_masked: get(r, "raw_masked")?,
        name: get(r, "name")?,
        pair_key: get(r, "pair_key")?,
        candidates: get(r, "candidates")?,
        status: get(r, "status")?,
        person_id: get(r, "person_id")?,
        decided_by: get(r, "decided_by")?,
        decided_at: get(r, "decided_at")?,
    })
}

/// A roster member as a comparison run reads it (ID number still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareMember {
    pub household_no: String,
    pub township: String,
    pub village: String,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
    pub name: String,
    pub id_sealed: String,
}

/// A rule's verified clues: (rule, confirmed, dismissed, still open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTally {
    pub rule: String,
    pub confirmed: i64,
    pub dismissed: i64,
    pub open: i64,
}

impl Store {
    // ---- feed ledger ----

    pub async fn record_feed(
        &self,
        actor: &Actor,
        at: i64,
        f: &NewFeedDelivery,
    ) -> Result<FeedDelivery> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO feed_delivery (kind, department_id, due_month, files, row_count, byte_count, sha256, stored_as, report, delivered_by, delivered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&f.kind)
        .bind(f.department_id)
        .bind(&f.due_month)
        .bind(f.files.join("\n"))
        .bind(f.row_count)
        .bind(f.byte_count)
        .bind(&f.sha256)
        .bind(&f.stored_as)
        .bind(&f.report)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        append(
            &mut tx,
            actor,
            at,
            "feed.deliver",
            &format!("feed_delivery:{id}"),
            None,
            Some(&json!({"kind": f.kind, "department_id": f.department_id, "due_month": f.due_month, "files": f.files, "rows": f.row_count, "sha256": f.sha256})),
        )
        .await?;
        let row = sqlx::query(&format!("{FEED_SELECT} WHERE f.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        feed_row(&row)
    }

    /// Deliveries, newest first; of one kind, or all.
    pub async fn feed_deliveries(
        &self,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FeedDelivery>> {
        let rows = sqlx::query(&format!(
            "{FEED_SELECT} WHERE (CAST($1 AS TEXT) IS NULL OR f.kind = $1) ORDER BY f.delivered_at DESC, f.id DESC LIMIT $2"
        ))
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(feed_row).collect()
    }

    /// The delivery of these very files for this kind, if it was made before.
    pub async fn feed_by_hash(&self, kind: &str, sha256: &str) -> Result<Option<FeedDelivery>> {
        let r = sqlx::query(&format!(
            "{FEED_SELECT} WHERE f.kind = $1 AND f.sha256 = $2 ORDER BY f.id LIMIT 1"
        ))
        .bind(kind)
        .bind(sha256)
        .fetch_optional(&self.read)
        .await?;
        r.as_ref().map(feed_row).transpose()
    }

    /// The earliest month any delivery answers: deadlines count from then on.
    pub async fn first_feed_month(&self) -> Result<Option<String>> {
        let r = sqlx::query("SELECT MIN(due_month) AS m FROM feed_delivery")
            .fetch_one(&self.read)
            .await?;
        get(&r, "m")
    }

    /// The first delivery of each (kind, department) answering `due_month`'s deadline.
    pub async fn first_deliveries(&self, due_month: &str) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, department_id, MIN(delivered_at) AS first_at FROM feed_delivery
             WHERE due_month = $1 GROUP BY kind, department_id",
        )
        .bind(due_month)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "kind")?,
                    get(r, "department_id")?,
                    get(r, "first_at")?,
                ))
            })
            .collect()
    }

    // ---- rule library ----

    pub async fn rulesets(&self) -> Result<Vec<RulesetVersion>> {
        let rows =
            sqlx::query("SELECT * FROM compare_ruleset ORDER BY policy_year DESC, version DESC")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(RulesetVersion {
                    id: get(r, "id")?,
                    policy_year: get::<i64>(r, "policy_year")? as i32,
                    version: get(r, "version")?,
                    body: get(r, "body")?,
                    note: get(r, "note")?,
                    saved_by: get(r, "saved_by")?,
                    saved_at: get(r, "saved_at")?,
                })
            })
            .collect()
    }

    /// Saves a new version of the year's rule library (the next version number).
    pub async fn save_ruleset(
        &self,
        actor: &Actor,
        at: i64,
        policy_year: i32,
        body: &str,
        note: &str,
    ) -> Result<i64> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM compare_ruleset WHERE policy_year = $1",
        )
        .bind(i64::from(policy_year))
        .fetch_one(&mut *tx)
        .await?;
        let version: i64 = get(&r, "next")?;
        sqlx::query(
            "INSERT INTO compare_ruleset (policy_year, version, body, note, saved_by, saved_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(i64::from(policy_year))
        .bind(version)
        .bind(body)
        .bind(note)
        .bind(&actor.username)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            actor,
            at,
            "compare.rules",
            &format!("compare_ruleset:{policy_year}:{version}"),
            None,
            Some(&json!({"policy_year": policy_year, "version": version, "note": note})),
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    // ---- runs ----

    /// The active roster's members, for a comparison run.
    pub async fn compare_members(&self) -> Result<Vec<CompareMember>> {
        let rows = sqlx::query(
            "SELECT h.household_no, t.name AS township, h.village, h.kind, h.stage, p.name, p.id_sealed
             FROM person p JOIN household h ON h.id = p.household_id JOIN unit t ON t.id = h.township_id
             WHERE p.active = 1 AND h.active = 1 ORDER BY h.id, p.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, "kind")?;
                let stage: String = get(r, "stage")?;
                Ok(CompareMember {
                    household_no: get(r, "household_no")?,
                    township: get(r, "township")?,
                    village: get(r, "village")?,
                    kind: HouseholdKind::from_code(&kind).ok_or_else(|| invalid(&kind))?,
                    stage: MonitoringStage::from_code(&stage).ok_or_else(|| invalid(&stage))?,
                    name: get(r, "name")?,
                    id_sealed: get(r, "id_sealed")?,
                })
            })
            .collect()
    }

    /// Person ids by the keyed hash of their ID number.
    pub async fn person_ids_by_lookup(&self) -> Result<HashMap<String, i64>> {
        let rows = sqlx::query("SELECT id, id_lookup FROM person WHERE active = 1")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((get(r, "id_lookup")?, get(r, "id")?)))
            .collect()
    }

    /// Household ids by number and township ids by name, for placing clues.
    pub async fn clue_places(&self) -> Result<(HashMap<String, i64>, HashMap<String, i64>)> {
        let h = sqlx::query("SELECT id, household_no FROM household")
            .fetch_all(&self.read)
            .await?;
        let t = sqlx::query("SELECT id, name FROM unit WHERE kind = 'township'")
            .fetch_all(&self.read)
            .await?;
        let households = h
            .iter()
            .map(|r| Ok((get(r, "household_no")?, get(r, "id")?)))
            .collect::<Result<_>>()?;
        let townships = t
            .iter()
            .map(|r| Ok((get(r, "name")?, get(r, "id")?)))
            .collect::<Result<_>>()?;
        Ok((households, townships))
    }

    /// Keys of the clues still open or verified since `since`: a run does not raise them again.
    pub async fn standing_clue_keys(
        &self,
        since: i64,
    ) -> Result<std::collections::HashSet<String>> {
        let rows =
            sqlx::query(&format!("SELECT clue_key FROM risk_clue WHERE run_id IN {SAVED_RUNS} AND (status = 'open' OR outcome_at >= $1)"))
                .bind(since)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(|r| get(r, "clue_key")).collect()
    }

    /// Records a run with its clues and review items. A county's run can raise a million
    /// clues: they are written 20,000 to a transaction, so that sign-ins and other changes
    /// are not held up for the whole save (smaller ones cost more in all: a checkpoint of the
    /// log follows each commit).
    /// The run's summary and its log entry come last: until then the run is not listed (its
    /// summary is empty) and neither are its clues and review items (see [`SAVED_RUNS`]), so
    /// a run listed is a run saved whole. What a save cut short more than a day ago left
    /// behind is removed first (a day, so that a save still going on elsewhere is never
    /// touched).
    pub async fn record_run(
        &self,
        actor: &Actor,
        at: i64,
        run: &NewRun,
        clues: &[NewClue],
        reviews: &[NewReview],
    ) -> Result<CompareRun> {
        self.discard_unfinished_runs(at - 86_400).await?;
        // The run's id is taken first, so that its clues can refer to it; the row is written
        // once they are all in.
        let run_id: i64 = {
            let mut tx = self.write.begin().await?;
            let r = sqlx::query(
                "INSERT INTO compare_run (as_of, ruleset, deliveries, summary, clue_count, review_count, millis, started_by, started_at)
                 VALUES ($1, $2, '', '', 0, 0, 0, $3, $4) RETURNING id",
            )
            .bind(&run.as_of)
            .bind(&run.ruleset)
            .bind(&actor.username)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            get(&r, "id")?
        };
        for batch in clues.chunks(20_000) {
            let mut tx = self.write.begin().await?;
            for c in batch {
                let r = sqlx::query(
                    "INSERT INTO risk_clue (run_id, rule, title, finding, severity, clue_key, household_id, township_id, subjects, method, confidence, evidence, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $13) RETURNING id",
                )
                .bind(run_id)
                .bind(&c.rule)
                .bind(&c.title)
                .bind(&c.finding)
                .bind(&c.severity)
                .bind(&c.clue_key)
                .bind(c.household_id)
                .bind(c.township_id)
                .bind(&c.subjects)
                .bind(&c.method)
                .bind(c.confidence)
                .bind(&c.evidence)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = get(&r, "id")?;
                for unit in &c.routes {
                    sqlx::query(
                        "INSERT INTO risk_clue_route (clue_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(unit)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        }
        for batch in reviews.chunks(5_000) {
            let mut tx = self.write.begin().await?;
            for v in batch {
                sqlx::query(
                    "INSERT INTO match_review (run_id, kind, source, row_no, raw_masked, name, pair_key, candidates, status)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')",
                )
                .bind(run_id)
                .bind(&v.kind)
                .bind(&v.source)
                .bind(v.row_no)
                .bind(&v.raw_masked)
                .bind(&v.name)
                .bind(&v.pair_key)
                .bind(&v.candidates)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "UPDATE compare_run SET deliveries = $1, summary = $2, clue_count = $3, review_count = $4, millis = $5 WHERE id = $6",
        )
        .bind(&run.deliveries)
        .bind(&run.summary)
        .bind(clues.len() as i64)
        .bind(reviews.len() as i64)
        .bind(run.millis)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            actor,
            at,
            "compare.run",
            &format!("compare_run:{run_id}"),
            None,
            Some(&json!({"as_of": run.as_of, "ruleset": run.ruleset, "deliveries": run.deliveries, "clues": clues.len(), "reviews": reviews.len()})),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM compare_run WHERE id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        run_row(&row)
    }

    /// Removes runs whose save started before `before` and never finished, with the clues,
    /// routes and review items they left.
    async fn discard_unfinished_runs(&self, before: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let runs = "SELECT id FROM compare_run WHERE summary = '' AND started_at < $1";
        for sql in [
            format!("DELETE FROM risk_clue_route WHERE clue_id IN (SELECT id FROM risk_clue WHERE run_id IN ({runs}))"),
            format!("DELETE FROM risk_clue WHERE run_id IN ({runs})"),
            format!("DELETE FROM match_review WHERE run_id IN ({runs})"),
            runs.replacen("SELECT id FROM", "DELETE FROM", 1),
        ] {
            sqlx::query(&sql).bind(before).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn compare_runs(&self, limit: i64) -> Result<Vec<CompareRun>> {
        let rows =
            sqlx::query("SELECT * FROM compare_run WHERE summary <> '' ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(run_row).collect()
    }

    pub async fn compare_run(&self, id: i64) -> Result<CompareRun> {
        let r = sqlx::query("SELECT * FROM compare_run WHERE id = $1 AND summary <> ''")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该比对任务"))?;
        run_row(&r)
    }

    // ---- clues ----

    /// Clues by filter, newest first, and how many match in all.
    pub async fn clues(&self, f: &ClueFilter) -> Result<(Vec<RiskClue>, i64)> {
        let mut cond = vec![format!("c.run_id IN {SAVED_RUNS}")];
        if let Some(units) = &f.units {
            if units.is_empty() {
                cond.push("1 = 0".into());
            } else {
                let list = units
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                cond.push(format!(
                    "(c.township_id IN ({list}) OR EXISTS (SELECT 1 FROM risk_clue_route x WHERE x.clue_id = c.id AND x.unit_id IN ({list})))"
                ));
            }
        }
        cond.push("(CAST($1 AS TEXT) IS NULL OR c.rule = $1)".into());
        cond.push("(CAST($2 AS TEXT) IS NULL OR c.status = $2)".into());
        cond.push("(CAST($3 AS BIGINT) IS NULL OR c.township_id = $3)".into());
        cond.push("(CAST($4 AS TEXT) IS NULL OR c.method = $4)".into());
        cond.push("(CAST($5 AS BIGINT) IS NULL OR c.run_id = $5)".into());
        let cond = cond.join(" AND ");
        let total = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM risk_clue c WHERE {cond}"
        ))
        .bind(f.rule.as_deref())
        .bind(f.status.as_deref())
        .bind(f.township_id)
        .bind(f.method.as_deref())
        .bind(f.run_id)
        .fetch_one(&self.read)
        .await?;
        let rows = sqlx::query(&format!(
            "{CLUE_SELECT} WHERE {cond} ORDER BY c.id DESC LIMIT $6 OFFSET $7"
        ))
        .bind(f.rule.as_deref())
        .bind(f.status.as_deref())
        .bind(f.township_id)
        .bind(f.method.as_deref())
        .bind(f.run_id)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.read)
        .await?;
        let mut clues: Vec<RiskClue> = rows.iter().map(clue_row).collect::<Result<_>>()?;
        self.fill_departments(&mut clues).await?;
        Ok((clues, get(&total, "n")?))
    }

    /// Names the departments each clue goes to.
    async fn fill_departments(&self, clues: &mut [RiskClue]) -> Result<()> {
        if clues.is_empty() {
            return Ok(());
        }
        let list = clues
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT r.clue_id, u.name FROM risk_clue_route r JOIN unit u ON u.id = r.unit_id
             WHERE r.clue_id IN ({list}) ORDER BY u.id"
        ))
        .fetch_all(&self.read)
        .await?;
        let mut names: HashMap<i64, Vec<String>> = HashMap::new();
        for r in &rows {
            names
                .entry(get(r, "clue_id")?)
                .or_default()
                .push(get(r, "name")?);
        }
        for c in clues {
            if let Some(n) = names.get(&c.id) {
                c.departments = n.join("、");
            }
        }
        Ok(())
    }

    pub async fn clue(&self, id: i64) -> Result<RiskClue> {
        let r = sqlx::query(&format!(
            "{CLUE_SELECT} WHERE c.id = $1 AND c.run_id IN {SAVED_RUNS}"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("该风险线索"))?;
        let mut c = [clue_row(&r)?];
        self.fill_departments(&mut c).await?;
        let [c] = c;
        Ok(c)
    }

    /// The departments a clue goes to, by id.
    pub async fn clue_routes(&self, id: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT unit_id FROM risk_clue_route WHERE clue_id = $1")
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| get(r, "unit_id")).collect()
    }

    /// Records whether an open clue proved true (`confirmed`) or not (`dismissed`).
    pub async fn set_clue_outcome(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        confirmed: bool,
        note: &str,
    ) -> Result<RiskClue> {
        let mut tx = self.write.begin().await?;
        let status = if confirmed { "confirmed" } else { "dismissed" };
        let done = sqlx::query(
            "UPDATE risk_clue SET status = $1, outcome_by = $2, outcome_at = $3, outcome_note = $4
             WHERE id = $5 AND status = 'open'",
        )
        .bind(status)
        .bind(&actor.username)
        .bind(at)
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "该线索已有核实结果，不能重复核实".into(),
            ));
        }
        append(
            &mut tx,
            actor,
            at,
            "clue.outcome",
            &format!("risk_clue:{id}"),
            None,
            Some(&json!({"status": status, "note": note})),
        )
        .await?;
        tx.commit().await?;
        self.clue(id).await
    }

    /// Places an open clue that has no household in a township, once its address is known.
    pub async fn set_clue_township(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        township_id: i64,
    ) -> Result<RiskClue> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE risk_clue SET township_id = $1
             WHERE id = $2 AND status = 'open' AND household_id IS NULL AND warning_id IS NULL",
        )
        .bind(township_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "只有未核实、未转为预警且不在名单中的线索可以指派乡镇".into(),
            ));
        }
        append(
            &mut tx,
            actor,
            at,
            "clue.township",
            &format!("risk_clue:{id}"),
            None,
            Some(&json!({"township_id": township_id})),
        )
        .await?;
        tx.commit().await?;
        self.clue(id).await
    }

    /// Links a clue to the warning it was handed off as.
    pub async fn link_clue_warning(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        warning_id: i64,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE risk_clue SET warning_id = $1 WHERE id = $2 AND warning_id IS NULL",
        )
        .bind(warning_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("该线索已转为预警".into()));
        }
        append(
            &mut tx,
            actor,
            at,
            "clue.warning",
            &format!("risk_clue:{id}"),
            None,
            Some(&json!({"warning_id": warning_id})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Each rule's clues by outcome.
    pub async fn clue_tallies(&self) -> Result<Vec<RuleTally>> {
        let rows = sqlx::query(&format!(
            "SELECT rule,
                SUM(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END) AS confirmed,
                SUM(CASE WHEN status = 'dismissed' THEN 1 ELSE 0 END) AS dismissed,
                SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open
             FROM risk_clue WHERE run_id IN {SAVED_RUNS} GROUP BY rule ORDER BY rule",
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RuleTally {
                    rule: get(r, "rule")?,
                    confirmed: get(r, "confirmed")?,
                    dismissed: get(r, "dismissed")?,
                    open: get(r, "open")?,
                })
            })
            .collect()
    }

    // ---- review queue ----

    /// Review items by status (all with `None`), newest first, a page at a time, and how
    /// many there are in all.
    pub async fn reviews(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<MatchReview>, i64)> {
        let cond = format!("run_id IN {SAVED_RUNS} AND (CAST($1 AS TEXT) IS NULL OR status = $1)");
        let total = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM match_review WHERE {cond}"
        ))
        .bind(status)
        .fetch_one(&self.read)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM match_review WHERE {cond} ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await?;
        Ok((
            rows.iter().map(review_row).collect::<Result<_>>()?,
            get(&total, "n")?,
        ))
    }

    pub async fn review(&self, id: i64) -> Result<MatchReview> {
        let r = sqlx::query(&format!(
            "SELECT * FROM match_review WHERE id = $1 AND run_id IN {SAVED_RUNS}"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("该待确认匹配"))?;
        review_row(&r)
    }

    /// A person's decision on a pending review item: the member it is, or none.
    pub async fn decide_review(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        person_id: Option<i64>,
    ) -> Result<MatchReview> {
        let mut tx = self.write.begin().await?;
        let status = if person_id.is_some() {
            "confirmed"
        } else {
            "rejected"
        };
        let done = sqlx::query(
            "UPDATE match_review SET status = $1, person_id = $2, decided_by = $3, decided_at = $4
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status)
        .bind(person_id)
        .bind(&actor.username)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("该匹配已确认或已否决".into()));
        }
        append(
            &mut tx,
            actor,
            at,
            "match.decide",
            &format!("match_review:{id}"),
            None,
            Some(&json!({"status": status, "person_id": person_id})),
        )
        .await?;
        tx.commit().await?;
        self.review(id).await
    }

    /// Decided pairs, newest decision first: (pair key, the member's sealed ID if confirmed).
    pub async fn decided_pairs(&self) -> Result<Vec<(String, Option<String>)>> {
        let rows = sqlx::query(&format!(
            "SELECT m.pair_key, p.id_sealed FROM match_review m LEFT JOIN person p ON p.id = m.person_id
             WHERE m.run_id IN {SAVED_RUNS} AND m.status <> 'pending' ORDER BY m.decided_at DESC, m.id DESC",
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "pair_key")?, get(r, "id_sealed")?)))
            .collect()
    }

    /// Pending review items already queued, by pair key (a later run does not queue them again).
    pub async fn pending_pair_keys(&self) -> Result<std::collections::HashSet<String>> {
        let rows = sqlx::query(&format!(
            "SELECT pair_key FROM match_review WHERE run_id IN {SAVED_RUNS} AND status = 'pending'"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| get(r, "pair_key")).collect()
    }
}

fn run_row(r: &AnyRow) -> Result<CompareRun> {
    Ok(CompareRun {
        id: get(r, "id")?,
        as_of: get(r, "as_of")?,
        ruleset: get(r, "ruleset")?,
        deliveries: get(r, "deliveries")?,
        summary: get(r, "summary")?,
        clue_count: get(r, "clue_count")?,
        review_count: get(r, "review_count")?,
        millis: get(r, "millis")?,
        started_by: get(r, "started_by")?,
        started_at: get(r, "started_at")?,
    })
}
