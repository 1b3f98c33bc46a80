//! Storage of the monthly activities: inspection plans, monthly reports, the problem list and
//! rectification ledger, township scores, meetings and their follow-up tasks, assignments,
//! verifications, required submissions and month closes.

use chrono::NaiveDate;
use liandong_domain::monthly::{
    AssignmentKind, AssignmentStatus, Attendance, FactRef, FindingOutcome, MeetingKind,
    ProblemSource, ProblemStatus, ReportKind, TaskStatus,
};
use liandong_domain::scoring::RuleCode;
use liandong_domain::Month;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::scoring::{insert_proposal, lock_of};
use crate::{conflict, flag, get, Actor, NewScoreEvent, Result, Scope, Store, StoreError};

fn invalid(what: &str) -> StoreError {
    StoreError::Invalid(what.to_owned())
}

fn coded<T>(s: &str, from: fn(&str) -> Option<T>) -> Result<T> {
    from(s).ok_or_else(|| invalid(s))
}

fn month_of(r: &AnyRow, col: &str) -> Result<Month> {
    let s: String = get(r, col)?;
    s.parse().map_err(|_| invalid(&s))
}

fn date_of(r: &AnyRow, col: &str) -> Result<NaiveDate> {
    let s: String = get(r, col)?;
    s.parse().map_err(|_| invalid(&s))
}

fn all<T>(rows: &[AnyRow], f: fn(&AnyRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// 自查方案和评分细则, one saved version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectionPlan {
    pub id: i64,
    pub department_id: i64,
    pub title: String,
    pub body: String,
    pub saved_by: String,
    pub saved_at: i64,
}

fn plan_row(r: &AnyRow) -> Result<InspectionPlan> {
    Ok(InspectionPlan {
        id: get(r, "id")?,
        department_id: get(r, "department_id")?,
        title: get(r, "title")?,
        body: get(r, "body")?,
        saved_by: get(r, "saved_by")?,
        saved_at: get(r, "saved_at")?,
    })
}

/// A department's monthly report (月自查报告 or 月小结).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyReport {
    pub id: i64,
    pub department_id: i64,
    pub department: String,
    pub month: Month,
    pub kind: ReportKind,
    pub body: String,
    pub submitted_by: String,
    /// The first submission, which decides whether it was on time.
    pub submitted_at: i64,
    pub updated_at: i64,
}

fn report_row(r: &AnyRow) -> Result<MonthlyReport> {
    Ok(MonthlyReport {
        id: get(r, "id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        month: month_of(r, "month")?,
        kind: coded(&get::<String>(r, "kind")?, ReportKind::from_code)?,
        body: get(r, "body")?,
        submitted_by: get(r, "submitted_by")?,
        submitted_at: get(r, "submitted_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

/// A problem of the problem list and rectification ledger (问题清单、整改台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub id: i64,
    pub department_id: i64,
    pub department: String,
    /// The month in which it was found.
    pub month: Month,
    pub duty_no: i64,
    pub duty_text: String,
    pub source: ProblemSource,
    pub description: String,
    /// 整改措施
    pub measure: String,
    /// 责任人
    pub responsible: String,
    /// 整改时限
    pub deadline: NaiveDate,
    /// 需长期整改
    pub long_term: bool,
    pub status: ProblemStatus,
    /// The department's closing evidence (整改佐证).
    pub evidence: Option<String>,
    pub rectified_by: Option<String>,
    pub rectified_at: Option<i64>,
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    /// How many times verification found it open again.
    pub reopened: i64,
    pub created_by: String,
    pub created_at: i64,
}

fn problem_row(r: &AnyRow) -> Result<Problem> {
    Ok(Problem {
        id: get(r, "id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        month: month_of(r, "month")?,
        duty_no: get(r, "duty_no")?,
        duty_text: get(r, "duty_text")?,
        source: coded(&get::<String>(r, "source")?, ProblemSource::from_code)?,
        description: get(r, "description")?,
        measure: get(r, "measure")?,
        responsible: get(r, "responsible")?,
        deadline: date_of(r, "deadline")?,
        long_term: flag(r, "long_term")?,
        status: coded(&get::<String>(r, "status")?, ProblemStatus::from_code)?,
        evidence: get(r, "evidence")?,
        rectified_by: get(r, "rectified_by")?,
        rectified_at: get(r, "rectified_at")?,
        closed_by: get(r, "closed_by")?,
        closed_at: get(r, "closed_at")?,
        reopened: get(r, "reopened")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

const PROBLEM_SELECT: &str =
    "SELECT p.*, u.name AS department FROM problem p JOIN unit u ON u.id = p.department_id";

/// A problem to record; the duty is checked by the caller against the department's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProblem {
    pub department_id: i64,
    pub month: Month,
    pub duty_no: i64,
    pub duty_text: String,
    pub source: ProblemSource,
    pub description: String,
    pub measure: String,
    pub responsible: String,
    pub deadline: NaiveDate,
    pub long_term: bool,
}

/// Which problems to list.
#[derive(Debug, Clone, Default)]
pub struct ProblemFilter {
    pub department_id: Option<i64>,
    pub month: Option<Month>,
    pub status: Option<ProblemStatus>,
}

/// A close-type department's score of one township for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownshipScore {
    pub department_id: i64,
    pub month: Month,
    pub township_id: i64,
    pub township: String,
    pub score: Decimal,
    pub note: String,
    pub entered_by: String,
    pub entered_at: i64,
}

fn township_score_row(r: &AnyRow) -> Result<TownshipScore> {
    let score: String = get(r, "score")?;
    Ok(TownshipScore {
        department_id: get(r, "department_id")?,
        month: month_of(r, "month")?,
        township_id: get(r, "township_id")?,
        township: get(r, "township")?,
        score: score.parse().map_err(|_| invalid(&score))?,
        note: get(r, "note")?,
        entered_by: get(r, "entered_by")?,
        entered_at: get(r, "entered_at")?,
    })
}

/// One of the office's meetings (例会).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meeting {
    pub id: i64,
    pub month: Month,
    pub kind: MeetingKind,
    pub held_on: NaiveDate,
    pub title: String,
    pub agenda: String,
    pub minutes: String,
    pub created_by: String,
    pub created_at: i64,
}

fn meeting_row(r: &AnyRow) -> Result<Meeting> {
    Ok(Meeting {
        id: get(r, "id")?,
        month: month_of(r, "month")?,
        kind: coded(&get::<String>(r, "kind")?, MeetingKind::from_code)?,
        held_on: date_of(r, "held_on")?,
        title: get(r, "title")?,
        agenda: get(r, "agenda")?,
        minutes: get(r, "minutes")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttendanceRecord {
    pub meeting_id: i64,
    pub department_id: i64,
    pub department: String,
    pub attendance: Attendance,
    pub note: String,
}

fn attendance_row(r: &AnyRow) -> Result<AttendanceRecord> {
    Ok(AttendanceRecord {
        meeting_id: get(r, "meeting_id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        attendance: coded(&get::<String>(r, "attendance")?, Attendance::from_code)?,
        note: get(r, "note")?,
    })
}

/// A follow-up task decided at a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpTask {
    pub id: i64,
    pub meeting_id: i64,
    pub department_id: i64,
    pub department: String,
    pub title: String,
    pub due_on: NaiveDate,
    pub status: TaskStatus,
    pub result: Option<String>,
    pub done_by: Option<String>,
    pub done_at: Option<i64>,
}

fn task_row(r: &AnyRow) -> Result<FollowUpTask> {
    Ok(FollowUpTask {
        id: get(r, "id")?,
        meeting_id: get(r, "meeting_id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        title: get(r, "title")?,
        due_on: date_of(r, "due_on")?,
        status: coded(&get::<String>(r, "status")?, TaskStatus::from_code)?,
        result: get(r, "result")?,
        done_by: get(r, "done_by")?,
        done_at: get(r, "done_at")?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeeting {
    pub month: Month,
    pub kind: MeetingKind,
    pub held_on: NaiveDate,
    pub title: String,
    pub agenda: String,
    pub minutes: String,
}

/// An assignment (交办) or petition / opinion incident handed to a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub id: i64,
    pub kind: AssignmentKind,
    pub department_id: i64,
    pub department: String,
    pub title: String,
    pub detail: String,
    pub deadline: NaiveDate,
    pub status: AssignmentStatus,
    pub report: Option<String>,
    pub reported_by: Option<String>,
    pub reported_at: Option<i64>,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

fn assignment_row(r: &AnyRow) -> Result<Assignment> {
    Ok(Assignment {
        id: get(r, "id")?,
        kind: coded(&get::<String>(r, "kind")?, AssignmentKind::from_code)?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        title: get(r, "title")?,
        detail: get(r, "detail")?,
        deadline: date_of(r, "deadline")?,
        status: coded(&get::<String>(r, "status")?, AssignmentStatus::from_code)?,
        report: get(r, "report")?,
        reported_by: get(r, "reported_by")?,
        reported_at: get(r, "reported_at")?,
        confirmed_by: get(r, "confirmed_by")?,
        confirmed_at: get(r, "confirmed_at")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

const ASSIGNMENT_SELECT: &str =
    "SELECT a.*, u.name AS department FROM assignment a JOIN unit u ON u.id = a.department_id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub kind: AssignmentKind,
    pub department_id: i64,
    pub title: String,
    pub detail: String,
    pub deadline: NaiveDate,
}

/// A monthly verification (月核查).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub id: i64,
    pub month: Month,
    /// The members of the verification team (核查组成员).
    pub team: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

fn verification_row(r: &AnyRow) -> Result<Verification> {
    Ok(Verification {
        id: get(r, "id")?,
        month: month_of(r, "month")?,
        team: get(r, "team")?,
        note: get(r, "note")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

/// A random draw of departments and ledger problems to spot-check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Draw {
    pub id: i64,
    pub verification_id: i64,
    pub seed: String,
    pub departments: Vec<i64>,
    pub problems: Vec<i64>,
    pub drawn_by: String,
    pub drawn_at: i64,
}

fn ids(s: &str) -> Result<Vec<i64>> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().map_err(|_| invalid(x)))
        .collect()
}

fn joined(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn draw_row(r: &AnyRow) -> Result<Draw> {
    Ok(Draw {
        id: get(r, "id")?,
        verification_id: get(r, "verification_id")?,
        seed: get(r, "seed")?,
        departments: ids(&get::<String>(r, "departments")?)?,
        problems: ids(&get::<String>(r, "problems")?)?,
        drawn_by: get(r, "drawn_by")?,
        drawn_at: get(r, "drawn_at")?,
    })
}

/// A finding of a verification, with the event it proposed, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: i64,
    pub verification_id: i64,
    pub department_id: i64,
    pub department: String,
    pub problem_id: Option<i64>,
    pub assignment_id: Option<i64>,
    pub outcome: FindingOutcome,
    pub rule: Option<RuleCode>,
    pub description: String,
    pub evidence: String,
    pub event_id: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

fn finding_row(r: &AnyRow) -> Result<Finding> {
    let rule: Option<String> = get(r, "rule")?;
    Ok(Finding {
        id: get(r, "id")?,
        verification_id: get(r, "verification_id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        problem_id: get(r, "problem_id")?,
        assignment_id: get(r, "assignment_id")?,
        outcome: coded(&get::<String>(r, "outcome")?, FindingOutcome::from_code)?,
        rule: rule
            .map(|s| coded(&s, |x| x.parse::<RuleCode>().ok()))
            .transpose()?,
        description: get(r, "description")?,
        evidence: get(r, "evidence")?,
        event_id: get(r, "event_id")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
    })
}

/// A finding to record. A new problem found by verification comes with its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    pub verification_id: i64,
    pub department_id: i64,
    pub problem_id: Option<i64>,
    pub assignment_id: Option<i64>,
    pub outcome: FindingOutcome,
    pub description: String,
    pub evidence: String,
    pub new_problem: Option<NewProblem>,
}

/// What the office requires departments to submit by when (资料报送).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionRequirement {
    pub id: i64,
    pub title: String,
    pub detail: String,
    /// The deadline, a Unix timestamp.
    pub due_at: i64,
    pub created_by: String,
    pub created_at: i64,
    pub targets: Vec<SubmissionTarget>,
}

/// One department's part of a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionTarget {
    pub requirement_id: i64,
    pub department_id: i64,
    pub department: String,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<i64>,
    pub note: Option<String>,
}

fn target_row(r: &AnyRow) -> Result<SubmissionTarget> {
    Ok(SubmissionTarget {
        requirement_id: get(r, "requirement_id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        submitted_by: get(r, "submitted_by")?,
        submitted_at: get(r, "submitted_at")?,
        note: get(r, "note")?,
    })
}

/// A closed month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthClose {
    pub month: Month,
    pub closed_by: String,
    pub closed_at: i64,
    pub proposals: i64,
}

fn close_row(r: &AnyRow) -> Result<MonthClose> {
    Ok(MonthClose {
        month: month_of(r, "month")?,
        closed_by: get(r, "closed_by")?,
        closed_at: get(r, "closed_at")?,
        proposals: get(r, "proposals")?,
    })
}

/// The raw facts of a month, for the domain's month close.
#[derive(Debug, Clone, Default)]
pub struct MonthRecords {
    pub reports: Vec<MonthlyReport>,
    pub problems_found: Vec<(i64, i64)>,
    pub township_scores: Vec<(i64, i64)>,
    /// Problems whose deadline falls in the month.
    pub problems_due: Vec<Problem>,
    pub attendance: Vec<AttendanceRecord>,
    pub submissions: Vec<(SubmissionTarget, i64)>,
    pub assignments_due: Vec<Assignment>,
    /// (rule, fact) of every event not rejected that rests on a fact, and (rule, department)
    /// of this month's events counted once a month.
    pub facts: Vec<(String, String)>,
    pub monthly_events: Vec<(String, i64)>,
}

async fn closed_in(conn: &mut AnyConnection, month: Month) -> Result<Option<MonthClose>> {
    sqlx::query("SELECT * FROM month_close WHERE month = $1")
        .bind(month.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| close_row(&r))
        .transpose()
}

/// Refuses a change to what a month's close rests on once the month is closed.
async fn refuse_if_closed(conn: &mut AnyConnection, month: Month) -> Result<()> {
    if let Some(c) = closed_in(conn, month).await? {
        return Err(StoreError::Conflict(format!(
            "{}已由 {} 关账，不能再修改该月的自查报告、问题清单和乡镇评分",
            month.label(),
            c.closed_by
        )));
    }
    Ok(())
}

async fn problem_in(conn: &mut AnyConnection, id: i64) -> Result<Problem> {
    let r = sqlx::query(&format!("{PROBLEM_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("该问题"))?;
    problem_row(&r)
}

async fn assignment_in(conn: &mut AnyConnection, id: i64) -> Result<Assignment> {
    let r = sqlx::query(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("该交办事项"))?;
    assignment_row(&r)
}

async fn insert_problem(
    conn: &mut AnyConnection,
    actor: &Actor,
    at: i64,
    p: &NewProblem,
    action: &str,
) -> Result<Problem> {
    let r = sqlx::query(
        "INSERT INTO problem (department_id, month, duty_no, duty_text, source, description, measure, responsible, deadline, long_term, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12) RETURNING id",
    )
    .bind(p.department_id)
    .bind(p.month.to_string())
    .bind(p.duty_no)
    .bind(&p.duty_text)
    .bind(p.source.code())
    .bind(&p.description)
    .bind(&p.measure)
    .bind(&p.responsible)
    .bind(p.deadline.to_string())
    .bind(i64::from(p.long_term))
    .bind(&actor.username)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = get(&r, "id")?;
    let stored = problem_in(conn, id).await?;
    append(
        conn,
        actor,
        at,
        action,
        &format!("problem:{id}"),
        None,
        Some(&json!(stored)),
    )
    .await?;
    Ok(stored)
}

/// Moves a problem to `status`, audited; `expect` lists the states it may come from.
async fn set_problem_status(
    conn: &mut AnyConnection,
    actor: &Actor,
    at: i64,
    id: i64,
    expect: &[ProblemStatus],
    to: ProblemStatus,
    evidence: Option<&str>,
) -> Result<Problem> {
    let before = problem_in(conn, id).await?;
    if !expect.contains(&before.status) {
        return Err(StoreError::Conflict(format!(
            "问题第 {id} 号当前为“{}”，不能改为“{}”",
            before.status.label(),
            to.label()
        )));
    }
    let q = match to {
        ProblemStatus::Rectified => sqlx::query(
            "UPDATE problem SET status = 'rectified', evidence = $1, rectified_by = $2, rectified_at = $3 WHERE id = $4",
        )
        .bind(evidence)
        .bind(&actor.username)
        .bind(at),
        ProblemStatus::Closed => sqlx::query(
            "UPDATE problem SET status = 'closed', closed_by = $1, closed_at = $2 WHERE id = $3",
        )
        .bind(&actor.username)
        .bind(at),
        ProblemStatus::Open => sqlx::query(
            "UPDATE problem SET status = 'open', rectified_by = NULL, rectified_at = NULL, closed_by = NULL, closed_at = NULL, reopened = reopened + 1 WHERE id = $1",
        ),
    };
    q.bind(id).execute(&mut *conn).await?;
    let after = problem_in(conn, id).await?;
    let action = match to {
        ProblemStatus::Rectified => "problem.rectify",
        ProblemStatus::Closed => "problem.close",
        ProblemStatus::Open => "problem.reopen",
    };
    append(
        conn,
        actor,
        at,
        action,
        &format!("problem:{id}"),
        Some(&json!({"status": before.status, "evidence": before.evidence})),
        Some(&json!({"status": after.status, "evidence": after.evidence})),
    )
    .await?;
    Ok(after)
}

impl Store {
    // ---- inspection plans ----

    /// The saved versions of a department's plan, newest first.
    pub async fn inspection_plans(&self, department_id: i64) -> Result<Vec<InspectionPlan>> {
        let rows =
            sqlx::query("SELECT * FROM inspection_plan WHERE department_id = $1 ORDER BY id DESC")
                .bind(department_id)
                .fetch_all(&self.read)
                .await?;
        all(&rows, plan_row)
    }

    pub async fn save_inspection_plan(
        &self,
        actor: &Actor,
        at: i64,
        department_id: i64,
        title: &str,
        body: &str,
    ) -> Result<InspectionPlan> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO inspection_plan (department_id, title, body, saved_by, saved_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(department_id)
        .bind(title)
        .bind(body)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let plan = plan_row(&r)?;
        append(
            &mut tx,
            actor,
            at,
            "inspection_plan.save",
            &format!("unit:{department_id}"),
            None,
            Some(&json!(plan)),
        )
        .await?;
        tx.commit().await?;
        Ok(plan)
    }

    // ---- monthly reports ----

    /// Reports of a month in `scope`.
    pub async fn monthly_reports(&self, scope: &Scope, month: Month) -> Result<Vec<MonthlyReport>> {
        let rows = sqlx::query(&format!(
            "SELECT r.*, u.name AS department FROM monthly_report r JOIN unit u ON u.id = r.department_id
             WHERE r.month = $1 AND {} ORDER BY u.sort_order, r.kind",
            scope.condition("r.department_id")
        ))
        .bind(month.to_string())
        .fetch_all(&self.read)
        .await?;
        all(&rows, report_row)
    }

    pub async fn monthly_report(&self, id: i64) -> Result<MonthlyReport> {
        let r = sqlx::query(
            "SELECT r.*, u.name AS department FROM monthly_report r JOIN unit u ON u.id = r.department_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("该报告"))?;
        report_row(&r)
    }

    /// Submits or revises a report; the first submission's time stays. Refused once the month
    /// is closed.
    pub async fn save_monthly_report(
        &self,
        actor: &Actor,
        at: i64,
        department_id: i64,
        month: Month,
        kind: ReportKind,
        body: &str,
    ) -> Result<MonthlyReport> {
        let mut tx = self.write.begin().await?;
        refuse_if_closed(&mut tx, month).await?;
        let r = sqlx::query(
            "INSERT INTO monthly_report (department_id, month, kind, body, submitted_by, submitted_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (department_id, month, kind) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(department_id)
        .bind(month.to_string())
        .bind(kind.code())
        .bind(body)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        append(
            &mut tx,
            actor,
            at,
            "monthly_report.save",
            &format!("monthly_report:{id}"),
            None,
            Some(&json!({"department_id": department_id, "month": month, "kind": kind, "body": body})),
        )
        .await?;
        tx.commit().await?;
        self.monthly_report(id).await
    }

    // ---- problems ----

    pub async fn problems(&self, scope: &Scope, f: &ProblemFilter) -> Result<Vec<Problem>> {
        let rows = sqlx::query(&format!(
            "{PROBLEM_SELECT} WHERE {} AND (CAST($1 AS BIGINT) IS NULL OR p.department_id = $1)
               AND (CAST($2 AS TEXT) IS NULL OR p.month = $2) AND (CAST($3 AS TEXT) IS NULL OR p.status = $3)
             ORDER BY p.month DESC, u.sort_order, p.id",
            scope.condition("p.department_id")
        ))
        .bind(f.department_id)
        .bind(f.month.map(|m| m.to_string()))
        .bind(f.status.map(|s| s.code()))
        .fetch_all(&self.read)
        .await?;
        all(&rows, problem_row)
    }

    pub async fn problem(&self, id: i64) -> Result<Problem> {
        let mut conn = self.read.acquire().await?;
        problem_in(&mut conn, id).await
    }

    /// Records problems in one transaction: all or none. With `file_hash`, they come from an
    /// imported file, which is recorded so that the same file cannot be imported twice.
    pub async fn add_problems(
        &self,
        actor: &Actor,
        at: i64,
        problems: &[NewProblem],
        file_hash: Option<&str>,
    ) -> Result<Vec<Problem>> {
        let mut tx = self.write.begin().await?;
        let mut months: Vec<Month> = problems.iter().map(|p| p.month).collect();
        months.sort_unstable();
        months.dedup();
        for m in months {
            refuse_if_closed(&mut tx, m).await?;
        }
        if let Some(hash) = file_hash {
            sqlx::query("INSERT INTO import_batch (kind, file_hash, rows, imported_by, imported_at) VALUES ('problems', $1, $2, $3, $4)")
                .bind(hash)
                .bind(problems.len() as i64)
                .bind(&actor.username)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, "该文件已导入过"))?;
        }
        let action = if file_hash.is_some() {
            "problem.import"
        } else {
            "problem.create"
        };
        let mut out = Vec::with_capacity(problems.len());
        for p in problems {
            out.push(insert_problem(&mut tx, actor, at, p, action).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The department reports a problem rectified, with its evidence.
    pub async fn rectify_problem(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        evidence: &str,
    ) -> Result<Problem> {
        let mut tx = self.write.begin().await?;
        let p = set_problem_status(
            &mut tx,
            actor,
            at,
            id,
            &[ProblemStatus::Open],
            ProblemStatus::Rectified,
            Some(evidence),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The office closes (销号) a rectified problem.
    pub async fn close_problem(&self, actor: &Actor, at: i64, id: i64) -> Result<Problem> {
        let mut tx = self.write.begin().await?;
        let p = set_problem_status(
            &mut tx,
            actor,
            at,
            id,
            &[ProblemStatus::Rectified],
            ProblemStatus::Closed,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    // ---- township scores ----

    /// Township scores of a month, of one department or all.
    pub async fn township_scores(
        &self,
        month: Month,
        department_id: Option<i64>,
    ) -> Result<Vec<TownshipScore>> {
        let rows = sqlx::query(
            "SELECT s.*, t.name AS township FROM township_score s JOIN unit t ON t.id = s.township_id
             WHERE s.month = $1 AND (CAST($2 AS BIGINT) IS NULL OR s.department_id = $2)
             ORDER BY s.department_id, t.sort_order",
        )
        .bind(month.to_string())
        .bind(department_id)
        .fetch_all(&self.read)
        .await?;
        all(&rows, township_score_row)
    }

    /// Replaces a department's township scores of a month with `scores`.
    pub async fn save_township_scores(
        &self,
        actor: &Actor,
        at: i64,
        department_id: i64,
        month: Month,
        scores: &[(i64, Decimal, String)],
    ) -> Result<Vec<TownshipScore>> {
        let before = self.township_scores(month, Some(department_id)).await?;
        let mut tx = self.write.begin().await?;
        refuse_if_closed(&mut tx, month).await?;
        sqlx::query("DELETE FROM township_score WHERE department_id = $1 AND month = $2")
            .bind(department_id)
            .bind(month.to_string())
            .execute(&mut *tx)
            .await?;
        for (township, score, note) in scores {
            sqlx::query(
                "INSERT INTO township_score (department_id, month, township_id, score, note, entered_by, entered_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(department_id)
            .bind(month.to_string())
            .bind(township)
            .bind(score.to_string())
            .bind(note)
            .bind(&actor.username)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        let after: Vec<_> = scores.iter().map(|(t, s, _)| json!([t, s])).collect();
        append(
            &mut tx,
            actor,
            at,
            "township_score.save",
            &format!("unit:{department_id}:{month}"),
            Some(&json!(before
                .iter()
                .map(|s| json!([s.township_id, s.score]))
                .collect::<Vec<_>>())),
            Some(&json!(after)),
        )
        .await?;
        tx.commit().await?;
        self.township_scores(month, Some(department_id)).await
    }

    // ---- meetings ----

    pub async fn meetings(&self, month: Option<Month>) -> Result<Vec<Meeting>> {
        let rows = sqlx::query(
            "SELECT * FROM meeting WHERE CAST($1 AS TEXT) IS NULL OR month = $1 ORDER BY held_on DESC, id DESC",
        )
        .bind(month.map(|m| m.to_string()))
        .fetch_all(&self.read)
        .await?;
        all(&rows, meeting_row)
    }

    pub async fn meeting(&self, id: i64) -> Result<Meeting> {
        let r = sqlx::query("SELECT * FROM meeting WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该会议"))?;
        meeting_row(&r)
    }

    pub async fn attendance(&self, meeting_id: i64) -> Result<Vec<AttendanceRecord>> {
        let rows = sqlx::query(
            "SELECT a.*, u.name AS department FROM meeting_attendance a JOIN unit u ON u.id = a.department_id
             WHERE a.meeting_id = $1 ORDER BY u.sort_order",
        )
        .bind(meeting_id)
        .fetch_all(&self.read)
        .await?;
        all(&rows, attendance_row)
    }

    pub async fn create_meeting(&self, actor: &Actor, at: i64, m: &NewMeeting) -> Result<Meeting> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO meeting (month, kind, held_on, title, agenda, minutes, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(m.month.to_string())
        .bind(m.kind.code())
        .bind(m.held_on.to_string())
        .bind(&m.title)
        .bind(&m.agenda)
        .bind(&m.minutes)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let meeting = meeting_row(&r)?;
        append(
            &mut tx,
            actor,
            at,
            "meeting.create",
            &format!("meeting:{}", meeting.id),
            None,
            Some(&json!(meeting)),
        )
        .await?;
        tx.commit().await?;
        Ok(meeting)
    }

    /// Records the minutes and the attendance of every department listed; refused once the
    /// meeting's month is closed.
    pub async fn record_meeting(
        &self,
        actor: &Actor,
        at: i64,
        meeting_id: i64,
        minutes: &str,
        attendance: &[(i64, Attendance, String)],
    ) -> Result<Vec<AttendanceRecord>> {
        let meeting = self.meeting(meeting_id).await?;
        let before = self.attendance(meeting_id).await?;
        let mut tx = self.write.begin().await?;
        if let Some(c) = closed_in(&mut tx, meeting.month).await? {
            return Err(StoreError::Conflict(format!(
                "{}已由 {} 关账，考勤不能再修改",
                meeting.month.label(),
                c.closed_by
            )));
        }
        sqlx::query("UPDATE meeting SET minutes = $1 WHERE id = $2")
            .bind(minutes)
            .bind(meeting_id)
            .execute(&mut *tx)
            .await?;
        for (dept, a, note) in attendance {
            sqlx::query(
                "INSERT INTO meeting_attendance (meeting_id, department_id, attendance, note) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (meeting_id, department_id) DO UPDATE SET attendance = excluded.attendance, note = excluded.note",
            )
            .bind(meeting_id)
            .bind(dept)
            .bind(a.code())
            .bind(note)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "meeting.record",
            &format!("meeting:{meeting_id}"),
            Some(&json!({"minutes": meeting.minutes, "attendance": before})),
            Some(&json!({"minutes": minutes, "attendance": attendance.iter().map(|(d, a, n)| json!([d, a, n])).collect::<Vec<_>>()})),
        )
        .await?;
        tx.commit().await?;
        self.attendance(meeting_id).await
    }

    pub async fn add_task(
        &self,
        actor: &Actor,
        at: i64,
        meeting_id: i64,
        department_id: i64,
        title: &str,
        due_on: NaiveDate,
    ) -> Result<FollowUpTask> {
        self.meeting(meeting_id).await?;
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO follow_up_task (meeting_id, department_id, title, due_on, status, created_by, created_at)
             VALUES ($1, $2, $3, $4, 'open', $5, $6) RETURNING id",
        )
        .bind(meeting_id)
        .bind(department_id)
        .bind(title)
        .bind(due_on.to_string())
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        append(
            &mut tx,
            actor,
            at,
            "task.create",
            &format!("task:{id}"),
            None,
            Some(&json!({"meeting_id": meeting_id, "department_id": department_id, "title": title, "due_on": due_on})),
        )
        .await?;
        tx.commit().await?;
        self.task(id).await
    }

    pub async fn task(&self, id: i64) -> Result<FollowUpTask> {
        let r = sqlx::query(
            "SELECT t.*, u.name AS department FROM follow_up_task t JOIN unit u ON u.id = t.department_id WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("该任务"))?;
        task_row(&r)
    }

    /// Follow-up tasks in `scope`, of one meeting or all, open ones first.
    pub async fn tasks(&self, scope: &Scope, meeting_id: Option<i64>) -> Result<Vec<FollowUpTask>> {
        let rows = sqlx::query(&format!(
            "SELECT t.*, u.name AS department FROM follow_up_task t JOIN unit u ON u.id = t.department_id
             WHERE {} AND (CAST($1 AS BIGINT) IS NULL OR t.meeting_id = $1) ORDER BY t.status DESC, t.due_on, t.id",
            scope.condition("t.department_id")
        ))
        .bind(meeting_id)
        .fetch_all(&self.read)
        .await?;
        all(&rows, task_row)
    }

    pub async fn complete_task(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        result: &str,
    ) -> Result<FollowUpTask> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE follow_up_task SET status = 'done', result = $1, done_by = $2, done_at = $3 WHERE id = $4 AND status = 'open'",
        )
        .bind(result)
        .bind(&actor.username)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "任务第 {id} 号已落实或不存在"
            )));
        }
        append(
            &mut tx,
            actor,
            at,
            "task.done",
            &format!("task:{id}"),
            None,
            Some(&json!({"result": result})),
        )
        .await?;
        tx.commit().await?;
        self.task(id).await
    }

    // ---- assignments ----

    pub async fn assignments(&self, scope: &Scope) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(&format!(
            "{ASSIGNMENT_SELECT} WHERE {} ORDER BY a.status DESC, a.deadline, a.id",
            scope.condition("a.department_id")
        ))
        .fetch_all(&self.read)
        .await?;
        all(&rows, assignment_row)
    }

    pub async fn assignment(&self, id: i64) -> Result<Assignment> {
        let mut conn = self.read.acquire().await?;
        assignment_in(&mut conn, id).await
    }

    pub async fn create_assignment(
        &self,
        actor: &Actor,
        at: i64,
        a: &NewAssignment,
    ) -> Result<Assignment> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO assignment (kind, department_id, title, detail, deadline, status, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) RETURNING id",
        )
        .bind(a.kind.code())
        .bind(a.department_id)
        .bind(&a.title)
        .bind(&a.detail)
        .bind(a.deadline.to_string())
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        let stored = assignment_in(&mut tx, id).await?;
        append(
            &mut tx,
            actor,
            at,
            "assignment.create",
            &format!("assignment:{id}"),
            None,
            Some(&json!(stored)),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The department reports an assignment rectified; verification confirms it later.
    pub async fn report_assignment(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        report: &str,
    ) -> Result<Assignment> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE assignment SET status = 'reported', report = $1, reported_by = $2, reported_at = $3 WHERE id = $4 AND status = 'open'",
        )
        .bind(report)
        .bind(&actor.username)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            let a = assignment_in(&mut tx, id).await?;
            return Err(StoreError::Conflict(format!(
                "交办事项第 {id} 号当前为“{}”，不能再报送整改",
                a.status.label()
            )));
        }
        append(
            &mut tx,
            actor,
            at,
            "assignment.report",
            &format!("assignment:{id}"),
            None,
            Some(&json!({"report": report})),
        )
        .await?;
        let a = assignment_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(a)
    }

    // ---- verification ----

    pub async fn verifications(&self) -> Result<Vec<Verification>> {
        let rows = sqlx::query("SELECT * FROM verification ORDER BY month DESC, id DESC")
            .fetch_all(&self.read)
            .await?;
        all(&rows, verification_row)
    }

    pub async fn verification(&self, id: i64) -> Result<Verification> {
        let r = sqlx::query("SELECT * FROM verification WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该核查"))?;
        verification_row(&r)
    }

    pub async fn create_verification(
        &self,
        actor: &Actor,
        at: i64,
        month: Month,
        team: &str,
        note: &str,
    ) -> Result<Verification> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO verification (month, team, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(month.to_string())
        .bind(team)
        .bind(note)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let v = verification_row(&r)?;
        append(
            &mut tx,
            actor,
            at,
            "verification.create",
            &format!("verification:{}", v.id),
            None,
            Some(&json!(v)),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Every draw of a verification, the one in force (latest) first.
    pub async fn draws(&self, verification_id: i64) -> Result<Vec<Draw>> {
        let rows = sqlx::query(
            "SELECT * FROM verification_draw WHERE verification_id = $1 ORDER BY id DESC",
        )
        .bind(verification_id)
        .fetch_all(&self.read)
        .await?;
        all(&rows, draw_row)
    }

    pub async fn record_draw(
        &self,
        actor: &Actor,
        at: i64,
        verification_id: i64,
        seed: u64,
        departments: &[i64],
        problems: &[i64],
    ) -> Result<Draw> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO verification_draw (verification_id, seed, departments, problems, drawn_by, drawn_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(verification_id)
        .bind(seed.to_string())
        .bind(joined(departments))
        .bind(joined(problems))
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let d = draw_row(&r)?;
        append(
            &mut tx,
            actor,
            at,
            "verification.draw",
            &format!("verification:{verification_id}"),
            None,
            Some(&json!(d)),
        )
        .await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn findings(
        &self,
        verification_id: Option<i64>,
        scope: &Scope,
    ) -> Result<Vec<Finding>> {
        let rows = sqlx::query(&format!(
            "SELECT f.*, u.name AS department FROM verification_finding f JOIN unit u ON u.id = f.department_id
             WHERE {} AND (CAST($1 AS BIGINT) IS NULL OR f.verification_id = $1) ORDER BY f.id",
            scope.condition("f.department_id")
        ))
        .bind(verification_id)
        .fetch_all(&self.read)
        .await?;
        all(&rows, finding_row)
    }

    /// Records a finding and, in the same transaction, what it implies: a problem or an
    /// assignment found still open is reopened, one found rectified is confirmed, a new
    /// problem enters the ledger, and `proposal` (if any) is proposed as a score event
    /// resting on the problem, the assignment or the finding itself.
    pub async fn add_finding(
        &self,
        actor: &Actor,
        at: i64,
        f: &NewFinding,
        proposal: Option<&NewScoreEvent>,
    ) -> Result<Finding> {
        let mut tx = self.write.begin().await?;
        let mut problem_id = f.problem_id;
        if let Some(p) = &f.new_problem {
            problem_id = Some(
                insert_problem(&mut tx, actor, at, p, "problem.create")
                    .await?
                    .id,
            );
        }
        if let (Some(pid), FindingOutcome::Unrectified) = (f.problem_id, f.outcome) {
            let open = [
                ProblemStatus::Open,
                ProblemStatus::Rectified,
                ProblemStatus::Closed,
            ];
            set_problem_status(&mut tx, actor, at, pid, &open, ProblemStatus::Open, None).await?;
        }
        if let Some(aid) = f.assignment_id {
            let before = assignment_in(&mut tx, aid).await?;
            let to = match f.outcome {
                FindingOutcome::Rectified => Some(AssignmentStatus::Confirmed),
                FindingOutcome::Unrectified => Some(AssignmentStatus::Open),
                _ => None,
            };
            if let Some(to) = to {
                if before.status == AssignmentStatus::Confirmed {
                    return Err(StoreError::Conflict(format!(
                        "交办事项第 {aid} 号已核查确认整改"
                    )));
                }
                sqlx::query(
                    "UPDATE assignment SET status = $1, confirmed_by = $2, confirmed_at = $3 WHERE id = $4",
                )
                .bind(to.code())
                .bind((to == AssignmentStatus::Confirmed).then_some(actor.username.as_str()))
                .bind((to == AssignmentStatus::Confirmed).then_some(at))
                .bind(aid)
                .execute(&mut *tx)
                .await?;
                append(
                    &mut tx,
                    actor,
                    at,
                    "assignment.verify",
                    &format!("assignment:{aid}"),
                    Some(&json!({"status": before.status})),
                    Some(&json!({"status": to})),
                )
                .await?;
            }
        }
        let r = sqlx::query(
            "INSERT INTO verification_finding (verification_id, department_id, problem_id, assignment_id, outcome, rule, description, evidence, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(f.verification_id)
        .bind(f.department_id)
        .bind(problem_id)
        .bind(f.assignment_id)
        .bind(f.outcome.code())
        .bind(proposal.map(|e| e.rule.code()))
        .bind(&f.description)
        .bind(&f.evidence)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        if let Some(e) = proposal {
            let fact = match (f.assignment_id, f.problem_id, e.rule) {
                (Some(a), _, RuleCode::AssignedUnrectified) => FactRef::Assignment(a),
                (_, Some(p), RuleCode::SelfcheckUnrectified) => FactRef::Problem(p),
                _ => FactRef::Finding {
                    verification_id: f.verification_id,
                    finding_id: id,
                },
            };
            if let Some(state) = lock_of(&mut tx, e.month.quarter()).await? {
                return Err(StoreError::Locked(Box::new(state)));
            }
            let event = insert_proposal(&mut tx, actor, at, e, &fact.to_string()).await?;
            sqlx::query("UPDATE verification_finding SET event_id = $1 WHERE id = $2")
                .bind(event.id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(
            "SELECT f.*, u.name AS department FROM verification_finding f JOIN unit u ON u.id = f.department_id WHERE f.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let finding = finding_row(&r)?;
        append(
            &mut tx,
            actor,
            at,
            "verification.finding",
            &format!("verification:{}", f.verification_id),
            None,
            Some(&json!(finding)),
        )
        .await?;
        tx.commit().await?;
        if proposal.is_some() {
            self.scoring_changed();
        }
        Ok(finding)
    }

    // ---- required submissions ----

    /// Requirements with a part for a unit in `scope`, with those parts, newest first.
    pub async fn requirements(&self, scope: &Scope) -> Result<Vec<SubmissionRequirement>> {
        self.load_requirements(scope, None).await
    }

    /// One requirement, if it has a part for a unit in `scope`.
    pub async fn requirement(&self, scope: &Scope, id: i64) -> Result<SubmissionRequirement> {
        self.load_requirements(scope, Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound("该报送任务"))
    }

    async fn load_requirements(
        &self,
        scope: &Scope,
        id: Option<i64>,
    ) -> Result<Vec<SubmissionRequirement>> {
        let rows = sqlx::query(&format!(
            "SELECT r.* FROM submission_requirement r WHERE (CAST($1 AS BIGINT) IS NULL OR r.id = $1) AND EXISTS
               (SELECT 1 FROM submission_target t WHERE t.requirement_id = r.id AND {})
             ORDER BY r.due_at DESC, r.id DESC",
            scope.condition("t.department_id")
        ))
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        let targets = sqlx::query(&format!(
            "SELECT t.*, u.name AS department FROM submission_target t JOIN unit u ON u.id = t.department_id
             WHERE (CAST($1 AS BIGINT) IS NULL OR t.requirement_id = $1) AND {} ORDER BY u.sort_order",
            scope.condition("t.department_id")
        ))
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        let targets = all(&targets, target_row)?;
        rows.iter()
            .map(|r| {
                let id: i64 = get(r, "id")?;
                Ok(SubmissionRequirement {
                    id,
                    title: get(r, "title")?,
                    detail: get(r, "detail")?,
                    due_at: get(r, "due_at")?,
                    created_by: get(r, "created_by")?,
                    created_at: get(r, "created_at")?,
                    targets: targets
                        .iter()
                        .filter(|t| t.requirement_id == id)
                        .cloned()
                        .collect(),
                })
            })
            .collect()
    }

    pub async fn create_requirement(
        &self,
        actor: &Actor,
        at: i64,
        title: &str,
        detail: &str,
        due_at: i64,
        departments: &[i64],
    ) -> Result<i64> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO submission_requirement (title, detail, due_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(title)
        .bind(detail)
        .bind(due_at)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        for d in departments {
            sqlx::query(
                "INSERT INTO submission_target (requirement_id, department_id) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(d)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "submission.require",
            &format!("submission:{id}"),
            None,
            Some(&json!({"title": title, "due_at": due_at, "departments": departments})),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A department submits its part of a requirement; the first submission's time counts.
    pub async fn submit_requirement(
        &self,
        actor: &Actor,
        at: i64,
        requirement_id: i64,
        department_id: i64,
        note: &str,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE submission_target SET submitted_by = $1, submitted_at = $2, note = $3
             WHERE requirement_id = $4 AND department_id = $5 AND submitted_at IS NULL",
        )
        .bind(&actor.username)
        .bind(at)
        .bind(note)
        .bind(requirement_id)
        .bind(department_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "该单位不在此报送任务中，或已经报送过".into(),
            ));
        }
        append(
            &mut tx,
            actor,
            at,
            "submission.submit",
            &format!("submission:{requirement_id}:{department_id}"),
            None,
            Some(&json!({"note": note})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- month close ----

    pub async fn month_closes(&self) -> Result<Vec<MonthClose>> {
        let rows = sqlx::query("SELECT * FROM month_close ORDER BY month DESC")
            .fetch_all(&self.read)
            .await?;
        all(&rows, close_row)
    }

    pub async fn month_closed(&self, month: Month) -> Result<Option<MonthClose>> {
        let mut conn = self.read.acquire().await?;
        closed_in(&mut conn, month).await
    }

    /// What a month's close rests on.
    pub async fn month_records(&self, month: Month) -> Result<MonthRecords> {
        let m = month.to_string();
        let reports = self.monthly_reports(&Scope::All, month).await?;
        let pairs = |sql: &'static str| {
            let m = m.clone();
            async move {
                let rows = sqlx::query(sql).bind(m).fetch_all(&self.read).await?;
                rows.iter()
                    .map(|r| Ok((get::<i64>(r, "a")?, get::<i64>(r, "b")?)))
                    .collect::<Result<Vec<(i64, i64)>>>()
            }
        };
        let problems_found = pairs(
            "SELECT department_id AS a, COUNT(*) AS b FROM problem WHERE month = $1 AND source = 'self' GROUP BY department_id",
        )
        .await?;
        let township_scores = pairs(
            "SELECT department_id AS a, COUNT(*) AS b FROM township_score WHERE month = $1 GROUP BY department_id",
        )
        .await?;
        let first = month.first_day().to_string();
        let last = month.last_day().to_string();
        let rows = sqlx::query(&format!(
            "{PROBLEM_SELECT} WHERE p.deadline >= $1 AND p.deadline <= $2 ORDER BY p.id"
        ))
        .bind(&first)
        .bind(&last)
        .fetch_all(&self.read)
        .await?;
        let problems_due = all(&rows, problem_row)?;
        let rows = sqlx::query(
            "SELECT a.*, u.name AS department FROM meeting_attendance a JOIN unit u ON u.id = a.department_id
             JOIN meeting m ON m.id = a.meeting_id WHERE m.month = $1 ORDER BY a.meeting_id, u.sort_order",
        )
        .bind(&m)
        .fetch_all(&self.read)
        .await?;
        let attendance = all(&rows, attendance_row)?;
        let rows = sqlx::query(
            "SELECT t.*, u.name AS department, r.due_at AS due_at FROM submission_target t
             JOIN unit u ON u.id = t.department_id JOIN submission_requirement r ON r.id = t.requirement_id
             ORDER BY t.requirement_id, u.sort_order",
        )
        .fetch_all(&self.read)
        .await?;
        let submissions = rows
            .iter()
            .map(|r| Ok((target_row(r)?, get::<i64>(r, "due_at")?)))
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(&format!(
            "{ASSIGNMENT_SELECT} WHERE a.deadline <= $1 AND a.status <> 'confirmed' ORDER BY a.id"
        ))
        .bind(&last)
        .fetch_all(&self.read)
        .await?;
        let assignments_due = all(&rows, assignment_row)?;
        let rows = sqlx::query(
            "SELECT rule, fact FROM score_event WHERE fact IS NOT NULL AND status <> 'rejected'",
        )
        .fetch_all(&self.read)
        .await?;
        let facts = rows
            .iter()
            .map(|r| Ok((get(r, "rule")?, get(r, "fact")?)))
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT s.rule, s.department_id FROM score_event s WHERE s.month = $1 AND s.status <> 'rejected'
               AND s.withdraws IS NULL AND NOT EXISTS (SELECT 1 FROM score_event w WHERE w.withdraws = s.id)",
        )
        .bind(&m)
        .fetch_all(&self.read)
        .await?;
        let monthly_events = rows
            .iter()
            .map(|r| Ok((get(r, "rule")?, get(r, "department_id")?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(MonthRecords {
            reports,
            problems_found,
            township_scores,
            problems_due,
            attendance,
            submissions,
            assignments_due,
            facts,
            monthly_events,
        })
    }

    /// Closes a month and proposes its automatic events, in one transaction: closed once.
    pub async fn close_month(
        &self,
        actor: &Actor,
        at: i64,
        month: Month,
        proposals: &[(NewScoreEvent, String)],
    ) -> Result<Vec<crate::ScoreEvent>> {
        let mut tx = self.write.begin().await?;
        if let Some(state) = lock_of(&mut tx, month.quarter()).await? {
            return Err(StoreError::Locked(Box::new(state)));
        }
        sqlx::query(
            "INSERT INTO month_close (month, closed_by, closed_at, proposals) VALUES ($1, $2, $3, $4)",
        )
        .bind(month.to_string())
        .bind(&actor.username)
        .bind(at)
        .bind(proposals.len() as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, format!("{}已经关账", month.label())))?;
        let mut out = Vec::with_capacity(proposals.len());
        for (e, fact) in proposals {
            out.push(insert_proposal(&mut tx, actor, at, e, fact).await?);
        }
        append(
            &mut tx,
            actor,
            at,
            "month.close",
            &format!("month:{month}"),
            None,
            Some(&json!({"proposals": out.iter().map(|e| e.id).collect::<Vec<_>>()})),
        )
        .await?;
        tx.commit().await?;
        self.scoring_changed();
        Ok(out)
    }
}
