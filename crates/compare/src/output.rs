//! Clues written out (.csv or print-ready .xlsx, ID numbers masked unless asked otherwise) and
//! the run summary in words.

use liandong_domain::registry::DEPARTMENTS;
use liandong_office::{Cell, Column};

use crate::engine::{Clue, MatchMethod, RunReport};
use crate::load::IdFailure;

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
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let _ = w.write_record(CLUE_COLUMNS.iter().map(|c| c.0));
        for c in clues {
            let row: Vec<String> = clue_row(c, unmasked)
                .into_iter()
                .map(|v| {
                    if liandong_office::looks_like_formula(&v) {
                        format!("'{v}")
                    } else {
                        v
                    }
                })
                .collect();
            let _ = w.write_record(&row);
        }
        let _ = w.flush();
    }
    out
}

/// The clues as a print-ready .xlsx.
pub fn clues_xlsx(
    clues: &[Clue],
    unmasked: bool,
    subtitle: &str,
) -> Result<Vec<u8>, liandong_office::ExportError> {
    let columns: Vec<Column> = CLUE_COLUMNS
        .iter()
        .map(|(header, width)| Column {
            header,
            width: *width,
        })
        .collect();
    let rows: Vec<Vec<Cell>> = clues
        .iter()
        .map(|c| clue_row(c, unmasked).into_iter().map(Cell::from).collect())
        .collect();
    liandong_office::workbook(&[liandong_office::Sheet {
        name: "风险线索",
        title: "信息比对风险线索",
        subtitle,
        columns: &columns,
        rows: &rows,
    }])
}

/// The run summary: rows read, normalised, refused by class, matched, clues per rule.
pub fn summary(report: &RunReport, seconds: f64) -> String {
    let mut s = format!(
        "名单：{} 户 {} 人\n",
        report.roster_households, report.roster_persons
    );
    for (kind, n) in &report.datasets {
        let normalised = n.rows - n.ids_as_given - n.failed_total();
        s.push_str(&format!(
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
        ));
        let failed: Vec<String> = IdFailure::ALL
            .iter()
            .filter(|f| n.failed_of(**f) > 0)
            .map(|f| format!("{} {}", f.label(), n.failed_of(*f)))
            .collect();
        if !failed.is_empty() {
            s.push_str(&format!("（{}）", failed.join("，")));
        }
        s.push_str(&format!("；姓名规范化 {}\n", n.names_normalised));
    }
    s.push_str(&format!(
        "与名单比中：精确 {} 行，规范化后 {} 行\n",
        report.matched_exact, report.matched_normalized
    ));
    let mut total = 0;
    for r in &report.rules {
        total += r.clues;
        match &r.skipped {
            Some(why) => s.push_str(&format!("规则 {}：未运行，{}\n", r.code, why)),
            None if r.already_open > 0 => s.push_str(&format!(
                "规则 {}：线索 {} 条（另有 {} 条仍在处置中，不重复推送）\n",
                r.code, r.clues, r.already_open
            )),
            None => s.push_str(&format!("规则 {}：线索 {} 条\n", r.code, r.clues)),
        }
    }
    s.push_str(&format!("共 {total} 条线索，用时 {seconds:.2} 秒\n"));
    s
}
