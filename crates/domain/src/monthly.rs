//! The monthly activities (五个一 items 1–3) as pure rules: the states of problems, meetings,
//! assignments and required submissions, the facts a month is closed on, and the score events
//! that closing a month proposes (domain.md §6). No I/O: the store gathers the facts, this
//! module decides.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::deadline::MonthlyReportDeadline;
use crate::scoring::RuleCode;
use crate::{Category, Month};

/// An enum with a stable code (API, database) and a Chinese label (UI, exports).
macro_rules! coded {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $code),+ }
            }
            pub fn label(self) -> &'static str {
                match self { $($name::$v => $label),+ }
            }
            pub fn from_code(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$v),)+ _ => None }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
    };
}

coded! {
    /// Where a problem of the rectification ledger (整改台账) stands.
    pub enum ProblemStatus {
        /// 整改中
        Open = ("open", "整改中"),
        /// Reported rectified by the department, waiting for the office to close it.
        Rectified = ("rectified", "已整改待销号"),
        /// 已销号: closed by the office, never by the department that fixed it.
        Closed = ("closed", "已销号"),
    }
}

coded! {
    /// Who found a problem.
    pub enum ProblemSource {
        /// 自查发现
        SelfInspection = ("self", "自查发现"),
        /// 核查发现
        Verification = ("verification", "核查发现"),
    }
}

coded! {
    /// The kinds of the office's monthly meeting (月小结).
    pub enum MeetingKind {
        Exchange = ("exchange", "交流会"),
        Progress = ("progress", "推进会"),
        Observation = ("observation", "观摩会"),
    }
}

coded! {
    /// A department's attendance at a meeting.
    pub enum Attendance {
        Present = ("present", "参会"),
        /// 缺席
        Absent = ("absent", "缺席"),
        /// 未按要求参会
        Improper = ("improper", "未按要求参会"),
    }
}

coded! {
    /// What the office hands a department to rectify.
    pub enum AssignmentKind {
        /// 联动办公室交办问题
        Assigned = ("assigned", "交办问题"),
        /// 信访件
        Petition = ("petition", "信访件"),
        /// 舆情件
        Opinion = ("opinion", "舆情件"),
    }
}

coded! {
    /// Where an assignment stands.
    pub enum AssignmentStatus {
        Open = ("open", "待整改"),
        /// The department reported it rectified; verification has yet to confirm.
        Reported = ("reported", "已报整改待核查"),
        /// Verification confirmed the rectification.
        Confirmed = ("confirmed", "核查已整改"),
    }
}

coded! {
    /// What a verification finding says.
    pub enum FindingOutcome {
        /// The checked problem or assignment is rectified.
        Rectified = ("rectified", "已整改属实"),
        /// The checked problem or assignment is still open: it is reopened.
        Unrectified = ("unrectified", "仍未整改"),
        /// A problem the department had not listed: it enters the ledger.
        NewProblem = ("new_problem", "发现新问题"),
        /// Anything else, scored under a rule the verifier names.
        Other = ("other", "其他情况"),
    }
}

coded! {
    /// The two monthly reports of a department.
    pub enum ReportKind {
        /// 月自查报告 with its problem list.
        Inspection = ("inspection", "月自查报告"),
        /// 月小结
        Summary = ("summary", "月小结"),
    }
}

coded! {
    /// Where a follow-up task of a meeting's decisions stands.
    pub enum TaskStatus {
        Open = ("open", "待落实"),
        Done = ("done", "已落实"),
    }
}

/// The fact a proposed score event rests on, stored with it as text (`problem:17`) and shown
/// as a link to the record behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactRef {
    /// A department's self-inspection report of a month (present, late or missing).
    Inspection { department_id: i64, month: Month },
    /// A close-type department's township scores of a month.
    TownshipScores { department_id: i64, month: Month },
    /// A problem of the rectification ledger.
    Problem(i64),
    /// A department's attendance at a meeting.
    Attendance { meeting_id: i64, department_id: i64 },
    /// A department's part of a required submission.
    Submission {
        requirement_id: i64,
        department_id: i64,
    },
    /// An assignment (交办) or petition/opinion incident.
    Assignment(i64),
    /// A verification finding.
    Finding {
        verification_id: i64,
        finding_id: i64,
    },
    /// An early warning confirmed by the township and the office.
    Warning(i64),
    /// A department's delivery of a data set for comparison (数据报送), due in `month`;
    /// `kind` is the data kind's ordinal.
    Feed {
        kind: u8,
        department_id: i64,
        month: Month,
    },
}

impl FactRef {
    /// The page that shows the fact.
    pub fn href(self) -> String {
        match self {
            FactRef::Inspection {
                department_id,
                month,
            } => format!("/monthly/{month}/departments/{department_id}"),
            FactRef::TownshipScores {
                department_id,
                month,
            } => format!("/monthly/{month}/departments/{department_id}#townships"),
            FactRef::Problem(id) => format!("/problems/{id}"),
            FactRef::Attendance { meeting_id, .. } => format!("/meetings/{meeting_id}"),
            FactRef::Submission { requirement_id, .. } => format!("/submissions/{requirement_id}"),
            FactRef::Assignment(id) => format!("/assignments/{id}"),
            FactRef::Finding {
                verification_id,
                finding_id,
            } => format!("/verifications/{verification_id}#finding-{finding_id}"),
            FactRef::Warning(id) => format!("/warnings/{id}"),
            FactRef::Feed { month, .. } => format!("/compare/feeds?month={month}"),
        }
    }

    /// A short Chinese name of the fact, for the link text.
    pub fn label(self) -> String {
        match self {
            FactRef::Inspection { month, .. } => format!("{}自查报告", month.label()),
            FactRef::TownshipScores { month, .. } => format!("{}乡镇评分", month.label()),
            FactRef::Problem(id) => format!("问题第 {id} 号"),
            FactRef::Attendance { meeting_id, .. } => format!("例会第 {meeting_id} 号考勤"),
            FactRef::Submission { requirement_id, .. } => {
                format!("报送任务第 {requirement_id} 号")
            }
            FactRef::Assignment(id) => format!("交办事项第 {id} 号"),
            FactRef::Finding { finding_id, .. } => format!("核查发现第 {finding_id} 号"),
            FactRef::Warning(id) => format!("预警第 {id} 号"),
            FactRef::Feed { month, .. } => format!("{}比对数据报送", month.label()),
        }
    }
}

impl fmt::Display for FactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FactRef::Inspection {
                department_id,
                month,
            } => write!(f, "inspection:{department_id}:{month}"),
            FactRef::TownshipScores {
                department_id,
                month,
            } => write!(f, "township-scores:{department_id}:{month}"),
            FactRef::Problem(id) => write!(f, "problem:{id}"),
            FactRef::Attendance {
                meeting_id,
                department_id,
            } => write!(f, "meeting:{meeting_id}:{department_id}"),
            FactRef::Submission {
                requirement_id,
                department_id,
            } => write!(f, "submission:{requirement_id}:{department_id}"),
            FactRef::Assignment(id) => write!(f, "assignment:{id}"),
            FactRef::Finding {
                verification_id,
                finding_id,
            } => write!(f, "finding:{verification_id}:{finding_id}"),
            FactRef::Warning(id) => write!(f, "warning:{id}"),
            FactRef::Feed {
                kind,
                department_id,
                month,
            } => write!(f, "feed:{kind}:{department_id}:{month}"),
        }
    }
}

impl FromStr for FactRef {
    type Err = ();
    fn from_str(s: &str) -> Result<FactRef, ()> {
        let parts: Vec<&str> = s.split(':').collect();
        let int = |i: usize| -> Result<i64, ()> {
            parts.get(i).ok_or(())?.parse::<i64>().map_err(|_| ())
        };
        let month =
            |i: usize| -> Result<Month, ()> { parts.get(i).ok_or(())?.parse().map_err(|_| ()) };
        let fact = match (parts.first().copied(), parts.len()) {
            (Some("inspection"), 3) => FactRef::Inspection {
                department_id: int(1)?,
                month: month(2)?,
            },
            (Some("township-scores"), 3) => FactRef::TownshipScores {
                department_id: int(1)?,
                month: month(2)?,
            },
            (Some("problem"), 2) => FactRef::Problem(int(1)?),
            (Some("meeting"), 3) => FactRef::Attendance {
                meeting_id: int(1)?,
                department_id: int(2)?,
            },
            (Some("submission"), 3) => FactRef::Submission {
                requirement_id: int(1)?,
                department_id: int(2)?,
            },
            (Some("assignment"), 2) => FactRef::Assignment(int(1)?),
            (Some("warning"), 2) => FactRef::Warning(int(1)?),
            (Some("feed"), 4) => FactRef::Feed {
                kind: parts[1].parse().map_err(|_| ())?,
                department_id: int(2)?,
                month: month(3)?,
            },
            (Some("finding"), 3) => FactRef::Finding {
                verification_id: int(1)?,
                finding_id: int(2)?,
            },
            _ => return Err(()),
        };
        Ok(fact)
    }
}

/// What the month close knows of one department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentMonth {
    pub department_id: i64,
    pub category: Category,
    /// When its self-inspection report was first submitted (county time).
    pub report_submitted: Option<NaiveDateTime>,
    /// Problems it found itself in the month.
    pub problems_found: usize,
    /// Townships it has not scored for the month (close-type departments score them all).
    pub townships_unscored: usize,
}

/// A problem of the ledger, as the month close sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemFact {
    pub id: i64,
    pub department_id: i64,
    pub deadline: NaiveDate,
    /// 需长期整改: never counted as unrectified.
    pub long_term: bool,
    /// When the department reported it rectified, if it has and no verification reopened it.
    pub rectified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceFact {
    pub meeting_id: i64,
    pub department_id: i64,
    pub attendance: Attendance,
}

/// A department's part of a required submission (资料报送).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionFact {
    pub requirement_id: i64,
    pub department_id: i64,
    pub due: NaiveDateTime,
    pub submitted: Option<NaiveDateTime>,
}

/// A data set a department must deliver for comparison, due in the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFact {
    /// The data kind's ordinal.
    pub kind: u8,
    /// Its Chinese name.
    pub label: String,
    pub department_id: i64,
    pub due: NaiveDateTime,
    /// When the first delivery answering this deadline came.
    pub delivered: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentFact {
    pub id: i64,
    pub department_id: i64,
    pub deadline: NaiveDate,
    /// Whether verification has confirmed it rectified.
    pub confirmed: bool,
}

/// Everything the office's closing of a month rests on.
#[derive(Debug, Clone, Default)]
pub struct MonthFacts {
    pub departments: Vec<DepartmentMonth>,
    pub problems: Vec<ProblemFact>,
    pub attendance: Vec<AttendanceFact>,
    pub submissions: Vec<SubmissionFact>,
    pub assignments: Vec<AssignmentFact>,
    pub feeds: Vec<FeedFact>,
    /// (rule, fact) pairs already behind an event that is not rejected: never proposed twice.
    pub already: HashSet<(RuleCode, FactRef)>,
}

/// A score event the month close proposes; the office confirms or rejects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub department_id: i64,
    pub rule: RuleCode,
    pub fact: FactRef,
    pub note: String,
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The automatic events of domain.md §6 for `month`, from its facts:
/// - no self-inspection report: `selfcheck.not_conducted` (and not also `report.missing`);
/// - a report after the deadline: `report.late`; a report without problems: `selfcheck.no_problems`;
/// - a close-type department that left townships unscored: `selfcheck.township_unscored`;
/// - a problem whose deadline falls in the month and was not reported rectified by then, unless
///   it needs long-term rectification: `selfcheck.unrectified`, once per problem;
/// - absence or improper attendance at a meeting: `meeting.absent`, `meeting.improper`;
/// - a required submission due in the month, late or missing: `report.late`, `report.missing`;
/// - a data set for comparison due in the month, late or missing: the same two rules;
/// - an assignment due by the month's end and not confirmed rectified: `assigned.unrectified`,
///   once per assignment.
pub fn month_close(month: Month, deadline: MonthlyReportDeadline, f: &MonthFacts) -> Vec<Proposal> {
    let mut out = Vec::new();
    let mut propose = |department_id: i64, rule: RuleCode, fact: FactRef, note: String| {
        if !f.already.contains(&(rule, fact)) {
            out.push(Proposal {
                department_id,
                rule,
                fact,
                note,
            });
        }
    };
    let due = deadline.due(month);
    let in_month = |d: NaiveDate| Month::of(d) == month;
    for d in &f.departments {
        let fact = FactRef::Inspection {
            department_id: d.department_id,
            month,
        };
        match d.report_submitted {
            None => propose(
                d.department_id,
                RuleCode::SelfcheckNotConducted,
                fact,
                format!("{}未提交自查报告（截止 {}）", month.label(), stamp(due)),
            ),
            Some(at) => {
                if at > due {
                    propose(
                        d.department_id,
                        RuleCode::ReportLate,
                        fact,
                        format!(
                            "{}自查报告于 {} 提交，晚于截止时间 {}",
                            month.label(),
                            stamp(at),
                            stamp(due)
                        ),
                    );
                }
                if d.problems_found == 0 {
                    propose(
                        d.department_id,
                        RuleCode::SelfcheckNoProblems,
                        fact,
                        format!("{}自查未发现问题", month.label()),
                    );
                }
            }
        }
        if d.category == Category::Close && d.townships_unscored > 0 {
            propose(
                d.department_id,
                RuleCode::SelfcheckTownshipUnscored,
                FactRef::TownshipScores {
                    department_id: d.department_id,
                    month,
                },
                format!(
                    "{}有 {} 个乡镇未评分排名",
                    month.label(),
                    d.townships_unscored
                ),
            );
        }
    }
    for p in &f.problems {
        let on_time = p.rectified_at.is_some_and(|t| t.date() <= p.deadline);
        if in_month(p.deadline) && !p.long_term && !on_time {
            propose(
                p.department_id,
                RuleCode::SelfcheckUnrectified,
                FactRef::Problem(p.id),
                format!("问题第 {} 号整改时限 {} 已过，未整改", p.id, p.deadline),
            );
        }
    }
    for a in &f.attendance {
        let rule = match a.attendance {
            Attendance::Present => continue,
            Attendance::Absent => RuleCode::MeetingAbsent,
            Attendance::Improper => RuleCode::MeetingImproper,
        };
        propose(
            a.department_id,
            rule,
            FactRef::Attendance {
                meeting_id: a.meeting_id,
                department_id: a.department_id,
            },
            format!("例会第 {} 号：{}", a.meeting_id, a.attendance.label()),
        );
    }
    for s in &f.submissions {
        if !in_month(s.due.date()) {
            continue;
        }
        let fact = FactRef::Submission {
            requirement_id: s.requirement_id,
            department_id: s.department_id,
        };
        match s.submitted {
            Some(at) if at <= s.due => {}
            Some(at) => propose(
                s.department_id,
                RuleCode::ReportLate,
                fact,
                format!(
                    "报送任务第 {} 号于 {} 报送，晚于截止时间 {}",
                    s.requirement_id,
                    stamp(at),
                    stamp(s.due)
                ),
            ),
            None => propose(
                s.department_id,
                RuleCode::ReportMissing,
                fact,
                format!(
                    "报送任务第 {} 号截至 {} 未报送",
                    s.requirement_id,
                    stamp(s.due)
                ),
            ),
        }
    }
    for d in &f.feeds {
        if !in_month(d.due.date()) {
            continue;
        }
        let fact = FactRef::Feed {
            kind: d.kind,
            department_id: d.department_id,
            month,
        };
        match d.delivered {
            Some(at) if at <= d.due => {}
            Some(at) => propose(
                d.department_id,
                RuleCode::ReportLate,
                fact,
                format!(
                    "比对数据“{}”于 {} 报送，晚于截止时间 {}",
                    d.label,
                    stamp(at),
                    stamp(d.due)
                ),
            ),
            None => propose(
                d.department_id,
                RuleCode::ReportMissing,
                fact,
                format!("比对数据“{}”截至 {} 未报送", d.label, stamp(d.due)),
            ),
        }
    }
    for a in &f.assignments {
        if a.deadline <= month.last_day() && !a.confirmed {
            propose(
                a.department_id,
                RuleCode::AssignedUnrectified,
                FactRef::Assignment(a.id),
                format!(
                    "交办事项第 {} 号整改时限 {} 已过，仍未整改",
                    a.id, a.deadline
                ),
            );
        }
    }
    out
}

/// Ranks scores high to low; ties share a rank (1, 2, 2, 4). Used for township rankings.
pub fn competition_ranks<K: Copy>(scores: &[(K, Decimal)]) -> Vec<(K, Decimal, u32)> {
    let mut sorted: Vec<(K, Decimal)> = scores.to_vec();
    sorted.sort_by_key(|x| std::cmp::Reverse(x.1));
    let mut out = Vec::with_capacity(sorted.len());
    for (i, (k, s)) in sorted.iter().enumerate() {
        let rank = match out.last() {
            Some(&(_, prev, r)) if prev == *s => r,
            _ => i as u32 + 1,
        };
        out.push((*k, *s, rank));
    }
    out
}

/// A township score is on the 100-point scale with at most two decimals.
pub fn valid_township_score(s: Decimal) -> bool {
    s >= Decimal::ZERO && s <= Decimal::from(100) && s.scale() <= 2
}

/// A reproducible random draw (抽查) of `k` of `candidates`, from `seed`: the office can show
/// later exactly how a sample came about, and re-run the draw with a new seed.
pub fn draw<T: Copy>(seed: u64, candidates: &[T], k: usize) -> Vec<T> {
    let mut pool: Vec<T> = candidates.to_vec();
    let mut state = seed;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let k = k.min(pool.len());
    for i in 0..k {
        let j = i + (next() % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn m(s: &str) -> Month {
        s.parse().expect("month")
    }
    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }
    fn at(s: &str, h: u32) -> NaiveDateTime {
        day(s).and_time(NaiveTime::from_hms_opt(h, 0, 0).expect("time"))
    }
    fn dept(id: i64, category: Category) -> DepartmentMonth {
        DepartmentMonth {
            department_id: id,
            category,
            report_submitted: Some(at("2023-05-03", 10)),
            problems_found: 2,
            townships_unscored: 0,
        }
    }
    fn close(f: &MonthFacts) -> Vec<(i64, RuleCode, String)> {
        month_close(m("2023-04"), MonthlyReportDeadline::default(), f)
            .into_iter()
            .map(|p| (p.department_id, p.rule, p.fact.to_string()))
            .collect()
    }

    #[test]
    fn a_diligent_month_proposes_nothing() {
        let f = MonthFacts {
            departments: vec![dept(1, Category::Close), dept(10, Category::Related)],
            ..Default::default()
        };
        assert!(close(&f).is_empty());
    }

    #[test]
    fn no_report_is_not_conducted_and_nothing_else_about_the_report() {
        let mut d = dept(10, Category::Related);
        d.report_submitted = None;
        d.problems_found = 0;
        let f = MonthFacts {
            departments: vec![d],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![(
                10,
                RuleCode::SelfcheckNotConducted,
                "inspection:10:2023-04".to_owned()
            )]
        );
    }

    #[test]
    fn the_fifth_is_on_time_the_sixth_is_late() {
        let mut on_time = dept(1, Category::Related);
        on_time.report_submitted =
            Some(day("2023-05-05").and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("time")));
        let mut late = dept(2, Category::Related);
        late.report_submitted = Some(at("2023-05-06", 0));
        let f = MonthFacts {
            departments: vec![on_time, late],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![(2, RuleCode::ReportLate, "inspection:2:2023-04".to_owned())]
        );
    }

    #[test]
    fn a_report_without_problems_is_no_problems() {
        let mut d = dept(3, Category::Related);
        d.problems_found = 0;
        let f = MonthFacts {
            departments: vec![d],
            ..Default::default()
        };
        assert_eq!(close(&f)[0].1, RuleCode::SelfcheckNoProblems);
        assert_eq!(close(&f).len(), 1);
    }

    #[test]
    fn only_close_type_departments_must_score_townships() {
        let mut c = dept(1, Category::Close);
        c.townships_unscored = 3;
        let mut r = dept(10, Category::Related);
        r.townships_unscored = 16;
        let f = MonthFacts {
            departments: vec![c, r],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![(
                1,
                RuleCode::SelfcheckTownshipUnscored,
                "township-scores:1:2023-04".to_owned()
            )]
        );
    }

    fn problem(id: i64, deadline: &str) -> ProblemFact {
        ProblemFact {
            id,
            department_id: 5,
            deadline: day(deadline),
            long_term: false,
            rectified_at: None,
        }
    }

    #[test]
    fn unrectified_problems_count_in_the_month_their_deadline_passes() {
        let mut long_term = problem(2, "2023-04-20");
        long_term.long_term = true;
        let mut on_time = problem(3, "2023-04-20");
        on_time.rectified_at = Some(at("2023-04-20", 18));
        let mut late = problem(4, "2023-04-20");
        late.rectified_at = Some(at("2023-04-21", 9));
        let f = MonthFacts {
            problems: vec![
                problem(1, "2023-04-30"),
                long_term,
                on_time,
                late,
                problem(5, "2023-05-01"),
                problem(6, "2023-03-31"),
            ],
            ..Default::default()
        };
        let got: Vec<String> = close(&f).into_iter().map(|p| p.2).collect();
        assert_eq!(got, vec!["problem:1", "problem:4"]);
    }

    #[test]
    fn facts_already_proposed_are_not_proposed_again() {
        let mut f = MonthFacts {
            problems: vec![problem(1, "2023-04-30")],
            assignments: vec![AssignmentFact {
                id: 9,
                department_id: 5,
                deadline: day("2023-03-10"),
                confirmed: false,
            }],
            ..Default::default()
        };
        assert_eq!(close(&f).len(), 2);
        f.already
            .insert((RuleCode::SelfcheckUnrectified, FactRef::Problem(1)));
        f.already
            .insert((RuleCode::AssignedUnrectified, FactRef::Assignment(9)));
        assert!(close(&f).is_empty());
    }

    #[test]
    fn attendance_absent_and_improper() {
        let att = |d, a| AttendanceFact {
            meeting_id: 7,
            department_id: d,
            attendance: a,
        };
        let f = MonthFacts {
            attendance: vec![
                att(1, Attendance::Present),
                att(2, Attendance::Absent),
                att(3, Attendance::Improper),
            ],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![
                (2, RuleCode::MeetingAbsent, "meeting:7:2".to_owned()),
                (3, RuleCode::MeetingImproper, "meeting:7:3".to_owned()),
            ]
        );
    }

    #[test]
    fn submissions_due_in_the_month_late_or_missing() {
        let sub = |d, due: NaiveDateTime, submitted| SubmissionFact {
            requirement_id: 4,
            department_id: d,
            due,
            submitted,
        };
        let due = at("2023-04-15", 17);
        let f = MonthFacts {
            submissions: vec![
                sub(1, due, Some(at("2023-04-15", 9))),
                sub(2, due, Some(at("2023-04-16", 9))),
                sub(3, due, None),
                sub(4, at("2023-05-02", 17), None),
            ],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![
                (2, RuleCode::ReportLate, "submission:4:2".to_owned()),
                (3, RuleCode::ReportMissing, "submission:4:3".to_owned()),
            ]
        );
    }

    #[test]
    fn feeds_due_in_the_month_late_or_missing() {
        let feed = |d, due: NaiveDateTime, delivered| FeedFact {
            kind: 0,
            label: "医疗费用结算".into(),
            department_id: d,
            due,
            delivered,
        };
        let due = at("2023-04-04", 23);
        let f = MonthFacts {
            feeds: vec![
                feed(1, due, Some(at("2023-04-03", 9))),
                feed(2, due, Some(at("2023-04-05", 9))),
                feed(3, due, None),
                feed(4, at("2023-05-04", 23), None),
            ],
            ..Default::default()
        };
        let got = close(&f);
        assert_eq!(
            got,
            vec![
                (2, RuleCode::ReportLate, "feed:0:2:2023-04".to_owned()),
                (3, RuleCode::ReportMissing, "feed:0:3:2023-04".to_owned()),
            ]
        );
        // Proposed once: an event already behind the fact stops it.
        let mut f = f;
        f.already.insert((
            RuleCode::ReportMissing,
            FactRef::Feed {
                kind: 0,
                department_id: 3,
                month: m("2023-04"),
            },
        ));
        assert_eq!(close(&f).len(), 1);
    }

    #[test]
    fn assignments_due_by_month_end_and_not_confirmed() {
        let a = |id, deadline: &str, confirmed| AssignmentFact {
            id,
            department_id: 6,
            deadline: day(deadline),
            confirmed,
        };
        let f = MonthFacts {
            assignments: vec![
                a(1, "2023-04-30", false),
                a(2, "2023-04-10", true),
                a(3, "2023-05-01", false),
            ],
            ..Default::default()
        };
        assert_eq!(
            close(&f),
            vec![(6, RuleCode::AssignedUnrectified, "assignment:1".to_owned())]
        );
    }

    #[test]
    fn fact_refs_round_trip_and_link() {
        let facts = [
            FactRef::Inspection {
                department_id: 3,
                month: m("2023-04"),
            },
            FactRef::TownshipScores {
                department_id: 3,
                month: m("2023-04"),
            },
            FactRef::Problem(17),
            FactRef::Attendance {
                meeting_id: 2,
                department_id: 5,
            },
            FactRef::Submission {
                requirement_id: 8,
                department_id: 5,
            },
            FactRef::Feed {
                kind: 0,
                department_id: 5,
                month: m("2023-05"),
            },
            FactRef::Assignment(4),
            FactRef::Warning(6),
            FactRef::Finding {
                verification_id: 1,
                finding_id: 9,
            },
        ];
        for f in facts {
            assert_eq!(f.to_string().parse::<FactRef>(), Ok(f));
            assert!(f.href().starts_with('/'));
        }
        assert_eq!(FactRef::Problem(17).href(), "/problems/17");
        for bad in [
            "",
            "problem",
            "problem:x",
            "problem:1:2",
            "inspection:1:2023-13",
            "x:1",
        ] {
            assert!(bad.parse::<FactRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranks_share_ties() {
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        let r = competition_ranks(&[(1, d("90")), (2, d("95.5")), (3, d("90")), (4, d("80"))]);
        assert_eq!(
            r.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            vec![(2, 1), (1, 2), (3, 2), (4, 4)]
        );
        assert!(valid_township_score(d("99.5")));
        assert!(!valid_township_score(d("100.5")));
        assert!(!valid_township_score(d("-1")));
        assert!(!valid_township_score(d("90.125")));
    }

    #[test]
    fn draws_are_reproducible_and_distinct() {
        let c: Vec<i64> = (1..=26).collect();
        let a = draw(42, &c, 5);
        assert_eq!(a, draw(42, &c, 5));
        assert_eq!(a.len(), 5);
        let mut u = a.clone();
        u.sort_unstable();
        u.dedup();
        assert_eq!(u.len(), 5);
        assert!(a.iter().all(|x| c.contains(x)));
        assert_ne!(a, draw(43, &c, 5));
        assert_eq!(draw(1, &c, 40).len(), 26);
        assert!(draw::<i64>(1, &[], 3).is_empty());
    }

    #[test]
    fn codes_round_trip() {
        for s in ProblemStatus::ALL {
            assert_eq!(ProblemStatus::from_code(s.code()), Some(*s));
        }
        for k in MeetingKind::ALL {
            assert_eq!(MeetingKind::from_code(k.code()), Some(*k));
        }
        for a in Attendance::ALL {
            assert_eq!(Attendance::from_code(a.code()), Some(*a));
        }
        assert_eq!(AssignmentKind::from_code("nope"), None);
    }
}
