//! Scoring use cases: recording events under the right rule version, evaluations, rankings
//! (monthly for close-type departments, quarterly for all), the appeal-approval-publication
//! workflow, laggards and the annual summary.

use chrono::{DateTime, NaiveDate, Utc};
use liandong_domain::deadline::{county_time, from_county_time};
use liandong_domain::registry::DEPARTMENTS;
use liandong_domain::scoring::{
    annual_mean, consecutive_laggards, office_score, rank, working_days_after, Level, Points,
    RankInput, Ranked, RankingKind, RuleCode, ScoringError,
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

/// Rankings computed from the store, reused until the store's scoring data changes.
#[derive(Debug, Default)]
pub struct RankingCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (u64, Ranking)>>,
    laggards: std::sync::Mutex<std::collections::HashMap<String, (u64, Vec<i64>)>>,
}

impl RankingCache {
    fn get(&self, key: &str, generation: u64) -> Option<Ranking> {
        let map = self.entries.lock().ok()?;
        map.get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, r)| r.clone())
    }

    fn put(&self, key: String, generation: u64, r: &Ranking) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 512 {
                map.clear();
            }
            map.insert(key, (generation, r.clone()));
        }
    }
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
        let field = if input.rule.has_levels() != input.level.is_some() {
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

    /// Proposes an event from a fact the platform knows (month close, verified warnings); the
    /// office confirms or rejects it before it counts.
    pub async fn propose_event(
        &self,
        actor: &Actor,
        input: EventInput,
        fact: &str,
        now: DateTime<Utc>,
    ) -> Result<ScoreEvent> {
        let dept = self.department_checked(input.department_id).await?;
        let day = input.occurred_on.unwrap_or_else(|| input.month.last_day());
        let version = self.rule_version_on(day).await?;
        let points = version
            .table
            .score(input.rule, input.level, input.count, dept.category)
            .map_err(|e| scoring_error("rule", e))?;
        let e = NewScoreEvent {
            department_id: dept.id,
            month: input.month,
            rule: input.rule,
            level: input.level,
            count: input.count,
            points,
            rule_version_id: version.id,
            note: input.note,
            doc_no: input.doc_no,
            occurred_on: input.occurred_on,
        };
        Ok(self
            .store
            .propose_score_event(actor, now.timestamp(), &e, fact)
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
        self.cached(month.to_string(), self.compute_monthly(month))
            .await
    }

    /// A ranking from the cache while the store's scoring data is unchanged.
    async fn cached(
        &self,
        key: String,
        compute: impl std::future::Future<Output = Result<Ranking>>,
    ) -> Result<Ranking> {
        let generation = self.store.scoring_generation();
        if let Some(r) = self.rankings.get(&key, generation) {
            return Ok(r);
        }
        let r = compute.await?;
        self.rankings.put(key, generation, &r);
        Ok(r)
    }

    async fn compute_monthly(&self, month: Month) -> Result<Ranking> {
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
        self.cached(quarter.to_string(), self.compute_quarterly(quarter))
            .await
    }

    async fn compute_quarterly(&self, quarter: Quarter) -> Result<Ranking> {
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

    /// Departments last in their category this quarter and in the quarters before it, as
    /// many quarters running as the setting says (default two). Quarters nobody scored say
    /// nothing about lagging.
    pub async fn laggards(&self, quarter: Quarter) -> Result<Vec<i64>> {
        let generation = self.store.scoring_generation();
        let key = quarter.to_string();
        let hit = self.rankings.laggards.lock().ok().and_then(|m| {
            m.get(&key)
                .filter(|(g, _)| *g == generation)
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = hit {
            return Ok(v);
        }
        let v = self.compute_laggards(quarter).await?;
        if let Ok(mut m) = self.rankings.laggards.lock() {
            if m.len() > 512 {
                m.clear();
            }
            m.insert(key, (generation, v.clone()));
        }
        Ok(v)
    }

    async fn compute_laggards(&self, quarter: Quarter) -> Result<Vec<i64>> {
        let n = self.settings.laggard_quarters.max(1) as usize;
        let mut quarters = vec![quarter];
        while quarters.len() < n {
            let first = quarters[0];
            quarters.insert(0, first.prev());
        }
        let mut history = Vec::new();
        for q in quarters {
            let r = self.quarterly_ranking(q).await?;
            let scored = !self
                .store
                .points_by_department(&q.months())
                .await?
                .is_empty()
                || !self.store.evaluations(q).await?.is_empty();
            if !scored {
                return Ok(Vec::new());
            }
            history.push(r.rows.into_iter().map(|x| x.ranked).collect::<Vec<_>>());
        }
        let refs: Vec<&[Ranked]> = history.iter().map(Vec::as_slice).collect();
        Ok(consecutive_laggards(&refs))
    }

    /// The annual summary: each department's mean over the quarters of `year` that are
    /// approved or published (the others are shown but not counted); for readers who see
    /// rankings only once published, over the published quarters.
    pub async fn annual(&self, year: Year, published_only: bool) -> Result<Vec<AnnualRow>> {
        let mut per_quarter = Vec::new();
        for q in year.quarters() {
            let r = self.quarterly_ranking(q).await?;
            let counts = if published_only {
                r.state.status == RankingStatus::Published
            } else {
                r.state.status.locked()
            };
            per_quarter.push((q, counts, r));
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
    /// The evaluations a quarter still lacks: the extended evaluation of every close-type
    /// department and the external evaluation of the departments ranked on one.
    pub async fn missing_evaluations(&self, quarter: Quarter) -> Result<Vec<String>> {
        let evals = self.store.evaluations(quarter).await?;
        let has =
            |id: i64, k: EvaluationKind| evals.iter().any(|e| e.department_id == id && e.kind == k);
        Ok(self
            .store
            .departments()
            .await?
            .into_iter()
            .filter_map(|d| {
                if d.category == Category::Close && !has(d.id, EvaluationKind::Extended) {
                    Some(format!("{}（延伸评价）", d.name))
                } else if RANKED_EXTERNALLY.contains(&d.code.as_str())
                    && !has(d.id, EvaluationKind::External)
                {
                    Some(format!("{}（上级评估结果）", d.name))
                } else {
                    None
                }
            })
            .collect())
    }

    /// Takes a submitted quarter back to draft so that the office can correct it.
    pub async fn reopen_ranking(
        &self,
        actor: &Actor,
        quarter: Quarter,
        now: DateTime<Utc>,
    ) -> Result<RankingState> {
        Ok(self
            .store
            .reopen_ranking(actor, now.timestamp(), quarter)
            .await?)
    }

    pub async fn submit_ranking(
        &self,
        actor: &Actor,
        quarter: Quarter,
        now: DateTime<Utc>,
    ) -> Result<RankingState> {
        // A draft goes to appeal complete: evaluations cannot change once submitted.
        let missing = self.missing_evaluations(quarter).await?;
        if !missing.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "以下评价结果尚未录入，暂不能提交：{}",
                missing.join("、")
            )));
        }
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

/// The columns of the score-event import template (header on row 1).
pub const IMPORT_COLUMNS: [(&str, f64); 8] = [
    ("单位", 18.0),
    ("月份", 10.0),
    ("评分细则", 34.0),
    ("级别", 8.0),
    ("次数", 6.0),
    ("发生日期", 12.0),
    ("文号", 26.0),
    ("说明", 40.0),
];
const REQUIRED: [&str; 4] = ["单位", "月份", "评分细则", "次数"];

pub use liandong_office::import::RowError;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported(usize),
    /// The same file was imported before (by whom, when): nothing changed.
    AlreadyImported(String, i64),
    /// Nothing was imported; the errors, and the file back with an error column.
    Rejected(Vec<RowError>, Vec<u8>),
}

fn parse_level(s: &str) -> Option<Option<Level>> {
    match s.trim() {
        "" | "不分级别" | "—" | "-" => Some(None),
        "国" | "国家" | "国家级" | "national" => Some(Some(Level::National)),
        "省" | "省级" | "province" => Some(Some(Level::Province)),
        "市" | "市级" | "city" => Some(Some(Level::City)),
        "县" | "县级" | "county" => Some(Some(Level::County)),
        _ => None,
    }
}

fn parse_rule(s: &str) -> Option<RuleCode> {
    let s = s.trim();
    s.parse()
        .ok()
        .or_else(|| RuleCode::ALL.into_iter().find(|r| r.label() == s))
}

impl App {
    /// The import template: headers, an example row and the list of rules and departments.
    pub async fn event_template(&self) -> Result<Vec<u8>> {
        let mut notes: Vec<(String, String)> = vec![
            ("单位".into(), "成员单位全称，如 县教育局".into()),
            ("月份".into(), "写作 2023-04".into()),
            ("评分细则".into(), "下列代码或事项名称之一".into()),
            (
                "级别".into(),
                "国家级、省级、市级、县级；通报、表扬、典型发言、宣传推介必填，其余留空".into(),
            ),
            ("次数".into(), "正整数；按月计的事项每月最多 1".into()),
            (
                "发生日期".into(),
                "写作 2023-04-12，须在所填月份内，可留空".into(),
            ),
        ];
        notes.extend(RuleCode::ALL.iter().map(|r| {
            (
                r.code().to_owned(),
                format!(
                    "{}（{}，每{}）",
                    r.label(),
                    if r.is_bonus() { "加分" } else { "扣分" },
                    r.per().label()
                ),
            )
        }));
        notes.extend(
            self.store
                .departments()
                .await?
                .into_iter()
                .map(|d| (d.name, d.category.label().to_owned())),
        );
        // No example in the data sheet: a sample row left there would be imported as real.
        notes.insert(0, ("示例".into(), "县教育局 | 2023-04 | meeting.absent | （空） | 1 | 2023-04-25 | （空） | 4 月例会缺席".into()));
        liandong_office::import::template(&IMPORT_COLUMNS, &[], &notes)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Imports score events from an .xlsx: the whole file is checked first and then imported
    /// in one transaction, or not at all; the same file twice changes nothing.
    pub async fn import_events(
        &self,
        actor: &Actor,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        use sha2::{Digest, Sha256};
        let data = liandong_office::import::read_xlsx(
            bytes,
            &REQUIRED,
            liandong_office::import::Limits::default(),
        )
        .map_err(|e| ServiceError::invalid("file", e.to_string()))?;
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some((by, at)) = self.store.imported_before("score_events", &hash).await? {
            return Ok(ImportOutcome::AlreadyImported(by, at));
        }
        let departments = self.store.departments().await?;
        let versions = self.store.rule_versions().await?;
        let mut errors = Vec::new();
        let mut events = Vec::new();
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
            if dept.is_none() {
                err("单位", format!("“{}”不是成员单位", get("单位")));
            }
            let month: Option<Month> = get("月份")
                .parse()
                .map_err(|e: liandong_domain::PeriodError| err("月份", e.to_string()))
                .ok();
            let rule = parse_rule(&get("评分细则"));
            if rule.is_none() {
                err(
                    "评分细则",
                    format!("“{}”不是评分细则中的代码或事项", get("评分细则")),
                );
            }
            let level = parse_level(&get("级别"));
            if level.is_none() {
                err(
                    "级别",
                    format!("“{}”不是有效级别（国家级、省级、市级、县级）", get("级别")),
                );
            }
            let count: Option<u32> = get("次数").parse().ok().filter(|c| *c >= 1);
            if count.is_none() {
                err("次数", format!("“{}”不是正整数", get("次数")));
            }
            let occurred = match get("发生日期").as_str() {
                "" => Some(None),
                d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(day) if month.is_none_or(|m| Month::of(day) == m) => Some(Some(day)),
                    Ok(day) => {
                        err("发生日期", format!("{day} 不在所填月份内"));
                        None
                    }
                    Err(_) => {
                        err("发生日期", format!("“{d}”格式应为 2023-04-12"));
                        None
                    }
                },
            };
            let note = get("说明");
            if note.chars().count() > 500 {
                err("说明", "最多 500 个字".into());
            }
            let (Some(dept), Some(month), Some(rule), Some(level), Some(count), Some(occurred)) =
                (dept, month, rule, level, count, occurred)
            else {
                continue;
            };
            if rule.per() == liandong_domain::scoring::Per::Month
                && events.iter().any(|e: &NewScoreEvent| {
                    e.department_id == dept.id && e.month == month && e.rule == rule
                })
            {
                err("评分细则", "与上文重复：按月计的事项每月只计一次".into());
                continue;
            }
            let day = occurred.unwrap_or_else(|| month.last_day());
            let Some(version) = versions
                .iter()
                .rev()
                .find(|v| v.table.effective_from <= day)
                .or(versions.first())
            else {
                return Err(ServiceError::Internal("评分细则尚未初始化".into()));
            };
            match version.table.score(rule, level, count, dept.category) {
                Ok(points) => events.push(NewScoreEvent {
                    department_id: dept.id,
                    month,
                    rule,
                    level,
                    count,
                    points,
                    rule_version_id: version.id,
                    note,
                    doc_no: Some(get("文号")).filter(|s| !s.is_empty()),
                    occurred_on: occurred,
                }),
                Err(e) => {
                    let column = match e {
                        ScoringError::BadCount(_) => "次数",
                        ScoringError::LevelRequired(_) | ScoringError::LevelNotAllowed(_) => "级别",
                        _ => "评分细则",
                    };
                    err(column, e.to_string());
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
        let n = self
            .store
            .import_score_events(actor, now.timestamp(), &hash, &events)
            .await?;
        Ok(ImportOutcome::Imported(n))
    }
}
