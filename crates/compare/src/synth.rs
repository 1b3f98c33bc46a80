//! A synthetic county for benchmarks and tests: a roster and a medical-claims file with valid
//! but made-up ID numbers (correct check digits, never real people), and a known share of
//! claim rows whose ID was damaged the ways real files damage them, with the truth kept.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use liandong_domain::id_number::IdKey;
use liandong_domain::IdNumber;

/// A small, fast, reproducible generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How a claim row's ID number was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Corruption {
    /// Spaces inside and around (normalisable).
    Spaces,
    /// Full-width digits (normalisable).
    FullWidth,
    /// A lowercase check letter (normalisable).
    LowercaseX,
    /// The 15-digit legacy form (normalisable).
    Fifteen,
    /// Shown by a spreadsheet as 4.11321E+17 (lost).
    Exponent,
    /// The last three digits zeroed and `.0` added by a spreadsheet (lost).
    TrailingZero,
    /// A wrong check character.
    CheckDigit,
    /// One digit mistyped.
    Typo,
    /// Two neighbouring digits swapped.
    Transposition,
}

impl Corruption {
    pub const ALL: [Corruption; 9] = [
        Corruption::Spaces,
        Corruption::FullWidth,
        Corruption::LowercaseX,
        Corruption::Fifteen,
        Corruption::Exponent,
        Corruption::TrailingZero,
        Corruption::CheckDigit,
        Corruption::Typo,
        Corruption::Transposition,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Corruption::Spaces => "spaces",
            Corruption::FullWidth => "full_width",
            Corruption::LowercaseX => "lowercase_x",
            Corruption::Fifteen => "fifteen",
            Corruption::Exponent => "exponent",
            Corruption::TrailingZero => "trailing_zero",
            Corruption::CheckDigit => "check_digit",
            Corruption::Typo => "typo",
            Corruption::Transposition => "transposition",
        }
    }

    pub fn from_code(s: &str) -> Option<Corruption> {
        Corruption::ALL.into_iter().find(|c| c.code() == s)
    }

    /// Whether normalisation recovers the number exactly.
    pub fn recoverable(self) -> bool {
        matches!(
            self,
            Corruption::Spaces
                | Corruption::FullWidth
                | Corruption::LowercaseX
                | Corruption::Fifteen
        )
    }

    /// Damages `id` (18 characters) this way; `None` when it does not apply to this number
    /// (a lowercase x needs a number ending in X; the 15-digit form a birth in the 1900s).
    pub fn apply(self, id: &str, rng: &mut Rng) -> Option<String> {
        let b = id.as_bytes();
        Some(match self {
            Corruption::Spaces => format!(" {} {} {}", &id[..6], &id[6..14], &id[14..]),
            Corruption::FullWidth => id
                .chars()
                .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
                .collect(),
            Corruption::LowercaseX => {
                if !id.ends_with('X') {
                    return None;
                }
                id.to_lowercase()
            }
            Corruption::Fifteen => {
                if &id[6..8] != "19" {
                    return None;
                }
                format!("{}{}", &id[..6], &id[8..17])
            }
            Corruption::Exponent => format!("{}.{}E+17", &id[..1], &id[1..6]),
            Corruption::TrailingZero => format!("{}000.0", &id[..15]),
            Corruption::CheckDigit => {
                let good = b[17];
                let mut c = *rng.pick(b"0123456789X");
                while c == good {
                    c = *rng.pick(b"0123456789X");
                }
                format!("{}{}", &id[..17], char::from(c))
            }
            Corruption::Typo => {
                let mut v = b.to_vec();
                // Region or sequence digits: a typo in the birth date is often no date at all.
                let i = *rng.pick(&[2_usize, 3, 4, 5, 14, 15, 16]);
                let mut d = b'0' + rng.below(10) as u8;
                while d == v[i] {
                    d = b'0' + rng.below(10) as u8;
                }
                v[i] = d;
                String::from_utf8(v).ok()?
            }
            Corruption::Transposition => {
                let mut v = b.to_vec();
                let candidates: Vec<usize> = [2_usize, 3, 4, 14, 15]
                    .into_iter()
                    .filter(|&i| v[i] != v[i + 1])
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                let i = *rng.pick(&candidates);
                v.swap(i, i + 1);
                String::from_utf8(v).ok()?
            }
        })
    }
}

/// The size and shape of a synthetic county.
#[derive(Debug, Clone)]
pub struct CountySpec {
    pub roster_persons: usize,
    /// Rural people not in the roster who also appear in claims.
    pub outsiders: usize,
    pub claims: usize,
    /// Share of claim rows about roster members.
    pub roster_share: f64,
    /// Share of roster members' claim rows whose ID is damaged, spread over every way.
    pub damaged_share: f64,
    pub as_of: NaiveDate,
    pub seed: u64,
}

impl CountySpec {
    /// The benchmark county: 1 million roster members, 10 million claim rows (about 550 MB).
    pub fn benchmark(as_of: NaiveDate) -> CountySpec {
        CountySpec {
            roster_persons: 1_000_000,
            outsiders: 2_000_000,
            claims: 10_000_000,
            roster_share: 0.25,
            damaged_share: 0.05,
            as_of,
            seed: 20_241_201,
        }
    }
}

/// A damaged row and the number it should have had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The row number as a spreadsheet shows it (header = 1).
    pub row: u32,
    pub corruption: Corruption,
    pub true_key: IdKey,
}

/// The files written, and the truth about them.
#[derive(Debug, Clone)]
pub struct County {
    pub roster: PathBuf,
    pub claims: PathBuf,
    pub damage: Vec<Damage>,
}

/// The county's townships, as the server's registry names them (a roster naming another is refused).
const TOWNSHIPS: [&str; 16] = [
    "城关镇",
    "白土岗镇",
    "板山坪镇",
    "南河店镇",
    "皇路店镇",
    "云阳镇",
    "太山庙乡",
    "石门乡",
    "小店乡",
    "四棵树乡",
    "乔端镇",
    "马市坪乡",
    "崔庄乡",
    "留山镇",
    "李青店镇",
    "城郊乡",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
    "叶", "阎",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "辉", "建", "国", "红", "梅",
    "春", "海", "燕", "志", "永", "晓", "东", "金", "凤", "小", "云", "莲", "新", "德", "荣", "成",
    "林", "福", "贵", "生", "山", "宝", "俊", "鹏", "浩", "宇", "欣", "怡",
];
const KINDS: [&str; 6] = [
    "脱贫户",
    "脱贫户",
    "脱贫户",
    "脱贫不稳定户",
    "边缘易致贫户",
    "突发严重困难户",
];
const RELATIONS: [&str; 5] = ["配偶", "之子", "之女", "之孙子", "之孙女"];

fn name(rng: &mut Rng) -> String {
    let mut s = (*rng.pick(SURNAMES)).to_owned();
    s.push_str(rng.pick::<&str>(GIVEN));
    if rng.below(3) > 0 {
        s.push_str(rng.pick::<&str>(GIVEN));
    }
    s
}

/// A new number nobody has yet.
fn fresh_id(rng: &mut Rng, region: &str, years: (i32, i32), taken: &mut HashSet<u64>) -> IdNumber {
    loop {
        let year = years.0 + rng.below((years.1 - years.0 + 1) as u64) as i32;
        let day = rng.below(365) as i64;
        let birth =
            NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN) + Duration::days(day);
        let seq = rng.below(1000) as u16;
        if let Some(id) = IdNumber::from_parts(region, birth, seq) {
            if taken.insert(id.key().get()) {
                return id;
            }
        }
    }
}

/// A person of the synthetic county.
struct Someone {
    id: IdNumber,
    name: String,
}

/// Writes `roster.csv` and `claims.csv` into `dir`.
pub fn write_county(spec: &CountySpec, dir: &Path) -> io::Result<County> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(spec.seed);
    let mut taken = HashSet::with_capacity(spec.roster_persons + spec.outsiders);
    let roster_path = dir.join("roster.csv");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&roster_path)?);
    writeln!(w, "户编号,乡镇,村,姓名,身份证号,与户主关系,户类型")?;
    let mut members: Vec<Someone> = Vec::with_capacity(spec.roster_persons);
    let mut household = 0_u32;
    while members.len() < spec.roster_persons {
        household += 1;
        let t = rng.below(TOWNSHIPS.len() as u64) as usize;
        let village = format!(
            "{}村",
            ["东", "西", "南", "北", "前", "后", "上", "下"][rng.below(8) as usize].to_owned()
                + *rng.pick(GIVEN)
        );
        let kind = rng.pick(&KINDS);
        let size = 1 + rng.below(5) as usize;
        let surname = *rng.pick(SURNAMES);
        for m in 0..size.min(spec.roster_persons - members.len()) {
            let years = if m == 0 { (1940, 1990) } else { (1940, 2020) };
            let id = fresh_id(&mut rng, "411321", years, &mut taken);
            let given: String = name(&mut rng).chars().skip(1).collect();
            let n = format!("{surname}{given}");
            let relation = if m == 0 {
                "户主"
            } else {
                rng.pick(&RELATIONS)
            };
            writeln!(
                w,
                "4113210{t:02}{household:07},{},{village},{n},{},{relation},{kind}",
                TOWNSHIPS[t],
                id.expose()
            )?;
            members.push(Someone { id, name: n });
        }
    }
    w.flush()?;
    drop(w);
    let regions: Vec<String> = (1..=30).map(|c| format!("4113{c:02}")).collect();
    let outsiders: Vec<Someone> = (0..spec.outsiders)
        .map(|_| {
            let region = rng.pick(&regions).clone();
            Someone {
                id: fresh_id(&mut rng, &region, (1935, 2022), &mut taken),
                name: name(&mut rng),
            }
        })
        .collect();
    // Members whose numbers the rarer damages apply to.
    let ending_x: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].id.expose().ends_with('X'))
        .collect();
    let born_1900s: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].id.birth_date().year() < 2000)
        .collect();

    let claims_path = dir.join("claims.csv");
    let mut w = BufWriter::with_capacity(1 << 22, std::fs::File::create(&claims_path)?);
    writeln!(w, "身份证号,姓名,结算日期,总费用,个人自付")?;
    let mut damage = Vec::new();
    let first_day = spec.as_of - Duration::days(540);
    for i in 0..spec.claims {
        let row = i as u32 + 2;
        let in_roster =
            !members.is_empty() && (rng.unit() < spec.roster_share || outsiders.is_empty());
        let (who, shown) = if in_roster {
            let mut p = rng.below(members.len() as u64) as usize;
            if rng.unit() < spec.damaged_share {
                let c = Corruption::ALL[rng.below(Corruption::ALL.len() as u64) as usize];
                p = match c {
                    Corruption::LowercaseX if !ending_x.is_empty() => *rng.pick(&ending_x),
                    Corruption::Fifteen if !born_1900s.is_empty() => *rng.pick(&born_1900s),
                    _ => p,
                };
                let who = &members[p];
                match c.apply(who.id.expose(), &mut rng) {
                    Some(s) => {
                        damage.push(Damage {
                            row,
                            corruption: c,
                            true_key: who.id.key(),
                        });
                        (who, s)
                    }
                    None => (who, who.id.expose().to_owned()),
                }
            } else {
                (&members[p], members[p].id.expose().to_owned())
            }
        } else {
            // With no outsiders, a member stands in, so that every row is written.
            let o = if outsiders.is_empty() {
                rng.pick(&members)
            } else {
                rng.pick(&outsiders)
            };
            (o, o.id.expose().to_owned())
        };
        let day = first_day + Duration::days(rng.below(541) as i64);
        // Mostly outpatient bills of 20 to 500 yuan; one in thirty a hospital stay of 3,000 to
        // 80,000 yuan.
        let total_fen = if rng.below(30) == 0 {
            300_000 + (rng.unit().powi(3) * 7_700_000.0) as i64
        } else {
            2_000 + rng.below(48_000) as i64
        };
        let share = 20 + rng.below(40) as i64;
        let oop_fen = total_fen * share / 100;
        writeln!(
            w,
            "{shown},{},{},{}.{:02},{}.{:02}",
            who.name,
            day,
            total_fen / 100,
            total_fen % 100,
            oop_fen / 100,
            oop_fen % 100
        )?;
    }
    w.flush()?;
    Ok(County {
        roster: roster_path,
        claims: claims_path,
        damage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_damage_is_what_normalisation_recovers_or_refuses() {
        let mut rng = Rng::new(7);
        // The standard's own example, which ends in X.
        let id = IdNumber::from_parts(
            "110105",
            NaiveDate::from_ymd_opt(1949, 12, 31).expect("d"),
            2,
        )
        .expect("id");
        assert!(id.expose().ends_with('X'));
        for c in Corruption::ALL {
            let damaged = c.apply(id.expose(), &mut rng).expect("applies");
            assert_ne!(damaged, id.expose());
            let got = IdKey::normalize(damaged.as_bytes());
            if c.recoverable() {
                assert_eq!(got.map(|r| r.0), Ok(id.key()), "{c:?}: {damaged}");
            } else {
                assert!(got.is_err(), "{c:?}: {damaged} must not pass");
            }
        }
        assert_eq!(Corruption::from_code("typo"), Some(Corruption::Typo));
    }

    #[test]
    fn a_small_county_has_the_shape_asked_for() {
        let dir = std::env::temp_dir().join(format!("liandong-synth-{}", std::process::id()));
        let spec = CountySpec {
            roster_persons: 500,
            outsiders: 300,
            claims: 4_000,
            roster_share: 0.5,
            damaged_share: 0.2,
            as_of: NaiveDate::from_ymd_opt(2024, 11, 30).expect("d"),
            seed: 1,
        };
        let county = write_county(&spec, &dir).expect("written");
        let roster = std::fs::read_to_string(&county.roster).expect("roster");
        assert_eq!(roster.lines().count(), 501);
        let claims = std::fs::read_to_string(&county.claims).expect("claims");
        assert_eq!(claims.lines().count(), 4_001);
        // About 2,000 roster rows, a fifth of them damaged.
        assert!(
            (250..550).contains(&county.damage.len()),
            "{}",
            county.damage.len()
        );
        let lines: Vec<&str> = claims.lines().collect();
        for d in &county.damage {
            let id = lines[d.row as usize - 1].split(',').next().expect("id");
            assert_ne!(id, d.true_key.id_number().expose());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
