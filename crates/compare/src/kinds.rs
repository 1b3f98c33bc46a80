//! The kinds of data set departments deliver (数据类型), from their duty lists: each with its
//! department, its delivery cadence and its column template (the headers its file must have).

use serde::{Deserialize, Serialize};

/// How a column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The person's resident ID number: normalised, never refused (bad ones are reported).
    Id,
    /// Free text (names, places, categories).
    Text,
    /// A calendar date (`2024-03-05`, `2024/3/5`, `20240305` or an Excel date).
    Date,
    /// An amount in yuan, up to two decimals.
    Money,
    /// A whole number.
    Int,
}

/// One column of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header the file carries (row 1).
    pub header: &'static str,
    /// The name rules use for it.
    pub field: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

const fn col(header: &'static str, field: &'static str, ty: FieldType) -> Column {
    Column {
        header,
        field,
        ty,
        required: true,
    }
}

const fn opt(header: &'static str, field: &'static str, ty: FieldType) -> Column {
    Column {
        header,
        field,
        ty,
        required: false,
    }
}

/// When a department delivers a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every month, for the month before, by the given day.
    Monthly { by_day: u8 },
    /// Every quarter, for the quarter before, by the given day of its first month.
    Quarterly { by_day: u8 },
    /// Each school term: by 31 March and by 30 September.
    Termly,
    /// As events happen, and at least every month by the given day.
    OnEvent { by_day: u8 },
}

impl Cadence {
    /// The cadence as the feed ledger states it.
    pub fn label(self) -> String {
        match self {
            Cadence::Monthly { by_day } => format!("每月 {by_day} 日前报送上月数据"),
            Cadence::Quarterly { by_day } => format!("每季度首月 {by_day} 日前报送上季度数据"),
            Cadence::Termly => "每学期报送（3 月 31 日、9 月 30 日前）".to_owned(),
            Cadence::OnEvent { by_day } => {
                format!("发生后即时报送，每月 {by_day} 日前汇总报送上月数据")
            }
        }
    }
}

impl Cadence {
    /// The deadline falling in `month`, if the cadence has one there: the day a delivery
    /// answering that month's call is due.
    pub fn due_in(self, month: liandong_domain::Month) -> Option<chrono::NaiveDate> {
        match self {
            Cadence::Monthly { by_day } | Cadence::OnEvent { by_day } => {
                Some(month.day_clamped(u32::from(by_day)))
            }
            Cadence::Quarterly { by_day } => matches!(month.month(), 1 | 4 | 7 | 10)
                .then(|| month.day_clamped(u32::from(by_day))),
            Cadence::Termly => matches!(month.month(), 3 | 9).then(|| month.last_day()),
        }
    }

    /// The nearest month, from `month` on, with a deadline.
    pub fn next_due_month(self, month: liandong_domain::Month) -> liandong_domain::Month {
        let mut m = month;
        while self.due_in(m).is_none() {
            m = m.next();
        }
        m
    }
}

macro_rules! kinds {
    ($($(#[$m:meta])* $v:ident = ($code:literal, $label:literal, $dept:literal, $cadence:expr, [$($c:expr),+ $(,)?])),+ $(,)?) => {
        /// A kind of data set (数据类型).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum DataKind { $($(#[$m])* $v),+ }

        impl DataKind {
            pub const ALL: &'static [DataKind] = &[$(DataKind::$v),+];

            /// The stable code (`medical_expense`).
            pub fn code(self) -> &'static str {
                match self { $(DataKind::$v => $code),+ }
            }

            /// The Chinese name shown to users.
            pub fn label(self) -> &'static str {
                match self { $(DataKind::$v => $label),+ }
            }

            /// The registry code of the department that delivers it.
            pub fn department(self) -> &'static str {
                match self { $(DataKind::$v => $dept),+ }
            }

            pub fn cadence(self) -> Cadence {
                match self { $(DataKind::$v => $cadence),+ }
            }

            /// The template: what a file of this kind holds, in the template's column order.
            pub fn columns(self) -> &'static [Column] {
                match self { $(DataKind::$v => { const C: &[Column] = &[$($c),+]; C }),+ }
            }
        }
    };
}

use FieldType::{Date, Id, Int, Money, Text};

kinds! {
    /// 医疗费用结算 (县医保局): one row per settlement.
    MedicalExpense = ("medical_expense", "医疗费用结算", "medinsure", Cadence::Monthly { by_day: 4 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("结算日期", "settled_on", Date),
        col("总费用", "total", Money), col("个人自付", "out_of_pocket", Money),
        opt("医疗机构", "hospital", Text), opt("住址", "address", Text),
    ]),
    /// 城乡居民医保参保 (县医保局): one row per insured person and year.
    InsuranceEnrollment = ("insurance_enrollment", "城乡居民医保参保", "medinsure", Cadence::Monthly { by_day: 4 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("参保年度", "year", Int),
        opt("参保状态", "status", Text),
    ]),
    /// 学籍 (县教育局): pupils and students on the rolls.
    SchoolEnrollment = ("school_enrollment", "学生学籍", "edu", Cadence::Termly, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("学校", "school", Text),
        col("学籍状态", "status", Text), opt("年级", "grade", Text),
    ]),
    /// 农村危房鉴定 (县住建局): houses graded C or D.
    UnsafeHousing = ("unsafe_housing", "农村危房鉴定", "housing", Cadence::Quarterly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("鉴定等级", "grade", Text),
        col("鉴定日期", "assessed_on", Date), opt("房屋地址", "address", Text),
    ]),
    /// 饮水安全问题 (县水利局).
    WaterSafety = ("water_safety", "饮水安全问题", "water", Cadence::Quarterly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("问题类型", "problem", Text),
        col("发现日期", "found_on", Date), opt("解决情况", "resolution", Text),
    ]),
    /// 低保、特困、低收入人口 (县民政局).
    LowIncome = ("low_income", "低保特困低收入人口", "civil", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("救助类别", "category", Text),
        col("起始日期", "since", Date), opt("月救助金额", "monthly_amount", Money),
    ]),
    /// 残疾人证 (县残联).
    Disability = ("disability", "残疾人证", "disabled", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("残疾证号", "certificate", Text),
        col("残疾类别", "category", Text), col("残疾等级", "grade", Text),
    ]),
    /// 机动车登记 (县公安局).
    Vehicles = ("vehicles", "机动车登记", "police", Cadence::Quarterly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("号牌号码", "plate", Text),
        col("车辆类型", "vehicle_type", Text), opt("登记日期", "registered_on", Date),
    ]),
    /// 交通事故、刑事案件、森林火灾受害人 (县公安局).
    AccidentVictims = ("accident_victims", "意外事故受害人", "police", Cadence::OnEvent { by_day: 5 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("事故类型", "accident", Text),
        col("发生日期", "happened_on", Date), opt("伤亡情况", "harm", Text),
    ]),
    /// 受灾人员 (县应急管理局).
    DisasterVictims = ("disaster_victims", "受灾人员", "emergency", Cadence::OnEvent { by_day: 5 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("灾害类型", "disaster", Text),
        col("发生日期", "happened_on", Date), opt("损失金额", "loss", Money),
    ]),
    /// 财政供养人员 (县财政局).
    PublicPayroll = ("public_payroll", "财政供养人员", "finance", Cadence::Quarterly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("工作单位", "employer", Text),
    ]),
    /// 务工就业 (县人社局).
    Employment = ("employment", "务工就业", "hrss", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("就业状态", "status", Text),
        opt("务工地点", "place", Text), opt("月收入", "monthly_income", Money),
    ]),
    /// 城乡居民养老保险 (县人社局).
    Pension = ("pension", "城乡居民养老保险", "hrss", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("参保状态", "status", Text),
        opt("月领取金额", "monthly_amount", Money),
    ]),
    /// 低保特困户每月 10 千瓦时电费减免 (国网南召供电公司).
    ElectricityWaiver = ("electricity_waiver", "低保特困户电费减免", "power", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("减免月份", "month", Text),
        col("减免电量", "kwh", Int),
    ]),
    /// 小额信贷逾期 (县金融工作局).
    MicrocreditOverdue = ("microcredit_overdue", "小额信贷逾期", "fin_office", Cadence::Monthly { by_day: 10 }, [
        col("身份证号", "id", Id), col("姓名", "name", Text), col("贷款金额", "loan", Money),
        col("逾期金额", "overdue_amount", Money), col("逾期天数", "overdue_days", Int),
    ]),
}

impl DataKind {
    /// Whether each delivery holds new events (claims, victims) that add to the earlier ones,
    /// rather than a whole list that replaces the last (enrolment, payroll).
    pub fn accumulates(self) -> bool {
        matches!(
            self,
            DataKind::MedicalExpense | DataKind::AccidentVictims | DataKind::DisasterVictims
        )
    }

    /// A stable small number for the kind, for references stored outside this crate (its
    /// place in [`DataKind::ALL`], to which kinds are only ever appended).
    pub fn ordinal(self) -> u8 {
        DataKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<DataKind> {
        DataKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The headers a file must carry.
    pub fn required_headers(self) -> Vec<&'static str> {
        self.columns()
            .iter()
            .filter(|c| c.required)
            .map(|c| c.header)
            .collect()
    }

    /// The column a rule names by `field`.
    pub fn column(self, field: &str) -> Option<(usize, &'static Column)> {
        self.columns()
            .iter()
            .enumerate()
            .find(|(_, c)| c.field == field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_unique_code_an_id_column_and_a_name_column() {
        assert_eq!(DataKind::ALL.len(), 15);
        for k in DataKind::ALL {
            assert_eq!(DataKind::from_code(k.code()), Some(*k));
            let cols = k.columns();
            assert_eq!(cols[0].ty, FieldType::Id, "{}", k.code());
            assert_eq!(cols[0].header, "身份证号");
            assert!(cols.iter().any(|c| c.field == "name"));
            let mut fields: Vec<_> = cols.iter().map(|c| c.field).collect();
            fields.sort_unstable();
            fields.dedup();
            assert_eq!(fields.len(), cols.len(), "{}: duplicate field", k.code());
        }
        assert_eq!(DataKind::from_code("nonsense"), None);
    }

    #[test]
    fn deadlines_fall_by_cadence() {
        use liandong_domain::Month;
        let m = |s: &str| s.parse::<Month>().expect("month");
        let d = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
        let monthly = Cadence::Monthly { by_day: 4 };
        assert_eq!(monthly.due_in(m("2024-02")), Some(d("2024-02-04")));
        let quarterly = Cadence::Quarterly { by_day: 10 };
        assert_eq!(quarterly.due_in(m("2024-04")), Some(d("2024-04-10")));
        assert_eq!(quarterly.due_in(m("2024-05")), None);
        assert_eq!(quarterly.next_due_month(m("2024-05")), m("2024-07"));
        assert_eq!(Cadence::Termly.due_in(m("2024-09")), Some(d("2024-09-30")));
        assert_eq!(Cadence::Termly.due_in(m("2024-10")), None);
        assert_eq!(Cadence::Termly.next_due_month(m("2024-10")), m("2025-03"));
        assert_eq!(
            Cadence::Monthly { by_day: 31 }.due_in(m("2024-02")),
            Some(d("2024-02-29"))
        );
        for (i, k) in DataKind::ALL.iter().enumerate() {
            assert_eq!(k.ordinal() as usize, i);
        }
        assert!(DataKind::MedicalExpense.accumulates());
        assert!(!DataKind::SchoolEnrollment.accumulates());
    }

    #[test]
    fn medical_expenses_use_the_national_headers_and_come_monthly_by_the_4th() {
        let k = DataKind::MedicalExpense;
        assert_eq!(
            k.required_headers(),
            ["身份证号", "姓名", "结算日期", "总费用", "个人自付"]
        );
        assert_eq!(k.cadence(), Cadence::Monthly { by_day: 4 });
        assert_eq!(k.cadence().label(), "每月 4 日前报送上月数据");
        assert_eq!(k.department(), "medinsure");
        assert_eq!(
            k.column("out_of_pocket").map(|(i, c)| (i, c.ty)),
            Some((4, FieldType::Money))
        );
    }

    #[test]
    fn every_delivering_department_is_in_the_registry() {
        for k in DataKind::ALL {
            assert!(
                liandong_domain::registry::DEPARTMENTS
                    .iter()
                    .any(|d| d.code == k.department()),
                "{}",
                k.code()
            );
        }
    }
}
