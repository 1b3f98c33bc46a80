//! The quarterly bulletin (季通报) as a Word document in the official-document layout of
//! GB/T 9704-2012: A4 with the standard margins, a red masthead and rule, the document
//! number, a 2号 title in 小标宋, a 3号 仿宋 body on a fixed line pitch, tables, and the
//! issuing body and date at the end.

use docx_rs::{
    AlignmentType, BorderType, Docx, LineSpacing, LineSpacingType, PageMargin, Paragraph, Run,
    RunFonts, SpecialIndentType, Table, TableBorder, TableBorderPosition, TableBorders, TableCell,
    TableRow, WidthType,
};

use crate::ExportError;

/// Body font of Chinese official documents.
pub const BODY_FONT: &str = "仿宋_GB2312";
/// Title and masthead font.
pub const TITLE_FONT: &str = "方正小标宋简体";
const HEADING_FONT: &str = "黑体";
const RED: &str = "FF0000";

/// One table of the bulletin.
#[derive(Debug, Clone)]
pub struct BulletinTable {
    pub heading: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The content of a bulletin.
#[derive(Debug, Clone)]
pub struct Bulletin {
    /// 发文机关, e.g. 南召县巩固拓展脱贫攻坚成果工作专班.
    pub issuer: String,
    /// 发文字号, e.g. 召巩固拓展专班〔2023〕5号.
    pub doc_no: String,
    pub title: String,
    /// 主送机关, e.g. 各乡镇、县直有关单位：
    pub addressee: String,
    pub opening: Vec<String>,
    pub tables: Vec<BulletinTable>,
    pub closing: Vec<String>,
    /// 成文日期 in Chinese, e.g. 2023年7月10日.
    pub date: String,
}

fn fonts(east_asia: &str) -> RunFonts {
    RunFonts::new()
        .east_asia(east_asia)
        .ascii("Times New Roman")
        .hi_ansi("Times New Roman")
}

fn run(text: &str, font: &str, half_points: usize) -> Run {
    Run::new()
        .add_text(text)
        .fonts(fonts(font))
        .size(half_points)
}

/// 3号 (16 pt) body text on the 28.95 pt pitch of 22 lines a page.
fn body(text: &str) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, BODY_FONT, 32))
        .line_spacing(
            LineSpacing::new()
                .line_rule(LineSpacingType::Exact)
                .line(579),
        )
        .indent(None, Some(SpecialIndentType::FirstLine(640)), None, None)
}

fn heading(text: &str) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, HEADING_FONT, 32))
        .line_spacing(
            LineSpacing::new()
                .line_rule(LineSpacingType::Exact)
                .line(579),
        )
        .indent(None, Some(SpecialIndentType::FirstLine(640)), None, None)
}

fn cell(text: &str, bold: bool) -> TableCell {
    let mut r = run(text, BODY_FONT, 28);
    if bold {
        r = r.bold();
    }
    TableCell::new().add_paragraph(Paragraph::new().add_run(r).align(AlignmentType::Center))
}

/// Builds the .docx.
pub fn bulletin_docx(b: &Bulletin) -> Result<Vec<u8>, ExportError> {
    // A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (in twips).
    let mut doc = Docx::new()
        .page_size(11906, 16838)
        .page_margin(
            PageMargin::new()
                .top(2098)
                .bottom(1984)
                .left(1588)
                .right(1474),
        )
        .default_fonts(fonts(BODY_FONT));
    doc = doc.add_paragraph(
        Paragraph::new()
            // 22 pt keeps the full name of the issuing body on one line of the type area.
            .add_run(run(&format!("{}文件", b.issuer), TITLE_FONT, 44).color(RED))
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(400).after(400)),
    );
    let number = Paragraph::new()
        .add_run(run(&b.doc_no, BODY_FONT, 32))
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().after(200));
    doc = doc.add_paragraph(number);
    // The red rule under the document number: a table of one empty row whose only border is
    // its bottom one (paragraph borders from this writer are ignored by some readers).
    let rule = TableRow::new(vec![
        TableCell::new().add_paragraph(Paragraph::new().add_run(Run::new().size(2)))
    ]);
    doc = doc.add_table(
        Table::new(vec![rule])
            .width(8844, WidthType::Dxa)
            .set_borders(
                TableBorders::with_empty().set(
                    TableBorder::new(TableBorderPosition::Bottom)
                        .border_type(BorderType::Single)
                        .size(16)
                        .color(RED),
                ),
            ),
    );
    doc = doc.add_paragraph(
        Paragraph::new()
            .add_run(run(&b.title, TITLE_FONT, 44))
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(600).after(400)),
    );
    doc = doc.add_paragraph(
        Paragraph::new()
            .add_run(run(&b.addressee, BODY_FONT, 32))
            .line_spacing(
                LineSpacing::new()
                    .line_rule(LineSpacingType::Exact)
                    .line(579),
            ),
    );
    for p in &b.opening {
        doc = doc.add_paragraph(body(p));
    }
    for t in &b.tables {
        doc = doc.add_paragraph(heading(&t.heading));
        let mut rows = vec![TableRow::new(
            t.header.iter().map(|h| cell(h, true)).collect(),
        )];
        rows.extend(
            t.rows
                .iter()
                .map(|r| TableRow::new(r.iter().map(|c| cell(c, false)).collect())),
        );
        // The type area is 156 mm (8844 twips); the unit and basis columns get the room.
        let grid = if t.header.len() == 6 {
            vec![760, 2300, 1380, 1280, 1280, 1844]
        } else {
            vec![8844 / t.header.len().max(1); t.header.len()]
        };
        doc = doc.add_table(Table::new(rows).set_grid(grid).width(8844, WidthType::Dxa));
    }
    for p in &b.closing {
        doc = doc.add_paragraph(body(p));
    }
    // Issuing body and date, right-aligned with four characters of space after the date.
    for (text, right) in [(&b.issuer, 1280), (&b.date, 1280)] {
        doc = doc.add_paragraph(
            Paragraph::new()
                .add_run(run(text, BODY_FONT, 32))
                .align(AlignmentType::Right)
                .indent(None, None, Some(right), None)
                .line_spacing(
                    LineSpacing::new()
                        .line_rule(LineSpacingType::Exact)
                        .line(579)
                        .before(if text == &b.issuer { 1158 } else { 0 }),
                ),
        );
    }
    let mut out = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut out)
        .map_err(|e| ExportError::Docx(e.to_string()))?;
    Ok(out.into_inner())
}

/// A date as official documents write it: 2023年7月10日.
pub fn chinese_date(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulletin_reads_back_with_its_layout() {
        let b = Bulletin {
            issuer: "南召县巩固拓展脱贫攻坚成果工作专班".into(),
            doc_no: "召巩固拓展专班〔2023〕5号".into(),
            title: "关于2023年第二季度排序情况的通报".into(),
            addressee: "各乡镇、县直有关单位：".into(),
            opening: vec!["现将排序结果通报如下。".into()],
            tables: vec![BulletinTable {
                heading: "一、紧密型部门".into(),
                header: vec!["名次".into(), "单位".into(), "得分".into()],
                rows: vec![vec!["1".into(), "县教育局".into(), "93.75".into()]],
            }],
            closing: vec!["请各单位认真整改。".into()],
            date: chinese_date(chrono::NaiveDate::from_ymd_opt(2023, 7, 10).expect("date")),
        };
        let bytes = bulletin_docx(&b).expect("docx");
        let doc = docx_rs::read_docx(&bytes).expect("readable");
        let json = doc.json();
        for needle in [
            "召巩固拓展专班〔2023〕5号",
            "关于2023年第二季度排序情况的通报",
            "县教育局",
            "93.75",
            "2023年7月10日",
            BODY_FONT,
            TITLE_FONT,
            "FF0000",
        ] {
            assert!(json.contains(needle), "{needle} missing");
        }
        assert!(json.contains("11906") && json.contains("16838"), "A4");
    }
}
