//! Writes a synthetic county (valid but made-up ID numbers, never real people) for trying the
//! comparison on a realistic scale: `roster.csv` in the roster import's format and
//! `claims.csv` in the `medical_expense` template, 5% of members' rows with damaged numbers.
//!
//! `cargo run --release -p liandong-compare --example synth_county -- DIR [PERSONS] [CLAIMS] [AS_OF]`
//! (defaults: 1,000,000 persons, 10,000,000 claim rows, today). The roster can then be
//! imported by the server and the claims delivered to it, or both given to `liandong compare`.

use liandong_compare::synth::{write_county, CountySpec};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("用法：synth_county 目录 [名单人数] [结算行数] [基准日期]");
        std::process::exit(2);
    };
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.replace('_', "").parse().expect("a whole number"))
            .unwrap_or(default)
    };
    let as_of = args
        .get(3)
        .map(|s| s.parse().expect("a date such as 2024-11-30"))
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let mut spec = CountySpec::benchmark(as_of);
    spec.roster_persons = number(1, spec.roster_persons);
    spec.claims = number(2, spec.claims);
    spec.outsiders = spec.roster_persons * 2;
    let started = std::time::Instant::now();
    let county = write_county(&spec, std::path::Path::new(dir))?;
    println!(
        "{} 与 {} 已写入（{} 行身份证号被损坏），用时 {:.1} 秒",
        county.roster.display(),
        county.claims.display(),
        county.damage.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
