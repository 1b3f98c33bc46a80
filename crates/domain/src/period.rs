//! Reporting periods (月 `2023-04`, 季 `2023-Q2`, 年 `2023`), as the API spells them.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Years the platform accepts; the mechanism started in 2023, the bound only catches typos.
const MIN_YEAR: i32 = 2000;
const MAX_YEAR: i32 = 2100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("期间“{0}”格式不正确：月份写作 2023-04，季度写作 2023-Q2，年度写作 2023")]
    Format(String),
    #[error("年份 {0} 超出范围（{MIN_YEAR}-{MAX_YEAR}）")]
    YearOutOfRange(i32),
}

fn parse_year(s: &str, whole: &str) -> Result<i32, PeriodError> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PeriodError::Format(whole.to_owned()));
    }
    let y: i32 = s
        .parse()
        .map_err(|_| PeriodError::Format(whole.to_owned()))?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return Err(PeriodError::YearOutOfRange(y));
    }
    Ok(y)
}

/// A calendar year (年度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Year(i32);

impl Year {
    pub fn new(y: i32) -> Result<Year, PeriodError> {
        if (MIN_YEAR..=MAX_YEAR).contains(&y) {
            Ok(Year(y))
        } else {
            Err(PeriodError::YearOutOfRange(y))
        }
    }
    pub fn value(self) -> i32 {
        self.0
    }
    pub fn quarters(self) -> [Quarter; 4] {
        [1, 2, 3, 4].map(|q| Quarter { year: self.0, q })
    }
}

/// A month (月), the period of self-inspection and of the close-type departments' monthly ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Result<Month, PeriodError> {
        Year::new(year)?;
        if !(1..=12).contains(&month) {
            return Err(PeriodError::Format(format!("{year}-{month}")));
        }
        Ok(Month { year, month })
    }
    /// The month a date falls in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }
    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u32 {
        self.month
    }
    pub fn quarter(self) -> Quarter {
        Quarter {
            year: self.year,
            q: ((self.month - 1) / 3 + 1) as u8,
        }
    }
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
    pub fn first_day(self) -> NaiveDate {
        // Always valid: the month is 1..=12 and the year in range.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MIN)
    }
    /// Day `day` of this month, clamped to the month's last day (a deadline of the 31st in
    /// February falls on its last day).
    pub fn day_clamped(self, day: u32) -> NaiveDate {
        let last = self.last_day();
        NaiveDate::from_ymd_opt(self.year, self.month, day.clamp(1, last.day())).unwrap_or(last)
    }
    /// The Chinese label, e.g. `2023年4月`.
    pub fn label(self) -> String {
        format!("{}年{}月", self.year, self.month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Month, PeriodError> {
        let bad = || PeriodError::Format(s.to_owned());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let year = parse_year(y, s)?;
        if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let month: u32 = m.parse().map_err(|_| bad())?;
        Month::new(year, month).map_err(|_| bad())
    }
}

/// A quarter (季度), the period of ranking and bulletins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quarter {
    year: i32,
    q: u8,
}

impl Quarter {
    pub fn new(year: i32, q: u8) -> Result<Quarter, PeriodError> {
        Year::new(year)?;
        if !(1..=4).contains(&q) {
            return Err(PeriodError::Format(format!("{year}-Q{q}")));
        }
        Ok(Quarter { year, q })
    }
    pub fn year(self) -> i32 {
        self.year
    }
    pub fn number(self) -> u8 {
        self.q
    }
    pub fn months(self) -> [Month; 3] {
        let first = u32::from(self.q - 1) * 3 + 1;
        [0, 1, 2].map(|i| Month {
            year: self.year,
            month: first + i,
        })
    }
    pub fn prev(self) -> Quarter {
        if self.q == 1 {
            Quarter {
                year: self.year - 1,
                q: 4,
            }
        } else {
            Quarter {
                year: self.year,
                q: self.q - 1,
            }
        }
    }
    /// The Chinese label, e.g. `2023年第二季度`.
    pub fn label(self) -> String {
        let n = ["一", "二", "三", "四"][usize::from(self.q - 1)];
        format!("{}年第{}季度", self.year, n)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.q)
    }
}

impl FromStr for Quarter {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Quarter, PeriodError> {
        let bad = || PeriodError::Format(s.to_owned());
        let (y, q) = s.split_once("-Q").ok_or_else(bad)?;
        let year = parse_year(y, s)?;
        if q.len() != 1 {
            return Err(bad());
        }
        let q: u8 = q.parse().map_err(|_| bad())?;
        Quarter::new(year, q).map_err(|_| bad())
    }
}

impl fmt::Display for Year {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

impl FromStr for Year {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Year, PeriodError> {
        Ok(Year(parse_year(s, s)?))
    }
}

/// Any of the three period kinds, as the API accepts them in one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Month(Month),
    Quarter(Quarter),
    Year(Year),
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Period, PeriodError> {
        if s.contains("-Q") {
            s.parse().map(Period::Quarter)
        } else if s.contains('-') {
            s.parse().map(Period::Month)
        } else {
            s.parse().map(Period::Year)
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(m) => m.fmt(f),
            Period::Quarter(q) => q.fmt(f),
            Period::Year(y) => y.fmt(f),
        }
    }
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_str!(Month, Quarter, Year, Period);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_print() {
        let m: Month = "2023-04".parse().expect("valid");
        assert_eq!((m.year(), m.month()), (2023, 4));
        assert_eq!(m.to_string(), "2023-04");
        assert_eq!(m.label(), "2023年4月");
        for bad in [
            "2023-4",
            "2023-13",
            "2023-00",
            "23-04",
            "2023/04",
            "2023-04-01",
            "",
            "1999-01",
            "２０２３-04",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn month_arithmetic_crosses_years() {
        let dec: Month = "2023-12".parse().expect("valid");
        assert_eq!(dec.next().to_string(), "2024-01");
        assert_eq!(dec.next().prev(), dec);
        assert_eq!(
            dec.last_day(),
            NaiveDate::from_ymd_opt(2023, 12, 31).expect("date")
        );
        let feb: Month = "2024-02".parse().expect("valid");
        assert_eq!(feb.last_day().day(), 29);
        assert_eq!(feb.day_clamped(31).day(), 29);
        assert_eq!(feb.day_clamped(5).day(), 5);
    }

    #[test]
    fn quarters_parse_and_contain_their_months() {
        let q: Quarter = "2023-Q2".parse().expect("valid");
        assert_eq!(
            q.months().map(|m| m.to_string()),
            ["2023-04", "2023-05", "2023-06"]
        );
        assert_eq!(q.label(), "2023年第二季度");
        assert_eq!(
            "2023-11".parse::<Month>().map(|m| m.quarter().to_string()),
            Ok("2023-Q4".into())
        );
        assert_eq!(
            "2024-Q1".parse::<Quarter>().map(|q| q.prev().to_string()),
            Ok("2023-Q4".into())
        );
        for bad in ["2023-Q0", "2023-Q5", "2023Q1", "2023-q1", "2023-Q12"] {
            assert!(bad.parse::<Quarter>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn period_dispatches_on_shape() {
        assert_eq!(
            "2023".parse::<Period>().map(|p| p.to_string()),
            Ok("2023".into())
        );
        assert!(matches!(
            "2023-Q3".parse::<Period>(),
            Ok(Period::Quarter(_))
        ));
        assert!(matches!("2023-07".parse::<Period>(), Ok(Period::Month(_))));
        assert!("20234".parse::<Period>().is_err());
        assert_eq!(
            Year::new(2023).map(|y| y.quarters()[3].to_string()),
            Ok("2023-Q4".into())
        );
    }

    #[test]
    fn serde_uses_the_api_spelling() {
        let m: Month = serde_json::from_str("\"2023-04\"").expect("json");
        assert_eq!(serde_json::to_string(&m).expect("json"), "\"2023-04\"");
        assert!(serde_json::from_str::<Quarter>("\"2023-Q9\"").is_err());
    }
}
