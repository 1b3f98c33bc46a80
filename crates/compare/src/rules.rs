//! Comparison rules as data (比对规则): each names a data kind, whether a match or an absence
//! is the finding, filters and thresholds, an aggregate over a window, the risk it points to,
//! its severity and where its clues go. The office edits them per policy year as JSON; they are
//! checked here, once, into [`Rule`]s the engine can run without further checks.

use liandong_domain::roster::{HouseholdKind, RiskType};
use serde::{Deserialize, Serialize};

use crate::kinds::{DataKind, FieldType};

/// The rules shipped for a policy year, from the duty lists and county practice.
pub const DEFAULT_RULES_JSON: &str = include_str!("../rules/default.json");

/// A rule file as written: a policy year, a version and the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetSpec {
    pub policy_year: i32,
    pub version: u32,
    pub rules: Vec<RuleSpec>,
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable code (`medical_oop_monitored`).
    pub code: String,
    /// What the clue says, in Chinese.
    pub title: String,
    /// The data kind tested.
    pub data: DataKind,
    pub test: Test,
    /// Whose clues: roster members (default), people not in the roster, or the people of
    /// another data set.
    #[serde(default)]
    pub population: PopulationSpec,
    /// Which rows of the tested data count.
    #[serde(default)]
    pub filters: Vec<FilterSpec>,
    /// A sum over the rows that count, with its threshold.
    #[serde(default)]
    pub aggregate: Option<AggregateSpec>,
    /// One clue per person, or one per household with every member it concerns.
    #[serde(default)]
    pub per: Per,
    /// A risk type code (`illness`), or `eligibility_doubt` for a doubt about who is in the
    /// roster rather than a risk.
    pub finding: String,
    pub severity: Severity,
    pub route: Route,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// For an absence rule on roster members: the least share of the population the data
    /// must contain for its absences to be believed (a list missing half the county is an
    /// incomplete delivery, not half the county uninsured). Default 0.5.
    #[serde(default = "half", skip_serializing_if = "is_half")]
    pub min_coverage: f64,
}

fn yes() -> bool {
    true
}

fn half() -> f64 {
    0.5
}

fn is_half(v: &f64) -> bool {
    *v == 0.5
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// The people found in the data (比中).
    Match,
    /// The people of the population missing from the data (反向比对).
    Absence,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PopulationSpec {
    /// Roster members, optionally of some household types and ages (from the ID number).
    Roster {
        #[serde(default)]
        household_kinds: Vec<String>,
        #[serde(default)]
        min_age: Option<u8>,
        #[serde(default)]
        max_age: Option<u8>,
    },
    /// People not in the roster (a match rule only).
    NotInRoster,
    /// The people of another data set, through its filters (an absence rule only).
    Data {
        kind: DataKind,
        #[serde(default)]
        filters: Vec<FilterSpec>,
    },
    #[default]
    AllRoster,
}

/// A condition on one field of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FilterSpec {
    /// A text field is one of the values.
    In { field: String, values: Vec<String> },
    /// A text field is none of the values.
    NotIn { field: String, values: Vec<String> },
    /// An amount (yuan) or a number is at least the value.
    AtLeast { field: String, value: f64 },
    /// An amount (yuan) or a number is at most the value.
    AtMost { field: String, value: f64 },
    /// A date lies in the `days` days up to the as-of date.
    WithinDays { field: String, days: u32 },
    /// A year number (or a date's year) is the as-of date's year.
    AsOfYear { field: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// The amount or number summed.
    pub sum: String,
    /// Summed per person or over a household's members.
    #[serde(default)]
    pub per: Per,
    /// The threshold, in yuan for an amount.
    pub at_least: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    #[default]
    Person,
    Household,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// The code as rule files write it.
    pub fn code(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    pub fn from_code(s: &str) -> Option<Severity> {
        [Severity::High, Severity::Medium, Severity::Low]
            .into_iter()
            .find(|v| v.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::High => "高",
            Severity::Medium => "中",
            Severity::Low => "低",
        }
    }
}

/// Where a rule's clues go: departments by registry code, and the household's township.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default = "yes")]
    pub township: bool,
}

/// What a clue points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    Risk(RiskType),
    /// 资格存疑: a roster household whose member is on the payroll or owns a car.
    EligibilityDoubt,
}

impl Finding {
    /// A risk type's code, or `eligibility_doubt`.
    pub fn code(self) -> &'static str {
        match self {
            Finding::Risk(r) => r.code(),
            Finding::EligibilityDoubt => "eligibility_doubt",
        }
    }

    pub fn from_code(s: &str) -> Option<Finding> {
        if s == "eligibility_doubt" {
            return Some(Finding::EligibilityDoubt);
        }
        RiskType::from_code(s).map(Finding::Risk)
    }

    pub fn label(self) -> &'static str {
        match self {
            Finding::Risk(r) => r.label(),
            Finding::EligibilityDoubt => "资格存疑",
        }
    }
}

/// A condition, checked against the kind's template.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The template column.
    pub column: usize,
    pub pred: Pred,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    In(Vec<String>),
    NotIn(Vec<String>),
    /// On fen for amounts, the number itself otherwise.
    AtLeast(i64),
    AtMost(i64),
    WithinDays(u32),
    AsOfYear,
}

/// Whose clues a rule raises.
#[derive(Debug, Clone, PartialEq)]
pub enum Population {
    Roster {
        kinds: Vec<HouseholdKind>,
        min_age: Option<u8>,
        max_age: Option<u8>,
    },
    NotInRoster,
    Data {
        kind: DataKind,
        filters: Vec<Filter>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub column: usize,
    pub per: Per,
    /// Fen for amounts.
    pub at_least: i64,
    pub money: bool,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub code: String,
    pub title: String,
    pub data: DataKind,
    pub test: Test,
    pub population: Population,
    pub filters: Vec<Filter>,
    pub aggregate: Option<Aggregate>,
    pub per: Per,
    pub finding: Finding,
    pub severity: Severity,
    pub route: Route,
    pub min_coverage: f64,
}

/// A checked rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub policy_year: i32,
    pub version: u32,
    pub rules: Vec<Rule>,
}

/// Why a rule file was refused; names the rule and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("规则文件格式错误：{0}")]
    Syntax(String),
    #[error("规则“{rule}”：{message}")]
    Rule { rule: String, message: String },
}

impl RuleSet {
    /// The shipped rules.
    pub fn defaults() -> RuleSet {
        match RuleSet::from_json(DEFAULT_RULES_JSON) {
            Ok(r) => r,
            // The shipped file is checked by a test; reaching this is a build defect.
            Err(e) => panic!("shipped rules invalid: {e}"),
        }
    }

    pub fn from_json(text: &str) -> Result<RuleSet, RuleError> {
        let spec: RuleSetSpec =
            serde_json::from_str(text).map_err(|e| RuleError::Syntax(e.to_string()))?;
        RuleSet::check(&spec)
    }

    /// Checks every rule against the templates of the kinds it names.
    pub fn check(spec: &RuleSetSpec) -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in spec.rules.iter().filter(|r| r.enabled) {
            let fail = |message: String| RuleError::Rule {
                rule: r.code.clone(),
                message,
            };
            if r.code.is_empty()
                || !r
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(fail("代码只能由小写字母、数字和下划线组成".into()));
            }
            if !seen.insert(r.code.as_str()) {
                return Err(fail("代码重复".into()));
            }
            let finding = match r.finding.as_str() {
                "eligibility_doubt" => Finding::EligibilityDoubt,
                code => Finding::Risk(RiskType::from_code(code).ok_or_else(|| {
                    fail(format!(
                        "“{code}”不是风险类型代码，也不是 eligibility_doubt"
                    ))
                })?),
            };
            let filters = check_filters(r.data, &r.filters).map_err(fail)?;
            let population = match &r.population {
                PopulationSpec::AllRoster => Population::Roster {
                    kinds: Vec::new(),
                    min_age: None,
                    max_age: None,
                },
                PopulationSpec::Roster {
                    household_kinds,
                    min_age,
                    max_age,
                } => Population::Roster {
                    kinds: household_kinds
                        .iter()
                        .map(|k| {
                            HouseholdKind::from_code(k)
                                .ok_or_else(|| fail(format!("“{k}”不是户类型代码")))
                        })
                        .collect::<Result<_, _>>()?,
                    min_age: *min_age,
                    max_age: *max_age,
                },
                PopulationSpec::NotInRoster if r.test == Test::Match => Population::NotInRoster,
                PopulationSpec::NotInRoster => {
                    return Err(fail("“名单外人员”只能用于比中规则".into()))
                }
                PopulationSpec::Data { kind, filters } if r.test == Test::Absence => {
                    Population::Data {
                        kind: *kind,
                        filters: check_filters(*kind, filters).map_err(fail)?,
                    }
                }
                PopulationSpec::Data { .. } => {
                    return Err(fail("以其他数据中的人员为对象只能用于反向比对规则".into()))
                }
            };
            let aggregate = match &r.aggregate {
                None => None,
                Some(_) if r.test == Test::Absence => {
                    return Err(fail("反向比对规则不能汇总".into()))
                }
                Some(a) => {
                    let (column, c) = r
                        .data
                        .column(&a.sum)
                        .ok_or_else(|| fail(format!("{} 没有字段“{}”", r.data.label(), a.sum)))?;
                    let money = match c.ty {
                        FieldType::Money => true,
                        FieldType::Int => false,
                        _ => return Err(fail(format!("字段“{}”不是金额或数字，不能求和", a.sum))),
                    };
                    if a.per == Per::Household && r.population == PopulationSpec::NotInRoster {
                        return Err(fail("名单外人员没有户，不能按户汇总".into()));
                    }
                    if a.per == Per::Household && r.per == Per::Person {
                        return Err(fail(
                            "按户汇总时线索也须按户生成（per 为 household）".into(),
                        ));
                    }
                    Some(Aggregate {
                        column,
                        per: a.per,
                        at_least: to_units(a.at_least, money)
                            .ok_or_else(|| fail("阈值须为不小于 0 的数".into()))?,
                        money,
                    })
                }
            };
            for d in &r.route.departments {
                if !liandong_domain::registry::DEPARTMENTS
                    .iter()
                    .any(|x| x.code == d)
                {
                    return Err(fail(format!("“{d}”不是成员单位代码")));
                }
            }
            if !(0.0..=1.0).contains(&r.min_coverage) {
                return Err(RuleError::Rule {
                    rule: r.code.clone(),
                    message: "min_coverage 应在 0 到 1 之间".into(),
                });
            }
            rules.push(Rule {
                code: r.code.clone(),
                title: r.title.clone(),
                data: r.data,
                test: r.test,
                population,
                filters,
                aggregate,
                per: r.per,
                finding,
                severity: r.severity,
                route: r.route.clone(),
                min_coverage: r.min_coverage,
            });
        }
        Ok(RuleSet {
            policy_year: spec.policy_year,
            version: spec.version,
            rules,
        })
    }

    /// The kinds some rule reads.
    pub fn kinds(&self) -> Vec<DataKind> {
        let mut k: Vec<DataKind> = self
            .rules
            .iter()
            .flat_map(|r| {
                let mut v = vec![r.data];
                if let Population::Data { kind, .. } = r.population {
                    v.push(kind);
                }
                v
            })
            .collect();
        k.sort();
        k.dedup();
        k
    }
}

/// Text as filters compare it: trimmed, full-width letters and digits made half-width, Latin
/// letters uppercase (`Ｃ级`, `c级` and `C级` are one grade).
pub fn fold_text(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Yuan to fen for amounts; whole numbers otherwise.
fn to_units(v: f64, money: bool) -> Option<i64> {
    if !v.is_finite() || !(0.0..=1e13).contains(&v) {
        return None;
    }
    Some(if money {
        (v * 100.0).round() as i64
    } else {
        v.round() as i64
    })
}

fn check_filters(kind: DataKind, specs: &[FilterSpec]) -> Result<Vec<Filter>, String> {
    specs
        .iter()
        .map(|f| {
            let field = match f {
                FilterSpec::In { field, .. }
                | FilterSpec::NotIn { field, .. }
                | FilterSpec::AtLeast { field, .. }
                | FilterSpec::AtMost { field, .. }
                | FilterSpec::WithinDays { field, .. }
                | FilterSpec::AsOfYear { field } => field,
            };
            let (column, c) = kind
                .column(field)
                .ok_or_else(|| format!("{} 没有字段“{field}”", kind.label()))?;
            let wrong = |what: &str| format!("字段“{field}”（{}）不是{what}", c.header);
            let pred = match (f, c.ty) {
                (FilterSpec::In { values, .. }, FieldType::Text) => Pred::In(values.clone()),
                (FilterSpec::NotIn { values, .. }, FieldType::Text) => Pred::NotIn(values.clone()),
                (FilterSpec::In { .. } | FilterSpec::NotIn { .. }, _) => return Err(wrong("文字")),
                (FilterSpec::AtLeast { value, .. }, t @ (FieldType::Money | FieldType::Int)) => {
                    Pred::AtLeast(
                        to_units(*value, t == FieldType::Money)
                            .ok_or_else(|| format!("字段“{field}”的阈值须为不小于 0 的数"))?,
                    )
                }
                (FilterSpec::AtMost { value, .. }, t @ (FieldType::Money | FieldType::Int)) => {
                    Pred::AtMost(
                        to_units(*value, t == FieldType::Money)
                            .ok_or_else(|| format!("字段“{field}”的阈值须为不小于 0 的数"))?,
                    )
                }
                (FilterSpec::AtLeast { .. } | FilterSpec::AtMost { .. }, _) => {
                    return Err(wrong("金额或数字"))
                }
                (FilterSpec::WithinDays { days, .. }, FieldType::Date) => {
                    if !(1..=36_500).contains(days) {
                        return Err(format!("字段“{field}”的天数须在 1 到 36500 之间"));
                    }
                    Pred::WithinDays(*days)
                }
                (FilterSpec::WithinDays { .. }, _) => return Err(wrong("日期")),
                (FilterSpec::AsOfYear { .. }, FieldType::Date | FieldType::Int) => Pred::AsOfYear,
                (FilterSpec::AsOfYear { .. }, _) => return Err(wrong("年度或日期")),
            };
            Ok(Filter { column, pred })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_are_valid_and_cover_every_kind() {
        let r = RuleSet::defaults();
        assert_eq!(r.kinds().len(), DataKind::ALL.len());
        let codes: Vec<&str> = r.rules.iter().map(|r| r.code.as_str()).collect();
        for c in [
            "medical_oop_monitored",
            "medical_oop_new",
            "not_insured",
            "school_age_not_enrolled",
            "public_payroll_member",
            "vehicle_owner",
            "low_income_without_power_waiver",
            "disaster_victim",
            "accident_victim",
        ] {
            assert!(codes.contains(&c), "{c}");
        }
        let m = &r.rules[codes
            .iter()
            .position(|c| *c == "medical_oop_monitored")
            .expect("rule")];
        assert_eq!(
            m.aggregate,
            Some(Aggregate {
                column: 4,
                per: Per::Person,
                at_least: 500_000,
                money: true
            })
        );
        assert_eq!(
            m.filters,
            [Filter {
                column: 2,
                pred: Pred::WithinDays(365)
            }]
        );
    }

    fn one(rule: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_json(&format!(
            r#"{{"policy_year": 2024, "version": 1, "rules": [{rule}]}}"#
        ))
    }

    #[test]
    fn mistakes_name_the_rule_and_the_field() {
        let base = r#""code": "x", "title": "t", "data": "medical_expense", "test": "match", "finding": "illness", "severity": "high", "route": {"departments": ["medinsure"]}"#;
        assert!(one(&format!("{{{base}}}")).is_ok());
        let cases = [
            (
                r#", "filters": [{"op": "at_least", "field": "hospital", "value": 1}]"#,
                "规则“x”：字段“hospital”（医疗机构）不是金额或数字",
            ),
            (
                r#", "filters": [{"op": "within_days", "field": "nope", "days": 3}]"#,
                "规则“x”：医疗费用结算 没有字段“nope”",
            ),
            (
                r#", "aggregate": {"sum": "name", "at_least": 1}"#,
                "规则“x”：字段“name”不是金额或数字，不能求和",
            ),
            (
                r#", "aggregate": {"sum": "total", "at_least": -1}"#,
                "规则“x”：阈值须为不小于 0 的数",
            ),
        ];
        for (extra, message) in cases {
            let e = one(&format!("{{{base}{extra}}}")).expect_err(extra);
            assert_eq!(e.to_string(), message);
        }
        let e = one(&format!("{{{}}}", base.replace("illness", "bad_luck"))).expect_err("risk");
        assert!(e.to_string().contains("bad_luck"), "{e}");
        let e = one(&format!("{{{}}}", base.replace("medinsure", "mars"))).expect_err("dept");
        assert!(e.to_string().contains("“mars”不是成员单位代码"), "{e}");
        let e = one(&format!("{{{}, \"colour\": 1}}", base)).expect_err("unknown key");
        assert!(e.to_string().starts_with("规则文件格式错误"), "{e}");
        let e = one(&format!(
            "{{{}, \"population\": \"not_in_roster\"}}",
            base.replace("\"match\"", "\"absence\"")
        ))
        .expect_err("population");
        assert!(e.to_string().contains("只能用于比中规则"), "{e}");
    }
}
