//! Reading a delivered data set (.csv or .xlsx, several files and sheets) into typed columns,
//! normalising ID numbers and names on the way and counting every step.
//!
//! A cell that cannot be read as its column's type (a date, an amount) refuses the whole data
//! set, naming file, row and column: nothing is compared on a half-read file. An ID number that
//! cannot be normalised does not refuse it: it is counted by class and the row is kept for the
//! fuzzy fallback.

use std::fmt::Write as _;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::{mpsc, LazyLock, Mutex};

use calamine::{Reader, Xlsx};
use chrono::{Datelike, NaiveDate};
use liandong_domain::id_number::{digit_pairs, IdKey, IdNumberError};
use liandong_office::import::{cell_text, split_line_ranges, uncompressed_size, LineCounter};

use crate::kinds::{Column, DataKind, FieldType};
use crate::mapped::FileBytes;

/// Largest file read, and largest uncompressed .xlsx content.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024 * 1024;
const MAX_UNZIPPED: u64 = 8 * 1024 * 1024 * 1024;
/// How many cell problems a refusal lists; the count says how many there were.
const MAX_LISTED: usize = 200;

/// Why an ID number could not be normalised, as the run report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdFailure {
    Empty,
    /// Turned into a number by a spreadsheet (4.11321E+17, trailing .0): not guessed.
    Mangled,
    WrongLength,
    InvalidCharacter,
    InvalidBirthDate,
    CheckDigit,
}

impl IdFailure {
    pub const ALL: [IdFailure; 6] = [
        IdFailure::Empty,
        IdFailure::Mangled,
        IdFailure::WrongLength,
        IdFailure::InvalidCharacter,
        IdFailure::InvalidBirthDate,
        IdFailure::CheckDigit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IdFailure::Empty => "身份证号为空",
            IdFailure::Mangled => "被表格软件转成数字",
            IdFailure::WrongLength => "位数错误",
            IdFailure::InvalidCharacter => "含非法字符",
            IdFailure::InvalidBirthDate => "出生日期不存在",
            IdFailure::CheckDigit => "校验码错误",
        }
    }

    fn of(e: &IdNumberError) -> IdFailure {
        match e {
            IdNumberError::Empty => IdFailure::Empty,
            IdNumberError::MangledBySpreadsheet => IdFailure::Mangled,
            IdNumberError::WrongLength(_) => IdFailure::WrongLength,
            IdNumberError::InvalidCharacter(_) => IdFailure::InvalidCharacter,
            IdNumberError::InvalidBirthDate(_) => IdFailure::InvalidBirthDate,
            IdNumberError::CheckDigit { .. } => IdFailure::CheckDigit,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A row's ID number after normalisation, packed in eight bytes: the key, whether the file's
/// value needed normalising, or why it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCell(u64);

const FAILED: u64 = 1 << 63;
const NORMALISED: u64 = 1 << 62;

impl IdCell {
    fn ok(key: IdKey, normalised: bool) -> IdCell {
        IdCell(key.get() | if normalised { NORMALISED } else { 0 })
    }

    fn failed(f: IdFailure) -> IdCell {
        IdCell(FAILED | f.index() as u64)
    }

    pub fn key(self) -> Option<IdKey> {
        if self.0 & FAILED != 0 {
            None
        } else {
            IdKey::from_u64(self.0 & !NORMALISED)
        }
    }

    /// The key without re-checking it (it was checked when the cell was made).
    pub fn raw_key(self) -> Option<u64> {
        (self.0 & FAILED == 0).then_some(self.0 & !NORMALISED)
    }

    /// The file's value was not already canonical (spaces, full width, `x`, 15 digits).
    pub fn normalised(self) -> bool {
        self.0 & (FAILED | NORMALISED) == NORMALISED
    }

    pub fn failure(self) -> Option<IdFailure> {
        (self.0 & FAILED != 0).then(|| IdFailure::ALL[(self.0 & 0xff) as usize])
    }
}

/// What normalisation did to a data set, step by step (a row can count in several steps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalisationReport {
    pub rows: u64,
    /// ID numbers usable as given.
    pub ids_as_given: u64,
    pub spaces_removed: u64,
    pub full_width: u64,
    pub lowercase_x: u64,
    pub upgraded_15: u64,
    /// ID numbers that could not be normalised, by [`IdFailure`].
    pub failed: [u64; 6],
    /// Names whose spaces or full-width letters were removed.
    pub names_normalised: u64,
    /// Names written with traditional characters, turned simplified (張偉 → 张伟).
    pub names_simplified: u64,
}

impl NormalisationReport {
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    pub fn failed_of(&self, f: IdFailure) -> u64 {
        self.failed[f.index()]
    }

    fn add(&mut self, o: &NormalisationReport) {
        self.rows += o.rows;
        self.ids_as_given += o.ids_as_given;
        self.spaces_removed += o.spaces_removed;
        self.full_width += o.full_width;
        self.lowercase_x += o.lowercase_x;
        self.upgraded_15 += o.upgraded_15;
        for (a, b) in self.failed.iter_mut().zip(o.failed) {
            *a += b;
        }
        self.names_normalised += o.names_normalised;
        self.names_simplified += o.names_simplified;
    }
}

/// A part's row numbers as the spreadsheet shows them, kept as runs of consecutive numbers:
/// a file's rows follow one another but for blank lines, so ten million rows take a few
/// bytes rather than forty megabytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowNumbers {
    /// (index of a run's first row, that row's number), by index.
    runs: Vec<(u32, u32)>,
    len: u32,
}

impl RowNumbers {
    fn push(&mut self, row: u32) {
        let continues = self
            .runs
            .last()
            .is_some_and(|&(i, r)| r.checked_add(self.len - i) == Some(row));
        if !continues {
            self.runs.push((self.len, row));
        }
        self.len += 1;
    }

    /// The number of the row at `index`.
    pub fn get(&self, index: usize) -> u32 {
        let run = self.runs.partition_point(|&(i, _)| i as usize <= index) - 1;
        let (first, row) = self.runs[run];
        row + (index as u32 - first)
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every row number, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.runs.iter().enumerate().flat_map(|(k, &(first, row))| {
            let end = self.runs.get(k + 1).map_or(self.len, |n| n.0);
            (0..end - first).map(move |d| row + d)
        })
    }

    /// Every number moved on by `lines` (a slice's rows, once the lines before it are known).
    fn shift(&mut self, lines: u32) {
        for run in &mut self.runs {
            run.1 += lines;
        }
    }
}

/// Text cells of a column, in one buffer.
#[derive(Debug, Clone, Default)]
pub struct TextColumn {
    /// UTF-8 text, cell after cell: only text is pushed. Held as bytes so that the plain
    /// reader can push a name it has checked character by character without checking it a
    /// second time; a cell is checked again when read (a few, to show them).
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// More text than 4 GiB in one column: the data set is refused as too large.
    overflow: bool,
}

impl TextColumn {
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        std::str::from_utf8(&self.bytes[start..self.ends[i] as usize]).unwrap_or_default()
    }

    fn push(&mut self, s: &str) {
        self.push_text_bytes(s.as_bytes());
    }

    /// A cell's bytes, which the caller has found to be UTF-8.
    fn push_text_bytes(&mut self, s: &[u8]) {
        match u32::try_from(self.bytes.len() + s.len()) {
            Ok(end) => {
                self.bytes.extend_from_slice(s);
                self.ends.push(end);
            }
            Err(_) => {
                self.overflow = true;
                self.ends.push(self.bytes.len() as u32);
            }
        }
    }
}

/// One column's values, by the template's type. Dates are days from the common era,
/// amounts are in fen (0.01 yuan); an empty optional cell is [`NO_DATE`], [`NO_MONEY`] or
/// [`NO_NUMBER`] (plain numbers rather than `Option`s: half the memory over ten million rows).
#[derive(Debug, Clone)]
pub enum ColumnData {
    /// The ID column (its values are in [`Part::ids`]), or an optional column the file lacks.
    Absent,
    Text(TextColumn),
    Date(Vec<i32>),
    /// Fen as 32 bits (up to 21,474,836.47 yuan a cell): 40 MB less per ten million rows.
    Money(Vec<i32>),
    Int(Vec<i64>),
}

/// An empty date cell.
pub const NO_DATE: i32 = i32::MIN;
/// An empty number cell (no cell reads as this value).
pub const NO_NUMBER: i64 = i64::MIN;
/// An empty amount cell (no cell reads as this value).
pub const NO_MONEY: i32 = i32::MIN;
/// The largest amount a cell may hold, in fen.
pub const MAX_FEN: i64 = i32::MAX as i64;

impl ColumnData {
    /// A date column's day number at `row`.
    pub fn date(&self, row: usize) -> Option<i32> {
        match self {
            ColumnData::Date(v) => Some(v[row]).filter(|&d| d != NO_DATE),
            _ => None,
        }
    }

    /// An amount (in fen) or number column's value at `row`.
    pub fn number(&self, row: usize) -> Option<i64> {
        match self {
            ColumnData::Money(v) => Some(v[row]).filter(|&n| n != NO_MONEY).map(i64::from),
            ColumnData::Int(v) => Some(v[row]).filter(|&n| n != NO_NUMBER),
            _ => None,
        }
    }
}

/// One file, one sheet, or one slice of a large .csv read in parallel.
#[derive(Debug, Clone)]
pub struct Part {
    /// The file (and sheet) the rows came from.
    pub source: std::sync::Arc<str>,
    /// Row numbers as the spreadsheet shows them (header = 1).
    pub row_no: RowNumbers,
    pub ids: Vec<IdCell>,
    /// By template column.
    pub columns: Vec<ColumnData>,
    /// The file's own text of the ID numbers that failed, by row index.
    pub failed_ids: Vec<(u32, String)>,
}

impl Part {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn text(&self, column: usize, row: usize) -> Option<&str> {
        match &self.columns[column] {
            ColumnData::Text(t) => Some(t.get(row)),
            _ => None,
        }
    }

    /// A cell as the user would read it, for the evidence of a clue.
    pub fn display(&self, column: usize, row: usize) -> String {
        match &self.columns[column] {
            ColumnData::Absent => String::new(),
            ColumnData::Text(t) => t.get(row).to_owned(),
            c @ ColumnData::Date(_) => c.date(row).map(format_day).unwrap_or_default(),
            c @ ColumnData::Money(_) => c.number(row).map(format_fen).unwrap_or_default(),
            c @ ColumnData::Int(_) => c.number(row).map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}

/// A day number back to a date.
pub fn day_of(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN)
}

pub fn format_day(days: i32) -> String {
    let mut out = String::with_capacity(10);
    push_day(&mut out, days);
    out
}

/// [`format_day`] written onto `out` (clue evidence shows thousands of dates).
pub fn push_day(out: &mut String, days: i32) {
    let d = day_of(days);
    if !(0..=9999).contains(&d.year()) {
        let _ = write!(out, "{d}");
        return;
    }
    let digits = |n: u32, width: usize, out: &mut String| {
        for k in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10_u32.pow(k as u32) % 10) as u8));
        }
    };
    digits(d.year() as u32, 4, out);
    out.push('-');
    digits(d.month(), 2, out);
    out.push('-');
    digits(d.day(), 2, out);
}

/// Fen as yuan with two decimals and thousands separators: 1,234.50.
pub fn format_fen(fen: i64) -> String {
    let mut out = String::with_capacity(16);
    push_fen(&mut out, fen);
    out
}

/// [`format_fen`] written onto `out`, without building the digits as a string first.
pub fn push_fen(out: &mut String, fen: i64) {
    if fen < 0 {
        out.push('-');
    }
    let f = fen.unsigned_abs();
    // The yuan's digits, last first.
    let mut digits = [0_u8; 20];
    let (mut n, mut len) = (f / 100, 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in (0..len).rev() {
        out.push(char::from(digits[i]));
        if i > 0 && i % 3 == 0 {
            out.push(',');
        }
    }
    out.push('.');
    out.push(char::from(b'0' + (f % 100 / 10) as u8));
    out.push(char::from(b'0' + (f % 10) as u8));
}

/// A delivered data set of one kind.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub kind: DataKind,
    pub parts: Vec<Part>,
    pub report: NormalisationReport,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.parts.iter().map(Part::len).sum()
    }
}

/// A cell that refuses the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub source: String,
    pub row: u32,
    pub column: &'static str,
    pub message: String,
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 第 {} 行“{}”列：{}",
            self.source, self.row, self.column, self.message
        )
    }
}

/// Why a data set was refused. Messages are shown to users as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{0}：文件为空")]
    Empty(String),
    #[error("{0}：无法读取（{1}）")]
    Unreadable(String, String),
    #[error("{0}：文件过大（{1} 字节）")]
    TooLarge(String, usize),
    #[error("{0}：不是有效的 .xlsx 表格，也不是 .csv 文本")]
    NotATable(String),
    #[error("{0}：解压后过大，疑似异常文件")]
    Unzipped(String),
    #[error("{file}：缺少必需的列：{missing}（表头须在第 1 行）")]
    MissingColumns { file: String, missing: String },
    #[error("{0} 第 {1} 行无法读取：{2}")]
    BadCsv(String, u32, String),
    #[error("{0}：表格中没有数据行")]
    NoRows(String),
    #[error("{file}：工作表“{sheet}”缺少必需的列：{missing}（表头须在第 1 行；说明等其他工作表不能带有数据表头）")]
    SheetMissingColumns {
        file: String,
        sheet: String,
        missing: String,
    },
    #[error("共 {total} 处错误，整批数据未采用：\n{}", .listed.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    BadCells {
        listed: Vec<CellError>,
        total: usize,
    },
}

/// Reads the files of one data set. `files` are (name shown in reports, content).
pub fn load(kind: DataKind, files: &[(String, Vec<u8>)]) -> Result<Dataset, LoadError> {
    let mut loaded = Vec::new();
    for (name, bytes) in files {
        loaded.extend(load_one(kind, name, bytes)?);
    }
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assemble(kind, loaded, &names, files.iter().map(|f| f.1.len()).sum())
}

/// Reads the files of one data set from disk: (name shown in reports, path). A plain .csv is
/// read in blocks that are checked on every core as they arrive, so the file is never whole
/// in memory; anything else (an .xlsx, quoted cells, GBK text) is read whole, as [`load`] does.
pub fn load_paths(kind: DataKind, files: &[(String, PathBuf)]) -> Result<Dataset, LoadError> {
    let mut loaded = Vec::new();
    let mut size = 0;
    for (name, path) in files {
        let unreadable = |e: std::io::Error| LoadError::Unreadable(name.clone(), e.to_string());
        // A pipe is read to its end as it is, once: it has no length and cannot be opened
        // again for what it held.
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        if !crate::mapped::is_regular(&file).map_err(unreadable)? {
            let mut bytes = Vec::new();
            (&mut file)
                .take(MAX_FILE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            size += bytes.len();
            loaded.extend(load_one(kind, name, &bytes)?);
            continue;
        }
        size += file.metadata().map_err(unreadable)?.len() as usize;
        match stream_csv(kind, name, file, BLOCK)? {
            Some(parts) => loaded.extend(parts),
            None => loaded.extend(load_one(
                kind,
                name,
                &std::fs::read(path).map_err(unreadable)?,
            )?),
        }
    }
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assemble(kind, loaded, &names, size)
}

fn load_one(kind: DataKind, name: &str, bytes: &[u8]) -> Result<Vec<Loaded>, LoadError> {
    if bytes.starts_with(b"PK\x03\x04") {
        load_xlsx(kind, name, bytes)
    } else {
        load_csv(kind, name, bytes)
    }
}

/// The parts of every file as one data set, or why it is refused.
fn assemble(
    kind: DataKind,
    loaded: Vec<Loaded>,
    names: &[&str],
    size: usize,
) -> Result<Dataset, LoadError> {
    let mut parts = Vec::new();
    let mut report = NormalisationReport::default();
    let mut errors = Vec::new();
    let mut total_errors = 0;
    {
        for b in loaded {
            total_errors += b.errors_total;
            errors.extend(b.errors);
            report.add(&b.report);
            parts.push(b.part);
        }
    }
    let overflow = parts.iter().find(|p| {
        p.columns
            .iter()
            .any(|c| matches!(c, ColumnData::Text(t) if t.overflow))
    });
    if let Some(p) = overflow {
        return Err(LoadError::TooLarge(p.source.to_string(), size));
    }
    if report.rows == 0 {
        return Err(LoadError::NoRows(names.join("、")));
    }
    if total_errors > 0 {
        // By file and row, then in the template's column order (the plain reader meets cells
        // in the file's order; every reader lists them alike).
        let place = |e: &CellError| kind.columns().iter().position(|c| c.header == e.column);
        errors.sort_by(|a, b| (&a.source, a.row, place(a)).cmp(&(&b.source, b.row, place(b))));
        errors.truncate(MAX_LISTED);
        return Err(LoadError::BadCells {
            listed: errors,
            total: total_errors,
        });
    }
    Ok(Dataset {
        kind,
        parts,
        report,
    })
}

/// Template columns found among a file's headers: for each file column, its template slot.
fn map_headers(
    kind: DataKind,
    source: &str,
    headers: &[String],
) -> Result<Vec<Option<usize>>, LoadError> {
    let cols = kind.columns();
    let missing: Vec<&str> = cols
        .iter()
        .filter(|c| c.required && !headers.iter().any(|h| h == c.header))
        .map(|c| c.header)
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::MissingColumns {
            file: source.to_owned(),
            missing: missing.join("、"),
        });
    }
    let mut taken = vec![false; cols.len()];
    Ok(headers
        .iter()
        .map(|h| {
            let slot = cols.iter().position(|c| c.header == h)?;
            // A repeated header: the first one counts.
            (!std::mem::replace(&mut taken[slot], true)).then_some(slot)
        })
        .collect())
}

/// Builds one [`Part`] row by row.
struct PartBuilder {
    kind: DataKind,
    part: Part,
    report: NormalisationReport,
    sink: ErrorSink,
    /// The template column holding names, normalised as they are read.
    name_slot: Option<usize>,
    /// The template column holding ID numbers.
    id_slot: usize,
    name_buf: String,
    /// [`TRADITIONAL`], looked up once.
    traditional: &'static [u64],
}

/// What the plain reader does with the cells of one of a file's columns, decided once per
/// file: the template column they go to (by its slot), read by the usual form of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellWork {
    Id(usize),
    Day(usize),
    Amount(usize),
    Name(usize),
    /// Read by the general way only.
    Other(usize),
    /// Not a template column: passed over.
    Skip,
}

impl CellWork {
    fn slot(self) -> Option<usize> {
        match self {
            CellWork::Id(s)
            | CellWork::Day(s)
            | CellWork::Amount(s)
            | CellWork::Name(s)
            | CellWork::Other(s) => Some(s),
            CellWork::Skip => None,
        }
    }
}

/// The cell problems of one part: the first [`MAX_LISTED`] and how many in all.
struct ErrorSink {
    source: String,
    errors: Vec<CellError>,
    total: usize,
}

impl PartBuilder {
    fn new(kind: DataKind, source: &str, present: &[bool]) -> PartBuilder {
        let columns = kind
            .columns()
            .iter()
            .zip(present)
            .map(|(c, &p)| match (c.ty, p) {
                (FieldType::Id, _) | (_, false) => ColumnData::Absent,
                (FieldType::Text, true) => ColumnData::Text(TextColumn::default()),
                (FieldType::Date, true) => ColumnData::Date(Vec::new()),
                (FieldType::Money, true) => ColumnData::Money(Vec::new()),
                (FieldType::Int, true) => ColumnData::Int(Vec::new()),
            })
            .collect();
        PartBuilder {
            kind,
            part: Part {
                source: source.into(),
                row_no: RowNumbers::default(),
                ids: Vec::new(),
                columns,
                failed_ids: Vec::new(),
            },
            report: NormalisationReport::default(),
            name_slot: kind.column("name").map(|(i, _)| i),
            id_slot: kind
                .columns()
                .iter()
                .position(|c| c.ty == FieldType::Id)
                .unwrap_or(usize::MAX),
            name_buf: String::new(),
            traditional: traditional_table(),
            sink: ErrorSink {
                source: source.to_owned(),
                errors: Vec::new(),
                total: 0,
            },
        }
    }

    /// One row: `cell(slot)` is the text of a template column (empty when absent).
    fn push<'a>(&mut self, row_no: u32, cell: impl Fn(usize) -> &'a str) {
        self.report.rows += 1;
        self.part.row_no.push(row_no);
        for slot in 0..self.kind.columns().len() {
            self.push_cell(row_no, slot, cell(slot));
        }
    }

    /// Starts a row of a plain .csv, whose cells then come one by one through
    /// [`PartBuilder::push_cell_bytes`] (every template column the file has, once).
    fn begin_row(&mut self, row_no: u32) {
        self.report.rows += 1;
        self.part.row_no.push(row_no);
    }

    /// A cell of a plain .csv as the file's bytes. The usual forms of an ID number, a name,
    /// a date and an amount are read straight from the bytes; anything else goes the way of
    /// [`PartBuilder::push`]. `None` when a cell that must be read as text is not UTF-8 (the
    /// file is then read again as GBK).
    #[inline]
    fn push_cell_bytes(&mut self, row_no: u32, slot: usize, raw: &[u8]) -> Option<()> {
        let fast = match &mut self.part.columns[slot] {
            ColumnData::Date(v) => fast_day(raw).map(|d| v.push(d)),
            ColumnData::Money(v) => fast_fen(raw)
                .and_then(|f| i32::try_from(f).ok())
                .map(|f| v.push(f)),
            ColumnData::Text(t) if Some(slot) == self.name_slot && name_bytes_clean(raw) => {
                t.push(std::str::from_utf8(raw).ok()?);
                Some(())
            }
            _ if slot == self.id_slot => fast_id(raw).map(|c| {
                self.report.ids_as_given += 1;
                self.part.ids.push(c);
            }),
            _ => None,
        };
        if fast.is_none() {
            self.push_cell(row_no, slot, std::str::from_utf8(raw).ok()?);
        }
        Some(())
    }

    /// What the plain reader does with cells of the template column `slot`.
    fn work_of(&self, slot: usize) -> CellWork {
        match &self.part.columns[slot] {
            _ if slot == self.id_slot => CellWork::Id(slot),
            ColumnData::Date(_) => CellWork::Day(slot),
            ColumnData::Money(_) => CellWork::Amount(slot),
            ColumnData::Text(_) if Some(slot) == self.name_slot => CellWork::Name(slot),
            _ => CellWork::Other(slot),
        }
    }

    /// The cell of a plain .csv starting at `pos`, read and pushed when it has the usual
    /// form of its column (an ID number in canonical form, a date written `2024-03-05`, an
    /// amount of plain digits, a name of common Chinese characters), found where it ends
    /// while it is read: where that is (a separator or the slice's end), or `None` with
    /// nothing pushed.
    #[inline]
    fn push_usual(&mut self, work: CellWork, chunk: &[u8], pos: usize) -> Option<usize> {
        let ends_cell = |end: usize| matches!(chunk.get(end), None | Some(b',' | b'\n'));
        match work {
            CellWork::Id(_) => {
                let end = pos + 18;
                if !ends_cell(end) {
                    return None;
                }
                self.part.ids.push(fast_id(chunk.get(pos..end)?)?);
                self.report.ids_as_given += 1;
                Some(end)
            }
            CellWork::Day(slot) => {
                let end = pos + 10;
                let ColumnData::Date(v) = &mut self.part.columns[slot] else {
                    return None;
                };
                if !ends_cell(end) {
                    return None;
                }
                v.push(fast_day(chunk.get(pos..end)?)?);
                Some(end)
            }
            CellWork::Amount(slot) => {
                let ColumnData::Money(v) = &mut self.part.columns[slot] else {
                    return None;
                };
                let (fen, end) = fen_at(chunk, pos)?;
                v.push(i32::try_from(fen).ok()?);
                Some(end)
            }
            CellWork::Name(slot) => {
                let ColumnData::Text(t) = &mut self.part.columns[slot] else {
                    return None;
                };
                let end = clean_name_end(chunk, pos, self.traditional)?;
                t.push_text_bytes(&chunk[pos..end]);
                Some(end)
            }
            CellWork::Other(_) | CellWork::Skip => None,
        }
    }

    fn push_cell(&mut self, row_no: u32, slot: usize, raw: &str) {
        let col = &self.kind.columns()[slot];
        match (&mut self.part.columns[slot], col.ty) {
            (_, FieldType::Id) => {
                let index = self.part.ids.len() as u32;
                let id = match IdKey::normalize(raw.as_bytes()) {
                    Ok((key, steps)) => {
                        let r = &mut self.report;
                        if steps.changed() {
                            r.spaces_removed += u64::from(steps.removed_spaces);
                            r.full_width += u64::from(steps.full_width);
                            r.lowercase_x += u64::from(steps.lowercase_x);
                            r.upgraded_15 += u64::from(steps.upgraded_15);
                        } else {
                            r.ids_as_given += 1;
                        }
                        IdCell::ok(key, steps.changed())
                    }
                    Err(e) => {
                        let f = IdFailure::of(&e);
                        self.report.failed[f.index()] += 1;
                        self.part.failed_ids.push((index, raw.trim().to_owned()));
                        IdCell::failed(f)
                    }
                };
                self.part.ids.push(id);
            }
            (ColumnData::Absent, _) => {}
            (ColumnData::Text(t), _) => {
                if Some(slot) != self.name_slot {
                    t.push(raw.trim());
                } else if name_is_clean(raw) {
                    t.push(raw);
                } else {
                    let steps = normalise_name(raw, &mut self.name_buf);
                    self.report.names_normalised += u64::from(steps.tidied);
                    self.report.names_simplified += u64::from(steps.simplified);
                    t.push(&self.name_buf);
                }
            }
            (ColumnData::Date(v), _) => {
                let parsed = parse_date(raw);
                let value =
                    self.sink
                        .check(row_no, col, raw, parsed, "不是日期（写作 2024-03-05）");
                v.push(value.map_or(NO_DATE, |d| d.num_days_from_ce()));
            }
            (ColumnData::Money(v), _) => {
                let parsed = parse_fen(raw);
                let too_large = parsed.is_some_and(|f| !(-MAX_FEN..=MAX_FEN).contains(&f));
                let value = if too_large {
                    self.sink.check(
                        row_no,
                        col,
                        raw,
                        None::<i64>,
                        "超出金额范围（每格最多 21,474,836.47 元）",
                    )
                } else {
                    self.sink.check(
                        row_no,
                        col,
                        raw,
                        parsed,
                        "不是金额（以元为单位，最多两位小数）",
                    )
                };
                v.push(value.map_or(NO_MONEY, |f| f as i32));
            }
            (ColumnData::Int(v), _) => {
                let parsed = raw.trim().parse::<i64>().ok().filter(|&n| n != NO_NUMBER);
                let value = self.sink.check(row_no, col, raw, parsed, "不是整数");
                v.push(value.unwrap_or(NO_NUMBER));
            }
        }
    }

    /// Room for about `rows` more rows, so that columns do not grow step by step.
    fn reserve(&mut self, rows: usize) {
        self.part.ids.reserve(rows);
        for c in &mut self.part.columns {
            match c {
                ColumnData::Absent => {}
                ColumnData::Text(t) => {
                    t.ends.reserve(rows);
                    t.bytes.reserve(rows * 9);
                }
                ColumnData::Date(v) => v.reserve(rows),
                ColumnData::Money(v) => v.reserve(rows),
                ColumnData::Int(v) => v.reserve(rows),
            }
        }
    }
}

/// An ID number the file gives in canonical form (18 characters, an upper-case `X`).
fn fast_id(raw: &[u8]) -> Option<IdCell> {
    IdKey::canonical_key(raw).map(|key| IdCell::ok(key, false))
}

/// A date written `2024-03-05` with a plausible year, as its day number (what
/// [`parse_date`] gives, without a calendar library: ten million cells a run).
fn fast_day(raw: &[u8]) -> Option<i32> {
    let b: &[u8; 10] = raw.try_into().ok()?;
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // The eight digits side by side, read in pairs: century, year, month, day.
    let [c, y, m, d] = digit_pairs([b[0], b[1], b[2], b[3], b[5], b[6], b[8], b[9]])?;
    let year = c * 100 + y;
    if !(FIRST_YEAR..FIRST_YEAR + YEARS).contains(&year) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let (before, days) = MONTHS[((year - FIRST_YEAR) * 12 + m - 1) as usize];
    (d <= days).then_some(before + d as i32)
}

/// The years [`fast_day`] reads: 1900 to 2200.
const FIRST_YEAR: u32 = 1900;
const YEARS: u32 = 301;

/// Each month of those years: the day number of the day before its first, and its length.
static MONTHS: [(i32, u32); (YEARS * 12) as usize] = months();

const fn months() -> [(i32, u32); (YEARS * 12) as usize] {
    const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut out = [(0, 0); (YEARS * 12) as usize];
    // Days of the years before the first (the Gregorian rule throughout).
    let p = FIRST_YEAR - 1;
    let mut before = (p * 365 + p / 4 - p / 100 + p / 400) as i32;
    let mut i = 0;
    while i < out.len() {
        let year = FIRST_YEAR + (i / 12) as u32;
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = DAYS[i % 12] + (leap && i % 12 == 1) as u32;
        out[i] = (before, days);
        before += days as i32;
        i += 1;
    }
    out
}

/// An amount written as plain digits with up to two decimals (`1234`, `1234.5`, `1234.56`),
/// in fen; anything else (signs, thousands separators, spaces) is left to [`parse_fen`].
fn fast_fen(raw: &[u8]) -> Option<i64> {
    // Cells are a few bytes long: a plain search beats a vector one.
    let (int, frac) = match raw.iter().position(|&c| c == b'.') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, &[][..]),
    };
    if int.is_empty()
        || int.len() > 13
        || frac.len() > 2
        || (frac.is_empty() && int.len() < raw.len())
    {
        return None;
    }
    let mut yuan = 0_i64;
    for &c in int {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        yuan = yuan * 10 + i64::from(d);
    }
    let mut fen = 0_i64;
    for (i, &c) in frac.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        fen += i64::from(d) * if i == 0 { 10 } else { 1 };
    }
    Some(yuan * 100 + fen)
}

/// [`fast_fen`] of the cell starting at `pos`, read while its end is looked for: the amount
/// and where the cell ends (a separator or the slice's end), or `None` when it is not plain
/// digits with up to two decimals.
#[inline]
fn fen_at(chunk: &[u8], pos: usize) -> Option<(i64, usize)> {
    let digit = |i: usize| {
        chunk
            .get(i)
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
    };
    let mut i = pos;
    let mut yuan = 0_i64;
    while let Some(d) = digit(i) {
        if i - pos == 13 {
            return None;
        }
        yuan = yuan * 10 + i64::from(d);
        i += 1;
    }
    if i == pos {
        return None;
    }
    let mut fen = 0_i64;
    if chunk.get(i) == Some(&b'.') {
        let tenths = digit(i + 1)?;
        fen = i64::from(tenths) * 10;
        i += 2;
        if let Some(d) = digit(i) {
            fen += i64::from(d);
            i += 1;
        }
    }
    matches!(chunk.get(i), None | Some(b',' | b'\n')).then_some((yuan * 100 + fen, i))
}

/// Where a name starting at `pos` ends (a separator or the slice's end) when it is one
/// [`name_bytes_clean`] passes by its fast way, made only of characters of U+4000..U+9FFF
/// none of which is a traditional one; `None` otherwise, and for an empty cell. The
/// characters are checked to be whole UTF-8 as they are read.
#[inline]
fn clean_name_end(chunk: &[u8], pos: usize, traditional: &[u64]) -> Option<usize> {
    let mut i = pos;
    while let Some(&[lead @ 0xE4..=0xE9, b1 @ 0x80..=0xBF, b2 @ 0x80..=0xBF]) = chunk.get(i..i + 3)
    {
        let c = (u32::from(lead & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
        if listed(traditional, c) {
            return None;
        }
        i += 3;
    }
    (i > pos && matches!(chunk.get(i), None | Some(b',' | b'\n'))).then_some(i)
}

/// A name with nothing to normalise: no white space, no full-width letters, no dot variants
/// (judged by bytes: the lead bytes of every such character, so common Chinese names pass).
pub(crate) fn name_is_clean(raw: &str) -> bool {
    name_bytes_clean(raw.as_bytes())
}

/// [`name_is_clean`] on a cell's bytes, before they are known to be UTF-8: no space, dot,
/// full-width form or traditional character. Bytes that are not UTF-8 may pass; the caller
/// checks them next.
fn name_bytes_clean(raw: &[u8]) -> bool {
    let traditional = traditional_table();
    let traditional_at = |lead: u8, b1: u8, b2: u8| {
        let c = (u32::from(lead & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
        listed(traditional, c)
    };
    // Ten million names a run, nearly all of them characters of U+4000..U+9FFF (lead bytes E4
    // to E9), where most Chinese characters are: read three bytes at a time.
    if raw.len().is_multiple_of(3) && raw.chunks_exact(3).all(|c| (0xE4..=0xE9).contains(&c[0])) {
        return !raw
            .chunks_exact(3)
            .any(|c| traditional_at(c[0], c[1], c[2]));
    }
    // Anything else: no space, dot or full-width form, and no traditional character.
    if !raw
        .iter()
        .all(|&b| b > b' ' && b != b'.' && !matches!(b, 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF))
    {
        return false;
    }
    let mut rest = raw;
    while let [b0, b1, b2, tail @ ..] = rest {
        if (0xE4..=0xE9).contains(b0) {
            if traditional_at(*b0, *b1, *b2) {
                return false;
            }
            rest = tail;
        } else {
            rest = &rest[1..];
        }
    }
    true
}

/// The first and one past the last code point of [`TRADITIONAL`]: the characters written
/// with three bytes from the CJK extension A on, where every character with a simplified
/// form lies.
const HAN_FIRST: u32 = 0x3000;
const HAN_END: u32 = 0x1_0000;

/// One bit per character of `HAN_FIRST..HAN_END`: set when the character has a simplified
/// form. Found once by asking the converter about each character alone (a few
/// milliseconds), so that a name is judged without building a string.
static TRADITIONAL: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut bits = vec![0_u64; ((HAN_END - HAN_FIRST) / 64) as usize];
    let mut buf = [0_u8; 4];
    for c in (HAN_FIRST..HAN_END).filter_map(char::from_u32) {
        let alone: &str = c.encode_utf8(&mut buf);
        if fast2s::convert(alone) != alone {
            let i = (u32::from(c) - HAN_FIRST) as usize;
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
});

/// [`TRADITIONAL`], built on first use.
#[inline]
fn traditional_table() -> &'static [u64] {
    LazyLock::force(&TRADITIONAL).as_slice()
}

/// Whether `c`, a code point of `HAN_FIRST..HAN_END`, has its bit set in `table`.
#[inline]
fn listed(table: &[u64], c: u32) -> bool {
    let i = (c - HAN_FIRST) as usize;
    table[i / 64] & (1 << (i % 64)) != 0
}

/// Whether the character with code point `c` is a traditional one with a simplified form.
#[inline]
fn is_traditional(c: u32) -> bool {
    (HAN_FIRST..HAN_END).contains(&c) && listed(traditional_table(), c)
}

impl ErrorSink {
    /// The parsed value, or `None` for an empty optional cell; otherwise records the error.
    fn check<T>(
        &mut self,
        row_no: u32,
        col: &Column,
        raw: &str,
        parsed: Option<T>,
        what: &str,
    ) -> Option<T> {
        let raw = raw.trim();
        if raw.is_empty() {
            if col.required {
                self.error(row_no, col, "不能为空".to_owned());
            }
            return None;
        }
        if parsed.is_none() {
            self.error(row_no, col, format!("“{raw}”{what}"));
        }
        parsed
    }

    fn error(&mut self, row: u32, col: &Column, message: String) {
        self.total += 1;
        // A row's problems are kept together past the limit: the list is cut after it is
        // sorted by template column, so that every reader lists the same cells.
        if self.errors.len() < MAX_LISTED || self.errors.last().is_some_and(|e| e.row == row) {
            self.errors.push(CellError {
                source: self.source.clone(),
                row,
                column: col.header,
                message,
            });
        }
    }
}

/// What [`normalise_name`] changed in a name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameSteps {
    /// Spaces removed, full-width letters and digits or a middle dot look-alike replaced.
    pub tidied: bool,
    /// Traditional characters turned simplified.
    pub simplified: bool,
}

impl NameSteps {
    pub fn changed(self) -> bool {
        self.tidied || self.simplified
    }
}

/// Removes spaces, turns full-width letters and digits into ASCII and traditional characters
/// into simplified ones. Names are compared so: 王 小明 and 王小明 are one name, and so are
/// 張偉 and 张伟.
pub fn normalise_name(raw: &str, out: &mut String) -> NameSteps {
    let tidied = tidy_name(raw, out);
    // The whole name is converted, not each character, so that the converter's rules that
    // look at the neighbouring character apply.
    let simplified = out.chars().any(|c| is_traditional(u32::from(c))) && {
        let converted = fast2s::convert(out);
        let changed = converted != *out;
        *out = converted;
        changed
    };
    NameSteps { tidied, simplified }
}

/// The spaces and full-width forms of [`normalise_name`]; true if it changed anything.
fn tidy_name(raw: &str, out: &mut String) -> bool {
    out.clear();
    let mut changed = false;
    let trimmed = raw.trim();
    changed |= trimmed.len() != raw.len();
    for c in trimmed.chars() {
        match c {
            c if c.is_whitespace() => changed = true,
            // The middle dot of minority names has several look-alikes.
            '\u{00B7}' | '\u{30FB}' | '\u{2022}' | '\u{FF65}' | '\u{FF0E}' | '.' => {
                changed |= c != '\u{00B7}';
                out.push('\u{00B7}');
            }
            '\u{FF01}'..='\u{FF5E}' => {
                changed = true;
                out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c));
            }
            c => out.push(c),
        }
    }
    changed
}

/// `2024-03-05`, `2024/3/5`, `2024.3.5`, `20240305`, optionally followed by a time.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let n = |r: std::ops::Range<usize>| {
            b[r].iter().try_fold(0_u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        if let (Some(y), Some(m), Some(d)) = (n(0..4), n(5..7), n(8..10)) {
            return (1900..=2200)
                .contains(&y)
                .then(|| NaiveDate::from_ymd_opt(y as i32, m, d))
                .flatten();
        }
    }
    let s = raw.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = s.parse().ok()?;
        let y = (n / 10_000) as i32;
        return (1900..=2200)
            .contains(&y)
            .then(|| NaiveDate::from_ymd_opt(y, n / 100 % 100, n % 100))
            .flatten();
    }
    let mut it = s.split(['-', '/', '.']);
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1900..=2200).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// An amount in yuan to fen: `1234`, `1234.5`, `-12.30`, `1,234.56`; a value an .xlsx holds
/// as a binary fraction (`1234.5600000000002`) is taken at its nearest fen.
pub fn parse_fen(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Thousands separators only between groups of three, the first of one to three digits.
    let mut groups = int.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 && int.contains(',') {
        return None;
    }
    let mut yuan: i64 = 0;
    for (i, g) in std::iter::once(first).chain(groups).enumerate() {
        if (i > 0 && g.len() != 3) || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        for b in g.bytes() {
            yuan = yuan.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        }
    }
    let fen = if frac.len() <= 2 {
        let mut fen = yuan.checked_mul(100)?;
        for (i, b) in frac.bytes().enumerate() {
            fen = fen.checked_add(i64::from(b - b'0') * if i == 0 { 10 } else { 1 })?;
        }
        fen
    } else {
        // More than two decimals: only a float's rounding noise is accepted.
        let v: f64 = format!("{yuan}.{frac}").parse().ok()?;
        let fen = (v * 100.0).round();
        if (v * 100.0 - fen).abs() > 1e-6 || fen > 9e15 {
            return None;
        }
        fen as i64
    };
    Some(if neg { -fen } else { fen })
}

struct Loaded {
    part: Part,
    report: NormalisationReport,
    errors: Vec<CellError>,
    errors_total: usize,
}

impl From<PartBuilder> for Loaded {
    fn from(b: PartBuilder) -> Loaded {
        Loaded {
            part: b.part,
            report: b.report,
            errors: b.sink.errors,
            errors_total: b.sink.total,
        }
    }
}

fn load_xlsx(kind: DataKind, name: &str, bytes: &[u8]) -> Result<Vec<Loaded>, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge(name.to_owned(), bytes.len()));
    }
    let unzipped = uncompressed_size(Cursor::new(bytes), MAX_UNZIPPED)
        .map_err(|_| LoadError::NotATable(name.to_owned()))?;
    if unzipped > MAX_UNZIPPED {
        return Err(LoadError::Unzipped(name.to_owned()));
    }
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|_| LoadError::NotATable(name.to_owned()))?;
    let mut out = Vec::new();
    let mut first_missing = None;
    for sheet in book.sheet_names() {
        let range = book
            .worksheet_range(&sheet)
            .map_err(|_| LoadError::NotATable(name.to_owned()))?;
        let (first_row, _) = range.start().unwrap_or((0, 0));
        let mut rows = range.rows();
        let headers: Vec<String> = rows
            .next()
            .map(|r| r.iter().map(cell_text).collect())
            .unwrap_or_default();
        let source = format!("{name}（工作表“{sheet}”）");
        let slots = match map_headers(kind, &source, &headers) {
            Ok(s) => s,
            // A sheet with none of the headers (notes, totals) is not data; one with some of
            // them is data that cannot be read, and is not skipped.
            Err(e) => {
                let required = kind.required_headers();
                let some = headers.iter().any(|h| required.contains(&h.as_str()));
                if let (true, LoadError::MissingColumns { missing, .. }) = (some, &e) {
                    return Err(LoadError::SheetMissingColumns {
                        file: name.to_owned(),
                        sheet: sheet.clone(),
                        missing: missing.clone(),
                    });
                }
                first_missing.get_or_insert(LoadError::MissingColumns {
                    file: name.to_owned(),
                    missing: required.join("、"),
                });
                continue;
            }
        };
        let mut by_slot = vec![None; kind.columns().len()];
        for (i, s) in slots.iter().enumerate() {
            if let Some(s) = s {
                by_slot[*s] = Some(i);
            }
        }
        let present: Vec<bool> = by_slot.iter().map(Option::is_some).collect();
        let mut b = PartBuilder::new(kind, &source, &present);
        let mut cells: Vec<String> = Vec::new();
        for (i, r) in rows.enumerate() {
            cells.clear();
            cells.extend(r.iter().map(cell_text));
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let row_no = (first_row as usize + i + 2) as u32;
            b.push(row_no, |slot| {
                by_slot[slot]
                    .and_then(|c| cells.get(c))
                    .map_or("", String::as_str)
            });
        }
        out.push(b.into());
    }
    match (out.is_empty(), first_missing) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(LoadError::Empty(name.to_owned())),
        _ => Ok(out),
    }
}

fn load_csv(kind: DataKind, name: &str, bytes: &[u8]) -> Result<Vec<Loaded>, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge(name.to_owned(), bytes.len()));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(LoadError::Empty(name.to_owned()));
    }
    let quoted = memchr::memchr(b'"', body).is_some();
    if !quoted {
        if let Some(loaded) = load_plain_csv(kind, name, body)? {
            return Ok(loaded);
        }
    }
    // National systems export UTF-8 or GBK; a file that is not UTF-8 is read as GBK.
    let decoded;
    let text: &str = match liandong_office::import::utf8(body) {
        Some(s) => s,
        None => {
            decoded = encoding_rs::GBK.decode_without_bom_handling(body).0;
            &decoded
        }
    };
    if quoted {
        return load_quoted_csv(kind, name, text).map(|b| vec![b.into()]);
    }
    load_plain_csv(kind, name, text.as_bytes())?
        .ok_or_else(|| LoadError::NotATable(name.to_owned()))
}

/// A .csv without quotes, cut in slices at line ends and read on every core; `None` when it
/// is not UTF-8 (each slice is checked on its own, in parallel).
/// The header of a plain .csv: where each file column goes, which template columns are
/// there, the lines up to and including the header, and where the rows start.
struct PlainHeader {
    slots: Vec<Option<usize>>,
    present: Vec<bool>,
    lines: u32,
    body_start: usize,
}

/// `None` when the header line is not UTF-8 (or not within `body`, when `whole` is false).
fn plain_header(
    kind: DataKind,
    name: &str,
    body: &[u8],
    whole: bool,
) -> Result<Option<PlainHeader>, LoadError> {
    // Blank lines before the header are skipped, as the general reader does, but counted.
    let blank = body
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let skipped = body[..blank].iter().filter(|&&b| b == b'\n').count() as u32;
    let rest = &body[blank..];
    let header_end = match memchr::memchr(b'\n', rest) {
        Some(i) => i,
        None if whole => rest.len(),
        None => return Ok(None),
    };
    let Ok(header) = std::str::from_utf8(&rest[..header_end]) else {
        return Ok(None);
    };
    let headers: Vec<String> = header
        .trim_end_matches('\r')
        .split(',')
        .map(|h| h.trim().to_owned())
        .collect();
    let slots = map_headers(kind, name, &headers)?;
    let present = present_of(kind, &slots);
    Ok(Some(PlainHeader {
        slots,
        present,
        lines: 1 + skipped,
        body_start: (blank + header_end + 1).min(body.len()),
    }))
}

/// Each slice's rows renumbered as the file shows them (the slices in file order).
fn number_rows(built: Vec<(PartBuilder, u32)>, lines_before: u32) -> Vec<Loaded> {
    let mut lines_before = lines_before;
    let mut out = Vec::with_capacity(built.len());
    for (mut b, lines) in built {
        b.part.row_no.shift(lines_before);
        for e in &mut b.sink.errors {
            e.row += lines_before;
        }
        lines_before += lines;
        out.push(Loaded::from(b));
    }
    out
}

/// Blocks a streamed .csv is read in.
const BLOCK: usize = 8 << 20;

/// A plain .csv, an open regular file, mapped block by block, each block checked on a free
/// core while the next is mapped. `None` when the file is not one (an .xlsx, quotes, not
/// UTF-8, a line longer than a block): the caller reads it whole.
fn stream_csv(
    kind: DataKind,
    name: &str,
    mut file: std::fs::File,
    block_size: usize,
) -> Result<Option<Vec<Loaded>>, LoadError> {
    let unreadable = |e: std::io::Error| LoadError::Unreadable(name.to_owned(), e.to_string());
    let size = file.metadata().map_err(unreadable)?.len() as usize;
    if size > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge(name.to_owned(), size));
    }
    let mut first = Vec::with_capacity(block_size);
    (&mut file)
        .take(block_size as u64)
        .read_to_end(&mut first)
        .map_err(unreadable)?;
    let body = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&first);
    if first.starts_with(b"PK\x03\x04")
        || body.iter().all(u8::is_ascii_whitespace)
        || memchr::memchr(b'"', body).is_some()
    {
        return Ok(None);
    }
    let Some(header) = plain_header(kind, name, body, first.len() < block_size)? else {
        return Ok(None);
    };
    // Where the rows begin in the file; they are read from there in place.
    let mut pos = (first.len() - body.len() + header.body_start) as u64;
    drop(first);
    let size = size as u64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (slots, present) = (&header.slots, &header.present);
    // Blocks of whole lines go to the cores through one queue (at most a block per core
    // waiting), each mapped from the file while the one before is checked and let go of once
    // it is: the file is neither copied nor whole in memory.
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, FileBytes, usize)>(threads);
    let work_rx = Mutex::new(work_rx);
    type Done = (usize, Option<(PartBuilder, u32)>);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let built = std::thread::scope(|s| -> Result<Option<Vec<(PartBuilder, u32)>>, LoadError> {
        for _ in 0..threads {
            let (done_tx, work_rx) = (done_tx.clone(), &work_rx);
            s.spawn(move || loop {
                let job = work_rx.lock().ok().and_then(|r| r.recv().ok());
                let Some((seq, block, cut)) = job else { break };
                let block = &block[..cut];
                let part = if memchr::memchr(b'"', block).is_some() {
                    None
                } else {
                    read_plain_chunk(kind, name, block, slots, present)
                };
                if done_tx.send((seq, part)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut fallback = false;
        let mut seq = 0;
        while pos < size {
            let len = (size - pos).min(block_size as u64) as usize;
            let block = FileBytes::range(&file, pos, len).map_err(unreadable)?;
            let eof = pos + len as u64 == size;
            let cut = if eof {
                len
            } else {
                match memchr::memrchr(b'\n', &block) {
                    Some(i) => i + 1,
                    None => {
                        fallback = true;
                        break;
                    }
                }
            };
            if work_tx.send((seq, block, cut)).is_err() {
                break;
            }
            seq += 1;
            pos += cut as u64;
        }
        drop(work_tx);
        let mut done: Vec<Done> = done_rx.iter().collect();
        if fallback || done.len() != seq {
            return Ok(None);
        }
        done.sort_by_key(|d| d.0);
        Ok(done.into_iter().map(|d| d.1).collect())
    })?;
    Ok(built.map(|b| number_rows(b, header.lines)))
}

fn load_plain_csv(
    kind: DataKind,
    name: &str,
    body: &[u8],
) -> Result<Option<Vec<Loaded>>, LoadError> {
    let Some(header) = plain_header(kind, name, body, true)? else {
        return Ok(None);
    };
    let (slots, present) = (header.slots, header.present);
    let body = &body[header.body_start..];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pieces = if body.len() < 1 << 20 { 1 } else { threads * 4 };
    let chunks = split_line_ranges(body, pieces);
    let mut built: Vec<Option<(PartBuilder, u32)>> = Vec::with_capacity(chunks.len());
    std::thread::scope(|s| {
        let per_thread = chunks.len().div_ceil(threads);
        let handles: Vec<_> = chunks
            .chunks(per_thread.max(1))
            .map(|group| {
                let (slots, present) = (&slots, &present);
                s.spawn(move || {
                    group
                        .iter()
                        .map(|r| read_plain_chunk(kind, name, &body[r.clone()], slots, present))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(v) => built.extend(v),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
    let Some(built) = built.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    // Row numbers: the header is row 1 (after any blank lines), each slice continues where
    // the one before ended.
    Ok(Some(number_rows(built, header.lines)))
}

fn present_of(kind: DataKind, slots: &[Option<usize>]) -> Vec<bool> {
    let mut present = vec![false; kind.columns().len()];
    for s in slots.iter().flatten() {
        present[*s] = true;
    }
    present
}

/// Reads a slice of a .csv without quotes; row numbers are relative to the slice (1 for its
/// first line), and the slice's line count is returned with it.
/// `None` when a cell read as text is not UTF-8.
fn read_plain_chunk(
    kind: DataKind,
    name: &str,
    chunk: &[u8],
    slots: &[Option<usize>],
    present: &[bool],
) -> Option<(PartBuilder, u32)> {
    let mut b = PartBuilder::new(kind, name, present);
    // About 55 bytes a row in the usual exports.
    b.reserve(chunk.len() / 48 + 16);
    if chunk.is_empty() {
        // One blank line.
        return Some((b, 1));
    }
    let works: Vec<CellWork> = slots
        .iter()
        .map(|s| s.map_or(CellWork::Skip, |slot| b.work_of(slot)))
        .collect();
    let mut lines = 0_u32;
    // Cell by cell, each read as soon as it is found; a missing last line end is added.
    let mut pos = 0;
    while pos < chunk.len() {
        lines += 1;
        // A line that starts with anything but printable text is first judged whole: it may
        // be blank (white space and commas), and is then skipped.
        if !chunk[pos].is_ascii_graphic() || chunk[pos] == b',' {
            let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
            let line = &chunk[pos..end];
            if blank_line(line.strip_suffix(b"\r").unwrap_or(line))? {
                pos = end + 1;
                continue;
            }
        }
        b.begin_row(lines);
        let mut column = 0;
        loop {
            let work = works.get(column).copied().unwrap_or(CellWork::Skip);
            let end = match b.push_usual(work, chunk, pos) {
                Some(end) => end,
                None => {
                    let end = next_separator(chunk, pos);
                    if let Some(slot) = work.slot() {
                        let cell = &chunk[pos..end];
                        let cell = if end == chunk.len() || chunk[end] == b'\n' {
                            cell.strip_suffix(b"\r").unwrap_or(cell)
                        } else {
                            cell
                        };
                        b.push_cell_bytes(lines, slot, cell)?;
                    }
                    end
                }
            };
            let at_line_end = end == chunk.len() || chunk[end] == b'\n';
            column += 1;
            pos = end + 1;
            if at_line_end {
                break;
            }
        }
        // A short line: the template's columns it does not reach are empty.
        for slot in slots.iter().skip(column).flatten() {
            b.push_cell_bytes(lines, *slot, b"")?;
        }
    }
    Some((b, lines))
}

/// Where the next `,` or line end is, at or after `from` (`chunk.len()` when there is none).
/// Eight bytes at a time: cells are short, too short for a vector search to pay off.
fn next_separator(chunk: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(&word) = chunk.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(word);
        let (comma, newline) = (w ^ (ONES * u64::from(b',')), w ^ (ONES * u64::from(b'\n')));
        // A byte equal to the separator is zero after the xor; the lowest flagged byte is
        // the first such one (a borrow only runs upwards from a zero byte).
        let found =
            ((comma.wrapping_sub(ONES) & !comma) | (newline.wrapping_sub(ONES) & !newline)) & HIGH;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let rest = chunk.get(i..).unwrap_or_default();
    memchr::memchr2(b',', b'\n', rest).map_or(chunk.len(), |j| i + j)
}

/// A line of nothing but white space and commas, which is skipped; `None` when it is not
/// UTF-8. Judged by bytes when a printable ASCII character settles it.
fn blank_line(line: &[u8]) -> Option<bool> {
    if line.iter().any(|&c| c.is_ascii_graphic() && c != b',') {
        return Some(false);
    }
    let text = std::str::from_utf8(line).ok()?;
    Some(text.split(',').all(|c| c.trim().is_empty()))
}

/// A .csv with quoted cells (which may hold commas and line ends): read in one pass.
fn load_quoted_csv(kind: DataKind, name: &str, text: &str) -> Result<PartBuilder, LoadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| LoadError::BadCsv(name.to_owned(), 1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let slots = map_headers(kind, name, &headers)?;
    let present = present_of(kind, &slots);
    let mut b = PartBuilder::new(kind, name, &present);
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(text.as_bytes());
    loop {
        let at = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let row = lines.line_at(at) as u32;
                return Err(LoadError::BadCsv(name.to_owned(), row, e.to_string()));
            }
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let row = lines.line_at(record.position().map_or(at, |p| p.byte() as usize)) as u32;
        let mut cells = vec![""; kind.columns().len()];
        for (i, cell) in record.iter().enumerate() {
            if let Some(Some(slot)) = slots.get(i) {
                cells[*slot] = cell;
            }
        }
        b.push(row, |slot| cells[slot]);
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_by_their_width_end_where_the_general_reader_ends_them() {
        // IDs and dates that fill their width, run past it, fall short of it, or end a line
        // (with and without a carriage return), in the template's order and the other way
        // round; the plain reader must give what the quoted reader gives.
        let ids = [
            "411321198001010011",
            "41132119800101001X",
            "411321198001010011 ",
            "4113211980010100111",
            "41132119800101001",
            "41132119800101001x",
            "411321198001010012",
            "411321800101001",
        ];
        let files = |days: &[&str]| {
            let mut forward = String::from("身份证号,姓名,结算日期,总费用,个人自付\n");
            let mut backward = String::from("结算日期,个人自付,总费用,姓名,身份证号\n");
            for (i, id) in ids.iter().enumerate() {
                for (j, day) in days.iter().enumerate() {
                    let end = if (i + j) % 2 == 0 { "\n" } else { "\r\n" };
                    forward.push_str(&format!("{id},张三,{day},1,2{end}"));
                    backward.push_str(&format!("{day},2,1,张三,{id}{end}"));
                }
            }
            [forward, backward]
        };
        let bad_days = [
            "2024-03-05",
            "2024-03-051",
            "2024-3-05",
            "2024-03-05 ",
            "2024-02-30",
            "",
        ];
        let good_days = [
            "2024-03-05",
            "2024-3-5",
            "2024-03-05 ",
            "2024-02-28",
            "20240305",
        ];
        for (text, good) in files(&bad_days).into_iter().zip(files(&good_days)) {
            let quoted = text.replacen("张三", "\"张三\"", 1);
            let read = |text: &str| {
                let got = load(
                    DataKind::MedicalExpense,
                    &[("f.csv".to_owned(), text.as_bytes().to_vec())],
                );
                match got {
                    Err(LoadError::BadCells { listed, total }) => {
                        let cells: Vec<_> = listed
                            .iter()
                            .map(|e| (e.row, e.column, e.message.clone()))
                            .collect();
                        (cells, total)
                    }
                    other => panic!("{other:?}"),
                }
            };
            let (plain, total) = read(&text);
            assert_eq!((plain.clone(), total), read(&quoted));
            // Each row's date: the good one, the impossible one and the empty one read
            // alike; the others are refused.
            assert!(
                plain.iter().any(|c| c.2.contains("2024-03-051")),
                "{plain:?}"
            );
            assert!(
                plain.iter().all(|c| !c.2.contains("“2024-03-05”")),
                "{plain:?}"
            );
            let read_ok = |text: &str| {
                let ds = load(
                    DataKind::MedicalExpense,
                    &[("f.csv".to_owned(), text.as_bytes().to_vec())],
                )
                .expect("reads");
                let rows: Vec<_> = ds
                    .parts
                    .iter()
                    .flat_map(|p| {
                        (0..p.len()).map(move |r| (p.row_no.get(r), p.ids[r], p.columns[2].date(r)))
                    })
                    .collect();
                (rows, ds.report)
            };
            let quoted = good.replacen("张三", "\"张三\"", 1);
            assert_eq!(read_ok(&good), read_ok(&quoted));
        }
    }

    #[test]
    fn a_rows_bad_cells_are_listed_in_template_order_by_every_reader() {
        // The file's columns in another order than the template's (身份证号, 姓名, 结算日期,
        // 总费用, 个人自付); row 3 has a bad amount before a bad date.
        let plain = "身份证号,姓名,个人自付,总费用,结算日期\n\
                     411321198001010011,张三,1.5,2,2024-03-05\n\
                     411321198001010011,张三,一元,2,2024-02-30\n";
        let quoted = plain.replacen("张三,1.5", "\"张三\",1.5", 1);
        let listed = |text: &str| match load(
            DataKind::MedicalExpense,
            &[("f.csv".to_owned(), text.as_bytes().to_vec())],
        ) {
            Err(LoadError::BadCells { listed, .. }) => {
                listed.iter().map(|e| (e.row, e.column)).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(listed(plain), [(3, "结算日期"), (3, "个人自付")]);
        assert_eq!(listed(&quoted), listed(plain));
        // The row where the list is cut: the same cells from both readers.
        let mut many = format!("{plain}411321198001010011,张三,1.5,2,2024-02-30\n");
        for _ in 0..MAX_LISTED {
            many.push_str("411321198001010011,张三,一元,2,2024-02-30\n");
        }
        let quoted = many.replacen("张三,1.5", "\"张三\",1.5", 1);
        let cut = listed(&many);
        assert_eq!(cut.len(), MAX_LISTED);
        // Three problems in rows 3 and 4, then two a row: the 200th is the first of row 103's.
        assert_eq!(cut[MAX_LISTED - 1], (103, "结算日期"));
        assert_eq!(listed(&quoted), cut);
    }

    #[test]
    fn amounts_and_days_are_written_as_before() {
        // The straightforward forms, against which the direct writers are checked.
        let grouped = |fen: i64| {
            let f = fen.unsigned_abs();
            let yuan = (f / 100).to_string();
            let mut g = String::new();
            for (i, c) in yuan.chars().enumerate() {
                if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                    g.push(',');
                }
                g.push(c);
            }
            format!("{}{g}.{:02}", if fen < 0 { "-" } else { "" }, f % 100)
        };
        let mut fens: Vec<i64> = vec![0, 1, -1, 99, 100, -100, 123_456, i64::MAX, i64::MIN];
        let mut v = 1_i64;
        while let Some(next) = v.checked_mul(7) {
            fens.extend([v, v - 1, -v, next / 3]);
            v = next;
        }
        for fen in fens {
            assert_eq!(format_fen(fen), grouped(fen), "{fen}");
        }
        assert_eq!(format_fen(123_456_789), "1,234,567.89");
        for days in (0..800_000)
            .step_by(97)
            .chain([-1_000_000, 5_000_000, NO_DATE + 1])
        {
            assert_eq!(format_day(days), day_of(days).to_string(), "{days}");
        }
    }

    #[test]
    fn amounts_read_as_people_write_them_and_nothing_else() {
        assert_eq!(parse_fen("1234"), Some(123_400));
        assert_eq!(parse_fen(" 1,234.5 "), Some(123_450));
        assert_eq!(parse_fen("-12.30"), Some(-1_230));
        assert_eq!(parse_fen("1234.5600000000002"), Some(123_456));
        assert_eq!(parse_fen("12,345,678.09"), Some(1_234_567_809));
        for bad in [
            "1234,567",
            "12,34",
            ",123",
            "1.234",
            "一百",
            "",
            "92233720368547758.99",
            "1e3",
        ] {
            assert_eq!(parse_fen(bad), None, "{bad}");
        }
    }

    #[test]
    fn row_numbers_kept_as_runs_read_back_as_pushed() {
        // Runs broken by blank lines, a repeat and a step back (rows as a sheet may give
        // them), and numbers near the top of the range.
        let pushed = [2, 3, 4, 7, 8, 8, 5, 6, 100, u32::MAX - 2, u32::MAX - 1, 0];
        let mut rows = RowNumbers::default();
        assert!(rows.is_empty());
        for &r in &pushed {
            rows.push(r);
        }
        assert_eq!(rows.len(), pushed.len());
        assert_eq!(rows.iter().collect::<Vec<_>>(), pushed);
        for (i, &r) in pushed.iter().enumerate() {
            assert_eq!(rows.get(i), r, "{i}");
        }
        assert_eq!(rows.runs.len(), 7);
        let mut plain = RowNumbers::default();
        (2..100_002).for_each(|r| plain.push(r));
        plain.shift(40);
        assert_eq!(plain.runs, [(0, 42)]);
        assert_eq!(plain.get(99_999), 100_041);
        assert!(plain.iter().eq(42..100_042));
    }

    #[test]
    fn separators_are_found_where_a_plain_search_finds_them() {
        // Separators next to one another, next to multi-byte characters and bytes with the
        // high bit set, at every distance from the start and from the end.
        let text =
            "411321195706190669,阎浩艳,,2024-01-02,\n\n1.5,x\u{3000},,\r\n,\u{FF0C}\u{2C00}é,\n";
        let bytes = text.as_bytes();
        for start in 0..=bytes.len() {
            for end in start..=bytes.len() {
                let chunk = &bytes[..end];
                let expected = memchr::memchr2(b',', b'\n', &chunk[start..])
                    .map_or(chunk.len(), |j| start + j);
                assert_eq!(next_separator(chunk, start), expected, "{start}..{end}");
            }
        }
        let bytes: Vec<u8> = (0..=255).cycle().take(600).collect();
        for start in 0..bytes.len() {
            let expected =
                memchr::memchr2(b',', b'\n', &bytes[start..]).map_or(bytes.len(), |j| start + j);
            assert_eq!(next_separator(&bytes, start), expected);
        }
    }

    #[test]
    fn the_byte_readers_agree_with_the_general_ones() {
        // Every day the fast reader accepts, and its neighbours that do not exist.
        let mut day = NaiveDate::from_ymd_opt(1899, 12, 1).expect("date");
        while day.year() <= 2201 {
            let text = day.to_string();
            let expected = parse_date(&text).map(|d| d.num_days_from_ce());
            assert_eq!(fast_day(text.as_bytes()), expected, "{text}");
            day = day.succ_opt().expect("next");
        }
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
        ] {
            assert_eq!(fast_day(bad.as_bytes()), None, "{bad}");
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            fast_day(b"2000-02-29"),
            parse_date("2000-02-29").map(|d| d.num_days_from_ce())
        );
        // Forms the fast reader leaves alone are still read, by the general reader.
        for other in ["2024/3/5", "20240305", " 2024-03-05", "2024-3-5"] {
            assert_eq!(fast_day(other.as_bytes()), None, "{other}");
        }
        for text in [
            "0",
            "1",
            "12.3",
            "12.34",
            "1234567890123",
            "9999999999999.99",
            "007.5",
            "1234.",
        ] {
            let fast = fast_fen(text.as_bytes());
            assert!(fast.is_none() || fast == parse_fen(text), "{text}");
        }
        assert_eq!(fast_fen(b"12.34"), Some(1_234));
        assert_eq!(fast_fen(b"12.3"), Some(1_230));
        assert_eq!(fast_fen(b"5"), Some(500));
        for left in [
            "",
            "-1",
            "1,234",
            "1.234",
            " 12",
            "1e3",
            ".5",
            "12345678901234",
        ] {
            assert_eq!(fast_fen(left.as_bytes()), None, "{left}");
        }
    }

    /// Amounts and names read where they stand in a line give what their cell, cut out
    /// first, gives the byte readers; cells they do not settle are left whole.
    #[test]
    fn cells_read_in_place_agree_with_cells_cut_out() {
        let amounts = [
            "0",
            "5",
            "12.3",
            "12.34",
            "1234567890123",
            "12345678901234",
            "1234.",
            "1.234",
            ".5",
            "-1",
            "12a",
            "",
            " 1",
            "1.2.3",
            "9999999999999.99",
            "1e3",
        ];
        for a in amounts {
            // Ended by a comma, a line end, the slice's end; a carriage return is left to
            // the general reader.
            for line in [format!("{a},x"), format!("{a}\n"), a.to_owned()] {
                let expected = fast_fen(a.as_bytes()).map(|fen| (fen, a.len()));
                assert_eq!(fen_at(line.as_bytes(), 0), expected, "{line:?}");
                let shifted = format!("1,{line}");
                let at = fen_at(shifted.as_bytes(), 2);
                assert_eq!(at, expected.map(|(f, e)| (f, e + 2)), "{shifted:?}");
            }
            assert_eq!(fen_at(format!("{a}\r\n").as_bytes(), 0), None, "{a}");
        }
        let traditional = traditional_table();
        let names: [&[u8]; 10] = [
            "王五".as_bytes(),
            "欧阳娜娜".as_bytes(),
            "張三".as_bytes(),
            "王 五".as_bytes(),
            "阿依·买买提".as_bytes(),
            b"Li",
            b"",
            // A lead byte of the common range without its continuation bytes.
            b"\xE4\xB8",
            b"\xE4AB",
            b"\xE4\xB8\xAD\xFF",
        ];
        for name in names {
            let mut line = name.to_vec();
            line.extend_from_slice(b",1\n");
            let common = name.len().is_multiple_of(3)
                && name.chunks_exact(3).all(|c| (0xE4..=0xE9).contains(&c[0]));
            let expected = (!name.is_empty()
                && common
                && name_bytes_clean(name)
                && std::str::from_utf8(name).is_ok())
            .then_some(name.len());
            let shown = String::from_utf8_lossy(name);
            assert_eq!(clean_name_end(&line, 0, traditional), expected, "{shown}");
        }
        assert_eq!(clean_name_end("王五".as_bytes(), 0, traditional), Some(6));
        assert_eq!(clean_name_end("王五\r\n".as_bytes(), 0, traditional), None);
    }

    /// A data set read from disk block by block gives what reading it whole gives: rows,
    /// row numbers, counts, refusals; files that are not plain UTF-8 .csv are read whole.
    #[test]
    fn streamed_files_read_as_whole_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let mut body = String::from("\u{FEFF}\r\n身份证号,姓名,结算日期,总费用,个人自付\r\n");
        for i in 0..400 {
            let id = if i % 7 == 0 {
                "4.11321E+17".to_owned()
            } else {
                format!("41132119800101{:03}X", i % 1000)
            };
            let date = if i % 50 == 3 {
                "2024/3/5"
            } else {
                "2024-03-05"
            };
            body.push_str(&format!("{id},张 {i},{date},1{i}.5,{i}\r\n"));
            if i % 90 == 0 {
                body.push_str(",,,,\r\n\r\n");
            }
        }
        body.push_str("411321198001010011,李四,2024-02-30,1,1");
        let bad = body.clone();
        let good = body.replace(",2024-02-30,", ",2024-02-28,");
        let kind = DataKind::MedicalExpense;
        for (text, tag) in [(&good, "good"), (&bad, "bad")] {
            let path = dir.path().join(format!("{tag}.csv"));
            std::fs::write(&path, text).expect("write");
            let whole = load(kind, &[("f.csv".to_owned(), text.as_bytes().to_vec())]);
            for block in [64, 100, 1000, 1 << 20] {
                let file = std::fs::File::open(&path).expect("open");
                let streamed = stream_csv(kind, "f.csv", file, block)
                    .expect("readable")
                    .expect("streamed");
                let names = ["f.csv"];
                let streamed = assemble(kind, streamed, &names, text.len());
                match (&whole, &streamed) {
                    (Ok(w), Ok(s)) => {
                        assert_eq!(w.report, s.report, "{tag} {block}");
                        let rows = |d: &Dataset| -> Vec<(u32, Option<u64>, String, String)> {
                            d.parts
                                .iter()
                                .flat_map(|p| {
                                    (0..p.len()).map(move |r| {
                                        (
                                            p.row_no.get(r),
                                            p.ids[r].raw_key(),
                                            p.display(1, r),
                                            p.display(4, r),
                                        )
                                    })
                                })
                                .collect()
                        };
                        assert_eq!(rows(w), rows(s), "{tag} {block}");
                    }
                    (Err(w), Err(s)) => assert_eq!(w, s, "{tag} {block}"),
                    _ => panic!("{tag} {block}: {whole:?} against {streamed:?}"),
                }
            }
        }
        let Err(LoadError::BadCells { listed, .. }) =
            load_paths(kind, &[("f.csv".to_owned(), dir.path().join("bad.csv"))])
        else {
            panic!("the impossible date refuses the file");
        };
        assert_eq!(listed[0].row, 2 + 400 + 5 * 2 + 1, "{listed:?}");
        // Quoted cells and GBK text are read whole, with the same result.
        let quoted = good.replace("张 1,", "\"张 1\",");
        let gbk = encoding_rs::GBK.encode(&good[3..]).0.into_owned();
        for (bytes, tag) in [(quoted.into_bytes(), "quoted"), (gbk, "gbk")] {
            let path = dir.path().join(format!("{tag}.csv"));
            std::fs::write(&path, &bytes).expect("write");
            let file = std::fs::File::open(&path).expect("open");
            assert!(stream_csv(kind, "f.csv", file, 100)
                .expect("readable")
                .is_none());
            let from_disk = load_paths(kind, &[("f.csv".to_owned(), path)]).expect(tag);
            let whole = load(kind, &[("f.csv".to_owned(), bytes)]).expect(tag);
            assert_eq!(from_disk.report, whole.report, "{tag}");
            assert_eq!(from_disk.rows(), whole.rows(), "{tag}");
        }
        let missing = load_paths(kind, &[("无.csv".to_owned(), dir.path().join("none.csv"))]);
        assert!(
            matches!(missing, Err(LoadError::Unreadable(ref n, _)) if n == "无.csv"),
            "{missing:?}"
        );
        let header_only = dir.path().join("header.csv");
        std::fs::write(&header_only, "身份证号,姓名,结算日期,总费用,个人自付\n").expect("write");
        assert_eq!(
            load_paths(kind, &[("h.csv".to_owned(), header_only)]).map(|d| d.rows()),
            Err(LoadError::NoRows("h.csv".to_owned()))
        );
    }

    #[test]
    fn amounts_past_a_cells_range_are_refused_by_every_reader() {
        let kind = DataKind::MedicalExpense;
        let file = |oop: &str| {
            format!(
                "身份证号,姓名,结算日期,总费用,个人自付\n\
                 411321198001010011,李四,2024-03-05,1,{oop}\n"
            )
        };
        for (oop, fen) in [
            ("21474836.47", 2_147_483_647),
            ("\"-21,474,836.47\"", -2_147_483_647),
        ] {
            let ds = load(kind, &[("f.csv".to_owned(), file(oop).into_bytes())]).expect(oop);
            assert_eq!(ds.parts[0].columns[4].number(0), Some(fen), "{oop}");
        }
        for oop in ["21474836.48", "21474837", "\"99999999999\"", "-21474836.48"] {
            let Err(LoadError::BadCells { listed, total: 1 }) =
                load(kind, &[("f.csv".to_owned(), file(oop).into_bytes())])
            else {
                panic!("{oop} is refused");
            };
            assert_eq!((listed[0].row, listed[0].column), (2, "个人自付"), "{oop}");
            assert!(listed[0].message.contains("超出金额范围"), "{listed:?}");
        }
    }

    /// A named pipe given as a data file is read once, to its end, like the file it stands for.
    #[cfg(unix)]
    #[test]
    fn a_pipe_is_read_as_the_file_it_carries() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("claims.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let mut text = String::from("身份证号,姓名,结算日期,总费用,个人自付\n");
        for i in 0..5000 {
            text.push_str(&format!(
                "41132119800101{:03}X,张三,2024-03-05,1{i}.5,{i}\n",
                i % 1000
            ));
        }
        let kind = DataKind::MedicalExpense;
        let writer = {
            let (fifo, text) = (fifo.clone(), text.clone());
            std::thread::spawn(move || std::fs::write(fifo, text).expect("write"))
        };
        let piped = load_paths(kind, &[("claims.csv".to_owned(), fifo)]).expect("read");
        writer.join().expect("writer");
        let whole = load(kind, &[("claims.csv".to_owned(), text.into_bytes())]).expect("read");
        assert_eq!(piped.rows(), 5000);
        assert_eq!(piped.report, whole.report);
    }

    #[test]
    fn dates_outside_the_plausible_are_refused() {
        assert_eq!(parse_date("20240305"), NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(parse_date("2024/3/5"), NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(parse_date("00010101"), None);
        assert_eq!(parse_date("2024-02-30"), None);
    }

    #[test]
    fn names_lose_spaces_and_dot_look_alikes() {
        let mut out = String::new();
        assert!(normalise_name("阿依古丽．买买提", &mut out).tidied);
        assert_eq!(out, "阿依古丽·买买提");
        assert!(normalise_name(" 王 小明 ", &mut out).tidied);
        assert_eq!(out, "王小明");
        assert!(!normalise_name("王小明", &mut out).changed());
    }

    #[test]
    fn traditional_characters_in_names_are_made_simplified() {
        let mut out = String::new();
        for (raw, simplified) in [
            ("張偉", "张伟"),
            ("陳國華", "陈国华"),
            ("劉麗娟", "刘丽娟"),
            ("歐陽 鳳", "欧阳凤"),
            ("趙 曉東", "赵晓东"),
        ] {
            let steps = normalise_name(raw, &mut out);
            assert!(steps.simplified, "{raw}");
            assert_eq!(steps.tidied, raw.contains(' '), "{raw}");
            assert_eq!(out, simplified);
            // Read from the file's bytes, the name is not taken as it stands.
            assert!(!name_bytes_clean(raw.as_bytes()), "{raw}");
            assert!(name_bytes_clean(simplified.replace(' ', "").as_bytes()));
        }
        // Characters that are the same in both scripts, and a simplified name, stay as written.
        for same in ["王小明", "李明", "阿依古丽·买买提", "孙悟空"] {
            assert_eq!(
                normalise_name(same, &mut out),
                NameSteps::default(),
                "{same}"
            );
            assert_eq!(out, same);
        }
        assert!(is_traditional(u32::from('國')) && !is_traditional(u32::from('国')));
        // A name taken as it stands would not have been changed by the normalisation, for
        // every character of three bytes beside a common surname, before and after it.
        for c in (HAN_FIRST..HAN_END).filter_map(char::from_u32) {
            for name in [format!("王{c}"), format!("{c}王"), format!("王{c}明")] {
                if name_bytes_clean(name.as_bytes()) {
                    assert!(!normalise_name(&name, &mut out).changed(), "{name}");
                }
            }
        }
        assert!(!is_traditional(u32::from('A')) && !is_traditional(0x2_0000));
    }

    /// A name in traditional characters is stored simplified and counted, by the plain
    /// reader (cell by cell) and the quoted one alike.
    #[test]
    fn both_readers_make_traditional_names_simplified() {
        let id = "11010519491231002X";
        for csv in [
            format!("身份证号,姓名,参保年度\n{id},張偉,2024\n{id},李明,2024\n"),
            format!("身份证号,姓名,参保年度\n\"{id}\",\"張偉\",2024\n{id},李明,2024\n"),
        ] {
            let ds = load(
                DataKind::InsuranceEnrollment,
                &[("a.csv".to_owned(), csv.into_bytes())],
            )
            .expect("read");
            let part = &ds.parts[0];
            assert_eq!(
                (part.text(1, 0), part.text(1, 1)),
                (Some("张伟"), Some("李明"))
            );
            assert_eq!(
                (ds.report.names_simplified, ds.report.names_normalised),
                (1, 0)
            );
        }
    }
}
