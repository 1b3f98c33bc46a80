//! The demo county's data comparison: departments' deliveries built from the demo roster
//! (made-up people, plus a few outsiders with valid but fake ID numbers), some of them late
//! and some ID numbers damaged the way spreadsheets damage them; one run over them, and a few
//! clues already verified so every page of the workbench has content.

use std::fmt::Write as _;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use liandong_compare::kinds::Cadence;
use liandong_compare::DataKind;
use liandong_domain::{IdNumber, Month};
use liandong_store::{Actor, ClueFilter};
use rand::{Rng, SeedableRng};

use crate::compare::{CompareJob, RunState};
use crate::error::Result;
use crate::App;

/// The latest month, up to `m`, with a deadline of `cadence`.
fn latest_due(cadence: Cadence, mut m: Month) -> Month {
    while cadence.due_in(m).is_none() {
        m = m.prev();
    }
    m
}

/// A county-time moment as a Unix timestamp (the county is on UTC+8).
fn county_at(day: NaiveDate, hour: u32) -> i64 {
    day.and_hms_opt(hour, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp()
        - 8 * 3600
}

struct Member {
    id: IdNumber,
    name: String,
    /// Township and village, as an address cell gives them.
    address: String,
}

impl App {
    pub(crate) async fn load_demo_compare(&self, now: DateTime<Utc>) -> Result<()> {
        let vault = self.vault()?.clone();
        let members: Vec<Member> = self
            .store
            .compare_members()
            .await?
            .into_iter()
            .filter_map(|m| {
                Some(Member {
                    id: IdNumber::parse(&vault.open(&m.id_sealed).ok()?).ok()?,
                    name: m.name,
                    address: format!("{}{}", m.township, m.village),
                })
            })
            .collect();
        if members.is_empty() {
            return Ok(());
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(20241201);
        let today = liandong_domain::deadline::county_date(now);
        let this = Month::of(today);
        let deps = self.store.departments().await?;
        let dept = |k: DataKind| deps.iter().find(|d| d.code == k.department()).map(|d| d.id);
        let actor = |k: DataKind| Actor {
            username: format!("dept-{}", k.department()),
            role: "department".into(),
            ..Actor::system("demo")
        };
        let mut deliver = Vec::new();

        // Medical claims: the last three monthly calls, each for its month before; the big
        // spenders cross 5,000 yuan, three outsiders 20,000: two with an address in a
        // township (their clues go there), one without (it stays with the office).
        let towns = self.store.townships().await?;
        let address = |i: usize| {
            towns
                .get(i * 3)
                .filter(|_| i < 2)
                .map(|t| format!("南召县{}{}村", t.name, ["东岳", "新集"][i]))
                .unwrap_or_default()
        };
        let outsiders: Vec<Member> = (0..3)
            .filter_map(|i| {
                let birth = NaiveDate::from_ymd_opt(1958 + i, 3, 9)?;
                Some(Member {
                    id: IdNumber::from_parts("411321", birth, 900 + i as u16)?,
                    name: super::demo::fake_name(700 + i as usize),
                    address: String::new(),
                })
            })
            .collect();
        for back in 0..3 {
            let due = {
                let mut m = this;
                for _ in 0..back {
                    m = m.prev();
                }
                m
            };
            let covered = due.prev();
            let mut csv = String::from("身份证号,姓名,结算日期,总费用,个人自付,医疗机构,住址\n");
            for (i, m) in members.iter().enumerate() {
                let heavy = i % 23 == 5;
                if !heavy && i % 6 != 0 {
                    continue;
                }
                let oop = if heavy {
                    rng.gen_range(1800..2600)
                } else {
                    rng.gen_range(50..600)
                };
                let day = covered.day_clamped(rng.gen_range(1..28));
                // Damage some numbers as exports do: lowercase x, spaces, a 15-digit legacy
                // number, a wrong digit.
                let id = match i % 97 {
                    5 => m.id.expose().to_lowercase(),
                    11 => format!(" {} ", m.id.expose()),
                    28 if m.id.expose().as_bytes()[6..8] == *b"19" => {
                        let s = m.id.expose();
                        format!("{}{}{}", &s[..6], &s[8..14], &s[14..17])
                    }
                    51 => {
                        let s = m.id.expose();
                        let d = (s.as_bytes()[16] - b'0' + 1) % 10;
                        format!("{}{}{}", &s[..16], d, &s[17..])
                    }
                    _ => m.id.expose().to_owned(),
                };
                let _ = writeln!(
                    csv,
                    "{id},{},{day},{}.00,{oop}.00,县人民医院,",
                    m.name,
                    oop * 3
                );
            }
            for (i, o) in outsiders.iter().enumerate() {
                let day = covered.day_clamped(12);
                let _ = writeln!(
                    csv,
                    "{},{},{day},21000.00,7200.00,市中心医院,{}",
                    o.id.expose(),
                    o.name,
                    address(i)
                );
            }
            // A mistyped digit and a miswritten name: near enough to ask, not to take.
            if back == 0 {
                if let Some(m) = members.get(28) {
                    let s = m.id.expose();
                    let d = (s.as_bytes()[15] - b'0' + 3) % 10;
                    let mut name: Vec<char> = m.name.chars().collect();
                    if let Some(last) = name.last_mut() {
                        *last = if *last == '明' { '平' } else { '明' };
                    }
                    let _ = writeln!(
                        csv,
                        "{}{}{},{},{},2600.00,1900.00,县人民医院,",
                        &s[..15],
                        d,
                        &s[16..],
                        name.into_iter().collect::<String>(),
                        covered.day_clamped(22)
                    );
                }
            }
            // No number at all, but an address naming the member's village: the name there
            // is shown to a person, never taken.
            if back == 0 {
                if let Some(m) = members.get(40) {
                    let _ = writeln!(
                        csv,
                        ",{},{},1500.00,800.00,县人民医院,{}3组",
                        m.name,
                        covered.day_clamped(18),
                        m.address
                    );
                }
            }
            // Only the region survived the spreadsheet: a person must pick who this is.
            if let Some(m) = members.get(5) {
                let _ = writeln!(
                    csv,
                    "4.11321E+17,{},{},900.00,300.00,县中医院,",
                    m.name,
                    covered.day_clamped(20)
                );
            }
            let due_day = DataKind::MedicalExpense
                .cadence()
                .due_in(due)
                .unwrap_or(today);
            // The oldest call was answered two days late.
            let at = if back == 2 {
                county_at(due_day + Duration::days(2), 16)
            } else {
                county_at(due_day - Duration::days(1), 10)
            };
            deliver.push((
                DataKind::MedicalExpense,
                due,
                format!("医保结算{}.csv", covered),
                csv,
                at,
            ));
        }

        // Whole lists: the latest call of each, answered on time.
        let year = today.format("%Y").to_string();
        let mut lists: Vec<(DataKind, String)> = Vec::new();
        let mut csv = String::from("身份证号,姓名,参保年度,参保状态\n");
        for (i, m) in members.iter().enumerate() {
            if i % 41 != 7 {
                let _ = writeln!(csv, "{},{},{year},正常参保", m.id.expose(), m.name);
            }
        }
        lists.push((DataKind::InsuranceEnrollment, csv));
        let mut csv = String::from("身份证号,姓名,学校,学籍状态,年级\n");
        let mut skipped = 0;
        for m in &members {
            let age = m.id.age_on(today);
            if (6..=15).contains(&age) {
                if skipped < 2 {
                    skipped += 1;
                    continue;
                }
                let _ = writeln!(
                    csv,
                    "{},{},城关镇中心小学,在读,{}年级",
                    m.id.expose(),
                    m.name,
                    (age - 5).min(9)
                );
            }
        }
        lists.push((DataKind::SchoolEnrollment, csv));
        let mut low = String::from("身份证号,姓名,救助类别,起始日期,月救助金额\n");
        let mut waiver = String::from("身份证号,姓名,减免月份,减免电量\n");
        for (i, m) in members
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 17 == 3)
            .take(8)
        {
            let category = if i % 2 == 0 { "低保" } else { "特困" };
            let _ = writeln!(
                low,
                "{},{},{category},2022-03-01,480.00",
                m.id.expose(),
                m.name
            );
            if i % 3 != 0 {
                let _ = writeln!(waiver, "{},{},{},10", m.id.expose(), m.name, this.prev());
            }
        }
        lists.push((DataKind::LowIncome, low));
        lists.push((DataKind::ElectricityWaiver, waiver));
        let mut csv = String::from("身份证号,姓名,号牌号码,车辆类型,登记日期\n");
        for (n, m) in members.iter().skip(30).step_by(53).take(2).enumerate() {
            let _ = writeln!(
                csv,
                "{},{},豫R·D{:04},小型轿车,2023-06-18",
                m.id.expose(),
                m.name,
                1200 + n
            );
        }
        if let Some(m) = members.get(2) {
            let _ = writeln!(
                csv,
                "{},{},豫R·N0071,三轮汽车,2021-04-02",
                m.id.expose(),
                m.name
            );
        }
        lists.push((DataKind::Vehicles, csv));
        let mut csv = String::from("身份证号,姓名,灾害类型,发生日期,损失金额\n");
        for m in members.iter().skip(12).step_by(61).take(2) {
            let _ = writeln!(
                csv,
                "{},{},洪涝,{},6800.00",
                m.id.expose(),
                m.name,
                today - Duration::days(20)
            );
        }
        lists.push((DataKind::DisasterVictims, csv));
        let mut csv = String::from("身份证号,姓名,工作单位\n");
        if let Some(m) = members.get(40) {
            let _ = writeln!(csv, "{},{},县某事业单位", m.id.expose(), m.name);
        }
        lists.push((DataKind::PublicPayroll, csv));
        let mut csv = String::from("身份证号,姓名,鉴定等级,鉴定日期,房屋地址\n");
        for m in members.iter().skip(21).step_by(71).take(2) {
            let _ = writeln!(
                csv,
                "{},{},C级,{},本村",
                m.id.expose(),
                m.name,
                today - Duration::days(40)
            );
        }
        lists.push((DataKind::UnsafeHousing, csv));
        for (kind, csv) in lists {
            let due = latest_due(kind.cadence(), this);
            let due_day = kind.cadence().due_in(due).unwrap_or(today);
            deliver.push((
                kind,
                due,
                format!("{}.csv", kind.label()),
                csv,
                county_at(due_day - Duration::days(2), 15),
            ));
        }
        // Nothing is delivered in the future, whatever day of the month the demo starts on.
        let latest = (now - Duration::hours(1)).timestamp();
        for (kind, due, name, csv, at) in deliver {
            let Some(d) = dept(kind) else { continue };
            let at = at.min(latest);
            self.record_delivery(
                &actor(kind),
                kind,
                d,
                due,
                vec![(name, csv.into_bytes())],
                at,
            )
            .await?;
        }

        // One run, as the office would start it.
        let office = Actor {
            username: "office".into(),
            role: "office_staff".into(),
            ..Actor::system("demo")
        };
        let job = Arc::new(CompareJob {
            user_id: 0,
            started: std::time::Instant::now(),
            phase: Mutex::new(String::new()),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            state: Mutex::new(RunState::Running),
        });
        self.run_compare(&job, &office, today, now - Duration::hours(5))
            .await?;
        // Townships have verified a few: each rule's precision has a figure.
        let (open, _) = self
            .store
            .clues(&ClueFilter {
                status: Some("open".into()),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        for (i, c) in open
            .iter()
            .filter(|c| c.township_id.is_some())
            .take(8)
            .enumerate()
        {
            let (confirmed, note) = match i % 4 {
                0 | 1 => (true, "入户核实，情况属实，已纳入监测帮扶"),
                2 => (false, "入户核实，已由其他渠道解决，无返贫风险"),
                _ => continue,
            };
            let at = (now - Duration::hours(2)).timestamp();
            self.store
                .set_clue_outcome(&office, at, c.id, confirmed, note)
                .await?;
        }
        Ok(())
    }
}
