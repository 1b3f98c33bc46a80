//! The roster file (脱贫户 and 监测对象 members, as the national monitoring system exports it),
//! read and checked once for both the server's import and the comparison engine; and the
//! roster as the engine joins on it.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use liandong_domain::id_number::IdKey;
use liandong_domain::roster::{HouseholdKind, MonitoringStage, RiskType};
use liandong_office::import::RowError;

use crate::key_index::KeyIndex;

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

/// A checked row as the file's checks and the engine's [`Roster`] see it: the whole
/// [`RosterRow`] for the server's import, or the smaller [`MemberRow`] for comparison.
pub trait KeptRow {
    /// What the household check and the engine's roster read of the row.
    fn member(&self) -> MemberRow<'_>;
}

/// What comparison keeps of a checked row: what [`Roster`] is built from, under a third of
/// a [`RosterRow`]'s size (a county's million members are all held while its file is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRow<'a> {
    pub row: usize,
    pub household_no: &'a str,
    pub township: &'a str,
    pub village: &'a str,
    pub name: &'a str,
    pub id: IdKey,
    pub kind: HouseholdKind,
    pub stage: MonitoringStage,
}

impl<'a> From<&RosterRow<'a>> for MemberRow<'a> {
    fn from(r: &RosterRow<'a>) -> Self {
        MemberRow {
            row: r.row,
            household_no: r.household_no,
            township: r.township,
            village: r.village,
            name: r.name,
            id: r.id,
            kind: r.kind,
            stage: r.stage,
        }
    }
}

impl KeptRow for RosterRow<'_> {
    fn member(&self) -> MemberRow<'_> {
        MemberRow::from(self)
    }
}

impl KeptRow for MemberRow<'_> {
    fn member(&self) -> MemberRow<'_> {
        *self
    }
}

/// Checked rows in file order, kept in the slices they were checked in on each core (rows
/// are large: a million of them are not moved again into one list). The index of their ID
/// numbers built by the checks is kept for the engine's roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRows<T>(Vec<Vec<T>>, KeyIndex, Households);

impl<T> Default for RosterRows<T> {
    fn default() -> Self {
        RosterRows(Vec::new(), KeyIndex::default(), Households::default())
    }
}

impl<T> RosterRows<T> {
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter().flatten()
    }
}

impl<T> From<Vec<T>> for RosterRows<T> {
    fn from(rows: Vec<T>) -> Self {
        RosterRows(vec![rows], KeyIndex::default(), Households::default())
    }
}

impl<T> IntoIterator for RosterRows<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
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
/// `rows` are a table's (row number, cells in `headers` order): owned cells from
/// [`SheetData`](liandong_office::import::SheetData), or cells borrowing the file from [`SheetRef`](liandong_office::import::SheetRef).
pub fn parse_roster<'a, C: AsRef<str> + Sync>(
    headers: &[String],
    rows: &'a [(usize, Vec<C>)],
    townships: Option<&[String]>,
    progress: &AtomicUsize,
) -> Result<RosterRows<RosterRow<'a>>, Vec<RowError>> {
    parse_roster_keeping(headers, rows, townships, progress, |r| r)
}

/// [`parse_roster`], keeping of each row that passes what `keep` makes of it.
pub fn parse_roster_keeping<'a, C: AsRef<str> + Sync, T: KeptRow + Send>(
    headers: &[String],
    rows: &'a [(usize, Vec<C>)],
    townships: Option<&[String]>,
    progress: &AtomicUsize,
    keep: impl Fn(RosterRow<'a>) -> T + Sync,
) -> Result<RosterRows<T>, Vec<RowError>> {
    let pos = column_places(headers);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = rows.len().div_ceil(threads).max(4096);
    let done = AtomicUsize::new(0);
    let checked: Vec<Checked<T>> = std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|chunk| {
                let (pos, done, keep) = (&pos, &done, &keep);
                s.spawn(move || {
                    let rows = chunk.iter().map(|(row, cells)| {
                        (*row, move |p: usize| cells.get(p).map(AsRef::as_ref))
                    });
                    check_rows(rows, pos, townships, (done, progress), keep, |_, _| None)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    cross_check(checked, rows.len(), progress)
}

/// Where each template column is in a file, found once rather than per cell.
fn column_places(headers: &[String]) -> [Option<usize>; ROSTER_COLUMNS.len()] {
    std::array::from_fn(|k| headers.iter().position(|h| h == ROSTER_COLUMNS[k].0))
}

/// The own checks of consecutive rows: their problems, every valid ID with its row number
/// and its place among these rows (checked for repeats even if the row fails otherwise), the
/// rows that passed (rows are large: moved once, into the result), and how many rows there
/// were.
struct Checked<T> {
    errors: Vec<RowError>,
    keys: Vec<(IdKey, u32, usize)>,
    passed: Vec<T>,
    rows: usize,
}

/// Runs [`check_row`] on each (row number, cell by column place) and keeps what `keep`
/// makes of the rows that pass; `progress` counts rows done, every 4,096. `quick` may settle
/// a row first, as `check_row` and `keep` would (its ID and what is kept), or leave it to
/// them with `None`.
fn check_rows<'a, T, F: Fn(usize) -> Option<&'a str>>(
    rows: impl ExactSizeIterator<Item = (usize, F)>,
    pos: &[Option<usize>; ROSTER_COLUMNS.len()],
    townships: Option<&[String]>,
    (done, progress): (&AtomicUsize, &AtomicUsize),
    keep: impl Fn(RosterRow<'a>) -> T,
    quick: impl Fn(usize, &F) -> Option<(IdKey, T)>,
) -> Checked<T> {
    let mut out = Checked {
        errors: Vec::new(),
        keys: Vec::with_capacity(rows.len()),
        passed: Vec::with_capacity(rows.len()),
        rows: rows.len(),
    };
    for (i, (row, cell)) in rows.enumerate() {
        if i % 4096 == 4095 {
            let d = done.fetch_add(4096, Ordering::Relaxed) + 4096;
            progress.store(d, Ordering::Relaxed);
        }
        if let Some((key, kept)) = quick(row, &cell) {
            out.keys.push((key, i as u32, row));
            out.passed.push(kept);
            continue;
        }
        let (key, checked) = check_row(pos, row, cell, townships, &mut out.errors);
        if let Some(key) = key {
            out.keys.push((key, i as u32, row));
        }
        out.passed.extend(checked.map(&keep));
    }
    out
}

/// The row number of the row at a place among all rows (one with a valid ID).
fn row_at<T>(checked: &[Checked<T>], at: u32) -> usize {
    let mut before = 0_u32;
    for c in checked {
        if at < before + c.rows as u32 {
            let i = at - before;
            return c
                .keys
                .binary_search_by_key(&i, |k| k.1)
                .map_or(0, |k| c.keys[k].2);
        }
        before += c.rows as u32;
    }
    0
}

/// What spans rows, once each slice's rows have had their own checks: one ID once, one
/// household in one place. `total` rows in all.
fn cross_check<T: KeptRow>(
    checked: Vec<Checked<T>>,
    total: usize,
    progress: &AtomicUsize,
) -> Result<RosterRows<T>, Vec<RowError>> {
    let mut errors = Vec::new();
    // ID key -> its row's place among all rows: when every row passes, that is its place
    // among the members too.
    let mut seen_ids = KeyIndex::with_capacity(total);
    // Rows repeating an earlier ID: reported, and left out of the household check below.
    let mut repeated: Vec<usize> = Vec::new();
    let mut before = 0_u32;
    for c in &checked {
        errors.extend(c.errors.iter().cloned());
        for batch in c.keys.chunks(crate::key_index::BATCH) {
            seen_ids.warm(batch.iter().map(|k| k.0.get()));
            for &(key, i, row) in batch {
                if let Some(first) = seen_ids.insert_or_get(key.get(), before + i) {
                    let first_row = row_at(&checked, first);
                    errors.push(RowError {
                        row,
                        column: "身份证号",
                        message: format!("与第 {first_row} 行的身份证号相同"),
                    });
                    repeated.push(row);
                }
            }
        }
        before += c.rows as u32;
    }
    // One household, one township, village and type: each member agrees with the first.
    let passed = || checked.iter().flat_map(|c| &c.passed);
    let passed_rows = checked.iter().map(|c| c.passed.len()).sum();
    let households = Households::number(ExactLen(
        passed_rows,
        passed().map(|r| {
            let m = r.member();
            let repeats = !repeated.is_empty() && repeated.binary_search(&m.row).is_ok();
            (!repeats).then_some(m.household_no)
        }),
    ));
    let rows: Vec<&T> = if households.first.is_empty() {
        Vec::new()
    } else {
        let mut rows = Vec::with_capacity(passed_rows);
        rows.extend(passed());
        rows
    };
    for (r, &h) in rows.iter().zip(&households.of_row) {
        if h == NO_HOUSEHOLD {
            continue;
        }
        let f = rows[households.first[h as usize] as usize];
        let (f_row, r_row) = (f.member(), r.member());
        if f_row.township != r_row.township
            || f_row.village != r_row.village
            || f_row.kind != r_row.kind
        {
            errors.push(RowError {
                row: r_row.row,
                column: "户编号",
                message: format!("同一户的乡镇、村或户类型与第 {} 行不一致", f_row.row),
            });
        }
    }
    drop(rows);
    progress.store(total, Ordering::Relaxed);
    if errors.is_empty() {
        Ok(RosterRows(
            checked.into_iter().map(|c| c.passed).collect(),
            seen_ids,
            households,
        ))
    } else {
        // Each row's own problems, then those it has with rows before it.
        errors.sort_by_key(|e| e.row);
        Err(errors)
    }
}

/// An iterator whose length is known though its adapters do not tell it (rows of several
/// slices, one after the other), so that lists built from it are sized once.
struct ExactLen<I>(usize, I);

impl<I: Iterator> Iterator for ExactLen<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.1.next();
        if item.is_some() {
            self.0 = self.0.saturating_sub(1);
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0, Some(self.0))
    }
}

/// A row left out of the household numbering.
const NO_HOUSEHOLD: u32 = u32::MAX;

/// Rows numbered by household (户编号), households in the order their first member comes.
/// Members of a household follow one another in an export: households are found among the
/// runs of equal numbers, sorted once, instead of asking a map for every run (a million
/// rows, a third of a million households).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Households {
    /// Each row's household, or [`NO_HOUSEHOLD`] for a row left out.
    of_row: Vec<u32>,
    /// The place of each household's first row.
    first: Vec<u32>,
}

impl Households {
    /// Numbers rows by their household number; `None` leaves a row out.
    fn number<'a>(nos: impl Iterator<Item = Option<&'a str>>) -> Households {
        // Runs of rows with the same number: where each starts, and each row's run.
        // Room for every row at once (a list grown step by step is copied into fresh memory
        // each time); what is not used is never touched.
        let (rows, _) = nos.size_hint();
        let mut runs: Vec<(&str, u32)> = Vec::with_capacity(rows);
        let mut of_row: Vec<u32> = Vec::with_capacity(rows);
        for (i, no) in nos.enumerate() {
            let Some(no) = no else {
                of_row.push(NO_HOUSEHOLD);
                continue;
            };
            if runs.last().is_none_or(|&(last, _)| last != no) {
                runs.push((no, i as u32));
            }
            of_row.push(runs.len() as u32 - 1);
        }
        // Runs of one household meet when sorted by a hash of their number: 32 bits of it
        // above the run's place, in one word (words sort faster than pairs). Runs with equal
        // hashes are told apart by their numbers; each run takes the household of the first
        // run of its number.
        let hasher = foldhash::fast::FixedState::default();
        let mut order: Vec<u64> = runs
            .iter()
            .enumerate()
            .map(|(k, (no, _))| {
                let hash = std::hash::BuildHasher::hash_one(&hasher, no);
                (hash & !0xFFFF_FFFF) | k as u64
            })
            .collect();
        order.sort_unstable();
        let run = |w: u64| (w & 0xFFFF_FFFF) as u32;
        let mut earliest: Vec<u32> = (0..runs.len() as u32).collect();
        for same_hash in order
            .chunk_by(|a, b| a >> 32 == b >> 32)
            .filter(|g| g.len() > 1)
        {
            for (j, &w) in same_hash.iter().enumerate() {
                let k = run(w);
                if let Some(e) = same_hash[..j]
                    .iter()
                    .map(|&v| run(v))
                    .find(|&e| runs[e as usize].0 == runs[k as usize].0)
                {
                    earliest[k as usize] = e;
                }
            }
        }
        // Households numbered in the order of their first run.
        let mut household_of_run = vec![0_u32; runs.len()];
        let mut first = Vec::new();
        for k in 0..runs.len() {
            let e = earliest[k] as usize;
            household_of_run[k] = if e == k {
                first.push(runs[k].1);
                first.len() as u32 - 1
            } else {
                household_of_run[e]
            };
        }
        for h in &mut of_row {
            if *h != NO_HOUSEHOLD {
                *h = household_of_run[*h as usize];
            }
        }
        Households { of_row, first }
    }
}

/// [`check_row`] and [`MemberRow::from`] for a row in the usual form of an export, with
/// no township list: every text short enough by its bytes alone, no dates, risks or phone
/// number, the ID number in canonical form. `None` for any other row, which `check_row`
/// then reads (and, if it has problems, names them). Cells are trimmed already.
#[inline]
fn usual_member<'a>(
    pos: &[Option<usize>; ROSTER_COLUMNS.len()],
    row: usize,
    cell: impl Fn(usize) -> Option<&'a str>,
) -> Option<(IdKey, MemberRow<'a>)> {
    let get = |k: usize| pos[k].and_then(&cell).unwrap_or("");
    // Bytes are never fewer than characters: within the limit by bytes is within it.
    let fits = |k: usize, max: usize| get(k).len() <= max;
    let required = |k: usize, max: usize| {
        let v = get(k);
        (!v.is_empty() && v.len() <= max).then_some(v)
    };
    let household_no = required(0, 40)?;
    let township = required(1, 40)?;
    let village = required(2, 40)?;
    let name = required(4, 40)?;
    required(6, 20)?;
    let short = fits(3, 20) && fits(13, 200) && [14, 16, 17, 18, 19].iter().all(|&k| fits(k, 40));
    // Dates, risks and a phone number have their own checks: rows with them are read fully.
    if !short || [9, 10, 11, 12, 15].iter().any(|&k| !get(k).is_empty()) {
        return None;
    }
    let kind = HouseholdKind::from_label(get(7))?;
    let stage = match get(8) {
        "" if kind.monitored() => MonitoringStage::Identified,
        "" => MonitoringStage::None,
        s => MonitoringStage::from_label(s)?,
    };
    let id = IdKey::canonical_key(get(5).as_bytes())?;
    Some((
        id,
        MemberRow {
            row,
            household_no,
            township,
            village,
            name,
            id,
            kind,
            stage,
        },
    ))
}

/// One row's own checks; problems go to `errors`.
fn check_row<'a>(
    pos: &[Option<usize>; ROSTER_COLUMNS.len()],
    row: usize,
    cell: impl Fn(usize) -> Option<&'a str>,
    townships: Option<&[String]>,
    errors: &mut Vec<RowError>,
) -> (Option<IdKey>, Option<RosterRow<'a>>) {
    let get = |k: usize| -> &'a str {
        pos[k]
            .and_then(&cell)
            .map_or("", liandong_office::import::trim_cell)
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
        } else if v.len() > max && v.chars().count() > max {
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
    /// The file could not be opened or read (the system's reason).
    #[error("无法读取：{0}")]
    File(String),
}

/// [`read_roster`] of a file on disk, read in place when it is a regular file (a county's
/// roster is some hundred megabytes).
pub fn read_roster_path(path: &std::path::Path) -> Result<Roster, RosterFileError> {
    let file = std::fs::File::open(path).map_err(|e| RosterFileError::File(e.to_string()))?;
    let bytes =
        crate::mapped::FileBytes::whole(file).map_err(|e| RosterFileError::File(e.to_string()))?;
    read_roster(&bytes)
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
    // A large plain .csv (the usual export) is read without copying its cells, and checked
    // a slice at a time as it is read: its table of cells is never whole in memory.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.len() > 1 << 20
        && !bytes.starts_with(b"PK\x03\x04")
        && memchr::memchr(b'"', body).is_none()
    {
        let (done, progress) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let checked = liandong_office::import::read_plain_csv_slices(
            body,
            &ROSTER_REQUIRED,
            limits,
            |headers, rows| {
                let rows = rows
                    .iter()
                    .map(|(row, cells)| (row, move |p: usize| cells.get(p).copied()));
                let pos = column_places(headers);
                check_rows(
                    rows,
                    &pos,
                    None,
                    (&done, &progress),
                    |r| MemberRow::from(&r),
                    |row, cell| usual_member(&pos, row, cell),
                )
            },
        )?;
        if let Some(liandong_office::import::Slices {
            slices: checked, ..
        }) = checked
        {
            let total = checked.iter().map(|c| c.rows).sum();
            let rows = cross_check(checked, total, &progress).map_err(RosterFileError::Rows)?;
            return Ok(Roster::from_rows(rows));
        }
    }
    let table = liandong_office::import::read_table(bytes, &ROSTER_REQUIRED, limits)?;
    let rows = parse_roster_keeping(
        &table.headers,
        &table.rows,
        None,
        &AtomicUsize::new(0),
        |r| MemberRow::from(&r),
    )
    .map_err(RosterFileError::Rows)?;
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
    by_key: KeyIndex,
}

impl Roster {
    pub fn from_rows<T: KeptRow>(mut rows: RosterRows<T>) -> Roster {
        let mut r = Roster::default();
        // The checks' index holds every member at their place when every row passed.
        let indexed = rows.1.len() == rows.len();
        if indexed {
            r.by_key = std::mem::take(&mut rows.1);
        } else {
            r.by_key = KeyIndex::with_capacity(rows.len());
        }
        r.persons.reserve(rows.len());
        r.name_ends.reserve(rows.len());
        r.names
            .reserve(rows.iter().map(|row| row.member().name.len()).sum());
        // The file's checks numbered the households when every row passed them.
        let households = if rows.2.of_row.len() == rows.len() {
            std::mem::take(&mut rows.2)
        } else {
            Households::number(rows.iter().map(|r| Some(r.member().household_no)))
        };
        r.households.reserve(households.first.len());
        let mut name = String::new();
        for (row, &h) in rows.iter().map(KeptRow::member).zip(&households.of_row) {
            if h as usize == r.households.len() {
                r.households.push(RosterHousehold {
                    household_no: row.household_no.to_owned(),
                    township: row.township.to_owned(),
                    village: row.village.to_owned(),
                    kind: row.kind,
                    stage: row.stage,
                });
            }
            let p = r.persons.len() as u32;
            if !crate::load::name_is_clean(row.name)
                && crate::load::normalise_name(row.name, &mut name).changed()
            {
                r.names.push_str(&name);
            } else {
                r.names.push_str(row.name);
            }
            r.name_ends.push(r.names.len() as u32);
            r.persons.push(RosterPerson {
                key: row.id,
                household: h,
            });
            if !indexed {
                r.by_key.insert_or_get(row.id.get(), p);
            }
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
        self.by_key.get(key)
    }

    /// The member of each item's key ([`u32::MAX`] for none), many at a time: a data set's
    /// rows are answered faster together than one by one.
    pub fn people<T>(&self, items: &[T], key: impl Fn(&T) -> Option<u64>) -> Vec<u32> {
        self.by_key.get_all(items, key)
    }

    pub fn household_of(&self, person: u32) -> &RosterHousehold {
        &self.households[self.persons[person as usize].household as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_domain::IdNumber;
    use liandong_office::import::SheetData;

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

    /// A large plain export is read without copying its cells; the result is the one the
    /// general reader gives, and so are the refusals.
    #[test]
    fn a_large_plain_roster_reads_as_the_general_reader_reads_it() {
        let mut csv = String::from("户编号,乡镇,村,姓名,身份证号,与户主关系,户类型,组\n");
        let birth = NaiveDate::from_ymd_opt(1980, 1, 1).expect("date");
        for i in 0..16_000_u32 {
            let id = IdNumber::from_parts(
                "411321",
                birth + chrono::Days::new(u64::from(i / 900)),
                (i % 900) as u16,
            )
            .expect("id");
            // Now and then a member comes after the next household's first members.
            let household = i / 3 - u32::from(i % 3 == 2 && i % 97 == 0);
            csv.push_str(&format!(
                "H{household}, 城关镇 ,东村,王 {i},{},户主,脱贫户,{}\n",
                id.expose(),
                i % 5
            ));
        }
        assert!(csv.len() > 1 << 20, "large enough for the plain reader");
        let general = |text: &str| {
            let limits = liandong_office::import::Limits {
                max_bytes: usize::MAX,
                max_uncompressed: u64::MAX,
                max_rows: 20_000_000,
                max_cell_chars: 500,
            };
            // Quoting one cell sends the file through the general reader.
            let quoted = text.replacen("东村", "\"东村\"", 1);
            let table =
                liandong_office::import::read_table(quoted.as_bytes(), &ROSTER_REQUIRED, limits)
                    .expect("table");
            parse_roster(&table.headers, &table.rows, None, &AtomicUsize::new(0)).map(|rows| {
                let r = Roster::from_rows(rows);
                let names: Vec<String> = (0..16_000).map(|p| r.name(p).to_owned()).collect();
                (r.households, r.persons, names)
            })
        };
        let fast = read_roster(csv.as_bytes()).expect("valid");
        let (households, persons, names) = general(&csv).expect("valid");
        assert_eq!(fast.households, households);
        assert_eq!(fast.persons, persons);
        assert_eq!(fast.name(15_999), names[15_999]);
        assert_eq!(fast.name(7), "王7");
        assert_eq!(fast.members(fast.persons[4].household), [3, 4, 5]);
        // Every member is found by their key, through the checks' index and without it;
        // people outside the roster are not.
        let unindexed = {
            let table = liandong_office::import::read_table(
                csv.as_bytes(),
                &ROSTER_REQUIRED,
                Default::default(),
            )
            .expect("table");
            let rows = parse_roster(&table.headers, &table.rows, None, &AtomicUsize::new(0))
                .expect("valid");
            let rows: Vec<RosterRow> = rows.into_iter().collect();
            let r = Roster::from_rows(RosterRows::from(rows));
            r.persons
                .iter()
                .map(|p| r.person(p.key.get()))
                .collect::<Vec<_>>()
        };
        for (p, person) in fast.persons.iter().enumerate() {
            assert_eq!(fast.person(person.key.get()), Some(p as u32));
            assert_eq!(unindexed[p], Some(p as u32));
        }
        let outsiders = (0..50_000_u32)
            .filter_map(|i| {
                let id = IdNumber::from_parts(
                    "411322",
                    birth + chrono::Days::new(u64::from(i / 900)),
                    (i % 900) as u16,
                )
                .expect("id");
                fast.person(id.key().get())
            })
            .count();
        assert_eq!(outsiders, 0);
        assert_eq!(
            fast.members(fast.persons[189].household),
            [189, 190, 191, 194]
        );
        // Errors: a repeated ID and a household split across townships, after two blank lines
        // (which count as rows of the sheet), in the last of the slices the file is read in.
        let second = csv.lines().nth(2).expect("row").to_owned();
        let other = IdNumber::from_parts("411321", birth + chrono::Days::new(4000), 1).expect("id");
        let broken = format!(
            "{csv}\n,,,\n{second}\nH2,西关镇,东村,李五,{},之子,脱贫户,\n",
            other.expose()
        );
        let Err(RosterFileError::Rows(errors)) = read_roster(broken.as_bytes()) else {
            panic!("refused");
        };
        assert_eq!(general(&broken).expect_err("refused"), errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].row, errors[0].column), (16_004, "身份证号"));
        assert_eq!(errors[0].message, "与第 3 行的身份证号相同");
        assert_eq!((errors[1].row, errors[1].column), (16_005, "户编号"));
        assert_eq!(errors[1].message, "同一户的乡镇、村或户类型与第 8 行不一致");
    }

    /// The quick way of reading a member settles only rows the full checks pass, and makes
    /// of them what the full checks make; any other row is left to the full checks.
    #[test]
    fn a_member_read_the_quick_way_is_what_the_checks_make_of_the_row() {
        let headers: Vec<String> = ROSTER_COLUMNS.iter().map(|c| c.0.to_owned()).collect();
        let pos = column_places(&headers);
        let id = "11010519491231002X";
        // The required columns filled, every other one empty.
        let mut usual = [""; ROSTER_COLUMNS.len()];
        usual[..8].copy_from_slice(&["H1", "城关镇", "东村", "", "王五", id, "户主", "脱贫户"]);
        // (column, value) put into the usual row: each either leaves it quick or sends it to
        // the full checks, valid or not.
        let changes: &[(usize, &str)] = &[
            (0, ""),
            (0, "户号一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"),
            (0, "1234567890123456789012345678901234567890"),
            (1, "西关镇"),
            (2, ""),
            (3, "三组"),
            (3, "一二三四五六七八九十一二三四五六七八九十一"),
            (4, "王 五"),
            (4, "王五王五王五王五王五王五王五王五王五王五王五王五王五王五"),
            (5, "11010519491231002x"),
            (5, "110105491231002"),
            (5, "110105194912310021"),
            (5, ""),
            (6, ""),
            (6, "之子"),
            (7, "监测户"),
            (7, "边缘易致贫户"),
            (7, " 脱贫户"),
            (8, "风险消除"),
            (8, "已退出"),
            (9, "2023-05-01"),
            (9, "昨天"),
            (12, "因病"),
            (12, "没钱"),
            (13, "产业帮扶"),
            (15, "138-0000-0000"),
            (15, "12345"),
            (19, "在校"),
        ];
        let mut quick = 0;
        for &(column, value) in [(0, "H1")].iter().chain(changes) {
            let mut cells = usual;
            cells[column] = value;
            let cell = |p: usize| cells.get(p).copied();
            let mut errors = Vec::new();
            let (key, full) = check_row(&pos, 7, cell, None, &mut errors);
            match usual_member(&pos, 7, cell) {
                Some((k, member)) => {
                    quick += 1;
                    assert_eq!(Some(k), key, "{column} {value}");
                    assert_eq!(full.as_ref().map(MemberRow::from), Some(member), "{value}");
                    assert!(errors.is_empty(), "{value}: {errors:?}");
                }
                None => assert!(
                    column != 0 || value != "H1",
                    "the usual row is read the quick way"
                ),
            }
        }
        // The usual row, and the changes that keep it usual: 40 characters of digits, another
        // township, a short group, a name with a space (made tidy later, by both ways alike),
        // another relation, kind or stage, a kind with a space before it, optional text.
        assert_eq!(quick, 11);
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
    fn households_are_numbered_as_a_map_would_number_them() {
        let rows = [
            Some("A"),
            Some("A"),
            Some("B"),
            Some("A"),
            None,
            Some("C"),
            Some("B"),
            Some("B"),
        ];
        let h = Households::number(rows.into_iter());
        assert_eq!(h.of_row, [0, 0, 1, 0, NO_HOUSEHOLD, 2, 1, 1]);
        assert_eq!(h.first, [0, 2, 5]);
        // Many numbers in scattered runs, against a map numbering them in order.
        let nos: Vec<String> = (0..20_000_u64)
            .map(|i| format!("{}", (i * 7919 % 3001) / 3))
            .collect();
        let keep = |i: usize| i % 13 != 5;
        let h = Households::number(
            nos.iter()
                .enumerate()
                .map(|(i, n)| keep(i).then_some(n.as_str())),
        );
        let mut map: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut first = Vec::new();
        for (i, n) in nos.iter().enumerate() {
            let want = if keep(i) {
                let next = map.len() as u32;
                *map.entry(n).or_insert_with(|| {
                    first.push(i as u32);
                    next
                })
            } else {
                NO_HOUSEHOLD
            };
            assert_eq!(h.of_row[i], want, "row {i}");
        }
        assert_eq!(h.first, first);
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
        let rows =
            parse_roster(&data.headers, &data.rows, None, &AtomicUsize::new(0)).expect("valid");
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
        let errors = parse_roster(
            &data.headers,
            &data.rows,
            Some(&known),
            &AtomicUsize::new(0),
        )
        .expect_err("refused");
        let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert_eq!(named, [(3, "户编号"), (4, "乡镇"), (4, "身份证号")]);
        assert!(
            errors[2].message.contains("第 2 行"),
            "{}",
            errors[2].message
        );
    }
}
