//! Every rule kind, normalisation step and ID error class on small files whose answers are
//! worked out by hand.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;

use chrono::NaiveDate;
use liandong_compare::load::{IdFailure, LoadError};
use liandong_compare::rules::Severity;
use liandong_compare::{
    load, output, Clue, ClueKey, DataKind, Decided, MatchMethod, Roster, RuleSet, Run,
};
use liandong_domain::IdNumber;
use liandong_office::import::{read_csv, Limits};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn id(y: i32, m: u32, d: u32, seq: u16) -> String {
    IdNumber::from_parts("411321", date(y, m, d), seq)
        .expect("id")
        .expose()
        .to_owned()
}

const AS_OF: (i32, u32, u32) = (2024, 11, 30);

/// H1: 张大 (1970), his son 张小 (2014, school age, not enrolled), on the payroll: 张大.
/// H2: 李一 (1950, over 60), 李二 (2012, enrolled).
/// H3: 王五 (1985), 边缘易致贫户.
fn roster() -> (Roster, Vec<String>) {
    let ids = vec![
        id(1970, 1, 1, 11),
        id(2014, 5, 6, 12),
        id(1950, 3, 3, 21),
        id(2012, 7, 8, 22),
        id(1985, 9, 9, 31),
    ];
    let csv = format!(
        "户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\n\
         H1,城关镇,东村,张大,{},户主,脱贫户\n\
         H1,城关镇,东村,张小,{},之子,脱贫户\n\
         H2,南河店镇,西村,李一,{},户主,脱贫不稳定户\n\
         H2,南河店镇,西村,李二,{},之孙,脱贫不稳定户\n\
         H3,城关镇,北村,王五,{},户主,边缘易致贫户\n",
        ids[0], ids[1], ids[2], ids[3], ids[4]
    );
    let limits = Limits::default();
    let sheet = read_csv(csv.as_bytes(), &[], limits).expect("csv");
    let rows =
        liandong_compare::parse_roster(&sheet.headers, &sheet.rows, None, &AtomicUsize::new(0))
            .expect("roster");
    (Roster::from_rows(rows), ids)
}

fn dataset(kind: DataKind, csv: &str) -> liandong_compare::Dataset {
    load(
        kind,
        &[(format!("{}.csv", kind.code()), csv.as_bytes().to_vec())],
    )
    .expect("loads")
}

fn run(datasets: &[liandong_compare::Dataset]) -> (Vec<Clue>, liandong_compare::RunReport) {
    let (roster, _) = roster();
    let rules = RuleSet::defaults();
    let open = HashSet::new();
    Run {
        roster: &roster,
        datasets,
        rules: &rules,
        as_of: date(AS_OF.0, AS_OF.1, AS_OF.2),
        open: &open,
        fuzzy: true,
        decided: None,
    }
    .execute(&mut |_, _| {})
}

/// `id` with its 16th digit mistyped.
fn mistyped(id: &str) -> String {
    let mut typo = id.as_bytes().to_vec();
    typo[15] = if typo[15] == b'9' { b'8' } else { typo[15] + 1 };
    String::from_utf8(typo).expect("ascii")
}

fn of<'a>(clues: &'a [Clue], rule: &str) -> Vec<&'a Clue> {
    clues.iter().filter(|c| c.rule == rule).collect()
}

#[test]
fn out_of_pocket_is_summed_over_the_window_per_person() {
    let (_, ids) = roster();
    let outsider = id(1960, 2, 2, 41);
    // 张大: 3,000 + 2,500 inside the window (5,500 >= 5,000) and 9,000 before it.
    // 李一: 4,999.99 inside: below. The outsider: 12,000 + 8,000 = 20,000: a new candidate.
    let csv = format!(
        "身份证号,姓名,结算日期,总费用,个人自付\n\
         {a},张大,2024-03-01,6000,3000\n\
         {a},张大,2024-11-30,5000.5,2500\n\
         {a},张大,2023-11-30,20000,9000\n\
         {b},李一,2024-06-01,8000,4999.99\n\
         {o},赵六,2024-01-10,30000,12000\n\
         {o},赵 六,2024-10-10,10000,8000.00\n",
        a = ids[0],
        b = ids[2],
        o = outsider
    );
    let (clues, report) = run(&[dataset(DataKind::MedicalExpense, &csv)]);
    let m = of(&clues, "medical_oop_monitored");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].household_no.as_deref(), Some("H1"));
    assert_eq!(m[0].subjects[0].name, "张大");
    assert_eq!(
        m[0].rows.len(),
        2,
        "the row before the window is not behind the clue"
    );
    assert!(
        m[0].evidence
            .contains("医疗费用结算 2 条，个人自付合计 5,500.00 元，达到 5,000.00 元的阈值"),
        "{}",
        m[0].evidence
    );
    assert!(
        m[0].evidence.contains("2023-12-02 至 2024-11-30"),
        "{}",
        m[0].evidence
    );
    assert!(m[0].evidence.contains("medical_expense.csv 第 2 行"));
    let n = of(&clues, "medical_oop_new");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].household_no, None);
    assert_eq!(
        n[0].subjects[0].name, "赵六",
        "the name is read without its space"
    );
    assert_eq!(n[0].region, 411321);
    assert!(
        n[0].evidence.contains("合计 20,000.00 元"),
        "{}",
        n[0].evidence
    );
    assert_eq!(report.matched_exact, 4);
    assert_eq!(report.datasets[0].1.names_normalised, 1);
    assert_eq!(
        n[0].township, None,
        "with no address, the ID names only the county: the office routes it"
    );
}

#[test]
fn a_new_candidate_goes_to_the_township_its_address_names() {
    let outsider = id(1960, 2, 2, 41);
    let other = id(1961, 3, 3, 42);
    let far = id(1962, 4, 4, 43);
    // The first row has no address; the second names 南河店镇 by its short name. 孙七's
    // address names no township of the roster; 周八's names two by their short names.
    let csv = format!(
        "身份证号,姓名,结算日期,总费用,个人自付,住址
         {o},赵六,2024-01-10,30000,12000,
         {o},赵六,2024-10-10,10000,8000,南召县 南河店 西村三组
         {p},孙七,2024-05-10,40000,21000,外省某市某街
         {q},周八,2024-05-11,40000,25000,城关南河店交界处
",
        o = outsider,
        p = other,
        q = far
    );
    let (clues, _) = run(&[dataset(DataKind::MedicalExpense, &csv)]);
    let n = of(&clues, "medical_oop_new");
    assert_eq!(n.len(), 3);
    let by_name = |name: &str| {
        n.iter()
            .find(|c| c.subjects[0].name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let zhao = by_name("赵六");
    assert_eq!(zhao.township.as_deref(), Some("南河店镇"));
    assert!(
        zhao.evidence.contains("按住址归属南河店镇"),
        "{}",
        zhao.evidence
    );
    assert!(
        zhao.evidence.contains("住址 南召县 南河店 西村三组"),
        "the address is shown with its row: {}",
        zhao.evidence
    );
    assert_eq!(by_name("孙七").township, None);
    assert_eq!(
        by_name("周八").township,
        None,
        "two townships fit: no guess"
    );
}

#[test]
fn addresses_are_placed_in_townships_only_when_one_fits() {
    use liandong_compare::township_by_address as place;
    let towns = ["城关镇", "南河店镇", "文殊乡", "弦山街道", "马畈镇", "关镇"];
    assert_eq!(
        place("南召县城关镇东村", &towns),
        Some("城关镇"),
        "the longest whole name wins"
    );
    assert_eq!(
        place("南召县 文殊 乡 东岳村", &towns),
        Some("文殊乡"),
        "spaces are ignored"
    );
    assert_eq!(place("弦山办事处前楼", &towns), Some("弦山街道"));
    assert_eq!(place("马畈村", &towns), Some("马畈镇"));
    assert_eq!(
        place("城关南河店", &towns),
        None,
        "two shortened names: no guess"
    );
    assert_eq!(place("郑州市金水区", &towns), None);
    assert_eq!(place("", &towns), None);
    assert_eq!(
        place("关", &towns),
        None,
        "a one-character stem is never used"
    );
    assert_eq!(place("城关镇", &[]), None);
}

#[test]
fn absences_find_the_uninsured_and_school_age_children_not_enrolled() {
    let (_, ids) = roster();
    // Insured in 2024: everyone but 王五 (his row is for 2023) and 李二 (停保).
    let insured = format!(
        "身份证号,姓名,参保年度,参保状态\n{},张大,2024,正常\n{},张小,2024,正常\n{},李一,2024,\n{},李二,2024,停保\n{},王五,2023,正常\n",
        ids[0], ids[1], ids[2], ids[3], ids[4]
    );
    // 李二 (12) is enrolled; 张小 (10) has only a 辍学 row.
    let school = format!(
        "身份证号,姓名,学校,学籍状态\n{},李二,南河店镇中心小学,在读\n{},张小,城关镇第一小学,辍学\n",
        ids[3], ids[1]
    );
    let (clues, _) = run(&[
        dataset(DataKind::InsuranceEnrollment, &insured),
        dataset(DataKind::SchoolEnrollment, &school),
    ]);
    let uninsured: Vec<&str> = of(&clues, "not_insured")
        .iter()
        .map(|c| c.subjects[0].name.as_str())
        .collect();
    assert_eq!(uninsured, ["李二", "王五"]);
    let school = of(&clues, "school_age_not_enrolled");
    assert_eq!(school.len(), 1);
    assert_eq!(school[0].subjects[0].name, "张小");
    assert!(
        school[0]
            .evidence
            .contains("张小 10 周岁（规则范围 6～15 周岁）"),
        "{}",
        school[0].evidence
    );
}

#[test]
fn matches_roll_up_to_households_and_carry_the_rows() {
    let (_, ids) = roster();
    let payroll = format!("身份证号,姓名,工作单位\n{},张大,县财政局\n", ids[0]);
    let vehicles = format!(
        "身份证号,姓名,号牌号码,车辆类型\n{},张大,豫R12345,小型轿车\n{},张小,豫R54321,小型轿车\n{},李一,豫R00001,摩托车\n",
        ids[0], ids[1], ids[2]
    );
    let (clues, _) = run(&[
        dataset(DataKind::PublicPayroll, &payroll),
        dataset(DataKind::Vehicles, &vehicles),
    ]);
    let p = of(&clues, "public_payroll_member");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].finding.label(), "资格存疑");
    assert_eq!(p[0].severity, Severity::Low);
    let v = of(&clues, "vehicle_owner");
    assert_eq!(
        v.len(),
        1,
        "two cars in one household are one clue; a motorbike none"
    );
    assert_eq!(v[0].household_no.as_deref(), Some("H1"));
    assert_eq!(v[0].subjects.len(), 2);
    assert_eq!(v[0].rows.len(), 2);
    assert!(
        v[0].evidence.contains("号牌号码 豫R12345"),
        "{}",
        v[0].evidence
    );
}

#[test]
fn low_income_households_without_the_waiver_are_found_through_another_data_set() {
    let (_, ids) = roster();
    let outsider = id(1940, 1, 1, 51);
    // 张小's household receives the waiver through 张大's account; 李一 and the outsider do not.
    let low = format!(
        "身份证号,姓名,救助类别,起始日期\n{},张小,低保,2022-01-01\n{},李一,特困,2021-05-01\n{},孙七,低保,2020-01-01\n{},王五,低收入,2023-01-01\n",
        ids[1], ids[2], outsider, ids[4]
    );
    let waiver = format!(
        "身份证号,姓名,减免月份,减免电量\n{},张大,2024-10,10\n",
        ids[0]
    );
    let (clues, _) = run(&[
        dataset(DataKind::LowIncome, &low),
        dataset(DataKind::ElectricityWaiver, &waiver),
    ]);
    let w = of(&clues, "low_income_without_power_waiver");
    let who: Vec<(Option<&str>, &str)> = w
        .iter()
        .map(|c| (c.household_no.as_deref(), c.subjects[0].name.as_str()))
        .collect();
    assert_eq!(who, [(Some("H2"), "李一"), (None, "孙七")]);
    assert!(
        w[0].evidence.contains("救助类别为低保/特困"),
        "{}",
        w[0].evidence
    );
}

#[test]
fn the_other_kinds_raise_their_clues() {
    let (_, ids) = roster();
    let cases = [
        (DataKind::UnsafeHousing, "身份证号,姓名,鉴定等级,鉴定日期\n{a},张大,D,2024-05-01\n{b},李一,B,2024-05-01\n", "unsafe_housing"),
        (DataKind::WaterSafety, "身份证号,姓名,问题类型,发现日期,解决情况\n{a},张大,水量不足,2024-07-01,未解决\n{b},李一,水质,2024-07-01,已解决\n", "unsafe_water"),
        (DataKind::Disability, "身份证号,姓名,残疾证号,残疾类别,残疾等级\n{a},张大,41132119700101001144,肢体,二级\n{b},李一,41132119500303002142,视力,四级\n", "severe_disability"),
        (DataKind::AccidentVictims, "身份证号,姓名,事故类型,发生日期\n{a},张大,交通事故,2024-11-01\n{b},李一,交通事故,2024-01-01\n", "accident_victim"),
        (DataKind::DisasterVictims, "身份证号,姓名,灾害类型,发生日期\n{a},张大,洪涝,2024-09-15\n{b},李一,冰雹,2023-09-15\n", "disaster_victim"),
        (DataKind::Employment, "身份证号,姓名,就业状态\n{a},张大,失业\n{b},李一,稳定就业\n", "lost_employment"),
        (DataKind::MicrocreditOverdue, "身份证号,姓名,贷款金额,逾期金额,逾期天数\n{a},张大,50000,20000,120\n{b},李一,30000,1000,30\n", "microcredit_overdue"),
    ];
    for (kind, csv, rule) in cases {
        let csv = csv.replace("{a}", &ids[0]).replace("{b}", &ids[2]);
        let (clues, _) = run(&[dataset(kind, &csv)]);
        let found: Vec<Option<&str>> = of(&clues, rule)
            .iter()
            .map(|c| c.household_no.as_deref())
            .collect();
        assert_eq!(found, [Some("H1")], "{rule}");
    }
    // Pensions: 李一 (74) draws none.
    let pension = format!("身份证号,姓名,参保状态\n{},张大,缴费\n", ids[0]);
    let (clues, _) = run(&[dataset(DataKind::Pension, &pension)]);
    let p = of(&clues, "elderly_without_pension");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].subjects[0].name, "李一");
}

#[test]
fn every_normalisation_step_and_error_class_is_counted() {
    let (_, ids) = roster();
    let a = &ids[0];
    let fifteen = format!("{}{}", &a[..6], &a[8..17]);
    let full_width: String = a
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
        .collect();
    let mut bad_check = a.clone().into_bytes();
    bad_check[17] = if bad_check[17] == b'0' { b'1' } else { b'0' };
    let bad_check = String::from_utf8(bad_check).expect("ascii");
    let rows = [
        a.clone(),                            // as given
        format!(" {} ", &a[..10]) + &a[10..], // spaces
        full_width,                           // full width
        fifteen,                              // 15 digits
        "4.11321E+17".to_owned(),             // mangled
        format!("{}.0", &a[..17]),            // trailing .0
        a[..16].to_owned(),                   // wrong length
        format!("{}A", &a[..17]),             // invalid character
        "411321199002301230".to_owned(),      // no such birth date
        bad_check,                            // check digit
        String::new(),                        // empty
    ];
    let mut csv = String::from("身份证号,姓名,参保年度\n");
    for r in &rows {
        csv.push_str(&format!("{r},张大,2024\n"));
    }
    let ds = dataset(DataKind::InsuranceEnrollment, &csv);
    let n = &ds.report;
    assert_eq!(n.rows, 11);
    assert_eq!(n.ids_as_given, 1);
    assert_eq!(
        (n.spaces_removed, n.full_width, n.lowercase_x, n.upgraded_15),
        (1, 1, 0, 1)
    );
    let classes: Vec<u64> = IdFailure::ALL.iter().map(|f| n.failed_of(*f)).collect();
    // Empty, mangled (both forms), wrong length, invalid character, birth date, check digit.
    assert_eq!(classes, [1, 2, 1, 1, 1, 1]);
    let part = &ds.parts[0];
    let methods: Vec<Option<bool>> = part
        .ids
        .iter()
        .map(|c| c.key().map(|_| c.normalised()))
        .collect();
    assert_eq!(
        &methods[..4],
        [Some(false), Some(true), Some(true), Some(true)]
    );
    assert_eq!(part.failed_ids.len(), 7);
    assert_eq!(part.failed_ids[0], (4, "4.11321E+17".to_owned()));
    // The department is told where they are, row by row, without the numbers themselves.
    let listed = output::failed_id_rows(&ds);
    assert_eq!(
        listed,
        "；身份证号无法使用的行：insurance_enrollment.csv 第 6 行（被表格软件转成数字），\
         insurance_enrollment.csv 第 7 行（被表格软件转成数字），insurance_enrollment.csv 第 8 行（位数错误），\
         insurance_enrollment.csv 第 9 行（含非法字符），insurance_enrollment.csv 第 10 行（出生日期不存在），\
         insurance_enrollment.csv 第 11 行（校验码错误），insurance_enrollment.csv 第 12 行（身份证号为空）"
    );
    let many: String = (0..25).map(|_| "4.11321E+17,甲,2024\n").collect();
    let many = dataset(
        DataKind::InsuranceEnrollment,
        &format!("身份证号,姓名,参保年度\n{many}"),
    );
    let listed = output::failed_id_rows(&many);
    assert_eq!(listed.matches("行（").count(), output::FAILED_ROWS_LISTED);
    assert!(listed.ends_with(" 等共 25 行"), "{listed}");
    assert_eq!(
        output::failed_id_rows(&dataset(
            DataKind::InsuranceEnrollment,
            &format!("身份证号,姓名,参保年度\n{a},甲,2024\n")
        )),
        ""
    );
    // Lowercase x on its own: a number whose check character is X, written x.
    let x = (0..1000)
        .map(|seq| id(1949, 12, 31, seq))
        .find(|i| i.ends_with('X'))
        .expect("a number ending in X");
    let ds = dataset(
        DataKind::InsuranceEnrollment,
        &format!("身份证号,姓名,参保年度\n{},甲,2024\n", x.to_lowercase()),
    );
    assert_eq!(ds.report.lowercase_x, 1);
    assert_eq!(ds.report.ids_as_given, 0);
    let key = ds.parts[0].ids[0].key().expect("read");
    assert_eq!(key.id_number().expose(), x);
}

#[test]
fn a_normalised_match_says_so_in_the_export() {
    let (_, ids) = roster();
    let spaced = format!("{} {}", &ids[0][..6], &ids[0][6..]);
    let csv = format!("身份证号,姓名,工作单位\n{spaced},张大,县财政局\n");
    let (clues, report) = run(&[dataset(DataKind::PublicPayroll, &csv)]);
    assert_eq!((report.matched_exact, report.matched_normalized), (0, 1));
    assert_eq!(clues[0].subjects[0].method, MatchMethod::Normalized);
    let out = String::from_utf8(output::clues_csv(&clues, false)).expect("utf-8");
    let mut lines = out.lines();
    assert!(lines
        .next()
        .expect("header")
        .starts_with("\u{feff}规则,风险类型,户编号,姓名,身份证号,匹配方式,置信度,依据"));
    let row = lines.next().expect("row");
    assert!(
        row.starts_with("public_payroll_member,资格存疑,H1,张大,4113**********"),
        "{row}"
    );
    assert!(row.contains(",normalized,1.00,"), "{row}");
    assert!(!row.contains(&ids[0]), "masked by default");
    let full = String::from_utf8(output::clues_csv(&clues, true)).expect("utf-8");
    assert!(full.contains(&ids[0]));
}

#[test]
fn an_open_clue_is_not_raised_again() {
    let (roster, ids) = roster();
    let payroll = format!("身份证号,姓名,工作单位\n{},张大,县财政局\n", ids[0]);
    let data = [dataset(DataKind::PublicPayroll, &payroll)];
    let rules = RuleSet::defaults();
    let open: HashSet<ClueKey> = [ClueKey {
        rule: "public_payroll_member".into(),
        subject: "H1".into(),
    }]
    .into();
    let (clues, report) = Run {
        roster: &roster,
        datasets: &data,
        rules: &rules,
        as_of: date(2024, 11, 30),
        open: &open,
        fuzzy: true,
        decided: None,
    }
    .execute(&mut |_, _| {});
    assert!(of(&clues, "public_payroll_member").is_empty());
    let outcome = report
        .rules
        .iter()
        .find(|r| r.code == "public_payroll_member")
        .expect("outcome");
    assert_eq!((outcome.clues, outcome.already_open), (0, 1));
    let skipped = report
        .rules
        .iter()
        .find(|r| r.code == "not_insured")
        .expect("outcome");
    assert_eq!(
        skipped.skipped.as_deref(),
        Some("未提供“城乡居民医保参保”数据")
    );
}

#[test]
fn bad_cells_refuse_the_data_set_naming_file_row_and_column() {
    let csv = "身份证号,姓名,结算日期,总费用,个人自付\n\
               411321197001010011,甲,2024-13-01,100,50\n\
               411321197001010011,乙,2024-01-01,一百,50\n\
               411321197001010011,丙,2024-01-01,100,\n";
    let e = load(
        DataKind::MedicalExpense,
        &[("m.csv".into(), csv.as_bytes().to_vec())],
    )
    .expect_err("refused");
    let LoadError::BadCells { listed, total } = &e else {
        panic!("{e}")
    };
    assert_eq!(*total, 3);
    let named: Vec<(u32, &str)> = listed.iter().map(|c| (c.row, c.column)).collect();
    assert_eq!(named, [(2, "结算日期"), (3, "总费用"), (4, "个人自付")]);
    assert!(
        e.to_string()
            .contains("m.csv 第 3 行“总费用”列：“一百”不是金额"),
        "{e}"
    );
    let e = load(
        DataKind::MedicalExpense,
        &[("m.csv".into(), "身份证号,姓名\n1,2\n".as_bytes().to_vec())],
    )
    .expect_err("headers");
    assert_eq!(
        e.to_string(),
        "m.csv：缺少必需的列：结算日期、总费用、个人自付（表头须在第 1 行）"
    );
}

#[test]
fn large_files_read_in_slices_number_rows_as_the_file_does() {
    let (_, ids) = roster();
    // Over a mebibyte, so the file is cut in slices read in parallel; one bad cell near the end.
    let mut csv = String::from("身份证号,姓名,结算日期,总费用,个人自付\r\n");
    let n = 30_000;
    for i in 0..n {
        let amount = if i == n - 7 {
            "x".to_owned()
        } else {
            "1.00".to_owned()
        };
        csv.push_str(&format!("{},张大,2024-01-01,2,{amount}\r\n", ids[0]));
    }
    let e = load(
        DataKind::MedicalExpense,
        &[("big.csv".into(), csv.clone().into_bytes())],
    )
    .expect_err("bad cell");
    let LoadError::BadCells { listed, .. } = e else {
        panic!("refused otherwise")
    };
    assert_eq!(listed[0].row, n - 7 + 2);
    let fixed = csv.replace(",x\r\n", ",1.00\r\n");
    let ds = load(
        DataKind::MedicalExpense,
        &[("big.csv".into(), fixed.into_bytes())],
    )
    .expect("ok");
    assert!(ds.parts.len() > 1);
    let rows: Vec<u32> = ds.parts.iter().flat_map(|p| p.row_no.iter()).collect();
    assert_eq!(rows, (2..n + 2).collect::<Vec<u32>>());
}

#[test]
fn quoted_gbk_and_xlsx_files_are_read_alike() {
    let (_, ids) = roster();
    let plain = format!(
        "身份证号,姓名,工作单位\n{},张大,\"县财政局,预算股\"\n",
        ids[0]
    );
    let gbk = encoding_rs::GBK.encode(&plain).0.into_owned();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let notes = wb.add_worksheet();
    notes.write_string(0, 0, "填写说明").expect("cell");
    let ws = wb.add_worksheet();
    for (c, h) in ["身份证号", "姓名", "工作单位"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("cell");
    }
    ws.write_string(1, 0, &ids[0]).expect("cell");
    ws.write_string(1, 1, "张大").expect("cell");
    ws.write_string(1, 2, "县财政局,预算股").expect("cell");
    let xlsx = wb.save_to_buffer().expect("xlsx");
    for bytes in [plain.into_bytes(), gbk, xlsx] {
        let ds = load(DataKind::PublicPayroll, &[("p".into(), bytes)]).expect("loads");
        assert_eq!(ds.rows(), 1);
        assert_eq!(ds.parts[0].text(2, 0), Some("县财政局,预算股"));
        assert_eq!(ds.parts[0].row_no.iter().collect::<Vec<_>>(), [2]);
    }
}

#[test]
fn rows_whose_id_fails_are_matched_fuzzily_or_sent_for_review() {
    let (_, ids) = roster();
    // 张大's number with one digit mistyped; 李一's kept only as far as a spreadsheet shows.
    let typo = mistyped(&ids[0]);
    let csv = format!(
        "身份证号,姓名,结算日期,总费用,个人自付\n{typo},张大,2024-10-01,9000,6000\n4.11321E+17,李一,2024-10-01,9000,6000\n4.11321E+17,无名,2024-10-01,10,5\n"
    );
    let (clues, report) = run(&[dataset(DataKind::MedicalExpense, &csv)]);
    assert_eq!(
        (
            report.matched_fuzzy,
            report.review.len(),
            report.unmatched_failed
        ),
        (1, 1, 1)
    );
    let m = of(&clues, "medical_oop_monitored");
    assert_eq!(m.len(), 1, "only the sure match counts toward a clue");
    assert_eq!(m[0].subjects[0].name, "张大");
    assert_eq!(m[0].subjects[0].method, MatchMethod::Fuzzy);
    assert!(m[0].subjects[0].confidence >= liandong_compare::fuzzy::ACCEPT);
    let row = String::from_utf8(output::clues_csv(&clues, false)).expect("utf-8");
    assert!(
        row.contains(",fuzzy,1.00,") || row.contains(",fuzzy,0.99,"),
        "{row}"
    );
    let r = &report.review[0];
    assert_eq!((r.row, r.name.as_str()), (3, "李一"));
    assert_eq!(r.candidates[0].1, "李一");
    let review = output::review_rows(&report.review, false);
    assert_eq!(review[0][3], "4.11***E+17", "the file's text is masked too");
    assert!(review[0][6].starts_with("4113**********"));
}

/// A name written in traditional characters is the roster's name once simplified: the
/// fallback is as sure of it as of the name written the roster's way.
#[test]
fn a_traditional_name_is_matched_as_its_simplified_form() {
    let (_, ids) = roster();
    let typo = mistyped(&ids[0]);
    let csv = format!("身份证号,姓名,结算日期,总费用,个人自付\n{typo},張大,2024-10-01,9000,6000\n");
    let (clues, report) = run(&[dataset(DataKind::MedicalExpense, &csv)]);
    assert_eq!(report.datasets[0].1.names_simplified, 1);
    assert_eq!((report.matched_fuzzy, report.review.len()), (1, 0));
    let m = of(&clues, "medical_oop_monitored");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].subjects[0].name, "张大");
    assert!(m[0].subjects[0].confidence >= liandong_compare::fuzzy::ACCEPT);
    let summary = output::dataset_summary(DataKind::MedicalExpense, &report.datasets[0].1);
    assert!(summary.contains("繁体姓名转简体 1"), "{summary}");
}

#[test]
fn evidence_never_shows_a_number_built_on_an_id() {
    let (_, ids) = roster();
    let certificate = format!("{}44", ids[0]);
    let csv = format!(
        "身份证号,姓名,残疾证号,残疾类别,残疾等级\n{},张大,{certificate},肢体,一级\n",
        ids[0]
    );
    let (clues, _) = run(&[dataset(DataKind::Disability, &csv)]);
    let c = of(&clues, "severe_disability");
    assert_eq!(c.len(), 1);
    assert!(!c[0].evidence.contains(&certificate), "{}", c[0].evidence);
    assert!(
        c[0].evidence
            .contains(&format!("残疾证号 {}", &certificate[..4])),
        "{}",
        c[0].evidence
    );
}

#[test]
fn each_member_of_a_household_has_their_own_open_clue() {
    let (roster, ids) = roster();
    // 张大, 张小 (both of H1) and 李二 uninsured; 张大's clue is still open: his son's is new.
    let insured = format!(
        "身份证号,姓名,参保年度\n{},李一,2024\n{},王五,2024\n",
        ids[2], ids[4]
    );
    let data = [dataset(DataKind::InsuranceEnrollment, &insured)];
    let rules = RuleSet::defaults();
    let open: HashSet<ClueKey> = [ClueKey {
        rule: "not_insured".into(),
        subject: IdNumber::parse(&ids[0])
            .expect("id")
            .key()
            .get()
            .to_string(),
    }]
    .into();
    let (clues, _) = Run {
        roster: &roster,
        datasets: &data,
        rules: &rules,
        as_of: date(2024, 11, 30),
        open: &open,
        fuzzy: true,
        decided: None,
    }
    .execute(&mut |_, _| {});
    let names: Vec<&str> = of(&clues, "not_insured")
        .iter()
        .map(|c| c.subjects[0].name.as_str())
        .collect();
    assert_eq!(names, ["张小", "李二"]);
}

/// A year of claims as a workbook of two data sheets and a notes sheet, with a .csv beside
/// it: every row read once, each numbered as its own sheet shows it, and their sums joined.
#[test]
fn data_sheets_of_a_workbook_and_other_files_are_read_as_one_data_set() {
    let (_, ids) = roster();
    let header = ["身份证号", "姓名", "结算日期", "总费用", "个人自付"];
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet()
        .set_name("填写说明")
        .expect("name")
        .write_string(0, 0, "每月一张工作表")
        .expect("cell");
    for (sheet, rows) in [
        (
            "1-6月",
            vec![
                (&ids[0], "2024-03-01", 2000.0),
                (&ids[2], "2024-04-01", 100.0),
            ],
        ),
        ("7-12月", vec![(&ids[0], "2024-08-01", 1500.0)]),
    ] {
        let ws = wb.add_worksheet();
        ws.set_name(sheet).expect("name");
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("cell");
        }
        for (r, (id, day, oop)) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            ws.write_string(r, 0, id.as_str()).expect("cell");
            ws.write_string(r, 1, "张大").expect("cell");
            ws.write_string(r, 2, *day).expect("cell");
            ws.write_number(r, 3, oop * 2.0).expect("cell");
            ws.write_number(r, 4, *oop).expect("cell");
        }
    }
    let xlsx = wb.save_to_buffer().expect("xlsx");
    let csv = format!(
        "{}\n{},张大,2024-10-01,3000,1600\n",
        header.join(","),
        ids[0]
    );
    let ds = load(
        DataKind::MedicalExpense,
        &[
            ("2024.xlsx".into(), xlsx),
            ("2024-10.csv".into(), csv.into_bytes()),
        ],
    )
    .expect("loads");
    assert_eq!(ds.rows(), 4);
    let places: Vec<(String, Vec<u32>)> = ds
        .parts
        .iter()
        .map(|p| (p.source.to_string(), p.row_no.iter().collect()))
        .collect();
    assert_eq!(
        places,
        [
            ("2024.xlsx（工作表“1-6月”）".to_owned(), vec![2, 3]),
            ("2024.xlsx（工作表“7-12月”）".to_owned(), vec![2]),
            ("2024-10.csv".to_owned(), vec![2]),
        ]
    );
    // 2,000 + 1,500 + 1,600 over the sheets and the file: 张大 passes 5,000.
    let (clues, _) = run(&[ds]);
    let m = of(&clues, "medical_oop_monitored");
    assert_eq!(m.len(), 1);
    assert!(m[0].evidence.contains("3 条"), "{}", m[0].evidence);
    assert!(
        m[0].evidence.contains("合计 5,100.00 元"),
        "{}",
        m[0].evidence
    );
    assert!(
        m[0].evidence
            .contains("2024.xlsx（工作表“7-12月”） 第 2 行"),
        "{}",
        m[0].evidence
    );
}

#[test]
fn a_sheet_with_some_of_the_headers_refuses_the_workbook() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let a = wb.add_worksheet();
    a.set_name("1-6月").expect("name");
    for (c, h) in ["身份证号", "姓名", "工作单位"].iter().enumerate() {
        a.write_string(0, c as u16, *h).expect("cell");
    }
    a.write_string(1, 0, "411321197001010011").expect("cell");
    let b = wb.add_worksheet();
    b.set_name("7-12月").expect("name");
    for (c, h) in ["身份证号码", "姓名", "工作单位"].iter().enumerate() {
        b.write_string(0, c as u16, *h).expect("cell");
    }
    let bytes = wb.save_to_buffer().expect("xlsx");
    let e = load(DataKind::PublicPayroll, &[("p.xlsx".into(), bytes)]).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "p.xlsx：工作表“7-12月”缺少必需的列：身份证号（表头须在第 1 行；说明等其他工作表不能带有数据表头）"
    );
    let e = load(
        DataKind::PublicPayroll,
        &[("e.csv".into(), "身份证号,姓名,工作单位\n".into())],
    )
    .expect_err("no rows");
    assert_eq!(e.to_string(), "e.csv：表格中没有数据行");
}

#[test]
fn a_decision_on_a_row_the_fallback_cannot_settle_is_remembered() {
    let (roster, ids) = roster();
    // Only the region survives the spreadsheet: no fallback can tie this row to 张大 alone.
    let csv = "身份证号,姓名,结算日期,总费用,个人自付\n4.11321E+17,张大,2024-06-01,9000,6000\n";
    let data = [dataset(DataKind::MedicalExpense, csv)];
    let rules = RuleSet::defaults();
    let open = HashSet::new();
    let key = IdNumber::parse(&ids[0]).expect("id").key();
    let with = |decided: Option<&liandong_compare::engine::DecisionLookup<'_>>| {
        Run {
            roster: &roster,
            datasets: &data,
            rules: &rules,
            as_of: date(2024, 11, 30),
            open: &open,
            fuzzy: true,
            decided,
        }
        .execute(&mut |_, _| {})
    };
    let (clues, report) = with(None);
    assert!(of(&clues, "medical_oop_monitored").is_empty());
    assert_eq!(report.matched_fuzzy, 0);
    let confirmed = |kind: DataKind, raw: &str, name: &str| {
        if kind == DataKind::MedicalExpense && raw == "4.11321E+17" && name == "张大" {
            Decided::Confirmed(key)
        } else {
            Decided::Undecided
        }
    };
    let (clues, report) = with(Some(&confirmed));
    let found = of(&clues, "medical_oop_monitored");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].subjects[0].name, "张大");
    assert_eq!(found[0].subjects[0].method, MatchMethod::Fuzzy);
    assert_eq!(report.matched_fuzzy, 1);
    let rejected = |_: DataKind, _: &str, _: &str| Decided::Rejected;
    let (clues, report) = with(Some(&rejected));
    assert!(of(&clues, "medical_oop_monitored").is_empty());
    assert!(report.review.is_empty());
    assert_eq!(report.unmatched_failed, 1);
}

#[test]
fn an_absence_list_holding_too_few_of_the_population_raises_nothing() {
    // 200 members; an insurance list holding 40% of them is an incomplete delivery.
    let ids: Vec<String> = (0..200)
        .map(|i| id(1960 + i % 40, 3, 3, 100 + i as u16))
        .collect();
    let mut csv = String::from("户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\n");
    for (i, x) in ids.iter().enumerate() {
        csv.push_str(&format!("H{i},城关镇,东村,村民{i},{x},户主,脱贫户\n"));
    }
    let sheet = read_csv(csv.as_bytes(), &[], Limits::default()).expect("csv");
    let rows =
        liandong_compare::parse_roster(&sheet.headers, &sheet.rows, None, &AtomicUsize::new(0))
            .expect("rows");
    let roster = Roster::from_rows(rows);
    let rules = RuleSet::defaults();
    let open = HashSet::new();
    let insured = |n: usize| {
        let mut s = String::from("身份证号,姓名,参保年度\n");
        for (i, x) in ids.iter().take(n).enumerate() {
            s.push_str(&format!("{x},村民{i},2024\n"));
        }
        [dataset(DataKind::InsuranceEnrollment, &s)]
    };
    let run = |data: &[liandong_compare::Dataset]| {
        Run {
            roster: &roster,
            datasets: data,
            rules: &rules,
            as_of: date(2024, 11, 30),
            open: &open,
            fuzzy: false,
            decided: None,
        }
        .execute(&mut |_, _| {})
    };
    let (clues, report) = run(&insured(80));
    assert!(of(&clues, "not_insured").is_empty());
    let outcome = report
        .rules
        .iter()
        .find(|r| r.code == "not_insured")
        .expect("outcome");
    assert_eq!(
        outcome.skipped.as_deref(),
        Some("“城乡居民医保参保”数据只含名单中应有人员的 40.0%（80 / 200），低于 50%，疑似报送不完整，未据此推送缺失线索")
    );
    // Holding 150 of 200: the 50 missing are believed.
    let (clues, _) = run(&insured(150));
    assert_eq!(of(&clues, "not_insured").len(), 50);
}

/// The rule features the shipped rules do not use, each on a rule of its own: a sum over a
/// household, an upper bound, a population of some household types, the as-of year of a
/// date, text filters that fold full-width and lower-case letters, an absence per household
/// and a rule switched off.
#[test]
fn rule_features_beyond_the_defaults_give_their_known_answers() {
    let (roster, ids) = roster();
    let rules = RuleSet::from_json(
        r#"{"policy_year": 2024, "version": 7, "rules": [
        {"code": "household_sum", "title": "户内自付合计", "data": "medical_expense", "test": "match",
         "filters": [{"op": "within_days", "field": "settled_on", "days": 365}],
         "aggregate": {"sum": "out_of_pocket", "per": "household", "at_least": 5000},
         "per": "household", "finding": "illness", "severity": "high",
         "route": {"departments": ["medinsure"]}},
        {"code": "small_bills", "title": "小额费用", "data": "medical_expense", "test": "match",
         "filters": [{"op": "at_most", "field": "total", "value": 100}],
         "finding": "illness", "severity": "low", "route": {"departments": ["medinsure"]}},
        {"code": "edge_households", "title": "边缘户就医", "data": "medical_expense", "test": "match",
         "population": {"roster": {"household_kinds": ["marginal"]}},
         "finding": "illness", "severity": "medium", "route": {"departments": ["health"]}},
        {"code": "graded_this_year", "title": "本年鉴定为 C 级", "data": "unsafe_housing", "test": "match",
         "filters": [{"op": "in", "field": "grade", "values": ["C级"]},
                     {"op": "as_of_year", "field": "assessed_on"}],
         "per": "household", "finding": "housing", "severity": "high",
         "route": {"departments": ["housing"]}},
        {"code": "household_uninsured", "title": "户内有人未参保", "data": "insurance_enrollment",
         "test": "absence", "filters": [{"op": "as_of_year", "field": "year"}],
         "per": "household", "finding": "illness", "severity": "high",
         "route": {"departments": ["medinsure"]}},
        {"code": "switched_off", "title": "停用的规则", "data": "medical_expense", "test": "match",
         "enabled": false, "finding": "illness", "severity": "low", "route": {}}
    ]}"#,
    )
    .expect("rules");
    let medical = format!(
        "身份证号,姓名,结算日期,总费用,个人自付\n\
         {},张大,2024-06-01,5000,3000\n\
         {},张小,2024-07-01,4000,2500\n\
         {},李一,2024-08-01,6000,4000\n\
         {},李一,2023-01-01,9000,9000\n\
         {},王五,2024-09-01,80,50\n",
        ids[0], ids[1], ids[2], ids[2], ids[4]
    );
    let housing = format!(
        "身份证号,姓名,鉴定等级,鉴定日期\n\
         {},张大,ｃ级,2024-03-01\n\
         {},李一,C级,2023-05-01\n\
         {},王五,B级,2024-04-01\n",
        ids[0], ids[2], ids[4]
    );
    let insured = format!(
        "身份证号,姓名,参保年度\n{},张大,2024\n{},李一,2024\n{},李二,2024\n{},王五,2023\n",
        ids[0], ids[2], ids[3], ids[4]
    );
    let data = [
        dataset(DataKind::MedicalExpense, &medical),
        dataset(DataKind::UnsafeHousing, &housing),
        dataset(DataKind::InsuranceEnrollment, &insured),
    ];
    let open = HashSet::new();
    let (clues, report) = Run {
        roster: &roster,
        datasets: &data,
        rules: &rules,
        as_of: date(AS_OF.0, AS_OF.1, AS_OF.2),
        open: &open,
        fuzzy: true,
        decided: None,
    }
    .execute(&mut |_, _| {});
    let households = |rule: &str| -> Vec<Option<String>> {
        of(&clues, rule)
            .iter()
            .map(|c| c.household_no.clone())
            .collect()
    };
    let names = |c: &Clue| -> Vec<String> { c.subjects.iter().map(|s| s.name.clone()).collect() };
    // H1: 3,000 + 2,500 in the window; H2: 4,000 in it (9,000 is older than a year).
    assert_eq!(households("household_sum"), [Some("H1".to_owned())]);
    let h1 = of(&clues, "household_sum")[0];
    assert_eq!(names(h1), ["张大", "张小"]);
    assert!(h1.evidence.contains("合计 5,500.00 元"), "{}", h1.evidence);
    // Only 王五's bill is 100 yuan or less.
    let small = of(&clues, "small_bills");
    assert_eq!(small.len(), 1);
    assert_eq!(names(small[0]), ["王五"]);
    // Only H3 is 边缘易致贫户.
    assert_eq!(households("edge_households"), [Some("H3".to_owned())]);
    // ｃ级 folds to C级 and was graded this year; 李一's C级 is last year's, 王五's is B级.
    assert_eq!(households("graded_this_year"), [Some("H1".to_owned())]);
    // Per household, a household none of whose members is insured this year: H3 (王五 only
    // last year). H1 is not, though 张小 is missing: 张大 is insured.
    assert_eq!(households("household_uninsured"), [Some("H3".to_owned())]);
    assert_eq!(names(of(&clues, "household_uninsured")[0]), ["王五"]);
    assert!(
        of(&clues, "household_uninsured")[0]
            .evidence
            .contains("该户任何成员"),
        "{}",
        of(&clues, "household_uninsured")[0].evidence
    );
    // A rule switched off is not run and not listed.
    assert!(of(&clues, "switched_off").is_empty());
    assert!(report.rules.iter().all(|r| r.code != "switched_off"));
    assert_eq!(report.rules.len(), 5);
}
