//! Scoring use cases: recording events under the right rule version, evaluations, rankings
//! (monthly for close-type departments, quarterly for all), the appeal-approval-publication
//! workflow, laggards and the annual summary.

use chrono::{DateTime, NaiveDate, Utc};
use liandong_domain::deadline::{county_time, from_county_time};
use liandong_domain::registry::DEPARTMENTS;
use liandong_domain::scoring::{
    annual_mean, consecutive_laggards, office_score, rank, working_days_after, Basis, Level,
    Points, RankInput, Ranked, RankingKind, RuleCode, ScoringError,
};
use liandong_domain::{Category, Month, Quarter, Year};
use liandong_store::{
    Actor, Department, EvaluationKind, NewScoreEvent, RankingState, RankingStatus, RuleVersion,
    ScoreEvent,
};
use rust_decimal::Decimal;

use crate::error::{Result, ServiceError};
use crate::App;

/// Departments ranked on an external evaluation instead of the office score (domain.md §5.4):
/// 县乡村振兴局 (province and city post-evaluation) and 县财政局 (fund-performance evaluation).
pub const RANKED_EXTERNALLY: [&str; 2] = ["rural", "finance"];

/// A score event as entered by the office (parsed at the boundary).
#[derive(Debug, Clone)]
pub struct EventInput {
    pub department_id: i64,
    pub month: Month,
    pub rule: RuleCode,
    pub level: Option<Level>,
    pub count: u32,
    pub note: String,
    pub doc_no: Option<String>,
    pub occurred_on: Option<NaiveDate>,
}

/// One line of a ranking, with the department's name.
#[derive(Debug, Clone)]
pub struct RankingRow {
    pub ranked: Ranked,
    pub department: String,
    pub code: String,
}

/// A ranking of a month or a quarter.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub kind: RankingKind,
    pub label: String,
    pub state: RankingState,
    pub rows: Vec<RankingRow>,
}

/// A department's annual result: the mean of its quarters' final scores.
#[derive(Debug, Clone)]
pub struct AnnualRow {
    pub department_id: i64,
    pub department: String,
    pub category: Category,
    pub quarters: Vec<(Quarter, Option<Decimal>)>,
    pub mean: Option<Decimal>,
}

fn scoring_error(field: &str, e: ScoringError) -> ServiceError {
    ServiceError::invalid(field, e.to_string())
}

impl App {
    /// The rule version in force on `day`: the latest effective on or before it (the first
    /// version for earlier days).
    pub async fn rule_version_on(&self, day: NaiveDate) -> Result<RuleVersion> {
        let versions = self.store.rule_versions().await?;
        let first = versions.first().cloned();
        versions
            .into_iter()
            .rev()
            .find(|v| v.table.effective_from <= day)
            .or(first)
            .ok_or_else(|| ServiceError::Internal("评分细则尚未初始化".into()))
    }

    async fn department_checked(&self, id: i64) -> Result<Department> {
        self.store
            .department(id)
            .await
            .map_err(|_| ServiceError::invalid("department_id", format!("部门 {id} 不存在")))
    }

    /// Records an event from the office, scored under the rule version of its date.
    pub async fn record_event(
        &self,
        actor: &Actor,
        input: EventInput,
        now: DateTime<Utc>,
    ) -> Result<ScoreEvent> {
        let dept = self.department_checked(input.department_id).await?;
        if input.note.chars().count() > 500 {
            return Err(ServiceError::invalid("note", "说明最多 500 个字"));
        }
        if let Some(d) = input.occurred_on {
            if Month::of(d) != input.month {
                return Err(ServiceError::invalid(
                    "occurred_on",
                    format!("发生日期 {d} 不在 {} 内", input.month.label()),
                ));
            }
        }
        let day = input.occurred_on.unwrap_or_else(|| input.month.last_day());
        let version = self.rule_version_on(day).await?;
        let field = if input.level.is_none() && input.rule.has_levels() {
            "level"
        } else {
            "rule"
        };
        let points = version
            .table
            .score(input.rule, input.level, input.count, dept.category)
            .map_err(|e| {
                scoring_error(
                    if matches!(e, ScoringError::BadCount(_)) {
                        "count"
                    } else {
                        field
                    },
                    e,
                )
            })?;
        Ok(self
            .store
            .insert_score_event(
                actor,
                now.timestamp(),
                &NewScoreEvent {
                    department_id: dept.id,
                    month: input.month,
                    rule: input.rule,
                    level: input.level,
                    count: input.count,
                    points,
                    rule_version_id: version.id,
                    note: input.note,
                    doc_no: input.doc_no.filter(|s| !s.trim().is_empty()),
                    occurred_on: input.occurred_on,
                },
            )
            .await?)
    }

    /// Records an evaluation, checking it applies to the department and is on the 100 scale.
    pub async fn record_evaluation(
        &self,
        actor: &Actor,
        quarter: Quarter,
        department_id: i64,
        kind: EvaluationKind,
        score: Decimal,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::Evaluation> {
        let dept = self.department_checked(department_id).await?;
        match kind {
            EvaluationKind::Extended if dept.category != Category::Close => {
                return Err(ServiceError::invalid(
                    "kind",
                    format!("延伸评价只适用于紧密型部门，{}不是紧密型部门", dept.name),
                ))
            }
            EvaluationKind::External if !RANKED_EXTERNALLY.contains(&dept.code.as_str()) => {
                return Err(ServiceError::invalid(
                    "kind",
                    format!(
                        "上级评估结果只用于县乡村振兴局和县财政局的排序，不适用于{}",
                        dept.name
                    ),
                ))
            }
            _ => {}
        }
        if score < Decimal::ZERO || score > Decimal::ONE_HUNDRED || score.normalize().scale() > 2 {
            return Err(ServiceError::invalid(
                "score",
                "分数须在 0 到 100 之间，最多两位小数",
            ));
        }
        Ok(self
            .store
            .set_evaluation(
                actor,
                now.timestamp(),
                quarter,
                department_id,
                kind,
                score.normalize(),
            )
            .await?)
    }

    /// The monthly ranking of the close-type departments (office score only).
    pub async fn monthly_ranking(&self, month: Month) -> Result<Ranking> {
        let deps: Vec<Department> = self
            .store
            .departments()
            .await?
            .into_iter()
            .filter(|d| d.category == Category::Close)
            .collect();
        let points = self.store.points_by_department(&[month]).await?;
        let state = self.store.ranking_state(month.quarter()).await?;
        Ok(self.build(
            RankingKind::Monthly,
            month.label(),
            state,
            &deps,
            &points,
            &[],
        ))
    }

    /// The quarterly ranking of all 26 departments, per category.
    pub async fn quarterly_ranking(&self, quarter: Quarter) -> Result<Ranking> {
        let deps = self.store.departments().await?;
        let points = self.store.points_by_department(&quarter.months()).await?;
        let evals = self.store.evaluations(quarter).await?;
        let state = self.store.ranking_state(quarter).await?;
        Ok(self.build(
            RankingKind::Quarterly,
            quarter.label(),
            state,
            &deps,
            &points,
            &evals,
        ))
    }

    fn build(
        &self,
        kind: RankingKind,
        label: String,
        state: RankingState,
        deps: &[Department],
        points: &[(i64, Points)],
        evals: &[liandong_store::Evaluation],
    ) -> Ranking {
        let eval = |id: i64, k: EvaluationKind| {
            evals
                .iter()
                .find(|e| e.department_id == id && e.kind == k)
                .map(|e| e.score)
        };
        let inputs: Vec<RankInput> = deps
            .iter()
            .map(|d| RankInput {
                department_id: d.id,
                category: d.category,
                office_score: office_score(
                    points.iter().filter(|(id, _)| *id == d.id).map(|(_, p)| *p),
                ),
                extended: eval(d.id, EvaluationKind::Extended),
                external: eval(d.id, EvaluationKind::External),
                ranked_externally: RANKED_EXTERNALLY.contains(&d.code.as_str()),
            })
            .collect();
        let rows = rank(&inputs, self.settings.weights, kind)
            .into_iter()
            .map(|ranked| {
                let d = deps.iter().find(|d| d.id == ranked.department_id);
                RankingRow {
                    department: d.map(|d| d.name.clone()).unwrap_or_default(),
                    code: d.map(|d| d.code.clone()).unwrap_or_default(),
                    ranked,
                }
            })
            .collect();
        Ranking {
            kind,
            label,
            state,
            rows,
        }
    }

    /// Departments last in their category this quarter and the one before.
    pub async fn laggards(&self, quarter: Quarter) -> Result<Vec<i64>> {
        let cur = self.quarterly_ranking(quarter).await?;
        let prev = self.quarterly_ranking(quarter.prev()).await?;
        let strip = |r: &Ranking| r.rows.iter().map(|x| x.ranked.clone()).collect::<Vec<_>>();
        // A quarter nobody scored says nothing about lagging.
        if prev
            .rows
            .iter()
            .all(|r| r.ranked.score == Decimal::ONE_HUNDRED && r.ranked.basis != Basis::Combined)
        {
            return Ok(Vec::new());
        }
        Ok(consecutive_laggards(&strip(&prev), &strip(&cur)))
    }

    /// The annual summary: each department's mean over the quarters of `year` that are
    /// approved or published (the others are shown but not counted).
    pub async fn annual(&self, year: Year) -> Result<Vec<AnnualRow>> {
        let mut per_quarter = Vec::new();
        for q in year.quarters() {
            let r = self.quarterly_ranking(q).await?;
            per_quarter.push((q, r.state.status.locked(), r));
        }
        let deps = self.store.departments().await?;
        Ok(deps
            .iter()
            .map(|d| {
                let quarters: Vec<(Quarter, Option<Decimal>)> = per_quarter
                    .iter()
                    .map(|(q, locked, r)| {
                        (
                            *q,
                            locked
                                .then(|| {
                                    r.rows
                                        .iter()
                                        .find(|x| x.ranked.department_id == d.id)
                                        .map(|x| x.ranked.score)
                                })
                                .flatten(),
                        )
                    })
                    .collect();
                let scores: Vec<Decimal> = quarters.iter().filter_map(|(_, s)| *s).collect();
                AnnualRow {
                    department_id: d.id,
                    department: d.name.clone(),
                    category: d.category,
                    mean: annual_mean(&scores),
                    quarters,
                }
            })
            .collect())
    }

    /// Submits a quarter's draft ranking: departments may appeal for the configured number of
    /// working days.
    pub async fn submit_ranking(
        &self,
        actor: &Actor,
        quarter: Quarter,
        now: DateTime<Utc>,
    ) -> Result<RankingState> {
        let deadline = if self.settings.appeal_days == 0 {
            // No window: closed from the moment of submission.
            now.timestamp() - 1
        } else {
            from_county_time(working_days_after(
                county_time(now),
                self.settings.appeal_days,
                &[],
            ))
            .timestamp()
        };
        Ok(self
            .store
            .submit_ranking(actor, now.timestamp(), quarter, deadline)
            .await?)
    }

    pub async fn approve_ranking(
        &self,
        actor: &Actor,
        quarter: Quarter,
        now: DateTime<Utc>,
    ) -> Result<RankingState> {
        Ok(self
            .store
            .approve_ranking(actor, now.timestamp(), quarter)
            .await?)
    }

    pub async fn publish_ranking(
        &self,
        actor: &Actor,
        quarter: Quarter,
        now: DateTime<Utc>,
    ) -> Result<RankingState> {
        Ok(self
            .store
            .publish_ranking(actor, now.timestamp(), quarter)
            .await?)
    }

    /// Whether a quarter's status allows the office to change it (for pages that explain).
    pub fn status_note(state: &RankingState) -> Option<String> {
        match state.status {
            RankingStatus::Draft | RankingStatus::Submitted => None,
            _ => Some(format!(
                "{} 的排序已由 {} 审定，期间已锁定，不能再修改",
                state.quarter.label(),
                state.approved_by.as_deref().unwrap_or("分管领导")
            )),
        }
    }
}

/// The departments of the registry ranked externally, by name (for pages and tests).
pub fn externally_ranked_names() -> Vec<&'static str> {
    DEPARTMENTS
        .iter()
        .filter(|d| RANKED_EXTERNALLY.contains(&d.code))
        .map(|d| d.name)
        .collect()
}
