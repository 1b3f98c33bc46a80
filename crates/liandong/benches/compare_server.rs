//! Data comparison through the server's use cases on the synthetic county of the engine's
//! benchmark (BENCH_PERSONS roster members, default 1,000,000; BENCH_CLAIMS claim rows,
//! default 10,000,000): the roster imported through the import job's functions, the claims
//! file delivered as a department delivers it (checked whole, sealed, entered in the ledger),
//! then a run as the office starts it, timed phase by phase, to the clues saved. The engine
//! alone is measured side by side with DuckDB and Polars by
//! `cargo bench -p liandong-compare --bench exact_match`; this adds what the server adds.
//!
//! Run: `cargo bench -p liandong --bench compare_server`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use liandong_compare::synth::{write_county, CountySpec};
use liandong_compare::DataKind;
use liandong_domain::Month;
use liandong_service::compare::RunState;
use liandong_service::roster::{check_rows, diff, roster_limits, ROSTER_REQUIRED};
use liandong_service::{App, Settings};
use liandong_store::Actor;

const PASSWORD: &str = "Bench#Compare-2024x";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory, in MiB (Linux).
fn peak_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let as_of = NaiveDate::from_ymd_opt(2024, 11, 30).expect("date");
    let mut spec = CountySpec::benchmark(as_of);
    spec.roster_persons = env("BENCH_PERSONS", spec.roster_persons);
    spec.claims = env("BENCH_CLAIMS", spec.claims);
    spec.outsiders = spec.roster_persons * 2;
    let dir = tempfile::tempdir().expect("tempdir");
    let county = write_county(&spec, &dir.path().join("county")).expect("county");
    let claims = std::fs::read(&county.claims).expect("claims");
    println!(
        "synthetic county: {} roster members, {} claim rows ({} MB)",
        spec.roster_persons,
        spec.claims,
        claims.len() / 1_000_000
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let settings = Settings::with_data_dir(dir.path().join("data"));
        std::fs::create_dir_all(&settings.data_dir).expect("data dir");
        let store = liandong::open(&settings).await.expect("open");
        let app = App::new(store, settings);
        liandong::prepare(&app, Some(PASSWORD))
            .await
            .expect("prepare");
        let now = chrono::Utc::now();

        // The roster, as the import job checks and applies it.
        let vault =
            liandong_service::vault::Vault::load(None, &app.settings.data_dir).expect("key");
        let townships: Vec<(i64, String)> = app
            .store
            .townships()
            .await
            .expect("townships")
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let t = Instant::now();
        let bytes = std::fs::read(&county.roster).expect("roster");
        let table = liandong_office::import::read_table(&bytes, &ROSTER_REQUIRED, roster_limits())
            .expect("table");
        let (households, people) =
            check_rows(&table, &townships, &vault, &AtomicUsize::new(0)).expect("valid roster");
        let snapshot = app.store.roster_snapshot().await.expect("snapshot");
        let changes = diff(&snapshot, households, people);
        app.store
            .apply_roster(&Actor::system("bench"), now.timestamp(), "bench", &changes)
            .await
            .expect("apply");
        println!("roster imported: {:.2} s", t.elapsed().as_secs_f64());

        let signed = app
            .sign_in("admin", PASSWORD, "bench", "bench", now)
            .await
            .expect("sign in");
        let p = app
            .authenticate(&signed.token, "bench", now)
            .await
            .expect("session")
            .expect("signed in");

        let t = Instant::now();
        let d = app
            .deliver_feed(
                &p,
                DataKind::MedicalExpense,
                Some(Month::of(as_of).next()),
                vec![("claims.csv".into(), claims)],
                now,
            )
            .await
            .expect("delivered");
        println!(
            "claims delivered (read whole, normalised, sealed, entered): {:.2} s, {} rows",
            t.elapsed().as_secs_f64(),
            d.delivery.row_count
        );

        let t = Instant::now();
        let token = app
            .start_compare(&p, Some(as_of), now)
            .await
            .expect("start");
        let job = app.compare_job(&p, &token).expect("job");
        let mut phase = String::new();
        let mut since = Instant::now();
        let run_id = loop {
            let now_phase = job.phase();
            if now_phase != phase {
                if !phase.is_empty() {
                    println!("  {phase}: {:.2} s", since.elapsed().as_secs_f64());
                }
                phase = now_phase;
                since = Instant::now();
            }
            match job.state() {
                RunState::Running => tokio::time::sleep(Duration::from_millis(10)).await,
                RunState::Done(id) => break id,
                RunState::Failed(e) => panic!("run failed: {e}"),
            }
        };
        println!("  {phase}: {:.2} s", since.elapsed().as_secs_f64());
        let total = t.elapsed().as_secs_f64();
        let run = app.compare_run(run_id).await.expect("run");
        println!(
            "run: {total:.2} s end to end, {} clues and {} review items saved (rules {} of {})",
            run.clue_count,
            run.review_count,
            job.done.load(Ordering::Relaxed),
            job.total.load(Ordering::Relaxed)
        );
        if let Some(mib) = peak_mib() {
            println!("peak memory of the whole process: {mib} MiB");
        }
    });
}
