//! The monthly activities as use cases: self-inspection with its plan, report, problem list and
//! rectification ledger; township scoring; meetings; verification; assignments; required
//! submissions; the month close that proposes the automatic score events; reminders.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use liandong_domain::deadline::{county_time, Submission, Urgency};
use liandong_domain::monthly::{
    self, AssignmentFact, Attendance, AttendanceFact, DepartmentMonth, FactRef, FindingOutcome,
    MeetingKind, MonthFacts, ProblemFact, ProblemSource, ProblemStatus, Proposal, ReportKind,
    SubmissionFact,
};
use liandong_domain::scoring::RuleCode;
use liandong_domain::{Category, Month, Role};
use liandong_store::{
    Actor, Assignment, Department, Finding, MonthlyReport, NewAssignment, NewFinding, NewMeeting,
    NewProblem, NewScoreEvent, Problem, ProblemFilter, Scope, ScoreEvent,
};
use rust_decimal::Decimal;

use crate::error::{Result, ServiceError};
use crate::scoring::{ImportOutcome, RowError};
use crate::{App, Principal};

/// Longest free text accepted in a field.
const MAX_TEXT: usize = 5000;

fn now_local(now: DateTime<Utc>) -> NaiveDateTime {
    county_time(now)
}

fn local(ts: i64) -> NaiveDateTime {
    county_time(DateTime::from_timestamp(ts, 0).unwrap_or_default())
}

/// A required text field, trimmed, named in the error.
pub fn required(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ServiceError::invalid(field, format!("请填写{label}")));
    }
    if v.chars().count() > max {
        return Err(ServiceError::invalid(
            field,
            format!("{label}最多 {max} 个字"),
        ));
    }
    Ok(v.to_owned())
}

pub(crate) fn optional(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        required(field, label, value, max)
    }
}

fn forbid_other_unit(p: &Principal, unit: i64) -> Result<()> {
    if p.write_scope().allows(unit) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("无权操作其他单位的数据".into()))
    }
}

fn hidden(p: &Principal, unit: i64, what: &str) -> Result<()> {
    if p.scope().allows(unit) {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!("未找到{what}")))
    }
}

/// A problem to record, as entered in a form, an API call or an import row.
#[derive(Debug, Clone)]
pub struct ProblemInput {
    pub department_id: i64,
    pub month: Month,
    pub duty_no: i64,
    pub description: String,
    pub measure: String,
    pub responsible: String,
    pub deadline: NaiveDate,
    pub long_term: bool,
}

/// One department's month at a glance.
#[derive(Debug, Clone)]
pub struct DepartmentStatus {
    pub department: Department,
    pub inspection: Option<MonthlyReport>,
    pub inspection_state: Submission,
    pub summary: Option<MonthlyReport>,
    pub problems: usize,
    pub open_problems: usize,
    /// Townships scored / active townships (close-type departments only).
    pub townships_scored: Option<(usize, usize)>,
}

/// A proposal of the month close, with what it would score.
#[derive(Debug, Clone)]
pub struct ClosePreview {
    pub proposal: Proposal,
    pub department: String,
    pub event: NewScoreEvent,
}

/// Something a user must do, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub what: String,
    pub href: String,
    pub due: NaiveDateTime,
    pub urgency: Urgency,
}

/// A township's place in one department's monthly ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TownshipRank {
    pub township_id: i64,
    pub township: String,
    pub score: Decimal,
    pub rank: u32,
}

/// The columns of the problem-list import template (header on row 1).
pub const PROBLEM_COLUMNS: [(&str, f64); 8] = [
    ("单位", 18.0),
    ("月份", 10.0),
    ("职责序号", 8.0),
    ("问题描述", 40.0),
    ("整改措施", 34.0),
    ("责任人", 12.0),
    ("整改时限", 12.0),
    ("需长期整改", 10.0),
];
const PROBLEM_REQUIRED: [&str; 7] = [
    "单位",
    "月份",
    "职责序号",
    "问题描述",
    "整改措施",
    "责任人",
    "整改时限",
];

fn yes_no(s: &str) -> Option<bool> {
    match s.trim() {
        "" | "否" | "no" | "false" | "0" => Some(false),
        "是" | "yes" | "true" | "1" => Some(true),
        _ => None,
    }
}

impl App {
    fn report_deadline(&self) -> liandong_domain::deadline::MonthlyReportDeadline {
        self.settings.report_deadline
    }

    /// When a month's self-inspection report is due (county time).
    pub fn report_due(&self, month: Month) -> NaiveDateTime {
        self.report_deadline().due(month)
    }

    fn due_soon(&self) -> Duration {
        Duration::days(self.settings.due_soon_days)
    }

    async fn department_of(&self, id: i64, field: &str) -> Result<Department> {
        self.store
            .department(id)
            .await
            .map_err(|_| ServiceError::invalid(field, format!("部门 {id} 不存在")))
    }

    fn not_future(month: Month, now: DateTime<Utc>, field: &str) -> Result<()> {
        if month > Month::of(now_local(now).date()) {
            return Err(ServiceError::invalid(
                field,
                format!("{}尚未到来", month.label()),
            ));
        }
        Ok(())
    }

    // ---- self-inspection ----

    /// Saves a new version of a close-type department's 自查方案和评分细则.
    pub async fn save_plan(
        &self,
        p: &Principal,
        department_id: i64,
        title: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::InspectionPlan> {
        let dept = self.department_of(department_id, "department_id").await?;
        forbid_other_unit(p, dept.id)?;
        if dept.category != Category::Close {
            return Err(ServiceError::invalid(
                "department_id",
                "自查方案和评分细则由紧密型部门制定",
            ));
        }
        let title = required("title", "标题", title, 100)?;
        let body = required("body", "方案内容", body, 20_000)?;
        Ok(self
            .store
            .save_inspection_plan(&p.actor(), now.timestamp(), dept.id, &title, &body)
            .await?)
    }

    /// Submits or revises a department's monthly report (self-inspection or summary).
    pub async fn save_report(
        &self,
        p: &Principal,
        department_id: i64,
        month: Month,
        kind: ReportKind,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<MonthlyReport> {
        let dept = self.department_of(department_id, "department_id").await?;
        forbid_other_unit(p, dept.id)?;
        Self::not_future(month, now, "month")?;
        let body = required("body", kind.label(), body, MAX_TEXT)?;
        Ok(self
            .store
            .save_monthly_report(&p.actor(), now.timestamp(), dept.id, month, kind, &body)
            .await?)
    }

    fn check_problem(
        dept: &Department,
        i: &ProblemInput,
    ) -> std::result::Result<NewProblem, (&'static str, String)> {
        let duty = dept
            .duties
            .iter()
            .find(|d| d.no == i.duty_no)
            .ok_or_else(|| {
                (
                    "duty_no",
                    format!(
                        "{}的职责清单中没有第 {} 条（共 {} 条）",
                        dept.name,
                        i.duty_no,
                        dept.duties.len()
                    ),
                )
            })?;
        let text = |field: &'static str, label: &str, v: &str, max| {
            required(field, label, v, max).map_err(|e| (field, e.to_string()))
        };
        let description = text("description", "问题描述", &i.description, 1000)?;
        let measure = text("measure", "整改措施", &i.measure, 1000)?;
        let responsible = text("responsible", "责任人", &i.responsible, 50)?;
        if i.deadline < i.month.first_day() {
            return Err((
                "deadline",
                format!("整改时限 {} 早于发现问题的月份", i.deadline),
            ));
        }
        Ok(NewProblem {
            department_id: dept.id,
            month: i.month,
            duty_no: duty.no,
            duty_text: duty.text.clone(),
            source: ProblemSource::SelfInspection,
            description,
            measure,
            responsible,
            deadline: i.deadline,
            long_term: i.long_term,
        })
    }

    /// Adds a problem the department found to its list and ledger.
    pub async fn add_problem(
        &self,
        p: &Principal,
        input: ProblemInput,
        now: DateTime<Utc>,
    ) -> Result<Problem> {
        let dept = self
            .department_of(input.department_id, "department_id")
            .await?;
        forbid_other_unit(p, dept.id)?;
        Self::not_future(input.month, now, "month")?;
        let new =
            Self::check_problem(&dept, &input).map_err(|(f, m)| ServiceError::invalid(f, m))?;
        let mut stored = self
            .store
            .add_problems(&p.actor(), now.timestamp(), &[new], None)
            .await?;
        stored
            .pop()
            .ok_or_else(|| ServiceError::Internal("问题未保存".into()))
    }

    /// A problem the user may see.
    pub async fn problem_for(&self, p: &Principal, id: i64) -> Result<Problem> {
        let problem = self.store.problem(id).await?;
        hidden(p, problem.department_id, "该问题")?;
        Ok(problem)
    }

    pub async fn problems_for(&self, p: &Principal, f: &ProblemFilter) -> Result<Vec<Problem>> {
        Ok(self.store.problems(&p.scope(), f).await?)
    }

    /// The department reports a problem rectified, with its closing evidence.
    pub async fn rectify_problem(
        &self,
        p: &Principal,
        id: i64,
        evidence: &str,
        now: DateTime<Utc>,
    ) -> Result<Problem> {
        let problem = self.problem_for(p, id).await?;
        forbid_other_unit(p, problem.department_id)?;
        let evidence = required("evidence", "整改佐证", evidence, MAX_TEXT)?;
        Ok(self
            .store
            .rectify_problem(&p.actor(), now.timestamp(), id, &evidence)
            .await?)
    }

    /// The office closes (销号) a rectified problem; never the department that fixed it.
    pub async fn close_problem(
        &self,
        p: &Principal,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Problem> {
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden(
                "销号由联动办公室进行，整改部门不能自行销号".into(),
            ));
        }
        Ok(self
            .store
            .close_problem(&p.actor(), now.timestamp(), id)
            .await?)
    }

    /// The problem-list import template.
    pub fn problem_template(&self, departments: &[Department]) -> Result<Vec<u8>> {
        let mut notes: Vec<(String, String)> = vec![
            ("示例".into(), "县教育局 | 2023-04 | 1 | 某村 2 名适龄儿童辍学未劝返 | 联合乡镇入户劝返 | 张三 | 2023-05-20 | 否".into()),
            ("单位".into(), "成员单位全称；部门用户只能导入本单位的问题".into()),
            ("月份".into(), "发现问题的月份，写作 2023-04".into()),
            ("职责序号".into(), "问题所属职责在本单位职责清单中的序号".into()),
            ("整改时限".into(), "写作 2023-05-20".into()),
            ("需长期整改".into(), "是 或 否（留空为否）".into()),
        ];
        for d in departments {
            for duty in &d.duties {
                notes.push((format!("{} 第 {} 条", d.name, duty.no), duty.text.clone()));
            }
        }
        liandong_office::import::template(&PROBLEM_COLUMNS, &[], &notes)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Imports a problem list from an .xlsx: every row checked first, then all rows in one
    /// transaction or none; the same file twice changes nothing.
    pub async fn import_problems(
        &self,
        p: &Principal,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        use sha2::{Digest, Sha256};
        let data = liandong_office::import::read_xlsx(
            bytes,
            &PROBLEM_REQUIRED,
            liandong_office::import::Limits::default(),
        )
        .map_err(|e| ServiceError::invalid("file", e.to_string()))?;
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some((by, at)) = self.store.imported_before("problems", &hash).await? {
            return Ok(ImportOutcome::AlreadyImported(by, at));
        }
        let departments = self.store.departments().await?;
        let scope = p.write_scope();
        let this_month = Month::of(now_local(now).date());
        let mut errors = Vec::new();
        let mut problems = Vec::new();
        for (row, cells) in &data.rows {
            let get = |c: &str| data.get(cells, c).trim().to_owned();
            let mut err = |column: &'static str, message: String| {
                errors.push(RowError {
                    row: *row,
                    column,
                    message,
                })
            };
            let dept = departments.iter().find(|d| d.name == get("单位"));
            match dept {
                None => err("单位", format!("“{}”不是成员单位", get("单位"))),
                Some(d) if !scope.allows(d.id) => err("单位", format!("无权导入{}的问题", d.name)),
                Some(_) => {}
            }
            let month = match get("月份").parse::<Month>() {
                Ok(m) if m > this_month => {
                    err("月份", format!("{}尚未到来", m.label()));
                    None
                }
                Ok(m) => Some(m),
                Err(e) => {
                    err("月份", e.to_string());
                    None
                }
            };
            let duty_no: Option<i64> = get("职责序号").parse().ok();
            if duty_no.is_none() {
                err("职责序号", format!("“{}”不是序号", get("职责序号")));
            }
            let deadline = NaiveDate::parse_from_str(&get("整改时限"), "%Y-%m-%d").ok();
            if deadline.is_none() {
                err(
                    "整改时限",
                    format!("“{}”格式应为 2023-05-20", get("整改时限")),
                );
            }
            let long_term = yes_no(&get("需长期整改"));
            if long_term.is_none() {
                err(
                    "需长期整改",
                    format!("“{}”应为 是 或 否", get("需长期整改")),
                );
            }
            let (Some(dept), Some(month), Some(duty_no), Some(deadline), Some(long_term)) =
                (dept, month, duty_no, deadline, long_term)
            else {
                continue;
            };
            let input = ProblemInput {
                department_id: dept.id,
                month,
                duty_no,
                description: get("问题描述"),
                measure: get("整改措施"),
                responsible: get("责任人"),
                deadline,
                long_term,
            };
            match Self::check_problem(dept, &input) {
                Ok(n) => problems.push(n),
                Err((field, message)) => {
                    let column = match field {
                        "duty_no" => "职责序号",
                        "description" => "问题描述",
                        "measure" => "整改措施",
                        "responsible" => "责任人",
                        _ => "整改时限",
                    };
                    err(column, message);
                }
            }
        }
        if !errors.is_empty() {
            let marks: Vec<(usize, String)> = errors
                .iter()
                .map(|e| (e.row, format!("“{}”列：{}", e.column, e.message)))
                .collect();
            let annotated = liandong_office::import::with_errors(&data, &marks)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            return Ok(ImportOutcome::Rejected(errors, annotated));
        }
        if problems.is_empty() {
            return Err(ServiceError::invalid("file", "文件中没有问题行"));
        }
        let stored = self
            .store
            .add_problems(&p.actor(), now.timestamp(), &problems, Some(&hash))
            .await?;
        Ok(ImportOutcome::Imported(stored.len()))
    }

    // ---- township scoring ----

    /// Replaces a close-type department's township scores of a month.
    pub async fn save_township_scores(
        &self,
        p: &Principal,
        department_id: i64,
        month: Month,
        scores: &[(i64, Decimal, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<liandong_store::TownshipScore>> {
        let dept = self.department_of(department_id, "department_id").await?;
        forbid_other_unit(p, dept.id)?;
        if dept.category != Category::Close {
            return Err(ServiceError::invalid(
                "department_id",
                "只有紧密型部门对乡镇评分排名",
            ));
        }
        Self::not_future(month, now, "month")?;
        let townships = self.store.townships().await?;
        let mut seen = HashSet::new();
        for (i, (t, s, note)) in scores.iter().enumerate() {
            let field = format!("scores[{i}]");
            let town = townships
                .iter()
                .find(|x| x.id == *t && x.active)
                .ok_or_else(|| ServiceError::invalid(&field, format!("乡镇 {t} 不存在或已停用")))?;
            if !seen.insert(*t) {
                return Err(ServiceError::invalid(
                    &field,
                    format!("{}重复评分", town.name),
                ));
            }
            if !monthly::valid_township_score(*s) {
                return Err(ServiceError::invalid(
                    &field,
                    format!("{}的分数 {s} 应在 0 到 100 之间，最多两位小数", town.name),
                ));
            }
            if note.chars().count() > 500 {
                return Err(ServiceError::invalid(&field, "说明最多 500 个字"));
            }
        }
        Ok(self
            .store
            .save_township_scores(&p.actor(), now.timestamp(), dept.id, month, scores)
            .await?)
    }

    /// Each close-type department's township ranking of a month (ties share a rank).
    pub async fn township_rankings(
        &self,
        month: Month,
    ) -> Result<Vec<(Department, Vec<TownshipRank>)>> {
        let scores = self.store.township_scores(month, None).await?;
        let deps = self.store.departments().await?;
        Ok(deps
            .into_iter()
            .filter(|d| d.category == Category::Close)
            .map(|d| {
                let mine: Vec<_> = scores.iter().filter(|s| s.department_id == d.id).collect();
                let ranked = monthly::competition_ranks(
                    &mine
                        .iter()
                        .map(|s| (s.township_id, s.score))
                        .collect::<Vec<_>>(),
                );
                let rows = ranked
                    .into_iter()
                    .map(|(id, score, rank)| TownshipRank {
                        score: score.normalize(),
                        township_id: id,
                        township: mine
                            .iter()
                            .find(|s| s.township_id == id)
                            .map(|s| s.township.clone())
                            .unwrap_or_default(),
                        rank,
                    })
                    .collect();
                (d, rows)
            })
            .collect())
    }

    // ---- meetings ----

    pub async fn create_meeting(
        &self,
        actor: &Actor,
        kind: MeetingKind,
        held_on: NaiveDate,
        title: &str,
        agenda: &str,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::Meeting> {
        let m = NewMeeting {
            month: Month::of(held_on),
            kind,
            held_on,
            title: required("title", "会议名称", title, 100)?,
            agenda: optional("agenda", "会议议程", agenda, MAX_TEXT)?,
            minutes: String::new(),
        };
        Ok(self
            .store
            .create_meeting(actor, now.timestamp(), &m)
            .await?)
    }

    /// Records the minutes and attendance; every department must be listed once.
    pub async fn record_meeting(
        &self,
        actor: &Actor,
        meeting_id: i64,
        minutes: &str,
        attendance: &[(i64, Attendance, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<liandong_store::AttendanceRecord>> {
        let deps = self.store.departments().await?;
        let mut seen = HashSet::new();
        for (i, (d, _, _)) in attendance.iter().enumerate() {
            if !deps.iter().any(|x| x.id == *d) {
                return Err(ServiceError::invalid(
                    &format!("attendance[{i}]"),
                    format!("部门 {d} 不存在"),
                ));
            }
            if !seen.insert(*d) {
                return Err(ServiceError::invalid(
                    &format!("attendance[{i}]"),
                    format!("部门 {d} 重复"),
                ));
            }
        }
        let minutes = optional("minutes", "会议纪要", minutes, 20_000)?;
        Ok(self
            .store
            .record_meeting(actor, now.timestamp(), meeting_id, &minutes, attendance)
            .await?)
    }

    /// Turns a decision of a meeting into a follow-up task for a department.
    pub async fn add_task(
        &self,
        actor: &Actor,
        meeting_id: i64,
        department_id: i64,
        title: &str,
        due_on: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::FollowUpTask> {
        let dept = self.department_of(department_id, "department_id").await?;
        let title = required("title", "任务内容", title, 500)?;
        Ok(self
            .store
            .add_task(actor, now.timestamp(), meeting_id, dept.id, &title, due_on)
            .await?)
    }

    pub async fn complete_task(
        &self,
        p: &Principal,
        id: i64,
        result: &str,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::FollowUpTask> {
        let task = self.store.task(id).await?;
        hidden(p, task.department_id, "该任务")?;
        forbid_other_unit(p, task.department_id)?;
        let result = required("result", "落实情况", result, MAX_TEXT)?;
        Ok(self
            .store
            .complete_task(&p.actor(), now.timestamp(), id, &result)
            .await?)
    }

    // ---- assignments ----

    /// Hands a problem, petition or opinion incident to a department with a deadline.
    pub async fn create_assignment(
        &self,
        actor: &Actor,
        a: NewAssignment,
        now: DateTime<Utc>,
    ) -> Result<Assignment> {
        let dept = self.department_of(a.department_id, "department_id").await?;
        if a.deadline < now_local(now).date() {
            return Err(ServiceError::invalid("deadline", "整改时限不能早于今天"));
        }
        let a = NewAssignment {
            department_id: dept.id,
            title: required("title", "事项名称", &a.title, 200)?,
            detail: optional("detail", "具体内容", &a.detail, MAX_TEXT)?,
            ..a
        };
        Ok(self
            .store
            .create_assignment(actor, now.timestamp(), &a)
            .await?)
    }

    pub async fn assignment_for(&self, p: &Principal, id: i64) -> Result<Assignment> {
        let a = self.store.assignment(id).await?;
        hidden(p, a.department_id, "该交办事项")?;
        Ok(a)
    }

    pub async fn report_assignment(
        &self,
        p: &Principal,
        id: i64,
        report: &str,
        now: DateTime<Utc>,
    ) -> Result<Assignment> {
        let a = self.assignment_for(p, id).await?;
        forbid_other_unit(p, a.department_id)?;
        let report = required("report", "整改情况", report, MAX_TEXT)?;
        Ok(self
            .store
            .report_assignment(&p.actor(), now.timestamp(), id, &report)
            .await?)
    }

    // ---- verification ----

    /// Draws the departments and, of each, the ledger problems of the month to spot-check,
    /// with a fresh seed; each draw is recorded and the latest is in force.
    pub async fn draw_sample(
        &self,
        actor: &Actor,
        verification_id: i64,
        departments: usize,
        problems_each: usize,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::Draw> {
        use rand::RngCore;
        let v = self.store.verification(verification_id).await?;
        if !(1..=26).contains(&departments) {
            return Err(ServiceError::invalid(
                "departments",
                "抽查部门数应在 1 到 26 之间",
            ));
        }
        if problems_each > 20 {
            return Err(ServiceError::invalid(
                "problems",
                "每个部门最多抽查 20 个问题",
            ));
        }
        let seed = rand::rngs::OsRng.next_u64();
        let deps: Vec<i64> = self
            .store
            .departments()
            .await?
            .iter()
            .map(|d| d.id)
            .collect();
        let picked = monthly::draw(seed, &deps, departments);
        let ledger = self
            .store
            .problems(
                &Scope::All,
                &ProblemFilter {
                    month: Some(v.month),
                    ..Default::default()
                },
            )
            .await?;
        let mut problems = Vec::new();
        for (i, d) in picked.iter().enumerate() {
            let theirs: Vec<i64> = ledger
                .iter()
                .filter(|p| p.department_id == *d)
                .map(|p| p.id)
                .collect();
            problems.extend(monthly::draw(seed ^ (i as u64 + 1), &theirs, problems_each));
        }
        Ok(self
            .store
            .record_draw(
                actor,
                now.timestamp(),
                verification_id,
                seed,
                &picked,
                &problems,
            )
            .await?)
    }

    /// Records a finding; a problem or assignment found still open proposes its deduction,
    /// and any finding may name a rule to propose.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_finding(
        &self,
        actor: &Actor,
        verification_id: i64,
        department_id: i64,
        target: FindingTarget,
        outcome: FindingOutcome,
        rule: Option<RuleCode>,
        description: &str,
        evidence: &str,
        now: DateTime<Utc>,
    ) -> Result<Finding> {
        let v = self.store.verification(verification_id).await?;
        let dept = self.department_of(department_id, "department_id").await?;
        let description = required("description", "核查情况", description, MAX_TEXT)?;
        let evidence = optional("evidence", "核查佐证", evidence, MAX_TEXT)?;
        let mut finding = NewFinding {
            verification_id,
            department_id: dept.id,
            problem_id: None,
            assignment_id: None,
            outcome,
            description: description.clone(),
            evidence,
            new_problem: None,
        };
        let mut rule = rule;
        match (target, outcome) {
            (FindingTarget::Problem(id), FindingOutcome::Rectified | FindingOutcome::Unrectified) => {
                let p = self.store.problem(id).await?;
                if p.department_id != dept.id {
                    return Err(ServiceError::invalid("problem_id", format!("问题第 {id} 号不属于{}", dept.name)));
                }
                finding.problem_id = Some(id);
                if outcome == FindingOutcome::Unrectified && !p.long_term && rule.is_none() {
                    rule = Some(RuleCode::SelfcheckUnrectified);
                }
            }
            (FindingTarget::Assignment(id), FindingOutcome::Rectified | FindingOutcome::Unrectified) => {
                let a = self.store.assignment(id).await?;
                if a.department_id != dept.id {
                    return Err(ServiceError::invalid("assignment_id", format!("交办事项第 {id} 号不属于{}", dept.name)));
                }
                finding.assignment_id = Some(id);
                if outcome == FindingOutcome::Unrectified && rule.is_none() {
                    rule = Some(RuleCode::AssignedUnrectified);
                }
            }
            (FindingTarget::NewProblem { duty_no, deadline, long_term }, FindingOutcome::NewProblem) => {
                let input = ProblemInput {
                    department_id: dept.id,
                    month: v.month,
                    duty_no,
                    description,
                    measure: "待部门制定".into(),
                    responsible: "待部门明确".into(),
                    deadline,
                    long_term,
                };
                let mut np = Self::check_problem(&dept, &input).map_err(|(f, m)| ServiceError::invalid(f, m))?;
                np.source = ProblemSource::Verification;
                finding.new_problem = Some(np);
            }
            (FindingTarget::None, FindingOutcome::Other) => {
                if rule.is_none() {
                    return Err(ServiceError::invalid("rule", "其他情况须选择适用的评分细则条目"));
                }
            }
            _ => {
                return Err(ServiceError::invalid(
                    "outcome",
                    "核查结论与核查对象不符：问题和交办事项可核为已整改或仍未整改，新问题须填职责序号和整改时限",
                ))
            }
        }
        let proposal = match rule {
            Some(r) => {
                let version = self.rule_version_on(v.month.last_day()).await?;
                let points = version
                    .table
                    .score(r, None, 1, dept.category)
                    .map_err(|e| ServiceError::invalid("rule", e.to_string()))?;
                Some(NewScoreEvent {
                    department_id: dept.id,
                    month: v.month,
                    rule: r,
                    level: None,
                    count: 1,
                    points,
                    rule_version_id: version.id,
                    note: format!("核查发现：{}", finding.description),
                    doc_no: None,
                    occurred_on: None,
                })
            }
            None => None,
        };
        Ok(self
            .store
            .add_finding(actor, now.timestamp(), &finding, proposal.as_ref())
            .await?)
    }

    // ---- required submissions ----

    pub async fn create_requirement(
        &self,
        actor: &Actor,
        title: &str,
        detail: &str,
        due: NaiveDateTime,
        departments: &[i64],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let title = required("title", "报送事项", title, 200)?;
        let detail = optional("detail", "报送要求", detail, MAX_TEXT)?;
        let all = self.store.departments().await?;
        let targets: Vec<i64> = if departments.is_empty() {
            all.iter().map(|d| d.id).collect()
        } else {
            for d in departments {
                if !all.iter().any(|x| x.id == *d) {
                    return Err(ServiceError::invalid(
                        "departments",
                        format!("部门 {d} 不存在"),
                    ));
                }
            }
            let mut v = departments.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let due_at = liandong_domain::deadline::from_county_time(due).timestamp();
        Ok(self
            .store
            .create_requirement(actor, now.timestamp(), &title, &detail, due_at, &targets)
            .await?)
    }

    pub async fn submit_requirement(
        &self,
        p: &Principal,
        requirement_id: i64,
        department_id: i64,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        forbid_other_unit(p, department_id)?;
        let note = optional("note", "报送说明", note, MAX_TEXT)?;
        Ok(self
            .store
            .submit_requirement(
                &p.actor(),
                now.timestamp(),
                requirement_id,
                department_id,
                &note,
            )
            .await?)
    }

    /// Whether a department's part of a requirement was on time, late, missing or not yet due.
    pub fn submission_state(
        due_at: i64,
        submitted_at: Option<i64>,
        now: DateTime<Utc>,
    ) -> Submission {
        let due = local(due_at);
        match submitted_at.map(local) {
            Some(t) if t <= due => Submission::OnTime,
            Some(_) => Submission::Late,
            None if now_local(now) <= due => Submission::NotYetDue,
            None => Submission::Missing,
        }
    }

    // ---- the month ----

    /// Every department's month at a glance, in scope.
    pub async fn month_status(
        &self,
        scope: &Scope,
        month: Month,
        now: DateTime<Utc>,
    ) -> Result<Vec<DepartmentStatus>> {
        let deps = self.store.departments().await?;
        let reports = self.store.monthly_reports(scope, month).await?;
        let problems = self
            .store
            .problems(
                scope,
                &ProblemFilter {
                    month: Some(month),
                    ..Default::default()
                },
            )
            .await?;
        let scores = self.store.township_scores(month, None).await?;
        let active = self
            .store
            .townships()
            .await?
            .iter()
            .filter(|t| t.active)
            .count();
        Ok(deps
            .into_iter()
            .filter(|d| scope.allows(d.id))
            .map(|d| {
                let find = |k: ReportKind| {
                    reports
                        .iter()
                        .find(|r| r.department_id == d.id && r.kind == k)
                        .cloned()
                };
                let inspection = find(ReportKind::Inspection);
                let inspection_state = self.report_deadline().submission(
                    month,
                    inspection.as_ref().map(|r| local(r.submitted_at)),
                    now_local(now),
                );
                let mine: Vec<&Problem> = problems
                    .iter()
                    .filter(|p| p.department_id == d.id)
                    .collect();
                let townships_scored = (d.category == Category::Close).then(|| {
                    (
                        scores.iter().filter(|s| s.department_id == d.id).count(),
                        active,
                    )
                });
                DepartmentStatus {
                    inspection,
                    inspection_state,
                    summary: find(ReportKind::Summary),
                    problems: mine.len(),
                    open_problems: mine
                        .iter()
                        .filter(|p| p.status != ProblemStatus::Closed)
                        .count(),
                    townships_scored,
                    department: d,
                }
            })
            .collect())
    }

    /// What closing `month` now would propose, scored under the rules in force.
    pub async fn month_close_preview(&self, month: Month) -> Result<Vec<ClosePreview>> {
        let r = self.store.month_records(month).await?;
        let deps = self.store.departments().await?;
        let active = self
            .store
            .townships()
            .await?
            .iter()
            .filter(|t| t.active)
            .count();
        let count_of = |pairs: &[(i64, i64)], id: i64| {
            pairs
                .iter()
                .find(|(d, _)| *d == id)
                .map(|(_, n)| *n as usize)
                .unwrap_or(0)
        };
        let mut already: HashSet<(RuleCode, FactRef)> = r
            .facts
            .iter()
            .filter_map(|(rule, fact)| Some((rule.parse::<RuleCode>().ok()?, fact.parse().ok()?)))
            .collect();
        // A rule counted once a month that the office already entered by hand is not proposed.
        for (rule, dept) in &r.monthly_events {
            if let Ok(rule) = rule.parse::<RuleCode>() {
                let fact = if rule == RuleCode::SelfcheckTownshipUnscored {
                    FactRef::TownshipScores {
                        department_id: *dept,
                        month,
                    }
                } else {
                    FactRef::Inspection {
                        department_id: *dept,
                        month,
                    }
                };
                already.insert((rule, fact));
            }
        }
        let facts = MonthFacts {
            departments: deps
                .iter()
                .map(|d| DepartmentMonth {
                    department_id: d.id,
                    category: d.category,
                    report_submitted: r
                        .reports
                        .iter()
                        .find(|x| x.department_id == d.id && x.kind == ReportKind::Inspection)
                        .map(|x| local(x.submitted_at)),
                    problems_found: count_of(&r.problems_found, d.id),
                    townships_unscored: active.saturating_sub(count_of(&r.township_scores, d.id)),
                })
                .collect(),
            problems: r
                .problems_due
                .iter()
                .map(|p| ProblemFact {
                    id: p.id,
                    department_id: p.department_id,
                    deadline: p.deadline,
                    long_term: p.long_term,
                    rectified_at: match p.status {
                        ProblemStatus::Open => None,
                        _ => p.rectified_at.map(local),
                    },
                })
                .collect(),
            attendance: r
                .attendance
                .iter()
                .map(|a| AttendanceFact {
                    meeting_id: a.meeting_id,
                    department_id: a.department_id,
                    attendance: a.attendance,
                })
                .collect(),
            submissions: r
                .submissions
                .iter()
                .map(|(t, due)| SubmissionFact {
                    requirement_id: t.requirement_id,
                    department_id: t.department_id,
                    due: local(*due),
                    submitted: t.submitted_at.map(local),
                })
                .collect(),
            assignments: r
                .assignments_due
                .iter()
                .map(|a| AssignmentFact {
                    id: a.id,
                    department_id: a.department_id,
                    deadline: a.deadline,
                    confirmed: false,
                })
                .collect(),
            feeds: self.feed_facts(month).await?,
            already,
        };
        let version = self.rule_version_on(month.last_day()).await?;
        let by_id: HashMap<i64, &Department> = deps.iter().map(|d| (d.id, d)).collect();
        let mut out = Vec::new();
        for proposal in monthly::month_close(month, self.report_deadline(), &facts) {
            let Some(dept) = by_id.get(&proposal.department_id) else {
                continue;
            };
            let points = version
                .table
                .score(proposal.rule, None, 1, dept.category)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            out.push(ClosePreview {
                event: NewScoreEvent {
                    department_id: dept.id,
                    month,
                    rule: proposal.rule,
                    level: None,
                    count: 1,
                    points,
                    rule_version_id: version.id,
                    note: proposal.note.clone(),
                    doc_no: None,
                    occurred_on: None,
                },
                department: dept.name.clone(),
                proposal,
            });
        }
        Ok(out)
    }

    /// Closes a month once its report deadline has passed, proposing every automatic event.
    pub async fn close_month(
        &self,
        actor: &Actor,
        month: Month,
        now: DateTime<Utc>,
    ) -> Result<Vec<ScoreEvent>> {
        let due = self.report_due(month);
        if now_local(now) <= due {
            return Err(ServiceError::Conflict(format!(
                "{}的自查报告截止时间为 {}，截止后才能关账",
                month.label(),
                due.format("%Y-%m-%d %H:%M")
            )));
        }
        let preview = self.month_close_preview(month).await?;
        let proposals: Vec<(NewScoreEvent, String)> = preview
            .into_iter()
            .map(|p| (p.event, p.proposal.fact.to_string()))
            .collect();
        Ok(self
            .store
            .close_month(actor, now.timestamp(), month, &proposals)
            .await?)
    }

    /// What the user must do, soonest first: reports, rectifications, assignments, tasks,
    /// submissions for units; closing problems, verifying assignments, closing months for
    /// the office.
    pub async fn reminders(&self, p: &Principal, now: DateTime<Utc>) -> Result<Vec<Reminder>> {
        let t = now_local(now);
        let soon = self.due_soon();
        let mut out = Vec::new();
        let mut add = |what: String, href: String, due: NaiveDateTime| {
            out.push(Reminder {
                urgency: Urgency::of(due, t, soon),
                what,
                href,
                due,
            })
        };
        let end_of = |d: NaiveDate| d.and_hms_opt(23, 59, 59).unwrap_or_default();
        let role = p.user.role;
        let this_month = Month::of(t.date());
        if role == Role::Department {
            let scope = p.own_units();
            let last = this_month.prev();
            let status = self.month_status(&scope, last, now).await?;
            for s in &status {
                if s.inspection.is_none() {
                    add(
                        format!("{}提交{}自查报告", s.department.name, last.label()),
                        format!("/monthly/{last}/departments/{}", s.department.id),
                        self.report_due(last),
                    );
                }
                if let Some((done, all)) = s.townships_scored {
                    if done < all {
                        add(
                            format!(
                                "{}完成{}乡镇评分排名（已评 {done}/{all}）",
                                s.department.name,
                                last.label()
                            ),
                            format!("/monthly/{last}/departments/{}#townships", s.department.id),
                            self.report_due(last),
                        );
                    }
                }
            }
            for pr in self
                .store
                .problems(
                    &scope,
                    &ProblemFilter {
                        status: Some(ProblemStatus::Open),
                        ..Default::default()
                    },
                )
                .await?
            {
                if !pr.long_term {
                    add(
                        format!("整改问题第 {} 号：{}", pr.id, pr.description),
                        format!("/problems/{}", pr.id),
                        end_of(pr.deadline),
                    );
                }
            }
            for a in self.store.assignments(&scope).await? {
                if a.status == liandong_domain::monthly::AssignmentStatus::Open {
                    add(
                        format!("{}第 {} 号：{}", a.kind.label(), a.id, a.title),
                        format!("/assignments/{}", a.id),
                        end_of(a.deadline),
                    );
                }
            }
            for task in self.store.tasks(&scope, None).await? {
                if task.status == liandong_domain::monthly::TaskStatus::Open {
                    add(
                        format!("落实会议任务：{}", task.title),
                        format!("/meetings/{}", task.meeting_id),
                        end_of(task.due_on),
                    );
                }
            }
            for line in self.feed_ledger(this_month, now).await? {
                if p.user.unit_ids().contains(&line.department_id)
                    && matches!(line.status, "not_due" | "missing" | "not_started")
                {
                    if let Some(due) = line.due {
                        add(
                            format!("报送比对数据“{}”", line.kind.label()),
                            format!("/compare/feeds?month={this_month}"),
                            end_of(due),
                        );
                    }
                }
            }
            for r in self.store.requirements(&scope).await? {
                if r.targets.iter().any(|x| x.submitted_at.is_none()) {
                    add(
                        format!("报送：{}", r.title),
                        format!("/submissions/{}", r.id),
                        local(r.due_at),
                    );
                }
            }
        }
        if matches!(role, Role::Department | Role::Township) {
            for (w, _, due) in self.store.unsigned_receipts(&p.user.unit_ids()).await? {
                add(
                    format!("签收预警第 {w} 号"),
                    format!("/warnings/{w}"),
                    local(due),
                );
            }
        }
        if role == Role::Township {
            let (clues, _) = self
                .store
                .clues(&liandong_store::ClueFilter {
                    status: Some("open".into()),
                    units: Some(p.user.unit_ids()),
                    limit: 500,
                    ..Default::default()
                })
                .await?;
            for c in clues {
                if c.township_id
                    .is_some_and(|t| p.user.unit_ids().contains(&t))
                {
                    add(
                        format!("核实比对线索第 {} 号：{}", c.id, c.title),
                        format!("/compare/clues/{}", c.id),
                        self.clue_verify_due(&c),
                    );
                }
            }
            for w in self.store.warnings(Some(&p.user.unit_ids()), 500).await? {
                if w.status == liandong_domain::roster::WarningStatus::Open
                    && p.user.unit_ids().contains(&w.township_id)
                {
                    add(
                        format!("核实预警第 {} 号：{}", w.id, w.summary),
                        format!("/warnings/{}", w.id),
                        local(w.verify_due),
                    );
                }
            }
        }
        if role.is_office() {
            for w in self.store.warnings(None, 500).await? {
                if w.status == liandong_domain::roster::WarningStatus::Verified {
                    add(
                        format!("办结预警第 {} 号（乡镇已核实属实）", w.id),
                        format!("/warnings/{}", w.id),
                        local(w.verified_at.unwrap_or(w.created_at))
                            + Duration::days(self.settings.due_soon_days),
                    );
                }
            }
            for pr in self
                .store
                .problems(
                    &Scope::All,
                    &ProblemFilter {
                        status: Some(ProblemStatus::Rectified),
                        ..Default::default()
                    },
                )
                .await?
            {
                add(
                    format!("审核销号：{}问题第 {} 号", pr.department, pr.id),
                    format!("/problems/{}", pr.id),
                    local(pr.rectified_at.unwrap_or(pr.created_at))
                        + Duration::days(self.settings.due_soon_days),
                );
            }
            for a in self.store.assignments(&Scope::All).await? {
                if a.status == liandong_domain::monthly::AssignmentStatus::Reported {
                    add(
                        format!("核查{}报送的整改：{}", a.department, a.title),
                        format!("/assignments/{}", a.id),
                        end_of(a.deadline),
                    );
                }
            }
            let last = this_month.prev();
            if t > self.report_due(last) && self.store.month_closed(last).await?.is_none() {
                add(
                    format!("{}关账并确认自动加减分提议", last.label()),
                    format!("/monthly/{last}"),
                    self.report_due(last),
                );
            }
        }
        out.sort_by_key(|r| r.due);
        Ok(out)
    }
}

/// What a verification finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingTarget {
    Problem(i64),
    Assignment(i64),
    NewProblem {
        duty_no: i64,
        deadline: NaiveDate,
        long_term: bool,
    },
    None,
}
