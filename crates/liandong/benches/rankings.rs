//! A year of rankings for a province: 150 counties x 26 departments, 1,000,000 score events.
//! Our engine (the domain's exact-decimal ranking over an in-memory aggregate) runs side by
//! side with SQLite computing the same office scores and ranks with GROUP BY and RANK(), on
//! the same data; both results are compared and the times and their ratio printed.
//!
//! Run: `cargo bench -p liandong --bench rankings`

use std::time::Instant;

use liandong_domain::registry::DEPARTMENTS;
use liandong_domain::scoring::{rank, Points, RankInput, RankingKind, Weights};
use liandong_domain::Category;
use rust_decimal::Decimal;
use sqlx::{Connection, Executor, Row};

const COUNTIES: usize = 150;
const EVENTS: usize = 1_000_000;

/// (county, department index, month 0..12, signed half points)
type Event = (u16, u8, u8, i32);
/// (county, department index, quarter 0..4, final score, rank)
type QuarterRank = (u16, u8, u8, Decimal, u32);

fn events() -> Vec<Event> {
    // A fixed linear congruential sequence: the same data on every run.
    let mut x: u64 = 0x2023_0310;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    // Points of the rule table in half points: mostly deductions.
    const HALVES: [i32; 12] = [-2, -4, -6, -16, -4, -6, -20, 4, 2, 1, 6, 10];
    (0..EVENTS)
        .map(|_| {
            let county = (next() % COUNTIES as u32) as u16;
            let dept = (next() % 26) as u8;
            let month = (next() % 12) as u8;
            let halves = HALVES[(next() % 12) as usize];
            (county, dept, month, halves)
        })
        .collect()
}

/// Our engine: sum per (county, department, month), then rank each county's 12 monthly
/// (close-type) and 4 quarterly rankings with exact decimals.
fn engine(events: &[Event]) -> (usize, Vec<QuarterRank>) {
    let mut sums = vec![0_i64; COUNTIES * 26 * 12];
    for &(c, d, m, h) in events {
        sums[(c as usize * 26 + d as usize) * 12 + m as usize] += i64::from(h);
    }
    let weights = Weights::default();
    let mut rankings = 0;
    let mut quarterly = Vec::with_capacity(COUNTIES * 26 * 4);
    for c in 0..COUNTIES {
        for month in 0..12 {
            let inputs: Vec<RankInput> = (0..9)
                .map(|d| RankInput {
                    department_id: d as i64,
                    category: Category::Close,
                    office_score: liandong_domain::scoring::office_score([Points::from_halves(
                        sums[(c * 26 + d) * 12 + month],
                    )]),
                    extended: None,
                    external: None,
                    ranked_externally: false,
                })
                .collect();
            std::hint::black_box(rank(&inputs, weights, RankingKind::Monthly));
            rankings += 1;
        }
        for q in 0..4 {
            let inputs: Vec<RankInput> = DEPARTMENTS
                .iter()
                .enumerate()
                .map(|(d, dep)| {
                    let halves: i64 = (q * 3..q * 3 + 3)
                        .map(|m| sums[(c * 26 + d) * 12 + m])
                        .sum();
                    RankInput {
                        department_id: d as i64,
                        category: dep.category,
                        office_score: liandong_domain::scoring::office_score([
                            Points::from_halves(halves),
                        ]),
                        extended: None,
                        external: None,
                        ranked_externally: false,
                    }
                })
                .collect();
            for r in rank(&inputs, weights, RankingKind::Quarterly) {
                quarterly.push((c as u16, r.department_id as u8, q as u8, r.score, r.rank));
            }
            rankings += 1;
        }
    }
    (rankings, quarterly)
}

async fn sqlite(events: &[Event]) -> (f64, f64, Vec<QuarterRank>) {
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    conn.execute("CREATE TABLE event (county INTEGER, dept INTEGER, month INTEGER, halves INTEGER); CREATE TABLE dept (id INTEGER PRIMARY KEY, category TEXT);")
        .await
        .expect("schema");
    for (i, d) in DEPARTMENTS.iter().enumerate() {
        sqlx::query("INSERT INTO dept VALUES ($1, $2)")
            .bind(i as i64)
            .bind(d.category.code())
            .execute(&mut conn)
            .await
            .expect("dept");
    }
    let load = Instant::now();
    let mut tx = conn.begin().await.expect("tx");
    for chunk in events.chunks(200) {
        let mut sql = String::from("INSERT INTO event VALUES ");
        for (i, (c, d, m, h)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({c},{d},{m},{h})"));
        }
        tx.execute(sql.as_str()).await.expect("insert");
    }
    tx.commit().await.expect("commit");
    let load = load.elapsed().as_secs_f64();
    let t = Instant::now();
    // Every (county, department, quarter) has a row, as in the engine: cross join the grid.
    let rows = sqlx::query(
        "WITH grid AS (
            SELECT c.county, d.id AS dept, d.category, q.q
            FROM (SELECT DISTINCT county FROM event) c, dept d, (SELECT 0 AS q UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) q),
         sums AS (SELECT county, dept, month / 3 AS q, SUM(halves) AS halves FROM event GROUP BY county, dept, month / 3),
         scored AS (SELECT g.county, g.dept, g.category, g.q, 100 + COALESCE(s.halves, 0) / 2.0 AS score
                    FROM grid g LEFT JOIN sums s ON s.county = g.county AND s.dept = g.dept AND s.q = g.q)
         SELECT county, dept, q, score, RANK() OVER (PARTITION BY county, category, q ORDER BY score DESC) AS rnk FROM scored",
    )
    .fetch_all(&mut conn)
    .await
    .expect("rank");
    // The monthly rankings of the close-type departments, as the engine computes them.
    let monthly = sqlx::query(
        "SELECT county, dept, month, RANK() OVER (PARTITION BY county, month ORDER BY SUM(halves) DESC) AS rnk
         FROM event WHERE dept < 9 GROUP BY county, dept, month",
    )
    .fetch_all(&mut conn)
    .await
    .expect("monthly");
    std::hint::black_box(monthly.len());
    let query = t.elapsed().as_secs_f64();
    let out = rows
        .iter()
        .map(|r| {
            let score: f64 = r.get("score");
            (
                r.get::<i64, _>("county") as u16,
                r.get::<i64, _>("dept") as u8,
                r.get::<i64, _>("q") as u8,
                Decimal::try_from(score).unwrap_or_default().normalize(),
                r.get::<i64, _>("rnk") as u32,
            )
        })
        .collect();
    (load, query, out)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let data = events();
    println!(
        "data: {COUNTIES} counties x 26 departments, {} events over 12 months",
        data.len()
    );
    let mut times = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (n, q) = engine(&data);
        times.push(t.elapsed().as_secs_f64());
        ours = q;
        std::hint::black_box(n);
    }
    times.sort_by(f64::total_cmp);
    let engine_median = times[2];
    let (load, query, theirs) = sqlite(&data).await;
    let mut a = ours.clone();
    let mut b = theirs;
    a.sort_by_key(|x| (x.0, x.1, x.2));
    b.sort_by_key(|x| (x.0, x.1, x.2));
    let same = a == b;
    println!("liandong engine, a year of rankings (12 monthly + 4 quarterly per county): median of 5 runs {:.3} s", engine_median);
    println!(
        "SQLite (in memory) GROUP BY + RANK() on the same data: {:.3} s (after {:.3} s loading)",
        query, load
    );
    println!("ratio SQLite / engine: {:.1}x", query / engine_median);
    println!("results identical: {same}");
    println!(
        "target: under 1 s -> {}",
        if engine_median < 1.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    assert!(same, "the engine and SQLite disagree");
}
