//! The scoring rules of attachment 4 (奖优惩后评分细则) and the rankings built on them
//! (季排序, and the monthly ranking of close-type departments).
//!
//! Every period starts from 100 points; score events add or deduct. Points come in steps of
//! 0.5 and are kept as whole half points; combined scores use exact decimals, never floats.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Category;

/// Points in steps of 0.5 (分), kept as a whole number of half points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(i64);

impl Points {
    pub const ZERO: Points = Points(0);

    pub fn from_halves(halves: i64) -> Points {
        Points(halves)
    }
    pub fn halves(self) -> i64 {
        self.0
    }
    pub fn whole(n: i64) -> Points {
        Points(n * 2)
    }
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0 * 5, 1)
    }
    pub fn times(self, count: u32) -> Points {
        Points(self.0 * i64::from(count))
    }
    pub fn negated(self) -> Points {
        Points(-self.0)
    }
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl std::ops::Add for Points {
    type Output = Points;
    fn add(self, o: Points) -> Points {
        Points(self.0 + o.0)
    }
}

impl std::iter::Sum for Points {
    fn sum<I: Iterator<Item = Points>>(it: I) -> Points {
        Points(it.map(|p| p.0).sum())
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        if abs.is_multiple_of(2) {
            write!(f, "{sign}{}", abs / 2)
        } else {
            write!(f, "{sign}{}.5", abs / 2)
        }
    }
}

impl FromStr for Points {
    type Err = ScoringError;
    /// Accepts `2`, `-3`, `0.5`, `2.50`; refuses anything not a multiple of 0.5.
    fn from_str(s: &str) -> Result<Points, ScoringError> {
        let d: Decimal = s
            .trim()
            .parse()
            .map_err(|_| ScoringError::NotHalfPoints(s.to_owned()))?;
        Points::try_from(d)
    }
}

impl TryFrom<Decimal> for Points {
    type Error = ScoringError;
    fn try_from(d: Decimal) -> Result<Points, ScoringError> {
        use rust_decimal::prelude::ToPrimitive;
        let halves = d * Decimal::TWO;
        match halves.to_i64() {
            Some(h) if halves.fract().is_zero() && h.abs() <= 2_000_000 => Ok(Points(h)),
            _ => Err(ScoringError::NotHalfPoints(d.normalize().to_string())),
        }
    }
}

impl Serialize for Points {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exact in binary: a multiple of 0.5 below 2^52.
        s.serialize_f64(self.0 as f64 / 2.0)
    }
}

/// The level of the body that issued a notice, a commendation or a meeting (国/省/市/县).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    National,
    Province,
    City,
    County,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::National, Level::Province, Level::City, Level::County];
    pub fn code(self) -> &'static str {
        match self {
            Level::National => "national",
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Level::National => "国家级",
            Level::Province => "省级",
            Level::City => "市级",
            Level::County => "县级",
        }
    }
    pub fn from_code(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code() == s)
    }
}

/// What one unit of a rule counts (条, 月, 次).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Item,
    Month,
    Time,
}

impl Per {
    pub fn label(self) -> &'static str {
        match self {
            Per::Item => "条",
            Per::Month => "月",
            Per::Time => "次",
        }
    }
}

/// The 16 rules of attachment 4, with the stable codes of the API, imports and exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleCode {
    NoticePolicyUnimplemented,
    SelfcheckNotConducted,
    SelfcheckTownshipUnscored,
    SelfcheckNoProblems,
    SelfcheckUnrectified,
    AssignedUnrectified,
    PetitionEscalated,
    OpinionMajorNegative,
    MeetingAbsent,
    MeetingImproper,
    ReportLate,
    ReportMissing,
    PraiseCommended,
    PraiseTypicalSpeech,
    WarningVerified,
    PraisePublicity,
}

impl RuleCode {
    pub const ALL: [RuleCode; 16] = [
        RuleCode::NoticePolicyUnimplemented,
        RuleCode::SelfcheckNotConducted,
        RuleCode::SelfcheckTownshipUnscored,
        RuleCode::SelfcheckNoProblems,
        RuleCode::SelfcheckUnrectified,
        RuleCode::AssignedUnrectified,
        RuleCode::PetitionEscalated,
        RuleCode::OpinionMajorNegative,
        RuleCode::MeetingAbsent,
        RuleCode::MeetingImproper,
        RuleCode::ReportLate,
        RuleCode::ReportMissing,
        RuleCode::PraiseCommended,
        RuleCode::PraiseTypicalSpeech,
        RuleCode::WarningVerified,
        RuleCode::PraisePublicity,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RuleCode::NoticePolicyUnimplemented => "notice.policy_unimplemented",
            RuleCode::SelfcheckNotConducted => "selfcheck.not_conducted",
            RuleCode::SelfcheckTownshipUnscored => "selfcheck.township_unscored",
            RuleCode::SelfcheckNoProblems => "selfcheck.no_problems",
            RuleCode::SelfcheckUnrectified => "selfcheck.unrectified",
            RuleCode::AssignedUnrectified => "assigned.unrectified",
            RuleCode::PetitionEscalated => "petition.escalated",
            RuleCode::OpinionMajorNegative => "opinion.major_negative",
            RuleCode::MeetingAbsent => "meeting.absent",
            RuleCode::MeetingImproper => "meeting.improper",
            RuleCode::ReportLate => "report.late",
            RuleCode::ReportMissing => "report.missing",
            RuleCode::PraiseCommended => "praise.commended",
            RuleCode::PraiseTypicalSpeech => "praise.typical_speech",
            RuleCode::WarningVerified => "warning.verified",
            RuleCode::PraisePublicity => "praise.publicity",
        }
    }

    /// The rule as attachment 4 words it.
    pub fn label(self) -> &'static str {
        match self {
            RuleCode::NoticePolicyUnimplemented => "各级督查巡察审计通报行业政策未落实",
            RuleCode::SelfcheckNotConducted => "未开展自查活动",
            RuleCode::SelfcheckTownshipUnscored => "紧密型部门对乡镇未评分排名",
            RuleCode::SelfcheckNoProblems => "自查无问题",
            RuleCode::SelfcheckUnrectified => "自查问题未整改（需长期整改的除外）",
            RuleCode::AssignedUnrectified => "联动办公室交办问题或信访舆情件经核实仍未整改",
            RuleCode::PetitionEscalated => "属实信访事项处置不到位致再次越级上访",
            RuleCode::OpinionMajorNegative => "信访舆情处置不及时或不当引发重大负面舆情",
            RuleCode::MeetingAbsent => "“5+2”例会缺席",
            RuleCode::MeetingImproper => "未按要求参会",
            RuleCode::ReportLate => "资料报送不及时",
            RuleCode::ReportMissing => "资料未报送",
            RuleCode::PraiseCommended => "被点名通报表扬（彰）",
            RuleCode::PraiseTypicalSpeech => "重大会议典型发言",
            RuleCode::WarningVerified => "共享预警信息经核查属实（早发现早干预早帮扶）",
            RuleCode::PraisePublicity => "工作经验被主流媒体宣传推介",
        }
    }

    pub fn is_bonus(self) -> bool {
        matches!(
            self,
            RuleCode::PraiseCommended
                | RuleCode::PraiseTypicalSpeech
                | RuleCode::WarningVerified
                | RuleCode::PraisePublicity
        )
    }

    pub fn per(self) -> Per {
        match self {
            RuleCode::SelfcheckNotConducted
            | RuleCode::SelfcheckTownshipUnscored
            | RuleCode::SelfcheckNoProblems => Per::Month,
            RuleCode::MeetingAbsent
            | RuleCode::MeetingImproper
            | RuleCode::ReportLate
            | RuleCode::ReportMissing => Per::Time,
            _ => Per::Item,
        }
    }

    /// Rules whose points depend on the issuing level.
    pub fn has_levels(self) -> bool {
        matches!(
            self,
            RuleCode::NoticePolicyUnimplemented
                | RuleCode::PraiseCommended
                | RuleCode::PraiseTypicalSpeech
                | RuleCode::PraisePublicity
        )
    }

    /// `selfcheck.township_unscored` concerns only close-type departments, which score townships.
    pub fn close_only(self) -> bool {
        matches!(self, RuleCode::SelfcheckTownshipUnscored)
    }

    /// A "per month" rule counts at most once in a month.
    pub fn max_count(self) -> u32 {
        if self.per() == Per::Month {
            1
        } else {
            1000
        }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for RuleCode {
    type Err = ScoringError;
    fn from_str(s: &str) -> Result<RuleCode, ScoringError> {
        RuleCode::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| ScoringError::UnknownRule(s.to_owned()))
    }
}

impl Serialize for RuleCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for RuleCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RuleCode, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("未知的评分规则“{0}”")]
    UnknownRule(String),
    #[error("规则“{0}”须注明级别（national、province、city、county）")]
    LevelRequired(&'static str),
    #[error("规则“{0}”不分级别，请不要填写级别")]
    LevelNotAllowed(&'static str),
    #[error("规则“{0}”没有“{1}”这一级别的分值")]
    NoPointsForLevel(&'static str, &'static str),
    #[error("规则“{0}”只适用于紧密型部门")]
    CloseOnly(&'static str),
    #[error("次数须为 1 到 {0} 之间的整数")]
    BadCount(u32),
    #[error("分值“{0}”须为 0.5 的整数倍")]
    NotHalfPoints(String),
    #[error("分值须为正数（加分或扣分由规则决定）")]
    NotPositive,
}

/// One version of the rule table: the points of every rule (and level), effective from a
/// date. The county revises it yearly; an event keeps the version it was scored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTable {
    pub effective_from: NaiveDate,
    /// Magnitudes (always positive); the sign comes from the rule.
    points: BTreeMap<(RuleCode, Option<Level>), Points>,
}

impl RuleTable {
    /// The table of the work plan of 2023-03-10.
    pub fn work_plan_2023() -> RuleTable {
        use Level::*;
        use RuleCode::*;
        let mut points = BTreeMap::new();
        let mut levels = |code: RuleCode, values: [i64; 4]| {
            for (l, h) in [National, Province, City, County].into_iter().zip(values) {
                points.insert((code, Some(l)), Points::from_halves(h));
            }
        };
        // Values in half points.
        levels(NoticePolicyUnimplemented, [20, 10, 6, 4]);
        levels(PraiseCommended, [10, 6, 4, 2]);
        levels(PraiseTypicalSpeech, [10, 6, 4, 2]);
        levels(PraisePublicity, [6, 4, 2, 1]);
        for (code, whole) in [
            (SelfcheckNotConducted, 8),
            (SelfcheckTownshipUnscored, 5),
            (SelfcheckNoProblems, 3),
            (SelfcheckUnrectified, 2),
            (AssignedUnrectified, 3),
            (PetitionEscalated, 2),
            (OpinionMajorNegative, 3),
            (MeetingAbsent, 2),
            (MeetingImproper, 1),
            (ReportLate, 1),
            (ReportMissing, 2),
            (WarningVerified, 2),
        ] {
            points.insert((code, None), Points::whole(whole));
        }
        RuleTable {
            effective_from: NaiveDate::from_ymd_opt(2023, 3, 10).unwrap_or(NaiveDate::MIN),
            points,
        }
    }

    /// Builds a table from (rule, level, magnitude) rows, checking that every rule is present
    /// with exactly the levels it needs.
    pub fn from_rows(
        effective_from: NaiveDate,
        rows: &[(RuleCode, Option<Level>, Points)],
    ) -> Result<RuleTable, ScoringError> {
        let mut points = BTreeMap::new();
        for &(code, level, p) in rows {
            if p.halves() <= 0 {
                return Err(ScoringError::NotPositive);
            }
            match (code.has_levels(), level) {
                (true, None) => return Err(ScoringError::LevelRequired(code.code())),
                (false, Some(_)) => return Err(ScoringError::LevelNotAllowed(code.code())),
                _ => {}
            }
            points.insert((code, level), p);
        }
        for code in RuleCode::ALL {
            let needed: Vec<Option<Level>> = if code.has_levels() {
                Level::ALL.map(Some).to_vec()
            } else {
                vec![None]
            };
            for l in needed {
                if !points.contains_key(&(code, l)) {
                    return Err(ScoringError::NoPointsForLevel(
                        code.code(),
                        l.map_or("-", Level::label),
                    ));
                }
            }
        }
        Ok(RuleTable {
            effective_from,
            points,
        })
    }

    /// Every (rule, level, magnitude), in rule order.
    pub fn rows(&self) -> Vec<(RuleCode, Option<Level>, Points)> {
        self.points.iter().map(|(&(c, l), &p)| (c, l, p)).collect()
    }

    /// The signed points of one event: checks the level, the department's category and the
    /// count against the rule.
    pub fn score(
        &self,
        rule: RuleCode,
        level: Option<Level>,
        count: u32,
        category: Category,
    ) -> Result<Points, ScoringError> {
        match (rule.has_levels(), level) {
            (true, None) => return Err(ScoringError::LevelRequired(rule.code())),
            (false, Some(_)) => return Err(ScoringError::LevelNotAllowed(rule.code())),
            _ => {}
        }
        if rule.close_only() && category != Category::Close {
            return Err(ScoringError::CloseOnly(rule.code()));
        }
        if count == 0 || count > rule.max_count() {
            return Err(ScoringError::BadCount(rule.max_count()));
        }
        let unit = *self
            .points
            .get(&(rule, level))
            .ok_or(ScoringError::NoPointsForLevel(
                rule.code(),
                level.map_or("-", Level::label),
            ))?;
        let p = unit.times(count);
        Ok(if rule.is_bonus() { p } else { p.negated() })
    }
}

/// Every period starts from this many points.
pub const BASE_SCORE: i64 = 100;

/// The office's score of a period: 100 plus the points of its events.
pub fn office_score(points: impl IntoIterator<Item = Points>) -> Decimal {
    (Decimal::from(BASE_SCORE) + points.into_iter().sum::<Points>().to_decimal()).normalize()
}

/// How the office score and the task-force office's extended evaluation (延伸评价) combine for
/// close-type departments, in percent; default 50 + 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    office_percent: u32,
}

impl Weights {
    pub fn new(office_percent: u32) -> Option<Weights> {
        (office_percent <= 100).then_some(Weights { office_percent })
    }
    pub fn office_percent(self) -> u32 {
        self.office_percent
    }
    pub fn combine(self, office: Decimal, extended: Decimal) -> Decimal {
        let w = Decimal::from(self.office_percent);
        ((office * w + extended * (Decimal::ONE_HUNDRED - w)) / Decimal::ONE_HUNDRED).normalize()
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights { office_percent: 50 }
    }
}

/// What a department's final score rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The office's score alone.
    Office,
    /// Office score and extended evaluation combined (close-type, quarterly).
    Combined,
    /// Close-type, quarterly, but the extended evaluation is not entered yet.
    AwaitingExtended,
    /// The province's or city's evaluation replaces the office score (乡村振兴局, 财政局).
    External,
    /// Ranked on an external evaluation that is not entered yet: the office score stands in.
    AwaitingExternal,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Basis::Office => "联动办公室评分",
            Basis::Combined => "联动办公室评分与延伸评价加权",
            Basis::AwaitingExtended => "延伸评价待录入（暂按联动办公室评分）",
            Basis::External => "上级评估结果",
            Basis::AwaitingExternal => "上级评估结果待录入（暂按联动办公室评分）",
        }
    }
}

/// One department's inputs to a ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankInput {
    pub department_id: i64,
    pub category: Category,
    pub office_score: Decimal,
    pub extended: Option<Decimal>,
    pub external: Option<Decimal>,
    /// Ranked on an external evaluation instead of the office score (domain.md §5.4).
    pub ranked_externally: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub department_id: i64,
    pub category: Category,
    pub office_score: Decimal,
    pub score: Decimal,
    pub basis: Basis,
    /// Within the category; ties share a rank (1, 2, 2, 4).
    pub rank: u32,
}

/// Whether the ranking is monthly (office score only) or quarterly (evaluations apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankingKind {
    Monthly,
    Quarterly,
}

/// Ranks departments within each category by their final score.
pub fn rank(inputs: &[RankInput], weights: Weights, kind: RankingKind) -> Vec<Ranked> {
    let mut rows: Vec<Ranked> = inputs
        .iter()
        .map(|i| {
            let (score, basis) = match kind {
                RankingKind::Monthly => (i.office_score, Basis::Office),
                RankingKind::Quarterly if i.ranked_externally => match i.external {
                    Some(e) => (e, Basis::External),
                    None => (i.office_score, Basis::AwaitingExternal),
                },
                RankingKind::Quarterly if i.category == Category::Close => match i.extended {
                    Some(e) => (weights.combine(i.office_score, e), Basis::Combined),
                    None => (i.office_score, Basis::AwaitingExtended),
                },
                RankingKind::Quarterly => (i.office_score, Basis::Office),
            };
            Ranked {
                department_id: i.department_id,
                category: i.category,
                office_score: i.office_score,
                score,
                basis,
                rank: 0,
            }
        })
        .collect();
    for c in Category::ALL {
        let scores: Vec<Decimal> = rows
            .iter()
            .filter(|r| r.category == c)
            .map(|r| r.score)
            .collect();
        for r in rows.iter_mut().filter(|r| r.category == c) {
            r.rank = 1 + scores.iter().filter(|&&s| s > r.score).count() as u32;
        }
    }
    rows.sort_by(|a, b| {
        a.category
            .cmp(&b.category)
            .then(a.rank.cmp(&b.rank))
            .then(a.department_id.cmp(&b.department_id))
    });
    rows
}

/// Departments last in their category in every one of `history` (consecutive rankings, oldest
/// first): 连续处于落后位次, the rule for the county-wide bulletin (by default two quarters
/// running). Ties for last place are all last; a category of one, or all tied, lags nobody.
pub fn consecutive_laggards(history: &[&[Ranked]]) -> Vec<i64> {
    fn last(rows: &[Ranked], id: i64) -> bool {
        let Some(r) = rows.iter().find(|x| x.department_id == id) else {
            return false;
        };
        let peers: Vec<&Ranked> = rows.iter().filter(|x| x.category == r.category).collect();
        // Last means someone ranks above: a category tied throughout lags nobody.
        peers.iter().any(|x| x.rank < r.rank) && peers.iter().map(|x| x.rank).max() == Some(r.rank)
    }
    let Some(current) = history.last() else {
        return Vec::new();
    };
    current
        .iter()
        .map(|r| r.department_id)
        .filter(|&id| history.iter().all(|rows| last(rows, id)))
        .collect()
}

/// The annual result for the performance review: the mean of the quarters' final scores.
pub fn annual_mean(quarters: &[Decimal]) -> Option<Decimal> {
    if quarters.is_empty() {
        return None;
    }
    let sum: Decimal = quarters.iter().sum();
    Some(
        (sum / Decimal::from(quarters.len() as u64))
            .round_dp(2)
            .normalize(),
    )
}

/// The end (23:59:59) of the `n`th working day after `from` (weekends and the given holidays
/// do not count): the close of an appeal window opened at `from`.
pub fn working_days_after(from: NaiveDateTime, n: u32, holidays: &[NaiveDate]) -> NaiveDateTime {
    let mut day = from.date();
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend && !holidays.contains(&day) {
            left -= 1;
        }
    }
    day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;
    use Level::*;
    use RuleCode::*;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn pts(s: &str) -> Points {
        s.parse().expect("points")
    }

    #[test]
    fn points_are_exact_half_steps() {
        assert_eq!(pts("0.5").halves(), 1);
        assert_eq!(pts("-2.50").halves(), -5);
        assert_eq!(pts("3").to_string(), "3");
        assert_eq!(pts("-0.5").to_string(), "-0.5");
        assert_eq!(Points::from_halves(-7).to_string(), "-3.5");
        assert_eq!(Points::from_halves(-7).to_decimal(), dec("-3.5"));
        assert!("0.25".parse::<Points>().is_err());
        assert!("abc".parse::<Points>().is_err());
        assert_eq!(serde_json::to_string(&pts("-2.5")).expect("json"), "-2.5");
    }

    /// Every rule of attachment 4 at every level, computed by hand from the document.
    #[test]
    fn every_rule_scores_as_the_document_says() {
        let t = RuleTable::work_plan_2023();
        let cases: &[(RuleCode, Option<Level>, u32, Category, &str)] = &[
            (NoticePolicyUnimplemented, Some(National), 1, Related, "-10"),
            (NoticePolicyUnimplemented, Some(Province), 2, Related, "-10"),
            (NoticePolicyUnimplemented, Some(City), 1, Close, "-3"),
            (NoticePolicyUnimplemented, Some(County), 3, Emergency, "-6"),
            (SelfcheckNotConducted, None, 1, Related, "-8"),
            (SelfcheckTownshipUnscored, None, 1, Close, "-5"),
            (SelfcheckNoProblems, None, 1, Emergency, "-3"),
            (SelfcheckUnrectified, None, 4, Close, "-8"),
            (AssignedUnrectified, None, 2, Related, "-6"),
            (PetitionEscalated, None, 1, Related, "-2"),
            (OpinionMajorNegative, None, 1, Close, "-3"),
            (MeetingAbsent, None, 2, Related, "-4"),
            (MeetingImproper, None, 3, Related, "-3"),
            (ReportLate, None, 1, Emergency, "-1"),
            (ReportMissing, None, 2, Close, "-4"),
            (PraiseCommended, Some(National), 1, Close, "5"),
            (PraiseCommended, Some(Province), 1, Close, "3"),
            (PraiseCommended, Some(City), 2, Related, "4"),
            (PraiseCommended, Some(County), 1, Related, "1"),
            (PraiseTypicalSpeech, Some(National), 1, Close, "5"),
            (PraiseTypicalSpeech, Some(Province), 1, Close, "3"),
            (PraiseTypicalSpeech, Some(City), 1, Close, "2"),
            (PraiseTypicalSpeech, Some(County), 1, Close, "1"),
            (WarningVerified, None, 3, Emergency, "6"),
            (PraisePublicity, Some(National), 1, Related, "3"),
            (PraisePublicity, Some(Province), 1, Related, "2"),
            (PraisePublicity, Some(City), 1, Related, "1"),
            (PraisePublicity, Some(County), 1, Related, "0.5"),
            (PraisePublicity, Some(County), 3, Related, "1.5"),
        ];
        for &(rule, level, count, cat, expected) in cases {
            assert_eq!(
                t.score(rule, level, count, cat),
                Ok(pts(expected)),
                "{rule} {level:?} x{count}"
            );
        }
        let covered: std::collections::BTreeSet<_> = cases.iter().map(|c| c.0).collect();
        assert_eq!(covered.len(), 16, "every rule code is covered");
    }

    #[test]
    fn events_are_checked_against_their_rule() {
        let t = RuleTable::work_plan_2023();
        assert_eq!(
            t.score(NoticePolicyUnimplemented, None, 1, Close),
            Err(ScoringError::LevelRequired("notice.policy_unimplemented"))
        );
        assert_eq!(
            t.score(MeetingAbsent, Some(County), 1, Close),
            Err(ScoringError::LevelNotAllowed("meeting.absent"))
        );
        assert_eq!(
            t.score(SelfcheckTownshipUnscored, None, 1, Related),
            Err(ScoringError::CloseOnly("selfcheck.township_unscored"))
        );
        assert_eq!(
            t.score(ReportLate, None, 0, Close),
            Err(ScoringError::BadCount(1000))
        );
        assert_eq!(
            t.score(SelfcheckNoProblems, None, 2, Close),
            Err(ScoringError::BadCount(1)),
            "once a month"
        );
        assert_eq!(
            "nope".parse::<RuleCode>(),
            Err(ScoringError::UnknownRule("nope".into()))
        );
        for r in RuleCode::ALL {
            assert_eq!(r.code().parse::<RuleCode>(), Ok(r));
        }
    }

    #[test]
    fn a_revised_table_must_be_complete_and_positive() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let mut rows = RuleTable::work_plan_2023().rows();
        let table = RuleTable::from_rows(day, &rows).expect("complete");
        assert_eq!(table.rows().len(), 4 * 4 + 12);
        rows.retain(|r| r.0 != WarningVerified);
        assert!(matches!(
            RuleTable::from_rows(day, &rows),
            Err(ScoringError::NoPointsForLevel("warning.verified", _))
        ));
        let mut rows = RuleTable::work_plan_2023().rows();
        rows[0].2 = Points::ZERO;
        assert_eq!(
            RuleTable::from_rows(day, &rows),
            Err(ScoringError::NotPositive)
        );
    }

    #[test]
    fn office_score_starts_at_100() {
        assert_eq!(office_score([]), dec("100"));
        assert_eq!(
            office_score([pts("-8"), pts("0.5"), pts("-3")]),
            dec("89.5")
        );
    }

    fn input(id: i64, category: Category, office: &str) -> RankInput {
        RankInput {
            department_id: id,
            category,
            office_score: dec(office),
            extended: None,
            external: None,
            ranked_externally: false,
        }
    }

    #[test]
    fn ties_share_a_rank_within_each_category() {
        let rows = rank(
            &[
                input(1, Related, "95"),
                input(2, Related, "98"),
                input(3, Related, "95"),
                input(4, Related, "90"),
                input(5, Emergency, "90"),
            ],
            Weights::default(),
            RankingKind::Quarterly,
        );
        let ranks: Vec<(i64, u32)> = rows.iter().map(|r| (r.department_id, r.rank)).collect();
        assert_eq!(ranks, [(2, 1), (1, 2), (3, 2), (4, 4), (5, 1)]);
    }

    #[test]
    fn close_type_quarters_combine_50_50_exactly() {
        let mut a = input(1, Close, "92.5");
        a.extended = Some(dec("95"));
        let mut b = input(2, Close, "97");
        b.extended = Some(dec("90.5"));
        let c = input(3, Close, "99");
        let rows = rank(
            &[a.clone(), b, c.clone()],
            Weights::default(),
            RankingKind::Quarterly,
        );
        let get = |id| {
            rows.iter()
                .find(|r| r.department_id == id)
                .expect("row")
                .clone()
        };
        // (92.5 + 95) / 2 = 93.75; (97 + 90.5) / 2 = 93.75: a tie.
        assert_eq!(get(1).score, dec("93.75"));
        assert_eq!(get(2).score, dec("93.75"));
        assert_eq!((get(1).rank, get(2).rank), (2, 2));
        assert_eq!(
            (get(3).score, get(3).basis, get(3).rank),
            (dec("99"), Basis::AwaitingExtended, 1)
        );
        // Weights are a setting: 60/40 gives 92.5*0.6 + 95*0.4 = 93.5.
        let rows = rank(
            &[a.clone()],
            Weights::new(60).expect("weights"),
            RankingKind::Quarterly,
        );
        assert_eq!(rows[0].score, dec("93.5"));
        // Months rank on the office score alone.
        let rows = rank(&[a], Weights::default(), RankingKind::Monthly);
        assert_eq!((rows[0].score, rows[0].basis), (dec("92.5"), Basis::Office));
        assert!(Weights::new(101).is_none());
    }

    #[test]
    fn external_evaluations_replace_the_office_score() {
        let mut rural = input(26, Related, "80");
        rural.ranked_externally = true;
        rural.external = Some(dec("96.5"));
        let mut finance = input(5, Related, "99");
        finance.ranked_externally = true;
        let other = input(7, Related, "90");
        let rows = rank(
            &[rural, finance, other],
            Weights::default(),
            RankingKind::Quarterly,
        );
        let get = |id| {
            rows.iter()
                .find(|r| r.department_id == id)
                .expect("row")
                .clone()
        };
        assert_eq!(
            (get(26).score, get(26).basis, get(26).rank),
            (dec("96.5"), Basis::External, 2)
        );
        assert_eq!((get(26).office_score), dec("80"));
        assert_eq!(
            (get(5).score, get(5).basis, get(5).rank),
            (dec("99"), Basis::AwaitingExternal, 1)
        );
    }

    #[test]
    fn laggards_are_last_two_quarters_running() {
        let q = |scores: &[(i64, &str)]| {
            rank(
                &scores
                    .iter()
                    .map(|&(id, s)| input(id, Related, s))
                    .collect::<Vec<_>>(),
                Weights::default(),
                RankingKind::Quarterly,
            )
        };
        let q1 = q(&[(1, "99"), (2, "95"), (3, "90")]);
        let q2 = q(&[(1, "98"), (2, "90"), (3, "90")]);
        assert_eq!(consecutive_laggards(&[&q1, &q2]), [3]);
        let q3 = q(&[(1, "80"), (2, "95"), (3, "96")]);
        assert_eq!(consecutive_laggards(&[&q2, &q3]), Vec::<i64>::new());
        let q4 = q(&[(1, "99"), (2, "95"), (3, "90")]);
        assert_eq!(
            consecutive_laggards(&[&q1, &q2, &q4]),
            [3],
            "three quarters running"
        );
        assert_eq!(consecutive_laggards(&[&q1, &q3, &q4]), Vec::<i64>::new());
        assert!(consecutive_laggards(&[]).is_empty());
        let tied = q(&[(1, "100"), (2, "100"), (3, "100")]);
        assert!(
            consecutive_laggards(&[&tied, &tied]).is_empty(),
            "all tied: nobody is last"
        );
        let single = rank(
            &[input(9, Emergency, "50")],
            Weights::default(),
            RankingKind::Quarterly,
        );
        assert!(
            consecutive_laggards(&[&single, &single]).is_empty(),
            "alone in a category is not lagging"
        );
    }

    #[test]
    fn annual_is_the_mean_of_the_quarters() {
        assert_eq!(
            annual_mean(&[dec("93.75"), dec("95"), dec("90.5"), dec("100")]),
            Some(dec("94.81"))
        );
        assert_eq!(annual_mean(&[dec("90"), dec("95")]), Some(dec("92.5")));
        assert_eq!(annual_mean(&[]), None);
    }

    #[test]
    fn appeal_windows_count_working_days() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time");
        // Submitted Thursday 2023-07-06: Friday, Monday, Tuesday.
        assert_eq!(
            working_days_after(at("2023-07-06 10:00:00"), 3, &[]),
            at("2023-07-11 23:59:59")
        );
        let holiday = NaiveDate::from_ymd_opt(2023, 7, 10).expect("date");
        assert_eq!(
            working_days_after(at("2023-07-06 10:00:00"), 3, &[holiday]),
            at("2023-07-12 23:59:59")
        );
        assert_eq!(
            working_days_after(at("2023-07-06 10:00:00"), 0, &[]),
            at("2023-07-06 23:59:59")
        );
    }
}
