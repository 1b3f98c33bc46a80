//! `liandong compare` as a script runs it: files in, clues and a summary out, no server.

use std::process::Command;

use chrono::NaiveDate;
use liandong_domain::IdNumber;

fn id(y: i32, m: u32, d: u32, seq: u16) -> String {
    let birth = NaiveDate::from_ymd_opt(y, m, d).expect("date");
    IdNumber::from_parts("411321", birth, seq)
        .expect("id")
        .expose()
        .to_owned()
}

fn compare(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liandong"))
        .arg("compare")
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn compare_writes_masked_clues_and_a_summary() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |f: &str| dir.path().join(f).display().to_string();
    let (a, b, c) = (id(1970, 1, 1, 11), id(2014, 5, 6, 12), id(1960, 2, 2, 41));
    std::fs::write(
        p("roster.csv"),
        format!(
            "户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\nH1,城关镇,东村,张大,{a},户主,脱贫户\nH1,城关镇,东村,张小,{b},之子,脱贫户\n"
        ),
    )
    .expect("write");
    // 张大 over 5,000 (his ID with a space inside), an outsider over 20,000, and
    // one row whose ID a spreadsheet mangled.
    let spaced = format!("{} {}", &a[..6], &a[6..]);
    std::fs::write(
        p("claims.csv"),
        format!(
            "身份证号,姓名,结算日期,总费用,个人自付\n{spaced},张大,2024-10-01,9000,6000\n{c},赵六,2024-02-01,40000,21000\n4.11321E+17,钱七,2024-02-01,100,50\n"
        ),
    )
    .expect("write");
    let out = compare(&[
        "--roster",
        &p("roster.csv"),
        "--dataset",
        &format!("medical_expense={}", p("claims.csv")),
        "--as-of",
        "2024-11-30",
        "--out",
        &p("clues.csv"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("名单：1 户 2 人"), "{stdout}");
    assert!(stdout.contains("读取 3 行"), "{stdout}");
    assert!(stdout.contains("被表格软件转成数字 1"), "{stdout}");
    assert!(
        stdout.contains("与名单比中：精确 0 行，规范化后 1 行"),
        "{stdout}"
    );
    assert!(
        stdout.contains("规则 medical_oop_monitored：线索 1 条"),
        "{stdout}"
    );
    assert!(
        stdout.contains("规则 medical_oop_new：线索 1 条"),
        "{stdout}"
    );
    assert!(
        stdout.contains("规则 not_insured：未运行，未提供“城乡居民医保参保”数据"),
        "{stdout}"
    );
    let clues = std::fs::read_to_string(p("clues.csv")).expect("clues");
    let lines: Vec<&str> = clues.lines().collect();
    assert_eq!(lines.len(), 3, "{clues}");
    assert!(
        lines[1].starts_with("medical_oop_monitored,因病,H1,张大,4113**********"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",normalized,1.00,"), "{}", lines[1]);
    assert!(
        lines[2].starts_with("medical_oop_new,因病,,赵六,"),
        "{}",
        lines[2]
    );
    assert!(
        !clues.contains(&a) && !clues.contains(&c),
        "masked unless asked"
    );

    // Unmasked, to .xlsx, read back.
    let out = compare(&[
        "--roster",
        &p("roster.csv"),
        "--dataset",
        &format!("medical_expense={}", p("claims.csv")),
        "--as-of",
        "2024-11-30",
        "--out",
        &p("clues.xlsx"),
        "--unmasked",
    ]);
    assert!(out.status.success());
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(p("clues.xlsx")).expect("xlsx");
    let range = book.worksheet_range("风险线索").expect("sheet");
    let cells: Vec<String> = range
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(cells.contains(&a), "the full number when asked");
    assert!(cells.iter().any(|c| c == "依据"));
}

/// The office's own rule file, one kind delivered as two files, and the rows left for a person
/// to confirm written beside the clues.
#[test]
fn compare_takes_a_rule_file_and_several_files_of_a_kind() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |f: &str| dir.path().join(f).display().to_string();
    let (a, b) = (id(1970, 1, 1, 11), id(2014, 5, 6, 12));
    std::fs::write(
        p("roster.csv"),
        format!(
            "户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\nH1,城关镇,东村,张大,{a},户主,脱贫户\nH1,城关镇,东村,张小,{b},之子,脱贫户\n"
        ),
    )
    .expect("write");
    let header = "身份证号,姓名,结算日期,总费用,个人自付\n";
    std::fs::write(p("a.csv"), format!("{header}{a},张大,2024-10-01,900,600\n")).expect("write");
    std::fs::write(
        p("b.csv"),
        format!("{header}{a},张大,2024-09-01,800,500\n4.11321E+17,张小,2024-09-02,30,20\n"),
    )
    .expect("write");
    std::fs::write(
        p("rules.json"),
        r#"{"policy_year": 2024, "version": 3, "rules": [
            {"code": "oop_1000", "title": "自付满一千元", "data": "medical_expense", "test": "match",
             "filters": [{"op": "within_days", "field": "settled_on", "days": 365}],
             "aggregate": {"sum": "out_of_pocket", "at_least": 1000},
             "finding": "illness", "severity": "medium", "route": {"departments": ["medinsure"]}}]}"#,
    )
    .expect("write");
    let out = compare(&[
        "--roster",
        &p("roster.csv"),
        "--dataset",
        &format!("medical_expense={}", p("a.csv")),
        "--dataset",
        &format!("medical_expense={}", p("b.csv")),
        "--rules",
        &p("rules.json"),
        "--as-of",
        "2024-11-30",
        "--out",
        &p("clues.csv"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 600 + 500 from the two files: over 1,000 only together.
    assert!(stdout.contains("规则 oop_1000：线索 1 条"), "{stdout}");
    assert!(
        !stdout.contains("medical_oop_monitored"),
        "only the file's rules run"
    );
    assert!(stdout.contains("读取 3 行"), "{stdout}");
    let clues = std::fs::read_to_string(p("clues.csv")).expect("clues");
    let lines: Vec<&str> = clues.lines().collect();
    assert_eq!(lines.len(), 2, "{clues}");
    assert!(lines[1].starts_with("oop_1000,因病,H1,张大,"), "{clues}");
    assert!(lines[1].contains("合计 1,100.00 元"), "{clues}");
    // 张小's mangled number: a candidate by name, for a person to confirm.
    let review = std::fs::read_to_string(p("clues.review.csv")).expect("review file");
    let rows: Vec<&str> = review.lines().collect();
    assert!(
        // With a byte order mark, so that Excel reads it as UTF-8.
        rows[0].starts_with("\u{feff}数据类型,来源,行号,文件中的身份证号,姓名,候选人"),
        "{review}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("b.csv,3,4.11***E+17,张小,张小,4113**********")),
        "{review}"
    );
    assert!(!review.contains(&b), "masked unless asked");
}

#[test]
fn compare_refuses_bad_input_with_the_place_named() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |f: &str| dir.path().join(f).display().to_string();
    let a = id(1970, 1, 1, 11);
    std::fs::write(
        p("roster.csv"),
        format!("户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\nH1,城关镇,东村,张大,{a},户主,脱贫户\nH1,城关镇,东村,张小,4.11321E+17,之子,脱贫户\n"),
    )
    .expect("write");
    std::fs::write(p("claims.csv"), "身份证号,姓名,结算日期,总费用,个人自付\n").expect("write");
    let base = |dataset: &str, out: &str| {
        compare(&[
            "--roster",
            &p("roster.csv"),
            "--dataset",
            dataset,
            "--out",
            out,
        ])
    };
    let out = base(
        &format!("medical_expense={}", p("claims.csv")),
        &p("clues.csv"),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("第 3 行“身份证号”列"), "{stderr}");
    assert!(
        !std::path::Path::new(&p("clues.csv")).exists(),
        "nothing written"
    );

    let out = base(&format!("medicine={}", p("claims.csv")), &p("clues.csv"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("“medicine”不是数据类型，可用的有：medical_expense"),
        "{stderr}"
    );
    let out = base(
        &format!("medical_expense={}", p("claims.csv")),
        &p("clues.txt"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--out 须为 .csv 或 .xlsx 文件"), "{stderr}");
}
