//! The roster file (脱贫户 and 监测对象 members, as the national monitoring system exports it),
//! read and checked once for both the server's import and the comparison engine; and the
//! roster as the engine joins on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use liandong_domain::id_number::IdKey;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType};
use liandong_domain::IdNumber;
use liandong_office::import::{RowError, SheetData};

/// Headers an export must have (api.md "Files").
pub const ROSTER_REQUIRED: [&str; 7] = [
    "户编号",
    "乡镇",
    "村",
    "姓名",
    "身份证号",
    "与户主关系",
    "户类型",
];

/// Every column the template offers, with its width.
pub const ROSTER_COLUMNS: [(&str, f64); 20] = [
    ("户编号", 16.0),
    ("乡镇", 10.0),
    ("村", 10.0),
    ("组", 6.0),
    ("姓名", 8.0),
    ("身份证号", 20.0),
    ("与户主关系", 8.0),
    ("户类型", 12.0),
    ("监测状态", 10.0),
    ("识别纳入日期", 12.0),
    ("帮扶日期", 12.0),
    ("风险消除日期", 12.0),
    ("风险类型", 14.0),
    ("帮扶措施", 20.0),
    ("帮扶责任人", 10.0),
    ("联系电话", 13.0),
    ("健康状况", 10.0),
    ("残疾情况", 10.0),
    ("劳动技能", 10.0),
    ("在校情况", 10.0),
];

/// One checked row of a roster file: a member and the household they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    pub row: usize,
    pub household_no: String,
    pub township: String,
    pub village: String,
    pub group: String,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
    /// 识别纳入, 帮扶, 风险消除.
    pub dates: [Option<NaiveDate>; 3],
    pub risks: Vec<RiskType>,
    pub measures: String,
    pub cadre: String,
    pub name: String,
    pub relation: String,
    pub id: IdNumber,
    /// Digits only, or empty.
    pub phone: String,
    pub health: String,
    pub disability: String,
    pub labour: String,
    pub schooling: String,
}

fn split_risks(s: &str) -> Result<Vec<RiskType>, String> {
    let mut out = Vec::new();
    for part in s
        .split(['、', ',', '，', ';', '；', ' '])
        .filter(|p| !p.trim().is_empty())
    {
        match RiskType::from_label(part) {
            Some(r) if !out.contains(&r) => out.push(r),
            Some(_) => {}
            None => return Err(format!("“{part}”不是风险类型")),
        }
    }
    Ok(out)
}

fn date_cell(s: &str) -> Result<Option<NaiveDate>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y/%m/%d"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .map(Some)
        .map_err(|_| format!("“{s}”不是日期（写作 2023-04-12）"))
}

/// Checks every row of a roster file; either all rows, or every problem named by row and
/// column. `townships`, when given, are the names a row's 乡镇 must be one of.
pub fn parse_roster(
    data: &SheetData,
    townships: Option<&[String]>,
    progress: &AtomicUsize,
) -> Result<Vec<RosterRow>, Vec<RowError>> {
    let mut errors = Vec::new();
    // Household number -> (first row, township, village, kind).
    let mut first_row: HashMap<String, (usize, String, String, HouseholdKind)> = HashMap::new();
    let mut out = Vec::with_capacity(data.rows.len());
    let mut seen_ids: HashMap<IdKey, usize> = HashMap::with_capacity(data.rows.len());
    for (i, (row, cells)) in data.rows.iter().enumerate() {
        if i % 4096 == 0 {
            progress.store(i, Ordering::Relaxed);
        }
        let get = |c: &str| data.get(cells, c).trim();
        let mut err = |column: &'static str, message: String| {
            errors.push(RowError {
                row: *row,
                column,
                message,
            })
        };
        let mut text = |column: &'static str, max: usize, required: bool| -> Option<String> {
            let v = get(column);
            if required && v.is_empty() {
                err(column, "不能为空".into());
                None
            } else if v.chars().count() > max {
                err(column, format!("最多 {max} 个字"));
                None
            } else {
                Some(v.to_owned())
            }
        };
        let no = text("户编号", 40, true);
        let township = text("乡镇", 40, true);
        let village = text("村", 40, true);
        let name = text("姓名", 40, true);
        let relation = text("与户主关系", 20, true);
        let group = text("组", 20, false);
        let measures = text("帮扶措施", 200, false);
        let cadre = text("帮扶责任人", 40, false);
        let health = text("健康状况", 40, false);
        let disability = text("残疾情况", 40, false);
        let labour = text("劳动技能", 40, false);
        let schooling = text("在校情况", 40, false);
        let township = match (township, townships) {
            (Some(t), Some(known)) if !known.contains(&t) => {
                err("乡镇", format!("“{t}”不是本县的乡镇"));
                None
            }
            (t, _) => t,
        };
        let kind = HouseholdKind::from_label(get("户类型"));
        if kind.is_none() {
            err(
                "户类型",
                format!(
                    "“{}”应为 脱贫户、脱贫不稳定户、边缘易致贫户、突发严重困难户 之一",
                    get("户类型")
                ),
            );
        }
        let id = match IdNumber::normalize(get("身份证号")) {
            Ok((id, _)) => match seen_ids.get(&id.key()) {
                Some(first) => {
                    err("身份证号", format!("与第 {first} 行的身份证号相同"));
                    None
                }
                None => {
                    seen_ids.insert(id.key(), *row);
                    Some(id)
                }
            },
            Err(e) => {
                err("身份证号", e.to_string());
                None
            }
        };
        let stage = match get("监测状态") {
            "" => kind.map(|k| {
                if k.monitored() {
                    MonitoringStage::Identified
                } else {
                    MonitoringStage::None
                }
            }),
            s => {
                let st = MonitoringStage::from_label(s);
                if st.is_none() {
                    err(
                        "监测状态",
                        format!("“{s}”应为 识别纳入、落实帮扶、风险消除 之一或留空"),
                    );
                }
                st
            }
        };
        let mut dates = [None, None, None];
        for (k, column) in ["识别纳入日期", "帮扶日期", "风险消除日期"]
            .into_iter()
            .enumerate()
        {
            match date_cell(get(column)) {
                Ok(d) => dates[k] = d,
                Err(m) => err(column, m),
            }
        }
        let risks = match split_risks(get("风险类型")) {
            Ok(r) => Some(r),
            Err(m) => {
                err("风险类型", m);
                None
            }
        };
        let phone = get("联系电话").replace([' ', '-'], "");
        let mobile = phone.len() == 11
            && phone.starts_with('1')
            && phone.bytes().all(|b| b.is_ascii_digit());
        if !phone.is_empty() && !mobile {
            err("联系电话", format!("“{phone}”不是 11 位手机号码"));
        }
        let (
            Some(household_no),
            Some(township),
            Some(village),
            Some(name),
            Some(relation),
            Some(group),
            Some(measures),
            Some(cadre),
            Some(health),
            Some(disability),
            Some(labour),
            Some(schooling),
            Some(kind),
            Some(id),
            Some(stage),
            Some(risks),
        ) = (
            no, township, village, name, relation, group, measures, cadre, health, disability,
            labour, schooling, kind, id, stage, risks,
        )
        else {
            continue;
        };
        match first_row.get(&household_no) {
            None => {
                first_row.insert(
                    household_no.clone(),
                    (*row, township.clone(), village.clone(), kind),
                );
            }
            Some((first, t, v, k)) => {
                if *t != township || *v != village || *k != kind {
                    errors.push(RowError {
                        row: *row,
                        column: "户编号",
                        message: format!("同一户的乡镇、村或户类型与第 {first} 行不一致"),
                    });
                    continue;
                }
            }
        }
        out.push(RosterRow {
            row: *row,
            household_no,
            township,
            village,
            group,
            kind,
            stage,
            dates,
            risks,
            measures,
            cadre,
            name,
            relation,
            id,
            phone,
            health,
            disability,
            labour,
            schooling,
        });
    }
    progress.store(data.rows.len(), Ordering::Relaxed);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A household of the roster, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterHousehold {
    pub household_no: String,
    pub township: String,
    pub village: String,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
}

/// A member of the roster, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterPerson {
    pub key: IdKey,
    pub name: String,
    /// Index into [`Roster::households`].
    pub household: u32,
}

/// The roster indexed for joining: members by ID key, households by number.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub households: Vec<RosterHousehold>,
    pub persons: Vec<RosterPerson>,
    /// Members of each household, by person index.
    pub members: Vec<Vec<u32>>,
    by_key: HashMap<u64, u32, foldhash::fast::RandomState>,
}

impl Roster {
    pub fn from_rows(rows: &[RosterRow]) -> Roster {
        let mut r = Roster::default();
        r.by_key.reserve(rows.len());
        let mut household_of: HashMap<&str, u32> = HashMap::new();
        let mut name = String::new();
        for row in rows {
            let h = *household_of
                .entry(row.household_no.as_str())
                .or_insert_with(|| {
                    r.households.push(RosterHousehold {
                        household_no: row.household_no.clone(),
                        township: row.township.clone(),
                        village: row.village.clone(),
                        kind: row.kind,
                        stage: row.stage,
                    });
                    r.members.push(Vec::new());
                    (r.households.len() - 1) as u32
                });
            let p = r.persons.len() as u32;
            crate::load::normalise_name(&row.name, &mut name);
            r.persons.push(RosterPerson {
                key: row.id.key(),
                name: name.clone(),
                household: h,
            });
            r.members[h as usize].push(p);
            r.by_key.insert(row.id.key().get(), p);
        }
        r
    }

    /// The member with this ID key.
    pub fn person(&self, key: u64) -> Option<u32> {
        self.by_key.get(&key).copied()
    }

    pub fn household_of(&self, person: u32) -> &RosterHousehold {
        &self.households[self.persons[person as usize].household as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sheet(rows: &[&[&str]]) -> SheetData {
        SheetData {
            headers: ROSTER_REQUIRED.iter().map(|h| (*h).to_owned()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.iter().map(|c| (*c).to_owned()).collect()))
                .collect(),
        }
    }

    #[test]
    fn rows_are_checked_and_indexed_by_household() {
        let a = IdNumber::from_parts(
            "411321",
            NaiveDate::from_ymd_opt(1970, 1, 1).expect("d"),
            11,
        )
        .expect("id");
        let b = IdNumber::from_parts(
            "411321",
            NaiveDate::from_ymd_opt(2012, 5, 6).expect("d"),
            12,
        )
        .expect("id");
        let data = sheet(&[
            &[
                "H1",
                "城关镇",
                "东村",
                "张 三",
                a.expose(),
                "户主",
                "脱贫户",
            ],
            &[
                "H1",
                "城关镇",
                "东村",
                "张小",
                &b.expose().to_lowercase(),
                "之子",
                "脱贫户",
            ],
        ]);
        let rows = parse_roster(&data, None, &AtomicUsize::new(0)).expect("valid");
        let roster = Roster::from_rows(&rows);
        assert_eq!(roster.households.len(), 1);
        assert_eq!(roster.members[0], [0, 1]);
        assert_eq!(roster.persons[0].name, "张三");
        assert_eq!(roster.person(b.key().get()), Some(1));
        assert_eq!(roster.household_of(1).household_no, "H1");
    }

    #[test]
    fn unknown_townships_duplicates_and_split_households_are_named() {
        let a = IdNumber::from_parts(
            "411321",
            NaiveDate::from_ymd_opt(1970, 1, 1).expect("d"),
            11,
        )
        .expect("id");
        let b = IdNumber::from_parts(
            "411321",
            NaiveDate::from_ymd_opt(1971, 1, 1).expect("d"),
            13,
        )
        .expect("id");
        let data = sheet(&[
            &["H1", "城关镇", "东村", "甲", a.expose(), "户主", "脱贫户"],
            &["H1", "城关镇", "西村", "乙", b.expose(), "之妻", "脱贫户"],
            &["H2", "火星乡", "北村", "丙", a.expose(), "户主", "脱贫户"],
        ]);
        let known = vec!["城关镇".to_owned()];
        let errors = parse_roster(&data, Some(&known), &AtomicUsize::new(0)).expect_err("refused");
        let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert_eq!(named, [(3, "户编号"), (4, "乡镇"), (4, "身份证号")]);
        assert!(
            errors[2].message.contains("第 2 行"),
            "{}",
            errors[2].message
        );
    }
}
