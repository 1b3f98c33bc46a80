//! Clues written out (.csv or print-ready .xlsx, ID numbers masked unless asked otherwise) and
//! the run summary in words.

use liandong_domain::registry::DEPARTMENTS;
use liandong_office::{Cell, Column};

use crate::engine::{Clue, MatchMethod, ReviewItem, RunReport};
use crate::kinds::DataKind;
use crate::load::{Dataset, IdFailure, NormalisationReport};

/// The export's columns (api.md "Files": the first eight names are the contract).
pub const CLUE_COLUMNS: [(&str, f64); 14] = [
    ("规则", 22.0),
    ("风险类型", 10.0),
    ("户编号", 16.0),
    ("姓名", 10.0),
    ("身份证号", 20.0),
    ("匹配方式", 10.0),
    ("置信度", 8.0),
    ("依据", 60.0),
    ("规则名称", 30.0),
    ("严重程度", 8.0),
    ("乡镇", 10.0),
    ("村", 10.0),
    ("推送单位", 24.0),
    ("来源行数", 8.0),
];

fn department_name(code: &str) -> &str {
    DEPARTMENTS
        .iter()
        .find(|d| d.code == code)
        .map_or(code, |d| d.name)
}

/// One clue as the cells of a row.
pub fn clue_row(c: &Clue, unmasked: bool) -> Vec<String> {
    let join = |f: &dyn Fn(&crate::engine::Subject) -> String| {
        c.subjects.iter().map(f).collect::<Vec<_>>().join("、")
    };
    // The weakest way any subject was found speaks for the clue.
    let method = c
        .subjects
        .iter()
        .map(|s| s.method)
        .max_by_key(|m| match m {
            MatchMethod::Exact => 0,
            MatchMethod::Normalized => 1,
            MatchMethod::Fuzzy => 2,
        })
        .unwrap_or(MatchMethod::Exact);
    let confidence = c
        .subjects
        .iter()
        .map(|s| s.confidence)
        .fold(1.0_f32, f32::min);
    let mut to: Vec<&str> = c.departments.iter().map(|d| department_name(d)).collect();
    if c.to_township {
        to.push(c.township.as_deref().unwrap_or("户籍地乡镇"));
    }
    vec![
        c.rule.clone(),
        c.finding.label().to_owned(),
        c.household_no.clone().unwrap_or_default(),
        join(&|s| s.name.clone()),
        join(&|s| {
            let id = s.key.id_number();
            if unmasked {
                id.expose().to_owned()
            } else {
                id.masked()
            }
        }),
        method.code().to_owned(),
        format!("{confidence:.2}"),
        c.evidence.clone(),
        c.title.clone(),
        c.severity.label().to_owned(),
        c.township.clone().unwrap_or_default(),
        c.village.clone().unwrap_or_default(),
        to.join("、"),
        c.rows.len().to_string(),
    ]
}

/// The clues as a UTF-8 .csv (with a byte-order mark, so that Excel reads the Chinese), text
/// that a spreadsheet would run as a formula prefixed with `'`.
pub fn clues_csv(clues: &[Clue], unmasked: bool) -> Vec<u8> {
    let rows: Vec<Vec<String>> = clues.iter().map(|c| clue_row(c, unmasked)).collect();
    rows_csv(&CLUE_COLUMNS, &rows)
}

/// The review list's columns: one row per candidate of a row whose ID failed.
pub const REVIEW_COLUMNS: [(&str, f64); 9] = [
    ("数据类型", 16.0),
    ("来源", 24.0),
    ("行号", 8.0),
    ("文件中的身份证号", 22.0),
    ("姓名", 10.0),
    ("候选人", 10.0),
    ("候选人身份证号", 20.0),
    ("户编号", 16.0),
    ("置信度", 8.0),
];

/// The rows for a person to confirm, one per candidate, best first.
pub fn review_rows(items: &[ReviewItem], unmasked: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for item in items {
        for (key, name, household, confidence) in &item.candidates {
            let id = key.id_number();
            out.push(vec![
                item.kind.label().to_owned(),
                item.source.clone(),
                item.row.to_string(),
                // The file's text may hold most of a real number: masked like one.
                if unmasked {
                    item.raw_id.clone()
                } else {
                    mask_raw(&item.raw_id)
                },
                item.name.clone(),
                name.clone(),
                if unmasked {
                    id.expose().to_owned()
                } else {
                    id.masked()
                },
                household.clone(),
                format!("{confidence:.2}"),
            ]);
        }
    }
    out
}

/// A damaged ID as the file gives it, with everything but its first four and last four
/// characters hidden.
fn mask_raw(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// Rows as a .csv with a byte-order mark, formula-like text prefixed with `'`.
pub fn rows_csv(headers: &[(&str, f64)], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let _ = w.write_record(headers.iter().map(|c| c.0));
        for row in rows {
            let row: Vec<String> = row
                .iter()
                .map(|v| {
                    if liandong_office::looks_like_formula(v) {
                        format!("'{v}")
                    } else {
                        v.clone()
                    }
                })
                .collect();
            let _ = w.write_record(&row);
        }
        let _ = w.flush();
    }
    out
}

/// The clues as a print-ready .xlsx, with the rows to confirm on a second sheet.
pub fn clues_xlsx(
    clues: &[Clue],
    review: &[ReviewItem],
    unmasked: bool,
    subtitle: &str,
) -> Result<Vec<u8>, liandong_office::ExportError> {
    let columns = |c: &'static [(&'static str, f64)]| -> Vec<Column<'static>> {
        c.iter()
            .map(|(header, width)| Column {
                header,
                width: *width,
            })
            .collect()
    };
    let (clue_cols, review_cols) = (columns(&CLUE_COLUMNS), columns(&REVIEW_COLUMNS));
    let rows: Vec<Vec<Cell>> = clues
        .iter()
        .map(|c| clue_row(c, unmasked).into_iter().map(Cell::from).collect())
        .collect();
    let review_rows: Vec<Vec<Cell>> = review_rows(review, unmasked)
        .into_iter()
        .map(|r| r.into_iter().map(Cell::from).collect())
        .collect();
    let mut sheets = vec![liandong_office::Sheet {
        name: "风险线索",
        title: "信息比对风险线索",
        subtitle,
        columns: &clue_cols,
        rows: &rows,
    }];
    if !review_rows.is_empty() {
        sheets.push(liandong_office::Sheet {
            name: "待确认匹配",
            title: "身份证号有误、待人工确认的匹配",
            subtitle,
            columns: &review_cols,
            rows: &review_rows,
        });
    }
    liandong_office::workbook(&sheets)
}

/// How many rows with an unusable ID number [`failed_id_rows`] names.
pub const FAILED_ROWS_LISTED: usize = 20;

/// Where the ID numbers that could not be used are, so that the delivering department can
/// correct them: file (and sheet), row and reason of the first [`FAILED_ROWS_LISTED`], and
/// how many in all; empty when every number was usable. The cells themselves are not shown
/// (a number with a wrong check digit is still someone's number).
pub fn failed_id_rows(data: &Dataset) -> String {
    let total: usize = data.parts.iter().map(|p| p.failed_ids.len()).sum();
    if total == 0 {
        return String::new();
    }
    let listed: Vec<String> = data
        .parts
        .iter()
        .flat_map(|p| {
            p.failed_ids.iter().map(move |(i, _)| {
                let why = p.ids[*i as usize].failure().map_or("", IdFailure::label);
                format!("{} 第 {} 行（{why}）", p.source, p.row_no.get(*i as usize))
            })
        })
        .take(FAILED_ROWS_LISTED)
        .collect();
    let mut s = format!("；身份证号无法使用的行：{}", listed.join("，"));
    if total > listed.len() {
        s.push_str(&format!(" 等共 {total} 行"));
    }
    s
}

/// What reading one data set found: rows, IDs usable as given, normalised by step, refused
/// by class, names normalised.
pub fn dataset_summary(kind: DataKind, n: &NormalisationReport) -> String {
    let normalised = n.rows - n.ids_as_given - n.failed_total();
    let mut s = format!(
        "{}（{}）：读取 {} 行；身份证号原样可用 {}，规范化后可用 {}（去空格 {}，全角转半角 {}，小写 x {}，15 位升 18 位 {}），无法使用 {}",
        kind.label(),
        kind.code(),
        n.rows,
        n.ids_as_given,
        normalised,
        n.spaces_removed,
        n.full_width,
        n.lowercase_x,
        n.upgraded_15,
        n.failed_total()
    );
    let failed: Vec<String> = IdFailure::ALL
        .iter()
        .filter(|f| n.failed_of(**f) > 0)
        .map(|f| format!("{} {}", f.label(), n.failed_of(*f)))
        .collect();
    if !failed.is_empty() {
        s.push_str(&format!("（{}）", failed.join("，")));
    }
    s.push_str(&format!(
        "；姓名规范化 {}，繁体姓名转简体 {}",
        n.names_normalised, n.names_simplified
    ));
    s
}

/// The run summary: rows read, normalised, refused by class, matched, clues per rule.
pub fn summary(report: &RunReport, seconds: f64) -> String {
    let mut s = format!(
        "名单：{} 户 {} 人\n",
        report.roster_households, report.roster_persons
    );
    for (kind, n) in &report.datasets {
        s.push_str(&dataset_summary(*kind, n));
        s.push('\n');
    }
    s.push_str(&format!(
        "与名单比中：精确 {} 行，规范化后 {} 行\n",
        report.matched_exact, report.matched_normalized
    ));
    let failed: u64 = report.datasets.iter().map(|(_, n)| n.failed_total()).sum();
    if failed > 0 {
        s.push_str(&format!(
            "身份证号无法使用的 {failed} 行：模糊匹配采用 {} 行，待人工确认 {} 行，未能匹配 {} 行\n",
            report.matched_fuzzy,
            report.review.len(),
            report.unmatched_failed
        ));
    }
    let mut total = 0;
    for r in &report.rules {
        total += r.clues;
        match &r.skipped {
            Some(why) => s.push_str(&format!("规则 {}：未运行，{}\n", r.code, why)),
            None if r.already_open > 0 => s.push_str(&format!(
                "规则 {}：线索 {} 条（另有 {} 条仍在处置或近期已核实，不重复推送）\n",
                r.code, r.clues, r.already_open
            )),
            None => s.push_str(&format!("规则 {}：线索 {} 条\n", r.code, r.clues)),
        }
    }
    s.push_str(&format!("共 {total} 条线索，用时 {seconds:.2} 秒\n"));
    s
}
