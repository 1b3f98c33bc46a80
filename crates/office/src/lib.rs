//! Print-ready Excel exports shared by every export of the platform. Text cells are written
//! as strings, and those beginning with `= + - @` carry Excel's quote prefix as well, so no
//! spreadsheet ever evaluates a value as a formula (CSV/formula injection).

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};

/// One cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n as f64)
    }
}

/// A column: its header and width in characters.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub header: &'a str,
    pub width: f64,
}

pub mod bulletin;
pub mod import;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("生成 Excel 文件失败：{0}")]
    Xlsx(#[from] XlsxError),
    #[error("生成 Word 文件失败：{0}")]
    Docx(String),
}

/// Whether a spreadsheet would read the text as a formula.
pub fn looks_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@'])
}

/// One worksheet of a workbook: a title, a subtitle line (date, filters), a header row
/// repeated on every printed page, and the rows.
pub struct Sheet<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub subtitle: &'a str,
    pub columns: &'a [Column<'a>],
    pub rows: &'a [Vec<Cell>],
}

/// A workbook of one or more sheets, landscape A4, fitted to the page width.
pub fn workbook(sheets: &[Sheet<'_>]) -> Result<Vec<u8>, ExportError> {
    let mut wb = Workbook::new();
    let font = "宋体";
    let title_fmt = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_font_name(font)
        .set_align(FormatAlign::Center);
    let sub_fmt = Format::new().set_font_size(10).set_font_name(font);
    let head_fmt = Format::new()
        .set_bold()
        .set_font_name(font)
        .set_border(FormatBorder::Thin)
        .set_background_color("#DDE6F0")
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let cell_fmt = Format::new()
        .set_font_name(font)
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let quoted_fmt = cell_fmt.clone().set_quote_prefix();
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet.name)?;
        let last_col = sheet.columns.len().saturating_sub(1) as u16;
        ws.merge_range(0, 0, 0, last_col, sheet.title, &title_fmt)?;
        ws.merge_range(1, 0, 1, last_col, sheet.subtitle, &sub_fmt)?;
        for (c, col) in sheet.columns.iter().enumerate() {
            ws.set_column_width(c as u16, col.width)?;
            ws.write_string_with_format(2, c as u16, col.header, &head_fmt)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = r as u32 + 3;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(s) if looks_like_formula(s) => {
                        ws.write_string_with_format(r, c, s, &quoted_fmt)?
                    }
                    Cell::Text(s) => ws.write_string_with_format(r, c, s, &cell_fmt)?,
                    Cell::Number(n) => ws.write_number_with_format(r, c, *n, &cell_fmt)?,
                };
            }
        }
        ws.set_landscape();
        ws.set_paper_size(9);
        ws.set_print_fit_to_pages(1, 0);
        ws.set_repeat_rows(2, 2)?;
        ws.set_freeze_panes(3, 0)?;
        ws.set_footer("&C第 &P 页，共 &N 页");
    }
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Reader, Xlsx};
    use std::io::Cursor;

    #[test]
    fn formula_like_text_stays_text() {
        let rows = vec![
            vec![
                Cell::from("=HYPERLINK(\"http://x\",\"点我\")"),
                Cell::from(1_i64),
            ],
            vec![Cell::from("+86 138"), Cell::from(2_i64)],
            vec![Cell::from("-1+2"), Cell::from(3_i64)],
            vec![Cell::from("@SUM(A1)"), Cell::from(4_i64)],
            vec![Cell::from("普通文本"), Cell::Number(0.5)],
        ];
        let cols = [
            Column {
                header: "内容",
                width: 30.0,
            },
            Column {
                header: "序号",
                width: 8.0,
            },
        ];
        let bytes = workbook(&[Sheet {
            name: "测试",
            title: "标题",
            subtitle: "2023-04-01",
            columns: &cols,
            rows: &rows,
        }])
        .expect("workbook");
        let mut x: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("open");
        let formulas = x.worksheet_formula("测试").expect("formulas");
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "no cell may hold a formula"
        );
        let range = x.worksheet_range("测试").expect("range");
        assert_eq!(
            range.get_value((3, 0)).map(|v| v.to_string()),
            Some("=HYPERLINK(\"http://x\",\"点我\")".into())
        );
        assert_eq!(
            range.get_value((6, 0)).map(|v| v.to_string()),
            Some("@SUM(A1)".into())
        );
        assert_eq!(
            range.get_value((2, 1)).map(|v| v.to_string()),
            Some("序号".into())
        );
        assert_eq!(
            range.get_value((7, 1)).map(|v| v.to_string()),
            Some("0.5".into())
        );
        assert_eq!(
            range.get_value((0, 0)).map(|v| v.to_string()),
            Some("标题".into())
        );
    }

    #[test]
    fn formula_detection() {
        assert!(looks_like_formula("=1"));
        assert!(looks_like_formula("-x"));
        assert!(!looks_like_formula("1=1"));
        assert!(!looks_like_formula(""));
    }
}
