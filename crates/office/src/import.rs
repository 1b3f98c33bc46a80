//! Reading uploaded spreadsheets safely: size, row, cell and (for a zip) uncompressed-size
//! limits are checked before parsing; rows keep the number the spreadsheet shows (the header
//! is row 1); columns are found by their header, in any order, extra ones ignored.

use std::io::{Cursor, Read, Seek};

use calamine::{Data, Reader, Xlsx};

/// Limits checked before a file is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_uncompressed: u64,
    pub max_rows: usize,
    pub max_cell_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_uncompressed: 200 * 1024 * 1024,
            max_rows: 50_000,
            max_cell_chars: 2_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("文件为空")]
    Empty,
    #[error("文件过大（{0} 字节），上限 {1} 字节")]
    TooLarge(usize, usize),
    #[error("文件不是有效的 .xlsx 表格（请用 Excel 或 WPS 另存为 .xlsx 后重新上传）")]
    NotXlsx,
    #[error("文件解压后过大（超过 {1} 字节，读到 {0} 字节时停止），疑似异常文件")]
    Unzipped(u64, u64),
    #[error("数据行过多（{0} 行），每次最多 {1} 行，请分批导入")]
    TooManyRows(usize, usize),
    #[error("第 {row} 行“{column}”列内容过长（超过 {max} 个字）")]
    CellTooLong {
        row: usize,
        column: String,
        max: usize,
    },
    #[error("缺少必需的列：{0}（表头须在第 1 行）")]
    MissingColumns(String),
    #[error("表格中没有数据行")]
    NoRows,
    #[error("第 {0} 行无法读取：{1}")]
    BadCsv(usize, String),
}

/// One problem of an import, named by row and column as the spreadsheet shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: &'static str,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "第 {} 行“{}”列：{}", self.row, self.column, self.message)
    }
}

/// The first sheet, as text cells under their headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetData {
    pub headers: Vec<String>,
    /// (row number as the spreadsheet shows it, cells in header order).
    pub rows: Vec<(usize, Vec<String>)>,
}

impl SheetData {
    /// The value of `column` in a row.
    pub fn get<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        self.headers
            .iter()
            .position(|h| h == column)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }
}

/// The real uncompressed size, read through a cap (a crafted zip can understate it in its
/// directory), or the cap plus one when it is larger.
pub fn uncompressed_size<R: Read + Seek>(r: R, cap: u64) -> Result<u64, ImportError> {
    let mut archive = zip::ZipArchive::new(r).map_err(|_| ImportError::NotXlsx)?;
    let mut total = 0_u64;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|_| ImportError::NotXlsx)?;
        let left = cap.saturating_sub(total) + 1;
        total += std::io::copy(&mut entry.take(left), &mut std::io::sink())
            .map_err(|_| ImportError::NotXlsx)?;
        if total > cap {
            return Ok(total);
        }
    }
    Ok(total)
}

/// A cell as the text the import reads: whole numbers without `.0`, dates as `2024-03-05`,
/// and numbers too long for a float in exponent form, so that a mangled ID is seen as such.
pub fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        // Beyond 15 digits a float has lost digits (an ID number Excel turned into
        // 4.11321E+17): written in that form so that the import names it as mangled.
        Data::Float(f) if f.abs() >= 1e15 => format!("{f:E}"),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|t| t.date().to_string())
            .unwrap_or_else(|| dt.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Every `required` header is among `headers`, or the missing ones named.
fn check_required(headers: &[String], required: &[&str]) -> Result<(), ImportError> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ImportError::MissingColumns(missing.join("、")))
    }
}

/// Reads the first sheet of an .xlsx, checking `limits` and that `required` headers exist.
pub fn read_xlsx(
    bytes: &[u8],
    required: &[&str],
    limits: Limits,
) -> Result<SheetData, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImportError::TooLarge(bytes.len(), limits.max_bytes));
    }
    let unzipped = uncompressed_size(Cursor::new(bytes), limits.max_uncompressed)?;
    if unzipped > limits.max_uncompressed {
        return Err(ImportError::Unzipped(unzipped, limits.max_uncompressed));
    }
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| ImportError::NotXlsx)?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(ImportError::NoRows)?
        .map_err(|_| ImportError::NotXlsx)?;
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(cell_text).collect())
        .unwrap_or_default();
    check_required(&headers, required)?;
    let mut out = Vec::new();
    for (i, r) in rows.enumerate() {
        let row_no = first_row as usize + i + 2;
        let cells: Vec<String> = r.iter().map(cell_text).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if out.len() >= limits.max_rows {
            return Err(ImportError::TooManyRows(
                range.height().saturating_sub(1),
                limits.max_rows,
            ));
        }
        if let Some((c, _)) = cells.iter().enumerate().find(|(_, v)| {
            v.len() > limits.max_cell_chars && v.chars().count() > limits.max_cell_chars
        }) {
            return Err(ImportError::CellTooLong {
                row: row_no,
                column: headers.get(c).cloned().unwrap_or_default(),
                max: limits.max_cell_chars,
            });
        }
        out.push((row_no, cells));
    }
    if out.is_empty() {
        return Err(ImportError::NoRows);
    }
    Ok(SheetData { headers, rows: out })
}

/// Reads a .csv in UTF-8 (with or without a byte-order mark) or GBK, as exported by the
/// national systems, with the same limits and header check as [`read_xlsx`].
pub fn read_csv(bytes: &[u8], required: &[&str], limits: Limits) -> Result<SheetData, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImportError::TooLarge(bytes.len(), limits.max_bytes));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // A large file without quotes is read in slices on every core, UTF-8 as it is (checked
    // slice by slice), GBK once decoded (a GBK character never holds a quote byte).
    let plain = body.len() > 1 << 20 && memchr::memchr(b'"', body).is_none();
    if plain {
        if let Some(sheet) = read_plain_csv_ref(body, required, limits)? {
            return Ok(owned(sheet));
        }
    }
    let text = match utf8(body) {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => encoding_rs::GBK.decode_without_bom_handling(body).0,
    };
    if plain {
        if let Some(sheet) = read_plain_csv_ref(text.as_bytes(), required, limits)? {
            return Ok(owned(sheet));
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::BadCsv(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    check_required(&headers, required)?;
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(text.as_bytes());
    loop {
        let at = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(ImportError::BadCsv(lines.line_at(at), e.to_string())),
        }
        let row_no = lines.line_at(record.position().map_or(at, |p| p.byte() as usize));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if out.len() >= limits.max_rows {
            return Err(ImportError::TooManyRows(out.len() + 1, limits.max_rows));
        }
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
        if let Some((c, _)) = cells.iter().enumerate().find(|(_, v)| {
            v.len() > limits.max_cell_chars && v.chars().count() > limits.max_cell_chars
        }) {
            return Err(ImportError::CellTooLong {
                row: row_no,
                column: headers.get(c).cloned().unwrap_or_default(),
                max: limits.max_cell_chars,
            });
        }
        out.push((row_no, cells));
    }
    if out.is_empty() {
        return Err(ImportError::NoRows);
    }
    Ok(SheetData { headers, rows: out })
}

/// Line numbers of byte offsets met in increasing order, as a spreadsheet numbers rows (empty
/// lines included; the csv reader's own count skips them).
pub struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a [u8]) -> LineCounter<'a> {
        LineCounter {
            text,
            byte: 0,
            line: 1,
        }
    }

    /// The line (from 1) of the record the csv reader places at byte `at` (it places a record
    /// at the line ends before it, so they are skipped); `at` never goes back.
    pub fn line_at(&mut self, at: usize) -> usize {
        let mut at = at.clamp(self.byte, self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.text[self.byte..at]).count();
        self.byte = at;
        self.line
    }
}

/// Bytes as UTF-8 text, or `None`: checked a vector at a time (Chinese text is three bytes a
/// character, which the standard check takes one by one).
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

/// The byte ranges of about `n` slices of `body` that each end at a line end (or the end). A
/// line end is never inside a UTF-8 or GBK character, so each slice decodes on its own.
pub fn split_line_ranges(body: &[u8], n: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    let target = body.len().div_ceil(n.max(1)).max(1);
    while start < body.len() {
        if body.len() - start <= target {
            out.push(start..body.len());
            break;
        }
        let cut = memchr::memchr(b'\n', &body[start + target..])
            .map_or(body.len(), |i| start + target + i + 1);
        out.push(start..cut);
        start = cut;
    }
    out
}

/// A table whose cells borrow the file's text (no copy per cell): what a reader that only
/// looks at the cells needs, without millions of small strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRef<'a> {
    pub headers: Vec<String>,
    /// (row number as the spreadsheet shows it, trimmed cells in header order).
    pub rows: Vec<(usize, Vec<&'a str>)>,
}

fn owned(sheet: SheetRef<'_>) -> SheetData {
    SheetData {
        headers: sheet.headers,
        rows: sheet
            .rows
            .into_iter()
            .map(|(n, cells)| (n, cells.into_iter().map(str::to_owned).collect()))
            .collect(),
    }
}

/// [`read_csv`] of a .csv without quotes (so no cell holds a comma or a line end), in UTF-8,
/// read in slices on every core, its cells borrowing `bytes`. The caller checks there is no
/// quote. `None` when the file is not UTF-8.
pub fn read_plain_csv_ref<'a>(
    bytes: &'a [u8],
    required: &[&str],
    limits: Limits,
) -> Result<Option<SheetRef<'a>>, ImportError> {
    let read = read_plain_csv_slices(bytes, required, limits, |_, rows| rows.into_rows())?;
    Ok(read.map(|s| {
        let mut rows = Vec::with_capacity(s.slices.iter().map(Vec::len).sum());
        s.slices.into_iter().for_each(|slice| rows.extend(slice));
        SheetRef {
            headers: s.headers,
            rows,
        }
    }))
}

/// The rows of one slice of a plain .csv: each row's number as the spreadsheet shows it and
/// its trimmed cells, all cells in one list (a slice has tens of thousands of rows: not a
/// list each).
#[derive(Debug, Default)]
pub struct PlainRows<'a> {
    /// (row number, end of its cells in `cells`).
    rows: Vec<(usize, usize)>,
    cells: Vec<&'a str>,
}

impl<'a> PlainRows<'a> {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// (row number, cells in file order).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (usize, &[&'a str])> + '_ {
        self.rows.iter().enumerate().map(|(i, &(row, end))| {
            let start = if i == 0 { 0 } else { self.rows[i - 1].1 };
            (row, &self.cells[start..end])
        })
    }

    /// The rows with a list of cells each.
    pub fn into_rows(self) -> Vec<(usize, Vec<&'a str>)> {
        self.iter()
            .map(|(row, cells)| (row, cells.to_vec()))
            .collect()
    }
}

/// What [`read_plain_csv_slices`] made of a file's slices, in file order, with its headers.
pub struct Slices<R> {
    pub headers: Vec<String>,
    pub slices: Vec<R>,
}

/// [`read_plain_csv_ref`] a slice at a time: the file is cut at line ends into slices that
/// the cores take in turn (each checked as UTF-8 on its own: a line end is never inside a
/// character). Each slice's rows, numbered as the spreadsheet shows them, go to `each` with
/// the headers and are dropped after, so that a large file's table is never whole in memory.
/// What `each` makes of the slices comes back in file order. `None` when the file is not
/// UTF-8.
pub fn read_plain_csv_slices<'a, R: Send>(
    bytes: &'a [u8],
    required: &[&str],
    limits: Limits,
    each: impl Fn(&[String], PlainRows<'a>) -> R + Sync,
) -> Result<Option<Slices<R>>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Blank lines before the header are skipped, as the general reader does, but counted.
    let blank = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    let skipped = memchr::memchr_iter(b'\n', &bytes[..blank]).count();
    let bytes = &bytes[blank..];
    let header_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let Ok(header) = std::str::from_utf8(&bytes[..header_end]) else {
        return Ok(None);
    };
    let headers: Vec<String> = header
        .trim_end_matches('\r')
        .split(',')
        .map(|h| h.trim().to_owned())
        .collect();
    check_required(&headers, required)?;
    let body = &bytes[(header_end + 1).min(bytes.len())..];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pieces = if body.len() < 1 << 20 { 1 } else { threads * 8 };
    let ranges = split_line_ranges(body, pieces);
    // Each slice's first row number: the header is row 1 (after any blank lines).
    let mut first_row = Vec::with_capacity(ranges.len());
    let mut before = 1 + skipped;
    for r in &ranges {
        first_row.push(before);
        before += memchr::memchr_iter(b'\n', &body[r.clone()]).count();
    }
    let width = headers.len();
    // Per slice: what `each` made of it, its row count and its first over-long cell; `None`
    // when it is not UTF-8.
    type Slice<R> = Option<(R, usize, Option<(usize, usize)>)>;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slices: Vec<(usize, Slice<R>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(ranges.len()))
            .map(|_| {
                let (ranges, first_row, next, each, headers) =
                    (&ranges, &first_row, &next, &each, &headers);
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(range) = ranges.get(k) else { break };
                        let slice = utf8(&body[range.clone()]).map(|chunk| {
                            let mut rows = PlainRows {
                                rows: Vec::with_capacity(chunk.len() / 64),
                                // A cell takes at least its comma: a header of
                                // thousands of columns asks no more than that.
                                cells: Vec::with_capacity(
                                    (chunk.len() / 64 * width).min(chunk.len() / 8),
                                ),
                            };
                            let mut too_long = None;
                            let row_no = first_row[k];
                            for (line, text) in chunk.split('\n').enumerate() {
                                let text = text.strip_suffix('\r').unwrap_or(text);
                                let start = rows.cells.len();
                                push_plain_cells(text, &mut rows.cells);
                                let cells = &rows.cells[start..];
                                if cells.iter().all(|c| c.is_empty()) {
                                    rows.cells.truncate(start);
                                    continue;
                                }
                                if too_long.is_none() {
                                    too_long = cells
                                        .iter()
                                        .position(|v| {
                                            v.len() > limits.max_cell_chars
                                                && v.chars().count() > limits.max_cell_chars
                                        })
                                        .map(|c| (row_no + line + 1, c));
                                }
                                rows.rows.push((row_no + line + 1, rows.cells.len()));
                            }
                            let count = rows.len();
                            (each(headers, rows), count, too_long)
                        });
                        done.push((k, slice));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    slices.sort_by_key(|s| s.0);
    let Some(slices) = slices.into_iter().map(|s| s.1).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    // The problem that comes first in the file: an over-long cell, or the row past the limit.
    let total: usize = slices.iter().map(|s| s.1).sum();
    let mut rows = 0;
    for (_, count, too_long) in &slices {
        if let Some((row, c)) = *too_long {
            return Err(ImportError::CellTooLong {
                row,
                column: headers.get(c).cloned().unwrap_or_default(),
                max: limits.max_cell_chars,
            });
        }
        rows += count;
        if rows > limits.max_rows {
            return Err(ImportError::TooManyRows(total, limits.max_rows));
        }
    }
    if total == 0 {
        return Err(ImportError::NoRows);
    }
    Ok(Some(Slices {
        headers,
        slices: slices.into_iter().map(|s| s.0).collect(),
    }))
}

/// The trimmed cells of a line without quotes, added to `cells`. Commas are found eight
/// bytes at a time: cells are short, too short for a vector search to pay off on each.
fn push_plain_cells<'a>(line: &'a str, cells: &mut Vec<&'a str>) {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(word) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
        // Bytes equal to a comma are zero after the xor; each zero byte, and only those,
        // gets its high bit set (no carry crosses from one byte into the next).
        let x = u64::from_le_bytes(*word) ^ (0x0101_0101_0101_0101 * u64::from(b','));
        let mut commas = !(((x & LOW) + LOW) | x | LOW);
        while commas != 0 {
            let at = i + (commas.trailing_zeros() / 8) as usize;
            cells.push(trim_cell(&line[start..at]));
            start = at + 1;
            commas &= commas - 1;
        }
        i += 8;
    }
    for at in (i..bytes.len()).filter(|&k| bytes[k] == b',') {
        cells.push(trim_cell(&line[start..at]));
        start = at + 1;
    }
    cells.push(trim_cell(&line[start..]));
}

/// `str::trim`, settled at once for a cell whose first and last characters cannot be white
/// space, judged by their first byte: white space is ASCII, or starts with one of
/// `C2` (U+0085, U+00A0), `E1` (U+1680), `E2` (U+2000 to U+205F) and `E3` (U+3000), so a
/// cell of Chinese characters is settled as quickly as one of digits.
pub fn trim_cell(cell: &str) -> &str {
    let b = cell.as_bytes();
    let may_be_space = |lead: u8| lead <= b' ' || matches!(lead, 0x7F | 0xC2 | 0xE1 | 0xE2 | 0xE3);
    // The last character's first byte: the last byte that is not a continuation byte.
    let last_lead = b.iter().rev().take(4).find(|&&c| c & 0xC0 != 0x80);
    match (b.first(), last_lead) {
        (Some(&f), Some(&l)) if !may_be_space(f) && !may_be_space(l) => cell,
        _ => cell.trim(),
    }
}

/// A .csv or an .xlsx, told apart by content (an .xlsx is a zip).
pub fn read_table(
    bytes: &[u8],
    required: &[&str],
    limits: Limits,
) -> Result<SheetData, ImportError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, required, limits)
    } else {
        read_csv(bytes, required, limits)
    }
}

/// A template: the headers on row 1 (what the import reads), an example row, and a second
/// sheet of explanations.
pub fn template(
    headers: &[(&str, f64)],
    example: &[&str],
    notes: &[(String, String)],
) -> Result<Vec<u8>, crate::ExportError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let head = Format::new().set_bold().set_background_color("#DDE6F0");
    let text = Format::new().set_num_format("@");
    let ws = wb.add_worksheet();
    ws.set_name("导入数据")?;
    for (c, (h, w)) in headers.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
        ws.set_column_format(c as u16, &text)?;
        ws.write_string_with_format(0, c as u16, *h, &head)?;
    }
    for (c, v) in example.iter().enumerate() {
        ws.write_string(1, c as u16, *v)?;
    }
    ws.set_freeze_panes(1, 0)?;
    let help = wb.add_worksheet();
    help.set_name("填写说明")?;
    help.set_column_width(0, 30)?;
    help.set_column_width(1, 60)?;
    help.write_string_with_format(0, 0, "项目", &head)?;
    help.write_string_with_format(0, 1, "说明", &head)?;
    for (i, (k, v)) in notes.iter().enumerate() {
        help.write_string(i as u32 + 1, 0, k)?;
        help.write_string(i as u32 + 1, 1, v)?;
    }
    Ok(wb.save_to_buffer()?)
}

/// The uploaded rows written back with an added error column, for the user to fix.
pub fn with_errors(
    data: &SheetData,
    errors: &[(usize, String)],
) -> Result<Vec<u8>, crate::ExportError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let head = Format::new().set_bold().set_background_color("#DDE6F0");
    let red = Format::new().set_font_color("#C62828");
    let ws = wb.add_worksheet();
    ws.set_name("导入数据")?;
    for (c, h) in data.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &head)?;
    }
    let err_col = data.headers.len() as u16;
    ws.write_string_with_format(0, err_col, "错误说明", &head)?;
    ws.set_column_width(err_col, 60)?;
    // Messages by row, gathered once: a file can have an error on each of millions of rows.
    let mut by_row: std::collections::HashMap<usize, Vec<&str>> = std::collections::HashMap::new();
    for (n, m) in errors {
        by_row.entry(*n).or_default().push(m);
    }
    for (i, (row_no, cells)) in data.rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r, c as u16, v)?;
        }
        if let Some(msg) = by_row.get(row_no) {
            ws.write_string_with_format(r, err_col, msg.join("；"), &red)?;
        }
    }
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector check accepts and refuses what the standard one does, wherever in a long
    /// text the bad bytes fall (short texts and the tail are checked another way).
    /// Cells found eight bytes at a time are the cells a split at every comma gives,
    /// wherever the commas fall in the words and whatever follows them.
    #[test]
    fn plain_cells_are_the_cells_between_commas() {
        let pieces = [
            "",
            "a",
            "-",
            " 王五 ",
            "12.5",
            ",",
            ",,",
            "-,-",
            "\u{3000}x",
            "甲乙丙丁",
        ];
        let mut seed = 7_u64;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..seed % 12 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                line.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mut cells = vec!["kept"];
            push_plain_cells(&line, &mut cells);
            let expected: Vec<&str> = std::iter::once("kept")
                .chain(line.split(',').map(trim_cell))
                .collect();
            assert_eq!(cells, expected, "{line:?}");
        }
    }

    #[test]
    fn utf8_is_judged_as_the_standard_check_judges_it() {
        let text = "户编号,乡镇,村,姓名\n4113210050000001,云阳镇,南生村,阎浩艳 ·x\n".repeat(4);
        let bad: [&[u8]; 8] = [
            b"\xFF",
            b"\xC0\x80",
            b"\xED\xA0\x80",
            b"\xE4\xB8",
            b"\xF4\x90\x80\x80",
            b"\x80",
            b"\xE0\x80\xAF",
            b"\xF0\x9F\x98",
        ];
        for at in 0..=text.len() {
            let bytes = text.as_bytes();
            assert_eq!(
                utf8(&bytes[..at]).is_some(),
                std::str::from_utf8(&bytes[..at]).is_ok()
            );
            for b in bad {
                let mut v = bytes[..at].to_vec();
                v.extend_from_slice(b);
                v.extend_from_slice(&bytes[at..]);
                assert_eq!(
                    utf8(&v).is_some(),
                    std::str::from_utf8(&v).is_ok(),
                    "{at} {b:?}"
                );
            }
        }
        assert_eq!(utf8(text.as_bytes()), Some(text.as_str()));
    }

    /// Every character alone, and between, before and after others, trims as `str::trim`.
    #[test]
    fn the_quick_trim_agrees_with_str_trim() {
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            for s in [
                format!("{c}"),
                format!("{c}王小明"),
                format!("王小明{c}"),
                format!("{c}12{c}"),
                format!("a{c}b"),
            ] {
                assert_eq!(trim_cell(&s), s.trim(), "{:?}", s);
            }
        }
        assert_eq!(trim_cell(""), "");
    }

    /// A large file without quotes is read in parallel slices; with one harmless pair of
    /// quotes the same content goes through the general reader: both must agree.
    #[test]
    fn large_plain_files_read_in_slices_agree_with_the_general_reader() {
        let mut plain = String::from("\u{feff}户编号, 姓名 ,身份证号\r\n");
        for i in 0..40_000 {
            if i % 997 == 0 {
                plain.push_str(" , ,\r\n\r\n");
            }
            plain.push_str(&format!(
                "H{i}, 张三{i} ,4113211970010100{:02}\r\n",
                i % 100
            ));
        }
        // A blank line before the header, as some exports have.
        let plain = plain.replacen('\u{feff}', "\u{feff}\r\n", 1);
        let quoted = plain.replacen(",411321197001010000\r", ",\"411321197001010000\"\r", 1);
        assert_ne!(quoted, plain);
        let limits = Limits {
            max_bytes: 1 << 30,
            max_rows: 1_000_000,
            ..Limits::default()
        };
        let fast = read_csv(plain.as_bytes(), &["户编号", "姓名"], limits).expect("plain");
        let general = read_csv(quoted.as_bytes(), &["户编号", "姓名"], limits).expect("quoted");
        assert!(plain.len() > 1 << 20);
        assert_eq!(fast.headers, general.headers);
        assert_eq!(fast.rows.len(), general.rows.len());
        let differ = fast
            .rows
            .iter()
            .zip(&general.rows)
            .position(|(a, b)| a != b);
        assert!(
            differ.is_none(),
            "{:?} / {:?}",
            differ.map(|i| &fast.rows[i]),
            differ.map(|i| &general.rows[i])
        );
        assert_eq!(fast.rows.len(), 40_000);
        assert_eq!(
            fast.rows[1].0, 6,
            "blank lines still count as rows of the file"
        );
        // The same file in GBK, and one that is ASCII but for a GBK name in its last slice:
        // read as the UTF-8 file is.
        let (gbk, _, _) = encoding_rs::GBK.encode(plain.trim_start_matches('\u{feff}'));
        let from_gbk = read_csv(&gbk, &["户编号", "姓名"], limits).expect("gbk");
        assert_eq!(from_gbk, fast);
        let ascii: String = std::iter::once("no,name,id\n".to_owned())
            .chain((0..40_000).map(|i| format!("H{i},ZS{i},4113211970010100{:02}\n", i % 100)))
            .collect();
        let last = ascii.rfind("ZS").expect("a name");
        let late = [
            &ascii.as_bytes()[..last],
            &encoding_rs::GBK.encode("张三").0,
            &ascii.as_bytes()[last + 2..],
        ]
        .concat();
        assert!(late.len() > 1 << 20);
        assert!(std::str::from_utf8(&late[..late.len() / 2]).is_ok());
        let from_late = read_csv(&late, &["no", "name"], limits).expect("late gbk");
        assert_eq!(from_late.rows.len(), 40_000);
        assert_eq!(from_late.rows[39_999].1[1], "张三39999");
        assert_eq!(from_late.rows[39_998].1[1], "ZS39998");
        let few = Limits {
            max_rows: 39_999,
            ..limits
        };
        assert!(matches!(
            read_csv(plain.as_bytes(), &[], few),
            Err(ImportError::TooManyRows(_, 39_999))
        ));
        let long = plain.replacen("张三7000 ", &"长".repeat(3_000), 1);
        assert_eq!(
            read_csv(long.as_bytes(), &[], limits),
            Err(ImportError::CellTooLong {
                // The header, 7,000 rows before it, and two lines each 997 rows from the first.
                row: 1 + 1 + 7_000 + 2 * (7_000 / 997 + 1) + 1,
                column: "姓名".into(),
                max: 2_000
            })
        );
        // Both problems: the one that comes first in the file is named, as the general
        // reader names it.
        let long_late = plain.replacen("张三39000 ", &"长".repeat(3_000), 1);
        for (text, limits) in [(&long, few), (&long_late, few)] {
            let quoted = text.replacen(",411321197001010000\r", ",\"411321197001010000\"\r", 1);
            assert_eq!(
                read_csv(text.as_bytes(), &[], limits),
                read_csv(quoted.as_bytes(), &[], limits)
            );
        }
        let few_early = Limits {
            max_rows: 20_000,
            ..limits
        };
        assert!(matches!(
            read_csv(long_late.as_bytes(), &[], few_early),
            Err(ImportError::TooManyRows(_, 20_000))
        ));
        assert!(matches!(
            read_csv(long.as_bytes(), &[], few_early),
            Err(ImportError::CellTooLong { .. })
        ));
    }

    fn book(rows: &[&[&str]]) -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).expect("write");
            }
        }
        wb.save_to_buffer().expect("save")
    }

    #[test]
    fn rows_keep_their_spreadsheet_numbers_and_columns_their_headers() {
        let bytes = book(&[
            &["备注", "单位", "月份"],
            &["x", "县教育局", "2023-04"],
            &["", "", ""],
            &["y", "县卫健委", "2023-05"],
        ]);
        let data = read_xlsx(&bytes, &["单位", "月份"], Limits::default()).expect("read");
        assert_eq!(data.rows.len(), 2, "the blank row is skipped");
        assert_eq!(data.rows[0].0, 2);
        assert_eq!(data.rows[1].0, 4);
        assert_eq!(data.get(&data.rows[1].1, "单位"), "县卫健委");
        assert_eq!(data.get(&data.rows[1].1, "没有这列"), "");
    }

    #[test]
    fn numbers_typed_as_numbers_read_as_plain_text() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "次数").expect("w");
        ws.write_number(1, 0, 3.0).expect("w");
        ws.write_number(2, 0, 2.5).expect("w");
        let data = read_xlsx(
            &wb.save_to_buffer().expect("save"),
            &["次数"],
            Limits::default(),
        )
        .expect("read");
        assert_eq!(data.rows[0].1[0], "3");
        assert_eq!(data.rows[1].1[0], "2.5");
    }

    #[test]
    fn limits_and_missing_columns_are_refused_before_anything_else() {
        let bytes = book(&[&["单位"], &["县教育局"]]);
        assert_eq!(
            read_xlsx(&bytes, &["单位", "月份"], Limits::default()),
            Err(ImportError::MissingColumns("月份".into()))
        );
        let small = Limits {
            max_bytes: 100,
            ..Limits::default()
        };
        assert!(matches!(
            read_xlsx(&bytes, &["单位"], small),
            Err(ImportError::TooLarge(_, 100))
        ));
        let tiny = Limits {
            max_uncompressed: 100,
            ..Limits::default()
        };
        assert!(matches!(
            read_xlsx(&bytes, &["单位"], tiny),
            Err(ImportError::Unzipped(_, 100))
        ));
        assert_eq!(
            read_xlsx(b"not a zip", &["单位"], Limits::default()),
            Err(ImportError::NotXlsx)
        );
        assert_eq!(
            read_xlsx(b"", &["单位"], Limits::default()),
            Err(ImportError::Empty)
        );
        let long = "长".repeat(30);
        let bytes = book(&[&["单位"], &[long.as_str()]]);
        let short = Limits {
            max_cell_chars: 10,
            ..Limits::default()
        };
        assert_eq!(
            read_xlsx(&bytes, &["单位"], short),
            Err(ImportError::CellTooLong {
                row: 2,
                column: "单位".into(),
                max: 10
            })
        );
        let rows = Limits {
            max_rows: 1,
            ..Limits::default()
        };
        let bytes = book(&[&["单位"], &["a"], &["b"]]);
        assert!(matches!(
            read_xlsx(&bytes, &["单位"], rows),
            Err(ImportError::TooManyRows(_, 1))
        ));
    }

    #[test]
    fn the_template_reads_back_as_its_own_headers_and_errors_go_in_a_column() {
        let t = template(
            &[("单位", 20.0), ("月份", 10.0)],
            &["县教育局", "2023-04"],
            &[("月份".into(), "写作 2023-04".into())],
        )
        .expect("template");
        let data = read_xlsx(&t, &["单位", "月份"], Limits::default()).expect("read");
        assert_eq!(
            data.rows,
            vec![(2, vec!["县教育局".to_owned(), "2023-04".to_owned()])]
        );
        let annotated = with_errors(&data, &[(2, "月份不对".into())]).expect("annotated");
        let back = read_xlsx(&annotated, &["错误说明"], Limits::default()).expect("read");
        assert_eq!(back.get(&back.rows[0].1, "错误说明"), "月份不对");
    }
}
