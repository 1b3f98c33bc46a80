//! `liandong compare`: the comparison engine on files alone, for scripted and offline runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use liandong_compare::{output, DataKind, RuleSet, Run};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The roster export (.csv or .xlsx) of 脱贫户 and 监测对象 members.
    #[arg(long)]
    pub roster: PathBuf,
    /// A data set as KIND=FILE (for example medical_expense=claims.csv); repeat for more
    /// files or kinds.
    #[arg(long = "dataset", value_name = "KIND=FILE", required = true)]
    pub datasets: Vec<String>,
    /// A rule file (JSON); the shipped rules when absent.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The reference date of windows and ages (YYYY-MM-DD); today in the county when absent.
    #[arg(long, value_parser = parse_date)]
    pub as_of: Option<NaiveDate>,
    /// Where the clues go: a .csv or an .xlsx file.
    #[arg(long)]
    pub out: PathBuf,
    /// Write full ID numbers instead of masked ones.
    #[arg(long)]
    pub unmasked: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("“{s}”不是日期（写作 2024-11-30）"))
}

/// `KIND=FILE`, the kind checked against the shipped kinds.
fn parse_dataset(s: &str) -> anyhow::Result<(DataKind, PathBuf)> {
    let (kind, file) = s.split_once('=').with_context(|| {
        format!("--dataset “{s}” 应写作 数据类型=文件，如 medical_expense=claims.csv")
    })?;
    let kind = DataKind::from_code(kind.trim()).with_context(|| {
        let codes: Vec<&str> = DataKind::ALL.iter().map(|k| k.code()).collect();
        format!("“{kind}”不是数据类型，可用的有：{}", codes.join("、"))
    })?;
    Ok((kind, PathBuf::from(file)))
}

/// The files of a kind: (name shown in reports, path).
type Files = Vec<(String, PathBuf)>;

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("无法读取 {}", path.display()))
}

fn spinner(visible: bool, message: String) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        None,
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(message);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let visible = std::io::stderr().is_terminal();
    let format = match args.out.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => "csv",
        Some(e) if e.eq_ignore_ascii_case("xlsx") => "xlsx",
        _ => bail!("--out 须为 .csv 或 .xlsx 文件"),
    };
    let rules = match &args.rules {
        Some(p) => RuleSet::from_json(
            &String::from_utf8(read(p)?)
                .with_context(|| format!("{} 不是 UTF-8 文本", p.display()))?,
        )
        .with_context(|| format!("规则文件 {}", p.display()))?,
        None => RuleSet::defaults(),
    };
    let mut wanted = Vec::new();
    for d in &args.datasets {
        wanted.push(parse_dataset(d)?);
    }
    let as_of = args
        .as_of
        .unwrap_or_else(|| liandong_domain::deadline::county_date(chrono::Utc::now()));

    // Read later, in place; a missing roster is named before any work starts.
    std::fs::File::open(&args.roster)
        .with_context(|| format!("无法读取 {}", args.roster.display()))?;
    let mut files = Vec::new();
    for (kind, path) in wanted {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        // Read later, block by block; a missing file is named before any work starts.
        std::fs::File::open(&path).with_context(|| format!("无法读取 {}", path.display()))?;
        files.push((kind, name, path));
    }
    let mut by_kind: Vec<(DataKind, Files)> = Vec::new();
    for (kind, name, path) in files {
        match by_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, f)) => f.push((name, path)),
            None => by_kind.push((kind, vec![(name, path)])),
        }
    }
    // The roster and the data sets are read side by side, each on every core: the roster's
    // single-threaded steps (repeats, households, the index) leave a core to the data.
    let pb = spinner(visible, format!("读取名单 {}", args.roster.display()));
    let (roster, datasets) = std::thread::scope(|s| {
        let roster = s.spawn(|| {
            let roster = liandong_compare::read_roster_path(&args.roster);
            pb.finish_and_clear();
            roster
        });
        let mut datasets = Vec::new();
        for (kind, files) in &by_kind {
            let pb = spinner(
                visible,
                format!("读取{}（{} 个文件）", kind.label(), files.len()),
            );
            let ds = liandong_compare::load_paths(*kind, files);
            pb.finish_and_clear();
            datasets.push(ds);
        }
        let roster = roster
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (roster, datasets)
    });
    let roster = roster.with_context(|| format!("名单 {}", args.roster.display()))?;
    let datasets = datasets.into_iter().collect::<Result<Vec<_>, _>>()?;

    let bar = ProgressBar::with_draw_target(
        Some(rules.rules.len() as u64),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("比对 [{bar:30}] {pos}/{len} 条规则 {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let open = std::collections::HashSet::new();
    let run = Run {
        roster: &roster,
        datasets: &datasets,
        rules: &rules,
        as_of,
        open: &open,
        fuzzy: true,
        decided: None,
    };
    let (clues, report) = run.execute(&mut |done, _| bar.set_position(done as u64));
    bar.finish_and_clear();

    let bytes = match format {
        "csv" => {
            // Beside the clues: clues.csv -> clues.review.csv; an older one would mislead.
            let review = args.out.with_extension("review.csv");
            if review.exists() {
                std::fs::remove_file(&review)
                    .with_context(|| format!("无法删除旧的 {}", review.display()))?;
            }
            if !report.review.is_empty() {
                let rows = output::review_rows(&report.review, args.unmasked);
                std::fs::write(&review, output::rows_csv(&output::REVIEW_COLUMNS, &rows))
                    .with_context(|| format!("无法写入 {}", review.display()))?;
                println!("待人工确认的匹配已写入 {}", review.display());
            }
            output::clues_csv(&clues, args.unmasked)
        }
        _ => output::clues_xlsx(
            &clues,
            &report.review,
            args.unmasked,
            &format!(
                "比对基准日 {as_of}，规则 {} 年第 {} 版，共 {} 条线索",
                rules.policy_year,
                rules.version,
                clues.len()
            ),
        )?,
    };
    std::fs::write(&args.out, bytes).with_context(|| format!("无法写入 {}", args.out.display()))?;
    if args.unmasked {
        eprintln!(
            "注意：{} 含完整身份证号，请按个人信息保护要求保管",
            args.out.display()
        );
    }
    print!(
        "{}",
        output::summary(&report, started.elapsed().as_secs_f64())
    );
    println!("线索已写入 {}", args.out.display());
    Ok(())
}
