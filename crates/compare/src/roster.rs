//! The roster file (脱贫户 and 监测对象 members, as the national monitoring system exports it),
//! read and checked once for both the server's import and the comparison engine; and the
//! roster as the engine joins on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use liandong_domain::id_number::IdKey;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType};
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

/// One checked row of a roster file: a member and the household they belong to, borrowing
/// the file's cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow<'a> {
    pub row: usize,
    pub household_no: &'a str,
    pub township: &'a str,
    pub village: &'a str,
    pub group: &'a str,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
    /// 识别纳入, 帮扶, 风险消除.
    pub dates: [Option<NaiveDate>; 3],
    pub risks: Vec<RiskType>,
    pub measures: &'a str,
    pub cadre: &'a str,
    pub name: &'a str,
    pub relation: &'a str,
    pub id: IdKey,
    /// Digits only, or empty.
    pub phone: String,
    pub health: &'a str,
    pub disability: &'a str,
    pub labour: &'a str,
    pub schooling: &'a str,
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
/// column. `townships`, when given, are the names a row's 乡镇 must be one of. Rows are checked
/// on every core; what spans rows (one ID once, one household in one place) is checked after.
pub fn parse_roster<'a>(
    data: &'a SheetData,
    townships: Option<&[String]>,
    progress: &AtomicUsize,
) -> Result<Vec<RosterRow<'a>>, Vec<RowError>> {
    // Where each template column is in this file, found once rather than per cell.
    let pos: [Option<usize>; ROSTER_COLUMNS.len()] =
        std::array::from_fn(|k| data.headers.iter().position(|h| h == ROSTER_COLUMNS[k].0));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = data.rows.len().div_ceil(threads).max(4096);
    let done = AtomicUsize::new(0);
    // Per row: its ID when valid (checked for repeats even if the row fails otherwise) and the
    // row when it passed its own checks.
    type Checked<'a> = (usize, Option<IdKey>, Option<RosterRow<'a>>);
    let checked: Vec<(Vec<RowError>, Vec<Checked<'a>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = data
            .rows
            .chunks(per)
            .map(|chunk| {
                let (pos, done) = (&pos, &done);
                s.spawn(move || {
                    let mut errors = Vec::new();
                    let rows: Vec<Checked<'a>> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, (row, cells))| {
                            if i % 4096 == 4095 {
                                let d = done.fetch_add(4096, Ordering::Relaxed) + 4096;
                                progress.store(d, Ordering::Relaxed);
                            }
                            let (key, checked) =
                                check_row(pos, *row, cells, townships, &mut errors);
                            (*row, key, checked)
                        })
                        .collect();
                    (errors, rows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut errors = Vec::new();
    let mut candidates = Vec::with_capacity(data.rows.len());
    let mut seen_ids: FastMap<IdKey, usize> = FastMap::default();
    seen_ids.reserve(data.rows.len());
    for (row_errors, rows) in checked {
        errors.extend(row_errors);
        for (row, key, r) in rows {
            if let Some(key) = key {
                if let Some(first) = seen_ids.get(&key) {
                    errors.push(RowError {
                        row,
                        column: "身份证号",
                        message: format!("与第 {first} 行的身份证号相同"),
                    });
                    continue;
                }
                seen_ids.insert(key, row);
            }
            if let Some(r) = r {
                candidates.push(r);
            }
        }
    }
    drop(seen_ids);
    // One household, one township, village and type: each member agrees with the first.
    let mut split = vec![false; candidates.len()];
    {
        let mut first: FastMap<&str, usize> = FastMap::default();
        for (i, r) in candidates.iter().enumerate() {
            match first.get(r.household_no) {
                None => {
                    first.insert(r.household_no, i);
                }
                Some(&j) => {
                    let f = &candidates[j];
                    if f.township != r.township || f.village != r.village || f.kind != r.kind {
                        split[i] = true;
                        errors.push(RowError {
                            row: r.row,
                            column: "户编号",
                            message: format!("同一户的乡镇、村或户类型与第 {} 行不一致", f.row),
                        });
                    }
                }
            }
        }
    }
    let out: Vec<RosterRow<'a>> = candidates
        .into_iter()
        .zip(split)
        .filter(|(_, split)| !split)
        .map(|(r, _)| r)
        .collect();
    progress.store(data.rows.len(), Ordering::Relaxed);
    if errors.is_empty() {
        Ok(out)
    } else {
        // Each row's own problems, then those it has with rows before it.
        errors.sort_by_key(|e| e.row);
        Err(errors)
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One row's own checks; problems go to `errors`.
fn check_row<'a>(
    pos: &[Option<usize>; ROSTER_COLUMNS.len()],
    row: usize,
    cells: &'a [String],
    townships: Option<&[String]>,
    errors: &mut Vec<RowError>,
) -> (Option<IdKey>, Option<RosterRow<'a>>) {
    let get = |k: usize| -> &'a str {
        pos[k]
            .and_then(|p| cells.get(p))
            .map_or("", |v| v.as_str().trim())
    };
    let mut err = |column: &'static str, message: String| {
        errors.push(RowError {
            row,
            column,
            message,
        })
    };
    let mut text = |k: usize, max: usize, required: bool| -> Option<&'a str> {
        let column = ROSTER_COLUMNS[k].0;
        let v = get(k);
        if required && v.is_empty() {
            err(column, "不能为空".into());
            None
        } else if v.chars().count() > max {
            err(column, format!("最多 {max} 个字"));
            None
        } else {
            Some(v)
        }
    };
    let no = text(0, 40, true);
    let township = text(1, 40, true);
    let village = text(2, 40, true);
    let name = text(4, 40, true);
    let relation = text(6, 20, true);
    let group = text(3, 20, false);
    let measures = text(13, 200, false);
    let cadre = text(14, 40, false);
    let health = text(16, 40, false);
    let disability = text(17, 40, false);
    let labour = text(18, 40, false);
    let schooling = text(19, 40, false);
    let township = match (township, townships) {
        (Some(t), Some(known)) if !known.iter().any(|k| k == t) => {
            err("乡镇", format!("“{t}”不是本县的乡镇"));
            None
        }
        (t, _) => t,
    };
    let kind = HouseholdKind::from_label(get(7));
    if kind.is_none() {
        err(
            "户类型",
            format!(
                "“{}”应为 脱贫户、脱贫不稳定户、边缘易致贫户、突发严重困难户 之一",
                get(7)
            ),
        );
    }
    let id = match IdKey::normalize(get(5).as_bytes()) {
        Ok((id, _)) => Some(id),
        Err(e) => {
            err("身份证号", e.to_string());
            None
        }
    };
    let key = id;
    let stage = match get(8) {
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
        match date_cell(get(9 + k)) {
            Ok(d) => dates[k] = d,
            Err(m) => err(column, m),
        }
    }
    let risks = match split_risks(get(12)) {
        Ok(r) => Some(r),
        Err(m) => {
            err("风险类型", m);
            None
        }
    };
    let phone = get(15).replace([' ', '-'], "");
    let mobile =
        phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit());
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
        no, township, village, name, relation, group, measures, cadre, health, disability, labour,
        schooling, kind, id, stage, risks,
    )
    else {
        return (key, None);
    };
    let row = RosterRow {
        row,
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
    };
    (key, Some(row))
}

/// Why a roster file could not be used for comparison.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterFileError {
    #[error("{0}")]
    Unreadable(#[from] liandong_office::import::ImportError),
    #[error("有 {} 处错误，未比对：\n{}", .0.len(), .0.iter().take(20).map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<RowError>),
}

/// Reads a roster export for comparison: the same checks as the server's import (without its
/// township list), then the index. The file's cells are freed on the side.
pub fn read_roster(bytes: &[u8]) -> Result<Roster, RosterFileError> {
    let limits = liandong_office::import::Limits {
        max_bytes: crate::load::MAX_FILE_BYTES,
        max_uncompressed: 8 * 1024 * 1024 * 1024,
        max_rows: 20_000_000,
        max_cell_chars: 500,
    };
    let table = liandong_office::import::read_table(bytes, &ROSTER_REQUIRED, limits)?;
    let rows = parse_roster(&table, None, &AtomicUsize::new(0)).map_err(RosterFileError::Rows)?;
    let roster = Roster::from_rows(rows);
    std::thread::spawn(move || drop(table));
    Ok(roster)
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

/// A member of the roster, as the engine sees it (the name is in [`Roster::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterPerson {
    pub key: IdKey,
    /// Index into [`Roster::households`].
    pub household: u32,
}

/// The roster indexed for joining: members by ID key, households by number. Names and member
/// lists sit in flat arrays (a county has a million members: no allocation each).
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub households: Vec<RosterHousehold>,
    pub persons: Vec<RosterPerson>,
    names: String,
    name_ends: Vec<u32>,
    /// Members of household `h`: `member_list[member_start[h]..member_start[h + 1]]`.
    member_start: Vec<u32>,
    member_list: Vec<u32>,
    by_key: HashMap<u64, u32, foldhash::fast::RandomState>,
}

impl Roster {
    pub fn from_rows(rows: Vec<RosterRow<'_>>) -> Roster {
        let mut r = Roster::default();
        r.by_key.reserve(rows.len());
        r.persons.reserve(rows.len());
        r.name_ends.reserve(rows.len());
        let mut household_of: FastMap<&str, u32> = FastMap::default();
        let mut name = String::new();
        for row in &rows {
            let h = match household_of.get(row.household_no) {
                Some(&h) => h,
                None => {
                    let h = r.households.len() as u32;
                    household_of.insert(row.household_no, h);
                    r.households.push(RosterHousehold {
                        household_no: row.household_no.to_owned(),
                        township: row.township.to_owned(),
                        village: row.village.to_owned(),
                        kind: row.kind,
                        stage: row.stage,
                    });
                    h
                }
            };
            let p = r.persons.len() as u32;
            if crate::load::normalise_name(row.name, &mut name) {
                r.names.push_str(&name);
            } else {
                r.names.push_str(row.name);
            }
            r.name_ends.push(r.names.len() as u32);
            r.persons.push(RosterPerson {
                key: row.id,
                household: h,
            });
            r.by_key.insert(row.id.get(), p);
        }
        // Member lists by counting: sizes, then starts, then places.
        let mut start = vec![0_u32; r.households.len() + 1];
        for p in &r.persons {
            start[p.household as usize + 1] += 1;
        }
        for h in 0..r.households.len() {
            start[h + 1] += start[h];
        }
        let mut next = start.clone();
        r.member_list = vec![0; r.persons.len()];
        for (i, p) in r.persons.iter().enumerate() {
            let slot = &mut next[p.household as usize];
            r.member_list[*slot as usize] = i as u32;
            *slot += 1;
        }
        r.member_start = start;
        r
    }

    /// The member's name, without spaces.
    pub fn name(&self, person: u32) -> &str {
        let p = person as usize;
        let start = if p == 0 {
            0
        } else {
            self.name_ends[p - 1] as usize
        };
        &self.names[start..self.name_ends[p] as usize]
    }

    /// The members of household `h`, in the roster's order.
    pub fn members(&self, h: u32) -> &[u32] {
        let h = h as usize;
        &self.member_list[self.member_start[h] as usize..self.member_start[h + 1] as usize]
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
    use liandong_domain::IdNumber;

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

    /// `parse_roster` reads cells by their place in the template.
    #[test]
    fn the_template_keeps_the_column_order_the_checks_rely_on() {
        let names: Vec<&str> = ROSTER_COLUMNS.iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            [
                "户编号",
                "乡镇",
                "村",
                "组",
                "姓名",
                "身份证号",
                "与户主关系",
                "户类型",
                "监测状态",
                "识别纳入日期",
                "帮扶日期",
                "风险消除日期",
                "风险类型",
                "帮扶措施",
                "帮扶责任人",
                "联系电话",
                "健康状况",
                "残疾情况",
                "劳动技能",
                "在校情况"
            ]
        );
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
        let roster = Roster::from_rows(rows);
        assert_eq!(roster.households.len(), 1);
        assert_eq!(roster.members(0), [0, 1]);
        assert_eq!(roster.name(0), "张三");
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
