//! Importing a county's roster end to end: a .csv of BENCH_PERSONS persons (default
//! 1,000,000) in ~290,000 households is read, every row checked (ID numbers normalised and
//! their check digits verified), ID and phone numbers sealed (AES-256-GCM) and hashed, the
//! result compared with the stored roster and applied in one transaction, through the same
//! functions the import job runs (the upload itself excluded). Side by side, the peer:
//! Python's csv module and sqlite3 loading the same file into a plain table, with no checks
//! and no encryption. Then an .xlsx of BENCH_XLSX_ROWS rows is read and checked, in cells
//! per second.
//!
//! Run: `cargo bench -p liandong --bench roster_import`

use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use chrono::NaiveDate;
use liandong_domain::IdNumber;
use liandong_service::roster::{check_rows, diff, roster_limits, ROSTER_REQUIRED};
use liandong_service::{App, Settings};
use liandong_store::Actor;
use sha2::{Digest, Sha256};

const TOWNS: [&str; 16] = [
    "城关镇",
    "留山镇",
    "云阳镇",
    "皇路店镇",
    "南河店镇",
    "板山坪镇",
    "乔端镇",
    "白土岗镇",
    "李青店镇",
    "小店乡",
    "崔庄乡",
    "四棵树乡",
    "石门乡",
    "太山庙乡",
    "马市坪乡",
    "城郊乡",
];
const KINDS: [&str; 4] = ["脱贫户", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户"];
const HEADER: &str = "户编号,乡镇,村,组,姓名,身份证号,与户主关系,户类型,联系电话,健康状况";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The rows of a made-up roster: valid, unique, fake ID numbers.
fn rows(persons: usize) -> Vec<[String; 10]> {
    let mut out = Vec::with_capacity(persons);
    let mut household = 0;
    let mut seq: u32 = 0;
    while out.len() < persons {
        household += 1;
        let size = 1 + household % 5;
        let town = TOWNS[household % TOWNS.len()];
        for m in 0..size {
            if out.len() == persons {
                break;
            }
            seq += 1;
            // Spread over birth dates so the 3-digit sequence never runs out.
            let day = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
                + chrono::Duration::days(i64::from(seq / 900));
            let id = IdNumber::from_parts("411321", day, (seq % 900 + 1) as u16)
                .map(|i| i.expose().to_owned())
                .unwrap_or_default();
            out.push([
                format!("H{household:08}"),
                town.to_owned(),
                format!("第{}村", household % 40),
                format!("{}", m + 1),
                format!("人员{seq}"),
                id,
                if m == 0 {
                    "户主".into()
                } else {
                    "家庭成员".into()
                },
                KINDS[household % 4].to_owned(),
                if m == 0 {
                    format!("138{:08}", seq)
                } else {
                    String::new()
                },
                "健康".into(),
            ]);
        }
    }
    out
}

fn main() {
    let persons = env("BENCH_PERSONS", 1_000_000);
    let xlsx_rows = env("BENCH_XLSX_ROWS", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = rows(persons);
    let mut csv = String::from(HEADER);
    for r in &data {
        csv.push('\n');
        csv.push_str(&r.join(","));
    }
    let csv_path = dir.path().join("roster.csv");
    std::fs::write(&csv_path, &csv).expect("write csv");
    println!(
        "roster: {persons} persons, {} MB of .csv",
        csv.len() / 1_000_000
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ours = rt.block_on(async {
        let settings = Settings::with_data_dir(dir.path().join("data"));
        std::fs::create_dir_all(&settings.data_dir).expect("data dir");
        let store = liandong::open(&settings).await.expect("open");
        let app = App::new(store, settings);
        liandong::prepare(&app, Some("Bench#Import-2023x"))
            .await
            .expect("prepare");
        let vault = liandong_service::vault::Vault::load(None, &app.settings.data_dir).expect("key");
        let townships: Vec<(i64, String)> = app
            .store
            .townships()
            .await
            .expect("townships")
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let t = Instant::now();
        let bytes = std::fs::read(&csv_path).expect("read");
        let hash = hex::encode(Sha256::digest(&bytes));
        let table = liandong_office::import::read_table(&bytes, &ROSTER_REQUIRED, roster_limits())
            .expect("table");
        let read = t.elapsed();
        let (households, people) =
            check_rows(&table, &townships, &vault, &AtomicUsize::new(0)).expect("valid");
        let checked = t.elapsed();
        let snapshot = app.store.roster_snapshot().await.expect("snapshot");
        let changes = diff(&snapshot, households, people);
        app.store
            .apply_roster(&Actor::system("bench"), 0, &hash, &changes)
            .await
            .expect("apply");
        let total = t.elapsed();
        println!(
            "liandong: read {:.2} s, checked and sealed {:.2} s, written {:.2} s: {:.2} s end to end ({} households, {} persons)",
            read.as_secs_f64(),
            (checked - read).as_secs_f64(),
            (total - checked).as_secs_f64(),
            total.as_secs_f64(),
            changes.households_added.len(),
            changes.persons_added.len()
        );
        total.as_secs_f64()
    });

    let peer_db = dir.path().join("peer.sqlite3");
    let script = format!(
        "import csv, sqlite3, time\nt = time.time()\ndb = sqlite3.connect({db:?})\ndb.execute('PRAGMA journal_mode=WAL')\ndb.execute('PRAGMA synchronous=FULL')\ndb.execute('CREATE TABLE person (household_no, township, village, grp, name, id_number, relation, kind, phone, health)')\nwith open({csv:?}, encoding='utf-8', newline='') as f:\n    r = csv.reader(f)\n    next(r)\n    db.executemany('INSERT INTO person VALUES (?,?,?,?,?,?,?,?,?,?)', r)\ndb.commit()\nprint(time.time() - t)\n",
        db = peer_db.display().to_string(),
        csv = csv_path.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let peer: f64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(f64::NAN);
            println!(
                "peer (Python csv + sqlite3, no checks, no encryption): {peer:.2} s; liandong / peer = {:.2}",
                ours / peer
            );
        }
        _ => println!("peer skipped: python3 not available"),
    }
    println!("target: 1,000,000 persons in 15 s or less");

    // .xlsx: read and check, in cells per second.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADER.split(',').enumerate() {
        ws.write_string(0, c as u16, h).expect("header");
    }
    for (r, row) in data.iter().take(xlsx_rows).enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).expect("cell");
        }
    }
    let xlsx = wb.save_to_buffer().expect("xlsx");
    let cells = xlsx_rows.min(data.len()) * 10;
    let townships: Vec<(i64, String)> = TOWNS
        .iter()
        .enumerate()
        .map(|(i, t)| (i as i64 + 100, (*t).to_owned()))
        .collect();
    let vault = liandong_service::vault::Vault::from_master(&[9; 32]);
    let t = Instant::now();
    let table = liandong_office::import::read_table(&xlsx, &ROSTER_REQUIRED, roster_limits())
        .expect("xlsx table");
    let read = t.elapsed().as_secs_f64();
    check_rows(&table, &townships, &vault, &AtomicUsize::new(0)).expect("valid");
    let all = t.elapsed().as_secs_f64();
    println!(
        "xlsx: {cells} cells read in {read:.2} s ({:.0} cells/s), read and checked in {all:.2} s ({:.0} cells/s); target 500,000 cells/s",
        cells as f64 / read,
        cells as f64 / all
    );
}
