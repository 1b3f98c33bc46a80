//! The household roster (脱贫户 and 监测对象) and early warnings (信息预警) as pure rules:
//! household types, the monitoring lifecycle, risk types and their routing to departments,
//! the life of a warning, and the terms of Chinese full-text search.

use chrono::{NaiveDate, NaiveDateTime};

use crate::deadline::Urgency;

/// An enum with a stable code (API, database), a Chinese label (UI, imports) and, for
/// imports, the labels it is also written as.
macro_rules! labelled {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = ($code:literal, $label:literal $(, $alias:literal)*)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
            /// From its label (or an alias) as a spreadsheet writes it, or its code.
            pub fn from_label(s: &str) -> Option<$name> {
                let s = s.trim();
                match s { $($label $(| $alias)* => Some($name::$v),)+ _ => $name::from_code(s) }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
    };
}

labelled! {
    /// 户类型: households lifted out of poverty and the three monitored types (三类户).
    pub enum HouseholdKind {
        Exited = ("exited", "脱贫户", "一般脱贫户"),
        Unstable = ("unstable", "脱贫不稳定户"),
        Marginal = ("marginal", "边缘易致贫户"),
        SuddenHardship = ("sudden_hardship", "突发严重困难户"),
    }
}

impl HouseholdKind {
    /// Whether the type is one of the three monitored ones (监测对象).
    pub fn monitored(self) -> bool {
        self != HouseholdKind::Exited
    }
}

labelled! {
    /// Where a household stands in dynamic monitoring (动态监测).
    pub enum MonitoringStage {
        /// Not under monitoring.
        None = ("none", "未纳入监测", "无", ""),
        /// 识别纳入
        Identified = ("identified", "识别纳入", "已纳入"),
        /// 帮扶
        Assisted = ("assisted", "落实帮扶", "帮扶中", "帮扶"),
        /// 风险消除
        Cleared = ("cleared", "风险消除", "已消除风险"),
    }
}

impl MonitoringStage {
    /// The stages a household may move to from this one: 识别纳入 → 帮扶 → 风险消除, and a
    /// household whose risk returns is identified again.
    pub fn next(self) -> &'static [MonitoringStage] {
        use MonitoringStage::*;
        match self {
            None => &[Identified],
            Identified => &[Assisted],
            Assisted => &[Cleared],
            Cleared => &[Identified],
        }
    }

    pub fn can_move_to(self, to: MonitoringStage) -> bool {
        self.next().contains(&to)
    }
}

labelled! {
    /// Risk types of the national monitoring system (返贫致贫风险类型).
    pub enum RiskType {
        Illness = ("illness", "因病", "大病", "因病返贫"),
        Disability = ("disability", "因残", "残疾"),
        Schooling = ("schooling", "因学", "学生辍学", "失学辍学"),
        Disaster = ("disaster", "因灾", "自然灾害"),
        Accident = ("accident", "因意外事故", "意外事故"),
        Employment = ("employment", "务工就业不稳", "就业"),
        Industry = ("industry", "因产业项目失败", "产业"),
        Labour = ("labour", "缺劳动力"),
        Housing = ("housing", "住房安全", "住房出现安全问题", "危房"),
        Water = ("water", "饮水安全", "饮水安全问题"),
        Other = ("other", "其他"),
    }
}

/// The departments (by registry code) that receive a warning of each risk type, as the duty
/// lists of attachments 1-3 assign them; the county edits this table as a setting.
pub fn default_routing(risk: RiskType) -> &'static [&'static str] {
    use RiskType::*;
    match risk {
        Illness => &["health", "medinsure", "civil"],
        Disability => &["disabled", "civil"],
        Schooling => &["edu"],
        Disaster => &["emergency", "water", "housing", "civil"],
        Accident => &["emergency", "civil", "police"],
        Employment => &["hrss"],
        Industry => &["agri", "fin_office"],
        Labour => &["hrss", "civil"],
        Housing => &["housing"],
        Water => &["water"],
        Other => &["rural"],
    }
}

labelled! {
    /// The life of an early warning: pushed, signed for by every receiver, verified by the
    /// township, then ended in assistance or dismissed with a reason.
    pub enum WarningStatus {
        /// 待签收 / 核实中: pushed, waiting for the township's verification.
        Open = ("open", "待核实"),
        /// The township found it true; waiting for the office to confirm.
        Verified = ("verified", "乡镇已核实"),
        /// 帮扶: the household enters or stays in monitoring.
        Assisted = ("assisted", "已落实帮扶"),
        /// 不属实或无需帮扶, with a reason.
        Dismissed = ("dismissed", "已排除"),
    }
}

impl WarningStatus {
    pub fn closed(self) -> bool {
        matches!(self, WarningStatus::Assisted | WarningStatus::Dismissed)
    }
}

/// A signature (签收) step's state: signed, or its urgency against the deadline.
pub fn sign_state(
    due: NaiveDateTime,
    signed: Option<NaiveDateTime>,
    now: NaiveDateTime,
    warn_before: chrono::Duration,
) -> SignState {
    match signed {
        Some(t) if t <= due => SignState::OnTime,
        Some(_) => SignState::Late,
        None => SignState::Pending(Urgency::of(due, now, warn_before)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignState {
    OnTime,
    Late,
    Pending(Urgency),
}

impl SignState {
    pub fn label(self) -> &'static str {
        match self {
            SignState::OnTime => "已签收",
            SignState::Late => "逾期签收",
            SignState::Pending(Urgency::Overdue) => "逾期未签收",
            SignState::Pending(_) => "待签收",
        }
    }
    pub fn css(self) -> &'static str {
        match self {
            SignState::OnTime => "ok",
            SignState::Late => "soon",
            SignState::Pending(u) => u.css(),
        }
    }
}

/// The terms a Chinese text is indexed under: each pair of adjacent Han characters (bigrams,
/// so that a two-character word is found without a dictionary), each single Han character
/// standing alone, and each run of Latin letters or digits, lowercased (文号 like 2023〕5号).
pub fn search_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut han: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_han = |han: &mut Vec<char>, out: &mut Vec<String>| {
        if han.len() == 1 {
            out.push(han[0].to_string());
        }
        for w in han.windows(2) {
            out.push(w.iter().collect());
        }
        han.clear();
    };
    for c in text.chars() {
        if is_han(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            han.push(c);
        } else if c.is_alphanumeric() {
            flush_han(&mut han, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_han(&mut han, &mut out);
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        }
    }
    flush_han(&mut han, &mut out);
    if !word.is_empty() {
        out.push(word);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// The date a stage was entered must not precede the previous one's.
pub fn stage_dates_in_order(dates: &[Option<NaiveDate>]) -> bool {
    let set: Vec<NaiveDate> = dates.iter().flatten().copied().collect();
    set.windows(2).all(|w| w[0] <= w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DEPARTMENTS;

    #[test]
    fn kinds_read_as_spreadsheets_write_them() {
        assert_eq!(
            HouseholdKind::from_label("脱贫户"),
            Some(HouseholdKind::Exited)
        );
        assert_eq!(
            HouseholdKind::from_label(" 边缘易致贫户 "),
            Some(HouseholdKind::Marginal)
        );
        assert_eq!(
            HouseholdKind::from_label("sudden_hardship"),
            Some(HouseholdKind::SuddenHardship)
        );
        assert_eq!(HouseholdKind::from_label("贫困户"), None);
        assert!(!HouseholdKind::Exited.monitored());
        assert!(HouseholdKind::Unstable.monitored());
        assert_eq!(RiskType::from_label("因病"), Some(RiskType::Illness));
        assert_eq!(RiskType::from_label("危房"), Some(RiskType::Housing));
    }

    #[test]
    fn the_lifecycle_goes_one_way_and_comes_back_only_when_risk_returns() {
        use MonitoringStage::*;
        assert!(None.can_move_to(Identified));
        assert!(Identified.can_move_to(Assisted));
        assert!(Assisted.can_move_to(Cleared));
        assert!(Cleared.can_move_to(Identified));
        assert!(!None.can_move_to(Cleared));
        assert!(!Identified.can_move_to(Cleared));
        assert!(!Cleared.can_move_to(Assisted));
        let d = |s: &str| Some(s.parse::<NaiveDate>().expect("date"));
        assert!(stage_dates_in_order(&[
            d("2023-01-02"),
            Option::None,
            d("2023-03-01")
        ]));
        assert!(!stage_dates_in_order(&[d("2023-04-02"), d("2023-03-01")]));
    }

    #[test]
    fn every_risk_type_routes_to_departments_of_the_registry() {
        for r in RiskType::ALL {
            let codes = default_routing(*r);
            assert!(!codes.is_empty(), "{r:?}");
            for c in codes {
                assert!(DEPARTMENTS.iter().any(|d| d.code == *c), "{c}");
            }
        }
    }

    #[test]
    fn signatures_are_on_time_late_or_pending() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("t");
        let due = t("2023-04-02 10:00");
        let soon = chrono::Duration::hours(4);
        assert_eq!(
            sign_state(
                due,
                Some(t("2023-04-02 09:00")),
                t("2023-04-03 00:00"),
                soon
            ),
            SignState::OnTime
        );
        assert_eq!(
            sign_state(
                due,
                Some(t("2023-04-02 11:00")),
                t("2023-04-03 00:00"),
                soon
            ),
            SignState::Late
        );
        assert_eq!(
            sign_state(due, None, t("2023-04-02 10:01"), soon).css(),
            "overdue"
        );
        assert_eq!(
            sign_state(due, None, t("2023-04-02 07:00"), soon),
            SignState::Pending(Urgency::DueSoon)
        );
    }

    #[test]
    fn search_terms_are_han_bigrams_and_latin_words() {
        let terms = search_terms("关于做好2023年防返贫监测 工作的通知（宛政〔2023〕5号）");
        for t in ["防返", "返贫", "监测", "通知", "2023", "5"] {
            assert!(terms.contains(&t.to_owned()), "{t}: {terms:?}");
        }
        assert!(!terms.contains(&"测工".to_owned()), "a space breaks a run");
        assert_eq!(search_terms("病"), vec!["病"]);
        assert_eq!(search_terms("ABC-def"), vec!["abc", "def"]);
        assert!(search_terms("，。 ").is_empty());
    }
}
