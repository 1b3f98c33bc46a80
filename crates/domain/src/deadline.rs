//! Deadlines and time limits (时限). All times are the county's (Asia/Shanghai, UTC+8 without
//! daylight saving); the caller passes "now", the core never reads the clock.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::period::Month;

/// The county's offset from UTC: China has used UTC+8 all year since 1991.
pub fn county_offset() -> FixedOffset {
    // 8 hours is always a valid offset.
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A UTC instant as the county's wall-clock time.
pub fn county_time(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&county_offset()).naive_local()
}

/// The county's calendar date at an instant.
pub fn county_date(at: DateTime<Utc>) -> NaiveDate {
    county_time(at).date()
}

/// The UTC instant of a county wall-clock time.
pub fn from_county_time(local: NaiveDateTime) -> DateTime<Utc> {
    match county_offset().from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        // A fixed offset is never ambiguous; keep the earliest reading to stay total.
        chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => Utc.from_utc_datetime(&local),
    }
}

/// When a month's self-inspection problem list and rectification status are due (次月5日前).
///
/// The work plan says "before the 5th of the next month"; by default that is read as
/// "on or before the 5th, 23:59:59" and the day is a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyReportDeadline {
    day_of_next_month: u32,
}

impl MonthlyReportDeadline {
    pub const DEFAULT_DAY: u32 = 5;

    /// `day` must be 1..=28 so that every month has it.
    pub fn new(day: u32) -> Option<MonthlyReportDeadline> {
        (1..=28).contains(&day).then_some(MonthlyReportDeadline {
            day_of_next_month: day,
        })
    }

    pub fn day(self) -> u32 {
        self.day_of_next_month
    }

    /// The last county instant (23:59:59) at which a report for `month` is on time.
    pub fn due(self, month: Month) -> NaiveDateTime {
        let day = month.next().day_clamped(self.day_of_next_month);
        day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
    }

    /// Whether a report submitted at `submitted` (county time) was on time, late or is missing
    /// as of `now`.
    pub fn submission(
        self,
        month: Month,
        submitted: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Submission {
        let due = self.due(month);
        match submitted {
            Some(t) if t <= due => Submission::OnTime,
            Some(_) => Submission::Late,
            None if now <= due => Submission::NotYetDue,
            None => Submission::Missing,
        }
    }
}

impl Default for MonthlyReportDeadline {
    fn default() -> Self {
        MonthlyReportDeadline {
            day_of_next_month: Self::DEFAULT_DAY,
        }
    }
}

/// The state of a required submission (资料报送).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    OnTime,
    Late,
    /// Not submitted, and the deadline has not passed yet.
    NotYetDue,
    Missing,
}

impl Submission {
    pub fn label(self) -> &'static str {
        match self {
            Submission::OnTime => "按时报送",
            Submission::Late => "逾期报送",
            Submission::NotYetDue => "待报送",
            Submission::Missing => "未报送",
        }
    }
}

/// The state of a step someone must take before a deadline, shown in colour on dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    OnTime,
    DueSoon,
    Overdue,
}

impl Urgency {
    /// `warn_before` is how long before the deadline a step counts as due soon (a setting).
    pub fn of(due: NaiveDateTime, now: NaiveDateTime, warn_before: Duration) -> Urgency {
        if now > due {
            Urgency::Overdue
        } else if now + warn_before >= due {
            Urgency::DueSoon
        } else {
            Urgency::OnTime
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Urgency::OnTime => "正常",
            Urgency::DueSoon => "即将到期",
            Urgency::Overdue => "已逾期",
        }
    }

    /// The CSS class the web layer colours the state with.
    pub fn css(self) -> &'static str {
        match self {
            Urgency::OnTime => "ok",
            Urgency::DueSoon => "soon",
            Urgency::Overdue => "overdue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time")
    }

    #[test]
    fn april_is_due_on_the_fifth_of_may_at_midnight() {
        let d = MonthlyReportDeadline::default();
        let april: Month = "2023-04".parse().expect("month");
        assert_eq!(d.due(april), at("2023-05-05 23:59:59"));
        let dec: Month = "2023-12".parse().expect("month");
        assert_eq!(d.due(dec), at("2024-01-05 23:59:59"));
    }

    #[test]
    fn submission_states_at_the_boundary() {
        let d = MonthlyReportDeadline::default();
        let m: Month = "2023-04".parse().expect("month");
        let now = at("2023-06-01 00:00:00");
        assert_eq!(
            d.submission(m, Some(at("2023-05-05 23:59:59")), now),
            Submission::OnTime
        );
        assert_eq!(
            d.submission(m, Some(at("2023-05-06 00:00:00")), now),
            Submission::Late
        );
        assert_eq!(d.submission(m, None, now), Submission::Missing);
        assert_eq!(
            d.submission(m, None, at("2023-05-05 12:00:00")),
            Submission::NotYetDue
        );
        assert_eq!(
            d.submission(m, None, at("2023-05-06 00:00:00")),
            Submission::Missing
        );
    }

    #[test]
    fn deadline_day_is_a_setting_within_every_month() {
        assert!(MonthlyReportDeadline::new(0).is_none());
        assert!(MonthlyReportDeadline::new(29).is_none());
        let d = MonthlyReportDeadline::new(10).expect("valid");
        let jan: Month = "2024-01".parse().expect("month");
        assert_eq!(d.due(jan), at("2024-02-10 23:59:59"));
    }

    #[test]
    fn urgency_turns_yellow_then_red() {
        let due = at("2023-05-05 23:59:59");
        let warn = Duration::days(2);
        assert_eq!(
            Urgency::of(due, at("2023-05-01 00:00:00"), warn),
            Urgency::OnTime
        );
        assert_eq!(
            Urgency::of(due, at("2023-05-04 00:00:00"), warn),
            Urgency::DueSoon
        );
        assert_eq!(Urgency::of(due, due, warn), Urgency::DueSoon);
        assert_eq!(
            Urgency::of(due, at("2023-05-06 00:00:00"), warn),
            Urgency::Overdue
        );
    }

    #[test]
    fn county_time_is_utc_plus_eight() {
        let utc = Utc
            .with_ymd_and_hms(2023, 5, 5, 16, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(county_time(utc), at("2023-05-06 00:00:00"));
        assert_eq!(from_county_time(at("2023-05-06 00:00:00")), utc);
        assert_eq!(county_date(utc).to_string(), "2023-05-06");
    }
}
